"""``workbench run | ingest | simulate | fetch | power`` — the command line.

Exit status (DESIGN.md §5): 0 every stage ran or was up to date; 1 a stage failed; 2 bad arguments or an
invalid dataset card / unreadable input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError, StageError


def _err(msg: str) -> None:
    print(f"workbench: error: {msg}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import parse_parameter, run_pipeline

    try:
        params = dict(parse_parameter(p) for p in args.parameter)
    except InputError as exc:
        _err(str(exc))
        return 2
    if len(args.dataset) > 1 or args.scheduler:
        return _run_many(args, params)
    status = 0
    for dataset in args.dataset:
        t0 = time.perf_counter()
        print(f"workbench run {dataset}")
        try:
            outcomes = run_pipeline(
                dataset, out=args.out, parameters=params, only=args.only or None, force=args.force
            )
        except StageError as exc:
            _err(str(exc))
            status = max(status, 1)
            continue
        except InputError as exc:
            _err(str(exc))
            return 2
        from .dataset import load_dataset
        from .pipeline import RunPaths, default_run_dir

        paths = RunPaths(Path(args.out).resolve() if args.out else default_run_dir(load_dataset(dataset)))
        ran = sum(o.status == "ran" for o in outcomes)
        print(f"done in {time.perf_counter() - t0:.1f} s ({ran} stage(s) ran, {len(outcomes) - ran} up to date)")
        if paths.report.exists():
            print(f"report: {paths.report}")
    return status


def _run_many(args: argparse.Namespace, params: dict) -> int:
    """Several datasets (or a cluster): keep going after a failure, summary table, exit 1 if any failed."""
    from .batch import run_batch, summary_table

    t0 = time.perf_counter()
    engine = (f"the Dask scheduler {args.scheduler}" if args.scheduler
              else f"{min(args.jobs, len(args.dataset))} Dask worker process(es)" if args.jobs > 1 and len(args.dataset) > 1
              else "this process")
    print(f"workbench run: {len(args.dataset)} dataset(s) on {engine}", flush=True)
    try:
        runs = run_batch(args.dataset, out=args.out, jobs=args.jobs, scheduler=args.scheduler, parameters=params,
                         only=args.only or None, force=args.force, echo=lambda s: print(s, flush=True))
    except InputError as exc:
        _err(str(exc))
        return 2
    print()
    print(summary_table(runs))
    failed = sum(r.status != "ok" for r in runs)
    print(f"{len(runs) - failed} ok, {failed} failed in {time.perf_counter() - t0:.1f} s")
    return 1 if failed else 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import read_files, summarize_ingest, write_ingest_outputs

    column_map = {}
    for item in args.columns:
        if "=" not in item:
            _err(f"--columns takes RAW=CANONICAL, found {item!r}")
            return 2
        raw, canonical = item.split("=", 1)
        column_map[raw] = canonical
    try:
        result = read_files(args.paths, column_map=column_map or None)
    except InputError as exc:
        _err(str(exc))
        return 2
    out = Path(args.out)
    write_ingest_outputs(result, data_dir=out, results_dir=out)
    summary = summarize_ingest(result.log)
    print(summary.to_string(index=False))
    for w in result.log.get("warnings", []):
        print(f"warning: {w}")
    print(f"{len(result.posts)} posts, {len(result.account)} account rows, {len(result.quarantine)} quarantined → {out}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from .simulate import simulate_dataset

    if args.accounts is not None:
        from .simulate_consortium import simulate_consortium

        try:
            truth = simulate_consortium(args.out, n_accounts=args.accounts, cohort=args.cohort,
                                        seed=15 if args.seed is None else args.seed, force=args.force)
        except InputError as exc:
            _err(str(exc))
            return 2
        print(f"wrote {truth['n_members']} member dataset folders and {truth['broken_member']}/ (a broken card) to "
              f"{args.out}" + (f"; cohort card {Path(args.out) / 'cohort.yml'}" if args.cohort else "")
              + f" (truth in {Path(args.out) / 'TRUTH.md'})")
        return 0
    if args.cohort:
        _err("--cohort needs --accounts N (a simulated consortium)")
        return 2
    try:
        simulate_dataset(args.out, seed=2024 if args.seed is None else args.seed, force=args.force)
    except InputError as exc:
        _err(str(exc))
        return 2
    print(f"wrote the example dataset to {args.out} (truth in {Path(args.out) / 'TRUTH.md'})")
    return 0


def cmd_rollup(args: argparse.Namespace) -> int:
    from .rollup import run_rollup

    t0 = time.perf_counter()
    try:
        res = run_rollup(args.run_folders, args.out, echo=lambda s: print(s, flush=True))
    except InputError as exc:
        _err(str(exc))
        return 2
    print(f"rolled up {res['n_accounts']} accounts ({res['n_posts']:,} posts) in {time.perf_counter() - t0:.1f} s "
          f"→ {Path(args.out) / 'report.html'}")
    return 0


def cmd_cohort(args: argparse.Namespace) -> int:
    from .cohort import run_cohort

    t0 = time.perf_counter()
    try:
        res = run_cohort(args.card, args.out, echo=lambda s: print(s, flush=True))
    except InputError as exc:
        _err(str(exc))
        return 2
    for o, r in res["outcomes"].items():
        a = r["estimates"]["att"]
        print(f"{o}: att {a['estimate']:+.3f} (95% CI {a['ci'][0]:+.3f} to {a['ci'][1]:+.3f}, {a['n_accounts']} accounts)"
              if a["std_error"] == a["std_error"] else f"{o}: not available: {a['note']}")
    print(f"done in {time.perf_counter() - t0:.1f} s → {Path(args.out) / 'results' / 'cohort.csv'}, "
          f"{Path(args.out) / 'report.html'}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from .fetch import FetchError, describe_fetch, fetch_bluesky, fetch_mastodon

    fetcher = fetch_bluesky if args.platform == "bluesky" else fetch_mastodon
    try:
        result = fetcher(args.account, out=args.out, max_pages=args.max_pages, since=args.since)
    except InputError as exc:
        _err(str(exc))
        return 2
    except FetchError as exc:
        _err(str(exc))
        return 1
    print(describe_fetch(result))
    return 0


def cmd_power(args: argparse.Namespace) -> int:
    from .power import estimate_power, posts_needed

    kw = dict(effect_pct=args.effect, prevalence=args.prevalence, n_sims=args.n_sims, alpha=args.alpha,
              noise_sd=args.noise_sd, seed=args.seed)
    try:
        if args.posts is not None:
            result = estimate_power(args.posts, **kw)
        else:
            result = posts_needed(power=args.power, **kw)
    except InputError as exc:
        _err(str(exc))
        return 2
    print(result["sentence"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the five notebooks on one or more dataset folders")
    run.add_argument("dataset", nargs="+", help="dataset folder(s) with a dataset.yml")
    run.add_argument("--out", help="run folder (default reports/<name>/); with several datasets their parent: OUT/<name>/")
    run.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                     help="run N datasets at once on a local Dask cluster of N processes (default 1)")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="run on a Dask distributed cluster, e.g. tcp://host:8786 (workers need the run folders' filesystem)")
    run.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="NAME=VALUE", help="notebook parameter override"
    )
    run.add_argument("--only", action="append", choices=None, metavar="STAGE",
                     help="run only this stage (repeatable): ingest, features, regression, growth, report")
    run.add_argument("--force", action="store_true", help="run stages even when up to date")
    run.set_defaults(func=cmd_run)

    ing = sub.add_parser("ingest", help="read export files into canonical tables (no notebooks)")
    ing.add_argument("paths", nargs="+", help="export files")
    ing.add_argument("--out", required=True, help="folder for posts.parquet, account.parquet, quarantine.csv, ingest_log.json")
    ing.add_argument("--columns", action="append", default=[], metavar="RAW=CANONICAL",
                     help="column map for generic account CSVs (repeatable)")
    ing.set_defaults(func=cmd_ingest)

    sim = sub.add_parser("simulate", help="write a synthetic dataset folder with documented truth")
    sim.add_argument("--out", required=True, help="dataset folder to write")
    sim.add_argument("--seed", type=int, default=None, help="random seed (default 2024; 15 with --accounts)")
    sim.add_argument("--force", action="store_true", help="overwrite an existing folder")
    sim.add_argument("--accounts", type=int, default=None, metavar="N",
                     help="a consortium of N member dataset folders (one with a broken card) instead of the example")
    sim.add_argument("--cohort", action="store_true",
                     help="with --accounts: train members in staggered waves and write cohort.yml (truth in TRUTH.md)")
    sim.set_defaults(func=cmd_simulate)

    rol = sub.add_parser("rollup", help="roll several run folders up into consortium tables and a report")
    rol.add_argument("run_folders", nargs="+", help="run folders written by `workbench run`")
    rol.add_argument("--out", required=True, help="folder for the consortium tables and report.html")
    rol.set_defaults(func=cmd_rollup)

    coh = sub.add_parser("cohort", help="training cohorts: staggered difference-in-differences and time to going quiet")
    coh.add_argument("card", help="the cohort card (cohort.yml)")
    coh.add_argument("--out", required=True, help="folder for results/cohort.csv, figures and report.html")
    coh.set_defaults(func=cmd_cohort)

    fet = sub.add_parser("fetch", help="save a Bluesky or Mastodon account's public posts as raw JSON files")
    fet.add_argument("platform", choices=["bluesky", "mastodon"])
    fet.add_argument("account", help="Bluesky handle (name.bsky.social) or Mastodon @user@instance")
    fet.add_argument("--out", required=True, help="folder for the JSON files (a dataset's raw/)")
    fet.add_argument("--max-pages", type=int, default=None, help="stop after this many pages")
    fet.add_argument("--since", default=None, metavar="YYYY-MM-DD", help="stop once posts are older than this date")
    fet.set_defaults(func=cmd_fetch)

    pw = sub.add_parser("power", help="posts needed to detect a feature effect (or the power with --posts), by simulation")
    pw.add_argument("--effect", type=float, required=True, metavar="PCT", help="true %% difference, e.g. 20 for +20%%")
    pw.add_argument("--prevalence", type=float, required=True, help="share of posts with the feature, e.g. 0.15")
    pw.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    pw.add_argument("--posts", type=int, default=None, metavar="N", help="report the power with N posts instead")
    pw.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    pw.add_argument("--noise-sd", type=float, default=0.5, help="residual SD of log1p(outcome) (default 0.5)")
    pw.add_argument("--n-sims", type=int, default=200, help="simulated datasets per size (default 200)")
    pw.add_argument("--seed", type=int, default=0)
    pw.set_defaults(func=cmd_power)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
