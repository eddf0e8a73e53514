"""`make bench`: speed and scale of the workbench, written to benchmarks/RESULTS.md (DESIGN.md §8).

Every number is set beside a floor measured in the same run, so a loaded machine slows both:
- the floor: ONE kernel started by papermill that imports pandas, statsmodels and seaborn (what any notebook
  of the workbench pays at least once);
- the example run (`workbench run data/example --force`) as a multiple of that floor (target ≤ 2×), and a
  re-run with nothing changed (target < 0.3 s);
- scale: 100k / 300k / 1M X-legacy posts, raw CSV → ingest → features → models, each stage in a subprocess of
  its own (seconds of work and the process's peak RSS), with the per-post cost relative to the smallest size
  (target: within 1.2× of linear);
- the whole `workbench run` (report included) at the largest size: seconds and the peak resident memory of
  the run's process tree (CLI + kernel + the screenshot's Chromium; proportional set size, sampled every 0.1 s).
The machine's load average is printed beside the numbers: other work on the machine inflates them.

Usage: python benchmarks/run.py [--sizes 100000 300000 1000000] [--repeat 3] [--skip-pipeline] [--skip-run]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"
FLOOR_IMPORTS = "import pandas, statsmodels.api, seaborn"


def load() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# --------------------------------------------------------------------------------------------------------------
# workers (each run in a subprocess of its own: `python run.py --worker STAGE N FOLDER`)


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(n_posts: int, folder: Path) -> dict:
    """An n-post X legacy export (unique snowflake-like ids) and the example's follower sheet, as a dataset."""
    import numpy as np

    from workbench.simulate import format_x_legacy, simulate_tables

    base = simulate_tables(seed=1, n_posts=5000).posts
    reps = -(-n_posts // len(base))
    posts = base.loc[base.index.repeat(reps)].head(n_posts).reset_index(drop=True)
    ids = posts["post_id"].astype("int64").to_numpy() & ~np.int64((1 << 22) - 1)
    posts["post_id"] = (ids | np.arange(n_posts, dtype=np.int64) % (1 << 22)).astype(str)
    posts["post_id"] = posts["post_id"].where(~posts["post_id"].duplicated(), (ids + (1 << 22)).astype(str))
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    path = raw / f"tweet_activity_metrics_Bench_{n_posts}_en.csv"
    path.write_text(format_x_legacy(posts), encoding="utf-8")
    shutil.copy(REPO / "data" / "example" / "raw" / "followers_monthly.csv", raw / "followers_monthly.csv")
    (folder / "dataset.yml").write_text(
        f"name: bench{n_posts}\ntitle: Benchmark, {n_posts:,} posts\ntimezone: America/New_York\n"
        'posts: ["raw/tweet_activity_metrics_*.csv"]\n'
        "account:\n  - {path: raw/followers_monthly.csv, columns: {new_followers: new_follows, "
        "tweet_impressions: impressions}}\n"
        "interventions:\n  - {date: 2022-01-01, label: Change}\n"
        "analysis:\n  outcomes: [impressions, engagements]\n"
        "  predictors: [has_url, has_emoji, n_hashtags, n_mentions]\n  controls: [followers_at_post, year]\n",
        encoding="utf-8")
    return {"file_mb": path.stat().st_size / 1e6}


def _ingest(folder: Path) -> dict:
    from workbench.dataset import load_dataset
    from workbench.ingest import read_files, write_ingest_outputs

    ds = load_dataset(folder)
    t0 = time.perf_counter()
    result = read_files([*ds.post_files(), *(p for p, _ in ds.account_files())], root=folder,
                        column_map={"new_followers": "new_follows", "tweet_impressions": "impressions"})
    write_ingest_outputs(result, data_dir=folder / "work", results_dir=folder / "work")
    return {"seconds": time.perf_counter() - t0, "rows": len(result.posts)}


def _features(folder: Path) -> dict:
    from workbench.features import code_features
    from workbench.io import write_parquet
    from workbench.results import read_parquet  # the reader of results.load_ingested: strings stay in Arrow

    t0 = time.perf_counter()
    posts = read_parquet(folder / "work" / "posts.parquet")
    account = read_parquet(folder / "work" / "account.parquet")
    coded = code_features(posts, account=account, timezone="America/New_York")
    write_parquet(folder / "work" / "posts_coded.parquet", coded)
    return {"seconds": time.perf_counter() - t0}


def _models(folder: Path, models: tuple[str, ...] | None) -> dict:
    from workbench.models import fit_post_models
    from workbench.results import read_parquet  # as results.load_posts_coded reads it in notebook 03

    t0 = time.perf_counter()
    coded = read_parquet(folder / "work" / "posts_coded.parquet")
    kwargs = {"predictors": ("has_url", "has_emoji", "n_hashtags", "n_mentions")}
    if models:
        kwargs["models"] = models
    fit_post_models(coded, **kwargs)
    return {"seconds": time.perf_counter() - t0}


def worker(stage: str, n_posts: int, folder: str) -> None:
    folder_p = Path(folder)
    if stage == "generate":
        out = _generate(n_posts, folder_p)
    elif stage == "ingest":
        out = _ingest(folder_p)
    elif stage == "features":
        out = _features(folder_p)
    elif stage == "models_ols_log":
        out = _models(folder_p, ("ols_log",))
    elif stage == "models_all":
        out = _models(folder_p, None)
    else:
        raise SystemExit(f"unknown stage {stage}")
    out["peak_mb"] = _peak_mb()
    print(json.dumps(out))


def _in_subprocess(stage: str, n_posts: int, folder: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", stage, str(n_posts), str(folder)],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------------------
# measurements


SCALE_STAGES = ("ingest", "features", "models_ols_log", "models_all")


def bench_scale(sizes: list[int], workdir: Path) -> list[dict]:
    rows = []
    for n in sizes:
        folder = workdir / f"scale_{n}"
        gen = _in_subprocess("generate", n, folder)
        row: dict = {"n": n, "file_mb": gen.get("file_mb"), "load": load(), "stages": {}}
        for stage in SCALE_STAGES:
            row["stages"][stage] = _in_subprocess(stage, n, folder)
            print(f"  {n:>9,} {stage:<15} {row['stages'][stage]}  load {load()}", flush=True)
        rows.append(row)
        if n != max(sizes):
            shutil.rmtree(folder, ignore_errors=True)
    return rows


_LAST_DONE: list[float] = []
#: CPU seconds (user + system) of each _run_cli call's process tree: comparable across machine loads, which
#: the wall-clock seconds are not (two cores shared with other work)
_LAST_CPU: list[float] = []


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


#: per stage of the last sampled _run_cli: (label, wall s, CPU s of the process tree, peak MB of the tree)
_LAST_STAGES: list[tuple[str, float, float, float]] = []
#: per stage of the last sampled _run_cli: {process role: its MB} at the moment the tree's peak was sampled
_LAST_STAGE_PARTS: list[dict[str, float]] = []


def _role(p) -> str:
    """What a process of a run's tree is: the CLI, a kernel (with its pid: a run may have two), Chromium, other."""
    try:
        cmd = " ".join(p.cmdline())
    except Exception:  # noqa: BLE001 - psutil.Error or a process gone meanwhile
        return "other"
    if "ipykernel" in cmd:
        return f"kernel {p.pid}"
    if "workbench.cli" in cmd:
        return "cli"
    if "chrom" in cmd.lower():
        return "chromium"
    return "other"


def _tree_sample(pid: int, cpu_seen: dict[int, float], parts: dict[str, float] | None = None) -> tuple[float, float]:
    """(PSS MB summed over the process tree, CPU seconds of every process seen so far, ended ones included);
    with ``parts``, each process's PSS MB is left in it by role (:func:`_role`)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, sum(cpu_seen.values())
    total = 0
    for p in procs:
        try:  # PSS: pages shared between the processes (Chromium's, the kernel's libraries) counted once
            info = p.memory_full_info()
            mem = getattr(info, "pss", info.rss)
            total += mem
            if parts is not None:
                role = _role(p)
                parts[role] = parts.get(role, 0.0) + mem / 1e6
            t = p.cpu_times()
            cpu_seen[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return total / 1e6, sum(cpu_seen.values())


def _stage_rows(marks: list[tuple[float, str]], samples: list[tuple]
                ) -> list[tuple[str, float, float, float]]:
    """Per stage, ended by the CLI's "[i/n] stage ran in …" line (the first row includes the CLI's start and
    card check, the last row the report's writing and the kernel's shutdown): wall s, CPU s, peak MB. The
    breakdown by process at each row's peak (samples carrying one as their 4th item) goes to _LAST_STAGE_PARTS.
    Stages that ran side by side (two kernels, small datasets) share the rows their lines end."""
    ends = [(t, line.split("]", 1)[1].split()[0]) for t, line in marks if line.startswith("[")]
    if samples:
        ends.append((samples[-1][0], "(end: summary printed, kernel shut down)"))
    rows, prev, cpu_prev = [], 0.0, 0.0
    _LAST_STAGE_PARTS.clear()
    for t, name in ends:
        seg = [x for x in samples if prev <= x[0] <= t]
        if seg:
            top = max(seg, key=lambda x: x[1])
            rows.append((name, t - prev, seg[-1][2] - cpu_prev, top[1]))
            _LAST_STAGE_PARTS.append(dict(top[3]) if len(top) > 3 else {})
            cpu_prev = seg[-1][2]
        prev = t
    return rows


def _parts_text(parts: dict[str, float]) -> str:
    """``cli 120 + kernel 1650 + …`` (MB at the peak; kernels numbered in the order they appear)."""
    names: dict[str, str] = {}
    out = []
    for role in sorted(parts, key=lambda r: (not r.startswith("cli"), r)):
        label = role
        if role.startswith("kernel "):
            label = names.setdefault(role, f"kernel{len([n for n in names if n.startswith('kernel ')]) + 1}")
        out.append(f"{label} {parts[role]:.0f}")
    return " + ".join(out)


def _run_cli(*args: str, sample: bool = False) -> tuple[float, float, str]:
    """(seconds, peak MB of the process tree or 0, last line of stderr when it failed); the run's own
    "done in X s" (interpreter start and imports excluded) is appended to ``_LAST_DONE``, the CPU seconds of
    the process tree (the CLI, its kernel, Chromium) to ``_LAST_CPU``; with ``sample``, the stages' wall and
    CPU seconds and peak MB (0.1 s samples of the tree) are left in ``_LAST_STAGES``."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float, float, dict[str, float]]] = []
    stop = threading.Event()
    cpu_seen: dict[int, float] = {}

    def poll() -> None:
        while not stop.is_set():
            parts: dict[str, float] = {}
            pss, cpu = _tree_sample(proc.pid, cpu_seen, parts)
            samples.append((time.perf_counter() - t0, pss, cpu, parts))
            time.sleep(0.1)

    err_lines: list[str] = []
    err_thread = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
    err_thread.start()
    if sample:
        th = threading.Thread(target=poll, daemon=True)
        th.start()
    marks: list[tuple[float, str]] = []
    for line in proc.stdout:
        marks.append((time.perf_counter() - t0, line.rstrip("\n")))
    proc.wait()
    err_thread.join()
    seconds = time.perf_counter() - t0
    _LAST_CPU.append(_children_cpu() - cpu0)
    out = [m[1] for m in marks]
    done = [line for line in out if line.startswith("done in ")]
    if done:
        _LAST_DONE.append(float(done[-1].split()[2]))
    peak = 0.0
    if sample:
        stop.set()
        th.join()
        peak = max((x[1] for x in samples), default=0.0)
        _LAST_STAGES[:] = _stage_rows(marks, samples)
    err = "".join(err_lines)
    failed = "" if proc.returncode == 0 else (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return seconds, peak, failed


def bench_floor(repeat: int, workdir: Path) -> float:
    """Median seconds of one papermill kernel run whose single cell imports pandas, statsmodels and seaborn."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb_path = workdir / "floor.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(FLOOR_IMPORTS)]), nb_path)
    code = ("import time, papermill as pm; t0 = time.perf_counter(); "
            f"pm.execute_notebook({str(nb_path)!r}, {str(workdir / 'floor_out.ipynb')!r}, progress_bar=False, "
            "kernel_name='python3', extra_arguments=['--log-level=CRITICAL']); print(time.perf_counter() - t0)")
    times = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
        times.append(float(proc.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def bench_floor_cpu(workdir: Path) -> float:
    """CPU seconds of the floor's kernel alone: a kernel started without papermill that imports the same."""
    code = ("from jupyter_client.manager import start_new_kernel; km, kc = start_new_kernel(kernel_name='python3', "
            "extra_arguments=['--log-level=CRITICAL']); "
            f"kc.execute_interactive({FLOOR_IMPORTS!r}, timeout=300); kc.stop_channels(); km.shutdown_kernel(now=True)")
    cpu0 = _children_cpu()
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return _children_cpu() - cpu0


def bench_pipeline(repeat: int, workdir: Path) -> dict:
    out = workdir / "example_run"
    floor = bench_floor(repeat, workdir)
    full, noop, floors = [], [], [floor]
    _LAST_CPU.clear()
    for _ in range(repeat):
        seconds, _, failed = _run_cli("run", "data/example", "--out", str(out), "--force")
        if failed:
            raise RuntimeError(f"the example run failed: {failed}")
        full.append(seconds)
    full_cpu = statistics.median(_LAST_CPU)
    _LAST_DONE.clear()
    for _ in range(repeat):
        noop.append(_run_cli("run", "data/example", "--out", str(out))[0])
    noop_inside = statistics.median(_LAST_DONE) if _LAST_DONE else float("nan")
    floors.append(bench_floor(repeat, workdir))  # after as well: the load may have changed meanwhile
    floor_cpu = statistics.median(bench_floor_cpu(workdir) for _ in range(repeat))
    return {"full": statistics.median(full), "full_all": full, "noop": statistics.median(noop), "noop_inside": noop_inside,
            "floor": statistics.median(floors), "floors": floors, "repeat": repeat, "load": load(),
            "full_cpu": full_cpu, "floor_cpu": floor_cpu}


def machine() -> str:
    mem = ""
    try:
        mem = f", {int(open('/proc/meminfo').read().split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores{mem}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-run", action="store_true", help="skip the whole `workbench run` at the largest size")
    parser.add_argument("--worker", nargs=3, metavar=("STAGE", "N", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.worker[2])
        return
    workdir = Path(tempfile.mkdtemp(prefix="workbench_bench_"))
    lines = ["# Benchmarks", "", f"Machine: {machine()}  ",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
             f"Load average (1/5/15 min) at the start: {load()}  ",
             "Written by `make bench` (`python benchmarks/run.py`); each section gives the load average when it "
             "ended. Other work on the machine inflates every number; the ratios to a floor measured in the "
             "same run are the fairer comparison.", ""]
    try:
        if not args.skip_pipeline:
            print("example pipeline …", flush=True)
            p = bench_pipeline(args.repeat, workdir)
            ratio = p["full"] / p["floor"]
            lines += ["## Example pipeline (`workbench run data/example`)", "",
                      f"Medians of {p['repeat']} runs; load average at the end {p['load']}.", "",
                      "| what | seconds | × floor | target | |", "|---|---|---|---|---|",
                      f"| floor: one kernel that runs `{FLOOR_IMPORTS}` (papermill; timed before and after: "
                      f"{', '.join(f'{f:.1f}' for f in p['floors'])}) | {p['floor']:.1f} | 1 | | |",
                      f"| full run (`--force`; runs {', '.join(f'{f:.1f}' for f in p['full_all'])}) | "
                      f"{p['full']:.1f} | {ratio:.2f} | ≤ 2 × floor | {_met(ratio <= 2)} |",
                      f"| CPU seconds (user + system, every process): the full run | {p['full_cpu']:.1f} | "
                      f"{p['full_cpu'] / p['floor_cpu']:.2f} × the floor kernel's {p['floor_cpu']:.1f} | "
                      "(the same work at any load) | |",
                      f"| re-run with nothing changed, as the run reports it (`done in`) | {p['noop_inside']:.2f} | | "
                      f"< 0.3 s | {_met(p['noop_inside'] < 0.3)} |",
                      f"| the same, whole process (interpreter start and the pandas import included) | "
                      f"{p['noop']:.2f} | | | |",
                      ""]
            RESULTS.write_text("\n".join(lines), encoding="utf-8")
        if args.sizes:
            print("scale …", flush=True)
            rows = bench_scale(sorted(args.sizes), workdir)
            small = rows[0]
            lines += ["## Scale: raw X legacy export → ingest → features → models", "",
                      "Each stage in a subprocess of its own: seconds of work (reading its input and writing its "
                      "output included, the interpreter's imports not) and that process's peak RSS. `models_all` "
                      "= every default model with its diagnostics; predictors has_url, has_emoji, n_hashtags, "
                      "n_mentions; controls followers_at_post, year. '× linear' = seconds per post relative to "
                      f"{small['n']:,} posts (target ≤ 1.2).", "",
                      "| posts | file MB | stage | seconds | peak MB | × linear | load |", "|---|---|---|---|---|---|---|"]
            for r in rows:
                for stage in SCALE_STAGES:
                    s = r["stages"][stage]
                    if "error" in s:
                        lines.append(f"| {r['n']:,} | {r['file_mb'] or 0:.0f} | {stage} | failed: {s['error']} | | | |")
                        continue
                    base = small["stages"][stage].get("seconds")
                    lin = (s["seconds"] / r["n"]) / (base / small["n"]) if base else float("nan")
                    lines.append(f"| {r['n']:,} | {r['file_mb'] or 0:.0f} | {stage} | {s['seconds']:.1f} | "
                                 f"{s['peak_mb']:.0f} | {lin:.2f} | {r['load']} |")
            big = rows[-1]["stages"]
            if all("error" not in big[k] for k in SCALE_STAGES):
                raw_ols = big["ingest"]["seconds"] + big["features"]["seconds"] + big["models_ols_log"]["seconds"]
                raw_all = big["ingest"]["seconds"] + big["features"]["seconds"] + big["models_all"]["seconds"]
                peak = max(big[k]["peak_mb"] for k in SCALE_STAGES)
                lines += ["", f"At {rows[-1]['n']:,} posts, summing the stages: raw → ols_log {raw_ols:.1f} s "
                          f"(target ≤ 8 s: {_met(raw_ols <= 8)}); raw → all default models {raw_all:.1f} s "
                          f"(target ≤ 12 s: {_met(raw_all <= 12)}); largest stage peak {peak:.0f} MB "
                          f"(target ≤ 1500 MB: {_met(peak <= 1500)})."]
            lines.append("")
            RESULTS.write_text("\n".join(lines), encoding="utf-8")
            if not args.skip_run:
                n = rows[-1]["n"]
                print(f"whole run at {n:,} posts …", flush=True)
                folder = workdir / f"scale_{n}"
                seconds, peak, failed = _run_cli("run", str(folder), "--out", str(workdir / "big_run"), "--force",
                                                 sample=True)
                cpu = _LAST_CPU[-1] if _LAST_CPU else float("nan")
                lines += [f"## The whole `workbench run` at {n:,} posts (report included)", "",
                          f"Load average at the end {load()}.", "",
                          "| seconds | CPU seconds (user + system) | peak MB (process tree, PSS summed) | target | |",
                          "|---|---|---|---|---|",
                          (f"| failed after {seconds:.1f} s: {failed} | | | ≤ 40 s, ≤ 2000 MB | NOT met |" if failed else
                           f"| {seconds:.1f} | {cpu:.1f} | {peak:.0f} | ≤ 40 s, ≤ 2000 MB | "
                           f"{_met(seconds <= 40 and peak <= 2000)} |"), ""]
                if _LAST_STAGES and not failed:
                    parts = _LAST_STAGE_PARTS + [{}] * (len(_LAST_STAGES) - len(_LAST_STAGE_PARTS))
                    lines += ["Per stage (samples of the process tree every 0.1 s; CPU = user + system of the CLI, "
                              "its kernel and Chromium; each row ends when the CLI prints that stage's line; "
                              "'at the peak' = each process's PSS in the sample where the tree peaked):", "",
                              "| stage | wall s | CPU s | peak MB | at the peak, MB |", "|---|---|---|---|---|",
                              *(f"| {name} | {wall:.1f} | {cpu:.1f} | {mb:.0f} | {_parts_text(part)} |"
                                for (name, wall, cpu, mb), part in zip(_LAST_STAGES, parts, strict=True)), ""]
    finally:
        RESULTS.write_text("\n".join(lines), encoding="utf-8")
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
