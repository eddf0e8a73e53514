"""Atomic file writes: a temp file in the target folder, then an atomic rename.

A crash mid-write leaves either the old file or the new one, never half a file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a frame is written: the runner's no-op path must start fast
    import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; on success rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions a plain open() would (0666 less umask).
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _write_with(path: str | Path, writer: Callable[[Path], None]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return _write_with(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically."""
    return _write_with(path, lambda p: p.write_bytes(data))


def give_back_memory() -> None:
    """Return the pages freed since the last call to the system: Arrow's pool (mimalloc) and glibc's malloc keep
    them for reuse, so a big table's buffers, once freed, would still count in the process's RSS.

    Without a ``gc.collect()`` (~0.1 s in a kernel that imported statsmodels and seaborn): for buffers freed by
    reference counting, as between the slices of a file written a slice at a time;
    :func:`workbench.pipeline.release_memory` collects first."""
    import sys

    if "pyarrow" in sys.modules:
        try:
            sys.modules["pyarrow"].default_memory_pool().release_unused()
        except Exception:  # noqa: BLE001 - only memory is at stake
            pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if type(obj).__name__ == "NAType":  # pandas.NA, without importing pandas
        return None
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _clean_floats(obj: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _clean_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_floats(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            return _clean_floats(obj.item())
        except (ValueError, AttributeError):
            return obj
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically; NaN becomes null."""
    text = json.dumps(_clean_floats(obj), indent=2, default=_json_default, ensure_ascii=False)
    return write_text(path, text + "\n")


def write_parquet(path: str | Path, df: pd.DataFrame) -> Path:
    """Write ``df`` to Parquet atomically (index dropped)."""
    return _write_with(path, lambda p: df.to_parquet(p, index=False))


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"): = + - @, tab and
#: carriage return, and their full-width forms (some spreadsheet locales read ＝ as =).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_FORMULA_RE = "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]"


def _as_text(s: pd.Series) -> pd.Series:
    """``s`` as strings held by Arrow (``.str.contains`` then runs in C, RE2 for the formula class: the same answer
    as Python's re for a class of literal characters), or Python strings when Arrow cannot hold a value (a lone
    surrogate): one pass over a million-row text column instead of one regex call per cell."""
    try:
        return s.astype("string[pyarrow]")
    except (UnicodeError, ValueError, TypeError, ImportError):
        return s.astype("string")


def _arrow_strings(s: pd.Series) -> Any:
    """The Arrow ``string`` array behind an Arrow-backed string column (``string[pyarrow]``, pandas' ``str``),
    without a copy where it is one chunk; None for any other column."""
    import pandas as pd
    import pyarrow as pa

    if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        return None
    arr = pa.array(s.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string()) if pa.types.is_large_string(arr.type) else arr


def neutralize_formulas(df: pd.DataFrame, *, _texts: dict | None = None) -> pd.DataFrame:
    """Return a copy of ``df`` in which every text cell that a spreadsheet would run as a formula starts with ``'``.

    OWASP's rule for CSV files opened in Excel/LibreOffice: a cell starting with ``=``, ``+``, ``-``, ``@``, a
    tab or a carriage return is prefixed with a single quote, which spreadsheets show as text (and hide).
    Only text columns (string, object, category) are touched: numbers, dates and booleans are written as they
    are, so a negative estimate stays a number. Vectorized per column.
    """
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        s = out[col]
        dtype = s.dtype
        if not (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
                or isinstance(dtype, pd.CategoricalDtype)):
            continue
        arr = _arrow_strings(s)
        if arr is not None:  # Arrow-backed text stays in Arrow: its first character against the prefixes
            import pyarrow as pa
            import pyarrow.compute as pc

            first = pc.utf8_slice_codeunits(arr, 0, 1)  # (a set lookup: 3× faster than the anchored regex)
            risky = pc.fill_null(pc.is_in(first, value_set=pa.array(FORMULA_PREFIXES, type=arr.type)),
                                 False).to_numpy(zero_copy_only=False)
        else:
            text = _texts[col] if _texts is not None and col in _texts else _as_text(s)
            if _texts is not None:
                _texts[col] = text
            risky = text.str.contains(_FORMULA_RE, regex=True).fillna(False).to_numpy(dtype=bool)
        if risky.any() and arr is not None:
            quoted = pc.binary_join_element_wise(pa.scalar("'", arr.type), arr, pa.scalar("", arr.type))
            out[col] = pd.Series(pd.arrays.ArrowStringArray(pc.if_else(pa.array(risky), quoted, arr)),
                                 index=s.index)
        elif risky.any():
            fixed = s.astype(object).copy()
            fixed[risky] = "'" + text[risky].astype(object)
            out[col] = fixed
    return out


def _holds_carriage_return(df: pd.DataFrame, *, _texts: dict | None = None) -> bool:
    """Whether a text cell holds a CR, which Python's csv writer leaves unquoted when lines end in LF."""
    import pandas as pd

    for col in df.columns:
        s = df[col]
        if pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype) or isinstance(
                s.dtype, pd.CategoricalDtype):
            arrow = _arrow_strings(s)
            if arrow is not None and arrow.null_count == 0:
                if _bytes_hold(arrow, 13):
                    return True
                continue
            text = _texts[col] if _texts is not None and col in _texts else _as_text(s)
            if text.str.contains("\r", regex=False).fillna(False).any():
                return True
    return False


def _bytes_hold(arr: Any, byte: int) -> bool:
    """Whether the UTF-8 bytes of the (null-free) Arrow string array ``arr`` hold the ASCII ``byte``: one scan
    of its data buffer (an ASCII byte never occurs inside a multi-byte character)."""
    import numpy as np

    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)
    start, end = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    if end <= start:
        return False
    return bool((np.frombuffer(arr.buffers()[2], dtype=np.uint8)[start:end] == byte).any())


def write_csv(path: str | Path, df: pd.DataFrame, *, neutralize: bool = True) -> Path:
    """Write ``df`` to CSV (UTF-8, no index) atomically.

    Text cells that a spreadsheet would run as formulas are prefixed with ``'`` (:func:`neutralize_formulas`);
    ``neutralize=False`` only for files that are read back by the workbench and never opened in a spreadsheet.
    A frame with a carriage return inside a text cell is written with every field quoted (the csv module
    quotes a lone CR only when it is part of the line terminator), so the file still reads back row for row.
    """
    import csv

    texts: dict = {}  # each text column converted to Arrow once, for both checks
    frame = neutralize_formulas(df, _texts=texts) if neutralize else df
    # the neutralizing only adds a leading ' to some cells: a CR is in the frame written iff it was in ``df``
    quoting = csv.QUOTE_ALL if _holds_carriage_return(df, _texts=texts) else csv.QUOTE_MINIMAL
    parts = _csv_bytes_arrow(frame) if quoting == csv.QUOTE_MINIMAL else None
    if parts is not None:
        def write(p: Path) -> None:
            with open(p, "wb") as fh:
                for part in parts:
                    fh.write(part)

        return _write_with(path, write)
    return _write_with(path, lambda p: frame.to_csv(p, index=False, quoting=quoting))


def write_csv_chunks(path: str | Path, chunks: Iterable[pd.DataFrame], *, whole: Callable[[], pd.DataFrame],
                     neutralize: bool = True) -> Path:
    """Write the frame that ``chunks`` (consecutive row slices, same columns) make up, as :func:`write_csv` writes
    ``whole()``, without holding it or its text whole: each slice is formatted column-wise in Arrow and appended.

    The bytes are :func:`write_csv`'s for the whole frame: every cell is formatted on its own, so the slices'
    lines joined are the frame's. Where a slice cannot take that path (a carriage return in a text cell, which
    quotes the whole file; a column only pandas writes exactly), the file is written from ``whole()`` by
    :func:`write_csv` instead.
    """
    class _Whole(Exception):
        """A slice the Arrow path cannot write as pandas would: the file is written from the whole frame."""

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            first = True
            for chunk in chunks:
                texts: dict = {}
                frame = neutralize_formulas(chunk, _texts=texts) if neutralize else chunk
                if _holds_carriage_return(chunk, _texts=texts):
                    raise _Whole
                parts = _csv_bytes_arrow(frame)
                if parts is None:
                    raise _Whole
                for part in parts if first else parts[1:]:
                    fh.write(part)
                first = False
                del texts, frame, parts, chunk  # freed before the next slice is built, not after
            if first:  # no rows: _csv_bytes_arrow's header-only case is pandas'
                raise _Whole

    try:
        return _write_with(path, write)  # the temp file of an abandoned attempt is removed, ``path`` untouched
    except _Whole:
        return write_csv(path, whole(), neutralize=neutralize)


#: a field Python's csv writer quotes under QUOTE_MINIMAL with pandas' dialect (delimiter ",", quotechar '"',
#: line terminator "\n"; a lone "\r" is not quoted, and frames holding one are written by pandas with QUOTE_ALL)
_NEEDS_QUOTES = '[,"\n]'


def _csv_column_arrow(s: pd.Series) -> Any:
    """One column as the text ``DataFrame.to_csv(index=False)`` writes for it (QUOTE_MINIMAL), as an Arrow
    ``large_string`` array without nulls; None for a dtype this path does not reproduce byte for byte."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pc.cast(pa.array(s.to_numpy()), pa.large_string())
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        # pandas: ``values.astype(str)`` (numpy's shortest round-trip repr), missing values as ""
        values = s.to_numpy()
        if dtype == np.float64:
            text = _float64_text(values)
        else:
            text = pa.array(values.astype(str), type=pa.large_string())
        mask = pa.array(np.isnan(values))
        return pc.if_else(mask, pa.scalar("", pa.large_string()), text)
    if isinstance(dtype, np.dtype) and dtype.kind == "O" or isinstance(dtype, pd.StringDtype):
        arrow = _arrow_strings(s)  # Arrow-backed text: its own array, never a million Python strings
        if arrow is not None:
            arr = arrow.cast(pa.large_string())
        else:
            try:  # only Python/Arrow strings and missing values: any other object (a number, a date, bytes) goes to
                arr = pa.array(s.to_numpy(dtype=object), from_pandas=True)  # pandas, which writes its repr
            except (pa.ArrowException, TypeError, ValueError, UnicodeError):
                return None
            if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                    or pa.types.is_null(arr.type)):
                return None
            arr = arr.cast(pa.large_string())
        q, empty = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
        needs = pc.fill_null(pc.match_substring_regex(arr, _NEEDS_QUOTES), False)
        if pc.any(needs).as_py():  # only those cells are quoted (a million-row column has few)
            few = pc.filter(arr, needs)
            arr = pc.replace_with_mask(arr, needs, pc.binary_join_element_wise(
                q, pc.replace_substring(few, '"', '""'), q, empty))
        return pc.fill_null(arr, empty)
    return None


def _float64_text(values: Any) -> Any:
    """``values.astype(str)`` (numpy's shortest round-trip repr) as an Arrow ``large_string`` array, 7× faster.

    Arrow's cast gives the same shortest round-trip digits but its own layout: ``1`` for ``1.0``, ``0.00001``
    for ``1e-05``, and an exponent beyond 17 digits where numpy writes them out. Its text is kept only where
    both write the digits positionally with a decimal point (a non-integral value, 1e-4 ≤ |x| < 1e16, and
    Arrow's text holds "." and no "e"); every other value is formatted by numpy."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(values), pa.large_string())
    with np.errstate(invalid="ignore"):
        size = np.abs(values)
        candidate = (size >= 1e-4) & (size < 1e16) & (values != np.trunc(values))
    positional = pc.and_(pc.match_substring(text, "."), pc.invert(pc.match_substring(text, "e")))
    slow = ~(candidate & positional.to_numpy(zero_copy_only=False))
    if slow.any():
        text = pc.replace_with_mask(text, pa.array(slow), pa.array(values[slow].astype(str), type=pa.large_string()))
    return text


def _csv_bytes_arrow(df: pd.DataFrame) -> list[bytes | memoryview] | None:
    """The bytes ``df.to_csv(index=False, quoting=csv.QUOTE_MINIMAL)`` writes (header, then the rows, as buffers
    to write one after the other: the rows are not copied), built column-wise in Arrow (pandas
    formats and writes row by row through the csv module: ~5 s at 1M rows × 8 columns); None when a column's
    dtype or the header is outside what this reproduces exactly, and the caller lets pandas write the file.

    Written by hand rather than with ``pyarrow.csv.write_csv``: Arrow quotes every string and formats floats
    its own way (``1`` for ``1.0``), so its bytes differ from the files the workbench has always written."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = list(df.columns)
    if (len(names) < 2 or len(df) == 0 or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names)
            or any(re.search(_NEEDS_QUOTES, n) or "\r" in n or n == "" for n in names)):
        return None  # (a single column writes an empty field as '""'; quoted headers: left to pandas)
    cols = []
    for name in names:
        col = _csv_column_arrow(df[name])
        if col is None:
            return None
        cols.append(col)
    sep, empty, eol = (pa.scalar(v, pa.large_string()) for v in (",", "", "\n"))
    lines = pc.binary_join_element_wise(*cols, sep)
    lines = pc.binary_join_element_wise(lines, empty, eol)  # every line ends in "\n", the last one too
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = memoryview(lines.buffers()[1]).cast("q")
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    body = memoryview(lines.buffers()[2])[start:end] if end > start else b""
    return [(",".join(names) + "\n").encode("utf-8"), body]
