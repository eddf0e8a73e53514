"""A growth change is called a change *at the date* only when it is more than a drift already under way.

issue 12 class, review15 X1: TopDomainClub's follow rate fell steadily through the before period; the two-rate
comparison said "slowed to 0.26×, unlikely to be noise (HAC p = 0.006)" while placebo dates inside the before
period gave p-values as small. The rule (growth.CHANGE_AT_DATE_RULE): the rate comparison counts as a change at
the date only when the jump of the rate at the date, in a model with one steady linear trend in the rate, is
significant in the same direction. Checked here: the trend models against R (tests/results/growth/
make_trend_reference.R), by hand on exact series, the false "changed" rate on steadily declining series (short
run; the 300-series numbers are growth.CHANGE_AT_DATE_MEASURED, slow test), and the verdict and sentences.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from growth_sim import SCENARIOS, measure_at_date

from workbench import growth
from workbench.findings.comparisons import GrowthComparison, growth_verdict
from workbench.growth import compare_growth
from workbench.report.wording import describe_growth

RESULTS = Path(__file__).parent / "results" / "growth"
CUTS = [("2020-07-01", "first"), ("2021-10-17", "second")]


def _margin(p: float, n: int, z: float = 2.5) -> float:
    return z * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def counts_result():
    acc = pd.read_csv(RESULTS / "account_counts.csv", parse_dates=["date"])
    acc["followers"] = acc["followers"].astype("Int64")
    return compare_growth(acc, interventions=CUTS)


def test_trend_models_match_r(counts_result):
    ref = pd.read_csv(RESULTS / "trend_reference.csv").set_index("name")["value"]
    for k, comp in enumerate(counts_result["comparisons"]):
        ta, pre = comp["trend_adjusted"], comp["pre_trend"]
        assert ta["n_increments"] == int(ref[f"cmp{k}_n"])
        assert ta["jump_per_day"] == pytest.approx(ref[f"cmp{k}_jump"], rel=1e-9)
        assert ta["jump_se"] == pytest.approx(ref[f"cmp{k}_jump_se"], rel=1e-9)
        assert ta["trend_per_year"] == pytest.approx(ref[f"cmp{k}_trend"], rel=1e-9)
        assert ta["rate_before_at_date"] == pytest.approx(ref[f"cmp{k}_rate_before_at_date"], rel=1e-9)
        assert pre["n_increments"] == int(ref[f"cmp{k}_pre_n"])
        assert pre["estimate_per_year"] == pytest.approx(ref[f"cmp{k}_pre_trend"], rel=1e-9)
        assert pre["se"] == pytest.approx(ref[f"cmp{k}_pre_trend_se"], rel=1e-9)
        # the CI is the estimate ± the calibrated critical value × that SE
        lo, hi = ta["jump_ci"]
        assert lo < ta["jump_per_day"] < hi and (hi - lo) / 2 / ta["jump_se"] > 1.5


def _inc(rate, days: int = 400, cut_day: int = 200, eps: float = 0.01) -> tuple[pd.DataFrame, np.ndarray]:
    """Daily increments of a rate given as a function of the day (exact integral over each day) + ±eps."""
    start = pd.Timestamp("2022-01-01") + pd.to_timedelta(np.arange(days), unit="D")
    day = np.arange(days, dtype=float)
    delta = np.array([rate(d) for d in day]) + eps * np.where(np.arange(days) % 2 == 0, 1.0, -1.0)
    inc = pd.DataFrame({"start": start, "end": start + pd.Timedelta(days=1), "days": 1.0, "delta": delta})
    return inc, np.array([(pd.Timestamp("2022-01-01") + pd.Timedelta(days=cut_day)).value], dtype="int64")


def test_a_steady_drift_has_no_jump_and_a_step_is_found_by_hand():
    # rate 10 − 3·t (t in years from the date, taken at the day's midpoint): a steady decline, no change
    yrs = lambda d: (d + 0.5 - 200) / 365.25  # noqa: E731
    inc, cut = _inc(lambda d: 10 - 3 * yrs(d))
    ta = growth._trend_adjusted(inc, cut, 0, maxlags=None, alpha=0.05)
    assert ta["jump_per_day"] == pytest.approx(0.0, abs=1e-3)
    assert ta["trend_per_year"] == pytest.approx(-3.0, abs=1e-2)
    assert ta["rate_before_at_date"] == pytest.approx(10.0, abs=1e-3)
    pre = growth._pre_trend(inc, cut, 0, maxlags=None, alpha=0.05)
    assert pre["estimate_per_year"] == pytest.approx(-3.0, abs=0.05) and pre["significant"]
    # the same drift plus a step of +4 a day at the date
    inc, cut = _inc(lambda d: 10 - 3 * yrs(d) + (4.0 if d >= 200 else 0.0))
    ta = growth._trend_adjusted(inc, cut, 0, maxlags=None, alpha=0.05)
    assert ta["jump_per_day"] == pytest.approx(4.0, abs=1e-3) and ta["significant"]


def test_a_steady_decline_is_not_called_a_change_at_the_date():
    """φ = .90 bursts, the rate falling to 0.4× over 48 months, no change at the date: the rate comparison alone
    rejects in most accounts; the verdict "changed" stays near 5% (300-series values: CHANGE_AT_DATE_MEASURED)."""
    scn = replace(next(s for s in SCENARIOS if s.name == "ar90"), decline=0.6)
    res = measure_at_date(scn, 80, seed=5)
    assert res["rate_test"] > 0.5, res  # the scenario is one the old verdict got wrong
    assert res["changed"] <= 0.05 + _margin(0.05, res["n"]), res


def test_a_real_step_is_still_found_with_poisson_noise():
    res = measure_at_date(SCENARIOS[0], 40, ratio=1.7, seed=6)
    assert res["changed"] >= 0.9, res


@pytest.mark.slow
@pytest.mark.parametrize("scn", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_change_at_date_300_series(scn):
    """The numbers of growth.CHANGE_AT_DATE_MEASURED (seeds 2026 for the declines, 2027 for the 1.7× step)."""
    for dec in (0.3, 0.6, 0.9):
        res = measure_at_date(replace(scn, decline=dec), 300, seed=2026)
        print("MEASURED", res)
        assert (res["rate_test"], res["changed"]) == pytest.approx(
            growth.CHANGE_AT_DATE_MEASURED[(scn.name, f"decline {dec}")], abs=0.0015)
        assert res["changed"] <= 0.05 + _margin(0.05, res["n"])
    res = measure_at_date(scn, 300, ratio=1.7, seed=2027)
    assert (res["rate_test"], res["changed"]) == pytest.approx(
        growth.CHANGE_AT_DATE_MEASURED[(scn.name, "1.7x")], abs=0.0015)


def _comparison(p: float, holds: bool | None, reason: str | None = None) -> GrowthComparison:
    results = {"judgeable": True, "status": "ok", "slope_change": {"p_value": p, "estimate": -2.4},
               "slope_ratio": 0.26, "slope_ratio_ci": [0.13, 0.53],
               "change_at_date": {"holds": holds, "reason": reason}}
    before = {"label": "before", "rate_per_day": 3.3, "rate_ci": [2.9, 3.7]}
    return GrowthComparison(0, "New posting schedule", before, {"label": "after"}, results)


def test_verdict_and_sentence_when_the_rate_was_already_changing():
    why = "the rate was already falling before the date (by 7.55 per day each year in the before period alone, p < 0.001)"
    comp = _comparison(0.006, False, why)
    assert growth_verdict(comp) == "cannot tell"
    text = describe_growth(comp, metric="followers")
    assert text.startswith("Cannot tell whether growth in followers changed after New posting schedule")
    assert "unlikely to be noise" not in text and why in text and "0.26×" in text
    # a change that holds beyond the trend keeps its verdict and sentence
    comp = _comparison(0.006, True)
    assert growth_verdict(comp) == "changed"
    assert "unlikely to be noise" in describe_growth(comp, metric="followers")


def test_change_at_date_reason_names_pre_trend_jump_and_placebos():
    comp = {
        "slope_change": {"p_value": 0.002, "estimate": -2.44},
        "pre_trend": {"estimate_per_year": -7.55, "p_value": 9.8e-5},
        "trend_adjusted": {"jump_per_day": 0.843, "jump_ci": [-0.279, 1.96], "p_value": 0.12},
        "placebo": {"p_values_calibrated": [0.14, 0.0086, 0.0023, 0.00036, 0.0002, 0.00041, 0.00072, 0.024],
                    "real_p": 0.0021},
    }
    out = growth._change_at_date(comp, 0.05)
    assert out["holds"] is False and (out["placebo_as_small"], out["placebo_n"]) == (4, 8)
    assert "already falling" in out["reason"] and "p < 0.001" in out["reason"]
    assert "jump at the date is +0.843 per day (95% CI −0.279 to +1.96, p = 0.12)" in out["reason"]
    assert "4 of 8 placebo dates" in out["reason"]
    # a jump in the opposite direction of the rate change does not confirm it
    comp["trend_adjusted"] = {"jump_per_day": 0.9, "jump_ci": [0.1, 1.7], "p_value": 0.03}
    assert growth._change_at_date(comp, 0.05)["holds"] is False
    comp["trend_adjusted"] = {"jump_per_day": -0.9, "jump_ci": [-1.7, -0.1], "p_value": 0.03}
    assert growth._change_at_date(comp, 0.05)["holds"] is True
    # no significant rate change: nothing to attribute
    comp["slope_change"]["p_value"] = 0.2
    assert growth._change_at_date(comp, 0.05)["holds"] is None


def test_methods_text_states_the_measured_numbers():
    from workbench.report.methods import _at_date_measured

    text = _at_date_measured()
    assert "up to 100%" in text and "at most 4%" in text  # 0.997 and 0.037 (CHANGE_AT_DATE_MEASURED)
    assert "0.48 instead of 0.98" in text and "0.67 instead of 0.86" in text


def test_end_values_name_their_dates():
    """review15 X4: 932 (the series' last day) and 926 (the state-space grid's last month start) were both
    called "observed" in adjacent sentences."""
    from workbench.report.growth_section import _comparison_table
    from workbench.report.wording import describe_state_space

    ss = {"dates": ["2024-12-01", "2025-01-01", "2025-02-01"], "forecast_end": 978, "observed_end": 926,
          "excess_end": -51.8, "excess_ci": [-179, 75.6], "converged": True}
    text = describe_state_space(ss, metric="net_follows")
    assert "for the first reading of February 2025 (the model uses each month's first reading)" in text
    assert "978 net new followers against 926 observed then" in text or "against 926 observed then" in text
    comp = _comparison("0.2", None)
    comp.results.update(slope_change={"p_value": 0.2, "estimate": -1.0}, counterfactual={
        "dates": ["2025-01-01", "2025-02-11"], "observed_end": 932, "projected_end": 1034, "excess_end": -102,
        "excess_ci": [-197, -38.1]})
    cells = str(_comparison_table(comp, "net follows per day").__dict__)
    assert "on 11 Feb 2025: observed 932 vs projected 1,034" in cells


def test_before_after_table_row_says_the_ratio_is_not_a_change_at_the_date():
    from workbench.report.overview import _growth_rate_row

    row = _growth_rate_row("Net follows gained per day", _comparison(0.006, False, "already falling"))
    assert row[3].startswith("0.26× (95% CI 0.13× to 0.53×); not a change at the date")
    assert "not a change" not in _growth_rate_row("x", _comparison(0.006, True))[3]
