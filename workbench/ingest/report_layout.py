"""Report-style downloads: a few lines about the report above the header, possibly tab-separated.

LinkedIn Campaign Manager's "Export" of a performance report is not a plain CSV: above the header it writes what
the report is and the period it covers, e.g.::

    Campaign Performance Report (in UTC)
    Report Start: 1/1/2024, 12:00 AM
    Report End: 1/31/2024, 11:59 PM
    Date Generated: 2/2/2024, 9:15 AM

    Start Date (in UTC),Account Name,Campaign Group Name,Campaign Name,Campaign ID,Total Spent,Impressions,...

(the start/end may share one line: ``Report Start: 09/01/2026, Report End: 09/02/2026``), and depending on the
download path it is comma- or tab-separated, UTF-8 or UTF-16. A file as downloaded must be read as it is, so
this module recognises that layout — the header of a format that declares such a preamble, and above it only
short "about the report" lines — and hands the reader the table part as a comma-separated CSV, with:

* ``offset``: how many physical lines precede the header, so row numbers in the quarantine and the log stay the
  ones a text editor shows for the original file;
* the report period (``Report Start``/``Report End``) appended as two columns when the table has no date column of
  its own (a report with the time breakdown "All" has none; without the period every row would be unusable);
* a note for the ingest log saying what was skipped.

Any other file (a header on line 1, or lines above the header that are not about the report) is left alone, so
the existing "line N is the header" message still catches hand-edited files. The rows are converted with the
``csv`` module: campaign reports have hundreds of rows, not posts' millions.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from .common import normalize_name

#: lines a report may carry above its header (normalised, lower case); anything else means "not this layout"
_PREAMBLE = re.compile(
    r"^(?:.*\breport\b.*|report (?:start|end)\s*:.*|date generated\s*:.*|account(?: name)?\s*:.*|"
    r"time ?zone\s*:.*|currency\s*:.*|generated\s*:.*)$")
_REPORT_DATE = r"(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})"
_START = re.compile(r"report start\s*:\s*" + _REPORT_DATE, re.IGNORECASE)
_END = re.compile(r"report end\s*:\s*" + _REPORT_DATE, re.IGNORECASE)
#: header lines searched below the top of the file
_SCAN = 15


@dataclass(frozen=True)
class Unwrapped:
    utf8: bytes  #: header + data rows as comma-separated UTF-8
    offset: int  #: physical lines before the header in the original file
    delimiter: str
    period: tuple[str, str] | None  #: (start, end) as written in the preamble, when found
    note: str


def _cells(line: str, delimiter: str) -> list[str]:
    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(line), delimiter=delimiter), [])]
    except csv.Error:
        return []


def _about(line: str, delimiter: str) -> str:
    """A line above the header as the preamble check reads it: its non-empty cells joined by spaces."""
    return " ".join(c for c in _cells(line, delimiter) if c)


def unwrap_report(utf8: bytes, *, matches, name: str) -> Unwrapped | None:
    """The table part of a report-style download whose header ``matches`` (a format's header check).

    ``name`` is the format's description, used in the note. Returns None when the file is not in that layout.
    """
    head = utf8[: 1 << 16].decode("utf-8", errors="replace")
    lines = head.split("\n")[:_SCAN]
    for i, raw_line in enumerate(lines):
        line = raw_line.rstrip("\r")
        delimiter = "\t" if "\t" in line else ","
        cells = _cells(line, delimiter)
        if len(cells) < 2 or not matches(cells):
            # a line that is no header and would not pass as a preamble line whatever the header's delimiter
            # makes every later header "something else above": stop (a plain CSV's data rows are not matched)
            if not any(_about(line, d) == "" or _PREAMBLE.match(normalize_name(_about(line, d))) for d in ",\t"):
                return None
            continue
        if i == 0 and delimiter == ",":
            return None  # a plain CSV: the normal path reads it
        above = [ln.rstrip("\r") for ln in lines[:i]]
        about = [_about(ln, delimiter) for ln in above]
        if not all(a == "" or _PREAMBLE.match(normalize_name(a)) for a in about):
            return None  # something else above the header: not a report preamble
        return _convert(utf8, i, delimiter, about, name)
    return None


def _convert(utf8: bytes, header_at: int, delimiter: str, about: list[str], name: str) -> Unwrapped:
    text = utf8.decode("utf-8")
    body = text.split("\n", header_at)[header_at] if header_at else text
    rows = list(csv.reader(io.StringIO(body), delimiter=delimiter))
    preamble = " ".join(about)
    start, end = _START.search(preamble), _END.search(preamble)
    period = (start.group(1), end.group(1)) if start and end else None
    header = [c.strip() for c in rows[0]] if rows else []
    has_date = any(normalize_name(h) in ("start date (in utc)", "date", "day", "start date") for h in header)
    add_period = period is not None and not has_date
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for k, row in enumerate(rows):
        if add_period and any(c.strip() for c in row):
            row = [*row, *(("Report Start", "Report End") if k == 0 else period)]
        writer.writerow(row)
    parts = [f"read as a {name} as downloaded: {header_at} line(s) about the report above the header skipped"]
    if delimiter == "\t":
        parts.append("tab-separated")
    if add_period:
        parts.append(f"every row covers the report period {period[0]} to {period[1]} (the report has no date "
                     "column)")
    elif period is None and not has_date:
        parts.append("no report period found above the header and no date column")
    return Unwrapped(utf8=out.getvalue().encode("utf-8"), offset=header_at, delimiter=delimiter, period=period,
                     note="; ".join(parts))
