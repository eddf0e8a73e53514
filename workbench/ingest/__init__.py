"""The ingest stage: raw analytics exports → canonical posts, account and codes tables.

Formats are detected by header signature (:mod:`workbench.ingest.detect`); each export family is one
module. Nothing is dropped silently: every data row of every file is kept, superseded by a newer copy,
or quarantined with its file, row number and reason, and the log says how many of each per file
(``rows_read = rows_kept + rows_quarantined + rows_superseded``).

Row numbers (``source_row``) count as a spreadsheet user does: the header is row 1, the first data row is
row 2, and a quoted field spanning several lines stays one row.

Overlapping exports (the same post_id in several files; account rows repeated across files of the same
format — same platform, account, date): resolved by evidence, not file order — the copy with more reported
metrics (non-zero, non-NA), then the later export; disagreeing copies are counted in the log's warnings
(:mod:`workbench.ingest.overlap`, which also assigns page series' platforms from the export's other files,
dates Audience.csv follower totals and flags collab posts). Codes repeated across files (same post and coder)
keep the later file's rows.

Zip archives (recognised by their magic bytes, never their name) may be listed or globbed like any export:
every member in a supported format is read as if it were its own file, and named
``<zip path relative to the dataset>!<member path>`` (e.g. ``raw/exports.zip!2021/tweets.csv``) in
``source_file``, the quarantine and ``ingest_log.json`` (one log entry per member). Directories,
``__MACOSX/`` and dot-files inside are skipped; members in formats we do not know and nested zips are
skipped with a warning, unless no member can be read (then UnknownFormatError). Members are unpacked one at a
time into a temporary directory (never next to the raw data). Zip bombs are refused before anything is
unpacked: more than ``ZIP_MAX_MEMBERS`` entries, a member that would unpack to more than
``ZIP_MAX_MEMBER_BYTES``, members that together would unpack to more than ``ZIP_MAX_TOTAL_BYTES``, or a
compression ratio above ``ZIP_MAX_RATIO`` (per member, and for the archive as a whole); and while unpacking,
the bytes really written are counted against the same budgets (a member's declared size can lie).

Only regular files are read: a folder, a FIFO (which would block), a device (``/dev/zero`` never ends) is refused
by name before it is opened.
"""

from __future__ import annotations

import gc
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ..dataset import Dataset
from ..errors import InputError, UnknownFormatError
from ..io import write_csv, write_json, write_parquet
from ..schema import (
    ACCOUNT_METRICS,
    ACCOUNT_SCHEMA,
    CAMPAIGNS_SCHEMA,
    CODES_SCHEMA,
    POST_METRICS,
    POSTS_SCHEMA,
    conform,
    empty_frame,
)
from .common import FileOutcome, ParseContext, combine_quarantine, file_log, release_arrow_memory
from .detect import (
    DOCUMENT_READERS,
    FORMAT_READERS,
    FormatReader,
    detect_format,
    detect_text_layout,
    read_document,
    sniff_container,
)
from .overlap import flag_collabs, resolve_archive_dates, resolve_overlap, resolve_series
from .rawcsv import CheckedFile, check_utf8_file, read_raw_csv, read_text_file
from .report_layout import Unwrapped
from .workbook import is_xlsx

__all__ = [
    "FORMAT_READERS",
    "FormatReader",
    "IngestResult",
    "detect_format",
    "is_zip",
    "read_exports",
    "read_files",
    "read_zip_members",
    "summarize_ingest",
    "write_ingest_outputs",
]


@dataclass
class IngestResult:
    """The canonical tables, the quarantined rows and the per-file log of one ingest."""

    posts: pd.DataFrame
    account: pd.DataFrame
    codes: pd.DataFrame
    quarantine: pd.DataFrame
    log: dict = field(default_factory=dict)
    #: paid-campaign rows (issue 18; README "Paid campaigns"); empty when no campaign export was read
    campaigns: pd.DataFrame = field(default_factory=lambda: empty_frame(CAMPAIGNS_SCHEMA))


def _relative(path: Path, root: Path | None) -> str:
    """``path`` relative to the dataset folder: lexically first (``raw/`` may be a link to where the exports
    live), then with links resolved; else as given."""
    if root is None:
        return path.as_posix()
    for p, r in ((Path(os.path.abspath(path)), Path(os.path.abspath(root))), (path.resolve(), root.resolve())):
        try:
            return p.relative_to(r).as_posix()
        except ValueError:
            continue
    return path.as_posix()


#: CSV files at least this large (bytes) are checked in chunks and parsed from their path when they are plain
#: UTF-8 (:func:`.rawcsv.check_utf8_file`); smaller ones are read whole, which costs less for a small file.
STREAM_AFTER_BYTES = 8 * 1024**2


def _detect_text(path: Path, *, label: str, column_map: Mapping[str, str] | None
                 ) -> tuple[FormatReader, bytes | CheckedFile, str, Unwrapped | None]:
    """Decode a CSV file and find its format: ``(reader, UTF-8 bytes or the checked file, encoding found, report
    layout)``.

    A report-style download (LinkedIn Campaign Manager: lines about the report above the header, maybe tabs) is
    unwrapped to its table first (:mod:`.report_layout`); the layout says how to number its rows.
    """
    if _file_size(path) >= STREAM_AFTER_BYTES and (checked := check_utf8_file(path, label=label)) is not None:
        # a large plain UTF-8 file: checked in chunks and parsed by Arrow from its path, never held whole. Its
        # format is found from its first megabyte; anything else (a report-style layout to unwrap, no header
        # recognised) goes the way below, which reads the whole file and gives the same answers as ever
        try:
            reader, _, layout = detect_text_layout(checked.head, file=label, column_map=column_map)
        except (InputError, UnknownFormatError):
            reader, layout = None, None
        if reader is not None and layout is None:
            return reader, checked, checked.encoding, None
    utf8, encoding = read_text_file(path, label=label)
    reader, utf8, layout = detect_text_layout(utf8, file=label, column_map=column_map)
    return reader, utf8, encoding, layout


def _file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


#: Files at least this large (bytes) have the memory their reading freed collected and handed back at once.
RELEASE_AFTER_BYTES = 8 * 1024**2


def _release_memory() -> None:
    """Free what reference cycles hold, and hand Arrow's freed memory back to the system (its allocator keeps
    freed pages for reuse, which counted as more than 1 GB of resident memory at 1M posts)."""
    gc.collect()
    release_arrow_memory()


def _parse_text(path: Path, reader: FormatReader, utf8: list[bytes | CheckedFile], encoding: str, ctx: ParseContext,
                layout: Unwrapped | None = None) -> FileOutcome:
    """Parse a decoded CSV file. ``utf8``: a list holding its bytes, emptied here, so the bytes (the size of the
    file) are freed once the table is read, before the reader's work. ``layout``: a report-style download's
    (:mod:`.report_layout`), whose row numbers count the lines above its header."""
    big = (utf8[0].size if isinstance(utf8[0], CheckedFile) else len(utf8[0])) >= RELEASE_AFTER_BYTES
    raw = read_raw_csv(path, label=ctx.source_file, utf8=utf8.pop(), encoding=encoding)
    outcome = reader.parse(raw, ctx)
    if raw.blank_rows:
        outcome.warnings.append(f"{ctx.source_file}: {raw.blank_rows} blank line(s) ignored")
    del raw
    # pandas' ``.str`` accessor and its Series refer to each other: the raw table's columns (the size of the file
    # again) would stay alive until the cyclic garbage collector happens to run. Only worth it for a large file:
    # a full collection costs 20-50 ms whatever the file's size (1-2 s for the example's 53 small files).
    if big:
        _release_memory()
    if layout is not None:  # row numbers as in the file as downloaded (the lines above the header count)
        for frame in (outcome.frame, outcome.quarantine):
            if "source_row" in frame.columns and len(frame):
                frame["source_row"] = frame["source_row"] + layout.offset
        outcome.warnings.append(f"{ctx.source_file}: {layout.note}")
    return outcome


def _context(label: str, column_map, now, binary_codes, platform: str | None = None) -> ParseContext:
    return ParseContext(source_file=label, column_map=dict(column_map or {}), now=now,
                        binary_codes=None if binary_codes is None else frozenset(binary_codes), platform=platform)


def _read_one(path: Path, *, label: str, column_map: Mapping[str, str] | None, now, binary_codes,
              expect_table: str | None, listed_as: str | None,
              warnings: list[str] | None = None, platform: str | None = None) -> list[FileOutcome]:
    if is_zip(path) and not is_xlsx(path):  # a zip of exports (an .xlsx is a zip too: a workbook, below)
        return read_zip_members(path, label=label, column_map=column_map, now=now, binary_codes=binary_codes,
                                listed_as=listed_as, warnings=warnings if warnings is not None else [],
                                platform=platform)
    container = sniff_container(path)
    ctx = _context(label, column_map, now, binary_codes, platform)
    if container is not None:  # a workbook or JSON file: one outcome per table it feeds
        return read_document(path, container, ctx, expect_table=expect_table, listed_as=listed_as)
    reader, utf8, encoding, layout = _detect_text(path, label=label, column_map=column_map)
    if expect_table is not None and reader.table != expect_table:
        raise InputError(
            f"listed under {listed_as!r} in dataset.yml but it is a {reader.description} "
            f"(feeds the {reader.table} table). Move it to the right list in dataset.yml.",
            file=label,
        )
    holder = [utf8]
    del utf8
    return [_parse_text(path, reader, holder, encoding, ctx, layout)]


# ---- zip archives of exports -------------------------------------------------------------------------------
# A zip is recognised by its first bytes (never its name). Each member in a supported format is read as if it
# were its own file, labelled ``<zip path>!<member path>`` (the ``!`` convention of jar: URLs) in source_file,
# the quarantine and ingest_log.json. Members are copied, one at a time, into a fresh temporary directory
# under their base name only (so a member named ``../../x.csv`` cannot write outside it); the zip itself is
# only ever opened for reading.

#: First bytes of a zip archive: a local file header, an empty archive's end record, a spanned archive.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
#: Largest uncompressed size of one zip member we read (bytes).
ZIP_MAX_MEMBER_BYTES = 2 * 1024**3
#: Largest uncompressed/compressed size ratio of one zip member (zip-bomb guard) ...
ZIP_MAX_RATIO = 200
#: ... checked for members (and archives) larger than this (bytes): a small one cannot exhaust memory or disk.
ZIP_RATIO_GRACE_BYTES = 1024**2
#: Largest total uncompressed size of all the members of one archive we unpack (bytes).
ZIP_MAX_TOTAL_BYTES = 4 * 1024**3
#: Most entries (files and folders) in one archive: a year of monthly exports is a few dozen.
ZIP_MAX_MEMBERS = 10_000
_COPY_CHUNK = 1 << 20


def _check_archive_size(infos: list[zipfile.ZipInfo], *, label: str) -> None:
    """InputError for an archive whose entries are too many, or whose members together unpack to more than
    ZIP_MAX_TOTAL_BYTES or by a ratio above ZIP_MAX_RATIO (a bomb made of many small members)."""
    advice = "Unzip it yourself and list the export files instead."
    if len(infos) > ZIP_MAX_MEMBERS:
        raise InputError(f"the zip archive has {len(infos):,} entries, more than the {ZIP_MAX_MEMBERS:,} we read "
                         f"(a zip bomb?). {advice}", file=label)
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > ZIP_MAX_TOTAL_BYTES:
        raise InputError(f"the zip archive unpacks to {total:,} bytes in all, more than the {ZIP_MAX_TOTAL_BYTES:,} "
                         f"bytes we unpack from one archive (a zip bomb?). {advice}", file=label)
    if total > ZIP_RATIO_GRACE_BYTES:
        ratio = total / packed if packed else float("inf")
        if ratio > ZIP_MAX_RATIO:
            raise InputError(f"the zip archive's members are compressed {ratio:,.0f}-fold in all ({packed:,} → "
                             f"{total:,} bytes), more than the {ZIP_MAX_RATIO}-fold we accept (a zip bomb?). "
                             f"{advice}", file=label)


def check_regular_file(path: Path, *, label: str) -> None:
    """InputError naming ``path`` unless it is a regular file (checked without opening it: a FIFO would block)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(f"cannot open the file ({exc.strerror}); expected an analytics export", file=label) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a folder; list the export files in it (a glob such as raw/*.csv in dataset.yml, or the "
                         "folder itself with `workbench ingest`)", file=label)
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise InputError(f"is {kind}, not a file; expected an analytics export saved as a file", file=label)


def is_zip(path: str | Path) -> bool:
    """True when the file at ``path`` starts with a zip archive's magic bytes (whatever its name)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in ZIP_MAGIC
    except OSError:
        return False  # the regular readers report unreadable files


def _skipped_entry(info: zipfile.ZipInfo) -> bool:
    """Directories, macOS resource forks (``__MACOSX/``) and dot-files are not exports."""
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    return (info.is_dir() or not parts or parts[0] == "__MACOSX"
            or any(p.startswith(".") and p not in (".", "..") for p in parts))


def _check_member_size(info: zipfile.ZipInfo, *, label: str) -> None:
    """InputError for a member that would unpack to more than ZIP_MAX_MEMBER_BYTES or by more than ZIP_MAX_RATIO."""
    if info.file_size > ZIP_MAX_MEMBER_BYTES:
        raise InputError(
            f"the zip member unpacks to {info.file_size:,} bytes, more than the {ZIP_MAX_MEMBER_BYTES:,} bytes we "
            "read from one member (a zip bomb?). Unzip it yourself and list the export file instead.", file=label)
    if info.file_size > ZIP_RATIO_GRACE_BYTES:
        ratio = info.file_size / info.compress_size if info.compress_size else float("inf")
        if ratio > ZIP_MAX_RATIO:
            raise InputError(
                f"the zip member is compressed {ratio:,.0f}-fold ({info.compress_size:,} → {info.file_size:,} "
                f"bytes), more than the {ZIP_MAX_RATIO}-fold we accept (a zip bomb?). Unzip it yourself and list "
                "the export file instead.", file=label)


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, *, label: str,
                 budget: int = ZIP_MAX_TOTAL_BYTES) -> int:
    """Copy one member's bytes to ``dest``, never more than its declared size nor ``budget`` (the bytes the
    archive may still unpack to); return the bytes written."""
    written = 0
    try:
        with archive.open(info) as src, open(dest, "wb") as out:
            while chunk := src.read(_COPY_CHUNK):
                written += len(chunk)
                if written > min(info.file_size, ZIP_MAX_MEMBER_BYTES):
                    raise InputError("the zip member unpacks to more bytes than it declares; the archive is "
                                     "damaged or crafted", file=label)
                if written > budget:
                    raise InputError(f"the zip archive unpacks to more than the {ZIP_MAX_TOTAL_BYTES:,} bytes we "
                                     "unpack from one archive (a zip bomb?). Unzip it yourself and list the export "
                                     "files instead.", file=label)
                out.write(chunk)
        return written
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError(f"cannot unpack the zip member ({exc}); the archive is damaged. Download it again.",
                         file=label) from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, or a compression method we lack
        raise InputError(f"cannot unpack the zip member ({exc}); expected an unencrypted zip (deflate, bzip2 or "
                         "lzma). Unzip it yourself and list the export files instead.", file=label) from None


def _member_file_name(member: str) -> str:
    """A safe local file name for a member: its base name only (readers take account names from it)."""
    name = PurePosixPath(member.replace("\\", "/")).name
    return name if name not in ("", ".", "..") else "member"


def read_zip_members(path: str | Path, *, label: str, column_map: Mapping[str, str] | None = None, now=None,
                     binary_codes: Collection[str] | None = None, listed_as: str | None = None,
                     warnings: list[str], platform: str | None = None) -> list[FileOutcome]:
    """Read every member of a zip archive that is a supported export, as if it were its own file.

    Parameters
    ----------
    path
        The zip archive (recognised by its magic bytes; its name does not matter).
    label
        The archive's name in messages and provenance; members are labelled ``f"{label}!{member path}"``.
    column_map, now, binary_codes
        As for :func:`read_files`, applied to each member.
    listed_as
        The dataset.yml list naming the archive, if any: each member feeds the table of its own format, and a
        member feeding another table is read with a warning.
    warnings
        Appended to: skipped entries (directories, ``__MACOSX/``, dot-files; counted in one warning), nested
        zips, members in formats we do not know.

    Returns
    -------
    list of FileOutcome
        One outcome per (member, table), like reading each member with :func:`read_files`.

    Raises
    ------
    InputError
        The archive is damaged or an Office Open XML file such as ``.xlsx`` (named), or a member is too large or too compressed (a zip bomb; see
        ``ZIP_MAX_MEMBER_BYTES``, ``ZIP_MAX_RATIO``), encrypted or damaged (named ``zip!member``).
    UnknownFormatError
        No member is a supported export (names the archive and its members).
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError(f"the file holds binary data that starts like a zip archive but cannot be opened as one "
                         f"({exc}): a damaged or incomplete download? We expected a CSV analytics export or a zip "
                         "of exports; download it again.", file=label) from None
    except OSError as exc:
        raise InputError(f"cannot open the zip archive ({exc.strerror})", file=label) from None
    outcomes: list[FileOutcome] = []
    skipped: list[str] = []
    unusable: list[tuple[str, str]] = []  # (member, why)
    with archive, tempfile.TemporaryDirectory(prefix="workbench-zip-") as tmp:
        infos = archive.infolist()
        if any(i.filename == "[Content_Types].xml" for i in infos):
            kind = ("an Excel .xlsx workbook" if any(i.filename.startswith("xl/") for i in infos)
                    else "an Office Open XML document (.docx/.pptx)")
            raise InputError(f"{kind}, not a zip of exports (it is a zip of XML parts). We read CSV exports, "
                             ".xls workbooks and JSON responses: save each sheet as CSV, or list the export as "
                             "the platform delivered it.", file=label)
        for info in infos:  # every member's declared size first (the message names the member), then the totals
            if not _skipped_entry(info):
                _check_member_size(info, label=f"{label}!{info.filename}")
        _check_archive_size(infos, label=label)
        budget = ZIP_MAX_TOTAL_BYTES
        last = {i.filename: i for i in infos}  # a name stored twice: the later copy, as unzip tools do
        for index, info in enumerate(infos):
            if last[info.filename] is not info:
                warnings.append(f"{label}!{info.filename}: stored twice in the zip; the later copy is read")
                continue
            if _skipped_entry(info):
                skipped.append(info.filename)
                continue
            member_label = f"{label}!{info.filename}"
            _check_member_size(info, label=member_label)
            folder = Path(tmp) / str(index)
            folder.mkdir()
            local = folder / _member_file_name(info.filename)
            budget -= _copy_member(archive, info, local, label=member_label, budget=budget)
            try:
                if is_zip(local) and not is_xlsx(local):
                    unusable.append((info.filename, "a zip inside the zip (nested zips are not read; unzip it "
                                                    "and list the inner zip instead)"))
                    continue
                got = _read_member(local, label=member_label, column_map=column_map, now=now,
                                   binary_codes=binary_codes, unusable=unusable, member=info.filename,
                                   platform=platform)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            for o in got:
                if listed_as is not None and o.table != listed_as:
                    warnings.append(f"{member_label}: a {o.format} export (feeds the {o.table} table) read although "
                                    f"the zip is listed under {listed_as!r} in dataset.yml")
            outcomes.extend(got)
    members = [n for n in last if n not in set(skipped)]
    if not outcomes:
        shown = members[:20] + ([f"… ({len(members)} members)"] if len(members) > 20 else [])
        why = "; ".join(f"{m}: {w}" for m, w in unusable[:5])
        raise UnknownFormatError(
            (f"a zip archive without any export we can read. Members: {shown}"
             + (f" (and {len(skipped)} skipped entries: directories, __MACOSX/, dot-files)" if skipped else "")
             + (f". Why: {why}" if why else "")
             + f". Formats we recognise: {_known_formats()}.")
            if members else
            f"an empty zip archive (no files{f'; {len(skipped)} skipped entries' if skipped else ''}); "
            f"expected a zip of exports in the formats we recognise: {_known_formats()}.",
            file=label)
    if skipped:
        warnings.append(f"{label}: {len(skipped)} zip entr{'y' if len(skipped) == 1 else 'ies'} skipped "
                        f"(directories, __MACOSX/, dot-files): {skipped[:5]}{' …' if len(skipped) > 5 else ''}")
    for member, why in unusable:
        warnings.append(f"{label}!{member}: not read: {why}. Formats we recognise: {_known_formats()}.")
    return outcomes


def _known_formats() -> str:
    return ", ".join([r.name for r in FORMAT_READERS] + [r.name for r in DOCUMENT_READERS])


def _read_member(local: Path, *, label: str, column_map, now, binary_codes, unusable: list[tuple[str, str]],
                 member: str, platform: str | None = None) -> list[FileOutcome]:
    """Read one unpacked zip member; a member whose format we do not know is added to ``unusable``."""
    ctx = _context(label, column_map, now, binary_codes, platform)
    container = sniff_container(local)
    if container is not None:
        try:
            return read_document(local, container, ctx)
        except UnknownFormatError as exc:
            unusable.append((member, _reason(exc, label)))
            return []
    try:  # decoding, the header and its format: failing any of these means "not an export we know"
        reader, utf8, encoding, layout = _detect_text(local, label=label, column_map=column_map)
    except InputError as exc:
        unusable.append((member, _reason(exc, label)))
        return []
    holder = [utf8]
    del utf8
    return [_parse_text(local, reader, holder, encoding, ctx, layout)]


def _reason(exc: InputError, label: str) -> str:
    """An error's message without its ``file:`` prefix and the list of formats (said once per warning)."""
    text = str(exc).removeprefix(f"{label}: ")
    return text.split(" Formats we recognise")[0].rstrip(".")


def _latest_wins(frame: pd.DataFrame, keys: list[str], rank: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep, for each key, the rows of the highest-ranked file; return ``(kept, dropped)``."""
    if frame.empty:
        return frame, frame.iloc[0:0]
    k = frame[keys].astype("string").fillna("\x00NA")
    if not k.duplicated().any():
        return frame, frame.iloc[0:0]
    best = rank.groupby([k[c] for c in keys]).transform("max")
    keep = (rank == best).to_numpy()
    return frame.loc[keep], frame.loc[~keep]


def _sort_posts(posts: pd.DataFrame, *, consume: bool = False) -> pd.DataFrame:
    """``posts`` in ``published_at``, then ``post_id`` order (stable; missing values last), as
    ``sort_values(["published_at", "post_id"], kind="stable")`` orders them, by Arrow's stable sort: pandas
    factorized the string ids first (0.6 s at 1M posts). UTF-8 byte order is code-point order, pandas' order.

    ``consume``: ``posts`` is held nowhere else; its columns are moved out one at a time as they are reordered, so
    the peak is the frame and one column rather than two frames (0.4 GB less at 1M posts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .common import arrow_strings

    when = pd.Series(posts["published_at"])
    if not isinstance(when.dtype, pd.DatetimeTZDtype) and not pd.api.types.is_datetime64_dtype(when.dtype):
        return posts.sort_values(["published_at", "post_id"], kind="stable")
    ids = posts["post_id"]
    if not isinstance(ids.dtype, pd.StringDtype):
        return posts.sort_values(["published_at", "post_id"], kind="stable")
    ns = when.to_numpy(dtype="datetime64[ns]").view(np.int64) if len(when) else np.zeros(0, dtype=np.int64)
    keys = pa.table({"t": pa.array(ns, mask=when.isna().to_numpy()), "id": arrow_strings(ids)})
    order = pc.sort_indices(keys, sort_keys=[("t", "ascending", "at_end"), ("id", "ascending", "at_end")]).to_numpy()
    if (order == np.arange(len(order))).all():
        return posts
    if not consume:
        return posts.take(order)
    index = posts.index.take(order)
    cols = {}
    for c in list(posts.columns):
        values = posts.pop(c).array
        if _constant(values):  # the same value in every row (a file name, a format, all NA): nothing to reorder
            cols[c] = values
            continue
        cols[c] = values.take(order)
        # a large text column let go: hand its pages back, which Arrow's allocator would keep for itself (numpy's
        # columns cannot use them); not after every column, as each page handed back costs a fault to get again
        if isinstance(values.dtype, pd.StringDtype) and values.nbytes >= SORT_RELEASE_BYTES:
            del values
            release_arrow_memory()
    return pd.DataFrame(cols, index=index, copy=False)


def _constant(values) -> bool:
    """Whether a column holds one value in every row (all NA counts), told cheaply; False when unsure."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    if n == 0:
        return True
    if isinstance(values, pd.arrays.ArrowStringArray):
        arr = pa.array(values)
        if arr.null_count == n:
            return True
        if arr.null_count:
            return False
        lo_hi = pc.min_max(arr)
        return lo_hi["min"].as_py() == lo_hi["max"].as_py()
    if isinstance(values, (pd.arrays.IntegerArray, pd.arrays.BooleanArray, pd.arrays.FloatingArray)):
        na = values.isna()
        return bool(na.all())
    if isinstance(values, pd.Categorical):
        codes = values.codes
        return bool((codes == codes[0]).all())
    return False


#: While posts are sorted column by column, the memory of a sorted-out string column at least this large is handed
#: back at once.
SORT_RELEASE_BYTES = 32 * 1024**2


def _assemble(outcomes: list[FileOutcome], warnings: list[str]) -> IngestResult:
    order = {o.file: i for i, o in enumerate(sorted(outcomes, key=lambda o: o.file))}
    # keyed by (file, table): one workbook may feed two tables (LinkedIn content: posts and account)
    superseded_across: dict[tuple[str, str], int] = {(o.file, o.table): 0 for o in outcomes}

    # posts: the copy with more reported metrics, then the later export (overlap.py)
    post_parts = [o.frame for o in outcomes if o.table == "posts" and len(o.frame)]
    if post_parts:
        one_file = len(post_parts) == 1
        posts = post_parts[0] if one_file else pd.concat(post_parts, ignore_index=True)
        del post_parts
        for o in outcomes:  # the files' frames are in ``posts`` now: keep only what is read below (the number of
            if o.table == "posts":  # rows for the log, the dates for resolve_archive_dates), not a second copy
                o.kept_rows = o.rows_kept
                o.frame = o.frame[[c for c in ("published_at",) if c in o.frame.columns]]
        # one file: finish_posts kept one row per id, told apart by the Arrow codes resolve_overlap's own check
        # uses (key_codes), so there is no overlap to resolve; that check hashed every id again (0.3 s at 1M)
        if not (one_file and isinstance(posts["post_id"].dtype, pd.StringDtype)):
            posts, dropped = resolve_overlap(posts, ["post_id"], POST_METRICS, "published_at", "posts", warnings)
            for f, c in dropped["source_file"].value_counts().items():
                superseded_across[(f, "posts")] += int(c)
            del dropped
        posts = flag_collabs(posts, warnings)
        posts = _sort_posts(posts, consume=True)
    else:
        posts = pd.DataFrame()
    posts = conform(posts, POSTS_SCHEMA, table="posts")
    _release_memory()  # the unsorted frame, held by cycles through pandas' accessors

    # account: one row per (platform, account, date, format); evidence, then the later export (overlap.py)
    resolve_series(outcomes, warnings)
    resolve_archive_dates(outcomes, warnings)
    acc_parts = [o.frame for o in outcomes if o.table == "account" and len(o.frame)]
    if acc_parts:
        account = pd.concat(acc_parts, ignore_index=True).drop(columns=["series_title"], errors="ignore")
        account, dropped = resolve_overlap(account, ["platform", "account", "date", "source_format"],
                                           ACCOUNT_METRICS, "date", "account", warnings)
        for f, c in dropped["source_file"].value_counts().items():
            superseded_across[(f, "account")] += int(c)
        account = _fill_account_identity(account, posts, warnings)
        account = account.sort_values(["platform", "account", "date"], kind="stable", na_position="last")
    else:
        account = pd.DataFrame()
    account = conform(account, ACCOUNT_SCHEMA, table="account")

    code_parts = [o.frame for o in outcomes if o.table == "codes" and len(o.frame)]
    if code_parts:
        codes = pd.concat(code_parts, ignore_index=True)
        rank = codes["source_file"].map(order)
        codes, dropped = _latest_wins(codes, ["post_id", "coder"], rank)
        for f, c in dropped.drop_duplicates(["source_file", "source_row"])["source_file"].value_counts().items():
            superseded_across[(f, "codes")] += int(c)
    else:
        codes = pd.DataFrame()
    codes = conform(codes, CODES_SCHEMA, table="codes")
    _warn_unmatched_codes(codes, posts, warnings)

    # campaigns: the same campaign/ad set/ad, period and currency in several files: the later export wins
    camp_parts = [o.frame for o in outcomes if o.table == "campaigns" and len(o.frame)]
    if camp_parts:
        campaigns = pd.concat(camp_parts, ignore_index=True)
        keys = ["ad_platform", "level", "campaign_id", "campaign_name", "ad_set_id", "ad_set_name", "ad_id",
                "ad_name", "date_start", "date_end", "currency"]
        campaigns, dropped = _latest_wins(campaigns, keys, campaigns["source_file"].map(order))
        for f, c in dropped["source_file"].value_counts().items():
            superseded_across[(f, "campaigns")] += int(c)
        if len(dropped):
            warnings.append(f"{len(dropped)} campaign row(s) also in a later export were superseded by it")
        campaigns = campaigns.sort_values(["ad_platform", "date_start", "source_file", "source_row"], kind="stable")
    else:
        campaigns = pd.DataFrame()
    campaigns = conform(campaigns, CAMPAIGNS_SCHEMA, table="campaigns")

    files = []
    for o in outcomes:
        extra = superseded_across[(o.file, o.table)]
        entry = file_log(o, rows_kept=o.rows_kept - extra, rows_superseded=o.rows_superseded + extra)
        files.append(entry)
        warnings.extend(o.warnings)
    quarantine = combine_quarantine([o.quarantine for o in outcomes])
    return IngestResult(posts=posts, account=account, codes=codes, quarantine=quarantine,
                        log={"files": files, "warnings": warnings}, campaigns=campaigns)


def _warn_unmatched_codes(codes: pd.DataFrame, posts: pd.DataFrame, warnings: list[str]) -> None:
    """Warn (per coding file) about coded post ids that match no post: a decision nobody will see is never
    dropped silently. Ids with 15 significant digits and then zeros are named: Excel keeps 15 digits of a number."""
    if codes.empty or posts.empty:
        return
    ids = codes["post_id"].astype("string")
    unmatched = ~ids.isin(posts["post_id"].astype("string")).to_numpy(dtype=bool)
    if not unmatched.any():
        return
    miss = codes.loc[unmatched, ["post_id", "source_file", "source_row"]]
    for file, part in miss.groupby("source_file", sort=True):
        n_ids = part["post_id"].nunique()
        first = part.iloc[0]
        excel = part["post_id"].astype("string").str.fullmatch(r"[0-9]{15}0+").fillna(False)
        hint = (f"; {int(excel.sum())} of them end in zeros after 15 digits (e.g. {part.loc[excel, 'post_id'].iloc[0]!r}): "
                "Excel keeps only 15 digits of a number, so store ids as text and export again") if excel.any() else ""
        warnings.append(f"{file}: {n_ids} coded post id(s) match no post in the exports (e.g. {first['post_id']!r}, "
                        f"row {first['source_row']}); their decisions are not used{hint}")


def _first_of_each_pair(own: pd.DataFrame) -> pd.DataFrame:
    """The first row of each distinct (platform, account) of ``own``, in row order: what ``drop_duplicates`` keeps,
    found on integer codes (categorical platform, Arrow codes of the accounts) rather than on 1M pairs of strings
    (0.2-0.4 s at 1M posts); ``own`` as it is when the columns are not of those dtypes."""
    from .common import key_codes

    plat = own["platform"]
    acc = key_codes(own["account"]) if len(own) > 1 else None
    if acc is None or not isinstance(plat.dtype, pd.CategoricalDtype):
        return own
    key = plat.cat.codes.to_numpy().astype(np.int64) * (int(acc.max(initial=0)) + 2) + (acc + 1)
    _, first = np.unique(key, return_index=True)
    return own.iloc[np.sort(first)]


def _fill_account_identity(account: pd.DataFrame, posts: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Fill missing account identity from the posts, never guessing a platform for a platform's own series.

    Rows without a platform (generic hand-kept sheets only: a Business Suite series without one was resolved
    or quarantined before) get the posts' platform and account when the posts hold a single one. Rows with a
    platform but no account (a Business Suite series names no account) get the posts' single own account of
    that platform (collab posts by other accounts do not count).
    """
    if posts.empty:
        return account
    own = posts[["platform", "account"]]
    if "is_own_post" in posts:
        own = own.loc[posts["is_own_post"].astype("boolean").fillna(True).to_numpy(dtype=bool)]
    pairs = _first_of_each_pair(own).astype("string").drop_duplicates().dropna()
    out = account.copy()
    missing_platform = out["platform"].isna()
    if missing_platform.any() and len(pairs) == 1:
        platform, handle = pairs.iloc[0]
        out.loc[missing_platform, "platform"] = platform
        files = sorted(set(out.loc[missing_platform, "source_file"]))
        warnings.append(f"account rows without platform in {files} assigned to the only account in the posts: "
                        f"{platform}/{handle}")
    missing_account = out["account"].isna() | (out["account"].astype("string") == "")
    plat = out["platform"].astype("string")
    for platform, g in pairs.groupby("platform"):
        fill = (missing_account & plat.eq(platform)).to_numpy(dtype=bool, na_value=False)
        if not fill.any():
            continue
        if len(g) != 1:
            files = sorted(set(out.loc[fill, "source_file"]))
            warnings.append(f"account rows without an account name in {files}: the {platform} posts hold "
                            f"{len(g)} accounts ({sorted(g['account'])}), so the rows are left unnamed")
            continue
        handle = g["account"].iloc[0]
        out.loc[fill, "account"] = handle
        files = sorted(set(out.loc[fill, "source_file"]))
        warnings.append(f"account rows without an account name in {files} assigned to the only account in the "
                        f"posts: {platform}/{handle}")
    return out


def _ingest(items: list[tuple], *, root: Path | None,
            now, binary_codes) -> IngestResult:
    if now is not None:
        now = pd.Timestamp(now)
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    outcomes = []
    warnings: list[str] = []
    seen = set()
    for path, cmap, expect, listed_as, *card_platform in items:
        path = Path(path)
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        check_regular_file(path, label=_relative(path, root))
        outcomes.extend(_read_one(path, label=_relative(path, root), column_map=cmap, now=now,
                                  binary_codes=binary_codes, expect_table=expect, listed_as=listed_as,
                                  warnings=warnings, platform=card_platform[0] if card_platform else None))
    return _assemble(outcomes, warnings)


def read_exports(dataset: Dataset, *, now: pd.Timestamp | None = None,
                 binary_codes: Collection[str] | None = None) -> IngestResult:
    """Read every export a dataset card lists into the canonical tables.

    Parameters
    ----------
    dataset
        The validated card: ``post_files()``, ``account_files()`` (with column maps), ``code_files()``.
    now
        "Now" for the future-time check (posts more than 1 day ahead are quarantined); default: the clock.
    binary_codes
        Codes known to be binary (e.g. from the codebook); default: inferred per column (see coding_files).

    Returns
    -------
    IngestResult
        posts, account, codes, quarantine and the log (``ingest_log.json`` contents).
    """
    items = [(p, None, "posts", "posts") for p in dataset.post_files()]
    for src in dataset.account:  # each source with its column map and its platform: (if given)
        items += [(p, src.column_map, "account", "account", src.platform)
                  for p in dataset._expand((src.path,), "account")]
    items += [(p, None, "codes", "codes") for p in dataset.code_files()]
    items += [(p, None, "campaigns", "campaigns") for p in dataset.campaign_files()]
    return _ingest(items, root=dataset.root, now=now, binary_codes=binary_codes)


def read_files(paths: Sequence[str | Path], *, root: str | Path | None = None,
               column_map: Mapping[str, str] | None = None, now=None,
               binary_codes: Collection[str] | None = None) -> IngestResult:
    """Read export files of any supported format; each file's table follows from its detected format.

    ``root``: folder the logged file names are relative to (default: the paths as given).
    A zip archive among ``paths`` contributes its members, named ``<zip>!<member>`` (see the module notes).
    ``column_map``: raw column name → canonical name, applied to generic account CSVs.
    """
    items = [(Path(p), column_map, None, None) for p in paths]
    return _ingest(items, root=None if root is None else Path(root), now=now, binary_codes=binary_codes)


def write_ingest_outputs(result: IngestResult, *, data_dir: str | Path, results_dir: str | Path) -> dict[str, Path]:
    """Atomically write posts/account/codes.parquet and quarantine.csv to ``data_dir`` and
    ``ingest_log.json`` to ``results_dir``; return ``{name: path}``. ``campaigns.parquet`` is written (and
    returned under ``campaigns``) only when campaign rows were read, so runs without paid data are unchanged."""
    data_dir, results_dir = Path(data_dir), Path(results_dir)
    extra = {}
    if len(result.campaigns):
        extra["campaigns"] = write_parquet(data_dir / "campaigns.parquet", result.campaigns)
    else:  # no paid data now: a campaigns table from an earlier run must not linger
        (data_dir / "campaigns.parquet").unlink(missing_ok=True)
    return {**extra,
        "posts": write_parquet(data_dir / "posts.parquet", result.posts),
        "account": write_parquet(data_dir / "account.parquet", result.account),
        "codes": write_parquet(data_dir / "codes.parquet", result.codes),
        "quarantine": write_csv(data_dir / "quarantine.csv", result.quarantine),
        "ingest_log": write_json(results_dir / "ingest_log.json", {**result.log, **_runner_facts(result)}),
    }


def _utc_date_span(frame: pd.DataFrame, column: str) -> list[str] | None:
    """The first and last (UTC) date of ``column``, ISO-formatted; None when the column has no value."""
    if column not in frame or len(frame) == 0:
        return None
    col = frame[column]
    lo, hi = col.min(), col.max()
    if pd.isna(lo) or pd.isna(hi):
        return None
    return [pd.Timestamp(lo).date().isoformat(), pd.Timestamp(hi).date().isoformat()]


def _runner_facts(result: IngestResult) -> dict:
    """What the runner checks against the card right after ingest (``pipeline.check_ingested``), written into
    ingest_log.json so that it reads a small JSON file instead of importing pyarrow and pandas (0.24 CPU-s of
    every run, between ingest and the next stage): the dates the posts and account rows cover (UTC dates) and
    the codes the coding files hold."""
    codes = result.codes["code"].dropna().unique().tolist() if "code" in result.codes else []
    return {
        "date_range": {"posts": _utc_date_span(result.posts, "published_at"),
                       "account": _utc_date_span(result.account, "date")},
        "manual_codes": sorted(str(c) for c in codes),
    }


def summarize_ingest(log: dict) -> pd.DataFrame:
    """Per-file table for display: file, format, table, read, kept, quarantined, superseded."""
    cols = ["file", "format", "table", "read", "kept", "quarantined", "superseded"]
    rows = [
        {"file": f["file"], "format": f["format"], "table": f["table"], "read": f["rows_read"],
         "kept": f["rows_kept"], "quarantined": f["rows_quarantined"], "superseded": f["rows_superseded"]}
        for f in log.get("files", [])
    ]
    return pd.DataFrame(rows, columns=cols)
