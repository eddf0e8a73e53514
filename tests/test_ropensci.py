"""End to end on a complete real dataset: rOpenSci's X/Twitter analytics (../shared/fixtures/real/ropensci).

60 monthly legacy per-tweet exports (1,668 tweets) plus a hand-kept monthly follower sheet with NA months and a
mistyped date. Skipped when the shared fixtures are not beside the repo.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e_ropensci")]

CARD = {
    "name": "ropensci",
    "title": "rOpenSci on X/Twitter (real exports, Dec 2016 – Dec 2021)",
    "timezone": "America/Los_Angeles",
    "posts": ["raw/tweet_activity_metrics_*.csv"],
    "account": [{"path": "raw/twitter_metrics_monthly_rOpenSci.csv",
                 "columns": {"new_followers": "new_follows", "tweets": "posts", "tweet_impressions": "impressions"}}],
    "interventions": [{"date": "2019-07-01", "label": "Mid-series split (test)"}],
    "analysis": {"predictors": ["has_url", "has_media", "has_emoji", "n_hashtags", "n_mentions", "is_reply"]},
    "goals": [{"metric": "followers", "target": 35000, "by": "2021-12-31"}],
}


@pytest.fixture(scope="module")
def ropensci_run(tmp_path_factory):
    src = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "ropensci"
    if not src.is_dir():
        pytest.skip(f"rOpenSci dataset not found at {src}")
    folder = tmp_path_factory.mktemp("ropensci_dataset")
    (folder / "raw").symlink_to(src, target_is_directory=True)  # read in place: raw data is never copied or written
    (folder / "dataset.yml").write_text(yaml.safe_dump(CARD, sort_keys=False))
    out = folder / "run"
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "run", str(folder), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return src, out


def test_every_tweet_is_kept_or_quarantined(ropensci_run):
    src, out = ropensci_run
    log = json.loads((out / "results" / "ingest_log.json").read_text())
    post_files = [f for f in log["files"] if f["table"] == "posts"]
    assert len(post_files) == 60
    assert sum(f["rows_read"] for f in post_files) == 1668
    for f in log["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"], f
        assert f["file"].startswith("raw/"), f  # relative to the dataset folder, although raw/ is a link
    posts = pd.read_parquet(out / "data" / "posts.parquet")
    quarantine = pd.read_csv(out / "data" / "quarantine.csv")
    assert len(posts) == sum(f["rows_kept"] for f in post_files)
    assert quarantine["reason"].notna().all()
    assert len(posts) + (quarantine["source_file"].str.contains("tweet_activity")).sum() + sum(
        f["rows_superseded"] for f in post_files) == 1668
    assert posts["post_id"].str.fullmatch(r"\d{17,19}").all()


def test_messy_follower_sheet_gives_warnings_not_a_crash(ropensci_run):
    _, out = ropensci_run
    log = json.loads((out / "results" / "ingest_log.json").read_text())
    text = " ".join(log["warnings"])
    assert "2021-01-03" in text  # the mistyped date is named
    assert "NA" in text or "missing" in text
    sheet = [f for f in log["files"] if f["table"] == "account"][0]
    assert sheet["rows_quarantined"] >= 1
    growth = json.loads((out / "results" / "growth.json").read_text())
    assert len(growth["periods"]) == 2 and growth["slope_ratio"] is not None


def test_report_and_models_on_real_data(ropensci_run):
    _, out = ropensci_run
    reg = pd.read_csv(out / "results" / "regression.csv")
    assert {"has_url", "n_hashtags", "is_reply"} <= set(reg["term"])
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower()


def test_ropensci_report_reads_offline_in_a_real_browser(ropensci_run):
    from browser import SKIP_REASON, assert_reads_offline, inspect_report

    _, out = ropensci_run
    seen = inspect_report(out / "report.html")
    if seen is None:
        pytest.skip(SKIP_REASON)
    assert_reads_offline(seen, out / "report.html")
