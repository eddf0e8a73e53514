"""The candidate tests measured against the adopted growth-ratio test (issue 12, power); not used by the workbench.

Run from the repo root (one process, a few minutes per scenario):

    .venv/bin/python tests/growth_candidates.py 300          # FP and power per scenario, 300 series each
    .venv/bin/python tests/growth_candidates.py 200 burst    # no change in rate, burstiness sd .5 → .9 at the date

Candidates, each calibrated at the null it assumes:

- ``lr``: regression of the whitened increments on the period exposures with Gaussian AR(1) errors fitted by
  maximum likelihood (profile likelihood over a grid of φ), likelihood-ratio test of equal rates, p from a
  parametric bootstrap of the fitted null (199 draws); ``lr_scale``: the same with a separate error scale per
  period (grid over the after/before scale ratio);
- ``pooled``: the log growth-ratio t with a Newey–West variance whose autocovariances are pooled over both periods
  on the relative scale (residual / fitted rate), calibrated by the same AR(1) bootstrap as the adopted test.

Measured (seed 2026/2027, 300 series; FP / power vs 1.7× for poisson, ar90, ar98, split 40/8): lr 0.057, 0.057,
0.053, 0.054 / 1.00, 0.99, 0.33, 0.92; lr_scale 0.060, 0.053, 0.047, 0.047 / 1.00, 0.98, 0.28, 0.67; pooled 0.070,
0.060, 0.063, 0.057 / 1.00, 0.98, 0.32, 0.90; the adopted test 0.070, 0.063, 0.057, 0.060 / 1.00, 0.98, 0.28,
0.87. With only the burstiness changing at the date (200 series, seed 5): 40/8 split lr 0.205, pooled 0.24,
adopted 0.085; 24/24 (ar90) 0.09, 0.095, 0.095. The pooled-variance tests are not adopted for that reason.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

sys.path.insert(0, str(Path(__file__).parent))
from growth_sim import SCENARIOS, START, Scenario, account_of, simulate  # noqa: E402

from workbench import growth  # noqa: E402

PHIS = np.linspace(-0.8, 0.97, 45)


def fit_of(acc: pd.DataFrame, cut: pd.Timestamp) -> tuple[dict, dict]:
    series, _ = growth.prepare_growth_series(acc)
    cuts = np.array([cut.value], dtype="int64")
    series = series.assign(
        period=np.searchsorted(cuts, series["date"].to_numpy("datetime64[ns]").astype("int64"), side="right")
    )
    inc, _ = growth._increments(acc, series, metric="followers")
    fit = growth._fit_rates(inc, cuts, ["before", "after"], maxlags=None, warnings=[])
    return fit, growth._compare_rates(fit, 0, margin=(0.8, 1.25), alpha=0.05, warnings=[])


def gls_loglik(Z: np.ndarray, Xs: np.ndarray, share: np.ndarray, rhos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Profile Gaussian AR(1) log-likelihood of each row of Z (B × n) on Xs over the (φ, scale ratio) grid."""
    B, n = Z.shape
    best, arg = np.full(B, -np.inf), np.zeros((B, 3))
    for rho in rhos:
        s = 1.0 + (rho - 1.0) * share
        Zs, Xw = Z / s, Xs / s[:, None]
        for phi in PHIS:  # a grid of 45 coefficients, each vectorized over the B series
            c = math.sqrt(1 - phi**2)
            Zt = np.concatenate([c * Zs[:, :1], Zs[:, 1:] - phi * Zs[:, :-1]], axis=1)
            Xt = np.concatenate([c * Xw[:1], Xw[1:] - phi * Xw[:-1]], axis=0)
            beta = Zt @ Xt @ np.linalg.inv(Xt.T @ Xt)
            rss = ((Zt - beta @ Xt.T) ** 2).sum(axis=1)
            ll = -n / 2 * np.log(rss / n) + 0.5 * math.log(1 - phi**2) - np.log(s).sum()
            better = ll > best
            best = np.where(better, ll, best)
            arg[better] = np.column_stack([np.full(better.sum(), phi), np.full(better.sum(), rho), rss[better] / n])
    return best, arg


def lr_p(fit: dict, *, scale_per_period: bool, draws: int = 199, seed: int = 1) -> float:
    Xs, d, n = fit["Xs"], fit["days"], fit["n"]
    share = Xs[:, 1] / np.sqrt(d)
    z = fit["resid_w"] + Xs @ fit["params"][fit["estimable"]]
    X0 = Xs.sum(axis=1, keepdims=True)
    rhos = np.exp(np.linspace(np.log(0.4), np.log(4.0), 13)) if scale_per_period else np.array([1.0])
    l1, _ = gls_loglik(z[None], Xs, share, rhos)
    l0, a0 = gls_loglik(z[None], X0, share, rhos)
    lr = 2 * (l1[0] - l0[0])
    phi, rho, s2 = a0[0]
    rng = np.random.default_rng(seed)
    innov = rng.standard_normal((draws, n))
    u = np.empty_like(innov)
    u[:, 0] = innov[:, 0] / math.sqrt(1 - phi**2)
    for i in range(1, n):  # time steps, vectorized over the draws
        u[:, i] = phi * u[:, i - 1] + innov[:, i]
    r0 = float(z @ X0[:, 0] / (X0[:, 0] @ X0[:, 0]))
    Zb = X0[:, 0][None] * r0 + math.sqrt(s2) * u * (1.0 + (rho - 1.0) * share)[None]
    lrb = 2 * (gls_loglik(Zb, Xs, share, rhos)[0] - gls_loglik(Zb, X0, share, rhos)[0])
    return float((1 + np.sum(lrb >= lr)) / (1 + draws))


def _pooled_cov(Xs: np.ndarray, U: np.ndarray, lags: int) -> np.ndarray:
    n, k = Xs.shape
    bread = np.linalg.inv(Xs.T @ Xs)
    meat = np.zeros((len(U), k, k))
    for lag in range(lags + 1):
        w = 1.0 - lag / (lags + 1.0)
        gam = (U[:, lag:] * U[:, : n - lag]).sum(axis=1) / n
        S = Xs[lag:].T @ Xs[: n - lag]
        meat += w * gam[:, None, None] * (S + S.T if lag else S)[None]
    return (n / (n - k)) * bread[None] @ meat @ bread[None]


def pooled_rejects(fit: dict, alpha: float = 0.05) -> bool:
    Xs, d = fit["Xs"], fit["days"]
    r0, r1 = fit["params"][fit["estimable"]]
    if not (r0 > 0 and r1 > 0):
        return False
    mu = (Xs @ np.array([r0, r1])) / np.sqrt(d)
    V = _pooled_cov(Xs / mu[:, None], (fit["resid_w"] / mu)[None], fit["maxlags"])[0]
    g = np.array([-1 / r0, 1 / r1])
    t = math.log(r1 / r0) / math.sqrt(g @ V @ g)
    E = fit["boot_E"]
    bb = E @ Xs @ np.linalg.inv(Xs.T @ Xs)
    Vb = _pooled_cov(Xs, E - bb @ Xs.T, fit["maxlags"])
    c = np.array([-1.0, 1.0])
    tb = (bb @ c) / np.sqrt(np.einsum("k,bkl,l->b", c, Vb, c))
    return abs(t) > np.quantile(np.abs(tb), 1 - alpha)


def simulate_burst_change(scn: Scenario, n: int, sd_after: float, seed: int):
    """growth_sim.simulate with no change in rate but the multiplier's sd changing at the change date."""
    rng = np.random.default_rng(seed)
    firsts = np.arange(np.datetime64("2020-01"), np.datetime64("2020-01") + scn.months + 1)
    day_of = (firsts.astype("datetime64[D]") - START).astype(int)
    n_days = int(day_of[-1]) + scn.jitter + 1
    change = int(day_of[scn.change_month])
    innov = rng.normal(0.0, math.sqrt(1 - scn.phi**2), (n, n_days))
    z = lfilter([1.0], [1.0, -scn.phi], innov, axis=1, zi=(scn.phi * rng.normal(0, 1, n))[:, None])[0]
    sd = np.where(np.arange(n_days) < change, scn.sd, sd_after)
    m = np.exp(sd * z - sd**2 / 2)
    net = rng.poisson(scn.follows * m) - rng.poisson(scn.unfollows * m)
    level = 5000 + np.concatenate([np.zeros((n, 1)), np.cumsum(net, axis=1)[:, :-1]], axis=1)
    written = day_of[None, :] + (rng.integers(0, scn.jitter + 1, (n, len(day_of))) if scn.jitter else 0)
    values = np.take_along_axis(level, np.broadcast_to(written, (n, len(day_of))), axis=1).astype(float)
    keep = rng.random((n, len(day_of))) >= scn.p_missing
    keep[:, [0, -1]] = True
    return day_of.astype(float), values, keep, float(change)


def rates(day_of, values, keep, change, n) -> dict:
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    out: dict[str, list] = {"adopted": [], "difference": [], "lr": [], "lr_scale": [], "pooled": []}
    for i in range(n):
        fit, comp = fit_of(account_of(day_of, values, keep, i), cut)
        if not comp["judgeable"]:
            continue
        out["adopted"].append(comp["slope_change"]["p_value"] < 0.05)
        out["difference"].append(comp["slope_change"]["p_value_difference"] < 0.05)
        out["lr"].append(lr_p(fit, scale_per_period=False) < 0.05)
        out["lr_scale"].append(lr_p(fit, scale_per_period=True) < 0.05)
        out["pooled"].append(pooled_rejects(fit))
    return {k: round(float(np.mean(v)), 4) for k, v in out.items()} | {"n": len(out["adopted"])}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for scn in SCENARIOS:
        if len(sys.argv) > 2 and sys.argv[2] == "burst":
            if scn.name in ("ar90", "split_40_8"):
                res = rates(*simulate_burst_change(scn, n, 0.9, 5), n)
                print(json.dumps({"scenario": scn.name, "null with sd .5 -> .9": res}), flush=True)
            continue
        null = rates(*simulate(scn, n, ratio=1.0, seed=2026), n)
        alt = rates(*simulate(scn, n, ratio=1.7, seed=2027), n)
        print(json.dumps({"scenario": scn.name, "false_positive": null, "power_1.7": alt}), flush=True)
