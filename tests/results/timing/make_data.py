"""Write the deterministic posts the R reference of workbench/timing.py is computed from.

Run from the repository root: ``.venv/bin/python tests/results/timing/make_data.py``, then
``Rscript tests/results/timing/make_reference.R`` writes the reference CSVs beside it.

``posts.csv``: 700 posts over 18 months, published_at in UTC, analysed in America/New_York (DST changes inside
the data); uneven use of slots (most posts on weekday working hours, a few at night: groups of 1 post occur),
hour and weekday effects plus a small slot interaction, monthly growth, heavy-tailed noise; a few replies and
posts with an unreliable time (left out) and one without the outcome.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make_posts(n: int = 700, seed: int = 20261127) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2023-03-01", tz="America/New_York") + pd.to_timedelta(rng.integers(0, 540, n), unit="D")
    hp = np.exp(-0.5 * ((np.arange(24) - 13) / 3.5) ** 2) + 0.02
    hour = rng.choice(24, n, p=hp / hp.sum())
    minute = rng.integers(0, 60, n)
    local = day.normalize() + pd.to_timedelta(hour, unit="h") + pd.to_timedelta(minute, unit="m")
    wd = local.weekday.to_numpy()
    h = local.hour.to_numpy()
    month = (local.year * 12 + local.month).to_numpy()
    eta = (4 + 0.03 * (month - month.min()) + 0.25 * np.sin(2 * np.pi * h / 24) - 0.3 * (wd >= 5)
           + 0.2 * ((wd == 2) & (h == 10)))
    impressions = np.floor(np.expm1(eta + 0.7 * rng.standard_t(4, n))).clip(0).astype(float)
    impressions[5] = np.nan
    is_reply = rng.random(n) < 0.05
    reliable = rng.random(n) > 0.03
    return pd.DataFrame({
        "published_at": local.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "impressions": impressions,
        "is_reply": is_reply,
        "published_time_reliable": reliable,
    })


if __name__ == "__main__":
    make_posts().to_csv(HERE / "posts.csv", index=False)
