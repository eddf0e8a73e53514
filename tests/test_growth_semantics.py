"""What growth results mean: follower levels vs follows, missing inputs, dates outside the data, month_of,
impressions per post from one table, partial months (issues 10.1, 10.5, 12.2, 12.4, 12.10, 19.8, 19.13)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.dataset import load_dataset
from workbench.growth import (
    FOLLOWER_INPUT,
    apply_month_of,
    compare_growth,
    follower_basis,
    month_of_previous_sources,
    monthly_metrics,
    prepare_growth_series,
)


def _daily(n=400, follows=20, unfollows=None, followers=None, start="2023-01-01", seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"date": pd.date_range(start, periods=n, freq="D"), "platform": "facebook", "account": "page"})
    df["new_follows"] = pd.array(rng.poisson(follows, n), dtype="Int64")
    if unfollows is not None:
        df["unfollows"] = pd.array(rng.poisson(unfollows, n), dtype="Int64")
    df["followers"] = pd.array([pd.NA] * n, dtype="Int64")
    if followers is not None:
        for when, value in followers:
            df.loc[df["date"] == pd.Timestamp(when), "followers"] = value
    return df


def test_gross_daily_follows_are_never_a_follower_level():
    acc = _daily()
    assert follower_basis(acc) == "gross_follows"
    res = compare_growth(acc, interventions=[("2023-07-01", "x")])
    assert res["metric"] == "new_follows" and res["unit"] == "new follows per day (gross)"
    assert res["level_known"] is False and res["basis"] == "gross_follows"
    # the rate is new follows per day (about 20), never a sum presented as followers
    assert res["periods"][0]["rate_per_day"] == pytest.approx(20, rel=0.05)
    assert any("gross follows are not summed into a follower count" in w for w in res["warnings"])
    json.dumps(res, allow_nan=False)


def test_net_follows_without_an_anchor_give_a_rate_but_no_level():
    acc = _daily(unfollows=5)
    assert follower_basis(acc) == "net_flows"
    res = compare_growth(acc, interventions=[("2023-07-01", "x")])
    assert res["metric"] == "net_follows" and res["level_known"] is False
    assert res["periods"][0]["rate_per_day"] == pytest.approx(15, rel=0.08)


def test_an_anchor_and_known_unfollows_derive_the_level():
    # Audience.csv-like total on 2023-12-31: the level on that date equals the anchor, earlier dates subtract
    acc = _daily(unfollows=5, followers=[("2023-12-31", 30222)])
    assert follower_basis(acc) == "derived_level"
    series, warnings = prepare_growth_series(acc)
    net = (acc["new_follows"] - acc["unfollows"]).astype(float).to_numpy()
    on_anchor = series.loc[series["date"] == pd.Timestamp("2023-12-31"), "value"].iloc[0]
    assert on_anchor == 30222
    day = pd.Timestamp("2023-06-01")
    i = int((acc["date"] == day).to_numpy().argmax())
    j = int((acc["date"] == pd.Timestamp("2023-12-31")).to_numpy().argmax())
    assert series.loc[series["date"] == day, "value"].iloc[0] == 30222 - net[i + 1 : j + 1].sum()
    assert any("anchored on 30222 followers on 2023-12-31" in w for w in warnings)
    res = compare_growth(acc, interventions=[("2023-07-01", "x")])
    assert res["metric"] == "followers" and res["level_known"] is True


def test_no_follower_data_is_a_typed_not_available_result():
    acc = pd.DataFrame({"date": pd.date_range("2023-01-01", periods=5), "impressions": pd.array([1, 2, 3, 4, 5], dtype="Int64")})
    res = compare_growth(acc, interventions=[("2023-01-03", "x")])
    assert res["available"] is False
    assert res["not_available"]["reason"] == "no follower data"
    assert res["not_available"]["needed"] == FOLLOWER_INPUT
    assert "date,followers" in res["not_available"]["needed"]["example_row"]
    json.dumps(res, allow_nan=False)


@pytest.mark.parametrize("account", [None, pd.DataFrame()])
def test_no_account_data_and_no_posts_never_raise(account):
    res = compare_growth(account, interventions=[("2023-01-03", "x")], posts=None)
    assert res["available"] is False and res["not_available"]["reason"] == "no account data"
    assert res["comparisons"][0]["status"] == "no_data"
    empty_posts = pd.DataFrame({"published_at": pd.Series(dtype="datetime64[ns, UTC]"), "impressions": pd.Series(dtype="Int64")})
    res = compare_growth(account, interventions=[("2023-01-03", "x")], posts=empty_posts)
    assert res["available"] is False
    assert res["posts_adjusted"]["available"] is False and res["posts_adjusted"]["reason"] == "no posts"
    json.dumps(res, allow_nan=False)


def test_an_intervention_after_the_data_says_so():
    dates = pd.date_range("2022-01-01", periods=24, freq="MS")
    acc = pd.DataFrame({"date": dates, "followers": pd.array(1000 + 30 * np.arange(24), dtype="Int64")})
    res = compare_growth(acc, interventions=[("2025-03-01", "late launch")])
    assert res["status"] == "after_data"
    assert res["not_judged_reason"].startswith("the date is after your data")
    assert "2023-12-01" in res["not_judged_reason"] and "2025-03-01" in res["not_judged_reason"]
    res = compare_growth(acc, interventions=[("2021-03-01", "early")])
    assert res["status"] == "before_data" and res["not_judged_reason"].startswith("the date is before your data")


def test_month_of_previous_files_a_sheet_row_under_the_previous_month(tmp_path):
    acc = pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-02-01", "2020-03-01", "2020-04-01"]),
            "platform": "x",
            "account": "a",
            "followers": pd.array([100, 130, 170], dtype="Int64"),
            "impressions": pd.array([1000, 2000, 3000], dtype="Int64"),
            "source_file": pd.array(["raw/m.csv"] * 3, dtype="string"),
        }
    )
    moved, warnings = apply_month_of(acc, ["raw/m.csv"])
    out = monthly_metrics(moved, metrics=("impressions",))
    # the row dated 2020-02-01 holds January's impressions
    assert out["month"].dt.strftime("%Y-%m").tolist() == ["2020-01", "2020-02", "2020-03"]
    assert out["impressions"].tolist() == [1000, 2000, 3000]
    # follower counts stay on their own dates
    lv = moved.dropna(subset=["followers"])
    assert lv["date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-02-01", "2020-03-01", "2020-04-01"]
    assert "3 account rows from raw/m.csv describe the previous month" in warnings[0]
    assert acc["date"].dt.month.tolist() == [2, 3, 4]  # input untouched
    # the card option
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "m.csv").write_text("date,followers\n2020-02-01,1\n")
    (tmp_path / "dataset.yml").write_text(
        "name: t\nposts: [raw/*.csv]\naccount:\n  - {path: raw/m.csv, month_of: previous}\n"
    )
    ds = load_dataset(tmp_path)
    assert ds.account[0].month_of == "previous"
    assert month_of_previous_sources(ds) == ["raw/m.csv"]


def test_month_of_must_be_same_or_previous(tmp_path):
    from workbench.errors import InputError

    (tmp_path / "dataset.yml").write_text("name: t\nposts: [raw/*.csv]\naccount:\n  - {path: raw/m.csv, month_of: next}\n")
    with pytest.raises(InputError, match="month_of must be one of same, previous"):
        load_dataset(tmp_path)


def test_impressions_per_post_come_from_one_table():
    # account sheet reports impressions but not posts; the posts table has both: the ratio is the posts table's
    acc = pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"]),
            "impressions": pd.array([9000, 9000, 9000], dtype="Int64"),
            "source_file": pd.array(["s.csv"] * 3, dtype="string"),
        }
    )
    posts = pd.DataFrame(
        {
            "published_at": pd.to_datetime(
                ["2020-01-01T10:00Z", "2020-01-15T10:00Z", "2020-01-31T10:00Z", "2020-02-10T10:00Z",
                 "2020-03-01T10:00Z", "2020-03-31T10:00Z"], utc=True
            ),
            "impressions": pd.array([100, 200, 300, 400, 500, 600], dtype="Int64"),
        }
    )
    out = monthly_metrics(acc, posts, metrics=("impressions", "posts"))
    assert out.attrs["sources"]["impressions"] == "account"
    assert out.attrs["sources"]["impressions_per_post"] == "posts"
    assert out["impressions_per_post"].tolist() == [200.0, 400.0, 550.0]
    assert any("not divided by the posts table's counts" in w for w in out.attrs["warnings"])


def test_a_partial_last_month_of_posts_is_left_out():
    # posts through 2021-06-04 only: June (4 days, 2 posts) is not a complete month of posts
    days = pd.date_range("2021-01-01", "2021-06-04", freq="D")
    posts = pd.DataFrame(
        {
            "published_at": pd.to_datetime(days).tz_localize("UTC") + pd.Timedelta(hours=12),
            "impressions": pd.array(np.full(len(days), 100), dtype="Int64"),
        }
    )
    out = monthly_metrics(pd.DataFrame(), posts, metrics=("impressions", "posts"))
    assert out["complete"].tolist() == [True] * 5 + [False]
    acc = pd.DataFrame(
        {"date": pd.date_range("2021-01-01", periods=6, freq="MS"), "followers": pd.array(np.arange(6) * 100 + 5, dtype="Int64")}
    )
    res = compare_growth(acc, interventions=[("2021-04-01", "x")], posts=posts, monthly_metric="posts")
    assert res["monthly"]["n_before"] == 3 and res["monthly"]["n_after"] == 2  # June left out
