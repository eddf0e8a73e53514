"""Findings kept apart per platform: the before/after comparison of each platform's own posts and months, and
reach — per post (posts_coded ``reach``) by platform and post type, and per page (the account table's daily
``reach`` series) by platform.

A dataset with a Facebook page and an Instagram account holds two audiences; a before/after ratio of their
pooled posts mixes a platform that starts mid-period into the "after" side (issue 19.9). Each record here names
the platform and the table it comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..beforeafter import compare_by_platform, platforms_of, rows_of_platform
from .comparisons import ADJUSTED_FOR, _pick
from .runfolder import _as_mapping

#: keys of beforeafter.post_change kept in findings (as comparison_honesty keeps them for growth.json's)
_ADJUSTED_KEYS = ("available", "outcome", "reason", "estimate", "ci", "p_value", "estimand", "method", "cov_type",
                  "n_posts", "n_posts_before", "n_posts_after", "n_months", "n_months_before", "n_months_after",
                  "terms", "terms_missing")
_ITS_KEYS = ("available", "metric", "reason", "level_change", "level_change_ci", "level_change_p",
             "trend_change_per_year", "trend_change_per_year_ci", "trend_change_p", "pre_trend_per_year", "scale",
             "method", "n_months", "n_months_before", "n_months_after", "months_left_out")
_WELCH_KEYS = ("metric", "label", "before_mean", "after_mean", "fold_change", "fold_change_ci", "welch_p_two_sided",
               "mannwhitney_p", "n_before", "n_after")


def _adjusted(pa: dict[str, Any]) -> dict[str, Any]:
    out = {k: pa.get(k) for k in _ADJUSTED_KEYS}
    out["adjusted_for"] = [ADJUSTED_FOR[t] for t in pa.get("terms") or [] if t in ADJUSTED_FOR]
    out["not_adjusted_for"] = {ADJUSTED_FOR.get(t, t): why for t, why in _as_mapping(pa.get("terms_missing")).items()}
    out["descriptive"] = _pick(pa.get("descriptive"), (
        "label", "median_before", "median_after", "median_ratio", "median_ratio_ci", "median_ratio_ci_method",
        "followers_median_ratio", "impressions_per_follower_median_ratio"))
    return out


def before_after_by_platform(
    posts: pd.DataFrame | None,
    account: pd.DataFrame | None,
    interventions: Sequence[tuple[Any, str]],
    *,
    monthly_metric: str = "impressions",
    alpha: float = 0.05,
    timezone: str = "UTC",
    growth_metric: str = "followers",
) -> list[dict[str, Any]] | None:
    """One record per intervention with the comparison of each platform's own posts and months; None when the
    posts hold one platform (growth.json's comparison is then the platform's own).

    ``interventions`` are (date, label) pairs. Each record: ``intervention_date``, ``label``, ``platforms`` (one
    per platform: ``platform``, ``n_posts``, ``n_collab_out``, ``medians`` (median views/impressions per post
    and engagement rate before vs after, distribution-free CIs: :func:`~workbench.findings.posts.compare_post_medians`
    on the platform's own posts), ``posts_adjusted`` as comparison_honesty shapes it, ``monthly_its``,
    ``monthly`` (the published Welch form), ``monthly_sources``), ``growth_platform`` (the platform whose
    account growth.json compares: the growth stage's rule, the account with most ``growth_metric`` values),
    ``pooled`` (None: no pooled view is computed) and ``source``.
    """
    from .posts import compare_post_medians

    if len(platforms_of(posts)) < 2 or not interventions:
        return None
    out = []
    growth_platform = growth_account_platform(account, growth_metric, posts)
    for date, label in interventions:
        recs = compare_by_platform(posts, account, date, monthly_metric=monthly_metric, alpha=alpha)
        plat = posts["platform"].astype("string").str.strip().str.lower().fillna("unknown")
        own = ~posts["is_own_post"].astype("boolean").eq(False).fillna(False) if "is_own_post" in posts else True
        medians = {
            r["platform"]: json_records(compare_post_medians(posts.loc[(plat == r["platform"]) & own],
                                                             split=pd.Timestamp(date).date(), timezone=timezone))
            for r in recs}
        out.append({
            "intervention_date": pd.Timestamp(date).date().isoformat(),
            "label": str(label),
            "platforms": [{
                "platform": r["platform"], "n_posts": r["n_posts"], "n_collab_out": r["n_collab_out"],
                "medians": medians.get(r["platform"]),
                "posts_adjusted": _adjusted(r["posts_adjusted"]),
                "monthly_its": {k: (r.get("monthly_its") or {}).get(k) for k in _ITS_KEYS},
                "monthly": _pick(r.get("monthly"), _WELCH_KEYS),
                "monthly_sources": r.get("monthly_sources") or {},
            } for r in recs],
            "growth_platform": growth_platform,
            "pooled": None,
            "source": "workbench.beforeafter.compare_by_platform on posts_coded and the account table, each "
                      "platform's own posts (collabs by other accounts left out), followers at the post and months",
        })
    return out


def json_records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Records with NaN as None (JSON-safe)."""
    if frame is None or not len(frame):
        return []
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else
                 v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
            for rec in frame.to_dict("records")]


def growth_account_platform(account: pd.DataFrame | None, metric: str = "followers",
                            posts: pd.DataFrame | None = None) -> str | None:
    """The platform of the account growth.json compares when the account table holds several (the growth
    stage's rule, :func:`workbench.growth._select_account`, given the posts as the growth stage is)."""
    from ..growth import _select_account  # one rule for "which account" (growth owns it)

    if account is None or "platform" not in account.columns or not len(account):
        return None
    rows, _, chosen = _select_account(account, metric, posts)
    plat = rows["platform"].dropna().astype(str).str.strip().str.lower().unique() if chosen is not None else []
    return str(plat[0]) if len(plat) == 1 else None


def reach_figures(posts: pd.DataFrame | None, account: pd.DataFrame | None) -> dict[str, Any] | None:
    """Reach where the data have it: the median reach per post by platform and post type (posts_coded ``reach``,
    Meta's count of accounts that saw the post at least once: never summed, people are not additive across
    posts), and the page-level daily reach series per platform (account table ``reach``: its days, median and
    first/last day). None when neither table has a reach number."""
    posts_rows: list[dict[str, Any]] = []
    if posts is not None and "reach" in posts.columns and len(posts):
        reach = pd.to_numeric(posts["reach"], errors="coerce").astype(float)
        ok = reach.notna().to_numpy()
        if ok.any():
            plat = (posts["platform"].astype("string").fillna("unknown") if "platform" in posts.columns
                    else pd.Series("unknown", index=posts.index, dtype="string"))
            kind = (posts["media_type"].astype("string").fillna("unknown") if "media_type" in posts.columns
                    else pd.Series("all", index=posts.index, dtype="string"))
            frame = pd.DataFrame({"platform": plat.to_numpy()[ok], "type": kind.to_numpy()[ok],
                                  "reach": reach.to_numpy()[ok]})
            grouped = frame.groupby(["platform", "type"], sort=True)["reach"].agg(["size", "median"]).reset_index()
            posts_rows = [{"platform": str(p), "type": str(t), "n_posts": int(n), "reach_median": float(m)}
                          for p, t, n, m in grouped.itertuples(index=False)]
    page_rows: list[dict[str, Any]] = []
    if account is not None and "reach" in account.columns and "date" in account.columns and len(account):
        v = pd.to_numeric(account["reach"], errors="coerce").astype(float)
        ok = v.notna().to_numpy()
        if ok.any():
            plat = (account["platform"].astype("string").fillna("unknown") if "platform" in account.columns
                    else pd.Series("unknown", index=account.index, dtype="string"))
            frame = pd.DataFrame({"platform": plat.to_numpy()[ok], "date": pd.to_datetime(account["date"])[ok],
                                  "reach": v.to_numpy()[ok]})
            for p, g in frame.groupby("platform", sort=True):
                page_rows.append({"platform": str(p), "n_days": int(g["date"].nunique()),
                                  "daily_median": float(np.median(g["reach"])),
                                  "start": g["date"].min().date().isoformat(),
                                  "end": g["date"].max().date().isoformat()})
    if not posts_rows and not page_rows:
        return None
    return {
        "posts": posts_rows,
        "page": page_rows,
        "source": "posts_coded reach (per post: median by platform and media type); account table reach "
                  "(page-level daily series: median per day by platform)",
    }


def follower_levels(account: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """Each platform's known follower counts (account table ``followers``: a level such as Audience.csv's
    total, a page-level fan count or a hand-kept sheet — never summed daily follows): the first and last dated
    count, how many there are and the files they come from. None without any follower count."""
    if account is None or "followers" not in account.columns or "date" not in account.columns:
        return None
    v = pd.to_numeric(account["followers"], errors="coerce").astype(float)
    ok = v.notna().to_numpy()
    if not ok.any():
        return None
    plat = (account["platform"].astype("string").fillna("unknown") if "platform" in account.columns
            else pd.Series("unknown", index=account.index, dtype="string"))
    src = (account["source_file"].astype("string").fillna("") if "source_file" in account.columns
           else pd.Series("", index=account.index, dtype="string"))
    frame = pd.DataFrame({"platform": plat.to_numpy()[ok], "date": pd.to_datetime(account["date"]).to_numpy()[ok],
                          "followers": v.to_numpy()[ok], "source": src.to_numpy()[ok]}).sort_values(
        ["platform", "date"], kind="stable")
    out = []
    for p, g in frame.groupby("platform", sort=True):
        first, last = g.iloc[0], g.iloc[-1]
        out.append({"platform": str(p), "n": int(len(g)),
                    "first": float(first["followers"]), "first_date": pd.Timestamp(first["date"]).date().isoformat(),
                    "last": float(last["followers"]), "last_date": pd.Timestamp(last["date"]).date().isoformat(),
                    "sources": sorted({str(x) for x in g["source"] if str(x)}),
                    "source": "account table followers (dated counts; daily follows are never summed into one)"})
    return out


#: keys of a per-platform growth result kept in findings (compare_growth's own names)
_GROWTH_KEYS = ("metric", "unit", "basis", "basis_text", "level_known", "available", "not_available", "data_range",
                "warnings", "origin", "interventions", "series", "monthly_series")
_GROWTH_COMPARISON_KEYS = ("before", "after", "intervention_date", "status", "judgeable", "not_judged_reason",
                           "slope_ratio", "slope_ratio_ci", "slope_ratio_method", "slope_change", "equivalence",
                           "growth_model", "reason")


def growth_by_platform(
    account: pd.DataFrame | None, posts: pd.DataFrame | None, settings: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """The growth comparison of each platform's own account rows (:func:`workbench.growth.compare_growth` run once
    per platform, with the card's settings), so a Facebook page's follows and an Instagram account's are never
    one series and each has its own anchor; None when the account table holds one platform. A platform is
    compared when it has posts or a dated series of two or more days (a lone total is a level, not a series).

    Each record: ``platform``, the compare_growth keys ``metric``, ``unit``, ``basis``, ``basis_text``,
    ``level_known``, ``available``, ``not_available``, ``data_range``, ``warnings``, ``origin``, ``interventions``,
    ``series``, ``monthly_series``, its ``periods`` and ``comparisons`` as growth.json holds them (each comparison
    whole: slope ratio with CI, calibrated p, equivalence, status, the level model, monthly blocks, counterfactual,
    placebo, state space; the growth section renders one block per platform from them), or ``error`` when the
    platform's rows could not be compared.
    """
    from ..errors import InputError
    from ..growth import compare_growth

    if account is None or "platform" not in account.columns or not len(account):
        return None
    plat = account["platform"].astype("string").str.strip().str.lower()
    names = sorted(plat.dropna().unique().tolist())
    if len(names) < 2:
        return None  # one platform's account rows: growth.json is its own comparison
    # a platform is compared when it has posts or a dated series (two or more days): a lone total such as
    # Audience.csv's count for a platform without posts is a level, not a series to compare
    days = pd.to_datetime(account["date"], errors="coerce").groupby(plat).nunique()
    with_posts = set(platforms_of(posts))
    names = [n for n in names if n in with_posts or int(days.get(n, 0)) >= 2]
    out = []
    for name in names:  # a handful of platforms; each fit is vectorized over its days
        acc = rows_of_platform(account, name)
        own = rows_of_platform(posts, name) if posts is not None else None
        rec: dict[str, Any] = {"platform": name}
        try:
            res = compare_growth(acc, posts=own, **settings)
        except InputError as exc:
            rec["error"] = str(exc)
            out.append(rec)
            continue
        rec.update({k: res.get(k) for k in _GROWTH_KEYS})
        # everything the growth section renders for growth.json (periods, series, each comparison whole)
        rec["periods"] = list(res.get("periods") or [])
        comps = res.get("comparisons") or ([res] if res.get("periods") and len(res["periods"]) > 1 else [])
        rec["comparisons"] = [{k: c.get(k) for k in (*_GROWTH_COMPARISON_KEYS, *c)} for c in comps]
        rec["source"] = ("workbench.growth.compare_growth on this platform's account rows only (the growth stage's "
                         "model and the card's settings)")
        out.append(rec)
    return out
