"""Published claims beside the account's estimates (workbench.claims) and the card's claims: key."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from workbench.campaigns import summarize_campaigns
from workbench.claims import ClaimsResult, compare_claims, hashtag_difference, load_claims, verdict
from workbench.dataset import parse_card
from workbench.errors import DatasetCardError
from workbench.ingest import read_files

DATA = Path(__file__).parent / "data" / "ads"


def test_shipped_claims_hold_the_seed_numbers():
    c = {x["id"]: x for x in load_claims()}
    assert c["research_network_polls"]["effect"] == 0.278 and c["research_network_graphics"]["effect"] == 0.195
    assert c["research_network_links"]["effect"] == 0.173 and c["women_in_medicine_growth"]["effect"] == 1.7
    assert c["instagram_hashtags"]["effect"] == 12.6
    assert c["instagram_weekday_noon"]["window"] == {"weekdays": [0, 1, 2, 3, 4], "hours": [12]}
    bench = {(x["population"].split(",")[0], x["statistic"]): x["effect"] for x in c.values()
             if x["metric"] == "ad_benchmark"}
    assert sorted(bench.values()) == sorted([0.0083, 1.32, 0.11, 12.31, 0.009, 1.72, 0.0921, 18.68])
    assert all(x["source"] and x["population"] for x in c.values())


@pytest.mark.parametrize("est,lo,hi,pub,stat,expected", [
    (0.10, 0.05, 0.15, 0.278, "std_beta", "lower"),
    (0.40, 0.30, 0.50, 0.278, "std_beta", "higher"),
    (0.25, 0.10, 0.40, 0.278, "std_beta", "consistent"),
    (0.10, -0.10, 0.40, 0.278, "std_beta", "cannot tell"),  # holds the claim and no effect
    (1.2, 1.1, 1.3, 1.0, "above", "consistent"),
    (0.9, 0.8, 0.95, 1.0, "above", "lower"),
    (1.0, 0.9, 1.1, 1.0, "above", "cannot tell"),
    (None, None, None, 1.7, "ratio", "cannot tell"),
])
def test_verdicts(est, lo, hi, pub, stat, expected):
    assert verdict(est, lo, hi, pub, statistic=stat)[0] == expected


def test_regression_and_growth_claims():
    reg = pd.DataFrame({"outcome": ["impressions"] * 2, "model": ["ols_std", "ols_log"], "term": ["has_poll"] * 2,
                        "estimate": [0.30, 0.5], "ci_low": [0.2, 0.3], "ci_high": [0.4, 0.7], "n": [500, 500],
                        "effect_pct": [np.nan, 64.9], "effect_pct_ci_low": [np.nan, 35.0],
                        "effect_pct_ci_high": [np.nan, 101.4]})
    growth = {"slope_ratio": 1.2, "slope_ratio_ci": [1.05, 1.35], "periods": [{"n": 12}, {"n": 12}]}
    res = compare_claims(load_claims(), regression=reg, growth=growth)
    by = {c.id: c for c in res.comparisons}
    assert by["research_network_polls"].verdict == "consistent" and by["research_network_polls"].estimate == 0.30
    assert by["research_network_graphics"].verdict == "cannot tell"
    assert "add has_graphic to analysis.predictors" in by["research_network_graphics"].explanation
    assert by["women_in_medicine_growth"].verdict == "lower" and by["women_in_medicine_growth"].n == 24
    assert by["fb_ads_medical_ctr"].verdict == "not applicable"
    assert by["instagram_hashtags"].verdict == "cannot tell"
    assert ClaimsResult.from_dict(res.to_dict()).to_dict() == res.to_dict()


def test_hashtag_difference_matches_statsmodels_with_month_dummies():
    rng = np.random.default_rng(4)
    n = 600
    t = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 180, n), unit="D")
    h = rng.integers(0, 3, n)
    y = np.round(np.exp(rng.normal(3 + 0.1 * (h > 0) + 0.05 * t.month, 0.7))).astype(int)
    posts = pd.DataFrame({"published_at": t, "n_hashtags": h, "engagements": pd.array(y, dtype="Int64"),
                          "is_reply": False})
    (pct, lo, hi, nn), _ = hashtag_difference(posts)
    df = pd.DataFrame({"ly": np.log1p(y), "hh": (h > 0).astype(float), "m": t.strftime("%Y-%m")})
    ref = smf.ols("ly ~ hh + C(m)", df).fit(cov_type="HC3")
    b = ref.params["hh"]
    assert pct == pytest.approx(100 * (math.exp(b) - 1), rel=1e-9)
    # HC3 with month dummies and the within transformation differ only through the leverages: close, not equal
    se_ref = ref.bse["hh"]
    assert (math.log1p(hi / 100) - math.log1p(lo / 100)) / (2 * 1.96) == pytest.approx(se_ref, rel=0.03)
    assert nn == n


def test_ad_benchmark_claims_from_campaigns():
    camp = summarize_campaigns(read_files([DATA / "meta_ads_campaign_daily_usd.csv"], root=DATA).campaigns)
    res = compare_claims(load_claims(), campaigns=camp)
    by = {c.id: c for c in res.comparisons}
    cpa = by["fb_ads_medical_cpa"]
    assert cpa.estimate == pytest.approx((30.12 + 31.40 + 29.88) / 27)
    assert cpa.verdict in {"lower", "higher", "consistent"}
    uah = summarize_campaigns(read_files([DATA / "meta_ads_ads_uah.csv"], root=DATA).campaigns)
    by2 = {c.id: c for c in compare_claims(load_claims(), campaigns=uah).comparisons}
    assert by2["fb_ads_medical_cpc"].verdict == "cannot tell" and "USD" in by2["fb_ads_medical_cpc"].explanation


def test_card_claims_validated_and_added(tmp_path):
    own = {"id": "my_poll", "claim": "Polls double impressions", "source": "our 2023 report", "metric": "regression",
           "outcome": "impressions", "term": "has_poll", "model": "ols_log", "statistic": "effect_pct", "effect": 100}
    ds = parse_card({"name": "t", "posts": ["x.csv"], "claims": [own]}, tmp_path)
    claims = load_claims(ds)
    assert claims[-1]["id"] == "my_poll" and claims[-1]["origin"] == "card"
    with pytest.raises(DatasetCardError, match=r"claims\[0\] has no 'source'"):
        parse_card({"name": "t", "posts": ["x.csv"], "claims": [{**own, "source": ""}]}, tmp_path)
    with pytest.raises(DatasetCardError, match=r"claims\[0\].metric must be one of"):
        parse_card({"name": "t", "posts": ["x.csv"], "claims": [{**own, "metric": "vibes"}]}, tmp_path)
    with pytest.raises(DatasetCardError, match=r"claims\[0\].effect must be a number"):
        parse_card({"name": "t", "posts": ["x.csv"], "claims": [{**own, "effect": "lots"}]}, tmp_path)
    with pytest.raises(DatasetCardError, match=r"unknown key 'colour' in claims\[0\]"):
        parse_card({"name": "t", "posts": ["x.csv"], "claims": [{**own, "colour": 1}]}, tmp_path)
    with pytest.raises(DatasetCardError, match="used twice"):
        parse_card({"name": "t", "posts": ["x.csv"], "claims": [own, own]}, tmp_path)


def test_claims_section_leaves_out_not_applicable_and_escapes(tmp_path):
    from workbench.sections import render_section

    own = {"id": "x", "claim": "<b>bold</b> claim", "source": "me", "metric": "growth_ratio", "effect": 2.0}
    ds = parse_card({"name": "t", "posts": ["x.csv"], "claims": [own]}, tmp_path)
    res = compare_claims(load_claims(ds), growth={"slope_ratio": 1.2, "slope_ratio_ci": [1.05, 1.35]})
    html = render_section("claims", res)
    assert "How this account compares" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "average click-through rate" not in html  # ad benchmarks without paid data are not applicable
    assert "(from the dataset card)" in html


def test_card_timing_claim_window_validated_and_usable(tmp_path):
    own = {"id": "fri", "claim": "Fridays at 9 work best", "source": "a blog", "metric": "timing_window",
           "outcome": "impressions", "window": {"weekdays": [4], "hours": [9]}, "statistic": "above", "effect": 1}
    ds = parse_card({"name": "t", "posts": ["x.csv"], "claims": [own]}, tmp_path)
    hash(ds)  # the card stays hashable
    assert load_claims(ds)[-1]["window"] == {"weekdays": [4], "hours": [9]}
    with pytest.raises(DatasetCardError, match=r"claims\[0\].window must be a map"):
        parse_card({"name": "t", "posts": ["x.csv"], "claims": [{**own, "window": {"hours": [25]}}]}, tmp_path)


def test_hashtag_difference_needs_the_models_minimum_in_each_group():
    """The models estimate no effect from fewer than MIN_LEVEL_POSTS posts in a group; the claims comparison does
    not either (it accepted 5 posts in a group)."""
    from workbench.models import MIN_LEVEL_POSTS

    rng = np.random.default_rng(7)
    n = 24
    t = pd.Timestamp("2024-11-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    for with_tags in (MIN_LEVEL_POSTS - 1, MIN_LEVEL_POSTS):
        h = np.r_[np.ones(with_tags, dtype=int), np.zeros(n - with_tags, dtype=int)]
        posts = pd.DataFrame({"published_at": t, "n_hashtags": h, "is_reply": False,
                              "engagements": pd.array(rng.integers(1, 50, n), dtype="Int64")})
        got, why = hashtag_difference(posts)
        if with_tags < MIN_LEVEL_POSTS:
            assert got is None and f"{with_tags} with hashtags" in why and f"{MIN_LEVEL_POSTS} in each group" in why
        else:
            assert got is not None and got[3] == n
