"""Write the deterministic 200-post dataset the R reference values are computed from.

Run from the repository root: ``.venv/bin/python tests/results/models/make_model_data.py``.
Then ``Rscript tests/results/make_model_refs.R`` writes the reference CSVs beside it.
The data are synthetic (seeded), with a few NA values so that complete-case handling is compared too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make_model_data(n: int = 200, seed: int = 20240611) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    has_poll = rng.random(n) < 0.25
    has_graphic = rng.random(n) < 0.4
    has_url = rng.random(n) < 0.6
    has_emoji = rng.random(n) < 0.3
    n_hashtags = rng.poisson(1.2, n)
    n_mentions = rng.poisson(0.8, n)
    year = rng.choice([2020, 2021, 2022], n, p=[0.3, 0.35, 0.35])
    followers = np.round(800 * np.exp(0.4 * (year - 2020) + rng.normal(0, 0.2, n)))
    eta = (
        4.0
        + 0.30 * has_poll
        + 0.20 * has_graphic
        - 0.15 * has_url
        + 0.05 * has_emoji
        - 0.08 * n_hashtags
        + 0.10 * n_mentions
        + 0.5 * np.log1p(followers) / 7
        + 0.1 * (year - 2020)
    )
    alpha = 0.6  # NB2 dispersion
    mu = np.exp(eta)
    impressions = rng.poisson(rng.gamma(1 / alpha, mu * alpha))
    engagements = rng.poisson(rng.gamma(1 / 0.9, np.exp(eta - 3.0) * 0.9))
    df = pd.DataFrame(
        {
            "post_id": [f"p{i:03d}" for i in range(n)],
            "impressions": impressions.astype(float),
            "engagements": engagements.astype(float),
            "has_poll": has_poll.astype(float),
            "has_graphic": has_graphic.astype(float),
            "has_url": has_url.astype(float),
            "has_emoji": has_emoji.astype(float),
            "n_hashtags": n_hashtags.astype(float),
            "n_mentions": n_mentions.astype(float),
            "followers_at_post": followers,
            "year": year.astype(float),
        }
    )
    # A few values "not reported": dropped per fit, as R's na.omit does.
    df.loc[[3, 50, 120], "impressions"] = np.nan
    df.loc[[7, 51], "has_emoji"] = np.nan
    df.loc[[9], "followers_at_post"] = np.nan
    df.loc[[11, 60, 61, 150], "engagements"] = np.nan
    return df


if __name__ == "__main__":
    out = HERE / "model_data.csv"
    make_model_data().to_csv(out, index=False, na_rep="NA", float_format="%.10g")
    print(f"wrote {out}")
