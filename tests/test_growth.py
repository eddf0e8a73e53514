"""Tests of workbench/growth.py: unit cases, R reference values, scipy checks and simulations with known truth.

Reference values in tests/results/growth/reference.csv were computed by tests/results/growth/make_reference.R
(R lm + sandwich::NeweyWest, t.test, wilcox.test) from tests/results/growth/account_monthly.csv.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.signal import lfilter

from workbench.dataset import Intervention
from workbench.errors import InputError
from workbench.growth import (
    REBUILT_WARNING,
    _compare_slopes,
    compare_growth,
    monthly_metrics,
    newey_west_lags,
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
    # net = 4, 7, (skipped: no new follows), 2 → cumulative 4, 11, 13
    assert series["value"].tolist() == [4.0, 11.0, 13.0]
    assert series["days"].tolist() == [0.0, 1.0, 4.0]
    assert REBUILT_WARNING in warnings
    assert any("1 rows without new follows" in w for w in warnings)


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
def test_segmented_model_matches_r_newey_west(reference_account, reference, maxlags, tag):
    res = compare_growth(reference_account, interventions=[("2021-07-01", "x")], maxlags=maxlags)
    change = res["slope_change"]
    assert change["cov_type"] == "HAC" and change["maxlags"] == int(reference[tag + "maxlags"])
    rel_close(change["estimate"], reference[tag + "change"])
    rel_close(change["ci"][0], reference[tag + "change_ci_low"])
    rel_close(change["ci"][1], reference[tag + "change_ci_high"])
    rel_close(change["p_value"], reference[tag + "change_p"])
    rel_close(res["slope_ratio"], reference[tag + "ratio"])
    rel_close(res["slope_ratio_ci"][0], reference[tag + "ratio_ci_low"])
    rel_close(res["slope_ratio_ci"][1], reference[tag + "ratio_ci_high"])
    rel_close(res["equivalence"]["p_value"], reference[tag + "tost_p"])
    assert res["equivalence"]["equivalent"] is False
    rel_close(res["naive_p_value"], reference["naive_p_value"])
    assert ("Newey" in res["maxlags_rule"]) == (maxlags is None)
    assert "delta method" in res["slope_ratio_method"]


def test_counterfactual_matches_r(reference_result, reference):
    cf = reference_result["counterfactual"]
    rel_close(cf["projected"][0], reference["cf_projected_first"])
    rel_close(cf["pi_low"][0], reference["cf_pi_low_first"])
    rel_close(cf["pi_high"][0], reference["cf_pi_high_first"])
    rel_close(cf["projected_end"], reference["cf_projected_end"])
    rel_close(cf["excess_end"], reference["cf_excess_end"])
    rel_close(cf["excess_ci"][0], reference["cf_excess_ci_low"])
    rel_close(cf["excess_ci"][1], reference["cf_excess_ci_high"])
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
    assert set(res["slope_change"]) == {"estimate", "ci", "p_value", "cov_type", "maxlags"}
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
    assert set(res["equivalence"]) == {"margin", "p_value", "equivalent", "method"}
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
    assert any("35 points" in w and "optimistic" in w for w in res["warnings"])


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
    cf = res["counterfactual"]
    assert cf["projected"] == pytest.approx([100 + 2 * d for d in days[4:]])
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
    # the second comparison is the same model fitted on the data from the first intervention on
    later = acc.loc[acc["date"] >= d1]
    alone = compare_growth(later, interventions=[(d2, "second")])
    second = res["comparisons"][1]
    assert second["slope_ratio"] == pytest.approx(alone["slope_ratio"], rel=1e-10)
    assert second["slope_ratio_ci"] == pytest.approx(alone["slope_ratio_ci"], rel=1e-10)
    assert second["naive_p_value"] == pytest.approx(alone["naive_p_value"], rel=1e-10)
    for key in ("estimate", "p_value", "maxlags"):
        assert second["slope_change"][key] == pytest.approx(alone["slope_change"][key], rel=1e-10)
    assert second["equivalence"]["p_value"] == pytest.approx(alone["equivalence"]["p_value"], rel=1e-10)
    assert second["counterfactual"]["excess_end"] == pytest.approx(alone["counterfactual"]["excess_end"])
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


def test_slope_ratio_ci_covers_the_true_ratio():
    acc, mid = simulate_levels(0, slope_before=1.0, slope_after=1.7)
    res = compare_growth(acc, interventions=[(mid, "change")])
    lo, hi = res["slope_ratio_ci"]
    assert lo < 1.7 < hi
    assert res["slope_change"]["p_value"] < 1e-6
    assert res["equivalence"]["equivalent"] is False
    # coverage over seeds (the segmented-model core of compare_growth, checked equal above and below)
    hits = 0
    for seed in range(200):
        b, a = split_for_slopes(*simulate_levels(seed, slope_before=1.0, slope_after=1.7))
        r = _compare_slopes(b, a, maxlags=None, margin=(0.8, 1.25), alpha=0.05, warnings=[])
        hits += r["slope_ratio_ci"][0] < 1.7 < r["slope_ratio_ci"][1]
        assert r["equivalence"]["equivalent"] is False
    # 1,500 seeds give 0.93 (Newey–West is slightly anti-conservative at n = 730); 200 seeds: ±0.018
    assert 0.87 <= hits / 200 <= 0.99


def test_core_model_is_what_compare_growth_reports():
    acc, mid = simulate_levels(5)
    res = compare_growth(acc, interventions=[(mid, "x")])
    b, a = split_for_slopes(acc, mid)
    core = _compare_slopes(b, a, maxlags=None, margin=(0.8, 1.25), alpha=0.05, warnings=[])
    assert core["slope_change"] == res["slope_change"] and core["slope_ratio_ci"] == res["slope_ratio_ci"]


def _false_positive_rates(seeds) -> tuple[float, float]:
    hac = naive = 0
    for seed in seeds:
        b, a = split_for_slopes(*simulate_levels(seed))
        r = _compare_slopes(b, a, maxlags=None, margin=(0.8, 1.25), alpha=0.05, warnings=[])
        hac += r["slope_change"]["p_value"] < 0.05
        naive += r["naive_p_value"] < 0.05
    return hac / len(seeds), naive / len(seeds)


def test_no_change_false_positive_rate_hac_vs_naive():
    hac, naive = _false_positive_rates(range(400))
    assert 0.02 <= hac <= 0.08
    assert naive > hac + 0.03  # OLS ignores the autocorrelation and rejects too often


@pytest.mark.slow
def test_no_change_false_positive_rate_large_run():
    hac, naive = _false_positive_rates(range(1000, 5000))
    assert 0.03 <= hac <= 0.075
    assert naive > 0.1


def test_tost_concludes_equivalence_only_for_an_unchanged_series():
    unchanged = [
        compare_growth(simulate_levels(seed)[0], interventions=[(simulate_levels(seed)[1], "x")])
        for seed in range(3)
    ]
    for res in unchanged:
        assert res["equivalence"]["equivalent"] is True
        assert res["equivalence"]["p_value"] < 0.05
        assert 0.8 < res["slope_ratio_ci"][0] < 1 < res["slope_ratio_ci"][1] < 1.25
    changed, mid = simulate_levels(0, slope_after=1.7)
    res = compare_growth(changed, interventions=[(mid, "x")])
    assert res["equivalence"]["equivalent"] is False and res["equivalence"]["p_value"] > 0.5


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
    assert res["slope_ratio"] == pytest.approx(after["slope_per_day"] / before["slope_per_day"])
    assert res["slope_ratio"] == pytest.approx(-2.0, rel=0.01)
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
    assert out["impressions"].tolist() == [40, 60] and out["complete"].tolist() == [True, True]
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
