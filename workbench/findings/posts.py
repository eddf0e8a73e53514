"""Key figures, the previous period, medians before/after with distribution-free CIs, goals, reliability."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..goals import assess_goals as _assess_goals_at_end_of_data
from ..schema import check_columns
from ..vocab import ALPHA_TENTATIVE
from .runfolder import num


def _main_account_series(account: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """Return date/value of ``metric`` for the main account (sorted, NA dropped).

    The main account is chosen by the growth stage's rule (:func:`workbench.growth._select_account`: the
    platform/account with the most observations of ``metric``), so the report and growth.json speak of one
    account.
    """
    from ..growth import _select_account  # one rule for "which account" (growth owns it)

    if account is None or metric not in account.columns or "date" not in account.columns:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    frame = account.assign(
        value=pd.to_numeric(account[metric], errors="coerce"), date=pd.to_datetime(account["date"])
    )
    frame = frame.dropna(subset=["value", "date"])
    if frame.empty:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    frame = _select_account(frame, metric)[0]
    return frame[["date", "value"]].sort_values("date").reset_index(drop=True)


def _growth_series(growth: Mapping[str, Any] | None, metric: str) -> pd.DataFrame:
    if not growth or growth.get("metric") != metric or not growth.get("series"):
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    frame = pd.DataFrame(growth["series"])
    frame = pd.DataFrame({"date": pd.to_datetime(frame["date"]), "value": pd.to_numeric(frame["value"])})
    return frame.dropna().sort_values("date").reset_index(drop=True)


def metric_series(
    account: pd.DataFrame | None, growth: Mapping[str, Any] | None, metric: str
) -> pd.DataFrame:
    """Return the dated values of an account-level metric: the account table, else the growth series."""
    series = _main_account_series(account, metric)
    return series if not series.empty else _growth_series(growth, metric)


def engagement_rates(posts: pd.DataFrame) -> pd.Series:
    """Return engagements / impressions per post, for posts with impressions > 0 and engagements reported."""
    imp = pd.to_numeric(posts["impressions"], errors="coerce").astype(float)
    eng = pd.to_numeric(posts["engagements"], errors="coerce").astype(float)
    ok = (imp > 0) & eng.notna()
    return (eng[ok] / imp[ok]).rename("engagement_rate")


def compute_key_figures(
    posts: pd.DataFrame | None, account: pd.DataFrame | None, growth: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the headline numbers: posts, impressions (total, median), median engagement rate, followers.

    Missing inputs give None values. ``followers_per_day`` is (end − start) / days between the first and the
    last follower count.
    """
    out: dict[str, Any] = dict.fromkeys(
        (
            "n_posts",
            "impressions_total",
            "impressions_median",
            "engagement_rate_median",
            "n_rated",
            "followers_start",
            "followers_end",
            "followers_start_date",
            "followers_end_date",
            "followers_per_day",
        )
    )
    if posts is not None:
        out["n_posts"] = len(posts)
        if "impressions" in posts:
            imp = pd.to_numeric(posts["impressions"], errors="coerce").dropna()
            out["impressions_total"] = float(imp.sum()) if len(imp) else None
            out["impressions_median"] = float(imp.median()) if len(imp) else None
        if {"impressions", "engagements"} <= set(posts.columns):
            rates = engagement_rates(posts)
            out["n_rated"] = len(rates)
            out["engagement_rate_median"] = float(rates.median()) if len(rates) else None
    followers = metric_series(account, growth, "followers")
    if len(followers) >= 1:
        first, last = followers.iloc[0], followers.iloc[-1]
        out.update(
            followers_start=float(first["value"]),
            followers_end=float(last["value"]),
            followers_start_date=first["date"],
            followers_end_date=last["date"],
        )
        days = (last["date"] - first["date"]) / pd.Timedelta(days=1)
        if days > 0:
            out["followers_per_day"] = (float(last["value"]) - float(first["value"])) / days
    return out


def reconcile_totals(posts: pd.DataFrame | None, account: pd.DataFrame | None, *,
                     month_of_previous: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Per-post totals against the account table's totals of the same metric over the same dates.

    One record per metric (impressions, engagements, posts) both tables report: ``per_post`` (sum over the posts
    table: the figure the report uses), ``account`` (sum of the main account's rows dated within the posts' first
    and last day — a monthly series: its rows of the months the posts span — after re-dating the rows of
    ``month_of_previous`` sources — the card's ``month_of: previous``,
    :func:`workbench.growth.apply_month_of` — to the month they describe), ``difference`` and ``difference_pct``,
    and ``reasons``: explanations that fit the difference's sign and what the posts table holds (a posts table
    that holds replies is never said to miss them). ``months_without_posts`` lists the months (YYYY-MM) the
    account rows report posts or impressions for and the posts table has no post in (a missing export). The
    report states the per-post figure and shows the account figure beside it when they differ by more than
    0.5%. [] when either is absent.
    """
    from ..growth import apply_month_of

    if posts is None or account is None or "date" not in account or "published_at" not in posts:
        return []
    when = pd.to_datetime(posts["published_at"]).dropna()
    if when.empty:
        return []
    moved = list(month_of_previous)
    if moved:
        account, _ = apply_month_of(account, moved)
    first, last = when.min(), when.max()
    first = first.tz_convert(None) if first.tzinfo else first
    last = last.tz_convert(None) if last.tzinfo else last
    naive = when.dt.tz_convert(None) if when.dt.tz is not None else when
    post_months = set(naive.dt.to_period("M").astype(str))
    n_replies = (int(posts["is_reply"].astype("boolean").fillna(False).sum()) if "is_reply" in posts.columns
                 else None)
    out = []
    for metric in ("impressions", "engagements", "posts"):
        if metric not in account.columns or not account[metric].notna().any():
            continue
        if metric == "posts":
            per_post = float(len(posts))
        elif metric in posts.columns and posts[metric].notna().any():
            per_post = float(pd.to_numeric(posts[metric], errors="coerce").sum())
        else:
            continue
        series = _main_account_series(account, metric)
        dates = series["date"].dt.tz_localize(None) if series["date"].dt.tz is not None else series["date"]
        gaps = dates.drop_duplicates().sort_values().diff().dt.days.dropna()
        monthly = bool(len(gaps)) and float(gaps.median()) >= 28
        # a monthly total covers its whole month: the months the posts span, not the days
        lo = first.to_period("M").to_timestamp() if monthly else first.normalize()
        inside = series[(dates >= lo) & (dates <= last.normalize())]
        if inside.empty:
            continue
        total = float(inside["value"].sum())
        diff = total - per_post
        in_dates = inside.loc[inside["value"] > 0, "date"]
        in_dates = in_dates.dt.tz_localize(None) if in_dates.dt.tz is not None else in_dates
        empty_months = sorted(set(in_dates.dt.to_period("M").astype(str)) - post_months)
        out.append({"metric": metric, "per_post": per_post, "account": total, "difference": diff,
                    "difference_pct": 100 * diff / per_post if per_post else None,
                    "months_without_posts": empty_months,
                    "reasons": _reconcile_reasons(metric, diff, n_replies, empty_months),
                    "month_of_previous_applied": bool(moved),
                    "source": "posts_coded (sum) vs account table, main account, rows dated within the posts' "
                              "first and last day (monthly rows: within the months the posts span)" + (" (rows of month_of: previous sources filed under the month "
                                                      "they describe)" if moved else "")})
    return out


def _reconcile_reasons(metric: str, diff: float, n_replies: int | None, empty_months: list[str]) -> list[str]:
    """Explanations of an account-vs-posts difference that fit its sign and the data (see reconcile_totals)."""
    reasons = []
    if empty_months:
        shown = ", ".join(pd.Period(m).strftime("%B %Y") for m in empty_months[:6])
        more = f" and {len(empty_months) - 6} more" if len(empty_months) > 6 else ""
        reasons.append(f"the account files report {metric} in month(s) with no post in the per-post files "
                       f"({shown}{more}): a per-post export may be missing")
    if diff > 0:
        if n_replies == 0:
            reasons.append("the per-post files hold no replies, which account totals may count")
        reasons.append("account totals also count posts not in the per-post files (promoted or deleted posts, "
                       "posts outside the exported days)")
    elif diff < 0:
        if metric == "posts":
            reasons.append("the account files count fewer posts than the per-post files hold: they may leave some "
                           "kinds out" + (f" (the per-post files hold {n_replies:,} replies)" if n_replies else "")
                           + ", or cut days or months at a different hour (time zone)")
        else:
            reasons.append(f"the per-post files count a post's {metric} up to the day they were exported, a period's "
                           "account total only those within the period; the account files may also leave some "
                           "kinds of post out, or cut days or months at a different hour (time zone)")
    return reasons


#: Goals are judged by one rule, :func:`workbench.goals.assess_goals`: at the end of the data (never today's date),
#: and a follower level only where one is known (``basis``, ``reason`` and ``as_of`` columns say how).
assess_goals = _assess_goals_at_end_of_data


def low_reliability_codes(reliability: pd.DataFrame | None, terms: Iterable[str]) -> pd.DataFrame:
    """Return the reliability rows of codes with Krippendorff's α < 0.667 that enter a model as a term."""
    if reliability is None or "code" not in reliability or "krippendorff_alpha" not in reliability:
        return pd.DataFrame(columns=["code", "term", "krippendorff_alpha"])
    terms = set(map(str, terms))
    rel = reliability.assign(alpha=pd.to_numeric(reliability["krippendorff_alpha"], errors="coerce"))
    code = rel["code"].astype(str)
    term = np.where(code.isin(terms), code, "has_" + code)
    rel = rel.assign(term=term)
    low = rel[(rel["alpha"] < ALPHA_TENTATIVE) & rel["term"].isin(terms)]
    return (
        low[["code", "term", "alpha"]].rename(columns={"alpha": "krippendorff_alpha"}).reset_index(drop=True)
    )


# --------------------------------------------------------------------------------------------------------------
# Before/after change of post-level medians, thin features, handles, codebook
# --------------------------------------------------------------------------------------------------------------



def median_ci_ranks(n: int, *, level: float = 0.95) -> tuple[int, int, float] | None:
    """Return the 1-based ranks (l, u) of the distribution-free CI of a median and its exact coverage.

    The interval [x₍ₗ₎, x₍ᵤ₎] with u = n − l + 1 covers the population median with probability
    1 − 2·P(Binomial(n, ½) ≤ l − 1) ≥ ``level`` for any continuous distribution. None when n is too small for
    such an interval (n ≤ 5 at 95%).
    """
    if n < 1:
        return None
    alpha = 1.0 - level
    lower = int(stats.binom.ppf(alpha / 2, n, 0.5))  # smallest k with P(B ≤ k) ≥ α/2, so P(B ≤ k − 1) < α/2
    if lower < 1:
        return None
    coverage = 1.0 - 2.0 * float(stats.binom.cdf(lower - 1, n, 0.5))
    return lower, n - lower + 1, coverage


def _log_median_se(sorted_values: np.ndarray, *, level: float) -> float | None:
    ranks = median_ci_ranks(len(sorted_values), level=level)
    if ranks is None:
        return None
    lower, upper, coverage = ranks
    lo, hi = sorted_values[lower - 1], sorted_values[upper - 1]
    if lo <= 0:
        return None
    z = float(stats.norm.ppf(1.0 - (1.0 - coverage) / 2.0))
    return (math.log(hi) - math.log(lo)) / (2.0 * z)


def ratio_of_medians(before: Any, after: Any, *, level: float = 0.95) -> dict[str, Any]:
    """Return the medians of two samples, their ratio (after ÷ before) and a distribution-free CI of the ratio.

    Returns
    -------
    dict
        ``n_before``, ``n_after``, ``median_before``, ``median_after``, ``ratio`` (None unless the earlier
        median is > 0) and ``ratio_ci`` ([low, high], or [None, None] when a group is too small (n ≤ 5) or
        its lower order statistic is not positive). Missing values are dropped.

    Notes
    -----
    Each median's standard error on the log scale is read off its distribution-free (binomial order
    statistic) confidence interval: se = (ln x₍ᵤ₎ − ln x₍ₗ₎) / (2·z), with z matching the interval's exact
    coverage; the two are combined as for independent samples, ln(ratio) ± z₀.₉₇₅·√(se₁² + se₂²). This is the
    construction of Price & Bonett (2002, J. Stat. Comput. Simul. 72:119–124) with the 95% order statistics.
    It needs no resampling, so it costs one sort even at a million posts.
    """
    a = np.sort(pd.to_numeric(pd.Series(before, dtype="object"), errors="coerce").dropna().to_numpy(float))
    b = np.sort(pd.to_numeric(pd.Series(after, dtype="object"), errors="coerce").dropna().to_numpy(float))
    out: dict[str, Any] = {
        "n_before": len(a),
        "n_after": len(b),
        "median_before": float(np.median(a)) if len(a) else None,
        "median_after": float(np.median(b)) if len(b) else None,
        "ratio": None,
        "ratio_ci": [None, None],
        "level": level,
    }
    if not len(a) or not len(b) or out["median_before"] <= 0:
        return out
    out["ratio"] = out["median_after"] / out["median_before"]
    se_a, se_b = _log_median_se(a, level=level), _log_median_se(b, level=level)
    if se_a is None or se_b is None or out["ratio"] <= 0:
        return out
    half = float(stats.norm.ppf(0.5 + level / 2)) * math.hypot(se_a, se_b)
    out["ratio_ci"] = [out["ratio"] * math.exp(-half), out["ratio"] * math.exp(half)]
    return out


def compare_post_medians(
    posts: pd.DataFrame, *, split: dt.date, timezone: str = "UTC", level: float = 0.95
) -> pd.DataFrame:
    """Return median impressions per post and median engagement rate before vs from ``split``, with CIs.

    A post belongs to "after" when its publication date in ``timezone`` is on or after ``split``. One row per
    metric (``impressions``, ``engagement_rate``; a metric the posts lack is left out): metric, n_before,
    n_after, median_before, median_after, ratio (after ÷ before), ratio_ci_low, ratio_ci_high (floats, NaN
    where not estimable), months_before, months_after and ``note`` (why no ratio or no interval, else "").

    The interval resamples whole calendar months (:func:`workbench.beforeafter._month_block_median_ci`, the one
    the executive summary prints): posts of one month are not independent, and the order-statistic interval of
    :func:`ratio_of_medians` (Price & Bonett), which treats them as independent, was narrower than the month
    resampling on real accounts (rOpenSci: 0.93–1.09 against 0.86–1.18). No ratio from fewer than
    ``models.MIN_LEVEL_POSTS`` posts a side or a median of 0, and no interval from fewer than
    ``beforeafter.MIN_MONTHS_EACH_SIDE`` months a side (:func:`workbench.beforeafter.median_ratio_rule`).
    """
    check_columns(posts, ["published_at"], table="posts_coded")
    when = pd.to_datetime(posts["published_at"])
    when = when.dt.tz_localize("UTC") if when.dt.tz is None else when
    local_day = when.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    after = (local_day >= pd.Timestamp(split)).to_numpy()
    known = when.notna().to_numpy()
    samples = {}
    if "impressions" in posts:
        samples["impressions"] = pd.to_numeric(posts["impressions"], errors="coerce").astype(float)
    if {"impressions", "engagements"} <= set(posts.columns):
        samples["engagement_rate"] = engagement_rates(posts).reindex(posts.index)
    from ..beforeafter import _month_block_median_ci, median_ratio_rule

    # calendar months in the card's time zone: the clusters the interval resamples (posts of one month share its
    # audience and news, so they are not independent)
    month = (local_day.dt.year * 12 + local_day.dt.month).to_numpy()
    rows = []
    for metric, values in samples.items():  # two metrics
        v = values.to_numpy(dtype=float)
        ok = known & np.isfinite(v)
        vb, va = v[ok & ~after], v[ok & after]
        res = ratio_of_medians(vb, va, level=level)  # the medians (the interval is the months' one below)
        mb, ma = len(np.unique(month[ok & ~after])), len(np.unique(month[ok & after]))
        rule = median_ratio_rule(vb, va, mb, ma, noun="impressions" if metric == "impressions" else "engagement")
        low = high = None
        if rule["median_ratio_ci_reason"] is None:
            low, high = _month_block_median_ci(v[ok], after[ok], month[ok], 1 - level)
        rows.append(
            {
                "metric": metric,
                "n_before": res["n_before"],
                "n_after": res["n_after"],
                "median_before": res["median_before"],
                "median_after": res["median_after"],
                "ratio": rule["median_ratio"],
                "ratio_ci_low": low,
                "ratio_ci_high": high,
                "months_before": mb,
                "months_after": ma,
                "note": rule["median_ratio_reason"] or (
                    f"no interval: {rule['median_ratio_ci_reason']}" if rule["median_ratio_ci_reason"] else ""),
            }
        )
    values = ["median_before", "median_after", "ratio", "ratio_ci_low", "ratio_ci_high"]
    table = pd.DataFrame(rows, columns=["metric", "n_before", "n_after", *values, "months_before", "months_after",
                                        "note"])
    # None (no estimate) becomes NaN so the value columns are plain floats
    return table.astype({"n_before": "int64", "n_after": "int64", "months_before": "int64", "months_after": "int64",
                         **dict.fromkeys(values, "float64")})



#: the key figures compare the latest this-many days with the same number of days before them (or halves of the
#: data's span when it is shorter than twice this).
PREVIOUS_PERIOD_DAYS = 90


def previous_period_change(
    posts: pd.DataFrame | None, account: pd.DataFrame | None, *, timezone: str = "UTC",
    days: int = PREVIOUS_PERIOD_DAYS,
) -> dict[str, Any] | None:
    """Compare the latest period with the previous period of equal length (posts and followers).

    The latest period is the last ``days`` days of the posts (by local publication date, the last day
    included); the previous period the ``days`` days before it. When the posts span less than ``2·days`` days,
    each period is half the span (whole days). Medians come with the distribution-free CI of their ratio
    (:func:`ratio_of_medians`); counts and totals are whole-population figures and have no interval.
    None when there are no dated posts or the span is under two days.
    """
    if posts is None or "published_at" not in posts or not posts["published_at"].notna().any():
        return None
    when = pd.to_datetime(posts["published_at"])
    when = when.dt.tz_localize("UTC") if when.dt.tz is None else when
    day = when.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    first, last = day.min(), day.max()
    span = int((last - first) / pd.Timedelta(days=1)) + 1
    length = days if span >= 2 * days else span // 2
    if length < 1:
        return None
    cur_start = last - pd.Timedelta(days=length - 1)
    prev_start = cur_start - pd.Timedelta(days=length)
    cur = ((day >= cur_start) & (day <= last)).to_numpy()
    prev = ((day >= prev_start) & (day < cur_start)).to_numpy()
    rows = [{"key": "n_posts", "label": "Posts", "current": int(cur.sum()), "previous": int(prev.sum()),
             "kind": "count"}]
    if "impressions" in posts:
        imp = pd.to_numeric(posts["impressions"], errors="coerce").astype(float).to_numpy()
        rows.append({"key": "impressions_total", "label": "Impressions, total",
                     "current": float(np.nansum(imp[cur])), "previous": float(np.nansum(imp[prev])),
                     "kind": "total"})
        res = ratio_of_medians(imp[prev], imp[cur])
        rows.append({"key": "impressions_median", "label": "Impressions per post, median",
                     "current": res["median_after"], "previous": res["median_before"], "kind": "median",
                     "ratio": res["ratio"], "ratio_ci": res["ratio_ci"]})
    if {"impressions", "engagements"} <= set(posts.columns):
        rate = engagement_rates(posts).reindex(posts.index).to_numpy(dtype=float)
        res = ratio_of_medians(rate[prev], rate[cur])
        rows.append({"key": "engagement_rate_median", "label": "Engagement rate, median",
                     "current": res["median_after"], "previous": res["median_before"], "kind": "median",
                     "ratio": res["ratio"], "ratio_ci": res["ratio_ci"]})
    followers = _main_account_series(account, "followers")
    if len(followers) >= 2:
        f_day = followers["date"].dt.tz_localize(None) if followers["date"].dt.tz is not None else followers["date"]
        f_day = f_day.dt.normalize()

        x = ((f_day - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(dtype=float)
        y = followers["value"].to_numpy(dtype=float)

        def gained(start: pd.Timestamp, end: pd.Timestamp) -> float | None:
            """Level at the end of ``end`` minus level at the end of the day before ``start``, each linearly
            interpolated between the nearest follower counts (None where a boundary is outside the series)."""
            a = (start - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1) - 1
            b = (end - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            if a < x.min() or b > x.max():
                return None
            return float(np.interp(b, x, y) - np.interp(a, x, y))

        rows.append({"key": "followers_gained", "label": "Followers gained",
                     "current": gained(cur_start, last), "previous": gained(prev_start, cur_start - pd.Timedelta(days=1)),
                     "kind": "difference"})
    for row in rows:
        if "ratio" not in row:
            c, p = num(row["current"]), num(row["previous"])
            row["ratio"] = c / p if c is not None and p is not None and p > 0 else None
            row["ratio_ci"] = [None, None]
        row["source"] = (
            "ratio of medians, distribution-free CI (Price & Bonett 2002)" if row["kind"] == "median"
            else "posts_coded (counted)" if row["key"] != "followers_gained"
            else "account table, main account: follower level at each period's edges, linearly interpolated"
        )
    return {
        "days": length,
        "current": {"start": cur_start.date().isoformat(), "end": last.date().isoformat()},
        "previous": {"start": prev_start.date().isoformat(),
                     "end": (cur_start - pd.Timedelta(days=1)).date().isoformat()},
        "rows": rows,
        "rule": f"latest {length} days of posts against the {length} days before them",
    }




#: post types in the order the report lists them.
POST_TYPES = ("original", "reply", "quote", "repost")


def post_type_counts(posts: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Posts per type (``post_type`` where ingest wrote it, else from ``is_reply``/``is_repost``) with each type's
    median impressions. [] when the posts say nothing about their type."""
    if posts is None or posts.empty:
        return []
    codes = None
    if "post_type" in posts and posts["post_type"].notna().any():
        # lower-cased per distinct value, not per post (a million Python strings otherwise); values that lower
        # to the same text are one type, as before
        first, distinct = pd.factorize(posts["post_type"])
        lowered, uniques = pd.factorize(pd.Series(distinct).astype("string").str.lower())
        codes = np.where(first >= 0, lowered[np.maximum(first, 0)] if len(lowered) else -1, -1)
        kind = None
    elif {"is_reply", "is_repost"} & set(posts.columns):
        reply = posts["is_reply"].astype("boolean") if "is_reply" in posts else pd.Series(False, index=posts.index)
        repost = posts["is_repost"].astype("boolean") if "is_repost" in posts else pd.Series(False, index=posts.index)
        if reply.isna().all() and repost.isna().all():
            return []
        kind = pd.Series(np.where(repost.fillna(False), "repost", np.where(reply.fillna(False), "reply", "original")),
                         index=posts.index, dtype="string")
        kind = kind.mask(reply.isna() & repost.isna())
    else:
        return []
    imp = pd.to_numeric(posts["impressions"], errors="coerce") if "impressions" in posts else None
    if codes is None:
        codes, uniques = pd.factorize(kind)
    position = {str(u): i for i, u in enumerate(uniques)}
    out = []
    order = [t for t in POST_TYPES if t in position] + sorted(set(position) - set(POST_TYPES))
    for t in order + (["unknown"] if (codes < 0).any() else []):
        mask = pd.Series(codes < 0 if t == "unknown" else codes == position[t], index=posts.index)
        med = imp[mask].median() if imp is not None else None
        out.append({"type": str(t), "n": int(mask.sum()), "share": float(mask.mean()),
                    "median_impressions": num(med),
                    "source": "posts_coded post_type (else is_reply / is_repost)"})
    return out


def platform_vocabulary(posts: pd.DataFrame | None) -> dict[str, Any] | None:
    """Each platform's own words and definitions for the posts' impressions and engagements, and its reach.

    Returns ``{"impressions_word", "platforms": [{platform, n_posts, impressions_label, impressions_definition,
    engagements_definition, n_reach, reach_median, n_impressions, impressions_total, impressions_median, accounts}]}``
    (``accounts``: each account's number of posts, most first): ``impressions_label`` is the export's own name for what
    the ``impressions`` column holds (``impressions_label`` column: "Views" on Meta), reach the median of the posts
    that have it (Meta; never summed: people reached are not additive); the platform's impressions (views on
    Meta) total and median per post over its posts that report them. None without posts.
    """
    from ..vocab import PLATFORM_TERMS, impressions_word

    if posts is None or not len(posts) or "platform" not in posts:
        return None
    plat = posts["platform"].astype("string").fillna("unknown")
    label = (posts["impressions_label"].astype("string") if "impressions_label" in posts
             else pd.Series(pd.NA, index=posts.index, dtype="string"))
    reach = pd.to_numeric(posts["reach"], errors="coerce") if "reach" in posts else pd.Series(np.nan, index=posts.index)
    imp = (pd.to_numeric(posts["impressions"], errors="coerce") if "impressions" in posts
           else pd.Series(np.nan, index=posts.index))
    eng = (pd.to_numeric(posts["engagements"], errors="coerce") if "engagements" in posts
           else pd.Series(np.nan, index=posts.index))
    account = (posts["account"].astype("string").fillna("?") if "account" in posts
               else pd.Series("?", index=posts.index, dtype="string"))
    frame = pd.DataFrame({"platform": plat, "label": label, "reach": reach, "imp": imp, "eng": eng,
                          "account": account})
    rows = []
    for name, g in frame.groupby("platform", sort=True, observed=True):
        labels = g["label"].dropna()
        own = str(labels.mode().iloc[0]) if len(labels) else None
        terms = PLATFORM_TERMS.get(str(name), {})
        key = "views" if own and own.strip().lower() == "views" else "impressions"
        r = g["reach"].dropna()
        rows.append({"platform": str(name), "n_posts": int(len(g)), "impressions_label": own,
                     "impressions_definition": terms.get(key),
                     # a definition only where the posts hold the count; else say it is not in the exports
                     "engagements_definition": terms.get("engagements") if g["eng"].notna().any() else
                     terms.get("engagements_absent") or "not reported: no post of these exports has an engagement "
                                                        "count, so none is analysed.",
                     "n_engagements": int(g["eng"].notna().sum()),
                     "n_reach": int(len(r)), "reach_median": float(r.median()) if len(r) else None,
                     "n_impressions": int(g["imp"].notna().sum()),
                     "impressions_total": float(g["imp"].sum()) if g["imp"].notna().any() else None,
                     "impressions_median": float(g["imp"].median()) if g["imp"].notna().any() else None,
                     # the accounts whose posts these are (review15 M1: two pages pooled without a word)
                     "accounts": [{"account": str(a), "n_posts": int(n)}
                                  for a, n in g["account"].value_counts(sort=True).items()]})
    return {"impressions_word": impressions_word(list(label.dropna().unique())), "platforms": rows,
            "source": "posts_coded (platform, impressions_label, reach); definitions from workbench.vocab.PLATFORM_TERMS"}
