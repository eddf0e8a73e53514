"""What the executive summary says about whose posts it covers, and the claims table's growth row when the rate
was already changing (review15 M1, M6, X1: integrated by the lead)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import code_example

from workbench.claims import _from_growth
from workbench.findings import compute_findings
from workbench.report.overview import summary_sentences
from workbench.report.render import ReportContext


@pytest.fixture(scope="module")
def coded_run(tmp_path_factory):
    ds, paths, _, _ = code_example(tmp_path_factory.mktemp("accounts_run"))
    return ds, paths


def _summary(ds, paths) -> str:
    found = compute_findings(paths.root, ds, today=dt.date(2026, 1, 15))
    return " ".join(summary_sentences(ReportContext(found, ds)))


def test_a_platform_whose_posts_come_from_several_accounts_is_said_to_pool_them(coded_run):
    ds, paths = coded_run
    assert "come from" not in _summary(ds, paths)  # one account: nothing to say
    coded = pd.read_parquet(paths.posts_coded)
    original = coded.copy()
    try:
        coded["account"] = coded["account"].astype("string").where(coded.index % 3 != 0, "OtherPage")
        coded.to_parquet(paths.posts_coded)
        n_other = int((coded["account"] == "OtherPage").sum())
        text = _summary(ds, paths)
        assert (f"X's posts come from 2 accounts (ExampleResNet: {len(coded) - n_other:,} posts, OtherPage: "
                f"{n_other:,} posts) and are analysed together: its medians, models and comparisons pool them.") in text
        assert "give each its own dataset folder" in text
    finally:
        original.to_parquet(paths.posts_coded)


def test_the_claims_growth_row_is_cannot_tell_when_the_change_is_not_at_the_date():
    growth = {"comparisons": [{"slope_ratio": 0.26, "slope_ratio_ci": [0.13, 0.53],
                               "change_at_date": {"holds": False, "reason": "the rate was already falling before"}}],
              "periods": [{"n": 10}, {"n": 12}]}
    got, why = _from_growth(growth)
    assert got is None
    assert why == ("the growth rates differ between the periods, but not as a change at the date: the rate was "
                   "already falling before")
    growth["comparisons"][0]["change_at_date"]["holds"] = True
    got, why = _from_growth(growth)
    assert got == (0.26, 0.13, 0.53, 22) and why == ""
