"""Before/after numbers that are true on real accounts (review15 X2, R3, M2, R1, M11).

- a ratio of medians needs MIN_LEVEL_POSTS posts a side and two positive medians; its interval resamples whole
  months and needs MIN_MONTHS_EACH_SIDE months a side (beforeafter.median_ratio_rule);
- the before/after table's interval is the summary's (one ratio, one interval: months resampled);
- the account-vs-posts reconciliation files month_of: previous rows under their month and gives reasons that fit
  the difference's sign;
- a refused monthly interrupted time series gives its true reason (a partial month is not "no data").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.beforeafter import MIN_MONTHS_EACH_SIDE, median_ratio_rule, monthly_its, post_change
from workbench.findings.posts import compare_post_medians, reconcile_totals
from workbench.models import MIN_LEVEL_POSTS

DATE = pd.Timestamp("2025-01-01")


def _posts(per_month: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for month, values in per_month.items():
        start = pd.Timestamp(month)
        for i, v in enumerate(values):
            rows.append((start + pd.Timedelta(days=1 + i % 25, hours=12), v))
    when, y = zip(*rows, strict=True)
    return pd.DataFrame({"published_at": pd.DatetimeIndex(when).tz_localize("UTC"),
                         "impressions": pd.array(y, dtype="Int64"), "engagements": pd.array(
                             [max(int(v) // 10, 1) for v in y], dtype="Int64")})


def _spread(n: int, level: float, seed: int) -> list[float]:
    return list(np.random.default_rng(seed).integers(int(level * 0.5), int(level * 1.5), n).astype(float))


def test_rule_refuses_too_few_posts_and_zero_medians_and_says_why():
    few = median_ratio_rule(np.arange(1, 21.0), np.array([0.0]), 3, 3, noun="views")
    assert few["median_ratio"] is None
    assert few["median_ratio_reason"] == (f"20 post(s) before and 1 after; a ratio of medians needs at least "
                                          f"{MIN_LEVEL_POSTS} on each side")
    zero = median_ratio_rule(np.arange(1, 21.0), np.r_[np.zeros(8), np.ones(4)], 3, 3, noun="views")
    assert zero["median_ratio"] is None
    assert zero["median_ratio_reason"].startswith("the median after is 0 (8 of 12 posts have no views)")
    ok = median_ratio_rule(np.full(12, 10.0), np.full(12, 15.0), 3, 3)
    assert ok["median_ratio"] == pytest.approx(1.5) and ok["median_ratio_ci_reason"] is None
    two = median_ratio_rule(np.full(12, 10.0), np.full(12, 15.0), 2, 2)
    assert two["median_ratio"] == pytest.approx(1.5)
    assert two["median_ratio_ci_reason"] == (f"posts in 2 month(s) before and 2 after; an interval from resampling "
                                             f"whole months needs at least {MIN_MONTHS_EACH_SIDE} on each side")


def test_no_month_resampling_interval_from_two_months_a_side():
    # TopDomainClub's shape: 13 + 19 posts in the two months before, 5 + 6 in the two after
    posts = _posts({"2024-11-01": _spread(13, 70, 1), "2024-12-01": _spread(19, 75, 2),
                    "2025-01-01": _spread(5, 80, 3), "2025-02-01": _spread(6, 85, 4)})
    d = post_change(posts, DATE).descriptive
    assert d["median_ratio"] is not None and d["median_ratio_ci"] == [None, None]
    assert "needs at least 3 on each side" in d["median_ratio_ci_reason"]
    table = compare_post_medians(posts, split=DATE.date()).set_index("metric")
    assert np.isnan(table.loc["impressions", "ratio_ci_low"])
    assert "no interval" in table.loc["impressions", "note"]


def test_the_table_and_the_summary_give_one_interval():
    months = {f"2024-{m:02d}-01": _spread(12, 100 + 5 * m, m) for m in range(7, 13)}
    months.update({f"2025-{m:02d}-01": _spread(12, 120, 20 + m) for m in range(1, 6)})
    posts = _posts(months)
    d = post_change(posts, DATE).descriptive
    row = compare_post_medians(posts, split=DATE.date()).set_index("metric").loc["impressions"]
    assert row["ratio"] == pytest.approx(d["median_ratio"])
    assert [row["ratio_ci_low"], row["ratio_ci_high"]] == pytest.approx(d["median_ratio_ci"])
    assert (row["months_before"], row["months_after"]) == (6, 5) and row["note"] == ""


def test_one_post_with_zero_views_gives_no_ratio():
    posts = _posts({"2024-10-01": _spread(10, 30000, 1), "2024-11-01": _spread(10, 30000, 2),
                    "2025-03-01": [0.0]})
    row = compare_post_medians(posts, split=DATE.date()).set_index("metric").loc["impressions"]
    assert np.isnan(row["ratio"]) and "needs at least" in row["note"]
    d = post_change(posts, DATE).descriptive
    assert d["median_ratio"] is None and "1 after" in d["median_ratio_reason"]


def _account_sheet() -> pd.DataFrame:
    """A monthly sheet whose rows hold the previous month's totals (rOpenSci's), dated the 2nd of the month."""
    dates = pd.to_datetime(["2021-02-02", "2021-03-02", "2021-04-02", "2021-05-02"])
    return pd.DataFrame({"date": dates, "platform": "x", "account": "acct",
                         "impressions": pd.array([1000, 2000, 3000, 4000], dtype="Int64"),
                         "posts": pd.array([10, 20, 30, 40], dtype="Int64"),
                         "source_file": "raw/sheet.csv"})


def test_reconciliation_applies_month_of_previous_and_fits_the_sign():
    # posts in Jan–Mar 2021 (one a month, but 12 replies among 30), none in April
    when = pd.to_datetime(["2021-01-05", "2021-02-05", "2021-03-05"] * 10, utc=True)
    posts = pd.DataFrame({"published_at": when, "impressions": pd.array([50] * 30, dtype="Int64"),
                          "is_reply": pd.array([True] * 12 + [False] * 18, dtype="boolean")})
    raw = {r["metric"]: r for r in reconcile_totals(posts, _account_sheet())}
    moved = {r["metric"]: r for r in reconcile_totals(posts, _account_sheet(), month_of_previous=["raw/sheet.csv"])}
    # without the shift: the rows dated 2 Feb and 2 Mar (= Jan and Feb totals) fall within January … 5 Mar
    assert raw["impressions"]["account"] == 1000 + 2000
    # with it: January, February and March (the rows of February, March and April)
    assert moved["impressions"]["account"] == 1000 + 2000 + 3000
    assert moved["impressions"]["month_of_previous_applied"] is True
    imp = moved["impressions"]  # 6000 vs 1500: account larger, no reply-based reason (the posts hold replies)
    assert imp["difference"] > 0 and not any("replies" in r for r in imp["reasons"])
    n = moved["posts"]  # 60 vs 30: the account counts more posts
    assert n["difference"] > 0
    # the posts table holds more posts than the account files: the reasons fit a negative difference
    posts_many = pd.concat([posts] * 3, ignore_index=True)
    neg = {r["metric"]: r for r in reconcile_totals(posts_many, _account_sheet(),
                                                     month_of_previous=["raw/sheet.csv"])}["posts"]
    assert neg["difference"] < 0
    text = " ".join(neg["reasons"])
    assert "count fewer posts" in text and "36 replies" in text
    assert "also count posts not in the per-post files" not in text


def test_reconciliation_names_a_month_with_account_totals_and_no_posts():
    when = pd.to_datetime(["2021-01-05", "2021-03-05", "2021-04-05"], utc=True)
    posts = pd.DataFrame({"published_at": when, "impressions": pd.array([50, 50, 50], dtype="Int64")})
    rec = {r["metric"]: r for r in reconcile_totals(posts, _account_sheet(),
                                                     month_of_previous=["raw/sheet.csv"])}["impressions"]
    assert rec["months_without_posts"] == ["2021-02"]
    assert any("February 2021" in r and "missing" in r for r in rec["reasons"])


def _months(values, start, complete=True):
    return pd.DataFrame({"month": pd.date_range(start, periods=len(values), freq="MS"), "impressions": values,
                         "complete": complete})


def test_its_reason_for_a_partial_month_after_the_date():
    m = _months(np.full(8, 100.0), "2024-07-01")  # Jul 2024 … Feb 2025
    m = pd.concat([m, _months([5.0], "2025-03-01", complete=False)], ignore_index=True)
    res = monthly_its(m, "2025-02-20", metric="impressions")
    assert not res.available
    assert res.reason.startswith("no complete month after the date: the month(s) after it with data (March 2025) "
                                 "are counted as partial")
    assert "the month containing the date is left out" in res.reason
    # nothing after the date at all: the old reason stays
    res = monthly_its(_months(np.full(8, 100.0), "2024-01-01"), "2025-02-20", metric="impressions")
    assert res.reason.startswith("the date is after your monthly data")
    # data after the date only inside the month containing it
    res = monthly_its(_months(np.full(8, 100.0), "2024-07-01"), "2025-02-20", metric="impressions")
    assert res.reason.startswith("no month wholly after the date")
