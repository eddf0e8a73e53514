"""``workbench run | report | ingest | simulate | fetch | power`` — the command line.

Exit status (DESIGN.md §5): 0 every stage ran or was up to date; 1 a stage failed; 2 bad arguments or an
invalid dataset card / unreadable input.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError, StageError, WorkbenchError

# C0 controls but newline and tab, DEL, C1 controls (ESC [ … is an ANSI sequence; CSI is U+009B), bidi overrides
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: object) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``): a file name or a cell value holding an ANSI
    sequence must not recolour, move or clear the user's terminal."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def _out(msg: object = "") -> None:
    print(terminal_safe(msg), flush=True)


def _err(msg: str) -> None:
    print(f"workbench: error: {terminal_safe(msg)}", file=sys.stderr)


def _skip_slow_optional_imports() -> None:
    """Mark ``rfc3987_syntax`` absent in the CLI's own process.

    papermill imports nbformat, nbformat jsonschema, and jsonschema imports the optional ``rfc3987_syntax``
    when installed, which builds a Lark grammar at import: 1.0-1.1 s of every ``workbench run`` that runs a
    stage, for an ``iri`` format check that notebook validation never uses (jsonschema skips that check
    when the module is missing). Only this process is affected, never a kernel or a JupyterLab session.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def cmd_run(args: argparse.Namespace) -> int:
    _skip_slow_optional_imports()
    from .pipeline import parse_parameter, run_pipeline

    try:
        params = dict(parse_parameter(p) for p in args.parameter)
    except InputError as exc:
        _err(str(exc))
        return 2
    if getattr(args, "screenshot", False):
        params["screenshot"] = True
    if len(args.dataset) > 1 or args.scheduler:
        return _run_many(args, params)
    status = 0
    for dataset in args.dataset:
        t0 = time.perf_counter()
        _out(f"workbench run {dataset}")
        try:
            outcomes = run_pipeline(
                dataset, out=args.out, parameters=params, only=args.only or None, force=args.force, echo=_out
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
        _out(f"done in {time.perf_counter() - t0:.1f} s ({ran} stage(s) ran, {len(outcomes) - ran} up to date)")
        for line in ingest_summary_lines(paths.ingest_log, quarantine=paths.quarantine):
            _out(line)
        if paths.report.exists():
            _out(f"report: {paths.report}")
    return status


def ingest_summary_lines(log_path: Path, *, quarantine: Path | None = None, shown: int = 5) -> list[str]:
    """The console summary at the end of a run: rows read, kept, quarantined and superseded over every file, and
    the first warnings (lost or changed rows must not appear only in the report's appendix)."""
    import json

    try:
        log = json.loads(Path(log_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = [f for f in log.get("files") or [] if isinstance(f, dict)]
    total = {k: sum(int(f.get(k) or 0) for f in files)
             for k in ("rows_read", "rows_kept", "rows_quarantined", "rows_superseded")}
    warnings = [str(w) for w in log.get("warnings") or []]
    lines = [f"ingest: {len(files)} file(s), {total['rows_read']:,} rows read = {total['rows_kept']:,} kept + "
             f"{total['rows_quarantined']:,} quarantined + {total['rows_superseded']:,} superseded; "
             f"{len(warnings)} warning(s)"]
    if total["rows_quarantined"] and quarantine is not None:
        lines.append(f"  quarantined rows and their reasons: {quarantine}")
    lines += [f"  warning: {w if len(w) <= 300 else w[:297] + '…'}" for w in warnings[:shown]]
    if len(warnings) > shown:
        lines.append(f"  … {len(warnings) - shown} more in {log_path}")
    return lines


def _run_many(args: argparse.Namespace, params: dict) -> int:
    """Several datasets (or a cluster): keep going after a failure, summary table, exit 1 if any failed."""
    from .batch import run_batch, summary_table

    t0 = time.perf_counter()
    engine = (f"the Dask scheduler {args.scheduler}" if args.scheduler
              else f"{min(args.jobs, len(args.dataset))} Dask worker process(es)" if args.jobs > 1 and len(args.dataset) > 1
              else "this process")
    _out(f"workbench run: {len(args.dataset)} dataset(s) on {engine}")
    try:
        runs = run_batch(args.dataset, out=args.out, jobs=args.jobs, scheduler=args.scheduler, parameters=params,
                         only=args.only or None, force=args.force, echo=_out)
    except InputError as exc:
        _err(str(exc))
        return 2
    _out()
    _out(summary_table(runs))
    failed = sum(r.status != "ok" for r in runs)
    _out(f"{len(runs) - failed} ok, {failed} failed in {time.perf_counter() - t0:.1f} s")
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
        files = expand_ingest_paths(args.paths)
        result = read_files(files, column_map=column_map or None)
    except InputError as exc:
        _err(str(exc))
        return 2
    out = Path(args.out)
    try:
        write_ingest_outputs(result, data_dir=out, results_dir=out)
    except OSError as exc:
        _err(f"cannot write to {out} ({exc.strerror or exc}); give a writable folder with --out")
        return 2
    summary = summarize_ingest(result.log)
    _out(summary.to_string(index=False))
    for w in result.log.get("warnings", []):
        _out(f"warning: {w}")
    _out(f"{len(result.posts)} posts, {len(result.account)} account rows, {len(result.quarantine)} quarantined → {out}")
    return 0


def expand_ingest_paths(paths: Sequence[str]) -> list[Path]:
    """The files to ingest: each path as given, a folder replaced by the files in it and its subfolders (sorted;
    dot-files and dot-folders skipped). InputError for a path that does not exist or a folder with no file."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                Path(dirpath) / name
                for dirpath, dirnames, filenames in os.walk(p)
                if not any(part.startswith(".") for part in Path(dirpath).relative_to(p).parts)
                for name in filenames if not name.startswith(".")
            )
            if not found:
                raise InputError("the folder holds no file to ingest", file=p)
            files.extend(found)
        elif not p.exists() and not p.is_symlink():
            raise InputError("no such file or folder", file=p)
        else:
            files.append(p)
    return files


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
    _out(f"wrote the example dataset to {args.out} (truth in {Path(args.out) / 'TRUTH.md'})")
    return 0


def cmd_fetch_publications(args: argparse.Namespace) -> int:
    """``workbench fetch openalex | altmetric | resolve-links`` (the publication level, issue 16)."""
    import pandas as pd

    from . import fetch_publications as fp
    from .fetch import FetchError

    try:
        if args.platform == "openalex":
            r = fp.fetch_openalex(out=args.out, ror=args.ror, orcid=args.orcid, issn=args.issn, query=args.query,
                                  mailto=args.mailto, max_pages=args.max_pages)
            print(f"openalex: {r.works} work(s) in {len(r.pages)} page file(s) ({r.from_cache} from the cache) → {args.out}")
        elif args.platform == "altmetric":
            dois = list(args.dois or [])
            if args.dataset:
                from .dataset import load_dataset
                from .publications_stage import load_publications

                data = load_publications(load_dataset(args.dataset))
                if data is None:
                    raise InputError(f"{args.dataset}: the card has no publications: to take DOIs from")
                dois += data.publications["doi"].dropna().tolist()
            if args.dois_file:
                dois += [line.strip() for line in Path(args.dois_file).read_text().splitlines() if line.strip()]
            if not dois:
                raise InputError("give --dois DOI …, --dois-file FILE (one DOI a line) or --dataset DIR (the DOIs of "
                                 "the card's publications)")
            r = fp.fetch_altmetric(dois, out=args.out, key=args.key)
            print(f"altmetric: {len(r.found)} found, {len(r.not_found)} not found (recorded, not zero), "
                  f"{len(r.cached)} already saved → {args.out}")
        else:
            if args.dataset:
                from .dataset import load_dataset
                from .ingest import read_files

                ds = load_dataset(args.dataset)
                posts = read_files(ds.post_files(), root=ds.root).posts
            elif args.posts:
                posts = pd.read_parquet(args.posts, columns=["text"])
            else:
                raise InputError("resolve-links needs --dataset DIR (its exports are read) or --posts posts.parquet")
            urls = fp.short_links_in(posts)
            r = fp.resolve_links(urls, cache=Path(args.out) / "resolved_links.csv")
            print(f"resolve-links: {r.resolved} resolved, {r.failed} failed, {r.cached} already in {r.cache}")
    except InputError as exc:
        _err(str(exc))
        return 2
    except FetchError as exc:
        _err(str(exc))
        return 1
    except OSError as exc:
        _err(f"{exc.filename}: {exc.strerror}")
        return 2
    return 0


def cmd_rollup(args: argparse.Namespace) -> int:
    from .rollup import run_rollup

    t0 = time.perf_counter()
    try:
        res = run_rollup(args.run_folders, args.out, echo=_out)
    except InputError as exc:
        _err(str(exc))
        return 2
    _out(f"rolled up {res['n_accounts']} accounts ({res['n_posts']:,} posts) in {time.perf_counter() - t0:.1f} s "
          f"→ {Path(args.out) / 'report.html'}")
    return 0


def cmd_cohort(args: argparse.Namespace) -> int:
    from .cohort import run_cohort

    t0 = time.perf_counter()
    try:
        res = run_cohort(args.card, args.out, echo=_out)
    except InputError as exc:
        _err(str(exc))
        return 2
    for o, r in res["outcomes"].items():
        a = r["estimates"]["att"]
        _out(f"{o}: att {a['estimate']:+.3f} (95% CI {a['ci'][0]:+.3f} to {a['ci'][1]:+.3f}, {a['n_accounts']} accounts)"
              if a["std_error"] == a["std_error"] else f"{o}: not available: {a['note']}")
    _out(f"done in {time.perf_counter() - t0:.1f} s → {Path(args.out) / 'results' / 'cohort.csv'}, "
          f"{Path(args.out) / 'report.html'}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from .fetch import FetchError, describe_fetch, fetch_bluesky, fetch_mastodon

    if args.platform in ("openalex", "altmetric", "resolve-links"):
        return cmd_fetch_publications(args)
    if not args.account:
        _err(f"fetch {args.platform} needs the account")
        return 2

    fetcher = fetch_bluesky if args.platform == "bluesky" else fetch_mastodon
    try:
        result = fetcher(args.account, out=args.out, max_pages=args.max_pages, since=args.since)
    except InputError as exc:
        _err(str(exc))
        return 2
    except FetchError as exc:
        _err(str(exc))
        return 1
    _out(describe_fetch(result))
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
    _out(result["sentence"])
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Render the report of a run folder again (findings, HTML, posts CSV); with --pdf also print it."""
    import json

    from .dataset import load_dataset
    from .pipeline import RunPaths
    from .report import print_pdf, render_report, screenshot_report

    paths = RunPaths(Path(args.run_dir).resolve())
    if not paths.results.is_dir():
        _err(f"{args.run_dir} is not a run folder (no results/ inside); run `workbench run DATASET` first")
        return 2
    folder = args.dataset
    if folder is None and paths.manifest.is_file():
        try:
            folder = (json.loads(paths.manifest.read_text(encoding="utf-8")).get("dataset") or {}).get("folder")
        except (OSError, ValueError, AttributeError):
            folder = None
    try:
        ds = load_dataset(folder) if folder and Path(folder).is_dir() else None
        report = render_report(paths.root, dataset=ds)
        print(f"report: {report}")
        if ds is None:
            print("note: no dataset card found (pass --dataset DIR): the report has no goals, title or timezone")
        if getattr(args, "screenshot", False):
            png = screenshot_report(report, paths.results / "report_first_screen.png")
            print(f"screenshot: {png}" if png else "screenshot: none (the reason is logged above)")
        if args.pdf:
            for paper in args.paper or ["A4"]:
                out = paths.report_pdf if len(args.paper or []) <= 1 else paths.root / f"report-{paper}.pdf"
                print(f"pdf ({paper}): {print_pdf(report, out, paper=paper)}")
    except InputError as exc:
        _err(str(exc))
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("report", help="render a run folder's report again; --pdf also prints it (Chromium)")
    rep.add_argument("run_dir", help="run folder (reports/<name>/)")
    rep.add_argument("--dataset", default=None, help="dataset folder (default: the one in the run's manifest)")
    rep.add_argument("--pdf", action="store_true", help="also write report.pdf with headless Chromium")
    rep.add_argument("--paper", action="append", choices=["A4", "Letter"], default=None,
                     help="paper size of the PDF (repeatable; default A4)")
    rep.add_argument("--screenshot", action="store_true",
                     help="also keep a PNG of the report's first screen (results/report_first_screen.png; Chromium)")
    rep.set_defaults(func=cmd_report)

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
    run.add_argument("--screenshot", action="store_true",
                     help="also keep a PNG of the report's first screen (results/report_first_screen.png; headless "
                          "Chromium, about a second more); the same as -p screenshot=True")
    run.set_defaults(func=cmd_run)

    ing = sub.add_parser("ingest", help="read export files into canonical tables (no notebooks)")
    ing.add_argument("paths", nargs="+", help="export files, or folders of them (read with their subfolders)")
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

    fet = sub.add_parser("fetch", help="save a Bluesky or Mastodon account's public posts as raw JSON files, "
                         "OpenAlex works, Altmetric counts, or where short links lead")
    fet.add_argument("platform", choices=["bluesky", "mastodon", "openalex", "altmetric", "resolve-links"])
    fet.add_argument("account", nargs="?", help="Bluesky handle (name.bsky.social) or Mastodon @user@instance")
    fet.add_argument("--ror", help="openalex: works of an institution (ROR id)")
    fet.add_argument("--orcid", help="openalex: works of an author (ORCID)")
    fet.add_argument("--issn", help="openalex: works in a journal (ISSN)")
    fet.add_argument("--query", help="openalex: full-text search")
    fet.add_argument("--mailto", help="openalex: your e-mail (the polite pool)")
    fet.add_argument("--dois", nargs="+", help="altmetric: the DOIs to look up")
    fet.add_argument("--dois-file", help="altmetric: a file with one DOI a line")
    fet.add_argument("--key", help="altmetric: API key (optional)")
    fet.add_argument("--posts", help="resolve-links: a posts.parquet whose short links to resolve")
    fet.add_argument("--dataset", help="altmetric: the DOIs of this dataset's publications; resolve-links: the short "
                                       "links in this dataset's exports")
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
    """Run a command; every failure is a message and an exit status, never a traceback.

    2: bad arguments, an invalid card or unusable input (InputError); 1: a stage failed (StageError) or an
    unexpected error (its traceback goes to a log file named in the message); 130: interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        _err(str(exc))
        return 2
    except (StageError, WorkbenchError) as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except MemoryError:
        _err("out of memory: an input is far larger than an analytics export (is it really one?)")
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        _err(f"{exc.strerror or exc}{where}")
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a message and a log, not a traceback
        log = _write_crash_log()
        _err(f"unexpected error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). This is a "
             f"bug in the workbench; the details are in {log}")
        return 1


def _write_crash_log() -> str:
    try:
        fd, path = tempfile.mkstemp(prefix="workbench-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        return path
    except OSError:
        return "(no log: the temporary folder is not writable)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
