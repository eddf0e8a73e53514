"""Which export format a file is: decided by its header signature, never by its file name.

Every supported format is one :class:`FormatReader` in :data:`FORMAT_READERS`: a name, the canonical
table it feeds, a header-signature check and a parser. To support a new export family, write one module
with a ``matches_*`` and a ``parse_*`` function and add a reader to the list *before* the generic ones
(the first match wins, so specific signatures come first and ``account_csv`` comes last).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnknownFormatError
from . import account_csv, coding_files, x_legacy
from .common import FileOutcome, ParseContext
from .rawcsv import RawTable, read_text_file, split_header


@dataclass(frozen=True)
class FormatReader:
    """One supported export format."""

    name: str
    table: str  # posts, account or codes
    description: str
    matches: Callable[[list[str], Mapping[str, str] | None], bool]
    parse: Callable[[RawTable, ParseContext], FileOutcome]


FORMAT_READERS: list[FormatReader] = [
    FormatReader(x_legacy.TWEETS_FORMAT, "posts", "X/Twitter legacy per-tweet export (tweet_activity_metrics)",
                 x_legacy.matches_tweets, x_legacy.parse_tweets),
    FormatReader(x_legacy.DAILY_FORMAT, "account", "X/Twitter legacy daily export (daily_tweet_activity_metrics)",
                 x_legacy.matches_daily, x_legacy.parse_daily),
    FormatReader(coding_files.FORMAT, "codes", "manual coding file (post_id, coder, one column per code)",
                 coding_files.matches_coding, coding_files.parse_coding),
    FormatReader(account_csv.FORMAT, "account",
                 "generic account CSV (date + followers/new_follows/unfollows/impressions/engagements/posts)",
                 account_csv.matches_account_csv, account_csv.parse_account_csv),
]


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


def detect_format(path: str | Path, *, column_map: Mapping[str, str] | None = None) -> str:
    """The format name of the file at ``path`` (e.g. ``x_legacy_tweets``).

    Raises UnknownFormatError when no format matches and InputError when the file cannot be read.
    """
    utf8, _ = read_text_file(path)
    header = split_header(utf8, file=path)
    return detect_header(header, file=path, column_map=column_map).name
