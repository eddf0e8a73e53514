"""workbench.models' count-model fallbacks and Pearson overdispersion against R
(tests/results/countfallback/make_reference.R: MASS::glm.nb, glm(negative.binomial(θ)), sandwich::vcovHC HC0).

NB2 maximum likelihood is made to fail (``_fit_negbin`` replaced by one that gives up), as a design that breaks
it would; :func:`fit_count_model` must then fit NB2 at the intercept-only ML α (``nb2_fixed_alpha``) or, when
the counts are not overdispersed, robust Poisson (``poisson_robust``), both on centred and scaled columns
mapped back to the original units. Their HC0 standard errors (statsmodels GLM after IRLS) use the observed
information as the bread; with NB2's non-canonical log link that differs from sandwich::vcovHC's expected
information (by up to ~60% here, driven by three huge counts), so R computes the observed-information sandwich
(``sandwich::sandwich`` with that bread); vcovHC's values are kept beside it. R is not needed to run this test, only to regenerate the reference.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench.models as models

DIR = Path(__file__).resolve().parent / "results" / "countfallback"
TERMS = ["Intercept", "has_url", "n_hashtags", "followers"]
CASES = {"over": ("y_over", False), "over_rate": ("y_over", True), "under": ("y_under", False)}


def _inputs(case: str):
    d = pd.read_csv(DIR / "counts.csv")
    col, rate = CASES[case]
    X = d[["has_url", "n_hashtags", "followers"]].astype(float)
    offset = np.log(d["impressions"].to_numpy(float)) if rate else None
    return d[col].to_numpy(float), X, offset


def test_inputs_are_what_make_data_writes():
    spec = importlib.util.spec_from_file_location("cf_make_data", DIR / "make_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "counts.csv"), mod.make_counts(), check_dtype=False)


@pytest.mark.parametrize("case", list(CASES))
def test_fallback_fit_matches_r(case, monkeypatch):
    monkeypatch.setattr(models, "_fit_negbin", lambda *a, **k: (None, "forced to fail by the test"))
    ref = pd.read_csv(DIR / "ref_coefs.csv")
    ref = ref[ref["case"] == case].set_index("term").loc[TERMS]
    y, X, offset = _inputs(case)
    fit, why = models.fit_count_model(y, X, offset=offset)
    assert fit is not None, why
    assert fit.method == ref["method"].iloc[0]
    if fit.method == "nb2_fixed_alpha":
        assert fit.alpha == pytest.approx(ref["alpha"].iloc[0], rel=1e-6)
    else:
        assert np.isnan(fit.alpha)
    params = np.asarray(fit.res.params, float)
    bse = np.asarray(fit.res.bse, float)
    ci = np.asarray(fit.res.conf_int(alpha=0.05), float)
    # the coefficients rest on α, which both sides find by a numerical optimum (they agree to ~5e-8): within
    # 1e-6 of the larger of |estimate| and its standard error (a coefficient near 0 has no relative precision)
    scale = np.maximum(np.abs(ref["estimate"].to_numpy()), ref["std_error"].to_numpy())
    assert np.all(np.abs(params - ref["estimate"].to_numpy()) <= 1e-6 * scale)
    np.testing.assert_allclose(bse, ref["std_error"], rtol=1e-6)
    assert np.all(np.abs(ci[:, 0] - ref["ci_low"].to_numpy()) <= 1e-6 * scale)
    assert np.all(np.abs(ci[:, 1] - ref["ci_high"].to_numpy()) <= 1e-6 * scale)
    # p-values on the log scale: a p of 1e-223 carries the z's ~1e-7 relative difference multiplied by z²
    np.testing.assert_allclose(np.log(np.asarray(fit.res.pvalues, float)), np.log(ref["p_value"]), rtol=1e-6,
                               atol=1e-6)
    if fit.method == "nb2_fixed_alpha":  # the bread is the observed information, not vcovHC's expected one
        assert not np.allclose(bse, ref["std_error_expected_info"], rtol=1e-3)


@pytest.mark.parametrize("case", list(CASES))
def test_pearson_and_cameron_trivedi_match_r(case):
    ref = pd.read_csv(DIR / "ref_dispersion.csv").set_index("case").loc[case]
    y, X, offset = _inputs(case)
    out = models._overdispersion(y, X, None, offset=offset)
    assert out["pearson_df"] == ref["pearson_df"]
    for key in ("pearson_stat", "pearson_dispersion", "ct_alpha", "ct_stat", "poisson_llf", "variance_to_mean"):
        assert out[key] == pytest.approx(ref[key], rel=1e-8), key
    for key in ("pearson_p", "ct_p"):
        assert out[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-12), key
    assert out["overdispersed"] is bool(ref["pearson_p"] < 0.05 or ref["ct_p"] < 0.05)
