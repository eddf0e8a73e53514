"""Facebook legacy Insights exports ("Export Data", up to about 2020; FORMATS.md §3a).

The ``.xls`` files are XML Spreadsheet 2003 text, read by :mod:`workbench.ingest.workbook`. Two kinds:

* **Post level** (format ``facebook_legacy_posts`` → posts). Sheet ``Key Metrics``: header row 1 in readable
  names (``Lifetime Post Total Reach``) or API names (``post_impressions_unique:lifetime``) — both are
  recognised; row 2 holds descriptions, the only thing telling duplicated readable names apart ("(Unique
  Users)" vs "(Total Count)"), so duplicated names get that qualifier appended. Mapped columns:
  impressions = ``post_impressions:lifetime`` (Lifetime Post Total Impressions), reach =
  ``post_impressions_unique:lifetime`` (Lifetime Post Total Reach), engagements = ``post_engaged_users``
  (Lifetime Engaged Users: people who clicked anywhere, Facebook's own engagement figure). Likes, comments and
  shares exist only in the breakdown sheet ``Lifetime Post Stories by act…`` (keys ``like``, ``comment``,
  ``share`` → likes, replies, reposts) and link clicks in ``Lifetime Post Consumptions b…`` (``link clicks``
  → url_clicks). A breakdown lists only the keys that occurred, so an empty cell (or a key absent from the
  whole sheet) of a post that the sheet lists is 0; a post the sheet does not list, or a missing sheet, is NA.
  ``Type`` → media_type (Photo → photo, Video → video, Link → link_card, Status → none). ``Posted`` has no
  zone: it is US Pacific time (the page's "Hello October" post is stamped 2017-09-30 10:00, midnight in
  Vietnam only if that is Pacific time; FORMATS.md §3b saw the same convention in Meta exports), converted
  to UTC. quotes, bookmarks, profile_clicks, media_views and follows are not reported (NA).
* **Page level** (format ``facebook_legacy_page`` → account). ``Key Metrics`` with ``Date`` and the
  absolute daily fan count ``page_fans:lifetime`` / ``Lifetime Total Likes`` → followers; new likes and
  unlikes → new_follows / unfollows; daily impressions and engaged users.

The page name (account) is taken from the file name ``Facebook Insights Data Export [(Post Level)] -
<Page> - YYYY-MM-DD.xls`` when it has that form (a label only, never used for detection); otherwise posts use
the page handle in the permalink, and page-level rows are left for the ingest to assign to the only account.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .account_csv import finish_account, parse_dates
from .common import FileOutcome, ParseContext, Reasons, normalize_name, parse_counts
from .workbook import Sheet, Workbook, find_header, sheet_table
from .x_legacy import finish_posts

POSTS_FORMAT = "facebook_legacy_posts"
PAGE_FORMAT = "facebook_legacy_page"
#: Facebook's export clock (see the module docstring).
EXPORT_TIMEZONE = "America/Los_Angeles"

_FILE_NAME = re.compile(r"^Facebook Insights Data Export(?: \(Post Level\))? - (?P<page>.+?) - \d{4}-\d{2}-\d{2}")
_DESCRIPTION = re.compile(r"^\s*(?:Lifetime|Daily|Weekly|28 Days):|\((?:Unique Users|Total Count)\)\s*$")
_QUALIFIER = re.compile(r"\(([^()]*)\)\s*$")
_PERMALINK = r"^https?://(?:www\.|m\.)?facebook\.com/(?P<handle>[^/?#]+)/(?:posts|videos|photos)/"

POST_KEYS = ("post id", "permalink", "type", "posted")
PAGE_KEYS = ("date",)
#: posts column → (API name, readable name, qualifier expected in row 2)
POST_METRICS = {
    "impressions": ("post_impressions:lifetime", "Lifetime Post Total Impressions", "Total Count"),
    "reach": ("post_impressions_unique:lifetime", "Lifetime Post Total Reach", "Unique Users"),
    "engagements": ("post_engaged_users:lifetime", "Lifetime Engaged Users", "Unique Users"),
}
#: promoted (paid) figures, read when the export has them (issue 18); NA otherwise, without a warning.
#: Facebook defines paid impressions as a part of total impressions; paid reach overlaps organic reach.
PROMOTED_METRICS = {
    "promoted_impressions": ("post_impressions_paid:lifetime", "Lifetime Post Paid Impressions", "Total Count"),
    "promoted_reach": ("post_impressions_paid_unique:lifetime", "Lifetime Post Paid Reach", "Unique Users"),
}
#: account column → [(API name, readable name, qualifier)], first found wins
PAGE_METRICS = {
    "followers": [("page_fans:lifetime", "Lifetime Total Likes", "Unique Users")],
    "new_follows": [("page_fan_adds_unique:day", "Daily New Likes", "Unique Users"),
                    ("page_fan_adds:day", "Daily New Likes", "Total Count")],
    "unfollows": [("page_fan_removes_unique:day", "Daily Unlikes", "Unique Users"),
                  ("page_fan_removes:day", "Daily Unlikes", "Total Count")],
    "impressions": [("page_impressions:day", "Daily Total Impressions", "Total Count")],
    "engagements": [("page_engaged_users:day", "Daily Page Engaged Users", "Unique Users")],
}
#: breakdown sheet (name prefix) → {key: posts column}
BREAKDOWNS = {
    "Lifetime Post Stories by act": {"like": "likes", "comment": "replies", "share": "reposts"},
    "Lifetime Post Consumptions b": {"link clicks": "url_clicks"},
}
INVALID_ID = "\x00invalid"  # stands for a quarantined row's id when looking posts up in the breakdown sheets
MEDIA_TYPES = {"photo": "photo", "video": "video", "shared video": "video", "link": "link_card", "status": "none"}


def _key_metrics(book: Workbook) -> Sheet | None:
    return book.sheet("Key Metrics")


def matches_posts(book: Workbook) -> bool:
    """True for a post-level legacy Insights workbook (``Key Metrics`` with Post ID, Permalink, Type, Posted)."""
    sheet = _key_metrics(book)
    return sheet is not None and find_header(sheet, POST_KEYS, scan=3) is not None


def matches_page(book: Workbook) -> bool:
    """True for a page-level legacy Insights workbook (``Key Metrics`` with Date and the daily fan count)."""
    sheet = _key_metrics(book)
    if sheet is None:
        return False
    at = find_header(sheet, PAGE_KEYS, scan=3)
    if at is None:
        return False
    names = {normalize_name(c) for c in sheet.rows[at]}
    return "page_fans:lifetime" in names or "lifetime total likes" in names


def qualifier(description: str) -> str:
    """The trailing ``(Unique Users)`` / ``(Total Count)`` of a row-2 description, else ``""``."""
    m = _QUALIFIER.search(description.strip())
    return m.group(1).strip() if m else ""


def header_names(names: list[str], descriptions: list[str]) -> list[str]:
    """Row-1 names, with the row-2 qualifier appended to names that occur more than once.

    ``Lifetime Organic Video Views`` twice becomes ``Lifetime Organic Video Views (Unique Users)`` and
    ``Lifetime Organic Video Views (Total Count)``.
    """
    names = [n.strip() for n in names]
    descriptions = list(descriptions) + [""] * (len(names) - len(descriptions))
    counts = pd.Series(names).value_counts()
    out = []
    for n, d in zip(names, descriptions, strict=False):
        q = qualifier(d)
        out.append(f"{n} ({q})" if counts[n] > 1 and q else n)
    return out


def _header(sheet: Sheet, keys: tuple[str, ...], key_column: str) -> tuple[int, list[str], list[str], int]:
    """Header row index, raw row-1 names, row-2 descriptions and the first data row index."""
    at = find_header(sheet, keys, scan=3)
    raw = [c.strip() for c in sheet.rows[at]]
    descriptions = [""] * len(raw)
    data_from = at + 1
    key = [normalize_name(c) for c in raw].index(key_column)
    nxt = sheet.rows[at + 1] if at + 1 < len(sheet.rows) else []
    # the description row: empty under the key column, metric descriptions elsewhere ("Lifetime: …", "(Total Count)")
    described = any(_DESCRIPTION.search(c) for c in nxt)
    if nxt and (len(nxt) <= key or nxt[key].strip() == "") and described:
        descriptions = list(nxt) + [""] * (len(raw) - len(nxt))
        data_from = at + 2
    return at, raw, descriptions, data_from


def _find_metric(raw: list[str], descriptions: list[str], api: str, readable: str, want: str) -> int | None:
    """Column index of a metric given by API name, or by readable name (checked against the row-2 qualifier)."""
    norm = [normalize_name(c) for c in raw]
    if api in norm:
        return norm.index(api)
    hits = [i for i, n in enumerate(norm) if n == normalize_name(readable)]
    if not hits:
        return None
    for i in hits:
        q = qualifier(descriptions[i]) if i < len(descriptions) else ""
        if q == want or (q == "" and len(hits) == 1):
            return i
    return None


def page_name_from_file(name: str) -> str:
    """Page name in ``Facebook Insights Data Export [(Post Level)] - <Page> - YYYY-MM-DD.xls``, else ``""``."""
    m = _FILE_NAME.match(name)
    return m.group("page").strip() if m else ""


def _posted_utc(raw: pd.Series) -> pd.Series:
    """``2017-07-22T05:30:00.000`` (XML DateTime, no zone, Pacific) or ``10/1/2015 21:00`` → UTC."""
    s = raw.str.strip()
    t = pd.to_datetime(s, format="ISO8601", errors="coerce")
    rest = t.isna() & (s != "")
    if rest.any():
        t = t.where(~rest, pd.to_datetime(s[rest], format="%m/%d/%Y %H:%M", errors="coerce"))
    if getattr(t.dt, "tz", None) is not None:  # a zone written in the cell wins
        return t.dt.tz_convert("UTC")
    local = t.dt.tz_localize(EXPORT_TIMEZONE, ambiguous="NaT", nonexistent="shift_forward")
    # the repeated autumn hour: take the standard-time reading rather than losing the row
    amb = local.isna() & t.notna()
    if amb.any():
        local = local.where(~amb, t[amb].dt.tz_localize(EXPORT_TIMEZONE, ambiguous=np.zeros(int(amb.sum()), bool)))
    return local.dt.tz_convert("UTC")


def _breakdown(book: Workbook, prefix: str, keys: dict[str, str], post_ids: pd.Series, source_file: str,
               reasons: Reasons, warnings: list[str]) -> dict[str, pd.Series]:
    """Counts from one breakdown sheet aligned to ``post_ids`` (see the module docstring for 0 vs NA)."""
    sheet = book.sheet(prefix)
    na = pd.Series(pd.array([pd.NA] * len(post_ids), dtype="Int64"), index=post_ids.index)
    if sheet is None:
        warnings.append(f"{source_file}: no sheet '{prefix}…'; {', '.join(keys.values())} left NA")
        return {col: na for col in keys.values()}
    at = find_header(sheet, ("post id",), scan=3)
    if at is None:
        warnings.append(f"{source_file}: sheet {sheet.name!r} has no 'Post ID' header; "
                        f"{', '.join(keys.values())} left NA")
        return {col: na for col in keys.values()}
    table = sheet_table(sheet, at, path=book.path)
    d = table.data
    norm = {normalize_name(c): c for c in d.columns}
    ids = d[norm["post id"]].str.strip()
    first = ~ids.duplicated(keep="first").to_numpy()
    if not first.all():
        warnings.append(f"{source_file}: sheet {sheet.name!r} lists {int((~first).sum())} post id(s) twice; "
                        "the first row is used")
    rows = pd.Series(np.arange(len(d)), index=ids)[first]
    pos = post_ids.map(rows)  # NaN: the post is not in the sheet
    listed = pos.notna().to_numpy()
    missing = ~listed & (post_ids != INVALID_ID).to_numpy(dtype=bool, na_value=False)
    if missing.any():
        warnings.append(f"{source_file}: {int(missing.sum())} post(s) missing from sheet {sheet.name!r}; "
                        f"their {', '.join(keys.values())} are NA")
    take = pos.fillna(0).astype(int).to_numpy()
    out = {}
    for key, col in keys.items():
        if key not in norm:
            # the key never occurred in this export: 0 for every post the sheet lists
            out[col] = pd.Series(pd.array(np.zeros(len(post_ids), dtype=np.int64), dtype="Int64"),
                                 index=post_ids.index).where(listed, pd.NA)
            continue
        label = f"{sheet.name} / {norm[key]}"
        cells = d[norm[key]].iloc[take].reset_index(drop=True)
        cells.index = post_ids.index
        cells = cells.where(cells.str.strip() != "", "0")  # the breakdown omits zero keys
        values, bad, why = parse_counts(cells, label=label)
        reasons.add(bad & listed, why)
        out[col] = values.where(listed, pd.NA)
    return out


def parse_posts(book: Workbook, ctx: ParseContext) -> FileOutcome:
    """Post-level legacy Insights workbook → posts rows (see the module docstring)."""
    sheet = _key_metrics(book)
    at, raw_names, descriptions, data_from = _header(sheet, POST_KEYS, "post id")
    names = header_names(raw_names, descriptions)
    raw = sheet_table(sheet, at, path=book.path, names=names, data_from=data_from, warnings=book.warnings)
    d = raw.data
    col = {normalize_name(n): c for n, c in zip(raw_names, d.columns, strict=True)}
    reasons = Reasons(d.index)
    post_id = d[col["post id"]].str.strip()
    empty = (post_id == "").to_numpy(dtype=bool, na_value=False)
    reasons.add(empty, "empty Post ID")
    ok_id = post_id.str.fullmatch(r"\d+(?:_\d+)?").to_numpy(dtype=bool, na_value=False)
    reasons.add(~empty & ~ok_id, lambda: "Post ID '" + post_id + "' is not a Facebook id like <page id>_<post id>")
    posted_raw = d[col["posted"]].str.strip()
    published = _posted_utc(posted_raw)
    reasons.add(published.isna(), lambda: "Posted '" + posted_raw + "' is not a time like 2017-07-22T05:30:00.000")
    now = pd.Timestamp.now(tz="UTC") if ctx.now is None else ctx.now
    reasons.add(published > now + pd.Timedelta(days=1),
                lambda: "Posted '" + posted_raw + f"' is more than 1 day in the future (now is {now:%Y-%m-%d %H:%M} UTC)")
    permalink = d[col["permalink"]].str.strip()
    page = page_name_from_file(book.path.name)
    if page:
        account = pd.Series(page, index=d.index, dtype="string")
    else:
        account = permalink.str.extract(_PERMALINK, expand=False).astype("string")
        account = account.fillna(post_id.str.extract(r"^(\d+)_", expand=False).astype("string"))
    kind = d[col["type"]].str.strip().str.lower()
    media = kind.map(MEDIA_TYPES).astype("string").fillna(kind.str.replace(" ", "_", regex=False))
    media = media.mask(kind == "", pd.NA)
    message = d[col["post message"]] if "post message" in col else pd.Series("", index=d.index, dtype="string")
    cols: dict[str, object] = {
        "post_id": post_id, "platform": "facebook", "account": account, "published_at": published,
        "text": message, "permalink": permalink,
    }
    warnings: list[str] = []
    for target, (api, readable, want) in POST_METRICS.items():
        i = _find_metric(raw_names, descriptions, api, readable, want)
        if i is None:
            warnings.append(f"{ctx.source_file}: column {readable!r} / {api!r} not found; {target} left NA")
            cols[target] = pd.array([pd.NA] * len(d), dtype="Int64")
            continue
        values, bad, why = parse_counts(d[d.columns[i]], label=names[i])
        reasons.add(bad, why)
        cols[target] = values
    for target, (api, readable, want) in PROMOTED_METRICS.items():
        i = _find_metric(raw_names, descriptions, api, readable, want)
        if i is None:
            cols[target] = pd.array([pd.NA] * len(d), dtype="Int64")
            continue
        values, bad, why = parse_counts(d[d.columns[i]], label=names[i])
        reasons.add(bad, why)
        cols[target] = values
    if all(isinstance(cols[t], pd.Series) for t in PROMOTED_METRICS):  # both read: promoted when either > 0
        paid = pd.Series(cols["promoted_impressions"]).fillna(0) + pd.Series(cols["promoted_reach"]).fillna(0)
        cols["is_promoted"] = (paid > 0).astype("boolean")
    valid_id = post_id.where(ok_id & ~empty, INVALID_ID)
    for prefix, keys in BREAKDOWNS.items():
        cols.update(_breakdown(book, prefix, keys, valid_id, ctx.source_file, reasons, warnings))
    na_int = pd.array([pd.NA] * len(d), dtype="Int64")
    cols.update(quotes=na_int, bookmarks=na_int, profile_clicks=na_int, media_views=na_int, follows=na_int,
                media_type=media, is_reply=pd.array([False] * len(d), dtype="boolean"),
                is_repost=pd.array([False] * len(d), dtype="boolean"),
                source_format=POSTS_FORMAT, source_file=ctx.source_file, source_row=raw.rows)
    out = pd.DataFrame(cols, index=d.index)
    outcome = finish_posts(raw, ctx, out, reasons, POSTS_FORMAT)
    outcome.warnings.extend(warnings)
    return outcome


def parse_page(book: Workbook, ctx: ParseContext) -> FileOutcome:
    """Page-level legacy Insights workbook → account rows with the absolute daily fan count."""
    sheet = _key_metrics(book)
    at, raw_names, descriptions, data_from = _header(sheet, PAGE_KEYS, "date")
    names = header_names(raw_names, descriptions)
    raw = sheet_table(sheet, at, path=book.path, names=names, data_from=data_from, warnings=book.warnings)
    d = raw.data
    reasons = Reasons(d.index)
    date_col = d.columns[[normalize_name(c) for c in raw_names].index("date")]
    date_raw = d[date_col].str.strip()
    dates = parse_dates(date_raw.str.slice(0, 10))
    reasons.add(dates.isna(), lambda: "Date '" + date_raw + "' is not a date like 2017-07-01")
    cols: dict[str, object] = {"date": dates, "platform": "facebook",
                               "account": page_name_from_file(book.path.name) or pd.NA}
    found = []
    for target, options in PAGE_METRICS.items():
        idx = next((i for o in options if (i := _find_metric(raw_names, descriptions, *o)) is not None), None)
        if idx is None:
            cols[target] = pd.array([pd.NA] * len(d), dtype="Int64")
            continue
        values, bad, why = parse_counts(d[d.columns[idx]], label=names[idx])
        reasons.add(bad, why)
        cols[target] = values
        found.append(target)
    cols.update(posts=pd.array([pd.NA] * len(d), dtype="Int64"), source_format=PAGE_FORMAT,
                source_file=ctx.source_file, source_row=raw.rows)
    out = pd.DataFrame(cols, index=d.index)
    out["account"] = out["account"].astype("string")
    return finish_account(raw, ctx, out, reasons, PAGE_FORMAT, check_order=True, warn_na=True, metrics=found)
