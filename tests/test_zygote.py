"""Kernels forked from one zygote (issue 14): a small run's kernels share the analysis libraries it imported once,
start in a tenth of a second, and are started the usual way whenever the zygote cannot fork them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from workbench import pipeline

sys.path.insert(0, os.path.dirname(__file__))
from test_pipeline_parallel import _tiny_graph  # noqa: E402 - the real runner on three tiny notebooks

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the zygote forks: Linux only")

RECORD = ("import os, sys, json, pathlib\n"
          "pathlib.Path(run_dir, f'proc_{os.getpid()}').write_text(json.dumps("
          "{'ppid': os.getppid(), 'decimal_loaded': 'decimal' in sys.modules}))")


def _processes(out):
    return [json.loads(p.read_text()) for p in sorted(out.glob("proc_*"))]


def test_a_small_runs_two_kernels_are_forked_by_one_zygote_that_ends_with_the_run(tmp_path, monkeypatch):
    import psutil

    monkeypatch.delenv("WORKBENCH_ZYGOTE", raising=False)
    ds_folder = _tiny_graph(tmp_path, monkeypatch, (RECORD,), (RECORD,))
    monkeypatch.setattr(pipeline, "WARM_UP_MODULES", ("decimal",))  # what the zygote imports for the kernels
    out = tmp_path / "run"
    pipeline.run_pipeline(ds_folder, out=out, echo=lambda s: None)
    procs = _processes(out)
    assert len(procs) == 2
    parents = {p["ppid"] for p in procs}
    assert len(parents) == 1 and os.getpid() not in parents  # both forked by the same process, not started by us
    zygote = parents.pop()
    assert all(p["decimal_loaded"] for p in procs)
    time.sleep(0.2)
    assert not psutil.pid_exists(zygote) or psutil.Process(zygote).status() == psutil.STATUS_ZOMBIE
    kernels = [int(p.name.removeprefix("proc_")) for p in out.glob("proc_*")]
    assert not [k for k in kernels if psutil.pid_exists(k) and psutil.Process(k).status() != psutil.STATUS_ZOMBIE]


def test_without_the_zygote_the_kernels_are_started_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ZYGOTE", "0")
    ds_folder = _tiny_graph(tmp_path, monkeypatch, (RECORD,), (RECORD,))
    out = tmp_path / "run"
    pipeline.run_pipeline(ds_folder, out=out, echo=lambda s: None)
    assert {p["ppid"] for p in _processes(out)} == {os.getpid()}


def test_a_zygote_that_cannot_fork_leaves_the_kernels_to_be_started(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_ZYGOTE", raising=False)

    def refuse(self, ticket, *args, **kwargs):
        self.skip(ticket)
        raise pipeline.ZygoteError("refused (test)")

    monkeypatch.setattr(pipeline._Zygote, "fork", refuse)
    ds_folder = _tiny_graph(tmp_path, monkeypatch, (RECORD,), (RECORD,))
    out = tmp_path / "run"
    outcomes = pipeline.run_pipeline(ds_folder, out=out, echo=lambda s: None)
    assert [o.status for o in outcomes] == ["ran"] * 3
    assert {p["ppid"] for p in _processes(out)} == {os.getpid()}


def test_the_zygote_refuses_to_fork_beside_a_thread_and_reports_import_errors(tmp_path, monkeypatch):
    """A fork copies only the calling thread: with another thread running (here started by a module it imported)
    the zygote refuses, and the runner starts the kernel instead. A module that fails to import is reported."""
    (tmp_path / "threaded_mod.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    zygote = pipeline._Zygote()
    try:
        assert zygote._ask({"op": "import", "modules": ["no_such_module_xyz"]})["error"].startswith(
            "no_such_module_xyz: ModuleNotFoundError")
        with pytest.raises(pipeline.ZygoteError, match="threads running in the zygote"):
            zygote.fork(zygote.ticket(), ["threaded_mod"], [sys.executable, "-m", "ipykernel_launcher"], str(tmp_path),
                        dict(os.environ))
        # turns go on after a refusal
        with pytest.raises(pipeline.ZygoteError):
            zygote.fork(zygote.ticket(), [], [sys.executable, "-m", "ipykernel_launcher"], str(tmp_path),
                        dict(os.environ))
    finally:
        zygote.close()
    assert zygote.proc.returncode == 0


def test_turns_are_kept_in_the_order_taken():
    """The first kernel's fork is not held up by the second's imports: turns are served in the order taken, and a
    turn given up lets the next one go."""
    zygote = pipeline._Zygote.__new__(pipeline._Zygote)
    import threading

    zygote._turn, zygote._next_ticket, zygote._serving = threading.Condition(), 0, 0
    order: list[int] = []
    first, second, third = zygote.ticket(), zygote.ticket(), zygote.ticket()

    def take(ticket):
        with zygote._turn:
            zygote._turn.wait_for(lambda: zygote._serving >= ticket, timeout=5)
        order.append(ticket)
        zygote.skip(ticket)

    threads = [threading.Thread(target=take, args=(t,)) for t in (third, second)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert order == []  # both wait for the first
    zygote.skip(first)
    for t in threads:
        t.join(5)
    assert order == [second, third]


def test_a_forked_kernels_process_is_seen_ending():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    proc = pipeline._ForkedProcess(child.pid)
    assert proc.poll() is None
    proc.kill()
    child.wait()  # (here we are its parent; the zygote reaps its own kernels)
    assert proc.wait(timeout=5) == 1 and proc.poll() == 1
    proc.kill()  # gone: nothing to signal, no error


@pytest.mark.parametrize("zygote", ["1", "0"])
def test_kernels_side_by_side_run_their_linear_algebra_on_one_thread_each(tmp_path, monkeypatch, zygote):
    """Two kernels on two cores: one BLAS thread each (forked or started alike), unless the user chose."""
    monkeypatch.setenv("WORKBENCH_ZYGOTE", zygote)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    cell = ("import os, pathlib\npathlib.Path(run_dir, f'env_{os.getpid()}').write_text("
            "os.environ.get('OPENBLAS_NUM_THREADS', '') + ',' + os.environ.get('OMP_NUM_THREADS', ''))")
    ds_folder = _tiny_graph(tmp_path, monkeypatch, (cell,), (cell,))
    out = tmp_path / "run"
    pipeline.run_pipeline(ds_folder, out=out, echo=lambda s: None)
    assert sorted(p.read_text() for p in out.glob("env_*")) == ["1,3", "1,3"]
