"""Power of the growth comparison (issue 12): the reported test, what an oracle could do, and the minimum
detectable ratio that the report prints beside "cannot tell".

The generator is tests/growth_sim.py (independent of ``workbench.growth``). Numbers measured with 300 series per
scenario are in tests/test_growth_calibration.py (``MEASURED``) and the README's calibration table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from growth_sim import SCENARIOS, START, Scenario, account_of, fit_one, oracle_power, simulate

from workbench import growth
from workbench.findings import GrowthComparison
from workbench.growth import compare_growth
from workbench.report.wording import describe_detectable, describe_growth

SCN = {s.name: s for s in SCENARIOS}


def _margin(p: float, n: int, z: float = 2.5) -> float:
    return z * math.sqrt(p * (1 - p) / n)


def _fit(acc: pd.DataFrame, cut: pd.Timestamp) -> tuple[dict, dict]:
    series, _ = growth.prepare_growth_series(acc)
    cuts = np.array([cut.value], dtype="int64")
    series = series.assign(
        period=np.searchsorted(cuts, series["date"].to_numpy("datetime64[ns]").astype("int64"), side="right")
    )
    inc, _ = growth._increments(acc, series, metric="followers")
    fit = growth._fit_rates(inc, cuts, ["before", "after"], maxlags=None, warnings=[])
    return fit, growth._compare_rates(fit, 0, margin=(0.8, 1.25), alpha=0.05, warnings=[])


def _cut(change: float) -> pd.Timestamp:
    return pd.Timestamp(START + np.timedelta64(int(change), "D"))


# ------------------------------------------------------------------------------------------- the test


def test_the_reported_p_value_is_the_growth_ratio_test_and_agrees_with_its_ci():
    scn = SCN["split_40_8"]
    day_of, values, keep, change = simulate(scn, 30, ratio=1.4, seed=21)
    n_checked = 0
    for i in range(30):
        comp = fit_one(account_of(day_of, values, keep, i), _cut(change))
        if not comp["judgeable"]:
            continue
        sc = comp["slope_change"]
        assert sc["test"] == "log_ratio"
        lo, hi = comp["slope_ratio_ci"]
        assert (sc["p_value"] < 0.05) == (not lo <= 1.0 <= hi)
        # the rate difference's calibrated p is kept beside it
        assert 0 < sc["p_value_difference"] <= 1
        n_checked += 1
    assert n_checked >= 25


def test_a_negative_before_rate_falls_back_to_the_difference_test():
    dates = pd.date_range("2020-01-01", periods=30, freq="MS")
    rng = np.random.default_rng(2)
    days = (dates - dates[0]).days.to_numpy(float)
    level = 5000 - 2 * np.minimum(days, days[15]) + 3 * np.maximum(days - days[15], 0) + rng.normal(0, 15, 30)
    acc = pd.DataFrame({"date": dates, "followers": pd.array(np.round(level).astype(int), dtype="Int64")})
    res = compare_growth(acc, interventions=[(dates[15], "x")])
    assert res["slope_change"]["test"] == "difference"
    assert res["slope_change"]["p_value"] == res["slope_change"]["p_value_difference"]
    assert res["minimum_detectable"]["ratio_increase"] is None
    assert "not positive" in res["minimum_detectable"]["reason"]


# ------------------------------------------------------------------------------------------- the oracle


def test_the_oracle_cannot_reach_the_target_with_weeks_long_bursts():
    # φ = .98 per day, sd .6: even a test that knows the noise law, the base rate and the ratio (Neyman–Pearson)
    # detects a 1.7× change in 48 monthly counts well under 90% of the time: the target is infeasible there
    res = oracle_power(SCN["ar98"], 1500, seed=7)
    assert res["neyman_pearson"] < 0.9 - _margin(0.9, 1500)
    assert res["gls_two_sided"] < 0.6


@pytest.mark.slow
@pytest.mark.parametrize("scn", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_oracle_power_4000_series(scn):
    res = oracle_power(scn, 4000, seed=7)
    print("ORACLE", res)
    # measured: poisson 1.00 / 1.00 / 1.00; ar90 0.994 / 0.998 / 1.000; ar98 0.46 / 0.61 / 0.60;
    # split 40/8 (nominal dates, nothing missing) 0.93 / 0.96 / 0.95  (gls two-sided / one-sided / NP)
    feasible = scn.name != "ar98"
    assert (res["gls_two_sided"] >= 0.9) == feasible


# ------------------------------------------------------------------------------- minimum detectable ratio


def test_minimum_detectable_ratio_is_in_growth_json_and_its_power_rises_with_the_ratio():
    day_of, values, keep, change = simulate(SCN["ar90"], 1, seed=5)
    res = compare_growth(account_of(day_of, values, keep, 0), interventions=[(_cut(change), "x")])
    md = res["minimum_detectable"]
    assert res["minimum_detectable_ratio"] == md["ratio_increase"]
    assert 1.0 < md["ratio_increase"] < 3.0 and 0.3 < md["ratio_decrease"] < 1.0
    powers = [md["power_at"][k] for k in ("1.25", "1.5", "1.7", "2", "3")]
    assert powers == sorted(powers) and powers[-1] > 0.95
    assert md["power"] == 0.8 and "80% power" in md["method"]
    # the comparison's own copy
    assert res["comparisons"][0]["minimum_detectable"] == md


def _mde(acc: pd.DataFrame, cut: pd.Timestamp) -> float:
    fit, comp = _fit(acc, cut)
    return growth._minimum_detectable_of(comp, fit, 0, alpha=0.05)["ratio_increase"]


def test_minimum_detectable_ratio_is_smaller_with_less_noise():
    day_of, values, keep, change = simulate(SCN["ar90"], 4, seed=8)
    for i in range(4):
        acc = account_of(day_of, values, keep, i)
        days = (acc["date"] - acc["date"].iloc[0]).dt.days.to_numpy(float)
        v = acc["followers"].to_numpy(float)
        trend = v[0] + (v[-1] - v[0]) * days / days[-1]
        quiet = acc.assign(followers=pd.array(np.round(trend + 0.4 * (v - trend)).astype(int), dtype="Int64"))
        assert _mde(quiet, _cut(change)) < _mde(acc, _cut(change))


def test_minimum_detectable_ratio_is_smaller_with_more_months():
    short, long_ = Scenario("short", phi=0.9, sd=0.5, months=24, change_month=12), Scenario(
        "long", phi=0.9, sd=0.5, months=96, change_month=48)
    out = {}
    for scn in (short, long_):
        day_of, values, keep, change = simulate(scn, 6, seed=9)
        out[scn.name] = np.median([_mde(account_of(day_of, values, keep, i), _cut(change)) for i in range(6)])
    assert out["long"] < out["short"]


def test_a_comparison_that_is_not_judged_has_no_minimum_detectable_ratio():
    dates = pd.date_range("2020-01-01", periods=30, freq="MS")
    level = 1000 + 10 * (dates - dates[0]).days.to_numpy() + np.random.default_rng(1).normal(0, 30, 30)
    acc = pd.DataFrame({"date": dates, "followers": pd.array(np.round(level).astype(int), dtype="Int64")})
    res = compare_growth(acc, interventions=[(dates[-4], "late")])
    md = res["minimum_detectable"]
    assert md["ratio_increase"] is None and md["power_at"] is None and md["method"] is None
    assert "too few increments" in md["reason"]
    assert describe_detectable(res) is None


def _power_at_the_median_mde(scn: Scenario, n: int, seed: int) -> tuple[float, float, int]:
    """The median minimum detectable ratio over ``n`` series without a change, and the share of ``n`` other series
    with a change of that size in which the test finds it (should be the 80% the ratio is defined by)."""
    day_of, values, keep, change = simulate(scn, n, seed=seed)
    mdes = [_mde(account_of(day_of, values, keep, i), _cut(change)) for i in range(n)]
    ratio = float(np.median([m if m is not None else np.inf for m in mdes]))
    day_of, values, keep, change = simulate(scn, n, ratio=ratio, seed=seed + 1)
    rej = []
    for i in range(n):
        comp = fit_one(account_of(day_of, values, keep, i), _cut(change))
        if comp["judgeable"]:
            rej.append(comp["slope_change"]["p_value"] < 0.05)
    return ratio, float(np.mean(rej)), len(rej)


def test_the_minimum_detectable_ratio_is_detected_80_percent_of_the_time_short():
    ratio, power, n = _power_at_the_median_mde(SCN["split_40_8"], 60, seed=31)
    assert 1.3 < ratio < 2.2
    assert abs(power - 0.8) <= _margin(0.8, n), (ratio, power)


@pytest.mark.slow
def test_the_minimum_detectable_ratio_is_detected_80_percent_of_the_time_300_series():
    # measured (seed 2026, 200 series): split 40/8 median 1.66×, detected in 0.82 of the series with that change;
    # φ = .90: 1.41×, 0.71; φ = .98: 2.48×, 0.58 (optimistic there: see the module notes)
    ratio, power, n = _power_at_the_median_mde(SCN["split_40_8"], 300, seed=2026)
    print("MDE split_40_8 median", ratio, "power there", power)
    assert abs(power - 0.8) <= _margin(0.8, n), (ratio, power)


# ------------------------------------------------------------------------------------------- the report


def _comparison(results: dict) -> GrowthComparison:
    before = {"label": "before", "rate_per_day": 10.0, "rate_ci": [8.0, 12.0]}
    after = {"label": "after", "rate_per_day": 13.0, "rate_ci": [9.0, 17.0]}
    return GrowthComparison(0, "launch", before, after, results)


def _cannot_tell(md: dict) -> dict:
    return {"status": "judged", "judgeable": True, "slope_ratio": 1.3, "slope_ratio_ci": [0.8, 2.1],
            "slope_change": {"estimate": 3.0, "ci": [-2.0, 8.0], "p_value": 0.31},
            "equivalence": {"equivalent": False, "p_value": 0.6}, "minimum_detectable": md}


def test_cannot_tell_says_which_change_could_have_been_detected():
    md = {"power": 0.8, "ratio_increase": 2.3, "ratio_decrease": 0.45, "search_max_ratio": 20.0,
          "power_at": {"1.7": 0.41}, "method": "simulation"}
    text = describe_growth(_comparison(_cannot_tell(md)))
    assert "cannot tell" in text
    assert ("With this much month-to-month variation, only a change of the growth rate of about 2.3× or more "
            "(or a fall to 0.45× or less) would be detected reliably (80% power).") in text
    # the caveat growth.json carries is said with it: the figure is optimistic under weeks-long bursts
    caveat = "estimated …, which understates bursts of attention that last weeks: … 58% to 82% of them"
    with_caveat = describe_growth(_comparison(_cannot_tell({**md, "caveat": caveat})))
    assert f"would be detected reliably (80% power). That size is {caveat}." in with_caveat
    md_none = {**md, "ratio_increase": None, "ratio_decrease": None}
    assert "not even a 20.0× change" in describe_growth(_comparison(_cannot_tell(md_none)))
    # a growth.json without the key (older runs) keeps the old sentence, with nothing invented
    old = describe_growth(_comparison(_cannot_tell(None)))
    assert "detected reliably" not in old and "cannot tell" in old


def test_the_growth_table_row_states_the_minimum_detectable_ratio_and_the_power_at_1_7():
    from workbench.report.growth_section import _detectable_text

    md = {"power": 0.8, "ratio_increase": 1.18, "ratio_decrease": 0.85, "search_max_ratio": 20.0,
          "power_at": {"1.7": 0.999}, "method": "simulation"}
    text = _detectable_text(_cannot_tell(md))
    assert "about 1.18× or more (or a fall to 0.85× or less)" in text and "1.7× change: over 99%." in text
    assert "1.7× change: 41%." in _detectable_text(_cannot_tell({**md, "power_at": {"1.7": 0.41}}))
    none = {**md, "method": None, "ratio_increase": None, "reason": "the before growth rate is not positive"}
    assert _detectable_text(_cannot_tell(none)) == "not computed: the before growth rate is not positive"
    assert "growth.json has no minimum detectable ratio" in _detectable_text(_cannot_tell(None))


def test_the_minimum_detectable_ratio_carries_the_measured_optimism():
    """growth.json's minimum_detectable says how far below 80% the power at the reported ratio was in the
    simulation suite (the numbers of MDE_POWER_MEASURED), so the report never states 80% as if it were exact."""
    from workbench import growth

    md = growth._minimum_detectable(None, 0, float("nan"), alpha=0.05, stat="log")
    assert md["caveat"] is None and md["reason"]
    lo, hi = min(growth.MDE_POWER_MEASURED.values()), max(growth.MDE_POWER_MEASURED.values())
    assert lo < growth.MDE_POWER <= hi
