"""Zip archives of exports: members read as their own files, ``zip!member`` provenance, junk and bombs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import workbench.ingest as ingest
from workbench.dataset import load_dataset
from workbench.errors import InputError, UnknownFormatError
from workbench.ingest import is_zip, read_exports, read_files, write_ingest_outputs

DATA = Path(__file__).parent / "data" / "ingest"
NOW = pd.Timestamp("2022-01-15 12:00", tz="UTC")


def _header(name: str) -> list[str]:
    return next(csv.reader(io.StringIO((DATA / f"header_{name}.csv").read_text())))


TWEETS_HEADER = _header("x_legacy_tweets")
DAILY_HEADER = _header("x_legacy_daily")
TWEETS_NAME = "tweet_activity_metrics_lab_20211101_20211201_en.csv"
DAILY_NAME = "daily_tweet_activity_metrics_lab_20211101_20211201_en.csv"


def tweet(tid: str, time: str, *, impressions: str = "100.0", likes: str = "3") -> list[str]:
    """One legacy per-tweet row (counts as the export writes them)."""
    vals = {"Tweet id": tid, "Tweet permalink": f"https://twitter.com/lab/status/{tid}", "Tweet text": "Hi #rstats",
            "time": time, "impressions": impressions, "engagements": "10.0", "likes": likes}
    return [vals.get(c, "-" if c.startswith("promoted") else "0") for c in TWEETS_HEADER]


def daily_row(date: str, published: int, impressions: int) -> list[str]:
    vals = {"Date": date, "Tweets published": str(published), "impressions": str(impressions), "engagements": "5"}
    return [vals.get(c, "-" if c.startswith("promoted") else "0") for c in DAILY_HEADER]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


# Two overlapping snapshots: post ...02 is in both (the later snapshot wins), one row is quarantined.
FILE_A = csv_bytes(TWEETS_HEADER, [
    tweet("1465000000000000002", "2021-11-20 10:00 +0000", likes="4"),
    tweet("1465000000000000001", "2021-11-10 10:00 +0000"),
    tweet("1465000000000000009", "2021-11-05 10:00 +0000", impressions="oops"),
])
FILE_B = csv_bytes(TWEETS_HEADER, [
    tweet("1465000000000000003", "2021-11-28 10:00 +0000"),
    tweet("1465000000000000002", "2021-11-20 10:00 +0000", likes="7"),
])
DAILY = csv_bytes(DAILY_HEADER, [daily_row("2021-11-01", 1, 500), daily_row("2021-11-02", 0, 300)])


def make_zip(path: Path, members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in members.items():
            if name.endswith("/"):
                z.writestr(zipfile.ZipInfo(name), b"")  # a directory entry
            else:
                z.writestr(name, data)
    return path


def check_accounting(result) -> None:
    for f in result.log["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"], f


def test_zip_equals_reading_the_files(tmp_path):
    direct = tmp_path / "direct"
    (direct / "2021").mkdir(parents=True)
    (direct / "a.csv").write_bytes(FILE_A)
    (direct / "2021" / "b.csv").write_bytes(FILE_B)
    ref = read_files([direct / "a.csv", direct / "2021" / "b.csv"], root=direct, now=NOW)

    z = make_zip(tmp_path / "exports.zip", {"a.csv": FILE_A, "2021/": b"", "2021/b.csv": FILE_B,
                                            "__MACOSX/2021/._b.csv": b"\x00\x05\x16\x07junk", ".DS_Store": b"\x00\x01"})
    digest = hashlib.sha256(z.read_bytes()).hexdigest()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    got = read_files([z], root=tmp_path, now=NOW)
    check_accounting(got)

    # the same posts, values and rows; only source_file differs, as zip!member
    assert got.posts["source_file"].tolist() == ["exports.zip!" + f for f in ref.posts["source_file"]]
    pd.testing.assert_frame_equal(got.posts.drop(columns="source_file"), ref.posts.drop(columns="source_file"))
    assert got.posts["post_id"].tolist() == ["1465000000000000001", "1465000000000000002", "1465000000000000003"]
    assert got.posts.set_index("post_id").loc["1465000000000000002", "likes"] == 7  # the later snapshot
    assert got.quarantine["source_file"].tolist() == ["exports.zip!a.csv"]
    pd.testing.assert_frame_equal(got.quarantine.drop(columns="source_file"),
                                  ref.quarantine.drop(columns="source_file"))
    # per-member log entries with the same counts
    ref_log = [{**f, "file": "exports.zip!" + f["file"]} for f in ref.log["files"]]
    assert got.log["files"] == ref_log
    assert {f["file"]: (f["rows_read"], f["rows_kept"], f["rows_quarantined"], f["rows_superseded"])
            for f in got.log["files"]} == {"exports.zip!a.csv": (3, 1, 1, 1), "exports.zip!2021/b.csv": (2, 2, 0, 0)}
    # directory, __MACOSX/ and dot-file entries: skipped, counted in one warning
    skipped = [w for w in got.log["warnings"] if "skipped" in w]
    assert len(skipped) == 1 and "exports.zip: 3 zip entries skipped" in skipped[0]
    assert not any("not read" in w for w in got.log["warnings"])
    # raw data read-only, nothing unpacked next to it
    assert hashlib.sha256(z.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_zip_with_an_unknown_member_warns_and_reads_the_rest(tmp_path):
    z = make_zip(tmp_path / "mixed.zip", {
        "README.txt": b"These are our exports\nfrom November\n",
        "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
        "tweets.csv": FILE_B,
    })
    r = read_files([z], root=tmp_path, now=NOW)
    check_accounting(r)
    assert [f["file"] for f in r.log["files"]] == ["mixed.zip!tweets.csv"]
    assert len(r.posts) == 2 and r.posts["source_file"].eq("mixed.zip!tweets.csv").all()
    for member in ("README.txt", "logo.png"):
        (w,) = [w for w in r.log["warnings"] if w.startswith(f"mixed.zip!{member}: not read")]
        assert "x_legacy_tweets" in w and "linkedin" in w  # the formats we know (CSV and documents)
    assert "binary data" in next(w for w in r.log["warnings"] if "logo.png" in w)


def test_zip_of_junk_only(tmp_path):
    z = make_zip(tmp_path / "junk.zip", {"notes.txt": b"hello\n", "data/table.csv": b"a,b\n1,2\n",
                                         "empty.csv": b"",
                                         ".hidden": b"x"})
    with pytest.raises(UnknownFormatError) as err:
        read_files([z], root=tmp_path)
    msg = str(err.value)
    assert err.value.file == "junk.zip"
    assert "notes.txt" in msg and "data/table.csv" in msg and "empty.csv" in msg and "x_legacy_tweets" in msg
    assert "1 skipped entries" in msg and ".hidden" not in msg


def test_nested_zip_is_a_warning(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"tweets.csv": FILE_B}).read_bytes()
    z = make_zip(tmp_path / "outer.zip", {"inner.zip": inner, "a.csv": FILE_A})
    r = read_files([z], root=tmp_path, now=NOW)
    assert r.posts["source_file"].eq("outer.zip!a.csv").all() and len(r.posts) == 2
    assert any(w.startswith("outer.zip!inner.zip: not read: a zip inside the zip") for w in r.log["warnings"])
    only_nested = make_zip(tmp_path / "only.zip", {"inner.zip": inner})
    with pytest.raises(UnknownFormatError, match="nested zips are not read"):
        read_files([only_nested], root=tmp_path)


def test_empty_zip(tmp_path):
    z = make_zip(tmp_path / "empty.zip", {})
    assert z.read_bytes()[:4] == b"PK\x05\x06" and is_zip(z)
    with pytest.raises(UnknownFormatError, match="empty zip archive") as err:
        read_files([z], root=tmp_path)
    assert err.value.file == "empty.zip"
    only_dirs = make_zip(tmp_path / "dirs.zip", {"a/": b"", "a/b/": b""})
    with pytest.raises(UnknownFormatError, match=r"empty zip archive \(no files; 2 skipped entries\)"):
        read_files([only_dirs], root=tmp_path)


def test_corrupted_zip_names_the_file(tmp_path):
    good = make_zip(tmp_path / "good.zip", {"a.csv": FILE_A, "b.csv": FILE_B}).read_bytes()
    bad = tmp_path / "truncated.zip"
    bad.write_bytes(good[: len(good) // 2])  # an interrupted download: no central directory
    with pytest.raises(InputError, match="cannot be opened") as err:
        read_files([bad], root=tmp_path)
    assert err.value.file == "truncated.zip" and str(err.value).startswith("truncated.zip: ")
    # a damaged member (CRC mismatch) is named zip!member
    stored = make_zip(tmp_path / "stored.zip", {"a.csv": FILE_A}, method=zipfile.ZIP_STORED).read_bytes()
    at = stored.index(b"1465000000000000001")
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(stored[:at] + b"2" + stored[at + 1:])
    with pytest.raises(InputError, match="damaged") as err:
        read_files([damaged], root=tmp_path)
    assert err.value.file == "damaged.zip!a.csv"


def test_zip_bomb_guards(tmp_path, monkeypatch):
    z = make_zip(tmp_path / "exports.zip", {"a.csv": FILE_A})
    size = len(FILE_A)
    monkeypatch.setattr(ingest, "ZIP_MAX_MEMBER_BYTES", size - 1)
    with pytest.raises(InputError, match=f"unpacks to {size:,} bytes, more than the {size - 1:,}") as err:
        read_files([z], root=tmp_path)
    assert err.value.file == "exports.zip!a.csv"
    monkeypatch.setattr(ingest, "ZIP_MAX_MEMBER_BYTES", size)
    assert len(read_files([z], root=tmp_path, now=NOW).posts) == 2  # exactly at the limit: read

    # a highly compressed member: 1 MB of one byte deflates ~1000-fold
    bomb = make_zip(tmp_path / "bomb.zip", {"a.csv": FILE_A, "big.csv": b"a" * 1_000_000})
    info = zipfile.ZipFile(bomb).getinfo("big.csv")
    assert info.file_size / info.compress_size > 200
    monkeypatch.setattr(ingest, "ZIP_MAX_MEMBER_BYTES", 2 * 1024**3)
    monkeypatch.setattr(ingest, "ZIP_RATIO_GRACE_BYTES", 0)
    with pytest.raises(InputError, match="more than the 200-fold") as err:
        read_files([bomb], root=tmp_path)
    assert err.value.file == "bomb.zip!big.csv"
    # the ordinary members of an ordinary zip pass the ratio check
    assert len(read_files([z], root=tmp_path, now=NOW).posts) == 2


def test_member_names_cannot_escape(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    scratch = tmp_path / "scratch"  # members are unpacked under the temp dir only, and removed after
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    z = make_zip(raw / "evil.zip", {"../../" + TWEETS_NAME: FILE_B, "/abs/" + DAILY_NAME: DAILY})
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    r = read_files([z], root=tmp_path, now=NOW)
    check_accounting(r)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert r.posts["source_file"].eq(f"raw/evil.zip!../../{TWEETS_NAME}").all() and len(r.posts) == 2
    assert len(r.account) == 2 and not any(scratch.iterdir())
    # readers that take the account from the file name still see the member's base name
    only_daily = make_zip(raw / "daily.zip", {"sub/dir/" + DAILY_NAME: DAILY})
    a = read_files([only_daily], root=tmp_path).account
    assert a["account"].eq("lab").all() and len(a) == 2


def test_renamed_zip_is_detected_by_its_bytes(tmp_path):
    z = tmp_path / "tweets_export.csv"
    z.write_bytes(make_zip(tmp_path / "x.zip", {TWEETS_NAME: FILE_B}).read_bytes())
    assert is_zip(z)
    r = read_files([z], root=tmp_path, now=NOW)
    assert r.posts["source_file"].eq(f"tweets_export.csv!{TWEETS_NAME}").all() and len(r.posts) == 2
    plain = tmp_path / "plain.zip"  # and a CSV named .zip is read as a CSV
    plain.write_bytes(FILE_B)
    assert not is_zip(plain)
    assert read_files([plain], root=tmp_path, now=NOW).posts["source_file"].eq("plain.zip").all()


def test_read_exports_with_a_card_glob(tmp_path):
    root = tmp_path / "ds"
    (root / "raw").mkdir(parents=True)
    make_zip(root / "raw" / "download_2021.zip", {f"2021/{TWEETS_NAME}": FILE_A, f"2021/{DAILY_NAME}": DAILY})
    (root / "raw" / "b.csv").write_bytes(FILE_B)
    (root / "dataset.yml").write_text("name: lab\nposts: ['raw/*.zip', 'raw/*.csv']\n")
    r = read_exports(load_dataset(root), now=NOW)
    check_accounting(r)
    zname = "raw/download_2021.zip!2021/"
    assert sorted(set(r.posts["source_file"])) == ["raw/b.csv", zname + TWEETS_NAME]
    assert len(r.posts) == 3 and r.quarantine["source_file"].tolist() == [zname + TWEETS_NAME]
    # the daily member feeds the account table (the zip's members are read by their own format), with a warning
    assert r.account["source_file"].eq(zname + DAILY_NAME).all() and r.account["impressions"].tolist() == [500, 300]
    assert any(w.startswith(zname + DAILY_NAME) and "listed under 'posts'" in w for w in r.log["warnings"])
    paths = write_ingest_outputs(r, data_dir=tmp_path / "out" / "data", results_dir=tmp_path / "out" / "results")
    log = json.loads(paths["ingest_log"].read_text())
    assert [(f["file"], f["table"], f["rows_read"]) for f in log["files"]] == [
        (zname + TWEETS_NAME, "posts", 3), (zname + DAILY_NAME, "account", 2), ("raw/b.csv", "posts", 2)]
    q = pd.read_csv(paths["quarantine"], dtype=str)
    assert q["source_file"].tolist() == [zname + TWEETS_NAME] and q["source_row"].tolist() == ["4"]


def test_xlsx_is_not_taken_for_a_zip_of_exports(tmp_path):
    book = make_zip(tmp_path / "export.xlsx", {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                                               "xl/worksheets/sheet1.xml": b"<worksheet/>"})
    # an .xlsx is read as a workbook (issue 19.7); this one's parts are empty, so it is a damaged workbook
    with pytest.raises(InputError, match=r"export\.xlsx: cannot read the Excel workbook .*expected an \.xlsx export"):
        read_files([book], root=tmp_path)


def test_member_stored_twice_reads_the_later_copy(tmp_path):
    z = tmp_path / "twice.zip"
    with zipfile.ZipFile(z, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("t.csv", FILE_A)
        zf.writestr("t.csv", FILE_B)
    r = read_files([z], root=tmp_path, now=NOW)
    check_accounting(r)
    assert [(f["file"], f["rows_read"]) for f in r.log["files"]] == [("twice.zip!t.csv", 2)]
    assert r.posts["post_id"].tolist() == ["1465000000000000002", "1465000000000000003"]
    assert "twice.zip!t.csv: stored twice in the zip; the later copy is read" in r.log["warnings"]
