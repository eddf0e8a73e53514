"""What the post-level models say and really had: effects and verdicts, thin effects, fitted and dropped terms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..models import SUMMARY_KEYS
from ..plots import select_predictor_rows
from ..vocab import SIGNIFICANCE
from .runfolder import _as_mapping, _as_records, num

_num = num

def _effect_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Add effect_pct and its CI where the table lacks them (100·(exp(b) − 1))."""
    out = rows.copy()
    for name, source in (
        ("effect_pct", "estimate"),
        ("effect_pct_ci_low", "ci_low"),
        ("effect_pct_ci_high", "ci_high"),
    ):
        computed = 100.0 * np.expm1(pd.to_numeric(out[source], errors="coerce"))
        out[name] = pd.to_numeric(out[name], errors="coerce").fillna(computed) if name in out else computed
    return out


def primary_effects(regression: pd.DataFrame, *, model: str = "ols_log") -> pd.DataFrame:
    """Return the predictor rows of the primary model with % change, CI, the p used and ``supported``.

    ``supported`` means Holm-adjusted p < 0.05 (unadjusted p when the table has no ``p_holm``).
    """
    frames = [
        select_predictor_rows(regression, outcome=o, model=model)
        for o in pd.unique(regression["outcome"].astype(str))
    ]
    rows = pd.concat(frames, ignore_index=True) if frames else regression.iloc[0:0]
    rows = _effect_columns(rows)
    p_col = "p_holm" if "p_holm" in rows and rows["p_holm"].notna().any() else "p_value"
    rows["p_used"] = pd.to_numeric(rows[p_col], errors="coerce") if p_col in rows else np.nan
    rows["p_kind"] = "Holm-adjusted" if p_col == "p_holm" else "unadjusted"
    rows["supported"] = rows["p_used"] < SIGNIFICANCE
    if "p_holm_across_outcomes" in rows.columns:  # Holm over every outcome's predictors (models.json holm_family)
        rows["p_holm_across_outcomes"] = pd.to_numeric(rows["p_holm_across_outcomes"], errors="coerce")
    return rows



_RARE_FLAG = re.compile(r"^rare level: (?P<term>.+) \((?P<what>with|without): (?P<count>\d+)\)$")
_RARE_WARNING = re.compile(
    r"^(?P<outcome>[^:]+): only (?P<count>\d+) of (?P<n>\d+) posts (?P<what>with|without) "
    r"'(?P<term>[^']+)' \(fewer than"
)


def find_thin_effects(models: Mapping[str, Any] | None) -> dict[tuple[str, str], str]:
    """Return {(outcome, term): reason} for binary features with too few posts in a level to judge.

    Read from ``results/models.json``: ``diagnostics[outcome]["flags"]`` entries ``rare level: TERM (with: N)``
    and, for files without diagnostics, the matching warnings (``OUTCOME: only N of M posts with 'TERM' …``).
    Anything else in the file is ignored, so an older or partial models.json gives an empty result.
    """
    found: dict[tuple[str, str], list[str]] = {}

    def add(outcome: str, term: str, what: str, count: str) -> None:
        reason = f"only {int(count)} post{'s' if int(count) != 1 else ''} {what} it"
        reasons = found.setdefault((outcome, term), [])
        if reason not in reasons:
            reasons.append(reason)

    models = models if isinstance(models, Mapping) else {}
    diagnostics = models.get("diagnostics")
    if isinstance(diagnostics, Mapping):
        for outcome, diag in diagnostics.items():
            flags = diag.get("flags") if isinstance(diag, Mapping) else None
            for flag in flags if isinstance(flags, list) else []:
                m = _RARE_FLAG.match(str(flag))
                if m:
                    add(str(outcome), m["term"], m["what"], m["count"])
    warnings_list = models.get("warnings")
    for text in warnings_list if isinstance(warnings_list, list) else []:
        m = _RARE_WARNING.match(str(text))
        if m:
            add(m["outcome"], m["term"], m["what"], m["count"])
    return {key: " and ".join(reasons) for key, reasons in found.items()}



_DIAGNOSTIC_KEYS = (
    "n",
    "n_total",
    "n_dropped",
    "dropped",
    "vif",
    "flags",
    "zero_share",
    "residuals",
    "overdispersion",
    "influential",
    "n_cook_above_4_over_n",
    "separation",
    "controls_sensitivity",
    "rate_model",
)



def list_diagnosed_outcomes(models: Mapping[str, Any] | None) -> list[str]:
    """Return the outcomes that have a diagnostics entry in ``results/models.json``, in file order.

    An entry counts when it is an object with at least one of the keys ``fit_post_models`` writes; the summary
    keys (``primary``, ``sensitivity``) and anything else are ignored.
    """
    diagnostics = _as_mapping(_as_mapping(models).get("diagnostics"))
    return [
        str(outcome)
        for outcome, diag in diagnostics.items()
        if outcome not in SUMMARY_KEYS
        and isinstance(diag, Mapping)
        and any(key in diag for key in _DIAGNOSTIC_KEYS)
    ]


def tabulate_controls_sensitivity(
    models: Mapping[str, Any] | None, *, outcome: str, platform: str | None = None
) -> pd.DataFrame:
    """Return the controls sensitivity of one outcome's features (ols_log) from ``results/models.json``.

    With one platform: read from ``diagnostics["sensitivity"]`` (records), else from
    ``diagnostics[outcome]["controls_sensitivity"]`` (term → row). With several platforms (models.json fits
    each platform apart and keys its diagnostics ``"<platform>: <outcome>"``) the table is one platform's:
    ``platform`` names it, and its rows come from ``diagnostics["<platform>: <outcome>"]["controls_sensitivity"]``
    (or from the records that carry that ``platform``). Without ``platform`` in a several-platform file the
    table is empty: the flat records do not say which platform they belong to, and mixing them would put one
    platform's effect beside another's. Only predictors are kept: a term that the outcome's ``terms`` map names
    as anything but a predictor (a control, the intercept) is left out.

    Returns
    -------
    DataFrame
        Columns ``term``, ``effect_pct_without_controls``, ``effect_pct_with_controls``, ``change_pct_points``
        and ``n`` (floats; NaN where the file has no number), one row per feature in file order; empty when the
        file has no sensitivity for ``outcome`` (and ``platform``).
    """
    columns = ["term", "effect_pct_without_controls", "effect_pct_with_controls", "change_pct_points", "n"]
    models = _as_mapping(models)
    diagnostics = _as_mapping(models.get("diagnostics"))
    keyed = [k for k in diagnostics if isinstance(k, str) and ": " in k]
    several = len(models.get("platforms") or []) > 1 or bool(keyed)
    key = f"{platform}: {outcome}" if platform is not None and several else outcome
    diag = _as_mapping(diagnostics.get(key))
    flat = _as_records(diagnostics.get("sensitivity"))
    records = [
        r for r in flat
        if str(r.get("outcome")) == outcome and "term" in r
        and (not several or (platform is not None and str(r.get("platform")) == str(platform)))
    ]
    if not records and (not several or platform is not None):
        records = [
            {**row, "term": term}
            for term, row in _as_mapping(diag.get("controls_sensitivity")).items()
            if isinstance(row, Mapping)
        ]
    terms = _as_mapping(diag.get("terms"))
    rows = [
        [str(r["term"]), *(_num(r.get(c)) for c in columns[1:])]
        for r in records
        if str(r["term"]) != "Intercept" and terms.get(str(r["term"]), "predictor") == "predictor"
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({c: "float64" for c in columns[1:]})




# --------------------------------------------------------------------------------------------------------------
# What the models really had: fitted predictors and controls, dropped terms with the reason
# --------------------------------------------------------------------------------------------------------------

#: models.json warnings about a dropped term (``fit_post_models``' wording) → the reason in words.
_DROP_PATTERNS = (
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is not a column", re.I),
     "not in the data (no such column in posts_coded)"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is entirely NA", re.I),
     "no post has a value for it"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is constant", re.I),
     "it has the same value for every post, so nothing can be compared"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' has a single value", re.I),
     "it has a single value in the posts used, so nothing can be compared"),
    (re.compile(r"^(?:(?P<outcome>[^:]+): )?(?P<role>predictor|control) (?:term )?'(?P<term>[^']+)' is an exact linear", re.I),
     "it duplicates the other terms (an exact combination of them)"),
)
_CONTROL_BASES = ("followers_at_post", "log_followers_at_post", "year", "hour_local", "weekday_local")


def _typed_terms(models: Mapping[str, Any], outcome: str, model: str) -> dict[str, str] | None:
    """``fitted_terms`` records of models.json (term → role) for one outcome × model, when the file has them."""
    typed = _as_mapping(models).get("fitted_terms")
    if isinstance(typed, list) and any("predictors" in r or "controls" in r for r in _as_records(typed)):
        # one record per (platform,) outcome × model with its predictor and control lists: the union over platforms
        out: dict[str, str] = {}
        for r in _as_records(typed):
            if str(r.get("outcome")) == outcome and str(r.get("model")) == model:
                for role, key in (("predictor", "predictors"), ("control", "controls")):
                    for term in r.get(key) or []:
                        out.setdefault(str(term), role)
        return out or None
    if isinstance(typed, list):
        rows = [
            r for r in _as_records(typed)
            if str(r.get("outcome", outcome)) == outcome and str(r.get("model", model)) == model and "term" in r
        ]
        return {str(r["term"]): str(r.get("role") or r.get("term_type") or "predictor") for r in rows} or None
    entry = _as_mapping(typed).get(outcome)
    if isinstance(entry, Mapping) and model in entry:
        entry = entry[model]
    if isinstance(entry, Mapping):
        return {str(t): str(role) for t, role in entry.items()}
    if isinstance(entry, list):
        return {
            str(r.get("term")): str(r.get("role") or r.get("term_type") or "predictor")
            for r in _as_records(entry)
        } or {str(t): "predictor" for t in entry if isinstance(t, str)} or None
    return None


def fitted_terms(
    models: Mapping[str, Any] | None, regression: pd.DataFrame | None, *, outcome: str, model: str
) -> tuple[dict[str, str], str]:
    """Return (term → role, source) of the terms one fitted model really had (roles: predictor, control).

    Read, in this order, from models.json's typed ``fitted_terms`` records, from ``diagnostics[outcome].terms``
    (ols_log), and from the rows of regression.csv (``term_type`` where present, else by the term's name).
    """
    typed = _typed_terms(models or {}, outcome, model)
    if typed:
        return ({t: r for t, r in typed.items() if t != "Intercept"}, "models.json fitted_terms")
    diag = _as_mapping(_as_mapping(_as_mapping(models).get("diagnostics")).get(outcome))
    terms = _as_mapping(diag.get("terms"))
    if terms and model == "ols_log":
        return ({str(t): str(r) for t, r in terms.items() if t != "Intercept"}, "models.json diagnostics terms")
    if regression is None:
        return {}, "not available"
    rows = regression[(regression["outcome"].astype(str) == outcome) & (regression["model"].astype(str) == model)]
    out = {}
    for row in rows.to_dict("records"):
        term = str(row["term"])
        if term == "Intercept":
            continue
        role = row.get("term_type")
        if not isinstance(role, str):
            role = "control" if term.split("[", 1)[0] in _CONTROL_BASES else "predictor"
        out[term] = role
    return out, "regression.csv terms"


def dropped_terms(models: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return the predictors and controls the models left out, each with the reason in words.

    Read from models.json's typed ``dropped`` records (``term``, ``role``, ``reason``/``message``, ``outcome``)
    when present, else from its warnings (``fit_post_models``' wording). One record per term and reason.
    """
    models = _as_mapping(models)
    out: list[dict[str, Any]] = []
    seen = set()
    typed = models.get("dropped")
    for r in _as_records(typed):
        # a record without a term (posts left out of one model, e.g. impressions 0 in the engagement-rate model)
        # names no predictor or control: the diagnostics report it
        if r.get("term") is None:
            continue
        reason = str(r.get("reason") or r.get("message") or r.get("code") or "dropped")
        key = (str(r["term"]), reason)
        if key not in seen:
            seen.add(key)
            out.append({"term": str(r["term"]), "role": str(r.get("role") or "predictor"), "reason": reason,
                        "outcome": r.get("outcome"), "source": "models.json dropped"})
    if out:
        return out
    for text in models.get("warnings") or []:
        text = str(text.get("message", "")) if isinstance(text, Mapping) else str(text)
        for pattern, reason in _DROP_PATTERNS:
            m = pattern.match(text)
            if m:
                key = (m["term"], reason)
                if key not in seen:
                    seen.add(key)
                    out.append({"term": m["term"], "role": m["role"].lower(), "reason": reason,
                                "outcome": m["outcome"], "source": "models.json warnings"})
                break
    return out




_SETTING_WORDS = {"original": "original posts only", "all": "all posts", "all_controlled": "all posts, post type controlled"}


def model_population(models: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Which posts the models used (models.json ``population``): setting, types in, posts in and out, per type.

    None when the file does not say (an older models.json)."""
    pop = _as_mapping(_as_mapping(models).get("population"))
    if not pop:
        return None
    counts = [
        {"post_type": str(c.get("post_type")), "n": _num(c.get("n")), "in_models": bool(c.get("in_models")),
         "platform": c.get("platform")}
        for c in _as_records(pop.get("counts"))
    ]
    return {
        "setting": pop.get("setting"),
        "post_types": list(pop.get("post_types") or []),
        "post_type_controlled": bool(pop.get("post_type_controlled")),
        "chosen_by": pop.get("chosen_by"),
        "n_in": _num(pop.get("n_in")),
        "n_out": _num(pop.get("n_out")),
        "counts": counts,
        "source": "models.json population",
    }


def held_up_across_outcomes(effects: pd.DataFrame | None, regression: pd.DataFrame | None = None, *,
                            model: str) -> dict[str, Any] | None:
    """How many of the primary model's feature–outcome estimates held up, and in which Holm family.

    With ``p_holm_across_outcomes`` in regression.csv (Holm over every predictor of every outcome of the model,
    per platform) the count is over that one family, so "N of M held up" is true of the M estimates it counts;
    without it the family is each outcome's predictors and the record says so. ``cannot tell`` estimates (too
    few posts in a group) never count as held up.
    """
    if effects is None or not len(effects):
        return None
    rows = effects
    family = "Holm within each outcome's predictors" if str(rows["p_kind"].iloc[0]).startswith("Holm") \
        else "unadjusted p (regression.csv has no Holm column)"
    p = rows["p_used"]
    if "p_holm_across_outcomes" in rows.columns and rows["p_holm_across_outcomes"].notna().all():
        p = pd.to_numeric(rows["p_holm_across_outcomes"], errors="coerce")
        several = "platform" in rows.columns and rows["platform"].nunique() > 1
        family = (f"Holm across all {len(rows)} feature–outcome estimates of {model}"
                  + (" (each platform its own family)" if several else ""))
    ok = (p < SIGNIFICANCE) & (rows["cannot_tell"] == "") if "cannot_tell" in rows else p < SIGNIFICANCE
    return {"n_held_up": int(ok.sum()), "n_estimates": int(len(rows)), "family": family,
            "n_cannot_tell": int((rows["cannot_tell"] != "").sum()) if "cannot_tell" in rows else 0,
            "source": f"regression.csv, model {model}: adjusted p < {SIGNIFICANCE}"}


def model_notes(models: Mapping[str, Any] | None, *, primary: str) -> dict[str, Any]:
    """What models.json (schema 2) says that the report must word: the estimand of each model fitted, count
    models fitted by a fallback (``fit_method`` other than ``nb2_ml``, with the reason), ``too_few_posts``
    records, the dispersion of each outcome (variance/mean, NB α, Pearson dispersion) and reach by post type."""
    models = _as_mapping(models)
    estimands = {k: dict(v) for k, v in _as_mapping(models.get("estimands")).items() if isinstance(v, Mapping)}
    fallbacks = []
    for rec in _as_records(models.get("fitted_terms")):
        method = rec.get("fit_method")
        if str(rec.get("model", "")).startswith("negbin") and method and method != "nb2_ml":
            fallbacks.append({k: rec.get(k) for k in ("platform", "outcome", "model", "fit_method",
                                                       "fallback_reason", "n")})
    too_few = [{k: rec.get(k) for k in ("platform", "outcome", "term", "n", "minimum", "message", "role")}
               for rec in _as_records(models.get("dropped")) if rec.get("code") == "too_few_posts"]
    too_few += [{k: rec.get(k) for k in ("platform", "outcome", "term", "n", "minimum", "message")}
                for rec in _as_records(models.get("flags")) if rec.get("code") == "too_few_posts_model"]
    dispersion = {}
    for outcome, diag in _as_mapping(models.get("diagnostics")).items():
        diag = _as_mapping(diag)
        d = _as_mapping(diag.get("dispersion"))
        over = _as_mapping(_as_mapping(diag.get("overdispersion")).get("negbin"))
        if d or over:
            dispersion[str(outcome)] = {
                "variance_to_mean": num(d.get("variance_to_mean")), "negbin_alpha": num(d.get("negbin_alpha")),
                "negbin_alpha_ci": d.get("negbin_alpha_ci"), "pearson_dispersion": num(over.get("pearson_dispersion")),
                "pearson_df": num(over.get("pearson_df"))}
    return {
        "primary": primary,
        "primary_estimand": estimands.get(primary),
        "estimand_sentences": _as_mapping(_as_mapping(models.get("estimand_sentences")).get(primary)) or {},
        "estimands": estimands,
        "fallbacks": fallbacks,
        "too_few_posts": too_few,
        "dispersion": dispersion,
        "reach_by_type": _as_records(models.get("reach_by_type")),
        "platforms": list(models.get("platforms") or []),
        "source": "models.json (schema_version 2: estimands, fitted_terms, dropped/flags, diagnostics, reach_by_type)",
    }
