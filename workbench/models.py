"""Post-level models: how post features relate to impressions and engagements (DESIGN.md §6).

Up to four models per outcome, all on the same complete-case sample of posts (the rate model also needs
impressions > 0):

``ols_log`` (primary)
    OLS of ``log1p(outcome)`` on the predictors and controls with HC3 standard errors; coefficients are
    reported as a percentage difference, ``effect_pct = 100·(exp(b) − 1)``, with the 95% CI transformed
    the same way, and as a standardized β.
``ols_std`` (the published form)
    OLS of the *raw* outcome with the outcome and every regressor z-scored and classical (non-robust)
    standard errors, as the original study did in SPSS. ``estimate`` is the standardized coefficient. It is
    kept so that users can compare with the published numbers; it is not our primary model (raw counts are
    heavily skewed, so its errors are neither normal nor homoscedastic).
``negbin``
    Negative binomial (NB2) regression of the raw count with the dispersion α estimated by maximum
    likelihood and robust (HC0 sandwich) standard errors: the count-model check. ``effect_pct`` is the
    incidence-rate ratio − 1, in %.
``negbin_rate`` (engagements — any outcome but impressions — when impressions are reported)
    The same NB2 model of the engagement count with ``log(impressions)`` as an offset (exposure), so
    ``effect_pct`` is the % change in the *engagement rate* (engagements per impression) — a different
    question from "more engagements", which mixes "seen by more people" with "engaged more when seen". Posts
    with impressions NA or 0 are left out of this fit (a rate needs an exposure). Why NB with an offset rather
    than a binomial or fractional-logit model of engagements/impressions: (1) its coefficients are rate
    ratios, exactly the "% change in engagement rate" we report, where a logit gives odds ratios (close to rate
    ratios only because rates are ~1 %); (2) a binomial model treats every impression as an independent
    trial and its standard errors are far too small when the rate varies from post to post (it does: that is
    the overdispersion the NB α measures); (3) a binomial needs engagements ≤ impressions on every post,
    which the exports do not promise (engagements are not one per impression: one viewer can click several
    times); (4) it is the count model already used for the other outcomes, so the diagnostics (overdispersion
    test, convergence) are shared, and the HC0 sandwich keeps the CI honest if the NB variance function is
    not exactly right.

Which model leads
-----------------
:func:`choose_primary_model` applies a documented rule to the diagnostics (log-scale residual checks of
``ols_log``, zeros, the overdispersion test, convergence); ``fit_post_models`` stores its answer in
``diagnostics["primary"]``.

Diagnostics
-----------
Per outcome: VIF; the overdispersion tests of each count model against a Poisson model of the same design
(Cameron–Trivedi auxiliary regression and the boundary-corrected LR test of α = 0, :func:`check_overdispersion`);
skewness, kurtosis and the Koenker–Breusch–Pagan test of the ``ols_log`` residuals (:func:`check_residuals`);
the ten most influential posts by Cook's distance in ``ols_log`` (:func:`compute_cooks_distance`); a
separation warning for a yes/no feature one of whose levels has only zero outcomes; and the controls
sensitivity (each feature's ``ols_log`` effect without and with the controls, on the same posts).
:func:`residual_frame` returns fitted values and residuals of any fit for residual and QQ plots.

How the controls enter
----------------------
``followers_at_post``
    as ``log_followers_at_post = log(1 + followers_at_post)``: reach scales multiplicatively with audience
    size, so on the log outcome scale the log of the audience is the natural (elasticity) form; ``1 +``
    keeps accounts with zero followers.
``year``
    as categories ``year[2021]``, ``year[2022]``, … (treatment coding, the earliest year in the sample is the
    reference). Platform changes (ranking algorithms, the 2023 X changes) shift reach in steps rather than
    along a straight line, and a handful of year dummies costs little at post level.
other controls
    booleans as 0/1, numbers linearly, text/categorical columns as dummies ``name[level]``.

Predictors enter the same way (booleans as 0/1, counts linearly, categorical codes as dummies with the first
level in sorted order as reference).

Reference levels
----------------
``media_type`` (photo, video, reel, carousel, link_card, none …, lower-cased) enters as dummies against ``none``
(a text-only post) when the posts have it, else against the most common type; ``post_type`` against
``original``; ``year`` against the earliest year; any other text column against its first level in sorted
order. ``analysis.reference_levels`` (``fit_post_models(reference_levels=...)``) overrides any of them. The
level used is recorded per outcome (``diagnostics[outcome]["reference_levels"]``, ``fitted_terms``).

Which posts
-----------
``analysis.population`` (``population=``): ``original`` posts only, ``all`` posts with ``post_type`` as a
control, or a list of post types; unset, original posts unless a post-type term (``is_reply``, ``post_type``)
is in the model. Replies and reposts reach people differently and rarely carry the features compared, so a
pooled model mostly compares post types (issue 10: a replies-heavy account's hashtag effect tripled). How many
posts of each type were in and out is recorded (``records["population"]``), and a post type with at least
``DOMINANT_SHARE`` of the posts whose median reach differs from the original posts' by ``REACH_RATIO`` or more
(Mann–Whitney p < ``DOMINANCE_P``) gets a ``post_type_dominates`` record. With several platforms every model is
fitted per platform (a pooled model only on request, labelled ``pooled``); every row carries its platform.

Too few posts
-------------
A feature is estimated only where each of its groups has ``MIN_LEVEL_POSTS`` posts (a yes/no or count feature:
posts away from its most common value; a categorical one: each level); otherwise its posts are left out of that
outcome's models and a ``too_few_posts`` record says so — never an estimate with an infinite interval.

Records
-------
``PostModels.records`` (written to models.json, ``schema_version`` 2): what was fitted on which posts with
which terms (``fitted_terms``), what was dropped and why (``dropped``), problems (``flags``), the Holm families
(``holm_family``), the estimand of each model (``estimands``), the population, and reach by media type.
"""

from __future__ import annotations

import contextlib
import gc
import math
import re
import warnings as pywarnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, special, stats
from statsmodels.stats.multitest import multipletests

from . import fastfit
from .errors import InputError
from .features import FEATURE_DESCRIPTIONS, POST_TYPE_SOURCES, POST_TYPES, post_type_codes

MODELS = ("ols_log", "ols_std", "negbin", "negbin_rate")
#: the exposure of the rate model: ``negbin_rate`` models outcome / EXPOSURE (any outcome but EXPOSURE itself).
EXPOSURE = "impressions"

#: regression.csv contract columns (DESIGN.md §5), in order.
CONTRACT_COLUMNS = (
    "outcome",
    "model",
    "term",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "std_beta",
    "effect_pct",
    "n",
    "r2",
)
#: columns appended after the contract columns.
EXTRA_COLUMNS = (
    "p_holm",
    "p_bh",
    "term_type",
    "effect_pct_ci_low",
    "effect_pct_ci_high",
    "pseudo_r2",
    # added with models.json schema_version 2
    "platform",
    "fit_method",
    "p_holm_across_outcomes",
)
STRING_COLUMNS = ("outcome", "model", "term", "term_type", "platform", "fit_method")
TABLE_COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS

DEFAULT_PREDICTORS = ("has_poll", "has_graphic", "has_url", "has_emoji", "n_hashtags", "n_mentions")
DEFAULT_CONTROLS = ("followers_at_post", "year")

#: the fewest posts a group may have for its effect to be estimated: a yes/no or count feature needs this many
#: posts away from its most common value, each level of a categorical predictor (``media_type``) or of ``year``
#: needs this many. Below it the posts of that group are left out of the outcome's models and the feature is
#: recorded as "too few posts to estimate" (code ``too_few_posts``). Why 10: with a handful of posts in a group
#: the HC3 error of its dummy is carried by as many residuals (one post: leverage 1, an infinite interval), and
#: the count models' estimate can run to the boundary; 10 is the usual floor for one estimated parameter
#: (Peduzzi et al. 1996's events-per-variable rule applied to the smaller group).
MIN_LEVEL_POSTS = 10
#: the same floor for a level of a categorical *control* (``year``, ``post_type``), whose estimate is not reported.
#: It was 2 (only a one-post level, whose dummy gives that post leverage 1 and HC3 a 0/0 for every error, was
#: left out); a level of a few posts passed, e.g. 5 posts of 2024, all from one day, against 116 of 2025: the
#: year dummy is then an indicator of that one day (or of one account), absorbs whatever those posts share, and
#: the count models can separate on it. A control level needs as many posts as a predictor's group.
MIN_CONTROL_LEVEL_POSTS = MIN_LEVEL_POSTS
#: the most posts (share of the posts judged for an outcome) that ``_rare_levels`` leaves out, in all, because
#: they are a group too small to estimate; past it the not-estimable column is left out and its posts kept, so
#: the models go on describing the same posts (one post in twenty: a rare feature's posts, not a population).
MAX_LEFT_OUT_SHARE = 0.05
#: columns entered as categories whatever their dtype; their levels are lower-cased.
CATEGORICAL_COLUMNS = ("media_type", "post_type", "platform")
#: preferred reference levels; absent → the most common level (``media_type``) or the first in sorted order.
DEFAULT_REFERENCE_LEVELS = {"media_type": ("none",), "post_type": ("original",)}
#: automatic features (features.FEATURE_DESCRIPTIONS) plus the categorical columns: anything else in
#: ``analysis.predictors`` is a manual code, and the message for a missing one says it needs a coding file.
KNOWN_FEATURES = frozenset(FEATURE_DESCRIPTIONS) | set(CATEGORICAL_COLUMNS) | {
    "hour_local", "weekday_local", "year", "followers_at_post", "is_reply", "is_repost",
}
#: models.json layout version: 2 adds the typed records (population, fitted_terms, dropped, flags, ...).
SCHEMA_VERSION = 2
#: analysis.population: ``original`` (original posts only: the default), ``all`` (every post, post type
#: controlled) or a list of post types (e.g. ``[original, quote]``).
POPULATIONS = ("original", "all")
#: None: ``original``, unless a post-type term (POST_TYPE_TERMS) is a predictor or control — then ``all``
#: (whoever asks for the reply effect wants the replies in).
DEFAULT_POPULATION = None
POST_TYPE_TERMS = ("is_reply", "is_repost", "is_quote", "post_type")
#: a post type "dominates" when it has at least this share of the posts ...
DOMINANT_SHARE = 0.3
#: ... and its median outcome differs from the original posts' by at least this factor (either way) with a
#: Mann–Whitney p below DOMINANCE_P.
REACH_RATIO = 1.5
DOMINANCE_P = 0.05
#: VIF above this is flagged in the diagnostics.
VIF_FLAG = 5.0
CONF_LEVEL = 0.95
#: how many of the most influential posts (Cook's distance, ols_log) the diagnostics list.
N_INFLUENTIAL = 10
#: choose_primary_model: thresholds of its rule (see its docstring).
ZERO_SHARE_LIMIT = 0.10
SKEW_LIMIT = 1.0
HETERO_P = 0.01
HETERO_R2 = 0.05
OVERDISPERSION_P = 0.05
#: keys of ``PostModels.diagnostics`` that are not outcomes.
SUMMARY_KEYS = ("primary", "sensitivity")
SENSITIVITY_COLUMNS = (
    "outcome",
    "term",
    "effect_pct_without_controls",
    "effect_pct_ci_low_without_controls",
    "effect_pct_ci_high_without_controls",
    "effect_pct_with_controls",
    "effect_pct_ci_low_with_controls",
    "effect_pct_ci_high_with_controls",
    "change_pct_points",
    "n",
    "platform",  # the platform whose posts were fitted (None: one platform, or all pooled)
)


class ModelWarning(UserWarning):
    """A problem with the data of a model that does not stop the fit (a dropped predictor, dropped rows...)."""


@dataclass
class PostModels:
    """Fitted post-level models.

    Attributes
    ----------
    table : DataFrame
        Tidy regression table: the ``regression.csv`` contract columns, then ``p_holm``, ``p_bh``,
        ``term_type``, ``effect_pct_ci_low``, ``effect_pct_ci_high`` and ``pseudo_r2`` (McFadden, count
        models only).
    warnings : list of str
        Everything the analyst should know: dropped predictors/controls, rows dropped for NA, rare levels,
        models that did not converge.
    diagnostics : dict
        Per outcome: ``n``, ``n_total``, ``n_dropped``, ``dropped`` (reason → rows), ``terms`` (term →
        term_type), ``reference_levels`` (categorical column → reference level, e.g. ``{"year": "2020"}``),
        ``vif`` (term → value), ``vif_flags``, ``flags``, ``dispersion`` (mean, variance, variance_to_mean,
        negbin_alpha, negbin_alpha_ci, negbin_rate_alpha, negbin_rate_alpha_ci), ``converged`` (model → bool),
        ``zero_share`` (share of posts with outcome 0), ``residuals`` (``{"ols_log": {skew,
        excess_kurtosis, bp_stat, bp_df, bp_p, bp_r2}}``: Koenker–Breusch–Pagan test of the log-scale
        residuals), ``overdispersion`` (count model → ``{ct_alpha, ct_stat, ct_p, poisson_llf, nb_llf,
        lr_stat, lr_p, overdispersed}``), ``influential`` (the ``N_INFLUENTIAL`` posts with the largest
        Cook's distance in ``ols_log``: ``post_id``, ``permalink``, ``cook_d``), ``n_cook_above_4_over_n``,
        ``separation`` (list of ``{term, level, n_posts, outcome_value}``), ``rate_model`` (n and dropped posts of
        ``negbin_rate``), ``controls_sensitivity`` (term → the ``sensitivity`` row).
        Two summary keys sit beside the outcomes: ``primary`` (``{"model", "reason",
        "log_scale_problems"}``, from :func:`choose_primary_model`; ``log_scale_problems`` lists per outcome
        what speaks against ols_log) and ``sensitivity`` (the records of ``sensitivity``).
    fits : dict
        ``(outcome, model)`` → statsmodels results object (not serialized); ``(outcome,
        "ols_log_no_controls")`` for the sensitivity fit.
    sensitivity : DataFrame
        Controls sensitivity, one row per outcome × predictor term (``SENSITIVITY_COLUMNS``): the ols_log %
        effect and CI without controls and with them (same posts), and the change in percentage points.
    """

    table: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)
    fits: dict = field(default_factory=dict)
    sensitivity: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SENSITIVITY_COLUMNS)))
    records: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Design matrix
# --------------------------------------------------------------------------------------------------


def _warn(messages: list[str], message: str) -> None:
    messages.append(message)
    pywarnings.warn(message, ModelWarning, stacklevel=3)


@dataclass
class _Notes:
    """The warnings (plain strings, as before) and the typed records of one ``fit_post_models`` call.

    Every record is a dict ``{code, platform, outcome, model, term, n, message}`` (``outcome``/``model``/``term``
    None when the record is about all of them): the report words them from the fields, never by parsing
    ``message``.
    """

    messages: list[str] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)
    platform: str | None = None
    prefix: str = ""

    def add(
        self,
        kind: str,
        code: str,
        message: str,
        *,
        outcome: str | None = None,
        term: str | None = None,
        n: int | None = None,
        model: str | None = None,
        warn: bool = True,
        **extra,
    ) -> None:
        text = self.prefix + message
        if self.prefix and extra.get("reason") and code != "not_a_column":
            # several platforms: a reason is about one platform's posts (a missing code is the same for all, and
            # is said once for them)
            from .vocab import platform_name

            extra["reason"] = f"{platform_name(self.platform)}: {extra['reason']}"
        record = {
            "code": code,
            "platform": self.platform,
            "outcome": outcome,
            "model": model,
            "term": term,
            "n": None if n is None else int(n),
            "message": text,
            **extra,
        }
        (self.dropped if kind == "dropped" else self.flags).append(record)
        if warn:
            _warn(self.messages, text)


def _is_categorical(s: pd.Series) -> bool:
    """True for category/text columns (entered as dummies); object columns of bools or numbers are numeric."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_object_dtype(s.dtype):
        kind = pd.api.types.infer_dtype(s, skipna=True)
        return kind not in ("boolean", "integer", "floating", "mixed-integer-float", "decimal", "empty")
    return pd.api.types.is_string_dtype(s.dtype)


def _numeric(s: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for NA (booleans as 0/1)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    try:
        return pd.to_numeric(s).astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"expected a number, boolean or category column, found {s.dtype}", column=s.name
        ) from exc


def _is_level_column(name: str, col: pd.Series, role: str) -> bool:
    """True when a column enters as dummies (one per level but the reference)."""
    if name in CATEGORICAL_COLUMNS or (role == "control" and name == "year"):
        return True
    return _is_categorical(col) and not pd.api.types.is_bool_dtype(col.dtype)


def _levels(name: str, col: pd.Series) -> pd.Series:
    """The level of every row of a categorical column, as text (``media_type`` lower-cased, spaces → _)."""
    if name == "year":
        return col.astype("Int64").astype("string")
    values = col.astype("string")
    if name in CATEGORICAL_COLUMNS:
        values = values.str.strip().str.lower().str.replace(" ", "_", regex=False)
    return values


def _screen_columns(posts: pd.DataFrame, names, *, role: str, notes: _Notes, features=None) -> list[str]:
    """Keep the columns of ``names`` that exist, are not entirely NA and are not constant.

    ``features``: the feature columns a message about a missing column lists (default: those of ``posts``).
    """
    kept = []
    if features is None:
        features = [c for c in posts.columns if c.startswith(("has_", "n_")) or c in CATEGORICAL_COLUMNS]
    for name in dict.fromkeys(names):
        if name not in posts.columns:
            if name not in KNOWN_FEATURES:
                # review15 R4/R5: the user did list it; what is missing is a coding file that codes it
                reason = ("a manual code that no coding file of the dataset card codes: add a coding file that "
                          "codes it (README, \"Manual codes\")")
            else:
                reason = "these exports do not provide it"
            notes.add(
                "dropped",
                "not_a_column",
                f"{role.capitalize()} {name!r} is not a column of the coded posts: {reason}; dropped from the "
                f"models. Features these posts have: {', '.join(features) if features else 'none'}.",
                term=name,
                role=role,
                reason=reason,
                manual_code=name not in KNOWN_FEATURES,
            )
            continue
        col = posts[name]
        if col.isna().all():
            notes.add(
                "dropped",
                "all_na",
                f"{role.capitalize()} {name!r} is entirely NA (these exports do not give it); dropped from the "
                f"models.",
                term=name,
                role=role,
                n=0,
                reason="these exports do not give it",
            )
            continue
        values = col.dropna().unique()
        if len(values) < 2:
            notes.add(
                "dropped",
                "constant",
                f"{role.capitalize()} {name!r} is constant (every post has {values[0]}); "
                f"dropped from the models.",
                term=name,
                role=role,
                n=int(col.notna().sum()),
                reason=("it has the same value in every post ("
                        + ({True: "yes", False: "no"}.get(values[0]) if isinstance(values[0], (bool, np.bool_))
                           else str(values[0])) + ")"),
            )
            continue
        kept.append(name)
    return kept


def _usable_mask(posts: pd.DataFrame, outcome: str, columns: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Rows usable for a fit of ``outcome``: no NA anywhere used; returns the mask and NA counts per reason."""
    reasons: dict[str, int] = {}
    ok = np.ones(len(posts), dtype=bool)
    y = _numeric(posts[outcome])
    bad = np.isnan(y)
    reasons[f"{outcome} is NA"] = int(bad.sum())
    neg = ~bad & (y < 0)
    reasons[f"{outcome} is negative"] = int(neg.sum())
    ok &= ~bad & ~neg
    for name in columns:
        na = posts[name].isna().to_numpy()
        if name == "followers_at_post":
            with np.errstate(invalid="ignore"):
                neg = ~na & (_numeric(posts[name]) < 0)
            reasons["followers_at_post is negative"] = int(neg.sum())
            ok &= ~neg
        reasons[f"{name} is NA"] = int(na.sum())
        ok &= ~na
    return ok, {k: v for k, v in reasons.items() if v}


def _level_codes(name: str, col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Every row's level of a categorical column as an integer code into a list of level texts (-1: NA).

    The same levels as :func:`_levels`, whose text rules are applied to the distinct values only (a million
    rows of text are never converted or compared).
    """
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    texts = _levels(name, pd.Series(uniques, dtype=col.dtype if isinstance(col.dtype, pd.CategoricalDtype) else None))
    merged, levels = pd.factorize(texts, use_na_sentinel=True)  # distinct values that read the same ("Photo", "photo ")
    codes = np.where(codes >= 0, merged[np.maximum(codes, 0)], -1) if len(merged) else codes
    return codes.astype(np.int64, copy=False), [str(v) for v in levels]


def _level_counts(codes: np.ndarray, levels: list[str]) -> pd.Series:
    """``value_counts()`` of the level texts (same order, ties by first appearance), computed on the codes."""
    counts = pd.Series(codes[codes >= 0]).value_counts()
    counts.index = pd.Index([levels[c] for c in counts.index], dtype=object)
    return counts


def _reference_level(name: str, levels: pd.Series, references: dict[str, str]) -> str:
    """The reference level of a categorical column (see the module docstring, "Reference levels")."""
    return _reference_from_counts(name, levels.value_counts(), references)


def _reference_from_counts(name: str, present: pd.Series, references: dict[str, str]) -> str:
    wanted = references.get(name)
    if wanted is not None and str(wanted) in present.index:
        return str(wanted)
    for preferred in DEFAULT_REFERENCE_LEVELS.get(name, ()):
        if preferred in present.index:
            return preferred
    if name in CATEGORICAL_COLUMNS:  # the most common level (ties: the first in sorted order)
        top = present[present == present.max()].index
        return sorted(top.tolist())[0]
    return sorted(present.index.tolist(), key=lambda v: (int(v) if name == "year" else v))[0]


def _encode(
    sample: pd.DataFrame, name: str, *, role: str, references: dict[str, str] | None = None
) -> tuple[list[tuple[str, np.ndarray]], str | None]:
    """The design columns (name, float64 values) of one predictor or control; also the reference level of a
    categorical one."""
    col = sample[name]
    if role == "control" and name == "followers_at_post":
        return [("log_followers_at_post", np.log1p(_numeric(col)))], None
    if _is_level_column(name, col, role):
        codes, texts = _level_codes(name, col)
        ref = _reference_from_counts(name, _level_counts(codes, texts), references or {})
        present = sorted({texts[c] for c in np.unique(codes[codes >= 0])}, key=lambda v: (int(v) if name == "year" else v))
        index = {t: i for i, t in enumerate(texts)}
        return [(f"{name}[{lev}]", (codes == index[lev]).astype("float64")) for lev in present if lev != ref], str(ref)
    return [(name, _numeric(col))], None


def _those(k: int) -> str:
    return "that post is" if k == 1 else f"those {k} posts are"


@dataclass
class _Column:
    """One judged column of ``_rare_levels``: every post's value as a code into ``values`` (sorted numbers, or
    level texts for a categorical column)."""

    name: str
    role: str
    level: bool
    codes: np.ndarray
    values: list
    floor: int

    def judge(self, keep: np.ndarray) -> tuple[int, list[dict], np.ndarray]:
        """(distinct values among ``keep``, the rare groups, the rare groups' posts within ``keep``)."""
        counts = np.bincount(self.codes[keep & (self.codes >= 0)], minlength=len(self.values))
        present = np.flatnonzero(counts)
        out = np.zeros(len(keep), dtype=bool)
        if len(present) < 2:
            return len(present), [], out
        groups = []
        if self.level:
            for c in sorted(present, key=lambda c: (-counts[c], c)):  # value_counts order
                if counts[c] < self.floor:
                    lev = self.values[c]
                    groups.append({"term": f"{self.name}[{lev}]", "level": lev, "k": int(counts[c]), "what": "with",
                                   "words": f"with {self.name} {lev!r}",
                                   "plain": f"are from {lev}" if self.name == "year" else f"are {lev!r}"})
                    out |= keep & (self.codes == c)
            return len(present), groups, out
        mode = int(np.argmax(counts))  # (ties: the smallest value, as np.unique's order)
        k = int(counts.sum() - counts[mode])
        if k < self.floor:
            vals = np.asarray(self.values)[present]
            m = self.values[mode]
            if bool(np.isin(vals, (0.0, 1.0)).all()):
                what = "with" if m == 0 else "without"
                words, plain = f"{what} {self.name!r}", "have it" if m == 0 else "lack it"
            else:
                what, words = "with", f"with {self.name} other than {m:g}"
                plain = f"have a value other than {m:g}"
            groups.append({"term": self.name, "level": None, "k": k, "what": what, "words": words, "plain": plain})
            out = keep & (self.codes != mode)
        return len(present), groups, out

    def estimable(self, keep: np.ndarray) -> tuple[bool, int, list[dict]]:
        n_values, groups, _ = self.judge(keep)
        return n_values >= 2 and not groups, n_values, groups


def _rare_levels(
    sample: pd.DataFrame, predictors: list[str], controls: list[str], *, outcome: str, notes: _Notes, diag: dict
) -> tuple[np.ndarray, set[str]]:
    """Posts to keep so that every estimated group has enough posts, and the columns left out of the models.

    A column is *not estimable* when one of its groups has too few posts: fewer than ``MIN_LEVEL_POSTS`` posts
    away from the most common value of a yes/no or count predictor (e.g. 3 posts with a poll) or in a level of
    a categorical predictor (``media_type``), or fewer than ``MIN_CONTROL_LEVEL_POSTS`` in a level of a
    categorical control (``year``). Such a group gets no estimate (its interval would be infinite or
    meaningless). The rule:

    1. Every column is judged on the same posts: all the posts usable for this outcome, so the counts in the
       notes ("k of n") are on the posts actually judged, whatever was decided for another column.
    2. The not-estimable columns are taken in order of their rare posts, fewest first. The rare posts are left
       out of this outcome's models (the column's other levels stay estimable; the models then describe the
       posts without that rare feature) only when they are *few*: all posts left out this way stay within
       ``MAX_LEFT_OUT_SHARE`` of the judged posts, and leaving them out makes no estimable column unestimable.
       Otherwise the *column* is left out of the models and its posts are kept: leaving the posts out would
       change which posts the models describe, or cost another column its estimate.
    3. Each decision is a ``too_few_posts`` record with its ``action`` (``posts_left_out`` /
       ``column_left_out``), the judged posts (``n_judged``) and a plain ``reason``.

    Returns the posts to keep and the columns left out (not estimable, or left with a single value).
    """
    n = len(sample)
    keep = np.ones(n, dtype=bool)
    exhausted: set[str] = set()
    columns: list[_Column] = []
    for name, role in [(c, "predictor") for c in predictors] + [(c, "control") for c in controls]:
        col = sample[name]
        floor = MIN_LEVEL_POSTS if role == "predictor" else MIN_CONTROL_LEVEL_POSTS
        if _is_level_column(name, col, role):
            codes, texts = _level_codes(name, col)
            columns.append(_Column(name, role, True, codes, texts, floor))
        elif role == "predictor":  # (a numeric control, followers_at_post, has no groups)
            values, codes = np.unique(_numeric(col), return_inverse=True)
            codes = np.where(np.isnan(values)[codes], -1, codes) if len(values) else codes
            columns.append(_Column(name, role, False, codes.astype(np.int64), [float(v) for v in values], floor))
    judged = {c.name + "/" + c.role: c.judge(keep) for c in columns}
    rare = sorted((c for c in columns if judged[c.name + "/" + c.role][1]),
                  key=lambda c: int(judged[c.name + "/" + c.role][2].sum()))
    budget = MAX_LEFT_OUT_SHARE * n
    left_out = 0
    pending = {id(c) for c in rare}
    for col in rare:
        n_values, groups, posts = judged[col.name + "/" + col.role]
        pending.discard(id(col))
        posts = posts & keep
        k_out = int(posts.sum())
        trial = keep & ~posts
        broken = None  # the first estimable column that leaving these posts out would make unestimable
        for other in columns:
            if other is col or id(other) in pending or other.name in exhausted:
                continue
            if other.estimable(keep)[0]:
                ok, n_other, other_groups = other.estimable(trial)
                if not ok:
                    broken = (other, n_other, other_groups)
                    break
        for g in groups:
            diag["flags"].append(f"rare level: {g['term']} ({g['what']}: {g['k']})")
        if left_out + k_out <= budget and broken is None:
            keep, left_out, action = trial, left_out + k_out, "posts_left_out"
            if n_values - len(groups) < 2:
                exhausted.add(col.name)
        else:
            action = "column_left_out"
            exhausted.add(col.name)
        for g in groups:
            k = g["k"]
            what = repr(g["term"]) if g["level"] is not None else repr(col.name)
            if action == "posts_left_out":
                still = "" if k_out == sum(x["k"] for x in groups) else f" (the {k_out} still in the sample)"
                tail = (f"{_those(k)} left out of the {outcome} models{still}, few enough that the models still "
                        f"describe the same posts")
                reason = (f"only {k} of {n} posts {g['plain']}, fewer than the {col.floor} needed: "
                          f"{'that post was' if k == 1 else 'those posts were'} left out of the {outcome} models")
            else:
                if left_out + k_out > budget:
                    why = (f"leaving out {left_out + k_out} of {n} posts would change which posts the models "
                           f"describe: at most {MAX_LEFT_OUT_SHARE:.0%} are left out for this")
                else:
                    other, n_other, other_groups = broken
                    left = ("a single value" if n_other < 2 else
                            f"only {other_groups[0]['k']} posts {other_groups[0]['words']}")
                    why = f"leaving those posts out would leave {other.role} {other.name!r} with {left}"
                tail = f"{col.name!r} is left out of the {outcome} models and its posts are kept ({why})"
                reason = (f"only {k} of {n} posts {g['plain']}, fewer than the {col.floor} needed: left out of "
                          f"the {outcome} models, {'that post' if k == 1 else 'those posts'} kept")
            notes.add(
                "dropped",
                "too_few_posts",
                f"{outcome}: only {k} of {n} posts {g['words']} (fewer than {col.floor}, the minimum in each "
                f"group): too few posts to estimate {what}; {tail}.",
                outcome=outcome,
                term=g["term"],
                n=k,
                role=col.role,
                column=col.name,
                minimum=col.floor,
                n_judged=n,
                group=g["plain"],
                action=action,
                n_left_out=k_out if action == "posts_left_out" else 0,
                reason=reason,
                **({"level": str(g["level"])} if g["level"] is not None else {}),
            )
    return keep, exhausted


def _build_design(
    sample: pd.DataFrame,
    predictors: list[str],
    controls: list[str],
    *,
    outcome: str,
    notes: _Notes,
    references: dict[str, str] | None = None,
    designs: list | None = None,
    model: str | None = None,
) -> tuple[pd.DataFrame, dict[str, str], dict[str, str], fastfit.Gram]:
    """Design matrix without constant, term → term_type, categorical column → its reference level, and the
    design's centred cross-products (:class:`fastfit.Gram`, shared by the fits, VIF and the residual checks).

    The design is one float64 block (a DataFrame over a p × n array, no copy), built column by column.
    ``designs``: the designs built before for other outcomes of the same posts (appended to). When the same
    rows give the same columns again (the outcomes of a platform usually share their posts and terms), that
    design and its cross-products are returned rather than a second n × p copy, which the fits would keep.
    ``model``: the one model this design is for (the engagement-rate model's own posts), named in the records
    (review15 M5: "control 'year' has a single value in the posts used for this outcome" came from the rate
    model's 19 posts with impressions while the outcome's other models held year).
    """
    if model is None:
        where, scope, posts_used = outcome, "the posts used for this outcome", ""
    else:
        where = f"{outcome} ({model}, on its {len(sample)} posts)"
        scope, posts_used = "those posts", f" from {model}"
    # a term left out of one model only (its other models hold it) is a flag of that model, not a term "left out
    # of the models" (the report lists the dropped records as such)
    kind = "dropped" if model is None else "flags"
    names: list[str] = []
    values: list[np.ndarray] = []
    term_type, used_references = {}, {}
    cols: list = []
    for role, group in (("predictor", predictors), ("control", controls)):
        for name in group:
            cols, ref = _encode(sample, name, role=role, references=references)
            if not cols:
                notes.add(
                    kind,
                    "constant_in_sample",
                    f"{where}: {role} {name!r} has a single value in {scope}; dropped{posts_used}.",
                    outcome=outcome,
                    term=name,
                    role=role,
                    n=len(sample),
                    model=model,
                    reason=(f"it has a single value in the {len(sample)} posts of the {model} model" if model else
                            f"it has a single value in the {len(sample)} posts used for {outcome}"),
                )
                continue
            for c, v in cols:
                term_type[c] = role
                names.append(c)
                values.append(v)
            if ref is not None:
                used_references[name] = ref
    # Constant within this sample (possible after dropping NA rows).
    kept = []
    for c, v in zip(names, values, strict=True):
        if v.size and np.all(v == v[0]):
            notes.add(
                kind,
                "constant_in_sample",
                f"{where}: {term_type[c]} term {c!r} is constant in the {len(v)} posts used "
                f"(every value {v[0]:g}); dropped{posts_used}.",
                outcome=outcome,
                term=c,
                role=term_type[c],
                n=len(v),
                model=model,
            )
        else:
            kept.append((c, v))
    del values, cols
    names = [c for c, _ in kept]
    for d in designs or ():
        X = d["X"]
        if (list(X.columns) == names and X.index.equals(sample.index)
                and all(np.array_equal(v, X.iloc[:, j].to_numpy()) for j, (_, v) in enumerate(kept))):
            return X, {c: term_type[c] for c in names}, used_references, d["gram"]
    block = np.empty((len(kept), len(sample)))
    for j in range(len(kept)):  # each column freed once copied: the design is not held twice
        block[j] = kept[j][1]
        kept[j] = None
    with _one_blas_thread():
        gram = fastfit.Gram(block.T)
    # Exact collinearity: drop the later of two linearly dependent terms (controls come after predictors).
    dependent = _dependent_columns(block.T, gram=gram)
    for j in dependent:
        c = names[j]
        notes.add(
            kind,
            "collinear",
            f"{where}: {term_type[c]} term {c!r} is an exact linear combination of the terms "
            f"before it; dropped{posts_used}.",
            outcome=outcome,
            term=c,
            role=term_type[c],
            n=len(sample),
            model=model,
        )
    if dependent:
        idx = [j for j in range(len(names)) if j not in set(dependent)]
        block, gram, names = block[idx], gram.sub(idx), [names[j] for j in idx]
    X = pd.DataFrame(block.T, index=sample.index, columns=pd.Index(names, dtype=object), copy=False)
    if designs is not None and not dependent:  # (with a dropped column the names differ: not shared)
        designs.append({"X": X, "gram": gram})
    return X, {c: term_type[c] for c in names}, used_references, gram


def _dependent_columns(X: np.ndarray, tol: float = 1e-9, *, gram: fastfit.Gram | None = None) -> list[int]:
    """Indices of columns that are (numerically) linear combinations of earlier columns and the constant.

    Works on the correlation matrix of the columns (from their centred cross-products ``gram`` when given).
    """
    if X.shape[1] == 0:
        return []
    gram = fastfit.Gram(X) if gram is None else gram
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.sqrt(np.diag(gram.G) / len(X))
        d[d == 0] = 1.0
        G = gram.G / len(X) / np.outer(d, d)
    kept: list[int] = []
    dependent = []
    for j in range(X.shape[1]):
        if kept:
            g = G[np.ix_(kept, kept)]
            coef = np.linalg.lstsq(g, G[kept, j], rcond=None)[0]
            resid = G[j, j] - G[j, kept] @ coef
        else:
            resid = G[j, j]
        if resid < tol:
            dependent.append(j)
        else:
            kept.append(j)
    return dependent


def compute_vif(design: pd.DataFrame) -> pd.Series:
    """Return the variance inflation factor of every non-constant column of a design matrix.

    Parameters
    ----------
    design : DataFrame
        Regressors as numbers, *including* the constant column (a column named ``Intercept``/``const`` or
        any column with a single value). If the design has no constant, one is added: a VIF computed
        without it measures uncentered R² and is meaningless.

    Returns
    -------
    Series
        Term → VIF, in the design's column order, constant columns omitted. ``inf`` for a column that is an
        exact linear combination of the others. Values above 5 deserve a look (``VIF_FLAG``).

    Notes
    -----
    VIF_j = 1 / (1 − R²_j), where R²_j is the R² of regressing column j on all other columns and the
    constant. Computed from the centered cross-product matrix (one pass over the rows), so it costs
    O(n·p²) however many columns there are.
    """
    X = design.astype("float64")
    if X.isna().any().any():
        bad = X.columns[X.isna().any()].tolist()
        raise InputError(f"compute_vif: the design has NA in columns {bad}; drop incomplete rows first")
    arr = X.to_numpy()
    constant = np.all(arr == arr[:1], axis=0) if len(arr) else np.ones(arr.shape[1], dtype=bool)
    cols = [c for c, is_const in zip(X.columns, constant, strict=True) if not is_const]
    Z = arr[:, ~constant]
    Z = Z - Z.mean(axis=0)
    return _vif_from_cross(Z.T @ Z, cols)


def _vif_from_cross(C: np.ndarray, cols: list[str]) -> pd.Series:
    """VIF of every column from the centred cross-product matrix C of the non-constant columns."""
    out = {}
    for j, name in enumerate(cols):
        others = [k for k in range(len(cols)) if k != j]
        tss = C[j, j]
        if others:
            coef = np.linalg.lstsq(C[np.ix_(others, others)], C[others, j], rcond=None)[0]
            ess = float(C[j, others] @ coef)
        else:
            ess = 0.0
        rss = tss - ess
        out[name] = math.inf if rss <= 1e-12 * tss else tss / rss
    return pd.Series(out, dtype="float64", name="vif")


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


def _rows(
    res,
    *,
    outcome: str,
    model: str,
    term_type: dict[str, str],
    n: int,
    r2: float,
    std_beta: dict[str, float] | None,
    effect: bool,
    pseudo_r2: float = np.nan,
    skip_intercept: bool = False,
    method: str | None = None,
) -> pd.DataFrame:
    params = pd.Series(res.params)
    ci = np.asarray(res.conf_int(alpha=1 - CONF_LEVEL))
    terms = [t for t in params.index if t in term_type or t == "Intercept"]
    idx = [list(params.index).index(t) for t in terms]
    est = params.to_numpy()[idx]
    rows = pd.DataFrame(
        {
            "outcome": outcome,
            "model": model,
            "term": terms,
            "estimate": est,
            "std_error": np.asarray(res.bse)[idx],
            "ci_low": ci[idx, 0],
            "ci_high": ci[idx, 1],
            "p_value": np.asarray(res.pvalues)[idx],
            "std_beta": [np.nan if std_beta is None else std_beta.get(t, np.nan) for t in terms],
            "effect_pct": np.nan,
            "n": n,
            "r2": r2,
            "p_holm": np.nan,
            "p_bh": np.nan,
            "term_type": [term_type.get(t, "intercept") for t in terms],
            "effect_pct_ci_low": np.nan,
            "effect_pct_ci_high": np.nan,
            "pseudo_r2": pseudo_r2,
            "platform": pd.NA,
            "fit_method": method,
            "p_holm_across_outcomes": np.nan,
        }
    )
    if effect:
        slope = rows["term_type"] != "intercept"
        rows.loc[slope, "effect_pct"] = 100 * np.expm1(rows.loc[slope, "estimate"])
        rows.loc[slope, "effect_pct_ci_low"] = 100 * np.expm1(rows.loc[slope, "ci_low"])
        rows.loc[slope, "effect_pct_ci_high"] = 100 * np.expm1(rows.loc[slope, "ci_high"])
    if skip_intercept:
        rows = rows[rows["term_type"] != "intercept"]
    pred = (rows["term_type"] == "predictor") & rows["p_value"].notna()
    if pred.any():
        rows.loc[pred, "p_holm"] = _holm(rows.loc[pred, "p_value"].to_numpy())
        rows.loc[pred, "p_bh"] = _bh(rows.loc[pred, "p_value"].to_numpy())
    return rows


def _with_intercept(X: pd.DataFrame) -> pd.DataFrame:
    exog = X.copy()
    exog.insert(0, "Intercept", 1.0)
    return exog


_THREADS = None


def _one_blas_thread():
    """BLAS limited to one thread for the model fits (a context manager).

    Every product in the fits is tall and skinny (n × p with p ≈ 10): one thread streams through it at memory
    speed, while OpenBLAS' threads mostly wait for each other — on this 2-core machine, shared with other work,
    a pass took 3-7× longer with the default threads (issue 14). threadpoolctl sets the limit and restores it.
    """
    global _THREADS
    try:
        if _THREADS is None:
            from threadpoolctl import ThreadpoolController

            _THREADS = ThreadpoolController()
        return _THREADS.limit(limits=1, user_api="blas")
    except Exception:  # noqa: BLE001 — no threadpoolctl, or a BLAS it cannot drive: the fits work all the same
        return contextlib.nullcontext()


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (Holm 1979), by ``statsmodels.stats.multitest.multipletests``."""
    p = np.asarray(p, dtype="float64")
    if not p.size:
        return p.copy()
    # multipletests' Holm branch calls gc.collect(), a full collection costing 0.1-0.5 s in a kernel holding
    # many objects; frozen objects are skipped by it, so freeze them for the call (O(1) both ways).
    # When the caller (the pipeline's shared kernel) has frozen objects of its own, leave them frozen: unfreezing
    # here would undo its freeze and make the next collection scan everything again.
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        return multipletests(p, method="holm")[1]
    finally:
        if not frozen_before:
            gc.unfreeze()


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values (false discovery rate), by ``multipletests``."""
    p = np.asarray(p, dtype="float64")
    return multipletests(p, method="fdr_bh")[1] if p.size else p.copy()


def _fit_ols_log(y: np.ndarray, X: pd.DataFrame, *, gram: fastfit.Gram | None = None, cols=None,
                 keep_diagnostics: bool = False, ly: np.ndarray | None = None):
    """OLS of log1p(y) with HC3 errors: by the centred normal equations (:func:`fastfit.fit_ols`), or by
    statsmodels' pseudo-inverse when the design is too ill-conditioned for them (near-collinear columns).
    ``ly``: log1p(y) when already computed (the fits of one outcome then share it)."""
    ly = np.log1p(y) if ly is None else ly
    with _one_blas_thread():
        res = fastfit.fit_ols(ly, X, robust=True, gram=gram, cols=cols, keep_diagnostics=keep_diagnostics)
    if res is not None:
        return res
    exog = _with_intercept(X if cols is None else X.iloc[:, cols])
    return sm.OLS(ly, exog).fit(cov_type="HC3", use_t=True)


def _zscore(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(axis=0)) / a.std(axis=0, ddof=1)


def _fit_ols_std(y: np.ndarray, X: pd.DataFrame, *, gram: fastfit.Gram | None = None):
    """OLS of the z-scored count on z-scored regressors with classical errors (normal equations, or statsmodels
    when ill-conditioned, as :func:`_fit_ols_log`)."""
    with _one_blas_thread():
        res = fastfit.fit_ols(np.asarray(y, dtype="float64"), X, robust=False, gram=gram, zscore=True)
    if res is not None:
        return res
    Z = pd.DataFrame(_zscore(X.to_numpy(dtype="float64")), columns=X.columns, index=X.index)
    exog = _with_intercept(Z)
    return sm.OLS(_zscore(y), exog).fit()


def _nb2_score_obs(model):
    """Analytic per-observation score of statsmodels' NB2 model in (β, α) (or (β, log α) while fitting)."""

    def score_obs(params):
        params = np.asarray(params, dtype="float64")
        alpha = math.exp(params[-1]) if model._transparams else params[-1]
        y, X = model.endog, model.exog
        mu = np.exp(X @ params[:-1] + getattr(model, "offset", 0.0))
        r = 1.0 / alpha
        s_beta = X * ((y - mu) / (1.0 + alpha * mu))[:, None]
        d_r = special.digamma(y + r) - special.digamma(r) + np.log(r / (r + mu)) + (mu - y) / (r + mu)
        s_alpha = -d_r / alpha**2
        if model._transparams:
            s_alpha = s_alpha * alpha
        return np.column_stack([s_beta, s_alpha])

    return score_obs


def _nb2_start(
    y: np.ndarray, X: np.ndarray, *, offset: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-6
) -> np.ndarray | None:
    """Approximate NB2 estimates (β, α) to start statsmodels' Newton iterations from.

    Alternates IRLS for β at fixed θ = 1/α with Newton steps for log θ at fixed β, as ``MASS::glm.nb``
    does. The sums over digamma/trigamma terms of y are taken over the distinct values of y, so an
    iteration costs a few passes over the rows. Returns None when it does not settle (statsmodels then
    starts from its own Poisson fit).
    """
    values, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    off = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype="float64")
    beta = np.linalg.lstsq(X, np.log(y + 0.5) - off, rcond=None)[0]
    log_theta = 0.0
    for _ in range(max_iter):
        eta = np.clip(X @ beta + off, -50, 50)
        mu = np.exp(eta)
        for _ in range(3):  # Newton in log θ, profile over θ at this β
            th = math.exp(log_theta)
            w = th + mu
            g = (
                counts @ special.digamma(values + th)
                - len(y) * special.digamma(th)
                + np.sum(np.log(th) + 1.0 - np.log(w) - (y + th) / w)
            )
            h = (
                counts @ special.polygamma(1, values + th)
                - len(y) * special.polygamma(1, th)
                + np.sum(1.0 / th - 1.0 / w + (y - mu) / w**2)
            )
            # derivative in log θ: g·θ, curvature g·θ + h·θ²
            d1, d2 = g * th, g * th + h * th * th
            step = -d1 / d2 if d2 < 0 else math.copysign(1.0, d1)
            log_theta = float(np.clip(log_theta + np.clip(step, -2.0, 2.0), -15.0, 15.0))
        th = math.exp(log_theta)
        weights = mu / (1.0 + mu / th)
        z = eta - off + (y - mu) / mu
        XtW = X.T * weights
        new_beta = np.linalg.solve(XtW @ X, XtW @ z)
        change = np.max(np.abs(new_beta - beta))
        beta = new_beta
        if not np.all(np.isfinite(beta)):
            return None
        if change < tol:
            return np.r_[beta, 1.0 / th]
    return None


def _fit_negbin(y: np.ndarray, X: pd.DataFrame, *, offset: np.ndarray | None = None, start=None):
    """NB2 by ML with HC0 sandwich errors (``offset``: log exposure); returns (results, None) or (None, reason).

    First by Newton with analytic derivatives from the Poisson fit (or ``start``: β with the constant first)
    (:func:`fastfit.fit_nb2`); when that does not converge to an interior maximum, by statsmodels' Newton from
    glm.nb-style start values, then BFGS, as before.
    """
    with _one_blas_thread():
        fast = fastfit.fit_nb2(y, X, offset=offset, start=start)
    if fast is not None:
        return fast, None
    exog = _with_intercept(X)
    model = sm.NegativeBinomial(y, exog, loglike_method="nb2", offset=offset)
    # statsmodels differentiates the log-likelihood numerically (complex step) for the per-post scores the
    # sandwich needs: ~10 s at a million posts. The analytic NB2 score gives the same matrix in 0.1 s.
    model.score_obs = _nb2_score_obs(model)
    with np.errstate(all="ignore"):
        try:
            start = _nb2_start(y, exog.to_numpy(dtype="float64"), offset=offset)
        except (np.linalg.LinAlgError, ValueError, OverflowError, FloatingPointError):
            start = None
    attempts = [("newton", {"maxiter": 100}, None), ("bfgs", {"maxiter": 2000, "gtol": 1e-8}, None)]
    if start is not None:
        attempts.insert(0, ("newton", {"maxiter": 100}, start))
    last_reason = "unknown"
    for method, kwargs, start_params in attempts:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore")
            try:
                res = model.fit(
                    start_params=start_params, method=method, disp=False, cov_type="HC0", **kwargs
                )
            except (np.linalg.LinAlgError, ValueError, OverflowError, FloatingPointError) as exc:
                last_reason = f"{method}: {type(exc).__name__}: {exc}"
                continue
        converged = bool(res.mle_retvals.get("converged", False))
        finite = np.all(np.isfinite(res.params)) and np.all(np.isfinite(res.bse))
        if converged and finite and res.params.iloc[-1] > 0:
            return res, None
        last_reason = f"{method}: " + ("did not converge" if not converged else "non-finite estimates")
    return None, last_reason


def _negbin_llnull(y: np.ndarray, offset: np.ndarray | None = None, *, return_alpha: bool = False):
    """Log-likelihood of the intercept-only NB2 model (for McFadden's pseudo-R²).

    Without an offset the intercept's MLE is log(mean y) whatever α is, so only α is optimized, over the
    distinct values of y (statsmodels' ``llnull`` refits the null model on every row, which costs seconds at a
    million posts). With an offset the intercept is profiled out by Newton steps for each α.
    """
    if offset is not None:
        return _negbin_llnull_offset(y, np.asarray(offset, dtype="float64"), return_alpha=return_alpha)
    values, counts = np.unique(y, return_counts=True)
    mu = float(y.mean())

    def negll(log_alpha: float) -> float:
        a = math.exp(log_alpha)
        r = 1.0 / a
        ll = (
            special.gammaln(values + r)
            - special.gammaln(r)
            - special.gammaln(values + 1)
            - r * np.log1p(a * mu)
            + values * (math.log(a * mu) - np.log1p(a * mu))
        )
        return -float(counts @ ll)

    best = optimize.minimize_scalar(negll, bounds=(-20.0, 10.0), method="bounded", options={"xatol": 1e-10})
    return (-float(best.fun), math.exp(best.x)) if return_alpha else -float(best.fun)


def _negbin_llnull_offset(y: np.ndarray, offset: np.ndarray, *, return_alpha: bool = False):
    """Intercept-only NB2 log-likelihood with an offset: maximize over (b0, α), b0 profiled for each α."""
    values, counts = np.unique(y, return_counts=True)
    exposure = np.exp(offset)
    b0_start = math.log(max(y.sum(), 0.5) / exposure.sum())  # the Poisson MLE
    y_offset = float(y @ offset)
    warm = [b0_start]  # each α's b0 starts from the last one's (Brent's evaluations move little): 2-3 steps

    def profile(log_alpha: float) -> tuple[float, float]:
        a = math.exp(log_alpha)
        b0 = warm[0]
        for _ in range(50):  # Newton for b0: score Σ (y − μ)/(1 + αμ), concave in b0
            mu = math.exp(b0) * exposure
            d = 1.0 + a * mu
            g = np.sum((y - mu) / d)
            h = -np.sum(mu * (1.0 + a * y) / (d * d))
            step = g / h
            b0 -= step
            if abs(step) < 1e-12:
                break
        warm[0] = b0
        mu = math.exp(b0) * exposure
        r = 1.0 / a
        ll_y = special.gammaln(values + r) - special.gammaln(r) - special.gammaln(values + 1)
        ld = np.log1p(a * mu)
        # Σ y·log(αμ) = (log α + b0)·Σy + Σ y·offset
        ll = float(counts @ ll_y) + float(np.sum(-r * ld - y * ld)) + (log_alpha + b0) * float(y.sum()) + y_offset
        return float(ll), b0

    best = optimize.minimize_scalar(
        lambda la: -profile(la)[0], bounds=(-20.0, 10.0), method="bounded", options={"xatol": 1e-10}
    )
    return (-float(best.fun), math.exp(best.x)) if return_alpha else -float(best.fun)


# --------------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------------


def _leverage(exog: np.ndarray) -> np.ndarray:
    """Diagonal of the hat matrix X(X'X)⁻¹X' from a thin QR (one pass, O(n·p²))."""
    q, _ = np.linalg.qr(exog, mode="reduced")
    return np.einsum("ij,ij->i", q, q)


def _fit_poisson(
    y: np.ndarray,
    X: pd.DataFrame,
    *,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[np.ndarray, float] | None:
    """Poisson GLM of the same design by IRLS (the null of the overdispersion tests): (fitted means, log-likelihood).

    Written out because statsmodels' GLM costs seconds at 10⁵–10⁶ posts for what is a few weighted least-squares
    passes (:func:`fastfit.poisson_irls`, in blocks of rows); None when it does not converge.
    """
    with _one_blas_thread():
        out = fastfit.poisson_irls(np.asarray(y, dtype="float64"), fastfit.as_design(X), offset=offset,
                                   max_iter=max_iter, tol=tol)
    return None if out is None else (out[1], out[2])


def check_overdispersion(
    y: np.ndarray,
    mu: np.ndarray,
    *,
    poisson_llf: float | None = None,
    nb_llf: float | None = None,
    n_params: int | None = None,
) -> dict:
    """Return the Cameron–Trivedi test of Poisson against NB2 and, given both log-likelihoods, the LR test.

    Parameters
    ----------
    y : array
        Observed counts.
    mu : array
        Fitted means of the Poisson model of ``y``.
    poisson_llf, nb_llf : float, optional
        Maximized log-likelihoods of the Poisson and NB2 models of the same design (full likelihoods).
    n_params : int, optional
        Coefficients of the Poisson model (for the Pearson test's degrees of freedom); default 1.

    Returns
    -------
    dict
        ``ct_alpha`` (the auxiliary-regression estimate of α in Var y = μ + αμ²), ``ct_stat`` (its t
        statistic), ``ct_p`` (one-sided normal p for α > 0), ``poisson_llf``, ``nb_llf``, ``lr_stat`` =
        2(ℓ_NB − ℓ_Poisson), ``lr_p`` = ½·P(χ²₁ > lr_stat) (α = 0 lies on the boundary of the parameter
        space, so the LR statistic is a 50:50 mixture of χ²₀ and χ²₁; Self & Liang 1987), ``pearson_stat`` =
        Σ (y − μ)²/μ, ``pearson_df`` = n − n_params, ``pearson_dispersion`` = stat/df (1 under Poisson) and
        ``pearson_p`` = P(χ²_df > stat), ``overdispersed`` (any p < 0.05), ``test`` and ``assumptions``
        (what was tested, in words).

    Which test to believe: the LR test (it needs the NB2 fit) and the Pearson test compare the whole
    likelihood / all residuals with what a Poisson model allows; the Cameron–Trivedi t statistic uses the
    ordinary least-squares error of its auxiliary regression, which a few posts with enormous counts inflate,
    so on heavy-tailed data it can give p ≈ 0.06 at a variance/mean of 10⁵. ``overdispersed`` is true when any
    of the three rejects, so it cannot contradict a variance/mean far above 1.

    Notes
    -----
    Cameron & Trivedi (1990): regress ((y − μ)² − y)/μ on μ without a constant; under the Poisson null the
    coefficient is 0. This is ``AER::dispersiontest(fit, trafo = 2)`` in R.
    """
    y = np.asarray(y, dtype="float64")
    mu = np.asarray(mu, dtype="float64")
    z = ((y - mu) ** 2 - y) / mu
    a = float(z @ mu / (mu @ mu))
    resid = z - a * mu
    s2 = float(resid @ resid) / (len(y) - 1)
    stat = a / math.sqrt(s2 / float(mu @ mu)) if s2 > 0 else math.nan
    out = {
        "ct_alpha": a,
        "ct_stat": stat,
        "ct_p": float(stats.norm.sf(stat)) if np.isfinite(stat) else math.nan,
        "poisson_llf": math.nan if poisson_llf is None else float(poisson_llf),
        "nb_llf": math.nan if nb_llf is None else float(nb_llf),
        "lr_stat": math.nan,
        "lr_p": math.nan,
    }
    if poisson_llf is not None and nb_llf is not None:
        lr = max(2.0 * (nb_llf - poisson_llf), 0.0)
        out["lr_stat"] = lr
        out["lr_p"] = 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
    df = len(y) - (1 if n_params is None else int(n_params))
    pearson = float(np.sum((y - mu) ** 2 / mu))
    out.update(
        pearson_stat=pearson,
        pearson_df=int(df),
        pearson_dispersion=pearson / df if df > 0 else math.nan,
        pearson_p=float(stats.chi2.sf(pearson, df)) if df > 0 and np.isfinite(pearson) else math.nan,
    )
    out["overdispersed"] = bool(
        any(np.isfinite(out[k]) and out[k] < OVERDISPERSION_P for k in ("ct_p", "lr_p", "pearson_p"))
    )
    out["test"] = (
        "Poisson model of the same design against overdispersion: Pearson χ² = Σ(y − μ̂)²/μ̂ on n − p degrees of "
        "freedom; boundary-corrected likelihood ratio of NB2 against Poisson; Cameron–Trivedi auxiliary "
        "regression (Var y = μ + αμ²)"
    )
    out["assumptions"] = (
        "the Poisson mean model is right (a wrong mean model also shows as overdispersion); the Pearson χ² "
        "reference distribution is approximate when many fitted means are small (below about 5)"
    )
    return out


def check_residuals(fit_result) -> dict:
    """Return the shape and heteroskedasticity checks of an OLS fit's residuals.

    Returns
    -------
    dict
        ``skew`` and ``excess_kurtosis`` (moment estimators, as ``scipy.stats.skew``/``kurtosis`` with
        ``bias=True``), and the Koenker (studentized) Breusch–Pagan test of the squared residuals on the
        regressors: ``bp_stat`` = n·R² of that auxiliary regression, ``bp_df``, ``bp_p`` and ``bp_r2`` (the
        R² itself: how much of the variation in squared residuals the features explain, an effect size
        that does not grow with n the way the p-value does).
    """
    if isinstance(fit_result, fastfit.LinearFit):
        e = getattr(fit_result, "_e", None)
        e = np.asarray(fit_result.resid, dtype="float64") if e is None else e
        return _residual_checks(e, fit_result._design(), fit_result._gram)
    e = np.asarray(fit_result.resid, dtype="float64")
    exog = np.asarray(fit_result.model.exog, dtype="float64")
    e2 = e * e
    coef, *_ = np.linalg.lstsq(exog, e2, rcond=None)
    u = e2 - exog @ coef
    tss = float(((e2 - e2.mean()) ** 2).sum())
    r2 = 1.0 - float(u @ u) / tss if tss > 0 else 0.0
    return _residual_summary(e, r2, exog.shape[1] - 1)


def _residual_checks(e: np.ndarray, X: np.ndarray, gram: fastfit.Gram) -> dict:
    """:func:`check_residuals` from the design's centred cross-products: the R² of the squared residuals on the
    regressors is (X̃'ẽ²)'G⁻¹(X̃'ẽ²)/Σẽ⁴ (tilde: centred), one pass over the rows instead of a least-squares solve."""
    e2 = e * e
    e2c = e2 - e2.mean()
    tss = float(e2c @ e2c)
    v = gram.cross(X, e2c)
    r2 = float(v @ gram.inv @ v) / tss if tss > 0 else 0.0
    return _residual_summary(e, r2, gram.k)


def _residual_summary(e: np.ndarray, r2: float, df: int) -> dict:
    stat = len(e) * r2
    return {
        "skew": float(stats.skew(e)),
        "excess_kurtosis": float(stats.kurtosis(e)),
        "bp_stat": float(stat),
        "bp_df": int(df),
        "bp_p": float(stats.chi2.sf(stat, df)) if df > 0 else math.nan,
        "bp_r2": float(r2),
    }


def compute_cooks_distance(fit_result) -> pd.Series:
    """Return Cook's distance of every post in an OLS fit, indexed like the fit's rows.

    Notes
    -----
    D_i = e_i² h_i / (p s² (1 − h_i)²) with h the leverage, p the number of coefficients and s² the residual
    variance (Cook 1977; R's ``cooks.distance``). Posts with D above 4/n are commonly looked at.
    """
    if isinstance(fit_result, fastfit.LinearFit):
        e, h = getattr(fit_result, "_e", None), getattr(fit_result, "_h", None)
        e = np.asarray(fit_result.resid, dtype="float64") if e is None else e
        h = fit_result.leverage() if h is None else h
        labels = fit_result._row_labels()
        return pd.Series(_cook(e, h, fit_result._gram.k + 1), index=labels, name="cook_d")
    exog = np.asarray(fit_result.model.exog, dtype="float64")
    e = np.asarray(fit_result.resid, dtype="float64")
    h = _leverage(exog)
    labels = fit_result.model.data.row_labels
    return pd.Series(_cook(e, h, exog.shape[1]), index=labels if labels is not None else None, name="cook_d")


def _cook(e: np.ndarray, h: np.ndarray, p: int) -> np.ndarray:
    s2 = float(e @ e) / (len(e) - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        return e * e * h / (p * s2 * (1.0 - h) ** 2)


def _influential_posts(
    cook: pd.Series, posts: pd.DataFrame, positions: np.ndarray, k: int = N_INFLUENTIAL
) -> list[dict]:
    """The k posts with the largest Cook's distance: row label, post_id, permalink (where the table has them), cook_d.

    ``positions`` are the fit's rows as positions in ``posts`` (so a duplicated index cannot mix posts up).
    """
    values = cook.to_numpy()
    k = min(k, len(values))
    if k == 0:
        return []
    top = np.argpartition(-np.nan_to_num(values, nan=-np.inf), k - 1)[:k]
    top = top[np.argsort(-values[top], kind="stable")]
    rows = posts.iloc[positions[top]]
    out = []
    for i, (label, d) in enumerate(zip(rows.index, values[top], strict=True)):
        row = {"row": label.item() if hasattr(label, "item") else label}
        for col in ("post_id", "permalink"):
            value = rows[col].iloc[i] if col in rows.columns else None
            row[col] = None if value is None or pd.isna(value) else str(value)
        row["cook_d"] = float(d)
        out.append(row)
    return out


def _separation(X: pd.DataFrame, y: np.ndarray, term_type: dict[str, str]) -> list[dict]:
    """Yes/no levels (a predictor's or a control's dummy, e.g. ``year[2025]``) in which every post has outcome 0:
    quasi-complete separation for the count models (before review15 M4 only predictors were checked, and a
    year in which one page's posts all had 0 engagements gave year[2025] = −62.8 unflagged)."""
    found = []
    zero = y == 0
    if not zero.any():
        return found
    for c in X.columns:
        if term_type.get(c) not in ("predictor", "control"):
            continue
        v = X[c].to_numpy()
        if not np.isin(v, (0.0, 1.0)).all():
            continue
        for level in (1.0, 0.0):
            in_level = v == level
            if in_level.any() and zero[in_level].all():
                found.append(
                    {"term": c, "level": int(level), "n_posts": int(in_level.sum()), "outcome_value": 0}
                )
    return found


def residual_frame(fit_result) -> pd.DataFrame:
    """Return fitted values and residuals of one fit, ready for residual-vs-fitted and QQ plots.

    Parameters
    ----------
    fit_result
        A results object from ``PostModels.fits`` (``ols_log``, ``ols_std``, ``negbin``, ``negbin_rate``).

    Returns
    -------
    DataFrame
        Indexed like the posts of the fit (the index of ``posts_coded``), with ``fitted``, ``residual``,
        ``std_residual`` and ``theoretical_quantile``. For OLS fits ``fitted`` and ``residual`` are on the
        model's scale (log1p for ``ols_log``) and ``std_residual`` is the internally studentized residual
        e/(s·√(1 − h)). For the count models ``fitted`` is the fitted mean count and ``residual`` and
        ``std_residual`` are the Pearson residual (y − μ)/√(μ + αμ²). ``theoretical_quantile`` is the
        standard normal quantile Φ⁻¹((rank − ½)/n) of each post's ``std_residual``: plot ``std_residual``
        against it for a QQ plot.
    """
    if isinstance(fit_result, fastfit.LinearFit):
        labels = fit_result._row_labels()
        y = fit_result._endog
        fitted = fit_result.fittedvalues.to_numpy()
        resid = y - fitted
        h = fit_result.leverage()
        s = math.sqrt(fit_result.ssr / fit_result.df_resid)
        with np.errstate(divide="ignore", invalid="ignore"):
            std = resid / (s * np.sqrt(1.0 - h))
        return _residual_table(fitted, resid, std, labels)
    if isinstance(fit_result, fastfit.NB2Fit):
        y = fit_result._endog
        fitted = fit_result.predict().to_numpy()
        alpha = float(fit_result.params.iloc[-1])
        resid = (y - fitted) / np.sqrt(fitted + alpha * fitted**2)
        return _residual_table(fitted, resid, resid, fit_result._row_labels())
    model = fit_result.model
    labels = model.data.row_labels
    y = np.asarray(model.endog, dtype="float64")
    if isinstance(model, sm.OLS):
        fitted = np.asarray(fit_result.fittedvalues, dtype="float64")
        resid = y - fitted
        exog = np.asarray(model.exog, dtype="float64")
        h = _leverage(exog)
        s = math.sqrt(float(resid @ resid) / (len(y) - exog.shape[1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            std = resid / (s * np.sqrt(1.0 - h))
    elif isinstance(model, sm.NegativeBinomial):
        fitted = np.asarray(fit_result.predict(), dtype="float64")
        alpha = float(np.asarray(fit_result.params)[-1])
        resid = (y - fitted) / np.sqrt(fitted + alpha * fitted**2)
        std = resid
    elif isinstance(model, sm.GLM):  # a count model's fallback fit (fit_count_model): Pearson residuals
        fitted = np.asarray(fit_result.fittedvalues, dtype="float64")
        resid = np.asarray(fit_result.resid_pearson, dtype="float64")
        std = resid
    else:
        raise InputError(
            f"residual_frame takes an OLS or negative binomial fit from PostModels.fits, found {type(model).__name__}"
        )
    return _residual_table(fitted, resid, std, labels)


def _residual_table(fitted, resid, std, labels) -> pd.DataFrame:
    n = len(std)
    ranks = stats.rankdata(std, method="ordinal", nan_policy="omit") if n else np.array([])
    quantile = stats.norm.ppf((ranks - 0.5) / n) if n else np.array([])
    return pd.DataFrame(
        {"fitted": fitted, "residual": resid, "std_residual": std, "theoretical_quantile": quantile},
        index=labels if labels is not None else None,
    )


def _outcome_entries(diagnostics: dict) -> dict[str, dict]:
    return {
        k: v for k, v in diagnostics.items() if k not in SUMMARY_KEYS and isinstance(v, dict) and "n" in v
    }


def _log_scale_problems(diag: dict) -> list[str]:
    """Why ols_log's reading as a % change is doubtful for one outcome (empty when it is fine)."""
    problems = []
    zero_share = diag.get("zero_share", math.nan)
    if np.isfinite(zero_share) and zero_share >= ZERO_SHARE_LIMIT:
        problems.append(f"{100 * zero_share:.0f}% of posts have 0 (log1p bends small counts)")
    res = (diag.get("residuals") or {}).get("ols_log") or {}
    skew = res.get("skew", math.nan)
    if np.isfinite(skew) and abs(skew) > SKEW_LIMIT:
        problems.append(f"its log-scale residuals are skewed (skew {skew:.2f})")
    bp_p, bp_r2 = res.get("bp_p", math.nan), res.get("bp_r2", math.nan)
    if np.isfinite(bp_p) and bp_p < HETERO_P and np.isfinite(bp_r2) and bp_r2 >= HETERO_R2:
        problems.append(
            f"the spread of its residuals depends on the features (Breusch–Pagan p = {_fmt_p(bp_p)}, "
            f"R² {bp_r2:.2f}), so exp(b) is not the ratio of means"
        )
    return problems


def _fmt_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def choose_primary_model(diagnostics: dict) -> tuple[str, str]:
    """Return the model whose effects should lead the report, and a plain sentence saying why.

    Parameters
    ----------
    diagnostics : dict
        ``PostModels.diagnostics`` (outcome → diagnostics; the summary keys ``primary``/``sensitivity`` are
        ignored).

    Returns
    -------
    (str, str)
        The model (``ols_log`` or ``negbin``; ``ols_std`` only when it is the one model fitted) and the reason.

    Notes
    -----
    The rule, in order:

    1. Outcomes where no model was fitted are ignored. Candidates are ``ols_log`` and ``negbin``, which
       answer the same question (% difference in the outcome per feature) for every outcome. ``ols_std`` is
       the published form, kept for comparison, preferred only when neither was fitted; ``negbin_rate``
       answers a different question (engagement *rate*) and is reported beside the primary.
    2. ``ols_log`` leads unless, for at least one outcome, its log-scale reading is doubtful: 10% or more
       of posts have 0 (log1p(y) is far from log y for small counts, which shrinks effects toward 0), or the
       residuals are strongly skewed (|skew| > 1), or their spread depends materially on the features
       (Koenker–Breusch–Pagan p < 0.01 *and* auxiliary R² ≥ 0.05: then exp(b) estimates a ratio of geometric
       means, not of means). Heteroskedasticity alone does not disqualify it: HC3 errors cover it.
    3. Even then ``negbin`` leads only if it converged for every outcome and the overdispersion test rejects
       the Poisson model (Cameron–Trivedi or boundary-corrected LR p < 0.05) for every outcome — so the count
       model that fits is the negative binomial, not a Poisson — and it separated on no term (a separated
       level's posts are left out of the count models, which then describe other posts than ols_log).
       Otherwise ``ols_log`` stays, and the reason says what is doubtful about it.
    """
    entries = {
        o: d for o, d in _outcome_entries(diagnostics).items() if any((d.get("converged") or {}).values())
    }
    fitted = {m for d in entries.values() for m, ok in (d.get("converged") or {}).items() if ok}
    if not entries or not fitted:
        return "ols_log", "ols_log is the default primary model (no fitted model to judge)."
    if "ols_log" not in fitted:
        for m in ("negbin", "ols_std"):
            if m in fitted:
                return (
                    m,
                    f"{m} leads because ols_log was not fitted (order of preference: ols_log, negbin, ols_std).",
                )
        return (
            "ols_log",
            "ols_log is the default primary model (none of ols_log, negbin, ols_std was fitted).",
        )
    problems = {o: _log_scale_problems(d) for o, d in entries.items()}
    doubtful = {o: p for o, p in problems.items() if p}
    if not doubtful:
        return "ols_log", (
            "OLS on log(1 + count) with HC3 errors leads: for every outcome its residuals are roughly symmetric "
            f"(|skew| ≤ {SKEW_LIMIT:g}), fewer than {100 * ZERO_SHARE_LIMIT:.0f}% of posts have 0, and the "
            "spread of the residuals does not depend materially on the features."
        )
    detail = "; ".join(f"for {o}, {' and '.join(p)}" for o, p in doubtful.items())
    nb_ok = all((d.get("converged") or {}).get("negbin") for d in entries.values())
    over = {o: (d.get("overdispersion") or {}).get("negbin") or {} for o, d in entries.items()}
    overdispersed = all(v.get("overdispersed") for v in over.values())
    # a count model that separated on a term left those posts out: it does not describe the posts the report
    # says the models use (review15 M4: 20 of 39 Facebook posts, one page's, left out of negbin)
    separated = {o: [x for x in d.get("separation") or [] if x.get("n_posts")] for o, d in entries.items()}
    separated = {o: v for o, v in separated.items() if v}
    if nb_ok and overdispersed and not separated:
        ps = ", ".join(
            f"{o} p {_fmt_p(min(x for x in (v.get('ct_p', math.nan), v.get('lr_p', math.nan)) if np.isfinite(x)))}"
            for o, v in over.items()
        )
        return "negbin", (
            f"The negative binomial model leads: {detail}, while the counts are overdispersed against a Poisson "
            f"model ({ps}), so the negative binomial is the count model that fits."
        )
    why = (
        "it did not converge for every outcome"
        if not nb_ok
        else "the counts are not overdispersed for every outcome"
        if not overdispersed
        else "it left out posts that the other models use (" + "; ".join(
            f"for {o}, " + ", ".join(f"{x['n_posts']} posts {'with' if x.get('level') == 1 else 'without'} "
                                      f"{x['term']}, all 0" for x in v)
            for o, v in separated.items()) + ": separation), so it does not describe the same posts"
    )
    return "ols_log", (
        f"OLS on log(1 + count) with HC3 errors stays primary although {detail}: the negative binomial model "
        f"cannot replace it because {why}. Read its effects with that caveat."
    )


# --------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------


_UNSET = object()


def _overdispersion(
    y: np.ndarray, X: pd.DataFrame, count_fit: CountFit | None, *, offset: np.ndarray | None = None,
    poisson=_UNSET,
) -> dict:
    """Overdispersion tests of one count outcome (Poisson fit of the same design vs the count fit, if any).

    ``poisson``: the (fitted means, log-likelihood) of that Poisson fit when the caller already has it (None: it
    did not converge).
    """
    pois = _fit_poisson(y, X, offset=offset) if poisson is _UNSET else poisson
    mean = float(np.mean(y)) if len(y) else math.nan
    var = float(np.var(y, ddof=1)) if len(y) > 1 else math.nan
    extra = {
        "variance_to_mean": var / mean if mean > 0 else math.nan,
        "alpha": math.nan if count_fit is None else count_fit.alpha,
        "alpha_method": None if count_fit is None else count_fit.method,
    }
    if pois is None:
        return {"error": "the Poisson model of the same design could not be fitted", **extra}
    nb_llf = float(count_fit.res.llf) if count_fit is not None and count_fit.method == "nb2_ml" else None
    out = check_overdispersion(y, pois[0], poisson_llf=pois[1], nb_llf=nb_llf, n_params=X.shape[1] + 1)
    return {**out, **extra}


def _controls_sensitivity(y, X, term_type, res_with, *, outcome: str, n: int, gram: fastfit.Gram | None = None,
                          ly: np.ndarray | None = None):
    """ols_log without the controls on the same posts: (sensitivity rows, fit), or None without controls."""
    preds = [c for c in X.columns if term_type[c] == "predictor"]
    if len(preds) == X.shape[1]:
        return None
    cols = [X.columns.get_loc(c) for c in preds]
    res_without = _fit_ols_log(y, X, cols=cols, gram=None if gram is None else gram.sub(cols), ly=ly)

    out = pd.DataFrame({"outcome": outcome, "term": preds})
    for label, res in (("without_controls", res_without), ("with_controls", res_with)):
        names = list(res.params.index)
        idx = [names.index(t) for t in preds]
        ci = np.asarray(res.conf_int(alpha=1 - CONF_LEVEL))[idx]
        values = {"": np.asarray(res.params)[idx], "_ci_low": ci[:, 0], "_ci_high": ci[:, 1]}
        for kind, v in values.items():
            out[f"effect_pct{kind}_{label}"] = 100 * np.expm1(v)
    out["change_pct_points"] = out["effect_pct_with_controls"] - out["effect_pct_without_controls"]
    out["n"] = n
    out["platform"] = None  # set by the caller, which knows whose posts these are
    return out[list(SENSITIVITY_COLUMNS)], res_without


@dataclass
class CountFit:
    """A fitted count model: the results object, how it was fitted and why (see :func:`fit_count_model`)."""

    res: object
    method: str
    reason: str
    alpha: float
    alpha_ci: list[float] | None
    llnull: float
    keep: np.ndarray
    X: pd.DataFrame
    term_type: dict[str, str]


#: IRLS convergence tolerance of the fallback GLMs (statsmodels' default 1e-8 on the deviance stops with the
#: coefficients ~1e-5 relative from the optimum R's glm reaches; tests/test_r_references_count_fallbacks.py)
GLM_TOL = 1e-12
#: an intercept-only dispersion α below this is "on the boundary": the counts are Poisson, no NB fallback.
ALPHA_BOUNDARY = 1e-4
#: how a count model was fitted, in the order tried (``fit_method`` in regression.csv and models.json).
COUNT_METHODS = {
    "nb2_ml": "negative binomial (NB2), dispersion α estimated by maximum likelihood, HC0 sandwich errors",
    "nb2_fixed_alpha": (
        "negative binomial (NB2) GLM with the dispersion α fixed at its intercept-only maximum-likelihood "
        "value, HC0 sandwich errors"
    ),
    "poisson_robust": (
        "Poisson quasi-likelihood with HC0 sandwich errors (robust Poisson): consistent for the ratio of "
        "expected counts whatever the variance, when the mean model is right"
    ),
}


def _glm_ok(res) -> bool:
    return bool(getattr(res, "converged", True)) and np.all(np.isfinite(res.params)) and np.all(
        np.isfinite(res.bse)
    )


class RescaledFit:
    """A count model fitted on a centred and scaled design, its coefficients and covariance mapped back exactly.

    With z_j = (x_j − m_j)/s_j for every column that is not 0/1, η = c₀ + Σ c_j z_j = (c₀ − Σ c_j m_j/s_j) +
    Σ (c_j/s_j) x_j, so θ = A·c and Cov θ = A·Cov c·Aᵀ (a linear map: the sandwich covariance maps the same way).
    Attributes the tables read (``params``, ``bse``, ``pvalues``, ``conf_int``, ``llf``) are in the original
    units; everything else (``model``, ``predict``, ``fittedvalues``, ``resid_pearson``) is the scaled fit's,
    whose fitted means are the same.
    """

    def __init__(self, res, A: np.ndarray, names: list[str]):
        self._res = res
        theta = A @ np.asarray(res.params, dtype="float64")
        self._cov = A @ np.asarray(res.cov_params(), dtype="float64") @ A.T
        self.params = pd.Series(theta, index=names)
        self.bse = pd.Series(np.sqrt(np.diag(self._cov)), index=names)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.pvalues = pd.Series(2.0 * stats.norm.sf(np.abs(theta / self.bse.to_numpy())), index=names)

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        q = stats.norm.ppf(1.0 - alpha / 2.0)
        return np.column_stack([self.params - q * self.bse, self.params + q * self.bse])

    def cov_params(self) -> pd.DataFrame:
        return pd.DataFrame(self._cov, index=self.params.index, columns=self.params.index)

    def __getattr__(self, name):
        return getattr(self._res, name)


def _scaled_design(X: pd.DataFrame, *, extra_params: int) -> tuple[pd.DataFrame, np.ndarray | None]:
    """X with every non-0/1 column centred and scaled, and the map A back to the original coefficients.

    ``extra_params`` trailing parameters (NB's α) map to themselves. None when no column needs scaling.
    """
    arr = X.to_numpy(dtype="float64")
    binary = np.array([np.isin(arr[:, j], (0.0, 1.0)).all() for j in range(arr.shape[1])], dtype=bool)
    if binary.all():
        return X, None
    m = np.where(binary, 0.0, arr.mean(axis=0))
    s = np.where(binary, 1.0, arr.std(axis=0))
    s[s == 0] = 1.0
    Z = pd.DataFrame((arr - m) / s, columns=X.columns, index=X.index)
    k = arr.shape[1] + 1 + extra_params
    A = np.eye(k)
    A[0, 1 : arr.shape[1] + 1] = -m / s
    A[np.arange(1, arr.shape[1] + 1), np.arange(1, arr.shape[1] + 1)] = 1.0 / s
    return Z, A


def fit_count_model(
    y: np.ndarray, X: pd.DataFrame, *, offset: np.ndarray | None = None, start=None
) -> tuple[CountFit | None, str]:
    """Fit the count model of ``y`` on ``X`` by the first method that works; (fit, "") or (None, why not).

    1. ``nb2_ml``: NB2 by maximum likelihood (:func:`_fit_negbin`; three optimizers, start values from an
       IRLS/θ-Newton alternation) on the design as it is; when that fails, on the design with every non-0/1
       column centred and scaled (:class:`RescaledFit` maps the coefficients and covariance back exactly) —
       a column such as an account size of 5,000,000 ± 1 makes the information matrix numerically singular.
    2. ``nb2_fixed_alpha``: when that fails too (no convergence, α on the boundary, separation the caller did
       not remove), the NB2 GLM at the α of the intercept-only model, fitted by IRLS (weighted least squares
       with a pseudo-inverse) on the scaled design.
    3. ``poisson_robust``: else the Poisson quasi-likelihood fit with sandwich errors (scaled design).

    The coefficients of all three estimate the same thing (log ratio of expected counts), so the fallback
    keeps the model's meaning; ``CountFit.reason`` says why the first method was not used. ``start``: β
    (constant first) for the first NB2 fit to start from (the Poisson fit of the same design).
    """
    res, reason = _fit_negbin(y, X, offset=offset, start=start)
    llnull, alpha0 = _negbin_null(y, offset)
    keep = np.ones(len(y), dtype=bool)
    failures = [f"maximum likelihood failed ({reason})"]
    names = ["Intercept", *X.columns]
    Z, A = (X, None) if res is not None else _scaled_design(X, extra_params=1)  # the scaled design only when needed
    if res is None and A is not None:
        scaled, why = _fit_negbin(y, Z, offset=offset)
        if scaled is not None:
            res = RescaledFit(scaled, A, [*names, "alpha"])
            reason = "fitted on centred and scaled columns, mapped back"
        else:
            failures.append(f"on centred and scaled columns too ({why})")
    if res is not None:
        alpha = float(res.params.iloc[-1])
        ci = np.asarray(res.conf_int(alpha=1 - CONF_LEVEL))[-1]
        note = "" if reason is None else reason
        return CountFit(res, "nb2_ml", note, alpha, [float(ci[0]), float(ci[1])], llnull, keep, X, {}), ""
    exog = _with_intercept(Z)
    A_glm = None if A is None else A[:-1, :-1]
    families = []
    if np.isfinite(alpha0) and alpha0 > ALPHA_BOUNDARY:
        families.append(("nb2_fixed_alpha", sm.families.NegativeBinomial(alpha=alpha0), alpha0))
    else:
        mean = float(np.mean(y))
        vm = float(np.var(y, ddof=1)) / mean if mean > 0 and len(y) > 1 else math.nan
        failures.append(
            f"the counts are not overdispersed (variance/mean = {vm:.2f}), so the dispersion estimate runs to 0: "
            f"a Poisson model fits"
        )
    families.append(("poisson_robust", sm.families.Poisson(), math.nan))
    for method, family, alpha in families:
        with pywarnings.catch_warnings(), np.errstate(all="ignore"):
            pywarnings.simplefilter("ignore")
            try:
                res = sm.GLM(y, exog, family=family, offset=offset).fit(cov_type="HC0", maxiter=200, tol=GLM_TOL)
            except (np.linalg.LinAlgError, ValueError, OverflowError, FloatingPointError) as exc:
                failures.append(f"{method}: {type(exc).__name__}: {exc}")
                continue
        if not _glm_ok(res):
            failures.append(f"{method}: did not converge")
            continue
        if A_glm is not None:
            res = RescaledFit(res, A_glm, names)
        with pywarnings.catch_warnings(), np.errstate(all="ignore"):
            pywarnings.simplefilter("ignore")
            null = float(res.llnull) if method == "poisson_robust" else llnull
        return CountFit(res, method, "; ".join(failures), alpha, None, null, keep, X, {}), ""
    return None, "; ".join(failures)


def _negbin_null(y: np.ndarray, offset: np.ndarray | None = None) -> tuple[float, float]:
    """(log-likelihood, α) of the intercept-only NB2 model."""
    try:
        return _negbin_llnull(y, offset, return_alpha=True)
    except (ValueError, OverflowError, FloatingPointError):
        return math.nan, math.nan


@dataclass
class _OutcomeFit:
    """What the model fitters of one outcome share (the registry's functions take it)."""

    outcome: str
    posts: pd.DataFrame
    mask: np.ndarray
    y: np.ndarray
    X: pd.DataFrame
    term_type: dict[str, str]
    references: dict[str, str]
    predictors: list[str]
    controls: list[str]
    reference_levels: dict[str, str]
    diag: dict
    notes: _Notes
    label: str
    gram: fastfit.Gram | None = None
    #: (posts table, positions of ``posts``' rows in it): where the influential posts' ids and links are read
    source: tuple | None = None
    tables: list = field(default_factory=list)
    fits: dict = field(default_factory=dict)
    sensitivity: list = field(default_factory=list)
    fitted: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.y)

    def record_fit(self, model: str, *, n: int, term_type: dict[str, str], method: str, reason: str = "") -> None:
        spec = MODEL_REGISTRY[model]
        self.fitted.append(
            {
                "platform": self.notes.platform,
                "outcome": self.outcome,
                "model": model,
                "n": int(n),
                "fit_method": method,
                "fallback_reason": reason or None,
                "estimand": spec.estimand,
                "effect_scale": spec.effect_scale,
                "predictors": [t for t, k in term_type.items() if k == "predictor"],
                "controls": [t for t, k in term_type.items() if k == "control"],
                "reference_levels": dict(self.references),
            }
        )


def _run_ols_log(fit: _OutcomeFit) -> None:
    y, X, n, outcome = fit.y, fit.X, fit.n, fit.outcome
    ly = np.log1p(y)  # one response vector for both ols_log fits (each fit keeps it)
    res = _fit_ols_log(y, X, gram=fit.gram, keep_diagnostics=True, ly=ly)
    fit.fits[(fit.label, "ols_log")] = res
    sd_log_y = ly.std(ddof=1)
    if fit.gram is not None:  # the sample SDs of the columns from their centred cross-products
        sd_x = pd.Series(np.sqrt(np.diag(fit.gram.G) / (n - 1)), index=X.columns)
    else:
        sd_x = X.std(ddof=1)
    std_beta = {t: float(res.params[t] * sd_x[t] / sd_log_y) for t in X.columns}
    fit.tables.append(
        _rows(res, outcome=outcome, model="ols_log", term_type=fit.term_type, n=n, r2=float(res.rsquared),
              std_beta=std_beta, effect=True, method="ols_hc3")
    )
    fit.diag["converged"]["ols_log"] = True
    fit.diag["residuals"]["ols_log"] = check_residuals(res)
    cook = compute_cooks_distance(res)
    if isinstance(res, fastfit.LinearFit):  # residuals and leverage were kept for these two checks only
        del res._e, res._h
    rows = np.flatnonzero(fit.mask)
    if fit.source is None:
        fit.diag["influential"] = _influential_posts(cook, fit.posts, rows)
    else:
        fit.diag["influential"] = _influential_posts(cook, fit.source[0], fit.source[1][rows])
    fit.diag["n_cook_above_4_over_n"] = int(np.sum(cook.to_numpy() > 4.0 / n))
    del cook
    sens = _controls_sensitivity(y, X, fit.term_type, res, outcome=outcome, n=n, gram=fit.gram, ly=ly)
    if sens is not None:
        fit.fits[(fit.label, "ols_log_no_controls")] = sens[1]
        fit.sensitivity.append(sens[0])
        fit.diag["controls_sensitivity"] = {
            r["term"]: {k: v for k, v in r.items() if k not in ("outcome", "term")} for r in sens[0].to_dict("records")
        }
    fit.record_fit("ols_log", n=n, term_type=fit.term_type, method="ols_hc3")


def _run_ols_std(fit: _OutcomeFit) -> None:
    res = _fit_ols_std(fit.y, fit.X, gram=fit.gram)
    fit.fits[(fit.label, "ols_std")] = res
    std_beta = {t: float(res.params[t]) for t in fit.X.columns}
    fit.tables.append(
        _rows(res, outcome=fit.outcome, model="ols_std", term_type=fit.term_type, n=fit.n, r2=float(res.rsquared),
              std_beta=std_beta, effect=False, skip_intercept=True, method="ols_classical")
    )
    fit.diag["converged"]["ols_std"] = True
    fit.record_fit("ols_std", n=fit.n, term_type=fit.term_type, method="ols_classical")


def _count_design(
    fit: _OutcomeFit, y: np.ndarray, X: pd.DataFrame, term_type: dict[str, str], *, model: str
) -> tuple[np.ndarray, dict[str, str]]:
    """Posts and terms of a count model: a separated yes/no level is left out with its posts (and recorded).

    Quasi-complete separation (every post with a feature has 0): the feature's ML estimate is −∞ and the
    information matrix singular. Leaving out those posts and the term gives exactly the ML estimates of the
    other coefficients (the separated posts' fitted means go to 0, so they contribute nothing), with finite
    errors, and the feature is recorded as not estimable by the count model.
    """
    keep = np.ones(len(y), dtype=bool)
    terms = dict(term_type)
    for sep in _separation(X, y, term_type):
        what = "with" if sep["level"] == 1 else "without"
        message = (
            f"{fit.outcome}: all {sep['n_posts']} posts {what} {sep['term']!r} have 0 {fit.outcome} (separation): "
            f"the count models cannot estimate it (the estimate runs off towards −∞), so those posts and "
            f"{sep['term']} are left out of {model}."
        )
        if sep not in fit.diag["separation"]:
            fit.diag["separation"].append(sep)
            fit.diag["flags"].append(f"separation: {sep['term']} ({what}: all 0)")
        fit.notes.add("dropped", "separation", message, outcome=fit.outcome, model=model, term=sep["term"],
                      role=term_type.get(sep["term"], "predictor"),
                      reason=(f"all {sep['n_posts']} posts "
                              + (f"from {sep['term'][5:-1]}" if sep["term"].startswith("year[") and sep["level"] == 1
                                 else f"{what} it")
                              + f" have 0 {fit.outcome}: the count model {model} "
                              f"cannot estimate it, so it and those posts were left out of {model}"),
                      n=sep["n_posts"], level=sep["level"])
        keep &= X[sep["term"]].to_numpy() != sep["level"]
        terms.pop(sep["term"], None)
    if not keep.all():
        sub = X.loc[keep, list(terms)]
        for c in list(sub.columns):
            v = sub[c].to_numpy()
            if v.size and np.all(v == v[0]):
                fit.notes.add("dropped", "constant_in_sample",
                              f"{fit.outcome}: {terms[c]} term {c!r} is constant once the separated posts are left "
                              f"out; dropped from {model}.", outcome=fit.outcome, model=model, term=c, n=len(v))
                terms.pop(c)
    return keep, terms


def _run_count(fit: _OutcomeFit, model: str, *, y, X, term_type, offset=None, n_before: int) -> None:
    """Fit one count model (``negbin`` or ``negbin_rate``) with separation handling and the fallback path."""
    keep, terms = _count_design(fit, y, X, term_type, model=model)
    if keep.all() and list(terms) == list(X.columns):
        yk, Xk, ok = y, X, offset
    else:
        yk, Xk = y[keep], X.loc[keep, list(terms)]
        ok = offset[keep] if offset is not None else None
    # the Poisson fit of the same design: the null of the overdispersion tests, and where NB2's Newton starts
    with _one_blas_thread():
        pois = fastfit.poisson_irls(yk, fastfit.as_design(Xk), offset=ok)
    start = None if pois is None else pois[0]
    count, reason = (
        (None, "too few posts") if len(yk) <= Xk.shape[1] + 2 else fit_count_model(yk, Xk, offset=ok, start=start)
    )
    fit.diag["converged"][model] = count is not None and count.method == "nb2_ml"
    fit.diag.setdefault("fit_method", {})[model] = None if count is None else count.method
    if count is None:
        hint = ""
        vm = fit.diag["dispersion"].get("variance_to_mean", math.nan)
        if np.isfinite(vm) and vm <= 1.1:
            hint = (f" The counts are not overdispersed (variance/mean = {vm:.2f}), so the dispersion estimate runs"
                    f" to 0: a Poisson model would fit.")
        fit.notes.add("flags", "count_model_failed",
                      f"{fit.outcome}: the count model {model} could not be fitted ({reason}); no {model} rows.{hint}",
                      outcome=fit.outcome, model=model, n=len(yk))
        fit.diag["flags"].append(f"{model} did not converge")
    else:
        if count.method != "nb2_ml":
            fit.notes.add(
                "flags", "count_model_fallback",
                f"{fit.outcome}: {model} was fitted as {COUNT_METHODS[count.method]} because {count.reason}.",
                outcome=fit.outcome, model=model, n=len(yk), fit_method=count.method,
            )
            fit.diag["flags"].append(f"{model} fallback: {count.method}")
        elif count.reason:
            fit.notes.add("flags", "count_model_rescaled", f"{fit.outcome}: {model} was {count.reason}.",
                          outcome=fit.outcome, model=model, n=len(yk), fit_method=count.method, warn=False)
        res = count.res
        _flag_runaway(fit, model, res, terms, Xk)
        fit.fits[(fit.label, model)] = res
        fit.diag["dispersion"].update({f"{model}_alpha": count.alpha, f"{model}_alpha_ci": count.alpha_ci,
                                       f"{model}_alpha_method": count.method})
        llf = float(res.llf)
        pseudo = 1.0 - llf / count.llnull if np.isfinite(count.llnull) and count.llnull != 0 else np.nan
        fit.tables.append(
            _rows(res, outcome=fit.outcome, model=model, term_type=terms, n=len(yk), r2=np.nan, std_beta=None,
                  effect=True, pseudo_r2=pseudo, method=count.method)
        )
        fit.record_fit(model, n=len(yk), term_type=terms, method=count.method, reason=count.reason)
    fit.diag["overdispersion"][model] = _overdispersion(
        yk, Xk, count, offset=ok, poisson=None if pois is None else (pois[1], pois[2])
    )


#: a count-model coefficient beyond this on the log scale (a ratio of e^10 ≈ 22,000 per unit) is no estimate of
#: an effect but the sign of (quasi-)separation that the all-zero check did not catch (e.g. a level whose
#: outcomes are all but one 0): it is flagged, as is any |estimate| above SEPARATION_SUSPECT_LOG with |z| < 1.
SEPARATION_LOG = 10.0
SEPARATION_SUSPECT_LOG = 5.0


def _flag_runaway(fit: _OutcomeFit, model: str, res, terms: dict[str, str], X: pd.DataFrame | None = None) -> None:
    """Flag count-model coefficients of yes/no terms (a dummy's coefficient is the whole contrast; a number's is
    per unit, which can be large for a narrow column such as log followers) that ran off (``SEPARATION_LOG``)."""
    params = pd.Series(np.asarray(res.params, dtype=float), index=list(res.params.index))
    bse = pd.Series(np.asarray(res.bse, dtype=float), index=list(res.params.index))
    for term in terms:
        if term not in params.index:
            continue
        if X is not None and term in X.columns and not np.isin(X[term].to_numpy(), (0.0, 1.0)).all():
            continue
        b, se = float(params[term]), float(bse[term])
        z = abs(b / se) if np.isfinite(se) and se > 0 else math.nan
        if not np.isfinite(b) or abs(b) > SEPARATION_LOG or (abs(b) > SEPARATION_SUSPECT_LOG and not z >= 1.0):
            fit.diag["flags"].append(f"separation suspected: {term} ({model} estimate {b:+.3g} on the log scale)")
            fit.diag["separation"].append({"term": term, "level": None, "n_posts": None, "outcome_value": None,
                                           "model": model, "estimate": b, "z": z})
            fit.notes.add(
                "flags", "separation_suspected",
                f"{fit.outcome}: the {model} estimate for {term} is {b:+.3g} on the log scale (a ratio of "
                f"{math.exp(min(abs(b), 700)):.3g} per unit{'' if not np.isfinite(z) else f', |z| = {z:.2g}'}): "
                "no effect is that large, so the count model has (nearly) separated on it; read that model's "
                "estimates for this outcome with care.",
                outcome=fit.outcome, model=model, term=term, n=int(res.nobs) if hasattr(res, "nobs") else None,
                estimate=b, z=None if not np.isfinite(z) else z,
            )


def _run_negbin(fit: _OutcomeFit) -> None:
    _run_count(fit, "negbin", y=fit.y, X=fit.X, term_type=fit.term_type, n_before=fit.n)


def _run_negbin_rate(fit: _OutcomeFit) -> None:
    """``negbin_rate`` (outcome with log(impressions) offset) on the posts with impressions > 0."""
    outcome, posts, mask, diag = fit.outcome, fit.posts, fit.mask, fit.diag
    if outcome == EXPOSURE:
        return
    if EXPOSURE not in posts.columns or posts[EXPOSURE].isna().all():
        fit.notes.add("flags", "no_exposure",
                      f"{outcome}: the engagement-rate model (negbin_rate) needs {EXPOSURE}, which these exports do "
                      f"not report; not fitted.", outcome=outcome, model="negbin_rate")
        diag["flags"].append("negbin_rate: no impressions")
        return
    exposure = _numeric(posts[EXPOSURE])
    with np.errstate(invalid="ignore"):
        usable = mask & ~np.isnan(exposure) & (exposure > 0)
        n_zero = int((mask & ~np.isnan(exposure) & (exposure <= 0)).sum())
    n_na = int((mask & np.isnan(exposure)).sum())
    n_rate = int(usable.sum())
    diag["rate_model"] = {"exposure": EXPOSURE, "n": n_rate, "dropped": {f"{EXPOSURE} is NA": n_na, f"{EXPOSURE} is 0": n_zero}}
    if n_na or n_zero:
        fit.notes.add("dropped", "no_exposure",
                      f"{outcome}: {n_na + n_zero} of {int(mask.sum())} posts left out of the engagement-rate model "
                      f"({EXPOSURE} NA: {n_na}, {EXPOSURE} 0: {n_zero}).",
                      outcome=outcome, model="negbin_rate", n=n_na + n_zero)
    y = _numeric(posts.loc[usable, outcome])
    if usable.sum() == mask.sum():
        Xr, tt = fit.X, fit.term_type
    else:
        Xr, tt, _, _ = _build_design(posts.loc[usable, fit.predictors + fit.controls], fit.predictors, fit.controls,
                                  outcome=outcome, notes=fit.notes, references=fit.reference_levels,
                                  model="negbin_rate")
    if n_rate <= Xr.shape[1] + 2 or float(np.var(y)) == 0.0:
        fit.notes.add("flags", "too_few_posts_model",
                      f"{outcome}: too few usable posts ({n_rate}) for the engagement-rate model; not fitted.",
                      outcome=outcome, model="negbin_rate", n=n_rate)
        diag["converged"]["negbin_rate"] = False
        return
    _run_count(fit, "negbin_rate", y=y, X=Xr, term_type=tt, offset=np.log(exposure[usable]), n_before=n_rate)


@dataclass(frozen=True)
class ModelSpec:
    """One registered post-level model: what its effect means and the function that fits it."""

    name: str
    title: str
    estimand: str
    effect_scale: str
    fit: Callable[[_OutcomeFit], None]


#: the post-level models, in fitting order; ``fit_post_models(models=...)`` picks from these.
MODEL_REGISTRY: dict[str, ModelSpec] = {
    "ols_log": ModelSpec(
        "ols_log",
        "OLS on log(1 + count), HC3 errors",
        "ratio of geometric means of (1 + outcome)",
        "ratio",
        _run_ols_log,
    ),
    "ols_std": ModelSpec(
        "ols_std",
        "OLS on the raw count, everything z-scored (the published form)",
        "standardized coefficient (SDs of the outcome per SD of the term)",
        "standardized",
        _run_ols_std,
    ),
    "negbin": ModelSpec(
        "negbin",
        "negative binomial count model (NB2), HC0 errors",
        "ratio of expected counts",
        "ratio",
        _run_negbin,
    ),
    "negbin_rate": ModelSpec(
        "negbin_rate",
        "negative binomial model of engagements with log(impressions) as offset",
        "ratio of expected engagements per impression",
        "ratio",
        _run_negbin_rate,
    ),
}
assert tuple(MODEL_REGISTRY) == MODELS


def describe_estimand(model: str, outcome: str) -> str:
    """One sentence saying what a model's % effect means for ``outcome`` (so the report's words follow the model).

    ols_log: the ratio of geometric means of (1 + outcome) — the typical post, not the average count; negbin:
    the ratio of expected (average) counts; negbin_rate: the ratio of expected engagements per impression;
    ols_std: a standardized coefficient, no %.
    """
    if model == "ols_log":
        return (
            f"The % is the difference in the geometric mean of (1 + {outcome}) — roughly the typical post, not "
            f"the average — between posts that differ in the feature, the other terms held fixed."
        )
    if model == "negbin":
        return (
            f"The % is the difference in the expected (average) number of {outcome} per post between posts that "
            f"differ in the feature, the other terms held fixed."
        )
    if model == "negbin_rate":
        return (
            f"The % is the difference in expected {outcome} per {EXPOSURE.removesuffix('s')} (the rate), the "
            f"other terms held fixed."
        )
    if model == "ols_std":
        return (
            f"The estimate is a standardized coefficient: standard deviations of {outcome} per standard "
            f"deviation of the feature; it has no % reading."
        )
    raise InputError(f"unknown model {model!r}; choose from {list(MODELS)}")


_PLURAL_TYPES = {"original": "original posts", "reply": "replies", "quote": "quotes", "repost": "reposts"}


def _population_types(population) -> tuple[str, ...]:
    """The post types an ``analysis.population`` setting keeps (InputError on anything else)."""
    if isinstance(population, str):
        if population == "all":
            return POST_TYPES
        if population in POST_TYPES:
            return (population,)
        raise InputError(
            f"analysis population {population!r} is not one of {list(POPULATIONS)} or a list of post types "
            f"from {list(POST_TYPES)}"
        )
    types = tuple(dict.fromkeys(str(p) for p in population))
    bad = [p for p in types if p not in POST_TYPES]
    if bad or not types:
        raise InputError(
            f"analysis population {list(population)!r}: {bad or 'empty'}; a list must name post types from "
            f"{list(POST_TYPES)}"
        )
    return types


def _population(
    posts: pd.DataFrame, population, outcomes, notes: _Notes, *, terms=()
) -> tuple[np.ndarray, dict, bool]:
    """Which posts the models cover: (mask, the ``population`` record, whether post type is a control, every
    post's type as a code into :data:`POST_TYPES`)."""
    type_terms = [t for t in terms if t in POST_TYPE_TERMS]
    if population is None:
        population = "all" if type_terms else "original"
        chosen_by = f"default: {', '.join(type_terms)} in the model" if type_terms else "default"
    else:
        chosen_by = "setting"
    types = _population_types(population)
    kind_codes, source_codes = post_type_codes(posts)  # codes, not a million strings
    keep = np.isin(kind_codes, [POST_TYPES.index(t) for t in types])
    # a collab post published by another account (ingest: is_own_post False) is not this account's posting
    collab = (
        posts["is_own_post"].astype("boolean").fillna(True).eq(False).to_numpy(dtype=bool)
        if "is_own_post" in posts.columns
        else np.zeros(len(posts), dtype=bool)
    )
    keep &= ~collab
    control = len(types) > 1 and not type_terms
    setting = population if isinstance(population, str) else list(types)
    if "platform" in posts.columns:  # the text rules on the distinct values only; NA reads "unknown"
        codes, uniques = pd.factorize(posts["platform"], use_na_sentinel=True)
        texts = [*pd.Series(uniques).astype("string").fillna("unknown"), "unknown"]  # code -1 (NA): the last
        platform = _sorted_categorical(codes, texts)
    else:
        platform = _sorted_categorical(np.zeros(len(posts), dtype=np.int64), [""])
    counts = []
    outcome_cols = [o for o in dict.fromkeys(outcomes) if o in posts.columns]
    # categories (sorted like the texts) rather than a million strings to group by
    frame = pd.DataFrame({"platform": platform, "post_type": _sorted_categorical(kind_codes, list(POST_TYPES))})
    for o in outcome_cols:
        frame[o] = _numeric(posts[o])
    for (plat, ptype), g in frame.groupby(["platform", "post_type"], sort=True, observed=True):
        row = {"platform": plat or None, "post_type": ptype, "n": len(g), "in_models": ptype in types}
        for o in outcome_cols:
            v = g[o].dropna()
            row[f"median_{o}"] = float(v.median()) if len(v) else None
        counts.append(row)
    record = {
        "setting": setting,
        "post_types": list(types),
        "post_type_controlled": control,
        "chosen_by": chosen_by,
        "post_type_terms": type_terms,
        "n_in": int(keep.sum()),
        "n_out": int((~keep).sum()),
        "n_collab_out": int(collab.sum()),
        "counts": counts,
        "post_type_source": _source_counts(source_codes),
        "why": (
            "Original posts only by default: replies and reposts reach people differently (a reply is shown "
            "mostly to the conversation, a repost's numbers belong to another account's post), they rarely carry "
            "the features being compared, and a single post-type term would assume every feature works the same "
            "way in replies as in original posts."
        ),
    }
    # a post type that dominates and differs in reach: say so, whichever population is modelled
    first = outcome_cols[0] if outcome_cols else None
    for plat, g in frame.groupby("platform", sort=True, observed=True):
        n_plat = len(g)
        orig = g.loc[g["post_type"] == "original", first].dropna() if first else pd.Series(dtype=float)
        for ptype, sub in g.groupby("post_type", observed=True):
            share = len(sub) / n_plat
            if ptype == "original" or share < DOMINANT_SHARE or first is None:
                continue
            v = sub[first].dropna()
            if len(v) < MIN_LEVEL_POSTS or len(orig) < MIN_LEVEL_POSTS:
                continue
            med_t, med_o = float(v.median()), float(orig.median())
            ratio = (med_t + 1.0) / (med_o + 1.0)
            p = float(stats.mannwhitneyu(v, orig, alternative="two-sided").pvalue)
            if (ratio >= REACH_RATIO or ratio <= 1.0 / REACH_RATIO) and p < DOMINANCE_P:
                handled = (
                    f"post type is in the models ({', '.join(type_terms)})"
                    if type_terms and ptype in types
                    else f"post type is controlled in the models (analysis.population: {setting})"
                    if control and ptype in types
                    else f"they are left out of the models (analysis.population: {setting})"
                    if ptype not in types
                    else f"they are the population modelled (analysis.population: {setting})"
                )
                where = f" on {plat}" if plat else ""
                notes.add(
                    "flags",
                    "post_type_dominates",
                    f"{len(sub):,} of {n_plat:,} posts{where} ({100 * share:.0f}%) are {_PLURAL_TYPES[ptype]}, with median "
                    f"{first} {med_t:,.0f} against {med_o:,.0f} for original posts (Mann–Whitney p "
                    f"{_fmt_p(p)}): an analysis pooling them would mostly compare post types; {handled}.",
                    n=len(sub),
                    post_type=ptype,
                    share=share,
                    median=med_t,
                    median_original=med_o,
                    metric=first,
                    mannwhitney_p=p,
                    **({"platform_of_posts": plat} if plat else {}),
                )
    if collab.any():
        authors = (sorted(posts.loc[collab, "author"].dropna().astype(str).unique())
                   if "author" in posts.columns else [])
        notes.add(
            "flags",
            "collab_posts_left_out",
            f"{int(collab.sum()):,} collab post(s) published by another account"
            + (f" ({', '.join(authors[:5])}{' …' if len(authors) > 5 else ''})" if authors else "")
            + " are left out of the models: their reach is the other account's audience, not this one's.",
            n=int(collab.sum()),
        )
    return keep, record, control, kind_codes


def _sorted_categorical(codes: np.ndarray, texts: list[str]) -> pd.Categorical:
    """``pd.Categorical`` of the texts ``texts[codes]`` (categories: the texts present, sorted), built from the
    codes: a million rows are never turned into strings."""
    present = sorted({texts[c] for c in np.unique(codes)}) if len(codes) else []
    at = {t: i for i, t in enumerate(present)}
    lookup = np.array([at.get(t, -1) for t in texts], dtype=np.int64)
    return pd.Categorical.from_codes(lookup[codes] if len(codes) else np.zeros(0, dtype=np.int64),
                                     categories=pd.Index(present, dtype=object))


def _source_counts(codes: np.ndarray) -> dict[str, int]:
    """Posts per post-type source, ordered as ``Series.value_counts`` orders them (descending; ties in order of
    first appearance), from the codes."""
    values, first, n = np.unique(codes, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    counts = pd.Series(pd.array(n[order], dtype="Int64"),
                       index=pd.Index([POST_TYPE_SOURCES[v] for v in values[order]], dtype="string"))
    return {str(k): int(v) for k, v in counts.sort_values(ascending=False).items()}


def reach_by_type(
    posts: pd.DataFrame, *, column: str = "media_type", metrics=("impressions", "engagements")
) -> pd.DataFrame:
    """Return a descriptive table of reach by post type: n and median of each metric per type (and platform).

    Parameters
    ----------
    posts
        Posts (or posts_coded) with ``column`` (``media_type`` by default; ``post_type`` works too).
    metrics
        Count columns summarized; a metric absent or entirely NA for a platform gives NA (never 0).

    Returns
    -------
    DataFrame
        ``platform`` (NA when the table has no platform column), ``type`` (lower-cased; "unknown" where the
        export does not say), ``n``, ``share`` (of the platform's posts), and per metric ``n_<metric>`` (posts
        where it is reported) and ``median_<metric>``. Sorted by platform and descending n.
    """
    if column not in posts.columns:
        raise InputError(f"reach_by_type: posts have no column {column!r}", column=column)
    codes, texts = _level_codes(column, posts[column])  # the text rules on the distinct values only
    # group on integer codes whose order is the texts' order (platform NA last, as groupby(dropna=False) puts it)
    type_texts = sorted({*texts, "unknown"})
    at = {t: i for i, t in enumerate(type_texts)}
    type_code = np.array([at[t] for t in texts] + [at["unknown"]], dtype=np.int64)[codes]  # NA (-1): "unknown"
    if "platform" in posts.columns:
        pcodes, puniques = pd.factorize(posts["platform"], use_na_sentinel=True)
        ptexts = pd.Series(puniques).astype("string")
    else:
        pcodes, ptexts = np.full(len(posts), -1, dtype=np.int64), pd.Series([], dtype="string")
    plat_texts = sorted({t for t in ptexts if not pd.isna(t)})
    pat = {t: i for i, t in enumerate(plat_texts)}
    na_code = len(plat_texts)
    plat_code = np.array([na_code if pd.isna(t) else pat[t] for t in ptexts] + [na_code], dtype=np.int64)[pcodes]
    key = plat_code * len(type_texts) + type_code
    groups, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
    plat_of, type_of = np.divmod(groups, len(type_texts))
    out = pd.DataFrame({
        "platform": pd.array([None if p == na_code else plat_texts[p] for p in plat_of], dtype="string"),
        "type": np.array([type_texts[t] for t in type_of], dtype=object),
        "n": sizes.astype(np.int64),
    })
    present = [m for m in metrics if m in posts.columns]
    for m in metrics:
        if m in present:
            grouped = pd.Series(_numeric(posts[m])).groupby(inverse, sort=True)
            out[f"n_{m}"] = grouped.count().reindex(range(len(groups)), fill_value=0).to_numpy()
            out[f"median_{m}"] = grouped.median().reindex(range(len(groups))).to_numpy()
        else:
            out[f"n_{m}"] = 0
            out[f"median_{m}"] = np.nan
    totals = out.groupby("platform", dropna=False)["n"].transform("sum")
    out.insert(3, "share", out["n"] / totals)
    return out.sort_values(["platform", "n"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _platform_groups(posts: pd.DataFrame, pooled: bool) -> list[tuple[str | None, np.ndarray, bool]]:
    """(platform, row mask, pooled?) per model group: one per platform, plus a labelled pooled group on request."""
    if "platform" not in posts.columns or posts["platform"].isna().all():
        return [(None, np.ones(len(posts), dtype=bool), False)]
    # the text rules on the distinct values only; NA reads "unknown"
    codes, uniques = pd.factorize(posts["platform"], use_na_sentinel=True)
    texts = [str(t) for t in pd.Series(uniques).astype("string").str.strip().str.lower()] + ["unknown"]
    present = np.unique(codes)  # -1 (NA) sorts first: its text is the last of ``texts``
    names = sorted({texts[c] for c in present})
    groups = [
        (p, np.isin(codes, [c for c in present if texts[c] == p]), False)
        for p in names
    ]
    if pooled and len(names) > 1:
        groups.append((POOLED, np.ones(len(posts), dtype=bool), True))
    return groups


#: the platform label of a pooled model (all platforms in one model, platform as a control).
POOLED = "pooled"


def fit_post_models(
    posts_coded: pd.DataFrame,
    *,
    outcomes=("impressions", "engagements"),
    predictors=DEFAULT_PREDICTORS,
    controls=DEFAULT_CONTROLS,
    models=MODELS,
    population=DEFAULT_POPULATION,
    reference_levels: dict[str, str] | None = None,
    pooled: bool = False,
) -> PostModels:
    """Return the post-level models of each outcome as a tidy table with warnings, diagnostics and records.

    Parameters
    ----------
    posts_coded : DataFrame
        The canonical posts table plus feature columns (``has_*`` boolean, ``n_*`` counts, ``year``,
        ``followers_at_post``, optionally ``media_type``, ``post_type``, ``platform``). Not modified.
    outcomes : sequence of str
        Count columns to model (Int64, NA = not reported).
    predictors : sequence of str
        Feature columns whose effects are reported. An absent, entirely-NA or constant predictor is dropped
        with a record; ``media_type`` (and any text column) enters as dummies against a stated reference level.
        A group with fewer than ``MIN_LEVEL_POSTS`` posts is "too few posts to estimate" (its posts are left out).
    controls : sequence of str
        Adjustment columns (see the module docstring for how ``followers_at_post`` and ``year`` enter).
    models : sequence of str
        Names in :data:`MODEL_REGISTRY`: ``"ols_log"`` (primary), ``"ols_std"`` (the published form),
        ``"negbin"``, ``"negbin_rate"`` (every outcome but impressions, where impressions are reported).
    population : str or list of str or None
        Which posts are modelled (``analysis.population``): ``"original"`` (original posts only),
        ``"all"`` (every post, with ``post_type`` as a control, reference ``original``, unless a post-type
        term such as ``is_reply`` is already a predictor or control), or a list of post types. None (the
        default): ``original``, or ``all`` when a post-type term is among the predictors or controls. Post types come from ``post_type`` where ingest gives it, else from ``is_reply`` /
        ``is_repost`` / the text (:func:`workbench.features.post_types`).
    reference_levels : dict, optional
        Categorical column → reference level (e.g. ``{"media_type": "photo"}``); by default ``media_type``
        uses ``none`` (text only) when present, else its most common level; ``post_type`` uses ``original``.
    pooled : bool
        With several platforms, also fit one pooled model (platform as a control), labelled ``pooled``.

    Returns
    -------
    PostModels
        ``table`` has one row per platform × outcome × model × term (the ``Intercept`` is omitted for ``ols_std``).
        ``p_holm`` (Holm) and ``p_bh`` (Benjamini–Hochberg) are adjusted within platform × outcome × model
        over the predictor terms; ``p_holm_across_outcomes`` over the predictor terms of every outcome of a
        platform × model (the family of a sentence that counts effects across outcomes). With one platform,
        ``diagnostics`` and ``fits`` are keyed by outcome as always; with several, by ``"platform: outcome"``.
        ``records`` holds the typed records written to models.json (see :func:`workbench.results.save_post_models`).

    Notes
    -----
    ``ols_log`` CIs and p-values use the t distribution with the residual degrees of freedom and the HC3
    covariance (Long & Ervin 2000), as R's ``coeftest(fit, vcovHC(fit, "HC3"))``; ``std_beta`` is
    b·sd(x)/sd(log1p y). ``negbin`` uses normal-theory intervals from the HC0 sandwich over (β, α) with the
    observed information, or the fallback of :func:`fit_count_model`. Effects on the log scale are reported as
    100·(exp(b) − 1) %.
    """
    unknown = [m for m in models if m not in MODEL_REGISTRY]
    if unknown:
        raise InputError(f"unknown model(s) {unknown}; choose from {list(MODEL_REGISTRY)}")
    references = dict(reference_levels or {})
    notes = _Notes()
    keep, population_record, type_control, kind = _population(
        posts_coded, population, outcomes, notes, terms=list(predictors) + list(controls)
    )
    # only the columns the models read, in their order (at a million posts every column copied costs 9 MB, a
    # text column far more): post_id and permalink are read from posts_coded itself for the few influential
    # posts, through ``origin`` (the rows of posts_all as positions in posts_coded)
    wanted = {*outcomes, *predictors, *controls, EXPOSURE, "platform", "post_type", "media_type"}
    columns = [c for c in posts_coded.columns if c in wanted or c in CATEGORICAL_COLUMNS]
    features = [c for c in posts_coded.columns
                if isinstance(c, str) and (c.startswith(("has_", "n_")) or c in CATEGORICAL_COLUMNS)]
    origin = np.flatnonzero(keep)
    posts_all = posts_coded.loc[keep, columns]
    if type_control:  # post types are decided row by row, so those of the full table apply
        posts_all = posts_all.assign(post_type=np.array(POST_TYPES, dtype=object)[kind[keep]])
        features += [] if "post_type" in features else ["post_type"]
    groups = _platform_groups(posts_all, pooled)
    several = len(groups) > 1
    tables, diagnostics, fits, sensitivity, fitted = [], {}, {}, [], []
    if not len(posts_all):
        notes.add("flags", "empty_population",
                  f"No posts in the analysis population ({population_record['setting']}): "
                  f"{population_record['n_out']} posts are of other types; no models fitted.", n=0)
    for platform, rows, is_pooled in groups if len(posts_all) else []:
        notes.platform = platform
        notes.prefix = f"{platform}: " if several else ""
        posts = posts_all if rows.all() else posts_all.loc[rows]
        extra = (["post_type"] if type_control else []) + (["platform"] if is_pooled else [])
        preds = _screen_columns(posts, predictors, role="predictor", notes=notes, features=features)
        ctrls = [
            c for c in _screen_columns(posts, list(controls) + extra, role="control", notes=notes, features=features)
            if c not in preds
        ]
        if not preds:
            notes.add("flags", "no_predictors", "No usable predictor left (see the warnings above); no models fitted.")
            continue
        designs: list = []
        for outcome in dict.fromkeys(outcomes):
            label = f"{platform}: {outcome}" if several else outcome
            _fit_outcome(posts, outcome, label=label, predictors=preds, controls=ctrls, models=models,
                         references=references, notes=notes, diagnostics=diagnostics, tables=tables, fits=fits,
                         sensitivity=sensitivity, fitted=fitted, platform=platform,
                         source=(posts_coded, origin if rows.all() else origin[rows]), designs=designs)
    notes.platform, notes.prefix = None, ""

    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    table = table[list(TABLE_COLUMNS)].astype(
        {"outcome": "string", "model": "string", "term": "string", "term_type": "string", "n": "int64",
         "platform": "string", "fit_method": "string"}
    )
    float_cols = [c for c in TABLE_COLUMNS if c not in STRING_COLUMNS + ("n",)]
    table[float_cols] = table[float_cols].astype("float64")
    holm_families = _holm_families(table)
    sens_table = (
        pd.concat(sensitivity, ignore_index=True) if sensitivity else pd.DataFrame(columns=list(SENSITIVITY_COLUMNS))
    )
    model, reason = choose_primary_model(diagnostics)
    by_outcome = {o: _log_scale_problems(d) for o, d in _outcome_entries(diagnostics).items()}
    diagnostics["primary"] = {"model": model, "reason": reason, "log_scale_problems": by_outcome}
    diagnostics["sensitivity"] = sens_table.to_dict("records")
    platforms = [g[0] for g in groups if g[0] is not None]
    records = {
        "schema_version": SCHEMA_VERSION,
        "platforms": platforms,
        "pooled": bool(pooled and several),
        "population": population_record,
        "fitted_terms": fitted,
        "dropped": notes.dropped,
        "flags": notes.flags,
        "holm_family": holm_families,
        "estimands": {
            m: {"model": m, "title": MODEL_REGISTRY[m].title, "estimand": MODEL_REGISTRY[m].estimand,
                "effect_scale": MODEL_REGISTRY[m].effect_scale}
            for m in models
        },
        "minimum_posts_per_group": MIN_LEVEL_POSTS,
    }
    if any(c in posts_all.columns for c in ("media_type",)) and len(posts_all):
        reach = reach_by_type(posts_all, column="media_type", metrics=tuple(o for o in outcomes))
        records["reach_by_type"] = [
            {k: (None if pd.isna(v) else v) for k, v in r.items()} for r in reach.to_dict("records")
        ]
    return PostModels(
        table=table.reset_index(drop=True),
        warnings=notes.messages,
        diagnostics=diagnostics,
        fits=fits,
        sensitivity=sens_table,
        records=records,
    )


def _holm_families(table: pd.DataFrame) -> list[dict]:
    """Holm across outcomes per platform × model (filled into ``p_holm_across_outcomes``) and the family records."""
    families = []
    pred = (table["term_type"] == "predictor") & table["p_value"].notna()
    plat = table["platform"].fillna("")
    for (p, model), idx in table[pred].groupby([plat[pred], table.loc[pred, "model"]], sort=False).groups.items():
        rows = table.loc[idx]
        table.loc[idx, "p_holm_across_outcomes"] = _holm(rows["p_value"].to_numpy())
        outcomes = list(dict.fromkeys(rows["outcome"]))
        for o in outcomes:
            sub = rows[rows["outcome"] == o]
            families.append({
                "platform": p or None, "model": model, "outcome": o, "family": "predictors", "method": "holm",
                "size": len(sub), "terms": sub["term"].tolist(),
                "description": f"{len(sub)} predictor term{'s' if len(sub) != 1 else ''} for {o} ({model})",
                "p_value": sub["p_value"].tolist(), "p_adjusted": sub["p_holm"].tolist(), "column": "p_holm",
            })
        if len(outcomes) > 1:
            families.append({
                "platform": p or None, "model": model, "outcome": None, "family": "predictors_across_outcomes",
                "method": "holm", "size": len(rows), "terms": [f"{o}: {t}" for o, t in zip(rows["outcome"], rows["term"], strict=True)],
                "description": f"{len(rows)} predictor terms across {len(outcomes)} outcomes ({', '.join(outcomes)}; {model})",
                "p_value": rows["p_value"].tolist(), "p_adjusted": table.loc[idx, "p_holm_across_outcomes"].tolist(),
                "column": "p_holm_across_outcomes",
            })
    return families


def _fit_outcome(posts, outcome, *, label, predictors, controls, models, references, notes, diagnostics, tables,
                 fits, sensitivity, fitted, platform, source=None, designs: list | None = None) -> None:
    """Fit every requested model of one outcome on one platform's posts (appends to the shared lists).

    ``source``: (the caller's posts table, the positions of ``posts``' rows in it), where the influential posts'
    ids and links are read (``posts`` itself when None). ``designs``: the (design, cross-products) pairs of the
    platform's outcomes fitted before; an identical design is shared rather than kept twice.
    """
    if outcome not in posts.columns:
        notes.add("flags", "outcome_missing", f"Outcome {outcome!r} is not a column of the coded posts; not modelled.",
                  outcome=outcome)
        return
    if posts[outcome].isna().all():
        notes.add("flags", "outcome_not_reported",
                  f"Outcome {outcome!r} is entirely NA (not reported by these exports); not modelled.", outcome=outcome)
        return
    used = predictors + controls
    mask, reasons = _usable_mask(posts, outcome, used)
    n_total = len(posts)
    diag: dict = {
        "n": int(mask.sum()), "n_total": n_total, "n_dropped": 0, "dropped": reasons, "terms": {},
        "reference_levels": {}, "vif": {}, "vif_flags": [], "flags": [], "dispersion": {}, "converged": {},
        "zero_share": math.nan, "residuals": {}, "overdispersion": {}, "influential": [], "separation": [],
        "platform": platform, "outcome": outcome,
    }
    diagnostics[label] = diag
    n_na = n_total - int(mask.sum())
    if n_na:
        detail = ", ".join(f"{k}: {v}" for k, v in reasons.items())
        notes.add("dropped", "missing_values",
                  f"{outcome}: {n_na} of {n_total} posts dropped for missing values ({detail}).",
                  outcome=outcome, n=n_na, reasons=reasons)
    sample_idx = np.flatnonzero(mask)
    first = posts.iloc[sample_idx, [posts.columns.get_loc(c) for c in used]]  # one copy of the used columns
    rare_keep, exhausted = _rare_levels(first, predictors, controls, outcome=outcome, notes=notes, diag=diag)
    predictors = [c for c in predictors if c not in exhausted]
    controls = [c for c in controls if c not in exhausted]
    if not rare_keep.all():
        n_rare = int((~rare_keep).sum())
        reasons[f"fewer than {MIN_LEVEL_POSTS} posts in their group"] = n_rare
        mask = mask.copy()
        mask[sample_idx[~rare_keep]] = False
    n = int(mask.sum())
    diag.update(n=n, n_dropped=n_total - n)
    sample = first if rare_keep.all() else first[rare_keep]
    del first
    y = _numeric(posts[outcome].iloc[np.flatnonzero(mask)])
    X, term_type, used_refs, gram = _build_design(sample, predictors, controls, outcome=outcome, notes=notes,
                                            references=references, designs=designs)
    del sample
    diag["terms"] = dict(term_type)
    diag["reference_levels"] = used_refs
    if n <= X.shape[1] + 2:
        notes.add("flags", "too_few_posts_model",
                  f"{outcome}: only {n} usable posts for {X.shape[1] + 1} coefficients; not modelled.",
                  outcome=outcome, n=n)
        diag["flags"].append("too few posts")
        return
    if not any(t == "predictor" for t in term_type.values()):
        notes.add("flags", "no_predictors", f"{outcome}: no predictor left in the posts used; not modelled.",
                  outcome=outcome, n=n)
        diag["flags"].append("no predictors")
        return
    if float(np.var(y)) == 0.0:
        notes.add("flags", "constant_outcome", f"{outcome}: every used post has the same value ({y[0]:g}); not modelled.",
                  outcome=outcome, n=n)
        diag["flags"].append("constant outcome")
        return
    vif = _vif_from_cross(gram.G, list(X.columns))
    diag["vif"] = {k: float(v) for k, v in vif.items()}
    diag["vif_flags"] = [k for k, v in vif.items() if v > VIF_FLAG]
    if diag["vif_flags"]:
        diag["flags"].append(f"VIF > {VIF_FLAG:g}: {', '.join(diag['vif_flags'])}")
        notes.add("flags", "high_vif", f"{outcome}: VIF above {VIF_FLAG:g} for {', '.join(diag['vif_flags'])}.",
                  outcome=outcome, n=n, warn=False, terms=list(diag["vif_flags"]))
    diag["zero_share"] = float(np.mean(y == 0))
    mean, var = float(y.mean()), float(y.var(ddof=1))
    diag["dispersion"] = {"mean": mean, "variance": var, "variance_to_mean": var / mean if mean > 0 else math.nan}
    ctx = _OutcomeFit(outcome=outcome, posts=posts, mask=mask, y=y, X=X, term_type=term_type, references=used_refs,
                      predictors=predictors, controls=controls, reference_levels=references, diag=diag,
                      notes=notes, label=label, gram=gram, source=source)
    with _one_blas_thread():
        for name in MODEL_REGISTRY:
            if name in models:
                MODEL_REGISTRY[name].fit(ctx)
    for t in ctx.tables:
        t["platform"] = platform
    tables.extend(ctx.tables)
    fits.update(ctx.fits)
    sensitivity.extend(rows.assign(platform=platform) for rows in ctx.sensitivity)
    fitted.extend(ctx.fitted)


# --------------------------------------------------------------------------------------------------
# Plain-language effects
# --------------------------------------------------------------------------------------------------

from .vocab import CONTROL_NAMES as _CONTROL_NAMES  # noqa: E402 (one vocabulary for names and phrases)
from .vocab import COUNT_NOUNS as _COUNT_NOUNS  # noqa: E402
from .vocab import FEATURE_PHRASES as _PHRASES  # noqa: E402


def _article(words: str) -> str:
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words


def _feature_phrase(term: str) -> tuple[str, str]:
    """(kind, phrase) for a term: kind 'binary' → 'posts with <phrase>', 'count' → 'each additional <phrase>'."""
    if "[" in term and term.endswith("]"):
        name, level = term[:-1].split("[", 1)
        return "binary", f"{name.replace('_', ' ')} '{level}'"
    if term.startswith("has_"):
        key = term[4:]
        return "binary", _PHRASES.get(key, _article(key.replace("_", " ")))
    if term.startswith("is_"):  # is_reply → "Posts that are a reply (vs. posts that are not)"
        return "flag", term[3:].replace("_", " ")
    if term.startswith("n_"):
        key = term[2:]
        noun = _COUNT_NOUNS.get(key, key[:-1] if key.endswith("s") else key)
        return "count", noun.replace("_", " ")
    return "count", f"unit of {term}"


def _fmt_pct(x: float, *, signed: bool = False) -> str:
    x = round(x, 1)  # so that 9.99 prints as 10%, not 10.0%
    digits = 0 if abs(x) >= 10 else 1
    s = f"{abs(x):.{digits}f}%"
    if not signed:
        return s
    return ("−" if x < 0 else "+") + s


def _fmt_num(x: float, *, signed: bool = False) -> str:
    s = f"{abs(x):.2f}"
    if not signed:
        return ("−" if x < 0 else "") + s
    return ("−" if x < 0 else "+") + s


def _holding_clause(table: pd.DataFrame, term: str) -> str:
    others = table.loc[(table["term_type"] == "predictor") & (table["term"] != term), "term"]
    controls = []
    for t in table.loc[table["term_type"] == "control", "term"]:
        base = t.split("[", 1)[0]
        name = _CONTROL_NAMES.get(base, base.replace("_", " "))
        if name not in controls:
            controls.append(name)
    parts = (["the other features"] if len(others) else []) + controls
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f", holding {listed} fixed"


def _nominal_only(row, alpha: float) -> bool:
    """True when a term is significant before the Holm adjustment but not after it."""
    p_holm = getattr(row, "p_holm", np.nan)
    return pd.notna(p_holm) and p_holm >= alpha and pd.notna(row.p_value) and row.p_value < alpha


def describe_effects(
    table: pd.DataFrame,
    *,
    outcome: str,
    model: str = "ols_log",
    alpha=0.05,
    reference_levels: dict[str, str] | None = None,
) -> list[str]:
    """Return one plain-language sentence per predictor of one outcome × model.

    Parameters
    ----------
    table : DataFrame
        ``PostModels.table`` (or ``regression.csv`` read back).
    outcome, model : str
        Which fit to describe.
    alpha : float
        Significance level, judged on the Holm-adjusted p (``p_holm``) where present, else ``p_value``.
        The intervals quoted are the table's 95% intervals whatever ``alpha`` is.

    Returns
    -------
    list of str
        E.g. "Posts with a poll received 32% more impressions (95% CI 18% to 47%), holding the other
        features, audience size and year fixed." Non-significant effects are stated as no detectable
        difference with the range the data are compatible with. For ``ols_std`` (no % effect) the
        standardized β is quoted instead; for ``negbin_rate`` the outcome reads "engagements per
        impression" (the engagement rate). Empty when the table has this outcome but no rows of ``model``
        (a model that did not converge); an outcome absent from the table is an InputError.
    """
    if not (table["outcome"] == outcome).any():
        have = sorted({str(o) for o in table["outcome"]})
        raise InputError(f"no rows for outcome {outcome!r} in the regression table; it has outcomes {have}")
    sub = table[(table["outcome"] == outcome) & (table["model"] == model)]
    if sub.empty:  # e.g. negbin did not converge for this outcome: fit_post_models' warnings say why
        return []
    if "term_type" in sub.columns:
        preds = sub[sub["term_type"] == "predictor"]
    else:
        preds = sub[
            (sub["term"] != "Intercept") & ~sub["term"].str.contains(r"^year\[|followers", regex=True)
        ]
    # the rate model's effects are on engagements per impression, and the sentences say so
    noun = f"{outcome} per {EXPOSURE.removesuffix('s')}" if model == "negbin_rate" else outcome
    sentences = []
    for row in preds.itertuples(index=False):
        kind, phrase = _feature_phrase(row.term)
        p = (
            row.p_holm
            if "p_holm" in sub.columns and pd.notna(getattr(row, "p_holm", np.nan))
            else row.p_value
        )
        significant = pd.notna(p) and p < alpha
        holding = _holding_clause(sub, row.term)
        if kind == "flag":
            kind, subject, posts_with = "binary", f"Posts that are {_article(phrase)}", f"posts that are {_article(phrase)}"
        else:
            level = re.match(r"^(?P<column>[^\[]+)\[(?P<level>.*)\]$", row.term)
            ref = (reference_levels or {}).get(level["column"]) if level else None
            if ref is not None:  # a level of a categorical feature is compared with the reference level
                phrase = f"{phrase} (against {level['column'].replace('_', ' ')} '{ref}')"
            subject = f"Posts with {phrase}" if kind == "binary" else f"Each additional {phrase}"
            posts_with = f"posts with {phrase}"
        pct = pd.notna(row.effect_pct) and pd.notna(getattr(row, "effect_pct_ci_low", np.nan))
        if pct:
            lo, hi, eff = row.effect_pct_ci_low, row.effect_pct_ci_high, row.effect_pct
            if significant:
                word = "more" if eff > 0 else "fewer"
                verb = "received" if kind == "binary" else "was associated with"
                if eff > 0:
                    ci = f"95% CI {_fmt_pct(lo)} to {_fmt_pct(hi)}"
                else:
                    ci = f"95% CI {_fmt_pct(hi)} to {_fmt_pct(lo)} fewer"
                sentences.append(f"{subject} {verb} {_fmt_pct(eff)} {word} {noun} ({ci}){holding}.")
            elif _nominal_only(row, alpha):
                # the unadjusted CI excludes zero but the Holm-adjusted p does not clear alpha: say both
                word = "more" if eff > 0 else "fewer"
                verb = "received" if kind == "binary" else "was associated with"
                sentences.append(
                    f"{subject} {verb} {_fmt_pct(eff)} {word} {noun} (95% CI {_fmt_pct(lo, signed=True)} to "
                    f"{_fmt_pct(hi, signed=True)}){holding}, but with {len(preds)} features tested at once this "
                    f"could be chance (Holm-adjusted p = {_fmt_num(p)}); treat it as a lead to check, not a finding."
                )
            else:
                where = f"for {posts_with}" if kind == "binary" else f"per additional {phrase}"
                sentences.append(
                    f"No detectable difference in {noun} {where}; the data are compatible with "
                    f"{_fmt_pct(lo, signed=True)} to {_fmt_pct(hi, signed=True)}."
                )
        else:
            est, lo, hi = row.estimate, row.ci_low, row.ci_high
            beta = f"standardized β {_fmt_num(est)} (95% CI {_fmt_num(lo)} to {_fmt_num(hi)})"
            if significant:
                direction = "higher" if est > 0 else "lower"
                verb = "had" if kind == "binary" else "went with"
                sentences.append(f"{subject} {verb} {direction} {noun}: {beta}{holding}.")
            else:
                where = f"for {posts_with}" if kind == "binary" else f"per additional {phrase}"
                sentences.append(f"No detectable difference in {noun} {where}: {beta}{holding}.")
    return sentences
