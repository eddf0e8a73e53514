"""Growth per platform in the report, the account growth.json compares, the anchored-but-unknown follower level,
too few months for a published p-value, and each platform's own words (issue 19 follow-ups).

The account tables copy what ingest gives for Meta Business Suite's page series: daily ``Follows`` per platform
(gross new follows, no unfollows) and ``Audience.csv``'s follower totals dated on the export's last day; a total
for a platform without posts stays an unassigned account ("facebook/?").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.findings import RunResults, compute_findings, platform_vocabulary
from workbench.growth import BASIS_TEXT, _select_account, compare_growth
from workbench.report.render import ReportContext

DATE = pd.Timestamp("2025-04-01")
DAYS = pd.date_range("2025-01-06", "2025-06-27", freq="D")
IVS = [(DATE, "Video editor joined")]


def _follows(platform, account, rate, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"date": DAYS, "platform": platform, "account": account, "followers": np.nan,
                         "new_follows": rng.poisson(rate, len(DAYS)).astype(float), "unfollows": np.nan})


def _total(platform, account, count):
    return pd.DataFrame({"date": [DAYS[-1]], "platform": [platform], "account": pd.array([account], dtype="string"),
                         "followers": [float(count)], "new_follows": [np.nan], "unfollows": [np.nan]})


def _posts(platform, account, n, seed):
    rng = np.random.default_rng(seed)
    when = pd.DatetimeIndex(np.sort(rng.choice(DAYS, n, replace=False))) + pd.Timedelta(hours=10)
    views = rng.lognormal(6.5, 0.6, n).round()
    return pd.DataFrame({"post_id": [f"{platform}{i}" for i in range(n)], "platform": platform, "account": account,
                         "published_at": when.tz_localize("UTC"), "impressions": pd.array(views, dtype="Int64"),
                         "engagements": pd.array((views / 40).round(), dtype="Int64"), "is_own_post": True,
                         "impressions_label": "Views"})


def _ig_only_account():
    """Instagram's follows series (assigned to the posts' account) and both Audience.csv totals; Facebook's
    total stays unassigned because there are no Facebook posts."""
    return pd.concat([_total("facebook", None, 30222), _follows("instagram", "synthlab", 3, 1),
                      _total("instagram", "synthlab", 3098)], ignore_index=True)


# ------------------------------------------------------------------------------ which account growth compares


def test_instagram_only_dataset_compares_the_instagram_series_not_the_unassigned_total():
    account = _ig_only_account()
    posts = _posts("instagram", "synthlab", 40, 2)
    for given in (posts, None):  # the posts' platform decides; without posts the named series still wins
        rows, notes, chosen = _select_account(account, "followers", given)
        assert chosen == "instagram/synthlab"
        assert set(rows["platform"]) == {"instagram"}
        note = notes[0]
        assert "'instagram/synthlab'" in note and "a series of new follows (173 days)" in note
        assert "'facebook/?' holds one dated followers value (an anchor, not a series)" in note
        assert ("on the posts' platform (instagram)" in note) == (given is not None)
    g = compare_growth(account, interventions=IVS, posts=posts)
    assert g["available"] and g["basis"] == "gross_follows" and g["metric"] == "new_follows"
    assert g["slope_ratio"] is not None
    assert any("growth is compared for 'instagram/synthlab'" in w for w in g["warnings"])
    rates = [p["rate_per_day"] for p in g["periods"]]
    series = _follows("instagram", "synthlab", 3, 1)
    want = [series.loc[series["date"] < DATE, "new_follows"].mean(), series.loc[series["date"] >= DATE,
                                                                                 "new_follows"].mean()]
    assert rates == pytest.approx(want, rel=0.02)


def test_the_posts_platform_beats_more_values_and_a_named_account_beats_an_unassigned_one():
    fb = pd.concat([_follows("facebook", "lab", 9, 3), _follows("facebook", "lab", 9, 4)], ignore_index=True)
    ig = _follows("instagram", "lab", 3, 5)
    account = pd.concat([fb, ig], ignore_index=True)
    assert _select_account(account, "followers")[2] == "facebook/lab"  # no posts: the most values
    rows, notes, chosen = _select_account(account, "followers", _posts("instagram", "lab", 10, 6))
    assert chosen == "instagram/lab" and "on the posts' platform (instagram)" in notes[0]
    assert "there are no posts on facebook" in notes[0]
    # an unassigned account with many follower counts never wins over a named account with a series
    many = pd.DataFrame({"date": DAYS, "platform": "instagram", "account": pd.array([None] * len(DAYS), "string"),
                         "followers": np.arange(len(DAYS), dtype=float) + 100})
    named = _follows("instagram", "lab", 3, 7).iloc[:20]
    assert _select_account(pd.concat([many, named], ignore_index=True), "followers")[2] == "instagram/lab"
    # a lone dated total is an anchor, not a series: a named series beats it whatever the value counts
    lone = _total("facebook", "page", 5000)
    assert _select_account(pd.concat([lone, ig], ignore_index=True), "followers")[2] == "instagram/lab"


def test_basis_text_names_the_anchor_that_cannot_be_carried_forward():
    g = compare_growth(_ig_only_account(), interventions=IVS, posts=_posts("instagram", "synthlab", 40, 2))
    assert g["level_known"] is False
    assert "no follower count is anchored" not in g["basis_text"]
    assert ("the follower level is anchored on 2025-06-27 (3,098 followers) but cannot be carried forward because "
            "unfollows are not in the export") in g["basis_text"]
    assert any("the follower count of 2025-06-27 (3,098) anchors the level on that day" in w for w in g["warnings"])
    assert not any("no follower count)" in w for w in g["warnings"])
    plain = compare_growth(_follows("instagram", "synthlab", 3, 1), interventions=IVS)
    assert plain["basis_text"] == BASIS_TEXT["gross_follows"]


# ------------------------------------------------------------------------------------ the growth section


def _report(account, posts, tmp_path):
    from workbench.report.growth_section import growth_section
    from workbench.report.render import render_html  # noqa: F401 (the registry must import cleanly)

    growth = compare_growth(account, interventions=IVS, posts=posts)
    results = RunResults(run_dir=tmp_path, posts=posts, account=account, growth=growth)
    f = compute_findings(results, None)
    ctx = ReportContext(f, None)
    blocks = [b for b in growth_section(ctx) if b is not None]
    return f, ctx, blocks


def _text(blocks):
    out = []
    for b in blocks:
        out.append(str(getattr(b, "text", "") or getattr(b, "caption", "") or getattr(b, "title", "")))
        for row in getattr(b, "rows", ()) or ():
            out.append(" | ".join(map(str, row)))
    return "\n".join(out)


def test_growth_section_shows_one_block_per_platform_and_not_growth_json_beside_them(tmp_path):
    fb, ig = _follows("facebook", "Synth Lab", 6, 11), _follows("instagram", "synthlab", 3, 12)
    account = pd.concat([fb, ig, _total("facebook", "Synth Lab", 30222), _total("instagram", "synthlab", 3098)],
                        ignore_index=True)
    posts = pd.concat([_posts("facebook", "Synth Lab", 50, 13), _posts("instagram", "synthlab", 40, 14)],
                      ignore_index=True)
    f, ctx, blocks = _report(account, posts, tmp_path)
    assert [g["platform"] for g in f.growth_platforms] == ["facebook", "instagram"]
    headings = [b.text for b in blocks if getattr(b, "kind", "") == "heading"]
    assert headings == ["Facebook", "Instagram"]
    # each block is the platform's own series: its rates are that platform's mean follows per day
    tables = [b for b in blocks if getattr(b, "kind", "") == "table" and "Growth per period" in b.caption]
    assert len(tables) == 2
    for tab, series in zip(tables, (fb, ig), strict=True):
        before = series.loc[series["date"] < DATE, "new_follows"].mean()
        assert tab.rows[0][3].startswith(f"{before:.2f}"[:4]), (tab.rows[0], before)
    # figures named per platform; growth.json's own (unlabelled) figure is not drawn
    assert {"growth_facebook", "growth_instagram"} <= set(ctx.figures) and "growth" not in ctx.figures
    assert sum("over time: observed values" in getattr(b, "caption", "") for b in blocks) == 2
    text = _text(blocks)
    assert "Each platform is compared apart (Facebook, Instagram)" in text
    assert text.count("anchored on 2025-06-27") == 2  # each platform's own anchor: 30,222 and 3,098
    assert "(30,222 followers)" in text and "(3,098 followers)" in text


def test_growth_section_on_an_instagram_only_dataset_names_the_platform_and_the_total_not_compared(tmp_path):
    f, ctx, blocks = _report(_ig_only_account(), _posts("instagram", "synthlab", 40, 2), tmp_path)
    assert [g["platform"] for g in f.growth_platforms] == ["instagram"]
    assert [b.text for b in blocks if getattr(b, "kind", "") == "heading"] == ["Instagram"]
    text = _text(blocks)
    assert "Growth is compared for Instagram alone" in text
    assert "Not compared: Facebook (no posts and no dated series in these data" in text
    assert "could not be compared" not in text
    # the running total of gross follows is never said to "stand at" a level
    assert "new follows stood at" not in text and "added up to" in text and "not a follower count" in text


def test_one_platform_keeps_growth_json_block_unchanged(tmp_path):
    f, ctx, blocks = _report(_follows("instagram", "synthlab", 3, 1), _posts("instagram", "synthlab", 40, 2),
                             tmp_path)
    assert f.growth_platforms is None
    assert not [b for b in blocks if getattr(b, "kind", "") == "heading"]
    assert "growth" in ctx.figures


def test_comparison_and_monthly_tables_give_no_ratio_or_p_from_two_months_a_side():
    from workbench.findings import GrowthComparison
    from workbench.report.growth_section import _comparison_table
    from workbench.report.wording import monthly_metrics_table

    monthly = {"metric": "impressions", "before_mean": 5130.0, "after_mean": 10152.0, "fold_change": 1.98,
               "fold_change_ci": [0.37, 10.6], "welch_p_two_sided": 0.10, "welch_p_one_sided": 0.05,
               "mannwhitney_p": 0.2, "effect_size": 1.5, "n_before": 2, "n_after": 3}
    period = {"label": "before", "start": "2025-01-06", "end": "2025-03-31", "rate_per_day": 2.7,
              "rate_ci": [2.3, 3.1], "slope_per_day": 2.6, "r2": 0.99}
    comp = GrowthComparison(0, "Video editor joined", period, {**period, "label": "after"},
                            {"monthly": monthly, "slope_ratio": 1.1, "slope_ratio_ci": [0.9, 1.3]}, True)
    rows = {r[0]: r for r in _comparison_table(comp, "new follows per day").rows}
    cell = rows["Monthly impressions"][1]
    assert "not compared: 2 complete month(s) before and 3 after" in cell
    assert "p =" not in cell and "1.98" not in cell and "Welch" not in cell
    enough = {**monthly, "n_before": 3}
    comp3 = GrowthComparison(0, "x", period, period, {"monthly": enough}, True)
    assert "Welch two-sided p = 0.10" in {r[0]: r for r in _comparison_table(comp3, "u").rows}[
        "Monthly impressions"][1]
    few_rows = monthly_metrics_table({"impressions": monthly, "posts": {**monthly, "n_before": 4, "n_after": 4}})
    assert few_rows[0][3].startswith("not compared") and set(few_rows[0][4:]) == {"not computed"}
    assert few_rows[1][3].startswith("1.98×") and few_rows[1][4] == "0.10"


# ------------------------------------------------------------------------------------ each platform's words


def test_mastodon_reposts_are_boosts_and_bluesky_keeps_reposts():
    from types import SimpleNamespace

    from workbench.report.overview import _type_word
    from workbench.vocab import control_name, feature_description, own_words, platform_word

    assert platform_word("reposts", ["mastodon"]) == "boosts"
    assert platform_word("repost", "mastodon") == "boost"
    assert platform_word("reposts", ["bluesky"]) == "reposts"
    assert platform_word("reposts", ["x", "mastodon"]) == "reposts (boosts on Mastodon)"
    assert platform_word("replies", ["mastodon"]) == "replies"
    assert own_words(control_name("is_repost"), ["mastodon"]) == "whether the post is a boost"
    assert own_words(control_name("is_repost"), ["bluesky"]) == "whether the post is a repost"
    masto = feature_description("post_type", ["mastodon"])
    assert masto.startswith("What kind of post it is: original, reply, quote or boost")
    assert "A boost is Mastodon's repost" in masto and "is_boost" not in feature_description("post_type_source",
                                                                                              ["mastodon"])
    assert "original, reply, quote or repost" in feature_description("post_type", ["bluesky"])
    ctx = SimpleNamespace(f=SimpleNamespace(vocabulary={"platforms": [{"platform": "mastodon"}]}))
    assert _type_word(ctx, "repost") == "boosts" and _type_word(ctx, "reply") == "replies"
    ctx.f.vocabulary = {"platforms": [{"platform": "bluesky"}]}
    assert _type_word(ctx, "repost") == "reposts"


def test_engagements_are_defined_only_where_the_posts_hold_them():
    masto = pd.DataFrame({"platform": "mastodon", "impressions": pd.array([None] * 3, dtype="Int64"),
                          "engagements": pd.array([None] * 3, dtype="Int64"), "likes": [1, 2, 3]})
    row = platform_vocabulary(masto)["platforms"][0]
    assert row["n_engagements"] == 0
    assert row["engagements_definition"].startswith("not reported: Mastodon gives favourites, boosts and replies")
    summed = masto.assign(engagements=pd.array([3, 4, 5], dtype="Int64"))
    assert platform_vocabulary(summed)["platforms"][0]["engagements_definition"].startswith("favourites + replies")


def test_a_metric_no_post_reports_is_named_as_such_not_as_a_date_outside_the_posts():
    from workbench.beforeafter import monthly_its, post_change

    posts = _posts("mastodon", "lab", 60, 21).assign(impressions=pd.array([None] * 60, dtype="Int64"))
    pc = post_change(posts, DATE)
    assert not pc.available and pc.reason.startswith("no post has a number of impressions")
    assert "after your posts" not in pc.reason
    months = pd.DataFrame({"month": pd.date_range("2025-01-01", "2025-06-01", freq="MS"),
                           "impressions": np.nan, "complete": True})
    its = monthly_its(months, DATE, metric="impressions")
    assert not its.available and its.reason.startswith("no month has a number of impressions")


def test_a_follower_goal_with_an_anchor_but_no_unfollows_says_the_anchor_cannot_be_carried_forward():
    import datetime as dt

    from workbench.dataset import Goal
    from workbench.goals import assess_goals

    ig = _ig_only_account()
    ig = ig[ig["platform"] == "instagram"]
    row = assess_goals([Goal("followers", 10000, dt.date(2025, 12, 31))], account=ig).iloc[0]
    assert row["status"] == "not available" and row["basis"] == "gross_follows"
    assert "no dated follower count" not in row["reason"]
    assert "a dated follower count (an anchor)" in row["reason"] and "cannot be carried forward" in row["reason"]
