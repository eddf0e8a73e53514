"""When posts perform (workbench.timing): pooling against statsmodels' DerSimonian–Laird, simulations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from workbench.timing import TimingResult, analyze_timing, pool_groups, window_effect


def _posts(n=1500, *, noon_ratio=1.0, seed=3, tz="America/New_York", unreliable=0):
    """Own posts at local hours 8–17 on all days, log-normal impressions; hour 12 on weekdays × noon_ratio."""
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    hour = rng.integers(8, 18, n)
    naive = day + pd.to_timedelta(hour, unit="h") + pd.to_timedelta(rng.integers(0, 60, n), unit="min")
    local = pd.DatetimeIndex(naive).tz_localize(tz)  # wall-clock hours 8-17 all year (DST included)
    noon = (local.hour == 12) & (local.weekday < 5)
    mu = np.log(500) + np.where(noon, np.log(noon_ratio), 0) + 0.02 * local.month  # growth over the year
    imp = np.round(np.exp(rng.normal(mu, 0.6))).astype(int)
    df = pd.DataFrame({"post_id": [str(i) for i in range(n)], "published_at": local.tz_convert("UTC"),
                       "impressions": pd.array(imp, dtype="Int64"), "engagements": pd.array(imp // 50, dtype="Int64"),
                       "is_reply": False, "published_time_reliable": True})
    if unreliable:
        df.loc[: unreliable - 1, "published_time_reliable"] = False
    return df


@pytest.mark.parametrize("group_sd", [1.0, 0.0])
def test_tau2_matches_statsmodels_dersimonian_laird(group_sd):
    rng = np.random.default_rng(1)
    g = pd.Series(np.repeat(np.arange(8), [5, 9, 12, 20, 7, 30, 15, 11]), name="g")
    y = pd.Series(rng.normal(0, 1, len(g)) + g.map(dict(enumerate(rng.normal(0, group_sd, 8)))).to_numpy())
    table, tau2, sigma2 = pool_groups(y, [g])
    var = sigma2 / table["n"].to_numpy(dtype=float)
    ref = combine_effects(table["mean"].to_numpy(), var, method_re="dl")
    assert tau2 == pytest.approx(max(0.0, ref.tau2), rel=1e-9, abs=1e-15)  # statsmodels does not truncate at 0
    if group_sd:
        assert tau2 > 0
    # within-group variance pooled by hand
    assert sigma2 == pytest.approx(sum(((y[g == k] - y[g == k].mean()) ** 2).sum() for k in range(8)) / (len(y) - 8))
    # the pooled estimates shrink each raw mean towards the overall mean, never past it
    assert (np.abs(table["theta"]) <= np.abs(table["raw"]) + 1e-12).all()
    assert (table["se"] > 0).all()


def test_no_effect_gives_intervals_with_width_and_mostly_covering_one():
    res = analyze_timing(_posts(noon_ratio=1.0), outcome="impressions", timezone="America/New_York")
    assert res.estimable and res.n_posts == 1500
    widths = [h["ci_high"] - h["ci_low"] for h in res.hours]
    assert min(widths) > 0.01  # never a zero-width interval, even when tau2 is 0
    covered = np.mean([h["ci_low"] <= 1 <= h["ci_high"] for h in res.hours])
    assert covered >= 0.8
    assert "confounded" in res.caveat


def test_known_noon_effect_is_recovered():
    posts = _posts(n=3000, noon_ratio=1.6, seed=5)
    w = window_effect(posts, weekdays=range(5), hours=[12], outcome="impressions", timezone="America/New_York")
    assert w["ci_low"] <= 1.6 <= w["ci_high"] and w["ci_low"] > 1
    res = analyze_timing(posts, outcome="impressions", timezone="America/New_York")
    cells = pd.DataFrame(res.cells)
    noon = cells[(cells["hour"] == 12) & (cells["weekday"] < 5)]
    other = cells[(cells["hour"] != 12)]
    assert noon["ratio"].mean() > 1.3 * other["ratio"].mean()
    assert (noon["ci_low"] > 1).mean() >= 0.6
    assert res.cell_table().shape == (7, 10)
    back = TimingResult.from_dict(res.to_dict())
    assert back.to_dict() == res.to_dict()


def test_unreliable_times_excluded_and_counted():
    res = analyze_timing(_posts(unreliable=40), outcome="impressions", timezone="America/New_York")
    assert res.n_excluded_unreliable_time == 40 and res.n_posts == 1460
    assert "40 post(s) were left out" in res.note


def test_too_few_posts_says_why():
    res = analyze_timing(_posts(n=12), outcome="impressions")
    assert not res.estimable and "at least 30" in res.note
    w = window_effect(_posts(n=12), weekdays=[0], hours=[12], outcome="impressions")
    assert w["ratio"] is None and "too few posts" in w["note"]


def test_local_time_is_used():
    posts = _posts(n=200)
    res = analyze_timing(posts, outcome="impressions", timezone="America/New_York")
    assert {h["hour"] for h in res.hours} == set(range(8, 18))
    res_utc = analyze_timing(posts, outcome="impressions", timezone="UTC")
    assert {h["hour"] for h in res_utc.hours} != set(range(8, 18))


def test_timing_section_renders_caveat_and_no_scripts():
    from workbench.sections import render_section

    html = render_section("timing", analyze_timing(_posts(n=300), outcome="impressions", timezone="America/New_York"))
    assert 'id="when-posts-perform"' in html and "confounded" in html and "<script" not in html
    assert "12:00" in html and "Mon" in html


def test_one_post_per_slot_is_not_estimated_and_warns_nothing():
    """40 posts, each alone in its weekday × hour slot: no post-to-post variation within a slot to pool with."""
    import warnings

    posts = _posts(n=40, seed=5)
    local = pd.date_range("2023-01-02 00:00", periods=40, freq="5h", tz="UTC")  # 40 distinct weekday × hour slots
    posts["published_at"] = local
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = analyze_timing(posts, outcome="impressions", timezone="UTC")
    assert not res.estimable and "beyond one per slot" in res.note and not res.cells


def test_identical_outcomes_are_not_estimated():
    posts = _posts(n=300)
    posts["impressions"] = pd.array([500] * 300, dtype="Int64")
    res = analyze_timing(posts, outcome="impressions", timezone="America/New_York")
    assert not res.estimable and "same month-adjusted impressions" in res.note


def test_pool_groups_refuses_zero_within_variance():
    y = pd.Series([1.0, 2.0, 3.0], name="y")
    with pytest.raises(ValueError, match="no variation within groups"):
        pool_groups(y, [pd.Series([0, 1, 2], name="g")])
