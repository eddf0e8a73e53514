"""Putting the files of one ingest together: overlapping copies, page series' platforms, anchors, collabs.

**Overlapping copies** (the same post in two exports; the same account row — platform, account, date,
series — in two files) are resolved by evidence, never by file name order:

1. the copy with more *reported* metrics (non-NA and non-zero) wins — an export whose Views are all 0 does
   not replace one that has them;
2. on a tie, the later export: for posts the file whose own latest ``published_at`` is latest, for account
   rows the file whose latest date is latest; then a browser's numbered re-download (``Views (1).csv`` is
   newer than ``Views.csv``; the higher number the newer); then sorted path order.

When the copies disagree (any metric differs) the ingest log says so, per pair of files, with counts and
which rule decided.

**Page-level series without a platform** (a Business Suite ``Views.csv`` titled just "Views"): the platform is
taken, in this order, from the series' browser twin (``Views (1).csv`` ↔ ``Views.csv``) when that names one
platform, then from the other Business Suite series files of the same export (same folder, or same folder
of a zip) when they all name one platform; otherwise the rows are quarantined with a reason saying to add
``platform:`` to the account entry in ``dataset.yml``. Never guessed from the posts.

**Follower totals** from ``Audience.csv`` without a daily series in the same file are dated at the last day
of the export's other series files (same folder); without any, they are quarantined (the date is unknown).

**Collab posts** (Instagram): in a content export whose rows name several accounts, an account holding at
most ``COLLAB_MAX_SHARE`` of a platform's rows of that file (and fewer than the main account) is taken as a
collaborator: its posts keep ``author`` = that account, get ``is_own_post`` False and ``account`` = the file's
main account, so downstream stages see one account. A warning names them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..schema import ACCOUNT_METRICS, POST_METRICS
from .common import key_codes

PAGE_SERIES_PREFIX = "meta_bs_page_series"
COLLAB_FORMATS = ("meta_bs_ig", "meta_bs_fb")
#: largest share of a file's rows (per platform) an account may hold to be taken as a collaborator.
COLLAB_MAX_SHARE = 0.10

_COPY = re.compile(r" \((\d+)\)(?=\.[A-Za-z0-9]+$|$)")


def browser_copy(label: str) -> tuple[str, int]:
    """``("dir/Views.csv", 1)`` for ``dir/Views (1).csv``; ``(label, 0)`` for a file that is no numbered copy."""
    m = _COPY.search(label)
    if not m:
        return label, 0
    return label[: m.start()] + label[m.end():], int(m.group(1))


def _folder(label: str) -> str:
    """The folder of a file label; a zip member's folder is ``<zip>!<folder in the zip>``."""
    if "!" in label:
        archive, member = label.rsplit("!", 1)
        return archive + "!" + (member.rsplit("/", 1)[0] if "/" in member else "")
    return label.rsplit("/", 1)[0] if "/" in label else ""


def _export_order(frame: pd.DataFrame, time_col: str) -> pd.Series:
    """Per row, the rank of its file among the files: latest time, then browser copy number, then path."""
    files = frame.groupby("source_file", sort=False)[time_col].max()
    info = pd.DataFrame({"latest": files, "copy": [browser_copy(f)[1] for f in files.index],
                         "path": files.index}, index=files.index)
    info = info.sort_values(["latest", "copy", "path"], na_position="first", kind="stable")
    rank = pd.Series(np.arange(len(info)), index=info.index)
    return frame["source_file"].map(rank).astype("int64")


def _reported(frame: pd.DataFrame, metrics) -> np.ndarray:
    cols = [m for m in metrics if m in frame.columns]
    if not cols:
        return np.zeros(len(frame), dtype=np.int64)
    values = frame[cols].astype("Float64")
    return (values.notna() & values.ne(0)).sum(axis=1).to_numpy(dtype=np.int64)


def resolve_overlap(frame: pd.DataFrame, keys: list[str], metrics, time_col: str, table: str,
                    warnings: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one copy per key (see the module notes); return ``(kept, dropped)`` and warn on disagreement."""
    if frame.empty:
        return frame, frame.iloc[0:0]
    if len(keys) == 1:  # posts: the common case of no id in two files, found without Python strings
        codes = key_codes(frame[keys[0]], digits_first=True)
        if codes is not None and not pd.Series(codes).duplicated(keep=False).any():
            return frame, frame.iloc[0:0]
    k = frame[keys].astype("string").fillna("\x00NA")
    dup_any = k.duplicated(keep=False).to_numpy()
    if not dup_any.any():
        return frame, frame.iloc[0:0]
    order = _export_order(frame, time_col)
    reported = _reported(frame, metrics)
    rank = pd.Series(reported * (int(order.max()) + 1) + order.to_numpy(), index=frame.index)
    group = [k[c] for c in keys]
    best = rank.groupby(group).transform("max")
    keep = (rank == best).to_numpy()
    kept, dropped = frame.loc[keep], frame.loc[~keep]
    cols = [m for m in metrics if m in frame.columns]
    if len(dropped) and cols:
        joined = k[keys[0]]
        for c in keys[1:]:
            joined = joined + "\x01" + k[c]  # vectorized string concatenation (Arrow), no per-row Python
        in_dup = keep & dup_any
        kk = kept.loc[in_dup[keep]].assign(_key=joined[in_dup].to_numpy(), _rep=reported[in_dup])
        dd = dropped.assign(_key=joined[~keep].to_numpy(), _rep=reported[~keep])
        pair = dd[["_key", "source_file", "_rep", *cols]].merge(
            kk[["_key", "source_file", "_rep", *cols]], on="_key", suffixes=("", "_kept"))
        differ = np.zeros(len(pair), dtype=bool)
        for m in cols:
            a, b = pair[m].astype("Float64"), pair[f"{m}_kept"].astype("Float64")
            differ |= ((a != b).fillna(False) | (a.isna() != b.isna())).to_numpy(dtype=bool)
        pair = pair.loc[differ]
        if len(pair):
            pair = pair.assign(_why=np.where(pair["_rep_kept"] > pair["_rep"], "more reported metrics",
                                             "the later export"))
            what = "post(s)" if table == "posts" else "row(s)"
            for (lost, won), g in pair.groupby(["source_file", "source_file_kept"], sort=True):
                why = ", ".join(f"{n} by {w}" for w, n in g["_why"].value_counts().items())
                warnings.append(f"{table}: {len(g)} {what} of {lost} are also in {won} with different metrics; "
                                f"the copies in {won} are kept ({why})")
    return kept, dropped


# ---- page-level series: platforms from neighbours, anchor dates ---------------------------------------------


def resolve_series(outcomes, warnings: list[str]) -> None:
    """Fill page series' missing platforms and anchor dates from the export's other files, or quarantine the
    rows with the reason (edits the outcomes in place; see the module notes)."""
    series = [o for o in outcomes if o.table == "account" and o.format == PAGE_SERIES_PREFIX and len(o.frame)]
    if not series:
        return
    by_folder: dict[str, list] = {}
    for o in series:
        by_folder.setdefault(_folder(o.file), []).append(o)
    for o in series:
        f = o.frame
        no_platform = f["platform"].isna().to_numpy()
        no_date = f["date"].isna().to_numpy()
        if not (no_platform.any() or no_date.any()):
            continue
        folder = by_folder[_folder(o.file)]
        others = [x for x in folder if x is not o]
        reasons = np.full(len(f), "", dtype=object)
        if no_platform.any():
            base = browser_copy(o.file)[0]
            twins = {p for x in others if browser_copy(x.file)[0] == base for p in x.frame["platform"].dropna()}
            neighbours = {p for x in others for p in x.frame["platform"].dropna()}
            titles = sorted(set(f.loc[no_platform, "series_title"].fillna("")))
            if len(twins) == 1:
                (plat,) = twins
                how = "its browser twin (same export downloaded again)"
            elif not twins and len(neighbours) == 1:
                (plat,) = neighbours
                how = "the export's other series files in the same folder"
            else:
                plat = None
            if plat is not None:
                f.loc[no_platform, "platform"] = plat
                warnings.append(f"{o.file}: series {titles} name no platform; taken as {plat} from {how}")
            else:
                found = sorted(twins or neighbours)
                reasons[no_platform] = (
                    f"the series title names no platform and the export's other files do not settle it "
                    f"(platforms found next to it: {found or 'none'}); add platform: facebook (or instagram) "
                    "to this file's account entry in dataset.yml")
        if no_date.any():
            days = [x.frame["date"].max() for x in others if x.frame["date"].notna().any()]
            if days:
                day = max(days)
                f.loc[no_date, "date"] = day
                warnings.append(f"{o.file}: follower totals dated {day:%Y-%m-%d}, the last day of the export's "
                                "other series files in the same folder (the totals are as of the export)")
            else:
                msg = ("a follower total without a date: the file has no daily series and no other series of the "
                       "same export sits next to it, so the export date is unknown; put Audience.csv in the "
                       "folder of the export's daily series (Follows.csv …)")
                reasons[no_date] = np.where(reasons[no_date] == "", msg, reasons[no_date] + "; " + msg)
        bad = reasons != ""
        if bad.any():
            q = pd.DataFrame({"source_file": o.file, "source_row": f.loc[bad, "source_row"].to_numpy(),
                              "reason": reasons[bad], "title": f.loc[bad, "series_title"].to_numpy(),
                              "Date": f.loc[bad, "date"].astype("string").fillna("").to_numpy(),
                              "Primary": _series_value(f.loc[bad]).to_numpy()})
            o.quarantine = pd.concat([o.quarantine, q], ignore_index=True).sort_values("source_row", kind="stable")
            o.quarantine = o.quarantine.reset_index(drop=True)
            o.frame = f.loc[~bad].reset_index(drop=True)


def resolve_archive_dates(outcomes, warnings: list[str]) -> None:
    """A Mastodon archive's actor.json follower count is dated at the latest activity of the outbox.json in the
    same folder (the archive's own date is not in it); without one, the row is quarantined."""
    actors = [o for o in outcomes if o.format == "mastodon_actor" and len(o.frame) and o.frame["date"].isna().any()]
    for o in actors:
        outboxes = [x for x in outcomes if x.format == "mastodon_outbox" and _folder(x.file) == _folder(o.file)
                    and len(x.frame) and x.frame["published_at"].notna().any()]
        f = o.frame
        no_date = f["date"].isna().to_numpy()
        if outboxes:
            last = max(x.frame["published_at"].max() for x in outboxes)
            f.loc[no_date, "date"] = last.tz_convert("UTC").tz_localize(None).normalize()
            warnings.append(f"{o.file}: the follower count is dated {last:%Y-%m-%d}, the latest activity in the "
                            "archive's outbox.json (the archive was made on or after that day)")
            continue
        q = pd.DataFrame({"source_file": o.file, "source_row": f.loc[no_date, "source_row"].to_numpy(),
                          "reason": "a follower count without a date: no outbox.json of the same archive next to "
                                    "it, so the archive's date is unknown; list actor.json with its outbox.json",
                          "followers": f.loc[no_date, "followers"].astype("string").fillna("").to_numpy()})
        o.quarantine = pd.concat([o.quarantine, q], ignore_index=True)
        o.frame = f.loc[~no_date].reset_index(drop=True)


def _series_value(f: pd.DataFrame) -> pd.Series:
    cols = [m for m in ACCOUNT_METRICS if m in f.columns]
    return f[cols].bfill(axis=1).iloc[:, 0].astype("string").fillna("")


# ---- collab posts ------------------------------------------------------------------------------------------


def flag_collabs(posts: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Mark collab posts by other accounts (see the module notes); returns the posts."""
    if posts.empty or "source_format" not in posts:
        return posts
    meta = posts["source_format"].isin(COLLAB_FORMATS).to_numpy(dtype=bool, na_value=False)
    if not meta.any():
        return posts
    sub = posts.loc[meta, ["source_file", "platform", "account"]].astype("string")
    counts = sub.value_counts(dropna=True).rename("n").reset_index()
    if not counts.duplicated(["source_file", "platform"], keep=False).any():
        return posts
    total = counts.groupby(["source_file", "platform"])["n"].transform("sum")
    top = counts.groupby(["source_file", "platform"])["n"].transform("max")
    counts["main"] = counts.sort_values("n", ascending=False, kind="stable").groupby(
        ["source_file", "platform"])["account"].transform("first")
    collab = counts.loc[(counts["n"] <= COLLAB_MAX_SHARE * total) & (counts["n"] < top)]
    if collab.empty:
        return posts
    out = posts.copy()
    key = sub.merge(collab[["source_file", "platform", "account", "main"]], how="left",
                    on=["source_file", "platform", "account"])
    hit = np.zeros(len(out), dtype=bool)
    hit[np.flatnonzero(meta)] = key["main"].notna().to_numpy()
    main = pd.Series(pd.NA, index=out.index, dtype="string")
    main.iloc[np.flatnonzero(meta)] = key["main"].to_numpy()
    out["author"] = out["author"].astype("string").where(~hit, out["account"].astype("string"))
    out.loc[hit, "is_own_post"] = False
    out.loc[hit, "account"] = main[hit]
    for row in collab.itertuples():
        warnings.append(f"{row.source_file}: {row.n} {row.platform} post(s) by {row.account} (a collab: at most "
                        f"{COLLAB_MAX_SHARE:.0%} of the file's posts) kept under {row.main} with is_own_post "
                        f"False and author {row.account}; leave them out of {row.main}'s models")
    return out


__all__ = ["POST_METRICS", "browser_copy", "flag_collabs", "resolve_archive_dates", "resolve_overlap",
           "resolve_series"]
