"""Several datasets in one command, in parallel on Dask (DESIGN.md §9).

``workbench run A B … [-j N] [--scheduler ADDRESS] [--out DIR]``:

* every dataset card is read first; two datasets that would write the same run folder are refused before anything
  runs (:class:`~workbench.errors.InputError`, exit 2). A card that cannot be read is *one failed dataset*, not a
  failed batch: the others still run.
* each dataset is one task. ``-j N`` (N > 1) runs them on a Dask ``LocalCluster`` of N worker *processes* (one
  thread each: a pipeline run starts Jupyter kernels and is not thread-safe); ``--scheduler tcp://host:8786``
  sends them to a running Dask distributed cluster instead. The run folder is written where the task runs, so a
  distributed cluster needs a filesystem every worker and this machine share (README "Many accounts").
  ``-j 1`` without a scheduler runs them one after another in this process.
* a task never raises: it returns a :class:`DatasetRun` (status, seconds, run folder, report, the error). A
  progress line is printed as each dataset finishes and a summary table at the end.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, StageError


@dataclass
class DatasetRun:
    """What happened to one dataset of a batch."""

    dataset: str  # the folder as given on the command line
    name: str | None  # the card's name (None when the card could not be read)
    status: str  # "ok" | "failed" | "invalid card"
    seconds: float = 0.0
    run_dir: str | None = None
    report: str | None = None
    error: str = ""
    stages: list[str] = field(default_factory=list)  # one progress line per stage, as the runner echoed them
    host: str = ""
    pid: int = 0

    @property
    def first_error_line(self) -> str:
        lines = [ln for ln in self.error.strip().splitlines() if ln.strip()]
        return lines[0] if lines else ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlannedRun:
    dataset: str  # as given
    name: str | None
    run_dir: str | None
    error: str = ""  # why the card could not be read (the dataset then fails without running)
    folder: str = ""  # absolute: a worker's current folder is not ours


def plan_batch(datasets: Sequence[str | Path], *, out: str | Path | None = None) -> list[PlannedRun]:
    """Read every card and decide every run folder; refuse two datasets that would share one.

    With ``out`` each dataset goes to ``out/<name>/``; without, to ``reports/<name>/``. Raises
    :class:`InputError` (exit 2) naming both datasets when two would write the same run folder.
    """
    from .dataset import load_dataset
    from .pipeline import default_run_dir

    planned: list[PlannedRun] = []
    for d in datasets:
        try:
            ds = load_dataset(d)
        except InputError as exc:
            planned.append(PlannedRun(str(d), None, None, str(exc)))
            continue
        run_dir = (Path(out).resolve() / ds.name) if out else default_run_dir(ds)
        planned.append(PlannedRun(str(d), ds.name, str(run_dir), folder=str(ds.root)))
    seen: dict[str, PlannedRun] = {}
    for p in planned:
        if p.run_dir is None:
            continue
        if p.run_dir in seen:
            first = seen[p.run_dir]
            raise InputError(
                f"datasets {first.dataset} and {p.dataset} both have name {p.name!r} and would write the same "
                f"run folder {p.run_dir}; give one of them another `name:` in its dataset.yml (nothing was run)"
            )
        seen[p.run_dir] = p
    return planned


def run_one(
    dataset: str,
    run_dir: str,
    *,
    parameters: Mapping[str, Any] | None = None,
    only: Sequence[str] | None = None,
    force: bool = False,
) -> DatasetRun:
    """Run the pipeline on one dataset into ``run_dir``; never raises (the Dask task)."""
    from .pipeline import RunPaths, run_pipeline

    lines: list[str] = []
    t0 = time.perf_counter()
    result = DatasetRun(dataset=dataset, name=Path(run_dir).name, status="failed", run_dir=run_dir,
                        host=socket.gethostname(), pid=os.getpid())
    try:
        run_pipeline(dataset, out=run_dir, parameters=parameters, only=only, force=force, echo=lines.append)
        result.status = "ok"
    except StageError as exc:
        result.error = str(exc)
    except InputError as exc:
        result.status = "invalid input"
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one dataset's crash must not stop the batch; the message is kept
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        result.error = f"unexpected {type(exc).__name__}: {exc}{where}"
    result.seconds = time.perf_counter() - t0
    result.stages = lines
    report = RunPaths(Path(run_dir)).report
    result.report = str(report) if report.exists() and result.status == "ok" else None
    return result


def _failed_card(p: PlannedRun) -> DatasetRun:
    return DatasetRun(dataset=p.dataset, name=None, status="invalid card", error=p.error,
                      host=socket.gethostname(), pid=os.getpid())


def progress_line(i: int, n: int, r: DatasetRun) -> str:
    label = r.name or r.dataset
    if r.status == "ok":
        tail = f"→ {r.report}" if r.report else f"→ {r.run_dir}"
        return f"[{i}/{n}] {label}: ok in {r.seconds:.1f} s {tail}"
    return f"[{i}/{n}] {label}: {r.status} after {r.seconds:.1f} s: {r.first_error_line}"


def summary_table(runs: Sequence[DatasetRun]) -> str:
    """A plain-text table: dataset, status, seconds, report, error (first line)."""
    head = ("dataset", "status", "seconds", "report", "error")
    rows = [
        (r.dataset, r.status, f"{r.seconds:.1f}", r.report or "-", r.first_error_line or "-") for r in runs
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    widths[-1] = len(head[-1])  # the error column is last and left ragged
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths[:-1]), "-" * 5)]
    out += [fmt.format(*row) for row in rows]
    return "\n".join(out)


def run_batch(
    datasets: Sequence[str | Path],
    *,
    out: str | Path | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    only: Sequence[str] | None = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> list[DatasetRun]:
    """Run the pipeline on every dataset; return one :class:`DatasetRun` per dataset, in the order given.

    Raises :class:`InputError` before anything runs for a duplicate run folder, bad parameters, an unknown
    stage or a scheduler that cannot be reached.
    """
    from .pipeline import STAGE_NAMES, validate_parameters

    if jobs < 1:
        raise InputError(f"-j must be at least 1, found {jobs}")
    validate_parameters(dict(parameters or {}))  # a typo in -p fails the batch once, before any task
    if only:
        unknown = [s for s in only if s not in STAGE_NAMES]
        if unknown:
            raise InputError(f"unknown stage {unknown[0]!r}. Stages: {', '.join(STAGE_NAMES)}")
    planned = plan_batch(datasets, out=out)
    runnable = [p for p in planned if p.run_dir is not None]
    results: dict[int, DatasetRun] = {}
    n = len(planned)
    done = 0
    for i, p in enumerate(planned):
        if p.run_dir is None:
            results[i] = _failed_card(p)
            done += 1
            echo(progress_line(done, n, results[i]))
    kwargs = dict(parameters=dict(parameters or {}), only=list(only) if only else None, force=force)

    if scheduler is None and (jobs == 1 or len(runnable) <= 1):
        for i, p in enumerate(planned):
            if p.run_dir is None:
                continue
            results[i] = run_one(p.folder, p.run_dir, **kwargs)
            results[i].dataset = p.dataset
            done += 1
            echo(progress_line(done, n, results[i]))
        return [results[i] for i in range(n)]

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {scheduler}: {type(exc).__name__}: {exc}. Start one with "
                    "`dask scheduler` and `dask worker ADDRESS` (README 'Many accounts')"
                ) from None
        else:
            workers = min(jobs, len(runnable))
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=50)
            client = Client(cluster)
        with client:
            index: dict[str, int] = {}
            futures = []
            for i, p in enumerate(planned):
                if p.run_dir is None:
                    continue
                # pure=False: the same dataset run twice (e.g. --force) is two tasks, not one cached result
                fut = client.submit(run_one, p.folder, p.run_dir, **kwargs, pure=False, key=f"run-{p.name}-{i}")
                index[fut.key] = i
                futures.append(fut)
            for fut in as_completed(futures):
                i = index[fut.key]
                p = planned[i]
                try:
                    r = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died or the task could not be sent
                    r = DatasetRun(dataset=p.dataset, name=p.name, status="failed", run_dir=p.run_dir,
                                   error=f"the Dask task failed: {type(exc).__name__}: {exc}")
                r.dataset = p.dataset
                results[i] = r
                done += 1
                echo(progress_line(done, n, r))
    finally:
        if cluster is not None:
            cluster.close()
    return [results[i] for i in range(n)]
