"""Before/after claims that separate the intervention from audience growth and trend (issue 12.3, 12.4)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from workbench.beforeafter import monthly_its, post_change

DATE = pd.Timestamp("2022-01-01")


def _posts(seed: int, *, effect: float = 1.0, months: int = 48, per_month: int = 12, month_sd: float = 0.3):
    """Posts whose impressions follow the audience (elasticity 1) with month shocks; ``effect`` at DATE."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-01")
    m = np.repeat(np.arange(months), per_month)
    when = start + pd.to_timedelta(m * 30.44 + rng.uniform(0, 30, len(m)), unit="D")
    days = (when - start).days.to_numpy(float)
    # the audience grows about 50% a year, by steps (as follower counts interpolated from monthly readings)
    followers = 1000 * np.exp(days / 900 + 0.05 * np.sin(days / 40))
    shock = rng.normal(0, month_sd, months)[m]
    after = when >= DATE
    mu = 400 * followers / 1000 * np.exp(shock) * np.where(after, effect, 1.0)
    y = rng.poisson(mu * np.exp(rng.normal(-0.125, 0.5, len(m))))
    return pd.DataFrame(
        {
            "published_at": pd.DatetimeIndex(when).tz_localize("UTC"),
            "impressions": pd.array(y, dtype="Int64"),
            "followers_at_post": followers,
            "is_reply": pd.array(rng.random(len(m)) < 0.3, dtype="boolean"),
        }
    )


def test_audience_growth_is_not_credited_to_the_intervention():
    res = post_change(_posts(1), DATE)
    assert res.available
    d = res.descriptive
    # the unadjusted median ratio is large (audience growth) and labelled as descriptive
    assert d["median_ratio"] > 1.3 and d["label"].startswith("descriptive, unadjusted")
    assert d["followers_median_ratio"] > 1.3
    assert res.ci[0] < 1.0 < res.ci[1]
    assert res.terms == ["Intercept", "after", "years_since_date", "log_followers", "is_reply"]
    assert "audience size" in res.estimand and "time trend" in res.estimand
    assert res.n_months == 48 and res.n_posts == 576 and res.cov_type.startswith("cluster-robust by calendar month")
    json.dumps(res.to_dict(), allow_nan=False)


def test_clustered_interval_matches_a_hand_sandwich():
    posts = _posts(2, effect=1.5)
    res = post_change(posts, DATE)
    when = pd.to_datetime(posts["published_at"]).dt.tz_localize(None)
    y = np.log1p(posts["impressions"].astype(float).to_numpy())
    X = np.column_stack(
        [
            np.ones(len(y)),
            (when >= DATE).astype(float),
            ((when - DATE) / pd.Timedelta(days=365.25)).to_numpy(float),
            np.log(posts["followers_at_post"].to_numpy()),
            posts["is_reply"].astype(float).to_numpy(),
        ]
    )
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ beta
    g = when.dt.to_period("M").astype(str).to_numpy()
    bread = np.linalg.inv(X.T @ X)
    meat = np.zeros((5, 5))
    for gg in np.unique(g):
        s = X[g == gg].T @ e[g == gg]
        meat += np.outer(s, s)
    G, n, k = len(np.unique(g)), len(y), 5
    V = G / (G - 1) * (n - 1) / (n - k) * bread @ meat @ bread  # Stata/statsmodels small-sample factor
    se = math.sqrt(V[1, 1])
    q = stats.t.ppf(0.975, G - 1)
    assert res.estimate == pytest.approx(math.exp(beta[1]), rel=1e-10)
    assert res.ci == pytest.approx([math.exp(beta[1] - q * se), math.exp(beta[1] + q * se)], rel=1e-8)
    assert res.ci[0] < 1.5 < res.ci[1]


def test_fake_dates_give_no_change_and_the_ci_covers_a_real_one():
    # 60 simulated accounts without an effect: fake-date false positives near 5% (months, not posts, are
    # independent); with a 1.5× effect, the CI covers 1.5 in ≥ 90%
    fp, cover = [], []
    for seed in range(60):
        fp.append(post_change(_posts(100 + seed), DATE).p_value < 0.05)
        r = post_change(_posts(200 + seed, effect=1.5), DATE)
        cover.append(r.ci[0] < 1.5 < r.ci[1])
    assert np.mean(fp) <= 0.12
    assert np.mean(cover) >= 0.88


def test_a_log_linear_audience_cannot_be_told_from_the_trend_and_it_says_so():
    posts = _posts(7)
    when = pd.to_datetime(posts["published_at"]).dt.tz_localize(None)
    posts["followers_at_post"] = 1000 * np.exp(((when - when.min()) / pd.Timedelta(days=1)).to_numpy(float) / 900)
    res = post_change(posts, DATE)
    assert res.available and "years_since_date" not in res.terms and "log_followers" in res.terms
    assert "cannot be told apart" in res.terms_missing["years_since_date"]


def test_without_follower_counts_it_says_what_is_not_held_constant():
    posts = _posts(3).drop(columns=["followers_at_post"])
    res = post_change(posts, DATE)
    assert res.available and "log_followers" not in res.terms
    assert "no follower counts" in res.terms_missing["log_followers"]
    assert "audience" not in res.estimand


def test_thin_or_out_of_range_data_are_not_available():
    res = post_change(None, DATE)
    assert not res.available and res.reason == "no posts" and "example_row" in res.needed
    res = post_change(_posts(4), "2030-01-01")
    assert not res.available and res.reason.startswith("the date is after your posts")
    few = _posts(5, months=26)  # posts through 2022-02: 2 months after the date
    res = post_change(few, DATE)
    assert not res.available and "at least 3 on each side" in res.reason
    assert res.descriptive["median_ratio"] is not None  # the descriptive number is still there, labelled


def _months(values, start="2020-01-01"):
    return pd.DataFrame(
        {"month": pd.date_range(start, periods=len(values), freq="MS"), "impressions": values, "complete": True}
    )


def test_its_recovers_an_exact_level_and_trend_change():
    t = np.arange(36) - 24.0  # months since 2022-01
    after = t >= 0
    v = np.exp(8 + 0.02 * t + np.where(after, math.log(1.4) + 0.01 * t, 0.0))
    res = monthly_its(_months(v), DATE, metric="impressions")
    assert res.available
    assert res.level_change == pytest.approx(1.4, rel=1e-9)
    assert res.trend_change_per_year == pytest.approx(math.exp(0.12), rel=1e-9)
    assert res.pre_trend_per_year == pytest.approx(math.exp(0.24), rel=1e-9)


def test_its_matches_statsmodels_hac_and_keeps_welch_as_the_published_form():
    rng = np.random.default_rng(6)
    t = np.arange(48) - 24.0
    v = np.exp(8 + 0.02 * t + rng.normal(0, 0.2, 48))
    res = monthly_its(_months(v), DATE, metric="impressions", published_form={"welch_p_two_sided": 0.01})
    X = np.column_stack([np.ones(48), t, (t >= 0).astype(float), t * (t >= 0)])
    fit = sm.OLS(np.log(v), X).fit(cov_type="HAC", cov_kwds={"maxlags": 3, "use_correction": True})
    from workbench.growth import fixed_b_df

    q = stats.t.ppf(0.975, fixed_b_df(48, 3, 44.0))
    assert res.level_change_ci == pytest.approx(
        [math.exp(fit.params[2] - q * fit.bse[2]), math.exp(fit.params[2] + q * fit.bse[2])], rel=1e-9
    )
    assert res.published_form == {"welch_p_two_sided": 0.01}
    # a pre-existing trend alone: the level change CI covers 1 though a Welch test of the months would not
    assert res.level_change_ci[0] < 1 < res.level_change_ci[1]
    assert stats.ttest_ind(v[24:], v[:24], equal_var=False).pvalue < 0.05


def test_its_leaves_out_partial_and_transition_months_and_says_when_too_few():
    v = np.full(20, 100.0)
    m = _months(v, start="2021-05-01")
    m.loc[19, "complete"] = False
    res = monthly_its(m, "2021-12-15", metric="impressions")
    assert res.months_left_out == {"incomplete": 1, "containing_the_date": 1, "no_value": 0}
    assert res.n_months == 18
    res = monthly_its(_months(np.full(10, 5.0)), "2020-09-01", metric="impressions")
    assert not res.available and "at least 3 on each side" in res.reason
    res = monthly_its(_months(np.full(10, 5.0)), "2024-01-01", metric="impressions")
    assert not res.available and res.reason.startswith("the date is after your monthly data")
