"""The findings step: every number and verdict the report shows, computed from the run folder's results.

``compute_findings`` reads what the stages left in a run folder (:class:`RunResults`, through
:class:`~workbench.pipeline.RunPaths`) and derives what the report states: the key figures and their change
against the previous period of equal length, the before/after medians at the first intervention, the primary
model's effects with their verdicts, the terms each model really had (predictors, controls, dropped terms with
the reason), the growth comparisons, the goals, the unreliable manual codes and which stages failed. Each record
names the model or rule it came from (``source``). ``write_findings`` stores them as ``results/findings.json``;
:mod:`workbench.report` only renders them (no statistics there).

``findings.json`` (``schema_version`` 1) holds: ``generated``, ``versions`` (Python and analysis libraries),
``date_range``, ``key_figures``, ``previous_period``, ``split``, ``period_change``, ``effects``,
``model_terms``, ``growth``, ``goals``, ``low_reliability``, ``thin_effects``, ``stage_status``, ``problems``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import platform
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import __version__
from .dataset import Dataset, Goal
from .errors import InputError
from .io import write_json
from .models import SUMMARY_KEYS
from .pipeline import STAGE_NAMES, RunPaths
from .plots import select_predictor_rows
from .schema import check_columns
from .vocab import ALPHA_TENTATIVE, SIGNIFICANCE, label_feature  # noqa: F401 (re-exported)

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
)
#: libraries whose versions can change a number in the report (listed in the manifest and the report).
ANALYSIS_LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "pyarrow", "matplotlib", "seaborn", "jinja2")


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


def library_versions() -> dict[str, str]:
    """Python and the analysis libraries' versions, as installed ("not installed" where absent)."""
    out = {"python": platform.python_version(), "workbench": __version__}
    for name in ANALYSIS_LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


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

    names = pq.read_schema(path).names
    return pd.read_parquet(path, columns=[c for c in POST_COLUMNS if c in names])


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
        problems=problems,
    )


# --------------------------------------------------------------------------------------------------------------
# Numbers for humans
# --------------------------------------------------------------------------------------------------------------


def _effect_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Add effect_pct and its CI where the table lacks them (100·(exp(b) − 1))."""
    out = rows.copy()
    for name, source in (
        ("effect_pct", "estimate"),
        ("effect_pct_ci_low", "ci_low"),
        ("effect_pct_ci_high", "ci_high"),
    ):
        computed = 100.0 * np.expm1(pd.to_numeric(out[source], errors="coerce"))
        out[name] = pd.to_numeric(out[name], errors="coerce").fillna(computed) if name in out else computed
    return out


def primary_effects(regression: pd.DataFrame, *, model: str = "ols_log") -> pd.DataFrame:
    """Return the predictor rows of the primary model with % change, CI, the p used and ``supported``.

    ``supported`` means Holm-adjusted p < 0.05 (unadjusted p when the table has no ``p_holm``).
    """
    frames = [
        select_predictor_rows(regression, outcome=o, model=model)
        for o in pd.unique(regression["outcome"].astype(str))
    ]
    rows = pd.concat(frames, ignore_index=True) if frames else regression.iloc[0:0]
    rows = _effect_columns(rows)
    p_col = "p_holm" if "p_holm" in rows and rows["p_holm"].notna().any() else "p_value"
    rows["p_used"] = pd.to_numeric(rows[p_col], errors="coerce") if p_col in rows else np.nan
    rows["p_kind"] = "Holm-adjusted" if p_col == "p_holm" else "unadjusted"
    rows["supported"] = rows["p_used"] < SIGNIFICANCE
    return rows


@dataclass(frozen=True)
class GrowthComparison:
    """One before/after comparison of growth, with the labels of the two periods and the intervention.

    ``named`` is True when ``label`` names an event (an intervention of the card or of growth.json); False
    when it is only the later period's label, so sentences say "from <date> on" instead of "after <label>".
    """

    index: int
    label: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    results: Mapping[str, Any]
    named: bool = True


def growth_comparisons(
    growth: Mapping[str, Any], *, interventions: Sequence[Any] = ()
) -> list[GrowthComparison]:
    """Return the consecutive-period comparisons of ``growth.json`` (``comparisons`` or the top-level keys)."""
    periods = list(growth.get("periods") or [])
    if len(periods) < 2:
        return []
    raw = growth.get("comparisons") or [growth]
    out = []
    for i, comp in enumerate(raw[: len(periods) - 1]):
        if not isinstance(comp, Mapping):
            continue
        label = comp.get("intervention") or comp.get("label")
        if isinstance(label, Mapping):
            label = label.get("label")
        if not label and i < len(interventions):
            label = getattr(interventions[i], "label", None)
        named = bool(label)
        if not label:
            after = comp.get("after") if isinstance(comp.get("after"), str) else None
            label = after or periods[i + 1].get("label") or f"change {i + 1}"
        out.append(GrowthComparison(i, str(label), periods[i], periods[i + 1], comp, named))
    return out


def _rate(period: Mapping[str, Any]) -> tuple[float | None, Any]:
    """A period's growth rate per day and its CI: the increments model's ``rate_per_day`` where growth.json has
    it (the rigorous form), else the published per-period level fit (``slope_per_day``)."""
    if _num(period.get("rate_per_day")) is not None:
        return _num(period.get("rate_per_day")), period.get("rate_ci")
    return _num(period.get("slope_per_day")), period.get("slope_ci")



def _main_account_series(account: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """Return date/value of ``metric`` for the main account (sorted, NA dropped).

    The main account is chosen by the growth stage's rule (:func:`workbench.growth._select_account`: the
    platform/account with the most observations of ``metric``), so the report and growth.json speak of one
    account.
    """
    from .growth import _select_account  # one rule for "which account" (growth owns it)

    if account is None or metric not in account.columns or "date" not in account.columns:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    frame = account.assign(
        value=pd.to_numeric(account[metric], errors="coerce"), date=pd.to_datetime(account["date"])
    )
    frame = frame.dropna(subset=["value", "date"])
    if frame.empty:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    frame = _select_account(frame, metric)[0]
    return frame[["date", "value"]].sort_values("date").reset_index(drop=True)


def _growth_series(growth: Mapping[str, Any] | None, metric: str) -> pd.DataFrame:
    if not growth or growth.get("metric") != metric or not growth.get("series"):
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    frame = pd.DataFrame(growth["series"])
    frame = pd.DataFrame({"date": pd.to_datetime(frame["date"]), "value": pd.to_numeric(frame["value"])})
    return frame.dropna().sort_values("date").reset_index(drop=True)


def metric_series(
    account: pd.DataFrame | None, growth: Mapping[str, Any] | None, metric: str
) -> pd.DataFrame:
    """Return the dated values of an account-level metric: the account table, else the growth series."""
    series = _main_account_series(account, metric)
    return series if not series.empty else _growth_series(growth, metric)


def engagement_rates(posts: pd.DataFrame) -> pd.Series:
    """Return engagements / impressions per post, for posts with impressions > 0 and engagements reported."""
    imp = pd.to_numeric(posts["impressions"], errors="coerce").astype(float)
    eng = pd.to_numeric(posts["engagements"], errors="coerce").astype(float)
    ok = (imp > 0) & eng.notna()
    return (eng[ok] / imp[ok]).rename("engagement_rate")


def compute_key_figures(
    posts: pd.DataFrame | None, account: pd.DataFrame | None, growth: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the headline numbers: posts, impressions (total, median), median engagement rate, followers.

    Missing inputs give None values. ``followers_per_day`` is (end − start) / days between the first and the
    last follower count.
    """
    out: dict[str, Any] = dict.fromkeys(
        (
            "n_posts",
            "impressions_total",
            "impressions_median",
            "engagement_rate_median",
            "n_rated",
            "followers_start",
            "followers_end",
            "followers_start_date",
            "followers_end_date",
            "followers_per_day",
        )
    )
    if posts is not None:
        out["n_posts"] = len(posts)
        if "impressions" in posts:
            imp = pd.to_numeric(posts["impressions"], errors="coerce").dropna()
            out["impressions_total"] = float(imp.sum()) if len(imp) else None
            out["impressions_median"] = float(imp.median()) if len(imp) else None
        if {"impressions", "engagements"} <= set(posts.columns):
            rates = engagement_rates(posts)
            out["n_rated"] = len(rates)
            out["engagement_rate_median"] = float(rates.median()) if len(rates) else None
    followers = metric_series(account, growth, "followers")
    if len(followers) >= 1:
        first, last = followers.iloc[0], followers.iloc[-1]
        out.update(
            followers_start=float(first["value"]),
            followers_end=float(last["value"]),
            followers_start_date=first["date"],
            followers_end_date=last["date"],
        )
        days = (last["date"] - first["date"]) / pd.Timedelta(days=1)
        if days > 0:
            out["followers_per_day"] = (float(last["value"]) - float(first["value"])) / days
    return out


def reconcile_totals(posts: pd.DataFrame | None, account: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Per-post totals against the account table's totals of the same metric over the same dates.

    One record per metric (impressions, engagements, posts) both tables report: ``per_post`` (sum over the posts
    table: the figure the report uses), ``account`` (sum of the main account's rows dated within the posts' first
    and last day), ``difference`` and ``difference_pct``. The report states the per-post figure and shows the
    account figure beside it when they differ by more than 0.5%, with the usual reasons. [] when either is absent.
    """
    if posts is None or account is None or "date" not in account or "published_at" not in posts:
        return []
    when = pd.to_datetime(posts["published_at"]).dropna()
    if when.empty:
        return []
    first, last = when.min(), when.max()
    first = first.tz_convert(None) if first.tzinfo else first
    last = last.tz_convert(None) if last.tzinfo else last
    out = []
    for metric in ("impressions", "engagements", "posts"):
        if metric not in account.columns or not account[metric].notna().any():
            continue
        if metric == "posts":
            per_post = float(len(posts))
        elif metric in posts.columns and posts[metric].notna().any():
            per_post = float(pd.to_numeric(posts[metric], errors="coerce").sum())
        else:
            continue
        series = _main_account_series(account, metric)
        dates = series["date"].dt.tz_localize(None) if series["date"].dt.tz is not None else series["date"]
        inside = series[(dates >= first.normalize()) & (dates <= last.normalize())]
        if inside.empty:
            continue
        total = float(inside["value"].sum())
        diff = total - per_post
        out.append({"metric": metric, "per_post": per_post, "account": total, "difference": diff,
                    "difference_pct": 100 * diff / per_post if per_post else None,
                    "source": "posts_coded (sum) vs account table, main account, rows dated within the posts' "
                              "first and last day"})
    return out


def _current_rate(
    series: pd.DataFrame, growth: Mapping[str, Any] | None, metric: str, since: dt.date | None
) -> float | None:
    """Per-day rate of ``metric`` now: the last period's fitted slope, else a straight-line fit since ``since``."""
    if growth and growth.get("metric") == metric and growth.get("periods"):
        slope = _rate(growth["periods"][-1])[0]
        if slope is not None:
            return slope
    recent = series if since is None else series[series["date"] >= pd.Timestamp(since)]
    if len(recent) < 3:
        recent = series
    if len(recent) < 2 or recent["date"].nunique() < 2:
        return None
    days = (recent["date"] - recent["date"].iloc[0]) / pd.Timedelta(days=1)
    return float(np.polyfit(days.to_numpy(dtype=float), recent["value"].to_numpy(dtype=float), 1)[0])


def assess_goals(
    goals: Iterable[Goal],
    *,
    account: pd.DataFrame | None,
    growth: Mapping[str, Any] | None = None,
    since: dt.date | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Return one row per goal: target, deadline, actual (latest value), rate, projected date and status.

    Status is ``met`` (latest value ≥ target), ``on track`` (the current rate reaches the target by the
    deadline), ``not on track``, ``not met (deadline passed)`` or ``not available`` (no data for the metric). The current rate is the last growth period's fitted slope when the goal's metric is the growth
    metric, else a straight-line fit of the metric since ``since`` (the last intervention).
    """
    today = today or dt.date.today()
    rows = []
    for goal in goals:
        series = metric_series(account, growth, goal.metric)
        row = {
            "label": goal.label or f"{goal.metric} {goal.target:,g}",
            "metric": goal.metric,
            "target": goal.target,
            "by": goal.by,
            "actual": None,
            "actual_date": None,
            "rate_per_day": None,
            "projected_date": None,
            "status": "not available",
        }
        if not series.empty:
            actual, when = float(series["value"].iloc[-1]), series["date"].iloc[-1]
            rate = _current_rate(series, growth, goal.metric, since)
            row.update(actual=actual, actual_date=when.date(), rate_per_day=rate)
            if actual >= goal.target:
                row["status"] = "met"
            else:
                if rate is not None and rate > 0:
                    row["projected_date"] = (
                        when + pd.Timedelta(days=math.ceil((goal.target - actual) / rate))
                    ).date()
                if today > goal.by:
                    row["status"] = "not met (deadline passed)"
                elif row["projected_date"] is not None and row["projected_date"] <= goal.by:
                    row["status"] = "on track"
                else:
                    row["status"] = "not on track"
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            "label",
            "metric",
            "target",
            "by",
            "actual",
            "actual_date",
            "rate_per_day",
            "projected_date",
            "status",
        ],
    )


def low_reliability_codes(reliability: pd.DataFrame | None, terms: Iterable[str]) -> pd.DataFrame:
    """Return the reliability rows of codes with Krippendorff's α < 0.667 that enter a model as a term."""
    if reliability is None or "code" not in reliability or "krippendorff_alpha" not in reliability:
        return pd.DataFrame(columns=["code", "term", "krippendorff_alpha"])
    terms = set(map(str, terms))
    rel = reliability.assign(alpha=pd.to_numeric(reliability["krippendorff_alpha"], errors="coerce"))
    code = rel["code"].astype(str)
    term = np.where(code.isin(terms), code, "has_" + code)
    rel = rel.assign(term=term)
    low = rel[(rel["alpha"] < ALPHA_TENTATIVE) & rel["term"].isin(terms)]
    return (
        low[["code", "term", "alpha"]].rename(columns={"alpha": "krippendorff_alpha"}).reset_index(drop=True)
    )


# --------------------------------------------------------------------------------------------------------------
# Before/after change of post-level medians, thin features, handles, codebook
# --------------------------------------------------------------------------------------------------------------


def median_ci_ranks(n: int, *, level: float = 0.95) -> tuple[int, int, float] | None:
    """Return the 1-based ranks (l, u) of the distribution-free CI of a median and its exact coverage.

    The interval [x₍ₗ₎, x₍ᵤ₎] with u = n − l + 1 covers the population median with probability
    1 − 2·P(Binomial(n, ½) ≤ l − 1) ≥ ``level`` for any continuous distribution. None when n is too small for
    such an interval (n ≤ 5 at 95%).
    """
    if n < 1:
        return None
    alpha = 1.0 - level
    lower = int(stats.binom.ppf(alpha / 2, n, 0.5))  # smallest k with P(B ≤ k) ≥ α/2, so P(B ≤ k − 1) < α/2
    if lower < 1:
        return None
    coverage = 1.0 - 2.0 * float(stats.binom.cdf(lower - 1, n, 0.5))
    return lower, n - lower + 1, coverage


def _log_median_se(sorted_values: np.ndarray, *, level: float) -> float | None:
    ranks = median_ci_ranks(len(sorted_values), level=level)
    if ranks is None:
        return None
    lower, upper, coverage = ranks
    lo, hi = sorted_values[lower - 1], sorted_values[upper - 1]
    if lo <= 0:
        return None
    z = float(stats.norm.ppf(1.0 - (1.0 - coverage) / 2.0))
    return (math.log(hi) - math.log(lo)) / (2.0 * z)


def ratio_of_medians(before: Any, after: Any, *, level: float = 0.95) -> dict[str, Any]:
    """Return the medians of two samples, their ratio (after ÷ before) and a distribution-free CI of the ratio.

    Returns
    -------
    dict
        ``n_before``, ``n_after``, ``median_before``, ``median_after``, ``ratio`` (None unless the earlier
        median is > 0) and ``ratio_ci`` ([low, high], or [None, None] when a group is too small (n ≤ 5) or
        its lower order statistic is not positive). Missing values are dropped.

    Notes
    -----
    Each median's standard error on the log scale is read off its distribution-free (binomial order
    statistic) confidence interval: se = (ln x₍ᵤ₎ − ln x₍ₗ₎) / (2·z), with z matching the interval's exact
    coverage; the two are combined as for independent samples, ln(ratio) ± z₀.₉₇₅·√(se₁² + se₂²). This is the
    construction of Price & Bonett (2002, J. Stat. Comput. Simul. 72:119–124) with the 95% order statistics.
    It needs no resampling, so it costs one sort even at a million posts.
    """
    a = np.sort(pd.to_numeric(pd.Series(before, dtype="object"), errors="coerce").dropna().to_numpy(float))
    b = np.sort(pd.to_numeric(pd.Series(after, dtype="object"), errors="coerce").dropna().to_numpy(float))
    out: dict[str, Any] = {
        "n_before": len(a),
        "n_after": len(b),
        "median_before": float(np.median(a)) if len(a) else None,
        "median_after": float(np.median(b)) if len(b) else None,
        "ratio": None,
        "ratio_ci": [None, None],
        "level": level,
    }
    if not len(a) or not len(b) or out["median_before"] <= 0:
        return out
    out["ratio"] = out["median_after"] / out["median_before"]
    se_a, se_b = _log_median_se(a, level=level), _log_median_se(b, level=level)
    if se_a is None or se_b is None or out["ratio"] <= 0:
        return out
    half = float(stats.norm.ppf(0.5 + level / 2)) * math.hypot(se_a, se_b)
    out["ratio_ci"] = [out["ratio"] * math.exp(-half), out["ratio"] * math.exp(half)]
    return out


def compare_post_medians(
    posts: pd.DataFrame, *, split: dt.date, timezone: str = "UTC", level: float = 0.95
) -> pd.DataFrame:
    """Return median impressions per post and median engagement rate before vs from ``split``, with CIs.

    A post belongs to "after" when its publication date in ``timezone`` is on or after ``split``. One row per
    metric (``impressions``, ``engagement_rate``; a metric the posts lack is left out): metric, n_before,
    n_after, median_before, median_after, ratio (after ÷ before), ratio_ci_low, ratio_ci_high (floats, NaN
    where not estimable) — see :func:`ratio_of_medians` for the interval.
    """
    check_columns(posts, ["published_at"], table="posts_coded")
    when = pd.to_datetime(posts["published_at"])
    when = when.dt.tz_localize("UTC") if when.dt.tz is None else when
    local_day = when.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    after = (local_day >= pd.Timestamp(split)).to_numpy()
    known = when.notna().to_numpy()
    samples = {}
    if "impressions" in posts:
        samples["impressions"] = pd.to_numeric(posts["impressions"], errors="coerce").astype(float)
    if {"impressions", "engagements"} <= set(posts.columns):
        samples["engagement_rate"] = engagement_rates(posts).reindex(posts.index)
    rows = []
    for metric, values in samples.items():  # two metrics
        v = values.to_numpy(dtype=float)
        res = ratio_of_medians(v[known & ~after], v[known & after], level=level)
        low, high = res["ratio_ci"]
        rows.append(
            {
                "metric": metric,
                "n_before": res["n_before"],
                "n_after": res["n_after"],
                "median_before": res["median_before"],
                "median_after": res["median_after"],
                "ratio": res["ratio"],
                "ratio_ci_low": low,
                "ratio_ci_high": high,
            }
        )
    values = ["median_before", "median_after", "ratio", "ratio_ci_low", "ratio_ci_high"]
    table = pd.DataFrame(rows, columns=["metric", "n_before", "n_after", *values])
    # None (no estimate) becomes NaN so the value columns are plain floats
    return table.astype({"n_before": "int64", "n_after": "int64", **dict.fromkeys(values, "float64")})


_RARE_FLAG = re.compile(r"^rare level: (?P<term>.+) \((?P<what>with|without): (?P<count>\d+)\)$")
_RARE_WARNING = re.compile(
    r"^(?P<outcome>[^:]+): only (?P<count>\d+) of (?P<n>\d+) posts (?P<what>with|without) "
    r"'(?P<term>[^']+)' \(fewer than"
)


def find_thin_effects(models: Mapping[str, Any] | None) -> dict[tuple[str, str], str]:
    """Return {(outcome, term): reason} for binary features with too few posts in a level to judge.

    Read from ``results/models.json``: ``diagnostics[outcome]["flags"]`` entries ``rare level: TERM (with: N)``
    and, for files without diagnostics, the matching warnings (``OUTCOME: only N of M posts with 'TERM' …``).
    Anything else in the file is ignored, so an older or partial models.json gives an empty result.
    """
    found: dict[tuple[str, str], list[str]] = {}

    def add(outcome: str, term: str, what: str, count: str) -> None:
        reason = f"only {int(count)} post{'s' if int(count) != 1 else ''} {what} it"
        reasons = found.setdefault((outcome, term), [])
        if reason not in reasons:
            reasons.append(reason)

    models = models if isinstance(models, Mapping) else {}
    diagnostics = models.get("diagnostics")
    if isinstance(diagnostics, Mapping):
        for outcome, diag in diagnostics.items():
            flags = diag.get("flags") if isinstance(diag, Mapping) else None
            for flag in flags if isinstance(flags, list) else []:
                m = _RARE_FLAG.match(str(flag))
                if m:
                    add(str(outcome), m["term"], m["what"], m["count"])
    warnings_list = models.get("warnings")
    for text in warnings_list if isinstance(warnings_list, list) else []:
        m = _RARE_WARNING.match(str(text))
        if m:
            add(m["outcome"], m["term"], m["what"], m["count"])
    return {key: " and ".join(reasons) for key, reasons in found.items()}



_DIAGNOSTIC_KEYS = (
    "n",
    "n_total",
    "n_dropped",
    "dropped",
    "vif",
    "flags",
    "zero_share",
    "residuals",
    "overdispersion",
    "influential",
    "n_cook_above_4_over_n",
    "separation",
    "controls_sensitivity",
    "rate_model",
)


def _as_mapping(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _as_records(x: Any) -> list[Mapping[str, Any]]:
    return [r for r in x if isinstance(r, Mapping)] if isinstance(x, list) else []


def list_diagnosed_outcomes(models: Mapping[str, Any] | None) -> list[str]:
    """Return the outcomes that have a diagnostics entry in ``results/models.json``, in file order.

    An entry counts when it is an object with at least one of the keys ``fit_post_models`` writes; the summary
    keys (``primary``, ``sensitivity``) and anything else are ignored.
    """
    diagnostics = _as_mapping(_as_mapping(models).get("diagnostics"))
    return [
        str(outcome)
        for outcome, diag in diagnostics.items()
        if outcome not in SUMMARY_KEYS
        and isinstance(diag, Mapping)
        and any(key in diag for key in _DIAGNOSTIC_KEYS)
    ]


def tabulate_controls_sensitivity(models: Mapping[str, Any] | None, *, outcome: str) -> pd.DataFrame:
    """Return the controls sensitivity of one outcome's features (ols_log) from ``results/models.json``.

    Read from ``diagnostics["sensitivity"]`` (records), else from ``diagnostics[outcome]["controls_sensitivity"]``
    (term → row). Only predictors are kept: a term that the outcome's ``terms`` map names as anything but a
    predictor (a control, the intercept) is left out.

    Returns
    -------
    DataFrame
        Columns ``term``, ``effect_pct_without_controls``, ``effect_pct_with_controls``, ``change_pct_points``
        and ``n`` (floats; NaN where the file has no number), one row per feature in file order; empty when the
        file has no sensitivity for ``outcome``.
    """
    columns = ["term", "effect_pct_without_controls", "effect_pct_with_controls", "change_pct_points", "n"]
    diagnostics = _as_mapping(_as_mapping(models).get("diagnostics"))
    diag = _as_mapping(diagnostics.get(outcome))
    records = [
        r
        for r in _as_records(diagnostics.get("sensitivity"))
        if str(r.get("outcome")) == outcome and "term" in r
    ]
    if not records:
        records = [
            {**row, "term": term}
            for term, row in _as_mapping(diag.get("controls_sensitivity")).items()
            if isinstance(row, Mapping)
        ]
    terms = _as_mapping(diag.get("terms"))
    rows = [
        [str(r["term"]), *(_num(r.get(c)) for c in columns[1:])]
        for r in records
        if str(r["term"]) != "Intercept" and terms.get(str(r["term"]), "predictor") == "predictor"
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({c: "float64" for c in columns[1:]})




# --------------------------------------------------------------------------------------------------------------
# What the models really had: fitted predictors and controls, dropped terms with the reason
# --------------------------------------------------------------------------------------------------------------

#: models.json warnings about a dropped term (``fit_post_models``' wording) → the reason in words.
_DROP_PATTERNS = (
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is not a column", re.I),
     "not in the data (no such column in posts_coded)"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is entirely NA", re.I),
     "no post has a value for it"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is constant", re.I),
     "it has the same value for every post, so nothing can be compared"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' has a single value", re.I),
     "it has a single value in the posts used, so nothing can be compared"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is an exact linear", re.I),
     "it duplicates the other terms (an exact combination of them)"),
)
_CONTROL_BASES = ("followers_at_post", "log_followers_at_post", "year", "hour_local", "weekday_local")


def _typed_terms(models: Mapping[str, Any], outcome: str, model: str) -> dict[str, str] | None:
    """``fitted_terms`` records of models.json (term → role) for one outcome × model, when the file has them."""
    typed = _as_mapping(models).get("fitted_terms")
    if isinstance(typed, list):
        rows = [
            r for r in _as_records(typed)
            if str(r.get("outcome", outcome)) == outcome and str(r.get("model", model)) == model and "term" in r
        ]
        return {str(r["term"]): str(r.get("role") or r.get("term_type") or "predictor") for r in rows} or None
    entry = _as_mapping(typed).get(outcome)
    if isinstance(entry, Mapping) and model in entry:
        entry = entry[model]
    if isinstance(entry, Mapping):
        return {str(t): str(role) for t, role in entry.items()}
    if isinstance(entry, list):
        return {
            str(r.get("term")): str(r.get("role") or r.get("term_type") or "predictor")
            for r in _as_records(entry)
        } or {str(t): "predictor" for t in entry if isinstance(t, str)} or None
    return None


def fitted_terms(
    models: Mapping[str, Any] | None, regression: pd.DataFrame | None, *, outcome: str, model: str
) -> tuple[dict[str, str], str]:
    """Return (term → role, source) of the terms one fitted model really had (roles: predictor, control).

    Read, in this order, from models.json's typed ``fitted_terms`` records, from ``diagnostics[outcome].terms``
    (ols_log), and from the rows of regression.csv (``term_type`` where present, else by the term's name).
    """
    typed = _typed_terms(models or {}, outcome, model)
    if typed:
        return ({t: r for t, r in typed.items() if t != "Intercept"}, "models.json fitted_terms")
    diag = _as_mapping(_as_mapping(_as_mapping(models).get("diagnostics")).get(outcome))
    terms = _as_mapping(diag.get("terms"))
    if terms and model == "ols_log":
        return ({str(t): str(r) for t, r in terms.items() if t != "Intercept"}, "models.json diagnostics terms")
    if regression is None:
        return {}, "not available"
    rows = regression[(regression["outcome"].astype(str) == outcome) & (regression["model"].astype(str) == model)]
    out = {}
    for row in rows.to_dict("records"):
        term = str(row["term"])
        if term == "Intercept":
            continue
        role = row.get("term_type")
        if not isinstance(role, str):
            role = "control" if term.split("[", 1)[0] in _CONTROL_BASES else "predictor"
        out[term] = role
    return out, "regression.csv terms"


def dropped_terms(models: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return the predictors and controls the models left out, each with the reason in words.

    Read from models.json's typed ``dropped`` records (``term``, ``role``, ``reason``/``message``, ``outcome``)
    when present, else from its warnings (``fit_post_models``' wording). One record per term and reason.
    """
    models = _as_mapping(models)
    out: list[dict[str, Any]] = []
    seen = set()
    typed = models.get("dropped")
    for r in _as_records(typed):
        if "term" not in r:
            continue
        reason = str(r.get("reason") or r.get("message") or r.get("code") or "dropped")
        key = (str(r["term"]), reason)
        if key not in seen:
            seen.add(key)
            out.append({"term": str(r["term"]), "role": str(r.get("role") or "predictor"), "reason": reason,
                        "outcome": r.get("outcome"), "source": "models.json dropped"})
    if out:
        return out
    for text in models.get("warnings") or []:
        text = str(text.get("message", "")) if isinstance(text, Mapping) else str(text)
        for pattern, reason in _DROP_PATTERNS:
            m = pattern.match(text)
            if m:
                key = (m["term"], reason)
                if key not in seen:
                    seen.add(key)
                    out.append({"term": m["term"], "role": m["role"].lower(), "reason": reason,
                                "outcome": m["outcome"], "source": "models.json warnings"})
                break
    return out


# --------------------------------------------------------------------------------------------------------------
# Change against the previous period of equal length; stage status
# --------------------------------------------------------------------------------------------------------------

#: the key figures compare the latest this-many days with the same number of days before them (or halves of the
#: data's span when it is shorter than twice this).
PREVIOUS_PERIOD_DAYS = 90


def previous_period_change(
    posts: pd.DataFrame | None, account: pd.DataFrame | None, *, timezone: str = "UTC",
    days: int = PREVIOUS_PERIOD_DAYS,
) -> dict[str, Any] | None:
    """Compare the latest period with the previous period of equal length (posts and followers).

    The latest period is the last ``days`` days of the posts (by local publication date, the last day
    included); the previous period the ``days`` days before it. When the posts span less than ``2·days`` days,
    each period is half the span (whole days). Medians come with the distribution-free CI of their ratio
    (:func:`ratio_of_medians`); counts and totals are whole-population figures and have no interval.
    None when there are no dated posts or the span is under two days.
    """
    if posts is None or "published_at" not in posts or not posts["published_at"].notna().any():
        return None
    when = pd.to_datetime(posts["published_at"])
    when = when.dt.tz_localize("UTC") if when.dt.tz is None else when
    day = when.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    first, last = day.min(), day.max()
    span = int((last - first) / pd.Timedelta(days=1)) + 1
    length = days if span >= 2 * days else span // 2
    if length < 1:
        return None
    cur_start = last - pd.Timedelta(days=length - 1)
    prev_start = cur_start - pd.Timedelta(days=length)
    cur = ((day >= cur_start) & (day <= last)).to_numpy()
    prev = ((day >= prev_start) & (day < cur_start)).to_numpy()
    rows = [{"key": "n_posts", "label": "Posts", "current": int(cur.sum()), "previous": int(prev.sum()),
             "kind": "count"}]
    if "impressions" in posts:
        imp = pd.to_numeric(posts["impressions"], errors="coerce").astype(float).to_numpy()
        rows.append({"key": "impressions_total", "label": "Impressions, total",
                     "current": float(np.nansum(imp[cur])), "previous": float(np.nansum(imp[prev])),
                     "kind": "total"})
        res = ratio_of_medians(imp[prev], imp[cur])
        rows.append({"key": "impressions_median", "label": "Impressions per post, median",
                     "current": res["median_after"], "previous": res["median_before"], "kind": "median",
                     "ratio": res["ratio"], "ratio_ci": res["ratio_ci"]})
    if {"impressions", "engagements"} <= set(posts.columns):
        rate = engagement_rates(posts).reindex(posts.index).to_numpy(dtype=float)
        res = ratio_of_medians(rate[prev], rate[cur])
        rows.append({"key": "engagement_rate_median", "label": "Engagement rate, median",
                     "current": res["median_after"], "previous": res["median_before"], "kind": "median",
                     "ratio": res["ratio"], "ratio_ci": res["ratio_ci"]})
    followers = _main_account_series(account, "followers")
    if len(followers) >= 2:
        f_day = followers["date"].dt.tz_localize(None) if followers["date"].dt.tz is not None else followers["date"]
        f_day = f_day.dt.normalize()

        x = ((f_day - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(dtype=float)
        y = followers["value"].to_numpy(dtype=float)

        def gained(start: pd.Timestamp, end: pd.Timestamp) -> float | None:
            """Level at the end of ``end`` minus level at the end of the day before ``start``, each linearly
            interpolated between the nearest follower counts (None where a boundary is outside the series)."""
            a = (start - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1) - 1
            b = (end - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            if a < x.min() or b > x.max():
                return None
            return float(np.interp(b, x, y) - np.interp(a, x, y))

        rows.append({"key": "followers_gained", "label": "Followers gained",
                     "current": gained(cur_start, last), "previous": gained(prev_start, cur_start - pd.Timedelta(days=1)),
                     "kind": "difference"})
    for row in rows:
        if "ratio" not in row:
            c, p = num(row["current"]), num(row["previous"])
            row["ratio"] = c / p if c is not None and p is not None and p > 0 else None
            row["ratio_ci"] = [None, None]
        row["source"] = (
            "ratio of medians, distribution-free CI (Price & Bonett 2002)" if row["kind"] == "median"
            else "posts_coded (counted)" if row["key"] != "followers_gained"
            else "account table, main account: follower level at each period's edges, linearly interpolated"
        )
    return {
        "days": length,
        "current": {"start": cur_start.date().isoformat(), "end": last.date().isoformat()},
        "previous": {"start": prev_start.date().isoformat(),
                     "end": (cur_start - pd.Timedelta(days=1)).date().isoformat()},
        "rows": rows,
        "rule": f"latest {length} days of posts against the {length} days before them",
    }


def stage_status(manifest: Mapping[str, Any] | None, run_status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return one record per stage that failed (or did not finish): stage, status, when, message.

    Read from ``results/run_status.json`` (``{"stages": {name: {status, error|message, finished_at|when}}}`` or a
    list of such records with ``stage``) and from the manifest's stage entries with a ``status`` of failed.
    A stage absent from both is not reported (it may not have been asked for).
    """
    found: dict[str, dict[str, Any]] = {}

    def add(name: str, entry: Mapping[str, Any]) -> None:
        status = str(entry.get("status") or "")
        if status.lower() not in ("failed", "error", "crashed", "interrupted"):
            return
        found[name] = {
            "stage": name,
            "status": status.lower(),
            "when": entry.get("failed_at") or entry.get("finished_at") or entry.get("when") or entry.get("at"),
            "message": str(entry.get("error") or entry.get("message") or entry.get("reason") or ""),
            "cell": entry.get("cell"),
        }

    for source in (_as_mapping(manifest).get("stages"), _as_mapping(run_status).get("stages"), run_status):
        if isinstance(source, Mapping):
            for name, entry in source.items():
                if name in STAGE_NAMES and isinstance(entry, Mapping):
                    add(str(name), entry)
        elif isinstance(source, list):
            for entry in _as_records(source):
                if entry.get("stage") in STAGE_NAMES:
                    add(str(entry["stage"]), entry)
    return [found[s] for s in STAGE_NAMES if s in found]


# --------------------------------------------------------------------------------------------------------------
# All findings together
# --------------------------------------------------------------------------------------------------------------


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))


@dataclass
class Findings:
    """Every number and verdict the report shows (``to_dict`` is ``results/findings.json``).

    Tables are kept as DataFrames for rendering; ``to_dict`` turns them into records, each block with the
    ``source`` model or rule it came from.
    """

    results: RunResults
    title: str
    timezone: str
    today: dt.date
    date_range: tuple[dt.date, dt.date] | None
    key: dict[str, Any]
    previous: dict[str, Any] | None
    split: tuple[dt.date, str] | None
    period_change: pd.DataFrame | None
    primary: str
    effects: pd.DataFrame | None
    thin: dict[tuple[str, str], str]
    model_terms: dict[str, dict[str, Any]]
    dropped: list[dict[str, Any]]
    metric: str
    comparisons: list[GrowthComparison]
    goals: pd.DataFrame | None
    low_codes: pd.DataFrame
    stages: list[dict[str, Any]]
    versions: dict[str, str]
    problems: dict[str, str] = field(default_factory=dict)
    reconciliation: list[dict[str, Any]] = field(default_factory=list)

    def outcomes(self, order: Sequence[str] = ()) -> list[str]:
        """The outcomes of the primary model, in ``order`` first (the card's), then as found."""
        if self.effects is None:
            return []
        found = list(pd.unique(self.effects["outcome"].astype(str)))
        first = [o for o in order if o in found]
        return first + [o for o in found if o not in first]

    def to_dict(self) -> dict[str, Any]:
        eff = self.effects
        effects = None
        if eff is not None:
            keep = [c for c in ("outcome", "term", "model", "effect_pct", "effect_pct_ci_low", "effect_pct_ci_high",
                                "p_used", "p_kind", "supported", "cannot_tell", "n", "r2") if c in eff]
            effects = _records(eff[keep].assign(
                label=eff["term"].astype(str).map(label_feature),
                verdict=np.where(eff["cannot_tell"] != "", "cannot tell",
                                 np.where(eff["supported"], "clear", "not clear")),
                source=f"regression.csv, model {self.primary} (Holm-adjusted p < {SIGNIFICANCE} where p_holm exists)",
            ))
        return {
            "schema_version": SCHEMA_VERSION,
            "generated": self.today.isoformat(),
            "title": self.title,
            "timezone": self.timezone,
            "versions": self.versions,
            "date_range": None if self.date_range is None else {
                "start": self.date_range[0].isoformat(), "end": self.date_range[1].isoformat(),
                "source": "posts_coded published_at (else the account table's dates)"},
            "key_figures": {**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.key.items()},
                            "source": "posts_coded (counts, medians); account table, main account (followers)"},
            "previous_period": self.previous,
            "split": None if self.split is None else {
                "date": self.split[0].isoformat(), "label": self.split[1],
                "source": "first intervention of the dataset card (else growth.json's second period)"},
            "period_change": None if self.period_change is None else {
                "rows": _records(self.period_change),
                "source": "ratio of medians before/after the split, distribution-free CI (Price & Bonett 2002)"},
            "primary_model": self.primary,
            "effects": effects,
            "model_terms": self.model_terms,
            "dropped": self.dropped,
            "thin_effects": [{"outcome": o, "term": t, "reason": r, "source": "models.json flags/warnings"}
                             for (o, t), r in self.thin.items()],
            "growth": {
                "metric": self.metric,
                "available": bool(self.results.growth and self.results.growth.get("periods")),
                "comparisons": [
                    {"index": c.index, "label": c.label, "before": c.before.get("label"),
                     "after": c.after.get("label"), "verdict": growth_verdict(c),
                     "slope_ratio": num(c.results.get("slope_ratio")),
                     "slope_ratio_ci": c.results.get("slope_ratio_ci"),
                     "p_value": num(_as_mapping(c.results.get("slope_change")).get("p_value")),
                     "source": "growth.json (time × period interaction, HAC errors; TOST equivalence)"}
                    for c in self.comparisons
                ],
            },
            "goals": None if self.goals is None else {
                "rows": _records(self.goals),
                "source": "latest value of the metric; rate = last growth period's slope, else a straight line "
                          "since the last intervention"},
            "low_reliability": {"rows": _records(self.low_codes),
                                "source": f"reliability.csv, Krippendorff's alpha < {ALPHA_TENTATIVE}"},
            "stage_status": self.stages,
            "reconciliation": self.reconciliation,
            "problems": dict(self.problems),
        }


def growth_verdict(comparison: GrowthComparison) -> str:
    """``changed`` (HAC p < 0.05), ``equivalent`` (TOST), ``cannot tell``, or ``not estimable``."""
    r = comparison.results
    p = num(_as_mapping(r.get("slope_change")).get("p_value"))
    if p is not None and p < SIGNIFICANCE:
        return "changed"
    if _as_mapping(r.get("equivalence")).get("equivalent") is True:
        return "equivalent"
    if p is None and num(r.get("slope_ratio")) is None:
        return "not estimable"
    return "cannot tell"


def _date_range(results: RunResults, tz: str) -> tuple[dt.date, dt.date] | None:
    posts = results.posts
    if posts is not None and "published_at" in posts and posts["published_at"].notna().any():
        ts = pd.to_datetime(posts["published_at"].dropna())
        ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts
        local = ts.dt.tz_convert(tz)
        return local.min().date(), local.max().date()
    if results.account is not None and "date" in results.account and len(results.account):
        dates = pd.to_datetime(results.account["date"]).dropna()
        if len(dates):
            return dates.min().date(), dates.max().date()
    return None


def compute_findings(
    results: RunResults | str | Path, dataset: Dataset | None = None, *, today: dt.date | None = None
) -> Findings:
    """Derive every number and verdict of the report from a run folder's results (nothing is written).

    A derivation that fails on unexpected input is recorded in ``problems`` (shown in the report's data
    appendix and warned) and its part of the report says it is not available; the rest still renders.
    """
    if not isinstance(results, RunResults):
        results = read_run_results(results)
    r = results
    tz = dataset.timezone if dataset else "UTC"
    today = today or dt.datetime.now(dt.UTC).date()

    def derive(what: str, compute: Callable[[], Any], fallback: Any) -> Any:
        try:
            return compute()
        except Exception as exc:  # the report still renders; the problem is named in it
            message = f"{type(exc).__name__}: {exc}"
            r.problems[f"({what})"] = message
            warnings.warn(f"report: {what} could not be computed: {message}", RuntimeWarning, stacklevel=3)
            return fallback

    models = r.models or {}
    primary = str(models.get("primary_model") or "ols_log")
    growth = r.growth or {}
    metric = str(growth.get("metric") or "followers")
    since = dataset.interventions[-1].date if dataset and dataset.interventions else None
    terms = r.regression["term"].astype(str).unique() if r.regression is not None else []
    thin = derive("the too-little-data check", lambda: find_thin_effects(r.models), {})

    def effects() -> pd.DataFrame | None:
        reg = r.regression
        if reg is None or not (reg["model"] == primary).any():
            return None
        eff = primary_effects(reg, model=primary)
        # a binary feature with too few posts in a level is "cannot tell", never a finding (models.json)
        keys = zip(eff["outcome"].astype(str), eff["term"].astype(str), strict=True)
        eff["cannot_tell"] = [thin.get(key, "") for key in keys]
        eff["supported"] = eff["supported"] & (eff["cannot_tell"] == "")
        return eff

    eff = derive("the primary model's effects", effects, None)
    comparisons = derive(
        "the growth comparisons",
        lambda: growth_comparisons(growth, interventions=dataset.interventions if dataset else ()),
        [],
    )
    split = None
    if dataset is not None and dataset.interventions:
        split = (dataset.interventions[0].date, dataset.interventions[0].label)
    elif comparisons:
        try:
            split = (pd.Timestamp(comparisons[0].after.get("start")).date(), comparisons[0].label)
        except (TypeError, ValueError):
            split = None
    period_change = derive(
        "the before/after medians",
        lambda: (
            compare_post_medians(r.posts, split=split[0], timezone=tz)
            if split is not None and r.posts is not None and "published_at" in r.posts
            else None
        ),
        None,
    )
    goals = derive(
        "the goals",
        lambda: (
            assess_goals(dataset.goals, account=r.account, growth=r.growth, since=since, today=today)
            if dataset and dataset.goals
            else None
        ),
        None,
    )
    model_terms: dict[str, dict[str, Any]] = {}
    if eff is not None:
        for outcome in pd.unique(eff["outcome"].astype(str)):
            got, source = fitted_terms(models, r.regression, outcome=outcome, model=primary)
            model_terms[outcome] = {
                "model": primary,
                "predictors": [t for t, role in got.items() if role == "predictor"],
                "controls": [t for t, role in got.items() if role == "control"],
                "source": source,
            }
    return Findings(
        results=r,
        title=dataset.title if dataset else r.run_dir.resolve().name,
        timezone=tz,
        today=today,
        date_range=derive("the date range", lambda: _date_range(r, tz), None),
        key=derive("the key figures", lambda: compute_key_figures(r.posts, r.account, r.growth),
                   compute_key_figures(None, None)),
        previous=derive("the change against the previous period",
                        lambda: previous_period_change(r.posts, r.account, timezone=tz), None),
        split=split,
        period_change=period_change,
        primary=primary,
        effects=eff,
        thin=thin,
        model_terms=model_terms,
        dropped=derive("the dropped terms", lambda: dropped_terms(models), []),
        metric=metric,
        comparisons=comparisons,
        goals=goals,
        low_codes=derive("the reliability check", lambda: low_reliability_codes(r.reliability, terms),
                         low_reliability_codes(None, [])),
        stages=stage_status(r.manifest, r.run_status),
        versions=library_versions(),
        problems=r.problems,
        reconciliation=derive("the per-post and account totals", lambda: reconcile_totals(r.posts, r.account), []),
    )


def write_findings(findings: Findings, path: str | Path | None = None) -> Path:
    """Write ``findings.to_dict()`` atomically to ``results/findings.json`` of its run folder (or ``path``)."""
    target = Path(path) if path is not None else RunPaths(findings.results.run_dir).findings
    return write_json(target, findings.to_dict())
