"""What the executive summary says about whose posts it covers, and the claims table's growth row when the rate
was already changing (review15 M1, M6, X1: integrated by the lead)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import code_example

from workbench import coding, features, ingest, pipeline, results
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


def test_a_months_posts_with_no_follower_sheet_give_a_report_that_says_what_is_missing(tmp_path, shared_fixtures):
    """A new user's card: one month of X legacy posts (Sept 2015), no account file, an intervention mid-month and a
    followers goal. The monthly figure has only the month containing the date (it drew no colours for no period and
    failed the growth stage); the summary says why growth and the goal cannot be judged and what file would let
    them be."""
    import shutil

    import yaml

    from workbench import growth, plots

    raw = shared_fixtures / "exports" / "x_legacy" / "twitter_activity_metrics_20150901_20151001__USCTrials.csv"
    if not raw.is_file():
        pytest.skip(f"{raw} not found")
    folder = tmp_path / "usc"
    (folder / "raw").mkdir(parents=True)
    shutil.copy(raw, folder / "raw")
    (folder / "dataset.yml").write_text(yaml.safe_dump({
        "name": "usc", "timezone": "America/Los_Angeles", "posts": ["raw/*.csv"],
        "interventions": [{"date": "2015-09-15", "label": "New recruitment campaign"}],
        "goals": [{"metric": "followers", "target": 2000, "by": "2015-12-31"}]}))
    ds, paths = pipeline.open_run(folder, tmp_path / "run")
    result = ingest.read_exports(ds)
    ingest.write_ingest_outputs(result, data_dir=paths.data, results_dir=paths.results)
    posts, account, codes = results.load_ingested(paths)
    coded = features.code_features(posts, account=account, timezone=ds.timezone)
    coded, info = coding.merge_codes(coded, codes)
    results.save_coding(paths, posts_coded=coded, coding_info=info,
                        reliability=coding.compute_reliability(codes, n_boot=20, seed=1))
    settings = results.growth_settings(ds)
    settings["month_of_previous"] = growth.month_of_previous_sources(ds)
    found_growth = growth.compare_growth(account, posts=coded, **settings)
    results.save_growth(paths, found_growth)
    assert plots.palette(0) == []
    assert results.show_monthly(found_growth).png.startswith(b"\x89PNG")  # raised ValueError before
    text = _summary(ds, paths)
    assert ("Growth in followers could not be compared: no account data. It needs an account file listed under "
            "`account:` in dataset.yml") in text
    assert "The goal (followers 2,000): not available (no account data)." in text
