"""Meta Business Suite exports: Facebook and Instagram content exports, page-level daily series.

Synthetic files with the exact documented headers live in tests/data/ingest/meta/; the real exports are read
from ../shared/fixtures (skipped when absent).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest import detect_format, read_files
from workbench.ingest.meta_suite import pacific_to_utc, parse_publish_times
from workbench.schema import POSTS_SCHEMA

DATA = Path(__file__).parent / "data" / "ingest" / "meta"
NOW = pd.Timestamp("2026-09-01", tz="UTC")
LA = ZoneInfo("America/Los_Angeles")
VIEWS_NOTE = "impressions are Meta's 'Views' (Meta replaced Impressions with Views in 2024-25"


def check_accounting(result) -> None:
    for f in result.log["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"], f
    assert list(result.quarantine.columns[:3]) == ["source_file", "source_row", "reason"]


def pacific_reference(wall: str) -> pd.Timestamp:
    """UTC instant of a Pacific wall time by zoneinfo's own rules (fold=0), one value at a time."""
    naive = dt.datetime.strptime(wall, "%m/%d/%Y %H:%M")
    return pd.Timestamp(naive.replace(tzinfo=LA, fold=0).astimezone(dt.UTC))


def read_csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def write_csv_rows(path: Path, rows: list[list[str]], *, bom: bool = True) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    return path


# --------------------------------------------------------------------------- Facebook


def test_facebook_content_export():
    r = read_files([DATA / "facebook_content.csv"], root=DATA, now=NOW)
    check_accounting(r)
    assert r.log["files"] == [{"file": "facebook_content.csv", "format": "meta_bs_fb", "table": "posts",
                               "rows_read": 6, "rows_kept": 4, "rows_quarantined": 2, "rows_superseded": 0}]
    assert r.log["warnings"] == [f"facebook_content.csv: {VIEWS_NOTE}; Views count every time the content was "
                                 "shown, including repeats)"]
    p = r.posts
    assert {c: str(p[c].dtype) for c in POSTS_SCHEMA} == POSTS_SCHEMA
    by_id = p.set_index("post_id")
    # Publish time is US Pacific: PDT (UTC-7) in mid-March, PST (UTC-8) in January
    assert by_id.loc["122100000000000001", "published_at"] == pd.Timestamp("2025-03-15 10:06", tz="UTC")
    assert by_id.loc["122100000000000005", "published_at"] == pd.Timestamp("2025-01-10 17:00", tz="UTC")
    # 01:30 on 2 Nov 2025 happens twice: the first (PDT) is taken; 02:30 on 9 Mar 2025 never happens: PST is used
    assert by_id.loc["122100000000000002", "published_at"] == pd.Timestamp("2025-11-02 08:30", tz="UTC")
    assert by_id.loc["122100000000000003", "published_at"] == pd.Timestamp("2025-03-09 10:30", tz="UTC")
    first = by_id.loc["122100000000000001"]
    assert first["text"] == "Our new study is out.\n\nRead it here #science"  # Title, newlines kept
    assert (first["impressions"], first["reach"], first["engagements"], first["likes"], first["replies"],
            first["reposts"]) == (10, 8, 5, 3, 1, 1)
    for col in ("quotes", "bookmarks", "url_clicks", "profile_clicks", "media_views", "follows"):
        assert by_id[col].isna().all(), col  # not in this export: NA, never 0
    # empty cells are Meta's "not applicable": NA
    kids = by_id.loc["122100000000000002"]
    assert pd.isna(kids["replies"]) and pd.isna(kids["reposts"]) and kids["likes"] == 7
    assert by_id["account"].to_dict() == {"122100000000000005": "Synth Lab", "122100000000000003": "Synth Lab",
                                          "122100000000000001": "Synth Lab", "122100000000000002": "Synth Kids"}
    assert by_id["platform"].eq("facebook").all()
    assert by_id["media_type"].to_dict() == {"122100000000000005": "link_card", "122100000000000003": "video",
                                             "122100000000000001": "photo", "122100000000000002": "reel"}
    assert by_id["is_repost"].to_dict() == {"122100000000000005": False, "122100000000000003": True,
                                            "122100000000000001": False, "122100000000000002": False}
    assert not by_id["is_reply"].any()
    assert by_id["source_row"].to_dict() == {"122100000000000001": 2, "122100000000000002": 3,
                                             "122100000000000003": 4, "122100000000000005": 6}
    assert str(p["text_truncated"].dtype) == "boolean" and not p["text_truncated"].any()  # Meta gives whole texts
    q = r.quarantine.set_index("source_row")["reason"].to_dict()
    assert q == {5: "the column 'Views' appears twice and its copies disagree: 5 vs 7", 7: "empty Post ID"}


def test_columns_are_matched_by_name_not_position(tmp_path):
    rows = read_csv_rows(DATA / "facebook_content.csv")
    reordered = [list(reversed(row)) for row in rows]  # every column moves
    f = write_csv_rows(tmp_path / "reordered.csv", reordered)
    a = read_files([DATA / "facebook_content.csv"], now=NOW).posts
    b = read_files([f], now=NOW).posts
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))


def test_impressions_column_wins_over_views_and_no_warning(tmp_path):
    rows = read_csv_rows(DATA / "facebook_content.csv")
    header = rows[0]
    header[header.index("Ad impressions")] = "Impressions"
    for row in rows[1:]:
        row[header.index("Impressions")] = "777"
    r = read_files([write_csv_rows(tmp_path / "old.csv", rows)], now=NOW)
    assert r.posts["impressions"].eq(777).all()
    assert not any("Views" in w for w in r.log["warnings"])
    assert len(r.posts) == 5  # the Views disagreement no longer matters; only the row without id is quarantined


def test_platform_comes_from_the_content(tmp_path):
    rows = read_csv_rows(DATA / "facebook_content.csv")
    header = rows[0]
    row = list(rows[1])
    row[header.index("Post ID")] = "17999999999999999"
    row[header.index("Permalink")] = "https://www.instagram.com/p/CROSSPOST1/"
    row2 = list(rows[1])
    row2[header.index("Post ID")] = "17999999999999998"
    row2[header.index("Permalink")] = ""
    row2[header.index("Post type")] = "IG image"
    r = read_files([write_csv_rows(tmp_path / "mixed.csv", [header, rows[1], row, row2])], now=NOW)
    platforms = r.posts.set_index("post_id")["platform"].to_dict()
    assert platforms == {"122100000000000001": "facebook", "17999999999999999": "instagram",
                         "17999999999999998": "instagram"}
    # Facebook Shares are reposts; an Instagram row's Shares are not (no canonical column)
    reposts = r.posts.set_index("post_id")["reposts"]
    assert reposts["122100000000000001"] == 1 and reposts[["17999999999999999", "17999999999999998"]].isna().all()


# --------------------------------------------------------------------------- Instagram


def test_instagram_posts_several_accounts():
    r = read_files([DATA / "instagram_posts.csv"], root=DATA, now=NOW)
    check_accounting(r)
    (log,) = r.log["files"]
    assert (log["format"], log["rows_read"], log["rows_kept"], log["rows_quarantined"]) == ("meta_bs_ig", 3, 3, 0)
    assert any(VIEWS_NOTE in w for w in r.log["warnings"])
    p = r.posts.set_index("post_id")
    assert p["account"].to_dict() == {"18000000000000001": "synthlab", "18000000000000002": "synthlab",
                                      "18000000000000003": "synthlab_kids"}
    assert p["platform"].eq("instagram").all()
    reel = p.loc["18000000000000001"]
    assert reel["published_at"] == pd.Timestamp("2026-07-22 15:36", tz="UTC")  # 08:36 PDT
    assert p.loc["18000000000000002", "published_at"] == pd.Timestamp("2024-12-19 06:00", tz="UTC")  # 22:00 PST
    # Views is the last column here, yet it is found by name
    assert (reel["impressions"], reel["reach"], reel["likes"], reel["replies"], reel["bookmarks"], reel["follows"]) == (
        1500, 900, 50, 6, 3, 2)
    assert reel["text"] == "Reel about the study 🧪\nsecond line"
    assert pd.isna(p.loc["18000000000000002", "reposts"])
    # Instagram engagements = likes + comments + shares + saves (issue 19.10); an empty Shares cell is left out
    assert p["engagements"].to_dict() == {"18000000000000001": 50 + 6 + 4 + 3, "18000000000000002": 30 + 1 + 5,
                                          "18000000000000003": 20 + 2 + 1 + 0}
    assert any("instagram engagements computed as reactions/likes + comments + shares + saves (3 row(s))" in w
               for w in r.log["warnings"])
    assert p["media_type"].to_dict() == {"18000000000000001": "reel", "18000000000000002": "carousel",
                                         "18000000000000003": "photo"}


def test_instagram_stories():
    r = read_files([DATA / "instagram_stories.csv"], root=DATA, now=NOW)
    check_accounting(r)
    p = r.posts.set_index("post_id")
    story = p.loc["18100000000000001"]
    assert story["published_at"] == pd.Timestamp("2026-08-10 14:20", tz="UTC")
    assert (story["impressions"], story["reach"], story["profile_clicks"], story["url_clicks"]) == (875, 493, 1, 12)
    assert story["replies"] == 0 and pd.isna(story["follows"]) and story["media_type"] == "story"
    assert r.quarantine["reason"].tolist() == ["Publish time '13/10/2026 07:20' is not a time like 03/15/2025 03:06"]


def test_missing_columns_reasons_and_unknown_post_type(tmp_path):
    rows = read_csv_rows(DATA / "instagram_posts.csv")
    drop = rows[0].index("Shares")
    rows = [[v for i, v in enumerate(row) if i != drop] for row in rows]
    header = rows[0]
    rows[1][header.index("Post type")] = "IG  Guide"
    rows[2][header.index("Post ID")] = "abc"
    rows[3][header.index("Publish time")] = "12/19/2026 03:11"
    r = read_files([write_csv_rows(tmp_path / "ig.csv", rows)], root=tmp_path, now=NOW)
    check_accounting(r)
    (row,) = r.posts.to_dict("records")
    assert row["post_id"] == "18000000000000001" and pd.isna(row["reposts"]) and pd.isna(row["media_type"])
    assert row["likes"] == 50
    assert "ig.csv: Post type value(s) ['IG  Guide'] not recognised; media_type is NA there" in r.log["warnings"]
    reasons = r.quarantine.set_index("source_row")["reason"].to_dict()
    assert reasons == {3: "Post ID 'abc' is not a Meta id (digits)",
                       4: "Publish time '12/19/2026 03:11' (US Pacific) is more than 1 day in the future "
                          "(now is 2026-09-01 00:00 UTC)"}


def test_overlapping_meta_exports_keep_the_latest_snapshot(tmp_path):
    rows = read_csv_rows(DATA / "instagram_posts.csv")
    older = [rows[0], rows[2], rows[3]]
    newer = [list(r) for r in rows]
    newer[2][rows[0].index("Likes")] = "45"
    a = write_csv_rows(tmp_path / "a.csv", older)
    b = write_csv_rows(tmp_path / "b.csv", newer)
    r = read_files([a, b], root=tmp_path, now=NOW)
    check_accounting(r)
    assert len(r.posts) == 3 and r.posts["post_id"].is_unique
    assert r.posts.set_index("post_id").loc["18000000000000002", "likes"] == 45
    logs = {f["file"]: f for f in r.log["files"]}
    assert (logs["a.csv"]["rows_kept"], logs["a.csv"]["rows_superseded"]) == (0, 2)


# --------------------------------------------------------------------------- time zone


def test_pacific_to_utc_matches_zoneinfo_around_both_changes():
    walls = []
    for day in ("03/09/2025", "11/02/2025", "03/08/2026", "11/01/2026", "07/04/2025", "12/25/2025"):
        walls += [f"{day} {h:02d}:{m:02d}" for h in range(0, 5) for m in (0, 15, 30, 59)]
    local = pd.to_datetime(pd.Series(walls), format="%m/%d/%Y %H:%M")
    got = pacific_to_utc(local)
    expected = [pacific_reference(w) for w in walls]
    assert got.tolist() == expected
    # the documented choices, spelled out
    assert got[walls.index("11/02/2025 01:30")] == pd.Timestamp("2025-11-02 08:30", tz="UTC")
    assert got[walls.index("03/09/2025 02:30")] == pd.Timestamp("2025-03-09 10:30", tz="UTC")
    assert got[walls.index("12/25/2025 03:00")] == pd.Timestamp("2025-12-25 11:00", tz="UTC")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 13), st.integers(0, 32), st.integers(1999, 2031), st.integers(0, 24),
                          st.integers(0, 60), st.booleans()), min_size=1, max_size=30))
def test_publish_time_parser_matches_strptime(parts):
    texts = [f"{m:02d}/{d:02d}/{y} {h:02d}:{mi:02d}" if pad else f"{m}/{d}/{y} {h}:{mi:02d}"
             for m, d, y, h, mi, pad in parts]
    got = parse_publish_times(pd.Series(texts, dtype="string"))
    for text, value in zip(texts, got, strict=True):
        try:
            expected = pd.Timestamp(dt.datetime.strptime(text, "%m/%d/%Y %H:%M"))
        except ValueError:
            expected = pd.NaT
        assert (pd.isna(value) and pd.isna(expected)) or value == expected, text


# --------------------------------------------------------------------------- page-level daily series


def test_page_follows_series_utf16():
    assert (DATA / "page_follows.csv").read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    r = read_files([DATA / "page_follows.csv"], root=DATA, now=NOW)
    check_accounting(r)
    assert r.log["files"] == [{"file": "page_follows.csv", "format": "meta_bs_page_series", "table": "account",
                               "rows_read": 4, "rows_kept": 3, "rows_quarantined": 1, "rows_superseded": 0}]
    a = r.account
    assert a["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-08-01", "2025-08-02", "2025-08-04"]
    assert a["new_follows"].tolist() == [20, 0, 31]  # gross follows
    assert a["unfollows"].isna().all() and a["followers"].isna().all() and a["impressions"].isna().all()
    assert a["platform"].eq("facebook").all()
    assert a["source_row"].tolist() == [4, 5, 7]  # record 1 is "sep=,"
    assert r.quarantine[["source_row", "reason"]].values.tolist() == [[6, "column 'Primary': 'x' is not a number"]]
    assert any("'Follows' are gross new follows" in w for w in r.log["warnings"])


def test_page_series_stacked_blocks():
    r = read_files([DATA / "page_audience.csv"], root=DATA, now=NOW)
    check_accounting(r)
    (log,) = r.log["files"]
    # Visits are read into the account table's visits column (issue 19.10), not quarantined "by design"
    assert (log["rows_read"], log["rows_kept"], log["rows_quarantined"], log["rows_superseded"]) == (5, 4, 0, 1)
    a = r.account.sort_values(["source_format", "date"])
    assert a["source_format"].tolist() == ["meta_bs_page_series:follows"] * 2 + ["meta_bs_page_series:views",
                                                                                 "meta_bs_page_series:visits"]
    assert a["new_follows"].tolist()[:2] == [5, 7] and a["impressions"].tolist()[2] == 1300  # later row wins
    assert a["visits"].tolist()[3] == 40 and a["visits"].isna().sum() == 3
    assert a["platform"].eq("instagram").all()
    assert r.quarantine.empty
    warnings = " | ".join(r.log["warnings"])
    assert "blocks that are not daily series skipped (not account rows): 'Age & gender' (Age, Women, Men, …): " \
           "2 row(s)" in warnings
    assert VIEWS_NOTE in warnings


def test_series_account_filled_from_posts_and_kept_apart_by_metric(tmp_path):
    views = 'sep=,\n"Facebook views"\n"Date","Primary"\n"2025-03-15T00:00:00","40"\n'
    (tmp_path / "Views.csv").write_bytes(views.encode("utf-16"))
    follows = 'sep=,\n"Facebook follows"\n"Date","Primary"\n"2025-03-15T00:00:00","3"\n'
    (tmp_path / "Follows.csv").write_bytes(follows.encode("utf-16"))
    rows = read_csv_rows(DATA / "facebook_content.csv")
    posts = write_csv_rows(tmp_path / "content.csv", [rows[0], rows[1]])
    r = read_files([posts, tmp_path / "Views.csv", tmp_path / "Follows.csv"], root=tmp_path, now=NOW)
    check_accounting(r)
    a = r.account
    assert len(a) == 2 and a["account"].eq("Synth Lab").all()  # both series survive, one per metric
    assert sorted(a["new_follows"].dropna().tolist()) == [3] and sorted(a["impressions"].dropna().tolist()) == [40]


def test_sep_line_without_series_is_rejected(tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("sep=,\n")
    with pytest.raises(InputError, match=r"odd\.csv: starts with 'sep=,' but holds no Business Suite daily series"):
        read_files([f])


# --------------------------------------------------------------------------- detection and re-saves


def test_detection_by_header_not_file_name(tmp_path):
    expected = {"facebook_content.csv": "meta_bs_fb", "instagram_posts.csv": "meta_bs_ig",
                "instagram_stories.csv": "meta_bs_ig", "page_follows.csv": "meta_bs_page_series"}
    for i, (src, fmt) in enumerate(expected.items()):
        dst = shutil.copy(DATA / src, tmp_path / f"tweet_activity_metrics_lab_2021110{i}_20211201_en.csv")
        assert detect_format(dst) == fmt, src
    # the real file-name pattern on another format's content changes nothing
    x = shutil.copy(Path(__file__).parent / "data" / "ingest" / "x_current" / "overview.csv",
                    tmp_path / "Feb-01-2025_Mar-15-2025_613168031534769.csv")
    assert detect_format(x) == "x_current_overview"


def test_semicolon_resave_is_rejected_with_a_clear_message(tmp_path):
    rows = read_csv_rows(DATA / "facebook_content.csv")
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\n").writerows(rows)
    f = tmp_path / "Feb-01-2025_Mar-15-2025_1.csv"
    f.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode())
    assert detect_format(f) == "semicolon_posts"
    with pytest.raises(InputError, match=r"the columns are separated by ';', not ',' \(split on ';', the header is "
                       r"that of meta_bs_fb: Meta Business Suite content export, Facebook Pages\)\. The file was "
                       r"probably re-saved"):
        read_files([f])


# --------------------------------------------------------------------------- real exports (../shared/fixtures)


def ig_media_time(pk: int) -> pd.Timestamp:
    """UTC time of an Instagram media pk (``pk >> 23`` ms after 1314220021721), an independent clock."""
    ms = (pk >> 23) + 1314220021721
    return pd.Timestamp(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms))


def shortcode_pk(code: str) -> int:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    n = 0
    for c in code:
        n = n * 64 + alphabet.index(c)
    return n


def test_real_facebook_export(shared_fixtures):
    f = shared_fixtures / "exports" / "facebook" / "Feb-01-2025_Mar-15-2025_613168031534769.csv"
    assert f.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert detect_format(f) == "meta_bs_fb"
    r = read_files([f], root=f.parent, now=NOW)
    check_accounting(r)
    assert r.log["files"] == [{"file": f.name, "format": "meta_bs_fb", "table": "posts", "rows_read": 20,
                               "rows_kept": 20, "rows_quarantined": 0, "rows_superseded": 0}]
    assert any(VIEWS_NOTE in w for w in r.log["warnings"])
    p = r.posts.set_index("post_id")
    first = p.loc["122121474620644102"]  # "03/15/2025 03:06", Videos, Reach 1, 41 s
    assert first["published_at"] == pd.Timestamp("2025-03-15 10:06", tz="UTC")  # PDT
    # Views 0 with Reach 1 is impossible (issue 19.3): Views are read as not reported, with a warning
    assert (first["reach"], first["media_type"]) == (1, "video") and pd.isna(first["impressions"])
    assert any("18 row(s) with Views 0 but reach > 0" in w for w in r.log["warnings"])
    assert first["text"].startswith("Choose Proficient Data Entry") and "\n" in first["text"]
    assert p.loc["122117705576644102", "published_at"] == pd.Timestamp("2025-02-17 12:36", tz="UTC")  # PST
    assert p.loc["122120861750644102", "media_type"] == "reel"
    assert p["account"].eq("Pro Efficient Data Entry").all() and p["platform"].eq("facebook").all()
    assert p["media_type"].value_counts().to_dict() == {"photo": 18, "video": 1, "reel": 1}
    # an independent read of the same file
    with f.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        ref = list(reader)
    iv, ir, ic = header.index("Views"), header.index("Reach"), header.index("Reactions")
    for row in ref:
        got = p.loc[row[0]]
        assert (got["reach"], got["likes"]) == (int(row[ir]), int(row[ic]))
        if int(row[iv]) == 0 and int(row[ir]) > 0:
            assert pd.isna(got["impressions"])
        else:
            assert got["impressions"] == int(row[iv])
        assert got["published_at"] == pacific_reference(row[header.index("Publish time")])


def test_real_instagram_excerpts(shared_fixtures):
    folder = shared_fixtures / "exports" / "instagram"
    stories = folder / "EXCERPT_Jan-01-2026_Aug-10-2026_1628959111979773__IG_stories.csv"
    posts = folder / "EXCERPT_Oct-01-2024_Dec-31-2024_1696252285004815__IG_posts.csv"
    r = read_files([stories, posts], root=folder, now=NOW)
    check_accounting(r)
    logs = {f["file"]: f for f in r.log["files"]}
    assert (logs[stories.name]["format"], logs[stories.name]["rows_read"], logs[stories.name]["rows_kept"]) == (
        "meta_bs_ig", 6, 6)
    assert (logs[posts.name]["format"], logs[posts.name]["rows_read"], logs[posts.name]["rows_kept"]) == (
        "meta_bs_ig", 3, 3)
    assert r.quarantine.empty
    p = r.posts.set_index("post_id")
    assert p["platform"].eq("instagram").all()
    assert p["account"].value_counts().to_dict() == {"kan_news": 8, "kan_reshetb": 1}  # several accounts in one file
    # Publish time (Pacific) → UTC agrees with the clock inside the media ids to the minute: stories carry the pk
    # in their permalink, posts a shortcode that encodes it
    for pid, row in p.iterrows():
        tail = row["permalink"].rstrip("/").rsplit("/", 1)[1]
        pk = int(tail) if tail.isdigit() else shortcode_pk(tail)
        assert abs(row["published_at"] - ig_media_time(pk)) < pd.Timedelta(minutes=1), pid
    s = p.loc["17900621769520315"]  # "07/22/2026 08:36", Views 20134, Reach 16563, Profile visits 25, Follows 1
    assert s["published_at"] == pd.Timestamp("2026-07-22 15:36", tz="UTC")
    assert (s["impressions"], s["reach"], s["likes"], s["profile_clicks"], s["replies"], s["follows"]) == (
        20134, 16563, 20, 25, 3, 1)
    assert pd.isna(p.loc["18221584279328739", "follows"]) and p.loc["18221584279328739", "url_clicks"] == 52
    reel = p.loc["18049961678019039"]  # "12/18/2024 21:43" PST
    assert reel["published_at"] == pd.Timestamp("2024-12-19 05:43", tz="UTC")
    assert (reel["impressions"], reel["likes"], reel["replies"], reel["bookmarks"], reel["follows"]) == (
        49198, 954, 123, 24, 6)
    assert p["media_type"].value_counts().to_dict() == {"story": 6, "reel": 2, "carousel": 1}
