"""The runner: parameter validation, manifest, skipping up-to-date stages, --only, --force, crash recovery.

The notebooks are replaced by a fake executor that writes each stage's products, so these tests start no kernel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from workbench import pipeline
from workbench.errors import InputError, StageError


class FakeExecutor:
    """Writes every product of a stage; can be told to fail at one stage."""

    def __init__(self, fail_at: str | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.fail_at = fail_at

    def __call__(self, stage, *, ds, paths, parameters):
        self.calls.append((stage.name, dict(parameters)))
        if stage.name == self.fail_at:
            raise StageError(f"stage '{stage.name}' failed in cell 3 of {stage.notebook}: ValueError: boom")
        for attr in stage.writes:
            p: Path = getattr(paths, attr)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{stage.name}:{attr}:{(ds.root / 'raw' / 'posts.csv').read_text()}")


def names(ex: FakeExecutor) -> list[str]:
    return [c[0] for c in ex.calls]


def test_first_run_runs_all_and_writes_manifest(dataset, tmp_path):
    ex = FakeExecutor()
    out = tmp_path / "run"
    outcomes = pipeline.run_pipeline(dataset, out=out, executor=ex, echo=lambda s: None)
    assert names(ex) == list(pipeline.STAGE_NAMES)
    assert [o.status for o in outcomes] == ["ran"] * len(pipeline.STAGES)
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["stages"]["ingest"]
    assert set(entry) >= {"inputs", "parameters", "notebook_sha256", "code_sha256", "package_version", "seconds"}
    assert "dataset:raw/posts.csv" in entry["inputs"] and "card:posts" in entry["inputs"]
    assert manifest["dataset"] == {"name": "demo", "folder": str(dataset.resolve())}


def test_rerun_with_nothing_changed_skips_everything(dataset, tmp_path):
    out = tmp_path / "run"
    pipeline.run_pipeline(dataset, out=out, executor=FakeExecutor(), echo=lambda s: None)
    ex = FakeExecutor()
    lines: list[str] = []
    outcomes = pipeline.run_pipeline(dataset, out=out, executor=ex, echo=lines.append)
    assert ex.calls == []
    assert [o.status for o in outcomes] == ["up to date"] * len(pipeline.STAGES)
    assert all("up to date" in line for line in lines)


def test_changed_raw_file_reruns_ingest_and_downstream(dataset, tmp_path):
    out = tmp_path / "run"
    pipeline.run_pipeline(dataset, out=out, executor=FakeExecutor(), echo=lambda s: None)
    (dataset / "raw" / "posts.csv").write_text("a,b\n1,3\n")
    ex = FakeExecutor()
    pipeline.run_pipeline(dataset, out=out, executor=ex, echo=lambda s: None)
    assert names(ex) == list(pipeline.STAGE_NAMES)  # new products change every downstream input


def test_parameter_change_reruns_only_that_stage_and_its_dependents(dataset, tmp_path):
    out = tmp_path / "run"
    pipeline.run_pipeline(dataset, out=out, executor=FakeExecutor(), echo=lambda s: None)
    ex = FakeExecutor()
    pipeline.run_pipeline(dataset, out=out, parameters={"maxlags": 2}, executor=ex, echo=lambda s: None)
    # the fake growth products do not change, so the report stays up to date
    assert names(ex) == ["growth"]
    assert ex.calls[0][1] == {"maxlags": 2}


def test_deleted_product_reruns_its_stage(dataset, tmp_path):
    out = tmp_path / "run"
    pipeline.run_pipeline(dataset, out=out, executor=FakeExecutor(), echo=lambda s: None)
    (out / "results" / "regression.csv").unlink()
    ex = FakeExecutor()
    pipeline.run_pipeline(dataset, out=out, executor=ex, echo=lambda s: None)
    assert names(ex) == ["regression"]


def test_force_and_only(dataset, tmp_path):
    out = tmp_path / "run"
    pipeline.run_pipeline(dataset, out=out, executor=FakeExecutor(), echo=lambda s: None)
    ex = FakeExecutor()
    pipeline.run_pipeline(dataset, out=out, only=["growth"], force=True, executor=ex, echo=lambda s: None)
    assert names(ex) == ["growth"]


def test_only_without_upstream_products_fails_clearly(dataset, tmp_path):
    with pytest.raises(StageError, match=r"stage 'regression' needs data/posts_coded\.parquet .* run the earlier stages"):
        pipeline.run_pipeline(dataset, out=tmp_path / "run", only=["regression"], executor=FakeExecutor(),
                              echo=lambda s: None)


def test_crash_then_rerun_picks_up_where_it_stopped(dataset, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(StageError, match=r"stage 'regression' failed in cell 3"):
        pipeline.run_pipeline(dataset, out=out, executor=FakeExecutor(fail_at="regression"), echo=lambda s: None)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["stages"]) == {"ingest", "features"}
    ex = FakeExecutor()
    pipeline.run_pipeline(dataset, out=out, executor=ex, echo=lambda s: None)
    assert names(ex) == ["regression", "growth", "publications", "report"]


def test_corrupt_manifest_means_run_everything(dataset, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text("{not json")
    ex = FakeExecutor()
    pipeline.run_pipeline(dataset, out=out, executor=ex, echo=lambda s: None)
    assert len(ex.calls) == len(pipeline.STAGES)


def test_unknown_parameter_lists_known_ones(dataset, tmp_path):
    with pytest.raises(InputError, match=r"unknown parameter 'nboot'\. Known parameters: .*n_boot"):
        pipeline.run_pipeline(dataset, out=tmp_path / "r", parameters={"nboot": 3}, executor=FakeExecutor())


def test_runner_owned_parameters_cannot_be_overridden(dataset, tmp_path):
    with pytest.raises(InputError, match=r"'run_dir' is set by the runner"):
        pipeline.run_pipeline(dataset, out=tmp_path / "r", parameters={"run_dir": "x"}, executor=FakeExecutor())


def test_unknown_stage(dataset, tmp_path):
    with pytest.raises(InputError, match=r"unknown stage 'fit'\. Stages: ingest, features"):
        pipeline.run_pipeline(dataset, out=tmp_path / "r", only=["fit"], executor=FakeExecutor())


@pytest.mark.parametrize(
    ("text", "expected"),
    [("n_boot=500", ("n_boot", 500)), ("model_names=['ols_log']", ("model_names", ["ols_log"])),
     ("label=hello world", ("label", "hello world")), ("x=1.5", ("x", 1.5)), ("flag=true", ("flag", True))],
)
def test_parse_parameter(text, expected):
    assert pipeline.parse_parameter(text) == expected


def test_parse_parameter_needs_equals():
    with pytest.raises(InputError, match="NAME=VALUE"):
        pipeline.parse_parameter("n_boot")


def test_every_notebook_declares_dataset_and_run_dir():
    for stage in pipeline.STAGES:
        params = pipeline.notebook_parameters(stage.notebook_path)
        assert {"dataset_dir", "run_dir"} <= set(params), stage.notebook


def test_card_key_no_stage_claims_is_read_by_every_stage(dataset, monkeypatch):
    # a card key added later without a stage declaring it must cost a re-run, never a stale result
    from workbench.dataset import load_dataset

    ds = load_dataset(dataset)
    monkeypatch.setattr(pipeline, "CARD_KEYS_REPORT_ONLY", ("name", "goals"))  # "title" now claimed by no stage
    for stage in pipeline.STAGES:
        assert "card:title" in pipeline.card_parts(stage, ds), stage.name
    monkeypatch.undo()
    claimed = [s.name for s in pipeline.STAGES if "card:title" in pipeline.card_parts(s, ds)]
    assert claimed == ["report"]


def test_card_parts_hash_values_not_text(dataset):
    from workbench.dataset import load_dataset

    before = {s.name: pipeline.card_parts(s, load_dataset(dataset)) for s in pipeline.STAGES}
    card = yaml.safe_load((dataset / "dataset.yml").read_text())
    (dataset / "dataset.yml").write_text("# reordered, commented\n" + yaml.safe_dump(card, sort_keys=True, indent=4))
    after = {s.name: pipeline.card_parts(s, load_dataset(dataset)) for s in pipeline.STAGES}
    assert before == after
    (dataset / "dataset.yml").write_text(yaml.safe_dump({**card, "analysis": {"controls": ["year"]}}))
    changed = {s.name for s in pipeline.STAGES if pipeline.card_parts(s, load_dataset(dataset)) != before[s.name]}
    assert changed == {"regression", "report"}


# --------------------------------------------------------------------------------------------------------------
# the shared kernel (real kernels: two tiny notebooks)


def _notebook(folder: Path, name: str, *cells: str) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    params = new_code_cell('dataset_dir = ""\nrun_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell(f"# {name}"), params, *(new_code_cell(c) for c in cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)


@pytest.fixture
def tiny_stages(tmp_path, monkeypatch):
    folder = tmp_path / "nbs"
    folder.mkdir()
    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", folder)
    ds = type("DS", (), {"root": tmp_path})()
    paths = pipeline.RunPaths(tmp_path / "run")
    return folder, ds, paths


def test_shared_kernel_runs_each_notebook_in_an_empty_namespace(tiny_stages):
    folder, ds, paths = tiny_stages
    _notebook(folder, "a.ipynb", "import os, pathlib\nleft_behind = 41\n"
              "pathlib.Path(run_dir, 'pid_a').write_text(str(os.getpid()))\nos.chdir('/')")
    _notebook(folder, "b.ipynb", "import os, pathlib\n"
              "pathlib.Path(run_dir, 'pid_b').write_text(str(os.getpid()))\n"
              "pathlib.Path(run_dir, 'cwd_b').write_text(os.getcwd())\n"
              "pathlib.Path(run_dir, 'names_b').write_text(repr('left_behind' in globals()))")
    _notebook(folder, "c.ipynb", "x = 1", "print(left_behind + x)")
    stage = {n: pipeline.Stage(n, f"{n}.ipynb", reads=(), writes=()) for n in "abc"}
    paths.root.mkdir()
    with pipeline.KernelSession() as kernel:
        for n in "ab":
            pipeline.execute_stage(stage[n], ds=ds, paths=paths, parameters={}, kernel=kernel)
        with pytest.raises(StageError) as err:
            pipeline.execute_stage(stage["c"], ds=ds, paths=paths, parameters={}, kernel=kernel)
        km = kernel.km
    # one kernel for all of them, each notebook saved with papermill's injected parameters
    assert (paths.root / "pid_a").read_text() == (paths.root / "pid_b").read_text()
    assert (paths.root / "names_b").read_text() == "False"  # a's variable is gone
    assert Path((paths.root / "cwd_b").read_text()) == folder  # a's chdir is undone
    saved = json.loads((paths.notebooks / "b.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in saved["cells"])
    assert str(paths.root) in "".join(next(c for c in saved["cells"]
                                           if "injected-parameters" in c["metadata"].get("tags", []))["source"])
    # c fails as in a kernel of its own: NameError, named by its cell position (markdown counted)
    assert "NameError" in str(err.value) and "left_behind" in str(err.value)
    assert err.value.cell == 4 and err.value.stage == "c"
    assert "(print(left_behind + x))" in str(err.value)  # the failing cell's first line, not a neighbour's
    assert km is not None and not km.has_kernel  # shut down when the session ends


def test_shared_kernel_is_replaced_when_it_dies(tiny_stages):
    folder, ds, paths = tiny_stages
    _notebook(folder, "a.ipynb", "import os\nos._exit(1)")
    _notebook(folder, "b.ipynb", "import os, pathlib\npathlib.Path(run_dir, 'ok').write_text('ok')")
    stage = {n: pipeline.Stage(n, f"{n}.ipynb", reads=(), writes=()) for n in "ab"}
    paths.root.mkdir()
    with pipeline.KernelSession() as kernel:
        with pytest.raises(StageError) as err:
            pipeline.execute_stage(stage["a"], ds=ds, paths=paths, parameters={}, kernel=kernel)
        assert err.value.stage == "a"
        pipeline.execute_stage(stage["b"], ds=ds, paths=paths, parameters={}, kernel=kernel)
    assert (paths.root / "ok").read_text() == "ok"


def test_console_summary_of_rows_and_warnings_at_the_end_of_a_run(tmp_path):
    """Issue 19.13: lost or changed rows are said on the console, not only in the report's appendix."""
    import json

    from workbench.cli import ingest_summary_lines

    log = tmp_path / "results" / "ingest_log.json"
    log.parent.mkdir()
    log.write_text(json.dumps({"files": [
        {"file": "raw/a.csv", "rows_read": 10, "rows_kept": 7, "rows_quarantined": 2, "rows_superseded": 1},
        {"file": "raw/b.csv", "rows_read": 5, "rows_kept": 5, "rows_quarantined": 0, "rows_superseded": 0}],
        "warnings": [f"warning {i}" for i in range(7)]}))
    lines = ingest_summary_lines(log, quarantine=tmp_path / "data" / "quarantine.csv")
    assert lines[0] == ("ingest: 2 file(s), 15 rows read = 12 kept + 2 quarantined + 1 superseded; 7 warning(s)")
    assert lines[1].endswith("quarantine.csv") and lines[2] == "  warning: warning 0"
    assert lines[-1].startswith("  … 2 more in ")
    assert ingest_summary_lines(tmp_path / "missing.json") == []


def test_file_hashes_are_remembered_within_a_run_only(tmp_path):
    from workbench.io import write_text

    f = tmp_path / "product.csv"
    write_text(f, "a\n1\n")
    with pipeline._remembered_hashes():
        first = pipeline.hash_file(f)
        assert pipeline._HASHES and pipeline.hash_file(f) == first
        write_text(f, "a\n2\n")  # a stage rewrites it (atomically: a new file) within the run
        assert pipeline.hash_file(f) != first
    assert pipeline._HASHES is None
