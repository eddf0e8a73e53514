"""How many posts a feature effect needs: power of the primary post-level model, by simulation.

The question an analyst asks before coding a new feature: "if posts with X really get 20% more impressions,
and 15% of our posts have X, will our models see it?" We answer it the way the analysis will be done — OLS on
log1p(outcome) with HC3 errors, the binary feature plus two other features in the model — by simulating many
datasets and counting how often the feature's two-sided test rejects at ``alpha``.

Simulation model
----------------
``log1p(outcome) = 6 + log(1 + effect_pct/100)·x + log(1.2)·z + log(0.97)·k + ε`` with ``x ~ Bernoulli(prevalence)``
(the feature), ``z ~ Bernoulli(0.5)`` (another yes/no feature, +20%), ``k ~ Poisson(1.2)`` (a count such as
hashtags, −3% each) and ``ε ~ Normal(0, noise_sd)``. ``noise_sd`` is the residual standard deviation of
log1p(outcome) once the features are accounted for; 0.5 is about what the example dataset's impressions show
(check ``sqrt(1 − r2)·sd(log1p(y))`` of your own ``ols_log`` fit). The outcome is simulated on the log scale
directly: the counts' rounding would only add noise the model does not see at realistic sizes.

All simulations of one call are fitted at once (batched normal equations and HC3 sandwich), in chunks that
keep memory bounded, so a few hundred simulations of tens of thousands of posts take seconds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .errors import InputError

#: the other features of the simulated model: (kind, parameter, effect on the log scale).
OTHER_FEATURES = (("binary", 0.5, math.log(1.2)), ("count", 1.2, math.log(0.97)))
INTERCEPT = 6.0
#: simulated values per chunk (simulations × posts × coefficients), bounding memory to ~100 MB.
CHUNK_ELEMENTS = 4_000_000


def _check(effect_pct: float, prevalence: float, alpha: float, noise_sd: float) -> None:
    if not 0 < prevalence < 1:
        raise InputError(f"prevalence must be a share of posts strictly between 0 and 1, found {prevalence}")
    if not effect_pct > -100:
        raise InputError(f"effect_pct must be above −100 (a % change), found {effect_pct}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, found {alpha}")
    if not noise_sd > 0:
        raise InputError(f"noise_sd must be positive, found {noise_sd}")


def analytic_power(
    n_posts: int, *, effect_pct: float, prevalence: float, alpha: float = 0.05, noise_sd: float = 0.5
) -> float:
    """Return the normal-approximation power of the two-sided test of a binary feature's log-scale effect.

    Notes
    -----
    With the feature independent of the other regressors, Var(b) ≈ σ² / (n·p(1 − p)), so power ≈
    Φ(|δ|·√(n·p(1 − p))/σ − z_{1−α/2}) (+ the negligible opposite tail), δ = log(1 + effect_pct/100).
    """
    _check(effect_pct, prevalence, alpha, noise_sd)
    delta = abs(math.log1p(effect_pct / 100))
    se = noise_sd / math.sqrt(n_posts * prevalence * (1 - prevalence))
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(delta / se - z) + stats.norm.cdf(-delta / se - z))


def analytic_posts_needed(
    effect_pct: float, *, prevalence: float, power: float = 0.8, alpha: float = 0.05, noise_sd: float = 0.5
) -> float:
    """Return n ≈ (z_{1−α/2} + z_{power})² σ² / (p(1 − p) δ²), the two-sample normal approximation."""
    _check(effect_pct, prevalence, alpha, noise_sd)
    delta = math.log1p(effect_pct / 100)
    if delta == 0:
        return math.inf
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z**2 * noise_sd**2 / (prevalence * (1 - prevalence) * delta**2))


def _simulate_rejections(
    n_posts: int,
    *,
    effect_pct: float,
    prevalence: float,
    n_sims: int,
    alpha: float,
    noise_sd: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per simulation: whether the feature's HC3 t-test rejected, and the estimated % effect."""
    rng = np.random.default_rng(seed)
    p = 2 + len(OTHER_FEATURES)
    beta = np.array([INTERCEPT, math.log1p(effect_pct / 100)] + [b for _, _, b in OTHER_FEATURES])
    df = n_posts - p
    t_crit = stats.t.ppf(1 - alpha / 2, df)
    chunk = max(1, CHUNK_ELEMENTS // (n_posts * p))
    reject, estimate = [], []
    for start in range(0, n_sims, chunk):
        s = min(chunk, n_sims - start)
        # layout (simulation, coefficient, post): the batched products below are then BLAS-sized
        X = np.empty((s, p, n_posts))
        X[:, 0] = 1.0
        X[:, 1] = rng.random((s, n_posts)) < prevalence
        for j, (kind, param, _) in enumerate(OTHER_FEATURES, start=2):
            X[:, j] = (
                rng.random((s, n_posts)) < param if kind == "binary" else rng.poisson(param, (s, n_posts))
            )
        y = np.einsum("p,spn->sn", beta, X) + rng.normal(0.0, noise_sd, (s, n_posts))
        Xt = X.transpose(0, 2, 1)
        XtX = X @ Xt
        # a simulated design can be singular at tiny n (no post with the feature): its test cannot reject
        ok = np.abs(np.linalg.det(XtX)) > 1e-9
        XtX[~ok] = np.eye(p)
        inv = np.linalg.inv(XtX)
        b = (inv @ (X @ y[:, :, None]))[:, :, 0]
        e = y - (b[:, None, :] @ X)[:, 0, :]
        # leverage x'(X'X)⁻¹x as a sum over the p² coefficient pairs (a batched (p×p)@(p×n) product is slow)
        h = np.zeros((s, n_posts))
        for j in range(p):
            for k in range(p):
                h += inv[:, j, k, None] * X[:, j] * X[:, k]
        w = (e / (1.0 - np.clip(h, None, 1 - 1e-12))) ** 2  # HC3
        meat = (X * w[:, None, :]) @ Xt
        V = inv @ meat @ inv
        se = np.sqrt(V[:, 1, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            t = b[:, 1] / se
        reject.append(ok & (np.abs(t) > t_crit))
        estimate.append(np.where(ok, 100 * np.expm1(b[:, 1]), np.nan))
    return np.concatenate(reject), np.concatenate(estimate)


def _level_text(alpha: float, n_tests: int) -> str:
    if n_tests <= 1:
        return f"two-sided p < {alpha:g}"
    return (
        f"two-sided p < {alpha / n_tests:.3g}: the report's Holm correction over {n_tests} predictors at "
        f"{alpha:g}, at its first-step threshold {alpha:g}/{n_tests}"
    )


def _fmt_n(n: float) -> str:
    return f"{int(round(n)):,}"


def estimate_power(
    n_posts: int,
    *,
    effect_pct: float,
    prevalence: float,
    n_sims: int = 200,
    alpha: float = 0.05,
    noise_sd: float = 0.5,
    seed: int = 0,
    n_tests: int = 1,
) -> dict:
    """Return the simulated power to detect a binary feature's effect with ``n_posts`` posts.

    Parameters
    ----------
    n_posts : int
        Posts in the analysis.
    effect_pct : float
        True % difference in the outcome for posts with the feature (20 = +20%).
    prevalence : float
        Share of posts that have the feature (0 < prevalence < 1).
    n_sims : int
        Simulated datasets; the power's Monte Carlo standard error is √(power(1 − power)/n_sims).
    alpha : float
        Two-sided significance level of the feature's HC3 t-test — the family level when ``n_tests`` > 1.
    noise_sd : float
        Residual SD of log1p(outcome) (see the module docstring).
    seed : int
        Seed of the simulation.
    n_tests : int
        Predictors in the Holm family the report judges by (one outcome's predictors). The test is then run at
        ``alpha / n_tests``, the threshold Holm applies to the smallest p-value of the family: Holm rejects the
        feature at least whenever this does, so the result is a lower bound on its power under Holm (exact when
        no other predictor has a smaller p-value; at most the power at ``alpha``).

    Returns
    -------
    dict
        ``n_posts``, ``power`` (share of simulations that rejected), ``power_se``, ``power_ci`` (95% Wilson
        interval), ``analytic_power`` (normal approximation), ``mean_effect_pct`` (mean estimate over the
        simulations, a check on bias), ``effect_pct``, ``prevalence``, ``alpha``, ``noise_sd``, ``n_sims``,
        ``seed`` and ``sentence`` (the answer in plain words).
    """
    _check(effect_pct, prevalence, alpha, noise_sd)
    if int(n_posts) < 6:
        raise InputError(
            f"n_posts must be at least 6 (4 coefficients and residual degrees of freedom), found {n_posts}"
        )
    if int(n_sims) < 1:
        raise InputError(f"n_sims must be at least 1, found {n_sims}")
    n_posts, n_sims = int(n_posts), int(n_sims)
    if int(n_tests) < 1:
        raise InputError(f"n_tests must be at least 1 (the predictors in the Holm family), found {n_tests}")
    n_tests = int(n_tests)
    level = alpha / n_tests
    reject, est = _simulate_rejections(
        n_posts,
        effect_pct=effect_pct,
        prevalence=prevalence,
        n_sims=n_sims,
        alpha=level,
        noise_sd=noise_sd,
        seed=seed,
    )
    k = int(reject.sum())
    power = k / n_sims
    z = stats.norm.ppf(0.975)
    centre = (k + z**2 / 2) / (n_sims + z**2)
    half = z * math.sqrt(k * (n_sims - k) / n_sims + z**2 / 4) / (n_sims + z**2)
    ci = [max(0.0, centre - half), min(1.0, centre + half)]
    analytic = analytic_power(
        n_posts, effect_pct=effect_pct, prevalence=prevalence, alpha=level, noise_sd=noise_sd
    )
    sentence = (
        f"With {_fmt_n(n_posts)} posts, {100 * prevalence:g}% of them with the feature, a true "
        f"{effect_pct:+g}% difference would be detected ({_level_text(alpha, n_tests)}, OLS on log1p with HC3) "
        f"{'in at least' if n_tests > 1 else 'in'} "
        f"{100 * power:.0f}% of studies (95% CI {100 * ci[0]:.0f}% to {100 * ci[1]:.0f}%, {n_sims} simulations; "
        f"the normal approximation gives {100 * analytic:.0f}%)."
    )
    return {
        "n_posts": n_posts,
        "power": power,
        "power_se": math.sqrt(power * (1 - power) / n_sims),
        "power_ci": ci,
        "analytic_power": analytic,
        "mean_effect_pct": float(np.nanmean(est)) if np.isfinite(est).any() else math.nan,
        "effect_pct": float(effect_pct),
        "prevalence": float(prevalence),
        "alpha": float(alpha),
        "n_tests": n_tests,
        "alpha_per_test": float(level),
        "correction": "holm (power at its first-step threshold alpha/n_tests: a lower bound)" if n_tests > 1
        else "none",
        "noise_sd": float(noise_sd),
        "n_sims": n_sims,
        "seed": int(seed),
        "sentence": sentence,
    }


def posts_needed(
    effect_pct: float,
    *,
    prevalence: float,
    power: float = 0.8,
    n_sims: int = 200,
    alpha: float = 0.05,
    noise_sd: float = 0.5,
    seed: int = 0,
    max_posts: int = 2_000_000,
    n_tests: int = 1,
) -> dict:
    """Return the number of posts that gives the requested power, found by simulation.

    Parameters
    ----------
    effect_pct, prevalence, n_sims, alpha, noise_sd, seed
        As in :func:`estimate_power`.
    power : float
        Target power (0 < power < 1).
    max_posts : int
        Largest sample size searched.
    n_tests : int
        Predictors in the Holm family (see :func:`estimate_power`): the posts needed at ``alpha / n_tests``,
        enough for Holm whatever the other predictors do.

    Returns
    -------
    dict
        ``n_posts`` (the posts needed; ``None`` when more than ``max_posts`` or the simulations cannot tell),
        ``power`` (fitted power at that n), ``power_at_n`` (a fresh simulation there), ``target_power``,
        ``analytic_n`` (the normal approximation (z_{1−α/2} + z_{power})² σ² / (p(1 − p) δ²), rounded up),
        ``grid`` (the simulated sizes and their power), ``effect_pct``, ``prevalence``, ``alpha``,
        ``noise_sd``, ``n_sims``, ``seed``, ``sentence``.

    Notes
    -----
    The simulated power at one n is noisy (±3 points with 200 simulations), so a bisection on it wanders.
    Instead power is simulated at five sizes around the analytic answer (½, ¾, 1, 1.5 and 2 times it) and a
    probit curve power(n) = Φ(a + b·√n) — the shape the normal approximation predicts — is fitted to all the
    simulations by maximum likelihood; the answer solves Φ(a + b·√n) = power. ``power`` in the result is the
    fitted curve's value there (it equals the target unless the answer was clipped at 6 or ``max_posts``),
    and ``power_at_n`` a fresh simulation at that n as a check.
    """
    import statsmodels.api as sm

    _check(effect_pct, prevalence, alpha, noise_sd)
    if not 0 < power < 1:
        raise InputError(f"power must be between 0 and 1, found {power}")
    if effect_pct == 0:
        raise InputError("effect_pct is 0: no number of posts detects a difference that does not exist")
    if int(n_tests) < 1:
        raise InputError(f"n_tests must be at least 1 (the predictors in the Holm family), found {n_tests}")
    n_tests = int(n_tests)
    analytic = analytic_posts_needed(
        effect_pct, prevalence=prevalence, power=power, alpha=alpha / n_tests, noise_sd=noise_sd
    )
    kw = dict(effect_pct=effect_pct, prevalence=prevalence, n_sims=n_sims, alpha=alpha, noise_sd=noise_sd,
              n_tests=n_tests)
    grid = sorted({min(max_posts, max(12, int(round(analytic * f)))) for f in (0.5, 0.75, 1.0, 1.5, 2.0)})
    hits = np.array([estimate_power(n, seed=seed + i, **kw)["power"] * n_sims for i, n in enumerate(grid)])
    result = {
        "n_posts": None,
        "power": math.nan,
        "power_at_n": math.nan,
        "target_power": float(power),
        "analytic_n": int(math.ceil(analytic)),
        "grid": [{"n_posts": n, "power": float(h / n_sims)} for n, h in zip(grid, hits, strict=True)],
        "effect_pct": float(effect_pct),
        "prevalence": float(prevalence),
        "alpha": float(alpha),
        "n_tests": n_tests,
        "alpha_per_test": float(alpha / n_tests),
        "noise_sd": float(noise_sd),
        "n_sims": int(n_sims),
        "seed": int(seed),
    }
    what = (
        f"a true {effect_pct:+g}% difference for a feature on {100 * prevalence:g}% of posts with "
        f"{100 * power:.0f}% power ({_level_text(alpha, n_tests)}, OLS on log1p with HC3, residual SD "
        f"{noise_sd:g})"
    )
    if grid == [max_posts] and hits[0] < power * n_sims:
        result["sentence"] = (
            f"Even {_fmt_n(max_posts)} posts are not enough to detect {what} (simulated power "
            f"{hits[0] / n_sims:.0%}); the normal approximation asks for {_fmt_n(analytic)}."
        )
        return result
    endog = np.column_stack([hits, n_sims - hits])
    exog = np.column_stack([np.ones(len(grid)), np.sqrt(grid)])
    if len(grid) < 2 or hits.sum() == 0 or hits.sum() == n_sims * len(grid):
        a, b = math.nan, math.nan
    else:
        probit = sm.families.Binomial(link=sm.families.links.Probit())
        a, b = sm.GLM(endog, exog, family=probit).fit().params
    if not (np.isfinite(b) and b > 0):
        result["sentence"] = (
            f"The simulations could not pin down the number of posts needed to detect {what}: simulated power "
            f"{', '.join(f'{h / n_sims:.0%} at {_fmt_n(n)}' for n, h in zip(grid, hits, strict=True))}. "
            f"The normal approximation asks for {_fmt_n(analytic)}."
        )
        return result
    n_star = ((stats.norm.ppf(power) - a) / b) ** 2 if stats.norm.ppf(power) > a else 6.0
    if n_star > max_posts:
        result["sentence"] = (
            f"Even {_fmt_n(max_posts)} posts are not enough to detect {what}; the simulations point to about "
            f"{_fmt_n(n_star)} and the normal approximation to {_fmt_n(analytic)}."
        )
        return result
    n_posts = max(6, int(math.ceil(n_star)))
    result["n_posts"] = n_posts
    result["power"] = float(stats.norm.cdf(a + b * math.sqrt(n_posts)))
    result["power_at_n"] = estimate_power(n_posts, seed=seed + len(grid), **kw)["power"]
    result["sentence"] = (
        f"To detect {what} you need about {_fmt_n(n_posts)} posts ({len(grid) * n_sims} simulations; the normal "
        f"approximation gives {_fmt_n(math.ceil(analytic))})."
    )
    return result
