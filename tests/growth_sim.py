"""A generator of realistic follower series, for calibrating the growth comparison (tests/test_growth_calibration.py).

Independent of ``workbench.growth``: it simulates what an account's follower count does and what a monthly
sheet records of it, with the noise real accounts have and the increments model does not assume.

Model (per simulated account, per day t):

- a rate multiplier ``m_t = exp(x_t − s²/2)`` shared by follows and unfollows, with ``x`` a stationary Gaussian
  AR(1) (coefficient ``phi`` per day, stationary sd ``s``): bursts of attention lasting days (φ = 0.9) to
  weeks (φ = 0.98); ``s = 0`` is the pure Poisson case;
- new follows ~ Poisson(F · g_t · m_t), unfollows ~ Poisson(U · g_t · m_t), with g_t = 1 before the change and
  ``ratio`` from the change day (so the net growth rate (F − U) · g_t changes by ``ratio``);
- the follower count is the cumulative net follows from ``start_level``;
- the monthly sheet: one row per month dated the 1st (the month's *nominal* date), whose value was written
  down 0–``jitter`` days later (uniform integer), so the dates the analysis sees are off by up to ``jitter``
  days; each month is missing with probability ``p_missing`` (never the first or last);
- the change is at the first of month ``change_month`` (24 of 48: an even split; 40: a 40 / 8 split).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.signal import lfilter

START = np.datetime64("2020-01-01")


@dataclass(frozen=True)
class Scenario:
    name: str
    phi: float = 0.0
    sd: float = 0.0
    jitter: int = 0
    p_missing: float = 0.0
    months: int = 48
    change_month: int = 24
    follows: float = 12.0
    unfollows: float = 2.0
    #: a steady trend in the rate with no change at the date: the rate multiplier falls linearly from 1 on the
    #: first day to ``1 − decline`` on the last (both follows and unfollows), e.g. 0.6 = a fall to 0.4×
    decline: float = 0.0


#: the four scenarios of issue 12's table (48 monthly counts)
SCENARIOS = (
    Scenario("poisson"),
    Scenario("ar90", phi=0.90, sd=0.5),
    Scenario("ar98", phi=0.98, sd=0.6),
    Scenario("split_40_8", phi=0.90, sd=0.5, jitter=5, p_missing=0.06, change_month=40),
)


def simulate(scn: Scenario, n: int, *, ratio: float = 1.0, seed: int = 0):
    """Return (nominal day of each month row (M,), values (n, M), observed (n, M), change day).

    Day 0 is 2020-01-01. ``values[i, j]`` is account i's count when row j was written down.
    """
    rng = np.random.default_rng(seed)
    firsts = np.arange(np.datetime64("2020-01"), np.datetime64("2020-01") + scn.months + 1)
    day_of = (firsts.astype("datetime64[D]") - START).astype(int)
    n_days = int(day_of[-1]) + scn.jitter + 1
    change = int(day_of[scn.change_month])
    day = np.arange(n_days)
    g = np.where(day < change, 1.0, ratio) * (1.0 - scn.decline * day / max(n_days - 1, 1))
    if scn.sd > 0:
        innov = rng.normal(0.0, scn.sd * np.sqrt(1 - scn.phi**2), (n, n_days))
        x0 = rng.normal(0.0, scn.sd, n)
        x = lfilter([1.0], [1.0, -scn.phi], innov, axis=1, zi=(scn.phi * x0)[:, None])[0]
        m = np.exp(x - scn.sd**2 / 2)
    else:
        m = np.ones((n, n_days))
    net = rng.poisson(scn.follows * g * m) - rng.poisson(scn.unfollows * g * m)
    level = 5000 + np.concatenate([np.zeros((n, 1)), np.cumsum(net, axis=1)[:, :-1]], axis=1)
    written = day_of[None, :] + (rng.integers(0, scn.jitter + 1, (n, len(day_of))) if scn.jitter else 0)
    values = np.take_along_axis(level, np.broadcast_to(written, (n, len(day_of))), axis=1).astype(float)
    keep = rng.random((n, len(day_of))) >= scn.p_missing
    keep[:, [0, -1]] = True
    return day_of.astype(float), values, keep, float(change)


def true_rate(scn: Scenario) -> float:
    """Net follows per day before the change (the multiplier has mean 1)."""
    return scn.follows - scn.unfollows


def account_of(day_of, values, keep, i) -> pd.DataFrame:
    """Account ``i`` as a canonical account table with the sheet's nominal dates."""
    dates = pd.to_datetime(START + day_of[keep[i]].astype(int).astype("timedelta64[D]"))
    return pd.DataFrame(
        {
            "date": dates,
            "platform": "x",
            "account": "acct",
            "followers": pd.array(values[i, keep[i]].astype(int), dtype="Int64"),
        }
    )


def fit_one(account: pd.DataFrame, cut: pd.Timestamp, *, alpha: float = 0.05) -> dict:
    """The increments model's comparison and counterfactual for one account, as ``compare_growth`` computes them
    (its placebo, state-space and monthly parts are left out: they do not enter these numbers)."""
    from workbench import growth

    series, _ = growth.prepare_growth_series(account)
    cuts = np.array([cut.value], dtype="int64")
    series = series.assign(
        period=np.searchsorted(cuts, series["date"].to_numpy("datetime64[ns]").astype("int64"), side="right")
    )
    inc, clock = growth._increments(account, series, metric="followers")
    fit = growth._fit_rates(inc, cuts, ["before", "after"], maxlags=None, warnings=[])
    comp = growth._compare_rates(fit, 0, margin=(0.8, 1.25), alpha=alpha, warnings=[])
    comp["counterfactual"] = growth._counterfactual(fit, 0, series, clock, alpha=alpha)
    comp["pre_trend"] = growth._pre_trend(inc, cuts, 0, maxlags=None, alpha=alpha)
    comp["trend_adjusted"] = growth._trend_adjusted(inc, cuts, 0, maxlags=None, alpha=alpha)
    comp["change_at_date"] = growth._change_at_date(comp, alpha)
    return comp


def measure_at_date(scn: Scenario, n: int, *, ratio: float = 1.0, seed: int = 0, alpha: float = 0.05) -> dict:
    """Share of judged accounts whose rate comparison rejects (``rate_test``) and whose verdict is "changed"
    (``changed``: the rate comparison rejects and ``change_at_date`` holds, growth.CHANGE_AT_DATE_RULE)."""
    day_of, values, keep, change = simulate(scn, n, ratio=ratio, seed=seed)
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    rate, changed = [], []
    for i in range(n):
        comp = fit_one(account_of(day_of, values, keep, i), cut, alpha=alpha)
        if not comp["judgeable"]:
            continue
        rate.append(comp["slope_change"]["p_value"] < alpha)
        changed.append(rate[-1] and comp["change_at_date"]["holds"] is True)
    return {"scenario": scn.name, "decline": scn.decline, "ratio": ratio, "n": len(rate),
            "rate_test": float(np.mean(rate)), "changed": float(np.mean(changed))}


def measure(scn: Scenario, n: int, *, seed: int = 0, alpha: float = 0.05, power_ratio: float = 1.7) -> dict:
    """The four numbers of issue 12's table for ``scn`` on ``n`` series each (null and 1.7× change), and the power
    the calibrated rate-difference test would have on the same series."""
    day_of, values, keep, change = simulate(scn, n, ratio=1.0, seed=seed)
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    rej, cover, pi_cover, judged = [], [], [], []
    for i in range(n):
        comp = fit_one(account_of(day_of, values, keep, i), cut, alpha=alpha)
        judged.append(comp["judgeable"])
        if not comp["judgeable"]:
            continue
        rej.append(comp["slope_change"]["p_value"] < alpha)
        lo, hi = comp["slope_ratio_ci"]
        cover.append(lo <= 1.0 <= hi)
        cf = comp["counterfactual"]
        pi_cover.append(cf["pi_low"][-1] <= cf["observed_end"] <= cf["pi_high"][-1])
    day_of, values, keep, change = simulate(scn, n, ratio=power_ratio, seed=seed + 1)
    power, power_diff = [], []
    for i in range(n):
        comp = fit_one(account_of(day_of, values, keep, i), cut, alpha=alpha)
        if comp["judgeable"]:
            power.append(comp["slope_change"]["p_value"] < alpha)
            power_diff.append(comp["slope_change"]["p_value_difference"] < alpha)
    return {
        "scenario": scn.name,
        "n": n,
        "judged": float(np.mean(judged)),
        "false_positive": float(np.mean(rej)),
        "ratio_ci_coverage": float(np.mean(cover)),
        "pi_coverage": float(np.mean(pi_cover)),
        "power": float(np.mean(power)),
        # the calibrated rate-difference t (the reported test before the growth-ratio test replaced it)
        "power_difference": float(np.mean(power_diff)),
    }


# ------------------------------------------------------------------------------------------------ the oracle


def true_moments(scn: Scenario, ratio: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact mean (M,), covariance (M × M) of the M monthly increments on the nominal dates (no jitter, no
    missing month), and the days of each month in each period (M × 2), from the generator's law.

    Daily net follows n_t = P_t − Q_t, P ~ Poisson(F g_t m_t), Q ~ Poisson(U g_t m_t):
    E n_t = (F − U) g_t, Cov(n_t, n_s) = δ_ts (F + U) g_t + (F − U)² g_t g_s (exp(s² φ^|t−s|) − 1).
    """
    firsts = np.arange(np.datetime64("2020-01"), np.datetime64("2020-01") + scn.months + 1)
    day_of = (firsts.astype("datetime64[D]") - START).astype(int)
    t = np.arange(int(day_of[-1]))
    change = int(day_of[scn.change_month])
    g = np.where(t < change, 1.0, ratio)
    month = np.searchsorted(day_of, t, side="right") - 1
    M = (month[None, :] == np.arange(scn.months)[:, None]).astype(float)
    mean = M @ ((scn.follows - scn.unfollows) * g)
    cov = (M * ((scn.follows + scn.unfollows) * g)[None, :]) @ M.T
    if scn.sd > 0:
        C = np.expm1(scn.sd**2 * scn.phi ** np.abs(t[:, None] - t[None, :]).astype(float))
        MG = M * ((scn.follows - scn.unfollows) * g)[None, :]
        cov = cov + MG @ C @ MG.T
    days = np.column_stack([M[:, :change].sum(axis=1), M[:, change:].sum(axis=1)])
    return mean, cov, days


def oracle_power(scn: Scenario, n: int, *, ratio: float = 1.7, alpha: float = 0.05, seed: int = 0) -> dict:
    """Power of tests that know the scenario's true noise law, on its monthly increments at the nominal dates
    with no jitter and no missing month (cleaner data than the method gets: an upper bound on what the
    scenario allows).

    - ``gls_two_sided``: the two rates by GLS with the true (null) covariance of the monthly increments, the log
      of their ratio as statistic, two-sided critical values from ``n`` null series of the generator (no variance
      to estimate: the oracle knows it);
    - ``gls_one_sided``: the same, one-sided (knows the change is an increase);
    - ``neyman_pearson``: the Gaussian likelihood ratio of the exact null against the exact alternative (knows the
      base rate and the ratio; one-sided), critical value from null series of the generator.
    """
    clean = replace(scn, jitter=0, p_missing=0.0)
    mu0, S0, X = true_moments(clean)
    mu1, S1, _ = true_moments(clean, ratio)
    Si = np.linalg.inv(S0)
    proj = Si @ X @ np.linalg.inv(X.T @ Si @ X)

    def loglik(Y: np.ndarray, mu: np.ndarray, S: np.ndarray) -> np.ndarray:
        L = np.linalg.cholesky(S)
        z = np.linalg.solve(L, (Y - mu).T)
        return -0.5 * (z**2).sum(axis=0) - np.log(np.diag(L)).sum()

    stats_ = {}
    for which, r, sd in (("null", 1.0, seed), ("alt", ratio, seed + 1)):
        _, values, _, _ = simulate(clean, n, ratio=r, seed=sd)
        Y = np.diff(values, axis=1)
        rates = Y @ proj
        with np.errstate(invalid="ignore", divide="ignore"):
            log_ratio = np.log(rates[:, 1] / rates[:, 0])
        stats_[which] = (np.nan_to_num(log_ratio, nan=-np.inf), loglik(Y, mu1, S1) - loglik(Y, mu0, S0))
    (g0, np0), (g1, np1) = stats_["null"], stats_["alt"]
    lo, hi = np.quantile(g0, [alpha / 2, 1 - alpha / 2])
    return {
        "scenario": scn.name,
        "n": n,
        "gls_two_sided": float(np.mean((g1 < lo) | (g1 > hi))),
        "gls_one_sided": float(np.mean(g1 > np.quantile(g0, 1 - alpha))),
        "neyman_pearson": float(np.mean(np1 > np.quantile(np0, 1 - alpha))),
    }
