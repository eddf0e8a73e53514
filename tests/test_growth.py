"""Tests of workbench/growth.py: unit cases, R reference values, scipy checks and simulations with known truth.

Reference values in tests/results/growth/reference.csv were computed by tests/results/growth/make_reference.R
(R lm + sandwich::NeweyWest, t.test, wilcox.test) from tests/results/growth/account_monthly.csv and
tests/results/growth/account_counts.csv (a counting process simulated in R).

Follower counts are simulated as what they are — a counting process (daily Poisson follows minus Poisson
unfollows) observed in snapshots — and the increments model is refitted for hundreds of seeds at once with an
independent numpy implementation (closed-form WLS + Newey–West), checked once against compare_growth.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.signal import lfilter

from workbench.dataset import Intervention
from workbench.errors import InputError
from workbench.growth import (
    REBUILT_WARNING,
    _compare_slopes,
    _fit_rates,
    _placebo,
    compare_growth,
    fixed_b_df,
    monthly_metrics,
    newey_west_lags,
    prepare_growth_increments,
    prepare_growth_series,
)

RESULTS = Path(__file__).resolve().parent / "results" / "growth"


# ------------------------------------------------------------------------------------------------ helpers


def account_frame(dates, followers=None, **cols) -> pd.DataFrame:
    """A canonical-looking account table (only the columns a test needs)."""
    df = pd.DataFrame({"date": pd.to_datetime(list(dates))})
    df["platform"] = "x"
    df["account"] = "acct"
    if followers is not None:
        df["followers"] = pd.array(followers, dtype="Int64")
    for name, values in cols.items():
        df[name] = pd.array(values, dtype="Int64") if name != "source_file" else values
    return df


def simulate_levels(
    seed: int,
    *,
    n: int = 730,
    phi: float = 0.3,
    sd: float = 3.0,
    slope_before: float = 1.0,
    slope_after: float = 1.0,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Daily follower level: piecewise-linear trend (continuous at the midpoint) + stationary AR(1) noise."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-01", periods=n, freq="D")
    days = np.arange(n, dtype=float)
    t_int = days[n // 2]
    noise = lfilter([1.0], [1.0, -phi], rng.normal(0.0, sd, n + 300))[300:]  # burn-in → stationary
    level = 1000 + slope_before * days + (slope_after - slope_before) * np.clip(days - t_int, 0, None) + noise
    return pd.DataFrame({"date": dates, "followers": level}), dates[n // 2]


def split_for_slopes(df: pd.DataFrame, when: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    days = (df["date"] - df["date"].iloc[0]) / pd.Timedelta(days=1)
    frame = pd.DataFrame({"date": df["date"], "days": days, "value": df["followers"].astype(float)})
    post = frame["date"] >= when
    return frame.loc[~post], frame.loc[post]


def rel_close(actual, expected, rel=1e-6):
    assert actual is not None
    assert actual == pytest.approx(expected, rel=rel, abs=1e-12), (actual, expected)


# ------------------------------------------------------------------------------------ prepare_growth_series


def test_prepare_uses_days_not_row_index_and_drops_na_levels():
    dates = ["2021-01-01", "2021-01-02", "2021-01-11", "2021-01-12", "2021-01-31", "2021-02-05"]
    followers = [100, 102, None, 122, 160, None]
    acc = account_frame(dates, followers)
    before = acc.copy()
    series, warnings = prepare_growth_series(acc)
    pd.testing.assert_frame_equal(acc, before)  # input not mutated
    assert list(series.columns) == ["date", "days", "value"]
    assert series["days"].tolist() == [0.0, 1.0, 11.0, 30.0]
    assert series["value"].tolist() == [100.0, 102.0, 122.0, 160.0]
    assert any("2 rows without a followers value" in w for w in warnings)
    # exactly 2 followers/day in calendar time: a row-index slope would be (160-100)/3 = 20
    res = compare_growth(acc, interventions=[])
    assert res["periods"][0]["slope_per_day"] == pytest.approx(2.0)
    assert res["periods"][0]["intercept"] == pytest.approx(100.0)


def test_prepare_rebuilds_level_from_new_follows():
    acc = account_frame(
        ["2021-03-01", "2021-03-02", "2021-03-04", "2021-03-05"],
        [None, None, None, None],
        new_follows=[5, 7, None, 4],
        unfollows=[1, None, 3, 2],
    )
    series, warnings = prepare_growth_series(acc)
    # net = 4, (skipped: no unfollows), (skipped: no new follows), 2 → cumulative 4, 6; not a follower count
    assert series["value"].tolist() == [4.0, 6.0]
    assert series["days"].tolist() == [0.0, 4.0]
    assert series.attrs["basis"] == "net_flows"
    assert any(w.startswith(REBUILT_WARNING) for w in warnings)
    assert any("2 rows without new follows or unfollows" in w for w in warnings)


def test_prepare_without_follower_data_warns_and_compare_returns_no_periods():
    acc = account_frame(["2021-01-01", "2021-02-01"], None, impressions=[10, 20])
    series, warnings = prepare_growth_series(acc)
    assert series.empty and list(series.columns) == ["date", "days", "value"]
    assert any("no follower data" in w for w in warnings)
    res = compare_growth(acc, interventions=[("2021-01-15", "x")])
    assert res["periods"] == [] and res["series"] == []
    assert any("no follower data" in w for w in res["warnings"])
    json.dumps(res, allow_nan=False)


def test_prepare_unknown_metric_names_existing_columns():
    acc = account_frame(["2021-01-01"], [1])
    with pytest.raises(InputError, match=r"(?s)no 'subscribers' column.*Existing columns: \['date'"):
        prepare_growth_series(acc, metric="subscribers")


def test_prepare_chooses_one_account_when_several():
    a = account_frame(["2021-01-01", "2021-01-02", "2021-01-03"], [10, 11, 12])
    b = account_frame(["2021-01-01", "2021-01-02"], [500, 900]).assign(account="other")
    series, warnings = prepare_growth_series(pd.concat([a, b], ignore_index=True))
    assert series["value"].tolist() == [10.0, 11.0, 12.0]
    assert any("2 accounts" in w and "'x/acct'" in w for w in warnings)


def test_prepare_keeps_last_value_of_duplicated_dates():
    acc = account_frame(["2021-01-01", "2021-01-02", "2021-01-02"], [10, 11, 13])
    series, warnings = prepare_growth_series(acc)
    assert series["value"].tolist() == [10.0, 13.0]
    assert any("1 duplicated dates" in w for w in warnings)


def test_prepare_on_real_ropensci_monthly_sheet(ropensci_dir):
    raw = pd.read_csv(ropensci_dir / "twitter_metrics_monthly_rOpenSci.csv")
    acc = pd.DataFrame(
        {
            "date": pd.to_datetime(raw["date"]),
            "platform": "x",
            "account": "rOpenSci",
            "followers": pd.array(raw["followers"], dtype="Int64"),
            "new_follows": pd.array(raw["new_followers"], dtype="Int64"),
            "impressions": pd.array(raw["tweet_impressions"], dtype="Int64"),
            "posts": pd.array(raw["tweets"], dtype="Int64"),
            "source_file": "raw/twitter_metrics_monthly_rOpenSci.csv",
        }
    )
    n_na = int(raw["followers"].isna().sum())
    assert n_na > 0
    series, warnings = prepare_growth_series(acc)
    assert len(series) == len(raw) - n_na
    assert series["days"].is_monotonic_increasing and series["days"].iloc[0] == 0.0
    assert any(f"{n_na} rows without a followers value" in w for w in warnings)
    res = compare_growth(acc, interventions=[Intervention(pd.Timestamp("2019-01-01").date(), "New strategy")])
    json.dumps(res, allow_nan=False)
    assert [p["label"] for p in res["periods"]] == ["before", "New strategy"]
    assert res["periods"][0]["slope_per_day"] > 0 and res["periods"][1]["slope_per_day"] > 0
    assert res["monthly"]["n_before"] > 0 and res["monthly"]["n_after"] > 0
    assert any("2021-01" in w and "monthly sheet" in w for w in res["warnings"])


# ------------------------------------------------------------------------------------------ monthly_metrics


def test_monthly_metrics_sums_daily_rows_and_keeps_monthly_sheet_values():
    jan = pd.date_range("2021-01-01", "2021-01-31", freq="D")
    feb = pd.date_range("2021-02-01", "2021-02-10", freq="D")
    daily = account_frame(
        list(jan) + list(feb),
        None,
        impressions=[100] * len(jan) + [50] * len(feb),
        posts=[2] * len(jan) + [1] * len(feb),
    ).assign(source_file="raw/daily.csv")
    # monthly sheet: April missing, May; and March overlaps nothing
    sheet = account_frame(
        ["2021-03-03", "2021-05-02", "2021-06-04"], None, impressions=[7000, 9000, 8000], posts=[20, 30, 0]
    ).assign(source_file="raw/sheet.csv")
    acc = pd.concat([daily, sheet], ignore_index=True)
    out = monthly_metrics(acc, metrics=("impressions", "posts"))
    assert out["month"].tolist() == list(pd.date_range("2021-01-01", "2021-06-01", freq="MS"))
    assert out["impressions"].tolist()[:3] == [3100, 500, 7000]
    assert out["impressions"].isna().tolist() == [False, False, False, True, False, False]
    assert out["posts"].tolist()[:3] == [62, 10, 20]
    assert str(out["impressions"].dtype) == "Int64"
    assert out["complete"].tolist() == [True, False, True, False, True, True]
    ipp = out["impressions_per_post"].to_numpy()
    assert ipp[0] == pytest.approx(3100 / 62) and ipp[2] == pytest.approx(350.0)
    assert math.isnan(ipp[3]) and math.isnan(ipp[5])  # no data; zero posts
    assert out.attrs["sources"] == {
        "impressions": "account",
        "posts": "account",
        "impressions_per_post": "account",
    }


def test_monthly_metrics_prefers_monthly_sheet_over_partial_daily_rows():
    daily = account_frame(pd.date_range("2021-03-01", "2021-03-05"), None, impressions=[10] * 5)
    daily["source_file"] = "raw/daily.csv"
    sheet = account_frame(["2021-01-04", "2021-02-03", "2021-03-02"], None, impressions=[1, 2, 999])
    sheet["source_file"] = "raw/sheet.csv"
    out = monthly_metrics(pd.concat([daily, sheet], ignore_index=True), metrics=("impressions",))
    assert out["impressions"].tolist() == [1, 2, 999]


def test_monthly_metrics_falls_back_to_posts():
    acc = account_frame(["2021-01-01", "2021-02-01", "2021-03-01"], [1, 2, 3])
    posts = pd.DataFrame(
        {
            "published_at": pd.to_datetime(
                ["2021-01-05T10:00Z", "2021-01-31T23:59Z", "2021-03-01T00:30Z"], utc=True
            ),
            "impressions": pd.array([100, 300, None], dtype="Int64"),
            "engagements": pd.array([1, 2, 3], dtype="Int64"),
        }
    )
    out = monthly_metrics(acc, posts)
    assert out["month"].dt.strftime("%Y-%m").tolist() == ["2021-01", "2021-02", "2021-03"]
    assert out["impressions"].tolist()[0] == 400 and out["impressions"].isna().tolist() == [False, True, True]
    assert out["engagements"].tolist()[0] == 3 and out["engagements"].tolist()[2] == 3
    assert out["posts"].tolist()[0] == 2 and out["posts"].tolist()[2] == 1
    assert out["impressions_per_post"].iloc[0] == pytest.approx(200.0)
    assert out.attrs["sources"] == {
        "impressions": "posts",
        "engagements": "posts",
        "posts": "posts",
        "impressions_per_post": "posts",
    }
    assert any("built from the posts table" in w for w in out.attrs["warnings"])


def test_monthly_metrics_warns_about_two_sheet_rows_in_one_month():
    acc = account_frame(
        ["2021-01-03", "2021-01-04", "2021-02-05", "2021-03-02"],
        None,
        impressions=[5, 6, 7, 8],
        source_file=["s.csv"] * 4,
    )
    out = monthly_metrics(acc, metrics=("impressions",))
    assert out["impressions"].tolist() == [6, 7, 8]
    assert any("2021-01" in w for w in out.attrs["warnings"])


def test_monthly_metrics_unknown_metric():
    acc = account_frame(["2021-01-01"], [1])
    with pytest.raises(InputError, match=r"(?s)monthly metric 'likes'.*Existing columns"):
        monthly_metrics(acc, metrics=("likes",))


# ----------------------------------------------------------------------------------- reference values (R)


@pytest.fixture(scope="module")
def reference() -> pd.Series:
    return pd.read_csv(RESULTS / "reference.csv").set_index("name")["value"]


@pytest.fixture(scope="module")
def reference_account() -> pd.DataFrame:
    acc = pd.read_csv(RESULTS / "account_monthly.csv", parse_dates=["date"])
    for col in ("followers", "impressions"):
        acc[col] = acc[col].astype("Int64")
    return acc


@pytest.fixture(scope="module")
def reference_result(reference_account) -> dict:
    return compare_growth(reference_account, interventions=[("2021-07-01", "Designer joined")])


def test_periods_match_r(reference_result, reference):
    for k, period in enumerate(reference_result["periods"]):
        tag = f"period{k}_"
        assert period["n"] == int(reference[tag + "n"])
        rel_close(period["slope_per_day"], reference[tag + "slope"])
        rel_close(period["slope_ci"][0], reference[tag + "slope_ci_low"])
        rel_close(period["slope_ci"][1], reference[tag + "slope_ci_high"])
        rel_close(period["intercept"], reference[tag + "intercept"])
        rel_close(period["r2"], reference[tag + "r2"])
    assert reference_result["periods"][1]["label"] == "Designer joined"
    assert reference_result["origin"] == "2020-01-01"


@pytest.mark.parametrize("maxlags, tag", [(None, "hac_rule_"), (1, "hac_lag1_")])
def test_level_model_matches_r_newey_west(reference_account, reference, maxlags, tag):
    # the segmented level regression is kept under level_model, for comparison with the published form
    res = compare_growth(reference_account, interventions=[("2021-07-01", "x")], maxlags=maxlags)
    level = res["level_model"]
    assert set(level) == {"slope_change", "slope_ratio", "slope_ratio_ci", "naive_p_value"}
    change = level["slope_change"]
    assert change["cov_type"] == "HAC" and change["maxlags"] == int(reference[tag + "maxlags"])
    rel_close(change["estimate"], reference[tag + "change"])
    rel_close(change["ci"][0], reference[tag + "change_ci_low"])
    rel_close(change["ci"][1], reference[tag + "change_ci_high"])
    rel_close(change["p_value"], reference[tag + "change_p"])
    rel_close(level["slope_ratio"], reference[tag + "ratio"])
    rel_close(level["slope_ratio_ci"][0], reference[tag + "ratio_ci_low"])
    rel_close(level["slope_ratio_ci"][1], reference[tag + "ratio_ci_high"])
    rel_close(level["naive_p_value"], reference["naive_p_value"])
    rel_close(res["naive_p_value"], reference["naive_p_value"])  # the published form's naive p, top level


@pytest.mark.parametrize("maxlags, tag", [(None, "inc_rule_"), (1, "inc_lag1_")])
def test_increments_model_matches_r(reference_account, reference, maxlags, tag):
    res = compare_growth(reference_account, interventions=[("2021-07-01", "x")], maxlags=maxlags)
    assert res["n_increments"] == int(reference[tag + "n_increments"]) == 34  # 35 levels, one NA month
    _check_increments_against_r(res, res["periods"], reference, tag, comparison=0)
    assert res["equivalence"]["equivalent"] is False
    assert ("Newey" in res["maxlags_rule"]) == (maxlags is None)
    assert "delta method on log" in res["slope_ratio_method"] and "increments" in res["slope_ratio_method"]
    assert f"t({reference[tag + 'df']:.4g})" in res["slope_change"]["fixed_b_method"]
    assert "bootstrap" in res["growth_model"]


def _check_increments_against_r(res: dict, periods: list[dict], reference, tag: str, *, comparison: int):
    """Compare one comparison of compare_growth (and all period rates) with the R increments model."""
    for k, period in enumerate(periods):
        rel_close(period["rate_per_day"], reference[f"{tag}rate{k}"])
        # the R reference is the uncalibrated Newey–West fixed-b form (kept as *_fixed_b)
        rel_close(period["rate_ci_fixed_b"][0], reference[f"{tag}rate{k}_ci_low"])
        rel_close(period["rate_ci_fixed_b"][1], reference[f"{tag}rate{k}_ci_high"])
    ct = f"{tag}cmp{comparison}_"
    change = res["slope_change"]
    assert change["cov_type"] == "HAC" and change["maxlags"] == int(reference[tag + "maxlags"])
    rel_close(change["estimate"], reference[ct + "change"])
    rel_close(change["ci_fixed_b"][0], reference[ct + "change_ci_low"])
    rel_close(change["ci_fixed_b"][1], reference[ct + "change_ci_high"])
    rel_close(change["p_value_fixed_b"], reference[ct + "change_p"])
    rel_close(res["slope_ratio"], reference[ct + "ratio"])
    rel_close(res["slope_ratio_ci_fixed_b"][0], reference[ct + "ratio_ci_low"])
    rel_close(res["slope_ratio_ci_fixed_b"][1], reference[ct + "ratio_ci_high"])
    rel_close(res["equivalence"]["p_value_fixed_b"], reference[ct + "tost_p"])
    # the reported test is of the growth ratio on the log scale; its uncalibrated fixed-b p is R's
    assert change["test"] == "log_ratio"
    rel_close(change["p_value_ratio_fixed_b"], reference[ct + "ratio_p"])
    lo, hi = res["slope_ratio_ci"]
    assert (change["p_value"] < 0.05) == (not lo <= 1.0 <= hi)
    # the calibrated values use the same estimates and standard errors with the bootstrap critical value
    crit = change["critical_value"]
    half = (change["ci_fixed_b"][1] - change["ci_fixed_b"][0]) / 2
    assert change["ci"][1] - change["ci"][0] == pytest.approx(2 * half * crit / stats.t.ppf(0.975, change["fixed_b_df"]))
    cf = res["counterfactual"]
    # the projection is the R model's; its interval now uses the before period's long-run variance
    rel_close(cf["projected"][0], reference[ct + "cf_projected_first"])
    rel_close(cf["projected_end"], reference[ct + "cf_projected_end"])
    rel_close(cf["excess_end"], reference[ct + "cf_excess_end"])
    rel_close(cf["excess_ci"][0], cf["observed_end"] - cf["pi_high"][-1])
    rel_close(cf["excess_ci"][1], cf["observed_end"] - cf["pi_low"][-1])


def test_two_interventions_on_a_counting_process_match_r(reference):
    acc = pd.read_csv(RESULTS / "account_counts.csv", parse_dates=["date"])
    acc["followers"] = acc["followers"].astype("Int64")
    res = compare_growth(acc, interventions=[("2020-07-01", "first"), ("2021-10-17", "second")])
    assert res["n_increments"] == int(reference["counts_n_increments"]) == 44  # 48 snapshots, 3 NA
    assert len(res["comparisons"]) == 2
    for k, comp in enumerate(res["comparisons"]):
        _check_increments_against_r(comp, res["periods"], reference, "counts_", comparison=k)
    # the true rates (1.0, 1.5, 2.2 per day) are inside the intervals
    for period, truth in zip(res["periods"], (1.0, 1.5, 2.2), strict=True):
        assert period["rate_ci"][0] < truth < period["rate_ci"][1]


def test_counterfactual_shape(reference_result):
    # its values are compared with R in test_increments_model_matches_r
    cf = reference_result["counterfactual"]
    assert cf["anchor"] == {"date": reference_result["periods"][0]["end"], "value": 5497.0}
    assert cf["dates"][0] == reference_result["periods"][1]["start"]
    assert (
        len(cf["dates"]) == len(cf["projected"]) == len(cf["pi_low"]) == reference_result["periods"][1]["n"]
    )


def test_monthly_comparison_matches_r(reference_result, reference):
    m = reference_result["monthly"]
    assert m["metric"] == "impressions"
    assert m["n_before"] == int(reference["monthly_n_before"]) and m["n_after"] == int(
        reference["monthly_n_after"]
    )
    rel_close(m["before_mean"], reference["monthly_before_mean"])
    rel_close(m["after_mean"], reference["monthly_after_mean"])
    rel_close(m["welch_p_two_sided"], reference["welch_p_two_sided"])
    rel_close(m["welch_p_one_sided"], reference["welch_p_one_sided"])
    rel_close(m["mannwhitney_p"], reference["mannwhitney_p"])
    rel_close(m["fold_change"], reference["fold_change"])
    rel_close(m["fold_change_ci"][0], reference["fold_change_ci_low"])
    rel_close(m["fold_change_ci"][1], reference["fold_change_ci_high"])
    rel_close(m["effect_size"], reference["hedges_g"])
    assert "delta method" in m["fold_change_method"]


def test_reference_result_has_the_growth_json_contract(reference_result):
    res = reference_result
    text = json.dumps(res, allow_nan=False)
    assert json.loads(text) == res
    assert res["metric"] == "followers" and res["unit"] == "followers per day"
    assert set(res["periods"][0]) >= {
        "label",
        "start",
        "end",
        "n",
        "slope_per_day",
        "slope_ci",
        "r2",
        "intercept",
    }
    assert set(res["slope_change"]) >= {"estimate", "ci", "p_value", "cov_type", "maxlags"}
    assert set(res["monthly"]) >= {
        "metric",
        "before_mean",
        "after_mean",
        "fold_change",
        "fold_change_ci",
        "welch_p_two_sided",
        "welch_p_one_sided",
        "mannwhitney_p",
        "n_before",
        "n_after",
        "effect_size",
        "fold_change_method",
    }
    assert set(res["equivalence"]) >= {"margin", "p_value", "equivalent", "method"}
    assert set(res["counterfactual"]) >= {
        "dates",
        "projected",
        "pi_low",
        "pi_high",
        "observed_end",
        "projected_end",
        "excess_end",
        "excess_ci",
    }
    assert len(res["comparisons"]) == 1
    # the top level describes the first (here: only) intervention
    assert res["comparisons"][0]["slope_change"] == res["slope_change"]
    assert res["series"][0] == {"date": "2020-01-01", "value": 5025.0, "period": "before"}
    assert res["monthly_series"][0] == {"month": "2020-01-01", "impressions": 20000.0, "period": "before"}
    assert {s["period"] for s in res["series"]} == {"before", "Designer joined"}
    assert any("1 rows without a followers value" in w for w in res["warnings"])
    # the fixed-b degrees of freedom make the short-series Newey–West test honest: no "optimistic" warning
    assert not any("optimistic" in w for w in res["warnings"])
    assert set(res["periods"][0]) >= {"rate_per_day", "rate_ci"}
    assert set(res["level_model"]) == {"slope_change", "slope_ratio", "slope_ratio_ci", "naive_p_value"}
    assert res["comparisons"][0]["level_model"] == res["level_model"]
    assert res["n_increments"] == 34 and "WLS" in res["growth_model"]


def test_welch_and_mann_whitney_agree_with_scipy_and_hand_formulas(reference_result, reference_account):
    imp = reference_account["impressions"].astype(float).to_numpy()
    post = (reference_account["date"] >= "2021-07-01").to_numpy()
    x, y = imp[~post], imp[post]
    m = reference_result["monthly"]
    # Welch by hand: t and Satterthwaite df
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    t = (y.mean() - x.mean()) / math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    assert m["welch_p_two_sided"] == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    assert m["welch_p_one_sided"] == pytest.approx(stats.t.sf(t, df), rel=1e-9)
    assert m["mannwhitney_p"] == pytest.approx(stats.mannwhitneyu(y, x, method="exact").pvalue, rel=1e-9)
    # exact Mann–Whitney p by enumerating the U distribution (independent of scipy): no ties, 18 vs 18
    u = int(sum((yi > x).sum() for yi in y))
    counts = _u_distribution(len(y), len(x))
    cdf = np.cumsum(counts) / counts.sum()
    p_exact = min(1.0, 2 * min(cdf[u], 1 - (cdf[u - 1] if u else 0.0)))
    assert m["mannwhitney_p"] == pytest.approx(p_exact, rel=1e-9)


def _u_distribution(n1: int, n2: int) -> np.ndarray:
    """Counts of the Mann–Whitney U statistic under H0 by the standard recursion (exact integers)."""
    table = {}

    def f(a, b):
        if (a, b) in table:
            return table[(a, b)]
        if a == 0 or b == 0:
            res = np.zeros(a * b + 1, dtype=object)
            res[0] = 1
        else:
            left, right = f(a - 1, b), f(a, b - 1)
            res = np.zeros(a * b + 1, dtype=object)
            res[b : b + len(left)] += left  # the largest value is from sample 1: adds b to U
            res[: len(right)] += right
        table[(a, b)] = res
        return res

    return f(n1, n2).astype(float)


# ---------------------------------------------------------------------------------------- hand-derived cases


def test_exact_piecewise_line_gives_exact_slopes_and_counterfactual():
    dates = pd.to_datetime(
        [
            "2021-01-01",
            "2021-01-03",
            "2021-01-06",
            "2021-01-10",
            "2021-01-12",
            "2021-01-15",
            "2021-01-20",
            "2021-01-21",
        ]
    )
    days = ((dates - dates[0]) / pd.Timedelta(days=1)).to_numpy()
    # 2/day before 2021-01-12 (day 11), then 3/day, continuous at day 11
    level = np.where(days < 11, 100 + 2 * days, 122 + 3 * (days - 11))
    acc = account_frame(dates, level.astype(int))
    res = compare_growth(acc, interventions=[("2021-01-12", "launch")])
    before, after = res["periods"]
    assert before["slope_per_day"] == pytest.approx(2.0) and before["intercept"] == pytest.approx(100.0)
    assert after["slope_per_day"] == pytest.approx(3.0) and after["intercept"] == pytest.approx(122 - 33)
    assert before["r2"] == pytest.approx(1.0) and after["n"] == 4
    assert (before["start"], before["end"], after["start"]) == ("2021-01-01", "2021-01-10", "2021-01-12")
    assert res["slope_ratio"] == pytest.approx(1.5)
    assert res["slope_change"]["estimate"] == pytest.approx(1.0)
    assert res["level_model"]["slope_ratio"] == pytest.approx(1.5)
    # every increment is exactly 2/day before and 3/day after: exact rates, zero-width intervals
    assert (before["rate_per_day"], after["rate_per_day"]) == (pytest.approx(2.0), pytest.approx(3.0))
    assert after["rate_ci"] == pytest.approx([3.0, 3.0])
    cf = res["counterfactual"]
    assert cf["anchor"] == {"date": "2021-01-10", "value": 118.0}
    assert cf["projected"] == pytest.approx([100 + 2 * d for d in days[4:]])
    assert cf["pi_low"] == pytest.approx(cf["projected"]) and cf["pi_high"] == pytest.approx(cf["projected"])
    assert cf["observed_end"] == 122 + 3 * 9 and cf["excess_end"] == pytest.approx(149 - 140)
    json.dumps(res, allow_nan=False)


def test_newey_west_rule():
    assert [newey_west_lags(n) for n in (0, 10, 36, 100, 730, 1000)] == [
        0,
        math.floor(4 * 0.1 ** (2 / 9)),
        3,
        4,
        6,
        6,
    ]


# --------------------------------------------------------------------------------- several / degenerate cases


def test_several_interventions_compare_consecutive_periods():
    acc, mid = simulate_levels(3, n=600, slope_before=1.0, slope_after=1.5)
    d1, d2 = pd.Timestamp("2021-05-01"), mid
    res = compare_growth(acc, interventions=[Intervention(d2.date(), "second"), (d1, "first")])
    assert [p["label"] for p in res["periods"]] == ["before", "first", "second"]
    assert [(c["before"], c["after"]) for c in res["comparisons"]] == [
        ("before", "first"),
        ("first", "second"),
    ]
    assert res["slope_change"] == res["comparisons"][0]["slope_change"]
    # the level model of the second comparison is the segmented model fitted on the data from the first
    # intervention on
    later = acc.loc[acc["date"] >= d1]
    alone = compare_growth(later, interventions=[(d2, "second")])
    second = res["comparisons"][1]
    assert second["naive_p_value"] == pytest.approx(alone["naive_p_value"], rel=1e-10)
    for key in ("slope_ratio", "slope_ratio_ci", "naive_p_value"):
        assert second["level_model"][key] == pytest.approx(alone["level_model"][key], rel=1e-10)
    for key in ("estimate", "p_value", "maxlags"):
        assert second["level_model"]["slope_change"][key] == pytest.approx(
            alone["level_model"]["slope_change"][key], rel=1e-10
        )
    # the increments model is ONE model with a rate per period (all increments, none thrown away): each
    # comparison contrasts two of its rates, so the ratios are the ratios of the periods' rates
    rates = [p["rate_per_day"] for p in res["periods"]]
    for comp, (r0, r1) in zip(res["comparisons"], zip(rates, rates[1:], strict=False), strict=True):
        assert comp["slope_ratio"] == pytest.approx(r1 / r0, rel=1e-12)
        assert comp["slope_change"]["estimate"] == pytest.approx(r1 - r0, rel=1e-12)
        assert comp["n_increments"] == len(acc) - 1
    # daily levels: the WLS rate of a period is its total increase over its days (intervals never span a
    # boundary here because every day is observed)
    lvl = acc.set_index("date")["followers"]
    first = lvl.loc[lvl.index >= d1]
    first = first.loc[first.index < d2]
    expected_first = (lvl.loc[lvl.index >= d2].iloc[0] - first.iloc[0]) / ((d2 - first.index[0]).days)
    assert rates[1] == pytest.approx(expected_first, rel=1e-10)
    assert res["comparisons"][1]["slope_ratio"] == pytest.approx(1.5, rel=0.05)


def test_no_interventions_gives_one_period_and_null_comparison():
    acc, _ = simulate_levels(0, n=50)
    res = compare_growth(acc, interventions=[])
    assert len(res["periods"]) == 1 and res["comparisons"] == []
    assert res["slope_ratio"] is None and res["slope_change"]["p_value"] is None
    assert res["equivalence"]["equivalent"] is False and res["monthly"]["fold_change"] is None
    assert any("no interventions" in w for w in res["warnings"])
    json.dumps(res, allow_nan=False)


def test_short_period_gets_no_slope_and_a_warning():
    acc = account_frame(pd.date_range("2021-01-01", periods=10, freq="D"), list(range(100, 110)))
    res = compare_growth(acc, interventions=[("2021-01-09", "late")])
    assert res["periods"][1]["n"] == 2 and res["periods"][1]["slope_per_day"] is None
    assert res["periods"][1]["slope_ci"] == [None, None]
    assert res["slope_ratio"] is None and res["slope_change"]["estimate"] is None
    assert any("'late' has 2 data point(s)" in w for w in res["warnings"])
    json.dumps(res, allow_nan=False)


def test_intervention_after_the_data_and_mid_month_months():
    acc = account_frame(
        pd.date_range("2021-01-01", periods=90, freq="D"), list(range(90)), impressions=[10] * 90
    )
    res = compare_growth(acc, interventions=[("2021-02-15", "mid"), ("2022-01-01", "too late")])
    assert res["periods"][2]["n"] == 0 and res["periods"][2]["start"] is None
    assert any("'too late'" in w and "no data" in w for w in res["warnings"])
    # February contains the first intervention: not in either group of the monthly comparison
    assert [m["period"] for m in res["monthly_series"]] == ["before", "transition", "mid"]
    assert res["monthly"]["n_before"] == 1 and res["monthly"]["n_after"] == 1
    assert any("containing an intervention date" in w for w in res["warnings"])
    json.dumps(res, allow_nan=False)


def test_bad_margin_and_bad_intervention_are_input_errors():
    acc = account_frame(["2021-01-01"], [1])
    with pytest.raises(InputError, match="equivalence_margin"):
        compare_growth(acc, interventions=[], equivalence_margin=(1.2, 0.8))
    with pytest.raises(InputError, match=r"interventions\[0\]"):
        compare_growth(acc, interventions=[("not a date", "x")])


def test_compare_growth_does_not_mutate_inputs():
    acc, mid = simulate_levels(1, n=120)
    copy = acc.copy()
    compare_growth(acc, interventions=[(mid, "x")])
    pd.testing.assert_frame_equal(acc, copy)


# ------------------------------------------------------------------------------ simulations with known truth


def simulate_levels_batch(n_seeds, *, seed, n=730, phi=0.3, sd=3.0, slope_after=1.0):
    """:func:`simulate_levels` for many seeds at once: a trend plus STATIONARY AR(1) noise (not a count)."""
    rng = np.random.default_rng(seed)
    days = np.arange(n, dtype=float)
    noise = lfilter([1.0], [1.0, -phi], rng.normal(0.0, sd, (n_seeds, n + 300)), axis=1)[:, 300:]
    level = 1000 + days + (slope_after - 1.0) * np.clip(days - days[n // 2], 0, None) + noise
    t = np.broadcast_to(days, level.shape)
    return t, level, np.ones(level.shape, dtype=bool), days[n // 2]


def test_level_model_batch_is_compare_slopes():
    t, y, keep, change = simulate_levels_batch(2, seed=12, slope_after=1.7)
    fit = fit_level_model(t, y, keep, change)
    when = pd.Timestamp("2021-01-01") + pd.Timedelta(days=change)
    for i in range(2):
        acc = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=t.shape[1]), "followers": y[i]})
        r = _compare_slopes(
            *split_for_slopes(acc, when), maxlags=None, margin=(0.8, 1.25), alpha=0.05, warnings=[]
        )
        assert r["slope_change"]["p_value"] == pytest.approx(fit["p"][i], rel=1e-7)
        assert r["naive_p_value"] == pytest.approx(fit["p_naive"][i], rel=1e-7)
        assert r["slope_ratio_ci"] == pytest.approx([fit["ratio_ci"][0][i], fit["ratio_ci"][1][i]], rel=1e-9)


def test_slope_ratio_ci_covers_the_true_ratio():
    acc, mid = simulate_levels(0, slope_before=1.0, slope_after=1.7)
    res = compare_growth(acc, interventions=[(mid, "change")])
    for lo, hi in (res["slope_ratio_ci"], res["level_model"]["slope_ratio_ci"]):
        assert lo < 1.7 < hi
    assert res["slope_change"]["p_value"] < 1e-6
    assert res["equivalence"]["equivalent"] is False
    # the level model is right for a trend plus stationary noise: coverage over seeds (batch fit, checked
    # equal to _compare_slopes above, itself checked equal to compare_growth's level_model)
    t, y, keep, change = simulate_levels_batch(400, seed=13, slope_after=1.7)
    low, high = fit_level_model(t, y, keep, change)["ratio_ci"]
    # 1,500 seeds give 0.93 (Newey–West is slightly anti-conservative at n = 730); 400 seeds: ±0.013
    assert 0.88 <= ((low < 1.7) & (1.7 < high)).mean() <= 0.99


def test_core_model_is_what_compare_growth_reports():
    acc, mid = simulate_levels(5)
    res = compare_growth(acc, interventions=[(mid, "x")])
    b, a = split_for_slopes(acc, mid)
    core = _compare_slopes(b, a, maxlags=None, margin=(0.8, 1.25), alpha=0.05, warnings=[])
    level = res["level_model"]
    assert core["slope_change"] == level["slope_change"] and core["slope_ratio_ci"] == level["slope_ratio_ci"]


def _false_positive_rates(n_seeds, seed) -> tuple[float, float]:
    fit = fit_level_model(*simulate_levels_batch(n_seeds, seed=seed))
    return (fit["p"] < 0.05).mean(), (fit["p_naive"] < 0.05).mean()


def test_no_change_false_positive_rate_hac_vs_naive():
    # the level model under its own assumption (stationary noise around the trend)
    hac, naive = _false_positive_rates(400, 14)
    assert 0.02 <= hac <= 0.08
    assert naive > hac + 0.03  # OLS ignores the autocorrelation and rejects too often


@pytest.mark.slow
def test_no_change_false_positive_rate_large_run():
    hac, naive = _false_positive_rates(4000, 15)
    assert 0.03 <= hac <= 0.075
    assert naive > 0.1


def test_tost_is_not_fooled_by_a_noisy_short_series():
    # a short, noisy series: the difference is not significant, yet equivalence must not be concluded
    acc, mid = simulate_levels(2, n=40, sd=40.0, phi=0.0)
    res = compare_growth(acc, interventions=[(mid, "x")])
    assert res["slope_change"]["p_value"] > 0.05
    assert res["equivalence"]["equivalent"] is False


def test_declining_before_slope_uses_the_linear_ratio_and_says_so():
    dates = pd.date_range("2021-01-01", periods=20, freq="7D")
    days = np.arange(20) * 7.0
    wiggle = np.tile([0.5, -0.5, 0.25, -0.25], 5)
    level = np.where(days < 70, 1000 - 1.0 * days, 930 + 2.0 * (days - 70)) + wiggle
    acc = pd.DataFrame({"date": dates, "followers": level})
    res = compare_growth(acc, interventions=[(dates[10], "relaunch")])
    before, after = res["periods"]
    assert res["slope_ratio"] == pytest.approx(after["rate_per_day"] / before["rate_per_day"])
    assert res["slope_ratio"] == pytest.approx(-2.0, rel=0.01)
    level = res["level_model"]["slope_ratio"]
    assert level == pytest.approx(after["slope_per_day"] / before["slope_per_day"])
    assert res["slope_ratio_ci"][0] < res["slope_ratio"] < res["slope_ratio_ci"][1]
    assert "no log scale" in res["slope_ratio_method"] and res["equivalence"]["equivalent"] is False
    assert any("not positive" in w for w in res["warnings"])


def test_monthly_comparison_falls_back_to_posts_impressions():
    acc = account_frame(pd.date_range("2021-01-01", "2021-12-31", freq="7D"), None)
    acc["followers"] = pd.array(np.arange(len(acc)) * 10 + 100, dtype="Int64")
    rng = np.random.default_rng(4)
    when = pd.date_range("2021-01-01", "2021-12-31 23:00", freq="13h", tz="UTC")
    imp = rng.poisson(np.where(when < pd.Timestamp("2021-07-01", tz="UTC"), 100, 300))
    posts = pd.DataFrame({"published_at": when, "impressions": pd.array(imp, dtype="Int64")})
    res = compare_growth(
        acc, posts=posts, interventions=[("2021-07-01", "x")], monthly_metric="impressions_per_post"
    )
    m = res["monthly"]
    assert m["metric"] == "impressions_per_post" and m["n_before"] == 6 and m["n_after"] == 6
    assert m["fold_change"] == pytest.approx(3.0, rel=0.05)
    assert 2.5 < m["fold_change_ci"][0] < m["fold_change"] < m["fold_change_ci"][1] < 3.5
    assert m["welch_p_one_sided"] < 0.001
    assert any("built from the posts table" in w for w in res["warnings"])


def test_monthly_completeness_is_judged_on_the_requested_metrics():
    acc = account_frame(pd.date_range("2021-01-01", periods=5), None, posts=[1, 2, 3, 4, 5])
    posts = pd.DataFrame(
        {
            "published_at": pd.to_datetime(["2021-01-02T12:00Z", "2021-02-10T08:00Z"], utc=True),
            "impressions": pd.array([40, 60], dtype="Int64"),
        }
    )
    out = monthly_metrics(acc, posts, metrics=("impressions",))
    # judged on the posts (12.10): they span 30 of January's 31 days, but only 10 of February's 28 (partial)
    assert out["impressions"].tolist() == [40, 60] and out["complete"].tolist() == [True, False]
    assert out.attrs["completeness_judged_on"] == ["posts"]
    assert out.attrs["sources"] == {
        "impressions": "posts",
        "posts": "account",
        "impressions_per_post": "posts",
    }
    # impressions and post counts of impressions_per_post come from the same (posts) table
    assert out["impressions_per_post"].tolist() == [40.0, 60.0]
    # the partial daily posts counts still make January incomplete when posts are what is asked for
    counts = monthly_metrics(acc, posts, metrics=("posts",))
    assert counts["posts"].tolist()[0] == 15 and counts["posts"].isna().tolist() == [False, True]
    assert counts["complete"].tolist() == [False, False]


# ------------------------------------------------------------- counting-process simulations (increments model)

START = np.datetime64("2020-01-01")


def simulate_counts(n_seeds, *, seed, rate_after, rate_before=1.0, months=48, daily_days=None):
    """Follower counts of ``n_seeds`` accounts at once: daily Poisson follows minus Poisson unfollows.

    Net growth ``rate_before`` per day, then ``rate_after`` from the middle month (unfollows 0.4/day then
    0.5/day, as in data/example). Monthly: snapshots of the count at the start of a day 0–4 days after each
    1st, months + 1 snapshots, 2–3 random months missing (never the first or last). Daily (``daily_days``):
    every day's count. Returns snapshot days (S, M), counts (S, M), observed mask (S, M), the change day.
    """
    rng = np.random.default_rng(seed)
    if daily_days:
        n_days, change = daily_days + 1, float(daily_days // 2)
    else:
        firsts = np.arange(np.datetime64("2020-01"), np.datetime64("2020-01") + months + 1)
        day_of = (firsts.astype("datetime64[D]") - START).astype(int)
        n_days, change = int(day_of[-1]) + 5, float(day_of[months // 2])
    day = np.arange(n_days)
    unfollow = np.where(day < change, 0.4, 0.5)
    net_rate = np.where(day < change, rate_before, rate_after)
    net = rng.poisson(net_rate + unfollow, (n_seeds, n_days)) - rng.poisson(unfollow, (n_seeds, n_days))
    count = 1500 + np.concatenate([np.zeros((n_seeds, 1)), np.cumsum(net, axis=1)[:, :-1]], axis=1)
    if daily_days:
        t = np.broadcast_to(day, (n_seeds, n_days)).astype(float)
        return t, count, np.ones_like(t, dtype=bool), change
    offset = rng.integers(0, 5, (n_seeds, months + 1))
    offset[:, [0, -1]] = 0
    t = day_of[None, :] + offset
    y = np.take_along_axis(count, t, axis=1)
    keep = np.ones(t.shape, dtype=bool)
    n_missing = rng.integers(2, 4, n_seeds)
    for j in range(3):
        month = rng.integers(1, months, n_seeds)
        keep[np.arange(n_seeds), month] &= j >= n_missing
    return t.astype(float), y.astype(float), keep, change


def _packed(t, y, keep):
    """Observed snapshots moved to the left of each row (padding after), with the mask."""
    order = np.argsort(~keep, axis=1, kind="stable")
    return tuple(np.take_along_axis(a, order, axis=1) for a in (t, y, keep))


def wls_newey_west(y, X, w, valid, lags):
    """Row-wise WLS with Newey–West covariance (Bartlett, no prewhitening, n/(n−k)); padded rows have w = 0."""
    sw = np.sqrt(np.where(valid, w, 0.0))
    Xw, yw = X * sw[..., None], y * sw
    n, k = valid.sum(axis=1), X.shape[-1]
    xtx = np.einsum("smk,sml->skl", Xw, Xw)
    beta = np.linalg.solve(xtx, np.einsum("smk,sm->sk", Xw, yw)[..., None])[..., 0]
    e = yw - np.einsum("smk,sk->sm", Xw, beta)
    score = Xw * e[..., None]
    meat = np.einsum("smk,sml->skl", score, score)
    for lag in range(1, int(lags.max()) + 1):
        weight = np.where(lag <= lags, 1.0 - lag / (lags + 1.0), 0.0)
        g = np.einsum("smk,sml->skl", score[:, lag:], score[:, :-lag])
        meat += weight[:, None, None] * (g + np.swapaxes(g, 1, 2))
    bread = np.linalg.inv(xtx)
    cov = (n / (n - k))[:, None, None] * bread @ meat @ bread
    return beta, cov, (e**2).sum(axis=1) / (n - k), n


def t_df_fixed_b(n, lags, df_resid):
    """The t degrees of freedom of the module's convention, computed here by scipy root finding."""
    b = np.minimum(1.0, (lags + 1.0) / n)
    cv = 1.96 + 2.9694 * b + 0.4160 * b**2 - 0.5324 * b**3
    df_resid = np.asarray(df_resid, dtype=float)
    out = df_resid.copy()
    need = stats.t.ppf(0.975, df_resid) < cv
    # few distinct (cv, df_resid) pairs: solve each once
    pairs, inverse = np.unique(np.column_stack([cv[need], df_resid[need]]), axis=0, return_inverse=True)
    roots = [optimize.brentq(lambda v, c=c: stats.t.ppf(0.975, v) - c, 0.05, d, xtol=1e-13) for c, d in pairs]
    out[need] = np.asarray(roots)[inverse.ravel()]
    return out


def fit_increments(t, y, keep, change):
    """The increments model fitted to every simulated account (numpy, independent of workbench.growth)."""
    t, y, keep = _packed(t, y, keep)
    valid = keep[:, 1:] & keep[:, :-1]
    t0, t1 = t[:, :-1], t[:, 1:]
    dt = np.where(valid, t1 - t0, 1.0)
    after = np.where(valid, np.clip(t1 - np.maximum(t0, change), 0.0, dt), 0.0)
    X = np.stack([np.where(valid, dt - after, 0.0), after], axis=-1)
    dv = np.where(valid, np.diff(y, axis=1), 0.0)
    n = valid.sum(axis=1)
    lags = np.floor(4 * (n / 100) ** (2 / 9)).astype(int)
    beta, cov, scale, n = wls_newey_west(dv, X, 1.0 / dt, valid, lags)
    df = t_df_fixed_b(n, lags, n - 2.0)
    # counterfactual at the last snapshot, projected from the last before-change snapshot
    last_before = np.where(keep & (t < change), np.arange(t.shape[1]), -1).max(axis=1)
    last = keep.sum(axis=1) - 1
    rows = np.arange(len(t))
    horizon = t[rows, last] - t[rows, last_before]
    projected = y[rows, last_before] + beta[:, 0] * horizon
    half = stats.t.ppf(0.975, df) * np.sqrt(scale * horizon + cov[:, 0, 0] * horizon**2)
    return {
        "rates": beta,
        "cov": cov,
        "df": df,
        "lags": lags,
        "n": n,
        "pi": (projected - half, projected + half),
        "observed_end": y[rows, last],
    }


def fit_level_model(t, y, keep, change):
    """The segmented level regression (value ~ days * post) with Newey–West errors, for every account."""
    t, y, keep = _packed(t, y, keep)
    post = (t >= change).astype(float)
    X = np.stack([np.ones_like(t), t, post, t * post], axis=-1)
    n = keep.sum(axis=1)
    lags = np.floor(4 * (n / 100) ** (2 / 9)).astype(int)
    beta, cov, scale, n = wls_newey_west(np.where(keep, y, 0.0), X, np.ones_like(t), keep, lags)
    Xk = X * keep[..., None]
    naive_var = scale * np.linalg.inv(np.einsum("smk,sml->skl", Xk, Xk))[:, 3, 3]
    s0, s1 = beta[:, 1], beta[:, 1] + beta[:, 3]
    g = np.stack([1 / s1 - 1 / s0, 1 / s1], axis=-1)
    se_log = np.sqrt(np.einsum("sk,skl,sl->s", g, cov[:, [1, 3]][:, :, [1, 3]], g))
    q = stats.t.ppf(0.975, n - 4)
    return {
        "p": 2 * stats.t.sf(np.abs(beta[:, 3] / np.sqrt(cov[:, 3, 3])), n - 4),
        "p_naive": 2 * stats.t.sf(np.abs(beta[:, 3] / np.sqrt(naive_var)), n - 4),
        "ratio_ci": (s1 / s0 * np.exp(-q * se_log), s1 / s0 * np.exp(q * se_log)),
    }


def inference(fit, *, truth_ratio, alpha=0.05, margin=(0.8, 1.25)):
    """Per account: ratio CI covers the truth, change CI covers the truth, change p, TOST verdict."""
    r0, r1 = fit["rates"][:, 0], fit["rates"][:, 1]
    v = fit["cov"]
    q = stats.t.ppf(1 - alpha / 2, fit["df"])
    log_ratio = np.log(r1 / r0)
    se_log = np.sqrt(v[:, 0, 0] / r0**2 + v[:, 1, 1] / r1**2 - 2 * v[:, 0, 1] / (r0 * r1))
    covers = (log_ratio - q * se_log < np.log(truth_ratio)) & (np.log(truth_ratio) < log_ratio + q * se_log)
    diff = r1 - r0
    se_diff = np.sqrt(v[:, 0, 0] + v[:, 1, 1] - 2 * v[:, 0, 1])
    p_change = 2 * stats.t.sf(np.abs(diff / se_diff), fit["df"])
    q1 = stats.t.ppf(1 - alpha, fit["df"])
    equivalent = (log_ratio - q1 * se_log > np.log(margin[0])) & (log_ratio + q1 * se_log < np.log(margin[1]))
    return covers, p_change, equivalent, diff, q * se_diff


def account_of(t, y, keep, i) -> pd.DataFrame:
    """Simulated account ``i`` as a canonical account table (only the observed snapshots)."""
    dates = pd.to_datetime(START + t[i, keep[i]].astype(int).astype("timedelta64[D]"))
    return account_frame(dates, y[i, keep[i]].astype(int))


def test_simulation_fit_is_what_compare_growth_reports():
    t, y, keep, change = simulate_counts(3, seed=11, rate_after=1.7)
    fit = fit_increments(t, y, keep, change)
    covers, p_change, equivalent, diff, half = inference(fit, truth_ratio=1.7)
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    assert cut == pd.Timestamp("2022-01-01")
    for i in range(3):
        res = compare_growth(account_of(t, y, keep, i), interventions=[(cut, "change")])
        rates = [p["rate_per_day"] for p in res["periods"]]
        assert rates == pytest.approx(fit["rates"][i].tolist(), rel=1e-9)
        assert res["n_increments"] == fit["n"][i] and res["slope_change"]["maxlags"] == fit["lags"][i]
        # this independent fit is the uncalibrated form compare_growth keeps as *_fixed_b
        assert res["slope_change"]["p_value_fixed_b"] == pytest.approx(p_change[i], rel=1e-7)
        assert res["slope_change"]["ci_fixed_b"] == pytest.approx([diff[i] - half[i], diff[i] + half[i]], rel=1e-9)
        cf = res["counterfactual"]
        assert cf["observed_end"] == fit["observed_end"][i]
    assert fixed_b_df(int(fit["n"][0]), int(fit["lags"][0]), fit["n"][0] - 2.0) == pytest.approx(fit["df"][0])


def test_fixed_b_degrees_of_freedom(reference):
    # the t with these df has the Kiefer–Vogelsang (2005) Bartlett fixed-b critical value as its 97.5% point
    b = 4 / 45
    nu = fixed_b_df(45, 3, 43)
    assert stats.t.ppf(0.975, nu) == pytest.approx(1.96 + 2.9694 * b + 0.4160 * b**2 - 0.5324 * b**3)
    assert nu < 43
    assert fixed_b_df(34, 3, 32) == pytest.approx(reference["inc_rule_df"], rel=1e-8)  # R uniroot
    assert fixed_b_df(10, 0, 8) == 8.0  # the classical t(8) is already wider
    assert math.isnan(fixed_b_df(3, 1, 0))


def test_counting_process_monthly_ratio_ci_covers_the_truth():
    # like data/example: 48 monthly snapshots, 2–3 missing, net 1.0/day then 1.7/day
    t, y, keep, change = simulate_counts(400, seed=1, rate_after=1.7)
    covers, p_change, equivalent, diff, half = inference(fit_increments(t, y, keep, change), truth_ratio=1.7)
    change_covers = np.abs(diff - 0.7) < half
    # measured with 4,000 seeds: ratio 0.94, change 0.94 (binomial sd at 400 seeds ≈ 0.012)
    assert 0.90 <= covers.mean() <= 0.99
    assert 0.90 <= change_covers.mean() <= 0.99
    assert (p_change < 0.05).mean() > 0.99 and not equivalent.any()


def test_counting_process_monthly_false_positives_increments_vs_level_model():
    t, y, keep, change = simulate_counts(400, seed=2, rate_after=1.0)
    _, p_change, *_ = inference(fit_increments(t, y, keep, change), truth_ratio=1.0)
    p_level = fit_level_model(t, y, keep, change)["p"]
    fp, fp_level = (p_change < 0.05).mean(), (p_level < 0.05).mean()
    # measured with 4,000 seeds: increments 0.06; level model with Newey–West 0.63 — a count is a random walk
    # with drift, so the level's deviations from a line are not stationary and HAC cannot fix that
    assert 0.02 <= fp <= 0.08
    assert fp_level > 0.4


def test_counting_process_daily_snapshots():
    t, y, keep, change = simulate_counts(200, seed=3, rate_after=1.7, daily_days=730)
    covers, p_change, *_ = inference(fit_increments(t, y, keep, change), truth_ratio=1.7)
    assert 0.90 <= covers.mean() <= 0.99
    t, y, keep, change = simulate_counts(200, seed=4, rate_after=1.0, daily_days=730)
    fit = fit_increments(t, y, keep, change)
    _, p_change, *_ = inference(fit, truth_ratio=1.0)
    p_level = fit_level_model(t, y, keep, change)["p"]
    assert 0.02 <= (p_change < 0.05).mean() <= 0.08
    assert (p_level < 0.05).mean() > 0.4
    assert (fit["lags"] == 6).all()  # floor(4 (730/100)^(2/9))


def test_counting_process_tost():
    # unchanged over 8 years: equivalence within (0.8, 1.25) is concluded in ≥ 90% of accounts (4,000
    # seeds: 0.99); at the margin (true ratio 1.25) in about alpha = 5% (its size); never for 1.0 → 1.7
    t, y, keep, change = simulate_counts(300, seed=5, rate_after=1.0, months=96)
    *_, equivalent, _, _ = inference(fit_increments(t, y, keep, change), truth_ratio=1.0)
    assert equivalent.mean() >= 0.9
    t, y, keep, change = simulate_counts(300, seed=6, rate_after=1.25, months=96)
    *_, equivalent, _, _ = inference(fit_increments(t, y, keep, change), truth_ratio=1.25)
    assert equivalent.mean() <= 0.09
    t, y, keep, change = simulate_counts(300, seed=7, rate_after=1.7, months=96)
    *_, equivalent, _, _ = inference(fit_increments(t, y, keep, change), truth_ratio=1.7)
    assert not equivalent.any()
    # and through compare_growth for one unchanged and one changed long series
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    t, y, keep, change = simulate_counts(1, seed=8, rate_after=1.0, months=96)
    res = compare_growth(account_of(t, y, keep, 0), interventions=[(cut, "x")])
    assert res["equivalence"]["equivalent"] is True and res["equivalence"]["p_value"] < 0.05
    t, y, keep, change = simulate_counts(1, seed=8, rate_after=1.7, months=96)
    res = compare_growth(account_of(t, y, keep, 0), interventions=[(cut, "x")])
    assert res["equivalence"]["equivalent"] is False and res["equivalence"]["p_value"] > 0.5


def test_counterfactual_prediction_interval_covers_the_unchanged_future():
    # no change: the count at the end lies in the projection's 95% interval (measured with 4,000 seeds: 0.96)
    t, y, keep, change = simulate_counts(400, seed=9, rate_after=1.0)
    fit = fit_increments(t, y, keep, change)
    low, high = fit["pi"]
    inside = (low < fit["observed_end"]) & (fit["observed_end"] < high)
    assert 0.90 <= inside.mean() <= 0.99


def test_counterfactual_interval_grows_like_a_random_walk():
    # half-width² / q² = σ² h + Var(rate) h²: the σ² h part (a sum of h independent days) dominates early
    t, y, keep, change = simulate_counts(1, seed=10, rate_after=1.0, daily_days=730)
    acc = account_of(t, y, keep, 0)
    cut = pd.Timestamp(START + np.timedelta64(int(change), "D"))
    res = compare_growth(acc, interventions=[(cut, "x")])
    cf = res["counterfactual"]
    h = np.arange(1, len(cf["dates"]) + 1, dtype=float)
    half2 = ((np.array(cf["pi_high"]) - np.array(cf["pi_low"])) / 2) ** 2
    coef, *_ = np.linalg.lstsq(np.column_stack([h, h**2]), half2, rcond=None)
    # the interval is a bootstrap percentile interval now: the shape holds up to its Monte Carlo noise
    fitted = np.column_stack([h, h**2]) @ coef
    assert 1 - ((half2 - fitted) ** 2).sum() / ((half2 - half2.mean()) ** 2).sum() > 0.98
    assert coef[0] > 0 and coef[1] > 0
    assert (np.diff(half2[::30]) > 0).all()
    assert cf["anchor"]["date"] == (cut - pd.Timedelta(days=1)).date().isoformat()


@pytest.mark.slow
def test_counting_process_large_run():
    t, y, keep, change = simulate_counts(4000, seed=100, rate_after=1.7)
    covers, *_ = inference(fit_increments(t, y, keep, change), truth_ratio=1.7)
    assert 0.925 <= covers.mean() <= 0.965
    t, y, keep, change = simulate_counts(4000, seed=101, rate_after=1.0)
    fit = fit_increments(t, y, keep, change)
    _, p_change, *_ = inference(fit, truth_ratio=1.0)
    assert 0.035 <= (p_change < 0.05).mean() <= 0.07
    low, high = fit["pi"]
    assert 0.93 <= ((low < fit["observed_end"]) & (fit["observed_end"] < high)).mean() <= 0.98


# ------------------------------------------------------------------------------- flows and the example dataset


def test_increments_of_daily_flows_are_the_flows():
    dates = pd.date_range("2021-03-01", periods=8, freq="D")
    acc = account_frame(
        dates,
        None,
        new_follows=[5, 7, None, 4, 6, 9, 8, 10],
        unfollows=[1, None, 3, 2, 1, 2, 0, 1],
    )
    inc, warnings = prepare_growth_increments(acc)
    assert any(w.startswith(REBUILT_WARNING) for w in warnings)
    # each row's net flow over its own day; days without new follows or unfollows are not counted at all
    assert inc["delta"].tolist() == [4.0, 2.0, 5.0, 7.0, 8.0, 9.0]
    assert inc["days"].tolist() == [1.0] * 6
    assert inc["start"].tolist() == [d for i, d in enumerate(dates) if i not in (1, 2)]
    res = compare_growth(acc, interventions=[("2021-03-05", "x")])
    assert res["metric"] == "net_follows" and res["level_known"] is False
    before, after = res["periods"]
    # WLS with one observed day per increment: each rate is the mean daily net flow of its period
    assert before["rate_per_day"] == pytest.approx((4 + 2) / 2)
    assert after["rate_per_day"] == pytest.approx((5 + 7 + 8 + 9) / 4)
    cf = res["counterfactual"]
    # projected from the cumulative net flow after 2021-03-04 (6), one counted day per after row
    assert cf["anchor"] == {"date": "2021-03-04", "value": 6.0}
    assert cf["projected"] == pytest.approx([6 + k * 3 for k in range(1, 5)])


def test_increments_of_a_monthly_flow_sheet_cover_calendar_months():
    acc = account_frame(
        ["2021-01-03", "2021-02-02", "2021-03-04", "2021-05-01"], None, new_follows=[31, 56, 62, 90]
    )
    inc, _ = prepare_growth_increments(acc)
    assert inc["start"].dt.strftime("%m-%d").tolist() == ["01-01", "02-01", "03-01", "05-01"]
    assert inc["days"].tolist() == [31.0, 28.0, 31.0, 31.0]


def test_increments_of_levels_span_missing_months_and_the_intervention():
    # 1/day before 2021-02-15 (day 45), 2/day after; February's count is missing, so one interval
    # (day 20 → 59) spans the intervention: 25 days at 1/day + 14 days at 2/day
    dates = ["2021-01-01", "2021-01-11", "2021-01-21", "2021-02-01", "2021-03-01", "2021-03-11", "2021-03-21"]
    acc = account_frame(dates, [0, 10, 20, None, 73, 93, 113])
    inc, _ = prepare_growth_increments(acc)
    assert inc["days"].tolist() == [10.0, 10.0, 39.0, 10.0, 10.0]
    assert inc["delta"].tolist() == [10.0, 10.0, 53.0, 20.0, 20.0]
    res = compare_growth(acc, interventions=[("2021-02-15", "x")])
    # exact rates only if the spanning interval is split by its days in each period (no data thrown away)
    assert res["n_increments"] == 5
    assert [p["rate_per_day"] for p in res["periods"]] == pytest.approx([1.0, 2.0], rel=1e-12)
    assert res["slope_ratio"] == pytest.approx(2.0) and res["slope_change"]["estimate"] == pytest.approx(1.0)


def test_too_few_increments_give_no_rates():
    acc = account_frame(["2021-01-01", "2021-02-01", "2021-03-01", "2021-04-01"], [10, None, 69, 100])
    res = compare_growth(acc, interventions=[("2021-02-15", "x")])
    # the before period is covered by a single increment; without it the after period has one left
    assert [p["rate_per_day"] for p in res["periods"]] == [None, None]
    assert res["slope_ratio"] is None and res["slope_change"]["p_value"] is None
    assert res["counterfactual"]["projected"] == []
    assert any("fewer than two usable increments" in w for w in res["warnings"])
    json.dumps(res, allow_nan=False)


def test_example_dataset_recovers_the_true_growth_change():
    from workbench.dataset import load_dataset
    from workbench.ingest import read_exports

    folder = Path(__file__).resolve().parents[1] / "data" / "example"
    if not (folder / "dataset.yml").exists():
        pytest.skip("data/example not present")
    dataset = load_dataset(folder)
    tables = read_exports(dataset)
    res = compare_growth(tables.account, interventions=dataset.interventions, posts=tables.posts)
    # TRUTH.md: net 1.0 → 1.7 followers/day (ratio 1.7, change +0.7); the level fit's ratio CI misses it
    lo, hi = res["slope_ratio_ci"]
    assert lo < 1.7 < hi
    assert res["slope_change"]["ci"][0] < 0.7 < res["slope_change"]["ci"][1]
    assert res["slope_change"]["p_value"] < 0.001 and res["equivalence"]["equivalent"] is False
    level = res["level_model"]
    assert level["slope_ratio"] == pytest.approx(1.632, abs=5e-4)  # TRUTH.md: realised sheet slope ratio
    assert not level["slope_ratio_ci"][0] < 1.7 < level["slope_ratio_ci"][1]
    before, after = res["periods"]
    assert (
        before["rate_ci"][0] < 1.0 < before["rate_ci"][1] and after["rate_ci"][0] < 1.7 < after["rate_ci"][1]
    )
    # the final count (3,447, TRUTH.md) is above what the before-rate projects, and outside its interval
    cf = res["counterfactual"]
    assert cf["observed_end"] == 3447 and cf["excess_ci"][0] > 0


# ------------------------------------------------------------------------------- placebo interventions


def _placebo_of(account: pd.DataFrame, cut: pd.Timestamp) -> dict:
    """The placebo analysis of one account's first comparison, without the rest of compare_growth."""
    inc, _ = prepare_growth_increments(account)
    cuts = np.array([cut.value], dtype="int64")
    fit = _fit_rates(inc, cuts, ["before", "after"], maxlags=None, warnings=[])
    return _placebo(inc, cuts, 0, fit=fit, maxlags=None, before="before")


def test_placebo_hand_made_dates_estimates_and_newey_west():
    # snapshots on every 1st, 2020-01 … 2021-12, intervention 2021-01-01: the before period holds the 12
    # increments Jan 2020 → Jan 2021; month starts with ≥ 3 whole increments each side: Apr … Oct 2020
    rng = np.random.default_rng(5)
    dates = pd.date_range("2020-01-01", "2021-12-01", freq="MS")
    steps = np.where(dates[1:] <= pd.Timestamp("2021-01-01"), 30, 60) + rng.integers(-9, 10, len(dates) - 1)
    values = 1000 + np.concatenate([[0], np.cumsum(steps)])
    account = account_frame(dates, values)
    res = compare_growth(account, interventions=[("2021-01-01", "change")])
    pl = res["placebo"]
    assert pl["n"] == 7
    assert pl["dates"] == [f"2020-{m:02d}-01" for m in range(4, 11)]
    # month-start fakes cut no increment, so each WLS rate is Σ increments / Σ days on its side
    days = np.diff(dates.to_numpy("datetime64[D]").astype(float))[:12]
    delta = np.diff(values.astype(float))[:12]
    for j, m in enumerate(range(4, 11)):
        cut = m - 1  # increments before the fake: Jan→Feb … (m−1)→m
        expected = delta[cut:].sum() / days[cut:].sum() - delta[:cut].sum() / days[:cut].sum()
        assert pl["estimates"][j] == pytest.approx(expected, rel=1e-9)
    # t and p against the independent numpy Newey–West of this file (lag rule on the 12 pre increments)
    X = np.stack(
        [
            np.column_stack([np.arange(12) < m - 1, np.arange(12) >= m - 1]) * days[:, None]
            for m in range(4, 11)
        ]
    ).astype(float)
    lags = np.full(7, newey_west_lags(12))
    beta, cov, _, n = wls_newey_west(
        np.broadcast_to(delta, (7, 12)), X, np.broadcast_to(1 / days, (7, 12)), np.ones((7, 12), bool), lags
    )
    t = (beta[:, 1] - beta[:, 0]) / np.sqrt(cov[:, 0, 0] + cov[:, 1, 1] - 2 * cov[:, 0, 1])
    assert pl["t_values"] == pytest.approx(t.tolist(), rel=1e-7)
    df = t_df_fixed_b(n, lags, n - 2.0)
    assert pl["p_values"] == pytest.approx((2 * stats.t.sf(np.abs(t), df)).tolist(), rel=1e-7)
    # the rank: (1 + placebo |t| ≥ the real |t|) / (1 + 7), the real t from the reported change
    sc = res["slope_change"]
    se = (sc["ci_fixed_b"][1] - sc["ci_fixed_b"][0]) / (
        2 * stats.t.ppf(0.975, fixed_b_df(23, newey_west_lags(23), 21.0))
    )
    real_t = sc["estimate"] / se
    assert pl["real_t"] == pytest.approx(real_t, rel=1e-7)
    n_ge = int((np.abs(t) >= abs(real_t)).sum())
    assert pl["rank_p_t"] == pytest.approx((1 + n_ge) / 8)
    # like with like: the real calibrated p ranked among the placebos' calibrated p-values
    pc = np.array(pl["p_values_calibrated"], dtype=float)
    assert np.isfinite(pc).all() and ((pc > 0) & (pc <= 1)).all()
    assert pl["rank_p"] == pytest.approx((1 + int((pc <= pl["real_p"]).sum())) / 8)
    assert pl["smallest_attainable_p"] == pytest.approx(1 / 8)
    assert "smallest possible rank p is 0.12" in pl["summary"]
    assert pl["n_increments_placebo"] == 12 and pl["n_increments_real"] == res["n_increments"]
    assert res["comparisons"][0]["placebo"] == pl
    json.dumps(res, allow_nan=False)


def test_placebo_uses_only_the_before_period_and_needs_three_increments_each_side():
    # daily levels Jan 1 … Jun 30 2023, intervention May 1: whole pre increments end by May 1; fakes Feb–Apr 1
    dates = pd.date_range("2023-01-01", "2023-06-30", freq="D")
    rng = np.random.default_rng(1)
    values = 100 + np.cumsum(rng.poisson(2.0, len(dates)))
    pl = _placebo_of(account_frame(dates, values), pd.Timestamp("2023-05-01"))
    assert pl["dates"] == ["2023-02-01", "2023-03-01", "2023-04-01"] and pl["n"] == 3
    # a second intervention: the second comparison's placebos lie in the middle period only
    res = compare_growth(
        account_frame(dates, values), interventions=[("2023-03-01", "a"), ("2023-06-01", "b")]
    )
    assert res["comparisons"][1]["placebo"]["dates"] == ["2023-04-01", "2023-05-01"]
    assert res["comparisons"][0]["placebo"]["dates"] == ["2023-02-01"]
    # too short a before period: no placebo, and no crash
    short = compare_growth(account_frame(dates[:40], values[:40]), interventions=[("2023-01-05", "x")])
    assert short["placebo"]["n"] == 0 and short["placebo"]["rank_p"] is None
    assert "too few" in short["placebo"]["summary"]


def test_placebo_rank_is_not_extreme_without_a_change_and_small_with_one():
    # 48 monthly snapshots of a counting process (as data/example), change date 2022-01-01
    cut = pd.Timestamp("2022-01-01")
    null = simulate_counts(60, seed=31, rate_after=1.0)
    ranks = np.array([_placebo_of(account_of(*null[:3], i), cut)["rank_p"] for i in range(60)])
    assert np.isfinite(ranks).all()
    # a roughly uniform rank: centred, rarely extreme (about 5% would be ≤ 0.05 if exactly uniform)
    assert 0.35 < ranks.mean() < 0.65
    assert (ranks <= 0.05).mean() < 0.15
    assert (ranks > 0.5).mean() > 0.3
    real = simulate_counts(20, seed=32, rate_after=1.7)
    placebos = [_placebo_of(account_of(*real[:3], i), cut) for i in range(20)]
    ranks_real = np.array([p["rank_p"] for p in placebos])
    floor = np.array([1 / (1 + p["n"]) for p in placebos])
    assert np.median(ranks_real) < 0.15 and (ranks_real == floor).mean() > 0.5


# ------------------------------------------------------------------------------- state-space second opinion


def _monthly_account(values, start="2019-01-01") -> pd.DataFrame:
    dates = pd.date_range(start, periods=len(values), freq="MS")
    return account_frame(dates, np.round(values).astype(int))


def test_state_space_projects_a_noisy_line():
    rng = np.random.default_rng(7)
    m = np.arange(48)
    truth = 1000 + 30.0 * m
    account = _monthly_account(truth + rng.normal(0, 5, 48))
    res = compare_growth(account, interventions=[("2022-01-01", "change")])
    ss = res["state_space"]
    assert "error" not in ss and ss["converged"] is True
    assert ss["dates"][0] == "2022-01-01" and ss["dates"][-1] == "2022-12-01" and len(ss["forecast"]) == 12
    assert ss["forecast_end"] == pytest.approx(truth[-1], rel=0.03)
    assert ss["pi_low"][-1] < ss["observed_end"] < ss["pi_high"][-1]
    assert ss["excess_ci"][0] < 0 < ss["excess_ci"][1]
    assert ss["excess_end"] == pytest.approx(ss["observed_end"] - ss["forecast_end"])
    assert all(lo < f < hi for lo, f, hi in zip(ss["pi_low"], ss["forecast"], ss["pi_high"], strict=True))
    widths = np.subtract(ss["pi_high"], ss["pi_low"])
    assert (np.diff(widths) > 0).all()  # uncertainty grows with the horizon
    assert res["comparisons"][0]["state_space"] == ss
    json.dumps(res, allow_nan=False)


def test_state_space_interval_covers_an_unchanged_counting_process_with_missing_months():
    t, y, keep, change = simulate_counts(6, seed=41, rate_after=1.0)
    cut = pd.Timestamp("2022-01-01")
    covered, missing = 0, []
    for i in range(6):
        ss = compare_growth(account_of(t, y, keep, i), interventions=[(cut, "change")])["state_space"]
        assert "error" not in ss
        covered += ss["excess_ci"][0] <= 0 <= ss["excess_ci"][1] or (
            ss["pi_low"][-1] <= ss["observed_end"] <= ss["pi_high"][-1]
        )
        missing.append(ss["months_missing"])
        assert ss["observed_end"] == y[i, keep[i]][-1]
    assert covered >= 5
    # months without a snapshot are missing values of the monthly grid, not dropped months
    # (the grid runs from the first to the last observed before-period month, Jan 2020 … Dec 2021)
    last_pre = [int(np.flatnonzero(keep[i, :24])[-1]) for i in range(6)]
    n_missing_pre = [int((~keep[i, : last_pre[i] + 1]).sum()) for i in range(6)]
    assert missing == n_missing_pre


def test_state_space_never_crashes(monkeypatch):
    # too few before months: an error entry and a warning
    res = compare_growth(_monthly_account(1000 + 10.0 * np.arange(12)), interventions=[("2019-05-01", "x")])
    assert set(res["state_space"]) == {"error"} and "4 month(s)" in res["state_space"]["error"]
    assert any("state-space forecast not fitted" in w for w in res["warnings"])
    # the model itself failing
    import statsmodels.api as sm

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(sm.tsa, "UnobservedComponents", broken)
    res = compare_growth(_monthly_account(1000 + 10.0 * np.arange(24)), interventions=[("2020-01-01", "x")])
    assert res["state_space"] == {"error": "LinAlgError: singular"}
    assert any("state-space forecast failed" in w for w in res["warnings"])
    assert res["slope_change"]["estimate"] is not None  # the rest of the comparison is unaffected
    # no intervention: nothing to forecast
    none = compare_growth(_monthly_account(1000 + 10.0 * np.arange(24)), interventions=[])
    assert "error" in none["state_space"] and none["placebo"]["n"] == 0
    json.dumps(none, allow_nan=False)


def test_example_dataset_placebo_and_state_space():
    from workbench.dataset import load_dataset
    from workbench.ingest import read_exports

    folder = Path(__file__).resolve().parents[1] / "data" / "example"
    if not (folder / "dataset.yml").exists():
        pytest.skip("data/example not present")
    dataset = load_dataset(folder)
    tables = read_exports(dataset)
    res = compare_growth(tables.account, interventions=dataset.interventions, posts=tables.posts)
    pl = res["placebo"]
    # fakes at the month starts of 2020-04 … 2021-09 (3 whole increments each side before 2022-01-01)
    assert pl["n"] == 18 and pl["dates"][0] == "2020-04-01" and pl["dates"][-1] == "2021-09-01"
    # the real change (1.0 → 1.7 followers/day) is larger than every placebo change
    assert max(abs(v) for v in pl["t_values"]) < abs(pl["real_t"])
    assert pl["rank_p"] == pytest.approx(1 / 19)
    assert "smaller than 18 of their 18 p-values" in pl["summary"]
    assert "the smallest possible rank p is 0.053" in pl["summary"]
    ss = res["state_space"]
    assert ss["converged"] is True and ss["observed_end"] == 3447
    # a second opinion agreeing with the counterfactual: the final count is above the forecast interval
    assert ss["excess_ci"][0] > 0
    assert ss["forecast_end"] == pytest.approx(res["counterfactual"]["projected_end"], rel=0.03)
    json.dumps(res, allow_nan=False)


def test_every_monthly_metric_is_compared_on_the_example():
    from workbench.dataset import load_dataset
    from workbench.ingest import read_exports

    example = Path(__file__).resolve().parents[1] / "data" / "example"
    if not example.is_dir():
        pytest.skip("data/example missing")
    ds = load_dataset(example)
    r = read_exports(ds)
    g = compare_growth(r.account, interventions=ds.interventions, posts=r.posts)
    assert set(g["monthly_all"]) == {"impressions", "engagements", "posts", "impressions_per_post"}
    assert g["monthly_all"]["impressions"]["fold_change"] == pytest.approx(g["monthly"]["fold_change"])
    posts = g["monthly_all"]["posts"]
    # posting rate truly rose 1.4× (TRUTH.md): the fold change CI covers it and Welch agrees with scipy
    assert posts["fold_change_ci"][0] <= 1.4 <= posts["fold_change_ci"][1]
    assert g["comparisons"][0]["monthly_all"].keys() == g["monthly_all"].keys()
