"""Sentences of the report, generated from the findings (what was fitted, on which posts, with which terms).

Associational wording throughout ("received", "went with"): the data are observational. A sentence never
quotes a number that means nothing: an interval of zero width, a p-value that was not computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..beforeafter import MIN_MONTHS_EACH_SIDE
from ..findings import GrowthComparison, _rate, num
from ..models import MIN_LEVEL_POSTS
from ..plots import WEEKDAYS
from ..vocab import (
    SIGNIFICANCE,
    control_name,
    feature_phrase,
    join_words,
    label_feature,
    metric_name,
    platform_name,
)
from .format import (
    ci_text,
    format_date,
    format_int,
    format_number,
    format_pct,
    format_ratio,
    margin_text,
    p_is,
)


def describe_effect(term: str, outcome: str, pct: Any, low: Any, high: Any) -> str:
    """Say what a % change means for a feature: "posts with a poll received 32% more impressions …"."""
    v = num(pct)
    if v is None:
        return f"the effect of {label_feature(term).lower()} on {outcome} could not be estimated"
    more = "more" if v >= 0 else "fewer"
    size = format_pct(abs(v))
    ci = ci_text([low, high], lambda x: format_pct(x, signed=True))
    kind, phrase = feature_phrase(term)
    if kind == "binary":
        return f"posts with {phrase} received {size} {more} {outcome} than comparable posts without ({ci})"
    if kind == "flag":
        return f"posts that are {phrase} received {size} {more} {outcome} than comparable posts that are not ({ci})"
    if kind == "level":
        return f"posts with {phrase} received {size} {more} {outcome} than posts at the reference level ({ci})"
    return f"each additional {phrase} went with {size} {more} {outcome} ({ci})"


def after_phrase(comparison: GrowthComparison) -> str:
    """ "after Designer joined", or "from 1 Jul 2022 on" when the label only names a period."""
    if comparison.named:
        return f"after {comparison.label}"
    start = comparison.after.get("start")
    return f"from {format_date(start)} on" if start else f"in the period {comparison.label}"


def growth_subject(metric: str, level_known: Any = True) -> str:
    """What the growth rate is of: the metric, or "new follows per day" when the follower level is unknown."""
    if metric == "followers" and level_known is False:
        return "new follows per day"
    return metric_name(metric)


def describe_growth(comparison: GrowthComparison, *, metric: str = "followers", level_known: Any = True) -> str:
    """Return the plain verdict on one comparison: faster/slower with its CI and calibrated HAC p, equivalent,
    unknown, or — when growth.json says it cannot be judged — its ``not_judged_reason`` and no p-value."""
    r = comparison.results
    after = after_phrase(comparison)
    if r.get("status") in ("after_data", "before_data", "no_data") or r.get("judgeable") is False:
        reason = r.get("not_judged_reason") or r.get("reason") or "growth.json gives no reason"
        subject = growth_subject(metric, level_known)
        if r.get("status") == "after_data":
            return f"Growth in {subject} was not compared {after}: the date is after your data ({reason})."
        if r.get("status") == "before_data":
            return f"Growth in {subject} was not compared {after}: the date is before your data ({reason})."
        return f"Whether growth in {subject} changed {after} cannot be judged: {reason}."
    if metric == "followers" and level_known is False:
        metric_words = "new follows per day"
    else:
        metric_words = None
    change = r.get("slope_change") or {}
    p = num(change.get("p_value"))
    ratio = num(r.get("slope_ratio"))
    ratio_ci = r.get("slope_ratio_ci")
    before_slope = _rate(comparison.before)[0]
    usable_ratio = ratio is not None and before_slope is not None and before_slope > 0 and ratio > 0
    equivalence = r.get("equivalence") or {}
    metric = metric_words or metric_name(metric)
    if r.get("reason") and p is None and ratio is None:
        return f"Whether growth in {metric} changed {after} could not be estimated: {r['reason']}"
    at_date = r.get("change_at_date") if isinstance(r.get("change_at_date"), Mapping) else {}
    if p is not None and p < SIGNIFICANCE and at_date.get("holds") is False:
        # the rates differ, but a drift already under way explains it as well (growth.CHANGE_AT_DATE_RULE)
        rate = (f"{format_ratio(ratio)} the earlier rate, {ci_text(ratio_ci, format_ratio)}, HAC {p_is(p)}"
                if usable_ratio else f"HAC {p_is(p)}")
        return (f"Cannot tell whether growth in {metric} changed {after}: the rate after the date differs from the "
                f"average rate before ({rate}), but {at_date.get('reason') or 'the rate was already changing'}.")
    if p is not None and p < SIGNIFICANCE:
        noise = f"the change is unlikely to be noise (HAC {p_is(p)})"
        if usable_ratio:
            ci = ci_text(ratio_ci, format_ratio)
            if ratio >= 1:
                return f"Growth in {metric} was {format_ratio(ratio)} faster {after} ({ci}); {noise}."
            return f"Growth in {metric} slowed {after} to {format_ratio(ratio)} the earlier rate ({ci}); {noise}."
        est = num(change.get("estimate"))
        direction = "rose" if (est or 0) > 0 else "fell"
        return (
            f"Daily growth in {metric} {direction} by {format_number(abs(est or 0))} per day {after} "
            f"({ci_text(change.get('ci'), lambda v: format_number(v, signed=True))}); {noise}."
        )
    if equivalence.get("equivalent") is True:
        margin = margin_text(equivalence.get("margin")) or "the stated margin"
        return (
            f"Growth in {metric} was about the same before and {after}: the slope ratio lies within the "
            f"equivalence margin {margin} (TOST {p_is(equivalence.get('p_value'))})."
        )
    parts = []
    if ratio is not None:
        parts.append(f"ratio {format_ratio(ratio)}, {ci_text(ratio_ci, format_ratio)}")
    if p is not None:
        parts.append(f"HAC {p_is(p)}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    detectable = describe_detectable(r)
    return (
        f"The data cannot tell whether growth in {metric} changed {after}{detail}; "
        f"this is not evidence that it stayed the same." + (f" {detectable}" if detectable else "")
    )


def describe_detectable(results: Mapping[str, Any]) -> str | None:
    """What size of change the growth test could have detected (growth.json ``minimum_detectable``), or None.

    "With this much month-to-month variation, only a change of about 2.3× or more (or a fall to 0.45× or less)
    would be detected reliably (80% power)."
    """
    md = results.get("minimum_detectable")
    if not isinstance(md, Mapping) or md.get("method") is None:
        return None
    up, down = num(md.get("ratio_increase")), num(md.get("ratio_decrease"))
    power = num(md.get("power")) or 0.8
    top = format_ratio(num(md.get("search_max_ratio")) or 20.0)
    if up is None and down is None:
        return (
            f"With this much month-to-month variation, not even a {top} change in the growth rate would be "
            f"detected reliably ({power:.0%} power)."
        )
    if up is None:
        main = f"only a fall of the growth rate to {format_ratio(down)} or less (no increase up to {top})"
    else:
        main = f"only a change of the growth rate of about {format_ratio(up)} or more"
        if down is not None:
            main += f" (or a fall to {format_ratio(down)} or less)"
    caveat = md.get("caveat")
    return (f"With this much month-to-month variation, {main} would be detected reliably ({power:.0%} power)."
            + (f" That size is {caveat}." if caveat else "") + _detectable_at_date(results))


def _detectable_at_date(results: Mapping[str, Any]) -> str:
    """How large a change must be to count as a change at the date, beyond a steady trend in the rate (growth.json
    ``trend_adjusted.detectable``): larger than the rate comparison needs, as the trend and the jump share the
    series' information. "" when not estimated."""
    det = (results.get("trend_adjusted") or {}).get("detectable") if isinstance(results, Mapping) else None
    if not isinstance(det, Mapping) or num(det.get("ratio_increase")) is None:
        return ""
    up, down = num(det.get("ratio_increase")), num(det.get("ratio_decrease"))
    power = num(det.get("power")) or 0.8
    fall = (f" (or a fall to {format_ratio(down)})" if down is not None and down > 0
            else " (a fall, even to none, would not be found reliably)")
    return (f" To count as a change at the date it must also stand out from a steady trend in the rate, which takes "
            f"a jump to about {format_ratio(up)} the rate at the date{fall} ({power:.0%} power, a normal "
            "approximation).")


def describe_counterfactual(cf: Mapping[str, Any], *, metric: str = "followers", since: Any = None) -> str | None:
    """Say how the end of the series compares with the earlier trend projected forward, or None. A series of
    flows (``new_follows``, ``net_follows``: the running total of daily follows since ``since``, growth.json's
    ``origin``) is said to add up to its value, never to "stand at" it: it is not a follower count."""
    observed, projected = num(cf.get("observed_end")), num(cf.get("projected_end"))
    if observed is None or projected is None:
        return None
    excess = num(cf.get("excess_end"))
    if excess is None:
        excess = observed - projected
    end = cf.get("dates")[-1] if cf.get("dates") else None
    when = f"By {format_date(end)}" if end else "At the end of the series"
    ci = ci_text(cf.get("excess_ci"), lambda v: format_number(v, signed=True))
    if metric in ("new_follows", "net_follows"):
        start = f" since {format_date(since)}" if since else " since the series began"
        what = "new follows" if metric == "new_follows" else "net new followers (follows − unfollows)"
        return (
            f"{when}, the {what}{start} added up to {format_number(observed)} against {format_number(projected)} "
            f"projected from the earlier trend: a difference of {format_number(excess, signed=True)} ({ci}); this is "
            "a running total of daily flows, not a follower count."
        )
    return (
        f"{when}, {metric_name(metric)} stood at {format_number(observed)} against {format_number(projected)} "
        f"projected from the earlier trend: a difference of {format_number(excess, signed=True)} ({ci})."
    )


def too_few_months(monthly: Mapping[str, Any] | None) -> str | None:
    """Why a published-form monthly comparison (Welch, Mann–Whitney, fold change) is not given — fewer than
    MIN_MONTHS_EACH_SIDE complete months on a side, where a t-test or a rank test says nothing — else None."""
    if not isinstance(monthly, Mapping):
        return None
    nb, na = num(monthly.get("n_before")), num(monthly.get("n_after"))
    if nb is None or na is None or min(nb, na) >= MIN_MONTHS_EACH_SIDE:
        return None
    return (f"not compared: {format_int(nb)} complete month(s) before and {format_int(na)} after; a ratio or "
            f"p-value needs at least {MIN_MONTHS_EACH_SIDE} on each side")


def monthly_metrics_table(monthly_all: Any) -> list[tuple[str, ...]]:
    """Rows (metric, before, after, fold change with CI, Welch p, Mann–Whitney p, Hedges g) of growth.json's
    ``monthly_all``; [] when it is absent or malformed."""
    from .format import format_p

    if not isinstance(monthly_all, Mapping):
        return []
    rows = []
    for metric, m in monthly_all.items():
        if not isinstance(m, Mapping) or num(m.get("fold_change")) is None:
            continue
        few = too_few_months(m)
        if few:  # the means are descriptive; no fold change, p or effect size from one or two months a side
            rows.append((metric_name(metric), format_number(m.get("before_mean")), format_number(m.get("after_mean")),
                         few, "not computed", "not computed", "not computed"))
            continue
        rows.append(
            (
                metric_name(metric),
                format_number(m.get("before_mean")),
                format_number(m.get("after_mean")),
                f"{format_ratio(m.get('fold_change'))} ({ci_text(m.get('fold_change_ci'), format_ratio)})",
                format_p(m.get("welch_p_two_sided")),
                format_p(m.get("mannwhitney_p")),
                format_number(m.get("effect_size")),
            )
        )
    return rows


def describe_placebo(placebo: Mapping[str, Any]) -> str | None:
    """Say how unusual the real change is among placebo changes at earlier dates, or None."""
    summary = placebo.get("summary") if isinstance(placebo, Mapping) else None
    n = num(placebo.get("n")) if isinstance(placebo, Mapping) else None
    if not summary or not n:
        return None
    summary = str(summary).strip()
    summary = summary[:1].lower() + summary[1:] if summary[:2] != summary[:2].upper() else summary
    text = (
        f"Placebo check (the same comparison at {format_int(n)} earlier dates where nothing was changed): "
        f"{summary}{'' if summary.endswith('.') else '.'}"
    )
    floor = num(placebo.get("smallest_attainable_p"))
    if floor is not None and "smallest possible" not in text:
        text += (f" With {format_int(n)} placebos the smallest possible rank p is {format_number(floor)}, so the "
                 "check can never be more decisive than that.")
    return text


def describe_state_space(ss: Mapping[str, Any], *, metric: str = "followers") -> str | None:
    """The local-linear-trend model's forecast as a second opinion on the counterfactual, or None.

    An interval of zero width (a degenerate fit) is not printed; the sentence says the interval is unusable.
    """
    if not isinstance(ss, Mapping) or ss.get("error") or num(ss.get("forecast_end")) is None:
        return None
    fmt = lambda v: format_number(v, signed=True)  # noqa: E731
    ci = ci_text(ss.get("excess_ci"), fmt)
    if ci.startswith("CI not available (zero"):
        ci = "no usable interval: the model's interval has zero width, so its uncertainty is unknown"
    caveat = "" if ss.get("converged", True) else " (the model's fit did not fully converge; treat with caution)"
    # the model runs on the first reading of each month: its end is the last month's first reading, not the
    # series' last value, so the month is named (the counterfactual's end value is of another day)
    end = (ss.get("dates") or [None])[-1]
    month = pd.Timestamp(end).strftime("%B %Y") if end else None
    when = f"for the first reading of {month} (the model uses each month's first reading) " if month else ""
    return (
        f"Second opinion (a local linear trend state-space model of the earlier months): it forecast "
        f"{when}{format_number(ss.get('forecast_end'))} {metric_name(metric)} against "
        f"{format_number(ss.get('observed_end'))} observed{' then' if month else ''}, a difference of "
        f"{format_number(ss.get('excess_end'), signed=True)} ({ci}){caveat}."
    )


def describe_monthly(monthly: Mapping[str, Any]) -> str | None:
    """Say how the monthly metric changed: fold change with CI and the Mann–Whitney p, or None."""
    fold = num(monthly.get("fold_change"))
    if fold is None:
        return None
    metric = metric_name(monthly.get("metric", "the monthly metric")) + (
        f" ({'all platforms pooled' if monthly['platform'] == 'pooled' else platform_name(monthly['platform'])})"
        if monthly.get("platform") else "")
    nb, na = num(monthly.get("n_before")), num(monthly.get("n_after"))
    if nb is not None and na is not None and min(nb, na) < MIN_MONTHS_EACH_SIDE:
        # a t-test or a rank test on one or two months a side says nothing: no p-value is printed
        return (f"Published form (months treated as independent): monthly {metric} over {format_int(nb)} complete "
                f"month(s) before and {format_int(na)} after — too few to compare (at least {MIN_MONTHS_EACH_SIDE} "
                "on each side), so no p-value is given.")
    return (
        "Published form (months treated as independent, the earlier trend ignored): "
        f"monthly {metric} averaged {format_number(monthly.get('before_mean'))} before and "
        f"{format_number(monthly.get('after_mean'))} after, {format_ratio(fold)} the earlier level "
        f"({ci_text(monthly.get('fold_change_ci'), format_ratio)}; Welch {p_is(monthly.get('welch_p_two_sided'))}, "
        f"Mann–Whitney {p_is(monthly.get('mannwhitney_p'))})."
    )


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


def describe_terms(terms: Mapping[str, Any], dropped: Sequence[Mapping[str, Any]], *, outcome: str) -> list[str]:
    """What one outcome's primary model really held constant, and which predictors it left out and why.

    ``terms`` is a findings ``model_terms`` entry (predictors, controls, source); ``dropped`` the findings'
    dropped records. Only terms that were in the fitted model are named as held constant.
    """
    controls = list(dict.fromkeys(control_name(t) for t in terms.get("controls") or []))
    predictors = terms.get("predictors") or []
    out = []
    held = (["the other features"] if len(predictors) > 1 else []) + controls
    if held:
        out.append(f"The {outcome} model held {join_words(held)} constant.")
    else:
        out.append(f"The {outcome} model had no controls: each feature's difference is not adjusted for "
                   "audience size, time or anything else.")
    mine = [d for d in dropped if d.get("outcome") in (None, outcome)]
    for role in ("control", "predictor"):
        gone = [d for d in mine if d.get("role") == role]
        if gone:
            what = "Controls" if role == "control" else "Predictors"
            listed = "; ".join(
                f"{control_name(d['term']) if role == 'control' else label_feature(d['term']).lower()} "
                f"({d['reason']})" for d in gone)
            out.append(f"{what} left out of the models: {listed}.")
    return out


def thin_clause(eff: pd.DataFrame) -> str:
    thin = eff[eff["cannot_tell"] != ""]
    if not len(thin):
        return ""
    names = ", ".join(dict.fromkeys(label_feature(str(t)).lower() for t in thin["term"]))
    return (
        f"; the data cannot tell for {names}: too few posts with or without the feature "
        f"(fewer than {MIN_LEVEL_POSTS})"
    )


def _adjusted_for_words(pa: Mapping[str, Any]) -> str:
    held = list(pa.get("adjusted_for") or [])
    return join_words(held) if held else "nothing (no adjustment terms could be fitted)"


def _platform_clause(record: Mapping[str, Any]) -> str:
    """ ", on Facebook" / ", all platforms pooled" when findings named whose posts a growth.json block holds."""
    plat = record.get("platform")
    if not plat:
        return ""
    return ", all platforms pooled" if plat == "pooled" else f", on {platform_name(plat)}"


def describe_posts_adjusted(pa: Mapping[str, Any] | None, intro: str) -> list[str]:
    """The post change at an intervention adjusted for audience size and trend (the lead figure), then the
    unadjusted median ratio labelled as descriptive. Empty when growth.json has no ``posts_adjusted``."""
    if not isinstance(pa, Mapping) or not pa:
        return []
    outcome = str(pa.get("outcome") or "impressions")
    intro += _platform_clause(pa)
    out = []
    if pa.get("available") and num(pa.get("estimate")) is not None:
        est = num(pa.get("estimate"))
        missing = pa.get("not_adjusted_for") or {}
        gap = "".join(f" Not held constant: {k} — {v}." for k, v in missing.items())
        p = num(pa.get("p_value"))
        out.append(
            f"{intro}, adjusted for {_adjusted_for_words(pa)}, the typical post received {format_ratio(est)} the "
            f"{outcome} of before ({ci_text(pa.get('ci'), format_ratio)}, clustered by calendar month over "
            f"{format_int(pa.get('n_months'))} months and {format_int(pa.get('n_posts'))} posts"
            + (f"; {p_is(p)}" if p is not None else "") + f"): the {pa.get('estimand')}.{gap}"
        )
    else:
        out.append(f"{intro}, the change in {outcome} adjusted for audience size and trend is not available: "
                   f"{pa.get('reason') or 'growth.json gives no reason'}.")
    d = pa.get("descriptive") or {}
    if num(d.get("median_ratio")) is not None:
        sentence = (f"Descriptive only, not adjusted for anything: the median post was seen "
                    f"{format_ratio(d['median_ratio'])} as often as before ({format_int(d.get('median_before'))} → "
                    f"{format_int(d.get('median_after'))} {outcome}")
        if all(num(v) is not None for v in (d.get("median_ratio_ci") or [None, None])):
            sentence += f"; {ci_text(d['median_ratio_ci'], format_ratio)} from resampling whole months"
        elif d.get("median_ratio_ci_reason"):
            sentence += f"; no interval: {d['median_ratio_ci_reason']}"
        sentence += ")"
        if num(d.get("followers_median_ratio")) is not None:
            sentence += (f", while the median follower count at the post grew "
                         f"{format_ratio(d['followers_median_ratio'])}")
        out.append(sentence + ".")
    elif d.get("median_ratio_reason") and num(d.get("median_before")) is not None:
        out.append(f"Descriptive only, not adjusted for anything: the median post had {format_int(d['median_before'])}"
                   f" {outcome} before and {format_int(d.get('median_after'))} after; no ratio is given: "
                   f"{d['median_ratio_reason']}.")
    return out


def describe_its(its: Mapping[str, Any] | None, *, after: str) -> str | None:
    """The monthly interrupted time series (the rigorous monthly comparison), or why it is not available."""
    if not isinstance(its, Mapping) or not its:
        return None
    metric = metric_name(str(its.get("metric") or "metric")) + (
        f" ({'all platforms pooled' if its['platform'] == 'pooled' else platform_name(its['platform'])})"
        if its.get("platform") else "")
    if not its.get("available"):
        return (f"Monthly {metric} as an interrupted time series {after}: not available — "
                f"{its.get('reason') or 'growth.json gives no reason'}.")
    return (
        f"Monthly {metric} as an interrupted time series (the rigorous monthly comparison: months are not "
        f"independent and the earlier trend continues): {after} the level changed by a factor "
        f"{format_ratio(its.get('level_change'))} beyond the earlier trend "
        f"({ci_text(its.get('level_change_ci'), format_ratio)}; {p_is(its.get('level_change_p'))}) and the trend "
        f"by a factor {format_ratio(its.get('trend_change_per_year'))} per year "
        f"({ci_text(its.get('trend_change_per_year_ci'), format_ratio)}; {p_is(its.get('trend_change_p'))}); "
        f"{format_int(its.get('n_months_before'))} months before, {format_int(its.get('n_months_after'))} after."
    )
