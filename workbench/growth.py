"""Growth comparison before and after interventions (DESIGN.md §5 ``growth.json``, §6 "Growth").

Public functions:

- :func:`prepare_growth_series` turns the canonical account table into a level series in *days* (never rows);
- :func:`prepare_growth_increments` turns it into growth increments (change of the level over [start, end));
- :func:`monthly_metrics` sums daily account rows (or posts) into calendar months;
- :func:`compare_growth` estimates each period's growth rate from the increments, tests the rate change,
  computes the rate ratio with a CI, an equivalence test (TOST), the monthly fold change with Welch and
  Mann–Whitney tests, a counterfactual projection of the pre-period rate, placebo interventions in the
  pre-period and a state-space (local linear trend) forecast as a second opinion; it also keeps the published
  per-period level fits and the segmented level regression for comparison. It returns the JSON-serializable
  dict written to ``results/growth.json``;
- :func:`newey_west_lags` and :func:`fixed_b_df` state the lag rule and the degrees of freedom used;
- :func:`follower_basis` says how follower growth can be measured (a level, a level derived from flows and an
  anchor, net or gross follows per day); :func:`apply_month_of` and :func:`month_of_previous_sources` file a
  sheet row holding the previous month's totals under that month (card ``month_of: previous``).

``compare_growth`` also adds, per comparison, ``monthly_its`` (interrupted time series of the monthly metric)
and ``posts_adjusted`` (post-level change adjusted for followers and trend), from :mod:`workbench.beforeafter`.

Notes
-----
Why increments. A follower count is a cumulative sum of daily net follows (gross follows minus unfollows): a
counting process, i.e. a random walk with drift. Its deviations from a straight line are not stationary noise
— their variance grows with time — so a regression of the *level* on time understates the slope's
uncertainty however the errors are corrected (Newey–West assumes stationarity and cannot fix a unit root;
Granger & Newbold 1974 on regressions of integrated series, Nelson & Kang 1984 on detrending a random walk,
Durlauf & Phillips 1988 on trend regressions with I(1) errors). In simulations of a count observed monthly
(48 months) the level model's HAC slope-change test rejects a true "no change" about 63% of the time and its
95% ratio CI covers the truth about 37% of the time. The increments of a counting process over disjoint
intervals are independent with variance proportional to the interval's length, which is what the model
below uses (the maximum-likelihood drift of a random walk is the total increase over the total time).

The increments model (the rigorous form, at the top level and in ``comparisons``):

- For consecutive observations i−1 → i (irregular dates; a missing month simply makes a longer interval)
  ``Δvalue_i = Σ_p r_p · d_{p,i} + e_i``, with ``d_{p,i}`` the days of [t_{i−1}, t_i) in period p (an
  interval spanning an intervention counts in both periods — no data thrown away) and ``Var(e_i) ∝
  Δdays_i``: weighted least squares with weights 1/Δdays. ``r_p`` is period p's growth rate (per day). With
  new follows/unfollows and no level, the increments are the net flows themselves, each over its own
  reporting interval (its day; its calendar month in a monthly sheet). One model holds all periods; each
  comparison contrasts two consecutive rates. A period covered by fewer than two increments gets no rate.
- Covariance: Newey–West on top of the WLS (for residual autocorrelation): Bartlett kernel, ``maxlags`` lags
  counted in increments (default ``floor(4 (n/100)^(2/9))``, Newey & West 1994, n = increments), no
  prewhitening, factor n/(n − k) (statsmodels ``WLS(..., weights=1/Δdays)`` with ``cov_type="HAC"``,
  ``use_correction=True``; R ``sandwich::NeweyWest(lm(dv ~ 0 + D, weights = 1/dt), lag, prewhite = FALSE,
  adjust = TRUE)``).
- The reported test (``slope_change.p_value``) is of the growth ratio r_after / r_before = 1 on the scale of
  ``slope_ratio_ci`` (log when both rates are positive; the ratio itself when the after rate is not; the rate
  difference when the before rate is not positive, ``slope_change.test`` says which): a Newey–West delta-method t,
  so p < α exactly when the ratio CI excludes 1. Month-to-month variation of follower growth grows with the rate
  (bursts of attention multiply follows and unfollows alike), so under a real change the difference's SE is
  dominated by the after period's larger noise while the log ratio's is not: in the simulations below the two have
  the same false-positive rate and the ratio test more power (40/8 split: 0.87 against 0.74). The calibrated
  rate-difference p is kept as ``p_value_difference``, with ``slope_change.ci`` (the difference's CI).
- Calibration (the reported ``p_value``, ``ci``, ``slope_ratio_ci``, ``rate_ci`` and TOST). Real follower
  series have bursts of attention lasting days to weeks, so the increments are autocorrelated and skewed, and a
  period can be short. The Newey–West t is kept as the statistic, but its null distribution comes from a sieve
  bootstrap (:data:`BOOTSTRAP_DRAWS` draws, fixed seed): AR(1) errors with the lag-1 autocorrelation of the
  whitened residuals, Kendall bias-corrected (φ̃ = φ̂ + (1 + 3φ̂)/n) and drawn per series from N(φ̃, (1 − φ̃²)/n)
  so that the coefficient's own uncertainty is allowed for, innovations resampled from the residuals, pushed
  through the same estimator (same design, same lags). Critical values are the bootstrap's quantiles of |t|;
  ``p_value`` is the t referred to the Student t whose 1 − α/2 point is that critical value (so p < α exactly when
  the CI excludes the null, and small p-values are not floored at 1/(B + 1); the bootstrap rank p is kept as
  ``p_value_bootstrap_rank``). The uncalibrated fixed-b form (Kiefer & Vogelsang 2005, ``fixed_b_df``) is kept in
  ``*_fixed_b`` keys (``p_value_ratio_fixed_b`` for the ratio test): it is what the R reference in
  tests/results/growth reproduces.
- Minimum detectable ratio (``minimum_detectable``, ``minimum_detectable_ratio``): for a judged comparison, the
  smallest increase (``ratio_increase``) and largest decrease (``ratio_decrease``) of the growth rate that the test
  detects with :data:`MDE_POWER` power at α, and its power at :data:`POWER_AT_RATIOS`, by simulation: the
  bootstrap's AR(1) error series rescaled to the before period's residual SD, the after rate set to ratio × the
  before rate and its errors multiplied by the ratio, each pushed through the same estimator and judged by the
  same critical value (:func:`_power`). The report prints it beside "cannot tell". Checked against the
  simulations (200 series per scenario): with a change of the scenario's median minimum detectable ratio, the test
  found it in 0.82 of the 40/8-split series (median 1.66×), 0.71 at φ = .90 (1.41×) and 0.58 at φ = .98
  (2.48×), against the 0.80 it is defined by. At φ = .98 the fitted monthly AR(1) understates the long-run
  variance of weeks-long bursts, so the minimum detectable ratio is then too small (the truth is worse than the
  report says); at φ = .90 it is somewhat optimistic too.
- Measured on 300 simulated accounts per scenario (tests/growth_sim.py: 48 monthly counts, follows 12/day and
  unfollows 2/day Poisson around a shared lognormal AR(1) daily rate multiplier; nominal 5%; false positives,
  ratio-CI coverage, PI coverage, power against 1.7×):
  pure Poisson — 0.070, 0.930, 0.943, 1.00; AR φ = .90/day, sd .5 — 0.063, 0.937, 0.943, 0.98;
  AR φ = .98/day, sd .6 — 0.057, 0.943, 0.943, 0.28; φ = .90 with a 40/8-month split, 0–5-day jitter in when
  counts were written down and 6% months missing — 0.060, 0.940, 0.933, 0.87 (binomial SD ≈ 0.013; on 1000 other
  series the false-positive rates are 0.059, 0.036, 0.048, 0.060). The uncalibrated fixed-b test gave 0.08–0.14
  false positives on the same kinds of series. The power target 0.9 is out of reach at φ = .98: a test that knows
  the true noise law (GLS with the true covariance of the monthly increments) reaches 0.46, a Neyman–Pearson test
  that also knows the base rate and the ratio 0.60. In the 40/8 split the same oracle reaches 0.93 on clean
  dates, with the variance known; the method estimates the after period's variance from 8 months. Tests that
  pool the variance across periods (AR(1) GLS likelihood ratio with a parametric bootstrap: 0.92; a pooled
  relative-variance Newey–West ratio test: 0.90) were not adopted: when only the burstiness changes at the date
  (40/8 split, sd .5 → .9, no change in rate; 200 series) they reject 0.21 and 0.24 of the time, the adopted test
  0.085 (with a 24/24 split all three reject about 0.09: a change in burstiness alone inflates false positives
  somewhat even for the adopted test).
- ``slope_change`` = r_after − r_before. ``slope_ratio`` = r_after / r_before with a CI by the delta method on
  log(ratio) when both rates are positive (on the ratio itself otherwise; Fieller's interval is not used).
  Equivalence is two one-sided tests (TOST) of the ratio against the margin with the same standard error and the
  bootstrap's distribution: equivalent means *both* one-sided tests reject at ``alpha``. A non-significant
  difference is never read as "equal".
- The counterfactual projects the before rate from the last before-period observation: value_L + r·h at
  horizon h days. Its prediction interval comes from a sieve bootstrap of the prediction error: the same AR(1)
  errors continued over the horizon (increments of the before period's mean length), minus h × the before rate's
  estimation error, divided by the draw's before-period residual SD; the interval is the projection ± the observed
  before-period residual SD × the root's 2.5% and 97.5% points. It so carries the before period's long-run
  variance (not σ² pooled over both periods with independent future increments, which covered 0.87 under
  autocorrelation), the rate's uncertainty and the skew of real increments.

Gross follows are never a follower count (see :func:`follower_basis`): with follower counts the level is used;
with one or two dated counts and new follows and unfollows the level is derived from the flows and anchored on
the count; without a count the comparison is on net (or, without unfollows, gross) follows per day and
``level_known`` is false.

Two checks of the increments model's answer, in each comparison:

- ``placebo``: the same two-rate increments model with a fake intervention at every month start of the
  before period that leaves ≥ 3 whole increments on each side, fitted on the before period's increments
  only (the real after period is left out, so the placebo distribution is not contaminated by the real
  change). Placebos are fitted on fewer increments than the real change, so their |t| are not comparable to the
  real |t|; like is compared with like on calibrated p-values (each placebo with its own bootstrap):
  ``rank_p = (1 + #{p_placebo ≤ p_real}) / (1 + n)``, whose smallest attainable value 1/(1 + n) is stated in
  ``smallest_attainable_p`` and in the ``summary`` (18 placebos: 0.053). The |t| rank is kept as ``rank_p_t``.
- ``state_space``: a local linear trend model (statsmodels ``UnobservedComponents``, ``level="lltrend"``,
  maximum likelihood) of the before-period level on a monthly grid (the first observation of each calendar
  month; months without one are missing values the Kalman filter skips), forecast over the after-period
  months with prediction intervals: a second opinion on the counterfactual that does not assume a constant
  rate. It never raises: a failure gives ``{"error": ...}`` and a warning.

Kept for comparison (the published form):

- ``periods``: per-period OLS of the level on days with classical (iid) 95% CIs and R² (``slope_per_day``,
  ``slope_ci``, ``r2``, ``intercept``), next to the increments model's ``rate_per_day`` and ``rate_ci``.
- ``level_model``: the segmented regression ``value ~ days + post + days:post`` on two consecutive periods
  with Newey–West errors in rows (t with n − 4 df), its slope ratio by the delta method and the naive
  (iid OLS) p-value, also at the top level as ``naive_p_value``. Valid for a trend plus stationary noise;
  misleading for counts (see above).

Monthly metrics are compared on complete calendar months that lie wholly inside a period: fold change =
ratio of means with a CI by the delta method on the log scale (Welch–Satterthwaite df), Welch t-tests
(two-sided and after > before), Mann–Whitney U (exact without ties when both groups have < 50 months, as
R's ``wilcox.test``; otherwise normal approximation with continuity correction) and Hedges' g.

References
----------
Granger, C. W. J. & Newbold, P. (1974). Spurious regressions in econometrics. J. Econometrics 2, 111–120.
Nelson, C. R. & Kang, H. (1984). Pitfalls in the use of time as an explanatory variable in regression.
J. Business & Economic Statistics 2, 73–82.
Durlauf, S. N. & Phillips, P. C. B. (1988). Trends versus random walks in time series analysis.
Econometrica 56, 1333–1354.
Newey, W. K. & West, K. D. (1994). Automatic lag selection in covariance matrix estimation. Rev. Economic
Studies 61, 631–653.
Kendall, M. G. (1954). Note on bias in the estimation of autocorrelation. Biometrika 41, 403–404.
Bühlmann, P. (1997). Sieve bootstrap for time series. Bernoulli 3, 123–148.
Kiefer, N. M. & Vogelsang, T. J. (2005). A new asymptotic theory for heteroskedasticity-autocorrelation
robust tests. Econometric Theory 21, 1130–1164.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, stats

from .beforeafter import monthly_its, post_change
from .errors import InputError
from .io import _clean_floats
from .names import POST_DERIVABLE  # noqa: F401  (re-exported; defined where the card check reads it without importing growth)

__all__ = [
    "prepare_growth_series",
    "prepare_growth_increments",
    "monthly_metrics",
    "compare_growth",
    "newey_west_lags",
    "fixed_b_df",
]

MAXLAGS_RULE = "floor(4*(n/100)^(2/9)) (Newey & West 1994), n = observations in the model"
#: the start of the warning given when growth is measured from net flows without a follower count
REBUILT_WARNING = "no follower count in the account data: growth is compared as net new followers per day"
#: share of a first or last month the posts must span for its posts-derived totals to count as complete
POSTS_MONTH_COVERAGE = 0.8
#: what ``level_model`` keeps of the segmented level regression (for comparison with the published form)
LEVEL_MODEL_KEYS = ("slope_change", "slope_ratio", "slope_ratio_ci", "naive_p_value")
_DAY = pd.Timedelta(days=1)
#: null draws of the parametric bootstrap that calibrates the increments model's tests and intervals
BOOTSTRAP_DRAWS = 999
#: its seed (fixed: the same data always give the same p-value)
BOOTSTRAP_SEED = 20_261_127
#: increments a period needs (each side of a date) before the change is judged with a p-value and intervals
MIN_JUDGE_INCREMENTS = 6
#: largest AR(1) coefficient the calibration assumes (beyond it the increments are not stationary enough)
AR_PHI_MAX = 0.95


# ----------------------------------------------------------------------------------------------- helpers


def newey_west_lags(n: int) -> int:
    """Newey–West (1994) rule-of-thumb lag: ``floor(4 (n/100)^(2/9))``, at least 0."""
    if n <= 0:
        return 0
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def _f(x: Any) -> float | None:
    """A plain float, or None for NA/NaN/inf (JSON has no NaN)."""
    if x is None or x is pd.NA:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _iso(ts: Any) -> str | None:
    if ts is None or pd.isna(ts):
        return None
    return pd.Timestamp(ts).date().isoformat()


def _to_naive_dates(values: pd.Series, *, column: str) -> pd.Series:
    try:
        out = pd.to_datetime(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"account table: cannot read dates: {exc}", column=column) from exc
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _account_keys(account: pd.DataFrame) -> pd.Series:
    """One label per row naming its account (platform/account), or a single label when not given."""
    parts = [c for c in ("platform", "account") if c in account.columns]
    if not parts:
        return pd.Series("account", index=account.index, dtype="string")
    key = account[parts[0]].astype("string").fillna("?")
    for c in parts[1:]:
        key = key + "/" + account[c].astype("string").fillna("?")
    return key


def _select_account(
    account: pd.DataFrame, metric: str, posts: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[str], str | None]:
    """Rows of the one account growth is compared for when the account table holds several, and a note saying
    which and why (one rule wherever "the main account" is meant).

    Accounts are ranked, first criterion first: on the posts' platform (when ``posts`` with a ``platform``
    column are given), then the posts' own account (platform and account name); a named account above one
    named "?" (rows no export assigned to an account, such as Audience.csv's total for a platform without
    posts); a series of ``metric`` (values on two or more dates; for followers also new follows on two or more
    dates) above a lone dated value, which is an anchor, not a series; then the most ``metric`` values, the
    most new-follows values, the most rows, and the name.
    """
    from .vocab import join_words

    keys = _account_keys(account)
    uniq = [str(k) for k in keys.dropna().unique()]
    if len(uniq) <= 1:
        return account, [], (uniq[0] if uniq else None)
    idx = pd.Index(uniq)
    dates = pd.to_datetime(account["date"], errors="coerce") if "date" in account.columns else None

    def per_key(col: str) -> tuple[pd.Series, pd.Series]:
        """(values, distinct dates with a value) of ``col`` per account."""
        if col not in account.columns:
            zero = pd.Series(0, index=idx)
            return zero, zero
        has = pd.to_numeric(account[col], errors="coerce").notna()
        n = has.groupby(keys).sum().reindex(idx, fill_value=0)
        if dates is None:
            return n, n
        return n, dates.where(has).groupby(keys).nunique().reindex(idx, fill_value=0)

    n_metric, d_metric = per_key(metric)
    n_flows, d_flows = per_key("new_follows") if metric == "followers" else (n_metric * 0, d_metric * 0)
    def first(col: str) -> pd.Series:
        if col not in account.columns:
            return pd.Series(pd.NA, index=idx, dtype="string")
        return account[col].astype("string").str.strip().groupby(keys).first().reindex(idx)

    plat, handle = first("platform").str.lower().fillna(""), first("account")
    post_plats: set[str] = set()
    post_accounts: set[tuple[str, str]] = set()
    if posts is not None and "platform" in posts.columns and len(posts):
        pp = posts["platform"].astype("string").str.strip().str.lower()
        post_plats = set(pp.dropna().tolist())
        if "account" in posts.columns:
            pairs = pd.DataFrame({"p": pp, "a": posts["account"].astype("string").str.strip()}).dropna()
            post_accounts = set(zip(pairs["p"], pairs["a"], strict=True))
    rank = pd.DataFrame({
        "on_posts_platform": plat.isin(post_plats).to_numpy(bool),
        "posts_account": [(p, a) in post_accounts for p, a in zip(plat, handle.fillna(""), strict=True)],
        "named": handle.notna().to_numpy(bool) if "account" in account.columns else True,
        "series": ((d_metric >= 2) | (d_flows >= 2)).to_numpy(bool),
        "n_metric": n_metric.to_numpy(int),
        "n_flows": n_flows.to_numpy(int),
        "n_rows": keys.value_counts().reindex(idx, fill_value=0).to_numpy(int),
        "key": uniq,
    }, index=idx)
    order = ["on_posts_platform", "posts_account", "named", "series", "n_metric", "n_flows", "n_rows"]
    rank = rank.sort_values([*order, "key"], ascending=[False] * len(order) + [True], kind="stable")
    chosen, top = str(rank.index[0]), rank.iloc[0]

    def holds(row: pd.Series) -> str:
        if row["series"]:
            return (f"a {metric} series ({int(row['n_metric'])} values)" if row["n_metric"] >= 2 or not row["n_flows"]
                    else f"a series of new follows ({int(row['n_flows'])} days)")
        if row["n_metric"] == 1 and not row["n_flows"]:
            return f"one dated {metric} value (an anchor, not a series)"
        return f"{int(row['n_metric'])} {metric} value(s), {int(row['n_flows'])} new-follows value(s)"

    reasons = {
        "on_posts_platform": f"it is on the posts' platform ({plat[chosen]})",
        "posts_account": "it is the posts' own account",
        "named": "it is a named account",
        "series": "it has a series, not a lone value",
        "n_metric": f"it has the most {metric} values",
        "n_flows": "it has the most new-follows values",
        "n_rows": "it has the most rows",
    }
    # the first criterion that sets it above each other account
    decisive = [next((reasons[c] for c in order if top[c] != row[c]), "its name comes first")
                for _, row in rank.iloc[1:].iterrows()]
    others = "; ".join(
        f"{k!r} holds {holds(row)}" + ("" if row["named"] else " and no export assigned it to an account")
        + ("" if not post_plats or row["on_posts_platform"] else f" and there are no posts on {plat[k] or 'it'}")
        for k, row in rank.iloc[1:].iterrows())
    warning = (
        f"the account table holds {len(uniq)} accounts ({', '.join(uniq)}); growth is compared for {chosen!r}, "
        f"which holds {holds(top)}, because {join_words(list(dict.fromkeys(decisive)))} ({others}). "
        "Filter the table to choose another."
    )
    return account.loc[keys == chosen], [warning], chosen


def _as_interventions(interventions: Any) -> list[tuple[pd.Timestamp, str]]:
    """Sorted (Timestamp, label) pairs from Intervention objects, (date, label) pairs or bare dates."""
    if interventions is None:
        return []
    out = []
    for i, item in enumerate(interventions):
        if hasattr(item, "date") and hasattr(item, "label"):
            date, label = item.date, item.label
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            date, label = item
        elif isinstance(item, (str, dt.date, pd.Timestamp)):
            date, label = item, f"Change {i + 1}"
        else:
            raise InputError(
                f"interventions[{i}]: expected an Intervention or a (date, label) pair, found {item!r}"
            )
        try:
            ts = pd.Timestamp(date)
        except (TypeError, ValueError) as exc:
            raise InputError(f"interventions[{i}]: cannot read the date {date!r}: {exc}") from exc
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        out.append((ts, str(label)))
    return sorted(out, key=lambda p: p[0])


# ------------------------------------------------------------------------------------------- the series


#: what a follower comparison needs, for "not available" results (which file, which columns, an example row)
FOLLOWER_INPUT = {
    "file": (
        "an account file listed under `account:` in dataset.yml: a sheet or export with the follower count "
        "by date (X account overview, Facebook/Instagram Followers or Audience export, LinkedIn followers "
        "export, or a hand-kept sheet)"
    ),
    "columns": (
        "date and followers (the follower count on that date); or date, new_follows and unfollows plus at "
        "least one dated follower count (an anchor, e.g. Audience.csv's total)"
    ),
    "example_row": "date,followers\n2024-03-01,1520",
}

#: how the growth series was built (``basis`` in growth.json)
BASIS_TEXT = {
    "level": "the follower count as reported",
    "derived_level": (
        "follower counts derived from daily new follows minus unfollows, anchored on a reported follower count"
    ),
    "net_flows": (
        "net new followers per day (new follows minus unfollows); no follower count was reported, so the "
        "level is unknown"
    ),
    "gross_follows": (
        "new follows per day (gross); unfollows are not reported and no follower count is anchored, so neither "
        "the follower level nor net growth is known"
    ),
    "metric": "the metric's reported values",
    "none": "no follower data",
}


def _anchor(sel: pd.DataFrame) -> tuple[str, str] | None:
    """(date, count) of the last dated follower count of one account's rows (an anchor such as Audience.csv's
    total), formatted for a sentence; None without one."""
    if sel is None or "date" not in sel.columns or "followers" not in sel.columns:
        return None
    lv = pd.DataFrame({"date": pd.to_datetime(sel["date"], errors="coerce"),
                       "followers": pd.to_numeric(sel["followers"], errors="coerce")}).dropna()
    if lv.empty:
        return None
    last = lv.sort_values("date", kind="stable").iloc[-1]
    return _iso(last["date"]) or "", f"{float(last['followers']):,.0f}"


def basis_text_of(basis: str, sel: pd.DataFrame | None = None) -> str:
    """``basis_text`` of growth.json: :data:`BASIS_TEXT`, except that gross follows with a dated follower count
    (one account's rows ``sel``) say the level is anchored but cannot be carried forward without unfollows."""
    anchor = _anchor(sel) if basis == "gross_follows" and sel is not None else None
    if anchor is None:
        return BASIS_TEXT.get(basis, basis)
    return (f"new follows per day (gross); the follower level is anchored on {anchor[0]} ({anchor[1]} followers) "
            "but cannot be carried forward because unfollows are not in the export, so neither the follower "
            "level over time nor net growth is known")


def _numeric(sel: pd.DataFrame, col: str) -> pd.Series:
    if col not in sel.columns:
        return pd.Series(np.nan, index=sel.index, dtype=float)
    return pd.to_numeric(sel[col], errors="coerce").astype(float)


def follower_basis(account: pd.DataFrame) -> str:
    """How follower growth can be measured from ``account`` (one account's rows).

    ``level`` (≥ 3 dated follower counts), ``derived_level`` (new follows and unfollows reported, and 1–2
    dated follower counts as anchors), ``net_flows`` (new follows and unfollows, no count: the
    growth rate is known, the level is not), ``gross_follows`` (new follows only: gross follows are never
    summed into a follower count), or ``none``. Gross daily follows are never treated as a level.
    """
    if account is None or len(account) == 0 or "date" not in account.columns:
        return "none"
    n_level = int(_numeric(account, "followers").notna().sum())
    follows = _numeric(account, "new_follows")
    unfollows = _numeric(account, "unfollows")
    has_flows = bool(follows.notna().any())
    # unfollows reported (rows where they are missing are skipped, like rows without new follows)
    unfollows_known = has_flows and bool(unfollows[follows.notna()].notna().any())
    if n_level >= 3:
        return "level"
    if has_flows and unfollows_known:
        return "derived_level" if n_level >= 1 else "net_flows"
    if has_flows:
        return "gross_follows"
    return "level" if n_level else "none"


def growth_metric_of(basis: str, metric: str = "followers") -> tuple[str, str]:
    """(metric, unit) a growth comparison on ``basis`` is about."""
    if metric != "followers":
        return metric, f"{metric} per day"
    if basis == "net_flows":
        return "net_follows", "net new followers per day (follows − unfollows)"
    if basis == "gross_follows":
        return "new_follows", "new follows per day (gross)"
    return "followers", "followers per day"


def prepare_growth_series(
    account: pd.DataFrame, *, metric: str = "followers", posts: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Return the series to compare (``date``, ``days``, ``value``) and the warnings raised building it.

    Parameters
    ----------
    account : DataFrame
        The canonical account table (DESIGN.md §4); daily or monthly rows, irregular dates allowed.
    metric : str
        ``"followers"`` (default): see :func:`follower_basis`. With follower counts, the counts. With 1–2
        counts and new follows and unfollows on every row, counts derived from the flows and anchored on the
        count. With flows but no count, the cumulative net (or, without unfollows, gross) follows since the
        first date: *not* a follower count, only its increments mean something (``attrs["basis"]`` says
        which). Any other column is used as a level as it is.
    posts : DataFrame, optional
        The posts table: with several accounts, the one on the posts' platform is compared
        (:func:`_select_account`).

    Returns
    -------
    (DataFrame, list of str)
        One row per date, sorted: ``date`` (Timestamp), ``days`` (float days since the first date; time is
        always in days, never the row index) and ``value`` (float). Rows without a value are dropped and
        counted in a warning; duplicated dates keep their last value. ``attrs["basis"]``: see
        :func:`follower_basis` (``"metric"`` for another metric).
    """
    warnings: list[str] = []
    empty = pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "days": pd.Series(dtype=float),
            "value": pd.Series(dtype=float),
        }
    )
    empty.attrs["basis"] = "none"
    if account is None or len(account) == 0:
        warnings.append("no account data: the dataset has no account table rows")
        return empty, warnings
    if "date" not in account.columns:
        raise InputError(f"account table has no 'date' column.\nExisting columns: {list(account.columns)}")
    sel, w, _ = _select_account(account, metric, posts)
    warnings += w
    frame = pd.DataFrame({"date": _to_naive_dates(sel["date"], column="date")}, index=sel.index)
    bad_dates = int(frame["date"].isna().sum())
    if bad_dates:
        warnings.append(f"{bad_dates} account rows without a date were ignored")

    basis = follower_basis(sel) if metric == "followers" else "metric"
    if basis in ("derived_level", "net_flows", "gross_follows"):
        follows = _numeric(sel, "new_follows")
        net = follows - _numeric(sel, "unfollows") if basis != "gross_follows" else follows
        frame["value"] = net
        missing = int((frame["value"].isna() & frame["date"].notna()).sum())
        what = "new follows" if basis == "gross_follows" else "new follows or unfollows"
        frame = frame.dropna(subset=["date", "value"])
        frame = frame.groupby("date", sort=True)["value"].sum().to_frame().reset_index()
        frame["value"] = frame["value"].cumsum()
        if missing:
            warnings.append(
                f"{missing} rows without {what} were skipped; growth in those gaps is not counted"
            )
        if basis == "derived_level":
            lv = pd.DataFrame({"date": _to_naive_dates(sel["date"], column="date"),
                               "followers": _numeric(sel, "followers")}).dropna()
            anchor = lv.sort_values("date").iloc[-1]
            # cumulative flows through the anchor's date (flows dated after it are not in the count)
            upto = frame.loc[frame["date"] <= anchor["date"], "value"]
            offset = float(anchor["followers"]) - (float(upto.iloc[-1]) if len(upto) else 0.0)
            frame["value"] = frame["value"] + offset
            warnings.append(
                f"follower counts derived from new follows minus unfollows, anchored on {int(anchor['followers'])} "
                f"followers on {_iso(anchor['date'])}"
            )
        elif basis == "net_flows":
            warnings.append(
                f"{REBUILT_WARNING} (new "
                "follows minus unfollows); the follower level is unknown (add a dated follower count, e.g. "
                "Audience.csv's total, to anchor it)"
            )
        else:
            anchor = _anchor(sel)
            warnings.append(
                "only gross new follows are reported (no unfollows, no follower count): growth is compared as "
                "new follows per day; gross follows are not summed into a follower count, so the level and net "
                "growth are unknown (add unfollows and a dated follower count to know them)"
                if anchor is None else
                f"only gross new follows are reported (no unfollows): growth is compared as new follows per day; "
                f"the follower count of {anchor[0]} ({anchor[1]}) anchors the level on that day, but it cannot be "
                "carried forward because unfollows are not in the export, and gross follows are not summed into a "
                "follower count (add daily unfollows to know the level over time and net growth)"
            )
    elif basis == "none":
        warnings.append(
            "no follower data: the account table has neither follower counts nor new follows. "
            f"Needed: {FOLLOWER_INPUT['file']}, with columns {FOLLOWER_INPUT['columns']}; for example "
            f"{FOLLOWER_INPUT['example_row']!r}"
        )
        return empty, warnings
    else:
        if metric not in sel.columns:
            raise InputError(
                f"account table has no {metric!r} column to measure growth.\n"
                f"Existing columns: {list(sel.columns)}"
            )
        frame["value"] = _numeric(sel, metric)
        n_na = int((frame["value"].isna() & frame["date"].notna()).sum())
        frame = frame.dropna(subset=["date", "value"])
        if n_na:
            warnings.append(f"{n_na} rows without a {metric} value (NA months/days) were dropped")
        if frame.empty:
            warnings.append(f"no {metric} values in the account table: nothing to compare")
            return empty, warnings

    frame = frame.sort_values("date", kind="stable")
    dup = frame["date"].duplicated(keep="last")
    if dup.any():
        warnings.append(f"{int(dup.sum())} duplicated dates: the last value of each date was kept")
        frame = frame.loc[~dup]
    origin = frame["date"].iloc[0]
    frame["days"] = (frame["date"] - origin) / _DAY
    out = frame[["date", "days", "value"]].reset_index(drop=True)
    out.attrs["basis"] = basis
    return out, warnings


def _uses_flows(sel: pd.DataFrame, metric: str) -> bool:
    """True when the increments are the rows' own flows (no follower count to difference)."""
    return metric == "followers" and follower_basis(sel) in ("net_flows", "gross_follows", "derived_level")


def _increments(
    account: pd.DataFrame, series: pd.DataFrame, *, metric: str, posts: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Increments of the growth series and, per row of ``series``, the days of growth counted up to it.

    Level data: one increment per pair of consecutive observations. Flow data (new follows minus unfollows,
    or gross new follows without unfollows): each row's flow is one increment over the row's own reporting
    interval — its day for daily rows (or the typical spacing for weekly rows), its calendar month when the
    rows are a monthly sheet (dates typically ≥ 20 days apart). Rows without a value contribute nothing.
    """
    empty = pd.DataFrame(
        {
            "start": pd.Series(dtype="datetime64[ns]"),
            "end": pd.Series(dtype="datetime64[ns]"),
            "days": pd.Series(dtype=float),
            "delta": pd.Series(dtype=float),
        }
    )
    if series.empty:
        return empty, np.array([], dtype=float)
    sel, _, _ = _select_account(account, metric, posts)
    if not _uses_flows(sel, metric):
        dates = series["date"].reset_index(drop=True)
        values = series["value"].to_numpy(float)
        inc = pd.DataFrame(
            {
                "start": dates.iloc[:-1].to_numpy(),
                "end": dates.iloc[1:].to_numpy(),
                "days": np.diff(series["days"].to_numpy(float)),
                "delta": np.diff(values),
            }
        )
        return inc, series["days"].to_numpy(float)
    follows = _numeric(sel, "new_follows")
    delta = follows if follower_basis(sel) == "gross_follows" else follows - _numeric(sel, "unfollows")
    flows = pd.DataFrame({"date": _to_naive_dates(sel["date"], column="date"), "delta": delta})
    # Same rows, same order and same per-date sums as the series of prepare_growth_series.
    flows = flows.dropna().groupby("date", sort=True)["delta"].sum().reset_index()
    gap = flows["date"].diff().dt.total_seconds().div(86400.0).median() if len(flows) > 1 else 1.0
    if gap >= 20.0:
        start = _month_start(flows["date"])
        end = start + pd.offsets.MonthBegin(1)
    else:
        start = flows["date"]
        end = start + pd.Timedelta(days=max(1, round(float(gap))))
    days = ((end - start) / _DAY).to_numpy(float)
    inc = pd.DataFrame(
        {"start": start.to_numpy(), "end": end.to_numpy(), "days": days, "delta": flows["delta"]}
    )
    return inc, np.cumsum(days)


def prepare_growth_increments(
    account: pd.DataFrame, *, metric: str = "followers"
) -> tuple[pd.DataFrame, list[str]]:
    """Return the growth increments (``start``, ``end``, ``days``, ``delta``) and the warnings raised.

    Parameters
    ----------
    account : DataFrame
        The canonical account table (see :func:`prepare_growth_series`).
    metric : str
        As in :func:`prepare_growth_series`.

    Returns
    -------
    (DataFrame, list of str)
        One row per increment, in time order: ``start`` and ``end`` (Timestamps; the increment is the growth
        over [start, end)), ``days`` (float, end − start in days) and ``delta`` (float, the change of the
        level). For a level these are the differences between consecutive observations (a missing month
        simply makes a longer interval); for new follows/unfollows without a level they are the net flows
        of each row over its own day (or calendar month for a monthly sheet).
    """
    series, warnings = prepare_growth_series(account, metric=metric)
    inc, _ = _increments(account, series, metric=metric)
    return inc, warnings


# ------------------------------------------------------------------------------------------- month_of

FLOW_COLUMNS = ("new_follows", "unfollows", "impressions", "engagements", "posts")


def month_of_previous_sources(dataset: Any) -> list[str]:
    """Source files (as ``source_file`` names them: relative to the dataset folder) whose rows describe the
    previous month (``month_of: previous`` on the card's account entry)."""
    out: list[str] = []
    for src in getattr(dataset, "account", ()) or ():
        if getattr(src, "month_of", "same") != "previous":
            continue
        for f in dataset._expand((src.path,), "account"):
            try:
                out.append(Path(f).resolve().relative_to(Path(dataset.root).resolve()).as_posix())
            except ValueError:
                out.append(Path(f).as_posix())
    return out


def apply_month_of(account: pd.DataFrame, previous_sources: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Move the totals of rows that describe the previous month into that month.

    For rows of ``previous_sources`` (``source_file``), the flow columns (new follows, unfollows,
    impressions, engagements, posts) are re-dated to the first day of the previous calendar month; a follower
    count stays on the row's own date (a count written down on 2020-02-01 is the count at that date). Returns
    the new table (the input is not modified) and a warning naming the rows moved.
    """
    if not previous_sources or account is None or "source_file" not in account.columns or not len(account):
        return account, []
    hit = account["source_file"].astype("string").isin(list(previous_sources)).fillna(False).to_numpy(bool)
    if not hit.any():
        return account, []
    rows = account.loc[hit]
    flows = [c for c in FLOW_COLUMNS if c in account.columns]
    moved = rows.copy()
    dates = _to_naive_dates(moved["date"], column="date")
    moved["date"] = (dates.dt.to_period("M") - 1).dt.to_timestamp()
    if "followers" in moved.columns:
        moved["followers"] = pd.array([pd.NA] * len(moved), dtype=account["followers"].dtype)
    parts = [account.loc[~hit], moved]
    if "followers" in account.columns and rows["followers"].notna().any():
        level = rows.loc[rows["followers"].notna()].copy()
        for c in flows:
            level[c] = pd.array([pd.NA] * len(level), dtype=account[c].dtype)
        # its own source name, so the sheet's monthly spacing is judged on the moved totals alone
        level["source_file"] = level["source_file"].astype("string") + " (follower counts)"
        parts.append(level)
    out = pd.concat(parts, ignore_index=True)
    warning = (
        f"{int(hit.sum())} account rows from {', '.join(sorted(set(map(str, rows['source_file']))))} describe the "
        "previous month (month_of: previous): their totals were filed under that month"
    )
    return out, [warning]


# ------------------------------------------------------------------------------------------- monthly


def _month_start(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("M").dt.to_timestamp()


def monthly_metrics(
    account: pd.DataFrame,
    posts: pd.DataFrame | None = None,
    *,
    metrics: Sequence[str] = ("impressions", "engagements", "posts"),
) -> pd.DataFrame:
    """Return one row per calendar month with each metric, ``impressions_per_post`` and ``complete``.

    Parameters
    ----------
    account : DataFrame
        Canonical account table. Rows of a source (``source_file``) whose dates are a month or so apart are
        a *monthly sheet*: each row keeps its own value in the calendar month of its date (when a sheet has
        two rows in one month the later is kept, with a warning). Other rows are *daily* and are summed.
        Where both exist for a month, the monthly sheet wins (a daily file may cover part of the month).
    posts : DataFrame, optional
        Canonical posts table, used for a metric the account table does not report at all: monthly sums of
        ``impressions``/``engagements`` and the count of posts, by the UTC month of ``published_at``.
    metrics : sequence of str
        Account columns to aggregate.

    Returns
    -------
    DataFrame
        ``month`` (Timestamp, first of the month; every month from the first to the last with data, NA where
        none), one Int64 column per metric, ``impressions_per_post`` (float) and ``complete`` (bool: a
        monthly-sheet row, daily rows for every day of the month, or posts data). ``attrs["warnings"]`` lists
        what was noticed, ``attrs["sources"]`` says where each metric came from (account, posts or none), including
        those behind ``impressions_per_post`` (its impressions and post counts always come from one table).
    """
    metrics = list(dict.fromkeys(metrics))
    account = account if account is not None else pd.DataFrame()
    for m in metrics:
        if m not in account.columns and m not in POST_DERIVABLE:
            raise InputError(
                f"monthly metric {m!r} is not a column of the account table and cannot be built from posts "
                f"(posts give {list(POST_DERIVABLE)}).\nExisting columns: {list(account.columns)}"
            )
    needed = list(dict.fromkeys([*metrics, "impressions", "posts"]))
    warnings: list[str] = []
    sources: dict[str, str] = {}
    per_metric: dict[str, pd.Series] = {}
    complete_acc: pd.Series | None = None

    acc_metrics = [m for m in needed if m in account.columns and account[m].notna().any()]
    if acc_metrics:
        if "date" not in account.columns:
            raise InputError(
                f"account table has no 'date' column.\nExisting columns: {list(account.columns)}"
            )
        acc = account.assign(date=_to_naive_dates(account["date"], column="date")).dropna(subset=["date"])
        src = acc["source_file"].astype("string").fillna("") if "source_file" in acc.columns else None
        src = src if src is not None else pd.Series("", index=acc.index, dtype="string")
        group = _account_keys(acc) + "|" + src
        # A source is a monthly sheet when its dates are typically ≥ 20 days apart.
        gaps = acc.sort_values("date")[["date"]].assign(g=group).drop_duplicates().groupby("g")["date"].diff()
        med = (gaps / _DAY).groupby(group).median()
        is_monthly = group.map(med).fillna(0.0).ge(20.0).to_numpy()
        acc = acc.assign(month=_month_start(acc["date"]), _key=_account_keys(acc))
        daily, monthly = acc.loc[~is_monthly], acc.loc[is_monthly].sort_values("date", kind="stable")
        # rows without any of these metrics (e.g. a follower count alone) neither fill nor hide a month
        monthly = monthly.loc[monthly[acc_metrics].notna().any(axis=1)]
        dup = monthly.duplicated(subset=["_key", "month"], keep="last")
        if dup.any():
            months = sorted({m.strftime("%Y-%m") for m in monthly.loc[dup, "month"]})
            warnings.append(
                f"monthly sheet has {int(dup.sum())} extra rows in an already covered calendar month "
                f"({', '.join(months)}): the last row of each month was kept"
            )
            monthly = monthly.loc[~dup]
        for m in acc_metrics:
            d = pd.to_numeric(daily[m], errors="coerce").groupby(daily["month"]).sum(min_count=1)
            s = pd.to_numeric(monthly[m], errors="coerce").groupby(monthly["month"]).sum(min_count=1)
            per_metric[m] = s.combine_first(d)
            sources[m] = "account"
        # Completeness of a month, judged on the requested metrics the account table reports.
        requested = [m for m in acc_metrics if m in metrics]
        if requested:
            d_rows = daily.loc[daily[requested].notna().any(axis=1)]
            n_days = (
                d_rows.assign(day=d_rows["date"].dt.normalize())
                .drop_duplicates(["month", "day"])
                .groupby("month")
                .size()
            )
            full_daily = n_days.index.to_series().dt.days_in_month == n_days
            sheet = monthly.loc[monthly[requested].notna().any(axis=1), "month"].unique()
            complete_acc = full_daily.reindex(full_daily.index.union(sheet), fill_value=False)
            complete_acc.loc[sheet] = True

    post_metrics = [m for m in needed if m not in per_metric and m in POST_DERIVABLE]
    post_counts: pd.Series | None = None
    post_imp: pd.Series | None = None
    complete_posts: pd.Series | None = None
    has_posts = posts is not None and len(posts) and "published_at" in posts.columns
    if has_posts:
        pub = pd.to_datetime(posts["published_at"], utc=True, errors="coerce").dt.tz_localize(None)
        month = _month_start(pub)
        post_counts = pub.groupby(month).count().astype(float)
        if "impressions" in posts.columns and posts["impressions"].notna().any():
            post_imp = pd.to_numeric(posts["impressions"], errors="coerce").groupby(month).sum(min_count=1)
        # completeness for posts-derived metrics is judged on the posts, not on the account's rows: months
        # between the first and the last post are complete; the first and the last month only when the posts
        # span at least POSTS_MONTH_COVERAGE of their days (a last month of 4 days is partial and left out)
        first, last = pub.min(), pub.max()
        if pd.notna(first):
            span = pd.date_range(_month_start(pd.Series([first])).iloc[0], last, freq="MS")
            starts = span.to_numpy("datetime64[ns]")
            ends = (span + pd.offsets.MonthBegin(1)).to_numpy("datetime64[ns]")
            lo = np.maximum(starts, first.normalize().to_datetime64())
            hi = np.minimum(ends, (last.normalize() + _DAY).to_datetime64())
            covered = (hi - lo) / np.timedelta64(1, "D") / span.days_in_month.to_numpy()
            complete_posts = pd.Series(np.asarray(covered) >= POSTS_MONTH_COVERAGE, index=span)
    if post_metrics and has_posts:
        for m in post_metrics:
            if m == "posts":
                per_metric[m] = post_counts
            elif m in posts.columns and posts[m].notna().any():
                per_metric[m] = pd.to_numeric(posts[m], errors="coerce").groupby(month).sum(min_count=1)
            else:
                continue
            sources[m] = "posts"
            if m in metrics:
                warnings.append(f"monthly {m} built from the posts table (the account table has none)")

    for m in metrics:
        if m not in per_metric:
            sources[m] = "none"
            warnings.append(
                f"no data for monthly {m}: neither the account table nor the posts table reports it"
            )

    index = [s.index for s in per_metric.values() if len(s.dropna())]
    if index:
        lo = min(ix.min() for ix in index)
        hi = max(ix.max() for ix in index)
        months = pd.date_range(lo, hi, freq="MS")
    else:
        months = pd.DatetimeIndex([], dtype="datetime64[ns]")
    out = pd.DataFrame({"month": months})
    for m in metrics:
        vals = per_metric.get(m, pd.Series(dtype=float)).reindex(months)
        out[m] = pd.array(np.round(vals.to_numpy(dtype=float, na_value=np.nan)), dtype="Int64")
    # impressions per post: numerator and denominator from ONE table — the account table when it reports both
    # (a monthly sheet's impressions and post counts), else the posts table (sum of its posts' impressions over
    # the count of its posts); never the account's impressions over the posts table's count
    if sources.get("impressions") == "account" and sources.get("posts") == "account":
        imp_s, npost = per_metric["impressions"], per_metric["posts"]
        sources["impressions_per_post"] = "account"
    elif post_imp is not None and post_counts is not None:
        imp_s, npost = post_imp, post_counts
        sources["impressions_per_post"] = "posts"
        if sources.get("impressions") == "account":
            warnings.append(
                "monthly impressions per post come from the posts table (its impressions over its post count); "
                "the account table's impressions are not divided by the posts table's counts (two tables)"
            )
    else:
        imp_s, npost = pd.Series(dtype=float), pd.Series(dtype=float)
        sources["impressions_per_post"] = "none"
    imp = imp_s.reindex(months).to_numpy(dtype=float)
    npost = npost.reindex(months).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ipp = np.where(npost > 0, imp / npost, np.nan)
    out["impressions_per_post"] = ipp
    comp = np.ones(len(months), dtype=bool)
    judged_on = []
    if complete_acc is not None:
        comp &= complete_acc.reindex(months).astype("boolean").fillna(False).to_numpy(dtype=bool)
        judged_on.append("account")
    post_requested = [m for m in metrics if sources.get(m) == "posts"]
    if "impressions_per_post" in metrics and sources.get("impressions_per_post") == "posts":
        post_requested.append("impressions_per_post")
    if complete_posts is not None and post_requested:
        comp &= complete_posts.reindex(months).astype("boolean").fillna(False).to_numpy(dtype=bool)
        judged_on.append("posts")
    acc_c = (complete_acc.reindex(months).astype("boolean").fillna(False).to_numpy(dtype=bool)
             if complete_acc is not None else np.ones(len(months), dtype=bool))
    post_c = (complete_posts.reindex(months).astype("boolean").fillna(False).to_numpy(dtype=bool)
              if complete_posts is not None else np.ones(len(months), dtype=bool))
    for m in [*metrics, "impressions_per_post"]:
        # per-metric completeness, judged on the table the metric comes from
        src = sources.get(m, "none")
        out[f"complete_{m}"] = (post_c if src == "posts" else acc_c) & out[m].notna().to_numpy()
    out["complete_posts"] = (
        complete_posts.reindex(months).astype("boolean").fillna(False).to_numpy(dtype=bool)
        if complete_posts is not None else np.zeros(len(months), dtype=bool)
    )
    has_any = np.zeros(len(months), dtype=bool)
    for s in per_metric.values():
        has_any |= s.reindex(months).notna().to_numpy()
    out["complete"] = comp & has_any
    out.attrs["warnings"] = warnings
    out.attrs["sources"] = sources
    out.attrs["completeness_judged_on"] = judged_on
    return out


# ------------------------------------------------------------------------------------------- statistics


def _design(days: np.ndarray, post: np.ndarray | None = None) -> np.ndarray:
    if post is None:
        return np.column_stack([np.ones_like(days), days])
    return np.column_stack([np.ones_like(days), days, post, days * post])


def _fit_period(frame: pd.DataFrame, label: str, alpha: float, warnings: list[str]) -> dict:
    """Per-period OLS of the level on days (the published form): slope, classical CI, R², intercept."""
    n = len(frame)
    out: dict[str, Any] = {
        "label": label,
        "start": _iso(frame["date"].iloc[0]) if n else None,
        "end": _iso(frame["date"].iloc[-1]) if n else None,
        "n": int(n),
        "slope_per_day": None,
        "slope_ci": [None, None],
        "r2": None,
        "intercept": None,
    }
    if n < 3:
        warnings.append(f"period {label!r} has {n} data point(s); at least 3 are needed for a slope")
        return out
    x = frame["days"].to_numpy(float)
    if np.ptp(x) == 0:
        warnings.append(f"period {label!r} has all its points on one date; no slope")
        return out
    res = sm.OLS(frame["value"].to_numpy(float), _design(x)).fit()
    lo, hi = res.conf_int(alpha)[1]
    out.update(
        slope_per_day=_f(res.params[1]),
        slope_ci=[_f(lo), _f(hi)],
        r2=_f(res.rsquared),
        intercept=_f(res.params[0]),
    )
    return out


def _hac_lags(n: int, maxlags: int | None, warnings: list[str], what: str) -> tuple[int, str]:
    if maxlags is None:
        return newey_west_lags(n), MAXLAGS_RULE
    lags = int(maxlags)
    if lags < 0:
        raise InputError(f"maxlags must be ≥ 0, found {maxlags}")
    if lags >= n:
        warnings.append(f"{what}: maxlags {lags} ≥ {n} observations; {n - 1} lags used")
        lags = n - 1
    return lags, "given (dataset card analysis.hac_maxlags or the maxlags argument)"


def _empty_change() -> dict[str, Any]:
    """The keys of a comparison whose change could not be estimated (nulls in the contract's shapes)."""
    return {
        "slope_ratio": None,
        "slope_ratio_ci": [None, None],
        "slope_ratio_method": None,
        "slope_change": {
            "estimate": None,
            "ci": [None, None],
            "p_value": None,
            "cov_type": "HAC",
            "maxlags": None,
        },
    }


def _compare_slopes(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    maxlags: int | None,
    margin: tuple[float, float],
    alpha: float,
    warnings: list[str],
) -> dict:
    """Segmented model on two consecutive periods: slope change (HAC), ratio (delta method), TOST."""
    out: dict[str, Any] = {
        **_empty_change(),
        "naive_p_value": None,
        "maxlags_rule": MAXLAGS_RULE if maxlags is None else "given",
        "equivalence": {
            "margin": [float(margin[0]), float(margin[1])],
            "p_value": None,
            "equivalent": False,
            "method": None,
        },
    }
    if len(before) < 3 or len(after) < 3 or np.ptp(before["days"]) == 0 or np.ptp(after["days"]) == 0:
        warnings.append("slope change not estimated: each period needs at least 3 points on different dates")
        return out
    days = np.concatenate([before["days"].to_numpy(float), after["days"].to_numpy(float)])
    y = np.concatenate([before["value"].to_numpy(float), after["value"].to_numpy(float)])
    post = np.concatenate([np.zeros(len(before)), np.ones(len(after))])
    n = len(y)
    lags, rule = _hac_lags(n, maxlags, warnings, "segmented model")
    X = _design(days, post)
    model = sm.OLS(y, X)
    naive = model.fit()
    res = model.fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    df = res.df_resid
    tcrit = stats.t.ppf(1 - alpha / 2, df)
    b, V = res.params, np.asarray(res.cov_params())
    lo, hi = res.conf_int(alpha)[3]
    out["slope_change"] = {
        "estimate": _f(b[3]),
        "ci": [_f(lo), _f(hi)],
        "p_value": _f(res.pvalues[3]),
        "cov_type": "HAC",
        "maxlags": int(lags),
    }
    out["naive_p_value"] = _f(naive.pvalues[3])
    out["maxlags_rule"] = rule
    s0, s1 = b[1], b[1] + b[3]
    if s0 == 0:
        warnings.append("slope ratio undefined: the before slope is exactly 0")
        return out
    A = np.array([[1.0, 0.0], [1.0, 1.0]])  # (before, after) slopes = A · (b1, b3)
    out.update(
        _ratio_and_tost(
            s0, s1, A @ V[np.ix_([1, 3], [1, 3])] @ A.T, df=df, tcrit=tcrit, margin=margin, alpha=alpha,
            noun="slope", ratio_word="slope", method_suffix="HAC covariance of the segmented model, t(n-4)",
            warnings=warnings,
        )
    )
    return out


def _ratio_and_tost(
    r0: float, r1: float, V: np.ndarray, *, df: float, tcrit: float, margin: tuple[float, float], alpha: float,
    noun: str, ratio_word: str, method_suffix: str, warnings: list[str], sf: Any = None,
) -> dict[str, Any]:
    """The ratio r1/r0 of two rates with covariance ``V`` (2×2): estimate, CI and TOST equivalence.

    Delta method on log(r1/r0) when both rates are positive (the CI stays positive and is symmetric on the
    ratio's natural scale), else on the ratio itself; the TOST tests the margin on the same scale.
    """
    out: dict[str, Any] = {}
    ratio = r1 / r0
    lo_m, hi_m = margin
    if r0 > 0 and r1 > 0:
        g = np.array([-1.0 / r0, 1.0 / r1])  # gradient of log r1 − log r0
        se = float(np.sqrt(max(g @ V @ g, 0.0)))
        est = math.log(ratio)
        ci = [math.exp(est - tcrit * se), math.exp(est + tcrit * se)]
        method = f"delta method on log(after {noun} / before {noun}); " + method_suffix
        lo_b, hi_b = math.log(lo_m), math.log(hi_m)
    else:
        g = np.array([-r1 / r0**2, 1.0 / r0])  # gradient of r1 / r0
        se = float(np.sqrt(max(g @ V @ g, 0.0)))
        est = ratio
        ci = [ratio - tcrit * se, ratio + tcrit * se]
        method = f"delta method on the ratio (a {noun} is not positive, so no log scale); " + method_suffix
        lo_b, hi_b = lo_m, hi_m
        warnings.append(f"a period's {noun} is not positive: the {ratio_word} ratio is hard to interpret")
    out["slope_ratio"] = _f(ratio)
    out["slope_ratio_ci"] = [_f(ci[0]), _f(ci[1])]
    out["slope_ratio_method"] = method
    if se > 0:
        tail = sf if sf is not None else (lambda z, d: float(stats.t.sf(z, d)))
        p_lower = tail((est - lo_b) / se, df)  # H0: ratio ≤ lower margin
        p_upper = tail((hi_b - est) / se, df)  # H0: ratio ≥ upper margin
        p = max(p_lower, p_upper)
        out["equivalence"] = {
            "margin": [float(lo_m), float(hi_m)],
            "p_value": _f(p),
            "equivalent": bool(p < alpha),
            "method": f"TOST: two one-sided t tests of the {ratio_word} ratio against the margin, " + method,
        }
    return out


def fixed_b_df(n: int, maxlags: int, df_resid: float) -> float:
    """Degrees of freedom of the t used with a Newey–West variance of ``n`` points and ``maxlags`` lags.

    The Student t whose 97.5% point equals the Kiefer & Vogelsang (2005) fixed-b critical value of the
    Bartlett kernel, ``1.96 + 2.9694 b + 0.4160 b² − 0.5324 b³`` with ``b = (maxlags + 1) / n``, capped at
    ``df_resid`` (the classical t when it is wider).
    """
    if n <= 0 or df_resid <= 0:
        return float("nan")
    b = min(1.0, (maxlags + 1) / n)
    cv = 1.96 + 2.9694 * b + 0.4160 * b**2 - 0.5324 * b**3
    if stats.t.ppf(0.975, df_resid) >= cv:
        return float(df_resid)
    return float(optimize.brentq(lambda v: stats.t.ppf(0.975, v) - cv, 0.05, df_resid, xtol=1e-12))


def _exposure(inc: pd.DataFrame, cut: np.ndarray) -> np.ndarray:
    """Days of each increment's interval [start, end) in each period (columns: before, after cut 1, …)."""
    start = inc["start"].to_numpy("datetime64[ns]").astype("int64")
    end = inc["end"].to_numpy("datetime64[ns]").astype("int64")
    origin = start.min()
    # whole nanoseconds relative to the first start: exact, then days as float
    edges = np.concatenate([[np.iinfo(np.int64).min], np.clip(cut, origin, None), [np.iinfo(np.int64).max]])
    lo = np.maximum(start[:, None], edges[None, :-1])
    hi = np.minimum(end[:, None], edges[None, 1:])
    return np.clip(hi - lo, 0, None).astype(float) / _DAY.value


def _ar1_phi(resid: np.ndarray) -> tuple[float, float]:
    """Lag-1 autocorrelation of ``resid`` (in time order) and its small-sample bias-corrected value.

    The correction is Kendall's (1954) first-order bias of the AR(1) estimator, E[φ̂] − φ ≈ −(1 + 3φ)/n,
    applied as φ̃ = φ̂ + (1 + 3φ̂)/n and clipped to [−0.9, 0.95] (a stationary, estimable process).
    """
    e = np.asarray(resid, dtype=float)
    n = len(e)
    if n < 3:
        return 0.0, 0.0
    e = e - e.mean()
    den = float(e @ e)
    raw = float(e[1:] @ e[:-1]) / den if den > 0 else 0.0
    corrected = raw + (1.0 + 3.0 * raw) / n
    return raw, float(np.clip(corrected, -0.9, AR_PHI_MAX))


def _ar1_corr(phi: float, n: int) -> np.ndarray:
    """n × n correlation matrix of a stationary AR(1) with coefficient ``phi``."""
    idx = np.arange(n)
    return phi ** np.abs(idx[:, None] - idx[None, :]).astype(float)


def _phi_draws(phi: float, n: int, draws: int = BOOTSTRAP_DRAWS) -> np.ndarray:
    """AR(1) coefficients drawn from N(φ̃, (1 − φ̃²)/n), clipped to [−0.9, 0.95] (seeded: reproducible)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    sd = math.sqrt(max(1.0 - phi**2, 1e-6) / max(n, 1))
    return np.clip(phi + sd * rng.standard_normal(draws), -0.9, AR_PHI_MAX)


def _prediction_roots(
    fit: dict, k: int, rows: np.ndarray, horizon: np.ndarray, dbar: float, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap quantiles (α/2, 1 − α/2) of the studentized prediction error at each horizon (days).

    Per draw: AR(1) errors u over the n fitted increments continued over ``ceil(max h / d̄)`` future
    increments of length d̄; the before rate's error (bread · Xs'u)_k; the prediction error
    √d̄ · (sum of the future u over h/d̄ increments, the last one pro rata) − h · rate error; divided by the
    draw's before-period residual SD (studentized, as the interval multiplies the observed one).
    """
    n = fit["n"]
    m_max = int(math.ceil(float(np.max(horizon)) / dbar)) + 1
    U = _ar1_draws(fit["phi"], n + m_max, fit["resid_w"])
    Xs = fit["Xs"]
    bread = np.linalg.inv(Xs.T @ Xs)
    u_fit, u_fut = U[:, :n], U[:, n:]
    beta = u_fit @ Xs @ bread
    j = int(np.flatnonzero(np.flatnonzero(fit["estimable"]) == k)[0])
    resid = u_fit - beta @ Xs.T
    sd = np.sqrt((resid[:, rows] ** 2).sum(axis=1) / (int(rows.sum()) - 1))
    csum = np.concatenate([np.zeros((len(U), 1)), np.cumsum(u_fut, axis=1)], axis=1)
    m = np.asarray(horizon, dtype=float) / dbar
    whole = np.floor(m).astype(int)
    part = m - whole
    fut = csum[:, whole] + part[None, :] * (csum[:, np.minimum(whole + 1, m_max)] - csum[:, whole])
    err = math.sqrt(dbar) * fut - np.asarray(horizon, dtype=float)[None, :] * beta[:, j : j + 1]
    ok = sd > 0  # a draw whose before-period residuals are all zero cannot be studentized
    if ok.sum() < len(sd) // 2:
        nan = np.full(len(horizon), np.nan)
        return nan, nan
    root = err[ok] / sd[ok, None]
    return np.quantile(root, alpha / 2, axis=0), np.quantile(root, 1 - alpha / 2, axis=0)


def _ar1_draws(phi: float, n: int, resid: np.ndarray | None = None, *, draws: int = 0) -> np.ndarray:
    """:data:`BOOTSTRAP_DRAWS` stationary AR(1) series of length ``n`` (unit innovation scale).

    Each series has its own coefficient, drawn from the estimate's approximate sampling distribution
    N(φ̃, (1 − φ̃²)/n) (clipped to [−0.9, 0.95]): the null distribution then allows for the coefficient being
    estimated from the same few increments, instead of trusting one noisy value.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED + 1)
    B = draws or BOOTSTRAP_DRAWS
    phis = _phi_draws(phi, n)[:B] if B <= BOOTSTRAP_DRAWS else _phi_draws(phi, n, B)
    if resid is not None and len(resid) >= 3:
        # sieve bootstrap: the AR(1) innovations of the residuals, resampled (keeps their skewness)
        eps = resid[1:] - phi * resid[:-1]
        eps = (eps - eps.mean()) / (eps.std() or 1.0)
        innov = eps[rng.integers(0, len(eps), (B, n))]
    else:
        innov = rng.standard_normal((B, n))
    E = np.empty_like(innov)
    E[:, 0] = innov[:, 0] / np.sqrt(1.0 - phis**2)
    for i in range(1, n):  # a loop over time steps, vectorized over the draws
        E[:, i] = phis * E[:, i - 1] + innov[:, i]
    return E


def _hac_batch(Xs: np.ndarray, E: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS of each row of ``E`` (B × n) on ``Xs`` (n × k) with the Newey–West covariance of :func:`_fit_rates`.

    Bartlett kernel, ``lags`` lags, no prewhitening, factor n/(n − k): the covariance statsmodels'
    ``WLS(...).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})`` gives on the whitened
    data, computed for B series at once. Returns (B × k estimates, B × k × k covariances).
    """
    n, k = Xs.shape
    bread = np.linalg.inv(Xs.T @ Xs)
    beta = E @ Xs @ bread
    resid = E - beta @ Xs.T
    score = resid[:, :, None] * Xs[None, :, :]
    meat = np.einsum("bnk,bnl->bkl", score, score)
    for lag in range(1, min(lags, n - 1) + 1):
        g = np.einsum("bnk,bnl->bkl", score[:, lag:], score[:, :-lag])
        meat += (1.0 - lag / (lags + 1.0)) * (g + np.swapaxes(g, 1, 2))
    cov = (n / (n - k)) * bread[None] @ meat @ bread[None]
    return beta, cov


def _fit_rates(
    inc: pd.DataFrame, cut: np.ndarray, labels: Sequence[str], *, maxlags: int | None, warnings: list[str],
    draws: int | None = None,
) -> dict | None:
    """WLS of the increments on the days spent in each period (weights 1/days), Newey–West covariance.

    Also the calibration of its t statistics (see the module notes): the lag-1 autocorrelation of the
    whitened residuals, bias-corrected (:func:`_ar1_phi`), and :data:`BOOTSTRAP_DRAWS` series of AR(1) errors
    with that coefficient pushed through the same estimator (``boot_beta``, ``boot_cov``) — the null
    distribution of any contrast's t.
    """
    n_periods = len(cut) + 1
    if inc.empty:
        return None
    exposure = _exposure(inc, cut)
    covered = exposure > 0
    # A rate needs ≥ 2 increments (one alone is fitted exactly and says nothing about the noise). Increments
    # that touch a period without a rate are left out — with a free rate of their own they would be fitted
    # exactly anyway — which can leave another period short: repeat until stable (≤ number of periods).
    rows = inc["days"].to_numpy(float) > 0
    estimable = np.ones(n_periods, dtype=bool)
    while True:
        now = estimable & (covered[rows].sum(axis=0) >= 2)
        now_rows = rows & ~covered[:, ~now].any(axis=1)
        if (now == estimable).all() and (now_rows == rows).all():
            break
        estimable, rows = now, now_rows
    for p in np.flatnonzero(~estimable & covered.any(axis=0)):
        warnings.append(
            f"period {labels[p]!r} is covered by fewer than two usable increments: its growth rate is not "
            "estimated"
        )
    X = exposure[rows][:, estimable]
    y = inc["delta"].to_numpy(float)[rows]
    dt = inc["days"].to_numpy(float)[rows]
    n, k = X.shape
    if k == 0 or n - k < 1:
        warnings.append(f"growth rates not estimated: {n} increment(s) for {k} rate(s)")
        return None
    lags, rule = _hac_lags(n, maxlags, warnings, "increments model")
    res = sm.WLS(y, X, weights=1.0 / dt).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}
    )
    params = np.full(n_periods, np.nan)
    params[estimable] = res.params
    cov = np.full((n_periods, n_periods), np.nan)
    cov[np.ix_(estimable, estimable)] = np.asarray(res.cov_params())
    df_resid = float(n - k)
    # calibration: AR(1) of the whitened residuals, and the estimator's null behaviour under it
    sw = 1.0 / np.sqrt(dt)
    Xs, resid_w = X * sw[:, None], (y - X @ np.asarray(res.params)) * sw
    phi_raw, phi = _ar1_phi(resid_w)
    E = _ar1_draws(phi, n, resid_w, draws=draws or BOOTSTRAP_DRAWS)
    boot_beta, boot_cov = _hac_batch(Xs, E, lags)
    scale = float(resid_w @ resid_w) / df_resid
    period_of_row = np.where(covered[rows][:, estimable].sum(axis=1) == 1,
                             np.flatnonzero(estimable)[np.argmax(covered[rows][:, estimable], axis=1)], -1)
    return {
        "params": params,
        "cov": cov,
        "scale": float(res.scale),
        "scale_w": scale,
        "n": int(n),
        "k": int(k),
        "df_resid": df_resid,
        "df": fixed_b_df(n, lags, df_resid),
        "maxlags": int(lags),
        "maxlags_rule": rule,
        "estimable": estimable,
        "phi_raw": phi_raw,
        "phi": phi,
        "boot_beta": boot_beta,
        "boot_cov": boot_cov,
        "boot_E": E,
        "resid_w": resid_w,
        "Xs": Xs,
        "days": dt,
        "period_of_row": period_of_row,
        "n_in_period": covered[rows].sum(axis=0),
    }


def _boot_t(fit: dict, contrast: np.ndarray) -> np.ndarray:
    """Null draws of the t statistic of ``contrast`` (over all periods; NaN-free on the estimable ones)."""
    c = np.asarray(contrast, dtype=float)[fit["estimable"]]
    num = fit["boot_beta"] @ c
    se = np.sqrt(np.maximum(np.einsum("k,bkl,l->b", c, fit["boot_cov"], c), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / se


def _calibrated_p(t_obs: float, draws: np.ndarray) -> float:
    """Two-sided bootstrap p of |t_obs| among |draws|: (1 + #{|t*| ≥ |t|}) / (1 + B)."""
    d = np.abs(draws[np.isfinite(draws)])
    return float((1 + np.count_nonzero(d >= abs(t_obs))) / (1 + len(d)))


def _calibrated_t_p(t_obs: float, crit: float, alpha: float) -> float:
    """Two-sided p of ``t_obs`` from the Student t (or scaled normal) whose 1 − α/2 point is ``crit``.

    The bootstrap's own rank p cannot go below 1/(1 + B); this continuous version agrees with it at the
    level that matters (p < α exactly when |t| > the bootstrap critical value) and keeps small p small.
    """
    if not (math.isfinite(crit) and crit > 0):
        return float("nan")
    z = stats.norm.ppf(1 - alpha / 2)
    if crit <= z:
        return float(2 * stats.norm.sf(abs(t_obs) * z / crit))
    nu = optimize.brentq(lambda v: stats.t.ppf(1 - alpha / 2, v) - crit, 0.05, 1e7, xtol=1e-10)
    return float(2 * stats.t.sf(abs(t_obs), nu))


def _calibrated_crit(draws: np.ndarray, level: float) -> float:
    """The ``level`` quantile of |t*| (a two-sided critical value; level 1 − 2α gives the one-sided α one)."""
    d = np.abs(draws[np.isfinite(draws)])
    return float(np.quantile(d, level)) if len(d) else float("nan")


def _rate_ci(fit: dict | None, p: int, alpha: float) -> tuple[float | None, list[float | None]]:
    """Period ``p``'s rate and its CI: Newey–West standard error × the bootstrap-calibrated critical value."""
    if fit is None or not math.isfinite(fit["params"][p]):
        return None, [None, None]
    est, se = fit["params"][p], math.sqrt(max(fit["cov"][p, p], 0.0))
    c = np.zeros(len(fit["params"]))
    c[p] = 1.0
    half = _calibrated_crit(_boot_t(fit, c), 1 - alpha) * se
    return _f(est), [_f(est - half), _f(est + half)]


def _rate_ci_fixed_b(fit: dict | None, p: int, alpha: float) -> list[float | None]:
    """The uncalibrated CI (Newey–West, fixed-b t): the form the R reference reproduces."""
    if fit is None or not math.isfinite(fit["params"][p]):
        return [None, None]
    est, se = fit["params"][p], math.sqrt(max(fit["cov"][p, p], 0.0))
    half = stats.t.ppf(1 - alpha / 2, fit["df"]) * se
    return [_f(est - half), _f(est + half)]


def _judgeable(fit: dict | None, k: int) -> str | None:
    """None when the change between periods k and k + 1 can be judged, else the reason it cannot."""
    if fit is None:
        return "no growth rates could be estimated"
    n = fit["n_in_period"]
    short = [(lab, int(n[p])) for lab, p in (("before", k), ("after", k + 1)) if n[p] < MIN_JUDGE_INCREMENTS]
    if short:
        which = " and ".join(f"the {lab} period has {m}" for lab, m in short)
        return (
            f"too few increments to judge the change: {which}, and at least {MIN_JUDGE_INCREMENTS} per period "
            f"are needed for tests and intervals whose error rates hold on autocorrelated series (e.g. "
            f"{MIN_JUDGE_INCREMENTS} monthly readings, or daily data, on each side of the date)"
        )
    return None


def _compare_rates(
    fit: dict | None, k: int, *, margin: tuple[float, float], alpha: float, warnings: list[str]
) -> dict:
    """Rate change, rate ratio (delta method on the log) and TOST between periods ``k`` and ``k + 1``.

    Standard errors are Newey–West; critical values and p-values come from the parametric bootstrap of the
    fitted AR(1) null (:func:`_fit_rates`). The uncalibrated fixed-b values are kept in ``*_fixed_b`` keys.
    """
    out: dict[str, Any] = {
        **_empty_change(),
        "maxlags_rule": None,
        "equivalence": {
            "margin": [float(margin[0]), float(margin[1])],
            "p_value": None,
            "equivalent": False,
            "method": None,
        },
        "growth_model": None,
        "n_increments": None,
        "judgeable": False,
        "not_judged_reason": None,
        "calibration": None,
    }
    if fit is None or not (math.isfinite(fit["params"][k]) and math.isfinite(fit["params"][k + 1])):
        warnings.append("growth change not estimated: a period has no growth rate")
        out["not_judged_reason"] = "a period has no growth rate (fewer than two usable increments)"
        return out
    r0, r1 = fit["params"][k], fit["params"][k + 1]
    V = fit["cov"][np.ix_([k, k + 1], [k, k + 1])]
    df = fit["df"]
    diff = r1 - r0
    se_d = math.sqrt(max(V[0, 0] + V[1, 1] - 2 * V[0, 1], 0.0))
    c = np.zeros(len(fit["params"]))
    c[k], c[k + 1] = -1.0, 1.0
    draws = _boot_t(fit, c)
    crit = _calibrated_crit(draws, 1 - alpha)
    t_fixed = stats.t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_obs = np.float64(diff) / se_d if se_d > 0 else (np.inf if diff != 0 else np.nan)
    p_fixed = 2 * stats.t.sf(abs(t_obs), df) if np.isfinite(t_obs) or diff != 0 else np.nan
    p_rank = _calibrated_p(float(t_obs), draws) if np.isfinite(t_obs) else (np.nan if diff == 0 else 1 / (1 + len(draws)))
    p_cal = _calibrated_t_p(float(t_obs), crit, alpha) if np.isfinite(t_obs) else (np.nan if diff == 0 else 0.0)
    p_diff = p_cal
    test = "difference"
    p_method = "rate-difference Newey–West t referred to the Student t whose critical value is the bootstrap's"
    rcrit = p_ratio_fixed = None
    if r0 > 0:
        # The reported test is of the growth ratio (= 1), on the scale of slope_ratio_ci (log when both rates
        # are positive): p < α exactly when that CI excludes 1. Month-to-month variation grows with the rate
        # (bursts multiply follows and unfollows), so under a real change the difference's SE is dominated by
        # the after period's larger noise while the log ratio's is not: in the simulations this test has the
        # same false-positive rate as the difference t and more power (0.87 against 0.74 in the 40/8 split).
        g = np.zeros(len(fit["params"]))
        if r1 > 0:
            g[k], g[k + 1] = -1.0 / r0, 1.0 / r1
            est_r, test = math.log(r1 / r0), "log_ratio"
        else:
            g[k], g[k + 1] = -r1 / r0**2, 1.0 / r0
            est_r, test = r1 / r0 - 1.0, "ratio"
        se_r = math.sqrt(max(float(g[[k, k + 1]] @ V @ g[[k, k + 1]]), 0.0))
        rdraws = _boot_t(fit, g)
        rcrit = _calibrated_crit(rdraws, 1 - alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_r = np.float64(est_r) / se_r if se_r > 0 else (np.inf if est_r != 0 else np.nan)
        if np.isfinite(t_r):
            p_cal = _calibrated_t_p(float(t_r), rcrit, alpha)
            p_rank = _calibrated_p(float(t_r), rdraws)
            p_ratio_fixed = 2 * stats.t.sf(abs(float(t_r)), df)
        else:
            p_cal, p_rank = (np.nan, np.nan) if est_r == 0 else (0.0, 1 / (1 + len(rdraws)))
        p_method = (
            ("log growth-ratio" if test == "log_ratio" else "growth-ratio") + " Newey–West t (delta method, "
            "H0: after rate / before rate = 1) referred to the Student t whose critical value is the bootstrap's: "
            "p < α exactly when slope_ratio_ci excludes 1"
        )
    df_text = f"t({df:.4g})" if df < fit["df_resid"] else f"t({int(fit['df_resid'])})"
    calibration = (
        f"parametric bootstrap: {BOOTSTRAP_DRAWS} series of AR(1) errors (coefficient {fit['phi']:.3f}, the "
        f"lag-1 autocorrelation {fit['phi_raw']:.3f} of the whitened residuals with Kendall's small-sample "
        "bias correction) pushed through the same estimator give the null distribution of each t; p-values and "
        "critical values come from it"
    )
    model = (
        f"WLS of the {fit['n']} increments on the days spent in each period (weights 1/days: increments of a "
        f"counting process), Newey–West standard errors with {fit['maxlags']} lag(s), calibrated by a "
        f"parametric bootstrap of AR(1) errors (φ = {fit['phi']:.2f}); "
        + ("the p-value tests after rate / before rate = 1 on the scale of the ratio's CI (p < 0.05 exactly when the "
           "CI excludes 1)" if test != "difference" else
           "the p-value tests the rate difference (the before rate is not positive, so no ratio test)")
    )
    short = f"increments model (WLS, weights 1/days), Newey–West {fit['maxlags']} lag(s), AR(1) bootstrap critical value"
    reason = _judgeable(fit, k)
    out.update(
        slope_change={
            "estimate": _f(diff),
            "ci": [_f(diff - crit * se_d), _f(diff + crit * se_d)],
            "p_value": _f(p_cal),
            "cov_type": "HAC",
            "maxlags": fit["maxlags"],
            "p_value_fixed_b": _f(p_fixed),
            "ci_fixed_b": [_f(diff - t_fixed * se_d), _f(diff + t_fixed * se_d)],
            "fixed_b_df": _f(df),
            "fixed_b_method": f"Newey–West with {df_text} (Kiefer–Vogelsang fixed-b), not calibrated",
            "p_value_method": p_method if reason is None else None,
            "test": test,
            "p_value_difference": _f(p_diff),
            "p_value_ratio_fixed_b": _f(p_ratio_fixed),
            "p_value_bootstrap_rank": _f(p_rank) if reason is None else None,
            "smallest_attainable_rank_p": _f(1 / (1 + BOOTSTRAP_DRAWS)),
            "critical_value": _f(crit),
            "critical_value_ratio": _f(rcrit),
        },
        maxlags_rule=fit["maxlags_rule"],
        growth_model=model,
        n_increments=fit["n"],
        n_increments_before=int(fit["n_in_period"][k]),
        n_increments_after=int(fit["n_in_period"][k + 1]),
        ar1_phi=_f(fit["phi"]),
        ar1_phi_raw=_f(fit["phi_raw"]),
        judgeable=reason is None,
        not_judged_reason=reason,
        calibration=calibration,
    )
    if r0 == 0:
        warnings.append("growth ratio undefined: the before growth rate is exactly 0")
    else:
        pos = r0 > 0 and r1 > 0
        g = np.zeros(len(fit["params"]))
        if pos:
            g[k], g[k + 1] = -1.0 / r0, 1.0 / r1
        else:
            g[k], g[k + 1] = -r1 / r0**2, 1.0 / r0
        gdraws = _boot_t(fit, g)
        gcrit = _calibrated_crit(gdraws, 1 - alpha)
        sym = np.concatenate([gdraws[np.isfinite(gdraws)], -gdraws[np.isfinite(gdraws)]])

        def sf(z: float, _df: float) -> float:
            return float((1 + np.count_nonzero(sym >= z)) / (1 + len(sym)))

        out.update(
            _ratio_and_tost(
                r0, r1, V, df=df, tcrit=gcrit, margin=margin, alpha=alpha, noun="growth rate",
                ratio_word="growth", method_suffix=short, warnings=warnings, sf=sf,
            )
        )
        fixed = _ratio_and_tost(
            r0, r1, V, df=df, tcrit=t_fixed, margin=margin, alpha=alpha, noun="growth rate", ratio_word="growth",
            method_suffix=f"Newey–West, {df_text}", warnings=[],
        )
        out["slope_ratio_ci_fixed_b"] = fixed["slope_ratio_ci"]
        out["equivalence"]["p_value_fixed_b"] = fixed.get("equivalence", {}).get("p_value")
    if reason is not None:
        warnings.append(reason)
        # the estimates stay; nothing that claims an error rate is printed
        out["slope_change"]["p_value"] = None
        out["slope_change"]["p_value_difference"] = None
        out["slope_change"]["ci"] = [None, None]
        out["slope_ratio_ci"] = [None, None]
        out["equivalence"]["p_value"] = None
        out["equivalence"]["equivalent"] = False
    return out


#: power that defines the minimum detectable ratio (the conventional 80%)
MDE_POWER = 0.8
#: The power the test really had at the median minimum detectable ratio in the simulation suite (200 accounts per
#: scenario, seed 2026; tests/test_growth_power.py): the ratio is estimated from the before period's variation, and
#: the fitted monthly AR(1) understates the variation of bursts of attention that last weeks.
MDE_POWER_MEASURED = {"40/8 split, φ = .90/day": 0.82, "φ = .90/day": 0.71, "φ = .98/day": 0.58}
#: largest growth ratio searched for it; a change must be detectable below this (and above its inverse)
MDE_MAX_RATIO = 20.0
#: ratios at which growth.json states the power of the test (``minimum_detectable.power_at``)
POWER_AT_RATIOS = (1.25, 1.5, 1.7, 2.0, 3.0)


def _change_t_batch(beta: np.ndarray, cov: np.ndarray, j0: int, j1: int, stat: str) -> np.ndarray:
    """t of the change between columns ``j0`` and ``j1`` for a batch of fits (B × k, B × k × k).

    ``stat="log"``: log(r1/r0) over its delta-method SE when both rates are positive, else (r1/r0 − 1) over
    the ratio's delta-method SE (the scales ``_ratio_and_tost`` uses); ``stat="diff"``: r1 − r0 over its SE.
    """
    b0, b1 = beta[:, j0], beta[:, j1]
    v00, v11, v01 = cov[:, j0, j0], cov[:, j1, j1], cov[:, j0, j1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if stat == "diff":
            return (b1 - b0) / np.sqrt(np.maximum(v00 + v11 - 2 * v01, 0.0))
        pos = (b0 > 0) & (b1 > 0)
        t_log = np.log(np.where(pos, b1 / b0, 1.0)) / np.sqrt(
            np.maximum(v00 / b0**2 + v11 / b1**2 - 2 * v01 / (b0 * b1), 0.0))
        g0, g1 = -b1 / b0**2, 1.0 / b0
        t_ratio = (b1 / b0 - 1.0) / np.sqrt(np.maximum(g0**2 * v00 + g1**2 * v11 + 2 * g0 * g1 * v01, 0.0))
        return np.where(pos, t_log, t_ratio)


def _power(fit: dict, k: int, ratios: np.ndarray, crit: float, stat: str) -> np.ndarray:
    """Power of the calibrated test of the change between periods ``k`` and ``k + 1`` at each growth ratio.

    Data are simulated from the fitted null — the bootstrap's AR(1) error series (:func:`_ar1_draws`), each
    rescaled to the before period's residual SD — with the after period's rate set to ratio × the before rate
    and its errors multiplied by the ratio (month-to-month variation in proportion to the growth rate, as when
    bursts of attention multiply follows and unfollows alike; an increment spanning the date is scaled by its
    share of days after it). Each simulated series goes through the same estimator (WLS, Newey–West, same lags)
    and is judged against the same critical value ``crit``.
    """
    cols = np.flatnonzero(fit["estimable"])
    j0, j1 = int(np.flatnonzero(cols == k)[0]), int(np.flatnonzero(cols == k + 1)[0])
    Xs, d = fit["Xs"], fit["days"]
    share = np.clip(Xs[:, j1] / np.sqrt(d), 0.0, 1.0)  # share of each increment's days in the after period
    rows = fit["period_of_row"] == k
    e_b = fit["resid_w"][rows]
    sigma = math.sqrt(float(e_b @ e_b) / max(int(rows.sum()) - 1, 1))
    E = fit["boot_E"]
    sd = E.std(axis=1, keepdims=True)
    U = sigma * E / np.where(sd > 0, sd, 1.0)
    base = fit["params"][cols].copy()
    r0 = float(fit["params"][k])
    out = np.empty(len(ratios))
    for g, ratio in enumerate(ratios):  # a few dozen ratios, each vectorized over the bootstrap's draws
        b = base.copy()
        b[j0], b[j1] = r0, ratio * r0
        Y = (Xs @ b)[None, :] + U * (1.0 + (ratio - 1.0) * share)[None, :]
        beta, cov = _hac_batch(Xs, Y, fit["maxlags"])
        t = _change_t_batch(beta, cov, j0, j1, stat)
        out[g] = float(np.mean(np.abs(np.nan_to_num(t, nan=0.0)) > crit))
    return out


def _detectable(fit: dict, k: int, crit: float, stat: str, up: bool) -> float | None:
    """Smallest ratio above 1 (``up``) or largest below 1 whose power reaches :data:`MDE_POWER` (None: not
    reached within :data:`MDE_MAX_RATIO`), by a coarse grid then bisection on the log ratio."""
    sign = 1.0 if up else -1.0
    logs = np.linspace(0.0, math.log(MDE_MAX_RATIO), 9)[1:]
    pw = _power(fit, k, np.exp(sign * logs), crit, stat)
    hit = np.flatnonzero(pw >= MDE_POWER)
    if len(hit) == 0:
        return None
    i = int(hit[0])
    lo, hi = (0.0 if i == 0 else logs[i - 1]), logs[i]
    for _ in range(7):  # the bracket shrinks 128-fold: well inside the Monte Carlo error of 999 draws
        mid = (lo + hi) / 2
        if _power(fit, k, np.array([math.exp(sign * mid)]), crit, stat)[0] >= MDE_POWER:
            hi = mid
        else:
            lo = mid
    return math.exp(sign * (lo + hi) / 2)


def _minimum_detectable(fit: dict | None, k: int, crit: float, *, alpha: float, stat: str) -> dict[str, Any]:
    """The minimum detectable growth ratio of the comparison between periods ``k`` and ``k + 1`` (see
    :func:`_power`), and the test's power at :data:`POWER_AT_RATIOS`."""
    out: dict[str, Any] = {
        "power": MDE_POWER,
        "alpha": alpha,
        "ratio_increase": None,
        "ratio_decrease": None,
        "increase_beyond_search": False,
        "decrease_beyond_search": False,
        "power_at": None,
        "search_max_ratio": MDE_MAX_RATIO,
        "method": None,
        "caveat": None,
        "reason": None,
    }
    if fit is None or not (math.isfinite(fit["params"][k]) and math.isfinite(fit["params"][k + 1])):
        out["reason"] = "a period has no growth rate"
        return out
    if not fit["params"][k] > 0:
        out["reason"] = "the before growth rate is not positive, so a growth ratio is not defined"
        return out
    if not (math.isfinite(crit) and int((fit["period_of_row"] == k).sum()) >= 3):
        out["reason"] = "the before period has too few increments to estimate its month-to-month variation"
        return out
    up = _detectable(fit, k, crit, stat, True)
    down = _detectable(fit, k, crit, stat, False)
    out.update(
        ratio_increase=_f(up),
        ratio_decrease=_f(down),
        increase_beyond_search=up is None,
        decrease_beyond_search=down is None,
        power_at={f"{r:g}": _f(v) for r, v in zip(
            POWER_AT_RATIOS, _power(fit, k, np.array(POWER_AT_RATIOS), crit, stat), strict=True)},
        method=(
            f"the smallest change of the growth rate the calibrated test detects with {MDE_POWER:.0%} power at "
            f"the {alpha:g} level, by simulation: the bootstrap's {len(fit['boot_E'])} AR(1) error series of "
            "the fitted null, scaled to the before period's residual SD, with the after rate set to ratio × the "
            "before rate and its month-to-month variation multiplied by the ratio (variation in proportion to "
            "the rate, as when bursts of attention multiply follows and unfollows alike), each fitted by the "
            "same estimator and judged by the same critical value, on the same dates and increments as the data"
        ),
        caveat=(
            "estimated from the before period's month-to-month variation, which understates bursts of attention "
            "that last weeks: in simulated accounts with such bursts, a change of this size was found in "
            f"{min(MDE_POWER_MEASURED.values()):.0%} to {max(MDE_POWER_MEASURED.values()):.0%} of them (the "
            f"longer the bursts, the fewer), not in {MDE_POWER:.0%}"
        ),
    )
    return out


def _minimum_detectable_of(comp: dict, fit: dict | None, k: int, *, alpha: float) -> dict[str, Any]:
    """:func:`_minimum_detectable` for a comparison of :func:`_compare_rates`: only when it is judged (the
    power of a test that is not run would mean nothing), with the test's own statistic and critical value."""
    change = comp.get("slope_change") or {}
    if not comp.get("judgeable"):
        out = _minimum_detectable(None, k, float("nan"), alpha=alpha, stat="log")
        out["reason"] = comp.get("not_judged_reason") or "the comparison is not judged"
        return out
    if change.get("test") == "difference" or change.get("critical_value_ratio") is None:
        return _minimum_detectable(fit, k, float(change.get("critical_value") or "nan"), alpha=alpha, stat="diff")
    return _minimum_detectable(fit, k, float(change["critical_value_ratio"]), alpha=alpha, stat="log")


def _ar1_sum_var(phi: float, m: np.ndarray) -> np.ndarray:
    """Variance of the sum of ``m`` consecutive unit-variance AR(1) terms (m may be fractional; φ < 0 is
    taken as 0, which can only widen the interval)."""
    m = np.asarray(m, dtype=float)
    phi = max(float(phi), 0.0)
    if phi < 1e-12:
        return m
    return m * (1 + phi) / (1 - phi) - 2 * phi * (1 - phi**m) / (1 - phi) ** 2


def _counterfactual(
    fit: dict | None, k: int, series: pd.DataFrame, clock: np.ndarray, *, alpha: float
) -> dict:
    """Period ``k``'s growth rate projected from its last observation over the dates of period ``k + 1``.

    Prediction variance = the before period's long-run variance of the future increments (its residual
    variance per day × the AR(1) variance of a sum of ``h / d̄`` increments, d̄ the before period's mean
    increment length) + Var(rate) × h² (the rate's variance under the same AR(1)), with t(n_before − 1).
    """
    out: dict[str, Any] = {
        "dates": [],
        "projected": [],
        "pi_low": [],
        "pi_high": [],
        "anchor": {"date": None, "value": None},
        "observed_end": None,
        "projected_end": None,
        "excess_end": None,
        "excess_ci": [None, None],
        "pi_method": None,
    }
    period = series["period"].to_numpy(int) if len(series) else np.array([], dtype=int)
    before, after = np.flatnonzero(period == k), np.flatnonzero(period == k + 1)
    if fit is None or not math.isfinite(fit["params"][k]) or len(before) == 0 or len(after) == 0:
        return out
    rows = fit["period_of_row"] == k
    n_b = int(rows.sum())
    last = before[-1]
    rate = fit["params"][k]
    horizon = clock[after] - clock[last]
    anchor = float(series["value"].iloc[last])
    mean = anchor + rate * horizon
    observed_end = float(series["value"].iloc[after[-1]])
    out.update(
        dates=[_iso(d) for d in series["date"].iloc[after]],
        projected=[_f(v) for v in mean],
        anchor={"date": _iso(series["date"].iloc[last]), "value": _f(anchor)},
        observed_end=_f(observed_end),
        projected_end=_f(mean[-1]),
        excess_end=_f(observed_end - mean[-1]),
    )
    if n_b < 3:
        out["pi_low"] = out["pi_high"] = [None] * len(after)
        out["pi_method"] = f"no prediction interval: {n_b} increment(s) wholly in the before period, 3 needed"
        return out
    e_b, d_b = fit["resid_w"][rows], fit["days"][rows]
    s2 = float(e_b @ e_b) / (n_b - 1)  # per day
    phi = fit["phi"]
    dbar = float(d_b.mean())
    q_lo, q_hi = _prediction_roots(fit, k, rows, horizon, dbar, alpha)
    sd = math.sqrt(s2)
    if not np.isfinite(q_lo).any():
        out["pi_low"] = out["pi_high"] = [None] * len(after)
        out["pi_method"] = "no prediction interval: the before-period increments have no residual variation"
        return out
    out.update(
        pi_low=[_f(v) for v in mean + sd * q_lo],
        pi_high=[_f(v) for v in mean + sd * q_hi],
        excess_ci=[_f(observed_end - mean[-1] - sd * q_hi[-1]), _f(observed_end - mean[-1] - sd * q_lo[-1])],
        pi_method=(
            "before-period growth rate of the increments model projected from the last before-period "
            "observation; interval from a sieve bootstrap of the prediction error: AR(1) errors (coefficient "
            f"{phi:.2f}, bias-corrected, drawn from its sampling distribution; innovations resampled from the "
            "residuals) continued over the horizon as increments of the before period's mean length, minus the "
            "horizon × the before rate's estimation error, divided by the before period's residual SD "
            f"({n_b} increments) — so the interval carries the before period's long-run variance, the rate's "
            f"uncertainty and the skew of real increments; {1 - alpha:.0%} percentile interval of that root × "
            "the observed residual SD"
        ),
        long_run_variance_per_day=_f(s2 * (1 + phi) / (1 - phi)),
    )
    return out


def _compare_monthly(x: np.ndarray, y: np.ndarray, *, metric: str, alpha: float, warnings: list[str]) -> dict:
    """Monthly values before (x) and after (y): fold change with CI, Welch, Mann–Whitney, Hedges' g."""
    nx, ny = len(x), len(y)
    out: dict[str, Any] = {
        "metric": metric,
        "before_mean": _f(x.mean()) if nx else None,
        "after_mean": _f(y.mean()) if ny else None,
        "fold_change": None,
        "fold_change_ci": [None, None],
        "fold_change_method": "ratio of means; CI by the delta method on the log scale with "
        "Welch–Satterthwaite df",
        "welch_p_two_sided": None,
        "welch_p_one_sided": None,
        "mannwhitney_p": None,
        "mannwhitney_method": None,
        "n_before": int(nx),
        "n_after": int(ny),
        "effect_size": None,
        "effect_size_method": "Hedges' g (after − before, pooled SD, small-sample corrected)",
    }
    if nx == 0 or ny == 0:
        warnings.append(f"monthly {metric}: no complete months in one of the periods; not compared")
        return out
    mx, my = x.mean(), y.mean()
    if mx > 0:
        out["fold_change"] = _f(my / mx)
    if nx >= 2 and ny >= 2:
        vx, vy = x.var(ddof=1), y.var(ddof=1)
        if vx + vy > 0:
            out["welch_p_two_sided"] = _f(stats.ttest_ind(y, x, equal_var=False).pvalue)
            out["welch_p_one_sided"] = _f(
                stats.ttest_ind(y, x, equal_var=False, alternative="greater").pvalue
            )
        if mx > 0 and my > 0:
            ux, uy = vx / (nx * mx**2), vy / (ny * my**2)
            se = math.sqrt(ux + uy)
            if se > 0:
                dfw = (ux + uy) ** 2 / (ux**2 / (nx - 1) + uy**2 / (ny - 1))
                half = stats.t.ppf(1 - alpha / 2, dfw) * se
                lfc = math.log(my / mx)
                out["fold_change_ci"] = [_f(math.exp(lfc - half)), _f(math.exp(lfc + half))]
            else:
                out["fold_change_ci"] = [_f(my / mx), _f(my / mx)]
        sp2 = ((nx - 1) * vx + (ny - 1) * vy) / (nx + ny - 2)
        if sp2 > 0:
            j = 1.0 - 3.0 / (4.0 * (nx + ny) - 9.0)
            out["effect_size"] = _f(j * (my - mx) / math.sqrt(sp2))
    else:
        warnings.append(f"monthly {metric}: fewer than 2 months in a period; t-test and CI not computed")
    ties = len(np.unique(np.concatenate([x, y]))) < nx + ny
    method = "exact" if (not ties and nx < 50 and ny < 50) else "asymptotic"
    out["mannwhitney_p"] = _f(
        stats.mannwhitneyu(y, x, alternative="two-sided", method=method, use_continuity=True).pvalue
    )
    out["mannwhitney_method"] = (
        "exact" if method == "exact" else "normal approximation with continuity and tie correction"
    )
    return out


# ------------------------------------------------------------------------------ placebo and state space

#: increments a placebo date needs on each side of it (within the pre-period)
PLACEBO_MIN_SIDE = 3
#: bootstrap draws calibrating each placebo (only its p-value's rank is used)
PLACEBO_DRAWS = 299
#: observed months a state-space fit needs (a local linear trend has three variances to estimate)
STATE_SPACE_MIN_MONTHS = 6


def _change_t(fit: dict | None, k: int) -> float | None:
    """t statistic of the rate change between periods ``k`` and ``k + 1`` of the increments model."""
    if fit is None or not (math.isfinite(fit["params"][k]) and math.isfinite(fit["params"][k + 1])):
        return None
    V = fit["cov"][np.ix_([k, k + 1], [k, k + 1])]
    se = math.sqrt(max(V[0, 0] + V[1, 1] - 2 * V[0, 1], 0.0))
    diff = fit["params"][k + 1] - fit["params"][k]
    return diff / se if se > 0 else None


def _placebo(
    inc: pd.DataFrame, cut: np.ndarray, k: int, *, fit: dict | None, maxlags: int | None, before: str
) -> dict:
    """Fake interventions at each month start of period ``k``, fitted on that period's increments only.

    Every fake date with at least :data:`PLACEBO_MIN_SIDE` increments wholly before it and as many wholly
    after it (within the increments lying wholly inside period ``k``) gets the increments model with two
    rates (WLS, weights 1/days, Newey–West with the same lag rule, fixed-b t). The real change's |t| is
    ranked among the placebo |t| (``rank_p_t``, kept for comparison), and — like with like, since the placebos
    are fitted on fewer increments than the real change — the real change's calibrated rate-difference p-value is ranked
    among the placebos' calibrated p-values (each placebo with its own AR(1) bootstrap):
    ``rank_p = (1 + #{p_placebo ≤ p_real}) / (1 + n)``, whose smallest attainable value 1/(1 + n) is stated.
    """
    method = (
        f"placebo interventions at every month start of the {before!r} period with ≥ {PLACEBO_MIN_SIDE} "
        "increments on each side, using that period's increments only (the real after-period is left out); "
        "each is the increments model with two rates (WLS, weights 1/days, Newey–West, fixed-b t). "
        "rank_p = (1 + number of placebo calibrated p-values ≤ the real one) / (1 + number of placebos): p-values "
        "(each from its own AR(1) bootstrap) compare fits on different numbers of increments like with like"
    )
    out: dict[str, Any] = {
        "n": 0,
        "dates": [],
        "estimates": [],
        "t_values": [],
        "p_values": [],
        "real_t": None,
        "rank_p": None,
        "rank_p_t": None,
        "p_values_calibrated": [],
        "real_p": None,
        "smallest_attainable_p": None,
        "n_increments_placebo": 0,
        "n_increments_real": fit["n"] if fit is not None else None,
        "method": method,
        "summary": "No placebo comparison: too few increments in the earlier period.",
    }
    if inc.empty or k >= len(cut):
        return out
    start = inc["start"].to_numpy("datetime64[ns]").astype("int64")
    end = inc["end"].to_numpy("datetime64[ns]").astype("int64")
    lo = cut[k - 1] if k > 0 else np.iinfo(np.int64).min
    inside = (start >= lo) & (end <= cut[k]) & (inc["days"].to_numpy(float) > 0)
    pre = inc.loc[inside].reset_index(drop=True)
    if len(pre) < 2 * PLACEBO_MIN_SIDE:
        return out
    first, last = pre["start"].min(), pre["end"].max()
    fakes = pd.date_range(first.to_period("M").to_timestamp(), last, freq="MS")
    fk = fakes.to_numpy("datetime64[ns]").astype("int64")
    p_start, p_end = start[inside], end[inside]
    n_before = np.searchsorted(np.sort(p_end), fk, side="right")
    n_after = len(pre) - np.searchsorted(np.sort(p_start), fk, side="left")
    ok = (n_before >= PLACEBO_MIN_SIDE) & (n_after >= PLACEBO_MIN_SIDE)
    fakes, fk = fakes[ok], fk[ok]
    y = pre["delta"].to_numpy(float)
    w = 1.0 / pre["days"].to_numpy(float)
    n = len(pre)
    lags, _ = _hac_lags(n, maxlags, [], "placebo")
    df = fixed_b_df(n, lags, float(n - 2))
    est, tval = np.full(len(fk), np.nan), np.full(len(fk), np.nan)
    for j in range(len(fk)):  # at most a few dozen month starts
        X = _exposure(pre, fk[j : j + 1])
        res = sm.WLS(y, X, weights=w).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
        V = np.asarray(res.cov_params())
        est[j] = res.params[1] - res.params[0]
        se = math.sqrt(max(V[0, 0] + V[1, 1] - 2 * V[0, 1], 0.0))
        tval[j] = est[j] / se if se > 0 else np.nan
    pval = 2 * stats.t.sf(np.abs(tval), df)
    pcal = np.full(len(fk), np.nan)
    for j in range(len(fk)):  # each placebo calibrated like the real comparison
        pfit = _fit_rates(pre, fk[j : j + 1], ["a", "b"], maxlags=maxlags, warnings=[], draws=PLACEBO_DRAWS)
        if pfit is not None and np.isfinite(tval[j]):
            c = np.array([-1.0, 1.0])
            pcal[j] = _calibrated_t_p(tval[j], _calibrated_crit(_boot_t(pfit, c), 0.95), 0.05)
    out.update(
        n=int(len(fk)),
        dates=[_iso(d) for d in fakes],
        estimates=[_f(v) for v in est],
        t_values=[_f(v) for v in tval],
        p_values=[_f(v) for v in pval],
        p_values_calibrated=[_f(v) for v in pcal],
        n_increments_placebo=int(n),
        smallest_attainable_p=_f(1 / (1 + len(fk))) if len(fk) else None,
    )
    if len(fk) == 0:
        return out
    real_t = _change_t(fit, k)
    out["real_t"] = _f(real_t)
    if real_t is None:
        out["summary"] = (
            f"{len(fk)} placebo changes were fitted in the earlier period, but the real change has no "
            "estimate to rank."
        )
        return out
    valid = np.isfinite(tval)
    n_ge = int((np.abs(tval[valid]) >= abs(real_t)).sum())
    n_valid = int(valid.sum())
    out["rank_p_t"] = _f((1 + n_ge) / (1 + n_valid))
    real_p = _calibrated_t_p(real_t, _calibrated_crit(_boot_t(fit, _contrast(fit, k)), 0.95), 0.05)
    out["real_p"] = _f(real_p)
    okp = np.isfinite(pcal)
    n_le = int((pcal[okp] <= real_p).sum())
    n_p = int(okp.sum())
    if n_p == 0:
        out["summary"] = "The placebo changes could not be calibrated; no rank is given."
        return out
    rank = (1 + n_le) / (1 + n_p)
    out["rank_p"] = _f(rank)
    out["smallest_attainable_p"] = _f(1 / (1 + n_p))
    out["summary"] = (
        f"Fake interventions at {n_p} month starts of the earlier period (each fitted on its {n} increments): "
        f"the real change's calibrated p-value for the rate difference (the statistic the placebos use) is smaller "
        f"than {n_p - n_le} of their {n_p} p-values "
        f"(rank p = {rank:.2g}; with {n_p} placebos the smallest possible rank p is {1 / (1 + n_p):.2g})."
    )
    return out


#: increments a trend in the rate needs (two parameters and a noise estimate)
TREND_MIN_INCREMENTS = 2 * PLACEBO_MIN_SIDE


def _calibrated_wls(X: np.ndarray, y: np.ndarray, d: np.ndarray, c: np.ndarray, *, maxlags: int | None,
                    alpha: float) -> dict | None:
    """WLS of ``y`` on ``X`` (weights 1/d), Newey–West, and the contrast ``c``'s estimate, SE, bootstrap-calibrated
    critical value and p-value (the AR(1) parametric bootstrap of :func:`_fit_rates`); None when degenerate."""
    n = len(y)
    lags, _ = _hac_lags(n, maxlags, [], "trend")
    res = sm.WLS(y, X, weights=1.0 / d).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    beta, V = np.asarray(res.params), np.asarray(res.cov_params())
    est, se = float(c @ beta), float(math.sqrt(max(float(c @ V @ c), 0.0)))
    sw = 1.0 / np.sqrt(d)
    Xs, resid_w = X * sw[:, None], (y - X @ beta) * sw
    _, phi = _ar1_phi(resid_w)
    bb, bc = _hac_batch(Xs, _ar1_draws(phi, n, resid_w), lags)
    with np.errstate(divide="ignore", invalid="ignore"):
        tdraws = (bb @ c) / np.sqrt(np.maximum(np.einsum("k,bkl,l->b", c, bc, c), 0.0))
    crit = _calibrated_crit(tdraws, 1 - alpha)
    if not (se > 0 and math.isfinite(crit)):
        return None
    return {"beta": beta, "cov": V, "estimate": est, "se": se, "crit": crit, "maxlags": int(lags), "phi": phi,
            "p_value": _calibrated_t_p(est / se, crit, alpha), "n": n}


def _inside(inc: pd.DataFrame, lo: int, hi: int) -> np.ndarray:
    start = inc["start"].to_numpy("datetime64[ns]").astype("int64")
    end = inc["end"].to_numpy("datetime64[ns]").astype("int64")
    return (start >= lo) & (end <= hi) & (inc["days"].to_numpy(float) > 0)


def _time_integral(inc: pd.DataFrame, rows: np.ndarray, origin: int) -> np.ndarray:
    """∫ t dt over each increment's interval, t in years from ``origin`` (ns): days × midpoint."""
    s = inc["start"].to_numpy("datetime64[ns]").astype("int64")[rows].astype(float)
    e = inc["end"].to_numpy("datetime64[ns]").astype("int64")[rows].astype(float)
    mid = ((s + e) / 2.0 - float(origin)) / _DAY.value / 365.25
    return inc["days"].to_numpy(float)[rows] * mid


def _pre_trend(inc: pd.DataFrame, cut: np.ndarray, k: int, *, maxlags: int | None, alpha: float) -> dict:
    """Is the growth rate already drifting inside period ``k`` (the before period)?

    The increments lying wholly inside period ``k`` (those the placebo check uses) are regressed, WLS with
    weights 1/days, on the days they span and on ∫t dt over their interval (t in years from the date): a daily
    rate ``a + b·t`` that moves linearly in time. ``b`` (change of the daily rate per year) gets the Newey–West
    standard error and the calibration of the rate comparison (AR(1) parametric bootstrap).
    """
    out: dict[str, Any] = {
        "estimate_per_year": None, "ci": [None, None], "p_value": None, "n_increments": 0, "significant": False,
        "method": ("WLS (weights 1/days) of the increments lying wholly inside the before period on days and "
                   "∫t dt (a daily rate moving linearly in time); Newey–West standard error, p-value and CI "
                   "calibrated by the AR(1) parametric bootstrap of the rate comparison"),
        "reason": None,
    }
    if inc.empty or k >= len(cut):
        out["reason"] = "no before period"
        return out
    rows = _inside(inc, cut[k - 1] if k > 0 else np.iinfo(np.int64).min, cut[k])
    n = int(rows.sum())
    out["n_increments"] = n
    if n < TREND_MIN_INCREMENTS:
        out["reason"] = (f"{n} increment(s) wholly inside the before period; at least {TREND_MIN_INCREMENTS} are "
                         "needed to estimate a trend in the rate")
        return out
    d = inc["days"].to_numpy(float)[rows]
    X = np.column_stack([d, _time_integral(inc, rows, int(cut[k]))])
    r = _calibrated_wls(X, inc["delta"].to_numpy(float)[rows], d, np.array([0.0, 1.0]), maxlags=maxlags,
                        alpha=alpha)
    if r is None:
        out["reason"] = "the before period's increments do not vary: no trend can be tested"
        return out
    out.update(estimate_per_year=_f(r["estimate"]), se=_f(r["se"]), ci=[_f(r["estimate"] - r["crit"] * r["se"]),
               _f(r["estimate"] + r["crit"] * r["se"])], p_value=_f(r["p_value"]),
               significant=bool(r["p_value"] < alpha))
    return out


def _trend_adjusted(inc: pd.DataFrame, cut: np.ndarray, k: int, *, maxlags: int | None, alpha: float) -> dict:
    """The change at the date allowing for a steady trend in the rate across both periods.

    Increments wholly inside periods ``k`` and ``k + 1`` (straddling the date is allowed) are regressed, WLS
    with weights 1/days, on the days spent before and after the date and on ∫t dt (t in years from the date):
    a daily rate ``a₀ + b·t`` before and ``a₁ + b·t`` after, one common slope ``b``. ``a₁ − a₀`` is the jump of
    the rate at the date beyond the steady trend; its p-value and CI are calibrated like the rate comparison.
    Under a rate that drifts steadily with no change at the date the jump is 0, whatever the drift.
    """
    out: dict[str, Any] = {
        "jump_per_day": None, "jump_ci": [None, None], "p_value": None, "trend_per_year": None,
        "rate_before_at_date": None, "n_increments": 0, "significant": False,
        "method": ("WLS (weights 1/days) of the increments of the two periods on the days spent before and after "
                   "the date and ∫t dt: a daily rate with one steady linear trend and a jump at the date; "
                   "Newey–West standard error, p-value and CI calibrated by the AR(1) parametric bootstrap of "
                   "the rate comparison"),
        "reason": None,
    }
    if inc.empty or k >= len(cut):
        out["reason"] = "no before period"
        return out
    lo = cut[k - 1] if k > 0 else np.iinfo(np.int64).min
    hi = cut[k + 1] if k + 1 < len(cut) else np.iinfo(np.int64).max
    rows = _inside(inc, lo, hi)
    ex = _exposure(inc.loc[rows].reset_index(drop=True), cut[k : k + 1])
    n = int(rows.sum())
    out["n_increments"] = n
    if n < TREND_MIN_INCREMENTS + 1 or (ex[:, 0] > 0).sum() < 2 or (ex[:, 1] > 0).sum() < 2:
        out["reason"] = "too few increments on a side of the date to fit a trend and a jump"
        return out
    d = inc["days"].to_numpy(float)[rows]
    X = np.column_stack([ex, _time_integral(inc, rows, int(cut[k]))])
    r = _calibrated_wls(X, inc["delta"].to_numpy(float)[rows], d, np.array([-1.0, 1.0, 0.0]), maxlags=maxlags,
                        alpha=alpha)
    if r is None:
        out["reason"] = "the increments do not vary: no jump can be tested"
        return out
    out.update(jump_per_day=_f(r["estimate"]), jump_se=_f(r["se"]), jump_ci=[_f(r["estimate"] - r["crit"] * r["se"]),
               _f(r["estimate"] + r["crit"] * r["se"])], p_value=_f(r["p_value"]),
               trend_per_year=_f(r["beta"][2]), rate_before_at_date=_f(r["beta"][0]),
               significant=bool(r["p_value"] < alpha), jump_critical_value=_f(r["crit"]))
    # The jump this test finds with MDE_POWER: the calibrated critical value plus the normal quantile of the power,
    # in standard errors; as a ratio of the rate at the date (the before line's value there). It says how large a
    # change must be to count as a change at the date (CHANGE_AT_DATE_RULE), beside the rate comparison's
    # minimum_detectable, which is smaller: the trend and the jump share the information of the series.
    rate = float(r["beta"][0])
    if rate > 0:
        from scipy.stats import norm

        step = (float(r["crit"]) + float(norm.ppf(MDE_POWER))) * float(r["se"])
        out["detectable"] = {
            "power": MDE_POWER, "ratio_increase": _f(1 + step / rate),
            "ratio_decrease": _f(1 - step / rate) if step < rate else None,
            "method": (f"the jump found with {MDE_POWER:.0%} power: (calibrated critical value + the normal "
                       f"{MDE_POWER:.0%} quantile) × its standard error, a normal approximation, as a ratio of the "
                       "rate at the date on the before period's line"),
        }
    return out


#: Measured (tests/test_growth_calibration.py::test_change_at_date_300_series, 300 series per cell, seeds
#: 2026–2028, generator tests/growth_sim.py): share of judged accounts whose rate comparison rejects at 5%
#: ("rate_test") and whose verdict is "changed" under CHANGE_AT_DATE_RULE ("changed"). decline = the rate falls
#: linearly to (1 − decline)× over the 48 months, no change at the date; "1.7x" = a step to 1.7× at the date.
CHANGE_AT_DATE_MEASURED = {
    ("poisson", "decline 0.3"): (0.997, 0.033), ("poisson", "decline 0.6"): (0.987, 0.017),
    ("poisson", "decline 0.9"): (0.643, 0.030), ("poisson", "1.7x"): (1.000, 1.000),
    ("ar90", "decline 0.3"): (0.240, 0.033), ("ar90", "decline 0.6"): (0.737, 0.037),
    ("ar90", "decline 0.9"): (0.927, 0.037), ("ar90", "1.7x"): (0.983, 0.477),
    ("ar98", "decline 0.3"): (0.083, 0.013), ("ar98", "decline 0.6"): (0.187, 0.030),
    ("ar98", "decline 0.9"): (0.383, 0.023), ("ar98", "1.7x"): (0.277, 0.073),
    ("split_40_8", "decline 0.3"): (0.118, 0.024), ("split_40_8", "decline 0.6"): (0.392, 0.024),
    ("split_40_8", "decline 0.9"): (0.490, 0.020), ("split_40_8", "1.7x"): (0.865, 0.673),
}

CHANGE_AT_DATE_RULE = (
    "a significant rate comparison (p < α) counts as a change at the date only when the jump of the rate at the "
    "date, in a model where the rate also follows one steady linear trend across both periods (trend_adjusted), "
    "is significant in the same direction; otherwise a rate that was already drifting explains the difference "
    "as well, and the verdict is 'cannot tell'. In the simulation suite (tests/test_growth_change_at_date.py, 300 "
    "series per scenario) a steady decline with no change at the date passed the rate comparison alone in up to "
    "99.7% of accounts and this rule in at most 3.7%; gating on the placebo check or on a trend test of the before "
    "period alone still let 15–65% through. The price is power against a real step at the date: 1.7× was "
    "called a change in 0.48 of accounts with φ = .90 bursts (the rate comparison alone: 0.98), 0.67 in the "
    "40/8 split (0.87), 1.00 with Poisson noise (1.00)"
)


def _change_at_date(comp: dict, alpha: float) -> dict:
    """Whether a significant rate comparison is a change *at the date*, not a drift that was already under way
    (:data:`CHANGE_AT_DATE_RULE`). ``holds`` is None when the rate comparison itself found no change."""
    sc = comp.get("slope_change") or {}
    p, est = sc.get("p_value"), sc.get("estimate")
    ta, pre, pl = comp.get("trend_adjusted") or {}, comp.get("pre_trend") or {}, comp.get("placebo") or {}
    out: dict[str, Any] = {"holds": None, "reason": None, "rule": CHANGE_AT_DATE_RULE,
                           "placebo_as_small": None, "placebo_n": None}
    pc, rp = [v for v in pl.get("p_values_calibrated") or [] if v is not None], pl.get("real_p")
    if pc and rp is not None:
        out["placebo_as_small"], out["placebo_n"] = int(sum(v <= rp for v in pc)), len(pc)
    if p is None or est is None or not p < alpha:
        return out
    jump, jp = ta.get("jump_per_day"), ta.get("p_value")
    if jump is not None and jp is not None and jp < alpha and math.copysign(1, jump) == math.copysign(1, est):
        out["holds"] = True
        return out
    out["holds"] = False

    def ptxt(v: float) -> str:
        return "p < 0.001" if v < 0.001 else f"p = {v:.2g}"

    def num(v: float, signed: bool = False) -> str:
        return (f"{v:+.3g}" if signed else f"{v:.3g}").replace("-", "\u2212")

    parts = []
    b, bp = pre.get("estimate_per_year"), pre.get("p_value")
    if b is not None and bp is not None:
        word = "falling" if b < 0 else "rising"
        parts.append(f"the rate was already {word} before the date (by {num(abs(b))} per day each year in the "
                     f"before period alone, {ptxt(bp)})" if bp < alpha else
                     f"the before period alone shows a {word} rate (by {num(abs(b))} per day each year) that its "
                     f"own data cannot confirm ({ptxt(bp)})")
    if jump is not None and jp is not None:
        lo, hi = ta.get("jump_ci") or [None, None]
        ci = f"95% CI {num(lo, True)} to {num(hi, True)}, " if lo is not None and hi is not None else ""
        parts.append(f"allowing for a steady trend in the rate, the jump at the date is {num(jump, True)} per day "
                     f"({ci}{ptxt(jp)})")
    else:
        parts.append(f"the change at the date could not be separated from a trend ({ta.get('reason')})")
    if out["placebo_as_small"]:
        parts.append(f"{out['placebo_as_small']} of {out['placebo_n']} placebo dates in the before period, where "
                     "nothing changed, give p-values as small")
    out["reason"] = "; ".join(parts)
    return out


def _contrast(fit: dict, k: int) -> np.ndarray:
    c = np.zeros(len(fit["params"]))
    c[k], c[k + 1] = -1.0, 1.0
    return c


def _monthly_grid(frame: pd.DataFrame) -> pd.Series:
    """First observation of each calendar month, labelled by its month start (no months filled in)."""
    month = _month_start(frame["date"])
    return frame["value"].groupby(month.to_numpy()).first().astype(float)


def _state_space(series: pd.DataFrame, k: int, *, alpha: float, warnings: list[str]) -> dict:
    """Local linear trend fitted on period ``k``'s monthly levels, forecast over period ``k + 1``'s months."""
    try:
        return _state_space_forecast(series, k, alpha=alpha, warnings=warnings)
    except Exception as exc:  # noqa: BLE001 — a second opinion must never stop the comparison
        warnings.append(f"state-space forecast failed: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}


def _state_space_forecast(series: pd.DataFrame, k: int, *, alpha: float, warnings: list[str]) -> dict:
    import warnings as pywarnings

    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    period = series["period"].to_numpy(int) if len(series) else np.array([], dtype=int)
    pre = _monthly_grid(series.loc[period == k])
    post = _monthly_grid(series.loc[period == k + 1])
    if len(pre) < STATE_SPACE_MIN_MONTHS:
        msg = f"state-space forecast not fitted: {len(pre)} month(s) observed before, {STATE_SPACE_MIN_MONTHS} needed"
        warnings.append(msg)
        return {"error": msg}
    post = post.loc[post.index > pre.index.max()]
    if post.empty:
        msg = "state-space forecast not made: no month after the last before-period month has data"
        warnings.append(msg)
        return {"error": msg}
    grid = pd.date_range(pre.index.min(), pre.index.max(), freq="MS")
    y = pre.reindex(grid).to_numpy(float)
    # Standardize for the optimizer (follower counts are in the thousands); forecasts are scaled back.
    obs = y[~np.isnan(y)]
    y0 = obs[0]
    scale = float(np.nanstd(np.diff(y))) if np.isfinite(np.diff(y)).sum() >= 2 else 0.0
    if not (math.isfinite(scale) and scale > 0):
        scale = float(np.max(np.abs(obs - y0))) or 1.0
    last = grid[-1]
    steps_of = np.array([(m.year - last.year) * 12 + (m.month - last.month) for m in post.index])
    model = sm.tsa.UnobservedComponents((y - y0) / scale, level="lltrend")
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        res = model.fit(disp=False, maxiter=500)
    converged = bool(res.mle_retvals.get("converged", False)) if res.mle_retvals else False
    converged = converged and not any(issubclass(c.category, ConvergenceWarning) for c in caught)
    if not converged:
        warnings.append("state-space forecast: the likelihood optimizer did not report convergence")
    fc = res.get_forecast(int(steps_of.max()))
    mean = np.asarray(fc.predicted_mean, dtype=float) * scale + y0
    ci = np.asarray(fc.conf_int(alpha=alpha), dtype=float) * scale + y0
    idx = steps_of - 1
    mean, low, high = mean[idx], ci[idx, 0], ci[idx, 1]
    observed_end = float(post.iloc[-1])
    return {
        "dates": [_iso(d) for d in post.index],
        "observed": [_f(v) for v in post],
        "forecast": [_f(v) for v in mean],
        "pi_low": [_f(v) for v in low],
        "pi_high": [_f(v) for v in high],
        "observed_end": _f(observed_end),
        "forecast_end": _f(mean[-1]),
        "excess_end": _f(observed_end - mean[-1]),
        "excess_ci": [_f(observed_end - high[-1]), _f(observed_end - low[-1])],
        "months_fitted": int(len(grid)),
        "months_missing": int(np.isnan(y).sum()),
        "converged": converged,
        "method": (
            "local linear trend state-space model (statsmodels UnobservedComponents, level='lltrend', "
            "maximum likelihood, Kalman filter) of the before-period level on a monthly grid (first "
            "observation of each calendar month; months without data are missing values), forecast over the "
            f"after-period months with {1 - alpha:.0%} prediction intervals"
        ),
    }


# ------------------------------------------------------------------------------------------- the comparison


#: version of the growth.json layout (2: calibrated tests, basis/availability/status keys added)
GROWTH_SCHEMA_VERSION = 2


def _status(comp: dict, date: pd.Timestamp, start: Any, end: Any) -> str:
    """``judged``, ``not_judgeable`` (estimated, too few increments), ``after_data``, ``before_data``,
    ``no_data`` or ``not_estimated``."""
    if start is None:
        return "no_data"
    if date > end:
        return "after_data"
    if date <= start:
        return "before_data"
    if comp.get("judgeable"):
        return "judged"
    return "not_judgeable" if comp.get("slope_change", {}).get("estimate") is not None else "not_estimated"


def _range_reason(status: str, date: pd.Timestamp, start: Any, end: Any) -> str:
    if status == "no_data":
        return "there is no growth data to compare"
    if status == "after_data":
        return (
            f"the date is after your data: the intervention is on {_iso(date)} and the growth data end on "
            f"{_iso(end)}, so there is nothing after it to compare"
        )
    return (
        f"the date is before your data: the intervention is on {_iso(date)} and the growth data start on "
        f"{_iso(start)}, so there is nothing before it to compare"
    )


def compare_growth(
    account: pd.DataFrame,
    *,
    interventions: Sequence[Any],
    posts: pd.DataFrame | None = None,
    metric: str = "followers",
    monthly_metric: str = "impressions",
    maxlags: int | None = None,
    equivalence_margin: tuple[float, float] = (0.8, 1.25),
    alpha: float = 0.05,
    month_of_previous: Sequence[str] = (),
) -> dict:
    """Compare growth before and after each intervention; return the ``growth.json`` dict (DESIGN.md §5).

    Parameters
    ----------
    account : DataFrame
        Canonical account table (one account; with several, the one with most ``metric`` values is used).
    interventions : sequence of Intervention or (date, label)
        Each splits time; a date belongs to the period that starts on it.
    posts : DataFrame, optional
        Canonical posts table; monthly impressions/engagements/posts come from it when the account table
        has none.
    metric : str
        Growth metric (see :func:`prepare_growth_series`).
    monthly_metric : str
        Column of :func:`monthly_metrics` compared month by month (e.g. ``impressions``,
        ``impressions_per_post``).
    maxlags : int, optional
        Newey–West lag (of the increments model, and of the level model); default
        ``floor(4 (n/100)^(2/9))`` with n the increments (observations for the level model).
    equivalence_margin : (float, float)
        Growth-ratio bounds of the equivalence test (TOST).
    alpha : float
        Test level; CIs are 1 − alpha.
    month_of_previous : sequence of str
        Account source files whose rows describe the previous month (card ``month_of: previous``; see
        :func:`apply_month_of` and :func:`month_of_previous_sources`).

    Returns
    -------
    dict
        JSON-serializable: ``metric``, ``unit``, ``origin``, ``periods`` (label, start, end, n, slope_per_day,
        slope_ci, r2, intercept — the published level fit — and rate_per_day, rate_ci from the increments
        model), the comparison of the first intervention at the top level (from the increments model:
        ``slope_ratio``, ``slope_ratio_ci``, ``slope_ratio_method``, ``slope_change`` {estimate, ci, p_value,
        cov_type, maxlags}, ``maxlags_rule``, ``equivalence``, ``growth_model`` (the model in words),
        ``n_increments``; from the level regression: ``naive_p_value`` and ``level_model`` {slope_change,
        slope_ratio, slope_ratio_ci, naive_p_value}; then ``monthly`` and ``counterfactual`` {dates,
        projected, pi_low, pi_high, anchor {date, value}, observed_end, projected_end, excess_end, excess_ci,
        pi_method}, ``placebo`` {n, dates, estimates, t_values, p_values, real_t, rank_p, method, summary} and
        ``state_space`` {dates, observed, forecast, pi_low, pi_high, observed_end, forecast_end, excess_end,
        excess_ci, months_fitted, months_missing, converged, method} or {error}), ``pre_trend`` (the before
        period's own linear trend in the rate: estimate_per_year, se, ci, p_value, n_increments, significant,
        method, reason), ``trend_adjusted`` (the rate's jump at the date beyond one steady trend across both
        periods: jump_per_day, jump_se, jump_ci, p_value, trend_per_year, rate_before_at_date, n_increments,
        significant, method, reason) and ``change_at_date`` {holds (None when the rate test finds no change),
        reason, rule, placebo_as_small, placebo_n}: see :data:`CHANGE_AT_DATE_RULE`), ``comparisons`` (one such
        dict per consecutive pair
        of periods, with ``before``, ``after`` and ``intervention_date``), ``series`` (date, value, period
        label), ``monthly_series`` (month, the monthly metric, period label, or ``"transition"`` for a month
        that contains an intervention date and is left out of the monthly comparison), ``interventions`` and
        ``warnings``. Values that cannot be estimated are None; degenerate input never raises.
    """
    from .models import _one_blas_thread

    # one BLAS thread: every product here is small (months × a few columns, a 2,000-resample bootstrap); with
    # OpenBLAS' default threads the stage spent twice the CPU (threads spinning) for the same wall time, CPU the
    # stages running beside it on a 2-core machine lose. The same products, the same numbers.
    with _one_blas_thread():
        return _compare_growth(account, interventions=interventions, posts=posts, metric=metric,
                               monthly_metric=monthly_metric, maxlags=maxlags,
                               equivalence_margin=equivalence_margin, alpha=alpha,
                               month_of_previous=month_of_previous)


def _compare_growth(
    account: pd.DataFrame,
    *,
    interventions: Sequence[Any],
    posts: pd.DataFrame | None,
    metric: str,
    monthly_metric: str,
    maxlags: int | None,
    equivalence_margin: tuple[float, float],
    alpha: float,
    month_of_previous: Sequence[str],
) -> dict:
    lo_m, hi_m = (float(v) for v in equivalence_margin)
    if not (0 < lo_m < 1 < hi_m):
        raise InputError(
            f"equivalence_margin must be (lower, upper) slope-ratio bounds with 0 < lower < 1 < upper, "
            f"found {equivalence_margin!r}"
        )
    if not 0 < alpha < 0.5:
        raise InputError(f"alpha must be between 0 and 0.5, found {alpha}")
    ivs = _as_interventions(interventions)
    warnings: list[str] = []
    if account is None or len(account) == 0:
        account = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]")})
    # month_of: previous re-dates a sheet's monthly totals (flows); a follower count stays on its own date
    shifted, w = apply_month_of(account, month_of_previous)
    warnings += w
    if metric != "followers" or follower_basis(account) in ("level", "none"):
        monthly_account = shifted
    else:
        account = monthly_account = shifted
    series, w = prepare_growth_series(account, metric=metric, posts=posts)
    basis = series.attrs.get("basis", "none")
    warnings += w
    data_start = series["date"].iloc[0] if len(series) else None
    data_end = series["date"].iloc[-1] if len(series) else None
    _, _, chosen = _select_account(account, metric, posts)
    if chosen is not None and len(_account_keys(account).unique()) > 1:
        account = account.loc[_account_keys(account) == chosen]
        monthly_account = monthly_account.loc[_account_keys(monthly_account) == chosen]
        if posts is not None and "account" in posts.columns and "account" in account.columns:
            handle = account["account"].dropna().astype(str)
            if len(handle) and (posts["account"].astype("string") == handle.iloc[0]).any():
                posts = posts.loc[posts["account"].astype("string") == handle.iloc[0]]
    if not ivs:
        warnings.append("no interventions: one period, nothing to compare")

    labels = ["before"] + [lab for _, lab in ivs]
    # Period of each point: number of intervention dates on or before its date.
    cut = np.array([d.value for d, _ in ivs], dtype="int64")
    series = series.assign(
        period=np.searchsorted(cut, series["date"].to_numpy("datetime64[ns]").astype("int64"), side="right")
    )
    by_period = [series.loc[series["period"] == k] for k in range(len(labels))]
    inc, clock = _increments(account, series, metric=metric, posts=posts)
    fit = _fit_rates(inc, cut, labels, maxlags=maxlags, warnings=warnings) if len(series) > 1 else None
    periods: list[dict] = []
    if not series.empty:
        for k, lab in enumerate(labels):
            period = _fit_period(by_period[k], lab, alpha, warnings)
            period["rate_per_day"], period["rate_ci"] = _rate_ci(fit, k, alpha)
            period["rate_ci_fixed_b"] = _rate_ci_fixed_b(fit, k, alpha)
            periods.append(period)
        for k, (d, lab) in enumerate(ivs):
            if by_period[k + 1].empty:
                warnings.append(f"intervention {lab!r} ({_iso(d)}) is followed by no data in its period")

    # Monthly metric, months wholly inside one period.
    need = ("impressions", "posts") if monthly_metric == "impressions_per_post" else (monthly_metric,)
    try:
        months = monthly_metrics(monthly_account, posts, metrics=need)
    except InputError as exc:
        warnings.append(f"monthly comparison skipped: {exc}")
        months = pd.DataFrame(
            {
                "month": pd.Series(dtype="datetime64[ns]"),
                monthly_metric: pd.Series(dtype=float),
                "complete": pd.Series(dtype=bool),
            }
        )
    else:
        warnings += months.attrs.get("warnings", [])
    mstart = months["month"]
    mend = mstart + pd.offsets.MonthBegin(1)
    start_p = np.searchsorted(cut, mstart.to_numpy("datetime64[ns]").astype("int64"), side="right")
    end_p = np.searchsorted(
        cut, (mend - pd.Timedelta(1, "ns")).to_numpy("datetime64[ns]").astype("int64"), side="right"
    )
    mvals = (
        pd.to_numeric(months[monthly_metric], errors="coerce").astype(float).to_numpy()
        if len(months)
        else np.array([], dtype=float)
    )
    mperiod = np.where(start_p == end_p, start_p, -1)
    usable = (mperiod >= 0) & months["complete"].to_numpy(bool) & ~np.isnan(mvals)
    n_partial = int(((~months["complete"].to_numpy(bool)) & ~np.isnan(mvals)).sum()) if len(months) else 0
    if n_partial:
        warnings.append(
            f"{n_partial} partial month(s) (daily data not covering the whole month) left out of "
            "the monthly comparison"
        )
    if ivs and (mperiod == -1).any():
        warnings.append(
            f"{int((mperiod == -1).sum())} month(s) containing an intervention date left out of the "
            "monthly comparison"
        )

    # Every monthly metric the data hold (impressions, engagements, posts, impressions per post), compared the
    # same way as the headline metric: months wholly inside one period, complete months only.
    try:
        months_all = monthly_metrics(monthly_account, posts)
    except InputError:
        months_all = None
    all_cols: list[str] = []
    if months_all is not None and len(months_all):
        a_start = months_all["month"]
        a_end = a_start + pd.offsets.MonthBegin(1)
        a_p0 = np.searchsorted(cut, a_start.to_numpy("datetime64[ns]").astype("int64"), side="right")
        a_p1 = np.searchsorted(
            cut, (a_end - pd.Timedelta(1, "ns")).to_numpy("datetime64[ns]").astype("int64"), side="right"
        )
        a_period = np.where(a_p0 == a_p1, a_p0, -1)
        a_ok = a_period >= 0
        all_cols = [
            c for c in ("impressions", "engagements", "posts", "impressions_per_post")
            if c in months_all.columns and pd.to_numeric(months_all[c], errors="coerce").notna().any()
        ]

    def _monthly_all(k: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for col in all_cols:
            v = pd.to_numeric(months_all[col], errors="coerce").astype(float).to_numpy()
            col_ok = months_all.get(f"complete_{col}", months_all["complete"]).to_numpy(bool)
            ok = a_ok & col_ok & ~np.isnan(v)
            out[col] = _compare_monthly(v[ok & (a_period == k)], v[ok & (a_period == k + 1)], metric=col,
                                        alpha=alpha, warnings=[])
        return out

    comparisons = []
    for k, (d, lab) in enumerate(ivs):
        b, a = by_period[k], by_period[k + 1]
        cw: list[str] = []
        comp: dict[str, Any] = {"before": labels[k], "after": lab, "intervention_date": _iso(d)}
        comp.update(_compare_rates(fit, k, margin=(lo_m, hi_m), alpha=alpha, warnings=cw))
        comp["status"] = _status(comp, d, data_start, data_end)
        comp["minimum_detectable"] = _minimum_detectable_of(comp, fit, k, alpha=alpha)
        comp["minimum_detectable_ratio"] = comp["minimum_detectable"]["ratio_increase"]
        if comp["status"] in ("after_data", "before_data", "no_data"):
            comp["not_judged_reason"] = _range_reason(comp["status"], d, data_start, data_end)
        lw: list[str] = []
        level = _compare_slopes(b, a, maxlags=maxlags, margin=(lo_m, hi_m), alpha=alpha, warnings=lw)
        cw += [f"level model: {w}" for w in lw]
        comp["naive_p_value"] = level["naive_p_value"]
        comp["level_model"] = {key: level[key] for key in LEVEL_MODEL_KEYS}
        comp["monthly"] = _compare_monthly(
            mvals[usable & (mperiod == k)],
            mvals[usable & (mperiod == k + 1)],
            metric=monthly_metric,
            alpha=alpha,
            warnings=cw,
        )
        comp["monthly_all"] = _monthly_all(k)
        # the rigorous monthly form: an interrupted time series (level and trend change), Welch kept as
        # comp["monthly"] (the published form)
        comp["monthly_its"] = monthly_its(
            months, d, metric=monthly_metric, alpha=alpha, published_form={"see": "monthly"}
        ).to_dict()
        comp["posts_adjusted"] = post_change(posts, d, alpha=alpha).to_dict()
        comp["counterfactual"] = _counterfactual(fit, k, series, clock, alpha=alpha)
        comp["placebo"] = _placebo(inc, cut, k, fit=fit, maxlags=maxlags, before=labels[k])
        comp["pre_trend"] = _pre_trend(inc, cut, k, maxlags=maxlags, alpha=alpha)
        comp["trend_adjusted"] = _trend_adjusted(inc, cut, k, maxlags=maxlags, alpha=alpha)
        comp["change_at_date"] = _change_at_date(comp, alpha)
        comp["state_space"] = _state_space(series, k, alpha=alpha, warnings=cw)
        warnings += [f"{labels[k]} → {lab}: {w}" for w in cw]
        comparisons.append(comp)

    if comparisons:
        top = {k: v for k, v in comparisons[0].items() if k not in ("before", "after", "intervention_date")}
    else:
        top = _compare_rates(None, 0, margin=(lo_m, hi_m), alpha=alpha, warnings=[])
        top["status"] = "no_intervention"
        top["minimum_detectable"] = _minimum_detectable(None, 0, float("nan"), alpha=alpha, stat="log")
        top["minimum_detectable"]["reason"] = "no intervention: nothing to compare"
        top["minimum_detectable_ratio"] = None
        top["not_judged_reason"] = "no intervention date in the dataset card: one period, nothing to compare"
        level = _compare_slopes(
            series.iloc[:0], series.iloc[:0], maxlags=maxlags, margin=(lo_m, hi_m), alpha=alpha, warnings=[]
        )
        top["naive_p_value"] = None
        top["level_model"] = {key: level[key] for key in LEVEL_MODEL_KEYS}
        top["monthly"] = _compare_monthly(
            np.array([]), np.array([]), metric=monthly_metric, alpha=alpha, warnings=[]
        )
        top["monthly_all"] = {}
        top["monthly_its"] = None
        top["posts_adjusted"] = None
        top["counterfactual"] = _counterfactual(None, 0, series, clock, alpha=alpha)
        top["placebo"] = _placebo(inc, cut, 0, fit=None, maxlags=maxlags, before=labels[0])
        top["pre_trend"] = top["trend_adjusted"] = None
        top["change_at_date"] = {"holds": None, "reason": None, "rule": CHANGE_AT_DATE_RULE}
        top["state_space"] = {"error": "no intervention: nothing to forecast"}

    period_label = np.array(labels, dtype=object)
    mlabel = np.where(mperiod >= 0, period_label[np.clip(mperiod, 0, None)], "transition")
    g_metric, g_unit = growth_metric_of(basis, metric)
    available = bool(len(series) >= 2)
    result: dict[str, Any] = {
        "schema_version": GROWTH_SCHEMA_VERSION,
        "metric": g_metric,
        "unit": g_unit,
        "basis": basis,
        "basis_text": basis_text_of(basis, account),
        "level_known": basis in ("level", "derived_level", "metric"),
        "available": available,
        "not_available": None if available else {
            "reason": (
                "no account data" if len(account) == 0 else
                "no follower data" if basis == "none" else
                f"fewer than two dated {g_metric} values"
            ),
            "needed": FOLLOWER_INPUT if metric == "followers" else {
                "file": "an account file listed under `account:` in dataset.yml",
                "columns": f"date and {metric}",
                "example_row": f"date,{metric}\n2024-03-01,1520",
            },
        },
        "data_range": {"start": _iso(data_start), "end": _iso(data_end)},
        "origin": _iso(series["date"].iloc[0]) if len(series) else None,
        "interventions": [{"date": _iso(d), "label": lab} for d, lab in ivs],
        "periods": periods,
        **top,
        "comparisons": comparisons,
        "series": pd.DataFrame(
            {
                "date": series["date"].dt.strftime("%Y-%m-%d"),
                "value": series["value"].astype(float),
                "period": period_label[series["period"].to_numpy(int)] if len(series) else [],
            }
        ).to_dict("records"),
        "monthly_series": pd.DataFrame(
            {
                "month": mstart.dt.strftime("%Y-%m-%d"),
                monthly_metric: mvals,
                "period": mlabel,
            }
        ).to_dict("records"),
        "warnings": list(dict.fromkeys(warnings)),
    }
    return _clean_floats(result)
