"""workbench.timing against R (tests/results/timing/make_reference.R: metafor::rma(method = "DL")).

τ² of every pooling step (hours, weekdays, weekday × hour cells shrunk towards hour + weekday) is metafor's
DerSimonian–Laird estimate; the pooled slot ratios and Morris intervals are written out in R. The workbench
centres and shrinks on the fixed-effect (post-weighted) mean μ, not on the DL random-effects mean; R writes
both, and the test checks the workbench against the fixed-effect definition. R is not needed to run this test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from workbench.timing import analyze_timing, pool_groups, prepare_posts

DIR = Path(__file__).resolve().parent / "results" / "timing"
TZ = "America/New_York"
RTOL = 1e-9


def _posts() -> pd.DataFrame:
    p = pd.read_csv(DIR / "posts.csv")
    p["published_at"] = pd.to_datetime(p["published_at"], utc=True)
    return p


@pytest.fixture(scope="module")
def summary() -> dict[str, float]:
    s = pd.read_csv(DIR / "ref_summary.csv")
    return dict(zip(s["quantity"], s["value"], strict=True))


@pytest.fixture(scope="module")
def result():
    return analyze_timing(_posts(), outcome="impressions", timezone=TZ)


def test_inputs_are_what_make_data_writes():
    spec = importlib.util.spec_from_file_location("timing_make_data", DIR / "make_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "posts.csv"), mod.make_posts(), check_dtype=False)


def test_counts_match_r(result, summary):
    assert result.n_posts == summary["n_posts"]
    assert result.n_excluded_unreliable_time == summary["n_excluded_unreliable_time"]
    assert result.n_excluded_other == summary["n_excluded_other"]


def test_dl_tau2_and_sigma2_match_metafor(result, summary):
    assert summary["cells.tau2"] > 0 and summary["hours.tau2"] > 0  # the shrinkage branch, not τ² = 0
    assert result.tau2 == pytest.approx(summary["cells.tau2"], rel=RTOL)
    assert result.sigma2 == pytest.approx(summary["cells.sigma2"], rel=RTOL)
    prep, _, _ = prepare_posts(_posts(), outcome="impressions", timezone=TZ)
    for name, key in (("hours", "hour"), ("weekdays", "weekday")):
        _, tau2, sigma2 = pool_groups(prep["y"], [prep[key].rename(key)])
        assert tau2 == pytest.approx(summary[f"{name}.tau2"], rel=RTOL)
        assert sigma2 == pytest.approx(summary[f"{name}.sigma2"], rel=RTOL)


@pytest.mark.parametrize(("attr", "file", "keys"), [
    ("hours", "ref_hours.csv", ["hour"]),
    ("weekdays", "ref_weekdays.csv", ["weekday"]),
    ("cells", "ref_cells.csv", ["weekday", "hour"]),
])
def test_pooled_ratios_and_intervals_match_r(result, attr, file, keys):
    ref = pd.read_csv(DIR / file).set_index(keys).sort_index()
    got = pd.DataFrame(getattr(result, attr)).set_index(keys).sort_index()
    assert list(got.index) == list(ref.index)
    assert (got["n"] == ref["n"]).all()
    for col in ("ratio", "ci_low", "ci_high", "raw_ratio"):
        pd.testing.assert_series_equal(got[col].astype(float), ref[col].astype(float), rtol=RTOL, atol=0,
                                       check_names=False)
