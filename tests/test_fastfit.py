"""The fast fits of workbench.fastfit against statsmodels (the reference implementation the workbench used before
issue 14), on designs chosen to be awkward: a column with a large offset and a tiny spread (log followers),
rare dummies, counts with heavy tails and many zeros, an exposure offset; and the fallback to statsmodels when
the normal equations would be ill-conditioned or Newton does not converge."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from workbench import fastfit
from workbench import models as wm

pytestmark = pytest.mark.filterwarnings("ignore::workbench.models.ModelWarning")


def awkward_design(n: int, seed: int, *, growth: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "has_url": (rng.random(n) < 0.5).astype(float),
            "has_poll": (rng.random(n) < 0.03).astype(float),  # rare
            "n_hashtags": rng.poisson(1.2, n).astype(float),
            # an audience of ~50,000 that barely moves (growth 3: offset 10.8, spread 0.002 at n = 3000)
            "log_followers_at_post": np.log1p(50_000 + np.cumsum(rng.integers(0, growth, n))),
            "year[2022]": (rng.random(n) < 0.4).astype(float),
        },
        index=pd.Index(rng.permutation(10 * n)[:n], name="row"),  # labels that are not positions
    )


def heavy_counts(X: pd.DataFrame, seed: int, *, zero_share: float = 0.2, offset=None, viral: float = 400,
                 sd: float = 1.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    eta = 1.0 + 0.4 * X["has_url"] - 0.3 * X["has_poll"] + 0.1 * X["n_hashtags"] + 0.2 * X["year[2022]"]
    eta = eta.to_numpy() + (0 if offset is None else offset)
    mu = np.exp(eta + rng.normal(0, sd, len(X)))  # lognormal-Poisson: heavier tail than NB
    y = rng.poisson(mu).astype(float)
    y[rng.random(len(X)) < zero_share] = 0.0
    y[rng.integers(0, len(X), 3)] *= viral  # three viral posts
    return y


@pytest.mark.parametrize("seed", [1, 2])
def test_ols_hc3_equals_statsmodels(seed):
    X = awkward_design(3000, seed)
    y = np.log1p(heavy_counts(X, seed))
    fast = fastfit.fit_ols(y, X, robust=True, keep_diagnostics=True)
    ref = sm.OLS(y, wm._with_intercept(X)).fit(cov_type="HC3", use_t=True)
    np.testing.assert_allclose(fast.params, ref.params, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(fast.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(fast.pvalues, ref.pvalues, rtol=1e-7, atol=1e-300)
    np.testing.assert_allclose(fast.conf_int(0.05), ref.conf_int(0.05), rtol=1e-8, atol=1e-11)
    assert fast.rsquared == pytest.approx(ref.rsquared, rel=1e-10)
    infl = ref.get_influence()
    np.testing.assert_allclose(fast._h, infl.hat_matrix_diag, rtol=1e-8)
    np.testing.assert_allclose(fast.resid, ref.resid, rtol=1e-8, atol=1e-10)
    assert list(fast.resid.index) == list(X.index)
    np.testing.assert_allclose(wm.compute_cooks_distance(fast), infl.cooks_distance[0], rtol=1e-7)
    # the residual checks from the cross-products equal the least-squares route on the statsmodels fit
    ours, theirs = wm.check_residuals(fast), wm.check_residuals(ref)
    for key in ("skew", "excess_kurtosis", "bp_stat", "bp_p", "bp_r2"):
        assert ours[key] == pytest.approx(theirs[key], rel=1e-8), key
    rf, rr = wm.residual_frame(fast), wm.residual_frame(ref)
    pd.testing.assert_frame_equal(rf, rr, rtol=1e-7)
    # statsmodels on demand: the model and anything not kept
    assert list(fast.model.exog_names) == list(ref.model.exog_names)
    assert fast.summary() is not None


def test_ols_classical_zscored_equals_statsmodels():
    X = awkward_design(2000, 3)
    y = heavy_counts(X, 3)
    fast = fastfit.fit_ols(y, X, robust=False, zscore=True)
    Z = pd.DataFrame(wm._zscore(X.to_numpy()), columns=X.columns, index=X.index)
    ref = sm.OLS(wm._zscore(y), wm._with_intercept(Z)).fit()
    slopes = list(X.columns)
    np.testing.assert_allclose(fast.params[slopes], ref.params[slopes], rtol=1e-9)
    np.testing.assert_allclose(fast.bse, ref.bse, rtol=1e-9)
    np.testing.assert_allclose(fast.pvalues[slopes], ref.pvalues[slopes], rtol=1e-7, atol=1e-300)
    assert abs(fast.params["Intercept"]) < 1e-12 and abs(ref.params["Intercept"]) < 1e-12
    assert fast.rsquared == pytest.approx(ref.rsquared, rel=1e-10)
    np.testing.assert_allclose(fast.resid, ref.resid, rtol=1e-7, atol=1e-10)


def test_near_collinear_design_falls_back_to_statsmodels_pinv():
    X = awkward_design(1500, 4)
    rng = np.random.default_rng(4)
    X["n_mentions"] = X["n_hashtags"] + 1e-4 * rng.normal(size=len(X))  # correlation 1 − 1e-8: not dropped
    y = heavy_counts(X, 4)
    gram = fastfit.Gram(X.to_numpy())
    assert gram.cond > fastfit.OLS_COND_LIMIT
    assert fastfit.fit_ols(np.log1p(y), X, robust=True) is None
    res = wm._fit_ols_log(y, X)
    assert not isinstance(res, fastfit.LinearFit)  # statsmodels' results, exactly as before issue 14
    ref = sm.OLS(np.log1p(y), wm._with_intercept(X)).fit(cov_type="HC3", use_t=True)
    np.testing.assert_array_equal(res.params, ref.params)
    np.testing.assert_array_equal(res.bse, ref.bse)


def _reference_path(monkeypatch):
    """Make the workbench fit every model the statsmodels way (the implementation before issue 14)."""
    monkeypatch.setattr(fastfit, "fit_ols", lambda *a, **k: None)
    monkeypatch.setattr(fastfit, "fit_nb2", lambda *a, **k: None)


def awkward_posts(n: int, seed: int, *, growth: int = 100, zero_share: float = 0.35, viral: float = 400
                  ) -> pd.DataFrame:
    X = awkward_design(n, seed, growth=growth)
    rng = np.random.default_rng(seed + 100)
    followers = np.expm1(X["log_followers_at_post"].to_numpy())
    impressions = heavy_counts(X, seed) * 40 + rng.poisson(5, n)
    # engagements: about 1% of impressions, the rate varying with the features and from post to post
    engagements = heavy_counts(X, seed + 1, zero_share=zero_share, viral=viral, sd=0.8,
                               offset=np.log(impressions + 1) - np.log(100) - 1.0)
    posts = pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(n)],
            "impressions": pd.array(impressions.astype(int), dtype="Int64"),
            "engagements": pd.array(engagements.astype(int), dtype="Int64"),
            "has_url": pd.array(X["has_url"].astype(bool), dtype="boolean"),
            "has_poll": pd.array(X["has_poll"].astype(bool), dtype="boolean"),
            "n_hashtags": pd.array(X["n_hashtags"].astype(int), dtype="Int64"),
            "followers_at_post": pd.array(followers, dtype="Float64"),
            "year": pd.array(np.where(X["year[2022]"] == 1, 2022, rng.choice([2020, 2021], n)), dtype="Int64"),
            "media_type": rng.choice(["Photo", "video", " none", "photo "], n),
        },
        index=X.index,
    )
    posts.loc[posts.index[rng.integers(0, n, 30)], "impressions"] = pd.NA
    posts.loc[posts.index[rng.integers(0, n, 20)], "impressions"] = 0
    return posts


@pytest.mark.parametrize(("seed", "zero_share", "viral"), [(5, 0.2, 20), (7, 0.35, 400)])
def test_fit_post_models_fast_equals_reference_path(seed, zero_share, viral, monkeypatch):
    # data on which statsmodels' optimizers converge (on others they fail where Newton here does not: below)
    posts = awkward_posts(2500, seed, zero_share=zero_share, viral=viral)
    kw = {"predictors": ("has_url", "has_poll", "n_hashtags", "media_type")}
    fast = wm.fit_post_models(posts, **kw)
    assert isinstance(fast.fits[("impressions", "ols_log")], fastfit.LinearFit)
    assert isinstance(fast.fits[("engagements", "negbin")], fastfit.NB2Fit)
    with monkeypatch.context() as m:
        _reference_path(m)
        ref = wm.fit_post_models(posts, **kw)
    assert not isinstance(ref.fits[("impressions", "ols_log")], fastfit.LinearFit)
    assert not isinstance(ref.fits[("engagements", "negbin")], fastfit.NB2Fit)
    ft, rt = fast.table, ref.table
    keys = list(wm.STRING_COLUMNS) + ["n"]
    pd.testing.assert_frame_equal(ft[keys], rt[keys])
    ols = ft["model"].isin(["ols_log", "ols_std"]).to_numpy()
    num = ["estimate", "std_error", "ci_low", "ci_high", "std_beta", "effect_pct", "r2", "effect_pct_ci_low",
           "effect_pct_ci_high"]
    np.testing.assert_allclose(ft.loc[ols, num], rt.loc[ols, num], rtol=1e-8, atol=1e-10)
    # the count models: both are the maximum-likelihood estimate, statsmodels stopping at its tolerance (1e-8)
    np.testing.assert_allclose(ft.loc[~ols, num], rt.loc[~ols, num], rtol=1e-5, atol=1e-7)
    for col in ("p_value", "p_holm", "p_bh", "p_holm_across_outcomes"):
        np.testing.assert_allclose(np.log(ft[col]), np.log(rt[col]), rtol=1e-5, atol=1e-6)
    assert fast.warnings == ref.warnings
    assert fast.records["dropped"] == ref.records["dropped"]
    # statsmodels' Newton on the raw design often fails on a column like log followers 10.8 ± 0.01 and succeeds
    # on centred, scaled columns (recorded as count_model_rescaled); Newton here converges on the raw design
    rescaled = "fitted on centred and scaled columns, mapped back"
    assert [r["code"] for r in fast.records["flags"]] == [
        r["code"] for r in ref.records["flags"] if r["code"] != "count_model_rescaled"
    ]
    assert fast.records["fitted_terms"] == [
        {**r, "fallback_reason": None} if r["fallback_reason"] == rescaled else r for r in ref.records["fitted_terms"]
    ]
    pd.testing.assert_frame_equal(fast.sensitivity, ref.sensitivity, rtol=1e-8)
    for outcome in ("impressions", "engagements"):
        a, b = fast.diagnostics[outcome], ref.diagnostics[outcome]
        assert a["vif"] == pytest.approx(b["vif"], rel=1e-9)
        assert [x["post_id"] for x in a["influential"]] == [x["post_id"] for x in b["influential"]]
        assert [x["cook_d"] for x in a["influential"]] == pytest.approx([x["cook_d"] for x in b["influential"]],
                                                                         rel=1e-7)
        assert a["n_cook_above_4_over_n"] == b["n_cook_above_4_over_n"]
        assert a["residuals"]["ols_log"] == pytest.approx(b["residuals"]["ols_log"], rel=1e-8)
        assert a["converged"] == b["converged"] and a["fit_method"] == b["fit_method"]
        for m, od in a["overdispersion"].items():
            for key, v in od.items():
                if isinstance(v, float):
                    assert v == pytest.approx(b["overdispersion"][m][key], rel=1e-5, abs=1e-12), (m, key)
                else:
                    assert v == b["overdispersion"][m][key], (m, key)
    assert fast.diagnostics["primary"] == ref.diagnostics["primary"]


def test_nb2_derivatives_equal_statsmodels():
    X = awkward_design(800, 7)
    offset = np.random.default_rng(7).normal(3, 0.5, len(X))
    y = heavy_counts(X, 7, offset=offset)
    model = sm.NegativeBinomial(y, wm._with_intercept(X), loglike_method="nb2", offset=offset)
    model._transparams = False  # the last parameter is α itself (as after a fit), not log α
    params = np.r_[np.log(y.mean() + 1) - 3, 0.3, -0.2, 0.05, 0.01, 0.1, 1.7]
    d = fastfit._nb2_derivs(y, X.to_numpy(), params[:-1], params[-1], offset, fastfit._Counts(y))
    assert d["llf"] == pytest.approx(model.loglike(params), rel=1e-12)
    np.testing.assert_allclose(d["grad"], model.score(params), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d["hess"], model.hessian(params), rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("rate", [False, True])
def test_nb2_fit_equals_statsmodels_ml(rate):
    X = awkward_design(3000, 8)
    offset = np.log(np.random.default_rng(8).integers(100, 5000, len(X)).astype(float)) if rate else None
    y = heavy_counts(X, 8, offset=None if offset is None else offset - 6)
    fast = fastfit.fit_nb2(y, X, offset=offset)
    assert fast is not None and fast.mle_retvals["converged"]
    model = sm.NegativeBinomial(y, wm._with_intercept(X), loglike_method="nb2", offset=offset)
    model.score_obs = wm._nb2_score_obs(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = model.fit(start_params=wm._nb2_start(y, model.exog, offset=offset), method="newton", maxiter=100,
                        disp=False, cov_type="HC0", tol=1e-12)
    assert ref.mle_retvals["converged"]
    np.testing.assert_allclose(fast.params, ref.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fast.bse, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(fast.conf_int(), ref.conf_int(), rtol=1e-6, atol=1e-9)
    assert fast.llf == pytest.approx(ref.llf, rel=1e-12)
    assert list(fast.params.index) == list(ref.params.index)
    # the model on demand is statsmodels' (with the analytic scores), and residual_frame agrees
    pd.testing.assert_frame_equal(wm.residual_frame(fast), wm.residual_frame(ref), rtol=1e-6)


def test_nb2_on_poisson_counts_gives_up_rather_than_report_alpha_zero():
    rng = np.random.default_rng(9)
    X = awkward_design(2000, 9)
    y = rng.poisson(np.exp(1 + 0.3 * X["has_url"].to_numpy())).astype(float)
    assert fastfit.fit_nb2(y, X) is None


def test_poisson_irls_equals_statsmodels_glm():
    X = awkward_design(3000, 10)
    offset = np.random.default_rng(10).normal(1, 0.3, len(X))
    y = heavy_counts(X, 10, offset=offset)
    beta, mu, llf = fastfit.poisson_irls(y, X.to_numpy(), offset=offset)
    ref = sm.GLM(y, wm._with_intercept(X), family=sm.families.Poisson(), offset=offset).fit(tol=1e-13)
    np.testing.assert_allclose(beta, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(mu, ref.mu, rtol=1e-8)
    assert llf == pytest.approx(ref.llf, rel=1e-12)


def test_blocks_cover_every_row_once(monkeypatch):
    # passes in blocks give the same answers as one block (a block size that does not divide n)
    X = awkward_design(1000, 11)
    y = np.log1p(heavy_counts(X, 11))
    whole = fastfit.fit_ols(y, X, robust=True, keep_diagnostics=True)
    monkeypatch.setattr(fastfit, "BLOCK", 37)
    parts = fastfit.fit_ols(y, X, robust=True, keep_diagnostics=True)
    np.testing.assert_allclose(parts.params, whole.params, rtol=1e-12)
    np.testing.assert_allclose(parts.bse, whole.bse, rtol=1e-12)
    np.testing.assert_allclose(parts._h, whole._h, rtol=1e-12)
    assert fastfit.blocks(1000)[-1] == slice(999, 1000) and len(fastfit.blocks(1000)) == 28


def test_nb2_converges_where_statsmodels_optimizers_gave_up(monkeypatch):
    # an audience that grows 5% over the period (log followers 10.82-10.87) and engagements 60% zeros with a few
    # in the tens of thousands: statsmodels' Newton and BFGS stop on a singular matrix, raw and rescaled, and the
    # workbench used to fall back to robust Poisson. Newton with the analytic Hessian reaches the maximum.
    posts = awkward_posts(2500, 6, growth=3)
    kw = {"predictors": ("has_url", "has_poll", "n_hashtags", "media_type"), "outcomes": ("engagements",),
          "models": ("negbin",)}
    fast = wm.fit_post_models(posts, **kw)
    res = fast.fits[("engagements", "negbin")]
    assert isinstance(res, fastfit.NB2Fit)
    y, X = res._endog, res._X.to_numpy()
    d = fastfit._nb2_derivs(y, X, res.params.to_numpy()[:-1], res.params.iloc[-1], None, fastfit._Counts(y))
    assert np.abs(d["grad"]).max() < 1e-6
    assert np.linalg.eigvalsh(-d["hess"])[0] > 0  # an interior maximum
    # an independent optimizer from a plain start gets no higher
    from scipy import optimize

    x0 = np.r_[np.log(y.mean()), np.zeros(X.shape[1]), 0.0]
    other = optimize.minimize(lambda t: -fastfit.nb2_loglike(y, X, t[:-1], np.exp(t[-1])), x0, method="BFGS",
                              options={"gtol": 1e-6, "maxiter": 5000})
    assert res.llf >= -other.fun - 1e-6
    with monkeypatch.context() as m:
        _reference_path(m)
        ref = wm.fit_post_models(posts, **kw)
    (fitted,) = ref.records["fitted_terms"]
    assert fitted["fit_method"] == "poisson_robust" and "Singular matrix" in fitted["fallback_reason"]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("media_type", pd.Series(["Photo", "photo ", " PHOTO", "video", None, "link card", "link_card", "", "Ünï",
                                  "ünï", "none"], dtype=object)),
        ("media_type", pd.Series(["Photo", "video", pd.NA, "photo "], dtype="string")),
        ("media_type", pd.Series(["Reel", "reel", None, "Video"], dtype="category")),
        ("year", pd.Series([2021, 2022, pd.NA, 2021, 2020], dtype="Int64")),
        ("year", pd.Series([2021.0, 2022.0, np.nan], dtype="float64")),
        ("coder_topic", pd.Series(["Health", "health", "Climate ", None], dtype=object)),  # other text: as is
    ],
)
def test_level_codes_equal_the_text_rules_row_by_row(name, values):
    # the fast path (text rules on distinct values, rows as codes) against the rules applied to every row
    codes, texts = wm._level_codes(name, values)
    expected = wm._levels(name, values)
    got = pd.Series([texts[c] if c >= 0 else pd.NA for c in codes], dtype="string")
    pd.testing.assert_series_equal(got, expected.reset_index(drop=True), check_names=False)
    assert len(set(texts)) == len(texts)  # texts that read the same share one code
    counts = wm._level_counts(codes, texts)
    ref = expected.value_counts()
    assert list(counts.index) == list(ref.index) and list(counts) == list(ref)
