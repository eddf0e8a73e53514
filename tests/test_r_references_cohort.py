"""workbench.cohort's going-quiet analysis against R (tests/results/cohort/make_reference.R: survival::survfit
with conf.type = "log-log", quantile(), survdiff).

Medians follow survival's rule (where S sits at 0.5, the midpoint to the next drop), the median's CI is where the
log(−log) Greenwood curves cross 0.5, undefined (R: NA, here inf = not reached) where the curve never does or
where S = 0. R is not needed to run this test, only to regenerate the reference.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.cohort import Member, Panel, _km, quiet_analysis, quiet_durations

DIR = Path(__file__).resolve().parent / "results" / "cohort"
RTOL = 1e-10


def _panel() -> Panel:
    a = pd.read_csv(DIR / "accounts.csv", keep_default_na=False)
    p = pd.read_csv(DIR / "posts.csv")
    members = [Member(Path("."), r.account, dt.date.fromisoformat(r.treated),
                      dt.date.fromisoformat(r.follow_up) if r.follow_up else None) for r in a.itertuples()]
    return Panel(list(a["account"]), pd.DatetimeIndex([]), {}, np.array([]), members,
                 {acc: pd.to_datetime(p.loc[p["account"] == acc, "date"]) for acc in a["account"]},
                 {r.account: pd.Timestamp(r.end) for r in a.itertuples()})


def _same(got, want) -> bool:
    """R's NA (a median or bound not reached) is inf/None here; numbers must agree."""
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or (isinstance(got, float) and (math.isinf(got) or math.isnan(got)))
    return got is not None and got == pytest.approx(want, rel=RTOL)


def _check_curve(got: dict, ref: pd.Series) -> None:
    assert got["n"] == ref["n"] and got["events"] == ref["events"]
    assert _same(got["median_days"], ref["median"]), (got["median_days"], ref["median"])
    assert _same(got["median_ci"][0], ref["median_ci_low"]), (got["median_ci"], ref)
    assert _same(got["median_ci"][1], ref["median_ci_high"]), (got["median_ci"], ref)
    for d in (30, 90, 180, 365):
        assert got["still_posting_at"][str(d)] == pytest.approx(ref[f"s{d}"], rel=RTOL, abs=1e-14)


def test_inputs_are_what_make_data_writes():
    spec = importlib.util.spec_from_file_location("cohort_make_data", DIR / "make_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    a, p = mod.make()
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "accounts.csv", keep_default_na=False), a, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "posts.csv"), p, check_dtype=False)


def test_durations_match_r():
    ref = pd.read_csv(DIR / "ref_durations.csv").set_index("account")
    panel = _panel()
    assert len(ref) == 46  # two accounts observed < 30 days after training are left out
    for m in panel.members:
        if m.label not in ref.index:
            continue
        dur, obs = quiet_durations(panel.post_dates[m.label], pd.Timestamp(m.treated), panel.end[m.label])
        assert (dur, obs) == (ref.loc[m.label, "duration"], bool(ref.loc[m.label, "observed"])), m.label


def test_km_curves_and_logrank_match_r():
    out = quiet_analysis(_panel())
    ref = pd.read_csv(DIR / "ref_km.csv").set_index("label")
    assert [c["label"] for c in out["by_cohort"]] == list(ref.index[:2])
    for c in out["by_cohort"]:
        _check_curve(c, ref.loc[c["label"]])
    fu = out["follow_up"]
    for arm in fu["arms"].values():
        _check_curve(arm, ref.loc[arm["label"]])
    lr = pd.read_csv(DIR / "ref_logrank.csv").iloc[0]
    assert fu["landmark_days"]["without_follow_up"].startswith(f"{lr['lag']:.0f} ")
    assert fu["excluded_quiet_before_landmark"] == lr["excluded"]
    assert fu["logrank_chi2"] == pytest.approx(lr["chisq"], rel=1e-9)
    assert fu["logrank_p"] == pytest.approx(lr["p"], rel=1e-9)
    # the data hit S = 0.5 exactly in one arm: the median is survival's midpoint, not an accident of rounding
    assert ref.loc["without follow up", "s30"] == 0.5 and fu["arms"]["without_follow_up"]["median_days"] == 35


@pytest.mark.parametrize("case", ["plateau_at_half", "ends_at_half", "not_reached", "zeros", "censored_after"])
def test_median_edge_cases_match_survival(case):
    k = pd.read_csv(DIR / "km_cases.csv")
    g = k[k["case"] == case]
    ref = pd.read_csv(DIR / "ref_km_cases.csv").set_index("label").loc[case]
    _check_curve(_km(g["time"], g["status"].astype(bool), case), ref)
