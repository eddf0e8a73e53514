"""Property tests: any file either parses (with the accounting invariant) or raises our InputError."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest import read_files

DATA = Path(__file__).parent / "data" / "ingest"
HEADERS = [
    next(csv.reader(io.StringIO((DATA / f"header_{n}.csv").read_text())))
    for n in ("x_legacy_tweets", "x_legacy_tweets_2015", "x_legacy_daily")
] + [["post_id", "coder", "has_poll", "tone"], ["date", "followers", "posts"]]
NOW = pd.Timestamp("2022-01-01", tz="UTC")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ingest_or_input_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "export.csv"
        f.write_bytes(data)
        try:
            r = read_files([f], root=tmp, now=NOW)
        except InputError as exc:
            assert "export.csv" in str(exc)  # the message names the file
            return
    for entry in r.log["files"]:
        assert entry["rows_read"] == entry["rows_kept"] + entry["rows_quarantined"] + entry["rows_superseded"]
    assert list(r.quarantine.columns[:3]) == ["source_file", "source_row", "reason"]
    assert r.posts["post_id"].is_unique


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data):
    _ingest_or_input_error(data)


cell = st.one_of(
    st.sampled_from(["", "-", "NA", "0", "1", "1938.0", "7.3E-4", "-5", "1,234", "2021-11-30 16:00 +0000",
                     "2021-11-30", "11/30/2021", "1465712230054432768", "@x hi &amp; bye", "yes", "x\ny"]),
    st.text(max_size=12),
)


@st.composite
def mutated_export(draw):
    header = list(draw(st.sampled_from(HEADERS)))
    op = draw(st.sampled_from(["none", "drop", "rename", "duplicate", "swap"]))
    i = draw(st.integers(0, len(header) - 1))
    if op == "drop" and len(header) > 1:
        header.pop(i)
    elif op == "rename":
        header[i] = draw(st.text(max_size=10))
    elif op == "duplicate":
        header.insert(i, header[i])
    elif op == "swap":
        j = draw(st.integers(0, len(header) - 1))
        header[i], header[j] = header[j], header[i]
    n_rows = draw(st.integers(0, 4))
    rows = []
    for _ in range(n_rows):
        width = draw(st.sampled_from([len(header), len(header), len(header) - 1, len(header) + 1, 1]))
        rows.append([draw(cell) for _ in range(max(width, 1))])
    buf = io.StringIO()
    csv.writer(buf, quoting=draw(st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL])), lineterminator="\n").writerows(
        [header, *rows])
    text = buf.getvalue()
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]  # cut anywhere, like an interrupted download
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, errors="replace")


@SETTINGS
@given(mutated_export())
def test_mutated_real_headers(data):
    _ingest_or_input_error(data)
