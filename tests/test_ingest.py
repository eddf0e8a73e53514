"""Ingest stage on small synthetic files with the exact real headers (tests/data/ingest/header_*.csv)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.dataset import load_dataset
from workbench.errors import InputError, UnknownFormatError
from workbench.ingest import (
    FORMAT_READERS,
    IngestResult,
    detect_format,
    read_exports,
    read_files,
    summarize_ingest,
    write_ingest_outputs,
)
from workbench.schema import ACCOUNT_SCHEMA, CODES_SCHEMA, POSTS_SCHEMA

DATA = Path(__file__).parent / "data" / "ingest"
NOW = pd.Timestamp("2022-01-15 12:00", tz="UTC")


def _header(name: str) -> list[str]:
    return next(csv.reader(io.StringIO((DATA / f"header_{name}.csv").read_text())))


TWEETS_HEADER = _header("x_legacy_tweets")
TWEETS_2015_HEADER = _header("x_legacy_tweets_2015")
DAILY_HEADER = _header("x_legacy_daily")
FLOAT_COLS = TWEETS_HEADER[4:15]  # impressions … permalink clicks are written as "1938.0"


def tweet(tid: str, time: str, text: str = "Hello #rstats", *, handle: str = "synthlab", header=TWEETS_HEADER,
          permalink: str | None = None, **metrics) -> list[str]:
    """One legacy per-tweet row written the way the export writes it."""
    base = {"impressions": 100, "engagements": 10, "retweets": 1, "replies": 2, "likes": 3, "favorites": 3,
            "user profile clicks": 1, "url clicks": 0, "hashtag clicks": 0, "detail expands": 3,
            "permalink clicks": 0, "follows": 0, "media views": 0}
    base.update({k.replace("_", " "): v for k, v in metrics.items()})
    row = []
    for col in header:
        if col == "Tweet id":
            row.append(tid)
        elif col == "Tweet permalink":
            row.append(permalink if permalink is not None else f"https://twitter.com/{handle}/status/{tid}")
        elif col == "Tweet text":
            row.append(text)
        elif col == "time":
            row.append(time)
        elif col == "engagement rate":
            row.append("9.345794392523365E-4")
        elif col.startswith("promoted"):
            row.append("-")
        else:
            v = base.get(col, 0)
            row.append(f"{float(v)}" if col in FLOAT_COLS and isinstance(v, int) else str(v))
    return row


def write_rows(path: Path, header: list[str], rows: list[list[str]], *, tail: str = "") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue() + tail, encoding="utf-8")
    return path


def check_accounting(result: IngestResult) -> None:
    for f in result.log["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"], f
    q = result.quarantine
    assert list(q.columns[:3]) == ["source_file", "source_row", "reason"]
    assert q["reason"].str.len().gt(0).all()


# --------------------------------------------------------------------------- X legacy per-tweet


def test_tweet_export_quirks(tmp_path):
    ids = ["1465712230054432768", "1465591708847116289", "1465000000000000001"]
    rows = [
        tweet(ids[0], "2021-11-30 16:00 +0000", "R &amp; Python &lt;3 &gt; all", impressions=1938, likes=12),
        tweet(ids[1], "2021-11-30 00:05 +0000", "November News 💌 #RStats\n\nline two\n📦 line three"),
        tweet(ids[2], "2021-11-02 09:30 +0000", "@someone thanks!", engagements=0, replies=0),
    ]
    f = write_rows(tmp_path / "tweet_activity_metrics_synthlab_20211101_20211201_en.csv", TWEETS_HEADER, rows)
    r = read_files([f], root=tmp_path, now=NOW)
    check_accounting(r)
    p = r.posts
    assert list(p.columns[: len(POSTS_SCHEMA)]) == list(POSTS_SCHEMA)
    assert {c: str(p[c].dtype) for c in POSTS_SCHEMA} == POSTS_SCHEMA
    # sorted by published_at (the file is newest first); ids kept digit for digit (a float would round them)
    assert p["post_id"].tolist() == [ids[2], ids[1], ids[0]]
    assert float(ids[0]) == float("1465712230054432800")  # why ids must never pass through a float
    by_id = p.set_index("post_id")
    assert by_id.loc[ids[0], "text"] == "R & Python <3 > all"
    assert by_id.loc[ids[1], "text"] == "November News 💌 #RStats\n\nline two\n📦 line three"
    assert by_id.loc[ids[0], "impressions"] == 1938 and by_id.loc[ids[0], "likes"] == 12
    assert by_id.loc[ids[0], "published_at"] == pd.Timestamp("2021-11-30 16:00", tz="UTC")
    assert by_id["account"].eq("synthlab").all() and by_id["platform"].eq("x").all()
    assert by_id["is_reply"].to_dict() == {ids[0]: False, ids[1]: False, ids[2]: True}
    assert not by_id["is_repost"].any()
    for col in ("quotes", "bookmarks", "reach", "media_type"):
        assert by_id[col].isna().all(), col
    assert by_id.loc[ids[0], "reposts"] == 1 and by_id.loc[ids[0], "profile_clicks"] == 1
    # provenance: row 2 is the first data row, the multi-line text still counts as one row
    assert by_id["source_row"].to_dict() == {ids[0]: 2, ids[1]: 3, ids[2]: 4}
    assert by_id["source_format"].eq("x_legacy_tweets").all()
    assert by_id["source_file"].eq(f.name).all()
    # raw columns that are not canonical stay out
    assert "engagement rate" not in p.columns and "hashtag clicks" not in p.columns


def test_2015_variant_with_favorites(tmp_path):
    rows = [tweet("641000000000000001", "2015-09-30 18:00 +0000", header=TWEETS_2015_HEADER, favorites=7)]
    f = write_rows(tmp_path / "twitter_activity_metrics_20150901_20151001.csv", TWEETS_2015_HEADER, rows)
    assert detect_format(f) == "x_legacy_tweets"
    r = read_files([f], now=NOW)
    assert r.posts["likes"].tolist() == [7]


def test_each_post_quarantine_reason(tmp_path):
    rows = [
        tweet("1465712230054432768", "2021-11-30 16:00 +0000"),  # good, row 2
        tweet("", "2021-11-29 16:00 +0000", permalink="https://twitter.com/synthlab/status/undefined"),  # row 3
        tweet("14657x", "2021-11-28 16:00 +0000"),  # row 4
        tweet("1465712230054432769", "30/11/2021 4pm"),  # row 5
        tweet("1465712230054432770", "2021-11-27 16:00 +0000", impressions="12x"),  # row 6
        tweet("1465712230054432771", "2021-11-26 16:00 +0000", likes=-3),  # row 7
        tweet("1465712230054432772", "2022-01-17 16:00 +0000"),  # row 8: more than 1 day after NOW
        tweet("1465712230054432773", "2022-01-16 10:00 +0000"),  # row 9: within a day, kept
        tweet("1465712230054432774", "2021-11-25 16:00 +0000", retweets="2.5"),  # row 10
    ]
    truncated = '"1465712230054432775","https://twitter.com/synthlab/status/1465712230054432775","cut here'
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, rows, tail=truncated)
    r = read_files([f], now=NOW)
    check_accounting(r)
    q = r.quarantine.set_index("source_row")["reason"]
    assert q[3] == "empty Tweet id"
    assert q[4] == "Tweet id '14657x' is not a number"
    assert q[5] == "time '30/11/2021 4pm' is not a time like 2021-11-30 16:00 +0000"
    assert q[6] == "column 'impressions': '12x' is not a number"
    assert q[7] == "column 'likes': '-3.0' is negative (a count cannot be)"
    assert q[8].startswith("time '2022-01-17 16:00 +0000' is more than 1 day in the future")
    assert q[10] == "column 'retweets': '2.5' is not a whole number"
    assert q[11] == "too few fields: expected 40, found 3 (truncated line?)"
    assert sorted(q.index) == [3, 4, 5, 6, 7, 8, 10, 11]
    assert r.posts["source_row"].tolist() == [2, 9]
    # raw values kept under the original header names
    row6 = r.quarantine.set_index("source_row").loc[6]
    assert row6["impressions"] == "12x" and row6["Tweet id"] == "1465712230054432770"
    assert r.quarantine.set_index("source_row").loc[11, "Tweet text"] == "cut here"
    log = r.log["files"][0]
    assert (log["rows_read"], log["rows_kept"], log["rows_quarantined"], log["rows_superseded"]) == (10, 2, 8, 0)


def test_several_reasons_on_one_row_are_all_named(tmp_path):
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, [tweet("", "never", impressions="-1")])
    r = read_files([f], now=NOW)
    assert r.quarantine["reason"].tolist() == [
        "empty Tweet id; time 'never' is not a time like 2021-11-30 16:00 +0000; "
        "column 'impressions': '-1' is negative (a count cannot be)"
    ]


def test_duplicate_ids_inside_one_file(tmp_path):
    a = tweet("1465712230054432768", "2021-11-30 16:00 +0000", impressions=500)
    same = tweet("1465712230054432768", "2021-11-30 16:00 +0000", impressions=500)
    other = tweet("1465712230054432768", "2021-11-30 16:00 +0000", impressions=400)
    b = tweet("1465712230054432769", "2021-11-29 16:00 +0000")
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, [a, b, same, other])
    r = read_files([f], now=NOW)
    check_accounting(r)
    assert len(r.posts) == 2
    assert r.posts.set_index("post_id").loc["1465712230054432768", "impressions"] == 500
    assert r.posts.set_index("post_id").loc["1465712230054432768", "source_row"] == 2
    log = r.log["files"][0]
    assert (log["rows_kept"], log["rows_superseded"], log["rows_quarantined"]) == (2, 1, 1)
    assert r.quarantine["reason"].tolist() == [
        "duplicate post_id '1465712230054432768' with different metrics than row 2"
    ]
    assert r.quarantine["source_row"].tolist() == [5]


def test_overlapping_exports_latest_snapshot_wins(tmp_path):
    # Nov export (latest tweet 11-30) and a Nov–Dec export (latest tweet 12-10) share one tweet.
    shared = "1465712230054432768"
    nov = write_rows(tmp_path / "b_nov.csv", TWEETS_HEADER, [
        tweet(shared, "2021-11-30 16:00 +0000", impressions=100),
        tweet("1465000000000000002", "2021-11-20 16:00 +0000"),
    ])
    dec = write_rows(tmp_path / "a_dec.csv", TWEETS_HEADER, [
        tweet("1469000000000000003", "2021-12-10 16:00 +0000"),
        tweet(shared, "2021-11-30 16:00 +0000", impressions=180),
    ])
    r = read_files([nov, dec], root=tmp_path, now=NOW)
    check_accounting(r)
    assert r.posts["post_id"].is_unique and len(r.posts) == 3
    row = r.posts.set_index("post_id").loc[shared]
    assert row["impressions"] == 180 and row["source_file"] == "a_dec.csv"  # a_dec sorts first but is newer
    logs = {f["file"]: f for f in r.log["files"]}
    assert logs["b_nov.csv"]["rows_superseded"] == 1 and logs["b_nov.csv"]["rows_kept"] == 1
    assert logs["a_dec.csv"]["rows_superseded"] == 0 and logs["a_dec.csv"]["rows_kept"] == 2


def test_overlapping_exports_tie_goes_to_later_path(tmp_path):
    rows1 = [tweet("1465712230054432768", "2021-11-30 16:00 +0000", impressions=100)]
    rows2 = [tweet("1465712230054432768", "2021-11-30 16:00 +0000", impressions=150)]
    f2 = write_rows(tmp_path / "z.csv", TWEETS_HEADER, rows2)
    f1 = write_rows(tmp_path / "a.csv", TWEETS_HEADER, rows1)
    r = read_files([f2, f1], root=tmp_path, now=NOW)
    assert r.posts["impressions"].tolist() == [150]
    assert {f["file"]: f["rows_superseded"] for f in r.log["files"]} == {"z.csv": 0, "a.csv": 1}
    check_accounting(r)


# --------------------------------------------------------------------------- X legacy daily


def daily_row(date: str, published: int, impressions: int, engagements: int, follows: int = 9) -> list[str]:
    vals = {"Date": date, "Tweets published": str(published), "impressions": str(impressions),
            "engagements": str(engagements), "follows": str(follows), "engagement rate": "0.0119"}
    return [vals.get(c, "-" if c.startswith("promoted") else "0") for c in DAILY_HEADER]


def test_daily_export(tmp_path):
    rows = [daily_row("2021-08-01", 0, 1088, 13), daily_row("2021-08-02", 2, 1244, 19),
            daily_row("2021-08-03", 1, 900, 8)]
    f = write_rows(tmp_path / "daily_tweet_activity_metrics_SynthLab_20210801_20210804_en.csv", DAILY_HEADER, rows)
    assert detect_format(f) == "x_legacy_daily"
    r = read_files([f], root=tmp_path)
    check_accounting(r)
    a = r.account
    assert {c: str(a[c].dtype) for c in ACCOUNT_SCHEMA} == ACCOUNT_SCHEMA
    assert a["date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-08-01", "2021-08-02", "2021-08-03"]
    assert a["posts"].tolist() == [0, 2, 1] and a["impressions"].tolist() == [1088, 1244, 900]
    assert a["engagements"].tolist() == [13, 19, 8]
    # follows attributed to tweets are not new followers: new_follows and followers stay NA
    assert a["new_follows"].isna().all() and a["followers"].isna().all()
    assert a["account"].eq("SynthLab").all() and a["platform"].astype(str).eq("x").all()
    assert a["source_format"].eq("x_legacy_daily").all()
    # the file name is only a label: a renamed file is still detected, with an empty account
    g = tmp_path / "renamed.csv"
    g.write_bytes(f.read_bytes())
    r2 = read_files([g])
    assert r2.account["account"].eq("").all() and len(r2.account) == 3


# --------------------------------------------------------------------------- generic account CSV

CARD_MAP = {"new_followers": "new_follows", "tweets": "posts", "tweet_impressions": "impressions"}


def test_account_csv_parsing_and_quarantine(tmp_path):
    f = tmp_path / "sheet.csv"
    f.write_text(
        "commit_date,date,month,followers,new_followers,tweets,tweet_impressions,profile_visits\n"
        "x,2022-01-03,Dec,\"33,464\",134,17,109000,1\n"   # row 2
        "x,2021-01-03,Nov,NA,147,33,122000,1\n"           # row 3: mistyped date (2021-12-03)
        "x,11/02/2021,Oct,33181,206,,105000,1\n"          # row 4: M/D/YYYY, empty count
        "x,2021-10-04,Sep,32994,-5,26,102000,1\n"         # row 5: negative
        "x,2021-09-03,Aug,32782,85,twelve,65100,1\n"      # row 6: not a number
        "x,2021-08-10,Jul,NA,NA,NA,NA,1\n"                # row 7: all NA, kept
        "x,2021-07-32,Jun,1,1,1,1,1\n"                    # row 8: impossible date
        "x,2021-06-02,May,32179,71,37,224000,1\n"         # row 9
        "x,2021-06-02,May,32180,72,38,225000,1\n"         # row 10: same date, wins
        "x,2021-05-03,Apr,32108,180,18,187000,1\n",       # row 11
        encoding="utf-8",
    )
    assert detect_format(f, column_map=CARD_MAP) == "account_csv"
    r = read_files([f], root=tmp_path, column_map=CARD_MAP)
    check_accounting(r)
    q = r.quarantine.set_index("source_row")["reason"]
    assert q[3] == "date 2021-01-03 is out of order between 2022-01-03 and 2021-11-02 (mistyped?)"
    assert q[5] == "column 'new_followers': '-5' is negative (a count cannot be)"
    assert q[6] == "column 'tweets': 'twelve' is not a number"
    assert q[8] == "date '2021-07-32' is not a date like 2021-11-30 or 11/30/2021"
    assert sorted(q.index) == [3, 5, 6, 8]
    a = r.account.set_index(r.account["date"].dt.strftime("%Y-%m-%d"))
    assert list(a.index) == ["2021-05-03", "2021-06-02", "2021-08-10", "2021-11-02", "2022-01-03"]
    assert a.loc["2022-01-03", "followers"] == 33464
    assert pd.isna(a.loc["2021-11-02", "posts"]) and a.loc["2021-11-02", "impressions"] == 105000
    assert a.loc["2021-06-02", "followers"] == 32180 and a.loc["2021-06-02", "source_row"] == 10
    assert a.loc["2021-08-10", ["followers", "new_follows", "posts", "impressions"]].isna().all()
    assert a["engagements"].isna().all() and a["unfollows"].isna().all()
    log = r.log["files"][0]
    assert (log["rows_read"], log["rows_kept"], log["rows_quarantined"], log["rows_superseded"]) == (10, 5, 4, 1)
    w = " | ".join(r.log["warnings"])
    assert "['commit_date', 'month', 'profile_visits']" in w
    assert "out of the file's order (newest first)" in w and "2021-01-03" in w
    assert "kept as NA: followers 1, new_follows 1, impressions 1, posts 2; 1 row(s) have no value at all" in w


def test_account_csv_oldest_first_and_canonical_names(tmp_path):
    f = tmp_path / "followers.csv"
    f.write_text("date,followers,platform,account\n2021-01-01,10,x,lab\n2021-02-01,12,x,lab\n"
                 "2012-03-01,15,x,lab\n2021-04-01,19,x,lab\n2021-05-01,25,x,lab\n")
    r = read_files([f])
    check_accounting(r)
    assert r.quarantine["reason"].tolist() == [
        "date 2012-03-01 is out of order between 2021-02-01 and 2021-04-01 (mistyped?)"]
    assert "oldest first" in " ".join(r.log["warnings"])
    assert r.account["followers"].tolist() == [10, 12, 19, 25]
    assert r.account["account"].eq("lab").all()


def test_account_column_map_errors(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("day,fans\n2021-01-01,3\n")
    with pytest.raises(UnknownFormatError, match=r"s\.csv: not a known export format.*\['day', 'fans'\]"):
        read_files([f])
    r = read_files([f], column_map={"day": "date", "fans": "followers"})
    assert r.account["followers"].tolist() == [3]
    with pytest.raises(InputError, match=r"sends columns to \['fanz'\], which are not account columns"):
        read_files([f], column_map={"day": "date", "fans": "fanz"})


# --------------------------------------------------------------------------- coding files


def test_coding_file(tmp_path):
    f = tmp_path / "alice.csv"
    f.write_text(
        "post_id,coder,has_graphic,tone,has_poll,not_coded_yet\n"
        "1465712230054432768,alice,1,positive,0,\n"   # row 2
        "1465712230054432769,alice,YES,neutral,False,\n"  # row 3
        "1465712230054432770,alice,1.0,,0.0,\n"        # row 4: tone not coded
        ",alice,1,positive,0,\n"                       # row 5: empty post_id
        "1465712230054432771,,1,positive,0,\n"         # row 6: empty coder
        "1465712230054432772,alice,2,positive,0,\n"    # row 7: not binary
        "1.46571223005443e+18,alice,1,positive,0,\n"   # row 8: id destroyed by Excel
        "1465712230054432768,alice,0,negative,1,\n"    # row 9: recode of row 2, wins
        "1465712230054432773,alice,0,neutral,1,\n"     # row 10
        "1465712230054432774,alice,true,neutral,no,\n"  # row 11
        "1465712230054432775,alice,0,neutral,0,\n"     # row 12
        "1465712230054432776,alice,1,neutral,1,\n",    # row 13
    )
    assert detect_format(f) == "coding_csv"
    r = read_files([f], root=tmp_path)
    check_accounting(r)
    c = r.codes
    assert list(c.columns[: len(CODES_SCHEMA)]) == list(CODES_SCHEMA)
    q = r.quarantine.set_index("source_row")["reason"]
    assert q[5] == "empty post_id" and q[6] == "empty coder"
    assert q[7] == "column 'has_graphic' (binary code): '2' is not 0/1 (or yes/no, true/false)"
    assert "scientific notation" in q[8]
    log = r.log["files"][0]
    assert (log["rows_read"], log["rows_kept"], log["rows_quarantined"], log["rows_superseded"]) == (12, 7, 4, 1)
    wide = c.pivot(index="post_id", columns="code", values="value")
    assert wide.loc["1465712230054432768"].tolist() == ["0", "1", "negative"]  # has_graphic, has_poll, tone
    assert wide.loc["1465712230054432769"].tolist() == ["1", "0", "neutral"]
    assert wide.loc["1465712230054432770", "has_graphic"] == "1"
    assert pd.isna(wide.loc["1465712230054432770", "tone"])  # empty cell = not coded, no row
    assert "not_coded_yet" not in set(c["code"])
    assert set(c["value"][c["code"] != "tone"]) <= {"0", "1"}
    assert c["coder"].eq("alice").all() and c["source_file"].eq("alice.csv").all()
    assert "not_coded_yet" in " ".join(r.log["warnings"])


def test_coding_binary_codes_given_explicitly(tmp_path):
    f = tmp_path / "bob.csv"
    f.write_text("post_id,coder,n_people\n1,bob,0\n2,bob,1\n3,bob,3\n")
    # inferred: 2 of 3 values are 0/1, below the 90 % rule → categorical, all kept
    assert read_files([f]).codes["value"].tolist() == ["0", "1", "3"]
    r = read_files([f], binary_codes={"n_people"})
    assert r.quarantine["reason"].tolist() == ["column 'n_people' (binary code): '3' is not 0/1 (or yes/no, true/false)"]


# --------------------------------------------------------------------------- detection and unreadable files


def test_detection_is_by_header_not_file_name(tmp_path):
    rows = [tweet("1465712230054432768", "2021-11-30 16:00 +0000")]
    f = write_rows(tmp_path / "daily_tweet_activity_metrics_lab_20210801_20210901_en.csv", TWEETS_HEADER, rows)
    assert detect_format(f) == "x_legacy_tweets"
    g = tmp_path / "tweet_activity_metrics_lab_20210801_20210901_en.csv"
    g.write_text("post_id,coder,has_poll\n1,ann,1\n")
    assert detect_format(g) == "coding_csv"
    assert [r.name for r in FORMAT_READERS][-1] == "account_csv"  # the generic reader is tried last


def test_unknown_format_message(tmp_path):
    f = tmp_path / "account_overview_analytics.csv"
    f.write_text("Date,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Unfollows,Replies,Reposts\n"
                 "\"Tue, Feb 11, 2025\",10,1,2,0,0,1,0,0,0\n")
    with pytest.raises(UnknownFormatError, match=r"account_overview_analytics\.csv: not a known export format\. "
                       r"First header cells found: \['Date', 'Impressions', .*\] … \(10 columns\)\. "
                       r"Formats we recognise: x_legacy_tweets.*x_legacy_daily.*coding_csv.*account_csv"):
        detect_format(f)


def test_unreadable_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty; expected a CSV analytics export"):
        read_files([empty])
    binary = tmp_path / "export.csv"
    binary.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"export\.csv: the file holds binary data.*expected a CSV analytics"):
        read_files([binary])
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match=r"nope\.csv: cannot open the file"):
        read_files([missing])


def test_header_only_file_gives_zero_rows_and_a_warning(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text((DATA / "header_x_legacy_tweets.csv").read_text())
    r = read_files([f], root=tmp_path)
    assert len(r.posts) == 0 and list(r.posts.columns) == list(POSTS_SCHEMA)
    assert r.log["files"][0]["rows_read"] == 0
    assert r.log["warnings"] == ["t.csv: header only, no data rows"]


def test_encodings_bom_utf16_latin1(tmp_path):
    rows = [tweet("1465712230054432768", "2021-11-30 16:00 +0000", "café ☕ naïve")]
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, rows)
    text = f.read_text(encoding="utf-8")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_files([bom]).posts["text"].tolist() == ["café ☕ naïve"]
    u16 = tmp_path / "u16.csv"
    u16.write_bytes(text.encode("utf-16"))
    r16 = read_files([u16])
    assert r16.posts["text"].tolist() == ["café ☕ naïve"]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.replace(" ☕", "").encode("latin-1"))
    r = read_files([latin])
    assert r.posts["text"].tolist() == ["café naïve"]
    assert any("not UTF-8; read as cp1252" in w for w in r.log["warnings"])


# --------------------------------------------------------------------------- dataset card and outputs


def make_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "raw").mkdir(parents=True)
    (root / "coding").mkdir()
    write_rows(root / "raw" / "tweet_activity_metrics_lab_20211101_20211201_en.csv", TWEETS_HEADER, [
        tweet("1465712230054432768", "2021-11-30 16:00 +0000", handle="lab"),
        tweet("1465712230054432769", "2021-11-20 16:00 +0000", handle="lab", impressions="oops"),
    ])
    (root / "raw" / "monthly.csv").write_text("date,fans,tweets\n2021-12-01,120,2\n2021-11-01,100,NA\n")
    (root / "coding" / "ann.csv").write_text("post_id,coder,has_poll\n1465712230054432768,ann,1\n")
    (root / "dataset.yml").write_text(
        "name: lab\nposts: ['raw/tweet_*.csv']\n"
        "account: [{path: raw/monthly.csv, columns: {fans: followers, tweets: posts}}]\n"
        "codes: ['coding/*.csv']\n")
    return root


def test_read_exports_and_write_outputs(tmp_path):
    root = make_dataset(tmp_path)
    r = read_exports(load_dataset(root), now=NOW)
    check_accounting(r)
    assert r.posts["post_id"].tolist() == ["1465712230054432768"]
    assert r.quarantine["source_file"].tolist() == ["raw/tweet_activity_metrics_lab_20211101_20211201_en.csv"]
    assert r.account["followers"].tolist() == [100, 120]
    # the sheet names no account: it is given the posts' only account, and the log says so
    assert r.account["account"].eq("lab").all() and r.account["platform"].astype(str).eq("x").all()
    assert any("assigned to the only account in the posts: x/lab" in w for w in r.log["warnings"])
    assert r.codes[["post_id", "coder", "code", "value"]].values.tolist() == [
        ["1465712230054432768", "ann", "has_poll", "1"]]
    paths = write_ingest_outputs(r, data_dir=tmp_path / "out" / "data", results_dir=tmp_path / "out" / "results")
    assert set(paths) == {"posts", "account", "codes", "quarantine", "ingest_log"}
    back = pd.read_parquet(paths["posts"])
    assert back["post_id"].tolist() == ["1465712230054432768"] and str(back["impressions"].dtype) == "Int64"
    assert str(back["published_at"].dtype) == "datetime64[ns, UTC]"
    q = pd.read_csv(paths["quarantine"], dtype=str)
    assert list(q.columns[:3]) == ["source_file", "source_row", "reason"] and q["source_row"].tolist() == ["3"]
    log = json.loads(paths["ingest_log"].read_text())
    assert set(log) == {"files", "warnings", "date_range", "manual_codes"}  # the last two for the runner's checks
    assert log["manual_codes"] == ["has_poll"]
    assert log["date_range"]["posts"] == [back["published_at"].min().date().isoformat()] * 2
    assert log["date_range"]["account"] is not None
    assert [set(f) for f in log["files"]] == [{"file", "format", "table", "rows_read", "rows_kept",
                                               "rows_quarantined", "rows_superseded"}] * 3
    assert [(f["file"], f["table"]) for f in log["files"]] == [
        ("raw/tweet_activity_metrics_lab_20211101_20211201_en.csv", "posts"),
        ("raw/monthly.csv", "account"), ("coding/ann.csv", "codes")]
    s = summarize_ingest(log)
    assert list(s.columns) == ["file", "format", "table", "read", "kept", "quarantined", "superseded"]
    assert s["read"].tolist() == [2, 2, 1] and s["quarantined"].tolist() == [1, 0, 0]


def test_file_under_the_wrong_card_list(tmp_path):
    root = make_dataset(tmp_path)
    (root / "dataset.yml").write_text("name: lab\nposts: ['coding/ann.csv']\n")
    with pytest.raises(InputError, match=r"coding/ann\.csv: listed under 'posts' in dataset\.yml but it is a "
                       r"manual coding file .*\(feeds the codes table\)"):
        read_exports(load_dataset(root))


def test_empty_quarantine_still_has_leading_columns(tmp_path):
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, [tweet("1465712230054432768", "2021-11-30 16:00 +0000")])
    r = read_files([f], now=NOW)
    assert list(r.quarantine.columns) == ["source_file", "source_row", "reason"] and r.quarantine.empty
    paths = write_ingest_outputs(r, data_dir=tmp_path / "d", results_dir=tmp_path / "r")
    assert paths["quarantine"].read_text().strip() == "source_file,source_row,reason"


def test_thousands_and_counts_vectorized_reference(tmp_path):
    """Counts parsed as a spreadsheet user reads them, checked against a plain-Python reference."""
    values = ["1,234", "1938.0", "", "NA", "-", "7.0E2", "12", "0", "1,234,567"]
    f = tmp_path / "s.csv"
    f.write_text("date,followers\n" + "".join(f'2021-01-{i + 1:02d},"{v}"\n' for i, v in enumerate(values)))
    r = read_files([f])

    def reference(v):
        v = v.replace(",", "")
        return None if v in ("", "NA", "-") else int(float(v))

    got = [None if pd.isna(x) else int(x) for x in r.account["followers"]]
    assert got == [reference(v) for v in values]
    assert np.array_equal(r.account["source_row"].to_numpy(), np.arange(2, 2 + len(values)))


def test_blank_lines_and_too_many_fields(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("date,followers\n2021-01-01,10\n\n2021-02-01,12\n2021-03-01,13,extra\n2021-04-01,15\n")
    r = read_files([f], root=tmp_path)
    check_accounting(r)
    # the blank line is row 3 as a spreadsheet shows it: not data, but later rows keep their numbers
    assert r.account["source_row"].tolist() == [2, 4, 6]
    assert r.quarantine[["source_row", "reason", "extra_fields"]].values.tolist() == [
        [5, "too many fields: expected 2, found 3", "extra"]]
    assert r.log["files"][0]["rows_read"] == 4
    assert "s.csv: 1 blank line(s) ignored" in r.log["warnings"]
