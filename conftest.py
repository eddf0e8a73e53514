"""Repository-level pytest configuration.

The notebooks (collected by nbval with ``--nbval-lax``) hand data to each other through the run folder, so they
must run in order on one worker: put them in one xdist group.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group("notebooks"))
