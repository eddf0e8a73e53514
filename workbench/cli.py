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

    if args.out and len(args.dataset) > 1:
        _err("--out takes one dataset folder; with several, each goes to reports/<name>/")
        return 2
    try:
        params = dict(parse_parameter(p) for p in args.parameter)
    except InputError as exc:
        _err(str(exc))
        return 2
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

    try:
        simulate_dataset(args.out, seed=args.seed, force=args.force)
    except InputError as exc:
        _err(str(exc))
        return 2
    print(f"wrote the example dataset to {args.out} (truth in {Path(args.out) / 'TRUTH.md'})")
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
              noise_sd=args.noise_sd, seed=args.seed, n_tests=args.tests)
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
    run.add_argument("--out", help="run folder (default reports/<name>/); one dataset only")
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
    sim.add_argument("--seed", type=int, default=2024)
    sim.add_argument("--force", action="store_true", help="overwrite an existing folder")
    sim.set_defaults(func=cmd_simulate)

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
    pw.add_argument("--alpha", type=float, default=0.05, help="two-sided family significance level (default 0.05)")
    from .dataset import DEFAULT_PREDICTORS

    pw.add_argument("--tests", type=int, default=len(DEFAULT_PREDICTORS), metavar="M",
                    help="predictors in the Holm family the report judges by (default: the default predictors, "
                    f"{len(DEFAULT_PREDICTORS)}); the power is at alpha/M, Holm's first step (a lower bound)")
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
