"""The example dataset with known truth: exact X legacy format, identities, determinism and recovery of the truth.

The checks re-read the written files with the standard ``csv`` module and recompute every statistic with numpy,
scipy or statsmodels, independently of ``workbench.simulate``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import re
from pathlib import Path

import emoji
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from workbench.dataset import load_dataset
from workbench.errors import InputError
from workbench.simulate import (
    SNOWFLAKE_EPOCH_MS,
    format_java_double,
    simulate_dataset,
    simulate_followers,
    simulate_posts,
    simulate_tables,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"

# FORMATS.md §1a, verbatim.
X_LEGACY_HEADER = (
    '"Tweet id","Tweet permalink","Tweet text","time","impressions","engagements","engagement rate","retweets",'
    '"replies","likes","user profile clicks","url clicks","hashtag clicks","detail expands","permalink clicks",'
    '"app opens","app installs","follows","email tweet","dial phone","media views","media engagements",'
    '"promoted impressions","promoted engagements","promoted engagement rate","promoted retweets",'
    '"promoted replies","promoted likes","promoted user profile clicks","promoted url clicks",'
    '"promoted hashtag clicks","promoted detail expands","promoted permalink clicks","promoted app opens",'
    '"promoted app installs","promoted follows","promoted email tweet","promoted dial phone",'
    '"promoted media views","promoted media engagements"'
)
COMPONENTS = [
    "retweets",
    "replies",
    "likes",
    "user profile clicks",
    "url clicks",
    "hashtag clicks",
    "detail expands",
    "permalink clicks",
    "app opens",
    "app installs",
    "follows",
    "email tweet",
    "dial phone",
    "media engagements",
]
FLOAT_COLS = ["impressions", "engagements", *COMPONENTS[:8]]
INT_COLS = [*COMPONENTS[8:13], "media views", "media engagements"]
# the published effects (the brief), as % change of expected impressions
PUBLISHED_PCT = {
    "has_poll": 35,
    "has_graphic": 25,
    "has_url": 20,
    "has_emoji": -15,
    "n_hashtags": -3,
    "n_mentions": 0,
}
PREDICTORS = list(PUBLISHED_PCT)


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("sim") / "example"
    return out, simulate_dataset(out)


@pytest.fixture(scope="module")
def tables():
    return simulate_tables(seed=2024, coder_error_rate=0.01)  # as simulate_dataset


def _export_files(folder: Path) -> list[Path]:
    return sorted((folder / "raw").glob("tweet_activity_metrics_*.csv"))


def _read_exports(folder: Path) -> pd.DataFrame:
    frames = []
    for f in _export_files(folder):
        with f.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        df = pd.DataFrame(rows, columns=X_LEGACY_HEADER.replace('"', "").split(","), dtype=object)
        df["file"] = f.name
        df["row"] = np.arange(2, len(df) + 2)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------------------------- folder


def test_same_seed_writes_identical_bytes(tmp_path, example):
    folder, _ = example
    again = tmp_path / "again"
    simulate_dataset(again)
    assert _tree_digest(again) == _tree_digest(folder)
    other = tmp_path / "other"
    simulate_dataset(other, seed=7)
    assert _tree_digest(other) != _tree_digest(folder)


def test_folder_contents_and_size(example):
    folder, _ = example
    files = set(_tree_digest(folder))
    assert {
        "dataset.yml",
        "codebook.yml",
        "TRUTH.md",
        "raw/followers_monthly.csv",
        "coding/coder_a.csv",
        "coding/coder_b.csv",
        "coding/adjudicated.csv",
    } <= files
    assert len(_export_files(folder)) == 48  # one per month 2020-01 … 2023-12
    assert not [p for p in folder.rglob("*.tmp")]
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 1_000_000


def test_refuses_non_empty_folder_unless_forced(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"busy.*not empty"):
        simulate_dataset(out)
    stale = out / "raw" / "tweet_activity_metrics_ExampleResNet_19990101_19990201_en.csv"
    stale.parent.mkdir()
    stale.write_text("old")
    simulate_dataset(out, force=True)
    assert not stale.exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "dataset.yml").exists()
    with pytest.raises(InputError, match="not a folder"):
        simulate_dataset(out / "notes.txt")


def test_other_periods_and_sizes(tmp_path):
    truth = simulate_dataset(
        tmp_path / "small",
        seed=5,
        n_posts=60,
        start="2021-01-01",
        end="2021-06-30",
        intervention="2021-04-01",
    )
    ds = load_dataset(tmp_path / "small")
    assert len(ds.post_files()) == 6
    assert ds.interventions[0].date == dt.date(2021, 4, 1)
    assert len(_read_exports(tmp_path / "small")) == 60
    assert truth.realised["n_posts_before"] + truth.realised["n_posts_after"] == 60
    sheet = _read_sheet(tmp_path / "small")
    assert len(sheet) == 7 and sheet["followers"].isna().sum() == 1
    with pytest.raises(InputError, match="intervention 2030-01-01 must fall after start"):
        simulate_dataset(tmp_path / "bad", intervention="2030-01-01")
    assert not (tmp_path / "bad").exists()


def test_card_validates(example):
    folder, truth = example
    ds = load_dataset(folder)
    assert ds.name == "example"
    assert ds.timezone == "America/New_York"
    assert len(ds.post_files()) == 48
    [(path, cmap)] = ds.account_files()
    assert path.name == "followers_monthly.csv"
    assert cmap == {"new_followers": "new_follows", "tweet_impressions": "impressions"}
    assert sorted(p.name for p in ds.code_files()) == ["adjudicated.csv", "coder_a.csv", "coder_b.csv"]
    assert ds.codebook_path().is_file()
    assert [(iv.date, iv.label) for iv in ds.interventions] == [
        (dt.date(2022, 1, 1), "Trainee-led social media team")
    ]
    assert ds.analysis.predictors == tuple(PREDICTORS)
    assert ds.analysis.controls == ("followers_at_post", "year")
    [goal] = ds.goals
    final = truth.realised["final_followers"]
    assert goal.metric == "followers" and goal.by == dt.date(2023, 12, 31)
    assert final < goal.target <= final + 150  # narrowly missed, as documented
    text = (folder / "TRUTH.md").read_text(encoding="utf-8")
    assert f"{final:,}" in text and "+35.0%" in text and "1.70" in text


def test_codebook_defines_both_codes(example):
    import yaml

    folder, _ = example
    book = yaml.safe_load((folder / "codebook.yml").read_text(encoding="utf-8"))
    assert [c["name"] for c in book["codes"]] == ["has_poll", "has_graphic"]
    for c in book["codes"]:
        assert c["type"] == "binary"
        assert {"definition", "include", "exclude", "examples"} <= set(c)


# ----------------------------------------------------------------------------------------------- X export format


def test_header_is_the_x_legacy_header(example):
    folder, _ = example
    for f in _export_files(folder):
        assert f.read_bytes().split(b"\n", 1)[0] == X_LEGACY_HEADER.encode()


def test_header_is_byte_identical_to_a_real_export(example, shared_fixtures):
    real = (
        shared_fixtures / "exports" / "x_legacy" / "tweet_activity_metrics_rOpenSci_20211101_20211201_en.csv"
    )
    if not real.exists():
        pytest.skip(f"{real} not found")
    folder, _ = example
    real_header = real.read_bytes().split(b"\n", 1)[0]
    assert real_header == X_LEGACY_HEADER.encode()
    assert _export_files(folder)[0].read_bytes().split(b"\n", 1)[0] == real_header


def test_every_field_quoted_and_values_formatted_as_x_writes_them(example):
    folder, _ = example
    for f in _export_files(folder):
        raw = f.read_text(encoding="utf-8")
        assert not raw.startswith("\ufeff") and "\r" not in raw
        rows = list(csv.reader(io.StringIO(raw, newline="")))
        assert all(len(r) == 40 for r in rows)
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
        assert buf.getvalue() == raw  # re-quoting every field reproduces the file: every field was quoted
    df = _read_exports(folder)
    for c in FLOAT_COLS:
        assert df[c].str.fullmatch(r"\d+\.0").all(), c
    for c in INT_COLS:
        assert df[c].str.fullmatch(r"\d+").all(), c
    promoted = [c for c in df.columns if c.startswith("promoted ")]
    assert len(promoted) == 18 and (df[promoted] == "-").all().all()
    assert df["time"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \+0000").all()


def test_engagements_identity_and_rate(example):
    df = _read_exports(example[0])
    num = df[FLOAT_COLS + INT_COLS].astype(float)
    assert (num["engagements"] == num[COMPONENTS].sum(axis=1)).all()
    rate = df["engagement rate"].astype(float)  # Java "E" notation parses with float()
    assert (rate == num["engagements"] / num["impressions"]).all()
    small = (rate < 1e-3) & (rate > 0)
    assert df.loc[small, "engagement rate"].str.contains("E-").all()
    assert not df.loc[~small, "engagement rate"].str.contains("E").any()
    assert 0.01 <= rate.mean() <= 0.03
    assert 100 <= num["impressions"].median() <= 5000
    # url clicks only with a link, media engagements only with media
    n_tco = df["Tweet text"].str.count(r"https://t\.co/\w{10}")
    has_media = num["media views"] > 0
    assert (num.loc[~has_media, "media engagements"] == 0).all()
    assert (num.loc[n_tco - has_media == 0, "url clicks"] == 0).all()


def test_java_double_format_matches_real_exports():
    # values seen in real X legacy exports (FORMATS.md §1a and the rOpenSci files)
    got = format_java_double(
        np.array([1 / 1070, 2 / 2718, 5 / 1777, 27 / 2289, 3 / 5361, 0.0, 1.0, 1e-5, 1.5e-4])
    )
    assert list(got) == [
        "9.345794392523365E-4",
        "7.358351729212656E-4",
        "0.0028137310073157004",
        "0.011795543905635648",
        "5.595970900951316E-4",
        "0.0",
        "1.0",
        "1.0E-5",
        "1.5E-4",
    ]


def test_ids_are_snowflakes_for_their_time(example):
    df = _read_exports(example[0])
    assert df["Tweet id"].str.fullmatch(r"\d{18,19}").all()
    assert df["Tweet id"].is_unique
    ids = df["Tweet id"].astype("int64").to_numpy()
    ms = (ids >> 22) + SNOWFLAKE_EPOCH_MS
    minute = pd.to_datetime(ms, unit="ms", utc=True).floor("min").strftime("%Y-%m-%d %H:%M +0000")
    assert (np.asarray(minute) == df["time"].to_numpy()).all()
    assert (df["Tweet permalink"] == "https://twitter.com/ExampleResNet/status/" + df["Tweet id"]).all()


def test_files_newest_first_and_within_their_month(example):
    folder, _ = example
    df = _read_exports(folder)
    for name, g in df.groupby("file"):
        start, end = re.search(r"_(\d{8})_(\d{8})_en\.csv$", name).groups()
        t = pd.to_datetime(g["time"].str[:16], utc=True)
        assert t.is_monotonic_decreasing, name
        assert g["Tweet id"].astype("int64").is_monotonic_decreasing, name
        assert (t >= pd.Timestamp(start, tz="UTC")).all() and (t < pd.Timestamp(end, tz="UTC")).all(), name
    assert len(df) == 570


def test_text_shows_the_features_as_x_does(example, tables):
    df = _read_exports(example[0])
    posts = tables.posts.set_index("post_id")
    p = posts.loc[df["Tweet id"]]
    text = df["Tweet text"]
    # entities encoded in the file, decoded in the truth
    assert text.str.contains("&amp;", regex=False).any()
    assert not text.str.contains(r"&(?!amp;|lt;|gt;)").any()
    assert (text.map(html.unescape).to_numpy() == p["text"].to_numpy()).all()
    assert text.str.contains("\n", regex=False).sum() >= 20
    assert text.str.contains("\u200d", regex=False).any()  # a ZWJ emoji sequence
    # replies start with @, and only replies
    assert (text.str.startswith("@").to_numpy() == p["is_reply"].to_numpy()).all()
    decoded = text.map(html.unescape)
    assert (decoded.str.count(r"(?<!\w)#[A-Za-z]\w*").to_numpy() == p["n_hashtags"].to_numpy()).all()
    assert (decoded.str.count(r"(?<![\w/])@\w{1,15}").to_numpy() == p["n_mentions"].to_numpy()).all()
    assert ((decoded.map(emoji.emoji_count) > 0).to_numpy() == p["has_emoji"].to_numpy()).all()
    media = df["media views"].astype(int).to_numpy() > 0
    assert (media == p["has_graphic"].to_numpy()).all()
    assert decoded[media].str.contains(r"https://t\.co/\w{10}$").all()  # the media link is last
    n_links = decoded.str.count(r"https://t\.co/\w{10}").to_numpy()
    assert (n_links - media == p["has_url"].to_numpy()).all()
    assert decoded.str.len().max() <= 280


def test_posting_times_are_local_business_hours(tables):
    local = tables.posts["published_at"].dt.tz_convert("America/New_York")
    assert local.dt.hour.between(7, 18).all()
    assert (local.dt.date == tables.posts["published_at"].dt.date).all()
    weekend = (local.dt.dayofweek >= 5).mean()
    assert 0.02 < weekend < 2 / 7  # fewer posts at weekends


# ----------------------------------------------------------------------------------------------- growth


def _read_sheet(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "raw" / "followers_monthly.csv", dtype={"date": str})


def test_follower_sheet_like_a_hand_kept_one(example, tables):
    folder, _ = example
    sheet = _read_sheet(folder)
    assert list(sheet.columns) == ["date", "followers", "new_followers", "tweet_impressions"]
    dates = pd.to_datetime(sheet["date"], format="%Y-%m-%d")
    assert len(sheet) == 49 and dates.is_monotonic_increasing
    assert dates.dt.day.between(1, 5).all() and (dates.dt.day > 1).any()
    assert 2 <= sheet["followers"].isna().sum() <= 3
    assert sheet["followers"].iloc[0] == 1500
    raw = (folder / "raw" / "followers_monthly.csv").read_text()
    assert ",NA," in raw
    # tweet_impressions: the previous month's post impressions, recomputed from the export files
    exp = _read_exports(folder)
    month = pd.to_datetime(exp["time"].str[:7])
    per_month = exp["impressions"].astype(float).groupby(month).sum()
    prev = (dates.dt.to_period("M") - 1).dt.to_timestamp()
    expected = per_month.reindex(prev).fillna(0).to_numpy()
    assert np.isnan(sheet["tweet_impressions"].iloc[0])
    assert (sheet["tweet_impressions"].iloc[1:].to_numpy() == expected[1:]).all()
    # new_followers: gross follows of the previous month; followers: level at the start of the recorded day
    daily = tables.followers.set_index("date")
    gross = daily["new_follows"].groupby(daily.index.to_period("M")).sum()
    assert (
        sheet["new_followers"].iloc[1:].to_numpy() == gross.reindex(prev.dt.to_period("M")).to_numpy()[1:]
    ).all()
    known = sheet["followers"].notna().to_numpy()
    level = daily["followers"].reindex(dates - pd.Timedelta(days=1)).to_numpy()
    level[0] = 1500
    assert (sheet["followers"].to_numpy()[known] == level[known]).all()


def test_realised_growth_ratio_near_truth(example):
    folder, truth = example
    sheet = _read_sheet(folder).dropna(subset=["followers"])
    dates = pd.to_datetime(sheet["date"])
    days = (dates - pd.Timestamp("2020-01-01")).dt.days.to_numpy(float)
    y = sheet["followers"].to_numpy(float)
    slopes = []
    for mask in (dates < "2022-01-01", dates >= "2022-01-01"):
        X = np.column_stack([np.ones(mask.sum()), days[mask]])
        slopes.append(np.linalg.lstsq(X, y[mask], rcond=None)[0][1])
    ratio = slopes[1] / slopes[0]
    assert truth.net_per_day_before == 1.0 and truth.net_per_day_after == 1.7
    assert abs(ratio - 1.7) <= 0.2
    assert abs(slopes[0] - 1.0) < 0.15 and abs(slopes[1] - 1.7) < 0.2
    assert truth.realised["sheet_slope_ratio"] == pytest.approx(ratio, abs=1e-4)


def test_simulate_followers_is_pure_and_unbiased():
    kw = dict(start="2000-01-01", end="2019-12-31", intervention="2010-01-01")
    a = simulate_followers(rng=np.random.default_rng(3), **kw)
    b = simulate_followers(rng=np.random.default_rng(3), **kw)
    pd.testing.assert_frame_equal(a, b)
    net = a["new_follows"] - a["unfollows"]
    assert (a["followers"].to_numpy() == 1500 + np.cumsum(net.to_numpy())).all()
    for period, truth, var in (("before", 1.0, 1.0 + 2 * 0.4), ("after", 1.7, 1.7 + 2 * 0.5)):
        x = net[a["period"] == period]
        assert abs(x.mean() - truth) < 4 * np.sqrt(var / len(x))  # var of Poisson − Poisson = sum of means
    assert (a.loc[a["date"] < "2010-01-01", "period"] == "before").all()


# ----------------------------------------------------------------------------------------------- effects


def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    s2 = resid @ resid / (len(y) - X.shape[1])
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    return beta, se


def test_ols_on_the_files_recovers_the_impression_effects(example, tables):
    folder, truth = example
    assert truth.impressions_effects_pct == PUBLISHED_PCT
    df = _read_exports(folder)
    feats = tables.posts.set_index("post_id").loc[df["Tweet id"]]
    X = np.column_stack(
        [
            np.ones(len(df)),
            feats[PREDICTORS].to_numpy(float),
            np.log(feats["followers_at_post"].to_numpy() / 1000),
        ]
    )
    y = np.log1p(df["impressions"].astype(float).to_numpy())
    beta, se = _ols(X, y)
    true = np.array([np.log1p(PUBLISHED_PCT[k] / 100) for k in PREDICTORS] + [1.0])
    z = (beta[1:] - true) / se[1:]
    assert np.all(np.abs(z) < 3), dict(zip([*PREDICTORS, "log_followers"], z.round(2), strict=True))
    assert np.all(se[1:5] < 0.12)  # informative: each binary effect estimated to ±0.24 or better


def test_large_simulation_recovers_impression_and_engagement_rate_effects():
    rng_f, rng_p = np.random.default_rng(11), np.random.default_rng(12)
    followers = simulate_followers(rng=rng_f)
    posts = simulate_posts(followers, rng=rng_p, n_posts=20_000)
    assert len(posts) == 20_000 and posts["post_id"].is_unique
    X = np.column_stack(
        [np.ones(len(posts)), posts[PREDICTORS].to_numpy(float), np.log(posts["followers_at_post"] / 1000)]
    )
    beta, se = _ols(X, np.log1p(posts["impressions"].to_numpy(float)))
    true = np.array([np.log1p(PUBLISHED_PCT[k] / 100) for k in PREDICTORS] + [1.0])
    assert np.all(np.abs(beta[1:] - true) < 3 * se[1:])
    # engagement rate: Poisson GLM with offset log(impressions), robust errors (statsmodels, independent)
    rate_pct = {
        "has_poll": 50,
        "has_graphic": 20,
        "has_url": 15,
        "has_emoji": -10,
        "n_hashtags": 0,
        "n_mentions": 0,
    }
    fit = sm.GLM(
        posts["engagements"].to_numpy(float),
        X[:, :-1],
        family=sm.families.Poisson(),
        offset=np.log(posts["impressions"].to_numpy(float)),
    ).fit(cov_type="HC0")
    true_rate = np.array([np.log1p(rate_pct[k] / 100) for k in PREDICTORS])
    assert np.all(np.abs(fit.params[1:] - true_rate) < 3 * fit.bse[1:])
    assert np.exp(fit.params[0]) == pytest.approx(0.015, rel=0.05)
    # feature prevalences
    for k, p in {
        "has_poll": 0.10,
        "has_graphic": 0.30,
        "has_url": 0.50,
        "has_emoji": 0.25,
        "is_reply": 0.10,
    }.items():
        assert abs(posts[k].mean() - p) < 4 * np.sqrt(p * (1 - p) / len(posts)), k
    # posting rate after / before ≈ 1.4 per day
    per_day = posts.groupby("period").size() / followers.groupby("period").size()
    assert per_day["after"] / per_day["before"] == pytest.approx(1.4, rel=0.05)


def test_engagement_effects_are_the_product_of_impression_and_rate_effects(example):
    _, truth = example
    for k in PREDICTORS:
        expected = 100 * (
            (1 + truth.impressions_effects_pct[k] / 100) * (1 + truth.engagement_rate_effects_pct[k] / 100)
            - 1
        )
        assert truth.engagements_effects_pct[k] == pytest.approx(expected)
    assert truth.engagements_effects_pct["has_poll"] == pytest.approx(102.5)


# ----------------------------------------------------------------------------------------------- coding


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    table = pd.crosstab(pd.Series(a, name="a"), pd.Series(b, name="b")).reindex(
        index=[0, 1], columns=[0, 1], fill_value=0
    )
    m = table.to_numpy(float) / table.to_numpy().sum()
    po = np.trace(m)
    pe = m.sum(axis=1) @ m.sum(axis=0)
    return (po - pe) / (1 - pe)


def test_coding_files_overlap_errors_and_adjudication(example, tables):
    folder, truth = example
    a = pd.read_csv(folder / "coding" / "coder_a.csv", dtype={"post_id": str})
    b = pd.read_csv(folder / "coding" / "coder_b.csv", dtype={"post_id": str})
    adj = pd.read_csv(folder / "coding" / "adjudicated.csv", dtype={"post_id": str})
    for df, name in ((a, "coder_a"), (b, "coder_b"), (adj, "adjudicated")):
        assert list(df.columns) == ["post_id", "coder", "has_poll", "has_graphic"]
        assert (df["coder"] == name).all()
        assert df[["has_poll", "has_graphic"]].isin([0, 1]).all().all()
    order = tables.posts.sort_values("published_at")["post_id"].tolist()
    n = len(order)
    assert a["post_id"].tolist() == order[: round(0.6 * n)]
    assert b["post_id"].tolist() == order[n - round(0.6 * n) :]
    both = a.merge(b, on="post_id", suffixes=("_a", "_b"))
    assert len(both) == pytest.approx(0.2 * n, abs=2)
    true = tables.posts.set_index("post_id")
    for c in ("has_poll", "has_graphic"):
        err = np.concatenate(
            [df[c].to_numpy() != true.loc[df["post_id"], c].to_numpy().astype(int) for df in (a, b)]
        )
        assert 0.002 < err.mean() < 0.03, c  # ≈ 1 % errors (simulate_dataset default)
        k = _kappa(both[f"{c}_a"].to_numpy(), both[f"{c}_b"].to_numpy())
        assert 0.6 < k < 1, c
        assert truth.realised["cohen_kappa"][c] == pytest.approx(k, abs=1e-4)
    disagree = (both["has_poll_a"] != both["has_poll_b"]) | (both["has_graphic_a"] != both["has_graphic_b"])
    assert disagree.any()
    assert sorted(adj["post_id"]) == sorted(both.loc[disagree, "post_id"])
    for c in ("has_poll", "has_graphic"):
        assert (adj[c].to_numpy() == true.loc[adj["post_id"], c].to_numpy().astype(int)).all()


# ----------------------------------------------------------------------------------------------- committed example


def test_committed_example_matches_the_generator(tmp_path):
    if not (EXAMPLE / "dataset.yml").exists():
        pytest.skip(f"no generated example at {EXAMPLE}")
    simulate_dataset(tmp_path / "fresh")
    assert _tree_digest(tmp_path / "fresh") == _tree_digest(EXAMPLE), (
        "data/example is out of date: regenerate it with `workbench simulate --out data/example --force`"
    )
