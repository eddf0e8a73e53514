"""The ingest fast path (issue 14) gives exactly what the code before it gave, on adversarial exports.

``write_adversarial_exports`` writes X legacy exports that hit every branch of the ingest: several
encodings (UTF-8 with and without BOM, Windows-1252, UTF-16 with BOM, CR-only line ends), HTML entities
(named, numeric, hex, without ``;``, unknown), mojibake (repairable and not), multi-line texts, the
2015 ``favorites`` variant, promoted columns with and without values, counts written every way
(``1938.0``, ``1,234``, ``1e3``, `` 12 ``, ``-``, ``NA``, negative, fractional, ``1e30``, ``inf``, words,
Unicode digits), bad and future times, empty and non-numeric ids, rows with too few and too many fields,
blank lines, duplicate ids inside a file (same and different metrics) and across files (more reported
metrics, later export, disagreeing copies), and a daily account export.

``tests/data/ingest/fastpath/expected.json`` holds what the ingest *before* the fast path (commit 05efbc6,
the reference implementation) read from those files: every cell of the posts, account and quarantine
tables with its dtype, and the whole ingest log (rows read, kept, quarantined with reasons, superseded,
warnings). Regenerate it only from a reference implementation:
``python tests/test_ingest_fastpath.py --write-expected``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "data" / "ingest" / "fastpath" / "expected.json"
NOW = "2024-06-01 12:00"

HEADER = ["Tweet id", "Tweet permalink", "Tweet text", "time", "impressions", "engagements", "engagement rate",
          "retweets", "replies", "likes", "user profile clicks", "url clicks", "hashtag clicks", "detail expands",
          "permalink clicks", "app opens", "app installs", "follows", "email tweet", "dial phone", "media views",
          "media engagements", "promoted impressions", "promoted engagements", "promoted engagement rate",
          "promoted retweets", "promoted replies", "promoted likes", "promoted user profile clicks",
          "promoted url clicks", "promoted hashtag clicks", "promoted detail expands", "promoted permalink clicks",
          "promoted app opens", "promoted app installs", "promoted follows", "promoted email tweet",
          "promoted dial phone", "promoted media views", "promoted media engagements"]
HEADER_2015 = [h.replace("likes", "favorites") for h in HEADER]
METRIC_COLS = ["impressions", "engagements", "retweets", "replies", "likes", "user profile clicks", "url clicks",
               "follows", "media views"]

TEXTS = [
    "Plain text with a link https://t.co/AbC123 #hashtag @someone",
    "Fish &amp; chips &lt;3 &gt; &quot;quoted&quot; &#39;single&#39;",
    "Numeric &#128512; hex &#x1F600; and &#X1f4e9; no-semicolon &amp &ampx &copy unknown &bogus; &#;",
    "&nbsp;leading entity and trailing &amp",
    "Mojibake repairable: ðŸ“© new paper â€™quoted â€œyesâ€\x9d",
    "Mojibake unsure: Ã© Â£ deliberately written Ã",
    "RT @other_user: a retweet copied into the export",
    "@reply_to someone, this is a reply",
    "Quoting https://twitter.com/someone/status/123456789 here",
    "Multi-line text\nsecond line, with \"quotes\" and, commas\r\nthird line",
    "Emoji 😀🏽 👩‍🔬 and accents é ü ñ and Unicode digits १२३",
    "",
    "   spaces around   ",
    "=SUM(A1:A2) formula-looking text",
    "Text with a tab\tinside and a trailing backslash \\",
]


def _q(v: str) -> str:
    return '"' + v.replace('"', '""') + '"'


def _row(values: list[str]) -> str:
    return ",".join(_q(v) for v in values)


def _tweet(tid: str, text: str, time: str, metrics: dict[str, str] | None = None, promoted: str = "-",
           handle: str = "AdvLab", header: list[str] = HEADER) -> list[str]:
    base = {h: "0" for h in header}
    base.update({"Tweet id": tid, "Tweet permalink": f"https://twitter.com/{handle}/status/{tid.strip()}",
                 "Tweet text": text, "time": time, "engagement rate": "0.01"})
    for h in header:
        if h.startswith("promoted "):
            base[h] = promoted
    for i, h in enumerate(METRIC_COLS):
        key = h if h in base else h.replace("likes", "favorites")
        base[key] = f"{(int(tid[-3:]) if tid[-3:].isdigit() else 7) * (i + 1) % 97 + i}.0"
    for k, v in (metrics or {}).items():
        key = k if k in base else k.replace("likes", "favorites")
        base[key] = v
    return [base[h] for h in header]


def write_adversarial_exports(folder: Path) -> list[Path]:
    """Write the adversarial exports into ``folder``; return their paths (see the module notes)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(14)
    paths = []

    # 1. UTF-8 with BOM, CRLF line ends: most quirks
    rows = []
    ids = [str(1350000000000000000 + 1000 * i + 100) for i in range(40)]
    for i, tid in enumerate(ids):
        rows.append(_tweet(tid, TEXTS[i % len(TEXTS)], f"2021-01-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d} +0000"))
    counts = ["1938.0", "1,234", "1e3", " 12 ", "-", "NA", "n/a", "", "-3", "1.5", "1e30", "inf", "abc", "١٢", "12,34",
              "99999999999999999999", "9223372036854775807", "+5", "0x10", "1_000", ".5", "5.", "NaN", "null", "#N/A",
              "1,234.0", "1E2", "-0", "00042", "4.0e1"]
    for j, c in enumerate(counts):
        col = METRIC_COLS[j % len(METRIC_COLS)]
        rows.append(_tweet(str(1350000000000100000 + j), f"count case {c!r}", "2021-01-15 10:00 +0000", {col: c}))
    rows.append(_tweet("1350000000000200001", "promoted", "2021-01-16 10:00 +0000", promoted="12.0"))
    rows.append(_tweet("1350000000000200002", "promoted bad", "2021-01-16 11:00 +0000",
                       {"promoted impressions": "x1", "promoted engagements": "3.0"}))
    rows.append(_tweet("", "empty id", "2021-01-16 12:00 +0000"))
    rows.append(_tweet("12ab34", "non-numeric id", "2021-01-16 12:00 +0000"))
    rows.append(_tweet("  1350000000000200003  ", "id with spaces", "2021-01-16 12:00 +0000"))
    rows.append(_tweet("1350000000000200004", "bad time", "2021-13-45 25:00 +0000"))
    rows.append(_tweet("1350000000000200005", "future time", "2031-01-01 10:00 +0000"))
    rows.append(_tweet("1350000000000200006", "no time", ""))
    rows.append(_tweet("1350000000000200007", "more engagements than impressions", "2021-01-17 10:00 +0000",
                       {"impressions": "3.0", "engagements": "9.0"}))
    rows.append(_tweet(ids[3], "in-file duplicate, same metrics", "2021-01-17 10:00 +0000"))
    rows[-1] = rows[3][:]  # an identical repeat: superseded
    dup = rows[5][:]
    dup[HEADER.index("impressions")] = "555.0"
    rows.append(dup)  # same id, different metrics: quarantined
    rows.append(_tweet("1350000000000200008", "two bad cells", "2021-01-17 10:00 +0000",
                       {"impressions": "-1", "likes": "2.5"}))
    lines = [_row(HEADER)] + [_row(r) for r in rows]
    lines.insert(10, "")  # a blank line
    lines.insert(20, ",".join([""] * len(HEADER)))  # a line of empty fields
    lines.append(_row(_tweet("1350000000000200009", "too many", "2021-01-18 10:00 +0000") + ["extra", "fields"]))
    lines.append(_row(_tweet("1350000000000200010", "too few, padded", "2021-01-18 10:00 +0000")[:20]))
    lines.append(_row(["1350000000000200011"]))  # one field only: quarantined
    p = folder / "tweet_activity_metrics_AdvLab_20210101_20210201_en.csv"
    p.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8"))
    paths.append(p)

    # 2. Windows-1252, overlapping ids with file 1 (same, different, more reported metrics), later export
    rows = []
    for i, tid in enumerate(ids[:20]):
        m = {}
        if i % 4 == 1:
            m = {"impressions": "9999.0"}  # disagrees: the later export wins
        elif i % 4 == 2:
            m = {"url clicks": "0.0", "follows": "0.0", "media views": "0.0"}  # fewer reported metrics
        rows.append(_tweet(tid, "Caf\u00e9 \u20ac5 \u2019quoted\u2019 &amp; more" if i % 3 else TEXTS[i % len(TEXTS)]
                           .encode("cp1252", "replace").decode("cp1252"), f"2021-02-{1 + i:02d} 09:00 +0000", m))
    for i in range(10):
        rows.append(_tweet(str(1350000000000300000 + i), "Windows \u00e9\u00e8 text", "2021-02-20 09:00 +0000"))
    text = "\r\n".join([_row(HEADER)] + [_row(r) for r in rows]) + "\r\n"
    p = folder / "tweet_activity_metrics_AdvLab_20210201_20210301_en.csv"
    p.write_bytes(text.encode("cp1252"))
    paths.append(p)

    # 3. the 2015 variant (favorites), UTF-16 with BOM, another handle
    rows = [_tweet(str(650000000000000000 + i), TEXTS[(i * 7) % len(TEXTS)], f"2015-09-{1 + i:02d} 18:42 +0000",
                   handle="OldLab", header=HEADER_2015) for i in range(25)]
    rows.append(_tweet(str(650000000000000000 + 3), "repeat across nothing", "2015-09-04 18:42 +0000",
                       {"impressions": "1.0"}, handle="OldLab", header=HEADER_2015))
    text = "\n".join([_row(HEADER_2015)] + [_row(r) for r in rows]) + "\n"
    p = folder / "twitter_activity_metrics_20150901_20151001__OldLab.csv"
    p.write_bytes(text.encode("utf-16"))
    paths.append(p)

    # 4. CR-only line ends (classic Mac), plain UTF-8, random metrics, a file cut off mid-row
    rows = []
    for i in range(60):
        tid = str(1450000000000000000 + int(rng.integers(0, 10**6)) * 1000 + i)
        m = {c: f"{int(rng.integers(0, 5000))}.0" for c in METRIC_COLS}
        if i % 11 == 0:
            m["impressions"] = "0.0"
        rows.append(_tweet(tid, TEXTS[int(rng.integers(0, len(TEXTS)))].replace("\r", "").replace("\n", " "),
                           f"2022-03-{1 + i % 28:02d} 0{i % 10}:15 +0000", m))
    rows.append(_tweet(ids[7], "also in file 1, newer export", "2022-03-29 10:00 +0000"))
    text = "\r".join([_row(HEADER)] + [_row(r) for r in rows]) + "\r"
    p = folder / "tweet_activity_metrics_AdvLab_20220301_20220401_en.csv"
    p.write_bytes(text.encode("utf-8"))
    paths.append(p)

    p = folder / "tweet_activity_metrics_AdvLab_20220401_20220501_en.csv"
    rows = [_tweet(str(1460000000000000000 + i), f"cut {i}", "2022-04-02 10:00 +0000") for i in range(5)]
    text = "\n".join([_row(HEADER)] + [_row(r) for r in rows])
    p.write_bytes(text[: len(text) - 40].encode("utf-8"))  # interrupted download: no final line end
    paths.append(p)

    # 5. a daily export (account table) with a bad date and a bad count
    daily_header = ["Date", "Tweets published", "impressions", "engagements", "engagement rate", "retweets",
                    "replies", "likes", "user profile clicks", "url clicks", "hashtag clicks", "detail expands",
                    "permalink clicks", "app opens", "app installs", "follows", "email tweet", "dial phone",
                    "media views", "media engagements"]
    drows = []
    for i in range(31):
        vals = [f"2021-01-{i + 1:02d}", str(i % 4), f"{100 + 17 * i}.0", f"{3 + i % 5}.0", "0.02"] + ["0"] * 15
        drows.append(vals)
    drows[4][0] = "2021-02-30"
    drows[6][2] = "lots"
    p = folder / "daily_tweet_activity_metrics_AdvLab_20210101_20210201_en.csv"
    p.write_text("\n".join([_row(daily_header)] + [_row(r) for r in drows]) + "\n", encoding="utf-8")
    paths.append(p)
    return paths


def _cells(df: pd.DataFrame) -> dict:
    """Every cell as a string (NA as None), with the column dtypes: an exact, JSON-able picture of a frame."""
    out = {"columns": list(map(str, df.columns)), "dtypes": {}, "values": {}}
    for c in df.columns:
        s = df[c]
        out["dtypes"][str(c)] = _dtype_name(s.dtype)
        obj = s.astype(object)
        out["values"][str(c)] = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                                 or v is pd.NaT else str(v) for v in obj]
    return out


def _dtype_name(dtype) -> str:
    """The dtype as the tables' contract names it: Arrow- and Python-backed strings are both ``string``."""
    name = str(dtype)
    return "string" if name in ("string", "string[pyarrow]", "string[python]", "large_string[pyarrow]") else name


def ingest_picture(folder: Path) -> dict:
    """What the ingest reads from the adversarial exports: tables cell by cell, and the log."""
    from workbench.ingest import read_files

    paths = write_adversarial_exports(folder)
    result = read_files(paths, root=folder, now=pd.Timestamp(NOW, tz="UTC"))
    picture = {"log": result.log}
    for name in ("posts", "account", "quarantine"):
        picture[name] = _cells(getattr(result, name))
    per_file = {}
    for p in paths:  # each file alone too: the in-file paths without the cross-file overlap
        r = read_files([p], root=folder, now=pd.Timestamp(NOW, tz="UTC"))
        per_file[p.name] = {"log": r.log, "posts": _cells(r.posts), "quarantine": _cells(r.quarantine)}
    picture["per_file"] = per_file
    return json.loads(json.dumps(picture, default=str))


def test_ingest_matches_the_reference_on_adversarial_exports(tmp_path):
    expected = _assert_matches_the_reference(tmp_path)
    # the files do exercise what they are meant to
    log = expected["log"]
    assert sum(f["rows_quarantined"] for f in log["files"]) >= 20
    assert sum(f["rows_superseded"] for f in log["files"]) >= 5
    assert any("mojibake" in w for w in log["warnings"])
    assert any("not UTF-8" in w for w in log["warnings"])
    assert any("CR only" in w for w in log["warnings"])
    assert any("different metrics" in w for w in log["warnings"])


def _assert_matches_the_reference(folder: Path) -> dict:
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    got = ingest_picture(folder)
    assert got["log"] == expected["log"]
    for name in ("posts", "account", "quarantine"):
        assert got[name]["columns"] == expected[name]["columns"], name
        assert got[name]["dtypes"] == expected[name]["dtypes"], name
        for c in expected[name]["columns"]:
            assert got[name]["values"][c] == expected[name]["values"][c], (name, c)
    assert got["per_file"] == expected["per_file"]
    return expected


def test_large_file_paths_match_the_reference(tmp_path, monkeypatch):
    """What the ingest does only for large files, forced on the small adversarial exports, gives the reference:
    the file checked in chunks (boundaries inside multi-byte characters) and parsed by Arrow from its path, Arrow's
    small blocks with the retry at MAX_RECORD_BYTES (records longer than a block), the raw table cut down to the
    rows that may be quarantined and the garbage collected after each file."""
    import workbench.ingest as wi
    from workbench.ingest import rawcsv, x_legacy

    monkeypatch.setattr(wi, "STREAM_AFTER_BYTES", 0)
    monkeypatch.setattr(wi, "RELEASE_AFTER_BYTES", 0)
    monkeypatch.setattr(rawcsv, "FAST_BLOCK_BYTES", 900)
    monkeypatch.setattr(rawcsv, "_CHECK_CHUNK", 7)
    monkeypatch.setattr(x_legacy, "RELEASE_AFTER_ROWS", 0)
    checked = []
    real = rawcsv.check_utf8_file
    monkeypatch.setattr(wi, "check_utf8_file", lambda *a, **k: checked.append(r := real(*a, **k)) or r)
    _assert_matches_the_reference(tmp_path)
    # the chunked check took the UTF-8 files and left the others (Windows-1252, UTF-16, CR-only) to the old path
    assert sum(c is not None for c in checked) >= 3 and sum(c is None for c in checked) >= 3


def test_records_longer_than_the_first_block_read_as_with_one_block(tmp_path, monkeypatch):
    from workbench.ingest import rawcsv

    monkeypatch.setattr(rawcsv, "MAX_RECORD_BYTES", 64 * 1024)
    f = tmp_path / "a.csv"
    rows = [f'2022-01-{d:02d},"{"é, x" * (d * 300)}"\n' for d in range(1, 20)]
    f.write_text("date,note\n" + "".join(rows) + "2022-02-01,too,many\n2022-02-02\n", encoding="utf-8")
    monkeypatch.setattr(rawcsv, "FAST_BLOCK_BYTES", 2048)  # records of 1.5 to 28 KB: the first read fails
    small = rawcsv.read_raw_csv(f)
    monkeypatch.setattr(rawcsv, "FAST_BLOCK_BYTES", 64 * 1024)  # one read with MAX_RECORD_BYTES blocks
    one = rawcsv.read_raw_csv(f)
    pd.testing.assert_frame_equal(small.data, one.data)
    pd.testing.assert_frame_equal(small.bad, one.bad)
    assert small.rows.tolist() == one.rows.tolist() and len(one.data) == 19 and len(one.bad) == 2


# ---- parse_counts: the Arrow path against the code before it (pd.to_numeric on the whole column) -------------


def _parse_counts_reference(raw: pd.Series, *, label: str):
    """``common.parse_counts`` as it was at commit 05efbc6 (the reference implementation)."""
    from workbench.ingest.common import INT64_LIMIT, NA_TOKENS, _int64

    s = raw.str.strip()
    not_number = np.zeros(len(s), dtype=bool)
    try:
        num = pc.cast(pa.array(s, type=pa.string()), pa.float64()).to_numpy(zero_copy_only=False).copy()
        nan = np.zeros(len(s), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        num = pd.to_numeric(s.astype(object), errors="coerce").to_numpy(dtype=float, na_value=np.nan).copy()
        nan = np.isnan(num)
    if nan.any():
        sub = s[nan]
        is_na = sub.str.lower().isin(NA_TOKENS).to_numpy()
        thousands = sub.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?").to_numpy(dtype=bool, na_value=False)
        fixed = pd.to_numeric(sub.str.replace(",", "", regex=False), errors="coerce").to_numpy(dtype=float)
        pos = np.flatnonzero(nan)
        num[pos[thousands]] = fixed[thousands]
        not_number[pos[~is_na & ~thousands]] = True
    with np.errstate(invalid="ignore"):
        infinite = np.isinf(num)
        negative = num < 0
        too_large = ~infinite & (num >= INT64_LIMIT)
        fractional = ~infinite & ~negative & ~too_large & ~np.isnan(num) & (np.mod(num, 1) != 0)
    bad = not_number | infinite | negative | fractional | too_large
    if not bad.any():
        return _int64(num, raw.index), bad, None
    quoted = "'" + s + "'"
    reason = pd.Series("", index=raw.index, dtype=object)
    reason = reason.mask(not_number | infinite, f"column {label!r}: " + quoted + " is not a number")
    reason = reason.mask(negative, f"column {label!r}: " + quoted + " is negative (a count cannot be)")
    reason = reason.mask(fractional, f"column {label!r}: " + quoted + " is not a whole number")
    reason = reason.mask(too_large, f"column {label!r}: " + quoted
                         + " is too large for a count (2^63 or more; a corrupted cell?)")
    num[bad] = np.nan
    return _int64(num, raw.index), bad, reason


COUNT_CELLS = ["1938.0", "0.0", "12", " 12 ", "\t7\n", "1,234", "1,234.0", "12,34", "1,2345", "-", "--", "NA", "n/a", "N/A",
               "nan", "NaN", "-nan", "null", "None", "#N/A", "", " ", "-3", "-0", "-0.0", "+5", "1.5", ".5", "5.",
               "1e3", "1E+05", "2.5e1", "1e-3", "1e400", "-1e400", "1e30", "inf", "-inf", "Infinity", "abc", "12abc",
               "0x10", "1_000", "١٢", "１２", "\u00a012", "99999999999999999999", "9223372036854775807",
               "9223372036854775808", "9007199254740993", "123456789012345", "1234567890123456", "3044.2548675324531",
               "5.0000000000000001", "00042", "4.0e1", "1 234", "٫5", "+", ".", "e5", "1e", "1.2.3"]
_cell = st.one_of(st.sampled_from(COUNT_CELLS), st.none(),
                  st.text(alphabet="0123456789.,+-eE naN", max_size=22),
                  st.integers(-10**20, 10**20).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_cell, min_size=1, max_size=40),
       st.sampled_from(["string[pyarrow]", "string[python]", "object", "chunked"]), st.lists(st.integers(0, 40),
                                                                                              max_size=4))
def test_parse_counts_matches_the_reference(cells, dtype, cuts):
    from workbench.ingest.common import parse_counts

    raw = _chunked(cells, cuts) if dtype == "chunked" else pd.Series(cells, dtype=dtype)
    fast, ref = parse_counts(raw, label="impressions"), _parse_counts_reference(raw, label="impressions")
    pd.testing.assert_series_equal(fast[0], ref[0])
    np.testing.assert_array_equal(fast[1], ref[1])
    assert (fast[2] is None) == (ref[2] is None)
    if ref[2] is not None:
        assert fast[2].tolist() == ref[2].tolist()


_clean_cell = st.one_of(st.sampled_from(["-", "", "NA", "nan", " 12 ", "0", "1938.0", "007", "5.", ".0", "+3", "-0",
                                           "999999999999999", "1.50", "n/a", "NULL"]),
                        st.integers(0, 10**6).map(str))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(st.one_of(_clean_cell, _cell), min_size=0, max_size=12),
                          st.lists(st.integers(0, 12), max_size=2)), min_size=1, max_size=6),
       st.integers(1, 12))
def test_count_columns_parsed_together_as_one_by_one(columns, n):
    """parse_count_columns (a small file's count columns parsed in one batch when every cell is clean) gives each
    column what parse_counts gives it, reasons included."""
    from workbench.ingest.common import parse_count_columns, parse_counts

    series = [_chunked((cells * n)[:n] if cells else [""] * n, cuts) for cells, cuts in columns]
    labels = [f"col {i}" for i in range(len(series))]
    got = list(parse_count_columns(series, labels))
    assert len(got) == len(series)
    for s, label, (values, bad, why) in zip(series, labels, got, strict=True):
        ref = parse_counts(s, label=label)
        pd.testing.assert_series_equal(values, ref[0])
        np.testing.assert_array_equal(bad, ref[1])
        assert (why is None) == (ref[2] is None)
        if why is not None:
            assert why.tolist() == ref[2].tolist()


def test_parse_counts_whole_column_shortcuts_match_the_reference():
    """The columns parse_counts reads by one cast (every cell a number Arrow reads as it is) or at once (every cell
    "-" or empty), next to near misses that must take the long way (a space, a null, a token, a bad value)."""
    from workbench.ingest.common import parse_counts

    columns = [["-"] * 5, ["", "-", ""], ["1938.0", "7", "NaN", "nan", "0"], ["12", "1e3", "+4", ".0", "5."],
               ["inf", "3"], ["-4", "2"], ["1.5", "2"], ["1e30", "1"], ["-", " -"], ["-", None], ["12", " 12"],
               ["12", None], ["-", "NA"], ["1,234", "5"], ["12", "-"], ["\u00a012", "1"]]
    for cells in columns:
        for dtype in ("string[pyarrow]", "string[python]", "object"):
            raw = pd.Series(cells, dtype=dtype)
            fast, ref = parse_counts(raw, label="x"), _parse_counts_reference(raw, label="x")
            pd.testing.assert_series_equal(fast[0], ref[0])
            np.testing.assert_array_equal(fast[1], ref[1])
            assert (fast[2] is None) == (ref[2] is None), cells
            if ref[2] is not None:
                assert fast[2].tolist() == ref[2].tolist()


def test_empty_file_quarantine_as_before(tmp_path):
    """A file with nothing to quarantine gets the empty frame quarantine_frame made (columns, dtypes, index)."""
    from workbench.ingest.common import Reasons, file_quarantine, quarantine_frame
    from workbench.ingest.rawcsv import read_raw_csv

    f = tmp_path / "a.csv"
    f.write_text("a,b,b,c\n1,2,3,4\n5,6,7,8\n", encoding="utf-8")
    raw = read_raw_csv(f)
    reasons = Reasons(raw.data.index)
    got = file_quarantine(raw, reasons, source_file="a.csv")
    expected = quarantine_frame(raw.data, raw.rows, reasons.s, source_file="a.csv", mask=np.zeros(2, dtype=bool))
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.columns) == ["source_file", "source_row", "reason", "a", "b", "b.1", "c"]


def test_parse_counts_matches_the_reference_on_every_listed_cell():
    from workbench.ingest.common import parse_counts

    for dtype in ("string[pyarrow]", "string[python]", "object"):
        raw = pd.Series(COUNT_CELLS * 3 + ["-"] * 50, dtype=dtype)
        fast, ref = parse_counts(raw, label="x"), _parse_counts_reference(raw, label="x")
        pd.testing.assert_series_equal(fast[0], ref[0])
        assert fast[2].tolist() == ref[2].tolist()
    assert ref[1].sum() > 10 and ref[0].notna().sum() > 10  # both outcomes exercised


# ---- HTML entities: the vectorized decoding against html.unescape ----------------------------------------------

ENTITY_PIECES = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&apos;", "&amp", "&lt", "&AMP;", "&LT;", "&amp;lt;",
                 "&amp;amp;", "&amp;#39;", "&&lt;", "& ", "&", ";", "#", "&#", "&#;", "&#128512;", "&#x1F600;",
                 "&#X1f4e9;", "&#0;", "&#x110000;", "&#55296;", "&nbsp;", "&nbsp", "&copy", "&notit;", "&notin;",
                 "&bogus;", "&ampx", "&lt3", "&1", "&é", "Q & A", "a", "é", "😀", "\n", "lt;", "amp;"]


def _chunked(values: list, cuts: list[int]) -> pd.Series:
    """``values`` as an Arrow-backed string Series in chunks (as the CSV reader gives a column: one per block),
    cut at the positions ``cuts`` (empty chunks included)."""
    bounds = [0, *sorted(min(c, len(values)) for c in cuts), len(values)]
    chunks = [pa.array(values[a:b], type=pa.large_string()) for a, b in zip(bounds, bounds[1:], strict=False)]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string())))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(ENTITY_PIECES), st.characters(
    blacklist_categories=("Cs",))), max_size=10).map("".join)), min_size=1, max_size=25),
       st.lists(st.integers(0, 25), max_size=4))
def test_entities_decode_as_html_unescape(texts, cuts):
    import html
    import re

    from workbench.ingest.x_legacy import _decode_entities

    s = _chunked(texts, cuts)  # the chunks of a column read from a CSV (one chunk: no cut)
    got = _decode_entities(s)
    entity = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")
    expected = [None if t is None else html.unescape(t) if entity.search(t) else t for t in texts]
    assert [None if v is pd.NA else v for v in got.tolist()] == expected
    assert got.index.equals(s.index)


# ---- the posts' order: Arrow's stable sort against pandas' -------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 5)),
                          st.one_of(st.none(), st.sampled_from(["9", "10", "010", "1", "a", "A", "é", "e\u0301", "😀",
                                                               "Z", "", " 1", "123456789012345678901"]))),
                min_size=0, max_size=30))
def test_posts_sorted_as_pandas_sorts_them(rows):
    from workbench.ingest import _sort_posts

    frame = pd.DataFrame({
        "published_at": pd.to_datetime([None if t is None else 1_600_000_000 + 60 * t for t, _ in rows], unit="s",
                                       utc=True),
        "post_id": pd.Series([i for _, i in rows], dtype="string[pyarrow]"),
        "row": np.arange(len(rows)),
    }, index=np.arange(len(rows))[::-1] * 2)
    got = _sort_posts(frame)
    expected = frame.sort_values(["published_at", "post_id"], kind="stable")
    pd.testing.assert_frame_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.sampled_from(["9", "10", "1", "a", "é"]),
                          st.sampled_from(["f.csv", None]), st.one_of(st.none(), st.integers(0, 2))),
                min_size=0, max_size=25), st.booleans())
def test_posts_sorted_column_by_column_as_pandas_sorts_them(rows, constant):
    """The sort that moves the columns out one at a time (constant columns kept as they are) gives the frame
    ``sort_values`` gives: values, dtypes and index."""
    from workbench.ingest import _sort_posts

    n = len(rows)
    frame = pd.DataFrame({
        "published_at": pd.to_datetime([None if t is None else 1_600_000_000 + 60 * t for t, *_ in rows], unit="s",
                                       utc=True),
        "post_id": pd.Series([i for _, i, *_ in rows], dtype="string[pyarrow]"),
        "source_file": pd.Series(["f.csv" if constant else f for *_, f, _ in rows], dtype="string[pyarrow]"),
        "media_type": pd.Series([None] * n, dtype="string[pyarrow]"),
        "platform": pd.Categorical(["x"] * n),
        "likes": pd.array([v for *_, v in rows], dtype="Int64"),
        "reach": pd.array([None] * n, dtype="Int64"),
        "is_reply": pd.array([v == 1 if v is not None else None for *_, v in rows], dtype="boolean"),
        "is_repost": np.zeros(n, dtype=bool),
        "source_row": np.arange(n) + 2,
    }, index=np.arange(n)[::-1] * 2)
    expected = frame.sort_values(["published_at", "post_id"], kind="stable")
    got = _sort_posts(frame.copy(), consume=True)
    pd.testing.assert_frame_equal(got, expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["1", "01", "2", "é", "e\u0301", "", " 1"])),
                          st.booleans()), min_size=0, max_size=25),
       st.sampled_from(["string[pyarrow]", "string[python]", "object", "chunked"]), st.lists(st.integers(0, 25),
                                                                                              max_size=4))
def test_duplicate_ids_found_as_pandas_finds_them(rows, dtype, cuts):
    from workbench.ingest.common import duplicated_keys

    keys = (_chunked([k for k, _ in rows], cuts) if dtype == "chunked"
            else pd.Series([k for k, _ in rows], dtype=dtype))
    valid = np.array([v for _, v in rows], dtype=bool)
    expected = keys.where(valid).duplicated(keep="first").to_numpy(dtype=bool)
    np.testing.assert_array_equal(duplicated_keys(keys, valid), expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["x", "facebook", "instagram"])),
                          st.one_of(st.none(), st.sampled_from(["a", "A", "b", "", "é", "e\u0301", " a"]))),
                min_size=0, max_size=30), st.lists(st.integers(0, 30), max_size=3))
def test_account_pairs_found_as_drop_duplicates_finds_them(rows, cuts):
    from workbench.ingest import _first_of_each_pair

    own = pd.DataFrame({"platform": pd.Series([p for p, _ in rows], dtype="category"),
                        "account": _chunked([a for _, a in rows], cuts)})
    own.index = np.arange(len(rows)) * 3
    assert own["account"].isna().sum() == sum(a is None for _, a in rows)
    expected = own.astype("string").drop_duplicates().dropna()
    pd.testing.assert_frame_equal(_first_of_each_pair(own).astype("string").drop_duplicates().dropna(), expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["0", "00", "1", "01", "10", "9999999999999999999",
                                                      "18446744073709551615", "18446744073709551616", "1741484949376373668",
                                                      "１", "٣"]), st.integers(0, 10**19).map(str)),
                min_size=0, max_size=25), st.lists(st.integers(0, 25), max_size=3))
def test_post_id_codes_equal_where_the_ids_are_equal(ids, cuts):
    """The digit-string codes of post ids (the number itself) tell ids apart exactly as the strings do."""
    from workbench.ingest.common import key_codes

    keys = _chunked(ids, cuts)
    codes = key_codes(keys, digits_first=True)
    assert len(codes) == len(ids)
    for i, a in enumerate(ids):
        assert (codes[i] == -1) == (a is None)
        for j, b in enumerate(ids):
            assert (codes[i] == codes[j]) == (a == b), (a, b)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-expected"]:
        raise SystemExit(__doc__)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        picture = ingest_picture(Path(tmp))
    EXPECTED.parent.mkdir(parents=True, exist_ok=True)
    EXPECTED.write_text(json.dumps(picture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {EXPECTED}")
