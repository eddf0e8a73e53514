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
    assert "the models did not estimate has_graphic (list it in analysis.predictors" in \
        by["research_network_graphics"].explanation
    assert by["research_network_polls"].basis == "ols_std of impressions, 500 posts, no other terms"
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


def _posts(platform: str, n: int, seed: int, effect: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    h = rng.integers(0, 2, n)
    y = np.round(np.exp(rng.normal(3 + effect * h, 0.5))).astype(int)
    return pd.DataFrame({"published_at": t, "n_hashtags": h, "engagements": pd.array(y, dtype="Int64"),
                         "is_reply": False, "platform": platform})


def test_claims_on_posts_are_compared_per_platform_with_their_basis():
    # review15 M9: the hashtag claim pooled Facebook and Instagram (n = 48) though each platform is modelled apart
    posts = pd.concat([_posts("facebook", 80, 1, 0.0), _posts("instagram", 60, 2, 0.8)], ignore_index=True)
    claims = [c for c in load_claims() if c["id"] in ("instagram_hashtags", "research_network_polls")]
    reg = pd.DataFrame({"platform": ["facebook", "instagram"], "outcome": "impressions", "model": "ols_std",
                        "term": "has_poll", "estimate": [0.3, 0.1], "ci_low": [0.2, 0.0], "ci_high": [0.4, 0.2],
                        "n": [80, 60]})
    res = compare_claims(claims, regression=reg, posts=posts)
    rows = {(c.id, c.platform): c for c in res.comparisons}
    assert set(rows) == {("instagram_hashtags", "facebook"), ("instagram_hashtags", "instagram"),
                         ("research_network_polls", "facebook"), ("research_network_polls", "instagram")}
    for platform, n in (("facebook", 80), ("instagram", 60)):
        own = posts[posts["platform"] == platform]
        assert rows[("instagram_hashtags", platform)].estimate == pytest.approx(hashtag_difference(own)[0][0])
        assert rows[("instagram_hashtags", platform)].n == n
        assert rows[("instagram_hashtags", platform)].basis.endswith(f", {n} posts on {platform.capitalize()}")
    assert rows[("research_network_polls", "instagram")].estimate == 0.1
    assert rows[("research_network_polls", "facebook")].basis == "ols_std of impressions on Facebook, 80 posts, no other terms"
    assert ClaimsResult.from_dict(res.to_dict()).to_dict() == res.to_dict()


def test_why_a_claim_has_no_estimate_is_the_true_reason():
    claims = {c["id"]: c for c in load_claims()}
    reg = pd.DataFrame({"platform": "x", "outcome": "impressions", "model": "ols_std", "term": ["has_url"],
                        "estimate": 0.1, "ci_low": 0.0, "ci_high": 0.2, "n": 40})
    posts = _posts("x", 40, 3, 0.1)
    # R5: listed, but a manual code with no coding file: not "add it to analysis.predictors"
    (g,) = compare_claims([claims["research_network_graphics"]], regression=reg, posts=posts).comparisons
    assert g.explanation == ("regression.csv has no ols_std row for has_graphic on impressions: has_graphic is a "
                             "manual code that no coding file of the dataset card codes: add a coding file that "
                             "codes it (README, \"Manual codes\")")
    # the models' own record, when models.json is given
    models = {"dropped": [{"code": "too_few_posts", "platform": "x", "outcome": "impressions", "term": "has_graphic",
                           "reason": "only 3 of 40 posts have it (at least 10 are needed)"}]}
    (g,) = compare_claims([claims["research_network_graphics"]], regression=reg, posts=posts,
                          models=models).comparisons
    assert g.explanation.endswith("the models left it out (only 3 of 40 posts have it (at least 10 are needed))")
    # M10: no account data at all is not "a period's slope could not be fitted"
    growth = {"status": "no_data", "basis": "none", "slope_ratio": None,
              "not_available": {"reason": "no account data", "needed": {"file": "an account file"}}}
    (w,) = compare_claims([claims["women_in_medicine_growth"]], growth=growth).comparisons
    assert w.explanation == "no follower growth to compare (no account data): it needs an account file"
    # X1: a ratio whose change the placebo dates show too carries the placebo's word
    growth = {"comparisons": [{"slope_ratio": 0.26, "slope_ratio_ci": [0.13, 0.53],
                               "placebo": {"n": 8, "rank_p": 0.556}}], "periods": [{"n": 300}]}
    (w,) = compare_claims([claims["women_in_medicine_growth"]], growth=growth).comparisons
    assert w.verdict == "lower" and "rank p = 0.56 over 8 dates" in w.note


def test_report_claims_table_says_whose_posts_and_prints_no_published_number_for_a_direction():
    from types import SimpleNamespace

    from workbench.report.extras_sections import claims_section

    claims = {"comparisons": [
        {"id": "h", "claim": "Hashtags", "source": "guide", "statistic": "effect_pct", "published": 12.6,
         "estimate": 151.0, "ci_low": -5.17, "ci_high": 567.0, "n": 39, "verdict": "cannot tell", "explanation": "e",
         "platform": "facebook", "basis": "log(1 + engagements) …, 39 posts on Facebook"},
        {"id": "t", "claim": "Noon", "source": "guide", "statistic": "above", "published": 1.0, "estimate": 0.91,
         "ci_low": 0.7, "ci_high": 1.2, "n": 90, "verdict": "cannot tell", "explanation": "e", "platform": "x",
         "basis": ""}]}
    ctx = SimpleNamespace(f=SimpleNamespace(extras=SimpleNamespace(claims=claims, reasons={})),
                          own_terms=lambda text, platform=None: text)
    _, tab = claims_section(ctx)
    text = repr(tab)
    assert "−5.17 to 567" in text and "-5.17" not in text  # the report's minus
    assert "39 posts on Facebook" in text
    assert "none (a direction)" in text and "'1'" not in text
