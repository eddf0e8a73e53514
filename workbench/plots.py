"""Figures for the notebooks and the report: data first, keyword-only options, each returns the Axes.

Colours come from seaborn's ``colorblind`` palette (Okabe–Ito-like) and the ``cividis`` colour map, so every
figure reads the same for people with the common colour-vision deficiencies. seaborn itself is never imported
(its palette is copied below, its heatmap drawn with matplotlib): importing it costs a kernel ≈ 0.2 CPU-s and
15 MB. The functions draw on the Axes they are given; without one they draw on a new figure from pyplot (the
report passes Axes of Agg-backed figures so batch runs never need a display).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb

from .errors import InputError
from .schema import check_columns
from .vocab import label_feature  # noqa: F401 (one vocabulary; plots re-exports it)

#: period label growth.json gives a month that contains an intervention date (left out of the comparison).
TRANSITION = "transition"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


#: seaborn's ``colorblind`` palette (``seaborn.palettes.SEABORN_PALETTES["colorblind"]``, seaborn 0.13), as
#: ``sns.color_palette("colorblind")`` gives it; a test checks the two agree.
COLORBLIND = ("#0173B2", "#DE8F05", "#029E73", "#D55E00", "#CC78BC", "#CA9161", "#FBAFE4", "#949494", "#ECE133",
              "#56B4E9")


def palette(n: int) -> list[tuple[float, float, float]]:
    """Return ``n`` colour-blind-safe colours (seaborn ``colorblind``, cycled); none for ``n`` = 0."""
    base = [to_rgb(c) for c in COLORBLIND]
    return [base[i % len(base)] for i in range(n)]


#: white space around a figure's outermost labels, in font sizes (0.3 × 10 pt ≈ the 3 pt that matplotlib's
#: constrained layout leaves)
FIGURE_PAD = 0.3


def new_figure(figsize: tuple[float, float], *, nrows: int = 1, ncols: int = 1, dpi: float = 100) -> tuple[Any, Any]:
    """An Agg-backed figure outside pyplot (no open-figure state, no display needed) and its ``nrows × ncols``
    Axes as a 2-D array; :func:`figure_png` turns it into PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def figure_png(fig: Any, *, pad: float = FIGURE_PAD) -> bytes:
    """PNG bytes of a figure (without tool metadata), drawn once at its own size and dpi.

    The margins are fitted to the labels by one tight-layout pass (a
    :class:`~matplotlib.layout_engine.TightLayoutEngine` executed, not attached), and the figure keeps no layout
    engine, so ``savefig`` draws it a single time. A constrained layout runs its two-pass layout in every draw,
    ``savefig`` draws twice when a figure has an engine, and an inline backend's ``bbox_inches="tight"`` costs
    a pass more: four or five passes over every tick label and text instead of two (0.05-0.1 s per figure).
    """
    from matplotlib.layout_engine import TightLayoutEngine

    # rect=None: one pass (a rect costs a second one); between panels the default 1.08 font sizes
    TightLayoutEngine(pad=pad, h_pad=1.08, w_pad=1.08, rect=None).execute(fig)
    fig.set_layout_engine(None)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    return buf.getvalue()


class FigurePNG:
    """A figure already drawn: PNG bytes that a notebook shows as the cell's image (``_repr_png_``), so no
    backend draws the figure again."""

    def __init__(self, png: bytes) -> None:
        self.png = png

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"<figure: PNG, {len(self.png):,} bytes>"


def show_figure(fig: Any) -> FigurePNG:
    """The figure drawn once as PNG for a notebook cell (:func:`figure_png`)."""
    return FigurePNG(figure_png(fig))


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def literal_text(text: Any) -> str:
    """``text`` escaped so matplotlib draws it as written: a ``$`` would otherwise start mathtext ("Saved $5k then
    $10k" drawn as "Saved 5kthen10k"; ``$\\frac{1}{$`` raises a parse error), and a legend hides a label that
    starts with ``_``. Every user-supplied text we draw goes through this."""
    out = str(text).replace("$", r"\$")
    return "\u2009" + out if out.startswith("_") else out


def _growth_reason(growth: Mapping[str, Any]) -> str | None:
    """Why a growth result holds nothing to draw: its typed ``not_available`` reason, else ``not_judged_reason``."""
    na = growth.get("not_available")
    reason = na.get("reason") if isinstance(na, Mapping) else na
    return str(reason or growth.get("not_judged_reason") or "") or None


def _not_available(ax: Axes | None, figsize: tuple[float, float], title: str, reason: str) -> Axes:
    """An empty panel that says what is missing (a stage degrades to "not available: reason", never fails)."""
    import textwrap

    ax = _new_axes(ax, figsize)
    ax.set_axis_off()
    ax.set_title(literal_text(title))
    ax.text(0.5, 0.5, literal_text("Not available: " + textwrap.fill(reason, 70)), ha="center", va="center",
            transform=ax.transAxes, color="0.35")
    return ax


def _effect_pct_bounds(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """% change and its 95% CI: the table's effect_pct columns, else 100·(exp(b) − 1) of estimate and ci_*."""

    def column(name: str, fallback: str) -> np.ndarray:
        if name in rows.columns and rows[name].notna().all():
            return rows[name].to_numpy(dtype=float)
        return 100.0 * np.expm1(rows[fallback].to_numpy(dtype=float))

    return (
        column("effect_pct", "estimate"),
        column("effect_pct_ci_low", "ci_low"),
        column("effect_pct_ci_high", "ci_high"),
    )


def select_predictor_rows(table: pd.DataFrame, *, outcome: str, model: str = "ols_log") -> pd.DataFrame:
    """Return the rows of a tidy regression table for one outcome and model, predictors only.

    Predictors are the rows whose ``term_type`` is ``predictor`` when the table has that column; otherwise
    every term but ``Intercept``.
    """
    check_columns(table, ["outcome", "model", "term", "estimate", "ci_low", "ci_high"], table="regression")
    rows = table[(table["outcome"] == outcome) & (table["model"] == model)]
    if "term_type" in rows.columns and rows["term_type"].notna().any():
        rows = rows[rows["term_type"] == "predictor"]
    else:
        rows = rows[rows["term"] != "Intercept"]
    return rows.reset_index(drop=True)


def plot_forest(table: pd.DataFrame, *, outcome: str, model: str = "ols_log", ax: Axes | None = None) -> Axes:
    """Draw a forest plot of % change with 95% CI per predictor, with a line at no change; return the Axes.

    Parameters
    ----------
    table : DataFrame
        Tidy regression table (``results/regression.csv``): outcome, model, term, estimate, ci_low, ci_high,
        and optionally effect_pct, effect_pct_ci_low, effect_pct_ci_high, term_type.
    outcome, model : str
        Which outcome and model to draw (default the primary model, OLS on log1p).
    """
    rows = select_predictor_rows(table, outcome=outcome, model=model)
    if rows.empty:
        found = sorted(set(zip(table["outcome"].astype(str), table["model"].astype(str), strict=True)))
        raise InputError(
            f"regression table has no predictor rows for outcome {outcome!r} and model {model!r}. "
            f"Found (outcome, model): {found}"
        )
    effect, low, high = _effect_pct_bounds(rows)
    order = np.argsort(effect)
    effect, low, high = effect[order], low[order], high[order]
    labels = [literal_text(label_feature(str(t))) for t in rows["term"].to_numpy()[order]]
    ax = _new_axes(ax, (6.5, 0.45 * len(rows) + 1.5))
    y = np.arange(len(rows))
    colour = palette(1)[0]
    ax.errorbar(
        effect,
        y,
        xerr=np.vstack([effect - low, high - effect]),
        fmt="o",
        color=colour,
        ecolor=colour,
        capsize=3,
        label="% change (95% CI)",
    )
    ax.axvline(0.0, color="0.4", linestyle="--", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel(literal_text(f"% change in {outcome} (95% CI)"))
    ax.set_title(literal_text(f"What goes with more {outcome}"))
    ax.grid(axis="x", alpha=0.3)
    return ax


def _to_date(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def plot_growth(
    growth: Mapping[str, Any],
    *,
    interventions: Iterable[tuple[Any, str]] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the observed series, the fitted line of each period, the interventions and the counterfactual band.

    Parameters
    ----------
    growth : dict
        ``results/growth.json``: ``series`` [{date, value, period}], ``periods`` [{label, start, end,
        intercept, slope_per_day}], ``origin`` (the date where ``days`` = 0) and optionally ``counterfactual``
        {dates, projected, pi_low, pi_high}.
    interventions : iterable of (date, label), optional
        Vertical lines to draw. By default ``growth["interventions"]`` [{date, label}], else one line at the
        start of every period after the first, labelled with that period's label.

    Returns
    -------
    Axes
        One scatter per period (observed), one line per fitted period, one vertical line per intervention, and,
        when there is a counterfactual, a dashed projection with its 95% prediction band.
    """
    periods = list(growth.get("periods") or [])
    series = pd.DataFrame(growth.get("series") or [], columns=["date", "value", "period"])
    if series.empty and not periods:  # a typed "not available" result: say why on the figure, never fail the stage
        return _not_available(ax, (8, 4.5), f"{growth.get('metric') or 'followers'} over time",
                              _growth_reason(growth) or "there is no follower data to plot")
    ax = _new_axes(ax, (8, 4.5))
    labels = [str(p.get("label", f"period {i + 1}")) for i, p in enumerate(periods)]
    for extra in series["period"].dropna().astype(str).unique():
        if extra not in labels:
            labels.append(extra)
    colours = dict(zip(labels, palette(len(labels)), strict=True))

    if not series.empty:
        series = series.assign(date=pd.to_datetime(series["date"]), value=pd.to_numeric(series["value"]))
        for label in labels:
            part = series[series["period"].astype(str) == label]
            if not part.empty:
                ax.scatter(
                    part["date"],
                    part["value"],
                    s=12,
                    color=colours[label],
                    alpha=0.7,
                    label=literal_text(f"observed ({label})"),
                )

    origin = growth.get("origin")
    if origin is not None:
        origin_ts = _to_date(origin)
        for label, period in zip(labels, periods, strict=False):
            if period.get("intercept") is None or period.get("slope_per_day") is None:
                continue
            ends = [_to_date(period["start"]), _to_date(period["end"])]
            days = np.array([(d - origin_ts) / pd.Timedelta(days=1) for d in ends])
            fitted = float(period["intercept"]) + float(period["slope_per_day"]) * days
            ax.plot(ends, fitted, color=colours[label], linewidth=2.2, label=literal_text(f"fitted trend ({label})"))

    if interventions is None and growth.get("interventions"):
        interventions = [(iv["date"], str(iv.get("label", ""))) for iv in growth["interventions"]]
    if interventions is None:
        interventions = [(p["start"], str(p.get("label", ""))) for p in periods[1:] if p.get("start")]
    for date, label in interventions:
        when = _to_date(date)
        ax.axvline(when, color="0.25", linestyle=":", linewidth=1.2)
        ax.annotate(
            literal_text(label),
            xy=(when, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
            ha="left",
            fontsize=8,
            rotation=90,
            color="0.25",
        )

    cf = growth.get("counterfactual") or {}
    if cf.get("dates") and cf.get("projected"):
        dates = pd.to_datetime(pd.Series(cf["dates"]))
        projected = np.asarray(cf["projected"], dtype=float)
        colour = palette(len(labels) + 1)[len(labels)]
        ax.plot(
            dates,
            projected,
            color=colour,
            linestyle="--",
            linewidth=1.5,
            label="projected without the change",
        )
        if cf.get("pi_low") and cf.get("pi_high"):
            ax.fill_between(
                dates,
                np.asarray(cf["pi_low"], dtype=float),
                np.asarray(cf["pi_high"], dtype=float),
                color=colour,
                alpha=0.2,
                label="95% prediction band",
            )
    ax.set_xlabel("date")
    ax.set_ylabel(literal_text(growth.get("metric", "value")))
    ax.set_title(literal_text(f"{str(growth.get('metric', 'value')).capitalize()} over time"))
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return ax


def _monthly_metric(growth: Mapping[str, Any], frame: pd.DataFrame) -> str:
    metric = (growth.get("monthly") or {}).get("metric")
    if metric and metric in frame.columns:
        return str(metric)
    candidates = [c for c in frame.columns if c not in ("month", "period")]
    if len(candidates) != 1:
        raise InputError(
            f"growth monthly_series: cannot tell which column is the metric (monthly.metric = {metric!r}). "
            f"Found columns: {list(frame.columns)}"
        )
    return str(candidates[0])


def plot_monthly(growth: Mapping[str, Any], *, ax: Axes | None = None) -> Axes:
    """Draw the monthly metric as bars coloured by period, with each period's mean as a dashed line.

    Months labelled ``transition`` (they contain an intervention date) are drawn in grey, without a mean.

    Parameters
    ----------
    growth : dict
        ``results/growth.json`` with ``monthly_series`` [{month, <metric>, period}] and ``monthly.metric``.

    Returns
    -------
    Axes
        One bar per month and one mean line per period (transition months excluded).
    """
    frame = pd.DataFrame(growth.get("monthly_series") or [])
    if frame.empty or "month" not in frame.columns:
        return _not_available(ax, (8, 4), "Monthly values",
                              _growth_reason(growth) or "the account table has no monthly values to compare")
    metric = _monthly_metric(growth, frame)
    frame = frame.assign(month=pd.to_datetime(frame["month"]), value=pd.to_numeric(frame[metric]))
    if "period" not in frame.columns:
        frame["period"] = "all"
    frame["period"] = frame["period"].astype(str)
    labels = [p for p in dict.fromkeys(frame["period"]) if p != TRANSITION]
    colours = dict(zip(labels, palette(len(labels)), strict=True))
    ax = _new_axes(ax, (8, 4))
    transition = frame[frame["period"] == TRANSITION]
    if not transition.empty:  # months that contain an intervention date belong to no period
        ax.bar(
            transition["month"],
            transition["value"],
            width=25,
            color="0.75",
            align="edge",
            label="month with a change (not compared)",
        )
    for label in labels:
        part = frame[frame["period"] == label]
        ax.bar(
            part["month"], part["value"], width=25, color=colours[label], alpha=0.8, label=literal_text(label),
            align="edge",
        )
        mean = float(part["value"].mean())
        ax.plot(
            [part["month"].min(), part["month"].max() + dt.timedelta(days=25)],
            [mean, mean],
            color="0.15",
            linestyle="--",
            linewidth=1.5,
        )
    ax.set_xlabel("month")
    ax.set_ylabel(literal_text(f"{metric} per month"))
    ax.set_title(literal_text(f"Monthly {metric} by period (dashed: period mean)"))
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


def count_posting_times(posts: pd.DataFrame) -> pd.DataFrame:
    """Return a 7 × 24 frame of post counts: weekday (0 = Monday) by local hour."""
    check_columns(posts, ["weekday_local", "hour_local"], table="posts_coded")
    both = posts[["weekday_local", "hour_local"]].dropna()
    counts = pd.crosstab(both["weekday_local"].astype(int), both["hour_local"].astype(int))
    return counts.reindex(index=range(7), columns=range(24), fill_value=0).astype(int)


def plot_posting_heatmap(posts: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw how many posts went out at each weekday × local hour (descriptive counts); return the Axes.

    The cells of ``seaborn.heatmap`` (``cividis`` from 0 to the largest count, white lines between cells, a
    colour bar labelled "posts", no spines, a label at every cell's centre while they fit) drawn with matplotlib
    alone: seaborn's heatmap draws the whole figure once more to test whether tick labels overlap, and importing
    seaborn costs ≈ 0.15 s, together a third of the report's figure time. The tick labels here are spaced so they
    cannot overlap (at least 1.8 font sizes apart; "23" is 1.3 wide), so no trial draw is needed.
    """
    counts = count_posting_times(posts)
    ax = _new_axes(ax, (10, 3.6))
    values = counts.to_numpy()
    for spine in ax.spines.values():
        spine.set_visible(False)
    mesh = ax.pcolormesh(values.astype(float), cmap="cividis", vmin=0, vmax=float(values.max()), linewidths=0.3,
                         edgecolor="white")
    ax.set_xlim(0, values.shape[1])
    ax.set_ylim(values.shape[0], 0)  # Monday on top, as a table reads
    colorbar = ax.figure.colorbar(mesh, ax=ax, label="posts", fraction=0.025, pad=0.02)  # a bar 1/20 as wide as high, close by
    colorbar.outline.set_linewidth(0)
    if values.max() < 1000:  # counts in the non-empty cells while they stay legible (at most 7 × 24 labels)
        top = values.max()
        for day, hour in zip(*np.nonzero(values), strict=True):
            ax.text(
                hour + 0.5,
                day + 0.5,
                str(values[day, hour]),
                ha="center",
                va="center",
                fontsize=7,
                color="black" if values[day, hour] > top / 2 else "white",
            )
    width = ax.get_position().width * ax.figure.get_figwidth()  # inches (before any layout: an upper bound)
    step = _label_step(len(counts.columns), width, plt.rcParams["xtick.labelsize"])
    ax.set_xticks(np.arange(0, values.shape[1], step) + 0.5, [str(h) for h in counts.columns[::step]])
    ax.set_yticks(np.arange(7) + 0.5, WEEKDAYS, va="center")
    ax.set_xlabel("hour of day (local time)")
    ax.set_ylabel("")
    ax.set_title("When posts were published (counts; descriptive, not an effect)")
    return ax


def _label_step(n: int, width_inches: float, fontsize: Any) -> int:
    """Every how many of ``n`` cells a tick label goes so that labels of up to two digits stay 1.8 font sizes
    apart on an axis ``width_inches`` long."""
    from matplotlib.font_manager import FontProperties

    points = FontProperties(size=fontsize).get_size_in_points()
    fits = int(width_inches // (1.8 * points / 72))
    return max(1, -(-n // max(fits, 1)))


#: plot_residuals draws at most this many posts chosen at random (plus the most extreme residuals) ...
RESIDUAL_SAMPLE = 5000
#: ... and always the RESIDUAL_EXTREMES lowest and highest standardized residuals (the tails a QQ plot is read for).
RESIDUAL_EXTREMES = 20


def residual_sample(frame: pd.DataFrame, *, size: int = RESIDUAL_SAMPLE, extremes: int = RESIDUAL_EXTREMES,
                    seed: int = 0) -> pd.DataFrame:
    """The rows of a residual frame that :func:`plot_residuals` draws: all of them up to ``size`` rows, else a
    simple random sample of ``size`` rows (``numpy.random.default_rng(seed)``, so the same figure every run) plus
    the ``extremes`` rows with the lowest and the highest ``std_residual``. Rows keep their order."""
    n = len(frame)
    if n <= size:
        return frame
    rng = np.random.default_rng(seed)
    chosen = np.zeros(n, dtype=bool)
    chosen[rng.choice(n, size=size, replace=False)] = True
    std = frame["std_residual"].to_numpy(dtype=float)
    finite = np.flatnonzero(np.isfinite(std))
    if len(finite):
        k = min(extremes, len(finite))
        order = finite[np.argsort(std[finite], kind="stable")]
        chosen[order[:k]] = True
        chosen[order[-k:]] = True
    return frame[chosen]


def plot_residuals(frame: pd.DataFrame, *, title: str = "", axes: Any = None) -> Any:
    """Draw residuals against fitted values and a normal QQ plot side by side; return the two Axes.

    ``frame`` is ``workbench.models.residual_frame(fit)``: columns fitted, std_residual, theoretical_quantile.
    A curve in the first panel suggests a missing term; a funnel, unequal spread (the reason the primary model
    uses HC3 errors); points far off the line in the second, heavy tails.

    Above ``RESIDUAL_SAMPLE`` posts both panels draw :func:`residual_sample` — a random sample of that many posts
    plus the ``RESIDUAL_EXTREMES`` most extreme residuals at each end — and the titles say so (a million points
    cost seconds to draw and show no more than a few thousand). Each post keeps the normal quantile of its rank
    among *all* posts, so the QQ panel is the full data's QQ plot, thinned.
    """
    check_columns(frame, ["fitted", "std_residual", "theoretical_quantile"], table="residual frame")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4))
    left, right = axes
    colour = palette(1)[0]
    n = len(frame)
    shown = residual_sample(frame)
    note = (
        f" — random sample of {RESIDUAL_SAMPLE:,} of {n:,} posts + the {RESIDUAL_EXTREMES} most extreme at each end"
        if len(shown) < n
        else ""
    )
    left.scatter(shown["fitted"], shown["std_residual"], s=8, alpha=0.5, color=colour)
    left.axhline(0, color="0.3", linewidth=1)
    left.set_xlabel("fitted value")
    left.set_ylabel("standardized residual")
    left.set_title(literal_text(f"Residuals vs fitted{': ' + title if title else ''}{note}"), fontsize="medium")
    q = np.sort(shown["std_residual"].to_numpy(dtype=float))
    t = np.sort(shown["theoretical_quantile"].to_numpy(dtype=float))
    right.scatter(t, q, s=8, alpha=0.5, color=colour)
    lim = [float(np.nanmin([t.min(), q.min()])), float(np.nanmax([t.max(), q.max()]))]
    right.plot(lim, lim, color="0.3", linewidth=1)
    right.set_xlabel("normal quantile")
    right.set_ylabel("standardized residual")
    right.set_title("Normal QQ plot" + (f" (the same {len(shown):,} posts)" if len(shown) < n else ""),
                    fontsize="medium")
    return axes
