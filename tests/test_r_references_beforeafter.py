"""workbench.beforeafter against R (tests/results/beforeafter/make_reference.R: lm + sandwich).

post_change's month-clustered SEs are sandwich::vcovCL(type = "HC1", cadjust = TRUE) — the HC0 cluster sandwich
times G/(G − 1)·(N − 1)/(N − K) — and monthly_its' are sandwich::NeweyWest(prewhite = FALSE, adjust = TRUE)
with the Newey–West (1994) lag; R is not needed to run this test, only to regenerate the reference.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from workbench.beforeafter import monthly_its, post_change

DIR = Path(__file__).resolve().parent / "results" / "beforeafter"
DATE = "2024-02-15"
RTOL = 1e-7


@pytest.fixture(scope="module")
def ref() -> dict[str, float]:
    r = pd.read_csv(DIR / "reference.csv")
    return dict(zip(r["quantity"], r["value"], strict=True))


def test_inputs_are_what_make_data_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ba_make_data", DIR / "make_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "posts.csv"), mod.make_posts().astype({"is_reply": bool}),
                                  check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "months.csv"), mod.make_months(), check_dtype=False)


def test_post_change_matches_r_vcovcl_hc1(ref):
    res = post_change(pd.read_csv(DIR / "posts.csv"), DATE)
    assert res.available, res.reason
    assert res.terms == ["Intercept", "after", "years_since_date", "log_followers", "is_reply"]
    assert res.n_posts == ref["post_change.n_posts"]
    assert res.n_months == ref["post_change.n_months"]
    assert res.n_posts_before == ref["post_change.n_posts_before"]
    assert res.n_months_before == ref["post_change.n_months_before"]
    assert res.df == ref["post_change.df"]
    assert res.estimate == pytest.approx(ref["post_change.estimate"], rel=RTOL)
    assert res.ci[0] == pytest.approx(ref["post_change.ci_low"], rel=RTOL)
    assert res.ci[1] == pytest.approx(ref["post_change.ci_high"], rel=RTOL)
    assert res.p_value == pytest.approx(ref["post_change.p_value"], rel=RTOL)
    # the SE recovered from the CI is R's clustered HC1 SE
    q = (math.log(res.ci[1]) - math.log(res.estimate))
    from scipy import stats

    assert q / stats.t.ppf(0.975, res.df) == pytest.approx(ref["post_change.se_after"], rel=RTOL)


def test_monthly_its_matches_r_neweywest(ref):
    res = monthly_its(pd.read_csv(DIR / "months.csv"), DATE, metric="value")
    assert res.available, res.reason
    assert res.n_months == ref["monthly_its.n_months"]
    assert res.maxlags == ref["monthly_its.maxlags"]
    assert res.months_left_out == {"incomplete": 1, "containing_the_date": 1, "no_value": 0}
    assert res.df == pytest.approx(ref["monthly_its.df"], rel=1e-9)
    assert res.df < res.n_months - 4  # the fixed-b branch, not the classical t, is what is compared
    for key in ("level_change", "level_change_p", "trend_change_per_year", "trend_change_p", "pre_trend_per_year"):
        assert getattr(res, key) == pytest.approx(ref[f"monthly_its.{key}"], rel=RTOL), key
    for key in ("level_change_ci", "trend_change_per_year_ci"):
        lo, hi = getattr(res, key)
        assert lo == pytest.approx(ref[f"monthly_its.{key}_low"], rel=RTOL), key
        assert hi == pytest.approx(ref[f"monthly_its.{key}_high"], rel=RTOL), key
