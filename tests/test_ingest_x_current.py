"""X current analytics exports (x.com Analytics page): content variants A/B and the account overview.

Synthetic files with the exact documented headers live in tests/data/ingest/x_current/; the real exports are
read from ../shared/fixtures (skipped when absent).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest import detect_format, read_files
from workbench.ingest.x_current import matches_overview, parse_x_dates, snowflake_times
from workbench.schema import ACCOUNT_SCHEMA, POSTS_SCHEMA

DATA = Path(__file__).parent / "data" / "ingest" / "x_current"
NOW = pd.Timestamp("2026-09-01", tz="UTC")
HEADER_A = ("Post id,Date,Post text,Link,Impressions,Likes,Engagements,Bookmarks,Share,New follows,Replies,Reposts,"
            "Profile visits,Detail expands,Url clicks,Hashtag clicks,Permalink clicks")
HEADER_B = ("Post id,Date,Post text,Post Link,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Replies,"
            "Reposts,Profile visits,Detail Expands,URL Clicks,Hashtag Clicks,Permalink Clicks")


def snowflake_reference(post_id: str) -> pd.Timestamp:
    """The UTC instant in an X id, computed with Python integers (independent of the code under test)."""
    ms = (int(post_id) >> 22) + 1288834974657
    return pd.Timestamp(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)).as_unit("ns")


def make_id(when: str, seq: int = 0) -> str:
    """An X id whose snowflake time is ``when`` (UTC)."""
    ms = int(pd.Timestamp(when, tz="UTC").value // 1_000_000)
    return str(((ms - 1288834974657) << 22) | seq)


def check_accounting(result) -> None:
    for f in result.log["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"], f
    assert list(result.quarantine.columns[:3]) == ["source_file", "source_row", "reason"]


def write_content(path: Path, rows: list[list[str]], header: str = HEADER_B) -> Path:
    buf = io.StringIO()
    buf.write(header + "\n")
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def content_row(post_id: str, date: str, text: str = "hello", *, handle: str = "synthlab", impressions: str = "10",
                likes: str = "1") -> list[str]:
    return [post_id, date, text, f"https://x.com/{handle}/status/{post_id}", impressions, likes, "2", "0", "0", "0",
            "0", "0", "0", "0", "0", "0", "0"]


# --------------------------------------------------------------------------- synthetic files


def test_variant_a_quirks():
    r = read_files([DATA / "content_variant_a.csv"], root=DATA, now=NOW)
    check_accounting(r)
    assert r.log["files"] == [{"file": "content_variant_a.csv", "format": "x_current_content_a", "table": "posts",
                               "rows_read": 6, "rows_kept": 4, "rows_quarantined": 2, "rows_superseded": 0}]
    p = r.posts
    assert list(p.columns[: len(POSTS_SCHEMA)]) == list(POSTS_SCHEMA)
    assert {c: str(p[c].dtype) for c in POSTS_SCHEMA} == POSTS_SCHEMA
    by_id = p.set_index("post_id")
    a1 = "1891489149735665664"
    # the exact instant comes from the id, to the millisecond (the file only says "Mon Feb 17 2025")
    assert by_id.loc[a1, "published_at"] == pd.Timestamp("2025-02-17 14:05:30.123", tz="UTC")
    assert by_id.loc[a1, "published_at"] == snowflake_reference(a1)
    # local date one day behind the UTC date (a US evening post) is fine
    assert by_id.loc["1891314120913846273", "published_at"] == pd.Timestamp("2025-02-17 02:30", tz="UTC")
    row = by_id.loc[a1]
    assert row["text"] == "Hello & welcome to the synthetic lab #rstats https://t.co/abc"
    assert (row["impressions"], row["likes"], row["engagements"], row["bookmarks"], row["follows"]) == (120, 4, 9, 1, 1)
    assert (row["replies"], row["reposts"], row["profile_clicks"], row["url_clicks"]) == (1, 3, 2, 5)
    assert by_id.loc["1889600328299446276", "impressions"] == 1234  # "1,234"
    for col in ("quotes", "media_views", "reach", "media_type"):
        assert by_id[col].isna().all(), col
    assert "shares" not in p.columns and "Share" not in p.columns  # Share has no canonical column
    assert str(p["text_truncated"].dtype) == "boolean" and p["text_truncated"].all()
    assert by_id["is_reply"].to_dict() == {"1889600328299446276": False, "1890823387345846274": True,
                                           "1891314120913846273": False, a1: False}
    assert not by_id["is_repost"].any()
    assert by_id["account"].eq("synthlab").all() and by_id["platform"].eq("x").all()
    assert by_id["source_row"].to_dict() == {"1889600328299446276": 7, "1890823387345846274": 4,
                                             "1891314120913846273": 3, a1: 2}
    assert by_id["source_format"].eq("x_current_content_a").all()
    assert by_id["source_file"].eq("content_variant_a.csv").all()
    assert p["published_at"].is_monotonic_increasing
    q = r.quarantine.set_index("source_row")
    assert q.loc[5, "reason"] == ("Date 'Fri Feb 14 2025' is 4 days from the time in the post id (2025-02-10 12:00 "
                                  "UTC); a local date is at most 1 day from the UTC date")
    assert q.loc[6, "reason"].startswith("empty Post id and link ending 'status/undefined'")
    assert q.loc[6, "Link"] == "https://x.com/synthlab/status/undefined"  # raw values travel with the reason


def test_variant_b_dates_and_repeated_row():
    r = read_files([DATA / "content_variant_b.csv"], root=DATA, now=NOW)
    check_accounting(r)
    (log,) = r.log["files"]
    assert (log["format"], log["rows_read"], log["rows_kept"], log["rows_superseded"]) == ("x_current_content_b", 3, 2, 1)
    p = r.posts.set_index("post_id")
    # both rows are dated "Sun, Jan 4, 2026" (the exporter's local date); the ids say 20:15 and 03:10 next day UTC
    assert p.loc["2007908641797046277", "published_at"] == pd.Timestamp("2026-01-04 20:15", tz="UTC")
    assert p.loc["2008013079966646278", "published_at"] == pd.Timestamp("2026-01-05 03:10", tz="UTC")
    assert p.loc["2007908641797046277", "url_clicks"] == 7 and p.loc["2007908641797046277", "reposts"] == 6


def test_local_date_window_is_one_day(tmp_path):
    post_time = pd.Timestamp("2025-06-15 23:30", tz="UTC")
    rows = []
    for k, offset in enumerate([-2, -1, 0, 1, 2]):
        date = (post_time.tz_localize(None).normalize() + pd.Timedelta(days=offset)).strftime("%a, %b %-d, %Y")
        rows.append(content_row(make_id("2025-06-15 23:30", seq=k), date))
    r = read_files([write_content(tmp_path / "c.csv", rows)], now=NOW)
    check_accounting(r)
    assert r.posts["source_row"].tolist() == [3, 4, 5]  # offsets -1, 0, +1 kept
    assert r.quarantine["source_row"].tolist() == [2, 6]
    assert r.quarantine["reason"].str.contains(r"is 2 days from the time in the post id \(2025-06-15 23:30 UTC\)").all()


def test_each_content_quarantine_reason(tmp_path):
    good = make_id("2025-03-01 10:00")
    other = make_id("2025-03-01 11:00")
    rows = [
        content_row(good, "Sat, Mar 1, 2025"),
        ["", "", "", "https://x.com/synthlab/status/undefined", *["0"] * 13],
        ["", "Sat, Mar 1, 2025", "no id", "https://x.com/synthlab/status/123", *["0"] * 13],
        content_row("12ab", "Sat, Mar 1, 2025"),
        [other, "Sat, Mar 1, 2025", "x", f"https://x.com/synthlab/status/{good}", *["0"] * 13],
        content_row(make_id("2025-03-02 10:00"), "2025-03-02"),
        content_row(make_id("2026-12-01 10:00"), "Tue, Dec 1, 2026"),
        content_row(make_id("2025-03-03 10:00"), "Mon, Mar 3, 2025", impressions="-5"),
        content_row("9999999999999999999", "Mon, Mar 3, 2025"),
    ]
    r = read_files([write_content(tmp_path / "c.csv", rows)], now=NOW)
    check_accounting(r)
    assert r.posts["post_id"].tolist() == [good]
    reasons = r.quarantine.set_index("source_row")["reason"].to_dict()
    assert reasons[3].startswith("empty Post id and link ending 'status/undefined'")
    assert reasons[4] == "empty Post id"
    assert reasons[5] == "Post id '12ab' is not an X post id (digits)"
    assert reasons[6] == f"link 'https://x.com/synthlab/status/{good}' names another post than Post id '{other}'"
    assert reasons[7] == "Date '2025-03-02' is not a date like 'Mon Feb 17 2025' or 'Sun, Jan 4, 2026'"
    assert "more than 1 day in the future (now is 2026-09-01 00:00 UTC)" in reasons[8]
    assert reasons[9] == "column 'Impressions': '-5' is negative (a count cannot be)"
    assert reasons[10] == "Post id '9999999999999999999' is larger than any X id (above 2**63 - 1)"


def test_missing_metric_column_is_na_with_a_warning(tmp_path):
    header = HEADER_B.replace(",Bookmarks", "")
    row = content_row(make_id("2025-03-01 10:00"), "Sat, Mar 1, 2025")
    del row[7]
    r = read_files([write_content(tmp_path / "c.csv", [row], header=header)], root=tmp_path, now=NOW)
    assert r.posts["bookmarks"].isna().all() and r.posts["impressions"].tolist() == [10]
    assert r.log["warnings"] == ["c.csv: X content export without column(s) ['bookmarks']; those metrics are NA"]


def test_overview():
    r = read_files([DATA / "overview.csv"], root=DATA, now=NOW)
    check_accounting(r)
    assert r.log["files"] == [{"file": "overview.csv", "format": "x_current_overview", "table": "account",
                               "rows_read": 4, "rows_kept": 3, "rows_quarantined": 1, "rows_superseded": 0}]
    a = r.account
    assert {c: str(a[c].dtype) for c in ACCOUNT_SCHEMA} == ACCOUNT_SCHEMA
    assert a["date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-01-04", "2026-01-06", "2026-01-07"]
    assert a["new_follows"].tolist() == [9, 4, 6] and a["unfollows"].tolist() == [0, 1, 2]
    assert a["impressions"].tolist() == [900, 420, 500] and a["engagements"].tolist() == [80, 35, 40]
    assert a["posts"].tolist() == [3, 1, 2]  # Create Post
    assert a["followers"].isna().all() and a["platform"].eq("x").all() and a["account"].isna().all()
    assert r.quarantine["reason"].tolist() == [
        "Date 'Mon, Jan 32, 2026' is not a date like 'Mon Feb 17 2025' or 'Sun, Jan 4, 2026'"]


def test_overview_gets_the_handle_of_the_posts():
    r = read_files([DATA / "content_variant_b.csv", DATA / "overview.csv"], root=DATA, now=NOW)
    check_accounting(r)
    assert r.account["account"].eq("synthlab").all()
    assert any("assigned to the only account in the posts: x/synthlab" in w for w in r.log["warnings"])


def test_detection_by_header_not_file_name(tmp_path):
    misleading = {
        "content_variant_a.csv": "daily_tweet_activity_metrics_lab_20210801_20210901_en.csv",
        "content_variant_b.csv": "account_overview_analytics.csv",
        "overview.csv": "account_analytics_content_2026-01-01_2026-01-31.csv",
    }
    expected = {"content_variant_a.csv": "x_current_content_a", "content_variant_b.csv": "x_current_content_b",
                "overview.csv": "x_current_overview"}
    for src, name in misleading.items():
        dst = shutil.copy(DATA / src, tmp_path / name)
        assert detect_format(dst) == expected[src]
    # a partial overview header (no Create Post) is not taken for the overview
    assert not matches_overview(["Date", "Impressions", "Likes", "Engagements", "New follows", "Unfollows"])
    assert matches_overview([c.upper() for c in (DATA / "overview.csv").read_text().splitlines()[0].split(",")])


def test_overlapping_exports_keep_the_latest_snapshot(tmp_path):
    pid = make_id("2025-03-01 10:00")
    early = write_content(tmp_path / "early.csv", [content_row(pid, "Sat, Mar 1, 2025", impressions="50")])
    late = write_content(tmp_path / "late.csv", [content_row(make_id("2025-03-05 10:00", 1), "Wed, Mar 5, 2025"),
                                                 content_row(pid, "Sat, Mar 1, 2025", impressions="90")],
                         header=HEADER_A)
    r = read_files([late, early], root=tmp_path, now=NOW)
    check_accounting(r)
    assert r.posts["post_id"].is_unique and len(r.posts) == 2
    assert r.posts.set_index("post_id").loc[pid, "impressions"] == 90
    assert r.posts.set_index("post_id").loc[pid, "source_file"] == "late.csv"
    logs = {f["file"]: f for f in r.log["files"]}
    assert (logs["early.csv"]["rows_kept"], logs["early.csv"]["rows_superseded"]) == (0, 1)
    assert (logs["late.csv"]["format"], logs["early.csv"]["format"]) == ("x_current_content_a", "x_current_content_b")


def test_semicolon_resave_is_rejected_with_a_clear_message(tmp_path):
    rows = list(csv.reader(io.StringIO((DATA / "content_variant_b.csv").read_text())))
    f = tmp_path / "resaved.csv"
    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows(rows)
    f.write_text(buf.getvalue())
    assert detect_format(f) == "semicolon_posts"
    with pytest.raises(InputError, match=r"resaved\.csv: the columns are separated by ';', not ',' \(split on ';', "
                       r"the header is that of x_current_content_b: X content export.*save it again as "
                       r"'CSV \(comma delimited\)'"):
        read_files([f])
    overview = tmp_path / "overview_resaved.csv"
    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows(csv.reader(io.StringIO((DATA / "overview.csv").read_text())))
    overview.write_text(buf.getvalue())
    assert detect_format(overview) == "semicolon_account"  # so a card listing it under account gets this message:
    with pytest.raises(InputError, match=r"overview_resaved\.csv: the columns are separated by ';'.*"
                       r"x_current_overview"):
        read_files([overview])


# --------------------------------------------------------------------------- snowflake and dates


def test_snowflake_hand_checked_and_edge_cases():
    # by hand: 1888073842750546320 >> 22 = 450151882827 ms after the epoch 1288834974657 → 1738986857484 ms
    # = 2025-02-08 03:54:17.484 UTC
    ids = pd.Series(["1888073842750546320", "", "12ab", "9223372036854775808", "9223372036854775807", "0", None],
                    dtype="string")
    got = snowflake_times(ids)
    assert got[0] == pd.Timestamp("2025-02-08 03:54:17.484", tz="UTC")
    assert got[1:4].isna().all() and pd.isna(got[6])
    assert got[4] == snowflake_reference("9223372036854775807")
    assert got[5] == pd.Timestamp("2010-11-04 01:42:54.657", tz="UTC")  # the snowflake epoch


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=1, max_size=20))
def test_snowflake_matches_python_integer_arithmetic(values):
    got = snowflake_times(pd.Series([str(v) for v in values], dtype="string"))
    for v, t in zip(values, got, strict=True):
        ms = (v >> 22) + 1288834974657
        assert t.value // 1_000_000 == ms  # exact to the millisecond (a float would round large ids)


def test_parse_x_dates_both_styles():
    got = parse_x_dates(pd.Series(["Mon Feb 17 2025", "Sun, Jan 4, 2026", "Tue, Feb 11, 2025", "17/02/2025", ""],
                                  dtype="string"))
    assert got[:3].dt.strftime("%Y-%m-%d").tolist() == ["2025-02-17", "2026-01-04", "2025-02-11"]
    assert got[3:].isna().all()


# --------------------------------------------------------------------------- real exports (../shared/fixtures)

REAL = {  # file → (format, table, rows read = kept, quarantined)
    "account_analytics_content_2024-11-21_2025-02-19__Wormhole_BR.csv": ("x_current_content_a", "posts", 141),
    "account_analytics_content_20241114_20250212__TopDomainClub.csv": ("x_current_content_a", "posts", 43),
    "account_analytics_content_2026-08-10_2026-08-16__HestysInvest.csv": ("x_current_content_b", "posts", 40),
    "account_overview_analytics__TopDomainClub.csv": ("x_current_overview", "account", 314),
}


@pytest.fixture
def x_new_dir(shared_fixtures):
    return shared_fixtures / "exports" / "x_new"


def test_every_real_x_current_file(x_new_dir):
    files = sorted(x_new_dir.glob("*.csv"))
    assert {f.name for f in files} == set(REAL)
    for f in files:
        fmt, table, n = REAL[f.name]
        assert detect_format(f) == fmt
        r = read_files([f], root=x_new_dir, now=NOW)
        check_accounting(r)
        (log,) = r.log["files"]
        assert (log["format"], log["table"], log["rows_read"], log["rows_kept"], log["rows_quarantined"]) == (
            fmt, table, n, n, 0), f.name
        assert len(r.posts if table == "posts" else r.account) == n


def test_real_content_matches_an_independent_csv_read(x_new_dir):
    for name in [n for n in REAL if "content" in n]:
        f = x_new_dir / name
        with f.open(encoding="utf-8", newline="") as fh:
            ref = list(csv.DictReader(fh))
        p = read_files([f], now=NOW).posts.set_index("post_id")
        assert set(p.index) == {row["Post id"] for row in ref}
        link_col = "Link" if "Link" in ref[0] else "Post Link"
        clicks_col = "Url clicks" if "Url clicks" in ref[0] else "URL Clicks"
        for row in ref:
            got = p.loc[row["Post id"]]
            assert got["published_at"] == snowflake_reference(row["Post id"])
            local = pd.to_datetime(row["Date"], format="mixed")
            assert abs((got["published_at"].tz_localize(None).normalize() - local).days) <= 1
            assert got["text"] == html.unescape(row["Post text"])
            assert got["permalink"] == row[link_col]
            assert got["account"] == row[link_col].split("/")[3]
            for raw, col in [("Impressions", "impressions"), ("Likes", "likes"), ("Engagements", "engagements"),
                             ("Bookmarks", "bookmarks"), ("New follows", "follows"), ("Replies", "replies"),
                             ("Reposts", "reposts"), ("Profile visits", "profile_clicks"), (clicks_col, "url_clicks")]:
                assert got[col] == int(row[raw]), (name, row["Post id"], raw)


def test_real_hand_checked_values(x_new_dir):
    top = read_files([x_new_dir / "account_analytics_content_20241114_20250212__TopDomainClub.csv"], now=NOW).posts
    p = top.set_index("post_id")
    # dated "Fri Feb 07 2025" in the file, posted 03:54 UTC on Feb 8 (a US evening): the local-date quirk
    assert p.loc["1888073842750546320", "published_at"] == pd.Timestamp("2025-02-08 03:54:17.484", tz="UTC")
    first = p.loc["1888959709614682283"]
    assert (first["impressions"], first["likes"], first["engagements"], first["reposts"], first["url_clicks"]) == (
        104, 7, 13, 1, 1)
    assert p.loc["1888073842750546320", "text"].startswith("🚀 Attention Venture Capitalists & Domain Investors!")
    assert p["account"].eq("TopDomainClub").all() and p["is_reply"].sum() == 19
    hestys = read_files([x_new_dir / "account_analytics_content_2026-08-10_2026-08-16__HestysInvest.csv"], now=NOW)
    h = hestys.posts.set_index("post_id")
    assert h.loc["2088707180694323466", "published_at"] == pd.Timestamp("2026-08-15 19:19:32.837", tz="UTC")
    assert h["text_truncated"].all() and h["account"].eq("HestysInvest").all()
    wormhole = read_files([x_new_dir / "account_analytics_content_2024-11-21_2025-02-19__Wormhole_BR.csv"], now=NOW)
    assert wormhole.posts.set_index("post_id").loc["1891564128784855141", "published_at"] == pd.Timestamp(
        "2025-02-17 19:03:26.521", tz="UTC")
    assert not wormhole.posts["text"].str.contains("\r").any()  # CRLF line ends do not leak into the text


def test_real_overview_values(x_new_dir):
    f = x_new_dir / "account_overview_analytics__TopDomainClub.csv"
    r = read_files([f], now=NOW)
    a = r.account.set_index(r.account["date"].dt.strftime("%Y-%m-%d"))
    assert len(a) == 314 and a.index.is_unique
    assert (a.index.min(), a.index.max()) == ("2024-04-02", "2025-02-11")
    feb8 = a.loc["2025-02-08"]  # "Sat, Feb 8, 2025",73,0,6,0,0,1,1,0,0,1,1,0,0
    assert (feb8["impressions"], feb8["engagements"], feb8["new_follows"], feb8["unfollows"], feb8["posts"]) == (
        73, 6, 1, 1, 1)
    with f.open(encoding="utf-8", newline="") as fh:
        ref = list(csv.DictReader(fh))
    assert int(a["new_follows"].sum()) == sum(int(x["New follows"]) for x in ref)
    assert int(a["unfollows"].sum()) == sum(int(x["Unfollows"]) for x in ref)
    assert int(a["posts"].sum()) == sum(int(x["Create Post"]) for x in ref)
    assert a["followers"].isna().all()
