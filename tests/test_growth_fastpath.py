"""The month-block bootstrap of the before/after median ratio, computed from a months × values histogram, gives
exactly what concatenating every resample gives (same draws, same medians, same interval)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import beforeafter


@pytest.mark.parametrize("seed", range(6))
def test_month_block_median_ci_equals_concatenating_each_resample(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 4000))
    months_before, months_after = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    after = rng.random(n) < 0.5
    month = np.where(after, 100 + rng.integers(0, months_after, n), rng.integers(0, months_before, n))
    kind = seed % 3
    y = (rng.integers(0, 4, n).astype(float) if kind == 0            # many ties, zeros: medians between values
         else np.round(rng.lognormal(5, 1.5, n)) if kind == 1       # counts
         else rng.lognormal(3, 1, n))                                 # every value distinct
    if seed == 5:
        y[~after] = 0.0  # a zero median before: every ratio undefined
    fast = beforeafter._month_block_median_ci(y, after, month, 0.05)
    ref = beforeafter._month_block_median_ci_reference(y, after, month, 0.05)
    assert fast == ref


def test_too_large_a_histogram_falls_back_to_the_reference(monkeypatch):
    rng = np.random.default_rng(9)
    y, after, month = rng.lognormal(3, 1, 500), rng.random(500) < 0.5, rng.integers(0, 6, 500)
    expected = beforeafter._month_block_median_ci_reference(y, after, month, 0.1)
    monkeypatch.setattr(beforeafter, "_MAX_HISTOGRAM_CELLS", 10)
    assert beforeafter._month_block_median_ci(y, after, month, 0.1) == expected


def test_integer_months_give_the_labels_months_gave():
    """post_change's calendar months as integers: the same grouping and order as the "YYYY-MM" labels."""
    when = pd.Series(pd.to_datetime(["2019-12-31 23:59", "2020-01-01 00:00", "2020-02-29 12:00", "1999-09-09 09:09", "2020-01-15 00:01"]))
    labels = when.dt.to_period("M").astype(str).to_numpy()
    codes = (when.dt.year * 12 + when.dt.month - 1).to_numpy()
    assert (pd.factorize(labels)[0] == pd.factorize(codes)[0]).all()
    assert (np.argsort(labels, kind="stable") == np.argsort(codes, kind="stable")).all()
