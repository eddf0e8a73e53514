"""The leadership report: plain-language findings, tables and figures in one self-contained HTML file.

The report is built from the run folder alone (DESIGN.md §5): ``data/posts_coded.parquet``,
``data/account.parquet``, ``data/quarantine.csv`` and the ``results/`` files the earlier stages wrote. Every one
of them may be missing (a dataset without a follower sheet, without manual coding, a stage not yet run): the
report renders what exists and says plainly what is not available.

Safety: every string that comes from the data (post text, file names, labels, handles, warnings) is escaped with
:func:`html.escape`; the page has no scripts and no external resources (figures are inline base64 PNG), and the
only links are the posts' own permalinks (``http(s)`` only).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import __version__
from .dataset import Dataset, Goal
from .errors import InputError
from .io import write_bytes, write_text
from .plots import (
    WEEKDAYS,
    count_posting_times,
    label_feature,
    plot_forest,
    plot_growth,
    plot_monthly,
    plot_posting_heatmap,
    select_predictor_rows,
)
from .schema import check_columns

#: Krippendorff's α below which a manual code is too unreliable to draw conclusions from (Krippendorff 2004).
ALPHA_TENTATIVE = 0.667
SIGNIFICANCE = 0.05

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
)

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
    #: relative path → why it could not be read (present but broken files).
    problems: dict[str, str] = field(default_factory=dict)

    def missing_note(self, relpath: str, what: str) -> str:
        """Say plainly why ``what`` is not in the report."""
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
    problems: dict[str, str] = {}

    def read(relpath: str, reader: Callable[[Path], Any]) -> Any:
        return _read_optional(run_dir, relpath, reader, problems)

    return RunResults(
        run_dir=run_dir,
        posts=read("data/posts_coded.parquet", _read_posts),
        account=read("data/account.parquet", pd.read_parquet),
        quarantine_reasons=read("data/quarantine.csv", _read_quarantine_reasons),
        ingest_log=read("results/ingest_log.json", _read_json_object),
        reliability=read("results/reliability.csv", _read_reliability),
        regression=read("results/regression.csv", _read_regression),
        models=read("results/models.json", _read_json_object),
        growth=read("results/growth.json", _read_growth),
        problems=problems,
    )


# --------------------------------------------------------------------------------------------------------------
# Numbers for humans
# --------------------------------------------------------------------------------------------------------------

NA_TEXT = "n/a"


def _num(x: Any) -> float | None:
    """Return ``x`` as a finite float, or None for missing/NaN/non-numeric values."""
    if x is None or x is pd.NA:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def format_int(x: Any) -> str:
    """Format a count with thousands separators: 1234 → "1,234"."""
    v = _num(x)
    return NA_TEXT if v is None else f"{round(v):,}"


def format_number(x: Any, *, signed: bool = False) -> str:
    """Format a number for reading: 1234.5 → "1,234"; 12.34 → "12.3"; 0.954 → "0.95"; 0.0042 → "0.0042"."""
    v = _num(x)
    if v is None:
        return NA_TEXT
    sign = "+" if signed and v > 0 else ""
    a = abs(v)
    if a >= 100:
        text = f"{v:,.0f}"
    elif a >= 10:
        text = f"{v:.1f}"
    elif a >= 0.01 or a == 0:
        text = f"{v:.2f}"
    else:
        text = f"{v:.2g}"
    return sign + text.replace("-", "−")


def format_pct(x: Any, *, signed: bool = False) -> str:
    """Format a percentage (already ×100): 32.4 → "32%"; 3.44 → "3.4%"; with ``signed`` a "+" for gains."""
    v = _num(x)
    if v is None:
        return NA_TEXT
    sign = "+" if signed and v > 0 else ""
    text = f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"
    if text in ("-0.0", "-0"):
        text = text[1:]
    return sign + text.replace("-", "−") + "%"


def format_p(p: Any) -> str:
    """Format a p-value: "< 0.001", "0.004", "0.03", "0.41"."""
    v = _num(p)
    if v is None:
        return NA_TEXT
    if v < 0.001:
        return "< 0.001"
    if v < 0.01:
        return f"{v:.3f}"
    return f"{v:.2f}"


def _p_is(p: Any) -> str:
    """ "p = 0.03" or "p < 0.001"."""
    text = format_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_ratio(x: Any) -> str:
    """Format a ratio to two decimals, trailing zero dropped: 1.734 → "1.73×"; 1.70 → "1.7×"; 2 → "2.0×"."""
    v = _num(x)
    if v is None:
        return NA_TEXT
    text = f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    if text.endswith("0") and not text.endswith(".0"):
        text = text[:-1]
    return text.replace("-", "−") + "×"


def format_date(x: Any) -> str:
    """Format a date as "31 Dec 2023"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return NA_TEXT
    try:
        ts = pd.Timestamp(x)
    except (TypeError, ValueError):
        return str(x)
    if pd.isna(ts):
        return NA_TEXT
    return f"{ts.day} {ts:%b %Y}"


def _margin(margin: Any) -> str | None:
    """An equivalence margin at full precision: [0.8, 1.25] → "0.8× to 1.25×"."""
    if (
        not isinstance(margin, (list, tuple))
        or len(margin) != 2
        or None in (_num(margin[0]), _num(margin[1]))
    ):
        return None
    return f"{_num(margin[0]):g}× to {_num(margin[1]):g}×"


def _ci(pair: Any, fmt: Callable[[Any], str]) -> str:
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or _num(pair[0]) is None
        or _num(pair[1]) is None
    ):
        return "CI not available"
    return f"95% CI {fmt(pair[0])} to {fmt(pair[1])}"


# --------------------------------------------------------------------------------------------------------------
# Findings (plain text; escaped when written into the page)
# --------------------------------------------------------------------------------------------------------------

_NOUNS = {
    "poll": "a poll",
    "graphic": "a graphic",
    "url": "a link",
    "link": "a link",
    "emoji": "emoji",
    "image": "an image",
    "photo": "a photo",
    "video": "a video",
    "gif": "a GIF",
    "hashtag": "a hashtag",
    "hashtags": "hashtags",
    "mention": "a mention",
    "mentions": "mentions",
    "question": "a question",
    "media": "media",
    "thread": "a thread",
}


_URL_IN_TEXT = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", flags=re.IGNORECASE)
_LEVEL_TERM = re.compile(r"^(.+)\[(?:T\.)?(.+)\]$")


def describe_effect(term: str, outcome: str, pct: Any, low: Any, high: Any) -> str:
    """Say what a % change means for a feature: "posts with a poll received 32% more impressions …".

    The wording is associational ("received", "went with"): the data are observational.
    """
    v = _num(pct)
    if v is None:
        return f"the effect of {label_feature(term).lower()} on {outcome} could not be estimated"
    more = "more" if v >= 0 else "fewer"
    size = format_pct(abs(v))
    ci = f"95% CI {format_pct(low, signed=True)} to {format_pct(high, signed=True)}"
    if term.startswith("has_"):
        words = term[4:].replace("_", " ")
        noun = _NOUNS.get(term[4:], words)
        return f"posts with {noun} received {size} {more} {outcome} than comparable posts without ({ci})"
    if term.startswith("n_"):
        words = term[2:].replace("_", " ")
        singular = words[:-1] if words.endswith("s") else words
        return f"each additional {singular} went with {size} {more} {outcome} ({ci})"
    level = _LEVEL_TERM.match(term)
    if level:
        column, value = level.group(1).replace("_", " "), level.group(2)
        return (
            f"posts with {column} {value} received {size} {more} {outcome} than posts at the reference "
            f"level ({ci})"
        )
    return f"each one-unit increase in {term} went with {size} {more} {outcome} ({ci})"


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
    """One before/after comparison of growth, with the labels of the two periods and the intervention."""

    index: int
    label: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    results: Mapping[str, Any]


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
        label = (
            comp.get("intervention")
            or comp.get("label")
            or (comp.get("after") if isinstance(comp.get("after"), str) else None)
        )
        if isinstance(label, Mapping):
            label = label.get("label")
        if not label and i < len(interventions):
            label = getattr(interventions[i], "label", None)
        if not label:
            label = periods[i + 1].get("label") or f"change {i + 1}"
        out.append(GrowthComparison(i, str(label), periods[i], periods[i + 1], comp))
    return out


def describe_growth(comparison: GrowthComparison, *, metric: str = "followers") -> str:
    """Return the plain verdict on one comparison: faster/slower with its CI and HAC p, equivalent, or unknown."""
    r = comparison.results
    change = r.get("slope_change") or {}
    p = _num(change.get("p_value"))
    ratio = _num(r.get("slope_ratio"))
    ratio_ci = r.get("slope_ratio_ci")
    before_slope = _num(comparison.before.get("slope_per_day"))
    usable_ratio = ratio is not None and before_slope is not None and before_slope > 0 and ratio > 0
    equivalence = r.get("equivalence") or {}
    after = f"after {comparison.label}"
    if p is not None and p < SIGNIFICANCE:
        noise = f"the change is unlikely to be noise (HAC {_p_is(p)})"
        if usable_ratio:
            ci = _ci(ratio_ci, format_ratio)
            if ratio >= 1:
                return f"Growth in {metric} was {format_ratio(ratio)} faster {after} ({ci}); {noise}."
            return f"Growth in {metric} slowed {after} to {format_ratio(ratio)} the earlier rate ({ci}); {noise}."
        est = _num(change.get("estimate"))
        direction = "rose" if (est or 0) > 0 else "fell"
        return (
            f"Daily growth in {metric} {direction} by {format_number(abs(est or 0))} per day {after} "
            f"({_ci(change.get('ci'), lambda v: format_number(v, signed=True))}); {noise}."
        )
    if equivalence.get("equivalent") is True:
        margin = equivalence.get("margin")
        margin_text = _margin(margin) or "the stated margin"
        return (
            f"Growth in {metric} was about the same before and {after}: the slope ratio lies within the "
            f"equivalence margin {margin_text} (TOST {_p_is(equivalence.get('p_value'))})."
        )
    parts = []
    if ratio is not None:
        parts.append(f"ratio {format_ratio(ratio)}, {_ci(ratio_ci, format_ratio)}")
    if p is not None:
        parts.append(f"HAC {_p_is(p)}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return (
        f"The data cannot tell whether growth in {metric} changed {after}{detail}; "
        f"this is not evidence that it stayed the same."
    )


def describe_counterfactual(cf: Mapping[str, Any], *, metric: str = "followers") -> str | None:
    """Say how the end of the series compares with the earlier trend projected forward, or None."""
    observed, projected = _num(cf.get("observed_end")), _num(cf.get("projected_end"))
    if observed is None or projected is None:
        return None
    excess = _num(cf.get("excess_end"))
    if excess is None:
        excess = observed - projected
    end = cf.get("dates")[-1] if cf.get("dates") else None
    when = f"By {format_date(end)}" if end else "At the end of the series"
    ci = _ci(cf.get("excess_ci"), lambda v: format_number(v, signed=True))
    return (
        f"{when}, {metric} stood at {format_number(observed)} against {format_number(projected)} projected from "
        f"the earlier trend: a difference of {format_number(excess, signed=True)} ({ci})."
    )


def describe_monthly(monthly: Mapping[str, Any]) -> str | None:
    """Say how the monthly metric changed: fold change with CI and the Mann–Whitney p, or None."""
    fold = _num(monthly.get("fold_change"))
    if fold is None:
        return None
    metric = monthly.get("metric", "the monthly metric")
    return (
        f"Monthly {metric} averaged {format_number(monthly.get('before_mean'))} before and "
        f"{format_number(monthly.get('after_mean'))} after, {format_ratio(fold)} the earlier level "
        f"({_ci(monthly.get('fold_change_ci'), format_ratio)}; Welch {_p_is(monthly.get('welch_p_two_sided'))}, "
        f"Mann–Whitney {_p_is(monthly.get('mannwhitney_p'))})."
    )


# --------------------------------------------------------------------------------------------------------------
# Key figures and goals
# --------------------------------------------------------------------------------------------------------------


def _main_account_series(account: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """Return date/value of ``metric`` for the account with most observations of it (sorted, NA dropped)."""
    if account is None or metric not in account.columns or "date" not in account.columns:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    frame = account.assign(
        value=pd.to_numeric(account[metric], errors="coerce"), date=pd.to_datetime(account["date"])
    )
    frame = frame.dropna(subset=["value", "date"])
    if "account" in frame.columns and frame["account"].nunique() > 1:
        top = frame["account"].value_counts().index[0]
        frame = frame[frame["account"] == top]
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


def _current_rate(
    series: pd.DataFrame, growth: Mapping[str, Any] | None, metric: str, since: dt.date | None
) -> float | None:
    """Per-day rate of ``metric`` now: the last period's fitted slope, else a straight-line fit since ``since``."""
    if growth and growth.get("metric") == metric and growth.get("periods"):
        slope = _num(growth["periods"][-1].get("slope_per_day"))
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
            "label": goal.label or f"{goal.metric} {format_number(goal.target)}",
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
# HTML building blocks
# --------------------------------------------------------------------------------------------------------------


def _busiest(counts: pd.Series, names: Sequence[str]) -> str:
    top = counts[counts == counts.max()]
    listed = " and ".join(names[i] for i in top.index)
    each = " each" if len(top) > 1 else ""
    return f"{listed} ({format_int(counts.max())} posts{each})"


def describe_posting_times(counts: pd.DataFrame, *, timezone: str = "UTC") -> str:
    """Say on which weekday(s) and at which hour(s) most posts went out, from a 7 × 24 count table."""
    total = int(counts.to_numpy().sum())
    if total == 0:
        return "No post has a posting time."
    hours = [f"{h:02d}:00–{h:02d}:59" for h in range(24)]
    return (
        f"Of {format_int(total)} posts, most went out on {_busiest(counts.sum(axis=1), WEEKDAYS)} and at "
        f"{_busiest(counts.sum(axis=0), hours)} ({timezone} time)."
    )


class Safe(str):
    """A string that is already HTML (built here from escaped parts); table cells pass it through."""


def esc(x: Any) -> str:
    """Escape anything for HTML text or attribute values."""
    return x if isinstance(x, Safe) else html.escape(str(x), quote=True)


def _p(text: str, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _ul(items: Iterable[str]) -> str:
    items = list(items)
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>" if items else ""


def _table(
    caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[int] = ()
) -> str:
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _permalink(url: Any) -> str:
    """A link to the post when its permalink is an http(s) URL; other schemes are shown as text only."""
    if not isinstance(url, str) or not re.match(r"^https?://[^\s\"'<>]+$", url.strip()):
        return "no link" if not isinstance(url, str) or not url else esc(url)
    return f'<a href="{esc(url.strip())}" rel="noopener noreferrer">open post</a>'


CSS = """
:root { --ink: #1b1b1b; --muted: #555; --line: #d0d0d0; --accent: #0072b2; --warn: #d55e00; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink);
       line-height: 1.5; margin: 0 auto; max-width: 60rem; padding: 1rem; font-size: 1rem; }
h1 { font-size: 1.8rem; margin: 0.5rem 0; }
h2 { font-size: 1.35rem; border-bottom: 2px solid var(--accent); padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; margin-top: 1.4rem; }
.subtitle { font-size: 1.15rem; color: var(--muted); margin: 0; }
.meta { color: var(--muted); font-size: 0.9rem; }
.note { color: var(--muted); font-style: italic; }
.warning { border-left: 4px solid var(--warn); padding: 0.4rem 0.8rem; background: #fff4ec; }
.summary p { font-size: 1.05rem; }
.table-wrap { overflow-x: auto; margin: 0.8rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; caption-side: top; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9rem; color: var(--muted); }
dl.keys { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: 0.6rem; }
dl.keys div { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 0.7rem; }
dl.keys dt { font-size: 0.85rem; color: var(--muted); }
dl.keys dd { margin: 0; font-size: 1.3rem; font-weight: 600; }
a { color: var(--accent); }
@media (max-width: 40rem) { body { padding: 0.6rem; font-size: 0.95rem; } h1 { font-size: 1.4rem; } }
@page { margin: 15mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  section + section { break-before: page; page-break-before: always; }
  figure, table, dl.keys div { break-inside: avoid; page-break-inside: avoid; }
  .table-wrap { overflow: visible; }
  a { color: inherit; }
}
"""


# --------------------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------------------


def _figure_png(draw: Callable[[Axes], Any], *, figsize: tuple[float, float]) -> bytes:
    """Draw on an Agg-backed figure (no pyplot state) and return PNG bytes without tool metadata."""
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig.add_subplot())
    buf = BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


class _ReportBuilder:
    def __init__(self, results: RunResults, dataset: Dataset | None, *, today: dt.date | None = None) -> None:
        self.r = results
        self.ds = dataset
        self.today = today or dt.datetime.now(dt.UTC).date()
        self.figures: dict[str, bytes] = {}
        self.tz = ZoneInfo(dataset.timezone if dataset else "UTC")
        models = results.models or {}
        self.primary = str(models.get("primary_model") or "ols_log")
        growth = results.growth or {}
        self.metric = str(growth.get("metric") or "followers")
        since = dataset.interventions[-1].date if dataset and dataset.interventions else None
        terms = results.regression["term"].astype(str).unique() if results.regression is not None else []
        self.effects = self._derive("the primary model's effects", self._effects, None)
        self.key = self._derive(
            "the key figures",
            lambda: compute_key_figures(results.posts, results.account, results.growth),
            compute_key_figures(None, None),
        )
        self.comparisons = self._derive(
            "the growth comparisons",
            lambda: growth_comparisons(growth, interventions=dataset.interventions if dataset else ()),
            [],
        )
        self.goals = self._derive(
            "the goals",
            lambda: (
                assess_goals(
                    dataset.goals,
                    account=results.account,
                    growth=results.growth,
                    since=since,
                    today=self.today,
                )
                if dataset and dataset.goals
                else None
            ),
            None,
        )
        self.low_codes = self._derive(
            "the reliability check",
            lambda: low_reliability_codes(results.reliability, terms),
            low_reliability_codes(None, []),
        )

    def _derive(self, what: str, compute: Callable[[], Any], fallback: Any) -> Any:
        """Compute a derived result; on unexpected input, note the problem in the report and use ``fallback``."""
        # shown in the data appendix and warned; the rest of the report still renders
        try:
            return compute()
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            self.r.problems[f"({what})"] = message
            warnings.warn(f"report: {what} could not be computed: {message}", RuntimeWarning, stacklevel=2)
            return fallback

    # -- helpers -----------------------------------------------------------------------------------------------

    def _effects(self) -> pd.DataFrame | None:
        reg = self.r.regression
        if reg is None:
            return None
        if not (reg["model"] == self.primary).any():
            return None
        return primary_effects(reg, model=self.primary)

    def _outcomes(self) -> list[str]:
        if self.effects is None:
            return []
        found = list(pd.unique(self.effects["outcome"].astype(str)))
        order = [o for o in (self.ds.analysis.outcomes if self.ds else ()) if o in found]
        return order + [o for o in found if o not in order]

    def _add_figure(
        self, name: str, draw: Callable[[Axes], Any], *, alt: str, caption: str, figsize: tuple[float, float]
    ) -> str:
        try:
            png = _figure_png(draw, figsize=figsize)
        except (ValueError, KeyError, TypeError) as exc:  # a malformed optional result: say so, keep going
            return _note(f"The figure “{caption}” could not be drawn: {exc}")
        self.figures[name] = png
        data = base64.b64encode(png).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )

    def _local(self, ts: pd.Series) -> pd.Series:
        ts = pd.to_datetime(ts)
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize("UTC")
        return ts.dt.tz_convert(self.tz)

    def date_range(self) -> tuple[Any, Any] | None:
        posts = self.r.posts
        if posts is not None and "published_at" in posts and posts["published_at"].notna().any():
            local = self._local(posts["published_at"].dropna())
            return local.min().date(), local.max().date()
        if self.r.account is not None and "date" in self.r.account and len(self.r.account):
            dates = pd.to_datetime(self.r.account["date"]).dropna()
            if len(dates):
                return dates.min().date(), dates.max().date()
        return None

    # -- summary -----------------------------------------------------------------------------------------------

    def summary_sentences(self) -> list[str]:
        out = []
        k = self.key
        span = self.date_range()
        if k["n_posts"] is not None:
            when = f" published between {format_date(span[0])} and {format_date(span[1])}" if span else ""
            imp = (
                f", which were seen {format_int(k['impressions_total'])} times in total "
                f"(median {format_int(k['impressions_median'])} impressions per post)"
                if k["impressions_total"] is not None
                else ""
            )
            out.append(f"This report covers {format_int(k['n_posts'])} posts{when}{imp}.")
        else:
            out.append("No post data were available for this report.")

        if self.effects is not None and len(self.effects):
            eff = self.effects
            supported = eff[eff["supported"]]
            kind = str(eff["p_kind"].iloc[0])
            if len(supported):
                size = pd.to_numeric(supported["estimate"], errors="coerce").abs()
                best = supported.iloc[int(np.argmax(size.fillna(-1.0).to_numpy()))]
                phrase = describe_effect(
                    str(best["term"]),
                    str(best["outcome"]),
                    best["effect_pct"],
                    best["effect_pct_ci_low"],
                    best["effect_pct_ci_high"],
                )
                out.append(
                    f"The clearest effect: {phrase[:-1]}; {kind} {_p_is(best['p_used'])}); "
                    f"{len(supported)} of {len(eff)} feature–outcome estimates held up "
                    f"{'after correction for multiple testing' if kind.startswith('Holm') else 'at p < 0.05'}."
                )
            else:
                out.append(
                    f"No post feature had a clear effect on {' or '.join(self._outcomes())}: none of the "
                    f"{len(eff)} feature–outcome estimates held up "
                    f"{'after correction for multiple testing' if kind.startswith('Holm') else 'at p < 0.05'}."
                )
        else:
            out.append("Post-level models were not available, so no claim is made about which features work.")

        growth = self.r.growth
        if growth is None:
            out.append("Growth before and after interventions was not analysed (no growth results).")
        elif not growth.get("periods"):
            out.append(f"Growth in {self.metric} could not be compared: there was no {self.metric} data.")
        elif self.comparisons:
            verdict = describe_growth(self.comparisons[0], metric=self.metric)
            if len(self.comparisons) > 1:
                later = ", ".join(c.label for c in self.comparisons[1:])
                verdict += f" The growth section also compares the later change(s): {later}."
            out.append(verdict)
        else:
            per_day = _num(growth["periods"][0].get("slope_per_day"))
            out.append(
                f"There was no intervention to compare; {self.metric} grew by "
                f"{format_number(per_day)} per day."
            )

        if self.goals is not None and len(self.goals):
            counts = self.goals["status"].value_counts()
            parts = [f"{n} {status}" for status, n in counts.items()]
            sentence = f"Of {len(self.goals)} goal(s): {', '.join(parts)}"
            behind = self.goals[self.goals["status"].isin(["not on track", "not met (deadline passed)"])]
            if len(behind):
                g = behind.iloc[0]
                sentence += (
                    f"; {g['label']} stands at {format_number(g['actual'])} of {format_number(g['target'])} "
                    f"due {format_date(g['by'])}"
                )
                if g["projected_date"] is not None:
                    sentence += (
                        f" and would be reached around {format_date(g['projected_date'])} at the current rate"
                    )
            out.append(sentence + ".")

        if len(self.low_codes):
            codes = ", ".join(
                f"{c} (α = {format_number(a)})"
                for c, a in zip(self.low_codes["code"], self.low_codes["krippendorff_alpha"], strict=True)
            )
            out.append(
                f"Caution: the manual code(s) {codes} were coded unreliably (α below 0.667) and enter the "
                f"models, so effects involving them are tentative."
            )
        return out[:5]

    # -- sections ----------------------------------------------------------------------------------------------

    def header(self) -> str:
        title = self.ds.title if self.ds else self.r.run_dir.resolve().name
        span = self.date_range()
        span_text = f"{format_date(span[0])} – {format_date(span[1])}" if span else "date range not available"
        return (
            "<header><h1>How our research reaches people on social media</h1>"
            f'<p class="subtitle">{esc(title)}</p>'
            f'<p class="meta">Data: {esc(span_text)} · Generated {esc(format_date(self.today))} '
            f"by Dissemination Workbench {esc(__version__)}</p></header>"
        )

    def summary(self) -> str:
        sentences = "".join(_p(s) for s in self.summary_sentences())
        return f'<section id="summary" class="summary"><h2>Executive summary</h2>{sentences}</section>'

    def key_figures(self) -> str:
        k = self.key
        items = [
            ("Posts", format_int(k["n_posts"])),
            ("Impressions, total", format_int(k["impressions_total"])),
            ("Impressions per post, median", format_int(k["impressions_median"])),
            (
                "Engagement rate, median",
                format_pct(
                    None if k["engagement_rate_median"] is None else 100 * k["engagement_rate_median"]
                ),
            ),
            (
                f"Followers at start ({format_date(k['followers_start_date'])})",
                format_int(k["followers_start"]),
            ),
            (f"Followers at end ({format_date(k['followers_end_date'])})", format_int(k["followers_end"])),
            ("Follower growth per day", format_number(k["followers_per_day"], signed=True)),
        ]
        cards = "".join(f"<div><dt>{esc(a)}</dt><dd>{esc(b)}</dd></div>" for a, b in items)
        notes = []
        if self.r.posts is None:
            notes.append(_note(self.r.missing_note("data/posts_coded.parquet", "Post data")))
        if k["followers_start"] is None:
            notes.append(
                _note(
                    "Follower counts are not available: the run has no follower data "
                    "(no account table with followers)."
                )
            )
        definition = _p(
            "Engagement rate = engagements ÷ impressions, per post (posts with impressions); "
            f"the median over {format_int(k['n_rated'])} posts is shown."
            if k["n_rated"]
            else "Engagement rate = engagements ÷ impressions, per post.",
            "meta",
        )
        return (
            f'<section id="key-figures"><h2>Key figures</h2><dl class="keys">{cards}</dl>'
            f"{definition}{''.join(notes)}</section>"
        )

    def what_works(self) -> str:
        parts = ['<section id="what-works"><h2>What works</h2>']
        if self.effects is None:
            reg = self.r.regression
            if reg is None:
                parts.append(_note(self.r.missing_note("results/regression.csv", "The post-level model")))
            else:
                parts.append(
                    _note(
                        f"The post-level model is not available: results/regression.csv has no rows "
                        f"for the primary model {self.primary!r} with the expected columns."
                    )
                )
            parts.append("</section>")
            return "".join(parts)
        kind = str(self.effects["p_kind"].iloc[0])
        parts.append(
            _p(
                "Each row is the % difference in a post's impressions or engagements that goes with a feature, "
                "holding the other features, audience size and year constant (OLS on log(1 + count) with robust "
                "HC3 errors). Percentages come with 95% confidence intervals; p-values are "
                f"{kind} for the number of features tested. These are associations in observational data, "
                "not proof of cause."
            )
        )
        sentences = (self.r.models or {}).get("sentences") or {}
        reg = self.r.regression
        for outcome in self._outcomes():
            eff = self.effects[self.effects["outcome"].astype(str) == outcome]
            parts.append(f"<h3>{esc(outcome.capitalize())}</h3>")
            said = sentences.get(outcome) if isinstance(sentences, Mapping) else None
            if isinstance(said, str):
                said = [said]
            if said:
                parts.append(_ul(str(s) for s in said))
            supported = eff[eff["supported"]]
            if len(supported):
                alt = "; ".join(
                    describe_effect(str(t), outcome, e, lo, hi)
                    for t, e, lo, hi in zip(
                        supported["term"],
                        supported["effect_pct"],
                        supported["effect_pct_ci_low"],
                        supported["effect_pct_ci_high"],
                        strict=True,
                    )
                )
                alt = f"Forest plot for {outcome}: {alt}."
            else:
                alt = (
                    f"Forest plot for {outcome}: every feature's 95% interval is wide or crosses zero; "
                    f"no feature clearly changed {outcome}."
                )
            parts.append(
                self._add_figure(
                    f"forest_{re.sub(r'[^a-z0-9_]+', '_', outcome.lower())}",
                    lambda ax, o=outcome: plot_forest(reg, outcome=o, model=self.primary, ax=ax),
                    alt=alt,
                    caption=f"% change in {outcome} per feature, with 95% CI (primary model)",
                    figsize=(6.5, 0.45 * len(eff) + 1.6),
                )
            )
            negbin = (
                _effect_columns(select_predictor_rows(reg, outcome=outcome, model="negbin"))
                if (reg["model"] == "negbin").any()
                else None
            )
            nb = (
                {}
                if negbin is None
                else {
                    str(
                        t
                    ): f"{format_pct(e, signed=True)} ({format_pct(lo, signed=True)} to {format_pct(hi, signed=True)})"
                    for t, e, lo, hi in zip(
                        negbin["term"],
                        negbin["effect_pct"],
                        negbin["effect_pct_ci_low"],
                        negbin["effect_pct_ci_high"],
                        strict=True,
                    )
                }
            )
            rows = [
                (
                    label_feature(str(t)),
                    format_pct(e, signed=True),
                    f"{format_pct(lo, signed=True)} to {format_pct(hi, signed=True)}",
                    format_p(p),
                    nb.get(str(t), NA_TEXT),
                )
                for t, e, lo, hi, p in zip(
                    eff["term"],
                    eff["effect_pct"],
                    eff["effect_pct_ci_low"],
                    eff["effect_pct_ci_high"],
                    eff["p_used"],
                    strict=True,
                )
            ]
            fit = self._fit_text(eff)
            parts.append(
                _table(
                    f"{outcome.capitalize()}: % change per feature (primary model{fit})",
                    [
                        "Feature",
                        "% change",
                        "95% CI",
                        f"{kind} p",
                        "Count-model check (negative binomial), % (95% CI)",
                    ],
                    rows,
                    numeric=(1, 2, 3),
                )
            )
        parts.append(self._published_table())
        parts.append("</section>")
        return "".join(parts)

    @staticmethod
    def _fit_text(rows: pd.DataFrame) -> str:
        bits = []
        if "n" in rows and _num(rows["n"].iloc[0]) is not None:
            bits.append(f"n = {format_int(rows['n'].iloc[0])} posts")
        if "r2" in rows and _num(rows["r2"].iloc[0]) is not None:
            bits.append(f"R² = {format_number(rows['r2'].iloc[0])}")
        return "; " + ", ".join(bits) if bits else ""

    def _published_table(self) -> str:
        reg = self.r.regression
        caption = "As commonly published (standardized β, for comparison with the literature)"
        if reg is None or not (reg["model"] == "ols_std").any():
            return f"<h3>{esc(caption)}</h3>" + _note(
                "The standardized (ols_std) model is not available in this run."
            )
        rows = []
        for outcome in pd.unique(reg.loc[reg["model"] == "ols_std", "outcome"].astype(str)):
            std = select_predictor_rows(reg, outcome=outcome, model="ols_std")
            beta = pd.to_numeric(std["std_beta"], errors="coerce") if "std_beta" in std else std["estimate"]
            beta = beta.fillna(pd.to_numeric(std["estimate"], errors="coerce"))
            for t, b, p in zip(
                std["term"], beta, std.get("p_value", pd.Series(np.nan, index=std.index)), strict=True
            ):
                rows.append((label_feature(str(t)), outcome, format_number(b, signed=True), format_p(p)))
        note = _p(
            "Standardized β is the change in the outcome, in standard deviations, per standard deviation of "
            "the feature. It is shown so these results can be compared with published studies; it cannot "
            "be read as a % change, and its p-values are not adjusted for multiple testing.",
            "meta",
        )
        return (
            _table(caption, ["Feature", "Outcome", "Standardized β", "p (unadjusted)"], rows, numeric=(2, 3))
            + note
        )

    def growth_section(self) -> str:
        parts = ['<section id="growth"><h2>Growth before and after</h2>']
        growth = self.r.growth
        if growth is None:
            parts.append(_note(self.r.missing_note("results/growth.json", "The growth comparison")))
            return "".join(parts) + "</section>"
        periods = list(growth.get("periods") or [])
        if not periods:
            parts.append(
                _note(
                    f"No {self.metric} data: the run had no follower series, so growth before and "
                    f"after interventions could not be compared."
                )
            )
            return "".join(parts) + "</section>"
        verdicts = [describe_growth(c, metric=self.metric) for c in self.comparisons]
        ivs = (
            [(iv.date, iv.label) for iv in self.ds.interventions]
            if self.ds and self.ds.interventions
            else None
        )
        alt = " ".join(verdicts) or f"{self.metric.capitalize()} over time, one period, no intervention."
        parts.append(
            self._add_figure(
                "growth",
                lambda ax: plot_growth(growth, interventions=ivs, ax=ax),
                alt=alt,
                caption=f"{self.metric.capitalize()} over time: observed values, fitted trend per period, "
                "interventions (dotted), and the earlier trend projected forward with its 95% band",
                figsize=(8, 4.5),
            )
        )
        for comp, verdict in zip(self.comparisons, verdicts, strict=True):
            parts.append(_p(verdict))
            for extra in (
                describe_monthly(comp.results.get("monthly") or {}),
                describe_counterfactual(comp.results.get("counterfactual") or {}, metric=self.metric),
            ):
                if extra:
                    parts.append(_p(extra))
        unit = str(growth.get("unit") or f"{self.metric} per day")
        period_rows = [
            (
                p.get("label", ""),
                f"{format_date(p.get('start'))} – {format_date(p.get('end'))}",
                format_int(p.get("n")),
                f"{format_number(p.get('slope_per_day'))} ({_ci(p.get('slope_ci'), format_number)})",
                format_number(p.get("r2")),
            )
            for p in periods
        ]
        parts.append(
            _table(
                f"Growth per period ({unit})",
                ["Period", "Dates", "Observations", "Slope per day (95% CI)", "R²"],
                period_rows,
                numeric=(2, 3, 4),
            )
        )
        for comp in self.comparisons:
            parts.append(self._comparison_table(comp, unit))
        months = [row for row in growth.get("monthly_series") or [] if isinstance(row, Mapping)]
        if any(_num(v) is not None for row in months for k, v in row.items() if k not in ("month", "period")):
            monthly = growth.get("monthly") or {}
            alt = describe_monthly(monthly) or "Monthly values by period."
            parts.append(
                self._add_figure(
                    "monthly",
                    lambda ax: plot_monthly(growth, ax=ax),
                    alt=alt,
                    caption="Monthly values by period (dashed lines: period means)",
                    figsize=(8, 4),
                )
            )
        return "".join(parts) + "</section>"

    def _comparison_table(self, comp: GrowthComparison, unit: str) -> str:
        r = comp.results
        change = r.get("slope_change") or {}
        eq = r.get("equivalence") or {}
        monthly = r.get("monthly") or {}
        cf = r.get("counterfactual") or {}
        b, a = comp.before, comp.after

        def slope_pub(p: Mapping[str, Any]) -> str:
            return f"{format_number(p.get('slope_per_day'))} per day (R² = {format_number(p.get('r2'))})"

        def slope_rig(p: Mapping[str, Any]) -> str:
            return (
                f"{format_number(p.get('slope_per_day'))} per day ({_ci(p.get('slope_ci'), format_number)})"
            )

        lags = change.get("maxlags")
        lag_text = f", Newey–West with {format_int(lags)} lag(s)" if _num(lags) is not None else ""
        method = f"; {r['slope_ratio_method']}" if r.get("slope_ratio_method") else ""
        margin = eq.get("margin")
        margin_text = _margin(margin) or NA_TEXT
        eq_verdict = (
            "equivalent within the margin"
            if eq.get("equivalent") is True
            else "equivalence not shown"
            if eq.get("equivalent") is False
            else NA_TEXT
        )
        monthly_metric = monthly.get("metric", "metric")
        no_months = _num(monthly.get("before_mean")) is None or _num(monthly.get("after_mean")) is None
        effect_size = _num(monthly.get("effect_size"))
        rows = [
            (f"Growth before ({b.get('label', '')})", slope_pub(b), slope_rig(b)),
            (f"Growth after ({a.get('label', '')})", slope_pub(a), slope_rig(a)),
            (
                "Change in growth",
                f"slope ratio {format_ratio(r.get('slope_ratio'))}; naive OLS "
                f"{_p_is(change.get('naive_p_value', r.get('naive_p_value')))} "
                "(ignores autocorrelation)",
                f"ratio {format_ratio(r.get('slope_ratio'))} ({_ci(r.get('slope_ratio_ci'), format_ratio)}{method}); "
                f"difference {format_number(change.get('estimate'), signed=True)} per day "
                f"({_ci(change.get('ci'), lambda v: format_number(v, signed=True))}), "
                f"{change.get('cov_type', 'HAC')} {_p_is(change.get('p_value'))}{lag_text}",
            ),
            (
                "Did growth stay the same?",
                "not tested (p > 0.05 is often misread as “no change”)",
                f"TOST equivalence test, margin {margin_text} on the slope ratio: {_p_is(eq.get('p_value'))}, "
                f"{eq_verdict}",
            ),
            (
                f"Monthly {monthly_metric}",
                "not available",
                "not compared: no complete months in one of the periods",
            )
            if no_months
            else (
                f"Monthly {monthly_metric}",
                f"mean {format_number(monthly.get('before_mean'))} → {format_number(monthly.get('after_mean'))}; "
                f"one-tailed t-test {_p_is(monthly.get('welch_p_one_sided'))}",
                f"fold change {format_ratio(monthly.get('fold_change'))} "
                f"({_ci(monthly.get('fold_change_ci'), format_ratio)}); Welch two-sided "
                f"{_p_is(monthly.get('welch_p_two_sided'))}; Mann–Whitney {_p_is(monthly.get('mannwhitney_p'))}; "
                f"months {format_int(monthly.get('n_before'))} before, {format_int(monthly.get('n_after'))} after"
                + (f"; effect size {format_number(effect_size)}" if effect_size is not None else ""),
            ),
            (
                "Compared with the earlier trend projected forward",
                "not reported",
                f"observed {format_number(cf.get('observed_end'))} vs projected {format_number(cf.get('projected_end'))}: "
                f"excess {format_number(cf.get('excess_end'), signed=True)} "
                f"({_ci(cf.get('excess_ci'), lambda v: format_number(v, signed=True))})",
            ),
        ]
        return _table(
            f"Change at “{comp.label}”: the published form side by side with the rigorous form ({unit})",
            ["Question", "As commonly published", "Rigorous (what we stand behind)"],
            rows,
        )

    def goals_section(self) -> str:
        parts = ['<section id="goals"><h2>Goals</h2>']
        if self.goals is None:
            parts.append(
                _note(
                    "No goals are set in the dataset card (goals: metric, target, by), so none are tracked."
                    if self.ds is not None
                    else "Goals are not available: the report was built without the dataset card."
                )
            )
            return "".join(parts) + "</section>"
        rows = [
            (
                g["label"],
                g["metric"],
                format_number(g["target"]),
                format_date(g["by"]),
                f"{format_number(g['actual'])} ({format_date(g['actual_date'])})"
                if g["actual"] is not None
                else "not available",
                f"{format_number(g['rate_per_day'], signed=True)} per day"
                if g["rate_per_day"] is not None
                else NA_TEXT,
                g["status"],
                format_date(g["projected_date"])
                if g["projected_date"] is not None
                else (
                    "already met"
                    if g["status"] == "met"
                    else "not reached at the current rate"
                    if g["actual"] is not None
                    else NA_TEXT
                ),
            )
            for g in self.goals.to_dict("records")
        ]
        parts.append(
            _table(
                "Goals: latest value against target",
                [
                    "Goal",
                    "Metric",
                    "Target",
                    "Deadline",
                    "Latest value",
                    "Current rate",
                    "Status",
                    "Projected date at current rate",
                ],
                rows,
                numeric=(2, 4, 5),
            )
        )
        parts.append(
            _p(
                "Met: the latest value reached the target. On track: the current rate (the fitted slope "
                "of the latest period) reaches it by the deadline. The projection is a straight line, "
                "not a forecast with uncertainty.",
                "meta",
            )
        )
        return "".join(parts) + "</section>"

    def posting_section(self) -> str:
        parts = ['<section id="posting"><h2>Best times to post and top posts</h2>']
        posts = self.r.posts
        if posts is None:
            parts.append(
                _note(self.r.missing_note("data/posts_coded.parquet", "Posting times and top posts"))
            )
            return "".join(parts) + "</section>"
        parts.append("<h3>When posts went out (descriptive)</h3>")
        if {"weekday_local", "hour_local"} <= set(posts.columns) and posts[
            ["weekday_local", "hour_local"]
        ].notna().all(axis=1).any():
            counts = count_posting_times(posts)
            tzname = self.ds.timezone if self.ds else "UTC"
            finding = describe_posting_times(counts, timezone=tzname)
            parts.append(
                _p(
                    "Descriptive only: these counts show when posts were published, not which times "
                    "work best; the models above hold audience size and year constant, these counts do not."
                )
            )
            parts.append(
                self._add_figure(
                    "posting_heatmap",
                    lambda ax: plot_posting_heatmap(posts, ax=ax),
                    alt=finding,
                    caption=f"Posts per weekday and hour ({tzname}), counts",
                    figsize=(10, 3.6),
                )
            )
            parts.append(_p(finding))
            if "impressions" in posts:
                frame = pd.DataFrame(
                    {
                        "day": pd.to_numeric(posts["weekday_local"], errors="coerce"),
                        "imp": pd.to_numeric(posts["impressions"], errors="coerce"),
                    }
                )
                frame = frame.dropna(subset=["day"])
                by_day = (
                    frame.groupby(frame["day"].astype(int))["imp"].agg(["size", "median"]).reindex(range(7))
                )
                rows = [
                    (WEEKDAYS[d], format_int(0 if pd.isna(r["size"]) else r["size"]), format_int(r["median"]))
                    for d, r in by_day.iterrows()
                ]
                parts.append(
                    _table(
                        "Posts and median impressions by weekday (descriptive)",
                        ["Weekday", "Posts", "Median impressions"],
                        rows,
                        numeric=(1, 2),
                    )
                )
        else:
            parts.append(
                _note("Posting times are not available: posts_coded has no weekday_local/hour_local.")
            )
        parts.append("<h3>Top posts by impressions</h3>")
        if "impressions" not in posts or posts["impressions"].notna().sum() == 0:
            parts.append(_note("Top posts are not available: no impressions were reported."))
            return "".join(parts) + "</section>"
        top = posts.assign(imp=pd.to_numeric(posts["impressions"], errors="coerce")).nlargest(5, "imp")
        when = (
            self._local(top["published_at"]).dt.strftime("%Y-%m-%d %H:%M")
            if "published_at" in top
            else pd.Series(NA_TEXT, index=top.index)
        )
        rows = []
        for idx, post in top.iterrows():  # five rows at most
            text = "" if "text" not in top or pd.isna(post.get("text")) else str(post["text"])
            # links inside a post are shown as [link]: the only URLs in the page are the posts' own permalinks
            text = _URL_IN_TEXT.sub("[link]", text)
            text = text if len(text) <= 280 else text[:279] + "…"
            eng = _num(post.get("engagements"))
            rate = format_pct(100 * eng / post["imp"]) if eng is not None and post["imp"] > 0 else NA_TEXT
            rows.append(
                (
                    when.loc[idx] if pd.notna(when.loc[idx]) else NA_TEXT,
                    text,
                    format_int(post["imp"]),
                    rate,
                    Safe(_permalink(post.get("permalink"))),
                )
            )
        parts.append(
            _table(
                f"Top {len(rows)} posts by impressions (times in {self.ds.timezone if self.ds else 'UTC'})",
                ["Published", "Post", "Impressions", "Engagement rate", "Link"],
                rows,
                numeric=(2, 3),
            )
        )
        return "".join(parts) + "</section>"

    def data_appendix(self) -> str:
        parts = ['<section id="data-appendix"><h2>Data appendix</h2><h3>Sources</h3>']
        log = self.r.ingest_log
        if log is None:
            parts.append(_note(self.r.missing_note("results/ingest_log.json", "The list of sources")))
        else:
            files = [f for f in (log.get("files") or []) if isinstance(f, Mapping)]
            keys = ("rows_read", "rows_kept", "rows_quarantined", "rows_superseded")
            rows = [
                (
                    f.get("file", ""),
                    f.get("format", ""),
                    f.get("table", ""),
                    *(format_int(f.get(k)) for k in keys),
                )
                for f in files
            ]
            if files:
                totals = [sum(_num(f.get(k)) or 0 for f in files) for k in keys]
                rows.append(("Total", "", "", *(format_int(t) for t in totals)))
            parts.append(
                _table(
                    "Source files as read by ingest",
                    ["File", "Format", "Table", "Rows read", "Kept", "Quarantined", "Superseded"],
                    rows,
                    numeric=(3, 4, 5, 6),
                )
            )
            parts.append(
                _p(
                    "Superseded rows are older snapshots of a post that also appears in a later export "
                    "(the latest snapshot wins). Quarantined rows could not be used; they are kept in "
                    "data/quarantine.csv with the reason.",
                    "meta",
                )
            )
        span = self.date_range()
        parts.append(
            _p(
                f"Date range of the data: {format_date(span[0])} to {format_date(span[1])}."
                if span
                else "Date range of the data: not available."
            )
        )
        reasons = self.r.quarantine_reasons
        if reasons is not None and len(reasons):
            rows = [(reason, format_int(n)) for reason, n in reasons.head(10).items()]
            parts.append(
                _table(
                    "Why rows were quarantined (most common reasons)", ["Reason", "Rows"], rows, numeric=(1,)
                )
            )
        notes = []
        for source, obj in (("ingest", log), ("models", self.r.models), ("growth", self.r.growth)):
            for w in (obj or {}).get("warnings") or []:
                notes.append(f"{source}: {w}")
        notes += [
            f"{path} could not be {'computed' if path.startswith('(') else 'read'}: {why}"
            for path, why in self.r.problems.items()
        ]
        parts.append("<h3>Warnings</h3>")
        parts.append(_ul(notes) if notes else _p("No warnings were recorded."))
        parts.append("<h3>Coding reliability</h3>")
        parts.append(self._reliability())
        return "".join(parts) + "</section>"

    def _reliability(self) -> str:
        rel = self.r.reliability
        if rel is None:
            return _note(
                self.r.missing_note("results/reliability.csv", "Coding reliability")
                + " Manual codes, if any, were not checked for agreement between coders."
            )
        out = []
        if len(self.low_codes):
            for code, alpha in zip(self.low_codes["code"], self.low_codes["krippendorff_alpha"], strict=True):
                text = (
                    f"Warning: the code {code} has Krippendorff’s α = {format_number(alpha)}, below 0.667, "
                    "and enters a model; treat its effect as tentative."
                )
                out.append(f'<p class="warning">{esc(text)}</p>')

        def stat(row: Mapping[str, Any], name: str) -> str:
            value = format_number(row.get(name))
            lo, hi = _num(row.get(f"{name}_ci_low")), _num(row.get(f"{name}_ci_high"))
            return (
                f"{value} ({format_number(lo)} to {format_number(hi)})"
                if lo is not None and hi is not None
                else value
            )

        rows = [
            (
                row.get("code", ""),
                format_int(row.get("n_overlap")),
                format_int(row.get("n_coders")),
                format_pct(100 * _num(row.get("percent_agreement")))
                if _num(row.get("percent_agreement")) is not None and _num(row.get("percent_agreement")) <= 1
                else format_pct(row.get("percent_agreement")),
                stat(row, "cohen_kappa"),
                stat(row, "krippendorff_alpha"),
                "" if pd.isna(row.get("interpretation")) else row.get("interpretation", ""),
            )
            for row in rel.to_dict("records")
        ]
        out.append(
            _table(
                "Agreement between coders on the overlap (95% CI in brackets)",
                [
                    "Code",
                    "Posts coded by ≥ 2",
                    "Coders",
                    "Agreement",
                    "Cohen’s κ",
                    "Krippendorff’s α",
                    "Interpretation",
                ],
                rows,
                numeric=(1, 2, 3, 4, 5),
            )
        )
        out.append(
            _p(
                "Krippendorff (2004): α ≥ 0.80 reliable; 0.667 ≤ α < 0.80 tentative conclusions only; "
                "below 0.667 the code should not be used to draw conclusions.",
                "meta",
            )
        )
        return "".join(out)

    def methods_appendix(self) -> str:
        growth = self.r.growth or {}
        comp = self.comparisons[0].results if self.comparisons else growth
        change = comp.get("slope_change") or {}
        eq = comp.get("equivalence") or {}
        lags = change.get("maxlags")
        margin = eq.get("margin") or (self.ds.analysis.equivalence_margin if self.ds else None)
        margin_text = _margin(margin) or "as stated in the dataset card"
        lag_text = (
            f"{format_int(lags)} lag(s)"
            if _num(lags) is not None
            else "floor(4·(n/100)^(2/9)) lags (Newey & West 1994)"
        )
        ratio_method = growth.get("slope_ratio_method") or comp.get("slope_ratio_method") or "delta method"
        items = [
            "Engagement rate = engagements ÷ impressions, computed per post for posts with impressions; the "
            "report shows its median.",
            "Impressions are the platform's count of times a post was shown; engagements are the platform's "
            "count of interactions (clicks, likes, reposts, replies …). Metrics a platform does not report "
            "are missing, never zero.",
            "Post-level model (primary): ordinary least squares on log(1 + outcome) with HC3 heteroskedasticity-"
            "robust standard errors; a coefficient b is reported as a % change 100·(exp(b) − 1) with its 95% "
            "CI; p-values are Holm-adjusted across the features tested. Controls: audience size "
            "(followers at the time of posting) and year.",
            "Published form: OLS with standardized variables (standardized β), shown only for comparison with "
            "the literature.",
            "Count-model check: negative binomial regression with the dispersion estimated; agreement with the "
            "primary model in direction and size supports the finding.",
            "Growth: a straight line is fitted to the follower series in each period (slope per day, R², as "
            "published). The change in slope is tested in one regression with a time × period interaction "
            f"and Newey–West (HAC) standard errors with {lag_text}, because consecutive days are not "
            f"independent. The slope ratio's 95% CI uses the {ratio_method}.",
            f"Equivalence: two one-sided tests (TOST) of the slope ratio against the margin {margin_text}; only "
            "a significant TOST supports “no meaningful change” — a large p-value alone never does.",
            "Monthly metrics: fold change of the period means with a 95% CI, Welch's t-test and the "
            "Mann–Whitney test; the one-tailed t-test is shown only as the published form.",
            "Counterfactual: the first period's trend projected over the later period with a 95% prediction "
            "band; the excess is observed minus projected at the end of the series.",
            "Goals: the latest value of the metric against the target; the projection extends the current "
            "slope in a straight line.",
        ]
        caveats = [
            "R² of a cumulative series such as followers is close to 1 whatever happens, so a high R² says "
            "nothing about whether growth changed.",
            "The data are observational: features were not assigned at random, so effects are associations "
            "that may reflect what was posted about, when, and to whom.",
            "Posting-time counts are descriptive and are not adjusted for anything.",
        ]
        return (
            '<section id="methods-appendix"><h2>Methods appendix</h2><h3>Definitions and methods</h3>'
            f"{_ul(items)}<h3>Caveats</h3>{_ul(caveats)}</section>"
        )

    def _safely(self, build: Callable[[], str], ident: str, heading: str) -> str:
        """Build one section; an unexpected error becomes a note in that section instead of no report at all."""
        # the rest of the report is still worth having; the error is shown in the section and warned
        try:
            return build()
        except Exception as exc:
            message = f"This section could not be built: {type(exc).__name__}: {exc}"
            warnings.warn(f"report section {heading!r}: {message}", RuntimeWarning, stacklevel=2)
            return f'<section id="{ident}"><h2>{esc(heading)}</h2>{_note(message)}</section>'

    def build(self) -> str:
        sections = [
            (self.summary, "summary", "Executive summary"),
            (self.key_figures, "key-figures", "Key figures"),
            (self.what_works, "what-works", "What works"),
            (self.growth_section, "growth", "Growth before and after"),
            (self.goals_section, "goals", "Goals"),
            (self.posting_section, "posting", "Best times to post and top posts"),
            (self.data_appendix, "data-appendix", "Data appendix"),
            (self.methods_appendix, "methods-appendix", "Methods appendix"),
        ]
        body = self.header() + "".join(self._safely(*item) for item in sections)
        title = self.ds.title if self.ds else self.r.run_dir.resolve().name
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)} — dissemination report</title><style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n"
        )


def _build(
    run_dir: str | Path, dataset: Dataset | None, today: dt.date | None = None
) -> tuple[str, dict[str, bytes]]:
    builder = _ReportBuilder(read_run_results(run_dir), dataset, today=today)
    page = builder.build()
    return page, builder.figures


def build_report_html(
    run_dir: str | Path, *, dataset: Dataset | None = None, today: dt.date | None = None
) -> str:
    """Return the self-contained HTML report for a run folder, without writing anything.

    Parameters
    ----------
    run_dir : path
        The run folder (DESIGN.md §5). Missing optional files give a "not available" note.
    dataset : Dataset, optional
        The dataset card: title, timezone, interventions and goals. Without it the report uses the run folder's
        name, UTC, the periods in growth.json and no goals.
    today : date, optional
        The date printed as "generated" and used to decide whether a goal's deadline has passed (default: today,
        UTC).
    """
    return _build(run_dir, dataset, today)[0]


def render_report(
    run_dir: str | Path,
    *,
    dataset: Dataset | None = None,
    out: str | Path | None = None,
    today: dt.date | None = None,
) -> Path:
    """Write the report to ``run_dir/report.html`` (or ``out``) and its figures to ``results/figures/*.png``.

    Every write is atomic. Returns the path of the HTML file.
    """
    run_dir = Path(run_dir)
    page, figures = _build(run_dir, dataset, today)
    for name, png in figures.items():
        write_bytes(run_dir / "results" / "figures" / f"{name}.png", png)
    return write_text(Path(out) if out is not None else run_dir / "report.html", page)
