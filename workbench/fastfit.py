"""Fast fits of the post-level models at 10⁵–10⁶ posts (issue 14), with light results objects.

What :mod:`workbench.models` fits, written out in NumPy because statsmodels' general machinery costs seconds and
gigabytes at a million posts for what are a handful of passes over an n × p design:

- OLS by the normal equations of the *centred* design (the constant handled apart, so a column such as
  log(followers) ≈ 9 ± 0.5 does not square its offset into the condition number), with HC3 or classical
  errors. The same leverage serves HC3, Cook's distance and the studentized residuals. When the design's
  correlation matrix is ill-conditioned (:data:`OLS_COND_LIMIT`; normal equations square the condition number)
  :func:`fit_ols` returns None and the caller uses statsmodels' pseudo-inverse path, as before.
- Poisson regression by IRLS, and NB2 by full Newton on (β, log α) with the analytic score and Hessian, started
  from the Poisson fit, with HC0 sandwich errors over (β, α) exactly as statsmodels computes them (observed
  information as the bread). The digamma/trigamma sums run over the distinct counts. When Newton does not
  converge cleanly, :func:`fit_nb2` returns None and the caller falls back to statsmodels' optimizers.

Every pass over the rows works in blocks of :data:`BLOCK` rows, so no n × p temporary is made. Numbers agree
with statsmodels and R to ~1e-10 (tests/test_models.py, tests/test_fastfit.py). Why by hand rather than a
library: statsmodels is the library, and its per-call overheads (pinv/SVD of the whole design, a matrix-rank QR
on every model construction, per-row special functions in the NB Hessian, n × p copies kept in every results
object) are exactly the hotspots measured in issue 14.

The results objects (:class:`LinearFit`, :class:`NB2Fit`) carry what the workbench reads (``params``, ``bse``,
``pvalues``, ``conf_int``, ``cov_params``, ``rsquared``/``llf``, ``resid``, ``predict`` …) and keep a reference to
the shared design rather than copies of it; ``.model`` builds the statsmodels model on first use, and any other
statsmodels attribute (``summary()``, ``get_influence()`` …) builds the full statsmodels results on first use.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

#: rows per block in the passes over a design: temporaries of BLOCK × p floats (4 MB at p = 8).
BLOCK = 65_536
#: the largest condition number of the design's correlation matrix (centred, unit-scaled columns) solved by the
#: normal equations; above it (near-collinear columns) statsmodels' pseudo-inverse is used. Normal equations lose
#: about cond × 1e-16 relative accuracy, so the solution is good to ~1e-10 below this limit.
OLS_COND_LIMIT = 1e6
#: Newton (NB2) and IRLS (Poisson) stop when every parameter moves less than this relative to 1 + |value|.
NEWTON_TOL = 1e-10
NEWTON_MAX_ITER = 50
#: NB2 dispersion outside this range is treated as a failed fit (α → 0: the counts are Poisson; the caller's
#: fallback path decides).
ALPHA_RANGE = (1e-8, 1e8)


def blocks(n: int) -> list[slice]:
    return [slice(s, min(s + BLOCK, n)) for s in range(0, n, BLOCK)]


def as_design(X) -> np.ndarray:
    """The design (without constant) as a float64 array, without a copy when it already is one."""
    return np.asarray(X.to_numpy(dtype="float64", copy=False) if isinstance(X, pd.DataFrame) else X, dtype="float64")


# --------------------------------------------------------------------------------------------------
# centred cross-products
# --------------------------------------------------------------------------------------------------


class Gram:
    """Centred cross-products ``G = (X − x̄)'(X − x̄)`` of a design without its constant column."""

    __slots__ = ("n", "mean", "G", "_inv", "_cond")

    def __init__(self, X: np.ndarray | None = None, *, n: int = 0, mean=None, G=None):
        if X is not None:
            n, k = X.shape
            mean = X.mean(axis=0) if n else np.zeros(k)
            G = np.zeros((k, k))
            for b in blocks(n):
                Z = X[b] - mean
                G += Z.T @ Z
        self.n, self.mean, self.G = int(n), np.asarray(mean, dtype="float64"), np.asarray(G, dtype="float64")
        self._inv = None
        self._cond = None

    def sub(self, idx) -> Gram:
        """The cross-products of a subset of the columns (same rows)."""
        idx = np.asarray(idx, dtype=int)
        return Gram(n=self.n, mean=self.mean[idx], G=self.G[np.ix_(idx, idx)])

    @property
    def k(self) -> int:
        return len(self.mean)

    @property
    def corr(self) -> np.ndarray:
        d = np.sqrt(np.diag(self.G))
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.G / np.outer(d, d)

    @property
    def cond(self) -> float:
        """Condition number of the correlation matrix (inf for a constant or dependent column)."""
        if self._cond is None:
            if self.k == 0:
                self._cond = 1.0
            else:
                R = self.corr
                if not np.all(np.isfinite(R)):
                    self._cond = math.inf
                else:
                    ev = np.linalg.eigvalsh(R)
                    self._cond = math.inf if ev[0] <= 0 else float(ev[-1] / ev[0])
        return self._cond

    @property
    def inv(self) -> np.ndarray:
        if self._inv is None:
            k = self.k
            self._inv = linalg.cho_solve(linalg.cho_factor(self.G, lower=True), np.eye(k)) if k else np.zeros((0, 0))
            self._inv = (self._inv + self._inv.T) / 2.0
        return self._inv

    def cross(self, X: np.ndarray, v: np.ndarray) -> np.ndarray:
        """(X − x̄)'v (v of length n, or n × r)."""
        out = np.zeros((self.k,) + v.shape[1:])
        for b in blocks(self.n):
            out += (X[b] - self.mean).T @ v[b]
        return out

    def leverage(self, X: np.ndarray) -> np.ndarray:
        """Diagonal of the hat matrix of the design [1, X]: 1/n + (x − x̄)'G⁻¹(x − x̄)."""
        W = self.inv
        h = np.empty(self.n)
        for b in blocks(self.n):
            Z = X[b] - self.mean
            h[b] = np.einsum("ij,ij->i", Z @ W, Z)
        h += 1.0 / self.n
        return h


# --------------------------------------------------------------------------------------------------
# OLS
# --------------------------------------------------------------------------------------------------


class _Coefficients:
    """What the coefficient tables read from a fit, under statsmodels' names. Subclasses set ``params`` (Series),
    ``_cov`` (ndarray) and ``_reference()`` (the frozen scipy distribution of the Wald statistic)."""

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self._cov)), index=self.params.index)

    @property
    def tvalues(self) -> pd.Series:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.params / self.bse

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2.0 * self._reference().sf(np.abs(self.tvalues.to_numpy())), index=self.params.index)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        q = self._reference().ppf(1.0 - alpha / 2.0)
        b, se = self.params.to_numpy(), self.bse.to_numpy()
        return pd.DataFrame({0: b - q * se, 1: b + q * se}, index=self.params.index)

    def cov_params(self) -> pd.DataFrame:
        return pd.DataFrame(self._cov, index=self.params.index, columns=self.params.index)


class LinearFit(_Coefficients):
    """A light OLS results object (statsmodels' attribute names; see the module docstring).

    ``endog`` is the response on the model's scale (log1p of the count for ``ols_log``, z-scored for ``ols_std``);
    the regressors are ``X[cols]`` (z-scored when ``zscore``) plus the constant ``Intercept``.
    """

    def __init__(self, *, names, params, cov, df_resid, nobs, ssr, centered_tss, cov_type, endog, X, cols,
                 gram, coef_raw, zscore=False):
        self.params = pd.Series(params, index=names)
        self._cov = cov
        self.df_resid = float(df_resid)
        self.nobs = float(nobs)
        self.ssr = float(ssr)
        self.centered_tss = float(centered_tss)
        self.cov_type = cov_type
        self.use_t = True
        self._endog = endog
        self._X = X
        self._cols = cols
        self._gram = gram
        self._coef_raw = coef_raw  # intercept and slopes on the raw columns of X[cols] (for fitted values)
        self._zscore = zscore
        self._model = None
        self._sm = None

    # -- what the tables read: bse, tvalues, pvalues, conf_int, cov_params (_Coefficients), with t(df_resid)
    def _reference(self):
        return stats.t(self.df_resid)

    @property
    def rsquared(self) -> float:
        return 1.0 - self.ssr / self.centered_tss

    @property
    def scale(self) -> float:
        return self.ssr / self.df_resid

    # -- rows
    def _design(self) -> np.ndarray:
        X = as_design(self._X)
        return X if self._cols is None else X[:, self._cols]

    def _row_labels(self):
        return self._X.index if isinstance(self._X, pd.DataFrame) else None

    @property
    def fittedvalues(self) -> pd.Series:
        c = self._coef_raw
        return pd.Series(c[0] + self._design() @ c[1:], index=self._row_labels())

    @property
    def resid(self) -> pd.Series:
        return pd.Series(self._endog - self.fittedvalues.to_numpy(), index=self._row_labels())

    def leverage(self) -> np.ndarray:
        return self._gram.leverage(self._design())

    # -- statsmodels on demand
    def _exog_frame(self) -> pd.DataFrame:
        from .models import _with_intercept, _zscore

        X = self._X if isinstance(self._X, pd.DataFrame) else pd.DataFrame(self._X)
        X = X if self._cols is None else X.iloc[:, self._cols]
        if self._zscore:
            X = pd.DataFrame(_zscore(X.to_numpy(dtype="float64")), columns=X.columns, index=X.index)
        return _with_intercept(X)

    @property
    def model(self):
        if self._model is None:
            import statsmodels.api as sm

            self._model = sm.OLS(self._endog, self._exog_frame())
        return self._model

    def _statsmodels(self):
        if self._sm is None:
            if self.cov_type == "nonrobust":
                self._sm = self.model.fit()
            else:
                self._sm = self.model.fit(cov_type=self.cov_type, use_t=True)
        return self._sm

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._statsmodels(), name)


def fit_ols(y: np.ndarray, X, *, robust: bool, gram: Gram | None = None, cols=None, zscore: bool = False,
            keep_diagnostics: bool = False):
    """OLS of ``y`` on [1, X[:, cols]] by the centred normal equations: a :class:`LinearFit`, or None when the
    design is too ill-conditioned for them (the caller then uses statsmodels).

    ``robust``: HC3 errors (``ols_log``), else classical errors. ``zscore``: the published form, every regressor
    and the response z-scored (sample SDs): the coefficients are the standardized ones and the constant ~0.
    With ``keep_diagnostics`` the fit also carries ``_e`` (residuals) and ``_h`` (leverage) for the residual
    checks and Cook's distance (the caller drops them after use).
    """
    names = ["Intercept", *(list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(X.shape[1])])]
    Xa = as_design(X)
    if cols is not None:
        names = ["Intercept", *[names[1 + j] for j in cols]]
    n = len(y)
    if gram is None:
        gram = Gram(Xa if cols is None else Xa[:, cols])
    k = gram.k
    if n <= k + 1 or gram.cond > OLS_COND_LIMIT:
        return None
    Xs = Xa if cols is None else Xa[:, cols]
    y = np.asarray(y, dtype="float64")
    ybar = float(y.mean())
    yc = y - ybar
    W = gram.inv
    b = W @ gram.cross(Xs, yc)
    m = gram.mean
    e = np.empty(n)
    need_h = robust or keep_diagnostics
    h = np.empty(n) if need_h else None
    meat = np.zeros((k + 1, k + 1)) if robust else None
    for blk in blocks(n):
        Z = Xs[blk] - m
        eb = yc[blk] - Z @ b
        e[blk] = eb
        if need_h:
            hb = np.einsum("ij,ij->i", Z @ W, Z) + 1.0 / n
            h[blk] = hb
        if robust:
            with np.errstate(divide="ignore", invalid="ignore"):
                w = eb * eb / (1.0 - hb) ** 2
            Zw = Z * w[:, None]
            meat[0, 0] += w.sum()
            zw = Zw.sum(axis=0)
            meat[0, 1:] += zw
            meat[1:, 1:] += Zw.T @ Z
    ssr = float(e @ e)
    tss = float(yc @ yc)
    df_resid = n - k - 1
    A = np.eye(k + 1)  # centred coefficients (c0 = ȳ, b) → (intercept, b): intercept = c0 − x̄'b
    A[0, 1:] = -m
    if robust:
        meat[1:, 0] = meat[0, 1:]
        bread = np.zeros((k + 1, k + 1))
        bread[0, 0] = 1.0 / n
        bread[1:, 1:] = W
        cov = A @ (bread @ meat @ bread) @ A.T
        params = np.r_[ybar - m @ b, b]
        coef_raw = params
        endog = y
    else:
        s2 = ssr / df_resid
        if zscore:
            sd_x = np.sqrt(np.diag(gram.G) / (n - 1))
            sd_y = math.sqrt(tss / (n - 1))
            bz = b * sd_x / sd_y
            # statsmodels on the z-scored columns: their means are ~1e-17 rather than 0; the constant is that small
            yz = yc / sd_y
            zmean = np.zeros(k)
            params = np.r_[float(yz.mean()) - zmean @ bz, bz]
            s2z = s2 / sd_y**2
            cov = np.zeros((k + 1, k + 1))
            cov[0, 0] = s2z / n
            cov[1:, 1:] = s2z * (sd_x[:, None] * W * sd_x[None, :])
            coef_raw = np.r_[ybar - m @ b, b]  # fitted values on the raw scale, mapped below
            coef_raw = np.r_[(coef_raw[0] - ybar) / sd_y, coef_raw[1:] / sd_y]
            endog = yz
            ssr = ssr / sd_y**2
            tss = tss / sd_y**2
        else:
            cov_c = np.zeros((k + 1, k + 1))
            cov_c[0, 0] = s2 / n
            cov_c[1:, 1:] = s2 * W
            cov = A @ cov_c @ A.T
            params = np.r_[ybar - m @ b, b]
            coef_raw = params
            endog = y
    cov = (cov + cov.T) / 2.0
    fit = LinearFit(names=names, params=params, cov=cov, df_resid=df_resid, nobs=n, ssr=ssr, centered_tss=tss,
                    cov_type="HC3" if robust else "nonrobust", endog=endog, X=X, cols=cols, gram=gram,
                    coef_raw=coef_raw, zscore=zscore)
    if keep_diagnostics:
        fit._e = e
        fit._h = h
    return fit


# --------------------------------------------------------------------------------------------------
# GLM building blocks: the design [1, X] is never materialized
# --------------------------------------------------------------------------------------------------


def linpred(X: np.ndarray, beta: np.ndarray, offset=None) -> np.ndarray:
    eta = X @ beta[1:] if X.shape[1] else np.zeros(X.shape[0])
    eta += beta[0]
    if offset is not None:
        eta += offset
    return eta


def xtv(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """[1, X]'v."""
    return np.r_[v.sum(), X.T @ v if X.shape[1] else np.zeros(0)]


def wgram(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """[1, X]' diag(w) [1, X]."""
    n, k = X.shape
    out = np.zeros((k + 1, k + 1))
    out[0, 0] = w.sum()
    for b in blocks(n):
        Xb = X[b]
        Xw = Xb * w[b, None]
        out[0, 1:] += Xw.sum(axis=0)
        out[1:, 1:] += Xw.T @ Xb
    out[1:, 0] = out[0, 1:]
    return out


def poisson_irls(y: np.ndarray, X: np.ndarray, *, offset=None, start=None, max_iter: int = 100,
                 tol: float = 1e-10):
    """Poisson GLM (log link) by IRLS: (β with the constant first, fitted means, log-likelihood), or None when it
    does not converge. Stops when max |Δβ| < tol · (1 + max |β|), as ``models._fit_poisson`` always did."""
    off = None if offset is None else np.asarray(offset, dtype="float64")
    with np.errstate(all="ignore"):
        if start is None:
            z0 = np.log(y + 0.5) - (0.0 if off is None else off)
            try:
                beta = np.linalg.solve(wgram(X, np.ones(len(y))), xtv(X, z0))
            except np.linalg.LinAlgError:
                beta = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), z0, rcond=None)[0]
        else:
            beta = np.asarray(start, dtype="float64").copy()
        for _ in range(max_iter):
            eta = np.clip(linpred(X, beta, off), -50, 50)
            mu = np.exp(eta)
            # IRLS: (X'WX) β_new = X'W z with W = μ, z = η − offset + (y − μ)/μ, i.e. X'W z = X'(μ(η − off)) + X'(y − μ)
            rhs = xtv(X, mu * (eta - (0.0 if off is None else off)) + (y - mu))
            try:
                new = np.linalg.solve(wgram(X, mu), rhs)
            except np.linalg.LinAlgError:
                return None
            if not np.all(np.isfinite(new)):
                return None
            change = np.max(np.abs(new - beta))
            beta = new
            if change < tol * (1.0 + np.max(np.abs(beta))):
                break
        else:
            return None
        mu = np.exp(linpred(X, beta, off))
        llf = float(np.sum(special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)))
    return beta, mu, llf


# --------------------------------------------------------------------------------------------------
# NB2
# --------------------------------------------------------------------------------------------------


class _Counts:
    """The distinct values of a count vector, for sums of special functions over them."""

    def __init__(self, y: np.ndarray):
        self.values, self.inverse, self.counts = np.unique(y, return_inverse=True, return_counts=True)
        self.counts = self.counts.astype("float64")
        self.n = len(y)
        self.lgamma_y1 = float(self.counts @ special.gammaln(self.values + 1.0))

    def sum(self, f) -> float:
        return float(self.counts @ f(self.values))


def nb2_loglike(y, X, beta, alpha, offset=None, counts: _Counts | None = None) -> float:
    """Full NB2 log-likelihood (statsmodels' ``NegativeBinomial(loglike_method="nb2").loglike``)."""
    counts = counts or _Counts(y)
    r = 1.0 / alpha
    eta = linpred(X, beta, offset)
    mu = np.exp(eta)
    ld = np.log1p(alpha * mu)
    return float(
        counts.sum(lambda v: special.gammaln(v + r)) - counts.n * special.gammaln(r) - counts.lgamma_y1
        + np.sum(-r * ld + y * (math.log(alpha) + eta - ld))
    )


def _nb2_derivs(y, X, beta, alpha, offset, counts: _Counts, *, per_obs: bool = False):
    """llf, score and Hessian of NB2 in (β, α) (analytic; Hessian as statsmodels' ``_hessian_nb2``)."""
    n = len(y)
    r = 1.0 / alpha
    eta = linpred(X, beta, offset)
    mu = np.exp(eta)
    amu = alpha * mu
    d = 1.0 + amu
    ld = np.log1p(amu)
    llf = float(
        counts.sum(lambda v: special.gammaln(v + r)) - n * special.gammaln(r) - counts.lgamma_y1
        + np.sum(-r * ld + y * (math.log(alpha) + eta - ld))
    )
    del eta
    resid = y - mu
    g_eta = resid / d
    psi_r = float(special.digamma(r))
    psi_vals = special.digamma(counts.values + r)
    t_sum = n * psi_r - float(counts.counts @ psi_vals) + float(ld.sum())
    g_alpha = t_sum / alpha**2 + float(g_eta.sum()) / alpha
    grad = np.r_[xtv(X, g_eta), g_alpha]
    k1 = X.shape[1] + 1
    H = np.empty((k1 + 1, k1 + 1))
    H[:k1, :k1] = -wgram(X, mu * (1.0 + alpha * y) / d**2)
    h_ae = -g_eta * mu / d
    H[:k1, k1] = H[k1, :k1] = xtv(X, h_ae)
    del h_ae  # n-vectors are freed as soon as they are summed: a fit's temporaries stay a few n-vectors
    trig = float(counts.counts @ special.polygamma(1, counts.values + r)) - n * float(special.polygamma(1, r))
    sum_mu_d = float(np.sum(mu / d))
    del mu
    H[k1, k1] = (
        -2.0 * t_sum / alpha**3
        + trig / alpha**4
        + sum_mu_d / alpha**2
        - float(np.sum(resid * (1.0 + 2.0 * amu) / d**2)) / alpha**2
    )
    del resid, amu, d
    out = {"llf": llf, "grad": grad, "hess": H}
    if per_obs:
        out["g_eta"] = g_eta
        out["g_alpha_obs"] = (psi_r - psi_vals[counts.inverse] + ld) / alpha**2 + g_eta / alpha
    return out


class NB2Fit(_Coefficients):
    """A light NB2 results object (statsmodels' attribute names; parameters (β, α), HC0 sandwich covariance)."""

    def __init__(self, *, names, params, cov, llf, iterations, endog, X, offset):
        self.params = pd.Series(params, index=[*names, "alpha"])
        self._cov = cov
        self.llf = float(llf)
        self.mle_retvals = {"converged": True, "iterations": int(iterations), "method": "newton (workbench)"}
        self.converged = True
        self.cov_type = "HC0"
        self.nobs = float(len(endog))
        self._endog = endog
        self._X = X
        self._offset = offset
        self._model = None
        self._sm = None

    def _reference(self):  # ML: Wald z, as statsmodels' NegativeBinomial reports
        return stats.norm()

    def _row_labels(self):
        return self._X.index if isinstance(self._X, pd.DataFrame) else None

    def predict(self) -> pd.Series:
        """Fitted mean counts."""
        beta = self.params.to_numpy()[:-1]
        return pd.Series(np.exp(linpred(as_design(self._X), beta, self._offset)), index=self._row_labels())

    @property
    def model(self):
        if self._model is None:
            import statsmodels.api as sm

            from .models import _nb2_score_obs, _with_intercept

            X = self._X if isinstance(self._X, pd.DataFrame) else pd.DataFrame(self._X)
            model = sm.NegativeBinomial(self._endog, _with_intercept(X), loglike_method="nb2", offset=self._offset)
            model.score_obs = _nb2_score_obs(model)
            self._model = model
        return self._model

    def _statsmodels(self):
        if self._sm is None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._sm = self.model.fit(start_params=self.params.to_numpy(), method="newton", maxiter=100,
                                          disp=False, cov_type="HC0")
        return self._sm

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._statsmodels(), name)


def fit_nb2(y: np.ndarray, X, *, offset=None, start=None, max_iter: int = NEWTON_MAX_ITER):
    """NB2 by maximum likelihood (Newton on (β, log α), analytic derivatives, step halving) with HC0 sandwich
    errors: an :class:`NB2Fit`, or None when it does not converge to an interior maximum (the caller falls back
    to statsmodels' optimizers).

    ``start``: β (constant first) to start from; default the Poisson fit of the same design. α starts at the
    Cameron–Trivedi moment estimate Σ((y − μ)² − y)/Σμ² of that Poisson fit (at least 0.01).
    """
    names = ["Intercept", *(list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(X.shape[1])])]
    Xa = as_design(X)
    y = np.asarray(y, dtype="float64")
    off = None if offset is None else np.asarray(offset, dtype="float64")
    k1 = Xa.shape[1] + 1
    with np.errstate(all="ignore"):
        try:
            if start is None:
                pois = poisson_irls(y, Xa, offset=off)
                if pois is None:
                    return None
                beta = pois[0]
            else:
                beta = np.asarray(start, dtype="float64").copy()
            mu = np.exp(linpred(Xa, beta, off))
            a0 = float(np.sum((y - mu) ** 2 - y) / np.sum(mu * mu))
            if not np.isfinite(a0):
                return None
            theta = np.r_[beta, math.log(min(max(a0, 0.01), 100.0))]
            counts = _Counts(y)
            converged = False
            iterations = 0
            for _ in range(max_iter):
                iterations += 1
                alpha = math.exp(theta[-1])
                if not ALPHA_RANGE[0] < alpha < ALPHA_RANGE[1]:
                    return None
                p = _nb2_derivs(y, Xa, theta[:-1], alpha, off, counts)
                if not np.isfinite(p["llf"]):
                    return None
                # to log α: g_a = α g_α, H_aa = α² H_αα + α g_α, H_βa = α H_βα
                g = p["grad"].copy()
                H = p["hess"].copy()
                g[-1] *= alpha
                H[:k1, k1] *= alpha
                H[k1, :k1] *= alpha
                H[k1, k1] = alpha**2 * p["hess"][k1, k1] + alpha * p["grad"][-1]
                neg = -H
                ridge = 0.0
                for _ in range(30):
                    try:
                        factor = linalg.cho_factor(neg + ridge * np.diag(np.maximum(np.abs(np.diag(neg)), 1e-12)),
                                                   lower=True)
                        break
                    except linalg.LinAlgError:
                        ridge = 1e-8 if ridge == 0.0 else ridge * 10.0
                else:
                    return None
                step = linalg.cho_solve(factor, g)
                if not np.all(np.isfinite(step)):
                    return None
                small = np.all(np.abs(step) <= NEWTON_TOL * (1.0 + np.abs(theta)))
                t = 1.0
                for _ in range(40):
                    trial = theta + t * step
                    a_t = math.exp(trial[-1])
                    if ALPHA_RANGE[0] < a_t < ALPHA_RANGE[1]:
                        ll = nb2_loglike(y, Xa, trial[:-1], a_t, off, counts)
                        if np.isfinite(ll) and ll >= p["llf"] - 1e-12 * abs(p["llf"]):
                            break
                    t /= 2.0
                else:
                    return None
                theta = trial
                if small and ridge == 0.0 and t == 1.0:
                    converged = True
                    break
            if not converged:
                return None
            beta, alpha = theta[:-1], math.exp(theta[-1])
            if not ALPHA_RANGE[0] < alpha < ALPHA_RANGE[1]:
                return None
            p = _nb2_derivs(y, Xa, beta, alpha, off, counts, per_obs=True)
            H = p["hess"]
            try:
                linalg.cho_factor(-H, lower=True)  # an interior maximum: −H positive definite
                Hinv = np.linalg.inv(H)
            except (linalg.LinAlgError, np.linalg.LinAlgError):
                return None
            g_eta, g_a = p["g_eta"], p["g_alpha_obs"]
            S = np.empty((k1 + 1, k1 + 1))
            S[:k1, :k1] = wgram(Xa, g_eta * g_eta)
            S[:k1, k1] = S[k1, :k1] = xtv(Xa, g_eta * g_a)
            S[k1, k1] = float(g_a @ g_a)
            cov = Hinv @ S @ Hinv.T
            cov = (cov + cov.T) / 2.0
        except (ValueError, OverflowError, FloatingPointError, np.linalg.LinAlgError, linalg.LinAlgError):
            return None
    params = np.r_[beta, alpha]
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(cov)) and np.all(np.diag(cov) > 0)):
        return None
    return NB2Fit(names=names, params=params, cov=cov, llf=p["llf"], iterations=iterations, endog=y, X=X, offset=off)
