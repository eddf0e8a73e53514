"""compare_growth runs its products on one BLAS thread (issue 14): the same growth.json as with OpenBLAS' own
threads, on the example and on a million posts (where the threaded products split their work)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import code_example

from workbench import growth, io, results


@pytest.fixture(scope="module")
def example_tables(tmp_path_factory):
    ds, _, account, coded = code_example(tmp_path_factory.mktemp("growth_threads"))
    kwargs = results.growth_settings(ds)
    kwargs["month_of_previous"] = growth.month_of_previous_sources(ds)
    return account, coded, kwargs


def _threaded(account, posts, kwargs) -> dict:
    """compare_growth's body with whatever BLAS threads the process has (what it ran before)."""
    kw = dict(kwargs)
    return growth._compare_growth(account, interventions=kw.pop("interventions"), posts=posts, alpha=0.05,
                                  **{k: kw[k] for k in ("metric", "monthly_metric", "maxlags", "equivalence_margin",
                                                        "month_of_previous")})


def _json(result: dict) -> str:
    return json.dumps(io._clean_floats(result), default=io._json_default)


def _replicated(posts: pd.DataFrame, k: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    big = pd.concat([posts] * k, ignore_index=True)
    big["impressions"] = (big["impressions"].astype("float64") * rng.uniform(0.5, 1.5, len(big))).round().astype("Int64")
    big["published_at"] = big["published_at"] + pd.to_timedelta(rng.integers(0, 3600, len(big)), unit="s")
    return big


def test_one_blas_thread_gives_the_threaded_result_on_the_example(example_tables):
    account, posts, kwargs = example_tables
    assert _json(growth.compare_growth(account, posts=posts, **kwargs)) == _json(_threaded(account, posts, kwargs))


@pytest.mark.slow
def test_one_blas_thread_gives_the_threaded_result_on_a_million_posts(example_tables):
    account, posts, kwargs = example_tables
    big = _replicated(posts, -(-1_000_000 // len(posts)))
    assert len(big) >= 1_000_000
    assert _json(growth.compare_growth(account, posts=big, **kwargs)) == _json(_threaded(account, big, kwargs))
