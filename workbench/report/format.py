"""Numbers for humans: how every number of the report is printed (one place, so a table and a sentence agree)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..findings import num as _num

NA_TEXT = "n/a"


def format_int(x: Any) -> str:
    """Format a count with thousands separators: 1234 → "1,234"."""
    v = _num(x)
    return NA_TEXT if v is None else f"{round(v):,}"


def format_number(x: Any, *, signed: bool = False) -> str:
    """Format a number for reading: 1234.5 → "1,234"; 12.34 → "12.3"; 0.954 → "0.95"; 0.0042 → "0.0042"."""
    v = _num(x)
    if v is None:
        return NA_TEXT
    sign = "+" if signed and v > 0 else ""
    a = abs(v)
    if a >= 100:
        text = f"{v:,.0f}"
    elif a >= 10:
        text = f"{v:.1f}"
    elif a >= 0.01 or a == 0:
        text = f"{v:.2f}"
    else:
        text = f"{v:.2g}"
    return sign + text.replace("-", "−")


def format_pct(x: Any, *, signed: bool = False) -> str:
    """Format a percentage (already ×100): 32.4 → "32%"; 3.44 → "3.4%"; with ``signed`` a "+" for gains."""
    v = _num(x)
    if v is None:
        return NA_TEXT
    sign = "+" if signed and v > 0 else ""
    text = f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"
    if text in ("-0.0", "-0"):
        text = text[1:]
    return sign + text.replace("-", "−") + "%"


def format_p(p: Any) -> str:
    """Format a p-value: "< 0.001", "0.004", "0.03", "0.41"."""
    v = _num(p)
    if v is None:
        return NA_TEXT
    if v < 0.001:
        return "< 0.001"
    if v < 0.01:
        return f"{v:.3f}"
    return f"{v:.2f}"


def p_is(p: Any) -> str:
    """ "p = 0.03" or "p < 0.001"."""
    text = format_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_ratio(x: Any) -> str:
    """Format a ratio to two decimals, trailing zero dropped: 1.734 → "1.73×"; 1.70 → "1.7×"; 2 → "2.0×"."""
    v = _num(x)
    if v is None:
        return NA_TEXT
    text = f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    if text.endswith("0") and not text.endswith(".0"):
        text = text[:-1]
    return text.replace("-", "−") + "×"


def format_date(x: Any) -> str:
    """Format a date as "31 Dec 2023"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return NA_TEXT
    try:
        ts = pd.Timestamp(x)
    except (TypeError, ValueError):
        return str(x)
    if pd.isna(ts):
        return NA_TEXT
    return f"{ts.day} {ts:%b %Y}"


def margin_text(margin: Any) -> str | None:
    """An equivalence margin at full precision: [0.8, 1.25] → "0.8× to 1.25×"."""
    if (
        not isinstance(margin, (list, tuple))
        or len(margin) != 2
        or None in (_num(margin[0]), _num(margin[1]))
    ):
        return None
    return f"{_num(margin[0]):g}× to {_num(margin[1]):g}×"


def ci_text(pair: Any, fmt: Callable[[Any], str]) -> str:
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or _num(pair[0]) is None
        or _num(pair[1]) is None
    ):
        return "CI not available"
    low, high = fmt(pair[0]), fmt(pair[1])
    if low == high:  # a zero-width interval says nothing (a degenerate fit, or a fixed quantity)
        return "CI not available (zero width)"
    return f"95% CI {low} to {high}"


# --------------------------------------------------------------------------------------------------------------
# Findings (plain text; escaped when written into the page)
