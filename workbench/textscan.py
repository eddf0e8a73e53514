"""RE2 building blocks that give exactly the answers of Python's ``re`` on Arrow text (used by features).

Python's ``re`` and RE2 disagree on ``\\w``, ``\\s`` and ``\\d`` outside ASCII (Python follows ``str.isalnum``,
``str.isspace`` and ``str.isdecimal`` of its own Unicode tables; RE2's shorthands are ASCII only and its ``\\pL``
tables are another Unicode version). :class:`CharSet` therefore writes out, code point by code point, the set
Python's ``re`` puts in a character class, as an RE2 class: the same pattern then means the same thing in both
engines. RE2 has no look-arounds; the callers in :mod:`workbench.features` drop them where they cannot fail
(checked per row with one RE2 pass), count the failing cases apart, or run Python's ``re`` on the few
candidate rows; and
``tests/test_features_fastpath.py`` compares every coded column with the ``re`` implementation on adversarial
text.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SURROGATES = (0xD800, 0xDFFF)
_MAX = 0x10FFFF


@lru_cache(maxsize=1)
def _every_code_point() -> str:
    """A string whose i-th character is code point i (surrogates stand as U+0000; they are cut out of classes)."""
    cps = np.arange(_MAX + 1, dtype="<u4")
    cps[_SURROGATES[0] : _SURROGATES[1] + 1] = 0
    return cps.tobytes().decode("utf-32-le")


class CharSet:
    """A set of code points as sorted, disjoint, inclusive ranges (surrogates never included)."""

    def __init__(self, ranges):
        merged: list[list[int]] = []
        for lo, hi in sorted(ranges):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        out = []
        for lo, hi in merged:  # cut the surrogates out
            if hi < _SURROGATES[0] or lo > _SURROGATES[1]:
                out.append((lo, hi))
                continue
            if lo < _SURROGATES[0]:
                out.append((lo, _SURROGATES[0] - 1))
            if hi > _SURROGATES[1]:
                out.append((_SURROGATES[1] + 1, hi))
        self.ranges = tuple(out)

    @classmethod
    @cache
    def of_python(cls, python_class: str) -> CharSet:
        """The code points Python's ``re`` matches with the one-character pattern ``python_class``."""
        return cls((m.start(), m.end() - 1) for m in re.finditer(f"(?:{python_class})+", _every_code_point()))

    @classmethod
    def of(cls, chars: str) -> CharSet:
        return cls((ord(c), ord(c)) for c in chars)

    def __or__(self, other: CharSet) -> CharSet:
        return CharSet(self.ranges + other.ranges)

    def __invert__(self) -> CharSet:
        out, at = [], 0
        for lo, hi in self.ranges:
            if lo > at:
                out.append((at, lo - 1))
            at = hi + 1
        if at <= _MAX:
            out.append((at, _MAX))
        return CharSet(out)

    def __sub__(self, other: CharSet) -> CharSet:
        return ~(~self | other)

    def re2(self) -> str:
        """The set as an RE2 character class."""
        if not self.ranges:
            raise ValueError("an empty character class")
        return "[" + "".join(_x(a) if a == b else f"{_x(a)}-{_x(b)}" for a, b in self.ranges) + "]"


def _x(cp: int) -> str:
    return f"\\x{{{cp:x}}}"


def to_numpy_bool(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow booleans as a (writable) numpy bool array, null as False."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool)


def to_numpy_int(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow integers as a (writable) numpy int64 array, null as 0."""
    return pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(np.int64)
