"""Calibration of the growth comparison on realistic follower series (issue 12).

The generator (tests/growth_sim.py) is independent of ``workbench.growth``: daily follows (12/day) and unfollows
(2/day) Poisson around a shared lognormal AR(1) rate multiplier, the monthly count written down 0–5 days after
the 1st (dated the 1st), months missing at random. For each scenario of the issue's table, four numbers at
nominal 5%: the false-positive rate of the rate-change test (no true change), the coverage of the 95% growth
ratio CI and of the 95% counterfactual prediction interval at the last month (no true change), and the power
against a 1.7× change (48 months). Targets: false positives 0.03–0.07, coverages ≥ 0.93, power ≥ 0.9 where the
data can give it (see ``POWER_FLOOR``).

Measured with 300 series per scenario (``pytest -m slow tests/test_growth_calibration.py``, see README):
see ``MEASURED`` below. The short tests use 80 series and assert with binomial margins (2.5 binomial sd).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from growth_sim import SCENARIOS, START, Scenario, account_of, measure, simulate

from workbench import growth
from workbench.growth import compare_growth

#: the issue's table re-measured for the calibrated method (the growth-ratio test): 300 series per scenario,
#: seed 2026 (false_positive, ratio_ci_coverage, pi_coverage, power)
MEASURED = {
    "poisson": (0.0700, 0.9300, 0.9433, 1.0000),
    "ar90": (0.0633, 0.9367, 0.9433, 0.9833),
    "ar98": (0.0567, 0.9433, 0.9433, 0.2767),
    "split_40_8": (0.0602, 0.9398, 0.9331, 0.8653),
}
#: power the suite asserts against a 1.7× change (binomial margins below). The target is 0.9. With φ = .98 daily
#: bursts (weeks long) no test reaches it: a test that knows the true noise law reaches 0.46 two-sided (0.61
#: one-sided, Neyman–Pearson 0.60; tests/test_growth_power.py), so nothing is asserted there. In the 40/8 split
#: the oracle reaches 0.93 (knowing the variance) but the method must estimate the after period's variance from 8
#: months: 0.87 measured (the rate-difference test it replaced: 0.74), asserted at 0.8; tests that pooled the
#: variance across periods reached 0.90–0.92 but rejected 0.21–0.24 of the time when only the burstiness changed.
POWER_FLOOR = {"poisson": 0.9, "ar90": 0.9, "split_40_8": 0.8}


def _margin(p: float, n: int, z: float = 2.5) -> float:
    return z * math.sqrt(p * (1 - p) / n)


def _check(res: dict, n: int) -> None:
    name = res["scenario"]
    assert res["judged"] >= 0.95, res
    assert res["false_positive"] <= 0.07 + _margin(0.07, n), res
    if n >= 300:
        assert res["false_positive"] >= 0.03 - _margin(0.03, n), res
    assert res["ratio_ci_coverage"] >= 0.93 - _margin(0.93, n), res
    assert res["pi_coverage"] >= 0.93 - _margin(0.93, n), res
    if name in POWER_FLOOR:
        floor = POWER_FLOOR[name]
        assert res["power"] >= floor - _margin(floor, n), res
    # the growth-ratio test is at least as powerful as the rate-difference test on the same series
    assert res["power"] >= res["power_difference"] - _margin(0.5, n, z=1.0), res


@pytest.mark.parametrize("scn", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_calibration_short(scn):
    _check(measure(scn, 80, seed=11), 80)


@pytest.mark.slow
@pytest.mark.parametrize("scn", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_calibration_300_series(scn):
    res = measure(scn, 300, seed=2026)
    print("MEASURED", res)
    _check(res, 300)
    # the numbers written in the docstring and README are these
    assert (res["false_positive"], res["ratio_ci_coverage"], res["pi_coverage"], res["power"]) == pytest.approx(
        MEASURED[scn.name], abs=0.0015
    )


def test_the_uncalibrated_fixed_b_test_is_what_failed():
    # the same series: the Newey–West fixed-b p (kept as p_value_fixed_b) over-rejects with a short period
    scn = SCENARIOS[3]
    day_of, values, keep, change = simulate(scn, 120, seed=5)
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    from growth_sim import fit_one

    comps = [fit_one(account_of(day_of, values, keep, i), cut) for i in range(120)]
    fixed = np.mean([c["slope_change"]["p_value_fixed_b"] < 0.05 for c in comps])
    calibrated = np.mean([c["slope_change"]["p_value"] < 0.05 for c in comps if c["judgeable"]])
    assert fixed > 0.09 and calibrated < fixed


# ----------------------------------------------------------------------------------- the estimator's parts


def test_hac_batch_is_statsmodels_wls_hac():
    rng = np.random.default_rng(3)
    n = 40
    days = rng.integers(28, 62, n).astype(float)
    X = np.column_stack([np.where(np.arange(n) < 25, days, 0.0), np.where(np.arange(n) >= 25, days, 0.0)])
    y = rng.normal(10, 3, n) * days
    sw = 1 / np.sqrt(days)
    for lags in (0, 1, 3):
        res = sm.WLS(y, X, weights=1 / days).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
        beta, cov = growth._hac_batch(X * sw[:, None], (y * sw)[None, :], lags)
        assert beta[0] == pytest.approx(res.params, rel=1e-10)
        assert cov[0] == pytest.approx(np.asarray(res.cov_params()), rel=1e-9)


def test_ar1_phi_is_the_lag1_autocorrelation_with_kendall_correction():
    e = np.array([1.0, 2.0, 0.0, -1.0, -2.0, 0.5])
    d = e - e.mean()
    raw = (d[1:] @ d[:-1]) / (d @ d)
    assert growth._ar1_phi(e) == pytest.approx((raw, raw + (1 + 3 * raw) / 6))
    assert growth._ar1_phi(np.arange(100.0))[1] == growth.AR_PHI_MAX  # clipped


def test_ar1_sum_variance_is_the_sum_of_the_correlation_matrix():
    for phi in (0.0, 0.3, 0.8):
        for m in (1, 2, 7, 24):
            brute = growth._ar1_corr(phi, m).sum()
            assert float(growth._ar1_sum_var(phi, m)) == pytest.approx(brute, rel=1e-10)
    assert float(growth._ar1_sum_var(-0.5, 5)) == 5.0  # negative φ taken as 0 (wider)


def test_ar1_draws_have_the_fitted_autocorrelation():
    E = growth._ar1_draws(0.6, 400)
    r1 = np.mean([np.corrcoef(e[1:], e[:-1])[0, 1] for e in E[:200]])
    assert r1 == pytest.approx(0.6, abs=0.03)


def test_calibrated_p_agrees_with_the_critical_value_at_alpha():
    for crit in (1.5, 1.96, 2.3, 3.1):
        assert growth._calibrated_t_p(crit, crit, 0.05) == pytest.approx(0.05, rel=1e-6)
        assert growth._calibrated_t_p(crit * 1.01, crit, 0.05) < 0.05 < growth._calibrated_t_p(crit * 0.99, crit, 0.05)


def test_counterfactual_interval_matches_the_exact_formula_when_increments_are_independent():
    # 36 monthly readings with iid Gaussian increments (variance ∝ days): the exact 95% PI of the sum of h
    # future days is ± t · sqrt(σ²h + Var(r)h²); the bootstrap's interval must be close to it
    dates = pd.date_range("2019-01-01", periods=61, freq="MS")
    dd = np.diff(dates).astype("timedelta64[D]").astype(float)
    widths = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        inc = 10 * dd + rng.normal(0, 1, 60) * np.sqrt(dd) * 5
        level = np.concatenate([[1000.0], 1000 + np.cumsum(inc)])
        acc = pd.DataFrame({"date": dates, "followers": level})
        res = compare_growth(acc, interventions=[("2022-01-01", "x")])
        cf = res["counterfactual"]
        series, _ = growth.prepare_growth_series(acc)
        dv, ddays = np.diff(series["value"].to_numpy()), np.diff(series["days"].to_numpy())
        b = slice(0, 36)
        rate = dv[b].sum() / ddays[b].sum()
        s2 = ((dv[b] - rate * ddays[b]) ** 2 / ddays[b]).sum() / 35
        last = 35  # 2021-12-01, the last before-period reading
        h = series["days"].iloc[-1] - series["days"].iloc[last]
        assert cf["projected_end"] == pytest.approx(series["value"].iloc[last] + rate * h, rel=1e-9)
        from scipy import stats

        exact = stats.t.ppf(0.975, 35) * math.sqrt(s2 * h + s2 / ddays[b].sum() * h**2)
        widths.append((cf["pi_high"][-1] - cf["pi_low"][-1]) / (2 * exact))
    # the AR coefficient is estimated (and its uncertainty allowed for), so slightly wider on average
    assert 0.9 < np.mean(widths) < 1.25, widths


def test_too_few_increments_cannot_be_judged():
    # 30 monthly readings, change 4 months before the end: the change is estimated but not judged
    dates = pd.date_range("2020-01-01", periods=30, freq="MS")
    level = 1000 + 10 * (dates - dates[0]).days.to_numpy() + np.random.default_rng(1).normal(0, 30, 30)
    acc = pd.DataFrame({"date": dates, "followers": pd.array(np.round(level).astype(int), dtype="Int64")})
    res = compare_growth(acc, interventions=[(dates[-4], "late")])
    assert res["slope_ratio"] is not None and res["slope_change"]["estimate"] is not None
    assert res["judgeable"] is False
    assert res["slope_change"]["p_value"] is None and res["slope_ratio_ci"] == [None, None]
    assert res["equivalence"]["p_value"] is None and res["equivalence"]["equivalent"] is False
    assert "the after period has 3" in res["not_judged_reason"]
    assert any("too few increments to judge" in w for w in res["warnings"])


def test_compare_growth_reports_what_the_simulation_measures():
    scn = Scenario("check", phi=0.9, sd=0.5, jitter=3)
    day_of, values, keep, change = simulate(scn, 2, ratio=1.7, seed=4)
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    from growth_sim import fit_one

    for i in range(2):
        acc = account_of(day_of, values, keep, i)
        full = compare_growth(acc, interventions=[(cut, "x")])
        part = fit_one(acc, cut)
        assert full["slope_change"] == part["slope_change"]
        assert full["slope_ratio_ci"] == part["slope_ratio_ci"]
        assert full["counterfactual"]["pi_low"] == part["counterfactual"]["pi_low"]
