"""The growth comparisons of growth.json, one per intervention, and their verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..vocab import SIGNIFICANCE
from .runfolder import _as_mapping, num

_num = num

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




def growth_verdict(comparison: GrowthComparison) -> str:
    """``changed`` (calibrated HAC p < 0.05 and, where growth.json has ``change_at_date``, a jump at the date beyond
    a steady trend in the rate), ``equivalent`` (TOST), ``cannot tell`` (also: the rates differ but the rate was
    already drifting: ``change_at_date.reason``), ``not estimable``, or
    ``not judged`` (growth.json says the comparison cannot be judged: too few increments, or the date is outside
    the data; ``not_judged_reason`` says why)."""
    r = comparison.results
    if r.get("status") in ("after_data", "before_data", "no_data") or r.get("judgeable") is False:
        return "not judged"
    p = num(_as_mapping(r.get("slope_change")).get("p_value"))
    if p is not None and p < SIGNIFICANCE:
        # a rate that was already drifting before the date is no change at the date (growth.CHANGE_AT_DATE_RULE)
        if _as_mapping(r.get("change_at_date")).get("holds") is False:
            return "cannot tell"
        return "changed"
    if _as_mapping(r.get("equivalence")).get("equivalent") is True:
        return "equivalent"
    if p is None and num(r.get("slope_ratio")) is None:
        return "not estimable"
    return "cannot tell"




#: what each post-level term held constant, in words (beforeafter.post_change's terms)
ADJUSTED_FOR = {"log_followers": "audience size (log followers at the post)", "years_since_date": "the trend",
                "is_reply": "post type (reply or not)"}


def _pick(d: Any, keys: Sequence[str]) -> dict[str, Any] | None:
    d = _as_mapping(d)
    return {k: d.get(k) for k in keys if k in d} if d else None


def comparison_honesty(comp: GrowthComparison) -> dict[str, Any]:
    """What growth.json (schema 2) says about one comparison beyond the verdict: whether it could be judged, the
    post change adjusted for audience and trend (with the unadjusted median ratio as a labelled descriptive
    number), the monthly interrupted time series (Welch kept as the published form), the placebo check's
    smallest attainable p and the models each number came from. Keys absent from an older growth.json are None.
    """
    r = comp.results
    pa = _as_mapping(r.get("posts_adjusted"))
    adjusted = None
    if pa:
        adjusted = {k: pa.get(k) for k in ("available", "outcome", "reason", "estimate", "ci", "p_value", "estimand",
                                             "method", "cov_type", "n_posts", "n_months", "terms", "terms_missing")}
        terms = [t for t in pa.get("terms") or [] if t in ADJUSTED_FOR]
        adjusted["adjusted_for"] = [ADJUSTED_FOR[t] for t in terms]
        adjusted["not_adjusted_for"] = {ADJUSTED_FOR.get(t, t): why for t, why in _as_mapping(pa.get("terms_missing")).items()}
        adjusted["descriptive"] = _pick(pa.get("descriptive"), (
            "label", "median_before", "median_after", "median_ratio", "median_ratio_ci", "median_ratio_ci_method",
            "median_ratio_reason", "median_ratio_ci_reason",
            "followers_median_ratio", "impressions_per_follower_median_ratio"))
        adjusted["source"] = "growth.json posts_adjusted (workbench.beforeafter.post_change)"
    its = _as_mapping(r.get("monthly_its"))
    monthly_its = None
    if its:
        monthly_its = {k: its.get(k) for k in (
            "available", "metric", "reason", "level_change", "level_change_ci", "level_change_p",
            "trend_change_per_year", "trend_change_per_year_ci", "trend_change_p", "pre_trend_per_year", "scale",
            "method", "n_months", "n_months_before", "n_months_after")}
        monthly_its["source"] = "growth.json monthly_its (workbench.beforeafter.monthly_its)"
    monthly = _as_mapping(r.get("monthly"))
    placebo = _as_mapping(r.get("placebo"))
    return {
        "status": r.get("status"),
        "judgeable": r.get("judgeable"),
        "not_judged_reason": r.get("not_judged_reason"),
        "posts_adjusted": adjusted,
        "monthly_its": monthly_its,
        "monthly_published_form": _pick(monthly, ("metric", "fold_change", "fold_change_ci", "welch_p_two_sided",
                                                  "welch_p_one_sided", "n_before", "n_after")),
        "placebo": None if not placebo else {
            "n": placebo.get("n"), "rank_p": placebo.get("rank_p"),
            "smallest_attainable_p": placebo.get("smallest_attainable_p")},
        "change_at_date": _pick(r.get("change_at_date"), ("holds", "reason", "placebo_as_small", "placebo_n")),
        "trend_adjusted": _pick(r.get("trend_adjusted"), ("jump_per_day", "jump_ci", "p_value", "trend_per_year",
                                                          "reason", "method")),
        "pre_trend": _pick(r.get("pre_trend"), ("estimate_per_year", "ci", "p_value", "reason", "method")),
        "growth_model": r.get("growth_model"),
        "calibration": r.get("calibration"),
        "minimum_detectable": _pick(r.get("minimum_detectable"), (
            "ratio_increase", "ratio_decrease", "power", "alpha", "power_at", "search_max_ratio", "reason")),
    }
