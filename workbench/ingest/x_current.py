"""X analytics exports from the current x.com Analytics page (2024 onwards).

Two files (FORMATS.md §2):

* **Content** (``account_analytics_content_*.csv``) — one row per post → posts table. Two header variants
  exist and are told apart by their header only: variant A (format ``x_current_content_a``: ``Link``,
  ``Share``, ``Url clicks``; dates like ``Mon Feb 17 2025``) and variant B (format ``x_current_content_b``:
  ``Post Link``, ``Shares``, ``URL Clicks``; dates like ``"Sun, Jan 4, 2026"``). Columns are matched by
  normalised name, never by position; either date style is accepted in either variant.

  The ``Date`` column is the *exporting user's local calendar date*, without a time of day. The exact
  UTC instant comes from the post id instead (a snowflake: ``ms = (id >> 22) + 1288834974657``). A
  local date lies within one day of the UTC date (time zones span UTC−12 … UTC+14), so a row whose
  ``Date`` is more than one day from the snowflake's UTC date is quarantined: the id or the date is
  wrong and we cannot tell which. The row X writes for a post it could not resolve (empty id, link
  ending ``status/undefined``) is quarantined with that reason, as are ids that are not numbers, links
  naming another post than the id, and posts more than a day in the future.

  Metrics: ``Impressions`` → impressions, ``Engagements`` → engagements (X's own total, which also counts
  interactions not broken out in other columns), ``Likes`` → likes, ``Reposts`` → reposts, ``Replies`` →
  replies, ``Bookmarks`` → bookmarks, ``Url clicks`` → url_clicks, ``Profile visits`` → profile_clicks,
  ``New follows`` → follows. ``Share``/``Shares`` counts shares by DM, copied link or other apps — not
  reposts — and has no canonical column, so it is left out (as are detail expands, hashtag and permalink
  clicks). The export reports no quotes, media views or reach (NA) and no media type (NA). A metric
  column missing from a file is NA for all its rows, with a warning.

  Text is flattened (no newlines) and cut at about 280–311 characters, so every row carries
  ``text_truncated = True`` (an extra column after the schema's); HTML entities are decoded. Replies
  are the rows whose text starts with ``@``; the export lists the account's own posts only
  (``is_repost`` False). The account is the handle in the post link.

* **Account overview** (``account_overview_analytics.csv``, format ``x_current_overview``) — one row per
  day → account table: ``New follows`` → new_follows, ``Unfollows`` → unfollows, ``Impressions``,
  ``Engagements`` and ``Create Post`` → posts. The file has no follower total (``followers`` NA) and no
  handle: ``account`` is NA and is filled from the posts when they hold a single X account.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .common import FileOutcome, ParseContext, Reasons, normalize_name, parse_counts
from .rawcsv import STRING, RawTable
from .x_legacy import _decode_entities, _handles, finish_posts

CONTENT_FORMAT_A = "x_current_content_a"
CONTENT_FORMAT_B = "x_current_content_b"
OVERVIEW_FORMAT = "x_current_overview"

#: Twitter's snowflake epoch (2010-11-04 01:42:54.657 UTC) in Unix milliseconds.
SNOWFLAKE_EPOCH_MS = 1288834974657

#: normalised raw column(s) → posts column. Share/Shares is deliberately absent (see the module docstring).
CONTENT_METRICS = {
    "impressions": "impressions",
    "engagements": "engagements",
    "likes": "likes",
    "reposts": "reposts",
    "replies": "replies",
    "bookmarks": "bookmarks",
    "url clicks": "url_clicks",
    "profile visits": "profile_clicks",
    "new follows": "follows",
}
CONTENT_REQUIRED = ("post id", "date", "post text", "impressions", "engagements")
OVERVIEW_METRICS = {
    "new follows": "new_follows",
    "unfollows": "unfollows",
    "impressions": "impressions",
    "engagements": "engagements",
    "create post": "posts",
}
#: The overview's signature: its first column and the columns only it has (the header is stable, FORMATS §2b).
OVERVIEW_REQUIRED = ("date", "impressions", "engagements", "new follows", "unfollows", "create post")

#: Date styles of the two variants (either is accepted in either file).
DATE_FORMATS = ("%a %b %d %Y", "%a, %b %d, %Y")
DATE_EXAMPLE = "'Mon Feb 17 2025' or 'Sun, Jan 4, 2026'"


def columns_by_name(raw: RawTable) -> dict[str, list[str]]:
    """Normalised header name → the raw table's column names carrying it (several when duplicated)."""
    out: dict[str, list[str]] = {}
    for name, h in zip(raw.data.columns, raw.header, strict=True):
        out.setdefault(normalize_name(h), []).append(name)
    return out


def _keys(header: list[str]) -> set[str]:
    return {normalize_name(h) for h in header}


def content_variant(header: list[str]) -> str | None:
    """``"a"`` or ``"b"`` when ``header`` is an X content export's, else None.

    Variant A links posts with ``Link``, variant B with ``Post Link`` (FORMATS.md §2a).
    """
    keys = _keys(header)
    if not all(k in keys for k in CONTENT_REQUIRED):
        return None
    if "link" in keys:
        return "a"
    if "post link" in keys:
        return "b"
    return None


def matches_content_a(header: list[str], column_map=None) -> bool:
    """True for the X content export, header variant A (``Link``, ``Share``, ``Url clicks``)."""
    return content_variant(header) == "a"


def matches_content_b(header: list[str], column_map=None) -> bool:
    """True for the X content export, header variant B (``Post Link``, ``Shares``, ``URL Clicks``)."""
    return content_variant(header) == "b"


def matches_overview(header: list[str], column_map=None) -> bool:
    """True for the X account overview export (``Date, Impressions, …, New follows, Unfollows, …, Create Post``)."""
    norm = [normalize_name(h) for h in header]
    return bool(norm) and norm[0] == "date" and all(k in norm for k in OVERVIEW_REQUIRED)


def parse_x_dates(raw: pd.Series) -> pd.Series:
    """Dates written ``Mon Feb 17 2025`` or ``Sun, Jan 4, 2026`` → naive midnight Timestamps (NaT otherwise).

    A file holds one date per day, so only the distinct values are parsed (strptime with ``%a`` is slow).
    """
    codes, uniques = pd.factorize(raw.str.strip())
    u = pd.Series(uniques, dtype="string")
    parsed = pd.to_datetime(u, format=DATE_FORMATS[0], errors="coerce")
    rest = parsed.isna() & u.ne("")
    if rest.any():
        parsed = parsed.where(~rest, pd.to_datetime(u.where(rest), format=DATE_FORMATS[1], errors="coerce"))
    values = parsed.to_numpy(dtype="datetime64[ns]")
    out = np.where(codes >= 0, values[np.maximum(codes, 0)] if len(values) else np.datetime64("NaT", "ns"),
                   np.datetime64("NaT", "ns"))
    return pd.Series(out, index=raw.index, dtype="datetime64[ns]")


def snowflake_times(ids: pd.Series) -> pd.Series:
    """UTC instants encoded in X post ids (``ms = (id >> 22) + 1288834974657``); NaT where not a number.

    ``ids`` are decimal strings; they are converted with integer arithmetic (never through a float).
    """
    s = ids.astype(STRING).str.strip()
    digits = s.str.fullmatch(r"\d{1,19}").to_numpy(dtype=bool, na_value=False)
    # 19 digits above 2**63 - 1 are not X ids (equal-length digit strings compare like the numbers)
    long = (s.str.len() == 19).to_numpy(dtype=bool, na_value=False)
    digits &= ~(long & (s > str(2**63 - 1)).to_numpy(dtype=bool, na_value=False))
    num = pc.cast(pa.array(s.where(digits, "0"), type=pa.string()), pa.int64()).to_numpy(zero_copy_only=False)
    ns = ((num >> 22) + SNOWFLAKE_EPOCH_MS) * 1_000_000
    out = pd.Series(ns.view("datetime64[ns]"), index=ids.index).dt.tz_localize("UTC")
    return out.where(digits)


def _na_int(n: int) -> pd.arrays.IntegerArray:
    return pd.array([pd.NA] * n, dtype="Int64")


def parse_content(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """X content export (either variant) → posts rows (see the module docstring)."""
    fmt = CONTENT_FORMAT_A if content_variant(raw.header) == "a" else CONTENT_FORMAT_B
    d = raw.data
    cols_of = columns_by_name(raw)
    reasons = Reasons(d.index)
    warnings: list[str] = []

    post_id = d[cols_of["post id"][0]].str.strip()
    link = d[cols_of["link" if fmt == CONTENT_FORMAT_A else "post link"][0]].str.strip()
    empty_id = (post_id == "").to_numpy(dtype=bool, na_value=False)
    undefined = link.str.contains(r"/status/undefined/?$", regex=True).to_numpy(dtype=bool, na_value=False)
    reasons.add(empty_id & undefined, "empty Post id and link ending 'status/undefined': X could not resolve "
                "this post (deleted or unavailable), so it has no id or time")
    reasons.add(empty_id & ~undefined, "empty Post id")
    numeric = post_id.str.fullmatch(r"\d{1,19}").to_numpy(dtype=bool, na_value=False)
    reasons.add(~empty_id & ~numeric, lambda: "Post id '" + post_id + "' is not an X post id (digits)")
    link_id = pd.Series(pd.arrays.ArrowStringArray(
        pc.struct_field(pc.extract_regex(pa.array(link, type=pa.string()), r"/status/(?P<id>\d+)"), [0])),
        index=d.index)
    other_post = (numeric & link_id.notna() & (link_id != post_id)).to_numpy(dtype=bool, na_value=False)
    reasons.add(other_post, lambda: "link '" + link + "' names another post than Post id '" + post_id + "'")

    published = snowflake_times(post_id.where(numeric))
    reasons.add(numeric & published.isna().to_numpy(), lambda: "Post id '" + post_id + "' is larger than any X id "
                "(above 2**63 - 1)")
    date_raw = d[cols_of["date"][0]].str.strip()
    local_date = parse_x_dates(date_raw)
    reasons.add(local_date.isna() & ~empty_id,
                lambda: "Date '" + date_raw + f"' is not a date like {DATE_EXAMPLE}")
    utc_date = published.dt.tz_localize(None).dt.normalize()
    gap_days = (local_date - utc_date).dt.days.abs().astype("Int64")
    far = (gap_days > 1).to_numpy(dtype=bool, na_value=False)
    reasons.add(far, lambda: (
        "Date '" + date_raw + "' is " + gap_days.astype("string").fillna("") + " days from the time in "
        "the post id (" + published.dt.strftime("%Y-%m-%d %H:%M UTC").astype("string").fillna("") + "); "
        "a local date is at most 1 day from the UTC date"))
    now = pd.Timestamp.now(tz="UTC") if ctx.now is None else ctx.now
    reasons.add(published > now + pd.Timedelta(days=1), lambda: (
        "post id '" + post_id + "' encodes " + published.dt.strftime("%Y-%m-%d %H:%M").astype("string").fillna("")
        + f" UTC, more than 1 day in the future (now is {now:%Y-%m-%d %H:%M} UTC)"))

    text = d[cols_of["post text"][0]]
    n = len(d)
    out: dict[str, object] = {
        "post_id": post_id,
        "platform": "x",
        "account": _handles(link),
        "published_at": published,
        "text": _decode_entities(text),
        "permalink": link,
    }
    missing = []
    for key, col in CONTENT_METRICS.items():
        if key not in cols_of:
            out[col] = _na_int(n)
            missing.append(key)
            continue
        name = cols_of[key][0]
        values, bad, why = parse_counts(d[name], label=name)
        reasons.add(bad, why)
        out[col] = values
    if missing:
        warnings.append(f"{ctx.source_file}: X content export without column(s) {missing}; those metrics are NA")
    out.update(quotes=_na_int(n), media_views=_na_int(n), reach=_na_int(n),
               media_type=pd.array([pd.NA] * n, dtype="string"),
               is_reply=text.str.startswith("@"), is_repost=False,
               source_format=fmt, source_file=ctx.source_file, source_row=raw.rows,
               text_truncated=pd.array(np.ones(n, dtype=bool), dtype="boolean"))
    outcome = finish_posts(raw, ctx, pd.DataFrame(out, index=d.index), reasons, fmt)
    outcome.warnings.extend(warnings)
    return outcome


def parse_overview(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """X account overview export → account rows (see the module docstring)."""
    from .account_csv import finish_account  # shared date-order checks and de-duplication

    d = raw.data
    cols_of = columns_by_name(raw)
    reasons = Reasons(d.index)
    date_raw = d[cols_of["date"][0]].str.strip()
    dates = parse_x_dates(date_raw)
    reasons.add(dates.isna(), lambda: "Date '" + date_raw + f"' is not a date like {DATE_EXAMPLE}")
    out: dict[str, object] = {"date": dates, "platform": "x", "account": pd.array([pd.NA] * len(d), dtype="string")}
    for key, col in OVERVIEW_METRICS.items():
        name = cols_of[key][0]
        values, bad, why = parse_counts(d[name], label=name)
        reasons.add(bad, why)
        out[col] = values
    out.update(followers=_na_int(len(d)), source_format=OVERVIEW_FORMAT, source_file=ctx.source_file,
               source_row=raw.rows)
    return finish_account(raw, ctx, pd.DataFrame(out, index=d.index), reasons, OVERVIEW_FORMAT,
                          check_order=True, warn_na=False)
