"""Exports as people download them, read for what they mean (issues 10.2, 10.7, 11.2 and 19, ingest side).

Synthetic look-alikes: tests/data/ingest/make_semantics_files.py writes the Meta/LinkedIn files (exact headers
and quirks from FORMATS.md); X legacy files are written here with test_ingest's row helper.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from test_ingest import TWEETS_HEADER, tweet, write_rows

from workbench.dataset import parse_card
from workbench.errors import DatasetCardError, InputError
from workbench.ingest import read_exports, read_files
from workbench.ingest.common import parse_counts
from workbench.ingest.integrity import repair_mojibake
from workbench.ingest.overlap import browser_copy
from workbench.schema import POST_TYPES

DATA = Path(__file__).parent / "data" / "ingest"
META = DATA / "meta"
NOW = pd.Timestamp("2026-09-01", tz="UTC")


def check_accounting(result) -> None:
    for f in result.log["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"], f
    assert list(result.quarantine.columns[:3]) == ["source_file", "source_row", "reason"]


def warned(result, text: str) -> bool:
    return any(text in w for w in result.log["warnings"])


# --------------------------------------------------------------------------- 19.1 short rows


def test_short_rows_read_with_their_trailing_fields_empty():
    f = META / "fb_content_short_rows.csv"
    raw = f.read_text(encoding="utf-8-sig").splitlines()
    assert [len(next(csv.reader([ln]))) for ln in raw] == [42, 25, 42, 25, 42]  # rows 2 and 4 are short
    r = read_files([f], root=META, now=NOW)
    check_accounting(r)
    assert r.log["files"][0]["rows_kept"] == 4 and r.quarantine.empty
    assert warned(r, "fb_content_short_rows.csv: 2 row(s) shorter than the header (rows [2, 4]) read with their "
                     "missing trailing fields empty")
    p = r.posts.set_index("source_row")
    assert p.loc[2, "impressions"] == 100 and p.loc[4, "reach"] == 80  # the values before the gap are kept


def test_short_row_that_is_not_otherwise_valid_is_still_quarantined(tmp_path):
    lines = (META / "fb_content_short_rows.csv").read_text(encoding="utf-8-sig").splitlines()
    cells = next(csv.reader([lines[1]]))
    del cells[2]  # a field missing in the middle: every later value shifts left
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    f = tmp_path / "shifted.csv"
    f.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines[:1]) + "\n" + buf.getvalue()).encode())
    r = read_files([f], root=tmp_path, now=NOW)
    check_accounting(r)
    assert len(r.posts) == 0 and len(r.quarantine) == 1
    assert "is not a time like 03/15/2025 03:06" in r.quarantine["reason"].iloc[0]


def test_last_row_cut_off_mid_download_stays_quarantined(tmp_path):
    rows = [tweet("1465000000000000001", "2021-11-30 16:00 +0000"), tweet("1465000000000000002", "2021-11-29 16:00 +0000")]
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, rows)
    text = f.read_text()
    f.write_text(text[: text.rindex('"9.345794392523365E-4"')])  # the download stopped; no final newline
    r = read_files([f], root=tmp_path, now=pd.Timestamp("2022-01-15", tz="UTC"))
    check_accounting(r)
    assert r.posts["post_id"].tolist() == ["1465000000000000001"]
    assert "too few fields" in r.quarantine["reason"].iloc[0]


# --------------------------------------------------------------------------- 11.2 integers out of range


@pytest.mark.parametrize("value", ["1e30", "99999999999999999999", "9.3e18", "-1e30"])
def test_counts_beyond_int64_are_quarantined_not_wrapped(tmp_path, value):
    rows = [tweet("1465000000000000001", "2021-11-30 16:00 +0000", impressions=value),
            tweet("1465000000000000002", "2021-11-29 16:00 +0000")]
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, rows)
    r = read_files([f], root=tmp_path, now=pd.Timestamp("2022-01-15", tz="UTC"))
    check_accounting(r)
    assert r.posts["post_id"].tolist() == ["1465000000000000002"]
    assert (r.posts["impressions"] >= 0).all()
    reason = r.quarantine["reason"].iloc[0]
    assert f"'{value}'" in reason and ("too large for a count" in reason or "negative" in reason)


def test_account_counts_beyond_int64_are_quarantined(tmp_path):
    f = tmp_path / "followers.csv"
    f.write_text("date,followers\n2024-01-01,1200\n2024-01-02,99999999999999999999\n2024-01-03,1e30\n")
    r = read_files([f], root=tmp_path, now=NOW)
    check_accounting(r)
    assert r.account["followers"].tolist() == [1200]
    assert r.quarantine["source_row"].tolist() == [3, 4]
    assert r.quarantine["reason"].str.contains("too large for a count").all()


def test_parse_counts_range_edges():
    values, bad, _ = parse_counts(pd.Series(["9223372036854774784", "9223372036854775808", "12"], dtype="string"),
                                  label="x")
    assert values.tolist()[0] == 9223372036854774784 and pd.isna(values.tolist()[1]) and values.tolist()[2] == 12
    assert bad.tolist() == [False, True, False]


# --------------------------------------------------------------------------- 19.2 overlap by evidence


def test_overlapping_exports_keep_the_copy_with_reported_metrics():
    files = sorted((META / "overlap").glob("*.csv"))
    r = read_files(files, root=META, now=NOW)
    check_accounting(r)
    p = r.posts.set_index("post_id")
    # the later-named export has every metric 0: the earlier one's copies are kept
    assert p["impressions"].tolist() == [100, 101, 102] and p["source_file"].str.endswith("_111.csv").all()
    assert {f["file"]: f["rows_superseded"] for f in r.log["files"]} == {
        "overlap/Apr-01-2025_Apr-30-2025_111.csv": 0, "overlap/Apr-01-2025_Apr-30-2025_222.csv": 3}
    assert warned(r, "posts: 3 post(s) of overlap/Apr-01-2025_Apr-30-2025_222.csv are also in "
                     "overlap/Apr-01-2025_Apr-30-2025_111.csv with different metrics; the copies in "
                     "overlap/Apr-01-2025_Apr-30-2025_111.csv are kept (3 by more reported metrics)")


def test_browser_copy_names():
    assert browser_copy("exp/Interactions (1).csv") == ("exp/Interactions.csv", 1)
    assert browser_copy("exp/Interactions (12).csv") == ("exp/Interactions.csv", 12)
    assert browser_copy("exp/Interactions.csv") == ("exp/Interactions.csv", 0)
    assert browser_copy("a.zip!Views (2).csv") == ("a.zip!Views.csv", 2)


# --------------------------------------------------------------------------- 19.3 plausibility


def test_impressions_below_reach(tmp_path):
    lines = (META / "fb_content_short_rows.csv").read_text(encoding="utf-8-sig").splitlines()
    header = next(csv.reader([lines[0]]))
    rows = [next(csv.reader([ln])) for ln in lines[1:4]]
    views = [i for i, h in enumerate(header) if h == "Views"]
    reach = header.index("Reach")
    for i in views:
        rows[0][i], rows[1][i] = "0", "50"  # row 2: Views 0 (not measured); row 3: Views 50 < Reach 80
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    f = tmp_path / "content.csv"
    f.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode())
    r = read_files([f], root=tmp_path, now=NOW)
    check_accounting(r)
    p = r.posts.set_index("source_row")
    assert pd.isna(p.loc[2, "impressions"]) and p.loc[2, "reach"] == int(rows[0][reach])
    assert p.loc[4, "impressions"] == 100
    assert r.quarantine[["source_row", "reason"]].values.tolist() == [
        [3, "Views 50 below reach 80 (impossible: every person reached saw the post at least once)"]]
    assert warned(r, "content.csv: 1 row(s) with Views 0 but reach > 0 (rows [2])")


# --------------------------------------------------------------------------- 19.4, 19.5, 19.10 page series


def test_page_series_platform_from_the_export_and_new_columns():
    exp = META / "page_export_fb"
    r = read_files(sorted(exp.glob("*.csv")), root=META, now=NOW)
    check_accounting(r)
    a = r.account
    assert a["platform"].eq("facebook").all() and r.quarantine.empty
    assert warned(r, "page_export_fb/Views.csv: series ['Views'] name no platform; taken as facebook from the "
                     "export's other series files in the same folder")
    # reach, visits and link clicks read into their own columns, not quarantined
    by = a.set_index(["source_format", a["date"].dt.strftime("%Y-%m-%d")])
    assert by.loc[("meta_bs_page_series:reach", "2025-08-01"), "reach"] == 900
    assert by.loc[("meta_bs_page_series:visits", "2025-08-02"), "visits"] == 38
    assert by.loc[("meta_bs_page_series:link_clicks", "2025-08-01"), "link_clicks"] == 7
    # the browser's newer download (1) wins over Interactions.csv: more reported values, then the later copy
    inter = a.loc[a["source_format"].eq("meta_bs_page_series:interactions")].sort_values("date")
    assert inter["engagements"].tolist() == [31, 27, 19]
    assert inter["source_file"].eq("page_export_fb/Interactions (1).csv").all()
    assert warned(r, "account: 2 row(s) of page_export_fb/Interactions.csv are also in page_export_fb/Interactions "
                     "(1).csv with different metrics; the copies in page_export_fb/Interactions (1).csv are kept "
                     "(2 by the later export)")


def test_audience_follower_total_is_a_dated_anchor_and_follows_are_never_summed():
    exp = META / "page_export_fb"
    r = read_files(sorted(exp.glob("*.csv")), root=META, now=NOW)
    a = r.account
    anchor = a.loc[a["followers"].notna()]
    assert anchor[["followers", "source_format"]].values.tolist() == [[30222, "meta_bs_page_series:followers_total"]]
    assert anchor["date"].iloc[0] == pd.Timestamp("2025-08-03")  # the last day of the file's daily series
    assert anchor["source_file"].iloc[0] == "page_export_fb/Audience.csv"
    follows = a.loc[a["source_format"].eq("meta_bs_page_series:follows")]
    assert follows["new_follows"].sum() == 41 and follows["followers"].isna().all()
    assert warned(r, "follower totals read as anchors of the follower level (Facebook followers 30222), dated "
                     "2025-08-03, the last day of the daily series in the same file")


def test_audience_alone_is_dated_from_neighbours_or_quarantined(tmp_path):
    alone = META / "audience_alone" / "Audience.csv"
    r = read_files([alone], root=META, now=NOW)
    check_accounting(r)
    assert r.account.empty and len(r.quarantine) == 1
    assert "export date is unknown" in r.quarantine["reason"].iloc[0]
    # next to the export's daily series, it takes their last day
    shutil.copy(alone, tmp_path / "Audience.csv")
    shutil.copy(META / "page_export_fb" / "Follows.csv", tmp_path / "Follows.csv")
    r = read_files([tmp_path / "Audience.csv", tmp_path / "Follows.csv"], root=tmp_path, now=NOW)
    check_accounting(r)
    anchor = r.account.loc[r.account["followers"].notna()]
    assert anchor[["platform", "followers"]].values.tolist() == [["instagram", 3098]]
    assert anchor["date"].iloc[0] == pd.Timestamp("2025-08-03")


def test_series_without_platform_next_to_two_platforms_is_quarantined_not_guessed():
    files = sorted((META / "page_export_mixed").glob("*.csv"))
    posts = META / "facebook_content.csv"  # the posts are on Facebook only: still no guess
    r = read_files([posts, *files], root=META, now=NOW)
    check_accounting(r)
    views = r.quarantine.loc[r.quarantine["source_file"].eq("page_export_mixed/Views.csv")]
    assert len(views) == 3
    assert views["reason"].str.contains("add platform: facebook \\(or instagram\\) to this file's account entry").all()
    assert set(r.account["source_file"]) == {"page_export_mixed/Follows.csv", "page_export_mixed/Follows (1).csv"}


def test_card_platform_key_assigns_the_series(tmp_path):
    for f in (META / "page_export_mixed").glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    shutil.copy(META / "facebook_content.csv", tmp_path / "content.csv")
    card = {"name": "t", "posts": ["content.csv"],
            "account": ["Follows.csv", "Follows (1).csv", {"path": "Views.csv", "platform": "Instagram"}]}
    ds = parse_card(card, tmp_path)
    assert ds.account[2].platform == "instagram"
    r = read_exports(ds, now=NOW)
    check_accounting(r)
    views = r.account.loc[r.account["source_file"].eq("Views.csv")]
    assert len(views) == 3 and views["platform"].eq("instagram").all() and views["impressions"].notna().all()
    with pytest.raises(DatasetCardError, match="account platform must be one of"):
        parse_card({**card, "account": [{"path": "Views.csv", "platform": "myspace"}]}, tmp_path)


def test_resaved_series_with_semicolons_or_tabs(tmp_path):
    for sep, name, day in ((";", "semi.csv", "01"), ("\t", "tabs.csv", "02")):
        text = f'sep={sep}\n"Facebook follows"\n"Date"{sep}"Primary"\n"2025-08-{day}T00:00:00"{sep}"20"\n'
        (tmp_path / name).write_bytes(text.encode("utf-16"))
    # a re-save that dropped the sep= line, separated by ';' in UTF-8
    (tmp_path / "nosep.csv").write_text('"Facebook views"\n"Date";"Primary"\n"2025-08-01T00:00:00";"700"\n')
    r = read_files(sorted(tmp_path.glob("*.csv")), root=tmp_path, now=NOW)
    check_accounting(r)
    assert r.quarantine.empty
    got = r.account.set_index("source_file")
    assert got.loc["semi.csv", "new_follows"] == 20 and got.loc["tabs.csv", "new_follows"] == 20
    assert got.loc["nosep.csv", "impressions"] == 700
    assert warned(r, "tabs.csv: a re-saved Business Suite series (separated by tabs, utf-16)")
    assert warned(r, "nosep.csv: a re-saved Business Suite series (separated by ';', utf-8, no sep= line)")


# --------------------------------------------------------------------------- 19.6 publish-time bug


def test_publish_time_bug_marks_times_unreliable():
    r = read_files([META / "fb_content_2024_time_bug.csv"], root=META, now=NOW)
    check_accounting(r)
    assert len(r.posts) == 5 and not r.posts["published_time_reliable"].any()
    assert r.posts["published_at"].notna().all()  # dates kept
    assert warned(r, "the minute equals the month in 5 of 5 publish times and the latest hour is 10")
    ok = read_files([META / "fb_content_short_rows.csv"], root=META, now=NOW)
    assert ok.posts["published_time_reliable"].all()


# --------------------------------------------------------------------------- 19.7 formats people have


def test_linkedin_followers_xlsx_with_auto_invited():
    f = DATA / "linkedin" / "synthlab_followers_1742193384396.xlsx"
    assert f.read_bytes()[:4] == b"PK\x03\x04"
    r = read_files([f], root=DATA, now=NOW)
    check_accounting(r)
    assert r.log["files"][0]["format"] == "linkedin_followers"
    a = r.account
    assert a["new_follows"].tolist() == [4, 3, 2] and a["followers"].isna().all()
    assert a["account"].eq("synthlab").all()
    assert warned(r, "new follows include 'Auto-invited followers'")


def test_xlsx_inside_a_zip_is_read(tmp_path):
    z = tmp_path / "exports.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(DATA / "linkedin" / "synthlab_followers_1742193384396.xlsx", "li/synthlab_followers_1742193384396.xlsx")
    r = read_files([z], root=tmp_path, now=NOW)
    check_accounting(r)
    assert [f["file"] for f in r.log["files"]] == ["exports.zip!li/synthlab_followers_1742193384396.xlsx"]
    assert len(r.account) == 3 and not warned(r, "a zip inside the zip")


def test_meta_export_saved_as_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rows = list(csv.reader(io.StringIO((META / "facebook_content.csv").read_text(encoding="utf-8-sig"))))
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(tmp_path / "content.xlsx")
    r = read_files([tmp_path / "content.xlsx"], root=tmp_path, now=NOW)
    ref = read_files([META / "facebook_content.csv"], root=META, now=NOW)
    assert r.log["files"][0]["format"] == "meta_bs_fb"
    cols = ["post_id", "impressions", "reach", "likes", "engagements", "published_at", "post_type"]
    pd.testing.assert_frame_equal(r.posts[cols], ref.posts[cols])


def test_tab_separated_utf16_resave_is_named(tmp_path):
    rows = list(csv.reader(io.StringIO((META / "facebook_content.csv").read_text(encoding="utf-8-sig"))))
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t", lineterminator="\r\n").writerows(rows)
    f = tmp_path / "content.txt"
    f.write_bytes(buf.getvalue().encode("utf-16"))
    with pytest.raises(InputError, match=r"separated by tabs, not ','.*meta_bs_fb.*Excel's 'Unicode Text', UTF-16"):
        read_files([f], root=tmp_path, now=NOW)


def test_mastodon_archive():
    d = DATA / "mastodon_archive"
    r = read_files([d / "outbox.json", d / "actor.json"], root=DATA, now=NOW)
    check_accounting(r)
    assert [f["format"] for f in r.log["files"]] == ["mastodon_outbox", "mastodon_actor"]
    p = r.posts.set_index("post_id")
    assert p["post_type"].to_dict() == {
        "112000000000000001": "original", "112000000000000002": "reply", "112000000000000003": "repost",
        "112000000000000004": "original", "112000000000000005": "quote"}
    assert p["account"].eq("synthlab@scholar.social").all() and p["impressions"].isna().all()
    assert p.loc["112000000000000004", "media_type"] == "poll" and p.loc["112000000000000004", "likes"] == 7
    assert pd.isna(p.loc["112000000000000001", "likes"]) and p.loc["112000000000000001", "media_type"] == "photo"
    assert p.loc["112000000000000001", "text"].startswith("New paper on sleep and memory #science 🧪\nRead it")
    assert pd.isna(p.loc["112000000000000003", "text"])  # a boost carries only the boosted post's address
    a = r.account
    assert a[["platform", "account", "followers"]].values.tolist() == [["mastodon", "synthlab@scholar.social", 842]]
    assert a["date"].iloc[0] == pd.Timestamp("2025-01-14")
    assert warned(r, "activities that are not posts or boosts skipped: Delete 1")


def test_mastodon_actor_alone_is_quarantined_for_want_of_a_date(tmp_path):
    shutil.copy(DATA / "mastodon_archive" / "actor.json", tmp_path / "actor.json")
    r = read_files([tmp_path / "actor.json"], root=tmp_path, now=NOW)
    check_accounting(r)
    assert r.account.empty and "the archive's date is unknown" in r.quarantine["reason"].iloc[0]


# --------------------------------------------------------------------------- 19.10 engagements per platform


def test_facebook_engagements_from_the_parts_when_the_total_is_absent(tmp_path):
    lines = (META / "fb_content_short_rows.csv").read_text(encoding="utf-8-sig").splitlines()
    rows = [next(csv.reader([ln])) for ln in lines]
    drop = rows[0].index("Reactions, comments and shares")
    rows = [[c for i, c in enumerate(r) if i != drop] for r in rows]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    f = tmp_path / "c.csv"
    f.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode())
    r = read_files([f], root=tmp_path, now=NOW)
    assert r.posts["engagements"].tolist() == [7, 7, 7, 7]  # reactions 5 + comments 1 + shares 1, no clicks
    assert warned(r, "facebook engagements computed as reactions/likes + comments + shares (4 row(s))")


# --------------------------------------------------------------------------- 19.11 collab posts


def test_collab_post_is_flagged_and_kept_under_the_account():
    r = read_files([META / "ig_content_collab.csv"], root=META, now=NOW)
    check_accounting(r)
    p = r.posts.set_index("post_id")
    assert p["account"].eq("synthlab").all()  # one account for downstream stages
    collab = p.loc["18000000000000199"]
    assert (collab["author"], collab["is_own_post"]) == ("partner_creator", False)
    assert p.drop(index="18000000000000199")["is_own_post"].all()
    assert (p.drop(index="18000000000000199")["author"] == "synthlab").all()
    assert warned(r, "1 instagram post(s) by partner_creator (a collab")


# --------------------------------------------------------------------------- 10.2 post types


def test_post_types_x_legacy(tmp_path):
    rows = [
        tweet("1465000000000000001", "2021-11-30 16:00 +0000", "New paper out #rstats"),
        tweet("1465000000000000002", "2021-11-30 15:00 +0000", "@alice thanks, see https://t.co/abc"),
        tweet("1465000000000000003", "2021-11-30 14:00 +0000", "RT @bob: a great thread"),
        tweet("1465000000000000004", "2021-11-30 13:00 +0000", "Worth a read https://twitter.com/carol/status/123"),
        tweet("1465000000000000005", "2021-11-30 12:00 +0000", "@dave agreed https://x.com/carol/status/124"),
    ]
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, rows)
    r = read_files([f], root=tmp_path, now=pd.Timestamp("2022-01-15", tz="UTC"))
    p = r.posts.set_index("post_id")
    assert p["post_type"].to_dict() == {"1465000000000000001": "original", "1465000000000000002": "reply",
                                        "1465000000000000003": "repost", "1465000000000000004": "quote",
                                        "1465000000000000005": "reply"}
    assert p.loc["1465000000000000005", "is_quote"] and p.loc["1465000000000000003", "is_repost"]
    assert set(r.posts["post_type"].astype(str)) <= set(POST_TYPES)


def test_post_types_meta_and_json():
    r = read_files([META / "facebook_content.csv"], root=META, now=NOW)
    p = r.posts.set_index("post_id")
    assert p.loc["122100000000000003", "post_type"] == "repost"  # Is share = 1
    assert (p.drop(index="122100000000000003")["post_type"] == "original").all()
    social = DATA / "social"
    r = read_files(sorted(social.glob("*.json")), root=social, now=NOW)
    p = r.posts
    assert set(p["post_type"].astype(str)) <= set(POST_TYPES)
    assert (p["post_type"].eq("repost") == p["is_repost"]).all()
    assert (p.loc[~p["is_repost"], "post_type"].eq("reply") == p.loc[~p["is_repost"], "is_reply"]).all()


# --------------------------------------------------------------------------- 10.7 text integrity


def mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252 (undefined bytes kept as their C1 code points, as Excel does)."""
    return "".join(chr(b) if 0x80 <= b <= 0x9F and bytes([b]).decode("cp1252", "replace") == "\ufffd"
                   else bytes([b]).decode("cp1252") for b in text.encode("utf-8"))


def test_mojibake_is_repaired_and_counted(tmp_path):
    texts = ["📩 New paper out", "Café scientifique ❤️ 🧪", "Plain ASCII text", "Naïve Bayes — a primer"]
    assert mojibake(texts[0]).startswith("ðŸ“©")
    rows = [tweet(f"146500000000000000{i}", f"2021-11-30 1{i}:00 +0000", mojibake(t) if i != 2 else t)
            for i, t in enumerate(texts)]
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, rows)
    r = read_files([f], root=tmp_path, now=pd.Timestamp("2022-01-15", tz="UTC"))
    got = r.posts.set_index("post_id")["text"]
    assert [got[f"146500000000000000{i}"] for i in range(4)] == texts
    assert warned(r, "t.csv: 3 row(s) of text repaired from mojibake")


def test_clean_text_is_left_alone():
    clean = pd.Series(["Café £5 — “quoted” 🧪", "Ãœber is not a word here? no: Über", "naïve"], dtype="string")
    out, repaired, unsure = repair_mojibake(clean)
    assert out.tolist()[0] == clean.tolist()[0] and out.tolist()[2] == "naïve"
    assert repaired + unsure <= 1


def test_header_on_the_last_line_is_located(tmp_path):
    rows = [tweet("1465000000000000001", "2021-11-30 16:00 +0000"), tweet("1465000000000000002", "2021-11-29 16:00 +0000")]
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerows(rows)
    w.writerow(TWEETS_HEADER)
    f = tmp_path / "concatenated.csv"
    f.write_text(buf.getvalue())
    with pytest.raises(InputError, match=r"concatenated\.csv: line 1 is not a header .* line 3 of 3 is the header of "
                                         r"a X/Twitter legacy per-tweet export .*the last line: a hand-concatenated"):
        read_files([f], root=tmp_path)


def test_card_platform_fills_a_hand_kept_sheet(tmp_path):
    (tmp_path / "anchors.csv").write_text("date,followers,new_follows\n2025-08-01,30000,20\n2025-08-02,,12\n")
    shutil.copy(META / "facebook_content.csv", tmp_path / "content.csv")
    ds = parse_card({"name": "t", "posts": ["content.csv"],
                     "account": [{"path": "anchors.csv", "platform": "facebook"}]}, tmp_path)
    r = read_exports(ds, now=NOW)
    check_accounting(r)
    a = r.account
    assert a["platform"].eq("facebook").all()
    assert a["followers"].tolist()[0] == 30000 and pd.isna(a["followers"].tolist()[1])  # never filled from follows
    assert a["new_follows"].tolist() == [20, 12]


def test_publish_time_bug_not_claimed_for_a_fixed_schedule_in_one_month():
    from workbench.ingest.meta_suite import parse_publish_times, publish_time_bug

    one_month = pd.Series(["05/01/2025 14:05", "05/08/2025 18:05", "05/15/2025 14:05"], dtype="string")
    assert publish_time_bug(parse_publish_times(one_month)) == ""
    months = pd.Series(["05/01/2025 09:05", "06/08/2025 03:06", "07/15/2025 10:07"], dtype="string")
    assert "minute equals the month in 3 of 3" in publish_time_bug(parse_publish_times(months))
    random = pd.Series(["05/01/2025 09:41", "06/08/2025 03:06", "07/15/2025 10:07"], dtype="string")
    assert publish_time_bug(parse_publish_times(random)) == ""


def test_ids_excel_turned_into_numbers_are_named(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rows = list(csv.reader(io.StringIO((META / "facebook_content.csv").read_text(encoding="utf-8-sig"))))
    wb = openpyxl.Workbook()
    wb.active.append(rows[0])
    wb.active.append([float(rows[1][0]), *rows[1][1:]])  # Excel stores the long id as a number
    wb.save(tmp_path / "resaved.xlsx")
    r = read_files([tmp_path / "resaved.xlsx"], root=tmp_path, now=NOW)
    check_accounting(r)
    assert r.posts.empty
    assert "a spreadsheet turned the id into a number and kept only 15 digits" in r.quarantine["reason"].iloc[0]


def test_page_export_inside_a_zip_resolves_like_a_folder(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    z = raw / "meta_export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted((META / "page_export_fb").glob("*.csv")):
            zf.write(f, f.name)
    # an Instagram series next to the zip is not one of the zip's neighbours
    shutil.copy(META / "page_export_mixed" / "Follows (1).csv", raw / "Follows (1).csv")
    r = read_files([z, raw / "Follows (1).csv"], root=tmp_path, now=NOW)
    check_accounting(r)
    assert r.quarantine.empty
    views = r.account.loc[r.account["source_file"].eq("raw/meta_export.zip!Views.csv")]
    assert len(views) == 3 and views["platform"].eq("facebook").all()
    assert r.account.loc[r.account["source_file"].eq("raw/Follows (1).csv"), "platform"].eq("instagram").all()
