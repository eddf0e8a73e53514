"""Write the deterministic count data the R reference of workbench/models.py's count-model fallbacks uses.

Run from the repository root: ``.venv/bin/python tests/results/countfallback/make_data.py``, then
``Rscript tests/results/countfallback/make_reference.R`` writes ``ref_coefs.csv`` and ``ref_dispersion.csv``.

``counts.csv``: 260 posts with ``has_url`` (0/1), ``n_hashtags`` (0–6), ``followers`` (2,000–60,000: the
fallbacks fit on centred and scaled columns and map back), ``impressions`` (exposure, for the offset fit),
``y_over`` (NB2 counts, α = 0.8, with a few huge ones) and ``y_under`` (binomial counts: variance below the
mean, so the intercept-only NB2 α runs to 0 and the robust Poisson fallback is used).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make_counts(n: int = 260, seed: int = 20261127) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    has_url = (rng.random(n) < 0.55).astype(int)
    n_hashtags = rng.integers(0, 7, n)
    followers = np.round(np.exp(rng.uniform(np.log(2000), np.log(60000), n)))
    impressions = np.round(followers * rng.uniform(0.05, 0.3, n)) + 1
    eta = 0.5 + 0.3 * has_url - 0.1 * n_hashtags + 0.4 * np.log(followers / 10000) + np.log(impressions / 1000)
    mu = np.exp(eta)
    alpha = 0.8
    y_over = rng.poisson(rng.gamma(1 / alpha, mu * alpha))
    y_over[:3] *= 40
    p = 1 / (1 + np.exp(-(-0.2 + 0.5 * has_url - 0.15 * n_hashtags)))
    y_under = rng.binomial(12, p)
    return pd.DataFrame({"has_url": has_url, "n_hashtags": n_hashtags, "followers": followers.astype(int),
                         "impressions": impressions.astype(int), "y_over": y_over, "y_under": y_under})


if __name__ == "__main__":
    make_counts().to_csv(HERE / "counts.csv", index=False)
