"""The "Growth before and after" section: verdicts, the growth figure, per-period and comparison tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..findings import GrowthComparison, _rate, num
from ..plots import plot_growth, plot_monthly
from ..vocab import join_words, metric_name, platform_name
from .blocks import Block, Heading, Meta, Note, P, table
from .format import NA_TEXT, ci_text, format_date, format_int, format_number, format_ratio, margin_text, p_is
from .render import ReportContext
from .wording import (
    after_phrase,
    describe_counterfactual,
    describe_detectable,
    describe_growth,
    describe_its,
    describe_monthly,
    describe_placebo,
    describe_posts_adjusted,
    describe_state_space,
    monthly_metrics_table,
    too_few_months,
)


def growth_section(ctx: ReportContext) -> list[Block | None]:
    by_platform = platform_growth_blocks(ctx)  # several platforms: one block each, growth.json not beside them
    if by_platform is not None:
        return by_platform
    growth, f = ctx.r.growth, ctx.f
    metric = metric_name(f.metric)
    if growth is None:
        return [Note(ctx.r.missing_note(ctx.paths.growth, "The growth comparison"))]
    periods = list(growth.get("periods") or [])
    if not periods:
        na = growth.get("reason") or growth.get("not_available")
        reason = na.get("reason") if isinstance(na, Mapping) else na
        needed = na.get("needed") if isinstance(na, Mapping) else None
        blocks: list[Block | None] = [Note(
            f"Growth in {metric} could not be compared: {str(reason).rstrip('.')}." if reason else
            f"No {metric} data: the run had no follower series, so growth before and after interventions could "
            "not be compared."
        )]
        if isinstance(needed, Mapping) and needed.get("file"):
            example = str(needed.get("example_row") or "").replace("\n", " / ")
            blocks.append(P(f"What would make it possible: {needed['file']}, with the columns "
                            f"{needed.get('columns') or 'date and followers'}"
                            + (f" (for example: {example})." if example else ".")))
        return blocks
    level_known = growth.get("level_known")
    verdicts = [describe_growth(c, metric=f.metric, level_known=level_known) for c in f.comparisons]
    ivs = [(iv.date, iv.label) for iv in ctx.ds.interventions] if ctx.ds and ctx.ds.interventions else None
    alt = " ".join(verdicts) or f"{metric.capitalize()} over time, one period, no intervention."
    blocks: list[Block | None] = [ctx.figure(
        "growth",
        lambda ax: plot_growth(growth, interventions=ivs, ax=ax),
        alt=alt,
        caption=f"{metric.capitalize()} over time: observed values, fitted trend per period, "
        "interventions (dotted), and the earlier trend projected forward with its 95% band",
        figsize=(8, 4.5),
    )]
    if f.metric in ("followers", "new_follows", "net_follows") and level_known is False:  # growth_metric_of
        rates = growth.get("unit") if f.metric != "followers" and growth.get("unit") else "new follows per day"
        blocks.append(Note(f"The follower level is unknown ({growth.get('basis_text') or growth.get('basis')}): "
                           f"the rates below are {rates}, and no follower count is stated."))
    details = list(f.growth_details) + [{}] * (len(f.comparisons) - len(f.growth_details))
    for comp, verdict, detail in zip(f.comparisons, verdicts, details, strict=True):
        blocks.append(P(verdict))
        for extra in (
            *(ctx.own_terms(s) for s in describe_posts_adjusted(detail.get("posts_adjusted"),
                                                                 after_phrase(comp).capitalize())),
            ctx.own_terms(describe_its(detail.get("monthly_its"), after=after_phrase(comp)) or ""),
            ctx.own_terms(describe_monthly(comp.results.get("monthly") or {}) or ""),
            describe_counterfactual(comp.results.get("counterfactual") or {}, metric=f.metric, since=growth.get("origin")),
            describe_state_space(comp.results.get("state_space") or {}, metric=f.metric),
            describe_placebo(comp.results.get("placebo") or {}),
        ):
            if extra:
                blocks.append(P(extra))
    unit = str(growth.get("unit") or f"{metric} per day")
    blocks.append(table(
        f"Growth per period ({unit}): the increments model's rate (what we stand behind) and the published "
        "form (a straight line fitted to the level, independent errors; its CI is too narrow and R² of a "
        "cumulative series is near 1 whatever happens)",
        ["Period", "Dates", "Observations", "Rate per day, increments model (95% CI)",
         "Published form: slope per day (95% CI)", "Published form: R²"],
        [(p.get("label", ""), _dates(p), format_int(p.get("n")),
          f"{format_number(p.get('rate_per_day'))} ({ci_text(p.get('rate_ci'), format_number)})"
          if num(p.get("rate_per_day")) is not None else "not estimated",
          f"{format_number(p.get('slope_per_day'))} ({ci_text(p.get('slope_ci'), format_number)})",
          format_number(p.get("r2"))) for p in periods],
        numeric=(2, 3, 4, 5),
    ))
    for comp, detail in zip(f.comparisons, details, strict=True):
        blocks.append(_comparison_table(comp, unit, detail, word=ctx.word))
        monthly_all = [(ctx.own_terms(str(row[0])), *row[1:])
                       for row in monthly_metrics_table(comp.results.get("monthly_all")) or []]
        if monthly_all:
            blocks.append(table(
                f"Monthly metrics before and {after_phrase(comp)}, published form (months treated as independent, "
                "the earlier trend ignored): means per month, fold change (after ÷ before) with 95% CI, Welch and "
                "Mann–Whitney p (two-sided), Hedges g",
                ["Metric", "Before", "After", "Fold change (95% CI)", "Welch p", "Mann–Whitney p", "Hedges g"],
                monthly_all, numeric=(1, 2, 3, 4, 5, 6), row_headers=True,
            ))
    months = [row for row in growth.get("monthly_series") or [] if isinstance(row, Mapping)]
    if any(num(v) is not None for row in months for k, v in row.items() if k not in ("month", "period")):
        monthly = growth.get("monthly") or {}
        blocks.append(ctx.figure(
            "monthly",
            lambda ax: plot_monthly(growth, ax=ax),
            alt=ctx.own_terms(describe_monthly(monthly) or "Monthly values by period."),
            caption="Monthly values by period (dashed lines: period means)",
            figsize=(8, 4),
        ))
    return blocks


def _dates(p: Mapping[str, Any]) -> str:
    """ "1 Jan 2021 – 31 Dec 2021", or "no data in this period" (never "n/a – n/a")."""
    start, end = format_date(p.get("start")), format_date(p.get("end"))
    if start == end == NA_TEXT:
        return "no data in this period"
    return f"{start} – {end}"


def _period_name(p: Mapping[str, Any], which: str) -> str:
    """ "Growth before (1 Jan 2021 – 31 Dec 2021)": the dates, never the bare period label twice."""
    dates = f"{format_date(p.get('start'))} – {format_date(p.get('end'))}" if p.get("start") else ""
    return f"Growth {which}" + (f" ({dates})" if dates else "")


def _detectable_text(r: Mapping[str, Any]) -> str:
    """The minimum detectable growth ratio and the test's power at 1.7× (growth.json ``minimum_detectable``)."""
    md = r.get("minimum_detectable")
    text = describe_detectable(r)
    if not isinstance(md, Mapping) or text is None:
        reason = md.get("reason") if isinstance(md, Mapping) else None
        return f"not computed: {reason}" if reason else "not computed (growth.json has no minimum detectable ratio)"
    power_at = md.get("power_at") or {}
    at = num(power_at.get("1.7"))
    if at is None:
        return text
    return text + (" Power against a 1.7× change: over 99%." if at > 0.99 else f" Power against a 1.7× change: {at:.0%}.")


def _trend_text(r: Mapping[str, Any]) -> str:
    """The jump of the rate at the date in the model with one steady trend (growth.json ``trend_adjusted``) and
    whether the comparison above counts as a change at the date (``change_at_date``)."""
    ta, at = r.get("trend_adjusted"), r.get("change_at_date")
    if not isinstance(ta, Mapping):
        return "not computed (growth.json has no trend_adjusted: re-run the growth stage)"
    if num(ta.get("jump_per_day")) is None:
        return f"not estimated: {ta.get('reason') or 'growth.json gives no reason'}"
    text = (f"jump at the date {format_number(ta.get('jump_per_day'), signed=True)} per day "
            f"({ci_text(ta.get('jump_ci'), lambda v: format_number(v, signed=True))}; {p_is(ta.get('p_value'))}), "
            f"with a common trend of {format_number(ta.get('trend_per_year'), signed=True)} per day per year")
    if isinstance(at, Mapping) and at.get("holds") is False:
        text += (". The change in growth above is not attributed to the date: the rate was already changing "
                 "(see the verdict above the figure)")
    elif isinstance(at, Mapping) and at.get("holds") is True:
        text += ". The change above holds beyond the trend"
    return text


def _comparison_table(comp: GrowthComparison, unit: str, detail: Mapping[str, Any] | None = None,
                      word: Any = None) -> Block:
    r = comp.results
    detail = detail or {}
    its = detail.get("monthly_its") or {}
    not_judged = (r.get("judgeable") is False or r.get("status") in ("after_data", "before_data", "no_data"))
    change = r.get("slope_change") or {}
    eq = r.get("equivalence") or {}
    monthly = r.get("monthly") or {}
    cf = r.get("counterfactual") or {}
    b, a = comp.before, comp.after

    def slope_pub(p: Mapping[str, Any]) -> str:
        return f"{format_number(p.get('slope_per_day'))} per day (R² = {format_number(p.get('r2'))})"

    def slope_rig(p: Mapping[str, Any]) -> str:
        rate, ci = _rate(p)
        return f"{format_number(rate)} per day ({ci_text(ci, format_number)})"

    # the published form compares the per-period level fits; growth.json keeps that model as level_model
    published = r.get("level_model") or {}
    published_ratio = published.get("slope_ratio", r.get("slope_ratio"))
    naive_p = published.get("naive_p_value", change.get("naive_p_value", r.get("naive_p_value")))
    lags = change.get("maxlags")
    lag_text = f", Newey–West with {format_int(lags)} lag(s)" if num(lags) is not None else ""
    method = f"; {r['slope_ratio_method']}" if r.get("slope_ratio_method") else ""
    eq_verdict = ("equivalent within the margin" if eq.get("equivalent") is True
                  else "equivalence not shown" if eq.get("equivalent") is False else NA_TEXT)
    monthly_metric = word(str(monthly.get("metric", "metric"))) if word else metric_name(monthly.get("metric", "metric"))
    no_months = num(monthly.get("before_mean")) is None or num(monthly.get("after_mean")) is None
    effect_size = num(monthly.get("effect_size"))
    rows = [
        (_period_name(b, "before"), slope_pub(b), slope_rig(b)),
        (_period_name(a, "after"), slope_pub(a), slope_rig(a)),
        (
            "Change in growth",
            f"slope ratio {format_ratio(published_ratio)}; naive OLS {p_is(naive_p)} (ignores autocorrelation)",
            f"not judged: {r.get('not_judged_reason') or 'growth.json gives no reason'}" if not_judged else
            f"ratio {format_ratio(r.get('slope_ratio'))} ({ci_text(r.get('slope_ratio_ci'), format_ratio)}{method}); "
            f"difference {format_number(change.get('estimate'), signed=True)} per day "
            f"({ci_text(change.get('ci'), lambda v: format_number(v, signed=True))}), "
            f"{change.get('cov_type', 'HAC')} {p_is(change.get('p_value'))}{lag_text}",
        ),
        (
            "A change at the date, beyond a steady trend in the rate?",
            "not tested",
            "not judged (see above)" if not_judged else _trend_text(r),
        ),
        (
            "Did growth stay the same?",
            "not tested (p > 0.05 is often misread as “no change”)",
            "not judged (see above)" if not_judged else
            f"TOST equivalence test, margin {margin_text(eq.get('margin')) or NA_TEXT} on the slope ratio: "
            f"{p_is(eq.get('p_value'))}, {eq_verdict}",
        ),
        (
            "What change could the data detect?",
            "not reported",
            "not judged (see above)" if not_judged else _detectable_text(r),
        ),
        (f"Monthly {monthly_metric}", "not available", "not compared: no complete months in one of the periods")
        if no_months else (
            f"Monthly {monthly_metric}",
            f"mean {format_number(monthly.get('before_mean'))} → {format_number(monthly.get('after_mean'))}; "
            + too_few_months(monthly) if too_few_months(monthly) else
            f"mean {format_number(monthly.get('before_mean'))} → {format_number(monthly.get('after_mean'))}; "
            f"fold change {format_ratio(monthly.get('fold_change'))} "
            f"({ci_text(monthly.get('fold_change_ci'), format_ratio)}); Welch two-sided "
            f"{p_is(monthly.get('welch_p_two_sided'))}, one-tailed t-test {p_is(monthly.get('welch_p_one_sided'))}; "
            f"Mann–Whitney {p_is(monthly.get('mannwhitney_p'))}; months {format_int(monthly.get('n_before'))} "
            f"before, {format_int(monthly.get('n_after'))} after"
            + (f"; effect size {format_number(effect_size)}" if effect_size is not None else "")
            + " (months treated as independent, earlier trend ignored)",
            (f"interrupted time series: level change {format_ratio(its.get('level_change'))} beyond the earlier "
             f"trend ({ci_text(its.get('level_change_ci'), format_ratio)}; {p_is(its.get('level_change_p'))}); "
             f"trend change {format_ratio(its.get('trend_change_per_year'))} per year "
             f"({ci_text(its.get('trend_change_per_year_ci'), format_ratio)})")
            if its.get("available") else
            f"interrupted time series not available: {its.get('reason')}" if its else
            "not computed (growth.json has no interrupted time series: re-run the growth stage)",
        ),
        (
            "Compared with the earlier trend projected forward",
            "not reported",
            (f"on {format_date(cf['dates'][-1])}: " if cf.get("dates") else "")
            + f"observed {format_number(cf.get('observed_end'))} vs projected {format_number(cf.get('projected_end'))}: "
            f"excess {format_number(cf.get('excess_end'), signed=True)} "
            f"({ci_text(cf.get('excess_ci'), lambda v: format_number(v, signed=True))})",
        ),
    ]
    where = f"“{comp.label}”" if comp.named else format_date(a.get("start"))
    return table(f"Change at {where}: the published form side by side with the rigorous form ({unit})",
                 ["Question", "As commonly published", "Rigorous (what we stand behind)"], rows, wide=True)


# ------------------------------------------------------------------------------------ one block per platform


def platform_growth_blocks(ctx: ReportContext) -> list[Block | None] | None:
    """With several platforms in findings' ``growth_by_platform``: one block per platform, headed by its name,
    rendered exactly as growth.json's block (:func:`growth_section` on that platform's own comparison), and
    growth.json (one account's comparison) not shown beside them; with one platform compared of several in the
    account table, its block is headed the same way and the others are named as not compared. None when findings
    hold no per-platform growth (the account table holds one platform)."""
    recs = [g for g in ctx.f.growth_platforms or [] if isinstance(g, Mapping) and g.get("platform")]
    if not recs:
        return None
    names = [platform_name(g["platform"]) for g in recs]
    account = ctx.r.account
    held = (sorted({str(p).strip().lower() for p in account["platform"].dropna()} - {str(g["platform"]) for g in recs})
            if account is not None and "platform" in account.columns else [])
    blocks: list[Block | None] = [Meta(
        (f"Each platform is compared apart ({', '.join(names)}): the growth model is run on that platform's own "
         "account rows and posts, so one platform's follows are never added to another's and each has its own "
         "anchor (findings.json growth_by_platform)." if len(recs) > 1 else
         f"Growth is compared for {names[0]} alone, on its own account rows and posts.")
        + (f" Not compared: {join_words([platform_name(p) for p in held])} (no posts and no dated series in these "
           "data: a single dated total is a level, not a series)." if held else ""))]
    for g, name in zip(recs, names, strict=True):
        blocks.append(Heading(3, name))
        if g.get("error"):
            blocks.append(Note(f"Growth on {name} could not be compared: {str(g['error']).rstrip('.')}."))
            continue
        blocks += growth_section(_OnePlatform.of(ctx, g))
    return blocks


@dataclass
class _OnePlatform(ReportContext):
    """The report context one platform's growth block sees: growth.json replaced by the platform's own comparison
    (findings' growth_by_platform record), the platform's words by default, its figures named after it."""

    platform: str = ""

    @classmethod
    def of(cls, ctx: ReportContext, rec: Mapping[str, Any]) -> _OnePlatform:
        from ..findings import comparison_honesty, growth_comparisons

        growth = {k: v for k, v in rec.items() if k not in ("platform", "source")}
        comps = growth_comparisons(growth, interventions=ctx.ds.interventions if ctx.ds else ())
        f = replace(ctx.f, results=replace(ctx.f.results, growth=growth),
                    metric=str(rec.get("metric") or ctx.f.metric), comparisons=comps,
                    growth_details=[comparison_honesty(c) for c in comps], growth_platforms=None)
        return cls(f, ctx.ds, show_handles=ctx.show_handles, figures=ctx.figures, platform=str(rec["platform"]))

    def word(self, outcome: str, platform: object = None) -> str:
        return super().word(outcome, platform if platform is not None else self.platform)

    def own_terms(self, text: str, platform: object = None) -> str:
        return super().own_terms(text, platform if platform is not None else self.platform)

    def figure(self, name: str, draw: Any, **kwargs: Any) -> Block:
        return super().figure(f"{name}_{self.platform}", draw, **kwargs)
