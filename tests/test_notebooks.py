"""The committed notebooks are thin and clean: no outputs, a tagged parameters cell, short calls into workbench."""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from workbench.pipeline import NOTEBOOK_DIR, STAGES

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_every_stage_has_its_notebook():
    assert sorted(p.name for p in NOTEBOOKS) == sorted(s.notebook for s in STAGES)
    assert len({s.notebook for s in STAGES}) == len(STAGES)


def test_stage_order_fits_reads_and_writes():
    """A stage reads only what an earlier stage writes; a notebook run in file order (nbval) never needs the
    products of a notebook with a later file name (an optional read is allowed: it is used when present)."""
    writer = {attr: s for s in STAGES for attr in (*s.writes, *s.optional_writes)}
    position = {s.name: i for i, s in enumerate(STAGES)}
    for stage in STAGES:
        for attr in (*stage.reads, *stage.optional_reads):
            assert attr in writer, f"{stage.name} reads {attr}, which no stage writes"
            assert position[writer[attr].name] < position[stage.name], (
                f"{stage.name} reads {attr} but {writer[attr].name} runs after it")
        for attr in stage.reads:
            assert writer[attr].notebook < stage.notebook, (
                f"{stage.notebook} needs {attr} from {writer[attr].notebook}, which nbval runs after it")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_outputs_committed(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: execution counts are committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_is_typed_literals_with_comments(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged 'parameters'"
    for line in tagged[0].source.splitlines():
        assert re.match(r"^\w+: \w+ = .+  # \S", line), f"{path.name}: parameter line {line!r} needs a type and a comment"
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.AnnAssign)
        ast.literal_eval(node.value)  # literals only, as papermill requires


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_narrative_with_short_calls(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "opens with a title and question"
    imports = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While)) for n in ast.walk(tree)), (
            f"{path.name}: logic belongs in the workbench package, not in a notebook cell:\n{cell.source}"
        )
        assert len(cell.source.splitlines()) <= 4, f"{path.name}: cell too long:\n{cell.source}"
        assert not re.search(r"['\"](/|[A-Za-z]:\\)", cell.source), f"{path.name}: hard-coded absolute path"
        imports += any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)
    assert imports == 1, f"{path.name}: imports belong in one cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_reads_every_parameter(path):
    from papermill.inspection import inspect_notebook

    from workbench.pipeline import notebook_parameters

    seen = inspect_notebook(str(path))
    assert set(seen) == set(notebook_parameters(path))
    for name, info in seen.items():
        assert info["inferred_type_name"] != "None" and info["help"], f"{path.name}: papermill cannot parse {name!r}"
