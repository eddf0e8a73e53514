"""Render findings into the self-contained HTML report: the section registry, figures, the page template."""

from __future__ import annotations

import base64
import datetime as dt
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd
from matplotlib.axes import Axes

from .. import __version__
from ..dataset import Dataset
from ..findings import Findings, RunResults, compute_findings, read_run_results, write_findings
from ..io import write_bytes, write_text
from ..pipeline import RunPaths
from ..plots import figure_png, new_figure
from ..vocab import outcome_word
from .blocks import Block, Figure, Heading, Note
from .format import format_date


def _figure_png(draw: Callable[[Axes], Any], *, figsize: tuple[float, float]) -> bytes:
    """Draw on an Agg-backed figure (no pyplot state) and return PNG bytes without tool metadata, the figure
    drawn once (:func:`workbench.plots.figure_png`)."""
    fig, axes = new_figure(figsize)
    draw(axes[0, 0])
    return figure_png(fig)


@dataclass
class ReportContext:
    """What a section builder reads: the findings, the stage results, the card, and a figure helper."""

    f: Findings
    ds: Dataset | None
    show_handles: bool = False
    figures: dict[str, bytes] = field(default_factory=dict)
    #: what two sections (or a section and a file) both need, computed once (the ranked posts table)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def r(self) -> RunResults:
        return self.f.results

    @property
    def paths(self) -> RunPaths:
        return self.f.results.paths

    @property
    def today(self) -> dt.date:
        return self.f.today

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.f.timezone)

    def outcomes(self) -> list[str]:
        return self.f.outcomes(self.ds.analysis.outcomes if self.ds else ())

    def word(self, outcome: str, platform: object = None) -> str:
        """The outcome in the platform's own terms: "views" on Meta, "impressions" on X, each named per platform
        when the posts mix them (:func:`workbench.vocab.outcome_word`)."""
        if platform is None and ": " in str(outcome):  # a per-platform key such as "facebook: impressions"
            platform, outcome = str(outcome).split(": ", 1)
        return outcome_word(outcome, self.f.vocabulary, platform)

    def own_terms(self, text: str, platform: object = None) -> str:
        """A stage's sentence (models.json) with "impression(s)" in the platform's own word."""
        word = self.word("impressions", platform)
        if word == "impressions":
            return text
        single = "view" if word == "views" else "impression or view"
        return re.sub(r"\bimpression\b", single, re.sub(r"\bimpressions\b", word, text))

    def local(self, ts: pd.Series) -> pd.Series:
        ts = pd.to_datetime(ts)
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize("UTC")
        return ts.dt.tz_convert(self.tz)

    def figure(self, name: str, draw: Callable[[Axes], Any], *, alt: str, caption: str,
               figsize: tuple[float, float]) -> Block:
        """A figure block (PNG inline as base64; also kept as results/figures/NAME.png), or a note why not."""
        try:
            png = _figure_png(draw, figsize=figsize)
        except (ValueError, KeyError, TypeError) as exc:  # a malformed optional result: say so, keep going
            return Note(f"The figure “{caption}” could not be drawn: {exc}")
        name = re.sub(r"[^a-z0-9_]+", "_", name.lower())
        self.figures[name] = png
        return Figure(base64.b64encode(png).decode("ascii"), alt, caption)


@dataclass(frozen=True)
class Section:
    """One section of the report: its anchor, its h2 title, and the function that builds its blocks."""

    id: str
    title: str
    build: Callable[[ReportContext], list[Block | None]]
    cls: str | None = None


def _sections() -> list[Section]:
    from . import (
        appendix,
        extras_sections,
        growth_section,
        methods,
        overview,
        publications_section,
        what_works,
    )

    return [
        Section("summary", "Executive summary", overview.summary, "summary"),
        Section("key-figures", "Key figures", overview.key_figures),
        Section("what-works", "What works", what_works.what_works),
        Section("growth", "Growth before and after", growth_section.growth_section),
        Section("publications", publications_section.TITLE, publications_section.publications),
        Section("goals", "Goals", overview.goals_section),
        Section("claims", extras_sections.CLAIMS_TITLE, extras_sections.claims_section),
        Section("posting", "Best times to post and top posts", appendix.posting_section),
        Section("timing", extras_sections.TIMING_TITLE, extras_sections.timing_section),
        Section("paid", extras_sections.PAID_TITLE, extras_sections.paid_section),
        Section("data-appendix", "Data appendix", appendix.data_appendix),
        Section("methods-appendix", "Methods appendix", methods.methods_appendix),
    ]


#: The report's sections in order. Add one by appending a :class:`Section` (see the package docstring).
SECTIONS: list[Section] = []


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("workbench.report", "templates"),
        autoescape=True,  # every string from the data is escaped; no block carries HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def cell_html(value: Any) -> str:
    """One table cell (text, :class:`~workbench.report.blocks.Link` or a list of them) as escaped HTML."""
    return str(_environment().get_template("blocks.html.j2").module.cell(value))


def _css() -> str:
    return resources.files("workbench.report").joinpath("report.css").read_text(encoding="utf-8")


def _safely(section: Section, ctx: ReportContext) -> dict[str, Any]:
    """Build one section; an unexpected error becomes a note in that section instead of no report at all."""
    try:
        blocks = [b for b in section.build(ctx) if b is not None]
    except Exception as exc:  # the rest of the report is still worth having; the error is shown and warned
        message = f"This section could not be built: {type(exc).__name__}: {exc}"
        warnings.warn(f"report section {section.title!r}: {message}", RuntimeWarning, stacklevel=2)
        blocks = [Note(message)]
    return {"id": section.id, "title": section.title, "cls": section.cls, "blocks": blocks}


def render_html(ctx: ReportContext) -> str:
    """The page for ``ctx``: every registered section through ``templates/report.html.j2``."""
    from .overview import failure_blocks

    # a section with nothing to say is left out (Paid results without paid data); the others always say why not
    sections = [built for built in (_safely(s, ctx) for s in SECTIONS) if built["blocks"]]
    span = ctx.f.date_range
    return _environment().get_template("report.html.j2").render(
        title=ctx.f.title,
        span=f"{format_date(span[0])} – {format_date(span[1])}" if span else "date range not available",
        generated=format_date(ctx.today),
        version=__version__,
        header_blocks=failure_blocks(ctx),
        sections=sections,
        css=_css(),
    ) + "\n"


def _build(run_dir: str | Path, dataset: Dataset | None, today: dt.date | None, show_handles: bool,
           findings: Findings | None = None) -> tuple[str, ReportContext]:
    if findings is None:
        findings = compute_findings(read_run_results(run_dir), dataset, today=today)
    ctx = ReportContext(findings, dataset, show_handles=show_handles)
    return render_html(ctx), ctx


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
        Print other accounts' @handles in the posts' texts. By default they become "@…" (only the
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
    findings: Findings | None = None,
) -> Path:
    """Write the report to ``run_dir/report.html`` (or ``out``), ``results/findings.json``, the figures
    (``results/figures/*.png``) and every post of the report's table (``report_posts.csv``, formula-safe).

    Every write is atomic. Returns the path of the HTML file. ``dataset``, ``today`` and ``show_handles``
    are as in :func:`build_report_html`; ``findings`` (from :func:`workbench.findings.compute_findings`) is
    rendered as given instead of being computed again.
    """
    from .appendix import write_posts_csv

    run_dir = Path(run_dir)
    page, ctx = _build(run_dir, dataset, today, show_handles, findings)
    paths = RunPaths(run_dir)
    write_findings(ctx.f, paths.findings)
    for name, png in ctx.figures.items():
        write_bytes(paths.figures / f"{name}.png", png)
    write_posts_csv(ctx, paths.report_posts)
    return write_text(Path(out) if out is not None else paths.report, page)


__all__ = ["Heading", "ReportContext", "SECTIONS", "Section", "build_report_html", "render_report"]
