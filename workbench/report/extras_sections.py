"""The report sections of issue 18, rendered as blocks from findings' ``claims``, ``timing`` and ``campaigns``
(the results' ``to_dict()`` forms, as in ``workbench/templates_sections/*.html.j2``): "How this account
compares", "When posts perform" (after the posting heatmap) and "Paid results" (left out when there is no paid
data). No number is computed here. The privacy review is for the analyst and never appears in the report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..campaigns import METRIC_LABELS
from ..findings import num
from ..timing import WEEKDAYS
from ..vocab import platform_name
from .blocks import Block, Meta, Note, P, table

CLAIMS_TITLE = "How this account compares"
TIMING_TITLE = "When posts perform"
PAID_TITLE = "Paid results"


def _g(x: Any, spec: str = ".3g") -> str:
    v = num(x)
    return "" if v is None else format(v, spec).replace("-", "−")  # the report's minus (review15 M9)


def _interval(lo: Any, hi: Any, spec: str = ".3g", *, scale: float = 1.0, unit: str = "") -> str:
    lo, hi = num(lo), num(hi)
    if lo is None and hi is None:
        return ""  # an interval that is not available is an empty cell, never "0 to 0"
    low = "" if lo is None else format(lo * scale, spec) + unit
    high = "no upper bound" if hi is None else format(hi * scale, spec) + unit
    return f"{low} to {high}".replace("-", "−")


def _reason(ctx, what: str) -> str | None:
    reasons = ctx.f.extras.reasons
    return reasons.get(what) or reasons.get("posts table")


def claims_section(ctx) -> list[Block | None]:
    claims = ctx.f.extras.claims
    if not isinstance(claims, Mapping):
        return [Note(f"Not available: {_reason(ctx, 'claims') or 'the claims could not be compared'}.")]
    rows = [c for c in claims.get("comparisons") or [] if isinstance(c, Mapping) and c.get("verdict") != "not applicable"]
    if not rows:
        return [Note("Not available: no published claim applies to this account's data.")]
    body = []
    several = len({c.get("platform") for c in rows if c.get("platform")}) > 1
    for c in rows:
        est = _g(c.get("estimate"))
        ci = _interval(c.get("ci_low"), c.get("ci_high"))
        mine = (f"{est} ({ci})" if est and ci else est or "not estimated") + (
            f"; n = {c['n']}" if c.get("n") else "")
        # whose posts and which fit the estimate is from (review15 M9/R8: pooled platforms, outcome unsaid)
        if c.get("basis"):
            mine += f" — {ctx.own_terms(str(c['basis']), c.get('platform'))}"
        elif c.get("platform") and several:
            mine = f"{platform_name(c['platform'])}: {mine}"
        claim = str(c.get("claim") or "") + (" (from the dataset card)" if c.get("origin") == "card" else "")
        source = str(c.get("source") or "") + (f" — {c['population']}" if c.get("population") else "")
        verdict = f"{c.get('verdict')}: {c.get('explanation') or ''}".strip().rstrip(":") + (
            f" {c['note']}" if c.get("note") else "")
        # a claim of direction has no published number (review15 R6: its "1" was shown as if published)
        published = "none (a direction)" if c.get("statistic") == "above" else _g(c.get("published"), "g")
        body.append((claim, source, published, mine, verdict))
    return [
        P("Published claims set beside this account's own estimates (95% intervals). A verdict says whether this "
          "account's posts show the same association; it is not advice and not a causal effect."),
        table("Published claims and this account's estimates", ["Claim", "Source", "Published", "This account",
                                                               "Verdict"], body, numeric=(2,), wide=True),
    ]


def timing_section(ctx) -> list[Block | None]:
    timing = ctx.f.extras.timing
    if not isinstance(timing, Mapping):
        return [Note(f"Not available: {_reason(ctx, 'timing') or 'the timing analysis could not be computed'}.")]
    out: list[Block | None] = []
    if timing.get("note"):
        out.append(P(ctx.own_terms(str(timing["note"]))))
    outcome = ctx.word(str(timing.get("outcome") or "impressions"))
    hours = [h for h in timing.get("hours") or [] if isinstance(h, Mapping)]
    if hours:
        out.append(P(f"Typical {outcome} of a post by local hour ({timing.get('timezone')}), relative to this "
                     "account's typical post (1.00 = typical; 95% intervals; slots partially pooled so that few "
                     "posts give cautious estimates). The posting heatmap above counts posts; these are effects."))
        out.append(table(f"Relative {outcome} by hour of day", ["Hour", "Posts", f"Relative {outcome}",
                                                                 "95% interval"],
                         [(f"{int(h['hour']):02d}:00", str(h.get("n", "")), _g(h.get("ratio"), ".2f"),
                           _interval(h.get("ci_low"), h.get("ci_high"), ".2f")) for h in hours], numeric=(1, 2)))
    days = [d for d in timing.get("weekdays") or [] if isinstance(d, Mapping)]
    if days:
        out.append(table(f"Relative {outcome} by weekday", ["Weekday", "Posts", f"Relative {outcome}", "95% interval"],
                         [(WEEKDAYS[int(d["weekday"])], str(d.get("n", "")), _g(d.get("ratio"), ".2f"),
                           _interval(d.get("ci_low"), d.get("ci_high"), ".2f")) for d in days], numeric=(1, 2)))
    out.append(Meta(f"{timing.get('caveat') or ''} Method: {timing.get('method') or 'not stated'}.".strip()))
    return out


def _est(e: Any, *, pct: bool = False, money: str | None = None) -> str:
    if not isinstance(e, Mapping) or num(e.get("value")) is None:
        return f"not estimated: {e.get('note')}" if isinstance(e, Mapping) and e.get("note") else "not estimated"
    scale, spec, unit = (100.0, ".2f", "%") if pct else (1.0, ".2f", "")
    text = format(num(e["value"]) * scale, spec) + unit + (f" {money}" if money else "")
    ci = _interval(e.get("ci_low"), e.get("ci_high"), spec, scale=scale, unit=unit)
    return f"{text} ({ci})" if ci else text


def paid_section(ctx) -> list[Block | None]:
    camp = ctx.f.extras.campaigns
    if not isinstance(camp, Mapping) or not camp.get("campaigns"):
        return []  # no paid data: the section is left out
    rows = []
    for s in list(camp.get("campaigns") or []) + list(camp.get("overall") or []):
        m, cur = s.get("metrics") or {}, s.get("currency") or None
        rows.append((f"{s.get('campaign')} ({s.get('ad_platform')})", f"{s.get('date_start')} to {s.get('date_end')}",
                     f"{num(s.get('spend')) or 0:,.2f} {cur or '(currency not stated)'}",
                     f"{int(s.get('impressions') or 0):,}", f"{int(s.get('clicks') or 0):,}",
                     f"{int(s['conversions']):,}" if s.get("conversions") is not None else "",
                     _est(m.get("ctr"), pct=True), _est(m.get("cpc"), money=cur), _est(m.get("cpm"), money=cur),
                     _est(m.get("conversion_rate"), pct=True), _est(m.get("cpa"), money=cur)))
    out: list[Block | None] = [
        P("What the paid campaigns cost and what they bought, with 95% intervals. Currencies are never added "
          "together; reach is not summed across ads or days (one person reached twice is one person)."),
        table("Paid campaigns", ["Campaign", "Period", "Spend", "Impressions", "Link clicks", "Conversions",
                                 *(METRIC_LABELS[k].capitalize() for k in ("ctr", "cpc", "cpm", "conversion_rate",
                                                                            "cpa"))],
              rows, numeric=(2, 3, 4, 5, 6, 7, 8, 9, 10), wide=True)]
    bench = [b for b in camp.get("benchmarks") or [] if b.get("campaign") == "All campaigns"]
    if bench:
        out.append(table("Against published benchmarks (all campaigns)",
                         ["Metric", "Benchmark", "Population", "This account", "Verdict"],
                         [(f"{METRIC_LABELS.get(b.get('metric'), b.get('metric'))} ({b.get('ad_platform')}, "
                           f"{b.get('currency') or 'no currency'})", _g(b.get("benchmark"), "g"),
                           f"{b.get('population')} — {b.get('source')}", _g(b.get("estimate"), ".4g"),
                           f"{b.get('verdict')}: {b.get('reason')}") for b in bench], numeric=(1, 3), wide=True))
    out.extend(Meta(str(n)) for n in camp.get("notes") or [])
    return out
