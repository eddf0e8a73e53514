"""Post-level models: R reference values, hand computations, simulations with known truth, warnings."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import models as wm
from workbench.errors import InputError
from workbench.models import (
    SENSITIVITY_COLUMNS,
    TABLE_COLUMNS,
    ModelWarning,
    PostModels,
    check_overdispersion,
    check_residuals,
    choose_primary_model,
    compute_cooks_distance,
    compute_vif,
    describe_effects,
    fit_post_models,
    residual_frame,
)

REFS = Path(__file__).resolve().parent / "results" / "models"
PREDICTORS = ("has_poll", "has_graphic", "has_url", "has_emoji", "n_hashtags", "n_mentions")

pytestmark = pytest.mark.filterwarnings("ignore::workbench.models.ModelWarning")


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------


def as_posts_coded(df: pd.DataFrame) -> pd.DataFrame:
    """Give a frame of plain numbers the posts_coded dtypes (boolean/Int64/Float64 with NA)."""
    out = df.copy()
    for c in out.columns:
        if c.startswith("has_") or c == "is_reply":
            out[c] = out[c].astype("boolean")
        elif c in ("impressions", "engagements", "year") or c.startswith("n_"):
            out[c] = out[c].astype("Int64")
        elif c == "followers_at_post":
            out[c] = out[c].astype("Float64")
    return out


@pytest.fixture(scope="module")
def ref_data() -> pd.DataFrame:
    return as_posts_coded(pd.read_csv(REFS / "model_data.csv", dtype={"post_id": "string"}))


@pytest.fixture(scope="module")
def ref_models(ref_data) -> PostModels:
    return fit_post_models(ref_data)


def simulate_posts(
    n: int,
    seed: int,
    *,
    effects: dict[str, float],
    hetero: bool = True,
    count: str = "lognormal",
    alpha: float = 0.5,
) -> pd.DataFrame:
    """Posts with known log-scale effects of has_poll, has_url and n_hashtags (and controls)."""
    rng = np.random.default_rng(seed)
    has_poll = rng.random(n) < 0.3
    has_url = rng.random(n) < 0.5
    n_hashtags = rng.poisson(1.5, n)
    year = rng.choice([2021, 2022, 2023], n)
    followers = np.round(1000 * np.exp(0.3 * (year - 2021) + rng.normal(0, 0.3, n)))
    eta = (
        effects["Intercept"]
        + effects["has_poll"] * has_poll
        + effects["has_url"] * has_url
        + effects["n_hashtags"] * n_hashtags
        + effects["log_followers_at_post"] * np.log1p(followers)
        + effects["year[2022]"] * (year == 2022)
        + effects["year[2023]"] * (year == 2023)
    )
    if count == "lognormal":
        # heteroscedastic errors, noisier for the (rarer) polls: classical SEs of has_poll would be ~30% too
        # small here (coverage ≈ 0.83); HC3 is what keeps the CI honest
        sd = 0.3 + 0.7 * has_poll if hetero else np.full(n, 0.5)
        y = np.round(np.expm1(eta + rng.normal(0, 1, n) * sd))
    else:
        y = rng.poisson(rng.gamma(1 / alpha, np.exp(eta) * alpha))
    return as_posts_coded(
        pd.DataFrame(
            {
                "post_id": [f"s{i}" for i in range(n)],
                "impressions": y,
                "has_poll": has_poll.astype(int),
                "has_url": has_url.astype(int),
                "n_hashtags": n_hashtags,
                "followers_at_post": followers,
                "year": year,
            }
        )
    )


TRUTH = {
    "Intercept": 3.0,
    "has_poll": 0.25,
    "has_url": -0.2,
    "n_hashtags": 0.05,
    "log_followers_at_post": 0.5,
    "year[2022]": 0.1,
    "year[2023]": -0.3,
}
SIM_PREDICTORS = ("has_poll", "has_url", "n_hashtags")


def hand_design(df: pd.DataFrame, outcome: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Complete cases and the design [1, predictors, log1p(followers), year dummies], written independently."""
    cols = [outcome, *PREDICTORS, "followers_at_post", "year"]
    d = df[cols].astype("float64").dropna()
    years = sorted(d["year"].unique())
    X = np.column_stack(
        [np.ones(len(d))]
        + [d[p].to_numpy() for p in PREDICTORS]
        + [np.log(1 + d["followers_at_post"].to_numpy())]
        + [(d["year"].to_numpy() == yr).astype(float) for yr in years[1:]]
    )
    names = ["Intercept", *PREDICTORS, "log_followers_at_post"] + [f"year[{int(yr)}]" for yr in years[1:]]
    return X, d[outcome].to_numpy(), names


def rows_of(table: pd.DataFrame, outcome: str, model: str) -> pd.DataFrame:
    return table[(table["outcome"] == outcome) & (table["model"] == model)].set_index("term")


# --------------------------------------------------------------------------------------------------
# against R (tests/results/make_model_refs.R: lm + sandwich::vcovHC HC3, MASS::glm.nb)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["ols_log", "ols_std"])
def test_ols_matches_r(ref_models, model):
    ref = pd.read_csv(REFS / f"ref_{model}.csv")
    for outcome, r in ref.groupby("outcome"):
        ours = rows_of(ref_models.table, outcome, model)
        assert sorted(ours.index) == sorted(r["term"])
        ours = ours.loc[r["term"]]
        for col in ("estimate", "std_error", "ci_low", "ci_high", "p_value"):
            np.testing.assert_allclose(ours[col], r[col], rtol=1e-6, atol=1e-12, err_msg=f"{outcome} {col}")
        assert (ours["n"] == r["n"].to_numpy()).all()
        np.testing.assert_allclose(ours["r2"], r["r2"], rtol=1e-6)


def test_negbin_matches_r(ref_models):
    ref = pd.read_csv(REFS / "ref_negbin.csv")
    assert ref["score_sum_max"].max() < 1e-6  # glm.nb really converged
    for outcome, r in ref.groupby("outcome"):
        ours = rows_of(ref_models.table, outcome, "negbin").loc[r["term"]]
        for col in ("estimate", "std_error", "ci_low", "ci_high", "p_value"):
            np.testing.assert_allclose(ours[col], r[col], rtol=1e-4, atol=1e-8, err_msg=f"{outcome} {col}")
        assert (ours["n"] == r["n"].to_numpy()).all()
        disp = ref_models.diagnostics[outcome]["dispersion"]
        assert disp["negbin_alpha"] == pytest.approx(r["alpha"].iloc[0], rel=1e-4)
        # McFadden pseudo-R² against R's null glm.nb on the same posts
        np.testing.assert_allclose(ours["pseudo_r2"], r["pseudo_r2"], rtol=1e-6)
        np.testing.assert_allclose(
            ours["effect_pct"].iloc[1:], 100 * np.expm1(r["estimate"].iloc[1:]), rtol=1e-4
        )


def test_negbin_start_values_near_r(ref_models):
    # the glm.nb-style start values alone are already close to R's estimates; statsmodels then polishes them
    ref = pd.read_csv(REFS / "ref_negbin.csv").query("outcome == 'engagements'")
    model = ref_models.fits[("engagements", "negbin")].model
    start = wm._nb2_start(model.endog, model.exog)
    np.testing.assert_allclose(start[:-1], ref["estimate"], rtol=1e-3, atol=1e-5)
    assert start[-1] == pytest.approx(ref["alpha"].iloc[0], rel=1e-3)


@pytest.mark.parametrize("transparams", [False, True])
def test_negbin_analytic_scores_match_numerical(ref_models, transparams):
    res = ref_models.fits[("impressions", "negbin")]
    model = res.model
    params = np.asarray(res.params) * 1.01  # away from the optimum too
    model._transparams = transparams
    try:
        if transparams:
            params[-1] = math.log(params[-1])
        numerical = type(model).score_obs(model, params)  # statsmodels: complex-step derivative
        np.testing.assert_allclose(model.score_obs(params), numerical, rtol=1e-7, atol=1e-10)
    finally:
        model._transparams = False


def test_vif_matches_r(ref_models):
    ref = pd.read_csv(REFS / "ref_vif.csv")
    for outcome, r in ref.groupby("outcome"):
        vif = ref_models.diagnostics[outcome]["vif"]
        np.testing.assert_allclose([vif[t] for t in r["term"]], r["vif"], rtol=1e-8)
        assert ref_models.diagnostics[outcome]["vif_flags"] == [
            t for t, v in zip(r["term"], r["vif"], strict=True) if v > 5
        ]


# --------------------------------------------------------------------------------------------------
# hand computations
# --------------------------------------------------------------------------------------------------


def test_ols_log_hand_hc3_and_std_beta(ref_data, ref_models):
    X, y, names = hand_design(ref_data, "engagements")
    ly = np.log1p(y)
    b, *_ = np.linalg.lstsq(X, ly, rcond=None)
    e = ly - X @ b
    XtXi = np.linalg.inv(X.T @ X)
    h = np.einsum("ij,jk,ik->i", X, XtXi, X)
    V = XtXi @ (X.T * (e / (1 - h)) ** 2) @ X @ XtXi
    ours = rows_of(ref_models.table, "engagements", "ols_log").loc[names]
    np.testing.assert_allclose(ours["estimate"], b, rtol=1e-9)
    np.testing.assert_allclose(ours["std_error"], np.sqrt(np.diag(V)), rtol=1e-9)
    std_beta = b[1:] * X[:, 1:].std(axis=0, ddof=1) / ly.std(ddof=1)
    np.testing.assert_allclose(ours["std_beta"].iloc[1:], std_beta, rtol=1e-9)
    assert np.isnan(ours.loc["Intercept", "std_beta"])
    r2 = 1 - (e @ e) / ((ly - ly.mean()) @ (ly - ly.mean()))
    assert ours["r2"].iloc[0] == pytest.approx(r2, rel=1e-10)
    # effect_pct and its CI are exp-transformed estimate and CI bounds
    slopes = ours.iloc[1:]
    np.testing.assert_allclose(slopes["effect_pct"], 100 * (np.exp(slopes["estimate"]) - 1), rtol=1e-12)
    np.testing.assert_allclose(slopes["effect_pct_ci_low"], 100 * (np.exp(slopes["ci_low"]) - 1), rtol=1e-12)
    np.testing.assert_allclose(
        slopes["effect_pct_ci_high"], 100 * (np.exp(slopes["ci_high"]) - 1), rtol=1e-12
    )
    tq = stats.t.ppf(0.975, len(y) - X.shape[1])
    np.testing.assert_allclose(ours["ci_low"], b - tq * np.sqrt(np.diag(V)), rtol=1e-9)


def test_ols_std_is_zscored_lstsq(ref_data, ref_models):
    X, y, names = hand_design(ref_data, "impressions")
    Z = (X[:, 1:] - X[:, 1:].mean(axis=0)) / X[:, 1:].std(axis=0, ddof=1)
    zy = (y - y.mean()) / y.std(ddof=1)
    beta, *_ = np.linalg.lstsq(Z, zy, rcond=None)  # no constant needed: everything is centered
    ours = rows_of(ref_models.table, "impressions", "ols_std")
    assert "Intercept" not in ours.index
    ours = ours.loc[names[1:]]
    np.testing.assert_allclose(ours["estimate"], beta, rtol=1e-9)
    np.testing.assert_allclose(ours["std_beta"], beta, rtol=1e-12)
    # standardized β = raw OLS slope × sd(x) / sd(y)
    b_raw, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(beta, b_raw[1:] * X[:, 1:].std(axis=0, ddof=1) / y.std(ddof=1), rtol=1e-9)
    assert ours["effect_pct"].isna().all()
    # classical SE: sigma² (Z'Z)^-1 with n - p - 1 residual df (the constant counts)
    e = zy - Z @ beta
    s2 = e @ e / (len(zy) - Z.shape[1] - 1)
    np.testing.assert_allclose(ours["std_error"], np.sqrt(np.diag(s2 * np.linalg.inv(Z.T @ Z))), rtol=1e-9)


def holm_by_hand(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def bh_by_hand(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg written as the textbook loop: min over j ≥ i of m·p_(j)/j."""
    m = len(p)
    order = np.argsort(p)
    sorted_p = p[order]
    adj_sorted = np.array([min(1.0, min(m * sorted_p[j] / (j + 1) for j in range(i, m))) for i in range(m)])
    adj = np.empty(m)
    adj[order] = adj_sorted
    return adj


def test_holm_and_bh_within_outcome_model_over_predictors(ref_models):
    t = ref_models.table
    groups = list(t.groupby(["outcome", "model"]))
    assert len(groups) == 7  # 3 models × 2 outcomes + negbin_rate for engagements
    for _key, g in groups:
        pred = g[g["term_type"] == "predictor"]
        assert len(pred) == len(PREDICTORS)
        p = pred["p_value"].to_numpy()
        np.testing.assert_allclose(pred["p_holm"], holm_by_hand(p), rtol=1e-12)
        np.testing.assert_allclose(pred["p_bh"], bh_by_hand(p), rtol=1e-12)
        np.testing.assert_allclose(pred["p_bh"], stats.false_discovery_control(p, method="bh"), rtol=1e-12)
        assert (pred["p_bh"] <= pred["p_holm"] + 1e-15).all()  # BH never stricter than Holm
        assert g.loc[g["term_type"] != "predictor", ["p_holm", "p_bh"]].isna().all().all()


def test_bh_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 → 0.02, 0.02, 0.04, 0.04
    np.testing.assert_allclose(wm._bh(np.array([0.01, 0.04, 0.03, 0.005])), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(wm._bh(np.array([0.9, 0.8])), [0.9, 0.9])


def test_table_contract(ref_models):
    t = ref_models.table
    assert list(t.columns[:12]) == [
        "outcome",
        "model",
        "term",
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
        "std_beta",
        "effect_pct",
        "n",
        "r2",
    ]
    assert list(t.columns) == list(TABLE_COLUMNS)
    assert set(t["model"]) == {"ols_log", "ols_std", "negbin", "negbin_rate"}
    assert set(t.loc[t["model"] == "negbin_rate", "outcome"]) == {"engagements"}
    assert set(t["term_type"]) == {"predictor", "control", "intercept"}
    assert set(t.loc[t["term_type"] == "control", "term"]) == {
        "log_followers_at_post",
        "year[2021]",
        "year[2022]",
    }
    assert set(t.loc[t["term_type"] == "predictor", "term"]) == set(PREDICTORS)
    counts = t["model"].isin(["negbin", "negbin_rate"])
    assert t.loc[counts, "r2"].isna().all()
    assert t.loc[counts, "pseudo_r2"].between(0, 1).all()
    assert (t["ci_low"] < t["estimate"]).all() and (t["estimate"] < t["ci_high"]).all()
    assert set(ref_models.fits) == {
        (o, m)
        for o in ("impressions", "engagements")
        for m in ("ols_log", "ols_std", "negbin", "ols_log_no_controls")
    } | {("engagements", "negbin_rate")}


def test_input_not_mutated(ref_data):
    before = ref_data.copy()
    fit_post_models(ref_data, models=("ols_log",))
    pd.testing.assert_frame_equal(ref_data, before)


def test_compute_vif_against_hand_regressions():
    rng = np.random.default_rng(3)
    n = 300
    a = rng.normal(size=n)
    b = 0.8 * a + rng.normal(scale=0.5, size=n)
    c = rng.random(n) < 0.3
    d = a - b + rng.normal(scale=0.2, size=n)
    design = pd.DataFrame({"Intercept": 1.0, "a": a, "b": b, "c": c.astype(float), "d": d})
    vif = compute_vif(design)
    assert list(vif.index) == ["a", "b", "c", "d"]
    X = design.to_numpy()
    for j, name in enumerate(design.columns[1:], start=1):
        others = np.delete(X, j, axis=1)  # includes the constant
        coef, *_ = np.linalg.lstsq(others, X[:, j], rcond=None)
        resid = X[:, j] - others @ coef
        r2 = 1 - resid @ resid / ((X[:, j] - X[:, j].mean()) @ (X[:, j] - X[:, j].mean()))
        assert vif[name] == pytest.approx(1 / (1 - r2), rel=1e-9)
    assert vif["d"] > 5  # d is nearly a − b
    # a design passed without its constant gives the same (centered) VIF
    pd.testing.assert_series_equal(compute_vif(design.drop(columns="Intercept")), vif)


def test_compute_vif_exact_collinearity_and_na():
    design = pd.DataFrame({"const": 1.0, "x": [1.0, 2, 3, 4, 5], "z": [2.0, 1, 4, 3, 5]})
    design["w"] = design["x"] + 2 * design["z"]
    vif = compute_vif(design)
    assert math.isinf(vif["w"]) and math.isinf(vif["x"])
    with pytest.raises(InputError, match="NA in columns \\['x'\\]"):
        compute_vif(design.assign(x=[1.0, np.nan, 3, 4, 5]))


# --------------------------------------------------------------------------------------------------
# simulation with known truth
# --------------------------------------------------------------------------------------------------


def test_recovers_known_effects_ols_log():
    df = simulate_posts(6000, seed=11, effects=TRUTH)
    t = fit_post_models(df, outcomes=("impressions",), predictors=SIM_PREDICTORS, models=("ols_log",)).table
    est = t.set_index("term")
    for term, true in TRUTH.items():
        assert abs(est.loc[term, "estimate"] - true) < 4 * est.loc[term, "std_error"], term
    for term in SIM_PREDICTORS:
        assert est.loc[term, "std_error"] < 0.05
    poll = est.loc["has_poll"]
    assert poll["effect_pct"] == pytest.approx(100 * (math.exp(0.25) - 1), abs=6)


def test_recovers_known_effects_negbin():
    df = simulate_posts(4000, seed=5, effects=TRUTH, count="negbin", alpha=0.5)
    pm = fit_post_models(df, outcomes=("impressions",), predictors=SIM_PREDICTORS, models=("negbin",))
    est = pm.table.set_index("term")
    for term, true in TRUTH.items():
        assert abs(est.loc[term, "estimate"] - true) < 4 * est.loc[term, "std_error"], term
    alpha = pm.diagnostics["impressions"]["dispersion"]["negbin_alpha"]
    lo, hi = pm.diagnostics["impressions"]["dispersion"]["negbin_alpha_ci"]
    assert lo < 0.5 < hi and alpha == pytest.approx(0.5, abs=0.06)


def coverage(n_seeds: int, n_posts: int, model: str, count: str) -> dict[str, float]:
    hits = {t: 0 for t in SIM_PREDICTORS}
    for seed in range(n_seeds):
        df = simulate_posts(n_posts, seed=1000 + seed, effects=TRUTH, count=count)
        t = fit_post_models(df, outcomes=("impressions",), predictors=SIM_PREDICTORS, models=(model,)).table
        t = t.set_index("term")
        for term in hits:
            hits[term] += t.loc[term, "ci_low"] <= TRUTH[term] <= t.loc[term, "ci_high"]
    return {t: h / n_seeds for t, h in hits.items()}


def test_ols_log_hc3_ci_coverage():
    # heteroscedastic errors (sd depends on has_poll): HC3 CIs should still cover about 95%
    cov = coverage(200, 300, "ols_log", "lognormal")
    for term, c in cov.items():
        assert 0.90 <= c <= 0.99, (term, c)


@pytest.mark.slow
def test_coverage_large():
    for term, c in coverage(1000, 300, "ols_log", "lognormal").items():
        assert 0.93 <= c <= 0.97, (term, c)
    for term, c in coverage(300, 400, "negbin", "negbin").items():
        assert 0.91 <= c <= 0.98, (term, c)


# --------------------------------------------------------------------------------------------------
# warnings and awkward input
# --------------------------------------------------------------------------------------------------


def small_posts(n: int = 120, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return as_posts_coded(
        pd.DataFrame(
            {
                "impressions": rng.poisson(200, n),
                "engagements": rng.poisson(10, n),
                "has_poll": rng.random(n) < 0.4,
                "has_url": rng.random(n) < 0.5,
                "n_hashtags": rng.poisson(1, n),
                "followers_at_post": rng.integers(500, 900, n),
                "year": rng.choice([2021, 2022], n),
            }
        )
    )


def test_absent_predictor_warns_and_is_dropped():
    df = small_posts()
    with pytest.warns(ModelWarning, match="Predictor 'has_gif' is not a column of the coded posts"):
        pm = fit_post_models(df, predictors=("has_poll", "has_gif"), models=("ols_log",))
    assert "has_gif" not in set(pm.table["term"])
    assert any("has_gif" in w for w in pm.warnings)
    # a typed record, and the message lists the features in words (no Python list)
    (rec,) = [r for r in pm.records["dropped"] if r["term"] == "has_gif"]
    assert rec["code"] == "not_a_column" and rec["outcome"] is None
    assert "[" not in rec["message"] and "has_poll, has_url, n_hashtags" in rec["message"]


def test_all_na_and_constant_predictors_dropped():
    df = small_posts().assign(
        has_emoji=pd.array([pd.NA] * 120, dtype="boolean"),
        has_graphic=pd.array([True] * 120, dtype="boolean"),
    )
    with pytest.warns(ModelWarning) as rec:
        pm = fit_post_models(df, predictors=("has_poll", "has_emoji", "has_graphic"), models=("ols_log",))
    msgs = [str(r.message) for r in rec]
    assert any("'has_emoji' is entirely NA" in m for m in msgs)
    assert any("'has_graphic' is constant (every post has True)" in m for m in msgs)
    assert set(pm.table.loc[pm.table["term_type"] == "predictor", "term"]) == {"has_poll"}
    assert pm.diagnostics["impressions"]["n"] == 120  # the all-NA predictor does not empty the sample


def test_rare_level_is_too_few_posts_to_estimate():
    # 19.12: 6 posts with a poll (< MIN_LEVEL_POSTS): no estimate (never an infinite interval), a typed record,
    # and the 6 posts are out of that outcome's models
    df = small_posts()
    poll = np.zeros(120, dtype=bool)
    poll[:6] = True
    df["has_poll"] = pd.array(poll, dtype="boolean")
    with pytest.warns(ModelWarning, match=r"impressions: only 6 of 120 posts with 'has_poll' \(fewer than 10, .*too few posts to estimate"):
        pm = fit_post_models(df, predictors=("has_poll", "has_url"), models=("ols_log", "negbin"))
    assert "has_poll" not in set(pm.table["term"])
    assert np.isfinite(pm.table[["std_error", "ci_low", "ci_high"]].to_numpy()).all()
    assert "rare level: has_poll (with: 6)" in pm.diagnostics["impressions"]["flags"]
    assert pm.diagnostics["impressions"]["n"] == 114
    assert pm.diagnostics["impressions"]["dropped"]["fewer than 10 posts in their group"] == 6
    recs = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts"]
    assert {(r["outcome"], r["term"], r["n"], r["minimum"]) for r in recs} == {
        ("impressions", "has_poll", 6, 10),
        ("engagements", "has_poll", 6, 10),
    }
    # the fitted-terms record says has_poll was not in any model
    assert all("has_poll" not in f["predictors"] for f in pm.records["fitted_terms"])
    # no "constant" message after the rare posts are out: one record per cause
    assert not any("constant" in w for w in pm.warnings)


def test_two_rare_levels_of_one_column_are_both_left_out():
    # before issue 14 the second rare level of the same column in one pass raised a bare ValueError
    n = 300
    df = small_posts(n).assign(media_type=["photo"] * 150 + ["none"] * 140 + ["gif"] * 3 + ["Audio "] * 7)
    pm = fit_post_models(df, outcomes=("impressions",), predictors=("has_url", "media_type"), models=("ols_log",))
    rare = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts"]
    assert [(r["term"], r["n"]) for r in rare] == [("media_type[audio]", 7), ("media_type[gif]", 3)]
    assert pm.diagnostics["impressions"]["n"] == 290
    assert set(pm.table["term"]) >= {"media_type[photo]"}
    assert not {"media_type[gif]", "media_type[audio]"} & set(pm.table["term"])


def test_one_post_with_a_feature_never_gives_an_infinite_interval():
    # 19.12's real case: one post with a feature made HC3 (leverage 1) infinite; 9 posts is still too few, 10 is enough
    df = small_posts(200, seed=3)
    for k, estimated in ((1, False), (9, False), (10, True)):
        flag = np.zeros(200, dtype=bool)
        flag[:k] = True
        d = df.assign(has_video=pd.array(flag, dtype="boolean"))
        pm = fit_post_models(d, predictors=("has_video", "has_url"), models=("ols_log", "negbin"))
        assert ("has_video" in set(pm.table["term"])) is estimated, k
        assert np.isfinite(pm.table[["std_error", "ci_low", "ci_high"]].to_numpy()).all()


def test_na_rows_dropped_and_counted():
    df = small_posts()
    df.loc[[0, 1, 2], "impressions"] = pd.NA
    df.loc[[2, 3], "has_url"] = pd.NA
    df.loc[[4], "followers_at_post"] = pd.NA
    with pytest.warns(
        ModelWarning,
        match=r"impressions: 5 of 120 posts dropped for missing values "
        r"\(impressions is NA: 3, has_url is NA: 2, followers_at_post is NA: 1\)",
    ):
        pm = fit_post_models(df, predictors=("has_poll", "has_url"), models=("ols_log", "negbin"))
    d = pm.diagnostics["impressions"]
    assert (d["n"], d["n_total"], d["n_dropped"]) == (115, 120, 5)
    assert d["dropped"] == {"impressions is NA": 3, "has_url is NA": 2, "followers_at_post is NA": 1}
    assert (pm.table.loc[pm.table["outcome"] == "impressions", "n"] == 115).all()
    # engagements loses only the rows with NA predictors/controls
    assert pm.diagnostics["engagements"]["n"] == 117
    # the same fit as on the complete rows by hand
    keep = df.dropna(subset=["impressions", "has_url", "followers_at_post"])
    ref = fit_post_models(
        keep, outcomes=("impressions",), predictors=("has_poll", "has_url"), models=("ols_log",)
    )
    np.testing.assert_allclose(
        rows_of(pm.table, "impressions", "ols_log")["estimate"],
        ref.table.set_index("term")["estimate"],
        rtol=1e-12,
    )


def test_all_na_control_dropped_and_single_year_dropped():
    df = small_posts().assign(followers_at_post=pd.array([pd.NA] * 120, dtype="Float64"), year=2022)
    df["year"] = df["year"].astype("Int64")
    with pytest.warns(ModelWarning) as rec:
        pm = fit_post_models(df, predictors=("has_poll",), models=("ols_log",))
    msgs = [str(r.message) for r in rec]
    assert any("Control 'followers_at_post' is entirely NA" in m for m in msgs)
    assert any("Control 'year' is constant" in m for m in msgs)
    assert set(pm.table["term"]) == {"Intercept", "has_poll"}


def test_year_constant_after_na_drop_and_collinear_predictor():
    df = small_posts()
    df["n_links"] = df["has_url"].astype("Int64")  # same information as has_url
    df.loc[df["year"] == 2021, "impressions"] = pd.NA
    with pytest.warns(ModelWarning) as rec:
        pm = fit_post_models(df, predictors=("has_poll", "has_url", "n_links"), models=("ols_log",))
    msgs = [str(r.message) for r in rec]
    assert any("impressions: control 'year' has a single value" in m for m in msgs)
    assert any("'n_links' is an exact linear combination" in m for m in msgs)
    assert "year[2022]" in set(rows_of(pm.table, "engagements", "ols_log").index)
    assert "year[2022]" not in set(rows_of(pm.table, "impressions", "ols_log").index)


def test_categorical_predictor_enters_as_dummies():
    df = small_posts()
    df["tone"] = pd.Series(
        np.random.default_rng(0).choice(["neutral", "positive", "alarm"], 120), dtype="string"
    )
    pm = fit_post_models(df, outcomes=("impressions",), predictors=("has_poll", "tone"), models=("ols_log",))
    assert {"tone[neutral]", "tone[positive]"} <= set(pm.table["term"])  # 'alarm' is the reference
    assert pm.diagnostics["impressions"]["reference_levels"] == {"tone": "alarm", "year": "2021"}
    assert len(pm.table.query("term_type == 'predictor'")) == 3


def test_missing_outcome_and_unknown_model():
    df = small_posts().drop(columns="engagements")
    with pytest.warns(ModelWarning, match="Outcome 'engagements' is not a column"):
        pm = fit_post_models(df, predictors=("has_poll",), models=("ols_log",))
    assert set(pm.table["outcome"]) == {"impressions"}
    df["engagements"] = pd.array([pd.NA] * 120, dtype="Int64")
    with pytest.warns(ModelWarning, match="Outcome 'engagements' is entirely NA"):
        fit_post_models(df, predictors=("has_poll",), models=("ols_log",))
    with pytest.raises(InputError, match=r"unknown model\(s\) \['poisson'\]"):
        fit_post_models(df, models=("poisson",))


def test_nothing_usable_gives_empty_table():
    df = small_posts()
    pm = fit_post_models(df, outcomes=("impressions",), predictors=("has_gif",))
    assert pm.table.empty and list(pm.table.columns) == list(TABLE_COLUMNS)
    assert pm.warnings[1] == "No usable predictor left (see the warnings above); no models fitted."
    df["impressions"] = pd.array([7] * 120, dtype="Int64")
    with pytest.warns(ModelWarning, match=r"impressions: every used post has the same value \(7\)"):
        pm = fit_post_models(df, outcomes=("impressions",), predictors=("has_poll",))
    assert pm.table.empty
    # 3 posts: each predictor's 1 post is a third of them, so the predictors (not the posts) are left out
    with pytest.warns(ModelWarning, match=r"impressions: no predictor left in the posts used; not modelled"):
        fit_post_models(
            small_posts().iloc[:3], outcomes=("impressions",), predictors=("has_poll", "has_url"), controls=()
        )


def test_negbin_on_poisson_counts_explains_itself():
    # Poisson counts: the NB dispersion runs to 0 and the fit is refused with a reason, not a crash
    rng = np.random.default_rng(8)
    df = small_posts(300).assign(impressions=pd.array(rng.poisson(50, 300), dtype="Int64"))
    with pytest.warns(ModelWarning, match=r"not overdispersed \(variance/mean = 0\.\d\d\)"):
        pm = fit_post_models(df, outcomes=("impressions",), predictors=("has_poll",), models=("negbin",))
    # the fallback is the robust Poisson fit, with the reason recorded (no NB with α ≈ 0)
    assert (pm.table["model"] == "negbin").all() and (pm.table["fit_method"] == "poisson_robust").all()
    (fb,) = [r for r in pm.records["flags"] if r["code"] == "count_model_fallback"]
    assert fb["fit_method"] == "poisson_robust" and "not overdispersed" in fb["message"]
    od = pm.diagnostics["impressions"]["overdispersion"]["negbin"]
    assert od["variance_to_mean"] < 1.2 and od["overdispersed"] is False


def test_negbin_failure_is_a_warning_not_a_crash(monkeypatch):
    def explode(self, *args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(wm.sm.NegativeBinomial, "fit", explode)
    monkeypatch.setattr(wm.fastfit, "fit_nb2", lambda *a, **k: None)  # the Newton fit tried first gives up too
    with pytest.warns(ModelWarning, match="negbin was fitted as .* because maximum likelihood failed .*LinAlgError"):
        pm = fit_post_models(small_posts(), predictors=("has_poll",), models=("ols_log", "negbin"))
    assert pm.diagnostics["impressions"]["converged"]["negbin"] is False  # NB by ML did not work ...
    nb = pm.table[pm.table["model"] == "negbin"]  # ... but a count model still gives finite estimates
    assert len(nb) and np.isfinite(nb[["estimate", "std_error"]].to_numpy()).all()
    assert set(nb["fit_method"]) <= {"nb2_fixed_alpha", "poisson_robust"}
    # and when every path fails: a record, no rows, no crash
    monkeypatch.setattr(wm.sm.GLM, "fit", explode)
    with pytest.warns(ModelWarning, match="count model negbin could not be fitted"):
        pm = fit_post_models(small_posts(), predictors=("has_poll",), models=("ols_log", "negbin"))
    assert set(pm.table["model"]) == {"ols_log"}
    assert any(r["code"] == "count_model_failed" for r in pm.records["flags"])


# --------------------------------------------------------------------------------------------------
# describe_effects
# --------------------------------------------------------------------------------------------------


def effect_row(term, b, lo, hi, p, p_holm, term_type="predictor", model="ols_log"):
    return {
        "outcome": "impressions",
        "model": model,
        "term": term,
        "estimate": b,
        "std_error": 0.1,
        "ci_low": lo,
        "ci_high": hi,
        "p_value": p,
        "std_beta": np.nan,
        "effect_pct": 100 * math.expm1(b),
        "n": 500,
        "r2": 0.2,
        "p_holm": p_holm,
        "term_type": term_type,
        "effect_pct_ci_low": 100 * math.expm1(lo),
        "effect_pct_ci_high": 100 * math.expm1(hi),
    }


def test_describe_effects_sentences():
    ln = math.log
    table = pd.DataFrame(
        [
            effect_row("Intercept", 3.0, 2.8, 3.2, 0.0, np.nan, "intercept"),
            effect_row("has_poll", ln(1.32), ln(1.18), ln(1.47), 1e-5, 1e-4),
            effect_row("has_url", ln(0.8), ln(0.7), ln(0.9), 1e-4, 5e-4),
            effect_row("has_emoji", ln(1.05), ln(0.9), ln(1.25), 0.4, 0.8),
            effect_row("n_hashtags", ln(1.1), ln(1.05), ln(1.15), 0.001, 0.004),
            effect_row("has_graphic", ln(1.2), ln(1.01), ln(1.4), 0.03, 0.09),  # significant only unadjusted
            effect_row("log_followers_at_post", 0.5, 0.4, 0.6, 1e-9, np.nan, "control"),
            effect_row("year[2022]", 0.1, 0.0, 0.2, 0.05, np.nan, "control"),
        ]
    )
    s = describe_effects(table, outcome="impressions")
    hold = "holding the other features, audience size and year fixed."
    assert s == [
        f"Posts with a poll received 32% more impressions (95% CI 18% to 47%), {hold}",
        f"Posts with a link received 20% fewer impressions (95% CI 10% to 30% fewer), {hold}",
        "No detectable difference in impressions for posts with an emoji; the data are compatible with "
        "−10% to +25%.",
        f"Each additional hashtag was associated with 10% more impressions (95% CI 5.0% to 15%), {hold}",
        "Posts with a graphic received 20% more impressions (95% CI +1.0% to +40%), holding the other features, "
        "audience size and year fixed, but with 5 features tested at once this could be chance "
        "(Holm-adjusted p = 0.09); treat it as a lead to check, not a finding.",
    ]
    # without p_holm the raw p decides; with alpha 0.1 the Holm p of has_graphic is significant
    assert (
        "Posts with a graphic received 20% more"
        in describe_effects(table.drop(columns="p_holm"), outcome="impressions")[4]
    )
    assert describe_effects(table, outcome="impressions", alpha=0.1)[4].startswith("Posts with a graphic")


def test_describe_effects_on_fitted_models(ref_models):
    for model in ("ols_log", "negbin", "ols_std"):
        s = describe_effects(ref_models.table, outcome="impressions", model=model)
        assert len(s) == len(PREDICTORS)
        assert all(x.endswith(".") for x in s)
    s = describe_effects(ref_models.table, outcome="engagements", model="ols_std")
    assert "standardized β" in s[0]
    with pytest.raises(InputError, match="no rows for outcome 'likes'"):
        describe_effects(ref_models.table, outcome="likes")
    no_negbin = ref_models.table[ref_models.table["model"] != "negbin"]
    assert describe_effects(no_negbin, outcome="impressions", model="negbin") == []


@pytest.mark.parametrize(
    ("term", "phrase"),
    [
        ("has_poll", "Posts with a poll"),
        ("has_graphic", "Posts with a graphic"),
        ("has_url", "Posts with a link"),
        ("has_emoji", "Posts with an emoji"),
        ("has_alt_text", "Posts with an alt text"),
        ("n_hashtags", "Each additional hashtag"),
        ("n_mentions", "Each additional mention"),
        ("n_urls", "Each additional link"),
    ],
)
def test_feature_phrases(term, phrase):
    table = pd.DataFrame([effect_row(term, 0.3, 0.2, 0.4, 1e-6, 1e-6)])
    assert describe_effects(table, outcome="impressions")[0].startswith(phrase + " ")


# --------------------------------------------------------------------------------------------------
# engagement-rate model, overdispersion, residual checks, influence, sensitivity: against R
# --------------------------------------------------------------------------------------------------


def test_negbin_rate_matches_r(ref_models):
    ref = pd.read_csv(REFS / "ref_negbin_rate.csv")
    assert ref["score_sum_max"].max() < 1e-6  # glm.nb really converged
    ours = rows_of(ref_models.table, "engagements", "negbin_rate")
    assert sorted(ours.index) == sorted(ref["term"])
    ours = ours.loc[ref["term"]]
    for col in ("estimate", "std_error", "ci_low", "ci_high", "p_value"):
        np.testing.assert_allclose(ours[col], ref[col], rtol=1e-4, atol=1e-8, err_msg=col)
    assert (ours["n"] == ref["n"].to_numpy()).all()  # impressions NA (3) and 0 (1) left out
    np.testing.assert_allclose(ours["pseudo_r2"], ref["pseudo_r2"], rtol=1e-6)
    disp = ref_models.diagnostics["engagements"]["dispersion"]
    assert disp["negbin_rate_alpha"] == pytest.approx(ref["alpha"].iloc[0], rel=1e-4)
    slopes = ours.iloc[1:]
    np.testing.assert_allclose(slopes["effect_pct"], 100 * np.expm1(slopes["estimate"]), rtol=1e-12)
    assert ref_models.diagnostics["engagements"]["rate_model"] == {
        "exposure": "impressions",
        "n": 189,
        "dropped": {"impressions is NA": 3, "impressions is 0": 1},
    }
    assert "impressions" not in {o for (o, m) in ref_models.fits if m == "negbin_rate"}


def test_overdispersion_matches_r(ref_models):
    ref = pd.read_csv(REFS / "ref_overdispersion.csv")
    assert len(ref) == 3
    for r in ref.itertuples(index=False):
        ours = ref_models.diagnostics[r.outcome]["overdispersion"][r.model]
        for col in ("ct_alpha", "ct_stat", "ct_p", "poisson_llf", "lr_stat"):
            assert ours[col] == pytest.approx(getattr(r, col), rel=1e-6), (r.outcome, r.model, col)
        assert ours["nb_llf"] == pytest.approx(r.nb_llf, rel=1e-8)
        assert ours["lr_p"] == pytest.approx(r.lr_p, rel=1e-3, abs=1e-300)
        assert ours["overdispersed"] is True


def test_residual_checks_match_r(ref_models):
    ref = pd.read_csv(REFS / "ref_residual_checks.csv")
    for r in ref.itertuples(index=False):
        ours = ref_models.diagnostics[r.outcome]["residuals"]["ols_log"]
        for col in ("skew", "excess_kurtosis", "bp_stat", "bp_p", "bp_r2"):
            assert ours[col] == pytest.approx(getattr(r, col), rel=1e-8), (r.outcome, col)
        assert ours["bp_df"] == r.bp_df


def test_cooks_distance_matches_r_and_statsmodels(ref_data, ref_models):
    ref = pd.read_csv(REFS / "ref_cooks.csv", dtype={"post_id": "string"})
    for outcome, r in ref.groupby("outcome"):
        fit = ref_models.fits[(outcome, "ols_log")]
        cook = compute_cooks_distance(fit)
        ours = pd.Series(cook.to_numpy(), index=ref_data.loc[cook.index, "post_id"].to_numpy())
        np.testing.assert_allclose(ours.loc[r["post_id"]], r["cook_d"], rtol=1e-8)
        np.testing.assert_allclose(cook, fit.get_influence().cooks_distance[0], rtol=1e-9)
        top = r.sort_values("cook_d", ascending=False).head(10)
        listed = ref_models.diagnostics[outcome]["influential"]
        assert [x["post_id"] for x in listed] == list(top["post_id"])
        np.testing.assert_allclose([x["cook_d"] for x in listed], top["cook_d"], rtol=1e-8)
        assert all(x["permalink"] is None for x in listed)  # the reference data have no permalink column
        n = len(r)
        assert ref_models.diagnostics[outcome]["n_cook_above_4_over_n"] == int((r["cook_d"] > 4 / n).sum())


def test_controls_sensitivity_matches_r(ref_models):
    ref = pd.read_csv(REFS / "ref_sensitivity.csv")
    sens = ref_models.sensitivity
    assert list(sens.columns) == list(SENSITIVITY_COLUMNS)
    assert len(sens) == len(ref)
    merged = sens.merge(ref, on=["outcome", "term"], suffixes=("", "_r"))
    for col in SENSITIVITY_COLUMNS[2:]:
        if col in ("change_pct_points", "n", "platform"):
            continue
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=1e-8, err_msg=col)
    np.testing.assert_allclose(
        merged["change_pct_points"],
        merged["effect_pct_with_controls_r"] - merged["effect_pct_without_controls_r"],
        rtol=1e-7,
        atol=1e-9,
    )
    assert (merged["n"] == merged["n_r"]).all()
    # the "with controls" side is exactly the ols_log table's effect
    main = rows_of(ref_models.table, "impressions", "ols_log")
    imp = sens[sens["outcome"] == "impressions"].set_index("term")
    np.testing.assert_allclose(imp["effect_pct_with_controls"], main.loc[imp.index, "effect_pct"], rtol=1e-12)
    # and it is in the diagnostics, per outcome and as records
    d = ref_models.diagnostics["impressions"]["controls_sensitivity"]["has_poll"]
    assert d["effect_pct_with_controls"] == pytest.approx(imp.loc["has_poll", "effect_pct_with_controls"])
    assert len(ref_models.diagnostics["sensitivity"]) == len(sens)


def test_no_controls_means_no_sensitivity():
    pm = fit_post_models(small_posts(), predictors=("has_poll", "has_url"), controls=(), models=("ols_log",))
    assert pm.sensitivity.empty and list(pm.sensitivity.columns) == list(SENSITIVITY_COLUMNS)
    assert "controls_sensitivity" not in pm.diagnostics["impressions"]


# --------------------------------------------------------------------------------------------------
# engagement-rate model: known truth and awkward input
# --------------------------------------------------------------------------------------------------


def test_negbin_rate_recovers_simulated_rate_effects():
    from workbench.simulate import DEFAULT_RATE_EFFECTS_PCT, simulate_tables

    posts = simulate_tables(seed=7, n_posts=4000).posts
    pm = fit_post_models(
        posts, outcomes=("engagements",), controls=("followers_at_post",), models=("negbin_rate",)
    )
    est = rows_of(pm.table, "engagements", "negbin_rate")
    for term, pct in DEFAULT_RATE_EFFECTS_PCT.items():
        true = math.log1p(pct / 100)
        assert abs(est.loc[term, "estimate"] - true) < 4 * est.loc[term, "std_error"], term
    # the engagement rate does not depend on the audience once impressions are the exposure
    assert (
        abs(est.loc["log_followers_at_post", "estimate"]) < 4 * est.loc["log_followers_at_post", "std_error"]
    )
    # the intercept is the baseline rate (1.5%; the noise has mean 1 on the rate scale)
    assert math.exp(est.loc["Intercept", "estimate"]) * 1000 ** est.loc[
        "log_followers_at_post", "estimate"
    ] == pytest.approx(0.015, rel=0.35)
    # ...while the plain engagements model mixes in the impressions effects
    pm2 = fit_post_models(
        posts, outcomes=("engagements",), controls=("followers_at_post",), models=("negbin",)
    )
    poll = rows_of(pm2.table, "engagements", "negbin").loc["has_poll", "effect_pct"]
    assert poll == pytest.approx(100 * (1.35 * 1.5 - 1), abs=20)


def test_negbin_rate_needs_impressions():
    df = small_posts().drop(columns="impressions")
    with pytest.warns(ModelWarning, match="engagement-rate model \\(negbin_rate\\) needs impressions"):
        pm = fit_post_models(df, outcomes=("engagements",), predictors=("has_poll",), models=("negbin_rate",))
    assert pm.table.empty
    assert "negbin_rate: no impressions" in pm.diagnostics["engagements"]["flags"]
    df["impressions"] = pd.array([pd.NA] * len(df), dtype="Int64")
    with pytest.warns(ModelWarning, match="needs impressions"):
        fit_post_models(df, outcomes=("engagements",), predictors=("has_poll",), models=("negbin_rate",))
    # never for impressions itself, silently
    pm = fit_post_models(
        small_posts(), outcomes=("impressions",), predictors=("has_poll",), models=("negbin_rate",)
    )
    assert pm.table.empty and not any("negbin_rate" in w for w in pm.warnings)


def test_negbin_rate_uses_offset_exactly():
    # doubling every post's impressions shifts only the intercept, by −log 2
    rng = np.random.default_rng(4)
    df = small_posts(400, seed=4)
    df["engagements"] = pd.array(
        rng.poisson(rng.gamma(2.0, 0.5 * 0.02 * df["impressions"].to_numpy(float))), "Int64"
    )
    kw = dict(outcomes=("engagements",), predictors=("has_poll", "has_url"), models=("negbin_rate",))
    a = rows_of(fit_post_models(df, **kw).table, "engagements", "negbin_rate")
    df2 = df.assign(impressions=df["impressions"] * 2)
    b = rows_of(fit_post_models(df2, **kw).table, "engagements", "negbin_rate")
    assert b.loc["Intercept", "estimate"] == pytest.approx(
        a.loc["Intercept", "estimate"] - math.log(2), abs=1e-6
    )
    np.testing.assert_allclose(b["estimate"].iloc[1:], a["estimate"].iloc[1:], rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------------------
# diagnostics: overdispersion size, separation, residual_frame
# --------------------------------------------------------------------------------------------------


def test_ct_test_size_under_poisson_and_power_under_nb():
    rng = np.random.default_rng(12)
    mu = np.exp(rng.normal(2.0, 0.5, 300))
    p_null = [check_overdispersion(rng.poisson(mu), mu)["ct_p"] for _ in range(400)]
    size = np.mean(np.array(p_null) < 0.05)
    assert 0.02 <= size <= 0.09, size
    p_alt = [check_overdispersion(rng.poisson(rng.gamma(1 / 0.3, mu * 0.3)), mu)["ct_p"] for _ in range(50)]
    assert np.mean(np.array(p_alt) < 0.05) > 0.95
    # the α estimate is about right under NB2 with α = 0.3
    y = rng.poisson(rng.gamma(1 / 0.3, np.repeat(mu, 20) * 0.3))
    assert check_overdispersion(y, np.repeat(mu, 20))["ct_alpha"] == pytest.approx(0.3, abs=0.05)


def test_lr_boundary_p():
    out = check_overdispersion(np.array([1, 2, 3, 4.0]), np.full(4, 2.5), poisson_llf=-10.0, nb_llf=-8.0)
    assert out["lr_stat"] == pytest.approx(4.0)
    assert out["lr_p"] == pytest.approx(0.5 * stats.chi2.sf(4.0, 1))
    same = check_overdispersion(np.array([1, 2, 3, 4.0]), np.full(4, 2.5), poisson_llf=-10.0, nb_llf=-10.0)
    assert same["lr_stat"] == 0.0 and same["lr_p"] == 1.0


def test_separation_warns():
    df = small_posts(200, seed=3)
    poll = df["has_poll"].to_numpy(dtype=bool)
    df.loc[poll, "engagements"] = 0
    with pytest.warns(
        ModelWarning, match=r"engagements: all \d+ posts with 'has_poll' have 0 engagements \(separation\)"
    ):
        pm = fit_post_models(df, predictors=("has_poll", "has_url"), models=("ols_log", "negbin"))
    sep = pm.diagnostics["engagements"]["separation"]
    assert sep == [{"term": "has_poll", "level": 1, "n_posts": int(poll.sum()), "outcome_value": 0}]
    assert pm.diagnostics["impressions"]["separation"] == []
    assert any(f.startswith("separation: has_poll") for f in pm.diagnostics["engagements"]["flags"])


def test_residual_frame_ols_and_negbin(ref_data, ref_models):
    fit = ref_models.fits[("engagements", "ols_log")]
    rf = residual_frame(fit)
    assert list(rf.columns) == ["fitted", "residual", "std_residual", "theoretical_quantile"]
    used = ref_data.dropna(subset=["engagements", *PREDICTORS, "followers_at_post", "year"])
    assert list(rf.index) == list(used.index)
    np.testing.assert_allclose(
        rf["fitted"] + rf["residual"], np.log1p(used["engagements"].astype(float)), rtol=1e-12
    )
    infl = fit.get_influence()
    np.testing.assert_allclose(rf["std_residual"], infl.resid_studentized_internal, rtol=1e-9)
    # QQ: the k-th smallest residual gets the k-th normal quantile
    order = np.argsort(rf["std_residual"].to_numpy())
    n = len(rf)
    np.testing.assert_allclose(
        rf["theoretical_quantile"].to_numpy()[order], stats.norm.ppf((np.arange(n) + 0.5) / n)
    )
    nb = ref_models.fits[("engagements", "negbin_rate")]
    rn = residual_frame(nb)
    y = nb.model.endog
    mu = np.exp(nb.model.exog @ nb.params.to_numpy()[:-1] + nb.model.offset)
    alpha = nb.params.iloc[-1]
    np.testing.assert_allclose(rn["fitted"], mu, rtol=1e-10)
    np.testing.assert_allclose(rn["residual"], (y - mu) / np.sqrt(mu + alpha * mu**2), rtol=1e-10)
    # a count model's GLM fallback: Pearson residuals
    glm = wm.sm.GLM(y, np.ones((len(y), 1)), family=wm.sm.families.Poisson()).fit()
    rg = residual_frame(glm)
    np.testing.assert_allclose(rg["residual"], (y - y.mean()) / np.sqrt(y.mean()), rtol=1e-9)
    with pytest.raises(InputError, match="residual_frame takes an OLS or negative binomial fit"):
        residual_frame(wm.sm.Logit((y > y.mean()).astype(float), np.ones((len(y), 1))).fit(disp=False))


# --------------------------------------------------------------------------------------------------
# choose_primary_model
# --------------------------------------------------------------------------------------------------


def diag_entry(*, zero_share=0.0, skew=0.1, bp_p=0.5, bp_r2=0.01, nb=True, over=True) -> dict:
    return {
        "n": 1000,
        "zero_share": zero_share,
        "converged": {"ols_log": True, "negbin": nb},
        "residuals": {"ols_log": {"skew": skew, "bp_p": bp_p, "bp_r2": bp_r2}},
        "overdispersion": {
            "negbin": {"ct_p": 1e-6 if over else 0.4, "lr_p": math.nan, "overdispersed": over}
        },
    }


def test_choose_primary_model_rule():
    fine = {"impressions": diag_entry(), "engagements": diag_entry()}
    model, reason = choose_primary_model(fine)
    assert model == "ols_log" and reason.startswith("OLS on log(1 + count) with HC3 errors leads")
    zeros = {"impressions": diag_entry(), "engagements": diag_entry(zero_share=0.25)}
    model, reason = choose_primary_model(zeros)
    assert model == "negbin"
    assert "for engagements, 25% of posts have 0" in reason and "engagements p < 0.001" in reason
    skewed = {"impressions": diag_entry(skew=-1.5)}
    assert choose_primary_model(skewed)[0] == "negbin"
    # heteroskedasticity: significant but immaterial (large n) is no reason; material is
    assert choose_primary_model({"impressions": diag_entry(bp_p=1e-9, bp_r2=0.01)})[0] == "ols_log"
    assert choose_primary_model({"impressions": diag_entry(bp_p=1e-9, bp_r2=0.2)})[0] == "negbin"
    # negbin must have converged and the counts be overdispersed for every outcome
    model, reason = choose_primary_model(
        {"impressions": diag_entry(skew=2.0), "engagements": diag_entry(nb=False)}
    )
    assert model == "ols_log" and "did not converge for every outcome" in reason
    model, reason = choose_primary_model({"impressions": diag_entry(skew=2.0, over=False)})
    assert model == "ols_log" and "not overdispersed" in reason
    # review15 M4: a count model that separated (posts of a level, all 0, left out of it) describes other posts
    # than ols_log: it does not lead
    sep = diag_entry(zero_share=0.5)
    sep["separation"] = [{"term": "year[2025]", "level": 1, "n_posts": 20, "outcome_value": 0}]
    model, reason = choose_primary_model({"engagements": sep})
    assert model == "ols_log" and "20 posts with year[2025], all 0: separation" in reason
    sep["separation"] = [{"term": "has_x", "level": None, "n_posts": None, "model": "negbin"}]  # a flag only
    assert choose_primary_model({"engagements": sep})[0] == "negbin"
    # the summary keys beside the outcomes are ignored
    with_summary = {**zeros, "primary": {"model": "x"}, "sensitivity": []}
    assert choose_primary_model(with_summary) == choose_primary_model(zeros)
    assert choose_primary_model({})[0] == "ols_log"


def test_primary_model_on_simulated_data():
    # large lognormal counts, no zeros: ols_log leads
    df = simulate_posts(3000, seed=2, effects=TRUTH, hetero=False)
    pm = fit_post_models(
        df, outcomes=("impressions",), predictors=SIM_PREDICTORS, models=("ols_log", "negbin")
    )
    assert pm.diagnostics["primary"]["model"] == "ols_log"
    # small overdispersed counts with many zeros: log1p bends them, negbin leads
    small = dict(TRUTH, Intercept=-3.0)
    df = simulate_posts(3000, seed=2, effects=small, count="negbin", alpha=1.0)
    pm = fit_post_models(
        df, outcomes=("impressions",), predictors=SIM_PREDICTORS, models=("ols_log", "negbin")
    )
    primary = pm.diagnostics["primary"]
    assert primary["model"] == "negbin", primary
    assert pm.diagnostics["impressions"]["zero_share"] >= 0.1
    assert primary["log_scale_problems"]["impressions"]


def test_check_residuals_against_statsmodels(ref_models):
    from statsmodels.stats.diagnostic import het_breuschpagan

    fit = ref_models.fits[("impressions", "ols_log")]
    ours = check_residuals(fit)
    lm, lm_p, _, _ = het_breuschpagan(fit.resid, fit.model.exog, robust=True)  # Koenker's version
    assert ours["bp_stat"] == pytest.approx(lm, rel=1e-9)
    assert ours["bp_p"] == pytest.approx(lm_p, rel=1e-9)
    assert ours["skew"] == pytest.approx(stats.skew(fit.resid), rel=1e-12)


def test_poisson_irls_matches_statsmodels_glm(ref_models):
    nb = ref_models.fits[("engagements", "negbin_rate")]
    y, exog, offset = nb.model.endog, nb.model.exog, nb.model.offset
    X = pd.DataFrame(exog[:, 1:])
    mu, llf = wm._fit_poisson(y, X, offset=offset)
    ref = wm.sm.GLM(y, exog, family=wm.sm.families.Poisson(), offset=offset).fit(tol=1e-12)
    np.testing.assert_allclose(mu, ref.mu, rtol=1e-7)
    assert llf == pytest.approx(ref.llf, rel=1e-10)


def test_describe_effects_rate_model_says_per_impression(ref_models):
    s = describe_effects(ref_models.table, outcome="engagements", model="negbin_rate")
    assert len(s) == len(PREDICTORS)
    assert all("engagements per impression" in x for x in s)
    t = pd.DataFrame(
        [effect_row("has_poll", math.log(1.5), math.log(1.3), math.log(1.7), 1e-6, 1e-6)]
    ).assign(outcome="engagements", model="negbin_rate")
    assert describe_effects(t, outcome="engagements", model="negbin_rate") == [
        "Posts with a poll received 50% more engagements per impression (95% CI 30% to 70%)."
    ]


def test_influential_posts_with_a_duplicated_index(ref_data, ref_models):
    dup = ref_data.set_axis(np.zeros(len(ref_data), dtype=int))  # every row labelled 0
    pm = fit_post_models(dup, outcomes=("impressions",), models=("ols_log",))
    ours = [x["post_id"] for x in pm.diagnostics["impressions"]["influential"]]
    assert ours == [x["post_id"] for x in ref_models.diagnostics["impressions"]["influential"]]


def test_choose_primary_model_when_ols_log_missing():
    only_nb = {"impressions": {"n": 10, "converged": {"negbin": True}}}
    assert choose_primary_model(only_nb)[0] == "negbin"
    only_std = {"impressions": {"n": 10, "converged": {"ols_std": True, "negbin": False}}}
    assert choose_primary_model(only_std)[0] == "ols_std"
    nothing = {
        "impressions": {"n": 10, "converged": {}},
        "engagements": {"n": 10, "converged": {"negbin_rate": True}},
    }
    assert choose_primary_model(nothing)[0] == "ols_log"


def test_sentence_for_an_effect_that_does_not_survive_holm():
    from workbench.models import describe_effects

    table = pd.DataFrame(
        {
            "outcome": ["impressions"] * 2,
            "model": ["ols_log"] * 2,
            "term": ["has_poll", "has_emoji"],
            "term_type": ["predictor"] * 2,
            "estimate": [0.2, 0.01],
            "ci_low": [0.06, -0.1],
            "ci_high": [0.33, 0.12],
            "p_value": [0.01, 0.8],
            "p_holm": [0.07, 0.8],
            "effect_pct": [22.0, 1.0],
            "effect_pct_ci_low": [6.2, -9.5],
            "effect_pct_ci_high": [39.4, 12.7],
        }
    )
    poll, emoji = describe_effects(table, outcome="impressions")
    assert poll.startswith("Posts with a poll received 22% more impressions (95% CI +6.2% to +39%)")
    assert "2 features tested at once this could be chance (Holm-adjusted p = 0.07)" in poll
    assert emoji.startswith("No detectable difference in impressions for posts with an emoji")


# --------------------------------------------------------------------------------------------------
# issue 10/12/18/19: population, platforms, media_type, records, multiple comparisons, count fallback
# --------------------------------------------------------------------------------------------------


def replies_heavy(n: int = 900, seed: int = 5, *, platform: str | None = None, reply_share: float = 0.65):
    """An X-like account where most posts are replies that reach far fewer people and rarely carry hashtags.

    Truth on original posts: +0.4 log impressions per hashtag, +0.2 for a link; replies sit 2 log units lower.
    """
    rng = np.random.default_rng(seed)
    reply = rng.random(n) < reply_share
    n_hashtags = rng.poisson(np.where(reply, 0.1, 1.2))
    has_url = rng.random(n) < np.where(reply, 0.1, 0.5)
    n_mentions = rng.poisson(np.where(reply, 0.5, 0.4)) + reply
    eta = np.where(reply, 5.0, 7.0) + 0.4 * n_hashtags + 0.2 * has_url - 0.05 * n_mentions
    impressions = np.round(np.exp(eta + rng.normal(0, 1.0, n)))
    engagements = rng.poisson(impressions * 0.02 * rng.gamma(2, 0.5, n))
    df = pd.DataFrame(
        {
            "post_id": [f"r{seed}_{i}" for i in range(n)],
            "text": np.where(reply, "@someone thanks", "a post"),
            "impressions": impressions.astype(int),
            "engagements": engagements,
            "is_reply": reply,
            "has_url": has_url,
            "n_hashtags": n_hashtags,
            "n_mentions": n_mentions,
            "year": rng.choice([2022, 2023], n),
            "followers_at_post": rng.integers(900, 1100, n),
        }
    )
    if platform is not None:
        df["platform"] = platform
    return as_posts_coded(df)


RH_PREDICTORS = ("has_url", "n_hashtags", "n_mentions")


def test_default_population_is_original_posts_recorded_and_warned():
    df = replies_heavy()
    n_reply = int(df["is_reply"].sum())
    with pytest.warns(ModelWarning, match=r"posts \(\d+%\) are replies, with median impressions") as rec:
        pm = fit_post_models(df, predictors=RH_PREDICTORS, models=("ols_log",))
    pop = pm.records["population"]
    assert pop["setting"] == "original" and pop["post_types"] == ["original"] and pop["chosen_by"] == "default"
    assert (pop["n_in"], pop["n_out"]) == (len(df) - n_reply, n_reply)
    counts = {r["post_type"]: r for r in pop["counts"]}
    assert counts["reply"]["n"] == n_reply and counts["reply"]["in_models"] is False
    assert counts["original"]["median_impressions"] == pytest.approx(
        float(df.loc[~df["is_reply"].astype(bool), "impressions"].median())
    )
    assert pop["post_type_source"] == {"is_reply": n_reply, "default": len(df) - n_reply}
    assert pm.diagnostics["impressions"]["n"] == len(df) - n_reply
    (dom,) = [r for r in pm.records["flags"] if r["code"] == "post_type_dominates"]
    assert dom["post_type"] == "reply" and dom["n"] == n_reply and dom["median"] < dom["median_original"] / 2
    assert "left out of the models" in dom["message"]
    assert any("post_type_dominates" == r["code"] for r in pm.records["flags"]) and rec
    # on original posts the hashtag effect is the true one (+0.4 log), not the confounded pooled one
    b = rows_of(pm.table, "impressions", "ols_log").loc["n_hashtags", "estimate"]
    assert b == pytest.approx(0.4, abs=0.08)
    pooled = fit_post_models(df, predictors=RH_PREDICTORS, models=("ols_log",), population=list(wm.POST_TYPES[:2]))
    assert rows_of(pooled.table, "impressions", "ols_log").loc["n_hashtags", "estimate"] == pytest.approx(0.4, abs=0.08)


def test_population_all_controls_post_type_against_original():
    df = replies_heavy()
    pm = fit_post_models(df, predictors=RH_PREDICTORS, models=("ols_log",), population="all")
    t = rows_of(pm.table, "impressions", "ols_log")
    assert t.loc["post_type[reply]", "term_type"] == "control"
    assert t.loc["post_type[reply]", "estimate"] == pytest.approx(-2.0, abs=0.2)
    assert pm.diagnostics["impressions"]["reference_levels"]["post_type"] == "original"
    assert pm.records["population"]["post_type_controlled"] is True
    (f,) = [f for f in pm.records["fitted_terms"] if f["outcome"] == "impressions"]
    assert f["controls"] == ["post_type[reply]", "year[2023]", "log_followers_at_post"] or set(f["controls"]) == {
        "post_type[reply]", "year[2023]", "log_followers_at_post"}
    dom = [r for r in pm.records["flags"] if r["code"] == "post_type_dominates"]
    assert dom and "post type is controlled" in dom[0]["message"]
    # asking for the reply effect brings the replies in (and no second post-type term)
    pm = fit_post_models(df, predictors=(*RH_PREDICTORS, "is_reply"), models=("ols_log",))
    t = rows_of(pm.table, "impressions", "ols_log")
    assert "is_reply" in t.index and not t.index.str.startswith("post_type").any()
    assert pm.records["population"]["chosen_by"] == "default: is_reply in the model"
    assert pm.diagnostics["impressions"]["n"] == len(df)
    with pytest.raises(InputError, match="analysis population 'everything'"):
        fit_post_models(df, population="everything")


def test_fitted_terms_say_only_what_was_done():
    # followers all missing and a single year: the controls are dropped, and the records say so
    df = replies_heavy().assign(year=2023)
    df["year"] = df["year"].astype("Int64")
    df["followers_at_post"] = pd.array([pd.NA] * len(df), dtype="Float64")
    pm = fit_post_models(df, predictors=("has_poll", *RH_PREDICTORS), models=("ols_log", "negbin"))
    for f in pm.records["fitted_terms"]:
        assert f["controls"] == [] and f["predictors"] == list(RH_PREDICTORS)
        assert f["estimand"] == wm.MODEL_REGISTRY[f["model"]].estimand
    codes = {(r["code"], r["term"]) for r in pm.records["dropped"]}
    assert {("not_a_column", "has_poll"), ("all_na", "followers_at_post"), ("constant", "year")} <= codes
    for r in pm.records["dropped"] + pm.records["flags"]:
        assert set(r) >= {"code", "platform", "outcome", "model", "term", "n", "message"}
    sentences = describe_effects(pm.table, outcome="impressions")
    assert sentences and not any("audience size" in x or "year" in x for x in sentences)
    assert any("holding the other features fixed." in x for x in sentences)


def test_platforms_are_modelled_apart_and_pooled_only_when_labelled():
    fb = replies_heavy(400, seed=11, platform="facebook", reply_share=0.0)
    ig = replies_heavy(300, seed=12, platform="instagram", reply_share=0.0)
    ig["impressions"] = (ig["impressions"] * 3).astype("Int64")
    df = pd.concat([fb, ig], ignore_index=True)
    pm = fit_post_models(df, predictors=RH_PREDICTORS, models=("ols_log", "negbin"))
    assert set(pm.table["platform"]) == {"facebook", "instagram"}
    assert pm.records["platforms"] == ["facebook", "instagram"] and pm.records["pooled"] is False
    assert {"facebook: impressions", "instagram: impressions"} <= set(pm.diagnostics)
    assert pm.diagnostics["facebook: impressions"]["n"] == 400
    one = fit_post_models(fb, predictors=RH_PREDICTORS, models=("ols_log", "negbin"))
    a = pm.table[pm.table["platform"] == "facebook"].reset_index(drop=True)
    b = one.table.reset_index(drop=True)
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-9)  # per platform = that platform alone
    assert ("facebook: impressions", "ols_log") in pm.fits
    pooled = fit_post_models(df, predictors=RH_PREDICTORS, models=("ols_log",), pooled=True)
    p = rows_of(pooled.table[pooled.table["platform"] == "pooled"], "impressions", "ols_log")
    assert p.loc["platform[instagram]", "term_type"] == "control" and p.loc["Intercept", "n"] == 700
    # the controls-sensitivity records say whose posts they are (the flat records mixed the platforms)
    sens = pm.sensitivity
    assert not sens.empty and set(sens["platform"]) == {"facebook", "instagram"}
    assert {r["platform"] for r in pm.diagnostics["sensitivity"]} == {"facebook", "instagram"}
    assert (one.sensitivity["platform"] == "facebook").all()


def media_posts(n: int = 600, seed: int = 21) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["photo", "video", "link_card", "none"], n, p=[0.4, 0.2, 0.2, 0.2])
    kinds[:5] = "reel"  # a rare level
    effect = {"photo": 0.3, "video": 0.6, "link_card": -0.2, "none": 0.0, "reel": 1.0}
    y = np.round(np.exp(6 + np.vectorize(effect.get)(kinds) + rng.normal(0, 0.8, n)))
    df = as_posts_coded(
        pd.DataFrame(
            {
                "impressions": y.astype(int),
                "engagements": rng.poisson(y * 0.03),
                "n_hashtags": rng.poisson(1, n),
                "year": 2023,
                "followers_at_post": 5000,
            }
        )
    )
    df["media_type"] = pd.Series(kinds, dtype="category").str.replace("none", "None")  # case as exported
    df["platform"] = "facebook"
    return df


def test_media_type_is_a_categorical_predictor_with_a_stated_reference():
    df = media_posts()
    pm = fit_post_models(df, predictors=("media_type", "n_hashtags"), controls=(), models=("ols_log", "negbin"))
    t = rows_of(pm.table, "impressions", "ols_log")
    assert pm.diagnostics["impressions"]["reference_levels"] == {"media_type": "none"}
    assert {"media_type[photo]", "media_type[video]", "media_type[link_card]"} <= set(t.index)
    assert t.loc["media_type[video]", "estimate"] == pytest.approx(0.6, abs=0.2)
    assert set(rows_of(pm.table, "impressions", "negbin").index) >= {"media_type[photo]"}
    # the 5 reels: too few posts to estimate, a record, not an estimate
    assert "media_type[reel]" not in set(pm.table["term"])
    (rare,) = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts" and r["outcome"] == "impressions"]
    assert (rare["term"], rare["n"], rare["level"]) == ("media_type[reel]", 5, "reel")
    # a stated reference level from the card
    pm2 = fit_post_models(
        df, predictors=("media_type",), controls=(), models=("ols_log",), reference_levels={"media_type": "photo"}
    )
    t2 = rows_of(pm2.table, "impressions", "ols_log")
    assert "media_type[none]" in t2.index and pm2.diagnostics["impressions"]["reference_levels"]["media_type"] == "photo"
    np.testing.assert_allclose(
        t2.loc["media_type[video]", "estimate"], t.loc["media_type[video]", "estimate"] - t.loc["media_type[photo]", "estimate"],
        atol=0.05,
    )
    # no text-only level: the most common level is the reference
    no_none = df[df["media_type"] != "None"]
    pm3 = fit_post_models(no_none, predictors=("media_type",), controls=(), models=("ols_log",))
    assert pm3.diagnostics["impressions"]["reference_levels"]["media_type"] == "photo"


def test_reach_by_type_against_hand_counts():
    df = media_posts()
    table = wm.reach_by_type(df)
    kind = df["media_type"].astype(str).str.lower()
    for r in table.itertuples():
        sub = df[kind == r.type]
        assert r.n == len(sub) and r.platform == "facebook"
        assert r.median_impressions == pytest.approx(float(sub["impressions"].astype(float).median()))
        assert r.median_engagements == pytest.approx(float(sub["engagements"].astype(float).median()))
    assert table["share"].sum() == pytest.approx(1.0) and table["n"].is_monotonic_decreasing
    pm = fit_post_models(df, predictors=("media_type",), controls=(), models=("ols_log",))
    assert {r["type"] for r in pm.records["reach_by_type"]} == set(kind)
    with pytest.raises(InputError, match="no column 'media_type'"):
        wm.reach_by_type(df.drop(columns="media_type"))


def test_holm_family_recorded_and_across_outcomes_by_multipletests(ref_models):
    from statsmodels.stats.multitest import multipletests

    t = ref_models.table
    for model in ("ols_log", "negbin"):
        pred = t[(t["model"] == model) & (t["term_type"] == "predictor")]
        assert len(pred) == 12
        np.testing.assert_allclose(
            pred["p_holm_across_outcomes"], multipletests(pred["p_value"], method="holm")[1], rtol=1e-12
        )
        assert (pred["p_holm_across_outcomes"] >= pred["p_holm"] - 1e-15).all()
    fams = [f for f in ref_models.records["holm_family"] if f["model"] == "ols_log"]
    per = [f for f in fams if f["family"] == "predictors"]
    assert {f["outcome"] for f in per} == {"impressions", "engagements"}
    assert per[0]["description"] == "6 predictor terms for impressions (ols_log)" and per[0]["size"] == 6
    (across,) = [f for f in fams if f["family"] == "predictors_across_outcomes"]
    assert across["size"] == 12 and across["column"] == "p_holm_across_outcomes"


def test_estimands_recorded_per_model(ref_models):
    est = ref_models.records["estimands"]
    assert est["ols_log"]["estimand"] == "ratio of geometric means of (1 + outcome)"
    assert est["negbin"]["estimand"] == "ratio of expected counts"
    assert "geometric mean of (1 + impressions)" in wm.describe_estimand("ols_log", "impressions")
    assert "expected (average) number of impressions" in wm.describe_estimand("negbin", "impressions")
    assert (ref_models.table.loc[ref_models.table["model"] == "negbin", "fit_method"] == "nb2_ml").all()
    assert (ref_models.table.loc[ref_models.table["model"] == "ols_log", "fit_method"] == "ols_hc3").all()


def test_overdispersion_cannot_contradict_a_huge_variance_to_mean():
    # heavy-tailed impressions (variance/mean ~ 10^5): the Cameron–Trivedi t is diluted by a few huge posts,
    # but the Pearson and LR tests reject, so `overdispersed` is true and α is reported
    df = replies_heavy(1200, seed=7, reply_share=0.0)
    y = df["impressions"].astype(float).to_numpy()
    y[::100] *= 300
    df["impressions"] = pd.array(y.astype(int), dtype="Int64")
    pm = fit_post_models(df, predictors=RH_PREDICTORS, outcomes=("impressions",), models=("negbin",))
    od = pm.diagnostics["impressions"]["overdispersion"]["negbin"]
    assert od["variance_to_mean"] > 1e4
    assert od["overdispersed"] is True and od["pearson_p"] < 1e-10 and od["pearson_dispersion"] > 100
    assert od["alpha"] > 0.5 and od["alpha_method"] == "nb2_ml"
    assert "Pearson" in od["test"] and "mean model" in od["assumptions"]


def test_pearson_statistic_matches_statsmodels_glm(ref_data):
    d = ref_data.dropna(subset=["impressions", *PREDICTORS, "followers_at_post", "year"])
    X, y, _ = hand_design(ref_data, "impressions")
    glm = wm.sm.GLM(y, X, family=wm.sm.families.Poisson()).fit()
    out = check_overdispersion(y, glm.fittedvalues, n_params=X.shape[1])
    assert out["pearson_stat"] == pytest.approx(glm.pearson_chi2, rel=1e-9)
    assert out["pearson_df"] == glm.df_resid == len(d) - X.shape[1]
    assert out["pearson_p"] == pytest.approx(stats.chi2.sf(glm.pearson_chi2, glm.df_resid))


def test_separated_feature_left_out_of_the_count_model_exactly():
    # every post with a poll has 0 engagements: NB's estimate would run to −∞ (singular information);
    # the count model leaves those posts and the term out, which is exactly the ML fit of the other terms
    rng = np.random.default_rng(4)
    df = small_posts(400, seed=4)
    df["engagements"] = pd.array(rng.negative_binomial(2, 0.2, 400), dtype="Int64")
    df.loc[df["has_poll"].astype(bool), "engagements"] = 0
    pm = fit_post_models(df, predictors=("has_poll", "has_url", "n_hashtags"), models=("ols_log", "negbin"))
    nb = rows_of(pm.table, "engagements", "negbin")
    assert "has_poll" not in nb.index and np.isfinite(nb[["estimate", "std_error"]].to_numpy()).all()
    assert "has_poll" in rows_of(pm.table, "engagements", "ols_log").index
    (sep,) = [r for r in pm.records["dropped"] if r["code"] == "separation"]
    assert sep["term"] == "has_poll" and sep["model"] == "negbin" and sep["n"] == int(df["has_poll"].sum())
    sub = df[~df["has_poll"].astype(bool)]
    ref = fit_post_models(sub, predictors=("has_url", "n_hashtags"), models=("negbin",))
    np.testing.assert_allclose(nb["estimate"], rows_of(ref.table, "engagements", "negbin").loc[nb.index, "estimate"], rtol=1e-6)


def test_card_population_and_reference_levels(tmp_path):
    import yaml

    from workbench.dataset import load_dataset
    from workbench.errors import DatasetCardError

    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("x\n")

    def card(analysis):
        (tmp_path / "dataset.yml").write_text(yaml.safe_dump({"name": "d", "posts": ["raw/*.csv"], "analysis": analysis}))
        return load_dataset(tmp_path)

    assert card({}).analysis.population is None  # resolved by fit_post_models (original unless is_reply...)
    assert card({"population": "all"}).analysis.population == "all"
    assert card({"population": ["original", "quote"]}).analysis.population == ("original", "quote")
    ds = card({"predictors": ["media_type"], "reference_levels": {"media_type": "photo"}})
    assert ds.analysis.reference_levels == (("media_type", "photo"),)
    for bad in ("everything", ["original", "boost"], 3):
        with pytest.raises(DatasetCardError, match="analysis.population"):
            card({"population": bad})
    with pytest.raises(DatasetCardError, match="analysis.reference_levels"):
        card({"reference_levels": ["photo"]})


def test_save_post_models_keeps_the_old_keys_and_adds_typed_records(tmp_path, ref_data):
    import json
    from types import SimpleNamespace

    from workbench import results

    paths = SimpleNamespace(regression=tmp_path / "regression.csv", models=tmp_path / "models.json")
    df = ref_data.assign(platform="x", is_reply=pd.array([i % 5 == 0 for i in range(len(ref_data))], dtype="boolean"))
    pm = fit_post_models(df)
    summary = results.save_post_models(paths, pm)
    on_disk = json.loads(paths.models.read_text())
    for key in ("primary_model", "primary_reason", "sentences", "warnings", "diagnostics"):  # what report.py reads
        assert key in on_disk
    assert set(on_disk["sentences"]) == {"impressions", "engagements"}
    assert on_disk["schema_version"] == wm.SCHEMA_VERSION == summary["schema_version"]
    for key in ("population", "fitted_terms", "dropped", "flags", "holm_family", "estimands", "platforms",
                "estimand_sentences", "minimum_posts_per_group"):
        assert key in on_disk, key
    assert on_disk["population"]["n_out"] == int(df["is_reply"].sum())
    reg = pd.read_csv(paths.regression)
    assert list(reg.columns) == list(TABLE_COLUMNS) and set(reg["platform"]) == {"x"}


def test_model_settings_from_the_card(tmp_path):
    import yaml

    from workbench import results
    from workbench.dataset import load_dataset

    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("x\n")
    card = {"name": "d", "posts": ["raw/*.csv"],
            "analysis": {"predictors": ["media_type"], "population": "all", "reference_levels": {"media_type": "photo"}}}
    (tmp_path / "dataset.yml").write_text(yaml.safe_dump(card))
    kw = results.model_settings(load_dataset(tmp_path))
    assert kw["population"] == "all" and kw["reference_levels"] == {"media_type": "photo"}
    pm = fit_post_models(media_posts(), **{**kw, "controls": ()}, models=("ols_log",))
    assert pm.diagnostics["impressions"]["reference_levels"]["media_type"] == "photo"


def test_a_year_with_few_posts_is_left_out_and_said():
    # review15 X5: 5 posts of 2024 (one day) against 116 of 2025 passed the old control floor of 2 posts, and
    # year[2025] became an indicator of that day. A control level now needs MIN_LEVEL_POSTS posts like a group
    df = small_posts(120, seed=9)
    df["year"] = pd.array([2021] * 60 + [2022] * 58 + [2023] * 2, dtype="Int64")
    pm = fit_post_models(df, predictors=("has_poll", "has_url"), models=("ols_log",))
    # 2 of 120 posts: few, so those posts are left out and year keeps its other two levels
    assert pm.diagnostics["impressions"]["n"] == 118 and "year[2023]" not in set(pm.table["term"])
    assert "year[2022]" in set(pm.table["term"]) and np.isfinite(pm.table["std_error"]).all()
    (r,) = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts" and r["outcome"] == "impressions"]
    assert (r["term"], r["n"], r["minimum"], r["n_judged"], r["action"]) == (
        "year[2023]", 2, wm.MIN_CONTROL_LEVEL_POSTS, 120, "posts_left_out")
    assert r["reason"] == "only 2 of 120 posts are from 2023, fewer than the 10 needed: those posts were left out " \
                          "of the impressions models"
    # 9 of 120 posts (more than 5% of them): the year control is left out, every post kept, and said so
    df["year"] = pd.array([2021] * 60 + [2022] * 51 + [2023] * 9, dtype="Int64")
    pm = fit_post_models(df, predictors=("has_poll", "has_url"), models=("ols_log",))
    assert pm.diagnostics["impressions"]["n"] == 120 and not any(t.startswith("year") for t in pm.table["term"])
    (r,) = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts" and r["outcome"] == "impressions"]
    assert (r["term"], r["n"], r["action"], r["n_left_out"]) == ("year[2023]", 9, "column_left_out", 0)
    assert "'year' is left out of the impressions models and its posts are kept" in r["message"]
    assert "rare level: year[2023] (with: 9)" in pm.diagnostics["impressions"]["flags"]


def test_badly_scaled_column_count_model_fits_and_maps_back_exactly():
    # an account size of 5,000,000 ± 1: NB by ML on the raw column is numerically singular; on centred and
    # scaled columns it fits, and the mapped-back estimates equal those of the same model with the column shifted
    rng = np.random.default_rng(3)
    n = 800
    x = rng.normal(0, 1, n)
    has = rng.random(n) < 0.4
    mu = np.exp(4 + 0.3 * has + 0.2 * x)
    y = rng.negative_binomial(1 / 0.8, 1 / (1 + 0.8 * mu))
    size = rng.normal(0, 1, n)
    base = pd.DataFrame({"impressions": pd.array(y, dtype="Int64"), "has_url": pd.array(has, dtype="boolean"), "n_x": x})
    kw = {"outcomes": ("impressions",), "predictors": ("has_url", "n_x"), "controls": ("account_size",),
          "models": ("negbin",)}
    big = fit_post_models(base.assign(account_size=5e6 + size), **kw)
    small = fit_post_models(base.assign(account_size=size), **kw)
    (f,) = big.records["fitted_terms"]
    assert f["fit_method"] == "nb2_ml"
    a, b = rows_of(big.table, "impressions", "negbin"), rows_of(small.table, "impressions", "negbin")
    for term in ("has_url", "n_x", "account_size"):
        assert a.loc[term, "estimate"] == pytest.approx(b.loc[term, "estimate"], rel=1e-5, abs=1e-7)
        assert a.loc[term, "std_error"] == pytest.approx(b.loc[term, "std_error"], rel=1e-4)
    assert big.diagnostics["impressions"]["dispersion"]["negbin_alpha"] == pytest.approx(
        small.diagnostics["impressions"]["dispersion"]["negbin_alpha"], rel=1e-5
    )


def test_glm_fallback_on_scaled_columns_equals_statsmodels_on_the_raw_design():
    rng = np.random.default_rng(6)
    X = pd.DataFrame({"a": rng.random(300) < 0.5, "b": rng.normal(50, 10, 300)}).astype(float)
    y = rng.poisson(np.exp(1 + 0.5 * X["a"] + 0.02 * X["b"]))
    Z, A = wm._scaled_design(X, extra_params=0)
    scaled = wm.sm.GLM(y, wm._with_intercept(Z), family=wm.sm.families.Poisson()).fit(cov_type="HC0")
    mapped = wm.RescaledFit(scaled, A, ["Intercept", "a", "b"])
    raw = wm.sm.GLM(y, wm._with_intercept(X), family=wm.sm.families.Poisson()).fit(cov_type="HC0")
    np.testing.assert_allclose(mapped.params, raw.params, rtol=1e-8)
    np.testing.assert_allclose(mapped.bse, raw.bse, rtol=1e-6)
    np.testing.assert_allclose(mapped.conf_int(0.05), np.asarray(raw.conf_int(0.05)), rtol=1e-6)
    np.testing.assert_allclose(mapped.pvalues, raw.pvalues, rtol=1e-5, atol=1e-300)


def test_sentences_name_the_reference_level_of_media_type():
    df = media_posts()
    pm = fit_post_models(df, predictors=("media_type",), controls=(), models=("ols_log",))
    refs = pm.diagnostics["impressions"]["reference_levels"]
    sentences = describe_effects(pm.table, outcome="impressions", reference_levels=refs)
    (video,) = [x for x in sentences if "'video'" in x]
    assert video.startswith("Posts with media type 'video' (against media type 'none') received")


def test_collab_posts_by_another_account_are_left_out_and_counted():
    """Issue 19.9/19.11: a collab post published by another account (is_own_post False) is not this account's
    posting: out of the models by default, counted in the population record, named in a flag."""
    df = replies_heavy()
    df = df[~df["is_reply"].astype(bool)].reset_index(drop=True)
    df["is_own_post"] = pd.array([True] * len(df), dtype="boolean")
    df.loc[:4, "is_own_post"] = False
    df["author"] = pd.Series([None] * len(df), dtype="string")
    df.loc[:4, "author"] = "partner_lab"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        pm = fit_post_models(df, predictors=RH_PREDICTORS, models=("ols_log",))
    pop = pm.records["population"]
    assert pop["n_collab_out"] == 5 and pop["n_in"] == len(df) - 5
    assert pm.diagnostics["impressions"]["n"] == len(df) - 5
    (flag,) = [r for r in pm.records["flags"] if r["code"] == "collab_posts_left_out"]
    assert flag["n"] == 5 and "partner_lab" in flag["message"]


def test_influential_posts_are_read_from_the_callers_rows_across_populations_and_platforms(ref_data):
    """fit_post_models copies only the columns it fits; the influential posts' ids and links come from the
    caller's table through row positions: with posts left out (replies, a collab post) and two platforms, each
    listed post is the row its label names, in that platform, and its Cook's distance is the one of a fit on
    exactly that platform's modelled rows."""
    rng = np.random.default_rng(7)
    df = pd.concat([ref_data, ref_data.assign(post_id=lambda d: "b" + d["post_id"])], ignore_index=True)
    df["platform"] = ["x"] * len(ref_data) + ["bluesky"] * len(ref_data)
    df["permalink"] = pd.array([f"https://example.org/{i}" for i in df["post_id"]], dtype="string")
    df["is_reply"] = pd.array(rng.random(len(df)) < 0.2, dtype="boolean")
    df["is_own_post"] = pd.array(rng.random(len(df)) > 0.01, dtype="boolean")
    df = df.set_axis(rng.permutation(len(df)) * 3 + 1000)  # labels that are not positions
    pm = fit_post_models(df, outcomes=("impressions",), models=("ols_log",))
    for platform in ("x", "bluesky"):
        listed = pm.diagnostics[f"{platform}: impressions"]["influential"]
        assert len(listed) == wm.N_INFLUENTIAL
        keep = (df["platform"] == platform) & ~df["is_reply"].to_numpy(dtype=bool) & df["is_own_post"].to_numpy(dtype=bool)
        alone = fit_post_models(df[keep.to_numpy()].drop(columns=["platform"]), outcomes=("impressions",),
                                models=("ols_log",))
        assert listed == alone.diagnostics["impressions"]["influential"]
        for entry in listed:
            row = df.loc[entry["row"]]
            assert row["post_id"] == entry["post_id"] and row["permalink"] == entry["permalink"]
            assert row["platform"] == platform and not row["is_reply"] and row["is_own_post"]


def test_outcomes_with_the_same_posts_share_one_design_and_fit_as_alone(ref_data):
    """Two outcomes over the same posts and terms share one design (not one n × p copy each); an outcome with
    other posts (NA elsewhere) gets its own; every table row equals the fit of that outcome alone."""
    df = ref_data[ref_data["impressions"].notna() & ref_data["engagements"].notna()].copy()
    df["clicks"] = df["engagements"].astype("Int64")
    df.loc[df.index[::7], "clicks"] = pd.NA
    outcomes = ("impressions", "engagements", "clicks")
    pm = fit_post_models(df, outcomes=outcomes, models=("ols_log", "negbin"))
    X = {o: pm.fits[(o, "ols_log")]._X for o in outcomes}
    assert X["impressions"] is X["engagements"] and X["clicks"] is not X["impressions"]
    assert pm.fits[("engagements", "negbin")]._X is X["impressions"]
    for o in outcomes:
        alone = fit_post_models(df, outcomes=(o,), models=("ols_log", "negbin"))
        got = pm.table[pm.table["outcome"] == o].drop(columns=["p_holm_across_outcomes"]).reset_index(drop=True)
        want = alone.table.drop(columns=["p_holm_across_outcomes"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert pm.diagnostics[o]["influential"] == alone.diagnostics[o]["influential"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_population_codes_give_what_the_strings_gave(seed):
    """_population works on post-type codes: its categoricals and the per-source counts (order included, ties
    in order of first appearance) equal those built from a million strings, as they were."""
    rng = np.random.default_rng(seed)
    n = 60
    texts = ["x", "bluesky", "unknown", "", "X"]
    codes = rng.integers(0, len(texts) - seed, n)
    got = wm._sorted_categorical(codes, texts)
    want = pd.Categorical(np.array(texts, dtype=object)[codes])
    assert list(got.categories) == list(want.categories) and (got == want).all()
    source = rng.integers(0, 5, n) if seed else np.repeat([4, 0, 2, 1, 3], n // 5)  # seed 0: every count ties
    strings = pd.Series(np.array(wm.POST_TYPE_SOURCES, dtype=object)[source], dtype="string")
    assert list(wm._source_counts(source).items()) == [(str(k), int(v)) for k, v in strings.value_counts().items()]
    assert list(wm._sorted_categorical(np.zeros(0, dtype=np.int64), texts)) == []


def _reach_by_type_reference(posts, *, column="media_type", metrics=("impressions", "engagements")):
    """reach_by_type as it was written before issue 14: groupby on a million strings."""
    codes, texts = wm._level_codes(column, posts[column])
    kind = np.array([*texts, "unknown"], dtype=object)[codes]
    frame = pd.DataFrame({"platform": posts["platform"].astype("string").to_numpy() if "platform" in posts.columns
                          else pd.NA, "type": kind})
    frame["platform"] = frame["platform"].astype("string")
    present = [m for m in metrics if m in posts.columns]
    for m in present:
        frame[m] = wm._numeric(posts[m])
    grouped = frame.groupby(["platform", "type"], dropna=False, sort=True)
    out = grouped.size().rename("n").reset_index()
    for m in metrics:
        if m in present:
            out[f"n_{m}"] = grouped[m].count().to_numpy()
            out[f"median_{m}"] = grouped[m].median().to_numpy()
        else:
            out[f"n_{m}"] = 0
            out[f"median_{m}"] = np.nan
    totals = out.groupby("platform", dropna=False)["n"].transform("sum")
    out.insert(3, "share", out["n"] / totals)
    return out.sort_values(["platform", "n"], ascending=[True, False], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("seed", range(6))
def test_reach_by_type_on_codes_equals_the_string_groupby(seed):
    rng = np.random.default_rng(seed)
    n = 500
    kinds = rng.choice(["Photo", "photo ", "video", None, "text"], n)
    df = pd.DataFrame({
        "media_type": pd.Categorical(kinds) if seed % 2 else pd.array(kinds, dtype="string"),
        "impressions": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 50, n)), dtype="Int64"),
        "engagements": pd.array(np.where(rng.random(n) < 0.5, None, rng.integers(0, 5, n)), dtype="Int64"),
    })
    if seed != 3:  # seed 3: no platform column
        plats = rng.choice(["x", "bluesky", None, "X"], n)
        df["platform"] = (pd.Categorical(plats) if seed % 3 == 0
                          else pd.array(plats, dtype="string") if seed % 3 == 1 else plats.astype(object))
    if seed == 4:
        df["engagements"] = pd.array([None] * n, dtype="Int64")
    for frame in (df, df.head(0), df.head(7)):
        for metrics in (("impressions", "engagements"), ("impressions", "not_a_column")):
            pd.testing.assert_frame_equal(wm.reach_by_type(frame, metrics=metrics),
                                          _reach_by_type_reference(frame, metrics=metrics), check_exact=True)


def _judged_posts(n: int, seed: int, **minorities: int) -> pd.DataFrame:
    """``small_posts`` with yes/no features set on the first k posts each (so their minorities overlap)."""
    df = small_posts(n, seed=seed)
    for name, k in minorities.items():
        flag = np.zeros(n, dtype=bool)
        flag[:k] = True
        df[name] = pd.array(flag, dtype="boolean")
    return df


def test_every_predictor_is_judged_on_the_same_posts_and_a_large_minority_keeps_its_posts():
    # review15 X3: on 24 posts, leaving out 2 without a link, then the posts with mentions, then 9 with emoji
    # left 3 of 11 with a hashtag (11 of the 24 have one) and no predictor; the notes said "3 of 20"
    n = 24
    df = small_posts(n, seed=4)
    url = np.ones(n, dtype=bool)
    url[[0, 1]] = False
    emoji = np.zeros(n, dtype=bool)
    emoji[2:11] = True
    df["has_url"] = pd.array(url, dtype="boolean")
    df["has_emoji"] = pd.array(emoji, dtype="boolean")
    df["n_mentions"] = pd.array([1, 0, 2] + [0] * (n - 3), dtype="Int64")
    df["n_hashtags"] = pd.array([1] * 11 + [0] * 13, dtype="Int64")  # 8 of the 11 also have an emoji or no link
    pm = fit_post_models(df, predictors=("has_url", "n_mentions", "has_emoji", "n_hashtags"), controls=(),
                         models=("ols_log",))
    t = rows_of(pm.table, "impressions", "ols_log")
    assert "n_hashtags" in t.index and t.loc["n_hashtags", "n"] == n  # every post kept
    rare = {r["term"]: r for r in pm.records["dropped"] if r["code"] == "too_few_posts" and r["outcome"] == "impressions"}
    assert {k: (r["n"], r["n_judged"], r["action"]) for k, r in rare.items()} == {
        "has_url": (2, 24, "column_left_out"), "n_mentions": (2, 24, "column_left_out"),
        "has_emoji": (9, 24, "column_left_out")}
    assert "only 9 of 24 posts with 'has_emoji'" in rare["has_emoji"]["message"]
    assert rare["has_url"]["reason"] == ("only 2 of 24 posts lack it, fewer than the 10 needed: left out of the "
                                         "impressions models, those posts kept")


def test_rare_posts_are_left_out_only_when_few_and_when_no_other_feature_loses_its_estimate():
    # 8 of 400 posts with a poll (2%): left out with their posts, has_url estimated on the other 392
    df = _judged_posts(400, 5, has_poll=8)
    pm = fit_post_models(df, predictors=("has_poll", "has_url"), controls=(), models=("ols_log",))
    (r,) = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts" and r["outcome"] == "impressions"]
    assert (r["term"], r["n"], r["action"], r["n_left_out"]) == ("has_poll", 8, "posts_left_out", 8)
    assert pm.diagnostics["impressions"]["n"] == 392
    # the 8 poll posts are among the only 10 with a video: leaving them out would leave has_video 2 posts, so
    # has_poll is left out with its posts kept (and the message names has_video), has_video is estimated
    df = _judged_posts(400, 5, has_poll=8, has_video=10)
    pm = fit_post_models(df, predictors=("has_poll", "has_video"), controls=(), models=("ols_log",))
    (r,) = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts" and r["outcome"] == "impressions"]
    assert (r["term"], r["action"]) == ("has_poll", "column_left_out")
    assert "would leave predictor 'has_video' with only 2 posts with 'has_video'" in r["message"]
    assert "has_video" in set(pm.table["term"]) and pm.diagnostics["impressions"]["n"] == 400
    # the posts left out for rare groups never pass MAX_LEFT_OUT_SHARE of the judged posts in all
    df = _judged_posts(400, 5, has_poll=9, has_gif=9, has_thread=9)
    df["has_gif"] = pd.array(np.roll(df["has_gif"].to_numpy(bool), 100), dtype="boolean")
    df["has_thread"] = pd.array(np.roll(df["has_thread"].to_numpy(bool), 200), dtype="boolean")
    pm = fit_post_models(df, predictors=("has_poll", "has_gif", "has_thread", "has_url"), controls=(),
                         models=("ols_log",))
    rec = [r for r in pm.records["dropped"] if r["code"] == "too_few_posts" and r["outcome"] == "impressions"]
    assert [r["action"] for r in rec] == ["posts_left_out", "posts_left_out", "column_left_out"]
    assert sum(r["n_left_out"] for r in rec) <= wm.MAX_LEFT_OUT_SHARE * 400
    assert pm.diagnostics["impressions"]["n"] == 400 - 18


def test_a_control_dropped_from_the_rate_model_only_names_that_model_and_a_separated_year_is_flagged():
    # review15 M5/M4: one page's 2025 posts have no impressions and all-0 engagements; the 2017 page's have
    # both. The rate model (posts with impressions) has one year: that is said of negbin_rate, not of "the
    # posts used for this outcome" (the other models hold year); the negbin fit separated on year[2025] (−62.8)
    rng = np.random.default_rng(12)
    n = 60
    df = small_posts(n, seed=12)
    old = np.arange(n) < 30
    df["year"] = pd.array(np.where(old, 2017, 2025), dtype="Int64")
    df["impressions"] = pd.array(np.where(old, rng.integers(1000, 9000, n), pd.NA), dtype="Int64")
    df["engagements"] = pd.array(np.where(old, rng.integers(5, 90, n), 0), dtype="Int64")
    pm = fit_post_models(df, outcomes=("engagements",), predictors=("has_url",))
    msgs = [r["message"] for r in pm.records["flags"] if r["code"] == "constant_in_sample"]
    assert msgs == ["engagements (negbin_rate, on its 30 posts): control 'year' has a single value in those posts; "
                    "dropped from negbin_rate."]
    assert not any(r["term"] == "year" for r in pm.records["dropped"])  # the report's "left out of the models"
    t = pm.table
    assert "year[2025]" in set(t[t["model"] == "ols_log"]["term"])
    sep = pm.diagnostics["engagements"]["separation"]
    assert {(s["term"], s["level"], s["n_posts"]) for s in sep} == {("year[2025]", 1, 30)}
    assert "separation: year[2025] (with: all 0)" in pm.diagnostics["engagements"]["flags"]
    assert "year[2025]" not in set(t[t["model"] == "negbin"]["term"])


def test_a_count_estimate_that_ran_off_is_flagged_as_separation():
    class Res:
        params = pd.Series({"Intercept": 1.0, "has_url": -62.8, "n_hashtags": 0.3})
        bse = pd.Series({"Intercept": 0.1, "has_url": 3.0e4, "n_hashtags": 0.1})
        nobs = 39

    notes = wm._Notes()
    fit = wm._OutcomeFit.__new__(wm._OutcomeFit)
    fit.outcome, fit.notes, fit.diag = "engagements", notes, {"flags": [], "separation": []}
    X = pd.DataFrame({"has_url": [0.0, 1.0, 1.0], "n_hashtags": [0.0, 3.0, 1.0]})
    wm._flag_runaway(fit, "negbin", Res(), {"has_url": "predictor", "n_hashtags": "predictor"}, X)
    (rec,) = notes.flags
    assert (rec["code"], rec["term"], rec["model"]) == ("separation_suspected", "has_url", "negbin")
    assert fit.diag["flags"] == ["separation suspected: has_url (negbin estimate -62.8 on the log scale)"]
