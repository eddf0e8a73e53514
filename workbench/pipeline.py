"""The stage list, papermill execution, the manifest and incremental re-runs (DESIGN.md §5).

Stages hand data to each other only through files in the run folder, so any stage can be re-run alone. A stage
is skipped when its inputs (file hashes), parameters, notebook and workbench code are unchanged since its last
successful run and its products are still there, unchanged. The manifest is written after every stage, so a run
interrupted at any point and started again redoes only what did not finish.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .dataset import Dataset, load_dataset
from .errors import InputError, StageError
from .io import write_json

PACKAGE_DIR = Path(__file__).resolve().parent
NOTEBOOK_DIR = PACKAGE_DIR.parent / "notebooks"
KERNEL_NAME = "workbench"


@dataclass(frozen=True)
class RunPaths:
    """Every file of a run folder, by meaning (the DESIGN.md §5 contract)."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def figures(self) -> Path:
        return self.results / "figures"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def posts(self) -> Path:
        return self.data / "posts.parquet"

    @property
    def account(self) -> Path:
        return self.data / "account.parquet"

    @property
    def codes(self) -> Path:
        return self.data / "codes.parquet"

    @property
    def quarantine(self) -> Path:
        return self.data / "quarantine.csv"

    @property
    def posts_coded(self) -> Path:
        return self.data / "posts_coded.parquet"

    @property
    def ingest_log(self) -> Path:
        return self.results / "ingest_log.json"

    @property
    def reliability(self) -> Path:
        return self.results / "reliability.csv"

    @property
    def coding(self) -> Path:
        return self.results / "coding.json"

    @property
    def regression(self) -> Path:
        return self.results / "regression.csv"

    @property
    def models(self) -> Path:
        return self.results / "models.json"

    @property
    def growth(self) -> Path:
        return self.results / "growth.json"

    @property
    def publications(self) -> Path:
        return self.data / "publications.parquet"

    @property
    def publications_quarantine(self) -> Path:
        return self.data / "publications_quarantine.csv"

    @property
    def publication_links(self) -> Path:
        return self.data / "publication_links.parquet"

    @property
    def publications_table(self) -> Path:
        return self.results / "publications.csv"

    @property
    def publications_summary(self) -> Path:
        return self.results / "publications.json"

    @property
    def match_review(self) -> Path:
        return self.results / "publication_matches_review.csv"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"


@dataclass(frozen=True)
class Stage:
    """One notebook of the pipeline: what it reads and what it writes."""

    name: str
    notebook: str
    reads: tuple[str, ...]  # RunPaths attribute names of upstream products
    writes: tuple[str, ...]  # RunPaths attribute names of its products
    reads_dataset: bool = False  # the raw exports, coding files and codebook of the dataset folder
    optional_writes: tuple[str, ...] = field(default=())
    reads_publications: bool = False  # the card's publication lists, attention files and link files

    @property
    def notebook_path(self) -> Path:
        return NOTEBOOK_DIR / self.notebook


STAGES: tuple[Stage, ...] = (
    Stage(
        "ingest",
        "01_ingest.ipynb",
        reads=(),
        writes=("posts", "account", "codes", "quarantine", "ingest_log"),
        reads_dataset=True,
    ),
    Stage(
        "features",
        "02_feature_coding.ipynb",
        reads=("posts", "account", "codes"),
        writes=("posts_coded", "reliability", "coding"),
        reads_dataset=True,  # the codebook
    ),
    Stage("regression", "03_regression.ipynb", reads=("posts_coded",), writes=("regression", "models")),
    Stage("growth", "04_growth_comparison.ipynb", reads=("account", "posts_coded"), writes=("growth",)),
    Stage(
        "report",
        "05_report.ipynb",
        reads=("posts_coded", "account", "ingest_log", "reliability", "regression", "models", "growth"),
        writes=("report",),
    ),
    Stage(
        "publications",
        "06_publications.ipynb",
        reads=("posts_coded",),
        writes=("publications", "publications_quarantine", "publication_links", "publications_table",
                "publications_summary", "match_review"),
        reads_publications=True,  # last: notebooks run in file order; the report can read it once it is wired
    ),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def open_run(dataset_dir: str | Path, run_dir: str | Path) -> tuple[Dataset, RunPaths]:
    """Load the dataset card and make the run folder; what every notebook calls first."""
    ds = load_dataset(dataset_dir)
    paths = RunPaths(Path(run_dir).resolve())
    for folder in (paths.data, paths.results, paths.figures):
        folder.mkdir(parents=True, exist_ok=True)
    return ds, paths


def default_run_dir(ds: Dataset) -> Path:
    """``reports/<name>`` beside the package's repository (or the current folder when installed elsewhere)."""
    base = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "notebooks").is_dir() else Path.cwd()
    return base / "reports" / ds.name


# --------------------------------------------------------------------------------------------------------------
# parameters


def notebook_parameters(path: Path) -> dict[str, Any]:
    """The default values of a notebook's ``parameters`` cell (literals only, as papermill requires)."""
    # plain JSON, not nbformat: importing nbformat's validator costs seconds, and a no-op re-run must be fast
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            params: dict[str, Any] = {}
            for node in ast.parse(source).body:
                target = None
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    target, value = node.target.id, node.value
                elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    target, value = node.targets[0].id, node.value
                if target is not None:
                    params[target] = ast.literal_eval(value) if value is not None else None
            return params
    raise InputError(f"notebook {path.name} has no cell tagged 'parameters'", file=path)


def parse_parameter(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` → (name, value); VALUE is read as a Python/YAML literal, else kept as a string."""
    if "=" not in text:
        raise InputError(f"parameter {text!r} must look like NAME=VALUE (e.g. n_boot=500)")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise InputError(f"parameter name {name!r} is not a valid name")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        import yaml

        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict,)) or value is None and raw.strip() not in ("", "null", "None", "~"):
            value = raw
    return name, value


def validate_parameters(overrides: Mapping[str, Any], stages: Sequence[Stage] = STAGES) -> dict[str, dict[str, Any]]:
    """Check every override names a parameter of some stage; return the overrides that apply to each stage."""
    known: dict[str, dict[str, Any]] = {s.name: notebook_parameters(s.notebook_path) for s in stages}
    all_names = sorted({n for p in known.values() for n in p} - {"dataset_dir", "run_dir"})
    for name in overrides:
        if name in ("dataset_dir", "run_dir"):
            raise InputError(f"parameter {name!r} is set by the runner; give the dataset folder or --out instead")
        if name not in all_names:
            raise InputError(f"unknown parameter {name!r}. Known parameters: {', '.join(all_names)}")
    return {s: {k: v for k, v in overrides.items() if k in p} for s, p in known.items()}


# --------------------------------------------------------------------------------------------------------------
# hashing and the manifest


def hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_hash() -> str:
    """A hash of the workbench package's source: a code change re-runs the stages."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def dataset_inputs(ds: Dataset) -> list[Path]:
    """Every dataset file ingest and coding read: the card, exports, account files, coding files, codebook."""
    files = [ds.card_path, *ds.post_files(), *(p for p, _ in ds.account_files()), *ds.code_files()]
    cb = ds.codebook_path()
    if cb is not None and cb.exists():
        files.append(cb)
    seen: list[Path] = []
    for f in files:
        if f not in seen:
            seen.append(f)
    return seen


def stage_inputs(stage: Stage, ds: Dataset, paths: RunPaths) -> dict[str, str]:
    """{label: sha256} of everything the stage reads."""
    out: dict[str, str] = {}
    if stage.reads_dataset:
        for f in dataset_inputs(ds):
            out[f"dataset:{ds.relative(f)}"] = hash_file(f)
    if stage.reads_publications:
        for f in ds.publication_inputs():
            out[f"dataset:{ds.relative(f)}"] = hash_file(f)
    for attr in stage.reads:
        p: Path = getattr(paths, attr)
        out[f"run:{p.relative_to(paths.root).as_posix()}"] = hash_file(p) if p.exists() else "missing"
    return out


def stage_products(stage: Stage, paths: RunPaths) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for attr in stage.writes:
        p: Path = getattr(paths, attr)
        out[p.relative_to(paths.root).as_posix()] = hash_file(p) if p.exists() else None
    return out


def read_manifest(paths: RunPaths) -> dict[str, Any]:
    try:
        data = json.loads(paths.manifest.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("stages"), dict) else {"stages": {}}
    except (OSError, ValueError):
        return {"stages": {}}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --------------------------------------------------------------------------------------------------------------
# running


@dataclass
class StageOutcome:
    name: str
    status: str  # "ran", "up to date", "failed"
    seconds: float
    message: str = ""


def _kernel_name() -> str:
    """The registered ``workbench`` kernel where present (``make`` installs it), else this interpreter's own."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        if KERNEL_NAME in KernelSpecManager().find_kernel_specs():
            return KERNEL_NAME
    except Exception:  # noqa: BLE001 - any failure here just means "use the default kernel"
        pass
    return "python3"


def execute_stage(stage: Stage, *, ds: Dataset, paths: RunPaths, parameters: Mapping[str, Any]) -> None:
    """Execute one notebook into the run folder; raise StageError naming stage, cell and error."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    paths.notebooks.mkdir(parents=True, exist_ok=True)
    out_nb = paths.notebooks / stage.notebook
    params = {"dataset_dir": str(ds.root), "run_dir": str(paths.root), **parameters}
    try:
        pm.execute_notebook(
            str(stage.notebook_path),
            str(out_nb),
            parameters=params,
            kernel_name=_kernel_name(),
            progress_bar=False,
            log_output=False,
            cwd=str(NOTEBOOK_DIR),
            # The kernel's start-up warnings (e.g. "running over TCP without encryption" on a local
            # loopback kernel) are noise on the console of a batch run; errors still show.
            extra_arguments=["--log-level=ERROR"],
        )
    except PapermillExecutionError as exc:
        last_line = (exc.evalue or "").strip().splitlines()
        raise StageError(
            f"stage '{stage.name}' failed in cell {exc.exec_count} of {stage.notebook}: "
            f"{exc.ename}: {last_line[-1] if last_line else ''}\n"
            f"The partial notebook is kept at {out_nb}"
        ) from None
    except Exception as exc:  # kernel died, notebook unreadable, ...
        raise StageError(f"stage '{stage.name}' could not run {stage.notebook}: {type(exc).__name__}: {exc}") from exc


def run_pipeline(
    dataset_dir: str | Path,
    *,
    out: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    only: Sequence[str] | None = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
    executor: Callable[..., None] = execute_stage,
) -> list[StageOutcome]:
    """Run the stages on a dataset folder; return what happened to each.

    Parameters
    ----------
    dataset_dir : the dataset folder (with ``dataset.yml``).
    out : the run folder; default ``reports/<name>``.
    parameters : notebook parameter overrides (validated before any kernel starts).
    only : run just these stages (their upstream products must exist).
    force : run the stages even when up to date.
    """
    ds = load_dataset(dataset_dir)
    overrides = validate_parameters(dict(parameters or {}))
    if only:
        unknown = [s for s in only if s not in STAGE_NAMES]
        if unknown:
            raise InputError(f"unknown stage {unknown[0]!r}. Stages: {', '.join(STAGE_NAMES)}")
    ds.post_files()  # fail early (exit 2) when a glob matches nothing
    ds.publication_inputs()  # the same for the publications and attention globs
    paths = RunPaths(Path(out).resolve() if out else default_run_dir(ds))
    paths.root.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(paths)
    version, code = __version__, code_hash()
    outcomes: list[StageOutcome] = []
    selected = [s for s in STAGES if not only or s.name in only]
    for i, stage in enumerate(selected, 1):
        nb_hash = hash_file(stage.notebook_path)
        params = _jsonable(overrides.get(stage.name, {}))
        inputs = stage_inputs(stage, ds, paths)
        missing = [k for k, v in inputs.items() if v == "missing"]
        label = f"[{i}/{len(selected)}] {stage.name:<11}"
        if missing:
            msg = (
                f"stage '{stage.name}' needs {', '.join(m.removeprefix('run:') for m in missing)} "
                f"in {paths.root}; run the earlier stages first (drop --only)"
            )
            echo(f"{label} failed: {msg}")
            outcomes.append(StageOutcome(stage.name, "failed", 0.0, msg))
            raise StageError(msg)
        previous = manifest["stages"].get(stage.name)
        products = stage_products(stage, paths)
        up_to_date = (
            not force
            and previous is not None
            and previous.get("inputs") == inputs
            and previous.get("parameters") == params
            and previous.get("notebook_sha256") == nb_hash
            and previous.get("code_sha256") == code
            and previous.get("products") == products
            and all(v is not None for v in products.values())
        )
        if up_to_date:
            echo(f"{label} up to date")
            outcomes.append(StageOutcome(stage.name, "up to date", 0.0))
            continue
        # Forget the stage before running it: a crash mid-stage must not leave it looking up to date.
        manifest["stages"].pop(stage.name, None)
        write_json(paths.manifest, manifest)
        t0 = time.perf_counter()
        try:
            executor(stage, ds=ds, paths=paths, parameters=overrides.get(stage.name, {}))
        except StageError as exc:
            seconds = time.perf_counter() - t0
            echo(f"{label} failed after {seconds:.1f} s")
            outcomes.append(StageOutcome(stage.name, "failed", seconds, str(exc)))
            raise
        seconds = time.perf_counter() - t0
        manifest["stages"][stage.name] = {
            "notebook": stage.notebook,
            "inputs": inputs,
            "parameters": params,
            "notebook_sha256": nb_hash,
            "code_sha256": code,
            "package_version": version,
            "python": sys.version.split()[0],
            "products": stage_products(stage, paths),
            "seconds": round(seconds, 3),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        manifest["dataset"] = {"name": ds.name, "folder": str(ds.root)}
        write_json(paths.manifest, manifest)
        echo(f"{label} ran in {seconds:.1f} s")
        outcomes.append(StageOutcome(stage.name, "ran", seconds))
    return outcomes
