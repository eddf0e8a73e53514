"""Write the deterministic inputs the R reference of workbench/campaigns.py's estimators is computed from.

Run from the repository root: ``.venv/bin/python tests/results/campaigns/make_data.py``, then
``Rscript tests/results/campaigns/make_reference.R`` writes ``reference.csv`` beside them.

- ``rows.csv``: campaign rows (``set``, ``impressions``, ``clicks``, ``spend``); each ``set`` is one
  rate/cost estimate: overdispersed days (day-to-day click-through varies, beta-binomial), a calm set
  (dispersion below 1: the plain Wilson interval), one row (no dispersion: Wilson of the totals, Poisson cost),
  few rows (< 10: Poisson cost), rows with zero impressions, and a set with no clicks at all.
- ``props.csv``: single (x, n) Wilson cases, including x = 0, x = n and non-integer x, n.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make_rows(seed: int = 20261127) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = []

    def add(name, imp, p, spend):
        clicks = rng.binomial(imp, p)
        out.append(pd.DataFrame({"set": name, "impressions": imp, "clicks": clicks, "spend": spend}))

    k = 40
    imp = rng.integers(200, 20000, k)
    add("overdispersed", imp, rng.beta(2, 120, k), np.round(imp * rng.gamma(20, 0.0002, k), 2))
    k = 25
    imp = rng.integers(5000, 6000, k)
    add("calm", imp, np.full(k, 0.03), np.round(imp * 0.004 + rng.normal(0, 0.5, k), 2))
    add("one_row", np.array([4321]), np.array([0.02]), np.array([17.5]))
    imp = rng.integers(100, 900, 6)
    add("few_rows", imp, np.full(6, 0.05), np.round(imp * 0.01, 2))
    imp = np.concatenate([rng.integers(1000, 3000, 14), [0, 0]])
    add("zero_rows", imp, rng.beta(3, 100, 16), np.round(imp * 0.005, 2))
    add("no_clicks", np.array([300, 250, 410]), np.zeros(3), np.array([1.2, 0.9, 1.5]))
    return pd.concat(out, ignore_index=True)


def make_props() -> pd.DataFrame:
    return pd.DataFrame({
        "x": [0, 1, 7, 50, 100, 3.7, 1234.5, 9],
        "n": [20, 20, 31, 100, 100, 11.2, 50000.25, 9],
    })


if __name__ == "__main__":
    make_rows().to_csv(HERE / "rows.csv", index=False)
    make_props().to_csv(HERE / "props.csv", index=False)
