"""Platforms kept apart in the before/after comparison and the controls-sensitivity table (issue 19.9)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.beforeafter import compare_by_platform, post_change
from workbench.findings import before_after_by_platform, reach_figures, tabulate_controls_sensitivity

DATE = pd.Timestamp("2024-07-01")


def _platform_posts(rng, platform, start, end, per_day, level, jump):
    days = pd.date_range(start, end, freq="D")
    n = int(len(days) * per_day)
    when = pd.DatetimeIndex(np.sort(rng.choice(days, n))) + pd.to_timedelta(rng.integers(6, 20, n), "h")
    after = when >= DATE
    month_shock = pd.Series(rng.normal(0, 0.1, 40), index=range(40))[
        ((when.year - 2024) * 12 + when.month).to_numpy()].to_numpy()
    y = rng.lognormal(np.log(level) + month_shock + np.log(jump) * after, 0.6)
    return pd.DataFrame({
        "post_id": [f"{platform}{i}" for i in range(n)], "platform": platform, "account": "lab",
        "published_at": when.tz_localize("UTC"), "impressions": pd.array(y.round(), dtype="Int64"),
        "engagements": pd.array((y / 30).round(), dtype="Int64"), "is_own_post": True,
        "reach": (y * 0.7).round(), "media_type": np.where(rng.random(n) < 0.5, "photo", "video"),
    })


@pytest.fixture(scope="module")
def two_platforms():
    """Facebook all year with no change at the date; Instagram starting in March at 3× Facebook's level (the
    issue's case: pooled, the later platform's higher numbers land on the "after" side), with a 2.5× jump."""
    rng = np.random.default_rng(7)
    fb = _platform_posts(rng, "facebook", "2024-01-01", "2024-12-31", 0.8, 400, 1.0)
    ig = _platform_posts(rng, "instagram", "2024-03-01", "2024-12-31", 0.6, 1200, 2.5)
    # one collab post by another account on Instagram, with a huge count: it must not enter Instagram's numbers
    collab = ig.iloc[[0]].assign(post_id="collab", is_own_post=False, impressions=pd.array([10**7], dtype="Int64"),
                                 published_at=pd.Timestamp("2024-09-03 10:00", tz="UTC"))
    posts = pd.concat([fb, ig, collab], ignore_index=True)
    account = pd.DataFrame({"date": pd.date_range("2024-01-01", "2024-12-31", freq="D").repeat(2),
                            "platform": ["facebook", "instagram"] * 366, "account": "lab", "followers": np.nan})
    return posts, account, fb, ig


def test_each_platform_gets_its_own_posts_months_and_no_pooled_view(two_platforms):
    posts, account, fb, ig = two_platforms
    recs = compare_by_platform(posts, account, DATE)
    assert [r["platform"] for r in recs] == ["facebook", "instagram"]
    by = {r["platform"]: r for r in recs}
    # each estimate is exactly post_change on that platform's own posts (collab left out and counted)
    for name, own in (("facebook", fb), ("instagram", ig)):
        want = post_change(own, DATE).to_dict()
        got = by[name]["posts_adjusted"]
        assert got["n_posts"] == len(own) and got["estimate"] == pytest.approx(want["estimate"], rel=1e-12)
        assert got["ci"] == pytest.approx(want["ci"], rel=1e-12)
    assert by["instagram"]["n_collab_out"] == 1 and by["facebook"]["n_collab_out"] == 0
    # Facebook had no change (its median ratio near 1); Instagram's 2.5× jump is found on its own posts
    assert 0.75 < by["facebook"]["posts_adjusted"]["descriptive"]["median_ratio"] < 1.33
    assert by["instagram"]["posts_adjusted"]["ci"][0] > 1.0
    # pooled, Instagram's later start would make Facebook's flat series look like a rise
    pooled = post_change(posts[posts["is_own_post"]], DATE)
    fb_ratio = by["facebook"]["posts_adjusted"]["descriptive"]["median_ratio"]
    assert pooled.descriptive["median_ratio"] > 1.25 and pooled.descriptive["median_ratio"] > fb_ratio + 0.2
    # month completeness is each platform's own: Instagram's first month is March, Facebook's January
    assert by["instagram"]["months"][0]["month"] == "2024-03-01"
    assert by["facebook"]["months"][0]["month"] == "2024-01-01"
    # the monthly sums are the platform's own views (the collab's 10^7 is not in Instagram's September)
    sept = [m for m in by["instagram"]["months"] if m["month"] == "2024-09-01"][0]
    own_sept = ig.loc[ig["published_at"].dt.month == 9, "impressions"].sum()
    assert sept["value"] == pytest.approx(float(own_sept))
    # the published form on the same months: Welch of complete months wholly before vs after
    assert by["facebook"]["monthly"]["n_before"] + by["facebook"]["monthly"]["n_after"] <= 12
    json.dumps(recs, allow_nan=False)


def test_one_platform_gives_no_per_platform_records(two_platforms):
    posts, account, fb, _ = two_platforms
    assert compare_by_platform(fb, account, DATE) == []
    assert before_after_by_platform(fb, account, [(DATE, "x")]) is None
    assert compare_by_platform(fb.drop(columns="platform"), account, DATE) == []


def test_findings_record_names_platforms_and_medians(two_platforms):
    posts, account, fb, ig = two_platforms
    recs = before_after_by_platform(posts, account, [(DATE.date(), "New editor")], timezone="UTC")
    assert len(recs) == 1 and recs[0]["label"] == "New editor" and recs[0]["pooled"] is None
    plats = {p["platform"]: p for p in recs[0]["platforms"]}
    med = {m["metric"]: m for m in plats["instagram"]["medians"]}["impressions"]
    before = ig.loc[ig["published_at"] < DATE.tz_localize("UTC"), "impressions"].astype(float)
    after = ig.loc[ig["published_at"] >= DATE.tz_localize("UTC"), "impressions"].astype(float)
    assert med["median_before"] == pytest.approx(before.median()) and med["median_after"] == pytest.approx(
        after.median())
    assert med["n_before"] + med["n_after"] == len(ig)
    json.dumps(recs, allow_nan=False)


def test_reach_per_post_and_per_page_by_platform(two_platforms):
    posts, account, fb, ig = two_platforms
    acc = account.assign(reach=np.where(account["platform"] == "facebook", 100.0, np.nan))
    got = reach_figures(posts, acc)
    rows = {(r["platform"], r["type"]): r for r in got["posts"]}
    want = fb.groupby("media_type")["reach"].median()
    assert rows[("facebook", "photo")]["reach_median"] == pytest.approx(want["photo"])
    assert rows[("facebook", "video")]["n_posts"] == int((fb["media_type"] == "video").sum())
    assert got["page"] == [{"platform": "facebook", "n_days": 366, "daily_median": 100.0, "start": "2024-01-01",
                            "end": "2024-12-31"}]
    assert reach_figures(posts.drop(columns="reach"), account) is None


def _sens(term, without, with_, n):
    return {"effect_pct_without_controls": without, "effect_pct_with_controls": with_,
            "change_pct_points": with_ - without, "n": n}


MODELS_TWO = {
    "platforms": ["facebook", "instagram"],
    "diagnostics": {
        "facebook: impressions": {"controls_sensitivity": {"has_url": _sens("has_url", 10.0, 4.0, 61)},
                                  "terms": {"has_url": "predictor", "year": "control"}},
        "instagram: impressions": {"controls_sensitivity": {"has_url": _sens("has_url", -20.0, -5.0, 45)},
                                   "terms": {"has_url": "predictor", "year": "control"}},
        # the flat records as models.json writes them: no platform, one row per platform and term
        "sensitivity": [{"outcome": "impressions", "term": "has_url", **_sens("has_url", 10.0, 4.0, 61)},
                        {"outcome": "impressions", "term": "has_url", **_sens("has_url", -20.0, -5.0, 45)}],
    },
}


def test_controls_sensitivity_is_one_platforms_table():
    fb = tabulate_controls_sensitivity(MODELS_TWO, outcome="impressions", platform="facebook")
    ig = tabulate_controls_sensitivity(MODELS_TWO, outcome="impressions", platform="instagram")
    assert fb["term"].tolist() == ["has_url"] and fb["n"].tolist() == [61.0]
    assert fb["effect_pct_with_controls"].tolist() == [4.0]
    assert ig["effect_pct_without_controls"].tolist() == [-20.0] and ig["n"].tolist() == [45.0]
    # without a platform, a several-platform file gives no table rather than two platforms' rows mixed
    assert tabulate_controls_sensitivity(MODELS_TWO, outcome="impressions").empty
    # records that name their platform are used
    tagged = {**MODELS_TWO, "diagnostics": {"sensitivity": [
        {**r, "platform": p} for r, p in zip(MODELS_TWO["diagnostics"]["sensitivity"], ["facebook", "instagram"],
                                             strict=True)]}}
    assert tabulate_controls_sensitivity(tagged, outcome="impressions", platform="instagram")["n"].tolist() == [45.0]
    # one platform: unchanged behaviour (keyed by outcome)
    one = {"diagnostics": {"impressions": MODELS_TWO["diagnostics"]["facebook: impressions"]}}
    assert tabulate_controls_sensitivity(one, outcome="impressions")["n"].tolist() == [61.0]
    assert tabulate_controls_sensitivity(one, outcome="impressions", platform="facebook")["n"].tolist() == [61.0]


def test_feature_descriptions_speak_the_platforms_terms():
    import re

    from workbench.features import FEATURE_DESCRIPTIONS, HASHTAG_RE, MENTION_RE
    from workbench.vocab import feature_description

    x_terms = re.compile(r"t\.co|(?i:tweet|retweet)|\bX\b")
    for name, x_text in FEATURE_DESCRIPTIONS.items():
        assert feature_description(name, ["x"]) == x_text
        assert feature_description(name, []) == x_text  # no platform known: as written
        for plats in (["facebook"], ["instagram"], ["facebook", "instagram"], ["linkedin"], ["mastodon"]):
            text = feature_description(name, plats)
            assert not x_terms.search(text), (name, plats, text)
        mixed = feature_description(name, ["x", "instagram"])
        assert mixed  # X among several: neutral words plus "On X: …" where X's rule differs
    assert "On X:" in feature_description("n_chars", ["x", "facebook"])
    assert feature_description("not_a_feature", ["x"]) is None
    # the notes say what the code really does on that platform's text
    assert "not counted" in feature_description("n_mentions", ["mastodon"])
    assert MENTION_RE.findall("@name@server.social hi") == []
    assert MENTION_RE.findall("@averyveryverylonghandle") == [] and MENTION_RE.findall("@synth.lab") == ["@synth"]
    assert HASHTAG_RE.findall("#forskning #1") == ["#forskning"]


def test_population_sentence_counts_collab_posts(tmp_path):
    from workbench.findings import Findings, RunResults
    from workbench.report.render import ReportContext
    from workbench.report.what_works import what_works

    class _F:  # the few fields what_works reads before the per-outcome loop
        effects = pd.DataFrame({"outcome": ["impressions"], "term": ["has_url"], "p_kind": ["Holm-adjusted"]})
        population = {"n_in": 44, "setting": "original", "n_collab_out": 1,
                      "counts": [{"post_type": "original", "n": 45, "in_models": True}]}
        model_terms: dict = {}
        primary = "ols_log"
        vocabulary = None
        model_notes = None
        reach = None

    class _R:
        models: dict = {}
        regression = pd.DataFrame({"model": pd.Series(dtype=str)})

    f = _F()
    f.results = _R()
    ctx = ReportContext.__new__(ReportContext)
    object.__setattr__(ctx, "f", f)
    object.__setattr__(ctx, "ds", None)
    ctx.outcomes = lambda: []  # type: ignore[method-assign]
    text = " ".join(str(getattr(b, "text", "")) for b in what_works(ctx) if b is not None)
    assert "44 posts (left out: 1 post by other accounts (collabs))" in text  # (review15 M6: "1 posts")
    assert Findings and RunResults


def test_growth_per_platform_uses_each_platforms_own_rows_and_skips_a_lone_total():
    from workbench.findings import growth_by_platform

    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    ig_follows = rng.poisson(3, len(days))
    fb_follows = rng.poisson(9, len(days))
    daily = pd.DataFrame({"date": days.repeat(2), "platform": ["facebook", "instagram"] * len(days),
                          "account": "lab", "followers": np.nan,
                          "new_follows": np.column_stack([fb_follows, ig_follows]).ravel().astype(float)})
    settings = {"interventions": [(DATE, "New editor")], "maxlags": None}
    recs = {r["platform"]: r for r in growth_by_platform(daily, None, settings)}
    assert set(recs) == {"facebook", "instagram"}
    for name, follows in (("facebook", fb_follows), ("instagram", ig_follows)):
        rates = [p["rate_per_day"] for p in recs[name]["periods"]]
        want = [follows[days < DATE].mean(), follows[days >= DATE].mean()]
        assert rates == pytest.approx(want, rel=0.02), name
        assert recs[name]["comparisons"][0]["slope_ratio"] is not None
    # Instagram's series plus a lone Facebook total (Audience.csv) and Instagram posts only: Instagram alone
    lone = pd.concat([daily[daily["platform"] == "instagram"],
                      pd.DataFrame({"date": [days[-1]], "platform": ["facebook"], "account": [pd.NA],
                                    "followers": [30222.0], "new_follows": [np.nan]})], ignore_index=True)
    posts = pd.DataFrame({"platform": ["instagram"] * 3, "published_at": pd.to_datetime(["2024-02-01"] * 3, utc=True)})
    got = growth_by_platform(lone, posts, settings)
    assert [r["platform"] for r in got] == ["instagram"]
    # one platform in the account table: growth.json is already its own comparison
    assert growth_by_platform(daily[daily["platform"] == "instagram"], None, settings) is None


def test_growth_json_blocks_name_their_platform_and_few_months_give_no_p():
    from workbench.report.wording import describe_its, describe_monthly, describe_posts_adjusted

    pa = {"available": True, "outcome": "impressions", "estimate": 0.84, "ci": [0.57, 1.24], "p_value": 0.29,
          "n_months": 6, "n_posts": 61, "estimand": "ratio", "adjusted_for": ["the trend"], "platform": "facebook"}
    assert describe_posts_adjusted(pa, "After X")[0].startswith("After X, on Facebook, adjusted for the trend")
    assert ", all platforms pooled," in describe_posts_adjusted({**pa, "platform": "pooled"}, "After X")[0]
    assert "on Facebook" not in describe_posts_adjusted({**pa, "platform": None}, "After X")[0]
    its = {"available": False, "metric": "impressions", "reason": "too few", "platform": "instagram"}
    assert describe_its(its, after="after X").startswith("Monthly impressions (Instagram) as an interrupted")
    few = {"metric": "impressions", "fold_change": 1.98, "fold_change_ci": [0.37, 10.6], "welch_p_two_sided": 0.1,
           "mannwhitney_p": 0.2, "n_before": 2, "n_after": 3, "before_mean": 5130, "after_mean": 10152}
    said = describe_monthly(few)
    assert "too few to compare" in said and "p =" not in said and "1.98" not in said
    enough = describe_monthly({**few, "n_before": 3})
    assert "Welch p = 0.10" in enough and "1.98×" in enough
