"""Goals judged against the end of the data, with a follower level only where one is known (issue 19.8, 19.13)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench.dataset import Goal
from workbench.goals import GOAL_COLUMNS, assess_goals


def _levels(end="2023-06-01", start="2022-01-01", per_day=10.0, first=1000):
    dates = pd.date_range(start, end, freq="MS")
    days = (dates - dates[0]).days.to_numpy(float)
    return pd.DataFrame({"date": dates, "followers": pd.array(np.round(first + per_day * days).astype(int), dtype="Int64")})


def test_a_deadline_after_the_data_is_judged_by_projection_not_by_today():
    acc = _levels()  # data end 2023-06-01 at 1000 + 10 × 516 = 6160
    goals = [Goal("followers", 8000, dt.date(2023, 12, 31)), Goal("followers", 20000, dt.date(2023, 12, 31))]
    out = assess_goals(goals, account=acc, today=dt.date(2026, 1, 1))
    assert list(out.columns) == GOAL_COLUMNS
    first, second = out.to_dict("records")
    assert first["status"] == "on track" and second["status"] == "not on track"  # never "deadline passed"
    assert first["as_of"] == dt.date(2023, 6, 1) and first["actual"] == 6160
    assert first["rate_per_day"] == pytest.approx(10.0, rel=1e-9)
    assert first["projected_date"] == dt.date(2023, 6, 1) + dt.timedelta(days=184)
    assert "the data end on 2023-06-01, before the deadline" in first["reason"]


def test_a_deadline_inside_the_data_is_judged_on_the_reading_at_the_deadline():
    acc = _levels()
    out = assess_goals(
        [Goal("followers", 3000, dt.date(2022, 8, 15)), Goal("followers", 5000, dt.date(2022, 8, 15))], account=acc
    )
    met, missed = out.to_dict("records")
    # the last reading on or before 2022-08-15 is 2022-08-01: 1000 + 10 × 212 = 3120
    assert met["status"] == "met" and met["actual"] == 3120 and met["actual_date"] == dt.date(2022, 8, 1)
    assert missed["status"] == "not met"


def test_gross_follows_give_no_follower_goal_verdict():
    dates = pd.date_range("2023-01-01", periods=200, freq="D")
    acc = pd.DataFrame({"date": dates, "new_follows": pd.array(np.full(200, 14), dtype="Int64")})
    out = assess_goals([Goal("followers", 10000, dt.date(2023, 12, 31))], account=acc)
    row = out.iloc[0]
    assert row["status"] == "not available" and row["basis"] == "gross_follows"
    assert "the follower level is unknown" in row["reason"] and "never summed" in row["reason"]
    assert row["actual"] is None


def test_no_account_data_is_not_available():
    out = assess_goals([Goal("followers", 10, dt.date(2023, 1, 1))], account=None)
    assert out.iloc[0]["status"] == "not available" and out.iloc[0]["reason"] == "no account data"


def test_the_growth_rate_of_the_increments_model_is_used_when_given():
    acc = _levels()
    growth = {"metric": "followers", "periods": [{"rate_per_day": 3.0, "slope_per_day": 99.0}]}
    out = assess_goals([Goal("followers", 8000, dt.date(2023, 12, 31))], account=acc, growth=growth)
    assert out.iloc[0]["rate_per_day"] == 3.0 and out.iloc[0]["status"] == "not on track"
