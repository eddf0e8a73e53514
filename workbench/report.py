"""The leadership report: plain-language findings, tables and figures in one self-contained HTML file.

The report is built from the run folder alone (DESIGN.md §5): ``data/posts_coded.parquet``,
``data/account.parquet``, ``data/quarantine.csv`` and the ``results/`` files the earlier stages wrote. Every one
of them may be missing (a dataset without a follower sheet, without manual coding, a stage not yet run): the
report renders what exists and says plainly what is not available.

Safety: every string that comes from the data (post text, file names, labels, handles, warnings) is escaped with
:func:`html.escape`; the page has no scripts and no external resources (figures are inline base64 PNG), and the
only links are the posts' own permalinks (``http(s)`` only). Other accounts' @handles in post texts are shown
as "@…" unless ``show_handles=True``.

Checked in a real browser by ``tests/test_report_browser.py`` (offline load, no dialogs, images decode, A4
print, phone width, headings, captions, contrast); :func:`screenshot_report` keeps a PNG of the first screen.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
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
from scipy import stats

from . import __version__
from .dataset import Dataset, Goal
from .errors import InputError
from .features import FEATURE_DESCRIPTIONS, MENTION_RE
from .io import write_bytes, write_text
from .models import MIN_LEVEL_POSTS, SUMMARY_KEYS, VIF_FLAG
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

log = logging.getLogger(__name__)

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
    if term.startswith("is_"):
        noun = term[3:].replace("_", " ")
        plural = noun if noun.endswith("s") else f"{noun}s"
        return f"{plural} received {size} {more} {outcome} than comparable posts that are not ({ci})"
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


def _rate(period: Mapping[str, Any]) -> tuple[float | None, Any]:
    """A period's growth rate per day and its CI: the increments model's ``rate_per_day`` where growth.json has
    it (the rigorous form), else the published per-period level fit (``slope_per_day``)."""
    if _num(period.get("rate_per_day")) is not None:
        return _num(period.get("rate_per_day")), period.get("rate_ci")
    return _num(period.get("slope_per_day")), period.get("slope_ci")


def describe_growth(comparison: GrowthComparison, *, metric: str = "followers") -> str:
    """Return the plain verdict on one comparison: faster/slower with its CI and HAC p, equivalent, or unknown."""
    r = comparison.results
    change = r.get("slope_change") or {}
    p = _num(change.get("p_value"))
    ratio = _num(r.get("slope_ratio"))
    ratio_ci = r.get("slope_ratio_ci")
    before_slope = _rate(comparison.before)[0]
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


def monthly_metrics_table(monthly_all: Any) -> list[tuple[str, ...]]:
    """Rows (metric, before, after, fold change with CI, Welch p, Mann–Whitney p, Hedges g) of growth.json's
    ``monthly_all``; [] when it is absent or malformed."""
    if not isinstance(monthly_all, Mapping):
        return []
    rows = []
    for metric, m in monthly_all.items():
        if not isinstance(m, Mapping) or _num(m.get("fold_change")) is None:
            continue
        rows.append(
            (
                str(metric).replace("_", " "),
                format_number(m.get("before_mean")),
                format_number(m.get("after_mean")),
                f"{format_ratio(m.get('fold_change'))} ({_ci(m.get('fold_change_ci'), format_ratio)})",
                format_p(m.get("welch_p_two_sided")),
                format_p(m.get("mannwhitney_p")),
                format_number(m.get("effect_size")),
            )
        )
    return rows


def describe_placebo(placebo: Mapping[str, Any]) -> str | None:
    """Say how unusual the real change is among placebo changes at earlier dates, or None."""
    summary = placebo.get("summary") if isinstance(placebo, Mapping) else None
    if not summary or not _num(placebo.get("n")):
        return None
    return f"Placebo check: {summary}"


def describe_state_space(ss: Mapping[str, Any], *, metric: str = "followers") -> str | None:
    """The local-linear-trend model's forecast as a second opinion on the counterfactual, or None."""
    if not isinstance(ss, Mapping) or ss.get("error") or _num(ss.get("forecast_end")) is None:
        return None
    ci = _ci(ss.get("excess_ci"), lambda v: format_number(v, signed=True))
    caveat = "" if ss.get("converged", True) else " (the model's fit did not fully converge; treat with caution)"
    return (
        f"Second opinion (a local linear trend state-space model of the earlier months): it forecast "
        f"{format_number(ss.get('forecast_end'))} {metric} against {format_number(ss.get('observed_end'))} observed, "
        f"a difference of {format_number(ss.get('excess_end'), signed=True)} ({ci}){caveat}."
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


# --------------------------------------------------------------------------------------------------------------
# Model diagnostics (results/models.json), read defensively: an older or partial file gives "not available"
# --------------------------------------------------------------------------------------------------------------

NOT_AVAILABLE = "not available"
#: the only permalinks that become links (the posts' own http(s) URLs).
_HTTP_URL = re.compile(r"^https?://[^\s\"'<>]+$")
#: how many of the most influential posts the report links to per outcome.
N_INFLUENTIAL_SHOWN = 3
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


def _post_link(url: Any, label: str) -> str:
    """``label`` as a link to the post when ``url`` is http(s); otherwise ``label`` and the url as plain text."""
    if isinstance(url, str) and _HTTP_URL.match(url.strip()):
        return f'<a href="{esc(url.strip())}" rel="noopener noreferrer">{esc(label)}</a>'
    if isinstance(url, str) and url.strip():
        return f"{esc(label)} ({esc(url)})"
    return f"{esc(label)} (no link)"


def _describe_counts(counts: Mapping[str, Any]) -> str:
    parts = [f"{reason}: {format_int(n)}" for reason, n in counts.items() if (_num(n) or 0) > 0]
    return "; ".join(parts)


def _p_or_na(p: Any) -> str:
    return NOT_AVAILABLE if _num(p) is None else _p_is(p)


def summarize_diagnostics(models: Mapping[str, Any] | None, *, outcome: str) -> list[tuple[str, str]]:
    """Return one outcome's model diagnostics as (check, value) rows for the methods appendix.

    Parameters
    ----------
    models : mapping
        ``results/models.json`` as read (``diagnostics[outcome]`` as described in ``fit_post_models``).
    outcome : str
        The outcome whose entry is summarized.

    Returns
    -------
    list of (str, str)
        Posts used and dropped (with reasons), the largest VIF and the terms above the VIF flag, the share of
        zeros, residual skew, the Breusch–Pagan p, the overdispersion p-values, the engagement-rate model's
        posts, the number of posts with Cook's distance above 4/n, the most influential posts and the
        separation / rare-level flags. Values are plain text, except the influential posts, which are
        :class:`Safe` HTML (links only for http(s) permalinks, everything escaped). A key that is missing or
        malformed gives "not available".
    """
    diag = _as_mapping(_as_mapping(_as_mapping(models).get("diagnostics")).get(outcome))
    rows: list[tuple[str, str]] = []

    n, n_total = _num(diag.get("n")), _num(diag.get("n_total"))
    used = (
        NOT_AVAILABLE
        if n is None
        else format_int(n) + ("" if n_total is None else f" of {format_int(n_total)}")
    )
    rows.append(("Posts used", used))
    n_dropped = _num(diag.get("n_dropped"))
    if n_dropped is None and n is not None and n_total is not None:
        n_dropped = n_total - n
    reasons = _describe_counts(_as_mapping(diag.get("dropped")))
    dropped = (
        NOT_AVAILABLE if n_dropped is None else format_int(n_dropped) + (f" ({reasons})" if reasons else "")
    )
    rows.append(("Posts dropped (missing values)", dropped))

    vif = {str(k): _num(v) for k, v in _as_mapping(diag.get("vif")).items() if _num(v) is not None}
    terms = _as_mapping(diag.get("terms"))
    if vif:
        term, value = max(vif.items(), key=lambda kv: kv[1])
        flag = f" — above {VIF_FLAG:g}: collinear" if value > VIF_FLAG else f" (all ≤ {VIF_FLAG:g})"
        rows.append(("Largest VIF", f"{term}: {format_number(value)}{flag}"))
        above = [
            f"{t} ({format_number(v)}{', control' if terms.get(t) == 'control' else ''})"
            for t, v in sorted(vif.items(), key=lambda kv: -kv[1])
            if v > VIF_FLAG
        ]
        rows.append((f"Terms with VIF above {VIF_FLAG:g}", ", ".join(above) if above else "none"))
    else:
        rows.append(("Largest VIF", NOT_AVAILABLE))

    zero = _num(diag.get("zero_share"))
    rows.append(
        (f"Share of posts with 0 {outcome}", NOT_AVAILABLE if zero is None else format_pct(100 * zero))
    )

    resid = _as_mapping(_as_mapping(diag.get("residuals")).get("ols_log"))
    skew, kurt = _num(resid.get("skew")), _num(resid.get("excess_kurtosis"))
    skew_text = NOT_AVAILABLE if skew is None else format_number(skew)
    if skew is not None and kurt is not None:
        skew_text += f" (excess kurtosis {format_number(kurt)})"
    rows.append(("Residual skew (log scale)", skew_text))
    bp_text = _p_or_na(resid.get("bp_p"))
    if _num(resid.get("bp_p")) is not None and _num(resid.get("bp_r2")) is not None:
        bp_text += f" (R² of the squared residuals {format_number(resid['bp_r2'])})"
    rows.append(("Heteroskedasticity (Breusch–Pagan) p", bp_text))

    over = _as_mapping(diag.get("overdispersion"))
    for model, label in (("negbin", "Overdispersion vs Poisson p (negbin)"), ("negbin_rate", None)):
        test = over.get(model)
        if label is None:
            if not isinstance(test, Mapping):
                continue
            label = "Overdispersion vs Poisson p (negbin_rate)"
        test = _as_mapping(test)
        if "error" in test and _num(test.get("ct_p")) is None and _num(test.get("lr_p")) is None:
            rows.append((label, f"{NOT_AVAILABLE}: {test['error']}"))
            continue
        ct, lr = _num(test.get("ct_p")), _num(test.get("lr_p"))
        bits = [
            f"Cameron–Trivedi {_p_is(ct)}" if ct is not None else "",
            f"likelihood ratio {_p_is(lr)}" if lr is not None else "",
        ]
        rows.append((label, "; ".join(b for b in bits if b) or NOT_AVAILABLE))

    rate = diag.get("rate_model")
    if isinstance(rate, Mapping):
        rate_n = _num(rate.get("n"))
        rate_reasons = _describe_counts(_as_mapping(rate.get("dropped")))
        text = NOT_AVAILABLE if rate_n is None else format_int(rate_n)
        rows.append(
            (
                "Posts in the engagement-rate model",
                text + (f" (left out: {rate_reasons})" if rate_reasons else ""),
            )
        )

    cook = _num(diag.get("n_cook_above_4_over_n"))
    rows.append(("Posts with Cook's distance > 4/n", NOT_AVAILABLE if cook is None else format_int(cook)))
    influential = [r for r in _as_records(diag.get("influential")) if _num(r.get("cook_d")) is not None]
    influential.sort(key=lambda r: -_num(r["cook_d"]))
    if influential:
        links = []
        for r in influential[:N_INFLUENTIAL_SHOWN]:
            post_id = r.get("post_id")
            label = f"post {post_id}" if post_id not in (None, "") else f"row {r.get('row', '?')}"
            links.append(f"{_post_link(r.get('permalink'), label)} (D = {_num(r['cook_d']):.3g})")
        rows.append(("Most influential posts", Safe("; ".join(links))))
    else:
        raw = diag.get("influential")
        rows.append(
            ("Most influential posts", "none" if isinstance(raw, list) and not raw else NOT_AVAILABLE)
        )

    flags = diag.get("flags")
    found = (
        [str(f) for f in flags if str(f).startswith(("rare level:", "separation:"))]
        if isinstance(flags, list)
        else []
    )
    if not any(f.startswith("separation:") for f in found):
        for sep in _as_records(diag.get("separation")):
            what = "with" if _num(sep.get("level")) == 1 else "without"
            found.append(f"separation: {sep.get('term')} ({what}: all 0)")
    known = isinstance(flags, list) or isinstance(diag.get("separation"), list)
    rows.append(
        ("Separation and rare levels", "; ".join(found) if found else "none" if known else NOT_AVAILABLE)
    )
    return rows


def mask_handles(texts: pd.Series, *, own: Iterable[str] = ()) -> pd.Series:
    """Return the texts with every @mention replaced by "@…", except the handles in ``own``.

    Mentions are found as the feature ``n_mentions`` counts them (:data:`workbench.features.MENTION_RE`);
    ``own`` handles are compared case-insensitively, with or without a leading @.
    """
    keep = {str(h).strip().lstrip("@＠").lower() for h in own if isinstance(h, str) and h.strip()}

    def replace(match: re.Match) -> str:
        return match.group(0) if match.group(0)[1:].lower() in keep else "@…"

    return texts.astype("string").str.replace(MENTION_RE, replace, regex=True)


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


def find_chromium() -> str | None:
    """Return the path of a Chromium/Chrome executable: ``$WORKBENCH_CHROMIUM``, else the first on PATH."""
    explicit = os.environ.get("WORKBENCH_CHROMIUM")
    names = (
        [explicit] if explicit else ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
    )
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot_report(
    report_path: str | Path,
    png_path: str | Path,
    *,
    width: int = 1280,
    height: int = 900,
    timeout: float = 60.0,
) -> Path | None:
    """Save a PNG of the report's first screen (``width`` × ``height`` CSS pixels) with headless Chromium.

    The page is opened from the file with every host name unresolvable, so nothing leaves the machine (the
    report itself has no scripts and no external resources). Returns ``png_path``, or None with the reason logged (warning) when no Chromium is
    found (set ``WORKBENCH_CHROMIUM`` to point at one), the report does not exist, or the browser fails.
    """
    report_path, png_path = Path(report_path), Path(png_path)
    if not report_path.is_file():
        log.warning("No screenshot of the report: %s does not exist.", report_path)
        return None
    browser = find_chromium()
    if browser is None:
        log.warning(
            "No screenshot of the report: no Chromium found on PATH (chromium, chromium-browser, google-chrome); "
            "set WORKBENCH_CHROMIUM to a Chromium executable to keep one."
        )
        return None
    with tempfile.TemporaryDirectory(prefix="workbench-chromium-") as tmp:
        shot = Path(tmp) / "shot.png"
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--window-size={int(width)},{int(height)}",
            f"--screenshot={shot}",
            report_path.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # Chromium refuses to start as root with its sandbox
            command.insert(2, "--no-sandbox")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("No screenshot of the report: %s failed: %s", browser, exc)
            return None
        png = shot.read_bytes() if shot.is_file() else b""
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            detail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            log.warning("No screenshot of the report: %s wrote no PNG (%s)", browser, detail[0])
            return None
    return write_bytes(png_path, png)


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
    caption: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Sequence[int] = (),
    row_headers: bool = False,
) -> str:
    """A captioned table; header cells carry ``scope``; with ``row_headers`` each row's first cell is a th.

    The wrapper scrolls sideways on narrow screens; it is focusable so keyboard users can scroll it (the
    table's caption names it).
    """
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<th scope="row">{esc(c)}</th>'
            if row_headers and i == 0
            else f'<td class="num">{esc(c)}</td>'
            if i in numeric
            else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="table-wrap" tabindex="0"><table><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _permalink(url: Any) -> str:
    """A link to the post when its permalink is an http(s) URL; other schemes are shown as text only."""
    if not isinstance(url, str) or not _HTTP_URL.match(url.strip()):
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
    def __init__(
        self,
        results: RunResults,
        dataset: Dataset | None,
        *,
        today: dt.date | None = None,
        show_handles: bool = False,
    ) -> None:
        self.r = results
        self.ds = dataset
        self.show_handles = show_handles
        self.today = today or dt.datetime.now(dt.UTC).date()
        self.figures: dict[str, bytes] = {}
        self.tz = ZoneInfo(dataset.timezone if dataset else "UTC")
        models = results.models or {}
        self.primary = str(models.get("primary_model") or "ols_log")
        growth = results.growth or {}
        self.metric = str(growth.get("metric") or "followers")
        since = dataset.interventions[-1].date if dataset and dataset.interventions else None
        terms = results.regression["term"].astype(str).unique() if results.regression is not None else []
        self.thin = self._derive("the too-little-data check", lambda: find_thin_effects(results.models), {})
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
        self.split = self._split()
        self.period_change = self._derive(
            "the before/after medians",
            lambda: (
                compare_post_medians(results.posts, split=self.split[0], timezone=str(self.tz))
                if self.split is not None and results.posts is not None and "published_at" in results.posts
                else None
            ),
            None,
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
        eff = primary_effects(reg, model=self.primary)
        # a binary feature with too few posts in a level is "cannot tell", never a finding (models.json)
        keys = zip(eff["outcome"].astype(str), eff["term"].astype(str), strict=True)
        eff["cannot_tell"] = [self.thin.get(key, "") for key in keys]
        eff["supported"] = eff["supported"] & (eff["cannot_tell"] == "")
        return eff

    def _split(self) -> tuple[dt.date, str] | None:
        """The first intervention: (date, label) from the card, else the start of growth.json's second period."""
        if self.ds is not None and self.ds.interventions:
            first = self.ds.interventions[0]
            return first.date, first.label
        if self.comparisons:
            start = self.comparisons[0].after.get("start")
            try:
                return pd.Timestamp(start).date(), self.comparisons[0].label
            except (TypeError, ValueError):
                return None
        return None

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
            sentence = f"This report covers {format_int(k['n_posts'])} posts{when}{imp}."
            change = self._median_change_row("impressions")
            if change is not None and _num(change["ratio"]) is not None:
                sentence += (
                    f" After {self.split[1]}, the median post was seen {format_ratio(change['ratio'])} as often "
                    f"as before ({format_int(change['median_before'])} → {format_int(change['median_after'])} "
                    f"impressions; {_ci([change['ratio_ci_low'], change['ratio_ci_high']], format_ratio)})."
                )
            out.append(sentence)
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
                    f"{'after correction for multiple testing' if kind.startswith('Holm') else 'at p < 0.05'}"
                    f"{self._thin_clause(eff)}."
                )
            else:
                out.append(
                    f"No post feature had a clear effect on {' or '.join(self._outcomes())}: none of the "
                    f"{len(eff)} feature–outcome estimates held up "
                    f"{'after correction for multiple testing' if kind.startswith('Holm') else 'at p < 0.05'}"
                    f"{self._thin_clause(eff)}."
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
            per_day = _rate(growth["periods"][0])[0]
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

    @staticmethod
    def _thin_clause(eff: pd.DataFrame) -> str:
        thin = eff[eff["cannot_tell"] != ""]
        if not len(thin):
            return ""
        names = ", ".join(dict.fromkeys(label_feature(str(t)).lower() for t in thin["term"]))
        return (
            f"; the data cannot tell for {names}: too few posts with or without the feature "
            f"(fewer than {MIN_LEVEL_POSTS})"
        )

    def _median_change_row(self, metric: str) -> Mapping[str, Any] | None:
        table = self.period_change
        if table is None or not (table["metric"] == metric).any():
            return None
        return table[table["metric"] == metric].iloc[0].to_dict()

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
            f"{definition}{''.join(notes)}{self._change_table()}</section>"
        )

    def _change_table(self) -> str:
        """Before vs after the first intervention: post medians (order-statistic CIs) and growth.json results."""
        if self.split is None:
            return "<h3>Before and after</h3>" + _note(
                "No intervention is set in the dataset card, so no period-over-period change is shown."
            )
        date, label = self.split
        rows = []
        for metric, name, fmt in (
            ("impressions", "Impressions per post, median", format_int),
            (
                "engagement_rate",
                "Engagement rate, median",
                lambda v: format_pct(None if v is None else 100 * v),
            ),
        ):
            row = self._median_change_row(metric)
            if row is None:
                continue
            ratio = _num(row["ratio"])
            change = (
                f"{format_ratio(ratio)} ({_ci([row['ratio_ci_low'], row['ratio_ci_high']], format_ratio)})"
                if ratio is not None
                else "not available (too few posts, or a median of zero)"
            )
            rows.append(
                (
                    name,
                    f"{fmt(_num(row['median_before']))} ({format_int(row['n_before'])} posts)",
                    f"{fmt(_num(row['median_after']))} ({format_int(row['n_after'])} posts)",
                    change,
                )
            )
        if self.comparisons:
            comp = self.comparisons[0]
            r = comp.results
            rows.append(
                (
                    f"{self.metric.capitalize()} gained per day",
                    format_number(_rate(comp.before)[0], signed=True),
                    format_number(_rate(comp.after)[0], signed=True),
                    f"{format_ratio(r.get('slope_ratio'))} ({_ci(r.get('slope_ratio_ci'), format_ratio)})",
                )
            )
            monthly = r.get("monthly") or {}
            if _num(monthly.get("fold_change")) is not None:
                rows.append(
                    (
                        f"Monthly {monthly.get('metric', 'metric')}, mean",
                        format_int(monthly.get("before_mean")),
                        format_int(monthly.get("after_mean")),
                        f"{format_ratio(monthly.get('fold_change'))} "
                        f"({_ci(monthly.get('fold_change_ci'), format_ratio)})",
                    )
                )
        if not rows:
            return f"<h3>Before and after {esc(label)}</h3>" + _note(
                "The change at the first intervention is not available: no posts or growth results."
            )
        return (
            f"<h3>Before and after {esc(label)}</h3>"
            + _table(
                f"Change at {label} ({format_date(date)}): after ÷ before, with 95% CI",
                ["Measure", "Before", "After", "Change (after ÷ before)"],
                rows,
                numeric=(1, 2, 3),
                row_headers=True,
            )
            + _p(
                "Medians of single posts compare the typical post, which a few viral posts cannot move; their "
                "95% intervals are distribution-free (order statistics of each period, combined on the log "
                "scale). Growth and monthly figures come from the growth comparison below. A change here "
                f"went with {label}; it is not proof that {label} caused it.",
                "meta",
            )
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
        model_text = {
            "ols_log": "OLS on log(1 + count) with robust HC3 errors",
            "negbin": "a negative binomial count model with robust errors",
        }.get(self.primary, self.primary)
        parts.append(
            _p(
                "Each row is the % difference in a post's impressions or engagements that goes with a feature, "
                f"holding the other features, audience size and year constant ({model_text}). Percentages come "
                f"with 95% confidence intervals; p-values are {kind} for the number of features tested. These are "
                "associations in observational data, not proof of cause."
            )
        )
        reason = (self.r.models or {}).get("primary_reason")
        if reason:
            parts.append(_p(f"Why this model: {reason}", "meta"))
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
            for term, why in zip(eff["term"], eff["cannot_tell"], strict=True):
                if why:
                    parts.append(
                        _p(
                            f"Cannot tell for {label_feature(str(term)).lower()}: {why} (fewer than "
                            f"{MIN_LEVEL_POSTS} posts in a group), so its estimate for {outcome} is too "
                            "imprecise to judge either way — whatever it says above.",
                            "warning",
                        )
                    )
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
                    f"cannot tell: {thin}" if thin else "clear" if ok else "not clear",
                )
                for t, e, lo, hi, p, thin, ok in zip(
                    eff["term"],
                    eff["effect_pct"],
                    eff["effect_pct_ci_low"],
                    eff["effect_pct_ci_high"],
                    eff["p_used"],
                    eff["cannot_tell"],
                    eff["supported"],
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
                        "Verdict",
                    ],
                    rows,
                    numeric=(1, 2, 3),
                )
            )
            parts.append(self._sensitivity_table(outcome))
        parts.append(self._published_table())
        parts.append("</section>")
        return "".join(parts)

    def _sensitivity_table(self, outcome: str) -> str:
        heading = "<h4>How much does this depend on the controls?</h4>"
        sens = tabulate_controls_sensitivity(self.r.models, outcome=outcome)
        if sens.empty:
            return heading + _note(
                f"How much the {outcome} effects depend on the controls is not available: results/models.json "
                "has no controls sensitivity for this outcome."
            )
        n = sens["n"].dropna()
        n_text = f"; n = {format_int(n.iloc[0])} posts" if len(n) else ""
        rows = [
            (
                label_feature(t),
                format_pct(without, signed=True),
                format_pct(with_, signed=True),
                NOT_AVAILABLE if _num(change) is None else f"{format_number(change, signed=True)} points",
            )
            for t, without, with_, change in zip(
                sens["term"],
                sens["effect_pct_without_controls"],
                sens["effect_pct_with_controls"],
                sens["change_pct_points"],
                strict=True,
            )
        ]
        table = _table(
            f"{outcome.capitalize()}: % change per feature without and with the controls (OLS on log scale{n_text})",
            ["Feature", "% change without controls", "% change with controls", "Change (percentage points)"],
            rows,
            numeric=(1, 2, 3),
        )
        note = _p(
            "The controls are audience size (followers at the time of posting) and year. A large change means "
            "part of the feature's raw difference went with when the post was made or how big the audience was.",
            "meta",
        )
        return heading + table + note

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
                describe_state_space(comp.results.get("state_space") or {}, metric=self.metric),
                describe_placebo(comp.results.get("placebo") or {}),
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
            monthly_all = monthly_metrics_table(comp.results.get("monthly_all"))
            if monthly_all:
                parts.append(
                    _table(
                        f"Monthly metrics before and after {comp.label}: means per month, fold change (after ÷ "
                        "before) with 95% CI, Welch and Mann–Whitney p (two-sided), Hedges g",
                        ["Metric", "Before", "After", "Fold change (95% CI)", "Welch p", "Mann–Whitney p",
                         "Hedges g"],
                        monthly_all,
                        numeric=(1, 2, 3, 4, 5, 6),
                        row_headers=True,
                    )
                )
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
            rate, ci = _rate(p)
            return f"{format_number(rate)} per day ({_ci(ci, format_number)})"

        # the published form compares the per-period level fits; growth.json keeps that model as level_model
        published = r.get("level_model") or {}
        published_ratio = published.get("slope_ratio", r.get("slope_ratio"))
        naive_p = published.get("naive_p_value", change.get("naive_p_value", r.get("naive_p_value")))

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
                f"slope ratio {format_ratio(published_ratio)}; naive OLS "
                f"{_p_is(naive_p)} "
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
        if "text" in top and not self.show_handles:
            # other people's handles are not printed unless the card's owner allows it (show_handles)
            own = top["account"].dropna().astype(str).unique() if "account" in top else ()
            top = top.assign(text=mask_handles(top["text"], own=own))
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
        if not self.show_handles:
            items.append(
                "Top posts: @handles of other accounts are shown as @… (the organization's own handle is kept)."
            )
        features = _table(
            "Automatic features: what each column of posts_coded means",
            ["Feature", "Column", "Definition"],
            [(label_feature(name), name, text) for name, text in FEATURE_DESCRIPTIONS.items()],
            row_headers=True,
        )
        return (
            '<section id="methods-appendix"><h2>Methods appendix</h2><h3>Definitions and methods</h3>'
            f"{_ul(items)}<h3>Model diagnostics</h3>{self._diagnostics()}<h3>Automatic features</h3>{features}<h3>Manual codes (codebook)</h3>"
            f"{self._codebook()}<h3>Caveats</h3>{_ul(caveats)}</section>"
        )

    def _fitted_models(self) -> set[str] | None:
        """Models with rows in regression.csv or that converged per models.json; None when neither says."""
        found: set[str] = set()
        known = False
        reg = self.r.regression
        if reg is not None:
            known = True
            found |= set(reg["model"].astype(str))
        diagnostics = _as_mapping(_as_mapping(self.r.models).get("diagnostics"))
        for outcome in list_diagnosed_outcomes(self.r.models):
            converged = diagnostics[outcome].get("converged")
            if isinstance(converged, Mapping):
                known = True
                found |= {str(m) for m, ok in converged.items() if ok is True}
        return found if known else None

    def _diagnostics(self) -> str:
        models = self.r.models
        if models is None:
            return _note(self.r.missing_note("results/models.json", "Model checking"))
        outcomes = list_diagnosed_outcomes(models)
        outcomes = [o for o in self._outcomes() if o in outcomes] + [
            o for o in outcomes if o not in self._outcomes()
        ]
        parts = [
            _p(
                "Checks of the post-level models, per outcome (of ols_log unless stated). VIF above "
                f"{VIF_FLAG:g} means a term is strongly collinear with the others (between controls such as "
                "year and audience size it does not affect the features' estimates). Many zeros, skewed "
                "residuals or a small heteroskedasticity p-value speak against the log-scale model; a small "
                "overdispersion p-value means a Poisson model would understate the uncertainty of a count "
                "model. Influential posts (Cook's distance) move the estimates most; worth a look, not "
                "removal.",
                "meta",
            )
        ]
        if not outcomes:
            parts.append(
                _note(
                    "Model diagnostics are not available: results/models.json has no diagnostics per outcome."
                )
            )
        for outcome in outcomes:
            parts.append(f"<h4>{esc(outcome.capitalize())}</h4>")
            parts.append(
                _table(
                    f"{outcome.capitalize()}: model diagnostics",
                    ["Check", "Result"],
                    summarize_diagnostics(models, outcome=outcome),
                    row_headers=True,
                )
            )
        primary = _as_mapping(_as_mapping(models.get("diagnostics")).get("primary"))
        model = models.get("primary_model") or primary.get("model")
        reason = models.get("primary_reason") or primary.get("reason")
        parts.append("<h4>Primary model</h4>")
        parts.append(_p(f"Primary model: {model if model else NOT_AVAILABLE}."))
        why = str(reason).strip() if reason else NOT_AVAILABLE
        parts.append(_p(f"Why: {why}" + ("" if why.endswith(".") else ".")))
        fitted = self._fitted_models()
        lines = {
            "ols_log": "OLS on log(1 + count) with HC3 robust errors — "
            + (
                "the primary model."
                if self.primary == "ols_log"
                else f"a check; the primary model is {self.primary}."
            ),
            "ols_std": "OLS with standardized variables — the published form (standardized β), for comparison "
            "with the literature only.",
            "negbin": "Negative binomial regression of the count — "
            + (
                "the primary model."
                if self.primary == "negbin"
                else "the count-model check of the primary model."
            ),
            "negbin_rate": "Negative binomial regression of engagements with log(impressions) as offset — "
            "the engagement rate per impression.",
        }
        items = []
        for name, text in lines.items():
            status = (
                "whether it was fitted is not available"
                if fitted is None
                else "fitted"
                if name in fitted
                else "not fitted in this run"
            )
            items.append(f"{name}: {text} ({status})")
        parts.append("<h4>Models fitted</h4>" + _ul(items))
        return "".join(parts)

    def _codebook(self) -> str:
        if self.ds is None:
            return _note("The codebook is not available: the report was built without the dataset card.")
        path = self.ds.codebook_path()
        if path is None:
            return _note("The dataset card names no codebook, so no manual code definitions are shown.")
        relpath = self.ds.codebook
        if not path.is_file():
            return _note(f"The codebook is not available: {relpath} was not found in the dataset folder.")
        try:
            codes, problems = read_codebook(path)
        except InputError as exc:
            return _note(f"The codebook is not available: {relpath}: {exc}")
        if not codes:
            return _note(f"The codebook {relpath} lists no codes.") + _ul(problems)
        rows = [
            (c["name"], c["type"], c["definition"], c["include"], c["exclude"], c["examples"]) for c in codes
        ]
        table = _table(
            f"Manual codes as defined in {relpath}",
            ["Code", "Type", "Definition", "Include", "Exclude", "Examples"],
            rows,
            row_headers=True,
        )
        return table + (_ul(problems) if problems else "")

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
    run_dir: str | Path, dataset: Dataset | None, today: dt.date | None = None, show_handles: bool = False
) -> tuple[str, dict[str, bytes]]:
    builder = _ReportBuilder(read_run_results(run_dir), dataset, today=today, show_handles=show_handles)
    page = builder.build()
    return page, builder.figures


def build_report_html(
    run_dir: str | Path,
    *,
    dataset: Dataset | None = None,
    today: dt.date | None = None,
    show_handles: bool = False,
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
    show_handles : bool
        Print other accounts' @handles in the top posts' texts. By default they become "@…" (only the
        organization's own handle, the posts' ``account``, is kept): people named in posts did not agree to
        appear in a report.
    """
    return _build(run_dir, dataset, today, show_handles)[0]


def render_report(
    run_dir: str | Path,
    *,
    dataset: Dataset | None = None,
    out: str | Path | None = None,
    today: dt.date | None = None,
    show_handles: bool = False,
) -> Path:
    """Write the report to ``run_dir/report.html`` (or ``out``) and its figures to ``results/figures/*.png``.

    Every write is atomic. Returns the path of the HTML file. ``dataset``, ``today`` and ``show_handles``
    are as in :func:`build_report_html`.
    """
    run_dir = Path(run_dir)
    page, figures = _build(run_dir, dataset, today, show_handles)
    for name, png in figures.items():
        write_bytes(run_dir / "results" / "figures" / f"{name}.png", png)
    return write_text(Path(out) if out is not None else run_dir / "report.html", page)
