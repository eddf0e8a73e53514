"""Power by simulation (workbench.power) against the two-sample normal approximation and hand checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from workbench import power as wp
from workbench.errors import InputError
from workbench.power import analytic_posts_needed, analytic_power, estimate_power, posts_needed


def test_analytic_formulas_by_hand():
    # n = (z_.975 + z_.8)² σ² / (p(1−p) δ²) with δ = log 1.2, σ = 0.5, p = 0.15
    n = (1.959964 + 0.841621) ** 2 * 0.25 / (0.15 * 0.85 * math.log(1.2) ** 2)
    assert analytic_posts_needed(20, prevalence=0.15) == pytest.approx(n, rel=1e-5)
    # and the power formula inverts it
    assert analytic_power(n, effect_pct=20, prevalence=0.15) == pytest.approx(0.8, abs=1e-6)
    assert analytic_power(10**7, effect_pct=-10, prevalence=0.3) == pytest.approx(1.0)
    assert analytic_power(50, effect_pct=0.0, prevalence=0.3) == pytest.approx(0.05)


@pytest.mark.parametrize(("n", "effect", "prev"), [(400, 20, 0.15), (1500, -10, 0.3), (3000, 8, 0.5)])
def test_simulated_power_matches_normal_approximation(n, effect, prev):
    r = estimate_power(n, effect_pct=effect, prevalence=prev, n_sims=1000, seed=1)
    se = math.sqrt(r["analytic_power"] * (1 - r["analytic_power"]) / 1000)
    # within simulation error (+ a small allowance: HC3 and t quantiles make the test slightly conservative)
    assert abs(r["power"] - r["analytic_power"]) < 3.5 * se + 0.02, r
    assert r["power_ci"][0] <= r["power"] <= r["power_ci"][1]
    assert r["mean_effect_pct"] == pytest.approx(
        effect, abs=0.1 * abs(effect) + 1
    )  # unbiased on the log scale


def test_size_under_no_effect():
    r = estimate_power(300, effect_pct=0.0, prevalence=0.2, n_sims=2000, seed=5)
    assert abs(r["power"] - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 2000) + 0.005, r["power"]


def test_one_simulation_equals_statsmodels_hc3():
    # re-create the first simulated dataset by hand from the same stream and fit it with statsmodels
    n, prev = 60, 0.3
    rng = np.random.default_rng(9)
    x = rng.random((1, n)) < prev
    z = rng.random((1, n)) < 0.5
    k = rng.poisson(1.2, (1, n))
    X = np.column_stack([np.ones(n), x[0], z[0], k[0]]).astype(float)
    beta = np.array([wp.INTERCEPT, math.log(1.25), math.log(1.2), math.log(0.97)])
    y = X @ beta + rng.normal(0.0, 0.5, (1, n))[0]
    fit = sm.OLS(y, X).fit(cov_type="HC3", use_t=True)
    reject, est = wp._simulate_rejections(
        n, effect_pct=25, prevalence=prev, n_sims=1, alpha=0.05, noise_sd=0.5, seed=9
    )
    assert est[0] == pytest.approx(100 * math.expm1(fit.params[1]), rel=1e-10)
    assert bool(reject[0]) == bool(fit.pvalues[1] < 0.05)
    # and the rejection is the HC3 t-test at alpha, not another test
    t = fit.params[1] / fit.bse[1]
    assert bool(reject[0]) == bool(abs(t) > stats.t.ppf(0.975, n - 4))


def test_chunked_simulation_is_deterministic_and_consistent(monkeypatch):
    kw = dict(effect_pct=15, prevalence=0.2, n_sims=400, alpha=0.05, noise_sd=0.5, seed=2)
    whole = wp._simulate_rejections(200, **kw)
    monkeypatch.setattr(wp, "CHUNK_ELEMENTS", 200 * 4 * 7)  # 7 simulations per chunk
    chunked = wp._simulate_rejections(200, **kw)
    # the stream is consumed in another order, so the draws differ, but not the distribution
    assert chunked[0].shape == whole[0].shape == (400,)
    se = math.sqrt(2 * 0.25 / 400)
    assert abs(chunked[0].mean() - whole[0].mean()) < 4 * se
    # and a seed gives the same answer every time
    np.testing.assert_array_equal(chunked[1], wp._simulate_rejections(200, **kw)[1])


def test_posts_needed_near_analytic():
    for effect, prev in ((20, 0.15), (10, 0.3)):
        r = posts_needed(effect, prevalence=prev, n_sims=300, seed=3)
        # within simulation error of the normal approximation (HC3 costs a few % of n at low prevalence)
        assert r["analytic_n"] * 0.9 <= r["n_posts"] <= r["analytic_n"] * 1.2, r
        assert r["power"] == pytest.approx(0.8, abs=0.01)  # the fitted curve at the (rounded-up) answer
        assert abs(r["power_at_n"] - 0.8) < 3.5 * math.sqrt(0.16 / 300), r
        assert f"{r['n_posts']:,} posts" in r["sentence"]
        powers = [g["power"] for g in r["grid"]]
        assert powers[0] < 0.8 < powers[-1]


def test_posts_needed_beyond_max_posts():
    r = posts_needed(1, prevalence=0.1, n_sims=50, max_posts=10_000)
    assert r["n_posts"] is None and r["sentence"].startswith("Even 10,000 posts are not enough")


def test_estimate_power_sentence():
    r = estimate_power(1000, effect_pct=20, prevalence=0.15, n_sims=100)
    assert r["sentence"].startswith("With 1,000 posts, 15% of them with the feature, a true +20% difference")
    assert "normal approximation gives 98%" in r["sentence"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(effect_pct=20, prevalence=1.0), "prevalence must be a share"),
        (dict(effect_pct=-100, prevalence=0.2), "effect_pct must be above"),
        (dict(effect_pct=20, prevalence=0.2, alpha=0), "alpha must be between"),
        (dict(effect_pct=20, prevalence=0.2, noise_sd=0), "noise_sd must be positive"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        estimate_power(100, **kwargs)
    with pytest.raises(InputError, match="n_posts must be at least 6"):
        estimate_power(3, effect_pct=10, prevalence=0.2)
    with pytest.raises(InputError, match="effect_pct is 0"):
        posts_needed(0, prevalence=0.2)
    with pytest.raises(InputError, match="power must be between"):
        posts_needed(10, prevalence=0.2, power=1.0)


def test_cli_power(capsys):
    from workbench.cli import main

    assert main(["power", "--effect", "20", "--prevalence", "0.15", "--n-sims", "100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("To detect a true +20% difference for a feature on 15% of posts with 80% power")
    # by default at the level the report judges by: Holm over the 6 default predictors, first step 0.05/6
    assert "Holm correction over 6 predictors" in out and "p < 0.00833" in out
    assert "normal approximation gives 715" in out
    assert main(["power", "--effect", "20", "--prevalence", "0.15", "--n-sims", "100", "--tests", "1"]) == 0
    assert "normal approximation gives 463" in capsys.readouterr().out
    assert (
        main(["power", "--effect", "20", "--prevalence", "0.15", "--posts", "1000", "--n-sims", "100"]) == 0
    )
    assert capsys.readouterr().out.startswith("With 1,000 posts")
    assert main(["power", "--effect", "20", "--prevalence", "1.5"]) == 2
    assert "prevalence must be a share" in capsys.readouterr().err


def test_holm_level_is_the_first_step_threshold():
    # power at alpha/m: the analytic power and the normal-approximation n use alpha/m
    res = estimate_power(800, effect_pct=20, prevalence=0.15, n_sims=300, n_tests=6, seed=4)
    assert res["alpha_per_test"] == pytest.approx(0.05 / 6) and res["n_tests"] == 6
    assert res["analytic_power"] == pytest.approx(
        analytic_power(800, effect_pct=20, prevalence=0.15, alpha=0.05 / 6), rel=1e-12
    )
    one = estimate_power(800, effect_pct=20, prevalence=0.15, n_sims=300, n_tests=1, seed=4)
    assert res["power"] < one["power"]  # a stricter level, less power (same simulated data)
    assert "in at least" in res["sentence"] and "Holm" in res["sentence"]
    need = posts_needed(20, prevalence=0.15, n_sims=100, n_tests=6)
    assert need["analytic_n"] == math.ceil(analytic_posts_needed(20, prevalence=0.15, alpha=0.05 / 6))
    with pytest.raises(InputError, match="n_tests must be at least 1"):
        estimate_power(100, effect_pct=10, prevalence=0.2, n_tests=0)
