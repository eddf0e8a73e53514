"""LinkedIn Page exports (.xls): synthetic BIFF workbooks, inline variants and the real (re-saved) export.

tests/data/ingest/linkedin/*.xls are written from the rows below by running this file with Python (needs the
``xlwt`` package, not a project dependency); a test checks the committed files hold exactly these rows.
Expected values are worked out by hand from the rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_ingest_facebook import spreadsheetml

from workbench.errors import InputError
from workbench.ingest import detect_format, read_exports, read_files
from workbench.ingest.linkedin import page_name_from_file
from workbench.ingest.workbook import read_workbook
from workbench.schema import POSTS_SCHEMA

DATA = Path(__file__).parent / "data" / "ingest" / "linkedin"
NOW = pd.Timestamp("2026-01-01", tz="UTC")
CONTENT = DATA / "synthlab_content_1742193384396.xls"
FOLLOWERS = DATA / "synthlab_followers_1742193384396.xls"


def activity_id(utc: str, low: int = 4242) -> str:
    """A LinkedIn-style id: Unix milliseconds in the top 41 bits (what real ids decode to)."""
    ms = pd.Timestamp(utc).value // 10**6
    return str((ms << 22) | low)


POSTS_HEADER = ["Post title", "Post link", "Post type", "Campaign name", "Posted by", "Created date",
                "Campaign start date", "Campaign end date", "Audience", "Impressions", "Views", "Offsite Views",
                "Clicks", "Click through rate (CTR)", "Likes", "Comments", "Reposts", "Follows", "Engagement rate",
                "Content Type"]
METRICS_HEADER = ["Date", "Impressions (organic)", "Impressions (sponsored)", "Impressions (total)",
                  "Unique impressions (organic)", "Clicks (organic)", "Clicks (sponsored)", "Clicks (total)",
                  "Reactions (organic)", "Reactions (sponsored)", "Reactions (total)", "Comments (organic)",
                  "Comments (sponsored)", "Comments (total)", "Reposts (organic)", "Reposts (sponsored)",
                  "Reposts (total)", "Engagement rate (organic)", "Engagement rate (sponsored)",
                  "Engagement rate (total)"]
FOLLOWERS_HEADER = ["Date", "Sponsored followers", "Organic followers", "Total followers"]
ID1 = activity_id("2025-03-14 05:59:07.451")
ID2 = activity_id("2025-03-12 10:36:32.055")
ID3 = activity_id("2025-03-11 17:09:56.935")
LINK = "https://www.linkedin.com/feed/update/urn:li:activity:"


def _post(title, pid, created, imp, views, clicks, likes, comments, reposts, follows, content="", link=None):
    eng = (clicks + likes + comments + reposts + (follows or 0)) / imp if imp else 0.0
    return [title, link or LINK + pid, "Organic", "", "A. Person", created, "", "", "All followers", imp, views, "",
            clicks, clicks / imp if imp else 0.0, likes, comments, reposts, "" if follows is None else follows, eng,
            content]


POSTS = [
    _post("Launch day!\n\nRead the paper #openscience", ID1, "03/14/2025", 26, "", 2, 1, 1, 0, None, "Image"),
    _post("Our new video", ID2, "03/12/2025", 19, 7, 0, 3, 0, 1, 2, "Video"),
    _post("A text update", ID3, "03/11/2025", 7, "", 0, 0, 0, 0, None),
    _post("Bad date", ID3[:-1] + "9", "2025-13-45", 5, "", 0, 0, 0, 0, None),
    _post("No id in the link", "", "03/10/2025", 5, "", 0, 0, 0, 0, None,
          link="https://www.linkedin.com/company/synthlab/"),
]
METRICS = [  # date, impressions organic/sponsored, clicks, reactions, comments, reposts (organic totals only)
    ("03/10/2025", 10, 0, 1, 1, 0, 0),
    ("03/11/2025", 20, 5, 2, 1, 1, 0),
    ("03/12/2025", 0, 0, 0, 0, 0, 0),
    ("03/13/2025", 8, 0, 1, 0, 0, 1),
]


def _metrics_row(date, org, spon, clicks, reactions, comments, reposts, *, bad_rate=False):
    total = org + spon
    eng = clicks + reactions + comments + reposts
    rate = (eng / total if total else 0.0) + (0.5 if bad_rate else 0.0)
    return [date, org, spon, total, org, clicks, 0, clicks, reactions, 0, reactions, comments, 0, comments,
            reposts, 0, reposts, rate, 0.0, rate]


DESCRIPTION = "Aggregated metrics for the page's posts. Data is in your local time zone."


def content_sheets(*, description: bool = True) -> dict[str, list[list]]:
    lead = [[DESCRIPTION]] if description else []
    metrics = [_metrics_row(*m, bad_rate=(m[0] == "03/13/2025")) for m in METRICS]
    return {"Metrics": lead + [METRICS_HEADER] + metrics, "All posts": lead + [POSTS_HEADER] + POSTS}


FOLLOWER_ROWS = [["03/10/2025", 0, 3, 3], ["03/11/2025", 1, 4, 5], ["03/12/2025", 0, "n/a?", "x"],
                 ["03/13/2025", 0, 0, 0]]


def followers_sheets() -> dict[str, list[list]]:
    return {"New followers": [FOLLOWERS_HEADER] + FOLLOWER_ROWS, "Location": [["Location", "Total followers"],
                                                                              ["Geneva", 12]]}


def write_synthetic_files(folder: Path = DATA) -> None:  # pragma: no cover - needs xlwt
    import xlwt

    folder.mkdir(parents=True, exist_ok=True)
    for path, sheets in ((CONTENT, content_sheets()), (FOLLOWERS, followers_sheets())):
        book = xlwt.Workbook(encoding="utf-8")
        for name, rows in sheets.items():
            ws = book.add_sheet(name)
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    ws.write(r, c, v)
        book.save(str(path))


def _text(v) -> str:
    if isinstance(v, float) and not v.is_integer():
        return repr(v)
    return str(int(v)) if isinstance(v, (int, float)) else v


def _rstrip(cells: list[str]) -> list[str]:
    while cells and cells[-1] == "":
        cells = cells[:-1]
    return cells


def test_committed_files_hold_these_rows():
    for path, sheets in ((CONTENT, content_sheets()), (FOLLOWERS, followers_sheets())):
        book = read_workbook(path)
        assert book.container == "biff" and list(book.sheets) == list(sheets)
        for name, rows in sheets.items():
            got = [_rstrip(r) for r in book.sheets[name].rows]  # BIFF rows are padded to the sheet's width
            assert got == [_rstrip([_text(v) for v in row]) for row in rows], name


def test_detected_by_content_in_any_workbook_container(tmp_path):
    assert detect_format(CONTENT) == "linkedin_posts"
    assert detect_format(FOLLOWERS) == "linkedin_followers"
    xml = tmp_path / "renamed.xls"
    xml.write_bytes(spreadsheetml(content_sheets(description=False)))
    assert detect_format(xml) == "linkedin_posts"
    assert page_name_from_file(CONTENT.name) == "synthlab" and page_name_from_file("x.xls") == ""


def test_content_posts_values():
    r = read_files([CONTENT], root=DATA, now=NOW)
    logs = {f["table"]: f for f in r.log["files"]}
    assert set(logs) == {"posts", "account"}
    p = logs["posts"]
    assert (p["format"], p["rows_read"], p["rows_kept"], p["rows_quarantined"]) == ("linkedin_posts", 5, 3, 2)
    posts = r.posts.set_index("post_id")
    assert list(r.posts.columns[: len(POSTS_SCHEMA)]) == list(POSTS_SCHEMA)
    assert list(posts.index) == [f"urn:li:activity:{i}" for i in (ID3, ID2, ID1)]
    one = posts.loc[f"urn:li:activity:{ID1}"]
    # the exact instant comes from the id; Created date only confirms the day
    assert one["published_at"] == pd.Timestamp("2025-03-14 05:59:07.451", tz="UTC")
    assert (one["impressions"], one["url_clicks"], one["likes"], one["replies"], one["reposts"]) == (26, 2, 1, 1, 0)
    assert one["engagements"] == 4  # clicks + likes + comments + reposts (+ follows): LinkedIn's definition
    assert pd.isna(one["follows"]) and pd.isna(one["media_views"])  # empty cells: not applicable → NA
    assert one["text"] == "Launch day!\n\nRead the paper #openscience"
    assert one["media_type"] == "photo" and one["account"] == "synthlab"
    two = posts.loc[f"urn:li:activity:{ID2}"]
    assert (two["media_views"], two["follows"], two["engagements"], two["media_type"]) == (7, 2, 6, "video")
    assert pd.isna(posts.loc[f"urn:li:activity:{ID3}", "media_type"])
    for col in ("reach", "quotes", "bookmarks", "profile_clicks"):
        assert r.posts[col].isna().all(), col
    assert (~r.posts["is_reply"]).all() and r.posts["is_repost"].isna().all()
    # rows are numbered as in the sheet: description row 1, header row 2, first post row 3
    assert posts["source_row"].tolist() == [5, 4, 3]
    reasons = r.quarantine.set_index("source_row")["reason"]
    assert "Created date '2025-13-45' is not a date" in reasons[6]
    assert "Post link 'https://www.linkedin.com/company/synthlab/' holds no urn" in reasons[7]
    assert not any("post row(s)" in w or "without a time of day" in w for w in r.log["warnings"])


def test_content_metrics_to_account():
    r = read_files([CONTENT], root=DATA, now=NOW)
    log = next(f for f in r.log["files"] if f["table"] == "account")
    assert (log["format"], log["rows_read"], log["rows_kept"]) == ("linkedin_metrics", 4, 4)
    a = r.account
    assert a["date"].dt.strftime("%m/%d/%Y").tolist() == [m[0] for m in METRICS]
    assert a["impressions"].tolist() == [10, 25, 0, 8]
    assert a["engagements"].tolist() == [2, 4, 0, 2]
    assert a[["followers", "new_follows", "unfollows", "posts"]].isna().all().all()
    assert a["source_row"].tolist() == [3, 4, 5, 6]
    # the file's 03/13 engagement rate was made inconsistent on purpose: the check reports it
    assert any("1 Metrics row(s)" in w and "03/13/2025" in w for w in r.log["warnings"])


def test_followers_export():
    r = read_files([FOLLOWERS], root=DATA, now=NOW)
    (log,) = r.log["files"]
    assert (log["format"], log["table"], log["rows_read"], log["rows_kept"], log["rows_quarantined"]) == (
        "linkedin_followers", "account", 4, 3, 1)
    a = r.account
    assert a["new_follows"].tolist() == [3, 5, 0]
    assert a["followers"].isna().all() and a["unfollows"].isna().all()  # LinkedIn gives neither
    assert "column 'Total followers': 'x' is not a number" in r.quarantine["reason"][0]
    assert r.quarantine["source_row"][0] == 4


def test_header_found_without_description_row(tmp_path):
    f = tmp_path / "synthlab_content_1.xls"  # too short an epoch: no page name from the file name
    f.write_bytes(spreadsheetml(content_sheets(description=False)))
    r = read_files([f], now=NOW)
    posts = r.posts.set_index("post_id")
    assert posts["source_row"].tolist() == [4, 3, 2]
    assert posts.loc[f"urn:li:activity:{ID1}", "engagements"] == 4
    assert r.posts["account"].isna().all()


def test_time_from_created_date_when_the_id_disagrees(tmp_path):
    sheets = content_sheets()
    bad = list(POSTS[2])
    bad[5] = "01/01/2024"  # the id says 2025-03-11
    sheets["All posts"] = sheets["All posts"][:2] + [bad]
    f = tmp_path / "c.xls"
    f.write_bytes(spreadsheetml(sheets))
    r = read_files([f], now=NOW)
    assert r.posts["published_at"].tolist() == [pd.Timestamp("2024-01-01", tz="UTC")]
    assert any("1 post(s) without a time of day" in w for w in r.log["warnings"])


def test_listed_under_the_wrong_key(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "f.xls").write_bytes(FOLLOWERS.read_bytes())
    (tmp_path / "dataset.yml").write_text("name: t\ntitle: t\ntimezone: UTC\nposts: [raw/f.xls]\n")
    from workbench.dataset import load_dataset

    with pytest.raises(InputError, match=r"raw/f\.xls: listed under 'posts'.*LinkedIn Page followers export"):
        read_exports(load_dataset(tmp_path), now=NOW)


def test_real_linkedin_export(shared_fixtures):
    f = shared_fixtures / "exports" / "linkedin" / "pro-efficient-data-entry_content_1742193384396.xls"
    assert detect_format(f) == "linkedin_posts"
    r = read_files([f], root=f.parent, now=NOW)
    logs = {x["table"]: x for x in r.log["files"]}
    assert (logs["posts"]["rows_read"], logs["posts"]["rows_kept"]) == (8, 8)
    assert (logs["account"]["rows_read"], logs["account"]["rows_kept"]) == (30, 30)
    assert r.quarantine.empty
    assert not any("engagement rate" in w for w in r.log["warnings"])  # our sum = LinkedIn's rate
    p = r.posts.set_index("post_id").loc["urn:li:activity:7306192134921981953"]
    assert (p["impressions"], p["url_clicks"], p["engagements"]) == (26, 2, 2)
    assert p["published_at"] == pd.Timestamp("2025-03-14 05:59:07.451", tz="UTC")
    # every decoded instant falls on the printed Created date (UTC)
    assert r.posts["published_at"].dt.strftime("%Y-%m-%d").tolist() == sorted(
        ["2025-03-14", "2025-03-12", "2025-03-11", "2025-03-08", "2025-03-05", "2025-03-01", "2025-02-21",
         "2025-02-19"])
    a = r.account.set_index(r.account["date"].dt.strftime("%Y-%m-%d"))
    assert a.loc["2025-02-21", "impressions"] == 77 and a.loc["2025-02-21", "engagements"] == 1


if __name__ == "__main__":  # pragma: no cover
    write_synthetic_files()
    print(f"wrote {CONTENT.name} and {FOLLOWERS.name} to {DATA}")
