"""Facebook legacy Insights exports (XML Spreadsheet 2003 ``.xls``): synthetic files and the real ones.

The synthetic files in tests/data/ingest/facebook/ are written by :func:`write_synthetic_files` (run this file
with Python to regenerate them); a test checks they are what the builder makes. Expected values below are
worked out by hand from the rows defined here.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError, UnknownFormatError
from workbench.ingest import detect_format, read_files
from workbench.ingest.facebook_legacy import header_names, page_name_from_file, qualifier
from workbench.ingest.workbook import clean_xml_text, read_spreadsheetml, sniff_workbook
from workbench.schema import POSTS_SCHEMA

DATA = Path(__file__).parent / "data" / "ingest" / "facebook"
NOW = pd.Timestamp("2026-01-01", tz="UTC")

# ---- a small XML Spreadsheet 2003 writer (what Facebook's exporter emits) ------------------------------------


def _cell(v) -> str:
    if v is None:
        return "<Cell/>"
    if isinstance(v, tuple):  # (type, text)
        kind, text = v
        return f'<Cell><Data ss:Type="{kind}">{escape(str(text))}</Data></Cell>'
    if isinstance(v, (int, float)):
        return f'<Cell><Data ss:Type="Number">{v}</Data></Cell>'
    return f'<Cell><Data ss:Type="String">{escape(str(v))}</Data></Cell>'


def spreadsheetml(sheets: dict[str, list[list]]) -> bytes:
    """XML Spreadsheet 2003 bytes: cells are str (String), int/float (Number), ("DateTime", text) or None."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"'
             ' xmlns:x="urn:schemas-microsoft-com:office:excel" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"'
             ' xmlns:html="http://www.w3.org/TR/REC-html40">\n<Styles><Style ss:ID="s17"><NumberFormat '
             'ss:Format="m/d/yy"/></Style></Styles>\n']
    for name, rows in sheets.items():
        parts.append(f'<Worksheet ss:Name="{escape(name)}"><Table>\n')
        for row in rows:
            parts.append("<Row>" + "".join(_cell(v) for v in row) + "</Row>\n")
        parts.append("</Table></Worksheet>\n")
    parts.append("</Workbook>\n")
    return "".join(parts).encode("utf-8")


def dt(text: str) -> tuple[str, str]:
    return ("DateTime", text)


# ---- the synthetic post-level export ----------------------------------------------------------------------------

LEAD = ["Post ID", "Permalink", "Post Message", "Type", "Countries", "Languages", "Posted", "Audience Targeting"]
# (readable name, API name, qualifier) in the real export's order; video names are duplicated, as in reality
METRICS = [
    ("Lifetime Post Total Reach", "post_impressions_unique:lifetime", "Unique Users"),
    ("Lifetime Post organic reach", "post_impressions_organic_unique:lifetime", "Unique Users"),
    ("Lifetime Post Total Impressions", "post_impressions:lifetime", "Total Count"),
    ("Lifetime Engaged Users", "post_engaged_users:lifetime", "Unique Users"),
    ("Lifetime Post Consumptions", "post_consumptions:lifetime", "Total Count"),
    ("Lifetime Organic Video Views", "post_video_views_organic_unique:lifetime", "Unique Users"),
    ("Lifetime Organic Video Views", "post_video_views_organic:lifetime", "Total Count"),
]
BREAK = ["Description", "Post ID", "Permalink", "Post Message", "Type", "Countries", "Languages", "Posted",
         "Audience Targeting"]
PAGE_ID = "1000000000000001"

# post id suffix, type, Posted (Pacific, no zone), reach, organic reach, impressions, engaged, consumptions,
# video unique, video total
POSTS = [
    ("2001", "Photo", "2021-03-10T09:15:00.000", 100, 90, 150, 20, 30, 0, 0),
    ("2002", "Video", "2021-07-04T18:00:00.000", 500, 480, 900, 60, 70, 300, 410),
    ("2003", "Link", "2021-11-07T01:30:00.000", 40, 40, 55, 6, 8, 0, 0),  # the repeated autumn hour
    ("2004", "Status", "2021-12-01T08:00:00.000", 30, 30, "12x", 2, 3, 0, 0),  # bad impressions
    ("", "Photo", "2021-12-02T08:00:00.000", 1, 1, 1, 1, 1, 0, 0),  # no Post ID
    ("2006", "Photo", "2021-12-03T08:00:00.000", 10, 10, 12, 1, 1, 0, 0),  # absent from the stories sheet
]
# stories by action type: post → {key: value}; None = empty cell (the breakdown omits zero keys)
STORIES = {"2001": (10, 3, 2), "2002": (7, None, 4), "2003": (1, 0, None), "2004": (0, 0, 0)}
LINK_CLICKS = {"2001": 5, "2002": None, "2003": 9, "2004": 0, "2006": 2}


def _lead(pid: str, kind: str, posted: str, n: int) -> list:
    full = f"{PAGE_ID}_{pid}" if pid else ""
    link = (f"https://www.facebook.com/synthlab/videos/{pid}/" if kind == "Video"
            else f"https://www.facebook.com/synthlab/posts/{pid}:0")
    return [full, link, f"Synthetic post {n} &amp; more\nsecond line", kind, None, None, dt(posted), " "]


def post_level(api_names: bool = False, *, stories_keys=("share", "like", "comment")) -> bytes:
    header = LEAD + [api if api_names else readable for readable, api, _ in METRICS]
    desc = [None] * len(LEAD) + [f"Lifetime: synthetic description. ({q})" for _, _, q in METRICS]
    key_rows = [header, desc]
    for n, (pid, kind, posted, *vals) in enumerate(POSTS, start=1):
        key_rows.append(_lead(pid, kind, posted, n) + list(vals))
    stories = [BREAK + list(stories_keys)]
    for n, (pid, kind, posted, *_) in enumerate(POSTS, start=1):
        if pid in STORIES:
            like, comment, share = STORIES[pid]
            by_key = {"like": like, "comment": comment, "share": share}
            first = "Lifetime: The number of stories created about your Page post, by action type." if n == 1 else None
            stories.append([first, *_lead(pid, kind, posted, n), *[by_key[k] for k in stories_keys]])
    cons = [BREAK + ["other clicks", "photo view", "link clicks"]]
    for n, (pid, kind, posted, *_) in enumerate(POSTS, start=1):
        if pid in LINK_CLICKS:
            cons.append([None, *_lead(pid, kind, posted, n), 1, 1, LINK_CLICKS[pid]])
    return spreadsheetml({"Key Metrics": key_rows, "Lifetime Talking About This(...": stories[:1],
                          "Lifetime Post Stories by act...": stories, "Lifetime Post Consumptions b...": cons})


PAGE_ROWS = [  # Date, fans (absolute), adds, removes, impressions, engaged users
    ("2021-03-01T00:00:00.000", 1000, 12, 2, 5000, 300),
    ("2021-03-02T00:00:00.000", 1010, 11, 1, 5100, 310),
    ("2021-03-03T00:00:00.000", 1009, 0, 1, 4800, 290),
    ("2021-03-04T00:00:00.000", "lots", 3, 0, 4000, 200),  # bad fan count
]


def page_level(*, readable: bool = False) -> bytes:
    names = (["Date", "Lifetime Total Likes", "Daily New Likes", "Daily Unlikes", "Daily Total Impressions",
              "Daily Page Engaged Users"] if readable else
             ["Date", "page_fans:lifetime", "page_fan_adds_unique:day", "page_fan_removes_unique:day",
              "page_impressions:day", "page_engaged_users:day"])
    desc = [None, "Lifetime: total likes. (Unique Users)", "Daily: new likes. (Unique Users)",
            "Daily: unlikes. (Unique Users)", "Daily: impressions. (Total Count)", "Daily: engaged. (Unique Users)"]
    rows = [names, desc] + [[dt(d), *v] for d, *v in PAGE_ROWS]
    xml = spreadsheetml({"Key Metrics": rows, "Daily Page Engaged Users": [["Date"]]})
    # real page-level files hold broken bytes (FORMATS.md §3a): an invalid UTF-8 sequence and a control char
    return xml.replace(b"Daily: new likes.", b"Daily: new \xc4?likes\x0b.")


SYNTHETIC = {
    "Facebook Insights Data Export (Post Level) - Synth Lab - 2022-01-05.xls": lambda: post_level(),
    "Facebook Insights Data Export (Post Level) - Synth Lab - 2021-12-20.xls": lambda: post_level(
        api_names=True, stories_keys=("like", "comment")),
    "Facebook Insights Data Export - Synth Lab - 2021-03-05.xls": lambda: page_level(),
}


def write_synthetic_files(folder: Path = DATA) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in SYNTHETIC.items():
        (folder / name).write_bytes(make())


HUMAN = DATA / "Facebook Insights Data Export (Post Level) - Synth Lab - 2022-01-05.xls"
API = DATA / "Facebook Insights Data Export (Post Level) - Synth Lab - 2021-12-20.xls"
PAGE = DATA / "Facebook Insights Data Export - Synth Lab - 2021-03-05.xls"


# ---- tests ------------------------------------------------------------------------------------------------------


def test_committed_synthetic_files_are_what_the_builder_writes():
    for name, make in SYNTHETIC.items():
        assert (DATA / name).read_bytes() == make(), f"regenerate with: python {Path(__file__).name}"


def test_detected_by_content_not_name(tmp_path):
    assert detect_format(HUMAN) == "facebook_legacy_posts"
    assert detect_format(API) == "facebook_legacy_posts"
    assert detect_format(PAGE) == "facebook_legacy_page"
    renamed = tmp_path / "export.csv"  # a misleading name changes nothing
    renamed.write_bytes(HUMAN.read_bytes())
    assert detect_format(renamed) == "facebook_legacy_posts"
    assert sniff_workbook(HUMAN.read_bytes()[:4096])
    assert not sniff_workbook(b"Post ID,Permalink\n1,2\n")


def test_header_names_disambiguate_duplicates_with_row_two():
    names = ["Post ID", "Lifetime Organic Video Views", "Lifetime Organic Video Views", "Lifetime Post Total Reach"]
    desc = ["", "Lifetime: views. (Unique Users)", "Lifetime: views. (Total Count)", "Lifetime: reach. (Unique Users)"]
    assert header_names(names, desc) == ["Post ID", "Lifetime Organic Video Views (Unique Users)",
                                         "Lifetime Organic Video Views (Total Count)", "Lifetime Post Total Reach"]
    assert qualifier("Lifetime: x (y). (Total Count)") == "Total Count"
    assert qualifier("no qualifier") == ""
    assert page_name_from_file("Facebook Insights Data Export (Post Level) - My Page - 2017-10-22.xls") == "My Page"
    assert page_name_from_file("export.xls") == ""


def _by_id(posts: pd.DataFrame) -> pd.DataFrame:
    return posts.set_index(posts["post_id"].str.split("_").str[1])


@pytest.mark.parametrize("path", [HUMAN, API], ids=["readable-names", "api-names"])
def test_post_level_values(path):
    r = read_files([path], root=DATA, now=NOW)
    (log,) = r.log["files"]
    assert (log["format"], log["table"], log["rows_read"], log["rows_kept"], log["rows_quarantined"]) == (
        "facebook_legacy_posts", "posts", 6, 4, 2)
    assert log["rows_read"] == log["rows_kept"] + log["rows_quarantined"] + log["rows_superseded"]
    p = _by_id(r.posts)
    assert list(r.posts.columns[: len(POSTS_SCHEMA)]) == list(POSTS_SCHEMA)
    assert sorted(p.index) == ["2001", "2002", "2003", "2006"]
    assert (r.posts["post_id"].str.startswith(PAGE_ID + "_")).all()
    assert p.loc["2001", ["reach", "impressions", "engagements"]].tolist() == [100, 150, 20]
    assert p.loc["2002", ["reach", "impressions", "engagements"]].tolist() == [500, 900, 60]
    # likes / comments / shares from the stories sheet; an empty cell there is 0, a missing post NA
    assert p.loc["2001", ["likes", "replies"]].tolist() == [10, 3]
    assert p.loc["2002", ["likes", "replies"]].tolist() == [7, 0]
    assert p.loc["2006", ["likes", "replies", "reposts"]].isna().all()
    assert p.loc["2001", "url_clicks"] == 5 and p.loc["2002", "url_clicks"] == 0 and p.loc["2006", "url_clicks"] == 2
    if path == API:  # no post had a share: the key is absent from the sheet → 0 for every listed post
        assert p.loc[["2001", "2002", "2003"], "reposts"].tolist() == [0, 0, 0]
    else:
        assert p.loc[["2001", "2002", "2003"], "reposts"].tolist() == [2, 4, 0]
    # metrics the export does not have are NA, never 0
    for col in ("quotes", "bookmarks", "profile_clicks", "media_views", "follows"):
        assert r.posts[col].isna().all(), col
    assert p.loc[["2001", "2002", "2003", "2006"], "media_type"].tolist() == ["photo", "video", "link_card", "photo"]
    assert p["platform"].astype(str).eq("facebook").all() and p["account"].eq("Synth Lab").all()
    assert p.loc["2001", "text"] == "Synthetic post 1 &amp; more\nsecond line"
    assert p.loc["2002", "permalink"] == "https://www.facebook.com/synthlab/videos/2002/"
    assert p.loc["2001", "source_row"] == 3 and p.loc["2006", "source_row"] == 8  # header 1, descriptions 2
    # only 2006 is missing from the stories sheet (the quarantined row without an id is not counted)
    assert [w.split(": ", 1)[1] for w in r.log["warnings"] if "missing from sheet" in w] == [
        "1 post(s) missing from sheet 'Lifetime Post Stories by act...'; their likes, replies, reposts are NA"]


def test_posted_is_pacific_time_converted_to_utc():
    p = _by_id(read_files([HUMAN], now=NOW).posts)
    assert p.loc["2001", "published_at"] == pd.Timestamp("2021-03-10 17:15", tz="UTC")  # PST, UTC-8
    assert p.loc["2002", "published_at"] == pd.Timestamp("2021-07-05 01:00", tz="UTC")  # PDT, UTC-7
    assert p.loc["2003", "published_at"] == pd.Timestamp("2021-11-07 09:30", tz="UTC")  # repeated hour: PST


def test_bad_rows_are_quarantined_with_column_and_value():
    q = read_files([HUMAN], root=DATA, now=NOW).quarantine
    assert q["source_row"].tolist() == [6, 7]
    assert "Lifetime Post Total Impressions" in q["reason"][0] and "'12x' is not a number" in q["reason"][0]
    assert q["reason"][1] == "empty Post ID"
    assert set(q["source_file"]) == {HUMAN.name}


def test_overlapping_exports_keep_the_latest_snapshot():
    r = read_files([API, HUMAN], root=DATA, now=NOW)
    logs = {f["file"]: f for f in r.log["files"]}
    # same posts and same published_at in both: the later file in sorted path order wins
    assert len(r.posts) == 4 and set(r.posts["source_file"]) == {HUMAN.name}
    older = logs[API.name]
    assert (older["rows_kept"], older["rows_superseded"], older["rows_quarantined"]) == (0, 4, 2)
    for f in r.log["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"]


def test_page_level_gives_absolute_followers_and_tolerates_broken_bytes():
    r = read_files([PAGE], root=DATA, now=NOW)
    (log,) = r.log["files"]
    assert (log["format"], log["table"], log["rows_read"], log["rows_kept"], log["rows_quarantined"]) == (
        "facebook_legacy_page", "account", 4, 3, 1)
    a = r.account
    assert a["date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-03-01", "2021-03-02", "2021-03-03"]
    assert a["followers"].tolist() == [1000, 1010, 1009]
    assert a["new_follows"].tolist() == [12, 11, 0] and a["unfollows"].tolist() == [2, 1, 1]
    assert a["impressions"].tolist() == [5000, 5100, 4800] and a["engagements"].tolist() == [300, 310, 290]
    assert a["posts"].isna().all()
    assert (a["platform"].astype(str) == "facebook").all() and (a["account"] == "Synth Lab").all()
    assert "'lots' is not a number" in r.quarantine["reason"][0] and r.quarantine["source_row"][0] == 6
    assert any("invalid UTF-8 byte sequence" in w for w in r.log["warnings"])


def test_page_level_readable_names(tmp_path):
    f = tmp_path / "page.xls"
    f.write_bytes(page_level(readable=True))
    r = read_files([f], now=NOW)
    assert r.account["followers"].tolist() == [1000, 1010, 1009]
    assert r.account["account"].isna().all()  # no page name in the file name: assigned later or left NA


def test_without_a_description_row_an_id_less_first_row_is_data(tmp_path):
    header = LEAD + [readable for readable, _, _ in METRICS[:4]]
    rows = [header, _lead("", "Photo", "2021-12-02T08:00:00.000", 1) + [1, 1, 1, 1],
            _lead("2001", "Photo", "2021-03-10T09:15:00.000", 2) + [100, 90, 150, 20]]
    f = tmp_path / "resaved.xls"
    f.write_bytes(spreadsheetml({"Key Metrics": rows}))
    r = read_files([f], now=NOW)
    assert r.quarantine["source_row"].tolist() == [2] and r.quarantine["reason"][0] == "empty Post ID"
    assert r.posts["source_row"].tolist() == [3] and r.posts["impressions"].tolist() == [150]


def test_clean_xml_text_counts_what_it_fixed():
    text, bad_bytes, bad_chars = clean_xml_text(b'<?xml version="1.0"?><a>x\xff\xfey\x01</a>')
    assert text == "<a>x\ufffd\ufffdy</a>" and bad_bytes == 2 and bad_chars == 1


def test_broken_xml_and_unknown_workbooks_fail_with_the_file_named(tmp_path):
    broken = tmp_path / "broken.xls"
    broken.write_bytes(post_level()[:-40])
    with pytest.raises(InputError, match=r"broken\.xls: cannot parse the XML spreadsheet"):
        read_files([broken], now=NOW)
    other = tmp_path / "other.xls"
    other.write_bytes(spreadsheetml({"Budget": [["Item", "Cost"], ["pens", 3]]}))
    with pytest.raises(UnknownFormatError, match=r"sheets \['Budget'\]"):
        read_files([other], now=NOW)


def test_spreadsheetml_index_and_merge_attributes():
    xml = (b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
           b'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="S"><Table>'
           b'<Row><Cell><Data ss:Type="String">a</Data></Cell><Cell ss:Index="3"><Data ss:Type="Number">3</Data>'
           b'</Cell></Row><Row ss:Index="5"><Cell ss:MergeAcross="1"><Data ss:Type="String">m</Data></Cell>'
           b'<Cell><Data ss:Type="String">z</Data></Cell></Row></Table></Worksheet></Workbook>')
    sheet = read_spreadsheetml(xml).sheets["S"]
    assert sheet.rows == [["a", "", "3"], ["m", "", "z"]] and sheet.numbers == [1, 5]


_XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.text(_XML_CHARS, max_size=12), st.integers(0, 10**12)), min_size=1,
                         max_size=5), min_size=1, max_size=6))
def test_spreadsheetml_round_trip(rows):
    """Any cell text survives writing and reading, less the characters XML 1.0 cannot hold."""
    sheet = read_spreadsheetml(spreadsheetml({"S": rows})).sheets["S"]
    invalid = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
    assert sheet.rows == [[invalid.sub("", str(v)) for v in row] for row in rows]
    assert sheet.numbers == list(range(1, len(rows) + 1))


# ---- the real exports (../shared/fixtures), skipped when absent ----------------------------------------------

REAL = {  # file → (posts, first post id, its likes/comments/shares from the stories sheet)
    "Facebook Insights Data Export (Post Level) - LOK - 2017-07-27.xls": 7,
    "Facebook Insights Data Export (Post Level) - LOK - 2017-10-22.xls": 12,
}


def test_real_facebook_exports(shared_fixtures):
    folder = shared_fixtures / "exports" / "facebook"
    files = [folder / n for n in REAL]
    for f in files:
        assert detect_format(f) == "facebook_legacy_posts"
    r = read_files(files, root=folder, now=NOW)
    for f in r.log["files"]:
        assert (f["rows_read"], f["rows_kept"], f["rows_quarantined"]) == (REAL[f["file"]], REAL[f["file"]], 0)
    assert r.quarantine.empty and len(r.posts) == 19
    p = r.posts.set_index("post_id")
    # values read off the sheets by hand (Key Metrics and "Lifetime Post Stories by act...")
    v = p.loc["1553363564876294_1911244905754823"]
    assert (v["reach"], v["impressions"], v["engagements"]) == (221231, 319665, 12885)
    assert (v["likes"], v["replies"], v["reposts"], v["url_clicks"]) == (2506, 166, 576, 240)
    assert v["media_type"] == "video" and v["published_at"] == pd.Timestamp("2017-07-22 12:30", tz="UTC")
    cover = p.loc["1553363564876294_1939999886212658"]  # empty share/comment cells → 0
    assert (cover["likes"], cover["replies"], cover["reposts"]) == (154, 0, 0)
    # "Chào tháng 10" (hello October): 10:00 Pacific = 17:00 UTC = midnight in Vietnam
    hello = p.loc["1553363564876294_1940000072879306"]
    assert hello["published_at"] == pd.Timestamp("2017-09-30 17:00", tz="UTC")
    assert hello["text"].startswith("Chào tháng 10")
    assert set(r.posts["media_type"].astype(str)) == {"photo", "video"}
    assert (r.posts["account"] == "LOK").all()


def test_real_readable_header_duplicates_are_told_apart(shared_fixtures):
    f = shared_fixtures / "exports" / "facebook" / "Facebook Insights Data Export (Post Level) - LOK - 2017-10-22.xls"
    from workbench.ingest.workbook import read_workbook

    sheet = read_workbook(f).sheets["Key Metrics"]
    names = header_names(sheet.rows[0], sheet.rows[1])
    assert len(names) == 34 and len(set(names)) == 34
    assert "Lifetime Organic Video Views (Unique Users)" in names and "Lifetime Organic Video Views (Total Count)" in names


if __name__ == "__main__":
    write_synthetic_files()
    print(f"wrote {len(SYNTHETIC)} files to {DATA}")
