"""Model diagnostics of results/models.json, read defensively: an older or partial file gives "not available"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..findings import _as_mapping, _as_records, num
from ..models import VIF_FLAG
from .blocks import Link, link
from .format import format_int, format_number, format_pct, p_is

NOT_AVAILABLE = "not available"
#: how many of the most influential posts the report links to per outcome.
N_INFLUENTIAL_SHOWN = 3


def _describe_counts(counts: Mapping[str, Any]) -> str:
    parts = [f"{reason}: {format_int(n)}" for reason, n in counts.items() if (num(n) or 0) > 0]
    return "; ".join(parts)


def _p_or_na(p: Any) -> str:
    return NOT_AVAILABLE if num(p) is None else p_is(p)


def summarize_diagnostics(models: Mapping[str, Any] | None, *, outcome: str,
                          label: str | None = None) -> list[tuple[str, str]]:
    """Return one outcome's model diagnostics as (check, value) rows for the methods appendix.

    Parameters
    ----------
    models : mapping
        ``results/models.json`` as read (``diagnostics[outcome]`` as described in ``fit_post_models``).
        The outcome whose entry is summarized.
    label : str, optional
        The outcome in the platform's own word ("views" on Meta) for the rows that name it; default ``outcome``.

    Returns
    -------
    list of (str, str)
        Posts used and dropped (with reasons), the largest VIF and the terms above the VIF flag, the share of
        zeros, residual skew, the Breusch–Pagan p, the overdispersion p-values, the engagement-rate model's
        posts, the number of posts with Cook's distance above 4/n, the most influential posts and the
        separation / rare-level flags. Values are plain text, except the influential posts, which are
        links (:class:`~workbench.report.blocks.Link`, http(s) permalinks only). A key that is missing or
        malformed gives "not available".
    """
    diag = _as_mapping(_as_mapping(_as_mapping(models).get("diagnostics")).get(outcome))
    rows: list[tuple[str, str]] = []

    n, n_total = num(diag.get("n")), num(diag.get("n_total"))
    used = (
        NOT_AVAILABLE
        if n is None
        else format_int(n) + ("" if n_total is None else f" of {format_int(n_total)}")
    )
    rows.append(("Posts used", used))
    n_dropped = num(diag.get("n_dropped"))
    if n_dropped is None and n is not None and n_total is not None:
        n_dropped = n_total - n
    reasons = _describe_counts(_as_mapping(diag.get("dropped")))
    dropped = (
        NOT_AVAILABLE if n_dropped is None else format_int(n_dropped) + (f" ({reasons})" if reasons else "")
    )
    rows.append(("Posts dropped (missing values)", dropped))

    vif = {str(k): num(v) for k, v in _as_mapping(diag.get("vif")).items() if num(v) is not None}
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

    zero = num(diag.get("zero_share"))
    rows.append(
        (f"Share of posts with 0 {label or outcome}", NOT_AVAILABLE if zero is None else format_pct(100 * zero))
    )

    resid = _as_mapping(_as_mapping(diag.get("residuals")).get("ols_log"))
    skew, kurt = num(resid.get("skew")), num(resid.get("excess_kurtosis"))
    skew_text = NOT_AVAILABLE if skew is None else format_number(skew)
    if skew is not None and kurt is not None:
        skew_text += f" (excess kurtosis {format_number(kurt)})"
    rows.append(("Residual skew (log scale)", skew_text))
    bp_text = _p_or_na(resid.get("bp_p"))
    if num(resid.get("bp_p")) is not None and num(resid.get("bp_r2")) is not None:
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
        if "error" in test and num(test.get("ct_p")) is None and num(test.get("lr_p")) is None:
            rows.append((label, f"{NOT_AVAILABLE}: {test['error']}"))
            continue
        ct, lr = num(test.get("ct_p")), num(test.get("lr_p"))
        bits = [
            f"Cameron–Trivedi {p_is(ct)}" if ct is not None else "",
            f"likelihood ratio {p_is(lr)}" if lr is not None else "",
        ]
        rows.append((label, "; ".join(b for b in bits if b) or NOT_AVAILABLE))

    rate = diag.get("rate_model")
    if isinstance(rate, Mapping):
        rate_n = num(rate.get("n"))
        rate_reasons = _describe_counts(_as_mapping(rate.get("dropped")))
        text = NOT_AVAILABLE if rate_n is None else format_int(rate_n)
        rows.append(
            (
                "Posts in the engagement-rate model",
                text + (f" (left out: {rate_reasons})" if rate_reasons else ""),
            )
        )

    cook = num(diag.get("n_cook_above_4_over_n"))
    rows.append(("Posts with Cook's distance > 4/n", NOT_AVAILABLE if cook is None else format_int(cook)))
    influential = [r for r in _as_records(diag.get("influential")) if num(r.get("cook_d")) is not None]
    influential.sort(key=lambda r: -num(r["cook_d"]))
    if influential:
        links = []
        for r in influential[:N_INFLUENTIAL_SHOWN]:
            post_id = r.get("post_id")
            label = f"post {post_id}" if post_id not in (None, "") else f"row {r.get('row', '?')}"
            lk, d = link(r.get("permalink"), label), f" (D = {num(r['cook_d']):.3g})"
            links.append(replace(lk, suffix=d) if isinstance(lk, Link) else f"{lk}{d}")
        rows.append(("Most influential posts", tuple(links)))
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
            what = "with" if num(sep.get("level")) == 1 else "without"
            found.append(f"separation: {sep.get('term')} ({what}: all 0)")
    known = isinstance(flags, list) or isinstance(diag.get("separation"), list)
    rows.append(
        ("Separation and rare levels", "; ".join(found) if found else "none" if known else NOT_AVAILABLE)
    )
    return rows

