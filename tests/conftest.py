"""Shared test fixtures: paths to the real exports in ../shared/fixtures (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
EXAMPLE = REPO / "data" / "example"


@pytest.fixture
def shared_fixtures() -> Path:
    """The folder of real export files; the test is skipped when it is not beside the repo."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real fixtures not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A dataset folder with one tiny posts file and a card naming it (the runner's tests)."""
    import yaml

    folder = tmp_path / "ds"
    (folder / "raw").mkdir(parents=True)
    (folder / "raw" / "posts.csv").write_text("a,b\n1,2\n")
    (folder / "dataset.yml").write_text(yaml.safe_dump({"name": "demo", "posts": ["raw/*.csv"]}))
    return folder


@pytest.fixture
def ropensci_dir(shared_fixtures: Path) -> Path:
    path = shared_fixtures / "real" / "ropensci"
    if not path.is_dir():
        pytest.skip(f"rOpenSci dataset not found at {path}")
    return path


def code_example(run: Path):
    """The example dataset ingested and coded into the run folder ``run`` as stages 01 and 02 do (reliability
    from 20 bootstrap resamples); returns ``(ds, paths, account, coded)``."""
    from workbench import coding, features, ingest, pipeline, results

    ds, paths = pipeline.open_run(EXAMPLE, run)
    settings = results.coding_settings(ds)
    result = ingest.read_exports(ds, binary_codes=settings["binary_codes"])
    ingest.write_ingest_outputs(result, data_dir=paths.data, results_dir=paths.results)
    posts, account, codes = results.load_ingested(paths)
    auto = features.code_features(posts, account=account, timezone=ds.timezone,
                                  research_domains=settings["research_domains"])
    coded, info = coding.merge_codes(auto, codes, codebook=settings["codebook"])
    reliability = coding.compute_reliability(codes, n_boot=20, seed=1, codebook=settings["codebook"])
    results.save_coding(paths, posts_coded=coded, coding_info=info, reliability=reliability)
    return ds, paths, account, coded
