"""Write the deterministic accounts and post dates the R reference of workbench/cohort.py's going-quiet analysis uses.

Run from the repository root: ``.venv/bin/python tests/results/cohort/make_data.py``, then
``Rscript tests/results/cohort/make_reference.R`` writes the reference CSVs beside them.

- ``accounts.csv`` (account, treated, follow_up, end): 48 accounts in two training cohorts (2024-01-10,
  2024-03-05), about half with a follow-up 14–60 days after training, data ending on different days (censoring),
  two accounts observed for less than 30 days after training (left out).
- ``posts.csv`` (account, date): day-resolution post dates (tied durations), each account posting every 1–12
  days until it goes quiet (or never, within its data); some go quiet at once (no post in the first 30 days).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make(seed: int = 20261127) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    accounts, posts = [], []
    for i in range(48):
        treated = pd.Timestamp("2024-01-10") if i < 26 else pd.Timestamp("2024-03-05")
        follow_up = treated + pd.Timedelta(days=int(rng.integers(14, 61))) if rng.random() < 0.5 else pd.NaT
        span = int(rng.integers(120, 420)) if i not in (3, 40) else 25
        end = treated + pd.Timedelta(days=span)
        rate_gap = rng.uniform(1, 12) if not pd.isna(follow_up) else rng.uniform(2, 14)
        stop = treated + pd.Timedelta(days=float(rng.exponential(150 if not pd.isna(follow_up) else 110)))
        day = treated + pd.Timedelta(days=int(rng.integers(0, 45)) if rng.random() < 0.1 else 0)
        while True:
            day = day + pd.Timedelta(days=int(np.ceil(rng.exponential(rate_gap))))
            if day >= min(stop, end + pd.Timedelta(days=10)):
                break
            posts.append({"account": f"acc{i:02d}", "date": day.strftime("%Y-%m-%d")})
        accounts.append({"account": f"acc{i:02d}", "treated": treated.strftime("%Y-%m-%d"),
                         "follow_up": "" if pd.isna(follow_up) else follow_up.strftime("%Y-%m-%d"),
                         "end": end.strftime("%Y-%m-%d")})
    return pd.DataFrame(accounts), pd.DataFrame(posts)


if __name__ == "__main__":
    a, p = make()
    a.to_csv(HERE / "accounts.csv", index=False)
    p.to_csv(HERE / "posts.csv", index=False)
