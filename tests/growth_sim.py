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

from dataclasses import dataclass

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
    g = np.where(day < change, 1.0, ratio)
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
    return comp


def measure(scn: Scenario, n: int, *, seed: int = 0, alpha: float = 0.05, power_ratio: float = 1.7) -> dict:
    """The four numbers of issue 12's table for ``scn`` on ``n`` series each (null and 1.7× change)."""
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
    power = []
    for i in range(n):
        comp = fit_one(account_of(day_of, values, keep, i), cut, alpha=alpha)
        if comp["judgeable"]:
            power.append(comp["slope_change"]["p_value"] < alpha)
    return {
        "scenario": scn.name,
        "n": n,
        "judged": float(np.mean(judged)),
        "false_positive": float(np.mean(rej)),
        "ratio_ci_coverage": float(np.mean(cover)),
        "pi_coverage": float(np.mean(pi_cover)),
        "power": float(np.mean(power)),
    }
