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
def ropensci_dir(shared_fixtures: Path) -> Path:
    path = shared_fixtures / "real" / "ropensci"
    if not path.is_dir():
        pytest.skip(f"rOpenSci dataset not found at {path}")
    return path
