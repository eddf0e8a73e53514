"""workbench.campaigns' intervals against R (tests/results/campaigns/make_reference.R).

Wilson: ``prop.test(correct = FALSE)``'s interval (checked in R against the closed form); the quasi-binomial rate
interval, the delta-method cost interval (written out in R) and the exact Poisson cost interval
(``poisson.test``). R is not needed to run this test, only to regenerate the reference.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.campaigns import cost_estimate, rate_estimate, wilson_interval

DIR = Path(__file__).resolve().parent / "results" / "campaigns"
RTOL = 1e-9


def _make_data():
    spec = importlib.util.spec_from_file_location("camp_make_data", DIR / "make_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_inputs_are_what_make_data_writes():
    mod = _make_data()
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "rows.csv"), mod.make_rows(), check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "props.csv"), mod.make_props(), check_dtype=False)


@pytest.mark.parametrize("i", range(8))
def test_wilson_matches_r_prop_test(i):
    ref = pd.read_csv(DIR / "ref_props.csv").iloc[i]
    lo, hi = wilson_interval(ref["x"], ref["n"])
    assert lo == pytest.approx(ref["ci_low"], rel=RTOL, abs=1e-15)
    assert hi == pytest.approx(ref["ci_high"], rel=RTOL, abs=1e-15)


SETS = ["overdispersed", "calm", "one_row", "few_rows", "zero_rows", "no_clicks"]


@pytest.mark.parametrize("name", SETS)
def test_rate_and_cost_match_r(name):
    rows = pd.read_csv(DIR / "rows.csv")
    ref = pd.read_csv(DIR / "ref_sets.csv").set_index("set").loc[name]
    g = rows[rows["set"] == name]
    clicks, imp, spend = (g[c].to_numpy() for c in ("clicks", "impressions", "spend"))
    rate = rate_estimate(clicks, imp, what="impressions")
    assert rate.value == pytest.approx(ref["rate"], rel=RTOL)
    assert rate.ci_low == pytest.approx(ref["rate_ci_low"], rel=RTOL, abs=1e-15)
    assert rate.ci_high == pytest.approx(ref["rate_ci_high"], rel=RTOL)
    if np.isfinite(ref["dispersion"]):
        assert "quasi-binomial" in rate.method
        assert f"{ref['dispersion']:.2f}" in rate.method
    else:
        assert "quasi-binomial" not in rate.method
    cost = cost_estimate(spend, clicks, what="clicks")
    if ref["cost_method"] == "none":
        assert cost.value is None and cost.ci_low is None and cost.ci_high is None
        return
    assert cost.method.startswith({"delta": "delta method", "poisson": "spend fixed"}[ref["cost_method"]])
    assert cost.value == pytest.approx(ref["cost"], rel=RTOL)
    assert cost.ci_low == pytest.approx(ref["cost_ci_low"], rel=RTOL)
    assert cost.ci_high == pytest.approx(ref["cost_ci_high"], rel=RTOL)


def test_the_sets_cover_each_branch():
    ref = pd.read_csv(DIR / "ref_sets.csv").set_index("set")
    assert set(ref["cost_method"]) == {"delta", "poisson", "none"}
    disp = ref["dispersion"].dropna()
    assert (disp > 1).any() and (disp < 1).any() and ref["dispersion"].isna().any()
