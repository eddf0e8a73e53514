"""Posting times and all posts, the data appendix (sources, warnings, reliability) and the methods appendix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..features import MENTION_RE
from ..findings import num
from ..io import give_back_memory, write_csv_chunks
from ..plots import WEEKDAYS, count_posting_times, plot_posting_heatmap
from ..vocab import ALPHA_RELIABLE, ALPHA_TENTATIVE, cap, control_name, join_words, platform_name
from .blocks import Block, Details, Heading, Meta, Note, P, Warn, permalink, table, ul
from .format import NA_TEXT, format_date, format_int, format_number, format_pct
from .wording import describe_posting_times

if TYPE_CHECKING:
    from .render import ReportContext

#: posts shown in the report's table; the rest are in a collapsed part and in report_posts.csv.
N_POSTS_SHOWN = 50
#: posts listed in the collapsed part (all of them up to this; beyond it only the CSV has them).
N_POSTS_COLLAPSED = 950
_URL_IN_TEXT = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", flags=re.IGNORECASE)


def mask_handles(texts: pd.Series, *, own: Iterable[str] = ()) -> pd.Series:
    """Return the texts with every @mention replaced by "@…", except the handles in ``own``.

    Mentions are found as the feature ``n_mentions`` counts them (:data:`workbench.features.MENTION_RE`);
    ``own`` handles are compared case-insensitively, with or without a leading @.
    """
    keep = {str(h).strip().lstrip("@＠").lower() for h in own if isinstance(h, str) and h.strip()}

    def replace(match: re.Match) -> str:
        return match.group(0) if match.group(0)[1:].lower() in keep else "@…"

    return texts.astype("string").str.replace(MENTION_RE, replace, regex=True)


_IMPRESSIONS_ARE = re.compile(r"(^|: )impressions are (?=Meta's)")


def _ranked_posts(ctx: ReportContext) -> RankedPosts | None:
    """Posts by impressions (most seen first; ties in file order), texts masked and links replaced.

    Computed once per report (the top-posts table and report_posts.csv both use it); the rows themselves are
    built on demand, a slice at a time (:meth:`RankedPosts.frame`)."""
    if "ranked_posts" not in ctx.cache:
        ctx.cache["ranked_posts"] = _rank_posts(ctx)
    return ctx.cache["ranked_posts"]


#: Python's ``\\s`` for text (the characters ``str.isspace`` accepts), written out for RE2, whose ``\\s`` is ASCII only.
_PY_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
#: :data:`_URL_IN_TEXT` for RE2 (Arrow): the same matches, leftmost-first, case folded the same (ſ matches s).
_URL_IN_TEXT_RE2 = f"(?i)(?:https?|ftp)://[^{_PY_SPACE}]+|www\\.[^{_PY_SPACE}]+"
#: rows of report_posts.csv built and written at a time: the file (1M posts, ~230 MB) is never held whole; one
#: slice's transients are ~0.2 GB of RSS at 50k rows (0.35 GB at 100k; 25k costs more CPU)
CSV_CHUNK_ROWS = 50_000


@lru_cache(maxsize=1)
def _mention_re2() -> tuple[str, str]:
    """RE2 forms of :data:`~workbench.features.MENTION_RE` (Python's ``\\w`` written out code point by code point,
    :class:`~workbench.textscan.CharSet`): where its look-behind can fail (a word character, !#$%&* or @
    before an @), and the mention with its look-ahead as a consumed character (never an @, so never the start
    of the next mention), kept by the replacement."""
    from ..textscan import CharSet

    word = CharSet.of_python(r"[\w]")
    violation = f"{(word | CharSet.of('!#$%&*@＠')).re2()}[@＠]"
    mention = "[@＠][A-Za-z0-9_]{1,15}(" + (~(word | CharSet.of("@＠"))).re2() + "|\\z)"
    return violation, mention


def _mask_mentions(arr: Any, keep: set[str]) -> Any:
    """@mentions replaced by "@…" but the handles in ``keep`` (:data:`~workbench.features.MENTION_RE`).

    RE2 has no look-arounds: texts where the look-behind can fail, or where a kept handle may follow an @, get
    Python's pattern; in every other text the look-behind holds and RE2 replaces the same matches (the
    look-ahead's character is consumed and written back). Only texts holding an @ or ＠ are looked at."""
    import pyarrow as pa
    import pyarrow.compute as pc

    has = pc.fill_null(pc.match_substring_regex(arr, "[@＠]"), False)  # one pass (two literal scans cost 2×)
    rows = np.flatnonzero(has.to_numpy(zero_copy_only=False))
    if not len(rows):
        return arr
    violation, mention = _mention_re2()
    sub = pc.take(arr, pa.array(rows))
    # a kept handle is [a-z0-9_]{1,15} (what the pattern can match, lowered); (?i) finds a superset of its
    # spellings (K and ſ fold too): those texts go to Python, which compares exactly
    kept = sorted(h for h in keep if re.fullmatch(r"[a-z0-9_]{1,15}", h))
    slow_pattern = violation + (f"|(?i:[@＠](?:{'|'.join(kept)}))" if kept else "")
    slow = pc.fill_null(pc.match_substring_regex(sub, slow_pattern), False).to_numpy(zero_copy_only=False)
    out = pc.replace_substring_regex(sub, mention, "@…\\1")
    if slow.any():

        def replace(match: re.Match) -> str:
            return match.group(0) if match.group(0)[1:].lower() in keep else "@…"

        at = np.flatnonzero(slow)
        masked = [MENTION_RE.sub(replace, v) for v in pc.take(sub, pa.array(at)).to_pylist()]
        out = pc.replace_with_mask(out, pa.array(slow), pa.array(masked, type=out.type))
    return pc.replace_with_mask(arr, has, out)


def _as_arrow_text(s: pd.Series) -> Any:
    """A text column as an Arrow ``string`` array: Arrow-backed strings as they are, others as ``astype("string")``
    makes them (numbers become their text, missing values null)."""
    import pyarrow as pa

    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        arr = pa.array(s.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return arr.cast(pa.string())
    return pa.array(s.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string(), from_pandas=True)


def _local_minutes(ctx: ReportContext, ts: pd.Series) -> np.ndarray:
    """The times in the report's timezone as wall-clock ``datetime64[m]`` (NaT where missing)."""
    local = ctx.local(ts).dt.tz_localize(None)
    return local.to_numpy(dtype="datetime64[ns]").astype("datetime64[m]")


def _format_minutes(minutes: np.ndarray) -> Any:
    """``YYYY-MM-DD HH:MM`` (NA_TEXT where missing) as an Arrow string array, formatted by numpy in C: the same
    text as ``strftime("%Y-%m-%d %H:%M")``, without a Python call or object per post."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(minutes):
        return pa.array([], type=pa.string())
    text = pa.array(np.strings.replace(np.datetime_as_string(minutes, unit="m"), "T", " ", 1), type=pa.string())
    return pc.if_else(pa.array(np.isnat(minutes)), pa.scalar(NA_TEXT, pa.string()), text)


def _take_arrow(arr: Any, rows: np.ndarray) -> Any:
    """``arr.take(rows)`` of a chunked Arrow array, one source chunk at a time: Arrow's take on a chunked array
    concatenates every chunk first (at 1M posts a 126 MB copy of the texts per slice taken)."""
    import pyarrow as pa

    if isinstance(arr, pa.Array):
        return arr.take(pa.array(rows))
    if arr.num_chunks == 1:
        return arr.chunk(0).take(pa.array(rows))
    bounds = np.cumsum([0] + [len(c) for c in arr.chunks])
    by = np.argsort(rows, kind="stable")
    ordered = rows[by]
    cuts = np.searchsorted(ordered, bounds)
    pieces = [arr.chunk(k).take(pa.array(ordered[cuts[k]:cuts[k + 1]] - bounds[k]))
              for k in range(arr.num_chunks) if cuts[k + 1] > cuts[k]]
    taken = pa.concat_arrays(pieces) if pieces else pa.array([], type=arr.type)
    back = np.empty(len(rows), dtype=np.int64)
    back[by] = np.arange(len(rows))
    return taken.take(pa.array(back))


def _take_rows(s: pd.Series, rows: np.ndarray) -> pd.Series:
    """``s.iloc[rows]`` (positions), an Arrow-backed string column taken chunk by chunk (:func:`_take_arrow`)."""
    import pyarrow as pa

    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        taken = pd.Series(type(s.array)(_take_arrow(pa.array(s.array), rows)))
        if taken.dtype == s.dtype:
            return taken
    return s.iloc[rows]


@dataclass
class RankedPosts:
    """Every post ranked by impressions (most first, ties in file order, missing last), built a slice at a time:
    :meth:`frame` gives rows ``start:stop`` of the ranked table (rank, published, text, impressions,
    engagement_rate, permalink, post_id, platform)."""

    posts: pd.DataFrame
    #: positions in ``posts``, in rank order
    order: np.ndarray
    #: impressions and engagement rate per post (positions of ``posts``), as the ranked table holds them
    impressions: np.ndarray
    rate: np.ndarray
    #: the handles kept unmasked (None: every handle is shown)
    keep: set[str] | None
    #: published_at per post (positions of ``posts``) as local wall-clock minutes; None without the column
    minutes: np.ndarray | None

    def __len__(self) -> int:
        return len(self.order)

    def n_platforms(self) -> int:
        """How many platforms the posts name (missing not counted)."""
        if "platform" not in self.posts:
            return 0
        return int(pd.Series(self.posts["platform"].unique()).astype("string").nunique())

    def _texts(self, rows: np.ndarray) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        if "text" not in self.posts:
            return pa.array([""] * len(rows), type=pa.string())
        if not len(rows):
            return pa.array([], type=pa.string())
        arr = _as_arrow_text(_take_rows(self.posts["text"], rows))
        if self.keep is not None:
            # other people's handles are not printed unless the card's owner allows it (show_handles)
            arr = _mask_mentions(arr, self.keep)
        # links inside a post are shown as [link]: the only URLs in the page are the posts' own permalinks
        arr = pc.fill_null(pc.replace_substring_regex(arr, _URL_IN_TEXT_RE2, "[link]"), "")
        long = pc.greater(pc.utf8_length(arr), 280)
        if pc.any(long).as_py():  # Python's v[:279] + "…": utf8_slice_codeunits counts code points, as str does
            cut = pc.filter(arr, long)
            cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(cut, 0, 279), pa.scalar("…", pa.string()), "")
            arr = pc.replace_with_mask(arr, long, cut)
        return arr

    def frame(self, start: int, stop: int, *, arrow: bool = False) -> pd.DataFrame:
        """Rows ``start:stop`` of the ranked table (index ``start…stop-1``): the text columns as Python objects
        (as the table rows read them), or with ``arrow`` as Arrow-backed strings (what report_posts.csv writes;
        the same values)."""
        import pyarrow as pa

        stop = max(start, min(stop, len(self)))
        rows = self.order[start:stop]
        # only the columns the table shows, only these rows (never the whole posts frame reordered)
        posts = {c: _take_rows(self.posts[c], rows) for c in ("permalink", "post_id", "platform") if c in self.posts}
        n = len(rows)

        def text(values: Any) -> Any:
            if isinstance(values, pa.Array):
                return pd.arrays.ArrowStringArray(values) if arrow else values.to_numpy(zero_copy_only=False)
            return values

        def strings(col: str) -> Any:
            if col not in posts:
                return None
            s = posts[col]
            if arrow and isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype)):
                return pd.arrays.ArrowStringArray(_as_arrow_text(s))
            return s.astype("string").to_numpy()

        link = None
        if "permalink" in posts:  # as it is held (the table's cell tells a link from text), Arrow when it is
            link = (pd.arrays.ArrowStringArray(_as_arrow_text(posts["permalink"]))
                    if arrow and isinstance(posts["permalink"].dtype, pd.StringDtype) else posts["permalink"].to_numpy())
        when = (_format_minutes(self.minutes[rows]) if self.minutes is not None
                else pa.array([NA_TEXT] * n, type=pa.string()))
        out = pd.DataFrame({
            "rank": np.arange(start + 1, stop + 1, dtype=np.int64),
            "published": text(when),
            "text": text(self._texts(rows)),
            "impressions": self.impressions[rows],
            "engagement_rate": self.rate[rows],
            "permalink": link,
            "post_id": strings("post_id"),
            "platform": strings("platform"),
        })
        out.index = pd.RangeIndex(start, stop)
        return out

    def chunks(self, size: int = CSV_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """The whole ranked table, ``size`` rows at a time, text columns Arrow-backed (``frame(arrow=True)``)."""
        for start in range(0, len(self), size):
            yield self.frame(start, start + size, arrow=True)
            # each slice's text buffers go back before the next is built: Arrow's pool and glibc keep freed
            # pages otherwise, and the slices' transients add up (at 1M posts +0.4 GB without this)
            give_back_memory()


def _rank_posts(ctx: ReportContext) -> RankedPosts | None:
    posts = ctx.r.posts
    if posts is None or "impressions" not in posts or posts["impressions"].notna().sum() == 0:
        return None
    imp = pd.to_numeric(posts["impressions"], errors="coerce").reset_index(drop=True)
    # positions by impressions, most first, ties in file order, missing last (one column sorted, not the frame)
    order = imp.sort_values(ascending=False, kind="stable", na_position="last").index.to_numpy()
    eng = (pd.to_numeric(posts["engagements"], errors="coerce").reset_index(drop=True) if "engagements" in posts
           else pd.Series(float("nan"), index=imp.index))
    rate = (eng / imp).where(imp > 0)
    keep = None
    if not ctx.show_handles:
        # the distinct accounts as text (astype(str) on the distinct values only: the same set, no 1M strings)
        own = pd.Series(posts["account"].dropna().unique()).astype(str).unique() if "account" in posts else ()
        keep = {str(h).strip().lstrip("@＠").lower() for h in own if isinstance(h, str) and h.strip()}
    minutes = _local_minutes(ctx, posts["published_at"]) if "published_at" in posts else None
    return RankedPosts(posts, order, imp.to_numpy(), rate.to_numpy(), keep, minutes)


def _post_rows(frame: pd.DataFrame, several: bool = False) -> list[tuple[Any, ...]]:
    rates = [NA_TEXT if pd.isna(v) else format_pct(100 * v) for v in frame["engagement_rate"]]
    plats = ([platform_name(p) if pd.notna(p) else NA_TEXT for p in frame["platform"]] if several
             else [None] * len(frame))
    return [
        ((pl,) if several else ()) + (p, t, format_int(i), r, permalink(u))
        for pl, p, t, i, r, u in zip(plats, frame["published"], frame["text"], frame["impressions"], rates,
                                     frame["permalink"], strict=True)
    ]


def write_posts_csv(ctx: ReportContext, path: Path) -> Path | None:
    """Every post of the report's table as CSV beside the report (formula prefixes neutralised by
    :func:`workbench.io.write_csv`)."""
    ranked = _ranked_posts(ctx)
    if ranked is None:
        return None
    # what the sections' tables and figures freed goes back first (glibc keeps it otherwise: +0.2 GB at 1M)
    give_back_memory()
    # a slice at a time: the 1M texts are never Python strings, the file never whole in memory
    return write_csv_chunks(path, ranked.chunks(), whole=lambda: ranked.frame(0, len(ranked)))


def posting_section(ctx: ReportContext) -> list[Block | None]:
    posts = ctx.r.posts
    if posts is None:
        return [Note(ctx.r.missing_note(ctx.paths.posts_coded, "Posting times and top posts"))]
    tzname = ctx.f.timezone
    word = ctx.word("impressions")  # the platform's own word: views on Meta
    blocks: list[Block | None] = [Heading(3, "When posts went out (descriptive)")]
    if {"weekday_local", "hour_local"} <= set(posts.columns) and posts[
        ["weekday_local", "hour_local"]
    ].notna().all(axis=1).any():
        counts = count_posting_times(posts)
        finding = describe_posting_times(counts, timezone=tzname)
        blocks.append(P("Descriptive only: these counts show when posts were published, not which times "
                        f"work best{_unlike_the_models(ctx)}."))
        blocks.append(ctx.figure("posting_heatmap", lambda ax: plot_posting_heatmap(posts, ax=ax), alt=finding,
                                 caption=f"Posts per weekday and hour ({tzname}), counts", figsize=(10, 3.6)))
        blocks.append(P(finding))
        if "impressions" in posts and pd.to_numeric(posts["impressions"], errors="coerce").notna().any():
            frame = pd.DataFrame({"day": pd.to_numeric(posts["weekday_local"], errors="coerce"),
                                  "imp": pd.to_numeric(posts["impressions"], errors="coerce")}).dropna(subset=["day"])
            by_day = frame.groupby(frame["day"].astype(int))["imp"].agg(["size", "median"]).reindex(range(7))
            rows = [(WEEKDAYS[d], format_int(0 if pd.isna(r["size"]) else r["size"]), format_int(r["median"]))
                    for d, r in by_day.iterrows()]
            blocks.append(table(f"Posts and median {word} by weekday (descriptive)",
                                ["Weekday", "Posts", f"Median {word}"], rows, numeric=(1, 2)))
    else:
        blocks.append(Note("Posting times are not available: posts_coded has no weekday_local/hour_local."))
    blocks.append(Heading(3, f"Top posts by {word}"))
    ranked = _ranked_posts(ctx)
    if ranked is None:
        blocks.append(Note(f"Top posts are not available: no {word} were reported."))
        return blocks
    several = ranked.n_platforms() > 1
    # mixed platforms: each post's count in its platform's own word, the platform named per row
    headers = (["Platform"] if several else []) + ["Published", "Post", cap(word), "Engagement rate",
                                                    "Link"]
    num_cols = (3, 4) if several else (2, 3)
    shown = ranked.frame(0, N_POSTS_SHOWN)
    blocks.append(table(f"Top {len(shown)} posts by {word} (times in {tzname})", headers,
                        _post_rows(shown, several), numeric=num_cols, wide=True))
    rest = ranked.frame(N_POSTS_SHOWN, N_POSTS_SHOWN + N_POSTS_COLLAPSED)
    csv_name = ctx.paths.rel(ctx.paths.report_posts)
    if len(rest):
        blocks.append(Details(
            f"The other {format_int(len(ranked) - N_POSTS_SHOWN)} posts",
            (table(f"Posts ranked {N_POSTS_SHOWN + 1} to {N_POSTS_SHOWN + len(rest)} by {word}",
                   headers, _post_rows(rest, several), numeric=num_cols, wide=True),),
        ))
    blocks.append(Meta(f"All {format_int(len(ranked))} posts, ranked by {word}, are in {csv_name} beside "
                       "this report (open it in a spreadsheet)."
                       + (" Each platform counts its own way (views on Meta, impressions on X), so ranks across "
                          "platforms compare different counts."
                          if several and " / " in word else "")))
    return blocks


def _sources(ctx: ReportContext) -> list[Block | None]:
    log = ctx.r.ingest_log
    if log is None:
        return [Note(ctx.r.missing_note(ctx.paths.ingest_log, "The list of sources"))]
    files = [f for f in (log.get("files") or []) if isinstance(f, Mapping)]
    keys = ("rows_read", "rows_kept", "rows_quarantined", "rows_superseded")
    rows = [(f.get("file", ""), f.get("format", ""), f.get("table", ""), *(format_int(f.get(k)) for k in keys))
            for f in files]
    if files:
        rows.append(("Total", "", "", *(format_int(sum(num(f.get(k)) or 0 for f in files)) for k in keys)))
    return [
        table("Source files as read by ingest",
              ["File", "Format", "Table", "Rows read", "Kept", "Quarantined", "Superseded"], rows,
              numeric=(3, 4, 5, 6)),
        Meta("Superseded rows are older snapshots of a post that also appears in a later export (the latest "
             "snapshot wins). Quarantined rows could not be used; they are kept in data/quarantine.csv with the "
             "reason."),
    ]


def _warning_text(w: Any) -> str:
    """A warning as text: typed records (code, message, …) give their message."""
    if isinstance(w, Mapping):
        return str(w.get("message") or w.get("code") or w)
    return str(w)


def data_appendix(ctx: ReportContext) -> list[Block | None]:
    r = ctx.r
    blocks: list[Block | None] = [Heading(3, "Sources"), *_sources(ctx)]
    span = ctx.f.date_range
    blocks.append(P(f"Date range of the data: {format_date(span[0])} to {format_date(span[1])}." if span
                    else "Date range of the data: not available."))
    reasons = r.quarantine_reasons
    if reasons is not None and len(reasons):
        blocks.append(table("Why rows were quarantined (most common reasons)", ["Reason", "Rows"],
                            [(reason, format_int(n)) for reason, n in reasons.head(10).items()], numeric=(1,)))
    # the stages' warnings in the platform's own word; ingest's note of which column holds Meta's Views names
    # the posts table's column, so it says so ("the impressions column")
    notes = [f"{source}: " + (_IMPRESSIONS_ARE.sub(r"\1the posts table's impressions column holds ", _warning_text(w))
                              if source == "ingest" else ctx.own_terms(_warning_text(w)))
             for source, obj in (("ingest", r.ingest_log), ("models", r.models), ("growth", r.growth))
             for w in (obj or {}).get("warnings") or []]
    notes += [f"{path} could not be {'computed' if path.startswith('(') else 'read'}: {why}"
              for path, why in r.problems.items()]
    blocks += [Heading(3, "Warnings"), ul(notes) if notes else P("No warnings were recorded.")]
    blocks += [Heading(3, "Coding reliability"), *_reliability(ctx)]
    return blocks


def _reliability(ctx: ReportContext) -> list[Block | None]:
    rel = ctx.r.reliability
    if rel is None:
        return [Note(ctx.r.missing_note(ctx.paths.reliability, "Coding reliability")
                     + " Manual codes, if any, were not checked for agreement between coders.")]
    if rel.empty:
        return [Note("Coding reliability is not available: no code was coded by two or more coders on the same "
                     "posts (add a second coder's file under coding/ to check agreement).")]
    blocks: list[Block | None] = [
        Warn(f"Warning: the code {code} has Krippendorff’s α = {format_number(alpha)}, below {ALPHA_TENTATIVE}, "
             "and enters a model; treat its effect as tentative.")
        for code, alpha in zip(ctx.f.low_codes["code"], ctx.f.low_codes["krippendorff_alpha"], strict=True)
    ]

    def stat(row: Mapping[str, Any], name: str) -> str:
        """ "0.93 (0.80 to 1.00)"; the value alone when the CI is NA; an empty cell when the value is NA."""
        if num(row.get(name)) is None:
            return ""
        value = format_number(row.get(name))
        lo, hi = num(row.get(f"{name}_ci_low")), num(row.get(f"{name}_ci_high"))
        return f"{value} ({format_number(lo)} to {format_number(hi)})" if lo is not None and hi is not None else value

    def text(x: Any) -> str:
        return "" if x is None or (not isinstance(x, str) and pd.isna(x)) else str(x)

    def kappa(row: Mapping[str, Any]) -> str:
        out = stat(row, "cohen_kappa")
        pair, n = text(row.get("cohen_kappa_pair")), num(row.get("cohen_kappa_n"))
        if out and (pair or n is not None):
            out += " — " + ", ".join(b for b in (pair, f"n = {format_int(n)}" if n is not None else "") if b)
        return out

    def fleiss(row: Mapping[str, Any]) -> str:
        out = stat(row, "fleiss_kappa")
        n, raters = num(row.get("fleiss_kappa_n")), num(row.get("fleiss_kappa_raters"))
        if out and n is not None and raters is not None:
            out += f" — {format_int(n)} posts × {format_int(raters)} raters"
        return out

    def alpha(row: Mapping[str, Any]) -> str:
        out = stat(row, "krippendorff_alpha")
        n = num(row.get("krippendorff_alpha_n"))
        return out + (f" — n = {format_int(n)}" if out and n is not None else "")

    def agreement(x: Any) -> str:
        v = num(x)
        if v is None:
            return ""
        return format_pct(100 * v) if v <= 1 else format_pct(x)

    def verdict(row: Mapping[str, Any]) -> str:
        parts = [text(row.get("interpretation")), text(row.get("note"))]
        if not any(num(row.get(k)) is not None for k in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha")):
            parts[0] = parts[0] or "not available"
        return "; ".join(p for p in parts if p)

    has_fleiss = "fleiss_kappa" in rel.columns and pd.to_numeric(rel["fleiss_kappa"], errors="coerce").notna().any()
    rows = [
        (row.get("code", ""), format_int(row.get("n_overlap")), format_int(row.get("n_coders")),
         agreement(row.get("percent_agreement")), kappa(row), *((fleiss(row),) if has_fleiss else ()), alpha(row),
         verdict(row))
        for row in rel.to_dict("records")
    ]
    headers = ["Code", "Posts coded by ≥ 2", "Coders", "Agreement", "Cohen’s κ (pair, n)",
               *(["Fleiss’ κ (n posts × raters)"] if has_fleiss else []), "Krippendorff’s α (n)",
               "Interpretation and note"]
    blocks.append(table("Agreement between coders on the overlap (95% CI in brackets; empty: not computed)",
                        headers, rows, numeric=tuple(range(1, len(headers) - 1)), wide=True))
    blocks.append(Meta(f"Krippendorff (2004): α ≥ {ALPHA_RELIABLE:.2f} reliable; {ALPHA_TENTATIVE} ≤ α < "
                       f"{ALPHA_RELIABLE:.2f} tentative conclusions only; below {ALPHA_TENTATIVE} the code should "
                       "not be used to draw conclusions."))
    return blocks

CODEBOOK_FIELDS = ("name", "type", "definition", "include", "exclude", "examples")


def read_codebook(path: str | Path) -> tuple[list[dict[str, str]], list[str]]:
    """Return the codebook's codes (name, type, definition, include, exclude, examples as text) and problems.

    The file is YAML with a ``codes:`` list of mappings. It is read defensively: an entry that is not a
    mapping or has no name is skipped and named in the problems; missing fields become empty text; a list of
    examples is joined with " · ". A file that cannot be read or parsed raises :class:`InputError`.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(
            f"the codebook could not be read: {type(exc).__name__}: {exc}", file=path.name
        ) from exc
    codes = data.get("codes") if isinstance(data, Mapping) else None
    if not isinstance(codes, list):
        raise InputError(
            f"expected a 'codes:' list of entries with {list(CODEBOOK_FIELDS)}; found "
            f"{type(codes).__name__ if isinstance(data, Mapping) else type(data).__name__}",
            file=path.name,
        )
    out, problems = [], []
    for i, entry in enumerate(codes, start=1):
        if not isinstance(entry, Mapping) or not entry.get("name"):
            problems.append(f"{path.name}: code entry {i} has no name; skipped.")
            continue
        row = {}
        for key in CODEBOOK_FIELDS:
            value = entry.get(key)
            if isinstance(value, (list, tuple)):
                value = " · ".join(str(v) for v in value if v is not None)
            row[key] = "" if value is None else str(value).strip()
        out.append(row)
    return out, problems


def _unlike_the_models(ctx: ReportContext) -> str:
    """"; the models above hold audience size and year constant, these counts do not" — naming only the controls
    the fitted models had, and nothing when no model was fitted."""
    controls = list(dict.fromkeys(control_name(t) for terms in (ctx.f.model_terms or {}).values()
                                  for t in terms.get("controls") or []))
    if controls:
        return f"; the models above hold {join_words(controls)} constant, these counts do not"
    if ctx.f.effects is not None:
        return "; the models above compare posts with and without each feature, these counts compare nothing"
    return ""
