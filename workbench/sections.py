"""Report sections of issue 18 as self-contained Jinja2 partials (``workbench/templates_sections/``).

Each partial renders one ``<section>`` from a result's ``to_dict()`` — no computation, no scripts, autoescaped —
so the report can include it as is: "How this account compares" (:mod:`workbench.claims`), "When posts
perform" (:mod:`workbench.timing`) and "Paid results" (:mod:`workbench.campaigns`; empty when there is no paid
data). The privacy review (:mod:`workbench.privacy`) is deliberately not a report section.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

SECTIONS = {"claims": "claims.html.j2", "timing": "timing.html.j2", "paid": "paid.html.j2"}


def _env() -> Environment:
    return Environment(loader=PackageLoader("workbench", "templates_sections"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False)


def render_section(name: str, result: Any) -> str:
    """The HTML of section ``name`` (``claims``, ``timing``, ``paid``) for a result object or its dict."""
    from .campaigns import METRIC_LABELS
    from .timing import WEEKDAYS

    data = result.to_dict() if hasattr(result, "to_dict") else result
    key = {"claims": "claims", "timing": "timing", "paid": "campaigns"}[name]
    html = _env().get_template(SECTIONS[name]).render(**{key: data}, labels=METRIC_LABELS, weekdays=WEEKDAYS)
    return html.strip()
