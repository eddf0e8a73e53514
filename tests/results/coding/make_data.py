"""Write the deterministic manual codes the R reference of workbench/coding.py's kappas is computed from.

Run from the repository root: ``.venv/bin/python tests/results/coding/make_data.py``, then
``Rscript tests/results/coding/make_reference.R`` writes ``ref_kappa.csv`` and ``ref_pairs.csv`` beside it.

``codes.csv`` (post_id, coder, code, value), coders ann, bo, cy, dee and an ``adjudicated`` row set (not a rater):

- ``has_cta`` (binary, mixed spellings 1/0/true/FALSE/1.0): ann and bo code 90 posts, cy 45, dee 20, so posts
  have 2, 3 or 4 ratings (Fleiss uses the most common number); ~80% agreement with a skewed base rate.
- ``tone`` (4 nominal levels): ann, bo, cy code 60 posts but cy skips 12, one level rare.
- ``topic`` (3 levels): bo × cy share 50 posts, ann × bo 30, ann × cy 12 (the reported Cohen pair is not the
  first two coders).
- ``sarcasm`` (binary): two coders, 8 shared posts (too few for a pairwise value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _noisy(rng, truth, levels, p_agree, n):
    out = truth.copy()
    flip = rng.random(n) > p_agree
    out[flip] = rng.choice(levels, int(flip.sum()))
    return out


def make_codes(seed: int = 20261127) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []

    def put(code, coder, posts, values):
        rows.extend({"post_id": f"p{p:03d}", "coder": coder, "code": code, "value": v}
                    for p, v in zip(posts, values, strict=True))

    posts = np.arange(90)
    truth = (rng.random(90) < 0.3).astype(int)
    spell1, spell0 = np.array(["1", "true", "1.0", "TRUE"]), np.array(["0", "false", "FALSE", "0.0"])
    for coder, sel, pa in (("ann", posts, 0.9), ("bo", posts, 0.8), ("cy", posts[::2], 0.75),
                           ("dee", posts[5:25], 0.85)):
        v = _noisy(rng, truth[sel], np.array([0, 1]), pa, len(sel))
        put("has_cta", coder, sel, np.where(v == 1, rng.choice(spell1, len(v)), rng.choice(spell0, len(v))))
    put("has_cta", "adjudicated", posts[:10], truth[:10].astype(str))

    levels = np.array(["positive", "neutral", "negative", "mixed"])
    posts = np.arange(100, 160)
    truth = rng.choice(levels, 60, p=[0.4, 0.35, 0.2, 0.05])
    for coder, pa in (("ann", 0.85), ("bo", 0.7), ("cy", 0.6)):
        keep = np.ones(60, bool) if coder != "cy" else rng.random(60) > 0.2
        put("tone", coder, posts[keep], _noisy(rng, truth, levels, pa, 60)[keep])

    levels = np.array(["science", "policy", "events"])
    posts = np.arange(200, 280)
    truth = rng.choice(levels, 80)
    for coder, sel in (("bo", np.r_[0:50, 50:60]), ("cy", np.r_[0:50, 60:72]), ("ann", np.r_[50:60, 60:72, 72:80])):
        put("topic", coder, posts[sel], _noisy(rng, truth[sel], levels, 0.75, len(sel)))

    posts = np.arange(300, 308)
    truth = (rng.random(8) < 0.5).astype(int)
    for coder in ("ann", "dee"):
        put("sarcasm", coder, posts, _noisy(rng, truth, np.array([0, 1]), 0.8, 8).astype(str))
    return pd.DataFrame(rows)


if __name__ == "__main__":
    make_codes().to_csv(HERE / "codes.csv", index=False)
