"""Measure what the analysis population changes on a replies-heavy account with heavy-tailed impressions.

Run from the repository root: ``.venv/bin/python tests/results/models/measure_population.py``.
A look-alike of issue 10's account (3,087 posts, 65% replies reaching ~e² fewer people and rarely carrying
hashtags; true effect on original posts +49% per hashtag, −4.9% per mention; every 150th post ×300).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the generator in test_models

from test_models import RH_PREDICTORS, replies_heavy  # noqa: E402

from workbench.models import fit_post_models  # noqa: E402


def main() -> None:
    warnings.simplefilter("ignore")
    df = replies_heavy(3087, seed=10, reply_share=0.65)
    y = df["impressions"].astype(float).to_numpy()
    y[::150] *= 300
    df["impressions"] = pd.array(y.astype(int), dtype="Int64")
    runs = {
        "original (default)": (df, "original"),
        "all, post type controlled": (df, "all"),
        "post types unknown (the old behaviour)": (df.drop(columns=["is_reply", "text"]), None),
    }
    print(f"truth on original posts: hashtag {100 * np.expm1(0.4):+.1f}%, mention {100 * np.expm1(-0.05):+.1f}%")
    for label, (data, population) in runs.items():
        pm = fit_post_models(data, predictors=RH_PREDICTORS, models=("ols_log", "negbin"), population=population)
        t = pm.table[(pm.table["outcome"] == "impressions") & (pm.table["model"] == "ols_log")].set_index("term")
        od = pm.diagnostics["impressions"]["overdispersion"]["negbin"]
        print(
            f"{label}: n {pm.diagnostics['impressions']['n']}, hashtag {t.loc['n_hashtags', 'effect_pct']:+.1f}%, "
            f"mention {t.loc['n_mentions', 'effect_pct']:+.1f}%, R² {t['r2'].iloc[0]:.3f}; variance/mean "
            f"{od['variance_to_mean']:.3g}, NB α {od['alpha']:.2f}, Cameron–Trivedi p {od['ct_p']:.3f}, "
            f"LR p {od['lr_p']:.2g}, Pearson p {od['pearson_p']:.2g} (dispersion {od['pearson_dispersion']:.3g}), "
            f"overdispersed {od['overdispersed']}"
        )


if __name__ == "__main__":
    main()
