"""X/Twitter legacy analytics exports (analytics.twitter.com, about 2014–2023).

Two files per period (FORMATS.md §1):

* ``tweet_activity_metrics_*.csv`` — one row per tweet → posts table (format ``x_legacy_tweets``).
  Ids are read as strings, counts are written as ``"1938.0"``, promoted columns are ``-``, text may
  span several lines and keeps HTML entities (decoded here), time is ``2021-11-30 16:00 +0000`` (UTC),
  rows are newest first. The 2015 variant says ``favorites`` instead of ``likes``. Replies are the
  rows whose text starts with ``@``; the export holds no retweets by the account and does not say the
  media type (NA). quotes, bookmarks and reach are not reported (NA).
* ``daily_tweet_activity_metrics_*.csv`` — one row per day → account table (format ``x_legacy_daily``):
  date, impressions, engagements, posts (= ``Tweets published``). Its ``follows`` column counts follows
  *attributed to tweets*, not all new followers, so ``new_follows`` is left NA; it has no follower total
  either (``followers`` NA). The account handle comes from the file name when it looks like
  ``daily_tweet_activity_metrics_<handle>_<start>_<end>...`` (a label only, never used for detection).
"""

from __future__ import annotations

import gc
import html
import re
from itertools import islice

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import PROMOTED_COLUMNS
from .common import (
    FileOutcome,
    ParseContext,
    Reasons,
    arrow_chunks,
    constant_strings,
    duplicated_keys,
    file_quarantine,
    na_booleans,
    na_ints,
    normalize_name,
    parse_count_columns,
    parse_counts,
    release_arrow_memory,
    string_series,
)
from .integrity import classify_posts, plausibility, repair_mojibake
from .rawcsv import RawTable

TWEETS_FORMAT = "x_legacy_tweets"
DAILY_FORMAT = "x_legacy_daily"

#: raw column (normalised) → posts column. ``likes`` is ``favorites`` in the 2015 variant.
TWEET_METRICS = {
    "impressions": "impressions",
    "engagements": "engagements",
    "retweets": "reposts",
    "replies": "replies",
    "likes": "likes",
    "user profile clicks": "profile_clicks",
    "url clicks": "url_clicks",
    "media views": "media_views",
    "follows": "follows",
}
TWEET_REQUIRED = ("tweet id", "tweet permalink", "tweet text", "time", *[k for k in TWEET_METRICS if k != "likes"])
DAILY_METRICS = {"tweets published": "posts", "impressions": "impressions", "engagements": "engagements"}

_PERMALINK = r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/(?P<handle>[A-Za-z0-9_]+)/status/"
_DAILY_NAME = re.compile(r"^daily_tweet_activity_metrics_(.+?)_\d{8}_\d{8}")


def _keys(header: list[str]) -> set[str]:
    return {normalize_name(h) for h in header}


def matches_tweets(header: list[str], column_map=None) -> bool:
    """True when the header is the legacy per-tweet export's (either variant)."""
    keys = _keys(header)
    return all(k in keys for k in TWEET_REQUIRED) and ("likes" in keys or "favorites" in keys)


def matches_daily(header: list[str], column_map=None) -> bool:
    """True when the header is the legacy daily export's (starts ``Date, Tweets published``)."""
    norm = [normalize_name(h) for h in header]
    return norm[:2] == ["date", "tweets published"] and all(k in norm for k in DAILY_METRICS)


def _column(raw: RawTable, key: str) -> str:
    """The data column of the first header cell whose normalised name is ``key``."""
    return raw.column_names()[key]


#: The entities X exports write (``&amp;``, ``&lt;``, ``&gt;``; quotes too, for safety) and what
#: ``html.unescape`` makes of them. Replaced in this order, ``&amp;`` last, they decode in one pass as
#: html.unescape does (``&amp;lt;`` becomes ``&lt;``, not ``<``).
_SIMPLE_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))
_ENTITY = r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?"


def _decode_entities(text: pd.Series) -> pd.Series:
    """``text`` with HTML entities decoded as ``html.unescape`` decodes them.

    Vectorized for the rows whose every ``&`` before a letter or ``#`` starts one of ``_SIMPLE_ENTITIES`` (all
    the entities in real X exports); ``html.unescape`` row by row on the others only (other named entities,
    numeric ones, an entity without ``;``). tests/test_ingest_fastpath.py checks both against html.unescape.
    """
    arr = arrow_chunks(text)
    has_entity = pc.fill_null(pc.match_substring_regex(arr, _ENTITY), False)
    if not pc.any(has_entity).as_py():
        return text
    # chunk by chunk (a CSV column comes in one chunk per block read): chunks without an entity are kept as they
    # are, and no copy of the whole column is made on the way (0.16 GB at 1M posts)
    has_entity = has_entity.combine_chunks() if isinstance(has_entity, pa.ChunkedArray) else has_entity  # bits
    chunks, start = [], 0
    for chunk in arr.chunks:
        mask = has_entity.slice(start, len(chunk))
        start += len(chunk)
        chunks.append(_decode_chunk(chunk, mask) if pc.any(mask).as_py() else chunk)
    return string_series(pa.chunked_array(chunks, type=pa.large_string()), text.index)


def _decode_chunk(arr: pa.Array, has_entity: pa.Array) -> pa.Array:
    """One chunk of :func:`_decode_entities`: its rows in ``has_entity`` decoded."""
    sub = arr.filter(has_entity)
    amp = pc.count_substring_regex(sub, "&[#A-Za-z]")
    simple = pc.count_substring(sub, _SIMPLE_ENTITIES[0][0])
    for entity, _ in _SIMPLE_ENTITIES[1:]:
        simple = pc.add(simple, pc.count_substring(sub, entity))
    is_simple = pc.equal(amp, simple).to_numpy(zero_copy_only=False)
    decoded = sub
    for entity, char in _SIMPLE_ENTITIES:
        decoded = pc.replace_substring(decoded, entity, char)
    if not is_simple.all():
        hard = np.flatnonzero(~is_simple)
        by_hand = pa.array([html.unescape(t) for t in sub.take(pa.array(hard)).to_pylist()], type=pa.large_string())
        decoded = pc.replace_with_mask(decoded, pa.array(~is_simple), by_hand)
    return pc.replace_with_mask(arr, has_entity, decoded)


def _handles(permalink: pd.Series) -> pd.Series:
    """Account handle from ``https://twitter.com/<handle>/status/<id>`` (NA when the link is not like that)."""
    found = pc.extract_regex(arrow_chunks(permalink), _PERMALINK)
    return string_series(pc.struct_field(found, [0]), permalink.index)


def _quoted(before: str, cells: pd.Series, after: str):
    """A reason per row, ``before + cell + after``, built only when asked for (see :meth:`Reasons.add`)."""
    return lambda: before + cells + after


def parse_tweets(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Legacy per-tweet export → posts rows (see the module docstring)."""
    d = raw.data
    reasons = Reasons(d.index)
    post_id = d[_column(raw, "tweet id")].str.strip()
    empty_id = (post_id == "").to_numpy(dtype=bool, na_value=False)
    reasons.add(empty_id, "empty Tweet id")
    numeric = post_id.str.fullmatch(r"\d+").to_numpy(dtype=bool, na_value=False)
    reasons.add(~empty_id & ~numeric, _quoted("Tweet id '", post_id, "' is not a number"))
    time_raw = d[_column(raw, "time")].str.strip()
    published = pd.to_datetime(time_raw, format="%Y-%m-%d %H:%M %z", utc=True, errors="coerce")
    reasons.add(published.isna(), _quoted("time '", time_raw, "' is not a time like 2021-11-30 16:00 +0000"))
    now = pd.Timestamp.now(tz="UTC") if ctx.now is None else ctx.now
    reasons.add(published > now + pd.Timedelta(days=1),
                _quoted("time '", time_raw, f"' is more than 1 day in the future (now is {now:%Y-%m-%d %H:%M} UTC)"))
    del time_raw
    permalink = d[_column(raw, "tweet permalink")]  # stripped once the raw table is let go (below)
    text = d[_column(raw, "tweet text")]
    n = len(d)
    index = d.index
    cols: dict[str, object] = {
        "post_id": post_id,
        # one category: what conform makes of a column of "x" (no Python string per row)
        "platform": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=["x"]) if n else "x",
        "account": None,  # below, once the raw table is let go
        "published_at": published,
        "text": None,
        "permalink": None,
    }
    keys = _keys(raw.header)
    metric_names = [_column(raw, key if key != "likes" or "likes" in keys else "favorites") for key in TWEET_METRICS]
    # promoted (paid) figures: "-" when the tweet was not promoted. FORMATS.md §1a documents no promoted sample,
    # so whether ``impressions`` includes the promoted ones is not known: both are kept, nothing is subtracted.
    promoted_keys = [h for h in keys if h.startswith("promoted ") and h != "promoted engagement rate"]
    promoted_names = [_column(raw, key) for key in promoted_keys]
    names = metric_names + promoted_names
    parsed = parse_count_columns([d[name] for name in names], names)  # one column at a time, in this order
    for col, (values, bad, why) in zip(TWEET_METRICS.values(), islice(parsed, len(TWEET_METRICS)), strict=True):
        reasons.add(bad, why)
        cols[col] = values
    promoted_any = np.zeros(n, dtype=bool)
    promoted_seen = False
    for key, (values, bad, why) in zip(promoted_keys, parsed, strict=True):
        if key in PROMOTED_COLUMNS:
            reasons.add(bad, why)
            cols[PROMOTED_COLUMNS[key]] = values
        promoted_any |= values.notna().to_numpy() & ~bad
        promoted_seen = True
    del d, values, bad, why, parsed
    # Every check of a cell is done: let the raw table go but for the rows that may be quarantined, before the
    # text work allocates (finish_posts adds no reason to an X legacy row but a repeated id's: no reach, so no
    # plausibility contradiction). The text column read is kept by ``text``.
    dup = release_raw_rows(raw, reasons, post_id)
    cols["permalink"] = permalink = permalink.str.strip()
    cols["account"] = _handles(permalink)
    cols["text"] = _decode_entities(text)
    na_int = na_ints(n)
    for col in PROMOTED_COLUMNS.values():
        cols.setdefault(col, na_int)
    cols["is_promoted"] = pd.array(promoted_any, dtype="boolean") if promoted_seen else na_booleans(n)
    cols.update(quotes=na_int, bookmarks=na_int, reach=na_int,
                media_type=constant_strings(None, index),
                is_reply=text.str.startswith("@"), is_repost=False,
                source_format=constant_strings(TWEETS_FORMAT, index),
                source_file=constant_strings(ctx.source_file, index), source_row=raw.rows)
    out = pd.DataFrame(cols, index=index)
    del cols, text, permalink, published
    release_arrow_memory()  # the text and count temporaries
    return finish_posts(raw, ctx, out, reasons, TWEETS_FORMAT, dup=dup)


#: Tables of at least this many rows have the raw values finish_posts lets go collected at once.
RELEASE_AFTER_ROWS = 50_000

METRIC_COLUMNS = ("impressions", "engagements", "likes", "reposts", "replies", "quotes", "bookmarks",
                  "url_clicks", "profile_clicks", "media_views", "follows", "reach")


def release_raw_rows(raw: RawTable, reasons: Reasons, post_id: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Let the raw table go but for the rows that may still be quarantined: those with a reason, and the repeated
    post ids (finish_posts quarantines a repeat with different metrics). Returns ``(valid, dup)``, the rows without
    a reason and the repeats among them, for finish_posts (which finds them again only when a reason was added
    since). The raw Series pandas' ``.str`` accessor holds in reference cycles are collected for a large table."""
    valid = ~reasons.bad
    dup = valid & duplicated_keys(post_id, valid)
    if raw.n_data >= RELEASE_AFTER_ROWS:  # a small table is kept whole (selecting its rows cost more than it saves)
        raw.keep_rows(~valid | dup)
        gc.collect()
        release_arrow_memory()
    return valid, dup


def finish_posts(raw: RawTable, ctx: ParseContext, out: pd.DataFrame, reasons: Reasons, fmt: str,
                 dup: tuple[np.ndarray, np.ndarray] | None = None) -> FileOutcome:
    """Quarantine bad rows and duplicate ids inside one file; return the file's outcome.

    A post id seen twice in one file keeps its first row (newest-first exports: the first is the latest);
    a repeat with identical metrics counts as superseded, a repeat with different metrics is quarantined.
    Before that, the checks every format shares (:mod:`workbench.ingest.integrity`): mojibake repair,
    plausibility of the metrics, post type; and the defaults of the columns a reader may set
    (``published_time_reliable`` True where there is a time, ``is_own_post`` True, ``author`` = ``account``).
    """
    warnings = list(raw.warnings)
    n_read = raw.n_data + len(raw.bad)
    out = out.copy(deep=False)  # columns are replaced below, never written into
    # plausibility first (it reads no text), so that the raw table is let go before the text work below
    out, more = plausibility(out, reasons, source_file=ctx.source_file, rows=np.asarray(raw.rows),
                             views="Views" if fmt.startswith("meta_bs") else "impressions")
    # No reason is added from here on but "duplicate post_id with different metrics": only the rows with a reason
    # and the repeated ids can still be quarantined, so the raw table keeps those rows' raw values and lets the
    # rest go now (the reader has dropped its own reference to it), before the work below allocates more.
    if dup is not None and np.array_equal(dup[0], ~reasons.bad):  # the reader's release_raw_rows found them
        valid, dup = dup
    else:
        valid, dup = release_raw_rows(raw, reasons, out["post_id"])
    if "text" in out.columns:
        out["text"], repaired, unsure = repair_mojibake(pd.Series(out["text"], index=out.index))
        if repaired:
            warnings.append(f"{ctx.source_file}: {repaired} row(s) of text repaired from mojibake (UTF-8 that was "
                            "read as Windows-1252 and saved again, e.g. 'ðŸ“©' for 📩) with ftfy")
        if unsure:
            warnings.append(f"{ctx.source_file}: {unsure} row(s) of text look like mojibake but could not be "
                            "repaired with confidence; left as they are (emoji and accents there may be wrong)")
    warnings += more
    out = classify_posts(out)
    if "published_time_reliable" not in out.columns:
        out["published_time_reliable"] = pd.Series(out["published_at"], index=out.index).notna().astype("boolean")
    if "is_own_post" not in out.columns:
        out["is_own_post"] = pd.array(np.ones(len(out), dtype=bool), dtype="boolean")
    if "author" not in out.columns:
        account = pd.Series(out["account"], index=out.index)
        out["author"] = account if isinstance(account.dtype, pd.StringDtype) else account.astype("string")
    if "impressions_label" not in out.columns:
        has = pd.Series(out["impressions"], index=out.index).notna().to_numpy()
        label = pc.if_else(pa.array(has), pa.scalar("Impressions", pa.large_string()), pa.scalar(None, pa.large_string()))
        out["impressions_label"] = string_series(label, out.index)
    differ = np.zeros(len(out), dtype=bool)
    if dup.any():
        metrics = [c for c in METRIC_COLUMNS if c in out.columns]
        firsts = out.loc[valid & ~dup, ["post_id", "source_row", *metrics]].rename(
            columns={"source_row": "source_row_first"})
        rep = out.loc[dup, ["post_id", *metrics]].reset_index()
        merged = rep.merge(firsts, on="post_id", suffixes=("", "_first"), how="left")
        same = np.ones(len(merged), dtype=bool)
        for m in metrics:
            a, b = merged[m], merged[f"{m}_first"]
            same &= ((a == b).fillna(False) | (a.isna() & b.isna())).to_numpy(dtype=bool)
        differ[out.index.get_indexer(merged["index"][~same])] = True
        first_row = out["post_id"].map(firsts.set_index("post_id")["source_row_first"]).astype("Int64")
        reasons.add(differ, lambda: "duplicate post_id '" + out["post_id"] + "' with different metrics than row "
                    + first_row.astype("string").fillna(""))
    keep = valid & ~dup
    superseded = int((dup & ~differ).sum())
    frame = out if keep.all() else out.loc[keep]
    frame = frame.set_axis(pd.RangeIndex(len(frame)), axis=0, copy=False)  # reset_index copied every column
    if n_read == 0:
        warnings.append(f"{ctx.source_file}: header only, no data rows")
    return FileOutcome(file=ctx.source_file, format=fmt, table="posts", frame=frame,
                       quarantine=file_quarantine(raw, reasons, source_file=ctx.source_file), rows_read=n_read,
                       rows_superseded=superseded, warnings=warnings)


def account_label_from_name(name: str) -> str:
    """Handle in ``daily_tweet_activity_metrics_<handle>_<start>_<end>...``, else ``""``."""
    m = _DAILY_NAME.match(name)
    return m.group(1) if m else ""


def parse_daily(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Legacy daily export → account rows (see the module docstring for why new_follows stays NA)."""
    from .account_csv import finish_account  # shared date checks and de-duplication

    d = raw.data
    reasons = Reasons(d.index)
    date_raw = d[_column(raw, "date")].str.strip()
    dates = pd.to_datetime(date_raw, format="%Y-%m-%d", errors="coerce")
    reasons.add(dates.isna(), lambda: "date '" + date_raw + "' is not a date like 2021-08-01")
    cols: dict[str, object] = {"date": dates, "platform": "x", "account": account_label_from_name(raw.path.name)}
    for key, col in DAILY_METRICS.items():
        name = _column(raw, key)
        values, bad, why = parse_counts(d[name], label=name)
        reasons.add(bad, why)
        cols[col] = values
    na_int = pd.array([pd.NA] * len(d), dtype="Int64")
    cols.update(followers=na_int, new_follows=na_int, unfollows=na_int, source_format=DAILY_FORMAT,
                source_file=ctx.source_file, source_row=raw.rows)
    out = pd.DataFrame(cols, index=d.index)
    return finish_account(raw, ctx, out, reasons, DAILY_FORMAT, check_order=True, warn_na=False)
