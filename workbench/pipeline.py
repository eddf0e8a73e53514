"""The stage list, papermill execution, the manifest and incremental re-runs (DESIGN.md §5).

Stages hand data to each other only through files in the run folder, so any stage can be re-run alone. A stage
is skipped when its inputs (file hashes), parameters, notebook and workbench code are unchanged since its last
successful run and its products are still there, unchanged. The manifest is written after every stage, so a run
interrupted at any point and started again redoes only what did not finish.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .dataset import Dataset, check_card_vocabulary, load_dataset
from .errors import DatasetCardError, InputError, StageError
from .io import write_json

PACKAGE_DIR = Path(__file__).resolve().parent
NOTEBOOK_DIR = PACKAGE_DIR.parent / "notebooks"


def notebook_file(name: str) -> Path:
    """The notebook ``name``: the top-level ``notebooks/`` of a checkout, else the copy the wheel carries
    (``workbench/notebooks/``, built from the top-level ones by ``setup.py``; read with importlib.resources)."""
    top = NOTEBOOK_DIR / name
    if top.is_file():
        return top
    from importlib import resources

    shipped = resources.files("workbench").joinpath("notebooks", name)
    if not shipped.is_file():
        raise InputError(f"the notebook {name} is neither in {NOTEBOOK_DIR} nor shipped with the package; "
                         "reinstall the package (pip install .)")
    return Path(str(shipped))
def notebooks_folder() -> Path:
    """The folder the stage notebooks run from: the checkout's ``notebooks/``, or the installed package's copy
    (a non-editable install has no top-level ``notebooks/``)."""
    if NOTEBOOK_DIR.is_dir():
        return NOTEBOOK_DIR
    from importlib import resources

    return Path(str(resources.files("workbench").joinpath("notebooks")))


KERNEL_NAME = "workbench"

#: libraries whose versions can change a number in the report (listed in the manifest and the report).
ANALYSIS_LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "pyarrow", "matplotlib", "jinja2")


def library_versions() -> dict[str, str]:
    """Python and the analysis libraries' versions, as installed ("not installed" where absent).

    Read from the installed packages' metadata, without importing them: the runner records them in the manifest
    after every stage, in a process that does not load pandas."""
    import importlib.metadata
    import platform

    out = {"python": platform.python_version(), "workbench": __version__}
    for name in ANALYSIS_LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


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

    @property
    def findings(self) -> Path:
        return self.results / "findings.json"

    @property
    def run_status(self) -> Path:
        return self.results / "run_status.json"

    @property
    def campaigns(self) -> Path:
        """The paid-campaign table (ingest; only when a campaign export was read)."""
        return self.data / "campaigns.parquet"

    @property
    def claims(self) -> Path:
        """Published claims beside this account's estimates (workbench.claims, computed in the report step)."""
        return self.results / "claims.json"

    @property
    def timing(self) -> Path:
        """Weekday × hour effects, partially pooled (workbench.timing, computed in the report step)."""
        return self.results / "timing.json"

    @property
    def campaigns_summary(self) -> Path:
        """Paid metrics with intervals and benchmarks (workbench.campaigns, computed in the report step)."""
        return self.results / "campaigns.json"

    @property
    def privacy_review(self) -> Path:
        """Own replies flagged for a person to review (workbench.privacy; for the analyst, never in the report)."""
        return self.results / "privacy_review.csv"

    @property
    def report_posts(self) -> Path:
        """Every post of the report's table, beside the report (formula-safe CSV)."""
        return self.root / "report_posts.csv"

    @property
    def report_pdf(self) -> Path:
        return self.root / "report.pdf"

    def rel(self, path: Path) -> str:
        """``path`` relative to the run folder, as the report names it (``results/growth.json``)."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return Path(path).name


@dataclass(frozen=True)
class Stage:
    """One notebook of the pipeline: what it reads and what it writes."""

    name: str
    notebook: str
    reads: tuple[str, ...]  # RunPaths attribute names of upstream products
    writes: tuple[str, ...]  # RunPaths attribute names of its products
    reads_dataset: bool = False  # the raw exports, coding files and codebook of the dataset folder
    optional_writes: tuple[str, ...] = field(default=())
    #: the parts of the dataset card the stage reads (``analysis.predictors`` = one key of ``analysis``; ``*`` =
    #: the whole card). Hashed into the manifest, so changing them re-runs the stage. A card key that no stage
    #: claims (see :func:`card_parts`) is read by every stage: a new key can cost a re-run, never a stale result.
    card: tuple[str, ...] = ()
    reads_publications: bool = False  # the card's publication lists, attention files and link files
    #: upstream products read when present (hashed as "absent" otherwise, never a "run the earlier stages" error):
    #: a run folder from before the stage that writes them existed still gets its report.
    optional_reads: tuple[str, ...] = ()

    @property
    def notebook_path(self) -> Path:
        """The repository's ``notebooks/`` copy in a checkout; the package's copy when installed."""
        return notebook_file(self.notebook)


STAGES: tuple[Stage, ...] = (
    Stage(
        "ingest",
        "01_ingest.ipynb",
        reads=(),
        writes=("posts", "account", "codes", "quarantine", "ingest_log"),
        optional_writes=("campaigns",),  # only when a paid-campaign export was read
        card=("posts", "account", "campaigns", "codes", "codebook"),  # the codebook: which manual codes are yes/no
        reads_dataset=True,
    ),
    Stage(
        "features",
        "02_feature_coding.ipynb",
        reads=("posts", "account", "codes"),
        writes=("posts_coded", "reliability", "coding"),
        reads_dataset=True,  # the codebook
        card=("timezone", "codes", "codebook"),
    ),
    Stage("regression", "03_regression.ipynb", reads=("posts_coded",), writes=("regression", "models"),
          card=("analysis.outcomes", "analysis.predictors", "analysis.controls", "analysis.population",
                "analysis.reference_levels")),
    Stage("growth", "04_growth_comparison.ipynb", reads=("account", "posts_coded"), writes=("growth",),
          card=("interventions", "account", "analysis.growth_metric", "analysis.monthly_metrics", "analysis.equivalence_margin",
                "analysis.hac_maxlags")),
    Stage(
        "publications",
        "06_publications.ipynb",
        reads=("posts_coded",),
        writes=("publications", "publications_quarantine", "publication_links", "publications_table",
                "publications_summary", "match_review"),
        reads_publications=True,
        card=("publications", "attention"),
    ),
    Stage(
        "report",
        "05_report.ipynb",
        reads=("posts_coded", "account", "ingest_log", "reliability", "regression", "models", "growth"),
        optional_reads=("publications_summary", "campaigns"),  # publications (06 runs first); paid data if read
        writes=("report", "findings", "claims", "timing", "campaigns_summary", "privacy_review"),
        card=("*",),  # title, goals, interventions, the analysis settings it describes: everything
    ),
)
STAGE_NAMES = tuple(s.name for s in STAGES)
#: Card keys only the report reads (no other stage needs to re-run when they change).
CARD_KEYS_REPORT_ONLY = ("name", "title", "goals", "claims")


def open_run(dataset_dir: str | Path, run_dir: str | Path) -> tuple[Dataset, RunPaths]:
    """Load the dataset card and make the run folder; what every notebook calls first."""
    ds = load_dataset(dataset_dir)
    paths = RunPaths(Path(run_dir).resolve())
    check_run_owner(ds, paths, read_manifest(paths))
    for folder in (paths.data, paths.results, paths.figures):
        folder.mkdir(parents=True, exist_ok=True)
    return ds, paths


def check_run_owner(ds: Dataset, paths: RunPaths, manifest: Mapping[str, Any]) -> None:
    """Refuse a run folder that belongs to another dataset folder (InputError, exit 2).

    The manifest records the dataset folder a run folder was made for; two datasets with the same ``name:``
    (so the same default ``reports/<name>/``) must not mix their results.
    """
    owner = manifest.get("dataset") if isinstance(manifest, Mapping) else None
    if not isinstance(owner, Mapping) or not owner.get("folder"):
        return
    if str(owner.get("folder")) != str(ds.root):
        raise InputError(
            f"the run folder {paths.root} holds the results of dataset {owner.get('name')!r} from "
            f"{owner.get('folder')}, not of {ds.root}. Give this dataset its own run folder (--out, or another "
            "name: in its card), or delete the old run folder."
        )


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


def notebook_parameter_types(path: Path) -> dict[str, str]:
    """The declared type of each parameter of a notebook's ``parameters`` cell (``n_boot: int = 1000`` → int)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            return {node.target.id: ast.unparse(node.annotation) for node in ast.parse(source).body
                    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}
    return {}


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "tuple": lambda v: isinstance(v, (list, tuple)),
    "dict": lambda v: isinstance(v, dict),
    "None": lambda v: v is None,
}


def _matches_type(value: Any, annotation: str) -> bool | None:
    """Whether ``value`` fits a parameter annotation (``int``, ``float``, ``list[str]``, ``str | None`` …);
    None when the annotation is not one we can check."""
    results = []
    for part in (p.strip() for p in annotation.replace("Optional[", "None | ").rstrip("]").split("|")):
        base = part.split("[", 1)[0].strip()
        check = _TYPE_CHECKS.get(base)
        if check is None:
            return None
        results.append(check(value))
    return any(results)


def check_parameter_types(overrides: Mapping[str, Any], stages: Sequence[Stage] = STAGES) -> None:
    """InputError when an override does not fit the type its notebook declares (``-p n_boot=abc``)."""
    for stage in stages:
        types = notebook_parameter_types(stage.notebook_path)
        defaults = notebook_parameters(stage.notebook_path)
        for name, value in overrides.items():
            if name not in defaults:
                continue
            annotation = types.get(name) or type(defaults[name]).__name__
            ok = _matches_type(value, annotation)
            if ok is False:
                raise InputError(
                    f"parameter {name!r} must be {annotation} ({stage.notebook} declares {name}: {annotation} = "
                    f"{defaults[name]!r}), found {type(value).__name__} {value!r}"
                )


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
    check_parameter_types(overrides, stages)
    return {s: {k: v for k, v in overrides.items() if k in p} for s, p in known.items()}


# --------------------------------------------------------------------------------------------------------------
# hashing and the manifest


#: sha256 by (path, device, inode, size, mtime) while a run is in progress (see :func:`_remembered_hashes`):
#: a stage's products are hashed again as the next stages' inputs (posts_coded.parquet five times per run).
_HASHES: dict[tuple, str] | None = None


def hash_file(path: Path) -> str:
    key = None
    if _HASHES is not None:
        st = os.stat(path)
        key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in _HASHES:
            return _HASHES[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if key is not None:
        _HASHES[key] = h.hexdigest()
    return h.hexdigest()


@contextmanager
def _remembered_hashes() -> Iterator[None]:
    """Remember file hashes for one run: a file whose path, inode, size and modification time are unchanged
    since it was hashed in this run is not read again. Nothing is remembered across runs."""
    global _HASHES
    previous, _HASHES = _HASHES, {}
    try:
        yield
    finally:
        _HASHES = previous


def code_hash() -> str:
    """A hash of the workbench package's source and the data it ships (templates, CSS, the claims file): a change
    to any of them re-runs the stages. Notebooks are hashed per stage, caches never."""
    h = hashlib.sha256()
    shipped = ("*.py", "*.j2", "*.html", "*.css", "*.yml", "*.yaml")
    files = {p for pattern in shipped for p in PACKAGE_DIR.rglob(pattern) if "__pycache__" not in p.parts}
    for path in sorted(files):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def dataset_inputs(ds: Dataset) -> list[Path]:
    """Every dataset file ingest and coding read: exports, account files, coding files, codebook.

    The card itself is hashed by its parsed parts (:func:`card_parts`), per stage.
    """
    files = [*ds.post_files(), *(p for p, _ in ds.account_files()), *ds.campaign_files(), *ds.code_files()]
    cb = ds.codebook_path()
    if cb is not None and cb.exists():
        files.append(cb)
    seen: list[Path] = []
    for f in files:
        if f not in seen:
            seen.append(f)
    return seen


def _card_values(ds: Dataset) -> dict[str, Any]:
    """The validated card as plain values, by top-level key (``analysis`` by its own keys: ``analysis.outcomes``)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ds):
        if f.name == "root":
            continue
        value = getattr(ds, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for sub in dataclasses.fields(value):
                out[f"{f.name}.{sub.name}"] = getattr(value, sub.name)
        else:
            out[f.name] = value
    return out


def card_parts(stage: Stage, ds: Dataset) -> dict[str, str]:
    """``{"card:<key>": sha256}`` of the parts of the validated card the stage reads.

    The parsed values are hashed, not the file: a comment or a reordering re-runs nothing, a changed predictor
    re-runs the regression and the report, a changed title only the report. Keys no stage declares (a card
    key added later) count as read by every stage.
    """
    values = _card_values(ds)
    claimed = set(CARD_KEYS_REPORT_ONLY)
    for st in STAGES:
        claimed.update(k for k in st.card if k != "*")

    def is_claimed(key: str) -> bool:
        return key in claimed or key.split(".", 1)[0] in claimed

    if "*" in stage.card:
        keys = list(values)
    else:
        keys = [k for k in values if k in stage.card or k.split(".", 1)[0] in stage.card or not is_claimed(k)]
    out = {}
    for key in keys:
        text = json.dumps(dataclasses.asdict(values[key]) if dataclasses.is_dataclass(values[key]) else values[key],
                          default=_card_json, sort_keys=True, ensure_ascii=False)
        out[f"card:{key}"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return out


def _card_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def stage_inputs(stage: Stage, ds: Dataset, paths: RunPaths) -> dict[str, str]:
    """{label: sha256} of everything the stage reads: dataset files, the card's parts, upstream products."""
    out: dict[str, str] = card_parts(stage, ds)
    if stage.reads_dataset:
        for f in dataset_inputs(ds):
            out[f"dataset:{ds.relative(f)}"] = hash_file(f)
    if stage.reads_publications:
        for f in ds.publication_inputs():
            out[f"dataset:{ds.relative(f)}"] = hash_file(f)
    for attr in stage.reads:
        p: Path = getattr(paths, attr)
        out[f"run:{p.relative_to(paths.root).as_posix()}"] = hash_file(p) if p.exists() else "missing"
    for attr in stage.optional_reads:
        p = getattr(paths, attr)
        out[f"run:{p.relative_to(paths.root).as_posix()}"] = hash_file(p) if p.exists() else "absent"
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


def _failed_cell(out_nb: Path, cell_index: int | None) -> tuple[int | None, str]:
    """The failing cell's 1-based position in the stage's notebook (as JupyterLab counts, markdown included,
    without the parameters cell papermill injects) and its first line of source."""
    if cell_index is None:
        return None, ""
    try:
        cells = json.loads(out_nb.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return cell_index + 1, ""
    # papermill saves the failed notebook with two markdown cells added (a message on top, an anchor before the
    # failing cell); its cell_index counts the cells without them
    cells = [c for c in cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    position = cell_index + 1 - sum(1 for i in injected if i < cell_index)
    source = cells[cell_index].get("source", "") if 0 <= cell_index < len(cells) else ""
    source = "".join(source) if isinstance(source, list) else source
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return position, first[:100]


def _error_text(evalue: str, *, head: int = 4, tail: int = 4) -> str:
    """An error message whole when short; else its first and last lines with the count of those left out."""
    lines = [line.rstrip() for line in (evalue or "").strip().splitlines()]
    if len(lines) <= head + tail + 1:
        return "\n".join(lines)
    return "\n".join([*lines[:head], f"  … ({len(lines) - head - tail} more lines in the notebook) …", *lines[-tail:]])


#: Run in the shared kernel before each notebook but the first: the notebook starts from an empty namespace, as
#: in a kernel of its own (no variable another notebook left behind, its memory collected), with no figure
#: left open and in the notebooks' folder. The imported modules stay: that is the time saved. What survives the
#: collection (modules a notebook imported, their caches) is frozen like the warm-up's imports.
_RESET_NAMESPACE = """\
import os as _wb_os, sys as _wb_sys
_wb_os.chdir(%r)
if "matplotlib.pyplot" in _wb_sys.modules:
    _wb_sys.modules["matplotlib.pyplot"].close("all")
    _wb_sys.modules["matplotlib.pyplot"].uninstall_repl_displayhook()  # see _NO_REDRAW
del _wb_os, _wb_sys
get_ipython().run_line_magic("reset", "-f")
__import__("gc").collect()  # the previous notebook's frames are freed before the next one loads its own
__import__("workbench.pipeline", fromlist=["release_memory"]).release_memory()
__import__("gc").freeze()
"""


def release_memory() -> None:
    """Give the memory freed by collected frames back to the system: Arrow's allocator (mimalloc/jemalloc) and
    glibc's malloc keep freed pages for reuse, so a shared kernel would otherwise carry the previous stage's
    peak into the next (at 1M posts, 1.4 GB kept after a posts table was freed, 0.17 GB after this).
    :func:`workbench.io.give_back_memory` after a full collection (frames in reference cycles included)."""
    import gc

    from .io import give_back_memory

    gc.collect()
    give_back_memory()


#: Imported by a kernel before its first notebook (errors ignored: a notebook meets the same error in its own
#: cell). The imported objects are then frozen (``gc.freeze``): they live as long as the kernel, and a collection
#: that scans them (every notebook's reset, every full collection while a stage computes) costs 0.15-0.25 s each.
#: The warm-up leaves no name behind, so the first notebook needs no reset.
WARM_UP_MODULES = ("pandas", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "statsmodels.api", "matplotlib.pyplot",
                   "workbench.pipeline", "workbench.ingest", "workbench.features", "workbench.coding",
                   "workbench.models", "workbench.growth", "workbench.explore", "workbench.plots",
                   "workbench.results", "workbench.report", "workbench.findings", "workbench.attention",
                   "workbench.publications_stage")
#: What ingest and feature coding import: the first kernel of a run with a second kernel imports only these before
#: it runs ingest (statsmodels, scipy and matplotlib, ≈ 1.5 CPU-s, are imported by the second kernel meanwhile).
WARM_UP_INGEST = ("pandas", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "workbench.pipeline",
                  "workbench.ingest", "workbench.results", "workbench.features", "workbench.coding")
#: What a stage's notebook imports, when less than :data:`WARM_UP_MODULES`: a kernel that has imported these
#: runs the stage at once (feature coding on the kernel that ran ingest, while the other still imports the rest).
STAGE_MODULES = {"ingest": WARM_UP_INGEST, "features": WARM_UP_INGEST}

#: Batch kernels draw each figure once: pyplot's IPython hook draws every open figure after each cell (an
#: interactive window's refresh) although the inline backend renders it again for the notebook right after
#: (0.05-0.1 s per figure). The notebook's figures are the same; JupyterLab sessions keep the hook.
_NO_REDRAW = """\
if "matplotlib.pyplot" in __import__("sys").modules:
    __import__("matplotlib.pyplot").pyplot.uninstall_repl_displayhook()
"""


def _warm_up_code(modules: Sequence[str]) -> str:
    return (f"for _wb_module in {tuple(modules)!r}:\n"
            "    try:\n        __import__(_wb_module)\n    except Exception:\n        pass\n"
            "del _wb_module\n" + _NO_REDRAW + '__import__("gc").collect()\n__import__("gc").freeze()\n')


_WARM_UP = _warm_up_code(WARM_UP_MODULES)


#: Two kernels side by side on two cores run their linear algebra on one thread each: OpenBLAS' default (a thread
#: per core, per kernel) puts four busy threads on two cores, and its waiting threads spin (fig15 measured
#: analyze_attention at 0.1-2.6 s with them, 0.14 s without). A value the user set is kept.
SIDE_BY_SIDE_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _side_by_side_env() -> dict[str, str]:
    return {**os.environ, **{k: v for k, v in SIDE_BY_SIDE_ENV.items() if k not in os.environ}}


#: What every kernel imports to be a kernel (ipykernel and IPython, ≈ 0.15 CPU-s): a forked kernel has them.
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel")


#: Whether small runs fork their kernels from a zygote (:mod:`workbench.zygote`): Linux only (fork), and not
#: when ``WORKBENCH_ZYGOTE=0``.
def _zygote_wanted() -> bool:
    return sys.platform.startswith("linux") and os.environ.get("WORKBENCH_ZYGOTE", "1") != "0"


class ZygoteError(RuntimeError):
    """The zygote could not fork a kernel (it ended, or it refused): the kernel is started the usual way."""


class _Zygote:
    """The runner's side of :mod:`workbench.zygote`: one process per run that imports the analysis libraries once
    and forks kernels from them.

    Kernels are forked in the order their tickets were taken (:meth:`ticket`, called from the runner's thread when
    it launches a kernel), so the first kernel is forked as soon as the modules of ingest are imported, before the
    zygote goes on to import the models' libraries for the second."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        import subprocess

        read, write = os.pipe()
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "workbench.zygote", str(write)],
                                         stdin=subprocess.PIPE, pass_fds=(write,), text=True,
                                         cwd=str(notebooks_folder()), env=dict(env) if env is not None else None)
        finally:
            os.close(write)
        self._replies = os.fdopen(read, "r", encoding="utf-8")
        self._turn = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self.imported: set[str] = set()
        self.broken: str | None = None

    def ticket(self) -> int:
        with self._turn:
            self._next_ticket += 1
            return self._next_ticket - 1

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.broken:
            raise ZygoteError(self.broken)
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            line = self._replies.readline()
        except (OSError, ValueError) as exc:
            line, self.broken = "", f"{type(exc).__name__}: {exc}"
        if not line:
            self.broken = self.broken or f"the zygote ended (exit status {self.proc.poll()})"
            raise ZygoteError(self.broken)
        reply = json.loads(line)
        if reply.get("op") != message["op"]:  # out of step: no further request can be trusted
            self.broken = f"the zygote answered {reply!r} to {message['op']!r}"
            raise ZygoteError(self.broken)
        return reply

    def fork(self, ticket: int, modules: Sequence[str], argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> int:
        """When ``ticket``'s turn comes: import ``modules`` (those not yet imported), fork a kernel running ``argv``
        in ``cwd`` with ``env``, and return its pid. ZygoteError when the zygote cannot."""
        with self._turn:
            if not self._turn.wait_for(lambda: self._serving >= ticket, timeout=300):
                raise ZygoteError("timed out waiting for the zygote")
        try:
            missing = [m for m in modules if m not in self.imported]
            if missing:
                self._ask({"op": "import", "modules": missing})
                self.imported.update(missing)
            reply = self._ask({"op": "fork", "argv": list(argv), "cwd": cwd, "env": dict(env)})
            if "pid" not in reply:
                raise ZygoteError(str(reply.get("error") or "the zygote did not fork"))
            return int(reply["pid"])
        finally:
            self.skip(ticket)

    def skip(self, ticket: int) -> None:
        """Let the next ticket's turn come (its holder forked, or will not)."""
        with self._turn:
            self._serving = max(self._serving, ticket + 1)
            self._turn.notify_all()

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # the zygote ends at the end of its requests
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001 - stuck: killed
            self.proc.kill()
            self.proc.wait()
        self._replies.close()


class _ForkedProcess:
    """A kernel forked by the zygote, behind the part of subprocess.Popen that jupyter_client's provisioner uses.

    The zygote reaps its kernels as they end, so a pid that no longer exists is an ended kernel (its exit status
    is not known here: 1)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except (ProcessLookupError, PermissionError):  # gone (PermissionError: its pid reused by another user)
                self.returncode = 1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess

                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)


def _zygote_kernel_manager(zygote: _Zygote, ticket: int, modules: Sequence[str]) -> Any:
    """An AsyncKernelManager whose kernel is forked by ``zygote`` (with ``modules`` imported) instead of started:
    everything else (connection file, ports, environment, client, shutdown) is jupyter_client's."""
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ForkedProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            cwd = str(kwargs.get("cwd") or Path.cwd())
            env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
            self.process = _ForkedProcess(zygote.fork(ticket, modules, cmd, cwd, env))
            self.pid = self.pgid = self.process.pid  # the kernel leads its own process group (setsid)
            self.cwd = cwd
            return self.connection_info

    km = AsyncKernelManager(kernel_name=_kernel_name())
    km.kernel_id = str(uuid.uuid4())
    km.provisioner = ForkedProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    return km


def _connected_client(km: Any) -> Any:
    """The run's client of ``km``'s kernel (no stdin: a batch run answers no prompt), its channels started."""
    kc = km.client()
    kc.allow_stdin = False
    kc.start_channels()
    return kc


async def _until_ready(kc: Any, timeout: float) -> None:
    """Wait until the kernel answers ``kc``'s kernel_info request on the shell channel and the request's IOPub
    messages reach ``kc`` (then a cell's output cannot be lost to a subscription not yet made).

    What jupyter_client's ``wait_for_ready`` checks, without its last step, a 0.2 s wait for IOPub to fall
    silent (0.2 s of every notebook run's first cell in a kernel): the messages it drains belong to requests this
    client did not make, and nbclient ignores those (it reads only the replies to its own requests). While the
    IOPub subscription is still being made the kernel's "idle" is lost; the request is then sent again every
    50 ms, not after a second.
    """
    from queue import Empty

    from jupyter_client.utils import ensure_async

    deadline = time.monotonic() + timeout
    asked: set[str] = set()
    reply = None
    while True:
        msg_id = kc.kernel_info()
        asked.add(msg_id)
        if reply is None:
            try:
                got = await ensure_async(kc.get_shell_msg(timeout=1))
            except Empty:
                got = None
            if got is not None and got.get("parent_header", {}).get("msg_id") in asked:
                reply = got
        if reply is not None:
            # the kernel publishes "busy" and "idle" around every request: one of ours seen on IOPub proves the
            # subscription is made
            end = time.monotonic() + 0.05
            while (left := end - time.monotonic()) > 0:
                try:
                    msg = await ensure_async(kc.get_iopub_msg(timeout=left))
                except Empty:
                    break
                if msg.get("parent_header", {}).get("msg_id") in asked and msg.get("msg_type") == "status":
                    handle = getattr(kc, "_handle_kernel_info_reply", None)
                    if handle is not None:
                        handle(reply)  # the protocol version, as wait_for_ready records it
                    return
        if not await ensure_async(kc.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


class KernelSession:
    """One Python kernel shared by the stages of a run (DESIGN.md §8).

    Starting a kernel and importing pandas, statsmodels and matplotlib in it costs seconds; the stages pay it once.
    Each notebook is still executed by papermill (parameters injected, the executed copy saved in the run
    folder) but in this kernel, after :data:`_RESET_NAMESPACE` emptied the namespace the previous notebook
    left, and through one kernel client kept for the whole run (a new client waits ≥ 0.4 s for the kernel's
    replies before it may send a cell). The kernel starts on the first stage that runs (a no-op re-run starts
    none) and is restarted when it died; :meth:`close` shuts it down. A run may hold two sessions (independent
    stages side by side, see :func:`_run_stages`); every call to one session comes from one thread.
    """

    def __init__(self, warm_up: Sequence[str] = WARM_UP_MODULES) -> None:
        self.km: Any = None
        self.kc: Any = None  # the run's client (asyncio, this thread's event loop), made by the first prepare()
        self.notebooks_run = 0
        self.dirty = False  # the namespace holds names (a notebook's, a failed warm-up's): cleared before the next
        self._warm: threading.Thread | None = None
        self._abandon = threading.Event()  # set: a warm-up's thread stops waiting (the kernel died or is closed)
        self.warm_up = tuple(warm_up)  # the modules imported when the kernel starts
        self.imported: set[str] = set()  # the modules a warm-up has asked the kernel to import
        self.zygote: _Zygote | None = None  # the run's zygote, when its kernels are forked
        self._channels: Any = None  # the run's client, connected at launch, until prepare() checks it is ready
        self.env: Mapping[str, str] | None = None  # the kernel's environment (default: this process's)
        self.ticket: int | None = None  # this kernel's turn to be forked (taken in the runner's thread)

    def launch(self) -> None:
        """Start the kernel process without waiting for it (the caller imports papermill meanwhile): forked by the
        run's zygote when it has one and a turn was taken for this kernel (:attr:`ticket`), else started."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        if self.km is not None:
            if run_sync(self.km.is_alive)():
                return
            self.close()
        ticket, self.ticket = self.ticket, None
        env = {"env": dict(self.env)} if self.env is not None else {}
        km = None
        imported = set(self.warm_up)
        if self.zygote is not None and ticket is not None:
            try:
                km = _zygote_kernel_manager(self.zygote, ticket, (*KERNEL_MODULES, *self.warm_up))
                run_sync(km.start_kernel)(cwd=str(notebooks_folder()), extra_arguments=["--log-level=CRITICAL"],
                                          **env)
                imported |= self.zygote.imported
            except ZygoteError:
                try:
                    run_sync(km.cleanup_resources)()  # the connection file written for the fork
                except Exception:  # noqa: BLE001
                    pass
                km = None  # started the usual way below
            finally:
                self.zygote.skip(ticket)
        if km is None:
            km = AsyncKernelManager(kernel_name=_kernel_name())
            # the kernel's own log is noise on a batch run's console (see execute_stage)
            run_sync(km.start_kernel)(cwd=str(notebooks_folder()), extra_arguments=["--log-level=CRITICAL"], **env)
        self.km, self.kc, self.notebooks_run, self.dirty = km, None, 0, False
        self._abandon = threading.Event()
        # the run's client connects now: its IOPub subscription is made while the kernel warms up, not after
        try:
            self._channels = _connected_client(km)
        except Exception:  # noqa: BLE001 - prepare() makes one then
            self._channels = None
        # The kernel imports the heavy modules while this process goes on (card checks, papermill's import):
        # two processes on two cores. (A forked kernel has them already: the warm-up only freezes and sets up.)
        self.imported = imported
        self._warm = threading.Thread(target=self._warm_up, args=(_warm_up_code(self.warm_up),),
                                      name="workbench-kernel-warm-up", daemon=True)
        self._warm.start()

    def respawn(self, modules: Sequence[str] = WARM_UP_MODULES) -> None:
        """Replace the kernel with one forked by the zygote with ``modules`` imported (a turn must have been
        taken, :attr:`ticket`): instead of importing them into this kernel (≈ 1 CPU-s), a fork (≈ 0.1 s)."""
        self.close()
        self.warm_up = tuple(dict.fromkeys([*self.warm_up, *modules]))
        self.launch()

    def warm_more(self, modules: Sequence[str] = WARM_UP_MODULES) -> None:
        """Import ``modules`` in the kernel while it waits for its next notebook (the namespace the last notebook
        left is emptied first, so the freeze that follows keeps none of its data alive). Returns at once; the next
        :meth:`prepare` waits for it."""
        todo = [m for m in modules if m not in self.imported]
        if self._warm is not None and not self._warm.is_alive():
            self._warm = None
        if self.km is None or not todo or self._warm is not None:
            return
        code = (_RESET_NAMESPACE % str(notebooks_folder()) if self.dirty else "") + _warm_up_code(todo)
        self.imported.update(todo)
        self.dirty = False
        self._warm = threading.Thread(target=self._warm_up, args=(code,), name="workbench-kernel-warm-up",
                                      daemon=True)
        self._warm.start()

    def _warm_up(self, code: str) -> None:
        """Run ``code`` in the kernel through a client of this thread's own, waiting only for its reply.

        The request is sent at once, also while the kernel is still booting (ZeroMQ queues it until the kernel's
        shell socket is bound), and nothing waits for IOPub: jupyter_client's ``wait_for_ready`` polls the
        heartbeat every 0.2 s and then waits 0.2 s for IOPub to fall silent, 0.2-0.4 s of every kernel's start
        on the run's critical path. The output of the warm-up is not wanted; its reply says whether it worked.
        """
        from queue import Empty

        from jupyter_client.blocking import BlockingKernelClient

        kc = BlockingKernelClient()
        try:
            kc.load_connection_info(self.km.get_connection_info(session=False))
            kc.start_channels(iopub=False, stdin=False, hb=False, control=False)
            msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
            deadline = time.monotonic() + 300
            while not self._abandon.is_set():
                try:
                    reply = kc.get_shell_msg(timeout=0.25)
                except Empty:
                    if time.monotonic() > deadline:
                        break
                    continue
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    if reply.get("content", {}).get("status") != "ok":
                        self.dirty = True
                    return
            self.dirty = True  # no reply: the kernel died or hangs; the next prepare finds out which
        except Exception:  # noqa: BLE001 - a failed warm-up only costs time; the notebook reports real errors
            self.dirty = True
        finally:
            try:
                kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass

    def prepare(self, stage: Stage) -> tuple[Any, Any]:
        """The kernel manager and the run's client for the next notebook, the kernel ready and its namespace
        empty."""
        from jupyter_core.utils import run_sync

        self.launch()
        if self._warm is not None:
            while self._warm.is_alive():  # the warm-up's client would wait minutes for a kernel that died
                self._warm.join(0.25)
                if self._warm.is_alive() and not run_sync(self.km.is_alive)():
                    self._abandon.set()  # the warm-up's thread stops waiting for a reply that will not come
                    break
            self._warm = None
        if self.kc is None:
            kc, self._channels = self._channels, None
            if kc is None:
                kc = _connected_client(self.km)
            try:
                run_sync(_until_ready)(kc, 120)
            except BaseException:
                kc.stop_channels()
                raise
            self.kc = kc
        if self.dirty:
            reply = run_sync(self.kc.execute_interactive)(
                _RESET_NAMESPACE % str(notebooks_folder()), silent=True, store_history=False, allow_stdin=False,
                timeout=120, output_hook=lambda msg: None)
            content = reply.get("content", {}) if isinstance(reply, dict) else {}
            if content.get("status") != "ok":
                error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
                raise StageError(f"stage '{stage.name}' could not start: clearing the shared kernel failed "
                                 f"({error})", stage=stage.name, notebook=stage.notebook, error=error)
        self.notebooks_run += 1
        self.dirty = True
        return self.km, self.kc

    def clear(self) -> None:
        """Empty the namespace the last notebook left and give its memory back now, while the runner records the
        stage (an idle kernel then holds none of it); when this fails, the next :meth:`prepare` clears again."""
        from jupyter_core.utils import run_sync

        if self.km is None or self.kc is None or not self.dirty or self._warm is not None:
            return
        try:
            if not run_sync(self.km.is_alive)():
                return
            reply = run_sync(self.kc.execute_interactive)(
                _RESET_NAMESPACE % str(notebooks_folder()), silent=True, store_history=False, allow_stdin=False,
                timeout=120, output_hook=lambda msg: None)
        except Exception:  # noqa: BLE001 - a dead kernel: the next stage restarts it
            return
        if isinstance(reply, dict) and reply.get("content", {}).get("status") == "ok":
            self.dirty = False

    def close(self) -> None:
        from jupyter_core.utils import run_sync

        km, kc, self.km, self.kc = self.km, self.kc or self._channels, None, None
        self._channels = None
        self._abandon.set()
        if self._warm is not None:
            self._warm.join(timeout=1)  # a daemon thread: one waiting on a killed kernel is left behind
            self._warm = None
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass
        if km is not None:
            # killed and reaped here: jupyter_client's shutdown(now=True) kills too, then polls every 0.1 s until
            # the process is gone (0.1-0.2 s at the end of every run); it then finds it gone and cleans up
            process = getattr(getattr(km, "provisioner", None), "process", None)
            if process is not None:
                try:
                    process.kill()
                    process.wait(timeout=5)
                except Exception:  # noqa: BLE001 - gone already, or stuck: shutdown_kernel below deals with it
                    pass
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - a kernel that is already gone is fine
                pass

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The papermill engine of a shared kernel (registered by :func:`_shared_kernel_engine`).
ENGINE_NAME = "workbench-shared-kernel"


@functools.cache
def _shared_kernel_engine() -> str:
    """Register, once, the papermill engine that runs a notebook in a :class:`KernelSession` and return its name.

    papermill's own engine, with two differences: the notebook is executed through the session's client (given
    as ``kc``) instead of a new one per notebook, and the executed notebook is written when execution starts,
    every ``autosave_cell_every`` seconds while it runs and when it ends (also when a cell failed or the kernel
    died), not before and after every cell (≈ 200 schema-validated writes for the six notebooks). Parameter
    injection, the cells' papermill metadata and the saved notebook's format are papermill's.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class Manager(NotebookExecutionManager):
        _per_cell = False

        def save(self, **kwargs: Any) -> None:
            if not self._per_cell:
                super().save(**kwargs)

        def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            self._per_cell = True
            try:
                super().cell_start(cell, cell_index, **kwargs)
            finally:
                self._per_cell = False
            self.autosave_cell()

        def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            self._per_cell = True
            try:
                super().cell_complete(cell, cell_index, **kwargs)
            finally:
                self._per_cell = False
            self.autosave_cell()

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                             progress_bar: bool = True, log_output: bool = False, autosave_cell_every: int = 30,
                             **kwargs: Any) -> Any:
            nb_man = Manager(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                             autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                     execution_timeout: int | None = None, kc: Any = None, **kwargs: Any) -> Any:
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout, kernel_name=kernel_name, log=logger, log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **final_kwargs)
            client.kc = kc  # connected and ready: nbclient makes no client of its own (and closes none)
            return client.execute()

    papermill_engines.register(ENGINE_NAME, Engine)
    return ENGINE_NAME


def execute_stage(stage: Stage, *, ds: Dataset, paths: RunPaths, parameters: Mapping[str, Any],
                  kernel: KernelSession | None = None) -> None:
    """Execute one notebook into the run folder; raise StageError naming stage, cell and error.

    With ``kernel`` the notebook runs in that shared kernel (its namespace emptied first); without, in a
    kernel of its own that papermill starts and stops.
    """
    shared: dict[str, Any] = {}
    if kernel is not None:
        try:
            kernel.launch()  # the kernel boots while this process imports papermill
        except Exception as exc:  # noqa: BLE001
            raise StageError(f"stage '{stage.name}' could not start a kernel: {type(exc).__name__}: {exc}",
                             stage=stage.name, notebook=stage.notebook,
                             error=f"{type(exc).__name__}: {exc}") from None
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if kernel is not None:
        try:
            km, kc = kernel.prepare(stage)
        except StageError:
            raise
        except Exception as exc:  # noqa: BLE001 - kernel died while starting, timed out, ...
            kernel.close()
            raise StageError(f"stage '{stage.name}' could not start a kernel: {type(exc).__name__}: {exc}",
                             stage=stage.name, notebook=stage.notebook,
                             error=f"{type(exc).__name__}: {exc}") from None
        shared = {"km": km, "kc": kc, "engine_name": _shared_kernel_engine()}
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
            # a shared kernel already runs in the notebooks' folder (and papermill's cwd is a chdir of this whole
            # process, which two kernels' threads must not race on)
            cwd=None if kernel is not None else str(stage.notebook_path.parent),
            # The kernel's own log is noise on a batch run's console: start-up warnings ("running over TCP
            # without encryption"), and "KeyboardInterrupt caught in kernel" logged at ERROR when the kernel
            # is shut down. A cell's error reaches us through the notebook, not this log.
            extra_arguments=["--log-level=CRITICAL"],
            **shared,
        )
    except PapermillExecutionError as exc:
        cell, first_line = _failed_cell(out_nb, getattr(exc, "cell_index", None))
        where = f"cell {cell}" if cell is not None else f"execution count {exc.exec_count}"
        text = _error_text(exc.evalue or "")
        error = f"{exc.ename}: {text}" if text else exc.ename
        raise StageError(
            f"stage '{stage.name}' failed in {where} of {stage.notebook}"
            + (f" ({first_line})" if first_line else "")
            + f": {error}\nThe partial notebook is kept at {out_nb}",
            stage=stage.name, cell=cell, notebook=stage.notebook, error=error,
        ) from None
    except OSError as exc:
        raise StageError(f"stage '{stage.name}' could not write {out_nb}: {exc.strerror or exc}",
                         stage=stage.name, notebook=stage.notebook, error=f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # kernel died, notebook unreadable, ...  # noqa: BLE001
        if kernel is not None:
            kernel.close()
        raise StageError(f"stage '{stage.name}' could not run {stage.notebook}: {type(exc).__name__}: {exc}",
                         stage=stage.name, notebook=stage.notebook,
                         error=f"{type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------------------------------------------
# the run folder: ownership, one writer, status


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _save_manifest(paths: RunPaths, manifest: Mapping[str, Any]) -> None:
    """Write manifest.json; a full disk or a folder turned read-only is a StageError (exit 1) naming the file."""
    try:
        write_json(paths.manifest, manifest)
    except OSError as exc:
        raise StageError(f"cannot write {paths.manifest} ({exc.strerror or exc}). The stages' products written so "
                         "far are kept; free space (or fix the folder's permissions) and run again.") from None


def _prepare_run_folder(paths: RunPaths) -> None:
    """Create the run folder and check it is writable: InputError (exit 2) naming it otherwise."""
    try:
        paths.root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=paths.root)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write to the run folder {paths.root} ({exc.strerror or exc}); give a writable "
                         "folder with --out") from None


@contextmanager
def run_lock(paths: RunPaths) -> Iterator[None]:
    """Hold ``.workbench.lock`` in the run folder: a second run on the same folder is refused (InputError)
    instead of interleaving its writes. The lock is an OS lock (flock): released when the process ends, even
    when it is killed, so a stale lock file never blocks anyone."""
    import fcntl

    lock_path = paths.root / ".workbench.lock"
    try:
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise InputError(f"cannot write to the run folder {paths.root} ({exc.strerror or exc}); give a writable "
                         "folder with --out") from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip()
            raise InputError(f"another workbench run is writing {paths.root}"
                             + (f" ({holder})" if holder else "") + "; wait for it to finish") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {_now()}\n")
        fh.flush()
        yield
    finally:
        fh.close()


#: results/run_status.json: what the last run did, and every stage whose last attempt failed (kept until it runs).
RUN_STATUS_SCHEMA = 1


def run_status_path(paths: RunPaths) -> Path:
    return paths.results / "run_status.json"


def read_run_status(paths: RunPaths) -> dict[str, Any]:
    """The run status record of a run folder (``{}`` when there is none or it is unreadable)."""
    try:
        data = json.loads(run_status_path(paths).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_run_status(paths: RunPaths, ds: Dataset, manifest: Mapping[str, Any], outcomes: Sequence[StageOutcome],
                      *, started: str, status: str) -> None:
    record = {
        "schema_version": RUN_STATUS_SCHEMA,
        "dataset": {"name": ds.name, "folder": str(ds.root)},
        "started_at": started,
        "finished_at": None if status == "running" else _now(),
        "status": status,
        "stages": [dataclasses.asdict(o) for o in outcomes],
        "failed_stages": dict(manifest.get("failed_stages", {})),
    }
    try:
        write_json(run_status_path(paths), record)
    except OSError:
        pass  # the manifest carries the same failure record; its own write reports a full disk


# --------------------------------------------------------------------------------------------------------------
# checks that need the ingested data (run right after ingest, before any later stage)


def _ingest_facts(paths: RunPaths) -> dict[str, Any]:
    """What ingest wrote for the runner's checks into ingest_log.json (``date_range``, ``manual_codes``); {} when
    the log is missing or older than these keys (the checks then read the parquet files)."""
    try:
        log = json.loads((paths.results / "ingest_log.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return log if isinstance(log, dict) and "date_range" in log and "manual_codes" in log else {}


def _date_range(paths: RunPaths, facts: Mapping[str, Any] | None = None) -> tuple[dt.date, dt.date] | None:
    """First and last date of the ingested posts and account rows (UTC dates), or None without data. ``facts``:
    :func:`_ingest_facts` when the caller has read them."""
    facts = (_ingest_facts(paths) if facts is None else facts).get("date_range")
    if isinstance(facts, dict):
        try:
            spans = [(dt.date.fromisoformat(v[0]), dt.date.fromisoformat(v[1])) for v in facts.values() if v]
        except (TypeError, ValueError, IndexError):
            spans = None
        if spans is not None:
            return (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    lows, highs = [], []
    for path, column in ((paths.posts, "published_at"), (paths.account, "date")):
        span = _parquet_min_max(path, column)
        if span is not None:
            lows.append(span[0])
            highs.append(span[1])
            continue
        try:
            col = pq.read_table(path, columns=[column]).column(column)
        except (OSError, KeyError, ValueError, ImportError):
            continue
        if len(col) == 0 or col.null_count == len(col):
            continue
        mm = pc.min_max(col)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        lows.append(lo.date() if isinstance(lo, dt.datetime) else lo)
        highs.append(hi.date() if isinstance(hi, dt.datetime) else hi)
    return (min(lows), max(highs)) if lows else None


def _parquet_min_max(path: Path, column: str) -> tuple[dt.date, dt.date] | None:
    """The first and last date of a timestamp column from the parquet file's row-group statistics (nothing of the
    data read: at 1M posts the column itself costs the CLI ~35 MB it keeps); None when a row group has no
    statistics or holds only nulls (the caller reads the column)."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        j = pf.schema_arrow.get_field_index(column)
        if j < 0 or pf.metadata.num_row_groups == 0:
            return None
        stats = [pf.metadata.row_group(i).column(j).statistics for i in range(pf.metadata.num_row_groups)]
    except (OSError, ValueError, ImportError):
        return None
    if any(st is None or not st.has_min_max for st in stats):
        return None
    try:
        lo, hi = min(st.min for st in stats), max(st.max for st in stats)
    except TypeError:
        return None
    out = [v.date() if isinstance(v, dt.datetime) else v for v in (lo, hi)]
    return (out[0], out[1]) if all(type(v) is dt.date for v in out) else None


def check_ingested(ds: Dataset, paths: RunPaths, deferred: Sequence[str] = ()) -> None:
    """Card checks that need the data, run as soon as ingest's products exist (InputError, exit 2).

    An intervention on or before the first date of the data, or after its last, is refused with the range
    the data covers (no period before/after it to compare). Predictors or controls that only a coding file
    could provide (``deferred`` by :func:`workbench.dataset.check_card_vocabulary`) must be codes found there.
    """
    facts = _ingest_facts(paths)  # read once for both checks
    span = _date_range(paths, facts)
    if span is not None:
        first, last = span
        for i, iv in enumerate(ds.interventions):
            where = "before" if iv.date <= first else "after" if iv.date > last else ""
            if where:
                raise DatasetCardError(
                    f"interventions[{i}] ({iv.label!r}) is dated {iv.date}, {where} the data, which covers {first} to "
                    f"{last} (posts and account rows). A change can only be tested inside that range: correct "
                    "the date or add the exports that cover it.", file=ds.card_path)
    if deferred:
        codes = facts.get("manual_codes")
        if not isinstance(codes, list):
            import pyarrow.parquet as pq

            try:
                codes = pq.read_table(paths.codes, columns=["code"]).column("code").drop_null().to_pylist()
            except (OSError, KeyError, ValueError):
                codes = []
        check_card_vocabulary(ds, manual_codes=tuple(sorted(set(map(str, codes)))))


# --------------------------------------------------------------------------------------------------------------


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

    Everything that can be checked without data is checked before any kernel starts (the card, its names
    against the workbench's vocabulary, the parameters and their types, the run folder); the checks that need
    the data run right after ingest. A stage that fails is recorded (stage, cell, time, message) in
    ``manifest.json`` under ``failed_stages`` and in ``results/run_status.json`` until it runs successfully.

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
    ds.post_files()  # fail early (exit 2) when a glob matches nothing or leaves the dataset folder
    ds.account_files()
    ds.code_files()
    ds.codebook_path()
    ds.publication_inputs()  # the same for the publications and attention globs
    paths = RunPaths(Path(out).resolve() if out else default_run_dir(ds))
    manifest = read_manifest(paths)
    check_run_owner(ds, paths, manifest)
    _prepare_run_folder(paths)
    with run_lock(paths), _remembered_hashes():
        if executor is not execute_stage:
            return _run_stages(ds, paths, manifest, overrides, only=only, force=force, echo=echo,
                               workers=[_Worker(run=executor)])
        # kernels start on the first stage that runs (a no-op re-run starts none); the second one only when
        # independent stages will run on a dataset small enough to hold twice (see _kernels_for)
        workers = [_Worker(session=KernelSession()), _Worker(session=KernelSession())]
        try:
            return _run_stages(ds, paths, manifest, overrides, only=only, force=force, echo=echo, workers=workers)
        except BaseException:
            _stop_running(workers)  # Ctrl-C: a notebook still running in a kernel's thread must not be waited for
            raise
        finally:
            _close_workers(workers)


#: Independent stages (regression, growth, publications: none reads what another writes) run side by side in two
#: kernels when the dataset's input files total at most this: each kernel then holds its own copy of the coded
#: posts. Above it (≈ 150,000 X posts) the stages run one at a time in one kernel, memory being the limit there.
PARALLEL_MAX_INPUT_BYTES = 64 * 1024 * 1024


def stage_dependencies(stages: Sequence[Stage] | None = None) -> dict[str, frozenset[str]]:
    """For each stage (default :data:`STAGES`), every earlier stage it depends on, directly or through another
    (it reads a product of theirs, optional reads included)."""
    stages = STAGES if stages is None else stages
    out: dict[str, frozenset[str]] = {}
    for i, stage in enumerate(stages):
        needs = set(stage.reads) | set(stage.optional_reads)
        direct = {e.name for e in stages[:i] if needs & (set(e.writes) | set(e.optional_writes))}
        out[stage.name] = frozenset(direct.union(*(out[d] for d in direct)))
    return out


def _input_bytes(ds: Dataset) -> int | None:
    """The size of the dataset's input files (exports, coding files, publication lists), None if unreadable."""
    try:
        return sum(f.stat().st_size for f in {*dataset_inputs(ds), *ds.publication_inputs()})
    except OSError:
        return None


def _kernels_for(ds: Dataset, to_run: Sequence[Stage]) -> int:
    """How many kernels a run whose stages ``to_run`` (in order) may run: two when two of them are independent
    of each other, the machine has two cores and the dataset is small (:data:`PARALLEL_MAX_INPUT_BYTES`)."""
    deps = stage_dependencies()
    names = [s.name for s in to_run]
    independent = any(b not in deps[a] and a not in deps[b] for i, a in enumerate(names) for b in names[i + 1:])
    if not independent or (os.cpu_count() or 1) < 2:
        return 1
    size = _input_bytes(ds)
    return 2 if size is not None and size <= PARALLEL_MAX_INPUT_BYTES else 1


def _first_warm_up(ds: Dataset, first: Stage, kernels: int) -> tuple[str, ...]:
    """What the first kernel imports before its first notebook: everything (it boots while the CLI checks the
    card), except before ingest or feature coding when a second kernel imports the rest meanwhile, or when the
    dataset is large: there a notebook imports what it uses when it runs, so ingest's and feature coding's peaks
    do not carry statsmodels, scipy and matplotlib (≈ 145 MB)."""
    if first.name not in ("ingest", "features"):
        return WARM_UP_MODULES
    size = _input_bytes(ds)
    large = size is None or size > PARALLEL_MAX_INPUT_BYTES
    return WARM_UP_INGEST if kernels > 1 or large else WARM_UP_MODULES


class _Worker:
    """Where a stage runs: a kernel session with a thread of its own (every call to a session is made from that
    thread: its client lives on the thread's event loop), or, for tests, a plain executor called inline."""

    def __init__(self, *, session: KernelSession | None = None, run: Callable[..., None] | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.session = session
        self.run = run if run is not None else functools.partial(_execute_in, session)
        self.busy = False
        self.started = session is None  # a kernel's worker is used once its kernel is launched
        self._thread = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-kernel")
                        if session is not None else None)

    @property
    def warm(self) -> bool:
        """Whether the kernel has imported every module of :data:`WARM_UP_MODULES` (or is still importing them)."""
        return self.importing(WARM_UP_MODULES)

    def importing(self, modules: Sequence[str]) -> bool:
        """Whether the kernel has imported ``modules`` or is importing them."""
        return self.session is None or set(modules) <= self.session.imported

    def has(self, modules: Sequence[str]) -> bool:
        """Whether the kernel has imported ``modules`` and is not importing anything any more."""
        warming = self.session is not None and self.session._warm is not None and self.session._warm.is_alive()
        return self.importing(modules) and not warming

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from concurrent.futures import Future

        if self._thread is not None:
            return self._thread.submit(fn, *args, **kwargs)
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future, as from a thread
            future.set_exception(exc)
        return future

    def launch(self, warm_up: Sequence[str]) -> None:
        if self.session is not None and not self.started:
            self.session.warm_up = tuple(warm_up)
            self.session.imported = set(warm_up)  # what it will import: the scheduler reads it from now on
            if getattr(self.session, "zygote", None) is not None:
                self.session.ticket = self.session.zygote.ticket()  # forked in the order launched
            self.submit(self.session.launch)  # errors show when its first stage runs (execute_stage launches again)
            self.started = True

    def make_ready(self, modules: Sequence[str]) -> None:
        """Have the kernel hold ``modules`` before its next stage: a kernel forked anew by the zygote (which has
        them, or imports them once for every kernel), else an import in this kernel. The stage's prepare waits."""
        session = self.session
        if session is None or self.importing(modules) or getattr(session, "ticket", None) is not None:
            return  # (a fork is already on its way: its modules are the ones asked for when it was launched)
        zygote = getattr(session, "zygote", None)
        if zygote is not None and not zygote.broken:
            session.ticket = zygote.ticket()
            session.imported.update(modules)  # what the new kernel will hold (the scheduler reads it now)
            self.submit(session.respawn, modules)
        else:
            self.submit(session.warm_more, modules)


def _execute_in(session: KernelSession, stage: Stage, **kwargs: Any) -> None:
    execute_stage(stage, kernel=session, **kwargs)


def _stop_running(workers: Sequence[_Worker]) -> None:
    """Start nothing more and kill the kernel of every worker still running a stage (its thread then ends with a
    StageError): the run is being abandoned (interrupted) and must not wait for a notebook to finish."""
    for w in workers:
        if w._thread is not None:
            w._thread.shutdown(wait=False, cancel_futures=True)
        km = getattr(w.session, "km", None)
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if w.busy and process is not None:
            try:
                process.kill()
            except OSError:
                pass


def _start_zygote(env: Mapping[str, str] | None = None) -> _Zygote | None:
    """The run's zygote (:mod:`workbench.zygote`) where kernels can be forked, else None (kernels are started)."""
    if not _zygote_wanted():
        return None
    try:
        return _Zygote(env)
    except OSError:
        return None


def _close_workers(workers: Sequence[_Worker]) -> None:
    """Shut the kernels down, side by side (each from its thread; after an interruption, from this one), then
    the zygote they were forked from."""
    zygotes = {id(z): z for w in workers if (z := getattr(w.session, "zygote", None)) is not None}
    for w in workers:
        if w._thread is not None:
            try:
                w._thread.submit(w.session.close)
            except RuntimeError:  # stopped by _stop_running: closed below
                pass
    for w in workers:
        if w._thread is not None:
            w._thread.shutdown(wait=True)
            if w.session.km is not None:
                w.session.close()
    for zygote in zygotes.values():
        zygote.close()


def _run_stages(ds: Dataset, paths: RunPaths, manifest: dict[str, Any], overrides: Mapping[str, dict], *,
                only: Sequence[str] | None, force: bool, echo: Callable[[str], None],
                workers: Sequence[_Worker]) -> list[StageOutcome]:
    """Run the selected stages in their order, each as soon as the stages it depends on have finished and a
    worker is free: with one worker, one after the other; with two kernels, independent stages side by side.

    Everything about the manifest, the run status and the console happens in this thread."""
    from concurrent.futures import FIRST_COMPLETED, wait

    started = _now()
    manifest["dataset"] = {"name": ds.name, "folder": str(ds.root)}  # claimed before anything runs
    failures: dict[str, Any] = manifest.setdefault("failed_stages", {})
    if not isinstance(failures, dict):
        failures = manifest["failed_stages"] = {}
    _save_manifest(paths, manifest)
    version, code = __version__, code_hash()
    versions: dict[str, str] | None = None  # read once, when the first stage has run
    outcomes: list[StageOutcome] = []
    selected = [s for s in STAGES if not only or s.name in only]
    position = {s.name: i for i, s in enumerate(selected, 1)}
    for name, f in failures.items():
        if name not in position and isinstance(f, dict):
            echo(f"note: stage '{name}' failed at {f.get('at')} ({f.get('error') or f.get('message', '')}"
                 .splitlines()[0] + "); later stages use what it left from an earlier run")
    deps = stage_dependencies()
    # The names the card uses are checked before the first kernel starts, and only when one will: a no-op
    # re-run must stay fast, and an unchanged card was checked when its stages last ran.
    deferred: list[str] | None = None
    data_checked = False
    pending = list(selected)
    finished: set[str] = set()  # ran or up to date in this run
    running: dict[Any, tuple[Stage, _Worker, float, dict[str, str], Any, str]] = {}
    failed: BaseException | None = None

    def label(stage: Stage) -> str:
        return f"[{position[stage.name]}/{len(selected)}] {stage.name:<11}"

    def pick(stage: Stage) -> _Worker | None:
        free = [w for w in workers if w.started and not w.busy]
        if not free:
            return None
        # ingest: the first kernel (warmed for it); later stages: a kernel that has imported what the stage uses,
        # else one importing it, else any (which imports it first, see below)
        if stage.name == "ingest":
            return free[0]
        needs = STAGE_MODULES.get(stage.name, WARM_UP_MODULES)
        return next((w for w in free if w.has(needs)), next((w for w in free if w.importing(needs)), free[0]))

    # Of the stages that may start, the longest first (as long as it took last time; the stage order when
    # unknown): with two kernels and three independent stages, the longest one on the kernel that is ready and
    # the others after it, rather than the longest last (LPT, longest processing time first).
    took = {name: float(rec.get("seconds") or 0.0) for name, rec in manifest["stages"].items()
            if isinstance(rec, dict) and isinstance(rec.get("seconds"), int | float)}

    def in_order() -> list[Stage]:
        def waiting(stage: Stage) -> bool:
            return any(d in position and d not in finished for d in deps[stage.name])

        return sorted(pending, key=lambda s: (waiting(s), -took.get(s.name, 0.0), position[s.name]))

    while pending or running:
        progressed = True
        while progressed and failed is None:
            progressed = False
            for stage in in_order():
                if any(d in position and d not in finished for d in deps[stage.name]):
                    continue
                nb_hash = hash_file(stage.notebook_path)
                params = _jsonable(overrides.get(stage.name, {}))
                inputs = stage_inputs(stage, ds, paths)
                missing = [k for k, v in inputs.items() if v == "missing"]
                if missing:
                    msg = (
                        f"stage '{stage.name}' needs {', '.join(m.removeprefix('run:') for m in missing)} "
                        f"in {paths.root}; run the earlier stages first (drop --only)"
                    )
                    echo(f"{label(stage)} failed: {msg}")
                    outcomes.append(StageOutcome(stage.name, "failed", 0.0, msg))
                    pending.remove(stage)
                    failed = StageError(msg, stage=stage.name)
                    break
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
                    echo(f"{label(stage)} up to date")
                    outcomes.append(StageOutcome(stage.name, "up to date", 0.0))
                    pending.remove(stage)
                    finished.add(stage.name)
                    progressed = True
                    break  # a stage that depends on this one may now be ready: look again from the first
                if deferred is None:
                    # a stage will run: start the kernels now, they boot while the card is checked
                    n = _kernels_for(ds, pending)
                    kernels = [w.session for w in workers[:n] if isinstance(w.session, KernelSession)]
                    env = _side_by_side_env() if n > 1 else None
                    zygote = _start_zygote(env) if n > 1 and len(kernels) > 1 else None
                    for k, w in enumerate(workers[:n]):
                        if isinstance(w.session, KernelSession):
                            w.session.zygote, w.session.env = zygote, env
                        w.launch(_first_warm_up(ds, stage, n) if k == 0 else WARM_UP_MODULES)
                    if kernels:
                        _shared_kernel_engine()  # papermill's import (0.3 CPU-s) while the kernels start
                    deferred = check_card_vocabulary(ds)
                worker = pick(stage)
                if worker is None:
                    break  # every kernel is busy: wait for one
                if stage.name != "ingest" and not data_checked and paths.posts.exists():
                    check_ingested(ds, paths, deferred)
                    data_checked = True
                # Forget the stage before running it: a crash mid-stage must not leave it looking up to date.
                manifest["stages"].pop(stage.name, None)
                _save_manifest(paths, manifest)
                _write_run_status(paths, ds, manifest, outcomes, started=started, status="running")
                worker.busy = True
                worker.make_ready(STAGE_MODULES.get(stage.name, WARM_UP_MODULES))  # its prepare waits for it
                future = worker.submit(worker.run, stage, ds=ds, paths=paths, parameters=overrides.get(stage.name, {}))
                if worker.session is not None:
                    worker.submit(worker.session.clear)  # after the stage, while this thread records it
                running[future] = (stage, worker, time.perf_counter(), inputs, params, nb_hash)
                pending.remove(stage)
                progressed = True
                break
            # a kernel with nothing to run gets what later stages need meanwhile
            for w in workers:
                if w.started and not w.busy and not w.warm and w.session is not None and (running or pending):
                    w.make_ready(WARM_UP_MODULES)
        if not running:
            break
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: position[running[f][0].name]):
            stage, worker, t0, inputs, params, nb_hash = running.pop(future)
            worker.busy = False
            seconds = time.perf_counter() - t0
            exc = future.exception()
            if isinstance(exc, StageError):
                echo(f"{label(stage)} failed after {seconds:.1f} s")
                outcomes.append(StageOutcome(stage.name, "failed", seconds, str(exc)))
                failures[stage.name] = {
                    "stage": stage.name, "notebook": stage.notebook, "cell": exc.cell, "error": exc.error,
                    "message": str(exc), "at": _now(), "seconds": round(seconds, 3),
                }
                _save_manifest(paths, manifest)
                failed = failed or exc
                continue
            if exc is not None:
                failed = failed or exc
                continue
            failures.pop(stage.name, None)
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
                "finished_at": _now(),
            }
            versions = versions or library_versions()
            manifest["versions"] = versions  # Python and the analysis libraries behind the numbers
            _save_manifest(paths, manifest)
            echo(f"{label(stage)} ran in {seconds:.1f} s")
            outcomes.append(StageOutcome(stage.name, "ran", seconds))
            finished.add(stage.name)
            if stage.name == "ingest" and failed is None:
                try:
                    check_ingested(ds, paths, deferred or ())
                except BaseException as err:  # noqa: BLE001 - raised once the stages still running finished
                    failed = err
                data_checked = True
    outcomes.sort(key=lambda o: position[o.name])
    if failed is not None:
        if isinstance(failed, StageError):
            _write_run_status(paths, ds, manifest, outcomes, started=started, status="failed")
        raise failed
    _write_run_status(paths, ds, manifest, outcomes, started=started, status="failed" if failures else "ok")
    return outcomes
