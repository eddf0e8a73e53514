"""The leadership report: renders ``results/findings.json`` and the stage results into one self-contained HTML.

All numbers and verdicts come from :mod:`workbench.findings` (computed, written as ``results/findings.json``);
this package only words and lays them out:

- ``render.py``      the section registry (:data:`SECTIONS`), figures, the Jinja2 page, :func:`render_report`
- ``blocks.py``      what a section is made of (paragraphs, notes, tables, figures, links) — data, never HTML
- ``templates/``     ``report.html.j2`` (page, contents, sections) and ``blocks.html.j2`` (one macro per block);
                     Jinja2 with autoescape: every string from the data is escaped
- ``report.css``     the style (screen, phone width, print), inlined into the page
- ``format.py``      how numbers print; ``wording.py`` the sentences; :mod:`workbench.vocab` the names
- ``overview.py``, ``what_works.py``, ``growth_section.py``, ``appendix.py``, ``methods.py``  the sections
- ``browser.py``     headless Chromium: first-screen screenshot and PDF (A4, Letter)

Safety: the page has no scripts and no external resources (figures are inline base64 PNG); the only links are
the posts' own http(s) permalinks. Other accounts' @handles in post texts are shown as "@…" unless
``show_handles=True``.

Adding a section (publications, consortium, campaigns …)::

    from workbench.report import SECTIONS, Section, blocks

    def publications(ctx):                      # ctx: ReportContext (ctx.f findings, ctx.r results, ctx.ds card)
        rows = ctx.f.results.growth or {}       # read what your stage wrote / what findings computed
        return [blocks.P("…"), blocks.table("Caption", ["A", "B"], [("1", "2")], numeric=(1,))]

    SECTIONS.insert(5, Section("publications", "Publications", publications))

Compute the numbers in your stage or in :mod:`workbench.findings` (add a key to ``Findings.to_dict``), not
in the section; a section that raises becomes a note in that section, never a missing report. The contents
list, anchors, escaping, print and phone layout come with the registry and the block templates.
"""

from __future__ import annotations

from ..errors import InputError
from ..findings import (
    ALPHA_TENTATIVE,
    SIGNIFICANCE,
    GrowthComparison,
    RunResults,
    assess_goals,
    compare_post_medians,
    compute_key_figures,
    engagement_rates,
    find_thin_effects,
    growth_comparisons,
    list_diagnosed_outcomes,
    low_reliability_codes,
    median_ci_ranks,
    primary_effects,
    ratio_of_medians,
    read_run_results,
    tabulate_controls_sensitivity,
)
from . import blocks
from .appendix import mask_handles, read_codebook, write_posts_csv
from .browser import (
    PAPER_SIZES,
    SCREENSHOT_NOT_ASKED,
    find_chromium,
    first_screen,
    print_pdf,
    screenshot_report,
)
from .diagnostics import summarize_diagnostics
from .format import format_date, format_int, format_number, format_p, format_pct, format_ratio
from .overview import summary_sentences, what_it_will_say
from .render import SECTIONS, ReportContext, Section, _sections, build_report_html, render_report
from .wording import (
    describe_counterfactual,
    describe_effect,
    describe_growth,
    describe_monthly,
    describe_placebo,
    describe_posting_times,
    describe_state_space,
    monthly_metrics_table,
)

SECTIONS.extend(_sections())

__all__ = [
    "ALPHA_TENTATIVE", "PAPER_SIZES", "SECTIONS", "SIGNIFICANCE", "GrowthComparison", "InputError", "ReportContext",
    "RunResults", "Section", "assess_goals", "blocks", "build_report_html", "compare_post_medians",
    "compute_key_figures", "describe_counterfactual", "describe_effect", "describe_growth", "describe_monthly",
    "describe_placebo", "describe_posting_times", "describe_state_space", "engagement_rates", "find_chromium",
    "find_thin_effects", "format_date", "format_int", "format_number", "format_p", "format_pct", "format_ratio",
    "growth_comparisons", "list_diagnosed_outcomes", "low_reliability_codes", "mask_handles", "median_ci_ranks",
    "monthly_metrics_table", "primary_effects", "print_pdf", "ratio_of_medians", "read_codebook",
    "read_run_results", "render_report", "screenshot_report", "first_screen", "SCREENSHOT_NOT_ASKED",
    "summarize_diagnostics", "summary_sentences",
    "tabulate_controls_sensitivity", "what_it_will_say", "write_posts_csv",
]
