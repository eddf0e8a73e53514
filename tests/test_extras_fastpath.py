"""The findings extras (timing, claims, privacy review) read only the posts_coded columns they use, as Arrow
strings: every result must equal what reading the whole table with pandas gave."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from workbench.findings import extras
from workbench.findings.runfolder import read_run_results
from workbench.pipeline import RunPaths

REPLIES = ["@ann We're sorry about your experience at our clinic.", "@bob Your care team will call you.",
           "@cy Thanks for the paper!", "@dee See you at your next appointment.", "@gus our records show you were seen",
           "Café ＠x your symptoms 😀", None]


def _posts(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    published = pd.Timestamp("2021-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, n), unit="h")
    text = [REPLIES[i] for i in rng.integers(0, len(REPLIES), n)]
    reply = rng.random(n) < 0.3
    return pd.DataFrame({
        "post_id": [f"id{i}" for i in range(n)],
        "platform": pd.Series(rng.choice(["x", "facebook"], n), dtype="string"),
        "account": "clinic",
        "published_at": published.where(rng.random(n) > 0.02),
        "text": pd.Series(text, dtype="string"),
        "permalink": pd.Series([f"https://x.com/clinic/status/{i}" for i in range(n)], dtype="string"),
        "impressions": rng.negative_binomial(2, 0.001, n).astype(float),
        "engagements": pd.array(rng.negative_binomial(2, 0.05, n), dtype="Int64"),
        "likes": rng.poisson(5, n),
        "source_file": "export.csv", "source_row": np.arange(n),
        "is_reply": pd.array(np.where(rng.random(n) < 0.1, None, reply), dtype="boolean"),
        "post_type": pd.Series(np.where(reply, "reply", "post"), dtype="string"),
        "is_repost": rng.random(n) < 0.05,
        "published_time_reliable": pd.array(rng.random(n) > 0.1, dtype="boolean"),
        "is_own_post": pd.array(rng.random(n) > 0.02, dtype="boolean"),
        "n_hashtags": rng.integers(0, 3, n),
        "author": "someone", "n_chars": rng.integers(1, 280, n),
    })


def _reference_full_posts(paths, outcomes=None, posts=None):
    """The read before the column subset: every column, pandas' own string dtype."""
    return pd.read_parquet(paths.posts_coded) if paths.posts_coded.is_file() else None


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("card_outcome", [None, "likes", "no_such_column"])
def test_extras_from_the_columns_they_use_equal_the_whole_table(tmp_path, monkeypatch, seed, card_outcome):
    paths = RunPaths(tmp_path)
    paths.posts_coded.parent.mkdir(parents=True)
    _posts(1500, seed).to_parquet(paths.posts_coded)
    claims = () if card_outcome is None else ({
        "id": "card-window", "claim": "mornings", "source": "a blog", "metric": "timing_window", "effect": 1.2,
        "statistic": "ratio", "outcome": card_outcome, "window": {"weekdays": [0, 1, 2], "hours": [8, 9, 10]}},)
    ds = SimpleNamespace(timezone="Europe/Berlin", claims=claims)
    results = read_run_results(tmp_path)

    def run(reader):
        monkeypatch.setattr(extras, "_full_posts", reader)
        problems: dict[str, str] = {}
        return extras.compute_extras(results, ds, problems=problems), problems

    (fast, fast_problems), (ref, ref_problems) = run(extras._full_posts), run(_reference_full_posts)
    assert (fast.claims, fast.timing, fast.campaigns, fast.reasons, fast_problems) == (
        ref.claims, ref.timing, ref.campaigns, ref.reasons, ref_problems)
    assert ref.timing is not None and ref.claims is not None and len(ref.privacy_review) > 0
    pd.testing.assert_frame_equal(fast.privacy_review, ref.privacy_review)
    assert fast.privacy_review.attrs == ref.privacy_review.attrs


def test_a_missing_outcome_is_reported_with_the_same_columns(tmp_path, monkeypatch):
    """timing names the first columns of the table when its outcome is missing: the subset keeps them."""
    paths = RunPaths(tmp_path)
    paths.posts_coded.parent.mkdir(parents=True)
    _posts(200, 3).drop(columns=["impressions"]).to_parquet(paths.posts_coded)
    results = read_run_results(tmp_path)
    ds = SimpleNamespace(timezone="UTC", claims=())
    fast = extras.compute_extras(results, ds, problems=(fast_problems := {}))
    monkeypatch.setattr(extras, "_full_posts", _reference_full_posts)
    ref = extras.compute_extras(results, ds, problems=(ref_problems := {}))
    assert fast_problems == ref_problems and "(timing)" in ref_problems
    assert fast.reasons == ref.reasons and fast.claims == ref.claims


def test_only_the_used_columns_are_read(tmp_path):
    paths = RunPaths(tmp_path)
    paths.posts_coded.parent.mkdir(parents=True)
    _posts(50, 4).to_parquet(paths.posts_coded)
    got = extras._full_posts(paths, {"likes"})
    assert "likes" in got and "author" not in got and "n_chars" not in got
    assert set(extras._full_posts(paths, None).columns) == set(_posts(1, 0).columns)


def test_release_memory_gives_freed_arrow_memory_back():
    """The shared kernel's reset between stages returns what a freed table held (Arrow's pool and glibc keep it)."""
    import sys

    import psutil
    import pyarrow as pa

    from workbench import pipeline

    if not sys.platform.startswith("linux"):
        pytest.skip("malloc_trim is glibc's")
    rss = lambda: psutil.Process().memory_info().rss  # noqa: E731
    table = pa.array(np.arange(40_000_000, dtype=np.int64)) + 1  # 320 MB in Arrow's pool
    before = rss()
    del table
    pipeline.release_memory()
    assert before - rss() > 200e6
    assert "release_memory()" in pipeline._RESET_NAMESPACE


def test_the_columns_the_findings_read_are_not_read_again(tmp_path, monkeypatch):
    """With RunResults.posts at hand only the other columns come from the file; the frame equals a fresh read."""
    from workbench import results as results_module

    paths = RunPaths(tmp_path)
    paths.posts_coded.parent.mkdir(parents=True)
    _posts(300, 5).to_parquet(paths.posts_coded)
    slim = read_run_results(tmp_path).posts
    fresh = extras._full_posts(paths, {"likes"})
    asked: list = []
    real = results_module.read_parquet
    monkeypatch.setattr(results_module, "read_parquet", lambda path, columns=None: asked.append(columns) or real(
        path, columns=columns))
    reused = extras._full_posts(paths, {"likes"}, slim)
    pd.testing.assert_frame_equal(reused, fresh)
    assert len(asked) == 1 and "text" not in asked[0] and "likes" in asked[0]
    # a posts table that is not this file's (another length) is not mixed in: the file is read whole
    assert len(extras._full_posts(paths, {"likes"}, slim.head(10))) == 300


def _reference_post_type_counts(posts):
    """post_type_counts before it lowered the distinct values only (every post's type lowered, compared per type)."""
    from workbench.findings.posts import POST_TYPES, num

    if posts is None or posts.empty:
        return []
    if "post_type" in posts and posts["post_type"].notna().any():
        kind = posts["post_type"].astype("string").str.lower()
    elif {"is_reply", "is_repost"} & set(posts.columns):
        reply = posts["is_reply"].astype("boolean") if "is_reply" in posts else pd.Series(False, index=posts.index)
        repost = posts["is_repost"].astype("boolean") if "is_repost" in posts else pd.Series(False, index=posts.index)
        if reply.isna().all() and repost.isna().all():
            return []
        kind = pd.Series(np.where(repost.fillna(False), "repost", np.where(reply.fillna(False), "reply", "original")),
                         index=posts.index, dtype="string")
        kind = kind.mask(reply.isna() & repost.isna())
    else:
        return []
    imp = pd.to_numeric(posts["impressions"], errors="coerce") if "impressions" in posts else None
    out = []
    order = [t for t in POST_TYPES if (kind == t).any()] + sorted(set(kind.dropna().unique()) - set(POST_TYPES))
    for t in order + (["unknown"] if kind.isna().any() else []):
        mask = kind.isna() if t == "unknown" else (kind == t).fillna(False)
        med = imp[mask].median() if imp is not None else None
        out.append({"type": str(t), "n": int(mask.sum()), "share": float(mask.mean()),
                    "median_impressions": num(med), "source": "posts_coded post_type (else is_reply / is_repost)"})
    return out


@pytest.mark.parametrize("dtype", ["object", "string[pyarrow]", "string", "category"])
def test_post_type_counts_equal_the_per_post_reference(dtype):
    from workbench.findings.posts import post_type_counts

    rng = np.random.default_rng(len(dtype))
    values = ["original", "Reply", "reply", "QUOTE", "repost", "Story", "", None, "İ", "ı", "REPOST"]
    for trial in range(30):
        n = int(rng.integers(1, 300))
        frame = pd.DataFrame({"post_type": pd.Series([values[i] for i in rng.integers(0, len(values), n)], dtype=dtype),
                              "impressions": rng.integers(0, 100, n).astype(float),
                              "is_reply": pd.array(rng.choice([True, False, None], n), dtype="boolean")})
        frame.index = rng.permutation(n) + 5
        if trial % 5 == 0:
            frame = frame.drop(columns="post_type")
        assert post_type_counts(frame) == _reference_post_type_counts(frame)
