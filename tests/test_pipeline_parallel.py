"""Independent stages side by side (issue 14): the stage graph, when a run uses a second kernel, and that the
scheduler records, orders and fails exactly as one-at-a-time does. Fake executors on threads: no kernel starts,
except in the last test (the card check's imports, in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from workbench import pipeline
from workbench.errors import StageError

REPO = Path(__file__).resolve().parents[1]


class ThreadedFake:
    """Writes each stage's products after ``delay[stage]`` seconds; records which stages overlapped in time."""

    def __init__(self, delay: dict[str, float] | None = None, fail_at: str | None = None):
        self.delay = delay or {}
        self.fail_at = fail_at
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.overlaps: set[frozenset[str]] = set()
        self.started: list[str] = []

    def __call__(self, stage, *, ds, paths, parameters):
        with self.lock:
            self.started.append(stage.name)
            self.overlaps.update(frozenset((stage.name, other)) for other in self.running)
            self.running.add(stage.name)
        try:
            time.sleep(self.delay.get(stage.name, 0.0))
            if stage.name == self.fail_at:
                raise StageError(f"stage '{stage.name}' failed in cell 3 of {stage.notebook}: ValueError: boom",
                                 stage=stage.name, cell=3, notebook=stage.notebook, error="ValueError: boom")
            for attr in stage.writes:
                p: Path = getattr(paths, attr)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(f"{stage.name}:{attr}")
        finally:
            with self.lock:
                self.running.discard(stage.name)


def threaded_workers(fake: ThreadedFake, n: int = 2) -> list:
    workers = []
    for _ in range(n):
        w = pipeline._Worker(run=fake)
        w._thread = ThreadPoolExecutor(max_workers=1)
        workers.append(w)
    return workers


def run(dataset: Path, out: Path, workers: list, **kwargs) -> list:
    ds = pipeline.load_dataset(dataset)
    paths = pipeline.RunPaths(out.resolve())
    paths.root.mkdir(parents=True, exist_ok=True)
    overrides = pipeline.validate_parameters({})
    try:
        with pipeline._remembered_hashes():
            return pipeline._run_stages(ds, paths, pipeline.read_manifest(paths), overrides, only=kwargs.get("only"),
                                        force=kwargs.get("force", False), echo=kwargs.get("echo", lambda s: None),
                                        workers=workers)
    finally:
        for w in workers:
            w._thread.shutdown(wait=True)


def test_stage_graph_regression_growth_publications_are_independent():
    deps = pipeline.stage_dependencies()
    assert deps["ingest"] == frozenset()
    assert deps["features"] == {"ingest"}
    for name in ("regression", "growth", "publications"):
        assert "features" in deps[name] and "ingest" in deps[name]
        assert not {"regression", "growth", "publications"} & deps[name]
    assert deps["report"] == {"ingest", "features", "regression", "growth", "publications"}


def test_second_kernel_only_for_independent_stages_on_a_small_dataset(dataset, monkeypatch):
    ds = pipeline.load_dataset(dataset)
    by_name = {s.name: s for s in pipeline.STAGES}
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    assert pipeline._kernels_for(ds, pipeline.STAGES) == 2
    assert pipeline._kernels_for(ds, [by_name["regression"], by_name["report"]]) == 1  # one after the other
    assert pipeline._kernels_for(ds, [by_name["growth"]]) == 1
    monkeypatch.setattr(pipeline, "PARALLEL_MAX_INPUT_BYTES", 5)  # the dataset's 8 bytes are "large"
    assert pipeline._kernels_for(ds, pipeline.STAGES) == 1
    monkeypatch.setattr(pipeline, "PARALLEL_MAX_INPUT_BYTES", 1 << 30)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 1)
    assert pipeline._kernels_for(ds, pipeline.STAGES) == 1


def test_two_workers_run_independent_stages_side_by_side_and_record_them_in_order(dataset, tmp_path):
    fake = ThreadedFake(delay={"regression": 0.4, "growth": 0.2, "publications": 0.1})
    lines: list[str] = []
    outcomes = run(dataset, tmp_path / "run", threaded_workers(fake), echo=lines.append)
    assert [o.name for o in outcomes] == list(pipeline.STAGE_NAMES)  # in stage order, whatever finished first
    assert [o.status for o in outcomes] == ["ran"] * 6
    assert frozenset(("regression", "growth")) in fake.overlaps  # side by side
    deps = pipeline.stage_dependencies()
    for pair in fake.overlaps:  # never a stage beside one it depends on
        a, b = tuple(pair)
        assert a not in deps[b] and b not in deps[a]
    assert fake.started[:2] == ["ingest", "features"] and fake.started[-1] == "report"
    # each stage's console line keeps its position in the stage list
    assert any(line.startswith("[3/6] regression  ran in") for line in lines)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(manifest["stages"]) == set(pipeline.STAGE_NAMES)
    # a re-run is a no-op, with either scheduler
    again = run(dataset, tmp_path / "run", threaded_workers(ThreadedFake()))
    assert [o.status for o in again] == ["up to date"] * 6


def test_a_stage_failing_beside_another_lets_it_finish_and_stops_before_the_report(dataset, tmp_path):
    fake = ThreadedFake(delay={"growth": 0.3}, fail_at="regression")
    out = tmp_path / "run"
    with pytest.raises(StageError) as err:
        run(dataset, out, threaded_workers(fake))
    assert err.value.stage == "regression"
    assert "report" not in fake.started
    manifest = json.loads((out / "manifest.json").read_text())
    assert "growth" in manifest["stages"] and "regression" not in manifest["stages"]  # growth finished, kept
    assert manifest["failed_stages"]["regression"]["cell"] == 3
    status = json.loads((out / "results" / "run_status.json").read_text())
    assert status["status"] == "failed"
    assert {s["name"]: s["status"] for s in status["stages"]}["growth"] == "ran"
    # no stage starts after a failure (publications waited for a free worker); the next run does what is left
    fake2 = ThreadedFake()
    run(dataset, out, threaded_workers(fake2))
    assert sorted(fake2.started) == ["publications", "regression", "report"]


def test_one_worker_runs_the_stages_in_their_order(dataset, tmp_path):
    fake = ThreadedFake(delay={"regression": 0.05})
    run(dataset, tmp_path / "run", threaded_workers(fake, n=1))
    assert fake.started == list(pipeline.STAGE_NAMES) and not fake.overlaps


def test_card_check_reads_growth_names_without_importing_growth():
    """The CLI checks the card before any kernel starts: it must not load statsmodels or scipy for it, and the names
    it takes from workbench.names are the ones growth and schema use."""
    code = ("import sys\nfrom workbench.dataset import card_vocabulary, check_card_vocabulary, load_dataset\n"
            f"ds = load_dataset({str(REPO / 'data' / 'example')!r})\ncheck_card_vocabulary(ds)\n"
            "print(sorted(m for m in ('statsmodels', 'scipy', 'workbench.growth', 'matplotlib', 'pandas', 'numpy')\n"
            "             if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"  # the example card has a codebook: read too, without pandas
    from workbench import dataset, features, growth, names, schema
    from workbench.ingest import account_csv

    assert dataset.POST_DERIVABLE is growth.POST_DERIVABLE
    assert (dataset.PLATFORMS, dataset.POST_TYPES) == (schema.PLATFORMS, schema.POST_TYPES)
    # the light copies of names the card is checked against are the ones the stages use
    assert names.AUTOMATIC_FEATURES == tuple(features.FEATURE_DESCRIPTIONS)
    assert account_csv.CANONICAL == schema.ACCOUNT_COLUMNS


def test_warm_up_code_imports_each_module_and_leaves_no_name():
    ns: dict = {"get_ipython": None}
    exec(pipeline._warm_up_code(["json", "no_such_module_xyz"]), ns)  # a missing module is the notebook's error
    assert "json" in sys.modules
    assert not [k for k in ns if k.startswith("_wb")]


def _tiny_graph(tmp_path, monkeypatch, b_cells: tuple[str, ...], c_cells: tuple[str, ...]):
    """Stages a -> (b, c) of tiny notebooks, run by the real runner (two kernels, nothing warmed up)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    folder = tmp_path / "nbs"
    folder.mkdir()

    def notebook(name: str, *cells: str) -> None:
        params = new_code_cell('dataset_dir = ""\nrun_dir = ""')
        params.metadata["tags"] = ["parameters"]
        nb = new_notebook(cells=[new_markdown_cell(f"# {name}"), params, *(new_code_cell(c) for c in cells)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / name)

    write = "import os, pathlib\npathlib.Path(run_dir, 'data').mkdir(exist_ok=True)\n"
    notebook("a.ipynb", write + "pathlib.Path(run_dir, 'data', 'posts.parquet').write_text('p')")
    notebook("b.ipynb", write + "pathlib.Path(run_dir, 'pid_b').write_text(str(os.getpid()))", *b_cells)
    notebook("c.ipynb", write + "pathlib.Path(run_dir, 'pid_c').write_text(str(os.getpid()))", *c_cells)
    stages = (pipeline.Stage("a", "a.ipynb", reads=(), writes=("posts",)),
              pipeline.Stage("b", "b.ipynb", reads=("posts",), writes=("regression",)),
              pipeline.Stage("c", "c.ipynb", reads=("posts",), writes=("growth",)))
    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(pipeline, "STAGES", stages)
    monkeypatch.setattr(pipeline, "STAGE_NAMES", tuple(s.name for s in stages))
    monkeypatch.setattr(pipeline, "WARM_UP_MODULES", ())
    monkeypatch.setattr(pipeline, "WARM_UP_INGEST", ())
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pipeline, "check_card_vocabulary", lambda ds, **kw: [])
    monkeypatch.setattr(pipeline, "validate_parameters", lambda overrides: {s.name: {} for s in stages})
    ds_folder = tmp_path / "ds"
    (ds_folder / "raw").mkdir(parents=True)
    (ds_folder / "raw" / "posts.csv").write_text("a\n1\n")
    (ds_folder / "dataset.yml").write_text(yaml.safe_dump({"name": "demo", "posts": ["raw/*.csv"]}))
    return ds_folder


def test_real_kernels_side_by_side_a_failure_names_stage_and_cell(tmp_path, monkeypatch):
    """Two real kernels: b fails while c runs in the other kernel; the error names b's cell, c's products and
    manifest entry are kept, and each notebook is saved with papermill's injected parameters."""
    ds_folder = _tiny_graph(tmp_path, monkeypatch, ("raise ValueError('boom in b')",),
                            ("import time\ntime.sleep(1.5)\npathlib.Path(run_dir, 'results').mkdir(exist_ok=True)\n"
                             "pathlib.Path(run_dir, 'results', 'growth.json').write_text('{}')",))
    out = tmp_path / "run"
    lines: list[str] = []
    with pytest.raises(StageError) as err:
        pipeline.run_pipeline(ds_folder, out=out, echo=lines.append)
    assert err.value.stage == "b" and err.value.cell == 4 and "boom in b" in str(err.value)
    assert (out / "pid_b").read_text() != (out / "pid_c").read_text()  # two kernels
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["stages"]) == ["a", "c"] and list(manifest["failed_stages"]) == ["b"]
    for name in ("b", "c"):
        saved = json.loads((out / "notebooks" / f"{name}.ipynb").read_text())
        assert any("injected-parameters" in c["metadata"].get("tags", []) for c in saved["cells"])


def test_an_interrupted_run_does_not_wait_for_the_stage_running_beside(tmp_path, monkeypatch):
    """Ctrl-C (here: raised when c's line is printed) while b runs a minute-long cell in the other kernel: the run
    ends at once, b's kernel is killed, no kernel is left."""
    import psutil

    ds_folder = _tiny_graph(tmp_path, monkeypatch, ("import time\ntime.sleep(60)",),
                            ("pathlib.Path(run_dir, 'results').mkdir(exist_ok=True)\n"
                             "pathlib.Path(run_dir, 'results', 'growth.json').write_text('{}')",))

    def echo(line: str) -> None:
        if line.startswith("[3/3] c") and "ran" in line:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_pipeline(ds_folder, out=out, echo=echo)
    assert time.perf_counter() - t0 < 40
    pid_b = int((out / "pid_b").read_text())
    time.sleep(0.5)
    assert not psutil.pid_exists(pid_b) or psutil.Process(pid_b).status() == psutil.STATUS_ZOMBIE


def test_runner_reads_the_card_without_pandas():
    """Until a stage will run, the runner loads no pandas (a no-op re-run stays fast; the first kernel is launched
    before the CLI imports it); the schema names the card is checked against are schema's."""
    code = ("import sys\nimport workbench.cli as cli\ncli.build_parser()\nfrom workbench import pipeline\n"
            f"ds = pipeline.load_dataset({str(REPO / 'data' / 'example')!r})\n"
            "ds.post_files(); ds.account_files(); ds.code_files(); ds.publication_inputs()\n"
            "print('pandas' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
    from workbench import dataset, schema

    assert dataset.PLATFORMS == schema.PLATFORMS and dataset.POST_TYPES == schema.POST_TYPES


def test_independent_stages_start_longest_first_by_the_last_run(dataset, tmp_path):
    """Of the stages that may start together, the one that took longest last time starts first (LPT): on two kernels
    the longest stage is not left for last. Without a previous run, the stage order."""
    out = tmp_path / "run"
    first = ThreadedFake(delay={"regression": 0.05, "growth": 0.4, "publications": 0.2})
    run(dataset, out, threaded_workers(first))
    assert first.started[2:5] == ["regression", "growth", "publications"]  # nothing known yet: the stage order
    again = ThreadedFake(delay={"regression": 0.05, "growth": 0.4, "publications": 0.2})
    run(dataset, out, threaded_workers(again), force=True)
    assert again.started[:2] == ["ingest", "features"] and again.started[-1] == "report"
    assert again.started[2:5] == ["growth", "publications", "regression"]


class _StubSession:
    """What the scheduler reads of a kernel session: the modules it has imported and whether it still imports."""

    def __init__(self, imported, importing_for: float = 0.0):
        self.imported = set(imported)
        self.warm_up = tuple(imported)
        self._warm = threading.Thread(target=time.sleep, args=(importing_for,)) if importing_for else None
        if self._warm is not None:
            self._warm.start()
        self.asked: list[tuple[str, ...]] = []

    def launch(self):
        pass

    def warm_more(self, modules=pipeline.WARM_UP_MODULES):
        self.asked.append(tuple(modules))
        self.imported.update(modules)

    def clear(self):
        pass

    def close(self):
        pass


def test_feature_coding_runs_on_the_kernel_that_has_its_modules_not_the_one_still_importing(dataset, tmp_path):
    """After ingest, the first kernel has imported what feature coding uses; the second is still importing the
    models' libraries. Feature coding starts at once on the first; a later stage on a kernel that lacks its
    modules is preceded by importing them there."""
    ran_on: dict[str, int] = {}
    second_still_importing: dict[str, bool] = {}
    fake = ThreadedFake()

    def recording(stage, **kwargs):
        ran_on[stage.name] = 1 if threading.current_thread().name.startswith("k1") else 2
        second_still_importing[stage.name] = k2._warm is not None and k2._warm.is_alive()
        fake(stage, **kwargs)

    k1 = _StubSession(pipeline.WARM_UP_INGEST)
    k2 = _StubSession(pipeline.WARM_UP_MODULES, importing_for=1.5)
    workers = []
    for i, session in enumerate((k1, k2), 1):
        w = pipeline._Worker(session=session, run=recording)
        w._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"k{i}")
        workers.append(w)
    run(dataset, tmp_path / "run", workers)
    assert ran_on["ingest"] == 1 and ran_on["features"] == 1
    assert second_still_importing["features"]  # it did not wait for the second kernel
    # the first kernel ran a stage that needs everything only after importing it
    later = [name for name, k in ran_on.items() if k == 1 and name not in ("ingest", "features")]
    if later:
        assert k1.asked and set(pipeline.WARM_UP_MODULES) <= k1.imported
    k2._warm.join()
