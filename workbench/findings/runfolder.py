"""Reading the run folder for the findings: every stage result, absent or broken files named, never fatal."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..pipeline import ANALYSIS_LIBRARIES, RunPaths, library_versions  # noqa: F401 - re-exported (findings)
from ..schema import check_columns

SCHEMA_VERSION = 1

REGRESSION_COLUMNS = ("outcome", "model", "term", "estimate", "ci_low", "ci_high")
POST_COLUMNS = (
    "post_id",
    "platform",
    "account",
    "published_at",
    "text",
    "permalink",
    "impressions",
    "engagements",
    "hour_local",
    "weekday_local",
    "is_reply",
    "is_repost",
    "post_type",
    "impressions_label",  # the platform's own name of what impressions holds ("Views" on Meta)
    "reach",
    "media_type",
    "followers_at_post",  # the before/after per platform holds audience size constant
    "is_own_post",  # collab posts by another account are left out of the per-platform before/after
)


def num(x: Any) -> float | None:
    """Return ``x`` as a finite float, or None for missing/NaN/non-numeric values."""
    if x is None or x is pd.NA:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


_num = num


# --------------------------------------------------------------------------------------------------------------
# Reading the run folder
# --------------------------------------------------------------------------------------------------------------


@dataclass
class RunResults:
    """What the earlier stages left in a run folder; ``None`` where a file is absent or unreadable."""

    run_dir: Path
    posts: pd.DataFrame | None = None
    account: pd.DataFrame | None = None
    quarantine_reasons: pd.Series | None = None
    ingest_log: dict | None = None
    reliability: pd.DataFrame | None = None
    regression: pd.DataFrame | None = None
    models: dict | None = None
    growth: dict | None = None
    manifest: dict | None = None
    run_status: dict | None = None
    #: ``results/publications.json`` (the publications stage; None in a run folder from before it existed).
    publications: dict | None = None
    #: relative path → why it could not be read (present but broken files).
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.run_dir)

    def missing_note(self, relpath: str | Path, what: str) -> str:
        """Say plainly why ``what`` is not in the report (``relpath``: relative, or a :class:`RunPaths` path)."""
        relpath = self.paths.rel(relpath) if isinstance(relpath, Path) else relpath
        if relpath in self.problems:
            return f"{what} is not available: {relpath} could not be read ({self.problems[relpath]})."
        return f"{what} is not available: {relpath} was not found in the run folder."


def _read_optional(
    run_dir: Path, relpath: str, reader: Callable[[Path], Any], problems: dict[str, str]
) -> Any:
    path = run_dir / relpath
    if not path.is_file():
        return None
    try:
        return reader(path)
    except Exception as exc:  # a broken optional file must not stop the report; it is named in it instead
        problems[relpath] = f"{type(exc).__name__}: {exc}"
        return None


def _read_json_object(path: Path) -> dict:
    obj = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, found {type(obj).__name__}")
    return obj


def _read_posts(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    from ..results import read_parquet

    names = pq.read_schema(path).names
    # text columns stay Arrow strings (same values; at 1M posts 1.3 GB of Python strings and ~1 s not made)
    return read_parquet(path, columns=[c for c in POST_COLUMNS if c in names])


def _read_quarantine_reasons(path: Path) -> pd.Series:
    reasons = pd.read_csv(path, usecols=["reason"], dtype="string")["reason"].fillna("(no reason given)")
    return reasons.value_counts()


def _read_growth(path: Path) -> dict:
    growth = _read_json_object(path)
    for key in ("periods", "series", "comparisons", "monthly_series", "interventions"):
        value = growth.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise InputError(f"{key!r} must be a list of objects, found {value!r:.80}", file=path.name)
    for key in ("slope_change", "equivalence", "monthly", "counterfactual"):
        if growth.get(key) is not None and not isinstance(growth[key], dict):
            raise InputError(f"{key!r} must be an object, found {growth[key]!r:.80}", file=path.name)
    return growth


def _read_regression(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    check_columns(table, REGRESSION_COLUMNS, table=f"regression ({path.name})")
    return table


def _read_reliability(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    check_columns(table, ["code"], table=f"reliability ({path.name})")
    return table


def read_run_results(run_dir: str | Path) -> RunResults:
    """Return everything the report needs from a run folder; absent or unreadable files become ``None``.

    Files that exist but cannot be read are listed in ``problems`` (shown in the report's data appendix).
    """
    run_dir = Path(run_dir)
    paths = RunPaths(run_dir)
    problems: dict[str, str] = {}

    def read(path: Path, reader: Callable[[Path], Any]) -> Any:
        return _read_optional(run_dir, paths.rel(path), reader, problems)

    return RunResults(
        run_dir=run_dir,
        posts=read(paths.posts_coded, _read_posts),
        account=read(paths.account, pd.read_parquet),
        quarantine_reasons=read(paths.quarantine, _read_quarantine_reasons),
        ingest_log=read(paths.ingest_log, _read_json_object),
        reliability=read(paths.reliability, _read_reliability),
        regression=read(paths.regression, _read_regression),
        models=read(paths.models, _read_json_object),
        growth=read(paths.growth, _read_growth),
        manifest=read(paths.manifest, _read_json_object),
        run_status=read(paths.run_status, _read_json_object),
        publications=read(paths.publications_summary, _read_json_object),
        problems=problems,
    )


def _as_mapping(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _as_records(x: Any) -> list[Mapping[str, Any]]:
    return [r for r in x if isinstance(r, Mapping)] if isinstance(x, list) else []


