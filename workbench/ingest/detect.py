"""Which export format a file is: decided by its header signature, never by its file name.

Every supported format is one :class:`FormatReader` in :data:`FORMAT_READERS`: a name, the canonical
table it feeds, a header-signature check and a parser. To support a new export family, write one module
with a ``matches_*`` and a ``parse_*`` function and add a reader to the list *before* the generic ones
(the first match wins, so specific signatures come first and ``account_csv`` comes last).

Files that are not CSV text — spreadsheet workbooks (``.xls``: BIFF or XML Spreadsheet 2003) and JSON API
responses — are first recognised by their first bytes (:data:`CONTAINERS`), loaded whole, and then matched by
content against :data:`DOCUMENT_READERS`; such a reader may feed several tables (one outcome per table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, UnknownFormatError
from . import (
    account_csv,
    ads,
    coding_files,
    facebook_legacy,
    linkedin,
    meta_suite,
    social_json,
    workbook,
    x_current,
    x_legacy,
)
from .common import FileOutcome, ParseContext
from .rawcsv import RawTable, read_text_file, split_header
from .report_layout import Unwrapped, unwrap_report


@dataclass(frozen=True)
class FormatReader:
    """One supported export format."""

    name: str
    table: str  # posts, account, codes or campaigns
    description: str
    matches: Callable[[list[str], Mapping[str, str] | None], bool]
    parse: Callable[[RawTable, ParseContext], FileOutcome]


FORMAT_READERS: list[FormatReader] = [
    FormatReader(x_legacy.TWEETS_FORMAT, "posts", "X/Twitter legacy per-tweet export (tweet_activity_metrics)",
                 x_legacy.matches_tweets, x_legacy.parse_tweets),
    FormatReader(x_legacy.DAILY_FORMAT, "account", "X/Twitter legacy daily export (daily_tweet_activity_metrics)",
                 x_legacy.matches_daily, x_legacy.parse_daily),
    FormatReader(x_current.CONTENT_FORMAT_A, "posts", "X content export, header variant A (Post id, Date, Link, Share…)",
                 x_current.matches_content_a, x_current.parse_content),
    FormatReader(x_current.CONTENT_FORMAT_B, "posts", "X content export, header variant B (Post id, Date, Post Link…)",
                 x_current.matches_content_b, x_current.parse_content),
    FormatReader(x_current.OVERVIEW_FORMAT, "account", "X account overview export (daily New follows, Unfollows…)",
                 x_current.matches_overview, x_current.parse_overview),
    FormatReader(meta_suite.FACEBOOK_FORMAT, "posts", "Meta Business Suite content export, Facebook Pages",
                 meta_suite.matches_facebook, meta_suite.parse_content),
    FormatReader(meta_suite.INSTAGRAM_FORMAT, "posts", "Meta Business Suite content export, Instagram accounts",
                 meta_suite.matches_instagram, meta_suite.parse_content),
    FormatReader(meta_suite.PAGE_SERIES_FORMAT, "account",
                 "Meta Business Suite page-level daily series (sep=, line, metric title, Date, Primary)",
                 meta_suite.matches_page_series, meta_suite.parse_page_series),
    FormatReader(ads.META_FORMAT, "campaigns", "Meta Ads Manager export (Reporting starts, Amount spent (XXX), …)",
                 ads.matches_meta, ads.parse_meta),
    FormatReader(ads.LINKEDIN_FORMAT, "campaigns", "LinkedIn Campaign Manager export (Campaign Name, Total Spent, …)",
                 ads.matches_linkedin, ads.parse_linkedin),
    FormatReader(ads.X_FORMAT, "campaigns", "X Ads export (Campaign name, Time period, Spend, …)",
                 ads.matches_x, ads.parse_x),
    FormatReader(coding_files.FORMAT, "codes", "manual coding file (post_id, coder, one column per code)",
                 coding_files.matches_coding, coding_files.parse_coding),
    *[FormatReader(name, table, f"a {table} export re-saved with ';' or tab separators (rejected)",
                   meta_suite.semicolon_matcher(table), meta_suite.parse_semicolon)
      for table, name in meta_suite.SEMICOLON_FORMATS.items()],
    FormatReader(account_csv.FORMAT, "account",
                 "generic account CSV (date + followers/new_follows/unfollows/impressions/engagements/posts)",
                 account_csv.matches_account_csv, account_csv.parse_account_csv),
]
meta_suite.use_registry(FORMAT_READERS)  # the ;-re-save check consults the registry without importing detect


def reader_for(name: str) -> FormatReader:
    """The reader registered under ``name``."""
    for r in FORMAT_READERS:
        if r.name == name:
            return r
    raise KeyError(f"no format reader named {name!r}; known: {[r.name for r in FORMAT_READERS]}")


def detect_header(header: list[str], *, file: str | Path, column_map: Mapping[str, str] | None = None) -> FormatReader:
    """The reader whose signature matches ``header``; raises UnknownFormatError naming what was found."""
    for reader in FORMAT_READERS:
        if reader.matches(header, column_map):
            return reader
    shown = header[:8]
    more = f" … ({len(header)} columns)" if len(header) > 8 else ""
    known = "; ".join(f"{r.name}: {r.description}" for r in FORMAT_READERS)
    raise UnknownFormatError(
        f"not a known export format. First header cells found: {shown}{more}. "
        f"Formats we recognise: {known}. For a hand-kept account sheet, map its columns to canonical "
        "names with `columns:` in dataset.yml.",
        file=file,
    )


#: how many lines at the start and the end of a file are searched for a header that is not on line 1
HEADER_SCAN_HEAD, HEADER_SCAN_TAIL = 50, 5


def locate_header(utf8: bytes, *, column_map: Mapping[str, str] | None = None) -> tuple[int, int, FormatReader] | None:
    """A known export header on another line than the first: ``(line number, lines in the file, reader)``.

    Searches the first ``HEADER_SCAN_HEAD`` and the last ``HEADER_SCAN_TAIL`` lines (a hand-concatenated
    file may end with its header); line numbers are the file's physical lines, as a text editor shows them.
    """
    import csv
    import io

    lines = utf8.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    n = len(lines)
    candidates = list(range(1, min(n, HEADER_SCAN_HEAD))) + list(range(max(HEADER_SCAN_HEAD, n - HEADER_SCAN_TAIL), n))
    for i in candidates:
        text = lines[i].decode("utf-8", errors="replace").rstrip("\r")
        try:
            cells = [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]
        except csv.Error:
            continue
        if len(cells) < 2:
            continue
        reader = next((r for r in FORMAT_READERS if r.matches(cells, column_map)), None)
        if reader is not None and reader.name not in _NOT_IN_SHEETS:
            return i + 1, n, reader
    return None


def detect_text(utf8: bytes, *, file: str | Path, column_map: Mapping[str, str] | None = None) -> FormatReader:
    """The reader of a CSV file's bytes; when line 1 is no known header but another line is, an InputError
    says on which line it is (rather than showing a data row as "the header")."""
    header = split_header(utf8, file=file)
    try:
        return detect_header(header, file=file, column_map=column_map)
    except UnknownFormatError:
        found = locate_header(utf8, column_map=column_map)
        if found is None:
            raise
        line, total, reader = found
        shown = ", ".join(header[:3])
        raise InputError(
            f"line 1 is not a header (it starts {shown[:80]!r}), but line {line} of {total} is the header of a "
            f"{reader.description}{' — the last line: a hand-concatenated file?' if line == total else ''}. "
            "Move that line to the top of the file (and delete any other copy of it), then run again.",
            file=file) from None


#: formats whose genuine downloads may carry lines about the report above the header (see .report_layout)
REPORT_LAYOUT_FORMATS = frozenset({"linkedin_ads"})


def detect_text_layout(utf8: bytes, *, file: str | Path, column_map: Mapping[str, str] | None = None
                       ) -> tuple[FormatReader, bytes, Unwrapped | None]:
    """Like :func:`detect_text`, first unwrapping a report-style download (:mod:`.report_layout`):
    ``(reader, the bytes to parse, the layout or None)``."""
    for reader in FORMAT_READERS:
        if reader.name in REPORT_LAYOUT_FORMATS:
            layout = unwrap_report(utf8, matches=lambda cells, r=reader: r.matches(cells, column_map),
                                   name=reader.description)
            if layout is not None:
                return reader, layout.utf8, layout
    return detect_text(utf8, file=file, column_map=column_map), utf8, None


def detect_format(path: str | Path, *, column_map: Mapping[str, str] | None = None) -> str:
    """The format name of the file at ``path`` (e.g. ``x_legacy_tweets``).

    Raises UnknownFormatError when no format matches and InputError when the file cannot be read.
    """
    container = sniff_container(path)
    if container is not None:
        return detect_document(container.load(path, label=str(path)), container, file=path).name
    utf8, _ = read_text_file(path)
    return detect_text_layout(utf8, file=path, column_map=column_map)[0].name


# ---- files that are not CSV text: workbooks (.xls) and JSON API responses ----------------------------------
# Sniffed from the first bytes (magic number, XML root, JSON bracket), loaded whole, then matched by content.


@dataclass(frozen=True)
class Container:
    """A non-CSV file kind: ``sniff`` looks at the first 64 KiB, ``load`` reads the whole file."""

    name: str
    description: str
    sniff: Callable[[bytes], bool]
    load: Callable[..., Any]


@dataclass(frozen=True)
class DocumentReader:
    """One supported format inside a container; ``parse`` returns one outcome per table it feeds."""

    name: str
    tables: tuple[str, ...]  # posts, account (a LinkedIn content export feeds both)
    description: str
    container: str
    matches: Callable[[Any], bool]
    parse: Callable[[Any, ParseContext], FileOutcome | list[FileOutcome]]

    @property
    def table(self) -> str:
        return self.tables[0]


CONTAINERS: list[Container] = [
    Container("workbook", "spreadsheet workbook (Excel .xlsx, Excel 97-2003 .xls, or XML Spreadsheet 2003)",
              workbook.sniff_workbook, workbook.read_workbook),
    Container("json", "JSON API response (as saved by `workbench fetch`) or Mastodon archive file (outbox.json, "
              "actor.json)", social_json.sniff_json,
              social_json.load_json),
]

DOCUMENT_READERS: list[DocumentReader] = [
    DocumentReader(facebook_legacy.POSTS_FORMAT, ("posts",), "Facebook legacy Insights post-level export (.xls XML)",
                   "workbook", facebook_legacy.matches_posts, facebook_legacy.parse_posts),
    DocumentReader(facebook_legacy.PAGE_FORMAT, ("account",), "Facebook legacy Insights page-level export (.xls XML)",
                   "workbook", facebook_legacy.matches_page, facebook_legacy.parse_page),
    DocumentReader(linkedin.POSTS_FORMAT, ("posts", "account"),
                   "LinkedIn Page content export (All posts + daily Metrics sheets)",
                   "workbook", linkedin.matches_content, linkedin.parse_content),
    DocumentReader(linkedin.FOLLOWERS_FORMAT, ("account",), "LinkedIn Page followers export (New followers sheet)",
                   "workbook", linkedin.matches_followers, linkedin.parse_followers),
    DocumentReader("sheet_export", ("posts", "account", "codes", "campaigns"),
                   "a CSV export saved as a spreadsheet (.xlsx/.xls; the first sheet whose header is an export's)",
                   "workbook", lambda book: matches_sheet_export(book), lambda book, ctx: parse_sheet_export(book, ctx)),
    DocumentReader(social_json.BLUESKY_FEED_FORMAT, ("posts",), "Bluesky author feed page (app.bsky.feed.getAuthorFeed)",
                   "json", social_json.matches_bluesky_feed, social_json.parse_bluesky_feed),
    DocumentReader(social_json.BLUESKY_PROFILE_FORMAT, ("account",), "Bluesky profile snapshot (workbench fetch)",
                   "json", social_json.matches_bluesky_profile, social_json.parse_bluesky_profile),
    DocumentReader(social_json.MASTODON_STATUSES_FORMAT, ("posts",), "Mastodon statuses page (/api/v1/accounts/:id/statuses)",
                   "json", social_json.matches_mastodon_statuses, social_json.parse_mastodon_statuses),
    DocumentReader(social_json.MASTODON_OUTBOX_FORMAT, ("posts",),
                   "Mastodon account archive outbox.json (Create/Note → posts, Announce → reposts)",
                   "json", social_json.matches_mastodon_outbox, social_json.parse_mastodon_outbox),
    DocumentReader(social_json.MASTODON_ACTOR_FORMAT, ("account",),
                   "Mastodon account archive actor.json (follower count where present)",
                   "json", social_json.matches_mastodon_actor, social_json.parse_mastodon_actor),
    DocumentReader(social_json.MASTODON_PROFILE_FORMAT, ("account",), "Mastodon account snapshot (workbench fetch)",
                   "json", social_json.matches_mastodon_profile, social_json.parse_mastodon_profile),
]


# ---- a CSV export saved as a workbook (Meta's export opened in Excel and saved as .xlsx) -------------------
#: the CSV formats that cannot come from a sheet (they re-read the file as text, or reject it)
_NOT_IN_SHEETS = (meta_suite.PAGE_SERIES_FORMAT, *meta_suite.SEMICOLON_FORMATS.values())
SHEET_EXPORT_FORMAT = "sheet_export"


def _sheet_export(book) -> tuple[Any, int, FormatReader] | None:
    """The first sheet whose first non-empty row (among its first 5) is a CSV export's header, with its reader."""
    for sheet in book.sheets.values():
        for i, row in enumerate(sheet.rows[:5]):
            cells = [c.strip() for c in row]
            while cells and cells[-1] == "":
                cells.pop()
            if not cells:
                continue
            reader = next((r for r in FORMAT_READERS if r.name not in _NOT_IN_SHEETS and r.matches(cells, None)), None)
            if reader is not None:
                return sheet, i, reader
            break
    return None


def matches_sheet_export(book) -> bool:
    """True when a workbook sheet holds one of the CSV exports (saved as a workbook)."""
    return _sheet_export(book) is not None


def parse_sheet_export(book, ctx: ParseContext) -> FileOutcome:
    """A CSV export saved as a workbook: its sheet read as the CSV would be (row numbers as in the sheet)."""
    sheet, at, reader = _sheet_export(book)
    raw = workbook.sheet_table(sheet, at, path=book.path, warnings=book.warnings)
    if len(book.sheets) > 1:
        raw.warnings.append(f"{ctx.source_file}: read sheet {sheet.name!r} (a {reader.description}); the other "
                            f"sheets {[n for n in book.sheets if n != sheet.name][:5]} are not read")
    return reader.parse(raw, ctx)


def sniff_container(path: str | Path) -> Container | None:
    """The container the file at ``path`` is (by its first bytes), or None for CSV text."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None  # the CSV reader reports unreadable files
    if head.startswith(b"PK\x03\x04"):  # a zip: an .xlsx workbook is one, whatever order its parts are in
        return CONTAINERS[0] if workbook.is_xlsx(path) else None
    return next((c for c in CONTAINERS if c.sniff(head)), None)


def detect_document(doc: Any, container: Container, *, file: str | Path) -> DocumentReader:
    """The reader whose content signature matches a loaded container; UnknownFormatError naming what was found."""
    for reader in DOCUMENT_READERS:
        if reader.container == container.name and reader.matches(doc):
            return reader
    if container.name == "workbook":
        found = f"sheets {list(doc.sheets)[:8]}"
    elif isinstance(doc.response, dict):
        found = f"keys {sorted(doc.response)[:8]}" + (f", endpoint {doc.endpoint!r}" if doc.meta else "")
    else:
        found = f"a {type(doc.response).__name__} of {len(doc.response) if hasattr(doc.response, '__len__') else '?'} item(s)"
    known = "; ".join(f"{r.name}: {r.description}" for r in DOCUMENT_READERS if r.container == container.name)
    raise UnknownFormatError(f"a {container.description}, but not one we know: found {found}. "
                             f"Formats we recognise in this kind of file: {known}.", file=file)


def read_document(path: str | Path, container: Container, ctx: ParseContext, *,
                  expect_table: str | None = None, listed_as: str | None = None) -> list[FileOutcome]:
    """Load, detect and parse a container file; one outcome per table (InputError when listed under the wrong key)."""
    doc = container.load(path, label=ctx.source_file)
    reader = detect_document(doc, container, file=ctx.source_file)
    if expect_table is not None and expect_table not in reader.tables:
        raise InputError(
            f"listed under {listed_as!r} in dataset.yml but it is a {reader.description} "
            f"(feeds the {' and '.join(reader.tables)} table). Move it to the right list in dataset.yml.",
            file=ctx.source_file)
    out = reader.parse(doc, ctx)
    return out if isinstance(out, list) else [out]
