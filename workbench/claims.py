"""Published claims side by side with the account's own estimates ("How this account compares", issue 18).

The claims ship in ``workbench/data/claims.yml`` (claim, source, population, metric, effect …); a dataset card
adds its own under ``claims:`` (validated in :mod:`workbench.dataset`). For each claim that applies to the
account, :func:`compare_claims` finds the account's estimate with its 95% interval — from ``regression.csv``
(the post-level models), ``growth.json``, the posts themselves (hashtags), :mod:`workbench.timing` and
:mod:`workbench.campaigns` — and gives a verdict:

* **consistent** — the published value lies inside the account's interval and the interval excludes "no
  effect" (or the claim is one of direction and the interval is on the claimed side);
* **lower** / **higher** — the whole interval is below / above the published value;
* **cannot tell** — no estimate (the reason and what input would make one possible are given), or an interval
  so wide that it holds both the published value and "no effect";
* **not applicable** — an ad benchmark when the dataset has no paid-campaign data (the section omits these).

Verdicts describe association in this account's posts; they are not advice and not causal effects.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .dataset import CLAIM_KEYS, CLAIM_METRICS, CLAIM_REQUIRED
from .vocab import control_name, label_feature, platform_name

SCHEMA_VERSION = 1
#: the value of "no effect" on each statistic's scale
NULL_VALUE = {"estimate": 0.0, "std_beta": 0.0, "effect_pct": 0.0, "ratio": 1.0, "above": 1.0}


@dataclass
class ClaimComparison:
    """One claim beside the account's estimate."""

    id: str
    claim: str
    source: str
    population: str
    metric: str
    statistic: str
    published: float
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None
    verdict: str
    explanation: str
    note: str = ""
    origin: str = "package"  # package or card
    #: whose posts the estimate is from (review15 M9: each platform is modelled apart, so a claim is compared on
    #: each platform's own posts, one row per platform); None: one platform, or not a per-post estimate
    platform: str | None = None
    #: what was estimated, on which posts, with which terms (e.g. "ols_std of impressions, x, 24 posts")
    basis: str = ""


@dataclass
class ClaimsResult:
    """All comparisons; ``to_dict``/``from_dict`` round-trip through JSON."""

    comparisons: list[ClaimComparison] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClaimsResult:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"claims schema_version {d.get('schema_version')!r}; this workbench reads "
                             f"{SCHEMA_VERSION}. Re-run the analysis.")
        return cls([ClaimComparison(**c) for c in d.get("comparisons", [])], d["schema_version"])

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.comparisons])


def load_claims(dataset=None) -> list[dict[str, Any]]:
    """The package's claims, then the card's own (``origin`` says which); a card claim with a package id
    replaces it."""
    text = resources.files("workbench").joinpath("data/claims.yml").read_text(encoding="utf-8")
    claims = [dict(c, origin="package") for c in yaml.safe_load(text)]
    for c in claims:  # the shipped file is held to the card's rules
        missing = [k for k in CLAIM_REQUIRED if k not in c]
        unknown = [k for k in c if k not in (*CLAIM_KEYS, "origin")]
        if missing or unknown or c["metric"] not in CLAIM_METRICS:
            raise ValueError(f"workbench/data/claims.yml: claim {c.get('id')!r} is malformed "
                             f"(missing {missing}, unknown {unknown}, metric {c.get('metric')!r})")
    if dataset is not None:
        own = [dict(pairs, origin="card") for pairs in getattr(dataset, "claims", ())]
        for c in own:  # the card keeps a window as pairs of tuples (hashable); back to a map of lists
            if isinstance(c.get("window"), tuple):
                c["window"] = {k: list(v) for k, v in c["window"]}
        ids = {c["id"] for c in own}
        claims = [c for c in claims if c["id"] not in ids] + own
    return claims


def verdict(estimate: float | None, lo: float | None, hi: float | None, published: float, *,
            statistic: str) -> tuple[str, str]:
    """``(verdict, explanation)`` for a published value against an estimate and its 95% interval."""
    if estimate is None or lo is None or hi is None or not all(map(math.isfinite, (estimate, lo, hi))):
        return "cannot tell", "no estimate with a finite interval"
    null = NULL_VALUE.get(statistic, 0.0)
    if statistic == "above":  # a claim of direction only: the account's ratio above 1
        if lo > null:
            return "consistent", f"the whole interval [{lo:.3g}, {hi:.3g}] is above {null:g}"
        if hi < null:
            return "lower", f"the whole interval [{lo:.3g}, {hi:.3g}] is below {null:g}: the opposite direction"
        return "cannot tell", f"the interval [{lo:.3g}, {hi:.3g}] includes {null:g} (no difference)"
    if hi < published:
        return "lower", f"the whole interval [{lo:.3g}, {hi:.3g}] is below the published {published:g}"
    if lo > published:
        return "higher", f"the whole interval [{lo:.3g}, {hi:.3g}] is above the published {published:g}"
    if lo <= null <= hi and published != null:
        return "cannot tell", (f"the interval [{lo:.3g}, {hi:.3g}] holds both the published {published:g} and "
                               f"no effect ({null:g}): these posts cannot tell them apart")
    return "consistent", f"the published {published:g} lies inside the interval [{lo:.3g}, {hi:.3g}]"


# ---- the account's estimates ------------------------------------------------------------------------------

def _on(platform: str) -> str:
    return "all platforms pooled" if platform == "pooled" else platform_name(platform)


def _platforms_of(table: pd.DataFrame | None) -> list[str | None]:
    """The platforms of a table's ``platform`` column (sorted; the pooled model last), or [None]."""
    if table is None or "platform" not in table.columns or table["platform"].isna().all():
        return [None]
    names = sorted({str(p).strip().lower() for p in table["platform"].dropna()})
    return [p for p in names if p != "pooled"] + [p for p in names if p == "pooled"]


def _why_no_row(c: dict, model: str, regression: pd.DataFrame, posts: pd.DataFrame | None, models,
                platform: str | None) -> str:
    """Why regression.csv has no row for a claim's term (review15 R5: the advice "add has_graphic to
    analysis.predictors" was given when it was there, with no coding file to code it)."""
    from .models import KNOWN_FEATURES

    term, outcome = c["term"], c["outcome"]
    head = f"regression.csv has no {model} row for {term} on {outcome}"
    for rec in (models or {}).get("dropped") or []:
        if not isinstance(rec, dict) or rec.get("term") not in (term, None) or rec.get("term") is None:
            continue
        if platform is not None and rec.get("platform") not in (None, platform):
            continue
        if rec.get("outcome") not in (None, outcome):
            continue
        why = rec.get("reason") or rec.get("message") or rec.get("code")
        return f"{head}: the models left it out ({why})"
    if posts is not None and term not in posts.columns and term not in KNOWN_FEATURES:
        return (f"{head}: {term} is a manual code that no coding file of the dataset card codes: add a coding file "
                "that codes it (README, \"Manual codes\")")
    if not (regression["outcome"].astype(str) == outcome).any():
        return f"{head}: the models did not fit {outcome} (add it to analysis.outcomes if the exports report it)"
    if not (regression["term"].astype(str) == term).any():
        return (f"{head}: the models did not estimate {term} (list it in analysis.predictors; when it is listed, "
                "too few posts have or lack it: see \"What works\")")
    return f"{head}: {term} was estimated by other models or for other outcomes only"


def _from_regression(c: dict, regression: pd.DataFrame | None, *, posts=None, models=None):
    """One result per platform: ``[(platform, got, why, basis)]``."""
    if regression is None or regression.empty:
        return [(None, None, "no post-level models (results/regression.csv) to compare with", "")]
    model, statistic = c.get("model", "ols_log"), c.get("statistic", "estimate")
    out = []
    for platform in _platforms_of(regression):
        table = regression if platform is None else regression[regression["platform"].astype(str) == platform]
        if statistic == "std_beta" and model != "ols_std":
            out.append((platform, None, "a standardized beta is compared only with the ols_std model (the published "
                        "form)", ""))
            continue
        rows = table[(table["outcome"] == c["outcome"]) & (table["term"] == c["term"])]
        if model:
            rows = rows[rows["model"] == model]
        if rows.empty:
            out.append((platform, None, _why_no_row(c, model, table, posts, models, platform), ""))
            continue
        r = rows.iloc[0]
        if statistic == "effect_pct":
            est, lo, hi = r.get("effect_pct"), r.get("effect_pct_ci_low"), r.get("effect_pct_ci_high")
        else:  # estimate; in ols_std the estimate is the standardized beta itself
            est, lo, hi = r["estimate"], r["ci_low"], r["ci_high"]
        vals = [None if v is None or pd.isna(v) else float(v) for v in (est, lo, hi)]
        n = None if pd.isna(r.get("n")) else int(r["n"])
        others = table[(table["outcome"] == c["outcome"]) & (table["model"] == r["model"])
                       & (table["term"] != c["term"]) & (table["term"] != "Intercept")]
        kinds = others["term_type"] if "term_type" in others.columns else pd.Series("predictor", index=others.index)
        held = list(dict.fromkeys(
            control_name(str(t)) if k == "control" else label_feature(str(t)).lower()
            for t, k in zip(others["term"], kinds, strict=True)))
        basis = (f"{r['model']} of {c['outcome']}" + (f" on {_on(platform)}" if platform else "")
                 + (f", {n:,} posts" if n else "") + (f", with {', '.join(held)}" if held else ", no other terms"))
        out.append((platform, (*vals, n), "", basis))
    return out


def _from_growth(growth: dict | None):
    if not growth:
        return None, "no growth comparison (results/growth.json): the card needs an intervention and follower data"
    g = growth if "slope_ratio" in growth else (growth.get("comparisons") or [{}])[0]
    ci = g.get("slope_ratio_ci") or [None, None]
    if g.get("slope_ratio") is None:
        # review15 M10: "a period's slope could not be fitted" was said when there was no account data at all
        na = growth.get("not_available") or g.get("not_available") or {}
        reason = na.get("reason") if isinstance(na, dict) else na
        if growth.get("status") == "no_data" or growth.get("basis") == "none":
            needed = (na.get("needed") or {}).get("file") if isinstance(na, dict) else None
            return None, (f"no follower growth to compare ({reason or 'no follower data'})"
                          + (f": it needs {needed}" if needed else ""))
        why = reason or growth.get("not_judged_reason") or g.get("not_judged_reason")
        return None, ("growth.json holds no ratio of the growth rates after and before"
                      + (f": {why}" if why else " (a period's rate could not be fitted)"))
    at = g.get("change_at_date") or {}
    if at.get("holds") is False:  # the rates differ, but the rate was already changing before the date (issue 12)
        return None, ("the growth rates differ between the periods, but not as a change at the date: "
                      + str(at.get("reason") or "the rate was already changing before it"))
    n = sum(p.get("n", 0) for p in growth.get("periods", [])) or None
    return (float(g["slope_ratio"]), ci[0], ci[1], n), ""


def hashtag_difference(posts: pd.DataFrame, *, outcome: str = "engagements", timezone: str = "UTC"):
    """% difference in ``outcome`` between posts with ≥ 1 hashtag and posts with none (own original posts).

    OLS of log1p(outcome) on has-hashtag with calendar-month fixed effects (within transformation, HC3 errors);
    the effect is 100·(exp(b) − 1), a ratio of geometric means: an association, adjusted only for the month.
    Returns ``((pct, lo, hi, n), "")`` or ``(None, why)``.
    """
    import statsmodels.api as sm

    # the models' minimum per group: an effect they would not estimate is not compared
    from .models import MIN_LEVEL_POSTS

    if outcome not in posts or "n_hashtags" not in posts:
        return None, f"the posts have no {outcome!r} or no n_hashtags (run the features stage)"
    keep_rows = np.ones(len(posts), dtype=bool)
    for flag, keep in (("is_reply", False), ("is_repost", False), ("is_own_post", True)):
        if flag in posts:
            keep_rows &= (posts[flag].astype("boolean").fillna(keep) == keep).to_numpy(dtype=bool)
    p = posts.loc[keep_rows, [outcome, "n_hashtags", "published_at"]]  # the columns used, filtered once
    y = pd.to_numeric(p[outcome], errors="coerce")
    h = pd.to_numeric(p["n_hashtags"], errors="coerce")
    ok = y.notna() & h.notna() & p["published_at"].notna()
    p, y, h = p[ok], y[ok].astype(float), (h[ok] > 0).astype(float)
    if len(p) < 20 or h.sum() < MIN_LEVEL_POSTS or (1 - h).sum() < MIN_LEVEL_POSTS:
        return None, (f"too few posts to compare ({len(p)} with {outcome}; {int(h.sum())} with hashtags, "
                      f"{int((1 - h).sum())} without; at least 20 with {MIN_LEVEL_POSTS} in each group are needed)")
    local = p["published_at"].dt.tz_convert(timezone)
    month = local.dt.year * 12 + local.dt.month
    ly = np.log1p(y)
    yd = ly - ly.groupby(month).transform("mean")
    hd = h - h.groupby(month).transform("mean")
    if float((hd ** 2).sum()) == 0:
        return None, "within each month either every post or no post has a hashtag: no comparison is possible"
    fit = sm.OLS(yd.to_numpy(), hd.to_numpy()[:, None]).fit(cov_type="HC3")
    b, se = float(fit.params[0]), float(fit.bse[0])
    # within transformation: the residual degrees of freedom lose one per month absorbed
    k = month.nunique()
    se *= math.sqrt((len(p) - 1) / max(len(p) - 1 - k, 1))
    pct = lambda v: 100 * (math.exp(v) - 1)  # noqa: E731
    return (pct(b), pct(b - 1.96 * se), pct(b + 1.96 * se), len(p)), ""


def _from_timing(c: dict, posts: pd.DataFrame | None, timezone: str):
    from .timing import window_effect

    if posts is None:
        return None, "no posts table"
    w = c.get("window") or {}
    outcome = c.get("outcome", "engagements")
    if outcome not in posts:
        return None, f"the posts have no {outcome!r}"
    res = window_effect(posts, weekdays=w.get("weekdays", range(7)), hours=w.get("hours", range(24)),
                        outcome=outcome, timezone=timezone)
    if res.get("ratio") is None:
        return None, res.get("note", "the window could not be estimated")
    return (res["ratio"], res["ci_low"], res["ci_high"], res["n_window"] + res["n_other"]), ""


def _from_campaigns(c: dict, campaigns):
    if campaigns is None or not campaigns.overall:
        return None, "no paid-campaign data (the card's campaigns: lists no Ads Manager export)"
    cur = c.get("currency")
    cands = [s for s in campaigns.overall if s.ad_platform == "meta"]
    if not cands:
        return None, "the benchmark is for Facebook (Meta) ads; the paid data hold no Meta campaigns"
    metric = c.get("statistic")
    if metric not in ("ctr", "conversion_rate"):
        cands = [s for s in cands if s.currency == cur]
        if not cands:
            return None, f"the benchmark is in {cur}; the Meta spend is in another currency (none is converted)"
    e = cands[0].metrics.get(metric)
    if e is None or e.value is None:
        return None, (e.note if e is not None else f"{metric} not estimated")
    return (e.value, e.ci_low, e.ci_high, None), ""


def _platform_mask(posts: pd.DataFrame, platform: str) -> np.ndarray:
    return (posts["platform"].astype("string").str.strip().str.lower() == platform).fillna(False).to_numpy(bool)


def _placebo_note(growth: dict | None) -> str:
    """A growth ratio whose change the run's own placebo check finds at fake dates too (review15 X1)."""
    g = growth if growth and "slope_ratio" in growth else ((growth or {}).get("comparisons") or [{}])[0]
    if "change_at_date" in g:  # judged by growth's own rule (a jump beyond a steady trend): no second verdict
        return ""
    placebo = g.get("placebo") or (growth or {}).get("placebo") or {}
    rank_p, n = placebo.get("rank_p"), placebo.get("n")
    if not isinstance(rank_p, (int, float)) or not n or rank_p < 0.05:
        return ""
    return (f"The run's placebo check finds changes as clear as this one at fake dates where nothing changed "
            f"(rank p = {rank_p:.2g} over {n} dates): the ratio may reflect a trend, not the change at the date.")


def compare_claims(claims: list[dict[str, Any]], *, regression: pd.DataFrame | None = None,
                   growth: dict | None = None, posts: pd.DataFrame | None = None,
                   campaigns=None, timezone: str = "UTC", models: dict | None = None) -> ClaimsResult:
    """Each claim beside the account's estimate (see the module docstring for the verdicts).

    Parameters
    ----------
    claims
        From :func:`load_claims`.
    regression, growth, posts, campaigns
        ``results/regression.csv``, ``results/growth.json``, ``data/posts_coded.parquet`` (hashtag and timing
        claims, via :func:`workbench.timing.window_effect`) and a :class:`workbench.campaigns.CampaignResults`;
        any may be None (those claims are "cannot tell", with what is missing).
    models
        ``results/models.json`` (optional): its ``dropped`` records say why a claim's term has no row.

    A claim on posts (regression, hashtag, timing) is compared on each platform's own posts (one row each,
    ``platform`` set), as the models are fitted per platform; ``basis`` says what was estimated on which posts.
    timezone
        The card's time zone (local months and hours).
    """
    out = ClaimsResult()
    platforms = _platforms_of(posts)
    for c in claims:
        metric, stat = c["metric"], str(c.get("statistic", "estimate"))
        results: list[tuple[str | None, Any, str, str]]  # (platform, got, why, basis)
        extra = ""
        if metric == "regression":
            results = _from_regression(c, regression, posts=posts, models=models)
        elif metric == "growth_ratio":
            got, why = _from_growth(growth)
            results = [(None, got, why, "ratio of the follower growth rates after and before (growth.json)")]
            extra = _placebo_note(growth) if got is not None else ""
        elif metric in ("hashtag_any", "timing_window"):
            outcome = c.get("outcome", "engagements")
            results = []
            for platform in platforms if posts is not None else [None]:
                own = posts if platform is None or posts is None else posts[_platform_mask(posts, platform)]
                if metric == "hashtag_any":
                    got, why = ((None, "no posts table") if own is None
                                else hashtag_difference(own, outcome=outcome, timezone=timezone))
                    basis = (f"log(1 + {outcome}) of own original posts with at least one hashtag against those "
                             f"with none, calendar-month fixed effects, HC3")
                else:
                    got, why = _from_timing(c, own, timezone)
                    basis = (f"{outcome} of posts in the window against all other posts (ratio of geometric means, "
                             "month-adjusted)")
                if got is not None and got[3]:
                    basis += f", {got[3]:,} posts"
                results.append((platform, got, why, (f"{basis} on {_on(platform)}" if platform else basis)))
        else:
            got, why = _from_campaigns(c, campaigns)
            results = [(None, got, why, "")]
        for platform, got, why, basis in results:
            if got is None:
                v, expl, est, lo, hi, n = "cannot tell", why, None, None, None, None
                if metric == "ad_benchmark" and (campaigns is None or not campaigns.overall):
                    v = "not applicable"  # no paid data: the section leaves these claims out
            else:
                est, lo, hi, n = got
                v, expl = verdict(est, lo, hi, float(c["effect"]), statistic=stat)
            note = " ".join(x for x in (str(c.get("note", "")), extra) if x)
            out.comparisons.append(ClaimComparison(
                id=str(c["id"]), claim=str(c["claim"]), source=str(c["source"]),
                population=str(c.get("population", "")), metric=metric, statistic=stat, published=float(c["effect"]),
                estimate=est, ci_low=lo, ci_high=hi, n=n, verdict=v, explanation=expl, note=note,
                origin=str(c.get("origin", "package")), platform=platform, basis=basis if got is not None else ""))
    return out
