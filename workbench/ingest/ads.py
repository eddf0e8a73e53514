"""Paid-campaign exports → the canonical ``campaigns`` table (one row per campaign/ad set/ad per period).

Three export families, each recognised by its header signature (never its file name), as CSV or as an
``.xlsx`` workbook (read through :func:`workbench.ingest.detect.parse_sheet_export`):

* **Meta Ads Manager** (``meta_ads``): "Export table data" from Ads Manager / the reporting suite, at
  campaign, ad set or ad level (the level is the most detailed name column present: ``Ad name`` > ``Ad set
  name`` > ``Campaign name``), optionally broken down by ``Day``. ``Reporting starts``/``Reporting ends`` bound
  each row's period. The currency is in the spend heading (``Amount spent (UAH)``), never assumed. ``Results`` is
  counted in the unit its ``Result indicator`` names (link clicks, reach, leads …), per row. A workbook seen in
  the wild puts a **summary row of account totals** (every name and id cell empty) above the ads: it is
  recognised, checked against the sum of the rows below and excluded, so nothing is counted twice.
* **LinkedIn Campaign Manager** (``linkedin_ads``): campaign performance report (``Campaign Name``,
  ``Total Spent``, ``Currency``, ``Impressions``, ``Clicks``, ``Conversions``; ``Start Date (in UTC)`` for a
  daily or monthly breakdown).
* **X Ads** (``x_ads``): Ads Manager export (``Campaign name``, ``Time period``, ``Spend``, ``Impressions``,
  ``Link clicks``, ``Results``, ``Result type``; currency from a ``Currency`` column or the spend heading).

``reach`` is kept per row and never summed: people reached by two ads (or on two days) are one person, so
reach is not additive (see :mod:`workbench.campaigns`). Spend is a money amount (Float64, in the row's
``currency``); counts are Int64 with NA where the export does not report them.

Rows are quarantined with the column and value named when the period or spend cannot be read, a count is not a
whole number ≥ 0, link clicks exceed impressions, or the row's currency contradicts the heading. A row repeated
within a file with the same figures is superseded; with other figures, quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..schema import CAMPAIGNS_SCHEMA, conform
from .common import FileOutcome, ParseContext, Reasons, file_quarantine, normalize_name, parse_counts
from .rawcsv import RawTable

META_FORMAT = "meta_ads"
LINKEDIN_FORMAT = "linkedin_ads"
X_FORMAT = "x_ads"

_CURRENCY_HEADING = re.compile(r"\(([A-Za-z]{3})\)\s*$")
#: the words a totals row may carry in its first name cell (Ads Manager leaves them empty)
_TOTAL_WORDS = re.compile(r"^\s*(?:totals?|grand total|results? from \d+ .*|all campaigns)\s*$", re.IGNORECASE)

#: canonical column → accepted header names (normalised: lower case, single spaces), per format.
META_COLUMNS: dict[str, tuple[str, ...]] = {
    "campaign_name": ("campaign name",),
    "campaign_id": ("campaign id",),
    "ad_set_name": ("ad set name",),
    "ad_set_id": ("ad set id",),
    "ad_name": ("ad name",),
    "ad_id": ("ad id",),
    "day": ("day",),
    "date_start": ("reporting starts",),
    "date_end": ("reporting ends",),
    "objective": ("objective",),
    "currency_column": ("currency",),
    "result_indicator": ("result indicator", "result type"),
    "results": ("results",),
    "impressions": ("impressions",),
    "reach": ("reach",),
    "clicks": ("link clicks",),
    "clicks_all": ("clicks (all)",),
}
LINKEDIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "campaign_name": ("campaign name",),
    "campaign_id": ("campaign id",),
    "ad_set_name": ("campaign group name",),
    "ad_set_id": ("campaign group id",),
    "ad_name": ("creative name", "ad name"),
    "ad_id": ("creative id", "ad id"),
    "day": ("start date (in utc)", "date"),
    # a report without a time breakdown: its period, written above the header (see ingest/report_layout.py)
    "date_start": ("reporting starts", "report start"),
    "date_end": ("reporting ends", "report end"),
    "objective": ("campaign objective",),
    "currency_column": ("currency",),
    "spend": ("total spent", "amount spent"),
    "impressions": ("impressions",),
    "reach": ("reach", "approximate member reach"),
    "clicks": ("clicks",),
    "conversions": ("conversions",),
}
X_COLUMNS: dict[str, tuple[str, ...]] = {
    "campaign_name": ("campaign name",),
    "campaign_id": ("campaign id",),
    "ad_set_name": ("ad group name",),
    "ad_set_id": ("ad group id",),
    "ad_name": ("ad name", "promoted tweet", "ad"),
    "ad_id": ("ad id",),
    "period": ("time period",),
    "objective": ("campaign objective", "objective"),
    "currency_column": ("currency",),
    "result_indicator": ("result type",),
    "results": ("results",),
    "impressions": ("impressions",),
    "clicks": ("link clicks",),
    "clicks_all": ("clicks",),
    "conversions": ("conversions",),
}


def _norm(header: list[str]) -> list[str]:
    return [normalize_name(h) for h in header]


def _spend_heading(norm: list[str], stem: str) -> int | None:
    """Index of the spend column: ``<stem> (XXX)`` or plain ``<stem>``."""
    for i, h in enumerate(norm):
        if h == stem or (h.startswith(stem + " (") and _CURRENCY_HEADING.search(h)):
            return i
    return None


def matches_meta(header: list[str], column_map=None) -> bool:
    """Ads Manager: ``Reporting starts``, ``Reporting ends``, ``Impressions``, a campaign/ad set/ad name (the spend
    column is optional: an export without it gives rates but no costs)."""
    norm = _norm(header)
    keys = set(norm)
    return ({"reporting starts", "reporting ends", "impressions"} <= keys
            and bool(keys & {"campaign name", "ad set name", "ad name"}))


def matches_linkedin(header: list[str], column_map=None) -> bool:
    """Campaign Manager: ``Campaign Name``, ``Total Spent``, ``Impressions``, ``Clicks``."""
    keys = set(_norm(header))
    return {"campaign name", "total spent", "impressions", "clicks"} <= keys


def matches_x(header: list[str], column_map=None) -> bool:
    """X Ads: ``Campaign name``, ``Time period``, ``Spend`` (or ``Spend (XXX)``), ``Impressions``."""
    norm = _norm(header)
    keys = set(norm)
    return ({"campaign name", "time period", "impressions"} <= keys
            and _spend_heading(norm, "spend") is not None)


def _find(raw: RawTable, names: tuple[str, ...]) -> str | None:
    norm = _norm(raw.header)
    for name in names:
        if name in norm:
            return raw.data.columns[norm.index(name)]
    return None


def _text(raw: RawTable, names: tuple[str, ...]) -> pd.Series:
    col = _find(raw, names)
    if col is None:
        return pd.Series(pd.NA, index=raw.data.index, dtype="string")
    s = raw.data[col].astype("string").str.strip()
    return s.mask(s == "")


def parse_amount(raw: pd.Series, *, label: str) -> tuple[pd.Series, np.ndarray, pd.Series | None]:
    """Money cells → Float64: ``12.5``, ``1,234.56``, ``$1,234.56``, ``1234.56 USD``, a decimal comma (``12,50``,
    ``1.234,56``); empty/``-`` → NA.

    Returns ``(values, bad mask, reason per row or None)``; negative amounts are refused.
    """
    s = raw.astype("string").str.strip()
    cleaned = s.str.replace(r"^[^\d\-+.]{1,4}|\s*[A-Za-z]{3}$", "", regex=True).str.strip()
    # a decimal comma (a European Excel's re-save): "12,50", "1.234,56" → "12.50", "1234.56"
    european = cleaned.str.fullmatch(r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+),\d{1,2}").fillna(False)
    cleaned = cleaned.mask(european, cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    cleaned = cleaned.str.replace(",", "", regex=False)
    na = s.isna() | s.str.lower().isin(["", "-", "na", "n/a", "nan", "null", "none", "#n/a"])
    num = pd.to_numeric(cleaned.mask(na), errors="coerce")
    not_number = (num.isna() & ~na).to_numpy(dtype=bool)
    negative = (num < 0).to_numpy(dtype=bool, na_value=False)
    infinite = np.isinf(num.to_numpy(dtype=float, na_value=np.nan))
    bad = not_number | negative | infinite
    values = pd.Series(num.where(~pd.Series(bad, index=num.index)), index=raw.index).astype("Float64")
    if not bad.any():
        return values, bad, None
    quoted = "'" + s.fillna("") + "'"
    reason = pd.Series("", index=raw.index, dtype=object)
    reason = reason.mask(not_number | infinite, f"column {label!r}: " + quoted + " is not an amount of money")
    reason = reason.mask(negative, f"column {label!r}: " + quoted + " is negative (spend cannot be)")
    return values, bad, reason


def _dates(s: pd.Series) -> pd.Series:
    """Dates as exports write them (``2024-03-01``, ``3/1/2024``, ``Mar 1, 2024``) → datetime64 (NaT if not)."""
    iso = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    rest = iso.isna() & s.notna()
    if rest.any():
        iso[rest] = pd.to_datetime(s[rest], format="mixed", errors="coerce")
    return iso.dt.normalize()


def _parse(raw: RawTable, ctx: ParseContext, fmt: str, columns: Mapping[str, tuple[str, ...]],
           spend_stem: str) -> FileOutcome:
    d = raw.data
    reasons = Reasons(d.index)
    warnings = list(raw.warnings)
    norm = _norm(raw.header)
    out: dict[str, object] = {}
    for key in ("campaign_name", "campaign_id", "ad_set_name", "ad_set_id", "ad_name", "ad_id", "objective",
                "result_indicator"):
        out[key] = _text(raw, columns.get(key, ()))
    if _find(raw, columns.get("ad_name", ())) is not None:
        level = "ad"
    elif _find(raw, columns.get("ad_set_name", ())) is not None:
        level = "ad_set"
    else:
        level = "campaign"

    # the period of each row: a Day/Start Date column, else Reporting starts/ends, else X's "Time period"
    day = _text(raw, columns.get("day", ()))
    if "period" in columns and _find(raw, columns["period"]) is not None:
        period = _text(raw, columns["period"])
        parts = period.str.split(r"\s+[-–]\s+", n=1, regex=True, expand=True)
        start_raw = parts[0] if 0 in parts else period
        end_raw = parts[1].fillna(parts[0]) if 1 in parts else start_raw
        start, end = _dates(start_raw.astype("string")), _dates(end_raw.astype("string"))
        reasons.add(start.isna() | end.isna(),
                    lambda: "column 'Time period': '" + period.fillna("") + "' is not a date or a date range")
        daily = bool(((end - start).dt.days == 0).all()) if len(d) else False
    elif _find(raw, columns.get("day", ())) is not None:
        start = _dates(day)
        end = start
        reasons.add(start.isna(), lambda: f"column {_find(raw, columns['day'])!r}: '" + day.fillna("")
                    + "' is not a date")
        daily = True
    else:
        s_raw, e_raw = _text(raw, columns.get("date_start", ())), _text(raw, columns.get("date_end", ()))
        s_name = _find(raw, columns.get("date_start", ()))
        e_name = _find(raw, columns.get("date_end", ()))
        start, end = _dates(s_raw), _dates(e_raw)
        if s_name is None and e_name is None:
            reasons.add(np.ones(len(d), dtype=bool),
                        "no period for this row: the file has no date column (e.g. 'Start Date (in UTC)', 'Day') "
                        "and no report period ('Reporting starts'/'Reporting ends' columns, or 'Report Start:'/"
                        "'Report End:' lines above the header). Export with a daily or monthly time breakdown, "
                        "or keep the lines the platform writes above the header")
        else:
            s_name, e_name = s_name or "Reporting starts", e_name or "Reporting ends"
            for when, text, col in ((start, s_raw, s_name), (end, e_raw, e_name)):
                reasons.add(when.isna(), lambda text=text, col=col: (
                    f"column {col!r}: '" + text.fillna("") + "' is not a date").where(text.notna(),
                                                                                    f"column {col!r} is empty"))
            reasons.add((end < start).to_numpy(dtype=bool, na_value=False), f"{e_name} is before {s_name}")
        daily = bool(((end - start).dt.days == 0).all()) if len(d) else False
    out["date_start"], out["date_end"] = start, end

    # spend and its currency: from the heading "(XXX)", else a Currency column per row
    spend_at = _spend_heading(norm, spend_stem) if "spend" not in columns else None
    spend_col = d.columns[spend_at] if spend_at is not None else _find(raw, columns.get("spend", ()))
    if spend_col is None:
        spend_header = ""
        out["spend"] = pd.array([pd.NA] * len(d), dtype="Float64")
        warnings.append(f"{ctx.source_file}: no spend column (e.g. 'Amount spent (USD)'): rates can be estimated, "
                        "costs cannot")
    else:
        spend_header = raw.header[list(d.columns).index(spend_col)].strip()
        out["spend"], bad, why = parse_amount(d[spend_col], label=spend_header)
        reasons.add(bad, why)
    m = _CURRENCY_HEADING.search(normalize_name(spend_header))
    heading_currency = m.group(1).upper() if m else None
    per_row = _text(raw, columns.get("currency_column", ())).str.upper()
    if heading_currency is not None:
        clash = (per_row.notna() & (per_row != heading_currency)).to_numpy(dtype=bool, na_value=False)
        reasons.add(clash, lambda: "column 'Currency': '" + per_row.fillna("") + f"' contradicts the spend "
                    f"heading {spend_header!r} ({heading_currency})")
        currency = pd.Series(heading_currency, index=d.index, dtype="string")
    else:
        currency = per_row
        odd = (per_row.notna() & ~per_row.str.fullmatch(r"[A-Z]{3}")).to_numpy(dtype=bool, na_value=False)
        reasons.add(odd, lambda: "column 'Currency': '" + per_row.fillna("") + "' is not a 3-letter currency code")
        if currency.isna().any() and spend_col is not None:
            warnings.append(f"{ctx.source_file}: {int(currency.isna().sum())} row(s) do not say their currency "
                            f"(no '(XXX)' in the {spend_header!r} heading and no Currency value); their costs are "
                            "reported without a currency and never compared with a benchmark")
    out["currency"] = currency

    for key in ("results", "impressions", "reach", "clicks", "clicks_all", "conversions"):
        col = _find(raw, columns.get(key, ()))
        if col is None:
            out[key] = pd.array([pd.NA] * len(d), dtype="Int64")
            continue
        header = raw.header[list(d.columns).index(col)].strip()
        values, bad, why = parse_counts(d[col].astype("string").fillna(""), label=header)
        reasons.add(bad, why)
        out[key] = values
    if _find(raw, columns.get("result_indicator", ())) is None and _find(raw, columns.get("results", ())) is not None:
        warnings.append(f"{ctx.source_file}: 'Results' without a 'Result indicator'/'Result type' column: what a "
                        "result is cannot be told, so results are not used as conversions")
    clicks, impressions = pd.Series(out["clicks"]), pd.Series(out["impressions"])
    reasons.add((clicks > impressions).to_numpy(dtype=bool, na_value=False),
                lambda: "link clicks (" + clicks.astype("string").fillna("") + ") exceed impressions ("
                + impressions.astype("string").fillna("") + ")")

    frame = pd.DataFrame(out, index=d.index)
    frame["ad_platform"] = {META_FORMAT: "meta", LINKEDIN_FORMAT: "linkedin", X_FORMAT: "x"}[fmt]
    frame["level"] = level
    frame["breakdown"] = "day" if daily else "period"
    frame["source_format"], frame["source_file"], frame["source_row"] = fmt, ctx.source_file, raw.rows

    # a summary row of totals: every name and id cell empty (or a "Total" label) — excluded, checked
    ident = frame[["campaign_name", "campaign_id", "ad_set_name", "ad_set_id", "ad_name", "ad_id"]]
    first_name = frame["campaign_name"].fillna(frame["ad_set_name"]).fillna(frame["ad_name"])
    summary = (ident.isna().all(axis=1)
               | first_name.str.match(_TOTAL_WORDS).fillna(False)).to_numpy(dtype=bool)
    if summary.any():
        reasons.s[summary] = ""  # its empty Day/name cells are what makes it a summary, not faults
        body = ~summary & ~reasons.bad
        total = float(frame.loc[summary, "spend"].sum())
        rest = float(frame.loc[body, "spend"].sum())
        agrees = bool(summary.sum() == 1 and np.isclose(total, rest, rtol=1e-3, atol=0.015))
        reasons.add(summary, "a summary row of totals (no campaign, ad set or ad named), not a campaign: excluded so "
                    "nothing is counted twice")
        warnings.append(f"{ctx.source_file}: {int(summary.sum())} summary row(s) of totals excluded (spend "
                        f"{total:,.2f} {'equals' if agrees else 'differs from'} the {rest:,.2f} of the rows read"
                        + ("" if agrees else "; the export may be filtered or hold rows we quarantined") + ")")

    valid = ~reasons.bad
    key_cols = ["campaign_name", "campaign_id", "ad_set_name", "ad_set_id", "ad_name", "ad_id", "date_start",
                "date_end", "currency"]
    figures = key_cols + ["spend", "results", "impressions", "reach", "clicks", "clicks_all", "conversions",
                          "result_indicator"]
    dup_key = np.zeros(len(frame), dtype=bool)
    same = np.zeros(len(frame), dtype=bool)
    if valid.any():
        sub = frame.loc[valid]
        dup_key[valid] = sub[key_cols].astype("string").fillna("\x00").duplicated(keep="first").to_numpy()
        same[valid] = sub[figures].astype("string").fillna("\x00").duplicated(keep="first").to_numpy()
    differ = dup_key & ~same
    reasons.add(differ, "the same campaign/ad set/ad and period as an earlier row of this file, with other figures")
    superseded = dup_key & same
    keep = ~reasons.bad & ~superseded
    n_read = len(d) + len(raw.bad)
    if n_read == 0:
        warnings.append(f"{ctx.source_file}: header only, no data rows")
    kept = conform(frame.loc[keep].reset_index(drop=True), CAMPAIGNS_SCHEMA, table="campaigns")
    return FileOutcome(file=ctx.source_file, format=fmt, table="campaigns", frame=kept,
                       quarantine=file_quarantine(raw, reasons, source_file=ctx.source_file), rows_read=n_read,
                       rows_superseded=int(superseded.sum()), warnings=warnings)


def parse_meta(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Meta Ads Manager export → campaigns rows (see the module docstring)."""
    return _parse(raw, ctx, META_FORMAT, META_COLUMNS, "amount spent")


def parse_linkedin(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """LinkedIn Campaign Manager export → campaigns rows."""
    return _parse(raw, ctx, LINKEDIN_FORMAT, LINKEDIN_COLUMNS, "total spent")


def parse_x(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """X Ads export → campaigns rows."""
    return _parse(raw, ctx, X_FORMAT, X_COLUMNS, "spend")

