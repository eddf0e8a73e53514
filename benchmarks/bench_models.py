"""Time ``fit_post_models`` at 1,000 and 100,000 posts (median of 3) and print a markdown table.

Run from the repository root: ``.venv/bin/python benchmarks/bench_models.py [--sizes 1000 100000] [--repeat 3]
[--reference]``. Wall and CPU seconds are printed (the CPU time is the fairer number on a shared machine), with
the machine's load average. ``--reference`` also times the fits the workbench used before issue 14 (``workbench.fastfit``'s OLS and NB2
switched off: OLS by statsmodels' pinv/SVD, NB2 by statsmodels' optimizers; the rest of the stage as it is now).
The posts are simulated with ``workbench.simulate.simulate_posts`` (the example dataset's generator: six
features, impressions and engagements with known effects) plus a ``year`` column, so every default model runs:
ols_log (+ residual checks, Cook's distance, controls sensitivity), ols_std, negbin and negbin_rate (+ the
Poisson fits of the overdispersion tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.models import MODELS, ModelWarning, fit_post_models  # noqa: E402
from workbench.simulate import simulate_followers, simulate_posts  # noqa: E402


def make_posts(n_posts: int, seed: int = 1):
    """Simulated posts_coded: the example generator's posts with ``year`` added."""
    rng_f, rng_p = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    followers = simulate_followers(
        rng=rng_f,
        start=dt.date(2020, 1, 1),
        end=dt.date(2023, 12, 31),
        intervention=dt.date(2022, 1, 1),
        start_followers=1500,
        net_per_day_before=1.0,
        net_per_day_after=1.7,
        unfollows_per_day_before=0.4,
        unfollows_per_day_after=0.5,
    )
    posts = simulate_posts(followers, rng=rng_p, n_posts=n_posts)
    posts["year"] = posts["published_at"].dt.year.astype("Int64")
    return posts


def time_fit(posts, models, repeat: int, *, reference: bool = False) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of ``repeat`` fits; ``reference``: with workbench.fastfit switched off."""
    from workbench import fastfit

    saved = fastfit.fit_ols, fastfit.fit_nb2
    if reference:
        fastfit.fit_ols = fastfit.fit_nb2 = lambda *a, **k: None
    times = []
    try:
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ModelWarning)
                fit_post_models(posts, models=models)
            times.append((time.perf_counter() - t0, time.process_time() - c0))
    finally:
        fastfit.fit_ols, fastfit.fit_nb2 = saved
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", action="store_true", help="also time the statsmodels path (before issue 14)")
    args = parser.parse_args(argv)
    rows = []
    paths = ("fast", "statsmodels") if args.reference else ("fast",)
    for n in args.sizes:
        posts = make_posts(n)
        for label, models in (("all default models", MODELS), ("ols_log only", ("ols_log",))):
            for path in paths:
                times = time_fit(posts, models, args.repeat, reference=path == "statsmodels")
                wall = [t[0] for t in times]
                cpu = [t[1] for t in times]
                rows.append((n, label, path, statistics.median(wall), min(wall), max(wall), statistics.median(cpu)))
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"fit_post_models — {platform.node()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"median of {args.repeat}; load average at the end {load}\n"
    )
    print("| posts | models | path | median s | min s | max s | median CPU s |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for n, label, path, med, lo, hi, cpu in rows:
        print(f"| {n:,} | {label} | {path} | {med:.2f} | {lo:.2f} | {hi:.2f} | {cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
