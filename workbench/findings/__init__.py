"""The findings step: every number and verdict the report shows, computed from the run folder's results.

``compute_findings`` reads what the stages left in a run folder (:class:`RunResults`, through
:class:`~workbench.pipeline.RunPaths`) and derives what the report states: the key figures and their change
against the previous period of equal length, the before/after medians at the first intervention, the primary
model's effects with their verdicts, the terms each model really had (predictors, controls, dropped terms with
the reason), the growth comparisons, the goals, the unreliable manual codes and which stages failed. Each record
names the model or rule it came from (``source``). ``write_findings`` stores them as ``results/findings.json``;
:mod:`workbench.report` only renders them (no statistics there).

``findings.json`` (``schema_version`` 1) holds: ``generated``, ``versions`` (Python and analysis libraries),
``date_range``, ``key_figures``, ``previous_period``, ``split``, ``period_change``, ``effects``,
``model_terms``, ``dropped``, ``growth``, ``goals``, ``low_reliability``, ``thin_effects``, ``stage_status``,
``reconciliation``, ``problems``.

Modules: ``runfolder`` (reading the run folder), ``posts`` (key figures, previous period, medians, goals,
reliability), ``modelfit`` (effects, verdicts, fitted and dropped terms), ``comparisons`` (growth comparisons);
this file puts them together (:class:`Findings`).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..dataset import Dataset
from ..growth import month_of_previous_sources
from ..io import give_back_memory, write_json
from ..pipeline import STAGE_NAMES, RunPaths
from ..vocab import ALPHA_TENTATIVE, SIGNIFICANCE, label_feature
from .comparisons import GrowthComparison, _rate, comparison_honesty, growth_comparisons, growth_verdict
from .extras import Extras, compute_extras, write_extras
from .modelfit import (
    _DIAGNOSTIC_KEYS,
    _effect_columns,
    dropped_terms,
    find_thin_effects,
    fitted_terms,
    held_up_across_outcomes,
    list_diagnosed_outcomes,
    model_notes,
    model_population,
    primary_effects,
    tabulate_controls_sensitivity,
)
from .platforms import before_after_by_platform, follower_levels, growth_by_platform, reach_figures
from .posts import (
    PREVIOUS_PERIOD_DAYS,
    _main_account_series,
    assess_goals,
    compare_post_medians,
    compute_key_figures,
    engagement_rates,
    low_reliability_codes,
    median_ci_ranks,
    metric_series,
    platform_vocabulary,
    post_type_counts,
    previous_period_change,
    ratio_of_medians,
    reconcile_totals,
)
from .runfolder import (
    ANALYSIS_LIBRARIES,
    POST_COLUMNS,
    REGRESSION_COLUMNS,
    SCHEMA_VERSION,
    RunResults,
    _as_mapping,
    _as_records,
    _num,
    library_versions,
    num,
    read_run_results,
)


def stage_status(manifest: Mapping[str, Any] | None, run_status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return one record per stage whose last attempt failed: stage, status, when, cell, message.

    Read from the ``failed_stages`` records (``{name: {stage, cell, error, message, at}}``) that the pipeline
    keeps in ``manifest.json`` and ``results/run_status.json`` until the stage runs again, and from stage entries
    (a mapping by name, or a list with ``stage``/``name``) whose ``status`` says failed. A stage absent from all
    of them is not reported (it may not have been asked for).
    """
    found: dict[str, dict[str, Any]] = {}

    def add(name: str, entry: Mapping[str, Any], *, failed: bool = False) -> None:
        status = str(entry.get("status") or ("failed" if failed else "")).lower()
        if name not in STAGE_NAMES or status not in ("failed", "error", "crashed", "interrupted"):
            return
        message = str(entry.get("error") or entry.get("message") or entry.get("reason") or "")
        found[name] = {
            "stage": name,
            "status": status,
            "when": entry.get("at") or entry.get("failed_at") or entry.get("finished_at") or entry.get("when"),
            "message": message.strip().splitlines()[0] if message.strip() else "",
            "cell": entry.get("cell"),
        }

    for record in (_as_mapping(manifest), _as_mapping(run_status)):
        for name, entry in _as_mapping(record.get("failed_stages")).items():
            if isinstance(entry, Mapping):
                add(str(entry.get("stage") or name), entry, failed=True)
        stages = record.get("stages")
        if isinstance(stages, Mapping):
            for name, entry in stages.items():
                if isinstance(entry, Mapping):
                    add(str(name), entry)
        for entry in _as_records(stages):
            add(str(entry.get("stage") or entry.get("name")), entry)
    return [found[s] for s in STAGE_NAMES if s in found]



# --------------------------------------------------------------------------------------------------------------
# All findings together
# --------------------------------------------------------------------------------------------------------------


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))


@dataclass
class Findings:
    """Every number and verdict the report shows (``to_dict`` is ``results/findings.json``).

    Tables are kept as DataFrames for rendering; ``to_dict`` turns them into records, each block with the
    ``source`` model or rule it came from.
    """

    results: RunResults
    title: str
    timezone: str
    today: dt.date
    date_range: tuple[dt.date, dt.date] | None
    key: dict[str, Any]
    previous: dict[str, Any] | None
    split: tuple[dt.date, str] | None
    period_change: pd.DataFrame | None
    primary: str
    effects: pd.DataFrame | None
    thin: dict[tuple[str, str], str]
    model_terms: dict[str, dict[str, Any]]
    dropped: list[dict[str, Any]]
    metric: str
    comparisons: list[GrowthComparison]
    goals: pd.DataFrame | None
    low_codes: pd.DataFrame
    stages: list[dict[str, Any]]
    versions: dict[str, str]
    problems: dict[str, str] = field(default_factory=dict)
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    post_types: list[dict[str, Any]] = field(default_factory=list)
    population: dict[str, Any] | None = None
    publications: dict[str, Any] | None = None
    #: per comparison (same order): judgeable, posts_adjusted, monthly_its, placebo, models (comparison_honesty)
    growth_details: list[dict[str, Any]] = field(default_factory=list)
    #: how many primary estimates held up, over which Holm family (held_up_across_outcomes)
    held_up: dict[str, Any] | None = None
    #: estimands, count-model fallbacks, too-few-posts records, dispersion, reach by type (model_notes)
    model_notes: dict[str, Any] | None = None
    #: claims, timing, paid results and the privacy review (extras.compute_extras; written by write_extras)
    extras: Extras = field(default_factory=Extras)
    #: each platform's word and definition for impressions/engagements, and reach (platform_vocabulary)
    vocabulary: dict[str, Any] | None = None
    #: per intervention, each platform's own before/after (several platforms only; before_after_by_platform)
    before_after_platforms: list[dict[str, Any]] | None = None
    #: reach per post by platform and type, and the page-level reach series (reach_figures)
    reach: dict[str, Any] | None = None
    #: each platform's dated follower counts (follower_levels)
    followers: list[dict[str, Any]] | None = None
    #: each platform's own growth comparison (several platforms only; growth_by_platform)
    growth_platforms: list[dict[str, Any]] | None = None

    @property
    def impressions_word(self) -> str:
        """What the report calls the posts' impressions column: "views" for Meta, else "impressions"."""
        return str((self.vocabulary or {}).get("impressions_word") or "impressions")

    def outcomes(self, order: Sequence[str] = ()) -> list[str]:
        """The outcomes of the primary model, in ``order`` first (the card's), then as found."""
        if self.effects is None:
            return []
        found = list(pd.unique(self.effects["outcome"].astype(str)))
        first = [o for o in order if o in found]
        return first + [o for o in found if o not in first]

    def to_dict(self) -> dict[str, Any]:
        eff = self.effects
        effects = None
        if eff is not None:
            keep = [c for c in ("outcome", "term", "model", "effect_pct", "effect_pct_ci_low", "effect_pct_ci_high",
                                "p_used", "p_kind", "supported", "cannot_tell", "n", "r2") if c in eff]
            effects = _records(eff[keep].assign(
                label=eff["term"].astype(str).map(label_feature),
                verdict=np.where(eff["cannot_tell"] != "", "cannot tell",
                                 np.where(eff["supported"], "clear", "not clear")),
                source=f"regression.csv, model {self.primary} (Holm-adjusted p < {SIGNIFICANCE} where p_holm exists)",
            ))
        return {
            "schema_version": SCHEMA_VERSION,
            "generated": self.today.isoformat(),
            "title": self.title,
            "timezone": self.timezone,
            "versions": self.versions,
            "date_range": None if self.date_range is None else {
                "start": self.date_range[0].isoformat(), "end": self.date_range[1].isoformat(),
                "source": "posts_coded published_at (else the account table's dates)"},
            "key_figures": {**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.key.items()},
                            "source": "posts_coded (counts, medians); account table, main account (followers)"},
            "previous_period": self.previous,
            "split": None if self.split is None else {
                "date": self.split[0].isoformat(), "label": self.split[1],
                "source": "first intervention of the dataset card (else growth.json's second period)"},
            "period_change": None if self.period_change is None else {
                "rows": _records(self.period_change),
                "source": "ratio of medians before/after the split (at least models.MIN_LEVEL_POSTS posts and a positive "
                          "median on each side), CI: percentile interval of resamples of whole calendar months "
                          "(at least beforeafter.MIN_MONTHS_EACH_SIDE months a side); note says why one is missing"},
            "primary_model": self.primary,
            "effects": effects,
            "model_terms": self.model_terms,
            "dropped": self.dropped,
            "thin_effects": [{"outcome": o, "term": t, "reason": r, "source": "models.json flags/warnings"}
                             for (o, t), r in self.thin.items()],
            "growth": {
                "metric": self.metric,
                "available": bool(self.results.growth and self.results.growth.get("periods")),
                "schema_version": (self.results.growth or {}).get("schema_version"),
                "basis": (self.results.growth or {}).get("basis"),
                "basis_text": (self.results.growth or {}).get("basis_text"),
                "level_known": (self.results.growth or {}).get("level_known"),
                "comparisons": [
                    {"index": c.index, "label": c.label, "before": c.before.get("label"),
                     "after": c.after.get("label"), "verdict": growth_verdict(c),
                     "slope_ratio": num(c.results.get("slope_ratio")),
                     "slope_ratio_ci": c.results.get("slope_ratio_ci"),
                     "p_value": num(_as_mapping(c.results.get("slope_change")).get("p_value")),
                     **(self.growth_details[i] if i < len(self.growth_details) else {}),
                     "source": "growth.json (increments model: WLS of the increments on the days in each period, "
                               "Newey–West errors calibrated by an AR(1) bootstrap; TOST equivalence)"}
                    for i, c in enumerate(self.comparisons)
                ],
            },
            "goals": None if self.goals is None else {
                "rows": _records(self.goals),
                "source": "workbench.goals.assess_goals: judged at the end of the data (as_of), never today's "
                          "date; rate = the growth model's rate of the last period, else a straight line since the "
                          "last intervention; a follower goal needs a follower level (basis)"},
            "low_reliability": {"rows": _records(self.low_codes),
                                "source": f"reliability.csv, Krippendorff's alpha < {ALPHA_TENTATIVE}"},
            "stage_status": self.stages,
            "reconciliation": self.reconciliation,
            "post_types": self.post_types,
            "population": self.population,
            "publications": self.publications,
            "held_up": self.held_up,
            "vocabulary": self.vocabulary,
            "before_after_by_platform": self.before_after_platforms,
            "reach": self.reach,
            "follower_levels": self.followers,
            "growth_by_platform": self.growth_platforms,
            "claims": self.extras.claims,
            "timing": None if self.extras.timing is None else {
                k: self.extras.timing.get(k) for k in ("outcome", "timezone", "n_posts", "note", "hours", "weekdays",
                                                       "method", "caveat")},
            "campaigns": self.extras.campaigns,
            "extras_not_available": dict(self.extras.reasons),
            "model_notes": self.model_notes,
            "problems": dict(self.problems),
        }



def publications_findings(results: RunResults, dataset: Dataset | None) -> dict[str, Any]:
    """What the report says about publications: ``results/publications.json`` as the stage wrote it (its
    sentences come from the attention models it names), or ``status: not_available`` with the reason."""
    pub = results.publications
    if pub is None:
        rel = results.paths.rel(results.paths.publications_summary)
        if rel in results.problems:
            reason = f"{rel} could not be read ({results.problems[rel]})"
        elif dataset is not None and dataset.publications:
            reason = f"{rel} was not found: run the publications stage (workbench run, or --only publications)"
        else:
            reason = ("the dataset card has no publications (add publications: and attention: to dataset.yml; "
                      "see README 'Publications and attention')")
        return {"status": "not_available", "reason": reason, "source": rel}
    keep = ("status", "reason", "as_of", "counts", "linking", "verdicts", "primary", "selection", "causal_note",
            "selection_note", "before_after", "post_features", "featured_papers", "figure", "warnings")
    out = {k: pub[k] for k in keep if k in pub}
    if out.get("status") != "ok" and not out.get("reason"):
        out["reason"] = "the publications stage gave no reason"
    linking = out.get("linking")
    if isinstance(linking, Mapping):
        out["linking"] = {k: v for k, v in linking.items() if k != "unresolved_links"}
    out["source"] = "results/publications.json (publications stage: attention models named per verdict)"
    return out


def _date_range(results: RunResults, tz: str) -> tuple[dt.date, dt.date] | None:
    posts = results.posts
    if posts is not None and "published_at" in posts and posts["published_at"].notna().any():
        ts = pd.to_datetime(posts["published_at"].dropna())
        ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts
        local = ts.dt.tz_convert(tz)
        return local.min().date(), local.max().date()
    if results.account is not None and "date" in results.account and len(results.account):
        dates = pd.to_datetime(results.account["date"]).dropna()
        if len(dates):
            return dates.min().date(), dates.max().date()
    return None


def _intervention_dates(dataset: Dataset | None, comparisons: Sequence[GrowthComparison]) -> list[tuple[Any, str]]:
    """(date, label) of every intervention: the card's, else the start of each compared period of growth.json."""
    if dataset is not None and dataset.interventions:
        return [(iv.date, iv.label) for iv in dataset.interventions]
    out = []
    for c in comparisons:
        try:
            out.append((pd.Timestamp(c.after.get("start")).date(), c.label))
        except (TypeError, ValueError):
            continue
    return out


def _growth_settings(dataset: Dataset | None, growth: Mapping[str, Any]) -> dict[str, Any]:
    """compare_growth's keyword arguments as the growth stage used them (the card's), else growth.json's."""
    from ..growth import month_of_previous_sources
    from ..results import growth_settings

    if dataset is not None:
        settings = growth_settings(dataset)
        settings["month_of_previous"] = month_of_previous_sources(dataset)
        return settings
    ivs = [(pd.Timestamp(i.get("date")), str(i.get("label"))) for i in growth.get("interventions") or []
           if isinstance(i, Mapping) and i.get("date")]
    return {"interventions": ivs, "monthly_metric": _monthly_metric(None, growth)}


def _monthly_metric(dataset: Dataset | None, growth: Mapping[str, Any]) -> str:
    """The monthly metric growth.json compared (its ``monthly`` block), else impressions."""
    metric = _as_mapping(growth.get("monthly")).get("metric")
    return str(metric) if metric in ("impressions", "engagements", "posts", "impressions_per_post") else "impressions"


def compute_findings(
    results: RunResults | str | Path, dataset: Dataset | None = None, *, today: dt.date | None = None
) -> Findings:
    """Derive every number and verdict of the report from a run folder's results (nothing is written).

    A derivation that fails on unexpected input is recorded in ``problems`` (shown in the report's data
    appendix and warned) and its part of the report says it is not available; the rest still renders.
    """
    if not isinstance(results, RunResults):
        results = read_run_results(results)
        give_back_memory()  # the parquet reader's buffers go back (at 1M posts 0.2 GB it would keep)
    r = results
    tz = dataset.timezone if dataset else "UTC"
    today = today or dt.datetime.now(dt.UTC).date()

    def derive(what: str, compute: Callable[[], Any], fallback: Any) -> Any:
        try:
            return compute()
        except Exception as exc:  # the report still renders; the problem is named in it
            message = f"{type(exc).__name__}: {exc}"
            r.problems[f"({what})"] = message
            warnings.warn(f"report: {what} could not be computed: {message}", RuntimeWarning, stacklevel=3)
            return fallback

    models = r.models or {}
    primary = str(models.get("primary_model") or "ols_log")
    growth = r.growth or {}
    metric = str(growth.get("metric") or "followers")
    since = dataset.interventions[-1].date if dataset and dataset.interventions else None
    terms = r.regression["term"].astype(str).unique() if r.regression is not None else []
    thin = derive("the too-little-data check", lambda: find_thin_effects(r.models), {})

    def effects() -> pd.DataFrame | None:
        reg = r.regression
        if reg is None or not (reg["model"] == primary).any():
            return None
        eff = primary_effects(reg, model=primary)
        # a binary feature with too few posts in a level is "cannot tell", never a finding (models.json)
        keys = zip(eff["outcome"].astype(str), eff["term"].astype(str), strict=True)
        eff["cannot_tell"] = [thin.get(key, "") for key in keys]
        eff["supported"] = eff["supported"] & (eff["cannot_tell"] == "")
        return eff

    eff = derive("the primary model's effects", effects, None)
    comparisons = derive(
        "the growth comparisons",
        lambda: growth_comparisons(growth, interventions=dataset.interventions if dataset else ()),
        [],
    )
    split = None
    if dataset is not None and dataset.interventions:
        split = (dataset.interventions[0].date, dataset.interventions[0].label)
    elif comparisons:
        try:
            split = (pd.Timestamp(comparisons[0].after.get("start")).date(), comparisons[0].label)
        except (TypeError, ValueError):
            split = None
    period_change = derive(
        "the before/after medians",
        lambda: (
            compare_post_medians(r.posts, split=split[0], timezone=tz)
            if split is not None and r.posts is not None and "published_at" in r.posts
            else None
        ),
        None,
    )
    goals = derive(
        "the goals",
        lambda: (
            assess_goals(dataset.goals, account=r.account, growth=r.growth, since=since, today=today)
            if dataset and dataset.goals
            else None
        ),
        None,
    )
    model_terms: dict[str, dict[str, Any]] = {}
    if eff is not None:
        for outcome in pd.unique(eff["outcome"].astype(str)):
            got, source = fitted_terms(models, r.regression, outcome=outcome, model=primary)
            model_terms[outcome] = {
                "model": primary,
                "predictors": [t for t, role in got.items() if role == "predictor"],
                "controls": [t for t, role in got.items() if role == "control"],
                "source": source,
            }
    found = Findings(
        results=r,
        title=dataset.title if dataset else r.run_dir.resolve().name,
        timezone=tz,
        today=today,
        date_range=derive("the date range", lambda: _date_range(r, tz), None),
        key=derive("the key figures", lambda: compute_key_figures(r.posts, r.account, r.growth),
                   compute_key_figures(None, None)),
        previous=derive("the change against the previous period",
                        lambda: previous_period_change(r.posts, r.account, timezone=tz), None),
        split=split,
        period_change=period_change,
        primary=primary,
        effects=eff,
        thin=thin,
        model_terms=model_terms,
        dropped=derive("the dropped terms", lambda: dropped_terms(models), []),
        metric=metric,
        comparisons=comparisons,
        goals=goals,
        low_codes=derive("the reliability check", lambda: low_reliability_codes(r.reliability, terms),
                         low_reliability_codes(None, [])),
        stages=stage_status(r.manifest, r.run_status),
        versions=library_versions(),
        problems=r.problems,
        population=derive("the models' population", lambda: model_population(models), None),
        post_types=derive("the posts per type", lambda: post_type_counts(r.posts), []),
        reconciliation=derive("the per-post and account totals", lambda: reconcile_totals(
            r.posts, r.account, month_of_previous=month_of_previous_sources(dataset) if dataset else ()), []),
        publications=derive("the publications summary", lambda: publications_findings(r, dataset), None),
        vocabulary=derive("the platforms' vocabulary", lambda: platform_vocabulary(r.posts), None),
        extras=compute_extras(r, dataset, problems=r.problems),
        held_up=derive("the count of estimates that held up",
                       lambda: held_up_across_outcomes(eff, r.regression, model=primary), None),
        model_notes=derive("the models' notes", lambda: model_notes(models, primary=primary), None),
        before_after_platforms=derive(
            "the before/after comparison per platform",
            lambda: before_after_by_platform(r.posts, r.account, _intervention_dates(dataset, comparisons),
                                             monthly_metric=_monthly_metric(dataset, growth), timezone=tz,
                                             growth_metric=dataset.analysis.growth_metric if dataset else "followers"),
            None),
        reach=derive("the reach figures", lambda: reach_figures(r.posts, r.account), None),
        followers=derive("the follower counts per platform", lambda: follower_levels(r.account), None),
        growth_platforms=derive("the growth comparison per platform",
                                lambda: growth_by_platform(r.account, r.posts, _growth_settings(dataset, growth)),
                                None),
        growth_details=derive("the growth comparisons' details", lambda: [comparison_honesty(c) for c in comparisons],
                              []),
    )
    derive("the platform of growth.json's post comparison", lambda: _label_growth_platform(found), None)
    return found


def _label_growth_platform(found: Findings) -> None:
    """With several platforms, name whose posts growth.json's ``posts_adjusted`` and ``monthly_its`` hold (the
    growth stage compares one account and keeps its posts): ``platform`` = that platform when the post count
    matches its posts, ``"pooled"`` when it matches all posts, else nothing is claimed."""
    recs = found.before_after_platforms or []
    posts = found.results.posts
    if not recs or posts is None or "platform" not in posts.columns:
        return
    gp = recs[0].get("growth_platform")
    when = pd.to_datetime(posts["published_at"], errors="coerce", utc=True) if "published_at" in posts else None
    plat = posts["platform"].astype("string").str.strip().str.lower().fillna("unknown")
    for d in found.growth_details:
        pa = d.get("posts_adjusted")
        if not isinstance(pa, dict) or when is None:
            continue
        y = pd.to_numeric(posts.get(str(pa.get("outcome") or "impressions")), errors="coerce")
        valid = (when.notna() & y.notna() & (y >= 0)).to_numpy()
        n = pa.get("n_posts")
        label = ("pooled" if n == int(valid.sum()) else
                 gp if gp is not None and n == int((valid & (plat == gp).to_numpy()).sum()) else None)
        if label is not None:
            pa["platform"] = label
            if isinstance(d.get("monthly_its"), dict):
                d["monthly_its"]["platform"] = label
            if isinstance(d.get("monthly_published_form"), dict):
                d["monthly_published_form"]["platform"] = label
            for c in found.comparisons:  # growth.json's monthly block, as the growth section reads it
                monthly = c.results.get("monthly") if isinstance(c.results, dict) else None
                if isinstance(monthly, dict):
                    monthly["platform"] = label


def write_findings(findings: Findings, path: str | Path | None = None) -> Path:
    """Write ``findings.to_dict()`` atomically to ``results/findings.json`` of its run folder (or ``path``), and
    beside it (in the run folder's ``results/``) claims.json, timing.json, campaigns.json and
    privacy_review.csv (:func:`~workbench.findings.extras.write_extras`)."""
    target = Path(path) if path is not None else RunPaths(findings.results.run_dir).findings
    if path is None or target == RunPaths(findings.results.run_dir).findings:
        write_extras(findings.extras, RunPaths(findings.results.run_dir))
    return write_json(target, findings.to_dict())


__all__ = [
    "ANALYSIS_LIBRARIES",
    "Extras",
    "Findings",
    "GrowthComparison",
    "POST_COLUMNS",
    "PREVIOUS_PERIOD_DAYS",
    "REGRESSION_COLUMNS",
    "RunResults",
    "SCHEMA_VERSION",
    "_DIAGNOSTIC_KEYS",
    "_as_mapping",
    "_as_records",
    "_effect_columns",
    "_main_account_series",
    "_num",
    "_rate",
    "assess_goals",
    "before_after_by_platform",
    "growth_by_platform",
    "compare_post_medians",
    "compute_extras",
    "compute_findings",
    "comparison_honesty",
    "compute_key_figures",
    "dropped_terms",
    "engagement_rates",
    "find_thin_effects",
    "fitted_terms",
    "growth_comparisons",
    "growth_verdict",
    "held_up_across_outcomes",
    "model_notes",
    "library_versions",
    "list_diagnosed_outcomes",
    "low_reliability_codes",
    "median_ci_ranks",
    "metric_series",
    "model_population",
    "num",
    "platform_vocabulary",
    "post_type_counts",
    "previous_period_change",
    "primary_effects",
    "ratio_of_medians",
    "reach_figures",
    "read_run_results",
    "reconcile_totals",
    "stage_status",
    "tabulate_controls_sensitivity",
    "write_extras",
    "write_findings",
]
