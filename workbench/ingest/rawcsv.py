"""Read a CSV export into strings: decoding, header, data rows with their spreadsheet row numbers.

Row numbers (``source_row``) count the way a spreadsheet user counts: the header is row 1 and the first
data row is row 2. A quoted field that spans several lines is still one row.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import InputError

#: Control bytes that never appear in a text export; finding many of them means binary data.
_CONTROL_BYTES = bytes(c for c in range(32) if chr(c) not in "\t\n\r\f") + b"\x7f"

EXPECTED = "a CSV analytics export (text with a header row)"
STRING = pd.StringDtype("pyarrow")


@dataclass
class RawTable:
    """A CSV file as strings.

    ``data`` has one column per header cell (names made unique with ``.1``, ``.2`` suffixes) and one row per
    well-formed data row; ``rows`` holds each data row's spreadsheet row number. ``bad`` lists rows whose
    number of fields differs from the header (``source_row``, ``reason``, then raw values).
    """

    path: Path
    header: list[str]
    data: pd.DataFrame
    rows: np.ndarray
    bad: pd.DataFrame
    encoding: str = "utf-8"
    warnings: list[str] = field(default_factory=list)
    blank_rows: int = 0
    _names: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    #: positions (among the well-formed data rows as read) of the rows ``data`` still holds; None: all of them
    positions: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    #: number of well-formed data rows as read (``len(data)`` before :meth:`keep_rows`)
    n_data: int = field(default=-1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.n_data = len(self.data)

    def keep_rows(self, mask: np.ndarray) -> None:
        """Keep the raw values of the rows in ``mask`` only (the rows that may still be quarantined; a mask over
        all the data rows as read) and let the rest of the table go: at 1M posts it is 0.7 GB, held until the
        quarantine was written. Called again, the rows must be among those kept before."""
        m = np.asarray(mask, dtype=bool)
        if self.positions is None:
            if m.all():
                return
            pos = np.flatnonzero(m)
            self.data = self.data.iloc[pos]
            self.positions = pos
            return
        keep = m[self.positions]
        if int(keep.sum()) != int(m.sum()):
            raise RuntimeError("keep_rows: a row asked for was let go before")
        if not keep.all():
            self.data = self.data.iloc[np.flatnonzero(keep)]
            self.positions = self.positions[keep]

    def rows_data(self, mask: np.ndarray) -> pd.DataFrame:
        """The raw values of the rows in ``mask`` (a mask over all the data rows as read)."""
        m = np.asarray(mask, dtype=bool)
        if self.positions is None:
            return self.data.loc[m]
        want = np.flatnonzero(m)
        local = np.searchsorted(self.positions, want)
        if len(want) and (local[-1] >= len(self.positions) or not (self.positions[local] == want).all()):
            raise RuntimeError("the raw values of a quarantined row were let go before the quarantine was written")
        return self.data.iloc[local]

    def column_names(self) -> dict[str, str]:
        """Normalised header cell → name of its data column (the first column when a name repeats); built once
        (a reader looks up some 30 columns, each look-up normalised the whole header again)."""
        if self._names is None:
            from .common import normalize_name

            names: dict[str, str] = {}
            for name, h in zip(self.data.columns, self.header, strict=True):
                names.setdefault(normalize_name(h), name)
            self._names = names
        return self._names


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (as strict as ``bytes.decode("utf-8")``: no surrogates, no overlong forms).

    Arrow validates the bytes in place (0.01 s for 80 MB); decoding them to a Python str to find out took
    0.3 s and a copy of the file in memory. tests/test_fastpath.py checks it agrees with ``bytes.decode``.
    """
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    try:
        pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data)).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def decode_bytes(data: bytes, *, file: str | Path) -> tuple[bytes, str]:
    """Check and normalise an export's bytes; return ``(UTF-8 bytes without BOM, encoding found)``.

    UTF-8 (with or without BOM) first, then UTF-16 when a UTF-16 BOM is present, then Windows-1252 and
    Latin-1. Raises InputError for binary content.
    """
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252", "latin-1"]
    utf8 = None
    encoding = ""
    for enc in candidates:
        if enc in ("utf-8", "utf-8-sig"):
            body = data if enc == "utf-8" else data[len(codecs.BOM_UTF8):]
            if not is_utf8(body):
                continue
            encoding, utf8 = enc, body
            break
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        encoding = enc
        utf8 = text.encode("utf-8")
        del text
        break
    if utf8 is None:
        raise InputError(f"cannot decode the file as {' or '.join(candidates)}; expected {EXPECTED}", file=file)
    check_text_bytes(utf8, file=file)
    if b"\r" in utf8 and b"\n" not in utf8:
        # classic Mac line ends (Excel for Mac's "CSV"): one CR between records and no LF anywhere
        utf8 = utf8.replace(b"\r", b"\n")
        encoding = f"{encoding}{CR_ONLY}"
    return utf8, encoding


#: Appended to the encoding found when the file's line ends were CR only (converted to LF; warned about).
CR_ONLY = " (CR line ends)"


def _line_of(data: bytes, offset: int) -> int:
    """1-based line number of byte ``offset`` (counting LF, or CR where the file has no LF)."""
    sep = b"\n" if b"\n" in data[: offset + 1] or b"\r" not in data[: offset + 1] else b"\r"
    return data.count(sep, 0, offset) + 1


def check_text_bytes(utf8: bytes, *, file: str | Path) -> None:
    """InputError naming the cause when decoded bytes are not text: UTF-16 without a byte-order mark, NUL bytes
    (with where the first one is), or the many control characters of binary data (a spreadsheet or an archive)."""
    head = utf8[: 1 << 20]  # binary content shows in the first megabyte
    n_nul = utf8.count(b"\x00")
    n_other = len(head) - len(head.translate(None, _CONTROL_BYTES)) - head.count(b"\x00")
    if n_nul:
        sample = utf8[: 1 << 16]
        half = max(1, len(sample) // 2)
        even, odd = sample[0::2].count(0) / half, sample[1::2].count(0) / half
        if max(even, odd) > 0.3 and min(even, odd) < 0.05 and n_other <= max(2, 0.01 * len(head)):
            order = "little-endian" if odd > even else "big-endian"
            raise InputError(
                f"the file is UTF-16 ({order}) text without a byte-order mark, so its encoding cannot be told "
                f"safely; expected {EXPECTED}. Save it again as UTF-8 (Excel: 'CSV UTF-8'), or as UTF-16 with a "
                "byte-order mark.", file=file)
    if n_other > max(2, 0.01 * len(head)) or n_nul > max(1, len(utf8) // 100):
        raise InputError(
            f"the file holds binary data ({n_nul + n_other} NUL or control characters), not text; expected "
            f"{EXPECTED}. Was a spreadsheet (.xlsx), a zip or another binary file saved with a .csv name?",
            file=file,
        )
    if n_nul:
        first = utf8.index(b"\x00")
        raise InputError(
            f"the file holds {n_nul} NUL byte(s) (the first on line {_line_of(utf8, first)}, byte {first + 1:,}) "
            f"in otherwise-text data: a damaged or interrupted download or copy? Expected {EXPECTED}; "
            "download the export again, or remove the NUL bytes.", file=file)


def split_header(utf8: bytes, *, file: str | Path) -> list[str]:
    """The header cells of a CSV file's UTF-8 bytes (first record), stripped of surrounding spaces."""
    head = utf8[: 1 << 20].decode("utf-8", errors="ignore")
    try:
        first = next(csv.reader(io.StringIO(head)), None)
    except csv.Error as exc:
        raise InputError(f"cannot read the header row ({exc}); expected {EXPECTED}", file=file) from None
    if not first or all(c.strip() == "" for c in first):
        raise InputError(f"the first row is empty; expected a header row of {EXPECTED}", file=file)
    return [c.strip() for c in first]


def unique_names(header: list[str]) -> list[str]:
    """Header cells made unique (``name``, ``name.1``, ...) so they can name DataFrame columns."""
    seen: dict[str, int] = {}
    out = []
    for h in header:
        if h in seen:
            seen[h] += 1
            out.append(f"{h}.{seen[h]}")
        else:
            seen[h] = 0
            out.append(h)
    return out


def read_text_file(path: str | Path, *, label: str | None = None) -> tuple[bytes, str]:
    """Read a whole file as checked UTF-8 bytes; return ``(bytes, encoding found)``.

    ``label`` is the name used in messages.
    """
    path = Path(path)
    label = label or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot open the file ({exc.strerror}); expected {EXPECTED}", file=label) from None
    if not data[:4096].strip() and not data.strip():
        raise InputError(f"the file is empty; expected {EXPECTED}", file=label)
    return decode_bytes(data, file=label)


@dataclass
class CheckedFile:
    """A large UTF-8 file whose bytes were checked in chunks rather than held in memory (:func:`check_utf8_file`):
    Arrow parses it from the path. ``head``: its first ``HEAD_BYTES`` bytes (byte-order mark removed), all that
    finding the format and reading the header look at."""

    path: Path
    head: bytes
    encoding: str
    size: int
    #: whether the last byte is a line end (a file cut off mid-row is not)
    ends_with_newline: bool


def _utf8_pieces(carry: bytes, data: memoryview) -> bool:
    """Whether ``carry + data`` is valid UTF-8, ``carry`` being the start (at most 3 bytes) of a character that
    ``data``'s first bytes complete; checked without joining them."""
    if not carry:
        return is_utf8(data)
    k = 0
    while k < min(3, len(data)) and data[k] & 0xC0 == 0x80:
        k += 1
    return is_utf8(carry + bytes(data[:k])) and is_utf8(data[k:])


#: Bytes of a checked file kept for finding its format and its header (``split_header`` reads the first 1 MiB).
HEAD_BYTES = 1 << 20
_CHECK_CHUNK = 16 * 1024**2


def check_utf8_file(path: str | Path, *, label: str | None = None) -> CheckedFile | None:
    """Check a file as :func:`read_text_file` would accept it as UTF-8 unchanged, reading it in chunks: valid
    UTF-8 (a UTF-8 byte-order mark allowed), no NUL byte, not binary, not CR-only line ends, not empty.

    Returns None when any of that does not hold (or the file cannot be read): the caller then reads it whole with
    :func:`read_text_file`, which decodes it or names what is wrong, exactly as before. Holding a 400 MB export in
    memory while Arrow built its table from it was 0.4 GB of the ingest's peak at 1M posts.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with fh:
        first = fh.read(max(_CHECK_CHUNK, HEAD_BYTES + len(codecs.BOM_UTF8)))
        if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None
        encoding = "utf-8"
        if first.startswith(codecs.BOM_UTF8):
            first, encoding = first[len(codecs.BOM_UTF8):], "utf-8-sig"
        head = first[:HEAD_BYTES]
        if not head.strip():
            return None
        n_other = len(head) - len(head.translate(None, _CONTROL_BYTES)) - head.count(b"\x00")
        if n_other > max(2, 0.01 * len(head)):
            return None
        size = len(first)
        has_lf, has_cr, last = b"\n" in first, b"\r" in first, first[-1:]
        if b"\x00" in first:
            return None
        # The rest in chunks read into one buffer (no copy of the file in memory). UTF-8 is checked up to the last
        # character that starts in a chunk; that character's bytes (at most 4) are checked with the next chunk.
        # Pieces found valid make a valid whole; a piece cut inside a character can only make a valid file look
        # invalid, which sends it the way of read_text_file: the answer is never wrong, at worst slower.
        buf = bytearray(_CHECK_CHUNK)
        view = memoryview(buf)
        carry = b""
        data = memoryview(first)
        while True:
            cut = len(data)
            for i in range(len(data) - 1, max(len(data) - 5, -1), -1):
                if data[i] & 0xC0 != 0x80:
                    cut = i
                    break
            if not _utf8_pieces(carry, data[:cut]):
                return None
            carry = bytes(data[cut:])
            n = fh.readinto(buf)
            if not n:
                break
            data = view[:n]
            size += n
            has_lf = has_lf or buf.find(b"\n", 0, n) >= 0
            has_cr = has_cr or buf.find(b"\r", 0, n) >= 0
            if buf.find(b"\x00", 0, n) >= 0:
                return None
            last = bytes(data[-1:])
        del data, view
        if not is_utf8(carry):
            return None
    if has_cr and not has_lf:
        return None
    return CheckedFile(path=Path(path), head=head, encoding=encoding, size=size, ends_with_newline=last in (b"\n", b"\r"))


#: Largest record (row) we parse, in bytes: Arrow reads the file in blocks of this size and a record must fit in
#: one. A post's text is at most some tens of kilobytes; a larger record is a damaged file (an unclosed quote).
MAX_RECORD_BYTES = 16 * 1024**2


def _locate_long_record(utf8: bytes, limit: int) -> tuple[int, int] | None:
    """(first line, line reached) of the first record longer than ``limit`` bytes, by the csv module (only on
    the error path: a Python loop over the rows)."""
    old = csv.field_size_limit()
    csv.field_size_limit(limit)
    reader = csv.reader(io.StringIO(utf8.decode("utf-8", errors="replace"), newline=""))
    start = 1
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error:
        return start, reader.line_num
    finally:
        csv.field_size_limit(old)
    return None


def _too_long_record(utf8: bytes, *, file: str) -> InputError:
    where = _locate_long_record(utf8, MAX_RECORD_BYTES)
    if where is None:
        at = ""
    elif where[0] == where[1]:
        at = f" (line {where[0]:,})"
    else:
        at = f" (the record starting on line {where[0]:,} is still open at line {where[1]:,}: an unclosed quote (\")?)"
    limit = (f"{MAX_RECORD_BYTES // 1024**2} MB" if MAX_RECORD_BYTES >= 1024**2 else f"{MAX_RECORD_BYTES // 1024} KB")
    return InputError(
        f"a field or row is longer than {limit}{at}. No export has cells that large: a "
        f"damaged or hand-edited file? Expected {EXPECTED}.", file=file)


#: Arrow's block size for the first try: with 16 MB blocks its threaded reader took 2-6 s of wall time for a 418 MB
#: file on 2 cores, with 4 MB blocks 0.4-0.7 s (same CPU). A record larger than this block (rare: a post of more
#: than 4 MB) makes Arrow refuse the block; the file is then read again with ``MAX_RECORD_BYTES`` blocks, so what is
#: accepted and refused is exactly what it was with one read at ``MAX_RECORD_BYTES`` (any error of the first
#: read leads to the second, whose error is the one reported).
FAST_BLOCK_BYTES = 4 * 1024**2


def _straddles(exc: Exception) -> bool:
    """Whether Arrow refused a block because a record did not fit in it."""
    return "straddl" in str(exc) or "block" in str(exc)


def _parse(utf8: bytes | CheckedFile, names: list[str], *, threads: bool) -> tuple[pa.Table, list]:
    """The data rows as a table of ``large_string`` columns, and the rows with a wrong number of fields.

    ``utf8``: the file's bytes, or a checked file, which Arrow reads from its path."""
    size = utf8.size if isinstance(utf8, CheckedFile) else len(utf8)
    if size > FAST_BLOCK_BYTES and FAST_BLOCK_BYTES < MAX_RECORD_BYTES:
        try:
            return _parse_blocks(utf8, names, threads=threads, block_size=FAST_BLOCK_BYTES)
        except pa.ArrowException:  # a record longer than the block; any other refusal is said by the read below
            pass
    return _parse_blocks(utf8, names, threads=threads, block_size=MAX_RECORD_BYTES)


def _parse_blocks(utf8: bytes | CheckedFile, names: list[str], *, threads: bool, block_size: int
                  ) -> tuple[pa.Table, list]:
    bad: list = []

    def handler(row):
        bad.append((row.number, row.actual_columns, row.text))
        return "skip"

    internal = [f"c{i}" for i in range(len(names))]
    # a checked file: its bytes as they are on disk, a UTF-8 byte-order mark included, which is in the header row
    # that ``skip_rows`` skips
    table = pacsv.read_csv(
        str(utf8.path) if isinstance(utf8, CheckedFile) else pa.py_buffer(utf8),
        read_options=pacsv.ReadOptions(use_threads=threads, column_names=internal, skip_rows=1,
                                       block_size=block_size),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.large_string() for c in internal}, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    return table, bad


def _insert_padded(data: pd.DataFrame, rows: np.ndarray, padded: list[tuple[int, list[str]]],
                   names: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """``data`` with the padded short rows put back in file order (row numbers kept)."""
    extra = pd.DataFrame([v for _, v in padded], columns=names).astype(STRING)
    both = pd.concat([data, extra], ignore_index=True)
    all_rows = np.concatenate([rows, np.asarray([n for n, _ in padded], dtype=rows.dtype)])
    order = np.argsort(all_rows, kind="stable")
    return both.iloc[order].reset_index(drop=True), all_rows[order]


def read_raw_csv(path: str | Path, *, label: str | None = None, utf8: bytes | CheckedFile | None = None,
                 encoding: str = "utf-8") -> RawTable:
    """Read a CSV export as strings (vectorized, with pyarrow); see :class:`RawTable`.

    ``utf8``: the file's bytes as returned by :func:`read_text_file`, when already read; or the file as checked
    by :func:`check_utf8_file` (Arrow then reads it from its path).
    """
    path = Path(path)
    label = label or str(path)
    if utf8 is None:
        utf8, encoding = read_text_file(path, label=label)
    checked = utf8 if isinstance(utf8, CheckedFile) else None
    header = split_header(checked.head if checked else utf8, file=label)
    names = unique_names(header)
    try:
        table, bad = _parse(utf8, names, threads=True)
        if bad and any(b[0] is None for b in bad):
            table, bad = _parse(utf8, names, threads=False)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        if _straddles(exc):
            raise _too_long_record(read_text_file(path, label=label)[0] if checked else utf8, file=label) from None
        raise InputError(f"cannot parse the CSV ({exc}); expected {EXPECTED}", file=label) from None
    # a file cut off mid-row (interrupted download)
    cut = not checked.ends_with_newline if checked else not utf8.endswith((b"\n", b"\r"))
    del utf8  # the bytes (the size of the file) are not needed any more
    # Arrow-backed strings: no Python object per cell, and .str methods run in Arrow's C++ kernels. Read as
    # large_string, the type pandas keeps them in, so none is copied here.
    data = table.to_pandas(types_mapper={pa.large_string(): STRING}.get)
    data.columns = names
    n_total = len(data) + len(bad)
    bad_rows = {b[0] for b in bad}
    all_rows = np.arange(2, n_total + 2)
    rows = all_rows[~np.isin(all_rows, list(bad_rows))] if bad_rows else all_rows
    data.index = pd.RangeIndex(len(data))
    # A blank line is not a data row: drop it (row numbers stay as the spreadsheet shows them).
    blank = np.zeros(len(data), dtype=bool)
    if len(names) > 1 and len(data):
        cand = np.flatnonzero((data.iloc[:, 0] == "").to_numpy(dtype=bool, na_value=False))
        if len(cand):
            blank[cand] = (data.iloc[cand] == "").all(axis=1).to_numpy(dtype=bool)
    blank_rows = int(blank.sum())
    if blank_rows:
        data = data.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    bad_records = []
    padded: list[tuple[int, list[str]]] = []  # short rows read with their missing trailing fields empty
    last_row = n_total + 1

    for number, n_fields, raw_text in bad:  # only malformed rows: a handful at most
        if raw_text.strip() == "":
            blank_rows += 1
            continue
        try:
            values = next(csv.reader(io.StringIO(raw_text)), [])
        except csv.Error:
            values = [raw_text]
        if 1 < len(values) < len(names) and len(values) == n_fields and not (cut and number == last_row):
            padded.append((number, values + [""] * (len(names) - len(values))))
            continue
        what = "too few" if n_fields < len(names) else "too many"
        rec = {"source_row": number,
               "reason": f"{what} fields: expected {len(names)}, found {n_fields}"
                         + (" (truncated line?)" if what == "too few" else "")}
        rec.update({n: v for n, v in zip(names, values, strict=False)})
        if len(values) > len(names):
            rec["extra_fields"] = ",".join(values[len(names):])
        bad_records.append(rec)
    bad_df = pd.DataFrame(bad_records, columns=["source_row", "reason", *names]) if not bad_records else pd.DataFrame(bad_records)
    warnings = []
    if padded:
        data, rows = _insert_padded(data, rows, padded, names)
        shown = [n for n, _ in padded[:10]]
        warnings.append(f"{label}: {len(padded)} row(s) shorter than the header (rows {shown}"
                        f"{' …' if len(padded) > 10 else ''}) read with their missing trailing fields empty "
                        "(Meta omits trailing empty columns on some rows)")
    base_encoding = encoding.removesuffix(CR_ONLY)
    # UTF-16 is only ever read with its byte-order mark, which makes it exact (Meta's page series are UTF-16 as
    # downloaded): no "check the characters" warning for it, only for the guessed single-byte encodings
    if base_encoding not in ("utf-8", "utf-8-sig") and not base_encoding.startswith("utf-16"):
        warnings.append(f"{label}: not UTF-8; read as {base_encoding}. Check accented characters and emoji.")
    if encoding.endswith(CR_ONLY):
        warnings.append(f"{label}: lines end in CR only (classic Mac, or Excel for Mac's 'CSV'); read as ordinary "
                        "lines")
    return RawTable(path=path, header=header, data=data, rows=rows, bad=bad_df, encoding=encoding,
                    warnings=warnings, blank_rows=blank_rows)
