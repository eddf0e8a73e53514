"""Before/after claims that separate an intervention from audience growth and the trend already there.

Public functions (each returns a typed result whose ``to_dict()`` is JSON-serializable and carries what a
sentence needs: estimate, CI, method, terms, n posts, n months — or ``available: False`` with the reason and
the input that would make it possible):

- :func:`post_change` — did posts reach more people after the date than the audience and the trend explain?
  OLS of ``log1p(outcome)`` on a period indicator, a linear time trend and log followers at the post (an
  interrupted time series on posts), with standard errors clustered by calendar month (posts in one month share
  its news, its algorithm and its audience: they are not independent) and t(G − 1), G = months. The estimate
  ``exp(b_after)`` is a ratio of geometric means of (1 + outcome) at equal followers and trend. The unadjusted
  median ratio is kept as a labelled descriptive number, with a CI that resamples whole months.
- :func:`compare_by_platform` — both of the above and the published Welch form, once per platform when the
  posts hold several (each with its own posts, its own account rows and its own months' completeness): a
  Facebook page and an Instagram account are different audiences, and pooling them mixes a platform that starts
  mid-period into the "after" side.
- :func:`monthly_its` — a monthly metric before/after as an interrupted time series: ``log(value) ~ months +
  after + months_since × after`` (level change and trend change at the date), Newey–West standard errors with the
  fixed-b t of :func:`workbench.growth.fixed_b_df`. The Welch t-test on the monthly values is kept only as
  ``published_form``: it treats months as independent and ignores the pre-existing trend.

Notes
-----
Why not the median ratio. When followers grow, every post after a date is seen by more people whether or not
the intervention did anything; a median ratio (or a Welch test on months) credits the intervention with that
growth. Holding log followers and a time trend fixed asks whether the *level* at the date moved beyond them.
A fake date inside the before period should give a ratio near 1 under this model (tests/test_beforeafter.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from .errors import InputError
from .vocab import metric_name

__all__ = ["PostChange", "MonthlyITS", "post_change", "monthly_its", "compare_by_platform", "platforms_of", "rows_of_platform",
           "MIN_MONTHS_EACH_SIDE"]

#: calendar months of data needed on each side of the date for a before/after estimate
MIN_MONTHS_EACH_SIDE = 3
#: bootstrap resamples of whole months for the descriptive median ratio's CI
MEDIAN_BOOT = 999
SEED = 20_261_127

POSTS_INPUT = {
    "file": "post exports listed under `posts:` in dataset.yml (e.g. X's per-tweet activity CSVs)",
    "columns": "published time and impressions (or the outcome), and a follower count in the account data",
    "example_row": "Tweet id,Tweet permalink,Tweet text,time,impressions\n1,https://x.com/a/status/1,Hello,"
    "2024-03-01 10:00 +0000,1520",
}


def _f(x: Any) -> float | None:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


@dataclass
class PostChange:
    """The adjusted before/after ratio of a post outcome (see :func:`post_change`)."""

    available: bool
    outcome: str
    intervention_date: str | None
    reason: str | None = None
    needed: dict | None = None
    estimate: float | None = None
    ci: list = field(default_factory=lambda: [None, None])
    p_value: float | None = None
    estimand: str | None = None
    method: str | None = None
    terms: list = field(default_factory=list)
    terms_missing: dict = field(default_factory=dict)
    cov_type: str | None = None
    df: float | None = None
    n_posts: int = 0
    n_posts_before: int = 0
    n_posts_after: int = 0
    n_months: int = 0
    n_months_before: int = 0
    n_months_after: int = 0
    descriptive: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MonthlyITS:
    """A monthly metric before/after as an interrupted time series (see :func:`monthly_its`)."""

    available: bool
    metric: str
    intervention_date: str | None
    reason: str | None = None
    level_change: float | None = None
    level_change_ci: list = field(default_factory=lambda: [None, None])
    level_change_p: float | None = None
    trend_change_per_year: float | None = None
    trend_change_per_year_ci: list = field(default_factory=lambda: [None, None])
    trend_change_p: float | None = None
    pre_trend_per_year: float | None = None
    scale: str | None = None
    method: str | None = None
    terms: list = field(default_factory=list)
    maxlags: int | None = None
    df: float | None = None
    n_months: int = 0
    n_months_before: int = 0
    n_months_after: int = 0
    months_left_out: dict = field(default_factory=dict)
    published_form: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _utc_naive(values: pd.Series) -> pd.Series:
    out = pd.to_datetime(values, utc=True, errors="coerce")
    return out.dt.tz_localize(None)


def _date(d: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(d)
    except (TypeError, ValueError) as exc:
        raise InputError(f"cannot read the intervention date {d!r}: {exc}") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


#: Largest months × distinct values table the month-block bootstrap builds (float64: 128 MB); above it the
#: resamples are concatenated one by one (the same medians, slower).
_MAX_HISTOGRAM_CELLS = 1 << 24


def _month_block_median_ci(
    y: np.ndarray, after: np.ndarray, month: np.ndarray, alpha: float
) -> tuple[float | None, float | None]:
    """Percentile CI of median(after)/median(before), resampling whole calendar months (within each period).

    A resample of whole months is a multiset: each month's posts ``count`` times. Its median is found from the
    months × distinct-values histogram (one matrix product for all resamples, then the cumulative counts), the
    same value ``np.median`` of the concatenated resample gives (the mean of the two middle values when the count
    is even), without building a million-post array per resample. The random draws are the same, in the same
    order, as drawing and concatenating each resample (:func:`_month_block_median_ci_reference`).
    """
    rng = np.random.default_rng(SEED)
    sides = {}
    for side in (False, True):
        codes, inv = np.unique(month[after == side], return_inverse=True)
        sides[side] = (y[after == side], inv, len(codes))
    picks = {False: np.empty((MEDIAN_BOOT, sides[False][2]), dtype=np.int64),
             True: np.empty((MEDIAN_BOOT, sides[True][2]), dtype=np.int64)}
    for b in range(MEDIAN_BOOT):  # the draws of the reference loop, in its order
        for side in (False, True):
            g = sides[side][2]
            picks[side][b] = rng.integers(0, g, g)
    med = {}
    for side in (False, True):
        vals, inv, g = sides[side]
        uvals, vinv = np.unique(vals, return_inverse=True)
        if g * len(uvals) > _MAX_HISTOGRAM_CELLS:
            return _month_block_median_ci_reference(y, after, month, alpha)
        hist = np.bincount(inv * len(uvals) + vinv, minlength=g * len(uvals)).reshape(g, len(uvals)).astype(float)
        counts = np.zeros((MEDIAN_BOOT, g))
        np.add.at(counts, (np.repeat(np.arange(MEDIAN_BOOT), g), picks[side].ravel()), 1.0)
        out = np.empty(MEDIAN_BOOT)
        for lo in range(0, MEDIAN_BOOT, 128):  # resamples in blocks: (block × months) @ (months × values)
            cum = np.cumsum(counts[lo:lo + 128] @ hist, axis=1)
            n = cum[:, -1].astype(np.int64)
            j_hi = n // 2
            j_lo = np.where(n % 2 == 0, j_hi - 1, j_hi)
            rows = np.arange(len(cum))
            hi = uvals[np.array([np.searchsorted(cum[r], j_hi[r], side="right") for r in rows])]
            low = uvals[np.array([np.searchsorted(cum[r], j_lo[r], side="right") for r in rows])]
            out[lo:lo + 128] = np.where(j_lo == j_hi, hi, (low + hi) / 2)
        med[side] = out
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(med[False] > 0, med[True] / med[False], np.nan)
    ok = ratios[np.isfinite(ratios)]
    if len(ok) < MEDIAN_BOOT // 2:
        return None, None
    return float(np.quantile(ok, alpha / 2)), float(np.quantile(ok, 1 - alpha / 2))


def _month_block_median_ci_reference(
    y: np.ndarray, after: np.ndarray, month: np.ndarray, alpha: float
) -> tuple[float | None, float | None]:
    """:func:`_month_block_median_ci` by concatenating every resample (the definition; used when the histogram
    would be too large)."""
    rng = np.random.default_rng(SEED)
    ratios = np.empty(MEDIAN_BOOT)
    groups = {}
    for side in (False, True):
        m = month[after == side]
        codes, inv = np.unique(m, return_inverse=True)
        order = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order], np.arange(len(codes) + 1))
        groups[side] = (y[after == side][order], bounds, len(codes))
    for b in range(MEDIAN_BOOT):  # a loop over resamples (not posts); each is vectorized over posts
        med = []
        for side in (False, True):
            vals, bounds, g = groups[side]
            pick = rng.integers(0, g, g)
            idx = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in pick])
            med.append(np.median(vals[idx]))
        ratios[b] = med[1] / med[0] if med[0] > 0 else np.nan
    ok = ratios[np.isfinite(ratios)]
    if len(ok) < MEDIAN_BOOT // 2:
        return None, None
    return float(np.quantile(ok, alpha / 2)), float(np.quantile(ok, 1 - alpha / 2))


def median_ratio_rule(before: np.ndarray, after: np.ndarray, months_before: int, months_after: int, *,
                      noun: str = "the outcome") -> dict[str, Any]:
    """Whether a descriptive ratio of medians (after ÷ before) and its month-resampling CI may be printed.

    A ratio needs :data:`workbench.models.MIN_LEVEL_POSTS` posts on each side (the models' minimum per group:
    a median of fewer says nothing about the period) and two positive medians (a median of 0 makes the ratio 0
    or infinite, which says only that most posts had none: ``median_ratio_reason`` says so). Its CI resamples
    whole calendar months, and needs :data:`MIN_MONTHS_EACH_SIDE` months on each side — the minimum of the
    adjusted estimate: with two months a side the resampling has three distinct outcomes per side, and the
    percentile interval no coverage meaning. Returns ``median_ratio``, ``median_ratio_reason``,
    ``median_ratio_ci_reason`` (None when allowed).
    """
    from .models import MIN_LEVEL_POSTS

    nb, na = len(before), len(after)
    out: dict[str, Any] = {"median_ratio": None, "median_ratio_reason": None, "median_ratio_ci_reason": None}
    if nb < MIN_LEVEL_POSTS or na < MIN_LEVEL_POSTS:
        out["median_ratio_reason"] = (
            f"{nb} post(s) before and {na} after; a ratio of medians needs at least {MIN_LEVEL_POSTS} on each side")
    else:
        mb, ma = float(np.median(before)), float(np.median(after))
        zero = [f"the median {side} is 0 ({int((v == 0).sum())} of {len(v)} posts have no {noun})"
                for side, m, v in (("before", mb, before), ("after", ma, after)) if m <= 0]
        if zero:
            out["median_ratio_reason"] = " and ".join(zero) + ": a ratio of medians would be 0 or infinite"
        else:
            out["median_ratio"] = _f(ma / mb)
    if out["median_ratio"] is None:
        out["median_ratio_ci_reason"] = "no ratio"
    elif months_before < MIN_MONTHS_EACH_SIDE or months_after < MIN_MONTHS_EACH_SIDE:
        out["median_ratio_ci_reason"] = (
            f"posts in {months_before} month(s) before and {months_after} after; an interval from resampling whole "
            f"months needs at least {MIN_MONTHS_EACH_SIDE} on each side")
    return out


def _collinear(X: np.ndarray, tol: float = 1e-7) -> bool:
    """True when the columns (scaled to unit length) are (numerically) linearly dependent."""
    norms = np.linalg.norm(X, axis=0)
    if (norms == 0).any():
        return True
    sv = np.linalg.svd(X / norms, compute_uv=False)
    return bool(sv[-1] / sv[0] < tol)


def post_change(
    posts: pd.DataFrame | None,
    intervention_date: Any,
    *,
    outcome: str = "impressions",
    alpha: float = 0.05,
    controls: tuple[str, ...] = ("is_reply",),
) -> PostChange:
    """Adjusted before/after ratio of a post outcome at ``intervention_date``; never raises on thin data.

    Parameters
    ----------
    posts : DataFrame
        Posts (``published_at``, the outcome; ``followers_at_post`` as in posts_coded when the account has
        follower counts; optional yes/no ``controls`` such as ``is_reply`` — used when both values occur).
    intervention_date : date-like
        Posts published on or after it are "after".
    outcome : str
        Count column (impressions, engagements, …).

    Returns
    -------
    PostChange
        ``estimate`` = exp(b_after) from OLS of log1p(outcome) on [1, after, years since the date, log
        followers at post, controls], CI and p from month-clustered standard errors with t(G − 1); ``terms``
        lists what was in the model and ``terms_missing`` what could not be and why. ``descriptive`` holds the
        unadjusted medians, their ratio with a CI resampling whole months, and the ratio of median followers.
    """
    date = _date(intervention_date)
    res = PostChange(available=False, outcome=outcome, intervention_date=date.date().isoformat())
    if posts is None or len(posts) == 0:
        res.reason = "no posts"
        res.needed = POSTS_INPUT
        return res
    if outcome not in posts.columns or "published_at" not in posts.columns:
        res.reason = f"the posts table has no {outcome!r} or no 'published_at' column"
        res.needed = POSTS_INPUT
        return res
    when = _utc_naive(posts["published_at"])
    y = pd.to_numeric(posts[outcome], errors="coerce").astype(float)
    ok = when.notna() & y.notna() & (y >= 0)
    if not ok.any():  # e.g. impressions of Mastodon or Bluesky posts: the platform does not report them
        res.reason = (f"no post has a number of {metric_name(outcome)} (the export does not report them, or every "
                      "value is missing)")
        res.n_posts = 0
        return res
    when, yv = when[ok], y[ok].to_numpy()
    after = (when >= date).to_numpy()
    # calendar month as year·12 + month: the same months, in the same order, as "YYYY-MM" labels (cheaper at 1M)
    month = (when.dt.year * 12 + when.dt.month - 1).to_numpy(dtype=np.int64)
    n_b, n_a = int((~after).sum()), int(after.sum())
    mb, ma = len(np.unique(month[~after])), len(np.unique(month[after]))
    res.n_posts, res.n_posts_before, res.n_posts_after = int(len(yv)), n_b, n_a
    res.n_months, res.n_months_before, res.n_months_after = int(len(np.unique(month))), mb, ma
    if n_b == 0 or n_a == 0:
        side = "after" if n_a == 0 else "before"
        rng_txt = f"{when.min().date()} to {when.max().date()}" if len(when) else "none"
        res.reason = (
            f"the date is {'after' if n_a == 0 else 'before'} your posts (posts run {rng_txt}): no {outcome} "
            f"{side} it to compare"
        )
        return res
    med_b, med_a = float(np.median(yv[~after])), float(np.median(yv[after]))
    desc: dict[str, Any] = {
        "label": "descriptive, unadjusted: not an estimate of the intervention's effect",
        "median_before": med_b,
        "median_after": med_a,
        "median_ratio": None,
        "median_ratio_ci": [None, None],
        "median_ratio_ci_method": (
            f"percentile interval of {MEDIAN_BOOT} resamples of whole calendar months within each period"
        ),
    }
    desc.update(median_ratio_rule(yv[~after], yv[after], mb, ma, noun=metric_name(outcome)))
    if desc["median_ratio"] is not None and desc["median_ratio_ci_reason"] is None:
        desc["median_ratio_ci"] = list(_month_block_median_ci(yv, after, month, alpha))
    res.descriptive = desc
    if mb < MIN_MONTHS_EACH_SIDE or ma < MIN_MONTHS_EACH_SIDE:
        res.reason = (
            f"posts in {mb} month(s) before and {ma} after the date; at least {MIN_MONTHS_EACH_SIDE} on each side "
            "are needed to separate a change at the date from the trend, with months as clusters"
        )
        return res

    years = ((when - date) / pd.Timedelta(days=365.25)).to_numpy(float)
    cols = {"Intercept": np.ones(len(yv)), "after": after.astype(float), "years_since_date": years}
    missing: dict[str, str] = {}
    fol = None
    if "followers_at_post" in posts.columns:
        fol = pd.to_numeric(posts.loc[ok, "followers_at_post"], errors="coerce").astype(float).to_numpy()
    if fol is not None and np.isfinite(fol).all() and (fol > 0).all() and np.ptp(fol) > 0:
        cols["log_followers"] = np.log(fol)
        desc["followers_median_before"] = float(np.median(fol[~after]))
        desc["followers_median_after"] = float(np.median(fol[after]))
        desc["followers_median_ratio"] = _f(np.median(fol[after]) / np.median(fol[~after]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ipf = yv / fol
        desc["impressions_per_follower_median_ratio"] = _f(np.median(ipf[after]) / np.median(ipf[~after])) if (
            np.median(ipf[~after]) > 0) else None
    else:
        n_na = 0 if fol is None else int((~np.isfinite(fol)).sum())
        missing["log_followers"] = (
            "no follower counts at the posts' times (map a followers column in the account data)"
            if fol is None or n_na == len(fol)
            else f"follower counts missing or not positive for {n_na} of {len(fol)} posts; audience not held "
            "constant (fill the follower series to control for it)"
        )
    for c in controls:
        if c in posts.columns:
            v = posts.loc[ok, c].astype("boolean")
            if v.notna().all() and v.nunique() == 2:
                cols[c] = v.astype(float).to_numpy()
            else:
                missing[c] = "missing values or only one value"
        else:
            missing[c] = "not in the posts table"
    if "log_followers" in cols and _collinear(np.column_stack([cols["Intercept"], cols["years_since_date"],
                                                                cols["log_followers"]])):
        del cols["years_since_date"]
        missing["years_since_date"] = (
            "left out: log followers are a straight line in time here, so the trend and the audience cannot be "
            "told apart; the audience term carries the trend"
        )
    X = np.column_stack(list(cols.values()))
    if _collinear(X):
        res.reason = "the model's terms are collinear (e.g. followers a straight line in time): not estimable"
        res.terms, res.terms_missing = list(cols), missing
        return res
    groups = pd.factorize(month)[0]
    G = int(groups.max() + 1)
    fit = sm.OLS(np.log1p(yv), X).fit(cov_type="cluster", cov_kwds={"groups": groups})
    b, se = float(fit.params[1]), float(fit.bse[1])
    df = G - 1
    q = stats.t.ppf(1 - alpha / 2, df)
    res.available = True
    res.estimate = _f(math.exp(b))
    res.ci = [_f(math.exp(b - q * se)), _f(math.exp(b + q * se))]
    res.p_value = _f(2 * stats.t.sf(abs(b / se), df)) if se > 0 else None
    res.terms, res.terms_missing = list(cols), missing
    res.cov_type = f"cluster-robust by calendar month ({G} months), t({df})"
    res.df = float(df)
    held = [t for t in ("log_followers", "years_since_date", *controls) if t in cols]
    res.estimand = (
        f"ratio of geometric means of (1 + {outcome}) after vs before the date, holding "
        + ", ".join({"log_followers": "audience size (log followers at the post)",
                     "years_since_date": "the linear time trend",
                     "is_reply": "post type (reply or not)"}.get(t, t) for t in held)
        + " constant"
    )
    res.method = (
        f"OLS of log1p({outcome}) on {' + '.join(t for t in cols if t != 'Intercept')} ({len(yv)} posts, {G} "
        f"months); standard errors clustered by calendar month, t({df})"
    )
    return res


def monthly_its(
    months: pd.DataFrame,
    intervention_date: Any,
    *,
    metric: str,
    alpha: float = 0.05,
    maxlags: int | None = None,
    published_form: dict | None = None,
) -> MonthlyITS:
    """Interrupted time series of a monthly metric; never raises on thin data.

    Parameters
    ----------
    months : DataFrame
        ``month`` (first of the month), the metric column and ``complete`` (bool), as
        :func:`workbench.growth.monthly_metrics` returns. Incomplete months and the month containing the date
        are left out (counted in ``months_left_out``).
    intervention_date : date-like
    metric : str
        Column of ``months``.
    published_form : dict, optional
        The Welch/Mann–Whitney comparison of the same months (kept as "the published form").

    Returns
    -------
    MonthlyITS
        On the log scale when every month is positive (``level_change`` a ratio at the date, the trend change a
        ratio per year), else on the value scale (differences). Newey–West (Bartlett, lag rule of
        :func:`workbench.growth.newey_west_lags`) with the fixed-b t.
    """
    from .growth import fixed_b_df, newey_west_lags

    date = _date(intervention_date)
    res = MonthlyITS(available=False, metric=metric, intervention_date=date.date().isoformat(),
                     published_form=published_form or {})
    if months is None or len(months) == 0 or metric not in months.columns:
        res.reason = f"no monthly {metric}"
        return res
    m = pd.to_datetime(months["month"])
    v = pd.to_numeric(months[metric], errors="coerce").astype(float)
    complete = months["complete"].astype(bool) if "complete" in months.columns else pd.Series(True, index=months.index)
    end = m + pd.offsets.MonthBegin(1)
    transition = (m < date) & (end > date)
    left = {
        "incomplete": int((~complete & v.notna()).sum()),
        "containing_the_date": int((transition & complete & v.notna()).sum()),
        "no_value": int(v.isna().sum()),
    }
    res.months_left_out = left
    if not v.notna().any():  # the metric is reported in no month (Mastodon's impressions)
        res.reason = f"no month has a number of {metric_name(metric)} (the export does not report them)"
        return res
    use = complete & ~transition & v.notna()
    has = v.notna()
    # months with a value on each side, whatever their completeness: why a side is empty is said truly
    side_all = {"after": has & (m >= date), "before": has & (end <= date)}
    m_all = m
    m, v = m[use], v[use].to_numpy()
    after = (m >= date).to_numpy()
    nb, na = int((~after).sum()), int(after.sum())
    res.n_months, res.n_months_before, res.n_months_after = int(len(v)), nb, na
    if na == 0 or nb == 0:
        side = "after" if na == 0 else "before"
        partial = side_all[side] & ~complete
        has_date_month = bool((transition & has).any())
        if partial.any():
            names = ", ".join(t.strftime("%B %Y") for t in m_all[partial])
            res.reason = (f"no complete month {side} the date: the month(s) {side} it with data ({names}) are "
                          "counted as partial (the data do not cover the whole month)"
                          + ("; the month containing the date is left out" if has_date_month else ""))
        elif has_date_month:
            res.reason = (f"no month wholly {side} the date: the data {side} it lie in the month containing the "
                          "date, which is left out (it mixes both periods)")
        else:
            res.reason = f"the date is {'after' if na == 0 else 'before'} your monthly data: nothing {side} it to compare"
        return res
    if nb < MIN_MONTHS_EACH_SIDE or na < MIN_MONTHS_EACH_SIDE or len(v) < 8:
        res.reason = (
            f"{nb} complete month(s) before and {na} after; at least {MIN_MONTHS_EACH_SIDE} on each side and 8 in "
            "all are needed for a level and a trend change"
        )
        return res
    t = ((m.dt.year - date.year) * 12 + (m.dt.month - date.month)).to_numpy(float)  # months since the date
    log_scale = bool((v > 0).all())
    yv = np.log(v) if log_scale else v
    X = np.column_stack([np.ones(len(v)), t, after.astype(float), t * after])
    n = len(v)
    lags = newey_west_lags(n) if maxlags is None else min(int(maxlags), n - 1)
    fit = sm.OLS(yv, X).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    df = fixed_b_df(n, lags, float(n - 4))
    q = stats.t.ppf(1 - alpha / 2, df)
    b, se = np.asarray(fit.params), np.asarray(fit.bse)
    p = 2 * stats.t.sf(np.abs(b / np.where(se > 0, se, np.nan)), df)
    tr = (lambda x: math.exp(x)) if log_scale else (lambda x: x)
    res.available = True
    res.scale = "log (changes are ratios)" if log_scale else "value (changes are differences; a month ≤ 0)"
    res.level_change = _f(tr(b[2]))
    res.level_change_ci = [_f(tr(b[2] - q * se[2])), _f(tr(b[2] + q * se[2]))]
    res.level_change_p = _f(p[2])
    res.trend_change_per_year = _f(tr(12 * b[3]))
    res.trend_change_per_year_ci = [_f(tr(12 * (b[3] - q * se[3]))), _f(tr(12 * (b[3] + q * se[3])))]
    res.trend_change_p = _f(p[3])
    res.pre_trend_per_year = _f(tr(12 * b[1]))
    res.terms = ["Intercept", "months_since_date", "after", "months_since_date:after"]
    res.maxlags, res.df = int(lags), _f(df)
    res.method = (
        f"interrupted time series: OLS of {'log ' if log_scale else ''}monthly {metric} on months since the date, "
        f"after, and their interaction ({n} complete months: {nb} before, {na} after; the month containing the "
        f"date left out); Newey–West standard errors with {lags} lag(s), fixed-b t({df:.3g}). The level change "
        "is the jump at the date beyond the before-period trend; the trend change is per year"
    )
    return res


def platforms_of(posts: pd.DataFrame | None) -> list[str]:
    """The platforms of the posts table (lower-case, sorted; posts without one are "unknown"); [] without a
    ``platform`` column."""
    if posts is None or "platform" not in posts.columns or len(posts) == 0:
        return []
    plat = posts["platform"].astype("string").str.strip().str.lower().fillna("unknown")
    return sorted(plat.unique().tolist())


def rows_of_platform(frame: pd.DataFrame | None, platform: str) -> pd.DataFrame | None:
    if frame is None or "platform" not in frame.columns:
        return None if frame is None else frame.iloc[:0]
    plat = frame["platform"].astype("string").str.strip().str.lower().fillna("unknown")
    return frame.loc[(plat == platform).to_numpy(dtype=bool)]


def _welch_months(months: pd.DataFrame, date: pd.Timestamp, metric: str, alpha: float) -> dict:
    """The published form on one platform's months: complete months wholly before vs wholly after the date
    (the month containing the date left out), Welch and Mann–Whitney as :mod:`workbench.growth` computes them."""
    from .growth import _compare_monthly  # the same published form as growth.json's ``monthly``

    m = pd.to_datetime(months["month"])
    v = pd.to_numeric(months[metric], errors="coerce").astype(float)
    complete = months.get(f"complete_{metric}", months["complete"]).astype(bool)
    end = m + pd.offsets.MonthBegin(1)
    use = (complete & v.notna()).to_numpy()
    before = use & (end <= date).to_numpy()
    after = use & (m >= date).to_numpy()
    out = _compare_monthly(v.to_numpy()[before], v.to_numpy()[after], metric=metric, alpha=alpha, warnings=[])
    out["label"] = "published form: months treated as independent, the earlier trend ignored"
    return out


def compare_by_platform(
    posts: pd.DataFrame | None,
    account: pd.DataFrame | None,
    intervention_date: Any,
    *,
    monthly_metric: str = "impressions",
    alpha: float = 0.05,
) -> list[dict]:
    """The before/after comparison at ``intervention_date`` once per platform of the posts; [] with one platform.

    Each platform gets its own posts (collab posts published by another account, ``is_own_post`` False, left
    out and counted), its own account rows (followers at the post come from posts_coded, interpolated per
    platform and account by :func:`workbench.features.interpolate_followers`) and its own calendar months, whose
    completeness is judged on that platform's data alone (:func:`workbench.growth.monthly_metrics`).

    Returns
    -------
    list of dict
        One per platform (sorted): ``platform``, ``n_posts``, ``n_collab_out``, ``posts_adjusted``
        (:func:`post_change`), ``monthly_its`` (:func:`monthly_its` of ``monthly_metric``), ``monthly``
        (the published Welch form on the same months), ``monthly_sources`` (where each monthly number came
        from: the account table or the posts) and ``months`` (month, value, complete).
    """
    from .growth import monthly_metrics

    names = platforms_of(posts)
    if len(names) < 2:
        return []
    date = _date(intervention_date)
    out = []
    for name in names:  # a loop over platforms (a handful), each vectorized over its posts
        own = rows_of_platform(posts, name)
        n_collab = 0
        if "is_own_post" in own.columns:
            collab = own["is_own_post"].astype("boolean").eq(False).fillna(False).to_numpy(dtype=bool)
            n_collab = int(collab.sum())
            own = own.loc[~collab]
        acc = rows_of_platform(account, name)
        rec: dict[str, Any] = {"platform": name, "n_posts": int(len(own)), "n_collab_out": n_collab,
                               "posts_adjusted": post_change(own, date, alpha=alpha).to_dict()}
        need = ("impressions", "posts") if monthly_metric == "impressions_per_post" else (monthly_metric,)
        try:
            months = monthly_metrics(acc if acc is not None else pd.DataFrame(), own, metrics=need)
        except InputError as exc:
            rec["monthly_its"] = MonthlyITS(available=False, metric=monthly_metric,
                                            intervention_date=date.date().isoformat(),
                                            reason=f"no monthly {monthly_metric} for this platform: {exc}").to_dict()
            rec["monthly"], rec["monthly_sources"], rec["months"] = None, {}, []
            out.append(rec)
            continue
        rec["monthly_its"] = monthly_its(months, date, metric=monthly_metric, alpha=alpha,
                                         published_form={"see": "monthly"}).to_dict()
        rec["monthly"] = _welch_months(months, date, monthly_metric, alpha) if len(months) else None
        rec["monthly_sources"] = {str(k): str(v) for k, v in (months.attrs.get("sources") or {}).items()}
        rec["months"] = [
            {"month": pd.Timestamp(m).date().isoformat(), "value": _f(v), "complete": bool(c)}
            for m, v, c in zip(months["month"], pd.to_numeric(months[monthly_metric], errors="coerce"),
                               months["complete"], strict=True)
        ]
        out.append(rec)
    return out
