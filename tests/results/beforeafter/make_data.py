"""Write the deterministic inputs the R reference of workbench/beforeafter.py is computed from.

Run from the repository root: ``.venv/bin/python tests/results/beforeafter/make_data.py``, then
``Rscript tests/results/beforeafter/make_reference.R`` writes ``reference.csv`` beside them.

- ``posts.csv``: 600 posts over 2023-01 .. 2024-12 (uneven posts per month, a shared month shock so the
  month clusters matter, heavy-tailed post noise, zeros, replies, a follower count growing with noise);
  the intervention date is 2024-02-15 (mid-month, so the month containing it is split between the sides).
- ``months.csv``: 26 monthly values with one incomplete month and the month containing the date.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATE = "2024-02-15"


def make_posts(n: int = 600, seed: int = 20261127) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    span = (pd.Timestamp("2025-01-01") - start).total_seconds()
    # uneven activity: more posts late in the series, bursts in some months
    u = np.sort(rng.beta(1.3, 1.0, n))
    when = start + pd.to_timedelta(np.round(u * span), unit="s")
    month = when.to_period("M")
    codes, uniq = pd.factorize(month)
    shock = rng.normal(0, 0.35, len(uniq))[codes]  # a month's news / algorithm shared by its posts
    years = np.asarray((when - pd.Timestamp(DATE)) / pd.Timedelta(days=365.25), float)
    followers = np.round(1500 * np.exp(0.45 * (years + 1.2) + rng.normal(0, 0.05, n)))
    is_reply = rng.random(n) < 0.2
    after = np.asarray(when >= pd.Timestamp(DATE))
    eta = 3.0 + 0.25 * after + 0.1 * years + 0.8 * np.log(followers / 1500) - 1.2 * is_reply + shock
    noise = rng.standard_t(3, n) * 0.6
    impressions = np.floor(np.expm1(np.clip(np.asarray(eta + noise, float), 0, None))).astype(int)
    impressions[rng.random(n) < 0.03] = 0
    return pd.DataFrame({
        "published_at": when.strftime("%Y-%m-%d %H:%M:%S"),
        "impressions": impressions,
        "followers_at_post": followers.astype(int),
        "is_reply": is_reply,
    })


def make_months(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    month = pd.date_range("2023-01-01", periods=26, freq="MS")
    t = np.arange(26) - 13.5
    after = month >= pd.Timestamp(DATE)
    e = np.zeros(26)
    for i in range(1, 26):  # AR(1) noise: Newey-West has something to correct
        e[i] = 0.6 * e[i - 1] + rng.normal(0, 0.08)
    value = np.round(np.exp(7 + 0.01 * t + 0.2 * after + 0.015 * t * after + e), 1)
    complete = np.ones(26, bool)
    complete[-1] = False  # the export stops mid-month
    return pd.DataFrame({"month": month.strftime("%Y-%m-%d"), "value": value, "complete": complete})


if __name__ == "__main__":
    make_posts().to_csv(HERE / "posts.csv", index=False)
    make_months().to_csv(HERE / "months.csv", index=False)
