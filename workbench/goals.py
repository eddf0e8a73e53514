"""Goals judged against the data (issue 19.13, 19.8): the end of the data, not today's date; a follower level
only where one is known.

:func:`assess_goals` returns one row per goal (the columns ``report.assess_goals`` returned, plus ``as_of``,
``basis`` and ``reason``). Statuses:

- ``met`` — the latest value is at or above the target (on or before the deadline);
- ``not met`` — the data reach the deadline and the value on the deadline (the last reading on or before it)
  is below the target;
- ``on track`` / ``not on track`` — the data end before the deadline; the current rate, projected from the
  last reading, reaches the target by the deadline or not (the projection is a straight line; the row says so);
- ``not available`` — no data for the metric, or no follower *level* (only gross or net follows without a
  dated follower count: a level needs an anchor), with the reason and what input would make it possible.

Today's date never decides a status: a deadline that passed after the data ended is judged by projection,
and the row says the data end before the deadline.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .growth import FOLLOWER_INPUT, follower_basis, prepare_growth_series

__all__ = ["assess_goals", "GOAL_COLUMNS"]

GOAL_COLUMNS = [
    "label", "metric", "target", "by", "actual", "actual_date", "rate_per_day", "projected_date", "status",
    "as_of", "basis", "reason",
]


def _series(account: pd.DataFrame | None, metric: str) -> tuple[pd.DataFrame, str, str | None]:
    """(date/value series, basis, reason it is unavailable) of ``metric`` for the main account."""
    empty = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    if account is None or len(account) == 0 or "date" not in account.columns:
        return empty, "none", "no account data"
    if metric == "followers":
        basis = follower_basis(account)
        anchored = "followers" in account.columns and pd.to_numeric(account["followers"], errors="coerce").notna().any()
        if basis == "gross_follows" and anchored:  # a dated total, but no unfollows to carry it forward
            return empty, basis, (
                "the follower level over time is unknown: the data hold a dated follower count (an anchor) and new "
                "follows only; without unfollows the count cannot be carried forward (gross follows are never "
                "summed into a follower count). Needed: daily unfollows, or follower counts on three or more dates"
            )
        if basis in ("net_flows", "gross_follows"):
            return empty, basis, (
                "the follower level is unknown: the data hold "
                + ("new follows only" if basis == "gross_follows" else "new follows and unfollows")
                + " and no dated follower count to anchor them (gross follows are never summed into a "
                "follower count). Needed: " + FOLLOWER_INPUT["columns"]
            )
        if basis == "none":
            return empty, basis, "no follower data. Needed: " + FOLLOWER_INPUT["columns"]
        series, _ = prepare_growth_series(account, metric="followers")
        return series[["date", "value"]], basis, None
    if metric not in account.columns:
        return empty, "none", f"the account table has no {metric!r} column"
    series, _ = prepare_growth_series(account, metric=metric)
    if series.empty:
        return empty, "none", f"no {metric} values"
    return series[["date", "value"]], "metric", None


def _rate(series: pd.DataFrame, growth: Mapping[str, Any] | None, metric: str, since: Any) -> float | None:
    """Per-day rate now: growth.json's last period rate (increments model) for its metric, else a line fit."""
    if growth and growth.get("metric") == metric and growth.get("periods"):
        last = growth["periods"][-1]
        for key in ("rate_per_day", "slope_per_day"):
            v = last.get(key)
            if v is not None and math.isfinite(float(v)):
                return float(v)
    recent = series if since is None else series[series["date"] >= pd.Timestamp(since)]
    if len(recent) < 3:
        recent = series
    if len(recent) < 2 or recent["date"].nunique() < 2:
        return None
    days = (recent["date"] - recent["date"].iloc[0]) / pd.Timedelta(days=1)
    return float(np.polyfit(days.to_numpy(dtype=float), recent["value"].to_numpy(dtype=float), 1)[0])


def assess_goals(
    goals: Iterable[Any],
    *,
    account: pd.DataFrame | None,
    growth: Mapping[str, Any] | None = None,
    since: dt.date | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Return one row per goal (see the module notes); ``today`` is accepted for compatibility and ignored:
    goals are judged against the end of the data."""
    rows = []
    for goal in goals:
        label = goal.label or f"{goal.metric} {goal.target:,.0f}"
        row: dict[str, Any] = dict.fromkeys(GOAL_COLUMNS)
        row.update(label=label, metric=goal.metric, target=float(goal.target), by=goal.by, status="not available")
        series, basis, reason = _series(account, goal.metric)
        row["basis"] = basis
        if series.empty:
            row["reason"] = reason or f"no {goal.metric} data"
            rows.append(row)
            continue
        deadline = pd.Timestamp(goal.by)
        end = series["date"].iloc[-1]
        row["as_of"] = end.date()
        upto = series[series["date"] <= deadline]
        if end >= deadline:
            # the data reach the deadline: judged on the last reading on or before it
            if upto.empty:
                row["reason"] = f"the data start after the deadline ({goal.by})"
                rows.append(row)
                continue
            value, when = float(upto["value"].iloc[-1]), upto["date"].iloc[-1]
            row.update(actual=value, actual_date=when.date())
            row["status"] = "met" if value >= goal.target else "not met"
            row["reason"] = f"judged on the reading of {when.date()} (the last on or before the deadline)"
            rows.append(row)
            continue
        value, when = float(series["value"].iloc[-1]), end
        rate = _rate(series, growth, goal.metric, since)
        row.update(actual=value, actual_date=when.date(), rate_per_day=rate)
        if value >= goal.target:
            row["status"] = "met"
            row["reason"] = f"reached by {when.date()}, before the deadline"
        else:
            if rate is not None and rate > 0:
                row["projected_date"] = (when + pd.Timedelta(days=math.ceil((goal.target - value) / rate))).date()
            on = row["projected_date"] is not None and row["projected_date"] <= goal.by
            row["status"] = "on track" if on else "not on track"
            row["reason"] = (
                f"the data end on {when.date()}, before the deadline ({goal.by}): projected at the current rate "
                f"({'no positive rate' if rate is None or rate <= 0 else f'{rate:.3g} per day'}) from the last "
                "reading, as a straight line"
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=GOAL_COLUMNS)
