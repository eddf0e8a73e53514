"""The ingest stage: raw analytics exports → canonical posts, account and codes tables.

Formats are detected by header signature (:mod:`workbench.ingest.detect`); each export family is one
module. Nothing is dropped silently: every data row of every file is kept, superseded by a newer copy,
or quarantined with its file, row number and reason, and the log says how many of each per file
(``rows_read = rows_kept + rows_quarantined + rows_superseded``).

Row numbers (``source_row``) count as a spreadsheet user does: the header is row 1, the first data row is
row 2, and a quoted field spanning several lines stays one row.

Overlapping post exports: the same post_id in several files is kept once, from the latest snapshot — the
file whose own latest ``published_at`` is latest (ties: the later file in sorted path order). Account rows
repeated across files of the same format (same platform, account and date) keep the later file's row;
codes repeated across files (same post and coder) keep the later file's rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..dataset import Dataset
from ..errors import InputError
from ..io import write_csv, write_json, write_parquet
from ..schema import ACCOUNT_SCHEMA, CODES_SCHEMA, POSTS_SCHEMA, conform
from .common import FileOutcome, ParseContext, combine_quarantine, file_log
from .detect import FORMAT_READERS, FormatReader, detect_format, detect_header, read_document, sniff_container
from .rawcsv import read_raw_csv, read_text_file, split_header

__all__ = [
    "FORMAT_READERS",
    "FormatReader",
    "IngestResult",
    "detect_format",
    "read_exports",
    "read_files",
    "summarize_ingest",
    "write_ingest_outputs",
]


@dataclass
class IngestResult:
    """The canonical tables, the quarantined rows and the per-file log of one ingest."""

    posts: pd.DataFrame
    account: pd.DataFrame
    codes: pd.DataFrame
    quarantine: pd.DataFrame
    log: dict = field(default_factory=dict)


def _relative(path: Path, root: Path | None) -> str:
    if root is None:
        return path.as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _read_one(path: Path, *, label: str, column_map: Mapping[str, str] | None, now, binary_codes,
              expect_table: str | None, listed_as: str | None) -> list[FileOutcome]:
    container = sniff_container(path)
    if container is not None:  # a workbook or JSON file: one outcome per table it feeds
        ctx = ParseContext(source_file=label, column_map=dict(column_map or {}), now=now,
                           binary_codes=None if binary_codes is None else frozenset(binary_codes))
        return read_document(path, container, ctx, expect_table=expect_table, listed_as=listed_as)
    utf8, encoding = read_text_file(path, label=label)
    header = split_header(utf8, file=label)
    reader = detect_header(header, file=label, column_map=column_map)
    if expect_table is not None and reader.table != expect_table:
        raise InputError(
            f"listed under {listed_as!r} in dataset.yml but it is a {reader.description} "
            f"(feeds the {reader.table} table). Move it to the right list in dataset.yml.",
            file=label,
        )
    raw = read_raw_csv(path, label=label, utf8=utf8, encoding=encoding)
    ctx = ParseContext(source_file=label, column_map=dict(column_map or {}), now=now,
                       binary_codes=None if binary_codes is None else frozenset(binary_codes))
    outcome = reader.parse(raw, ctx)
    if raw.blank_rows:
        outcome.warnings.append(f"{label}: {raw.blank_rows} blank line(s) ignored")
    return [outcome]


def _latest_wins(frame: pd.DataFrame, keys: list[str], rank: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep, for each key, the rows of the highest-ranked file; return ``(kept, dropped)``."""
    if frame.empty:
        return frame, frame.iloc[0:0]
    k = frame[keys].astype("string").fillna("\x00NA")
    if not k.duplicated().any():
        return frame, frame.iloc[0:0]
    best = rank.groupby([k[c] for c in keys]).transform("max")
    keep = (rank == best).to_numpy()
    return frame.loc[keep], frame.loc[~keep]


def _assemble(outcomes: list[FileOutcome], warnings: list[str]) -> IngestResult:
    order = {o.file: i for i, o in enumerate(sorted(outcomes, key=lambda o: o.file))}
    # keyed by (file, table): one workbook may feed two tables (LinkedIn content: posts and account)
    superseded_across: dict[tuple[str, str], int] = {(o.file, o.table): 0 for o in outcomes}

    # posts: latest snapshot wins
    post_parts = [o.frame for o in outcomes if o.table == "posts" and len(o.frame)]
    if post_parts:
        posts = pd.concat(post_parts, ignore_index=True)
        snapshot = posts.groupby("source_file")["published_at"].transform("max")
        # rank: the file's latest published_at first, then sorted path order.
        n = len(order) + 1
        rank = snapshot.rank(method="dense").astype("int64") * n + posts["source_file"].map(order).astype("int64")
        posts, dropped = _latest_wins(posts, ["post_id"], rank)
        for f, c in dropped["source_file"].value_counts().items():
            superseded_across[(f, "posts")] += int(c)
        posts = posts.sort_values(["published_at", "post_id"], kind="stable")
    else:
        posts = pd.DataFrame()
    posts = conform(posts, POSTS_SCHEMA, table="posts")

    # account: one row per (platform, account, date, format); the later file wins
    acc_parts = [o.frame for o in outcomes if o.table == "account" and len(o.frame)]
    if acc_parts:
        account = pd.concat(acc_parts, ignore_index=True)
        rank = account["source_file"].map(order)
        account, dropped = _latest_wins(account, ["platform", "account", "date", "source_format"], rank)
        for f, c in dropped["source_file"].value_counts().items():
            superseded_across[(f, "account")] += int(c)
        account = _fill_account_identity(account, posts, warnings)
        account = account.sort_values(["platform", "account", "date"], kind="stable", na_position="last")
    else:
        account = pd.DataFrame()
    account = conform(account, ACCOUNT_SCHEMA, table="account")

    code_parts = [o.frame for o in outcomes if o.table == "codes" and len(o.frame)]
    if code_parts:
        codes = pd.concat(code_parts, ignore_index=True)
        rank = codes["source_file"].map(order)
        codes, dropped = _latest_wins(codes, ["post_id", "coder"], rank)
        for f, c in dropped.drop_duplicates(["source_file", "source_row"])["source_file"].value_counts().items():
            superseded_across[(f, "codes")] += int(c)
    else:
        codes = pd.DataFrame()
    codes = conform(codes, CODES_SCHEMA, table="codes")

    files = []
    for o in outcomes:
        extra = superseded_across[(o.file, o.table)]
        entry = file_log(o, rows_kept=o.rows_kept - extra, rows_superseded=o.rows_superseded + extra)
        files.append(entry)
        warnings.extend(o.warnings)
    quarantine = combine_quarantine([o.quarantine for o in outcomes])
    return IngestResult(posts=posts, account=account, codes=codes, quarantine=quarantine,
                        log={"files": files, "warnings": warnings})


def _fill_account_identity(account: pd.DataFrame, posts: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Rows without platform/account (generic sheets) get the posts' single account, when there is one."""
    missing_platform = account["platform"].isna()
    missing_account = account["account"].isna() | (account["account"].astype("string") == "")
    if not (missing_platform | missing_account).any() or posts.empty:
        return account
    pairs = posts[["platform", "account"]].astype("string").drop_duplicates().dropna()
    if len(pairs) != 1:
        return account
    platform, handle = pairs.iloc[0]
    out = account.copy()
    fill_p = missing_platform
    fill_a = missing_account & (out["platform"].isna() | (out["platform"].astype("string") == platform))
    out.loc[fill_p, "platform"] = platform
    out.loc[fill_a, "account"] = handle
    files = sorted(set(out.loc[fill_p | fill_a, "source_file"]))
    warnings.append(f"account rows without platform/account in {files} assigned to the only account in the posts: "
                    f"{platform}/{handle}")
    return out


def _ingest(items: list[tuple[Path, Mapping[str, str] | None, str | None, str | None]], *, root: Path | None,
            now, binary_codes) -> IngestResult:
    if now is not None:
        now = pd.Timestamp(now)
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    outcomes = []
    seen = set()
    for path, cmap, expect, listed_as in items:
        path = Path(path)
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        outcomes.extend(_read_one(path, label=_relative(path, root), column_map=cmap, now=now,
                                  binary_codes=binary_codes, expect_table=expect, listed_as=listed_as))
    return _assemble(outcomes, [])


def read_exports(dataset: Dataset, *, now: pd.Timestamp | None = None,
                 binary_codes: Collection[str] | None = None) -> IngestResult:
    """Read every export a dataset card lists into the canonical tables.

    Parameters
    ----------
    dataset
        The validated card: ``post_files()``, ``account_files()`` (with column maps), ``code_files()``.
    now
        "Now" for the future-time check (posts more than 1 day ahead are quarantined); default: the clock.
    binary_codes
        Codes known to be binary (e.g. from the codebook); default: inferred per column (see coding_files).

    Returns
    -------
    IngestResult
        posts, account, codes, quarantine and the log (``ingest_log.json`` contents).
    """
    items = [(p, None, "posts", "posts") for p in dataset.post_files()]
    items += [(p, cmap, "account", "account") for p, cmap in dataset.account_files()]
    items += [(p, None, "codes", "codes") for p in dataset.code_files()]
    return _ingest(items, root=dataset.root, now=now, binary_codes=binary_codes)


def read_files(paths: Sequence[str | Path], *, root: str | Path | None = None,
               column_map: Mapping[str, str] | None = None, now=None,
               binary_codes: Collection[str] | None = None) -> IngestResult:
    """Read export files of any supported format; each file's table follows from its detected format.

    ``root``: folder the logged file names are relative to (default: the paths as given).
    ``column_map``: raw column name → canonical name, applied to generic account CSVs.
    """
    items = [(Path(p), column_map, None, None) for p in paths]
    return _ingest(items, root=None if root is None else Path(root), now=now, binary_codes=binary_codes)


def write_ingest_outputs(result: IngestResult, *, data_dir: str | Path, results_dir: str | Path) -> dict[str, Path]:
    """Atomically write posts/account/codes.parquet and quarantine.csv to ``data_dir`` and
    ``ingest_log.json`` to ``results_dir``; return ``{name: path}``."""
    data_dir, results_dir = Path(data_dir), Path(results_dir)
    return {
        "posts": write_parquet(data_dir / "posts.parquet", result.posts),
        "account": write_parquet(data_dir / "account.parquet", result.account),
        "codes": write_parquet(data_dir / "codes.parquet", result.codes),
        "quarantine": write_csv(data_dir / "quarantine.csv", result.quarantine),
        "ingest_log": write_json(results_dir / "ingest_log.json", result.log),
    }


def summarize_ingest(log: dict) -> pd.DataFrame:
    """Per-file table for display: file, format, table, read, kept, quarantined, superseded."""
    cols = ["file", "format", "table", "read", "kept", "quarantined", "superseded"]
    rows = [
        {"file": f["file"], "format": f["format"], "table": f["table"], "read": f["rows_read"],
         "kept": f["rows_kept"], "quarantined": f["rows_quarantined"], "superseded": f["rows_superseded"]}
        for f in log.get("files", [])
    ]
    return pd.DataFrame(rows, columns=cols)
