"""Several datasets in one command: duplicate names, keep-going, Dask LocalCluster and a real distributed cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.batch import plan_batch, run_batch, summary_table
from workbench.cli import main
from workbench.errors import InputError
from workbench.simulate_consortium import simulate_consortium


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("members") / "c"
    simulate_consortium(root, n_accounts=4, cohort=False)  # member_001..003 and broken_card
    return root


def _copy_card(src: Path, dst: Path, name: str) -> Path:
    dst.mkdir(parents=True)
    text = (src / "dataset.yml").read_text().replace(f"name: {src.name}", f"name: {name}")
    (dst / "dataset.yml").write_text(text)
    (dst / "raw").symlink_to(src / "raw")  # the same exports, another folder with the same card name
    return dst


def test_duplicate_names_are_refused_before_anything_runs(members, tmp_path, capsys):
    twin = _copy_card(members / "member_001", tmp_path / "twin", "member_001")
    out = tmp_path / "runs"
    with pytest.raises(InputError, match="both have name 'member_001'"):
        plan_batch([members / "member_001", twin], out=out)
    assert main(["run", str(members / "member_001"), str(members / "member_002"), str(twin), "--out", str(out)]) == 2
    assert "would write the same run folder" in capsys.readouterr().err
    assert not out.exists()  # nothing ran


def test_out_is_the_parent_with_several_datasets(members, tmp_path):
    plan = plan_batch([members / "member_001", members / "member_002", members / "broken_card"], out=tmp_path / "o")
    assert [Path(p.run_dir).relative_to(tmp_path / "o").as_posix() for p in plan[:2]] == ["member_001", "member_002"]
    assert plan[2].run_dir is None and "unknown key 'hashtag_file'" in plan[2].error


def test_failures_do_not_stop_the_batch_and_exit_1(members, tmp_path, capsys):
    """In this process (-j 1): an invalid card and a dataset whose export glob matches nothing both fail;
    the summary names each with its first error line."""
    nofiles = tmp_path / "nofiles"
    nofiles.mkdir()
    (nofiles / "dataset.yml").write_text('name: nofiles\nposts: ["raw/*.csv"]\n')
    code = main(["run", str(members / "broken_card"), str(nofiles), "--out", str(tmp_path / "runs")])
    assert code == 1
    out = capsys.readouterr().out
    assert "[1/2] " in out and "[2/2] " in out
    table = out[out.index("dataset "):]
    assert "invalid card" in table and "invalid input" in table and "matches no file" in table
    assert "0 ok, 2 failed" in out


@pytest.mark.e2e
def test_local_cluster_runs_datasets_in_worker_processes(members, tmp_path, capsys):
    runs = run_batch([members / "member_001", members / "broken_card", members / "member_002"], out=tmp_path / "r",
                     jobs=2, only=["ingest"], echo=print)
    assert [r.status for r in runs] == ["ok", "invalid card", "ok"]
    assert all(r.pid != os.getpid() for r in (runs[0], runs[2]))
    for name in ("member_001", "member_002"):
        assert (tmp_path / "r" / name / "data" / "posts.parquet").exists()
    assert len([ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]) == 3
    assert "invalid card" in summary_table(runs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1; always stopped afterwards."""
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        pytest.skip("the dask command is not installed beside this Python")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    logs = tmp_path / "dask-logs"
    logs.mkdir()

    def start(args: list[str], log: str) -> None:
        procs.append(subprocess.Popen([str(dask), *args], stdout=open(logs / log, "w"), stderr=subprocess.STDOUT,
                                      start_new_session=True, cwd=tmp_path))

    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler.log")
        for i in (1, 2):
            start(["worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                   "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}")], f"worker{i}.log")
        from distributed import Client

        deadline = time.time() + 90
        while True:
            try:
                with Client(address, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=60)
                    pids = set(c.run(os.getpid).values())
                break
            except (OSError, TimeoutError):
                if time.time() > deadline:
                    raise
                time.sleep(1)
        yield address, pids
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


@pytest.mark.e2e
def test_runs_on_a_distributed_scheduler_and_workers(members, tmp_path, dask_cluster, capsys):
    address, worker_pids = dask_cluster
    out = tmp_path / "runs"
    code = main(["run", str(members / "member_001"), str(members / "broken_card"), str(members / "member_003"),
                 "--scheduler", address, "--only", "ingest", "--out", str(out)])
    assert code == 1  # the broken card failed; the others ran
    text = capsys.readouterr().out
    assert f"on the Dask scheduler {address}" in text and "2 ok, 1 failed" in text
    for name in ("member_001", "member_003"):
        assert (out / name / "data" / "posts.parquet").exists()
        assert (out / name / "results" / "ingest_log.json").exists()
    # the tasks really ran in the worker processes, not here
    runs = run_batch([members / "member_002"], out=out, scheduler=address, only=["ingest"], echo=lambda s: None)
    assert runs[0].status == "ok" and runs[0].pid in worker_pids and runs[0].pid != os.getpid()


def test_unreachable_scheduler_is_a_clear_error(members, tmp_path, capsys):
    port = _free_port()
    assert main(["run", str(members / "member_001"), "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--out", str(tmp_path / "r")]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
