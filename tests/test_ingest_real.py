"""Ingest on the real exports in ../shared/fixtures (skipped when that folder is absent)."""

from __future__ import annotations

import csv
import html

import pandas as pd
import pytest

from workbench.ingest import detect_format, read_files, summarize_ingest

NOW = pd.Timestamp("2026-01-01", tz="UTC")
RO_MAP = {"new_followers": "new_follows", "tweets": "posts", "tweet_impressions": "impressions"}

# file → (format, table, rows); counts from FORMATS.md §7 / fixtures/README.md
X_LEGACY = {
    "tweet_activity_metrics_rOpenSci_20211101_20211201_en.csv": ("x_legacy_tweets", "posts", 33),
    "twitter_activity_metrics_20150901_20151001__USCTrials.csv": ("x_legacy_tweets", "posts", 47),
    "tweet_activity_metrics_TCORSStgOrg_20170401_20170408_en.csv": ("x_legacy_tweets", "posts", 10),
    "daily_tweet_activity_metrics_LisaDeBruine_20210801_20210901_en.csv": ("x_legacy_daily", "account", 31),
}


@pytest.fixture
def x_legacy_dir(shared_fixtures):
    return shared_fixtures / "exports" / "x_legacy"


def test_every_x_legacy_fixture(x_legacy_dir):
    files = sorted(x_legacy_dir.glob("*.csv"))
    assert {f.name for f in files} == set(X_LEGACY)
    for f in files:
        fmt, table, n = X_LEGACY[f.name]
        assert detect_format(f) == fmt
        r = read_files([f], root=x_legacy_dir, now=NOW)
        (log,) = r.log["files"]
        assert (log["format"], log["table"], log["rows_read"], log["rows_kept"]) == (fmt, table, n, n), f.name
        assert r.quarantine.empty
        assert len(r.posts if table == "posts" else r.account) == n


def test_ropensci_nov_2021_matches_an_independent_csv_read(x_legacy_dir):
    f = x_legacy_dir / "tweet_activity_metrics_rOpenSci_20211101_20211201_en.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        ref = list(csv.DictReader(fh))
    r = read_files([f], now=NOW)
    p = r.posts.set_index("post_id")
    assert len(ref) == 33 and set(p.index) == {row["Tweet id"] for row in ref}
    for row in ref:
        got = p.loc[row["Tweet id"]]
        assert got["impressions"] == int(float(row["impressions"]))
        assert got["engagements"] == int(float(row["engagements"]))
        assert got["likes"] == int(float(row["likes"]))
        assert got["reposts"] == int(float(row["retweets"]))
        assert got["media_views"] == int(row["media views"])
        assert got["text"] == html.unescape(row["Tweet text"])
        assert got["is_reply"] == row["Tweet text"].startswith("@")
    # values read by hand from the file
    first = p.loc["1465712230054432768"]
    assert first["published_at"] == pd.Timestamp("2021-11-30 16:00", tz="UTC")
    assert (first["impressions"], first["engagements"], first["likes"]) == (1777, 5, 2)
    assert p["text"].str.contains("\n").sum() == 28  # multi-line tweets survive
    assert not p["text"].str.contains("&amp;").any() and p["text"].str.contains("&").sum() == 5
    assert p["account"].eq("rOpenSci").all() and p["is_reply"].sum() == 3
    assert r.posts["published_at"].is_monotonic_increasing


def test_usctrials_2015_favorites_variant(x_legacy_dir):
    f = x_legacy_dir / "twitter_activity_metrics_20150901_20151001__USCTrials.csv"
    r = read_files([f], now=NOW)
    p = r.posts.set_index("post_id")
    row = p.loc["649293177409679360"]
    assert (row["impressions"], row["engagements"], row["likes"]) == (373, 2, 2)
    assert row["published_at"] == pd.Timestamp("2015-09-30 18:42", tz="UTC")
    assert p["account"].eq("USCTrials").all() and p["likes"].notna().all()


def test_tcors_and_debruine_values(x_legacy_dir):
    t = read_files([x_legacy_dir / "tweet_activity_metrics_TCORSStgOrg_20170401_20170408_en.csv"], now=NOW)
    row = t.posts.set_index("post_id").loc["849049020249120769"]
    assert (row["impressions"], row["engagements"]) == (29, 1)
    assert row["text"].startswith("About 40% of US non-smokers")
    d = read_files([x_legacy_dir / "daily_tweet_activity_metrics_LisaDeBruine_20210801_20210901_en.csv"])
    a = d.account
    assert a["date"].dt.strftime("%Y-%m-%d").tolist() == [f"2021-08-{i:02d}" for i in range(1, 32)]
    first = a.iloc[0]
    assert (first["posts"], first["impressions"], first["engagements"]) == (0, 1088, 13)
    assert a["account"].eq("LisaDeBruine").all() and a["new_follows"].isna().all()


def test_whole_ropensci_folder(ropensci_dir):
    tweets = sorted(ropensci_dir.glob("tweet_activity_metrics_*.csv"))
    sheet = ropensci_dir / "twitter_metrics_monthly_rOpenSci.csv"
    assert len(tweets) == 60
    r = read_files([*tweets, sheet], root=ropensci_dir, column_map=RO_MAP, now=NOW)
    s = summarize_ingest(r.log)
    assert (s["read"] == s["kept"] + s["quarantined"] + s["superseded"]).all()
    posts_log = s[s["table"] == "posts"]
    assert posts_log["read"].sum() == 1668
    # every tweet is kept or quarantined with a reason (none silently lost)
    assert posts_log["kept"].sum() + posts_log["quarantined"].sum() + posts_log["superseded"].sum() == 1668
    assert len(r.posts) == posts_log["kept"].sum() and r.posts["post_id"].is_unique
    q_posts = r.quarantine[r.quarantine["source_file"].str.startswith("tweet_")]
    assert len(q_posts) == posts_log["quarantined"].sum() and q_posts["reason"].str.len().gt(0).all()
    assert r.posts["is_reply"].sum() == 352  # FORMATS.md §1a: 352/1,668 replies
    assert r.posts["published_at"].is_monotonic_increasing
    # the monthly sheet: 72 months, the mistyped 2021-01-03 quarantined, NA months warned about
    (sheet_log,) = [f for f in r.log["files"] if f["file"] == sheet.name]
    assert (sheet_log["format"], sheet_log["rows_read"], sheet_log["rows_kept"], sheet_log["rows_quarantined"]) == (
        "account_csv", 72, 71, 1)
    q = r.quarantine[r.quarantine["source_file"] == sheet.name]
    assert q["reason"].tolist() == ["date 2021-01-03 is out of order between 2022-01-03 and 2021-11-02 (mistyped?)"]
    assert q["source_row"].tolist() == [3]
    warnings = " | ".join(r.log["warnings"])
    assert "kept as NA: followers 22, new_follows 7" in warnings
    assert "['commit_date', 'month', 'profile_visits', 'mentions']" in warnings
    a = r.account.set_index(r.account["date"].dt.strftime("%Y-%m-%d"))
    assert a.loc["2022-01-03", "followers"] == 33464 and a.loc["2021-11-02", "new_follows"] == 206
    assert a.loc["2016-02-01", "posts"] == 14 and a.loc["2016-02-01", "impressions"] == 40600
    assert a["account"].eq("rOpenSci").all()  # assigned from the posts' only account
