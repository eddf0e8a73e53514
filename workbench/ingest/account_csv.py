"""Generic account CSV: a date column and any of the account metrics (format ``account_csv``).

A hand-kept sheet or a tool's export with one row per date. Columns are matched after applying the
dataset card's column map (raw name → canonical name); canonical names (``date``, ``followers``,
``new_follows``, ``unfollows``, ``impressions``, ``engagements``, ``posts``, ``reach``, ``visits``,
``link_clicks``, and optionally ``platform`` and ``account``) may also appear directly, written exactly so (lower
case). A ``platform:`` on the card's account entry fills the platform of rows that do not name one.
``followers`` is a follower level (a total on that date); daily gains belong in ``new_follows`` and are never
summed into ``followers`` here. Other columns are ignored and listed once in a warning.

Dates are ISO ``YYYY-MM-DD`` or ``M/D/YYYY``; counts may be ``NA``, empty or ``1,234``.
Rows are quarantined when the date cannot be read, a count is not a whole non-negative number, or the
date breaks the file's own order (newest-first or oldest-first, whichever dominates): such a date is
most likely mistyped (the rOpenSci sheet has ``2021-01-03`` between ``2022-01-03`` and ``2021-11-02``).
Rows whose metrics are all NA are kept (a month with no data is still a month); a warning counts the
NA values per column. Two rows with the same date: the later row in the file wins, the earlier one
counts as superseded.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import ACCOUNT_COLUMNS, ACCOUNT_METRICS
from .common import FileOutcome, ParseContext, Reasons, file_quarantine, parse_counts
from .rawcsv import RawTable

FORMAT = "account_csv"
CANONICAL = ACCOUNT_COLUMNS


def resolve_columns(header: list[str], column_map=None, *, file: str | None = None) -> dict[str, str]:
    """Map canonical column → raw header cell, applying ``column_map`` (raw name → canonical name).

    A mapped column wins over a column that already has the canonical name.
    """
    column_map = dict(column_map or {})
    unknown = sorted({v for v in column_map.values() if v not in CANONICAL})
    if unknown:
        raise InputError(
            f"the column map sends columns to {unknown}, which are not account columns. "
            f"Allowed targets: {list(CANONICAL)}", file=file)
    stripped = [h.replace("\ufeff", "").strip() for h in header]
    found: dict[str, str] = {}
    for raw_name, canon in column_map.items():
        if raw_name.strip() in stripped and canon not in found:
            found[canon] = header[stripped.index(raw_name.strip())]
    for h, s in zip(header, stripped, strict=True):
        # canonical names count only when written exactly (lower case): "Date,Impressions,..." is another
        # platform's export, which deserves its own reader rather than a partial read
        if s in CANONICAL and s not in found and s not in column_map:
            found[s] = h
    return found


def matches_account_csv(header: list[str], column_map=None) -> bool:
    """True when the header has a date column and at least one account metric (after the column map)."""
    found = resolve_columns(header, column_map)
    return "date" in found and any(m in found for m in ACCOUNT_METRICS)


def parse_dates(raw: pd.Series) -> pd.Series:
    """ISO ``YYYY-MM-DD`` dates, else ``M/D/YYYY``; NaT where neither fits."""
    s = raw.astype(str).str.strip()
    iso = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    rest = iso.isna()
    if rest.any():
        us = pd.to_datetime(s[rest], format="%m/%d/%Y", errors="coerce")
        iso = iso.where(~rest, us)
    return iso


def out_of_order(dates: pd.Series) -> tuple[np.ndarray, str]:
    """Rows that break the dominant order of ``dates`` (all valid); returns ``(mask, order)``.

    The dominant order is the direction most consecutive steps take. The rows kept in order are a
    longest monotone (non-strict) subsequence; the others are out of order.
    """
    values = dates.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    n = len(values)
    if n < 3:
        return np.zeros(n, dtype=bool), "increasing"
    steps = np.diff(values)
    descending = int((steps < 0).sum()) > int((steps > 0).sum())
    order = "newest first" if descending else "oldest first"
    seq = -values if descending else values
    if (np.diff(seq) >= 0).all():
        return np.zeros(n, dtype=bool), order
    # Longest non-decreasing subsequence (patience sorting, O(n log n)); only runs on disordered files.
    tails: list[int] = []
    tail_idx: list[int] = []
    prev = np.full(n, -1)
    for i, v in enumerate(seq.tolist()):
        k = bisect_right(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_idx.append(i)
        else:
            tails[k] = v
            tail_idx[k] = i
        prev[i] = tail_idx[k - 1] if k > 0 else -1
    keep = np.zeros(n, dtype=bool)
    i = tail_idx[-1]
    while i >= 0:
        keep[i] = True
        i = prev[i]
    return ~keep, order


def parse_account_csv(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Generic account CSV → account rows (see the module docstring)."""
    d = raw.data
    found = resolve_columns(raw.header, ctx.column_map, file=ctx.source_file)
    name_of = dict(zip(raw.header, d.columns, strict=True))
    reasons = Reasons(d.index)
    date_raw = d[name_of[found["date"]]].str.strip()
    dates = parse_dates(date_raw)
    reasons.add(dates.isna(), lambda: "date '" + date_raw + "' is not a date like 2021-11-30 or 11/30/2021")
    na_str = pd.array([pd.NA] * len(d), dtype="string")
    cols: dict[str, object] = {
        "date": dates,
        "platform": d[name_of[found["platform"]]].str.strip().str.lower() if "platform" in found else na_str,
        "account": d[name_of[found["account"]]].str.strip() if "account" in found else na_str,
    }
    for m in ACCOUNT_METRICS:
        if m in found:
            values, bad, why = parse_counts(d[name_of[found[m]]], label=found[m])
            reasons.add(bad, why)
            cols[m] = values
        else:
            cols[m] = pd.array([pd.NA] * len(d), dtype="Int64")
    if ctx.platform:  # the card's platform: for rows that do not name one
        cols["platform"] = pd.Series(cols["platform"], index=d.index, dtype="string").fillna(ctx.platform)
    cols.update(source_format=FORMAT, source_file=ctx.source_file, source_row=raw.rows)
    out = pd.DataFrame(cols, index=d.index)
    warnings = []
    used = set(found.values())
    ignored = [h for h in raw.header if h not in used]
    if ignored:
        warnings.append(f"{ctx.source_file}: columns not used (not account columns and not in the column map): "
                        f"{ignored}")
    return finish_account(raw, ctx, out, reasons, FORMAT, check_order=True, warn_na=True,
                          metrics=[m for m in ACCOUNT_METRICS if m in found], extra_warnings=warnings)


def finish_account(raw: RawTable, ctx: ParseContext, out: pd.DataFrame, reasons: Reasons, fmt: str, *,
                   check_order: bool, warn_na: bool, metrics=(), extra_warnings=()) -> FileOutcome:
    """Date-order check, same-date de-duplication and the file's outcome (shared by account formats)."""
    warnings = [*raw.warnings, *extra_warnings]
    has_date = out["date"].notna()
    if check_order and has_date.sum() >= 3:
        sub = out.loc[has_date, "date"]
        bad, order = out_of_order(sub)
        if bad.any():
            pos = np.flatnonzero(bad)
            vals = sub.dt.strftime("%Y-%m-%d").to_numpy()
            ok_pos = np.flatnonzero(~bad)
            # Neighbours in the file among the rows that are in order.
            after = np.searchsorted(ok_pos, pos)
            before_s = np.where(after > 0, vals[ok_pos[np.maximum(after - 1, 0)]], "the start")
            after_s = np.where(after < len(ok_pos), vals[ok_pos[np.minimum(after, len(ok_pos) - 1)]], "the end")
            rows_at = out.index.get_indexer(sub.index[pos])
            msgs = np.full(len(out), "", dtype=object)
            msgs[rows_at] = [f"date {v} is out of order between {b} and {a} (mistyped?)"
                             for v, b, a in zip(vals[pos], before_s, after_s, strict=True)]
            mask = np.zeros(len(out), dtype=bool)
            mask[rows_at] = True
            reasons.add(mask, pd.Series(msgs, index=out.index))
            warnings.append(f"{ctx.source_file}: {len(pos)} row(s) with dates out of the file's order ({order}), "
                            f"quarantined as probably mistyped: {', '.join(vals[pos])}")
    valid = ~reasons.bad
    key_cols = ["platform", "account", "date"]
    keys = out.loc[valid, key_cols].astype("string").fillna("\x00NA")
    dup = np.zeros(len(out), dtype=bool)
    dup[np.flatnonzero(valid)] = keys.duplicated(keep="last").to_numpy()
    keep = valid & ~dup
    kept = out.loc[keep].reset_index(drop=True)
    if warn_na and len(kept):
        na = {m: int(kept[m].isna().sum()) for m in metrics if kept[m].isna().any()}
        if na:
            all_na = int(kept[list(metrics)].isna().all(axis=1).sum()) if metrics else 0
            warnings.append(
                f"{ctx.source_file}: rows (months/days) with no value, kept as NA: "
                + ", ".join(f"{m} {n}" for m, n in na.items())
                + (f"; {all_na} row(s) have no value at all" if all_na else ""))
    quarantine = file_quarantine(raw, reasons, source_file=ctx.source_file)
    n_read = len(raw.data) + len(raw.bad)
    if n_read == 0:
        warnings.append(f"{ctx.source_file}: header only, no data rows")
    return FileOutcome(file=ctx.source_file, format=fmt, table="account", frame=kept,
                       quarantine=quarantine, rows_read=n_read,
                       rows_superseded=int(dup.sum()), warnings=warnings)
