"""LinkedIn Page exports (FORMATS.md §5): Excel 97–2003 ``.xls`` workbooks read by :mod:`.workbook`.

* **Content export** ``<page>_content_<epoch ms>.xls`` (sheets ``All posts`` and ``Metrics``) gives two
  tables: posts (format ``linkedin_posts``) from ``All posts`` and account rows (format
  ``linkedin_metrics``) from the daily ``Metrics`` sheet.
* **Followers export** ``<page>_followers_<epoch ms>.xls`` (sheet ``New followers``; format
  ``linkedin_followers``) → account rows with ``new_follows`` = ``Total followers`` (daily *new* followers;
  LinkedIn gives no absolute count and no unfollows, so followers and unfollows stay NA).

A one-line description may sit above the header (genuine downloads) or not (files re-saved in Excel): the
header row is found by its content. Dates are ``MM/DD/YYYY`` text (ISO text or real date cells are accepted
too); rates are fractions.

Posts: post_id is the URN in ``Post link`` (``urn:li:activity:7306192134921981953``). The export prints only
the day, but LinkedIn ids carry their creation time like X's snowflakes (the first 41 of 64 bits are Unix
milliseconds; checked on a real export: every decoded date is the printed ``Created date``), so published_at
is the exact instant decoded from the id. When the decoded day is more than one day from ``Created date``,
the printed date at 00:00 UTC is used and a warning says how many posts lack a time of day; a link without
an id is quarantined (the id is the post_id). likes = ``Likes`` (all reactions), replies = ``Comments``,
reposts = ``Reposts``, follows = ``Follows``, media_views = ``Views`` (video views), url_clicks = ``Clicks`` (LinkedIn counts every click on
the post, its link, the page name or logo), impressions = ``Impressions``; engagements = clicks + likes +
comments + reposts + follows, LinkedIn's own definition (its ``Engagement rate`` × impressions; rows where
the two disagree by more than 1 are listed in a warning). Empty cells are NA (not applicable). reach, quotes,
bookmarks and profile_clicks are not reported (NA). media_type comes from ``Content Type`` when filled.

Account (Metrics): impressions = ``Impressions (total)``, engagements = clicks + reactions + comments +
reposts (total), checked the same way against ``Engagement rate (total)``. The page name is taken from the
file name when it has the export's form (a label only, never used for detection).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .account_csv import finish_account, parse_dates
from .common import FileOutcome, ParseContext, Reasons, normalize_name, parse_counts
from .workbook import Workbook, find_header, sheet_table
from .x_legacy import finish_posts

POSTS_FORMAT = "linkedin_posts"
METRICS_FORMAT = "linkedin_metrics"
FOLLOWERS_FORMAT = "linkedin_followers"

POSTS_KEYS = ("post title", "post link", "created date", "impressions")
METRICS_KEYS = ("date", "impressions (total)")
FOLLOWERS_KEYS = ("date", "total followers")
_FILE_NAME = re.compile(r"^(?P<page>.+?)_(?:content|followers|visitors)_\d{10,}")
_URN = r"(?P<urn>urn:li:(?:activity|share|ugcPost):(?P<id>\d+))"
#: LinkedIn's id epoch: ids carry Unix milliseconds in their top 41 bits (no offset).
_EPOCH_MS = 0
MEDIA_TYPES = {"image": "photo", "photo": "photo", "images": "photo", "video": "video", "article": "link_card",
               "link": "link_card", "poll": "poll", "document": "document", "carousel": "carousel", "text": "none"}


def page_name_from_file(name: str) -> str:
    """Page in ``<page>_content_<epoch ms>.xls`` (or ``_followers_``), else ``""``."""
    m = _FILE_NAME.match(name)
    return m.group("page") if m else ""


def _sheet_with(book: Workbook, name: str, keys: tuple[str, ...]):
    sheet = book.sheet(name)
    if sheet is None:
        return None, None
    return sheet, find_header(sheet, keys, scan=5)


def matches_content(book: Workbook) -> bool:
    """True for a content export: an ``All posts`` sheet with Post title, Post link, Created date, Impressions."""
    return _sheet_with(book, "All posts", POSTS_KEYS)[1] is not None


#: the parts of a day's new followers (newer exports add "Auto-invited followers": people who accepted a page
#: invitation); ``Total followers`` is their sum, computed from them when an export lacks it.
FOLLOWER_PARTS = ("sponsored followers", "organic followers", "auto-invited followers")


def _followers_sheet(book: Workbook):
    sheet, at = _sheet_with(book, "New followers", FOLLOWERS_KEYS)
    if at is None:
        sheet, at = _sheet_with(book, "New followers", ("date", "organic followers"))
    return sheet, at


def matches_followers(book: Workbook) -> bool:
    """True for a followers export: a ``New followers`` sheet with Date and Total (or Organic) followers."""
    return _followers_sheet(book)[1] is not None


def _cols(raw) -> dict[str, str]:
    return {normalize_name(h): c for h, c in zip(raw.header, raw.data.columns, strict=True)}


def _first(cols: dict[str, str], *names: str) -> str | None:
    return next((cols[n] for n in names if n in cols), None)


def _rates(raw: pd.Series) -> pd.Series:
    """Rates as fractions (``0.0769``); ``7.69%`` text is read as 0.0769; empty → NaN."""
    s = raw.str.strip()
    pct = s.str.endswith("%").to_numpy(dtype=bool, na_value=False)
    num = pd.to_numeric(s.str.rstrip("%").str.replace(",", ".", regex=False), errors="coerce").astype(float)
    return num.where(~pct, num / 100)


def _check_rate(engagements: pd.Series, impressions: pd.Series, rate: pd.Series, dates: pd.Series, *,
                what: str, formula: str, source_file: str) -> list[str]:
    expected = (rate * impressions.astype(float)).round()
    diff = (engagements.astype(float) - expected).abs()
    off = (diff > 1).to_numpy(dtype=bool, na_value=False)
    if not off.any():
        return []
    shown = ", ".join(dates[off].astype(str).head(5))
    return [f"{source_file}: {int(off.sum())} {what} row(s) where engagements ({formula}) differ from the "
            f"export's engagement rate × impressions by more than 1 (e.g. {shown})"]


def _sum(parts: list[pd.Series]) -> pd.Series:
    """Sum of counts where at least the first part is known; NA parts after the first count as 0."""
    total = parts[0].copy()
    for p in parts[1:]:
        total = total + p.fillna(0)
    return total


def parse_content(book: Workbook, ctx: ParseContext) -> list[FileOutcome]:
    """Content export → ``[posts outcome, account outcome]`` (the account one only with a Metrics sheet)."""
    outcomes = [_parse_posts(book, ctx)]
    sheet, at = _sheet_with(book, "Metrics", METRICS_KEYS)
    if sheet is not None and at is not None:
        outcomes.append(_parse_metrics(book, ctx, sheet, at))
    else:
        outcomes[0].warnings.append(f"{ctx.source_file}: no 'Metrics' sheet with Date and Impressions (total); "
                                    "no daily account rows from this file")
    return outcomes


def _parse_posts(book: Workbook, ctx: ParseContext) -> FileOutcome:
    sheet, at = _sheet_with(book, "All posts", POSTS_KEYS)
    raw = sheet_table(sheet, at, path=book.path, warnings=book.warnings)
    d = raw.data
    c = _cols(raw)
    reasons = Reasons(d.index)
    link = d[c["post link"]].str.strip()
    found = link.str.extract(_URN)
    post_id = found["urn"].astype("string")
    reasons.add(post_id.isna(), lambda: "Post link '" + link + "' holds no urn:li:activity/share/ugcPost id")
    created_raw = d[c["created date"]].str.strip()
    created = parse_dates(created_raw)
    reasons.add(created.isna(), lambda: "Created date '" + created_raw + "' is not a date like 03/14/2025")
    ids = pd.to_numeric(found["id"], errors="coerce")
    ms = np.floor(ids.to_numpy(dtype=float, na_value=np.nan) / 2.0**22) + _EPOCH_MS
    decoded = pd.Series(pd.to_datetime(ms, unit="ms", utc=True, errors="coerce"), index=d.index)
    day_gap = (decoded.dt.tz_localize(None).dt.normalize() - created).abs()
    use_id = decoded.notna() & (day_gap <= pd.Timedelta(days=1))
    published = decoded.where(use_id, created.dt.tz_localize("UTC"))
    warnings = []
    no_time = (~use_id & created.notna()).to_numpy(dtype=bool, na_value=False) & post_id.notna().to_numpy()
    if no_time.any():
        warnings.append(f"{ctx.source_file}: {int(no_time.sum())} post(s) without a time of day (the id in Post "
                        "link disagrees with Created date by more than a day): published_at is the date at "
                        "00:00 UTC")
    now = pd.Timestamp.now(tz="UTC") if ctx.now is None else ctx.now
    reasons.add(published > now + pd.Timedelta(days=1),
                lambda: "Created date '" + created_raw + f"' is more than 1 day in the future (now is {now:%Y-%m-%d})")
    counts = {}
    for target, names in {"impressions": ("impressions",), "url_clicks": ("clicks",), "likes": ("likes", "reactions"),
                          "replies": ("comments",), "reposts": ("reposts", "shares"), "follows": ("follows",),
                          "media_views": ("views",)}.items():
        name = _first(c, *names)
        if name is None:
            counts[target] = pd.Series(pd.array([pd.NA] * len(d), dtype="Int64"), index=d.index)
            continue
        values, bad, why = parse_counts(d[name], label=name)
        reasons.add(bad, why)
        counts[target] = values
    engagements = _sum([counts["url_clicks"], counts["likes"], counts["replies"], counts["reposts"],
                        counts["follows"]])
    rate_col = _first(c, "engagement rate")
    if rate_col is not None:
        warnings += _check_rate(engagements, counts["impressions"], _rates(d[rate_col]), created_raw,
                                what="post", formula="clicks + likes + comments + reposts + follows",
                                source_file=ctx.source_file)
    ctype = d[c["content type"]].str.strip().str.lower() if "content type" in c else pd.Series(
        "", index=d.index, dtype="string")
    media = ctype.map(MEDIA_TYPES).astype("string").fillna(ctype.str.replace(" ", "_", regex=False))
    media = media.mask(ctype == "", pd.NA)
    na_int = pd.array([pd.NA] * len(d), dtype="Int64")
    out = pd.DataFrame({
        "post_id": post_id, "platform": "linkedin",
        "account": page_name_from_file(book.path.name) or pd.NA,
        "published_at": published, "text": d[c["post title"]], "permalink": link,
        **counts, "engagements": engagements, "quotes": na_int, "bookmarks": na_int, "reach": na_int,
        "profile_clicks": na_int, "media_type": media, "is_reply": pd.array([False] * len(d), dtype="boolean"),
        "is_repost": pd.array([pd.NA] * len(d), dtype="boolean"),
        "source_format": POSTS_FORMAT, "source_file": ctx.source_file, "source_row": raw.rows,
    }, index=d.index)
    out["account"] = out["account"].astype("string")
    outcome = finish_posts(raw, ctx, out, reasons, POSTS_FORMAT)
    outcome.warnings.extend(warnings)
    return outcome


def _parse_metrics(book: Workbook, ctx: ParseContext, sheet, at: int) -> FileOutcome:
    raw = sheet_table(sheet, at, path=book.path)
    d = raw.data
    c = _cols(raw)
    reasons = Reasons(d.index)
    date_raw = d[c["date"]].str.strip()
    dates = parse_dates(date_raw)
    reasons.add(dates.isna(), lambda: "Date '" + date_raw + "' is not a date like 03/14/2025")
    parts = {}
    for target, names in {"impressions": ("impressions (total)",), "clicks": ("clicks (total)",),
                          "reactions": ("reactions (total)",), "comments": ("comments (total)",),
                          "reposts": ("reposts (total)", "shares (total)")}.items():
        name = _first(c, *names)
        if name is None:
            parts[target] = pd.Series(pd.array([pd.NA] * len(d), dtype="Int64"), index=d.index)
            continue
        values, bad, why = parse_counts(d[name], label=name)
        reasons.add(bad, why)
        parts[target] = values
    engagements = _sum([parts["clicks"], parts["reactions"], parts["comments"], parts["reposts"]])
    warnings = []
    rate_col = _first(c, "engagement rate (total)")
    if rate_col is not None:
        warnings += _check_rate(engagements, parts["impressions"], _rates(d[rate_col]), date_raw,
                                what="Metrics", formula="clicks + reactions + comments + reposts",
                                source_file=ctx.source_file)
    na_int = pd.array([pd.NA] * len(d), dtype="Int64")
    out = pd.DataFrame({
        "date": dates, "platform": "linkedin", "account": page_name_from_file(book.path.name) or pd.NA,
        "followers": na_int, "new_follows": na_int, "unfollows": na_int, "impressions": parts["impressions"],
        "engagements": engagements, "posts": na_int, "source_format": METRICS_FORMAT,
        "source_file": ctx.source_file, "source_row": raw.rows,
    }, index=d.index)
    out["account"] = out["account"].astype("string")
    return finish_account(raw, ctx, out, reasons, METRICS_FORMAT, check_order=True, warn_na=False,
                          extra_warnings=warnings)


def parse_followers(book: Workbook, ctx: ParseContext) -> list[FileOutcome]:
    """Followers export → account rows with daily new followers (``Total followers`` = organic + sponsored)."""
    sheet, at = _followers_sheet(book)
    raw = sheet_table(sheet, at, path=book.path, warnings=book.warnings)
    d = raw.data
    c = _cols(raw)
    reasons = Reasons(d.index)
    date_raw = d[c["date"]].str.strip()
    dates = parse_dates(date_raw)
    reasons.add(dates.isna(), lambda: "Date '" + date_raw + "' is not a date like 03/14/2025")
    parts = {}
    for key in FOLLOWER_PARTS:
        if key in c:
            parts[key], bad, why = parse_counts(d[c[key]], label=c[key])
            reasons.add(bad, why)
    warnings = []
    if "total followers" in c:
        new, bad, why = parse_counts(d[c["total followers"]], label=c["total followers"])
        reasons.add(bad, why)
        if len(parts) > 1:
            summed = pd.DataFrame(parts).sum(axis=1, min_count=1).astype("Int64")
            differ = (summed != new).to_numpy(dtype=bool, na_value=False) & ~reasons.bad
            if differ.any():
                warnings.append(f"{ctx.source_file}: 'Total followers' differs from the sum of "
                                f"{', '.join(sorted(parts))} in {int(differ.sum())} row(s); the total is kept")
    else:
        new = pd.DataFrame(parts).sum(axis=1, min_count=1).astype("Int64")
        warnings.append(f"{ctx.source_file}: no 'Total followers' column; new follows = "
                        f"{' + '.join(k for k in FOLLOWER_PARTS if k in parts)}")
    if "auto-invited followers" in parts:
        warnings.append(f"{ctx.source_file}: new follows include 'Auto-invited followers' (people who accepted an "
                        "invitation to follow the page); they are gross daily follows, not a follower total")
    na_int = pd.array([pd.NA] * len(d), dtype="Int64")
    out = pd.DataFrame({
        "date": dates, "platform": "linkedin", "account": page_name_from_file(book.path.name) or pd.NA,
        "followers": na_int, "new_follows": new, "unfollows": na_int, "impressions": na_int,
        "engagements": na_int, "posts": na_int, "source_format": FOLLOWERS_FORMAT,
        "source_file": ctx.source_file, "source_row": raw.rows,
    }, index=d.index)
    out["account"] = out["account"].astype("string")
    return [finish_account(raw, ctx, out, reasons, FOLLOWERS_FORMAT, check_order=True, warn_na=False,
                           extra_warnings=warnings)]
