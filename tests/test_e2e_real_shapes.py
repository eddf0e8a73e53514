"""End to end on the shapes real accounts have (issue 10), each from synthetic look-alikes built here:

- per-tweet + daily X exports and no follower sheet, two thirds of the posts replies (a card written from the
  README's own example layout): exit 0, a report that says growth needs a follower count and what would provide
  it, models on original posts with the replies counted out, and no sentence claiming a control that was dropped;
- an export that holds no posts at all: exit 0 and a report that says so.
"""

from __future__ import annotations

import csv
import html
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e_shapes")]

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
WORKBENCH = [sys.executable, "-m", "workbench.cli"]
#: the header of X's legacy daily export (tweet_activity_metrics daily), as FORMATS.md describes it
DAILY_HEADER = [
    "Date", "Tweets published", "impressions", "engagements", "engagement rate", "retweets", "replies", "likes",
    "user profile clicks", "url clicks", "hashtag clicks", "detail expands", "permalink clicks", "app opens",
    "app installs", "follows", "email tweet", "dial phone", "media views", "media engagements",
    "promoted impressions", "promoted engagements", "promoted engagement rate", "promoted retweets",
    "promoted replies", "promoted likes", "promoted user profile clicks", "promoted url clicks",
    "promoted hashtag clicks", "promoted detail expands", "promoted permalink clicks", "promoted app opens",
    "promoted app installs", "promoted follows", "promoted email tweet", "promoted dial phone",
    "promoted media views", "promoted media engagements",
]
CARD = """\
name: {name}
title: My research network on X
timezone: America/New_York
posts: ["raw/tweet_activity_metrics_*.csv"]
account:
  - raw/daily_tweet_activity_metrics_*.csv
interventions:
  - {{date: 2022-01-01, label: Graphic designer joined}}
analysis:
  outcomes: [impressions, engagements]
  predictors: [has_poll, has_graphic, has_url, has_emoji, n_hashtags, n_mentions]
  controls: [followers_at_post, year]
goals:
  - {{metric: followers, target: 2000, by: 2023-12-31}}
"""


def report_text(path: Path) -> str:
    s = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", path.read_text(), flags=re.S)
    s = re.sub(r"<[^>]+>", " ", s)
    return re.sub(r"\s+", " ", html.unescape(s))


def replies_heavy_daily_only(folder: Path) -> None:
    """The example's per-tweet files plus two replies per post (low reach, no hashtags), and daily files."""
    rng = np.random.default_rng(10)
    (folder / "raw").mkdir(parents=True)
    posts = []
    for f in sorted((EXAMPLE / "raw").glob("tweet_activity_metrics_*.csv")):
        df = pd.read_csv(f, dtype=str)
        reps = df.loc[df.index.repeat(2)].copy()
        reps["Tweet id"] = (10**18 + rng.choice(10**15, len(reps), replace=False)).astype(str)
        reps["Tweet text"] = "@colleague" + pd.Series(range(len(reps)), index=reps.index).astype(str) + " thanks!"
        reps["Tweet permalink"] = "https://twitter.com/ExampleResNet/status/" + reps["Tweet id"]
        imp = rng.lognormal(5.3, 0.8, len(reps)).astype(int)
        reps["impressions"], reps["engagements"] = imp.astype(str), (imp // 100).astype(str)
        out = pd.concat([df, reps])
        out.to_csv(folder / "raw" / f.name, index=False)
        posts.append(out)
    p = pd.concat(posts)
    day = pd.to_datetime(p["time"].str[:10])
    daily = (p.assign(day=day, imp=pd.to_numeric(p["impressions"]), eng=pd.to_numeric(p["engagements"]))
             .groupby("day").agg(n=("Tweet id", "size"), imp=("imp", "sum"), eng=("eng", "sum")))
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max()), fill_value=0)
    for _month, sub in daily.groupby(daily.index.to_period("M")):
        rows = pd.DataFrame({c: "0" for c in DAILY_HEADER}, index=sub.index)
        rows["Date"] = sub.index.strftime("%Y-%m-%d")
        rows["Tweets published"] = sub["n"].astype(str)
        # account-level days also count posts the per-tweet files lack (deleted, promoted-only): 40 a day here
        rows["impressions"], rows["engagements"] = (sub["imp"] + 40).astype(str), sub["eng"].astype(str)
        rows["follows"] = rng.poisson(3, len(sub)).astype(str)
        rows[[c for c in DAILY_HEADER if c.startswith("promoted")]] = "-"
        start, end = sub.index.min(), sub.index.max() + pd.Timedelta(days=1)
        rows.to_csv(folder / "raw" / f"daily_tweet_activity_metrics_ExampleResNet_{start:%Y%m%d}_{end:%Y%m%d}_en.csv",
                    index=False, quoting=csv.QUOTE_ALL)
    (folder / "dataset.yml").write_text(CARD.format(name="replies_daily"))


def run(dataset: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*WORKBENCH, "run", str(dataset), "--out", str(out)], capture_output=True, text=True,
                          timeout=900)


def test_per_tweet_and_daily_exports_without_followers_get_an_honest_report(tmp_path):
    replies_heavy_daily_only(tmp_path / "ds")
    proc = run(tmp_path / "ds", tmp_path / "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = report_text(tmp_path / "run" / "report.html")
    assert "Growth in followers could not be compared: no follower data." in text
    assert "What would make it possible: an account file listed under `account:`" in text
    assert "Followers not available (see the note below)" in text
    # the example's 570 posts hold 60 replies; two replies were added per post: 510 original, 1,200 replies
    assert "The models use original posts only: 510 posts (left out: 1,200 replies)" in text
    assert "Replies are 70% of the posts and their median reach differs from original posts" in text
    # followers_at_post cannot be known without follower data: no sentence may claim it was held constant
    assert "holding audience size" not in text and "held the other features and year constant" in text
    assert "Control 'followers_at_post' is entirely NA" in text
    # per-post and daily totals are reconciled, never silently two numbers
    assert "Two totals of impressions" in text


def test_an_export_with_no_posts_gets_a_report_that_says_so(tmp_path):
    ds = tmp_path / "ds"
    (ds / "raw").mkdir(parents=True)
    header = next((EXAMPLE / "raw").glob("tweet_activity_metrics_*.csv")).read_text().splitlines()[0]
    (ds / "raw" / "tweet_activity_metrics_x_20200101_20200201_en.csv").write_text(header + "\n")
    (ds / "dataset.yml").write_text('name: empty\nposts: ["raw/tweet_activity_metrics_*.csv"]\n')
    proc = run(ds, tmp_path / "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = report_text(tmp_path / "run" / "report.html")
    assert "This report covers no posts: the exports the card names held none that could be used" in text
    assert "n/a times" not in text
    assert "Growth in followers could not be compared: no account data." in text
