"""Roll-up scale: synthetic run folders written directly as Parquet (no pipeline), then `run_rollup` timed.

Usage: python benchmarks/bench_rollup.py [--accounts 100] [--posts-per-account 100000] [--dir /tmp/rollup_bench]

Each account gets a ``data/posts_coded.parquet`` (canonical columns used by the roll-up: published_at, impressions,
engagements, the six default predictors, followers_at_post, year) with known effects (poll +35 %, graphic +25 %,
link +20 %, emoji −15 %, −3 % per hashtag on impressions; each account's effects vary with SD 0.05 on the log
scale) and a daily ``data/account.parquet``. The roll-up runs in a fresh process so its peak RSS is its own.
Prints seconds, peak RSS (MB) and the pooled estimates next to the truth.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

TRUE = {"has_poll": 0.35, "has_graphic": 0.25, "has_url": 0.20, "has_emoji": -0.15}


def write_folders(root: Path, n_accounts: int, per: int, seed: int = 1) -> list[Path]:
    rng = np.random.default_rng(seed)
    out = []
    for a in range(n_accounts):
        d = root / f"acct_{a:04d}" / "data"
        out.append(d.parent)
        if (d / "posts_coded.parquet").exists():
            continue
        d.mkdir(parents=True, exist_ok=True)
        prev = dict(zip(TRUE, (0.1, 0.3, 0.5, 0.25), strict=True))
        X = {k: rng.random(per) < p for k, p in prev.items()}
        nh, nm = rng.integers(0, 4, per), rng.integers(0, 3, per)
        fol = rng.uniform(500, 5000) * np.exp(np.linspace(0, 0.5, per))
        b = np.log1p(np.array(list(TRUE.values()))) + rng.normal(0, 0.05, len(TRUE))
        mu = np.log(300) + rng.normal(0, 0.5) + np.log(fol / 1000) + np.log(0.97) * nh
        mu = mu + sum(b[i] * X[k] for i, k in enumerate(TRUE))
        imp = np.maximum(np.round(np.exp(mu + rng.normal(0, 0.5, per))), 1).astype("int64")
        t = pd.Timestamp("2022-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 730 * 86400, per)), unit="s")
        pd.DataFrame({
            "post_id": np.char.add(f"{a}_", np.arange(per).astype(str)), "published_at": t,
            "impressions": pd.array(imp, dtype="Int64"), "engagements": pd.array(rng.poisson(imp * 0.015), dtype="Int64"),
            **X, "n_hashtags": nh, "n_mentions": nm, "followers_at_post": fol, "year": t.year,
        }).to_parquet(d / "posts_coded.parquet", index=False)
        days = pd.date_range("2022-01-01", periods=730)
        lvl = np.round(np.linspace(fol[0], fol[-1], 730)).astype("int64")
        pd.DataFrame({"date": days, "followers": pd.array(lvl, dtype="Int64")}).to_parquet(d / "account.parquet", index=False)
    return out


def _child(folders: list[str], out: str) -> None:
    from workbench.rollup import run_rollup

    t0 = time.perf_counter()
    res = run_rollup(folders, out, echo=lambda s: None)
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pooled = {r["term"]: r["effect_pct"] for r in res["pooled"].get("terms", [])}
    print(json.dumps({"seconds": seconds, "peak_rss_mb": rss_mb, "posts": res["n_posts"],
                      "accounts": res["n_accounts"], "pooled_effect_pct": pooled}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--posts-per-account", type=int, default=100_000)
    ap.add_argument("--dir", default="/tmp/rollup_bench")
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child is not None:
        _child(a.child[:-1], a.child[-1])
        return
    root = Path(a.dir)
    folders = write_folders(root / "runs", a.accounts, a.posts_per_account)
    proc = subprocess.run([sys.executable, __file__, "--child", *map(str, folders), str(root / "out")],
                          capture_output=True, text=True, check=True)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{r['accounts']} accounts, {r['posts']:,} posts: roll-up {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    for k, v in TRUE.items():
        print(f"  {k}: pooled {r['pooled_effect_pct'].get(k, float('nan')):+.1f} % (true mean of accounts {100 * v:+.0f} %)")


if __name__ == "__main__":
    main()
