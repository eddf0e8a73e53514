"""Shared pieces of the format readers: reason accumulation, count parsing, per-file outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import QUARANTINE_LEADING

#: Cell values that mean "no value" in exports and hand-kept sheets.
#: Counts are stored as 64-bit integers: values from here on do not fit (as a float, 2**63 is exact).
INT64_LIMIT = float(2**63)

NA_TOKENS = frozenset({"", "-", "na", "n/a", "nan", "null", "none", "#n/a"})


def arrow_strings(s: pd.Series) -> pa.Array:
    """The cells of a string column as one Arrow ``large_string`` array: Arrow-backed strings are taken as they
    are (no copy; pandas keeps them as ``large_string``), other columns converted (NA → null)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage.startswith("pyarrow"):
        arr = pa.array(s.array)
    else:
        arr = pa.array(s.astype(object), type=pa.large_string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def arrow_chunks(s: pd.Series) -> pa.ChunkedArray:
    """Like :func:`arrow_strings`, but an Arrow-backed column keeps its chunks (as read from the CSV, one per
    block): no copy of the column into one array, for the kernels that take chunked input."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage.startswith("pyarrow"):
        arr = pa.array(s.array)
        if isinstance(arr, pa.ChunkedArray) and arr.type == pa.large_string():
            return arr
    arr = arrow_strings(s)
    return pa.chunked_array([arr], type=pa.large_string())


def string_series(arr: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """An Arrow string array as a pandas Arrow-backed string Series (``large_string``, as pandas keeps them: the
    cast pandas would otherwise make copies every string)."""
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def key_codes(keys: pd.Series, *, digits_first: bool = False) -> np.ndarray | None:
    """An int64 code per row, equal where the string keys are equal (-1 for every NA), by Arrow's hash
    (``dictionary_encode``); None when the keys are not pandas strings. pandas factorized Arrow strings in 0.35 s
    per 1M ids; this takes ~0.1 s.

    ``digits_first``: keys that are mostly digit strings (post ids): when every key is one, the number itself is the
    code (0.06 s per 1M ids, against 0.2-0.3 s for the hash)."""
    if not isinstance(keys.dtype, pd.StringDtype):
        return None
    arr = pa.array(keys.array) if keys.dtype.storage.startswith("pyarrow") else None
    if digits_first and arr is not None and len(arr):
        codes = _digit_codes(arr)
        if codes is not None:
            return codes
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks > 1 and len(arr):
        # chunk by chunk, without first copying the column into one array: Arrow encodes a chunked column with one
        # dictionary, which every chunk shares (checked: the same buffers; else the one-array way below)
        enc = pc.dictionary_encode(arr)
        first = enc.chunks[0].dictionary if enc.num_chunks else None
        if first is not None and all(_same_buffers(c.dictionary, first) for c in enc.chunks[1:]):
            return np.concatenate([pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
                                   for c in enc.chunks])
        del enc, first
    codes = pc.dictionary_encode(arrow_strings(keys)).indices
    return pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int64)


#: A whole number written without leading zeros in at most 19 digits: distinct strings are distinct numbers, all
#: below 2**64 - 1 (so none is -1 once read as int64).
_DIGITS = r"^(?:0|[1-9][0-9]{0,18})$"


def _digit_codes(arr: pa.ChunkedArray) -> np.ndarray | None:
    """The keys' numbers (as int64 bits; -1 for a null) when every key is written as ``_DIGITS``; else None."""
    ok = pc.match_substring_regex(arr, _DIGITS)
    if not pc.all(pc.fill_null(ok, True)).as_py():
        return None
    nulls = arr.null_count
    values = pc.cast(pc.fill_null(arr, "0") if nulls else arr, pa.uint64())
    codes = values.to_numpy(zero_copy_only=False)
    codes = (codes if codes.flags.writeable else codes.copy()).view(np.int64)
    if nulls:
        codes[pc.is_null(arr).to_numpy(zero_copy_only=False)] = -1
    return codes


def _same_buffers(a: pa.Array, b: pa.Array) -> bool:
    """Whether two arrays are the same data (same length, offset and buffers), without comparing their values."""
    if len(a) != len(b) or a.offset != b.offset or a.type != b.type:
        return False
    return all((x is None and y is None) or (x is not None and y is not None and x.address == y.address
                                              and x.size == y.size) for x, y in zip(a.buffers(), b.buffers(), strict=True))


def duplicated_keys(keys: pd.Series, valid: np.ndarray) -> np.ndarray:
    """``keys.where(valid).duplicated(keep="first")`` as a bool array (rows not ``valid`` count as NA)."""
    codes = key_codes(keys, digits_first=True)
    if codes is None:
        return keys.where(valid).duplicated(keep="first").to_numpy(dtype=bool)
    codes[~np.asarray(valid, dtype=bool)] = -1
    return pd.Series(codes).duplicated(keep="first").to_numpy()


def release_arrow_memory() -> None:
    """Hand the memory Arrow freed back to the system now: its allocator keeps freed pages for reuse, and at
    1M posts the text temporaries it kept were ~0.4 GB of resident memory."""
    pa.default_memory_pool().release_unused()


def constant_strings(value: str | None, index: pd.Index) -> pd.Series:
    """A string column holding ``value`` (None: NA) on every row, built in Arrow (no Python object per row)."""
    n = len(index)
    arr = pa.nulls(n, pa.large_string()) if value is None else pa.repeat(pa.scalar(value, pa.large_string()), n)
    return string_series(arr, index)


def na_ints(n: int) -> pd.arrays.IntegerArray:
    """``n`` NA values as Int64 (without a Python list of ``pd.NA``)."""
    return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))


def na_booleans(n: int) -> pd.arrays.BooleanArray:
    """``n`` NA values as boolean."""
    return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))


def normalize_name(name: str) -> str:
    """Header cell → comparison key: BOM and surrounding spaces removed, lower case, single spaces."""
    return " ".join(name.replace("\ufeff", "").strip().lower().split())


@dataclass
class ParseContext:
    """What a format reader needs besides the raw table."""

    source_file: str
    column_map: dict[str, str] = field(default_factory=dict)
    now: pd.Timestamp | None = None
    binary_codes: frozenset[str] | None = None
    #: the card's ``platform:`` for the account source this file came from (None: not given)
    platform: str | None = None


@dataclass
class FileOutcome:
    """What a format reader returns for one file.

    ``frame`` holds the kept canonical rows (with ``source_format``, ``source_file``, ``source_row``);
    ``kept_rows`` counts kept *file rows* when that differs from ``len(frame)`` (a coding-file row
    becomes several long rows).
    """

    file: str
    format: str
    table: str
    frame: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: int
    rows_superseded: int
    warnings: list[str] = field(default_factory=list)
    kept_rows: int | None = None

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantine)

    @property
    def rows_kept(self) -> int:
        """File rows kept (before de-duplication across files)."""
        return len(self.frame) if self.kept_rows is None else self.kept_rows


class Reasons:
    """Per-row quarantine reasons, accumulated check by check (vectorized)."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.s = np.full(len(index), "", dtype=object)
        self._bad = np.zeros(len(index), dtype=bool)

    def add(self, mask, message) -> None:
        """Add ``message`` to the rows in ``mask``.

        ``message`` is a string, a Series aligned with the rows, or a callable returning one (evaluated
        only when some row is bad, so building per-row messages costs nothing for clean files).
        """
        if isinstance(mask, pd.Series):
            m = mask.to_numpy(dtype=bool, na_value=False)
        else:
            m = np.asarray(mask, dtype=bool)
        if not m.any():
            return
        if callable(message):
            message = message()
        part = np.asarray(message, dtype=object)[m] if isinstance(message, pd.Series) else message
        cur = self.s[m]
        self.s[m] = np.where(cur == "", part, cur + "; " + part)
        self._bad[m] = self.s[m] != ""

    @property
    def bad(self) -> np.ndarray:
        """Rows with a reason (kept up to date by :meth:`add`; comparing 1M Python strings each time cost 20 ms)."""
        return self._bad.copy()

    @property
    def series(self) -> pd.Series:
        return pd.Series(self.s, index=self.index, dtype=object)


#: A count written as a plain decimal number (optional sign, digits, optional point; no exponent) of at most
#: ``_PLAIN_MAX_CHARS`` characters: for these Arrow's C++ cast gives exactly the float ``pd.to_numeric`` gives (at
#: most 15 digits are exact in a double; with more digits, or an exponent, pandas' own parser rounds differently
#: in the last bit, so those cells still go to ``pd.to_numeric``; tests/test_ingest_fastpath.py checks both).
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
_PLAIN_MAX_CHARS = 15
_NA_TOKENS_ARROW = pa.array(sorted(NA_TOKENS), type=pa.string())


def _na_tokens(s: pa.Array) -> tuple[np.ndarray, bool]:
    """``(cells that are NA tokens, whether Arrow's cast reads every one of those)``.

    Compared in lower case: the tokens are ASCII, so Arrow's lower case of a cell equals Python's wherever either
    is a token. Null cells are not tokens. Of the tokens, Arrow's cast reads only ``nan`` (in any case).
    """
    lower = pc.utf8_lower(s)
    na = pc.fill_null(pc.is_in(lower, value_set=_NA_TOKENS_ARROW), False).to_numpy(zero_copy_only=False)
    if not na.any():
        return na, True
    nan_word = pc.fill_null(pc.equal(lower, "nan"), False).to_numpy(zero_copy_only=False)
    return na, not (na & ~nan_word).any()


def _to_float(s: pa.Array, na: np.ndarray) -> np.ndarray:
    """Stripped count strings → floats, exactly what ``pd.to_numeric(errors="coerce")`` gives (NaN where not a
    number); ``na``: the cells that are NA tokens.

    For a column Arrow's cast cannot read whole: the cells that are NA tokens (``-`` in every promoted column
    of an X export) are NaN at once, plain numbers go through Arrow's cast, and only the rest (``1e3``,
    ``1,234``, ``abc``, a null) through ``pd.to_numeric`` on Python objects, which cost 0.3 s per 1M-cell column.
    """
    num = np.full(len(s), np.nan)
    rest = np.flatnonzero(~na)
    if not len(rest):
        return num
    sub = s.take(pa.array(rest))
    plain = pc.and_(pc.less_equal(pc.utf8_length(sub), _PLAIN_MAX_CHARS), pc.match_substring_regex(sub, _PLAIN_NUMBER))
    plain = pc.fill_null(plain, False).to_numpy(zero_copy_only=False)
    if plain.any():
        try:
            val = pc.cast(sub.filter(pa.array(plain)), pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            plain[:] = False
        else:
            pos = np.flatnonzero(plain)
            num[rest[pos]] = val
    other = rest[~plain]
    if len(other):
        cells = sub.filter(pa.array(~plain)).to_pandas().astype(object)
        num[other] = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return num


def parse_counts(raw: pd.Series, *, label: str) -> tuple[pd.Series, np.ndarray, pd.Series | None]:
    """Parse a column of count strings.

    Accepts ``1938``, ``"1938.0"``, ``1,234``, E-notation; ``""``, ``-`` and ``NA`` give NA. A value at or
    above 2**63 (``1e30``, ``99999999999999999999``) does not fit the Int64 columns and is refused with a
    reason (never wrapped round to a negative number).
    Returns ``(values as Int64, bad mask, reason per row or None when no row is bad)``; reasons name the
    column and the value.
    """
    not_number = np.zeros(len(raw), dtype=bool)
    whole = _whole_column(raw)
    if whole is not None and whole[1]:  # every cell "-" or "": all NA, nothing to say
        return _int64(np.full(len(raw), np.nan), raw.index), not_number, None
    s = None if whole is None else raw  # the cells as they are: Arrow read them all (no space around any)
    arr = None
    if whole is None:
        s = raw.str.strip()
        try:
            # Arrow-backed strings keep their chunks (the kernels below take them; joining them copied the column)
            arr = arrow_chunks(s) if isinstance(s.dtype, pd.StringDtype) else pa.array(s, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if whole is not None:
        num, nan = whole[0], not_number
    elif arr is None:  # not strings: pandas reads what it can
        num = pd.to_numeric(s.astype(object), errors="coerce").to_numpy(dtype=float, na_value=np.nan).copy()
        nan = np.isnan(num) & ~s.str.lower().isin(NA_TOKENS).to_numpy(dtype=bool)
    else:
        na, castable = _na_tokens(arr)
        num = None
        if castable:  # fast path: every cell a plain number (Arrow's C++ cast; a failed cast costs 0.2 s per 1M)
            try:
                num = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).copy()
                nan = np.zeros(len(s), dtype=bool)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                num = None
        if num is None:
            num = _to_float(arr, na)
            nan = np.isnan(num) & ~na
    if nan.any():  # not a number, and no NA token: thousands separators, or a reason
        pos = np.flatnonzero(nan)
        sub = s.iloc[pos]
        thousands = sub.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?").to_numpy(dtype=bool, na_value=False)
        fixed = pd.to_numeric(sub.str.replace(",", "", regex=False), errors="coerce").to_numpy(dtype=float)
        num[pos[thousands]] = fixed[thousands]
        not_number[pos[~thousands]] = True
    with np.errstate(invalid="ignore"):
        infinite = np.isinf(num)
        negative = num < 0
        too_large = ~infinite & (num >= INT64_LIMIT)
        fractional = ~infinite & ~negative & ~too_large & ~np.isnan(num) & (np.mod(num, 1) != 0)
    bad = not_number | infinite | negative | fractional | too_large
    if not bad.any():
        return _int64(num, raw.index), bad, None
    if s is raw:
        s = raw.str.strip()
    quoted = "'" + s + "'"
    reason = pd.Series("", index=raw.index, dtype=object)
    reason = reason.mask(not_number | infinite, f"column {label!r}: " + quoted + " is not a number")
    reason = reason.mask(negative, f"column {label!r}: " + quoted + " is negative (a count cannot be)")
    reason = reason.mask(fractional, f"column {label!r}: " + quoted + " is not a whole number")
    reason = reason.mask(too_large, f"column {label!r}: " + quoted
                         + " is too large for a count (2^63 or more; a corrupted cell?)")
    num[bad] = np.nan
    return _int64(num, raw.index), bad, reason


_DASH_OR_EMPTY = pa.array(["-", ""], type=pa.large_string())


def _whole_column(raw: pd.Series) -> tuple[np.ndarray | None, bool] | None:
    """For a column of pandas strings: ``(floats, False)`` when Arrow's cast reads every cell as it is, ``(None,
    True)`` when every cell is ``-`` or empty; else None (and for other dtypes).

    What parse_counts gives such a column either way: Arrow's cast refuses any space or other character around a
    number, so a cell it reads is one ``str.strip`` leaves as it is, and the only NA tokens it reads are the
    spellings of ``nan`` (read as NaN), which the fast path of parse_counts reads the same way; ``-`` and empty
    cells are NA tokens. Tried first because most count columns are one of these: the cast alone (a few ms per
    1M cells) then replaces the strip, lower case and token look-up (0.03 s per 1M-cell column).
    """
    if not isinstance(raw.dtype, pd.StringDtype):
        return None
    try:
        arr = arrow_chunks(raw)
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):  # a lone surrogate, say: the long way
        return None
    try:
        num = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) and pc.all(pc.is_in(arr, value_set=_DASH_OR_EMPTY)).as_py() and arr.null_count == 0:
            return None, True
        return None
    return (num if num.flags.writeable else num.copy()), False


#: Most cells parsed in one batch by :func:`parse_count_columns` (a small file's count columns together).
BATCH_CELLS = 1 << 16


def parse_count_columns(columns: list[pd.Series], labels: list[str]):
    """``parse_counts`` of each column (with its label), one result at a time, in order.

    A small file's columns go through Arrow together, in one batch, when every cell is an NA token or a plain
    number and none is bad (then each column's result is what ``parse_counts`` gives it: the cells are read one
    by one by the same Arrow cast); else, and for large files, column by column. A count column cost ~1 ms of
    pandas and Arrow calls whatever its length: an example of 48 small X files has 1,392 of them.
    """
    batch = _count_batch(columns) if columns and sum(len(c) for c in columns) <= BATCH_CELLS else None
    if batch is not None:
        yield from batch
        return
    for col, label in zip(columns, labels, strict=True):
        yield parse_counts(col, label=label)


def _count_batch(columns: list[pd.Series]) -> list[tuple[pd.Series, np.ndarray, None]] | None:
    """The results of the columns parsed together, or None when the batch does not apply (see the caller)."""
    index = columns[0].index
    if not all(isinstance(c.dtype, pd.StringDtype) and c.dtype.storage == "pyarrow" and c.index.equals(index)
               for c in columns):
        return None
    chunks = [ch for c in columns for ch in arrow_chunks(c).chunks]
    if not chunks:
        return None
    # what ``raw.str.strip()`` does to Arrow-backed strings: utf8_trim_whitespace
    cells = pc.utf8_trim_whitespace(pa.chunked_array(chunks, type=pa.large_string()).combine_chunks())
    na, _ = _na_tokens(cells)
    plain = pc.and_(pc.less_equal(pc.utf8_length(cells), _PLAIN_MAX_CHARS),
                    pc.match_substring_regex(cells, _PLAIN_NUMBER))
    plain = pc.fill_null(plain, False).to_numpy(zero_copy_only=False)
    if not (na | plain).all():
        return None
    num = np.full(len(cells), np.nan)
    if plain.any():
        try:
            num[plain] = pc.cast(cells.filter(pa.array(plain)), pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    with np.errstate(invalid="ignore"):
        if (num < 0).any() or (np.mod(num[~np.isnan(num)], 1) != 0).any() or (num >= INT64_LIMIT).any():
            return None  # a reason to give: column by column
    out, start = [], 0
    for c in columns:
        part = num[start:start + len(c)]
        start += len(c)
        out.append((_int64(part, c.index), np.zeros(len(c), dtype=bool), None))
    return out


def _int64(num: np.ndarray, index: pd.Index) -> pd.Series:
    """Whole floats (NaN = NA) → Int64 Series, without pandas' per-element checks."""
    mask = np.isnan(num)
    values = np.where(mask, 0, num).astype(np.int64)
    return pd.Series(pd.arrays.IntegerArray(values, mask), index=index)


def quarantine_frame(raw: pd.DataFrame, rows: np.ndarray, reasons: pd.Series, *,
                     source_file: str, mask: pd.Series | np.ndarray) -> pd.DataFrame:
    """Quarantine records (``source_file, source_row, reason`` then raw values) for the rows in ``mask``."""
    m = np.asarray(mask, dtype=bool)
    q = raw.loc[m].copy()
    q.insert(0, "reason", np.asarray(reasons, dtype=object)[m])
    q.insert(0, "source_row", np.asarray(rows)[m])
    q.insert(0, "source_file", source_file)
    return q.reset_index(drop=True)


_ARROW_STRING = pd.StringDtype("pyarrow")


def file_quarantine(raw, reasons: Reasons, *, source_file: str) -> pd.DataFrame:
    """A file's quarantine: rows with reasons plus rows with the wrong number of fields, in row order."""
    bad_rows = reasons.bad
    if not bad_rows.any() and not len(raw.bad):
        # nothing quarantined (most files): the same empty frame, built without pandas' row selection, copy and
        # column inserts on every raw column (1-3 ms a file; an example's 53 small files paid it each)
        data = raw.data
        if not set(QUARANTINE_LEADING) & set(data.columns) and data.columns.is_unique:
            cols: dict[str, Any] = {"source_file": np.empty(0, dtype=object),
                                    "source_row": np.asarray(raw.rows)[:0], "reason": np.empty(0, dtype=object)}
            empty = None
            for c, dtype in zip(data.columns, data.dtypes, strict=True):
                if dtype == _ARROW_STRING:  # one empty array for all the text columns (nothing is written into it)
                    empty = pd.array([], dtype=_ARROW_STRING) if empty is None else empty
                    cols[c] = empty
                else:
                    cols[c] = data[c].array[:0]
            return pd.DataFrame(cols, copy=False)
    quarantine = quarantine_frame(raw.rows_data(bad_rows), np.asarray(raw.rows)[bad_rows], reasons.s[bad_rows],
                                  source_file=source_file, mask=np.ones(int(bad_rows.sum()), dtype=bool))
    if len(raw.bad):
        bad = raw.bad.copy()
        bad.insert(0, "source_file", source_file)
        quarantine = pd.concat([quarantine, bad], ignore_index=True).sort_values("source_row", kind="stable")
    return quarantine.reset_index(drop=True)


def combine_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack quarantine frames: leading columns first, then the union of raw columns (as strings)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string" if c != "source_row" else "Int64") for c in QUARANTINE_LEADING})
    q = pd.concat(parts, ignore_index=True, sort=False)
    rest = [c for c in q.columns if c not in QUARANTINE_LEADING]
    q = q[list(QUARANTINE_LEADING) + rest]
    q["source_row"] = q["source_row"].astype("Int64")
    for c in ["source_file", "reason", *rest]:
        q[c] = q[c].astype("string")
    return q


def file_log(outcome: FileOutcome, rows_kept: int, rows_superseded: int) -> dict[str, Any]:
    """The ingest_log.json entry of one file."""
    return {
        "file": outcome.file,
        "format": outcome.format,
        "table": outcome.table,
        "rows_read": int(outcome.rows_read),
        "rows_kept": int(rows_kept),
        "rows_quarantined": int(outcome.rows_quarantined),
        "rows_superseded": int(rows_superseded),
    }
