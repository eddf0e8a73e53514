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
    """``changed`` (HAC p < 0.05), ``equivalent`` (TOST), ``cannot tell``, or ``not estimable``."""
    r = comparison.results
    p = num(_as_mapping(r.get("slope_change")).get("p_value"))
    if p is not None and p < SIGNIFICANCE:
        return "changed"
    if _as_mapping(r.get("equivalence")).get("equivalent") is True:
        return "equivalent"
    if p is None and num(r.get("slope_ratio")) is None:
        return "not estimable"
    return "cannot tell"


