"""Meta Business Suite exports (Insights → Content → Export, and the page-level daily series), 2023 onwards.

**Content export** (FORMATS.md §§3b, 4) — one row per post, Facebook Pages (format ``meta_bs_fb``: ``Page ID``,
``Page name`` columns) or Instagram accounts (format ``meta_bs_ig``: ``Account ID``, ``Account username``)
→ posts table. UTF-8 with a BOM (handled by the CSV reader), text fields with newlines, and columns that
vary between exports in name, order and number (32 to ~300): every column is found by its normalised name
(lower case, single spaces), never by its position, and a column that appears twice (``Views`` in the
2025 Facebook export) is read from all its copies — a row whose copies disagree is quarantined.

* ``post_id`` ← ``Post ID`` (a string), ``account`` ← ``Page name`` / ``Account username`` (falling back to
  ``Page ID`` / ``Account ID`` when empty) — one file may hold several accounts, each row keeps its own.
* ``platform`` comes from the content, row by row: ``Post type`` starting ``IG`` → instagram; else the
  permalink's host (instagram.com → instagram, facebook.com/fb.com/fb.watch → facebook); else the column
  set (Page columns → facebook, Account columns → instagram).
* ``published_at`` ← ``Publish time`` (``MM/DD/YYYY HH:MM``), which is US Pacific time (observed with
  Instagram media-id timestamps), converted to UTC with the ``America/Los_Angeles`` rules (DST-aware).
  Deterministic at the DST changes, as :mod:`zoneinfo` does with ``fold=0``: a wall time that occurs
  twice (01:00–01:59 on the November change) is taken as the *first* occurrence (PDT, UTC−7); a wall
  time that does not exist (02:00–02:59 on the March change) is read with the offset in force before the
  change (PST, UTC−8), i.e. it lands one hour later on the clock (02:30 → 03:30 PDT = 10:30 UTC).
* ``text`` ← ``Title`` (Facebook's caption) when not empty, else ``Description`` (Instagram's caption;
  Facebook's copy renders mentions as ``@[id:2048:Name]``). Meta does not HTML-encode text, and gives it
  whole: ``text_truncated`` is False (the extra column the X content export sets True).
* Metrics (lifetime totals as of the export): ``impressions`` ← ``Impressions`` when the export has it, else
  ``Views`` — Meta replaced Impressions with Views in 2024–25, and the ingest log says so each time
  (the report's methods cite it); ``reach`` ← ``Reach``; ``likes`` ← ``Reactions`` (Facebook) /
  ``Likes`` (Instagram); ``replies`` ← ``Comments`` (story ``Replies`` when there are no Comments);
  ``reposts`` ← ``Shares`` on Facebook rows only (a Facebook share republishes the post; Instagram's
  Shares are mostly sends by direct message, like X's Share, and have no canonical column);
  ``engagements`` ← ``Reactions, comments and shares`` (Meta's own total, Facebook only); ``bookmarks``
  ← ``Saves``; ``follows`` ← ``Follows``; ``profile_clicks`` ← ``Profile visits``; ``url_clicks`` ←
  ``Link clicks``. Everything else (Total clicks, video views, earnings, …) stays out. A metric an
  export does not have is NA, and an empty cell (Meta's "not applicable") is NA, never 0.
* ``media_type`` from ``Post type``: Photos/IG image → photo, Videos → video, Reels/IG reel → reel,
  IG carousel → carousel, IG story → story, Links → link_card, Status/Text → none; other values NA (with a
  warning). ``is_repost`` ← ``Is share`` (Facebook; False where the export has no such column);
  ``is_reply`` False (comments are not exported as posts).

**Page-level daily series** (``Follows.csv``, ``Views.csv``, ``Interactions.csv``, ``Audience.csv``; format
``meta_bs_page_series``) → account table. UTF-16 with a ``sep=,`` first line, then blocks of a metric-title
line (``"Facebook follows"``), a header ``"Date","Primary"`` and rows ``"2025-08-01T00:00:00","20"``.
Follows are **gross** new follows → ``new_follows`` (unfollows are not in the file; a warning says so);
Views → ``impressions`` (with the same warning as above); Interactions → ``engagements``. The platform is
the first word of the title. The file names no account (``account`` NA, filled from the posts when they
hold a single account of that platform). Blocks whose header is not ``Date, …`` (audience age, city and
country tables) are not account rows: they are skipped with a warning that counts their rows. Rows of a
daily metric the account table has no column for (Visits, Reach) are quarantined with that reason. Row
numbers count the file's records from the ``sep=,`` line (record 1). Each metric keeps its own
``source_format`` (``meta_bs_page_series:follows``…) so series of different metrics for the same days do
not replace each other.

**Semicolon-separated files**: a CSV re-saved by a spreadsheet whose list separator is ``;`` is recognised
(formats ``semicolon_posts``, ``semicolon_account``, ``semicolon_codes``) when its header split on ``;``
is a supported export's, and rejected with a message saying how to get a comma-separated file back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..schema import ACCOUNT_METRICS
from .common import FileOutcome, ParseContext, Reasons, file_quarantine, normalize_name, parse_counts
from .rawcsv import RawTable, read_text_file
from .x_current import columns_by_name
from .x_legacy import finish_posts

FACEBOOK_FORMAT = "meta_bs_fb"
INSTAGRAM_FORMAT = "meta_bs_ig"
PAGE_SERIES_FORMAT = "meta_bs_page_series"
#: ``;``-separated re-saves, one reader per table they would feed (see :func:`semicolon_matcher`).
SEMICOLON_FORMATS = {"posts": "semicolon_posts", "account": "semicolon_account", "codes": "semicolon_codes"}

PACIFIC = ZoneInfo("America/Los_Angeles")
PUBLISH_TIME_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")

CONTENT_REQUIRED = ("post id", "publish time", "permalink", "post type")
FACEBOOK_COLUMNS = ("page id", "page name")
INSTAGRAM_COLUMNS = ("account id", "account username")

#: posts column → normalised raw names, first present wins. ``impressions`` falls back to ``views``;
#: ``reposts`` applies to Facebook rows only (see the module docstring).
CONTENT_METRICS: dict[str, tuple[str, ...]] = {
    "reach": ("reach",),
    "likes": ("reactions", "likes"),
    "replies": ("comments", "replies"),
    "reposts": ("shares",),
    "engagements": ("reactions, comments and shares",),
    "bookmarks": ("saves",),
    "follows": ("follows",),
    "profile_clicks": ("profile visits",),
    "url_clicks": ("link clicks",),
}

MEDIA_TYPES = {
    "photos": "photo", "photo": "photo", "ig image": "photo",
    "videos": "video", "video": "video", "ig video": "video",
    "reels": "reel", "reel": "reel", "ig reel": "reel",
    "ig carousel": "carousel", "albums": "album", "album": "album",
    "ig story": "story", "stories": "story", "story": "story",
    "links": "link_card", "link": "link_card",
    "status": "none", "text": "none",
}

VIEWS_WARNING = ("{file}: impressions are Meta's 'Views' (Meta replaced Impressions with Views in 2024-25; "
                 "Views count every time the content was shown, including repeats)")


# --------------------------------------------------------------------------- content export


def _content_platform(header: list[str]) -> str | None:
    keys = {normalize_name(h) for h in header}
    if not all(k in keys for k in CONTENT_REQUIRED):
        return None
    if any(k in keys for k in FACEBOOK_COLUMNS):
        return "facebook"
    if any(k in keys for k in INSTAGRAM_COLUMNS):
        return "instagram"
    return None


def matches_facebook(header: list[str], column_map=None) -> bool:
    """True for a Business Suite content export of Facebook Pages (``Post ID``, ``Page ID``/``Page name``, …)."""
    return _content_platform(header) == "facebook"


def matches_instagram(header: list[str], column_map=None) -> bool:
    """True for a Business Suite content export of Instagram accounts (``Account username``, …)."""
    return _content_platform(header) == "instagram"


def pacific_to_utc(local: pd.Series) -> pd.Series:
    """Naive US Pacific wall times → UTC (ambiguous: first occurrence; nonexistent: pre-change offset).

    The same instants as ``datetime(..., tzinfo=ZoneInfo("America/Los_Angeles"), fold=0).astimezone(UTC)``;
    see the module docstring. Vectorized: zoneinfo gives the offset at the start and end of each distinct
    calendar day; only rows on a day whose offset changes (two days a year) are converted one by one.
    """
    values = pd.Series(pd.to_datetime(local).to_numpy(dtype="datetime64[ns]"), index=local.index)
    out = pd.Series(pd.NaT, index=local.index, dtype="datetime64[ns, UTC]")
    ok = values.notna().to_numpy()
    if not ok.any():
        return out
    days = values[ok].dt.normalize()
    codes, uniq = pd.factorize(days)
    start = np.empty(len(uniq), dtype="timedelta64[ns]")
    change = np.zeros(len(uniq), dtype=bool)
    for k, day in enumerate(pd.DatetimeIndex(uniq).to_pydatetime()):  # one per distinct day, not per post
        first = day.replace(tzinfo=PACIFIC).utcoffset()
        last = day.replace(hour=23, minute=59, tzinfo=PACIFIC).utcoffset()
        start[k] = np.timedelta64(int(first.total_seconds()), "s")
        change[k] = first != last
    utc = values[ok].to_numpy() - start[codes]
    moved = np.flatnonzero(change[codes])
    if len(moved):  # rows on a DST-change day: zoneinfo's own rules, row by row (a handful)
        walls = pd.DatetimeIndex(values[ok].iloc[moved]).to_pydatetime()
        utc[moved] = [np.datetime64(w.replace(tzinfo=PACIFIC, fold=0).astimezone(dt.UTC).replace(tzinfo=None), "ns")
                      for w in walls]
    out[ok] = pd.Series(utc, index=values.index[ok]).dt.tz_localize("UTC")
    return out


_PUBLISH_TIME = r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}) (?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?$"


def parse_publish_times(raw: pd.Series) -> pd.Series:
    """``MM/DD/YYYY HH:MM`` (seconds optional) → naive Timestamps; NaT where the text is not such a time.

    Vectorized with Arrow (split into fields, checked, assembled); impossible dates such as 02/29/2025 are
    NaT, not rolled over into March.
    """
    arr = pc.utf8_trim_whitespace(pa.array(raw, type=pa.string()))
    found = pc.extract_regex(arr, _PUBLISH_TIME)
    fields = {}
    for i, key in enumerate("mdyHMS"):
        part = pc.struct_field(found, [i])
        part = pc.if_else(pc.equal(part, ""), pa.scalar("0"), part) if key == "S" else part
        fields[key] = pc.cast(part, pa.int64()).to_numpy(zero_copy_only=False)
    matched = ~np.isnan(fields["m"].astype(float))  # rows the pattern did not fit are null → NaN
    m, d, y, hh, mm, ss = (np.nan_to_num(fields[k].astype(float)).astype(np.int64) for k in "mdyHMS")
    ok = matched & (m >= 1) & (m <= 12) & (d >= 1) & (hh <= 23) & (mm <= 59) & (ss <= 59) & (y >= 1900)
    month = ((np.where(ok, y, 1970) - 1970) * 12 + np.where(ok, m, 1) - 1).astype("datetime64[M]")
    days_in_month = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64)
    ok &= d <= days_in_month
    out = (month.astype("datetime64[ns]") + (d - 1) * np.timedelta64(1, "D") + hh * np.timedelta64(1, "h")
           + mm * np.timedelta64(1, "m") + ss * np.timedelta64(1, "s"))
    return pd.Series(np.where(ok, out, np.datetime64("NaT", "ns")), index=raw.index, dtype="datetime64[ns]")


def _text_column(d: pd.DataFrame, cols_of: dict[str, list[str]], key: str) -> pd.Series | None:
    return d[cols_of[key][0]] if key in cols_of else None


def _coalesce_counts(d: pd.DataFrame, names: list[str], reasons: Reasons) -> pd.Series:
    """One count column from one or several same-named raw columns; rows where copies disagree are quarantined."""
    first, bad, why = parse_counts(d[names[0]], label=names[0])
    reasons.add(bad, why)
    label = names[0]
    for other in names[1:]:
        values, bad, why = parse_counts(d[other], label=label)
        reasons.add(bad, why)
        differ = (first.notna() & values.notna() & (first != values)).to_numpy(dtype=bool, na_value=False)
        reasons.add(differ, lambda a=first, b=values: (
            f"the column {label!r} appears twice and its copies disagree: "
            + a.astype("string").fillna("") + " vs " + b.astype("string").fillna("")))
        first = first.where(first.notna(), values)
    return first


def parse_content(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Business Suite content export (Facebook or Instagram) → posts rows (see the module docstring)."""
    file_platform = _content_platform(raw.header)
    fmt = FACEBOOK_FORMAT if file_platform == "facebook" else INSTAGRAM_FORMAT
    d = raw.data
    n = len(d)
    cols_of = columns_by_name(raw)
    reasons = Reasons(d.index)
    warnings: list[str] = []

    post_id = d[cols_of["post id"][0]].str.strip()
    empty_id = (post_id == "").to_numpy(dtype=bool, na_value=False)
    reasons.add(empty_id, "empty Post ID")
    looks_ok = post_id.str.fullmatch(r"[0-9]+(_[0-9]+)?").to_numpy(dtype=bool, na_value=False)
    reasons.add(~empty_id & ~looks_ok, lambda: "Post ID '" + post_id + "' is not a Meta id (digits)" + pd.Series(
        np.where(post_id.str.contains(r"^\d(?:\.\d+)?[eE]\+?\d+$", regex=True).to_numpy(dtype=bool, na_value=False),
                 " — a spreadsheet turned the id into a number and kept only 15 digits; use the CSV as downloaded",
                 ""), index=post_id.index))

    time_raw = d[cols_of["publish time"][0]].str.strip()
    local_time = parse_publish_times(time_raw)
    published = pacific_to_utc(local_time)
    time_bug = publish_time_bug(local_time)
    if time_bug:
        warnings.append(f"{ctx.source_file}: {time_bug}. The publish *times* of this file are marked unreliable "
                        "(published_time_reliable False; dates are kept): posting-time results must leave them out")
    reasons.add(published.isna(), lambda: "Publish time '" + time_raw + "' is not a time like 03/15/2025 03:06")
    now = pd.Timestamp.now(tz="UTC") if ctx.now is None else ctx.now
    reasons.add(published > now + pd.Timedelta(days=1), lambda: (
        "Publish time '" + time_raw + f"' (US Pacific) is more than 1 day in the future (now is "
        f"{now:%Y-%m-%d %H:%M} UTC)"))

    permalink = d[cols_of["permalink"][0]].str.strip()
    found = pc.extract_regex(pc.utf8_lower(pa.array(permalink, type=pa.string())),
                             r"^https?://(?:[a-z0-9-]+\.)*?(?P<host>[a-z0-9-]+\.[a-z]+)(?:[/:?#]|$)")
    host = pd.Series(pd.arrays.ArrowStringArray(pc.struct_field(found, [0])), index=d.index)
    post_type = d[cols_of["post type"][0]].str.strip()
    # a handful of distinct Post types: normalise and map those, then spread them over the rows
    type_codes, type_values = pd.factorize(post_type)
    norm_types = [" ".join(str(t).lower().split()) for t in type_values]
    has_type = type_codes >= 0
    take = np.where(has_type, type_codes, 0)
    ptype = pd.Series(np.asarray(norm_types + [""], dtype=object)[np.where(has_type, take, len(norm_types))],
                      index=d.index, dtype="string")
    media = pd.Series(np.asarray([MEDIA_TYPES.get(t) for t in norm_types] + [None], dtype=object)[
        np.where(has_type, take, len(norm_types))], index=d.index, dtype="string")
    platform = pd.Series(file_platform, index=d.index, dtype="string")
    platform = platform.mask(host.isin(["facebook.com", "fb.com", "fb.watch"]).to_numpy(dtype=bool), "facebook")
    platform = platform.mask(host.eq("instagram.com").to_numpy(dtype=bool, na_value=False), "instagram")
    platform = platform.mask(ptype.str.startswith("ig ").to_numpy(dtype=bool, na_value=False), "instagram")

    if file_platform == "facebook":
        name_keys, id_keys = ("page name", "account username"), ("page id", "account id")
    else:
        name_keys, id_keys = ("account username", "page name"), ("account id", "page id")
    account = pd.Series(pd.NA, index=d.index, dtype="string")
    for key in (*name_keys, *id_keys):
        col = _text_column(d, cols_of, key)
        if col is not None:
            v = col.str.strip()
            account = account.where(account.notna() & account.ne(""), v.where(v.ne("")))

    title, description = _text_column(d, cols_of, "title"), _text_column(d, cols_of, "description")
    if title is not None:
        text = title.where(title.str.strip().ne(""), description) if description is not None else title
    elif description is not None:
        text = description
    else:
        text = pd.Series(pd.NA, index=d.index, dtype="string")

    out: dict[str, object] = {
        "post_id": post_id,
        "platform": platform,
        "account": account,
        "published_at": published,
        "text": text,
        "permalink": permalink,
    }
    if "impressions" in cols_of:
        out["impressions"] = _coalesce_counts(d, cols_of["impressions"], reasons)
    elif "views" in cols_of:
        out["impressions"] = _coalesce_counts(d, cols_of["views"], reasons)
        warnings.append(VIEWS_WARNING.format(file=ctx.source_file))
    for col, keys in CONTENT_METRICS.items():
        key = next((k for k in keys if k in cols_of), None)
        out[col] = (_coalesce_counts(d, cols_of[key], reasons) if key is not None
                    else pd.array([pd.NA] * n, dtype="Int64"))
    out.setdefault("impressions", pd.array([pd.NA] * n, dtype="Int64"))
    if "reach from boosted posts" in cols_of:  # issue 18: the paid part of reach, where the export splits it
        boosted = _coalesce_counts(d, cols_of["reach from boosted posts"], reasons)
        out["promoted_reach"] = boosted
        out["is_promoted"] = (pd.Series(boosted, index=d.index) > 0).astype("boolean")
    shares = pd.Series(out["reposts"], index=d.index)
    out["reposts"] = shares.where(platform.eq("facebook").to_numpy(dtype=bool))
    saves = pd.Series(out["bookmarks"], index=d.index)
    out["engagements"], more = _engagements(pd.Series(out["engagements"], index=d.index),
                                            {"reactions/likes": pd.Series(out["likes"], index=d.index),
                                             "comments": pd.Series(out["replies"], index=d.index),
                                             "shares": shares, "saves": saves},
                                            platform, cols_of, ctx.source_file)
    warnings += more
    na_int = pd.array([pd.NA] * n, dtype="Int64")

    unknown = sorted({str(t) for t, nt in zip(type_values, norm_types, strict=True) if nt and nt not in MEDIA_TYPES})
    if unknown:
        warnings.append(f"{ctx.source_file}: Post type value(s) {unknown} not recognised; media_type is NA there")
    if "is share" in cols_of:
        share_raw = d[cols_of["is share"][0]].str.strip()
        is_repost = share_raw.map({"1": True, "0": False, "true": True, "false": False}).astype("boolean")
        odd = (share_raw.ne("") & is_repost.isna()).to_numpy(dtype=bool, na_value=False)
        reasons.add(odd, lambda: "Is share '" + share_raw + "' is not 0 or 1")
    else:
        is_repost = pd.array(np.zeros(n, dtype=bool), dtype="boolean")
    dates = d[cols_of["date"][0]].str.strip() if "date" in cols_of else None
    if dates is not None and n and not dates.str.lower().eq("lifetime").all():
        warnings.append(f"{ctx.source_file}: 'Date' is not 'Lifetime' in every row; metrics are taken as "
                        "lifetime totals as of the export anyway")
    label = "Impressions" if "impressions" in cols_of else ("Views" if "views" in cols_of else pd.NA)
    out.update(quotes=na_int, media_views=na_int, media_type=media, is_reply=False, is_repost=is_repost,
               source_format=fmt, source_file=ctx.source_file, source_row=raw.rows,
               is_quote=pd.array(np.zeros(n, dtype=bool), dtype="boolean"),
               impressions_label=pd.Series(label, index=d.index, dtype="string"),
               published_time_reliable=pd.array(published.notna().to_numpy() & (not time_bug), dtype="boolean"),
               text_truncated=pd.array(np.zeros(n, dtype=bool), dtype="boolean"))
    outcome = finish_posts(raw, ctx, pd.DataFrame(out, index=d.index), reasons, fmt)
    outcome.warnings.extend(warnings)
    return outcome


def publish_time_bug(local: pd.Series) -> str:
    """A description of the Business Suite publish-time bug when a file shows it, else ``""``.

    The bug (seen in 2023-24 content exports): the minute of every ``Publish time`` equals the month and no
    hour is above 10. Detected when at least 3 rows have a time, the minute equals the month in 90% of them or
    more (by chance: about 1 in 60 per row), and either the rows span several months (so a page that schedules
    every post at the same minute within one month is not taken for it) or no hour is above 10.
    """
    ok = local.notna().to_numpy()
    if ok.sum() < 3:
        return ""
    t = local[ok]
    same = (t.dt.minute == t.dt.month).to_numpy()
    if same.mean() < 0.9 or (t.dt.month.nunique() < 2 and t.dt.hour.max() > 10):
        return ""
    return (f"the minute equals the month in {int(same.sum())} of {int(ok.sum())} publish times and the latest "
            f"hour is {int(t.dt.hour.max()):02d} (a known Business Suite export bug of 2023-24)")


#: Engagements per platform, from the parts when the export has them (Meta's own total for Facebook when
#: the export has it): Facebook = reactions + comments + shares; Instagram = likes + comments + shares + saves.
ENGAGEMENT_PARTS = {"facebook": ("reactions/likes", "comments", "shares"),
                    "instagram": ("reactions/likes", "comments", "shares", "saves")}


def _engagements(total: pd.Series, parts: dict[str, pd.Series], platform: pd.Series, cols_of, source_file: str):
    """Meta's own total where the export has it, else the sum of the platform's parts the export has (NA where
    every part is empty). Returns ``(engagements, warnings)``."""
    warnings = []
    out = total.astype("Int64").copy()
    for plat, names in ENGAGEMENT_PARTS.items():
        rows = platform.eq(plat).to_numpy(dtype=bool, na_value=False)
        if not rows.any():
            continue
        frame = pd.DataFrame({k: parts[k].astype("Int64") for k in names})
        have = [k for k in names if frame[k].notna().any()]
        if not have:
            continue
        summed = frame[have].sum(axis=1, min_count=1).astype("Int64")
        own = out.notna().to_numpy() & rows
        if own.any() and len(have) == len(names):
            differ = own & (summed != out).to_numpy(dtype=bool, na_value=False)
            if differ.any():
                warnings.append(f"{source_file}: Meta's 'Reactions, comments and shares' differs from reactions + "
                                f"comments + shares in {int(differ.sum())} {plat} row(s); Meta's total is kept")
        fill = rows & ~own
        if fill.any():
            out[fill] = summed[fill]
            missing = [k for k in names if k not in have]
            warnings.append(f"{source_file}: {plat} engagements computed as {' + '.join(have)} "
                            f"({int(summed[fill].notna().sum())} row(s))"
                            + (f"; not in the export: {', '.join(missing)}" if missing else ""))
    return out, warnings


# --------------------------------------------------------------------------- page-level daily series

#: phrases in a series title → account column (first match wins, on whole words); None = no account column.
#: Daily "Follows"/"followers" are gross new follows, never a follower level.
SERIES_METRICS = (("unfollows", "unfollows"), ("link clicks", "link_clicks"), ("follows", "new_follows"),
                  ("followers", "new_follows"), ("views", "impressions"), ("impressions", "impressions"),
                  ("interactions", "engagements"), ("visits", "visits"), ("reach", "reach"))
#: a follower *total* in Audience.csv: a block titled "<Platform> followers" whose value is one number.
_TOTAL_TITLE = r"^(?:(facebook|instagram) )?(?:followers|total followers|follower count)$"
SERIES_PLATFORMS = ("facebook", "instagram")
#: source_format suffix of follower totals (anchors) read from Audience.csv.
TOTAL_SUFFIX = "followers_total"
_DELIMITERS = (",", ";", "\t")


def matches_page_series(header: list[str], column_map=None) -> bool:
    """True for a Business Suite page-level series file.

    Either the first line is Excel's ``sep=`` hint (``sep=,``, or ``sep=;`` after a re-save), or — a re-save
    that dropped it — the first line is a single cell naming a daily metric (``"Facebook follows"``).
    """
    if not header:
        return False
    first = normalize_name(header[0])
    rest_empty = all(h == "" for h in header[1:])
    if re.fullmatch(r"sep=.?", first) and rest_empty:
        return True
    # split the cell as written: normalize_name turns a tab into a space, which made a tab-separated header with
    # a "Reach" column look like a one-cell metric title
    cells = [c for c in re.split(r"[;\t]", header[0]) if c.strip()]
    return rest_empty and len(cells) == 1 and _series_metric(first)[1] is not None


def _series_metric(title: str) -> tuple[str, str | None]:
    norm = " " + " ".join(re.findall(r"[a-z]+", normalize_name(title))) + " "
    for phrase, column in SERIES_METRICS:
        if f" {phrase} " in norm:
            return phrase.replace(" ", "_"), column
    words = norm.split()
    return (words[-1] if words else ""), None


def series_platform(title: str) -> str | None:
    """The platform a series title names (its first word: ``Facebook follows``), else None."""
    words = normalize_name(title).split()
    return words[0] if words and words[0] in SERIES_PLATFORMS else None


def _series_records(text: str, *, file: str) -> tuple[list[tuple[int, list[str]]], str, bool]:
    """Records of a series file, with the delimiter: the ``sep=`` line's, else the one most lines use.

    Returns ``(records after the sep= line, delimiter, whether a sep= line was there)``.
    """
    lines = text.splitlines()
    first = lines[0].strip().strip('"') if lines else ""
    has_sep = bool(re.fullmatch(r"sep=.?", first.lower().strip()))
    body = lines[1:] if has_sep else lines
    counts = {d: sum(d in ln for ln in body[:200]) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    start = 1 if has_sep else 0
    reader = csv.reader(io.StringIO("\n".join(body)), delimiter=delimiter)
    records = []
    try:
        for rec in reader:
            records.append((reader.line_num + start, rec))
    except csv.Error as exc:
        raise InputError(f"cannot read the Business Suite series ({exc})", file=file) from None
    return records, delimiter, has_sep


def parse_page_series(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Business Suite page-level daily series → account rows (see the module docstring)."""
    utf8, encoding = read_text_file(raw.path, label=ctx.source_file)
    records, delimiter, has_sep = _series_records(utf8.decode("utf-8"), file=ctx.source_file)
    rows: list[dict] = []  # one per daily data row (a daily series has a few thousand rows at most)
    totals: list[dict] = []  # follower totals (Audience.csv): one per block
    skipped: dict[str, int] = {}  # non-daily blocks: label → rows
    title = ""
    header: list[str] | None = None
    for number, rec in records:
        cells = [c.strip() for c in rec]
        while cells and cells[-1] == "" and len(cells) > 1:
            cells.pop()
        if not any(cells):
            header = None
            continue
        is_total_title = bool(re.fullmatch(_TOTAL_TITLE, normalize_name(title)))
        if header is None and len(cells) == 1 and is_total_title and re.fullmatch(r"[\d,. ]+", cells[0]):
            totals.append({"source_row": number, "title": title, "Date": "", "Primary": cells[0], "n_fields": 1})
            continue
        if (header is None and len(cells) == 2 and re.fullmatch(_TOTAL_TITLE, normalize_name(cells[0]))
                and re.fullmatch(r"[\d,. ]+", cells[1])):
            totals.append({"source_row": number, "title": cells[0], "Date": "", "Primary": cells[1], "n_fields": 2})
            continue
        if len(cells) == 1:
            title, header = cells[0], None
            continue
        if header is None:
            header = cells
            if normalize_name(header[0]) != "date":
                skipped[f"'{title}' ({', '.join(header[:3])}, …)"] = 0
            continue
        if normalize_name(header[0]) != "date":
            skipped[next(reversed(skipped))] += 1
            continue
        rows.append({"source_row": number, "title": title, "Date": cells[0],
                     "Primary": cells[1], "n_fields": len(cells)})
    if not rows and not skipped and not totals:
        raise InputError(
            ("starts with 'sep=,' but" if has_sep else "looks like a Business Suite series but")
            + " holds no Business Suite daily series: expected a metric-title line (e.g. \"Facebook follows\"), "
            "then a \"Date\",\"Primary\" header and dated rows", file=ctx.source_file)
    table = pd.DataFrame(rows + totals, columns=["source_row", "title", "Date", "Primary", "n_fields"])
    is_total = np.zeros(len(table), dtype=bool)
    is_total[len(rows):] = True
    d = table[["title", "Date", "Primary"]].astype("string")
    reasons = Reasons(d.index)
    dates = pd.to_datetime(d["Date"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    reasons.add(dates.isna() & ~is_total, lambda: "Date '" + d["Date"] + "' is not a date like 2025-08-01T00:00:00")
    reasons.add(table["n_fields"].to_numpy() > 2,
                lambda: "more fields than the \"Date\",\"Primary\" header (" + table["n_fields"].astype(str) + ")")
    values, bad, why = parse_counts(d["Primary"], label="Primary")
    reasons.add(bad, why)
    titles = d["title"].fillna("")
    per_title = {t: _series_metric(t) for t in titles.unique()}  # one entry per block title
    metric = titles.map({t: m for t, (m, _) in per_title.items()}).astype("string")
    column = titles.map({t: c for t, (_, c) in per_title.items()}).astype(object)
    metric = metric.mask(is_total, TOTAL_SUFFIX)
    column = column.mask(is_total, "followers")
    reasons.add(column.isna(), lambda: "daily '" + titles + "' has no column in the account table "
                "(" + ", ".join(ACCOUNT_METRICS) + ")")
    title_platform = titles.map({t: series_platform(t) for t in titles.unique()}).astype("string")
    platform, platform_warnings = _resolve_platform(title_platform, titles, ctx)
    # Audience.csv's totals are as of the export: dated at the last day of the daily series in the file
    # (else resolved from the export's other series in _assemble, see resolve_series_neighbours)
    if is_total.any():
        last_day = dates[~is_total & ~reasons.bad].max()
        dates = dates.mask(is_total, last_day)
    out = pd.DataFrame({"date": dates, "platform": platform,
                        "account": pd.array([pd.NA] * len(d), dtype="string")})
    for m in ACCOUNT_METRICS:
        out[m] = values.where(column.eq(m).to_numpy(dtype=bool, na_value=False))
    out["source_format"] = (PAGE_SERIES_FORMAT + ":" + metric).astype("string")
    out["source_file"] = ctx.source_file
    out["source_row"] = table["source_row"].astype("Int64")
    out["series_title"] = titles.astype("string")  # for _assemble's messages; dropped there
    warnings: list[str] = list(platform_warnings)
    if delimiter != "," or encoding not in ("utf-16", "utf-8", "utf-8-sig") or not has_sep:
        how = {",": "commas", ";": "';'", "\t": "tabs"}[delimiter]
        warnings.append(f"{ctx.source_file}: a re-saved Business Suite series (separated by {how}, "
                        f"{encoding}{', no sep= line' if not has_sep else ''}); read as the export")
    valid = ~reasons.bad
    found = set(column[valid].dropna())
    if "new_follows" in found:
        warnings.append(f"{ctx.source_file}: Business Suite 'Follows' are gross new follows; unfollows are not "
                        "in the export, so net growth cannot be computed from it alone, and they are never "
                        "summed into a follower count")
    if "impressions" in found and any(m == "views" for m in metric[valid]):
        warnings.append(VIEWS_WARNING.format(file=ctx.source_file))
    if (is_total & valid).any():
        shown = ", ".join(f"{t} {v}" for t, v in zip(titles[is_total & valid], values[is_total & valid], strict=True))
        when = (f"dated {dates[is_total].iloc[0]:%Y-%m-%d}, the last day of the daily series in the same file"
                if pd.notna(dates[is_total].iloc[0]) else "dated from the export's other series files")
        warnings.append(f"{ctx.source_file}: follower totals read as anchors of the follower level ({shown}), "
                        f"{when} (Business Suite gives totals as of the export; if the export was made later "
                        "than the last day of its range, the anchor is early by that gap)")
    if skipped:
        warnings.append(f"{ctx.source_file}: blocks that are not daily series skipped (not account rows): "
                        + ", ".join(f"{label}: {k} row(s)" for label, k in skipped.items()))
    # the same metric twice for one day: the later row wins
    keys = out.loc[valid, ["source_format", "platform", "date"]].astype("string").fillna("\x00NA")
    dup = np.zeros(len(out), dtype=bool)
    dup[np.flatnonzero(valid)] = keys.duplicated(keep="last").to_numpy()
    keep = valid & ~dup
    series_raw = RawTable(path=raw.path, header=["title", "Date", "Primary"], data=d,
                          rows=table["source_row"].to_numpy(), bad=pd.DataFrame(), encoding=raw.encoding)
    return FileOutcome(file=ctx.source_file, format=PAGE_SERIES_FORMAT, table="account",
                       frame=out.loc[keep].reset_index(drop=True),
                       quarantine=file_quarantine(series_raw, reasons, source_file=ctx.source_file),
                       rows_read=len(out), rows_superseded=int(dup.sum()), warnings=warnings)


def _resolve_platform(title_platform: pd.Series, titles: pd.Series, ctx: ParseContext) -> tuple[pd.Series, list[str]]:
    """Platform per row: the title's word, else the other series of the same file (when they name one
    platform), else the card's ``platform:`` for this account source; NA otherwise (resolved from the
    export's other files in _assemble, or quarantined there)."""
    warnings: list[str] = []
    platform = title_platform.copy()
    named = set(title_platform.dropna())
    missing = platform.isna().to_numpy()
    if missing.any() and len(named) == 1:
        (only,) = named
        platform = platform.fillna(only)
        warnings.append(f"{ctx.source_file}: series {sorted(set(titles[missing]))} name no platform; taken as "
                        f"{only}, the platform of the other series in the same file")
    card = getattr(ctx, "platform", None)
    if card:
        clash = sorted(set(title_platform.dropna()) - {card})
        if clash:
            warnings.append(f"{ctx.source_file}: dataset.yml says platform {card!r} but series titles say "
                            f"{clash}; the titles are followed")
        platform = platform.fillna(card)
    return platform.astype("string"), warnings


# --------------------------------------------------------------------------- ';'-separated re-saves


def _resave_separator(header: list[str]) -> str | None:
    """The separator of a re-saved file's header line: ``;`` or a tab (None when it has neither)."""
    joined = ",".join(header)
    return next((sep for sep in ("\t", ";") if sep in joined), None)


def _semicolon_cells(header: list[str]) -> list[str] | None:
    sep = _resave_separator(header)
    if sep is None:
        return None
    return [c.strip().strip('"').strip() for c in ",".join(header).split(sep)]


#: the format registry, handed over by ``detect`` (:func:`use_registry`) so this module never imports it back.
_REGISTRY: list = []


def use_registry(readers: list) -> None:
    """Let the ``;`` check consult ``detect.FORMAT_READERS`` (called once by ``detect``; breaks the import loop)."""
    global _REGISTRY
    _REGISTRY = readers  # the same list object: readers registered later are seen too


def _resaved_reader(header: list[str], column_map, *, table: str | None = None):
    """The reader whose signature the header matches once split on ``;`` (None when there is none)."""
    cells = _semicolon_cells(header)
    if cells is None or len(cells) < 2:
        return None
    return next((r for r in _REGISTRY if r.name not in SEMICOLON_FORMATS.values()
                 and (table is None or r.table == table) and r.matches(cells, column_map)), None)


def semicolon_matcher(table: str):
    """A header check for ``;``-separated re-saves of the formats feeding ``table``.

    One reader per table, so that the dataset card's list check (posts/account/codes) still applies before
    the file is rejected.
    """
    def matches(header: list[str], column_map=None) -> bool:
        return _resaved_reader(header, column_map, table=table) is not None

    matches.__doc__ = f"True when the header, split on ';', is that of a format feeding the {table} table."
    return matches


def parse_semicolon(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Reject a ``;``-separated re-save with a message saying what it is and how to fix it."""
    what = _resaved_reader(raw.header, ctx.column_map)
    sep = _resave_separator(raw.header)
    name = "tabs" if sep == "\t" else "';'"
    found = f" (split on {name}, the header is that of {what.name}: {what.description})" if what else ""
    how = ("saved as tab-separated text (Excel's 'Unicode Text', "
           f"{'UTF-16' if raw.encoding.startswith('utf-16') else raw.encoding})" if sep == "\t" else
           "re-saved by a spreadsheet program whose list separator is ';'")
    raise InputError(
        f"the columns are separated by {name}, not ','{found}. The file was probably {how}. Use the file exactly "
        "as downloaded, or save it again as 'CSV (comma delimited)' / 'CSV UTF-8'.",
        file=ctx.source_file,
    )
