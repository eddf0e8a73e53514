"""Consortium roll-up: the pooled fixed-effects model from sufficient statistics against statsmodels; files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench import rollup
from workbench.cli import main


def _run_folder(root, name, rng, n, *, manifest_name=None, poll_effect=0.3):
    d = root / name / "data"
    d.mkdir(parents=True)
    has_poll = rng.random(n) < 0.2
    has_url = rng.random(n) < 0.5
    n_hashtags = rng.integers(0, 4, n)
    fol = rng.uniform(300, 3000) * np.exp(np.linspace(0, 0.3, n))
    mu = 5 + rng.normal(0, 0.7) + poll_effect * has_poll + 0.2 * has_url - 0.03 * n_hashtags + 0.8 * np.log(fol / 1000)
    # heavy-tailed noise, as real impressions are
    imp = np.maximum(np.round(np.exp(mu + 0.6 * rng.standard_t(4, n))), 0).astype("int64")
    imp_arr = pd.array(imp, dtype="Int64")
    imp_arr[rng.random(n) < 0.02] = pd.NA  # a few posts without impressions
    t = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 300 * 86400, n)), unit="s")
    pd.DataFrame({
        "post_id": [f"{name}{i}" for i in range(n)], "published_at": t, "impressions": imp_arr,
        "engagements": pd.array(rng.poisson(imp * 0.02), dtype="Int64"), "has_poll": has_poll, "has_url": has_url,
        "n_hashtags": n_hashtags, "followers_at_post": fol, "year": t.year,
    }).to_parquet(d / "posts_coded.parquet", index=False)
    pd.DataFrame({"date": pd.date_range("2023-01-01", periods=300),
                  "followers": pd.array(np.round(np.linspace(fol[0], fol[-1], 300)).astype("int64"), dtype="Int64")}
                 ).to_parquet(d / "account.parquet", index=False)
    if manifest_name:
        (root / name / "manifest.json").write_text(json.dumps({"dataset": {"name": manifest_name}, "stages": {}}))
    return root / name


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(11)
    return [_run_folder(tmp_path / "runs", f"acct{i}", rng, int(rng.integers(40, 200)),
                        poll_effect=0.3 + rng.normal(0, 0.15)) for i in range(8)]


def _pooled_posts(folders):
    frames = []
    for f in folders:
        df = pd.read_parquet(f / "data" / "posts_coded.parquet")
        df["account"] = f.name
        frames.append(df)
    df = pd.concat(frames, ignore_index=True).dropna(subset=["impressions"])
    df["y"] = np.log1p(df["impressions"].astype(float))
    df["log_followers"] = np.log(df["followers_at_post"])
    for c in ("has_poll", "has_url"):
        df[c] = df[c].astype(float)
    df["year"] = df["year"].astype(float)
    return df


def test_pooled_fixed_effects_equal_statsmodels_dummies_with_clustered_errors(folders):
    import statsmodels.formula.api as smf

    con = rollup._connect()
    fs, _ = rollup._run_folders(folders)
    rollup._posts_view(con, fs, ["published_at", "impressions", "has_poll", "has_url", "n_hashtags",
                                 "followers_at_post", "year"])
    terms = ["has_poll", "has_url", "n_hashtags", "log_followers"]
    ss, names = rollup.sufficient_statistics(con, terms)
    fit = rollup.fit_pooled_fe(ss, names)
    df = _pooled_posts(folders)
    ref = smf.ols("y ~ C(account) + " + " + ".join(terms), data=df).fit(
        cov_type="cluster", cov_kwds={"groups": pd.Categorical(df["account"]).codes})
    for t in terms:
        assert fit["beta"][t] == pytest.approx(ref.params[t], rel=1e-8)
        assert fit["se"][t] == pytest.approx(ref.bse[t], rel=1e-6)
    assert fit["n_posts"] == len(df)
    # each account's own OLS equals statsmodels on that account alone (classical SE)
    est = rollup.account_estimates(ss, names)
    one = df[df["account"] == "acct3"]
    ref1 = smf.ols("y ~ " + " + ".join(terms), data=one).fit()
    mine = est[est["account"] == "acct3"].set_index("term")
    for t in terms:
        assert mine.loc[t, "estimate"] == pytest.approx(ref1.params[t], rel=1e-8)
        assert mine.loc[t, "std_error"] == pytest.approx(ref1.bse[t], rel=1e-6)


def test_shrinkage_pulls_noisy_accounts_most():
    est = pd.DataFrame({"account": list("abcdef"), "term": "x", "estimate": [0.1, 0.5, 0.9, 0.2, 0.6, 1.5],
                        "std_error": [0.05, 0.05, 0.05, 0.05, 0.05, 1.0], "n": 10})
    out, tau = rollup.shrink(est, {"x": 0.45})
    assert tau["x"]["tau2"] > 0
    s = out.set_index("account")
    # the noisy account f moves most of the way to the pooled value, the precise ones barely move
    assert abs(s.loc["f", "shrunk_estimate"] - 0.45) < abs(1.5 - 0.45) * 0.3
    assert abs(s.loc["a", "shrunk_estimate"] - 0.1) < 0.05
    assert (s["shrunk_std_error"] <= s["std_error"]).all()


def test_rollup_command_writes_tables_and_an_escaped_report(folders, tmp_path):
    # an account whose name would be HTML, and a folder that is not a run folder
    rng = np.random.default_rng(5)
    evil = _run_folder(tmp_path / "runs", "evil", rng, 80, manifest_name="<script>alert(1)</script>")
    formula = _run_folder(tmp_path / "runs", "formula", rng, 60, manifest_name="=HYPERLINK(1)")
    (tmp_path / "runs" / "empty").mkdir()
    out = tmp_path / "consortium"
    args = ["rollup", *map(str, folders), str(evil), str(formula), str(tmp_path / "runs" / "empty"), "--out", str(out)]
    assert main(args) == 0
    acc = pd.read_csv(out / "results" / "accounts.csv")
    assert len(acc) == 10 and acc["posts"].sum() > 0
    assert "'=HYPERLINK(1)" in set(acc["account"])  # no formula reaches a spreadsheet
    assert {"engagement_rate", "posts_per_week", "follower_growth_per_day", "median_impressions"} <= set(acc)
    bench = pd.read_csv(out / "results" / "benchmarks.csv")
    assert bench["posts_percentile"].between(0, 100).all()
    assert bench["posts_percentile"].max() == 100 and bench["posts_percentile"].min() == 0
    pooled = pd.read_csv(out / "results" / "pooled_model.csv")
    assert {"outcome", "model", "term", "estimate", "std_error", "ci_low", "ci_high", "p_value", "effect_pct", "n"} <= set(pooled)
    poll = pooled.set_index("term").loc["has_poll"]
    assert poll["ci_low"] < 0.3 < poll["ci_high"]
    eff = pd.read_csv(out / "results" / "account_effects.csv")
    assert eff["shrunk_estimate"].notna().any()
    res = json.loads((out / "results" / "rollup.json").read_text())
    assert res["skipped"] and "empty" in res["skipped"][0]
    html = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_one_account_says_why_there_is_no_pooled_model(folders, tmp_path):
    assert main(["rollup", str(folders[0]), "--out", str(tmp_path / "one")]) == 0
    res = json.loads((tmp_path / "one" / "results" / "rollup.json").read_text())
    assert res["pooled"]["available"] is False and "at least two" in res["pooled"]["reason"]
    assert main(["rollup", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
