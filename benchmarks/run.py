"""`make bench`: speed and scale of the workbench, written to benchmarks/RESULTS.md.

Measures (DESIGN.md §8):
- scale: raw X legacy export → ingest → features → models at 100k and 1M posts (seconds per stage, peak memory),
  each size in a fresh subprocess so peak RSS is that size's own;
- the example pipeline end to end (`workbench run --force`) against the cost of starting its five kernels;
- a re-run with nothing changed (target < 3 s).
Medians of repeated runs where a run is cheap enough to repeat.

Usage: python benchmarks/run.py [--sizes 100000 1000000] [--repeat 3] [--skip-pipeline]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"


def _scale_worker(n_posts: int, folder: str) -> dict:
    """Run in a subprocess: write an n-post export, then time each stage. Returns seconds and peak RSS."""
    import resource

    import numpy as np

    from workbench.features import code_features
    from workbench.ingest import read_files
    from workbench.models import fit_post_models
    from workbench.simulate import format_x_legacy, simulate_tables

    base = simulate_tables(seed=1, n_posts=5000).posts
    reps = -(-n_posts // len(base))
    posts = base.loc[base.index.repeat(reps)].head(n_posts).reset_index(drop=True)
    # unique, valid snowflake-like ids: keep the time bits, vary the low 22 bits
    ids = posts["post_id"].astype("int64").to_numpy() & ~np.int64((1 << 22) - 1)
    posts["post_id"] = (ids | np.arange(n_posts, dtype=np.int64) % (1 << 22)).astype(str)
    posts["post_id"] = posts["post_id"].where(~posts["post_id"].duplicated(), (ids + (1 << 22)).astype(str))
    path = Path(folder) / f"tweet_activity_metrics_Bench_{n_posts}_en.csv"
    path.write_text(format_x_legacy(posts), encoding="utf-8")
    size_mb = path.stat().st_size / 1e6
    del posts, base

    t = {}
    t0 = time.perf_counter()
    result = read_files([path], root=folder)
    t["ingest"] = time.perf_counter() - t0
    account = simulate_tables(seed=1, n_posts=10).sheet.rename(columns={"new_followers": "new_follows"})
    account = account.assign(platform="x", account=result.posts["account"].iloc[0])
    from workbench.schema import ACCOUNT_SCHEMA, conform

    account = conform(account[["date", "platform", "account", "followers"]], ACCOUNT_SCHEMA, table="account")
    t0 = time.perf_counter()
    coded = code_features(result.posts, account=account, timezone="America/New_York")
    t["features"] = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    coded["has_poll"] = rng.random(len(coded)) < 0.1
    coded["has_graphic"] = coded["has_media"].fillna(False)
    for model in ("ols_log", "negbin"):
        t0 = time.perf_counter()
        fit_post_models(coded, models=(model,))
        t[f"models_{model}"] = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"n_posts": len(result.posts), "file_mb": size_mb, "seconds": t, "peak_mb": peak_mb}


def bench_scale(sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            code = f"import json, sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r}); import run; " \
                   f"print(json.dumps(run._scale_worker({n}, {tmp!r})))"
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"  {n:>9,} posts: {rows[-1]['seconds']}  peak {rows[-1]['peak_mb']:.0f} MB", flush=True)
    return rows


def _run_cli(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workbench.cli", *args], check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - t0


def bench_pipeline(repeat: int) -> dict:
    import nbformat
    import papermill as pm
    from nbformat.v4 import new_code_cell, new_notebook

    out = Path(tempfile.mkdtemp(prefix="bench_run_"))
    full = [_run_cli("run", "data/example", "--out", str(out), "--force") for _ in range(repeat)]
    noop = [_run_cli("run", "data/example", "--out", str(out)) for _ in range(repeat)]
    # the floor: starting five kernels that each import the workbench and do nothing else
    nb = new_notebook(cells=[new_code_cell("import workbench.pipeline")])
    nb_path = out / "empty.ipynb"
    nbformat.write(nb, nb_path)
    kernels = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(5):
            pm.execute_notebook(str(nb_path), str(out / "empty_out.ipynb"), progress_bar=False, kernel_name="python3",
                                extra_arguments=["--log-level=ERROR"])
        kernels.append(time.perf_counter() - t0)
    return {"full": statistics.median(full), "noop": statistics.median(noop), "kernels": statistics.median(kernels),
            "repeat": repeat}


def machine() -> str:
    mem = ""
    try:
        mem = f", {int(open('/proc/meminfo').read().split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores{mem}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    lines = ["# Benchmarks", "", f"Machine: {machine()}  ", f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             ""]
    if not args.skip_pipeline:
        print("example pipeline …", flush=True)
        p = bench_pipeline(args.repeat)
        lines += ["## Example pipeline (`workbench run data/example`)", "",
                  f"Median of {p['repeat']} runs.", "",
                  "| what | seconds | target |", "|---|---|---|",
                  f"| full run (`--force`) | {p['full']:.1f} | ≤ 1.5 × kernel floor = {1.5 * p['kernels']:.1f} |",
                  f"| starting five kernels that import workbench (the floor) | {p['kernels']:.1f} | |",
                  f"| re-run with nothing changed | {p['noop']:.2f} | < 3 |", ""]
    if args.sizes:
        print("scale …", flush=True)
        rows = bench_scale(args.sizes)
        stages = list(rows[0]["seconds"])
        lines += ["## Scale: raw X legacy export → models", "",
                  "One run per size in a fresh process (peak = that process's maximum resident memory, which "
                  "includes generating the export). Target at 1M posts: < 20 s raw → fitted models, < 3 GB.", "",
                  "| posts | file MB | " + " | ".join(stages) + " | raw → ols_log total | peak MB |",
                  "|---|---|" + "---|" * len(stages) + "---|---|"]
        for r in rows:
            s = r["seconds"]
            total = s["ingest"] + s["features"] + s["models_ols_log"]
            lines.append(f"| {r['n_posts']:,} | {r['file_mb']:.0f} | " + " | ".join(f"{s[k]:.1f}" for k in stages)
                         + f" | {total:.1f} | {r['peak_mb']:.0f} |")
        lines.append("")
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
