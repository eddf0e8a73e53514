"""Manual codes: merge rules and inter-rater reliability against hand-computed and published values."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.coding import (
    RELIABILITY_COLUMNS,
    compare_manual_automatic,
    compute_reliability,
    confusion_table,
    disagreement_posts,
    list_disagreements,
    merge_codes,
    sample_overlap,
)
from workbench.errors import InputError
from workbench.schema import CODES_SCHEMA, conform

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_codes(rows, code: str = "has_poll") -> pd.DataFrame:
    """rows: (post_id, coder, value) or (post_id, coder, code, value)."""
    recs = [r if len(r) == 4 else (r[0], r[1], code, r[2]) for r in rows]
    df = pd.DataFrame(recs, columns=["post_id", "coder", "code", "value"]).astype({"value": str})
    df["source_file"] = "coding/test.csv"
    df["source_row"] = range(1, len(df) + 1)
    return conform(df, CODES_SCHEMA, table="codes")


def two_coder_codes(a, b, code="has_poll") -> pd.DataFrame:
    rows = [(f"p{i}", "ann", code, str(x)) for i, x in enumerate(a)]
    rows += [(f"p{i}", "ben", code, str(x)) for i, x in enumerate(b)]
    return make_codes(rows)


# --- independent references (written for the tests, not shared with the code under test) ---------------


def kappa_reference(a, b) -> float:
    """Cohen's kappa from the confusion matrix (numpy, no sklearn)."""
    labels = sorted(set(a) | set(b))
    idx = {v: i for i, v in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    np.add.at(table, ([idx[x] for x in a], [idx[x] for x in b]), 1)
    p = table / table.sum()
    p_o = np.trace(p)
    p_e = p.sum(axis=1) @ p.sum(axis=0)
    return (p_o - p_e) / (1 - p_e)


def alpha_reference(units: list[list]) -> float:
    """Nominal Krippendorff's alpha by counting ordered pairs of values within units (Krippendorff 2011)."""
    pairable = [[v for v in u if v is not None] for u in units]
    pairable = [u for u in pairable if len(u) >= 2]
    coincidences: dict[tuple, float] = {}
    for u in pairable:
        for i, j in itertools.permutations(range(len(u)), 2):
            key = (u[i], u[j])
            coincidences[key] = coincidences.get(key, 0.0) + 1.0 / (len(u) - 1)
    values = sorted({v for u in pairable for v in u})
    n_c = {c: sum(coincidences.get((c, k), 0.0) for k in values) for c in values}
    n = sum(n_c.values())
    d_o = sum(w for (c, k), w in coincidences.items() if c != k)
    d_e = sum(n_c[c] * n_c[k] for c in values for k in values if c != k) / (n - 1)
    return 1 - d_o / d_e


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: nominal data, 4 observers,
# 12 units, missing values (None). Published result: alpha = 0.743.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def krippendorff_codes() -> pd.DataFrame:
    rows = [
        (f"u{u + 1:02d}", coder, "topic", str(v))
        for coder, values in KRIPPENDORFF_2011.items()
        for u, v in enumerate(values)
        if v is not None
    ]
    return make_codes(rows)


# --- reliability ---------------------------------------------------------------------------------------


def test_reliability_columns_are_exactly_the_contract():
    rel = compute_reliability(two_coder_codes([1, 0, 1], [1, 1, 1]), n_boot=10)
    assert list(rel.columns) == list(RELIABILITY_COLUMNS)
    assert list(rel.columns[:5]) == [
        "code",
        "n_overlap",
        "percent_agreement",
        "cohen_kappa",
        "krippendorff_alpha",
    ]


def test_krippendorff_published_example():
    rel = compute_reliability(krippendorff_codes(), n_boot=0).iloc[0]
    assert rel["krippendorff_alpha"] == pytest.approx(0.743, abs=5e-4)
    units = [list(u) for u in zip(*KRIPPENDORFF_2011.values(), strict=True)]
    assert rel["krippendorff_alpha"] == pytest.approx(alpha_reference(units), abs=1e-12)
    assert rel["n_overlap"] == 11  # unit 12 has a single value: not pairable
    assert rel["n_coders"] == 4
    # four coders: Cohen's kappa of the pair sharing the most posts (B and D, C and D share 10; B x D first)
    assert rel["cohen_kappa_pair"] == "B × D" and rel["cohen_kappa_n"] == 10
    b, d = KRIPPENDORFF_2011["B"][:10], KRIPPENDORFF_2011["D"][:10]
    assert rel["cohen_kappa"] == pytest.approx(kappa_reference(b, d), abs=1e-12)
    assert "B × D" in rel["note"] and "C × D: " in rel["pairwise_kappa"]
    assert rel["coders"] == "A, B, C, D" and rel["krippendorff_alpha_n"] == 11
    assert rel["percent_agreement"] == pytest.approx(8 / 11)  # units 1,3,4,5,7,9,10,11 unanimous
    assert rel["interpretation"] == "tentative"


def test_small_hand_computed_case():
    # units (a,a), (a,b), (b,b): o_aa = 2, o_ab = o_ba = 1, o_bb = 2; n_a = n_b = 3, n = 6
    # alpha = 1 - (n - 1) * (o_ab + o_ba) / (n^2 - n_a^2 - n_b^2) = 1 - 5 * 2 / 18 = 4/9
    # kappa: p_o = 2/3, p_e = 2/3 * 1/3 + 1/3 * 2/3 = 4/9, kappa = (2/9) / (5/9) = 0.4
    rel = compute_reliability(two_coder_codes(["a", "a", "b"], ["a", "b", "b"]), n_boot=0).iloc[0]
    assert rel["krippendorff_alpha"] == pytest.approx(4 / 9)
    assert rel["cohen_kappa"] == pytest.approx(0.4)
    assert rel["percent_agreement"] == pytest.approx(2 / 3)
    assert rel["interpretation"] == "unreliable"


def test_cohen_kappa_two_by_two_by_hand():
    # both yes 20, ann yes / ben no 5, ann no / ben yes 10, both no 15 (n = 50)
    # p_o = 35/50 = .7; p_e = .5 * .6 + .5 * .4 = .5; kappa = (.7 - .5) / .5 = .4
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    rel = compute_reliability(two_coder_codes(a, b), n_boot=0).iloc[0]
    assert rel["cohen_kappa"] == pytest.approx(0.4)
    assert rel["percent_agreement"] == pytest.approx(0.7)
    assert rel["n_overlap"] == 50 and rel["n_coders"] == 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kappa_and_alpha_match_independent_references_on_random_codes(seed):
    rng = np.random.default_rng(seed)
    a = rng.choice(["low", "mid", "high"], size=60, p=[0.5, 0.3, 0.2])
    b = np.where(rng.random(60) < 0.7, a, rng.choice(["low", "mid", "high"], size=60))
    rel = compute_reliability(two_coder_codes(a, b), n_boot=0).iloc[0]
    assert rel["cohen_kappa"] == pytest.approx(kappa_reference(list(a), list(b)), abs=1e-12)
    assert rel["krippendorff_alpha"] == pytest.approx(
        alpha_reference([[x, y] for x, y in zip(a, b, strict=True)]), abs=1e-12
    )
    assert rel["percent_agreement"] == pytest.approx(np.mean(a == b))


def test_alpha_with_three_coders_and_missing_values_matches_reference():
    rng = np.random.default_rng(11)
    coders = {c: rng.choice(["0", "1"], size=40) for c in ("x", "y", "z")}
    missing = {c: rng.random(40) < 0.3 for c in coders}
    rows = [(f"p{i}", c, coders[c][i]) for c in coders for i in range(40) if not missing[c][i]]
    rel = compute_reliability(make_codes(rows), n_boot=0).iloc[0]
    units = [[None if missing[c][i] else coders[c][i] for c in coders] for i in range(40)]
    assert rel["krippendorff_alpha"] == pytest.approx(alpha_reference(units), abs=1e-12)
    assert rel["n_overlap"] == sum(sum(v is not None for v in u) >= 2 for u in units)
    pairs = {}
    for a, b in itertools.combinations(coders, 2):
        both = ~missing[a] & ~missing[b]
        pairs[f"{a} × {b}"] = (int(both.sum()), kappa_reference(list(coders[a][both]), list(coders[b][both])))
    best = max(pairs, key=lambda p: pairs[p][0])
    assert rel["cohen_kappa_pair"] == best and rel["cohen_kappa_n"] == pairs[best][0]
    assert rel["cohen_kappa"] == pytest.approx(pairs[best][1], abs=1e-12)
    for pair, (n, kappa) in pairs.items():
        assert f"{pair}: {kappa:.2f} (n={n})" in rel["pairwise_kappa"]


def test_simulated_coders_recover_known_kappa():
    # truth 50/50; each coder errs independently with probability e = .1:
    # agreement = .9^2 + .1^2 = .82, chance agreement = .5, kappa = (.82 - .5) / .5 = .64
    rng = np.random.default_rng(2024)
    truth = rng.integers(0, 2, 4000)
    a = np.where(rng.random(4000) < 0.1, 1 - truth, truth)
    b = np.where(rng.random(4000) < 0.1, 1 - truth, truth)
    rel = compute_reliability(two_coder_codes(a, b), n_boot=200, seed=5).iloc[0]
    assert rel["cohen_kappa"] == pytest.approx(0.64, abs=0.04)
    assert rel["percent_agreement"] == pytest.approx(0.82, abs=0.02)
    assert rel["cohen_kappa_ci_low"] < 0.64 < rel["cohen_kappa_ci_high"]


def test_adjudicator_is_not_a_rater():
    codes = make_codes(
        [
            ("p1", "ann", "1"),
            ("p1", "ben", "0"),
            ("p1", "adjudicated", "1"),
            ("p2", "ann", "1"),
            ("p2", "ben", "1"),
        ]
    )
    rel = compute_reliability(codes, n_boot=0).iloc[0]
    assert rel["n_coders"] == 2 and rel["n_overlap"] == 2
    assert rel["percent_agreement"] == pytest.approx(0.5)


def test_bootstrap_ci_contains_estimate_and_is_reproducible():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 300)
    b = np.where(rng.random(300) < 0.8, a, 1 - a)
    codes = two_coder_codes(a, b)
    first = compute_reliability(codes, n_boot=500, seed=42)
    again = compute_reliability(codes, n_boot=500, seed=42)
    other = compute_reliability(codes, n_boot=500, seed=43)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    row = first.iloc[0]
    for stat in ("percent_agreement", "cohen_kappa", "krippendorff_alpha"):
        assert row[f"{stat}_ci_low"] <= row[stat] <= row[f"{stat}_ci_high"], stat
        assert row[f"{stat}_ci_low"] < row[f"{stat}_ci_high"], stat
    assert 0 <= row["percent_agreement_ci_low"] and row["percent_agreement_ci_high"] <= 1


def test_bootstrap_matches_a_loop_over_resamples():
    """The matrix bootstrap equals resampling posts one replicate at a time with the same weights."""
    rng = np.random.default_rng(8)
    a = rng.integers(0, 3, 50)
    b = np.where(rng.random(50) < 0.6, a, rng.integers(0, 3, 50))
    rel = compute_reliability(two_coder_codes(a, b), n_boot=300, seed=9).iloc[0]
    # independent: draw resamples of posts, compute kappa by the reference formula, percentile interval
    kappas = []
    boot_rng = np.random.default_rng(0)
    for _ in range(2000):
        idx = boot_rng.integers(0, 50, 50)
        kappas.append(kappa_reference(list(a[idx]), list(b[idx])))
    low, high = np.nanpercentile(kappas, [2.5, 97.5])
    assert rel["cohen_kappa_ci_low"] == pytest.approx(low, abs=0.06)
    assert rel["cohen_kappa_ci_high"] == pytest.approx(high, abs=0.06)


def test_no_overlap_and_no_variation():
    only_one = make_codes([("p1", "ann", "1"), ("p2", "ben", "0")])
    rel = compute_reliability(only_one, n_boot=50).iloc[0]
    assert (
        rel["n_overlap"] == 0 and pd.isna(rel["krippendorff_alpha"]) and rel["interpretation"] == "undefined"
    )
    constant = two_coder_codes([1, 1, 1], [1, 1, 1])
    rel = compute_reliability(constant, n_boot=50).iloc[0]
    assert rel["percent_agreement"] == 1.0
    assert pd.isna(rel["krippendorff_alpha"]) and pd.isna(rel["cohen_kappa"])


def test_codes_in_order_of_appearance():
    codes = make_codes(
        [
            ("p1", "ann", "b_code", "1"),
            ("p1", "ben", "b_code", "1"),
            ("p1", "ann", "a_code", "x"),
            ("p1", "ben", "a_code", "y"),
        ]
    )
    assert compute_reliability(codes, n_boot=0)["code"].tolist() == ["b_code", "a_code"]


# --- merging -------------------------------------------------------------------------------------------


def posts_frame(ids) -> pd.DataFrame:
    return pd.DataFrame({"post_id": pd.array(ids, dtype="string"), "has_url": [True] * len(ids)})


def test_merge_rules():
    codes = make_codes(
        [
            ("p1", "ann", "1"),
            ("p1", "ben", "0"),
            ("p1", "Adjudicated", "0"),  # adjudicated wins
            ("p2", "ann", "1"),
            ("p2", "ben", "1"),  # agreement
            ("p3", "ann", "1"),
            ("p3", "ben", "0"),
            ("p3", "cat", "1"),  # majority
            ("p4", "ann", "1"),
            ("p4", "ben", "0"),  # tie -> NA
            ("p5", "ann", "0"),  # single coder
        ]
    )
    posts = posts_frame(["p6", "p5", "p4", "p3", "p2", "p1"])
    out, info = merge_codes(posts, codes)
    assert out["post_id"].tolist() == posts["post_id"].tolist()
    assert str(out["has_poll"].dtype) == "boolean"
    assert out["has_poll"].tolist()[1:] == [False, pd.NA, True, True, False]
    assert pd.isna(out["has_poll"].iloc[0])  # not coded
    c = info["codes"]["has_poll"]
    assert (c["n_coded"], c["n_missing"], c["n_adjudicated"], c["n_unresolved_ties"]) == (4, 2, 1, 1)
    assert (c["n_agreement"], c["n_majority"]) == (2, 1)
    assert any("tie" in w for w in info["warnings"])


def test_categorical_codes_and_value_spellings():
    codes = make_codes(
        [
            ("p1", "ann", "tone", "positive"),
            ("p1", "ben", "tone", "positive"),
            ("p2", "ann", "tone", "negative"),
            ("p1", "ann", "has_graphic", "1.0"),
            ("p1", "ben", "has_graphic", "1"),
            ("p2", "ann", "has_graphic", "TRUE"),
            ("p2", "ben", "has_graphic", "true"),
        ]
    )
    out, info = merge_codes(posts_frame(["p1", "p2", "p3"]), codes)
    assert isinstance(out["tone"].dtype, pd.CategoricalDtype)
    assert list(out["tone"].cat.categories) == ["negative", "positive"]
    assert out["tone"].astype(object).tolist()[:2] == ["positive", "negative"]
    assert pd.isna(out["tone"].iloc[2])
    assert out["has_graphic"].tolist()[:2] == [True, True]
    assert info["codes"]["has_graphic"]["n_agreement"] == 2  # "1.0" and "1" are the same value
    assert info["codes"]["tone"]["kind"] == "categorical"


def test_unknown_post_ids_are_counted_and_listed():
    codes = make_codes([("p1", "ann", "1"), ("x9", "ann", "1"), ("x8", "ben", "0"), ("x9", "ben", "1")])
    out, info = merge_codes(posts_frame(["p1"]), codes)
    assert info["unknown_post_ids"]["count"] == 2
    assert info["unknown_post_ids"]["examples"] == ["x9", "x8"]
    assert info["codes"]["has_poll"]["n_unknown_post_ids"] == 2
    assert any("not in the posts table" in w for w in info["warnings"])
    assert len(out) == 1


def test_manual_code_replaces_automatic_column():
    codes = make_codes([("p1", "ann", "has_url", "0")])
    posts = posts_frame(["p1"])
    out, info = merge_codes(posts, codes)
    assert out["has_url"].tolist() == [False]
    assert info["replaced_columns"] == ["has_url"]
    assert any("replaces" in w for w in info["warnings"])
    assert posts["has_url"].tolist() == [True]  # input not mutated


def test_merge_does_not_mutate_inputs_and_is_json_friendly():
    import json

    codes = make_codes([("p1", "ann", "1"), ("p1", "ben", "1")])
    posts = posts_frame(["p1", "p2"])
    codes_before, posts_before = codes.copy(deep=True), posts.copy(deep=True)
    _, info = merge_codes(posts, codes)
    pd.testing.assert_frame_equal(codes, codes_before)
    pd.testing.assert_frame_equal(posts, posts_before)
    json.dumps(info)


def test_code_named_like_a_posts_column_is_an_error():
    codes = make_codes([("p1", "ann", "impressions", "1")])
    with pytest.raises(InputError, match=r"manual codes \['impressions'\] are named like columns"):
        merge_codes(posts_frame(["p1"]), codes)


def test_missing_code_columns_are_named():
    with pytest.raises(InputError, match=r"missing columns \['coder'\]"):
        merge_codes(posts_frame(["p1"]), pd.DataFrame({"post_id": ["p1"], "code": ["a"], "value": ["1"]}))


def test_duplicate_codes_keep_last_and_warn():
    codes = make_codes([("p1", "ann", "0"), ("p1", "ann", "1")])
    out, info = merge_codes(posts_frame(["p1"]), codes)
    assert out["has_poll"].tolist() == [True]
    assert any("repeated" in w for w in info["warnings"])


# --- disagreements -------------------------------------------------------------------------------------


def test_list_disagreements():
    codes = make_codes(
        [
            ("p1", "ann", "1"),
            ("p1", "ben", "0"),
            ("p1", "adjudicated", "1"),
            ("p2", "ann", "1"),
            ("p2", "ben", "1"),
            ("p3", "ann", "0"),
            ("p3", "ben", "1"),
            ("p4", "ann", "1"),
            ("p1", "ann", "tone", "pos"),
            ("p1", "ben", "tone", "neg"),
        ]
    )
    dis = list_disagreements(codes)
    assert list(dis.columns) == ["post_id", "code", "ann", "ben", "adjudicated"]
    assert dis[["post_id", "code"]].values.tolist() == [
        ["p1", "has_poll"],
        ["p3", "has_poll"],
        ["p1", "tone"],
    ]
    assert dis["adjudicated"].tolist()[:2] == ["1", pd.NA]
    assert dis["ann"].tolist() == ["1", "0", "pos"]


def test_list_disagreements_empty_when_all_agree():
    dis = list_disagreements(two_coder_codes([1, 0], [1, 0]))
    assert len(dis) == 0
    assert list(dis.columns) == ["post_id", "code", "ann", "ben", "adjudicated"]


def test_simulated_coding_files_end_to_end():
    """Coding files of the simulator (two coders with errors + adjudication) against their known truth."""
    from workbench.simulate import simulate_tables

    tables = simulate_tables(seed=11, n_posts=400, coder_error_rate=0.05)
    frames = []
    for df in tables.coding.values():
        long = df.melt(id_vars=["post_id", "coder"], var_name="code", value_name="value")
        frames.append(long.astype({"value": str}))
    codes = conform(pd.concat(frames, ignore_index=True), CODES_SCHEMA, table="codes")
    a, b, adj = tables.coding["coder_a"], tables.coding["coder_b"], tables.coding["adjudicated"]
    both = a.merge(b, on="post_id", suffixes=("_a", "_b"))

    rel = compute_reliability(codes, n_boot=100, seed=1).set_index("code")
    dis = list_disagreements(codes)
    posts = tables.posts[["post_id"]].astype({"post_id": "string"})
    merged, info = merge_codes(posts, codes)
    for c in ("has_poll", "has_graphic"):
        assert rel.loc[c, "n_overlap"] == len(both)
        assert rel.loc[c, "cohen_kappa"] == pytest.approx(
            kappa_reference(list(both[f"{c}_a"]), list(both[f"{c}_b"]))
        )
        assert (dis["code"] == c).sum() == int((both[f"{c}_a"] != both[f"{c}_b"]).sum())
        # expected final value: adjudicated (the truth) where present, else the (agreeing or only) coder
        expected = pd.concat([adj, a, b]).drop_duplicates("post_id", keep="first").set_index("post_id")[c]
        got = merged.set_index("post_id")[c]
        assert got.loc[expected.index].astype(int).tolist() == expected.astype(int).tolist()
        assert info["codes"][c]["n_unresolved_ties"] == 0
        assert info["codes"][c]["n_coded"] == len(expected)
    assert info["unknown_post_ids"]["count"] == 0


def test_empty_codes():
    empty = conform(pd.DataFrame(columns=list(CODES_SCHEMA)), CODES_SCHEMA, table="codes")
    out, info = merge_codes(posts_frame(["p1"]), empty)
    assert list(out.columns) == ["post_id", "has_url"] and info["codes"] == {}
    assert list(compute_reliability(empty).columns) == list(RELIABILITY_COLUMNS)
    assert len(list_disagreements(empty)) == 0


# --- confusion tables -----------------------------------------------------------------------------------


def test_confusion_table_by_hand():
    # p0..p4: ann 1 1 0 0 1, ben 1 0 0 1 1; p5 coded by ann only; the adjudicator is not a rater
    codes = two_coder_codes([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    extra = make_codes([("p5", "ann", "1"), ("p1", "adjudicated", "1")])
    codes = pd.concat([codes, extra], ignore_index=True)
    table = confusion_table(codes, "has_poll")
    assert table.index.name == "ann" and table.columns.name == "ben"
    assert table.index.tolist() == ["0", "1"] and table.columns.tolist() == ["0", "1"]
    assert table.to_numpy().tolist() == [[1, 1], [1, 2]]
    assert str(table.to_numpy().dtype) == "int64"
    # the table holds what compute_reliability reports
    rel = compute_reliability(codes, n_boot=0).iloc[0]
    p = table.to_numpy() / table.to_numpy().sum()
    assert np.trace(p) == pytest.approx(rel["percent_agreement"])
    p_e = p.sum(axis=1) @ p.sum(axis=0)
    assert (np.trace(p) - p_e) / (1 - p_e) == pytest.approx(rel["cohen_kappa"])


def test_confusion_table_categorical_and_coder_choice():
    codes = make_codes(
        [
            ("p1", "ann", "tone", "pos"),
            ("p1", "ben", "tone", "pos"),
            ("p1", "cat", "tone", "neg"),
            ("p2", "ann", "tone", "neu"),
            ("p2", "ben", "tone", "pos"),
            ("p3", "cat", "tone", "neg"),
        ]
    )
    with pytest.raises(InputError, match=r"code 'tone' has 3 coders \['ann', 'ben', 'cat'\]; pass coders="):
        confusion_table(codes, "tone")
    table = confusion_table(codes, "tone", coders=("ben", "ann"))
    assert table.index.tolist() == ["neg", "neu", "pos"]  # every value any rater gave
    assert table.loc["pos", "pos"] == 1 and table.loc["pos", "neu"] == 1 and table.to_numpy().sum() == 2
    with pytest.raises(InputError, match=r"coder 'dan' did not code 'tone'"):
        confusion_table(codes, "tone", coders=("ann", "dan"))
    with pytest.raises(InputError, match=r"no code 'has_poll' in the manual codes; codes: \['tone'\]"):
        confusion_table(codes, "has_poll")


# --- manual codes against automatic features -----------------------------------------------------------


def test_compare_manual_automatic_by_hand():
    from workbench.coding import parse_codebook

    book = parse_codebook(
        {"codes": [{"name": "has_graphic", "type": "binary", "definition": "d", "automatic": "has_media"}]}
    )
    posts = pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(6)],
            "has_link": pd.array([True, True, False, False, None, True], dtype="boolean"),
            "has_url": pd.array([True, False, False, False, True, None], dtype="boolean"),
            "has_graphic": pd.array([True, False, True, False, False, False], dtype="boolean"),
            "has_media": pd.array([True, False, False, False, False, False], dtype="boolean"),
        }
    )
    out = compare_manual_automatic(posts, book).set_index("manual")
    link = out.loc["has_link"]  # default pair; compared on p0..p3 (NA on either side left out)
    assert link["automatic"] == "has_url" and link["source"] == "default"
    assert (link["n_compared"], link["n_agree"], link["n_manual_only"], link["n_automatic_only"]) == (
        4,
        3,
        1,
        0,
    )
    assert link["percent_agreement"] == pytest.approx(0.75)
    assert link["cohen_kappa"] == pytest.approx(kappa_reference([1, 1, 0, 0], [1, 0, 0, 0]))
    graphic = out.loc["has_graphic"]
    assert graphic["source"] == "codebook" and graphic["n_compared"] == 6
    assert graphic["cohen_kappa"] == pytest.approx(kappa_reference([1, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]))
    assert (graphic["n_manual_yes"], graphic["n_automatic_yes"]) == (2, 1)
    only = compare_manual_automatic(posts, pairs={"has_graphic": "has_media"})
    assert only["source"].tolist() == ["default", "argument"]
    with pytest.raises(InputError, match=r"missing columns \['is_question'\]"):
        compare_manual_automatic(posts, pairs={"has_link": "is_question"})
    with pytest.raises(InputError, match="has the name of the automatic feature"):
        compare_manual_automatic(posts, pairs={"has_url": "has_url"})
    assert compare_manual_automatic(posts[["post_id"]]).empty


def test_compare_manual_automatic_recovers_known_agreement():
    # automatic = truth (prevalence .3); the coder misses/adds with probability .1:
    # agreement .9; p_manual = .3 * .9 + .7 * .1 = .34; chance = .34 * .3 + .66 * .7 = .564
    # kappa = (.9 - .564) / (1 - .564) = .7706
    rng = np.random.default_rng(12)
    truth = rng.random(20_000) < 0.3
    manual = np.where(rng.random(20_000) < 0.1, ~truth, truth)
    posts = pd.DataFrame(
        {"has_link": pd.array(manual, dtype="boolean"), "has_url": pd.array(truth, dtype="boolean")}
    )
    row = compare_manual_automatic(posts).iloc[0]
    assert row["percent_agreement"] == pytest.approx(0.9, abs=0.01)
    assert row["cohen_kappa"] == pytest.approx(0.7706, abs=0.02)


# --- samples for coding ---------------------------------------------------------------------------------


def test_sample_overlap_depends_on_the_ids_only():
    posts = posts_frame([f"p{i:03d}" for i in range(100)])
    first = sample_overlap(posts, size=20, seed=4)
    again = sample_overlap(posts.iloc[::-1], size=20, seed=4)
    assert len(first) == 20 and len(set(first)) == 20
    assert set(first) == set(again) and again == [p for p in posts["post_id"][::-1] if p in set(first)]
    assert set(sample_overlap(posts, size=20, seed=5)) != set(first)
    assert set(sample_overlap(posts, size=100, seed=4)) == set(posts["post_id"])
    for bad in (0, 101, 2.5):
        with pytest.raises(InputError, match="overlap size must be a whole number from 1 to 100"):
            sample_overlap(posts, size=bad, seed=4)


def test_disagreement_posts():
    codes = make_codes(
        [
            ("p2", "ann", "1"),
            ("p2", "ben", "0"),
            ("p1", "ann", "tone", "pos"),
            ("p1", "ben", "tone", "neg"),
            ("p1", "ann", "1"),
            ("p1", "ben", "0"),
            ("p3", "ann", "1"),
            ("p3", "ben", "1"),
        ]
    )
    assert disagreement_posts(codes) == {"p1": ["has_poll", "tone"], "p2": ["has_poll"]}


# --- more than two coders: Fleiss' kappa and what each statistic rests on (issue 17.7) ----------------

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters each, 5 categories.
# Published: P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def fleiss_codes(table, *, shuffle_raters: bool) -> pd.DataFrame:
    """Long codes from a subjects x categories count table: rater r{j} gives each subject one category."""
    rng = np.random.default_rng(0)
    rows = []
    for i, counts in enumerate(table):
        values = [str(c + 1) for c, n in enumerate(counts) for _ in range(n)]
        if shuffle_raters:
            values = list(rng.permutation(values))
        rows += [(f"s{i:02d}", f"r{j:02d}", "category", v) for j, v in enumerate(values)]
    return make_codes(rows)


@pytest.mark.parametrize("shuffle_raters", [False, True])
def test_fleiss_kappa_published_example(shuffle_raters):
    codes = fleiss_codes(FLEISS_WIKIPEDIA, shuffle_raters=shuffle_raters)
    rel = compute_reliability(codes, n_boot=200).iloc[0]
    assert rel["fleiss_kappa"] == pytest.approx(0.210, abs=5e-4)
    # by hand from the published intermediate values: (0.378022 - 0.212755) / (1 - 0.212755)
    assert rel["fleiss_kappa"] == pytest.approx((0.378022 - 0.212755) / (1 - 0.212755), abs=1e-5)
    assert rel["fleiss_kappa_n"] == 10 and rel["fleiss_kappa_raters"] == 14 and rel["n_coders"] == 14
    assert rel["n_overlap"] == 10
    assert rel["fleiss_kappa_ci_low"] < rel["fleiss_kappa"] < rel["fleiss_kappa_ci_high"]


def test_fleiss_bootstrap_formula_matches_statsmodels_on_every_resample():
    from statsmodels.stats.inter_rater import fleiss_kappa

    from workbench.coding import _bootstrap_weights, _fleiss_from_counts

    counts = np.array(FLEISS_WIKIPEDIA, dtype=float)
    weights = _bootstrap_weights(np.random.default_rng(1), 10, 30)
    fast = _fleiss_from_counts(weights, counts, 14)
    for w, k in zip(weights, fast, strict=True):
        table = np.repeat(counts, w.astype(int), axis=0)
        assert k == pytest.approx(fleiss_kappa(table), abs=1e-12)


def test_fleiss_point_estimate_is_statsmodels_to_the_last_bit():
    """The point estimate is written out (no statsmodels import in the feature-coding stage) with statsmodels'
    operations in statsmodels' order: equal, not merely close, on random tables of every shape."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    from workbench.coding import _fleiss_kappa

    rng = np.random.default_rng(7)
    for _ in range(300):
        n_units, n_cat, m = int(rng.integers(2, 40)), int(rng.integers(2, 6)), int(rng.integers(2, 15))
        table = np.stack([np.bincount(rng.integers(0, n_cat, m), minlength=n_cat) for _ in range(n_units)])
        if ((table.sum(0) / table.sum()) ** 2).sum() == 1.0:
            continue  # no variation: kappa is undefined (compute_reliability leaves it NaN)
        assert _fleiss_kappa(table) == float(fleiss_kappa(table, method="fleiss"))
    assert _fleiss_kappa(np.array(FLEISS_WIKIPEDIA)) == float(fleiss_kappa(np.array(FLEISS_WIKIPEDIA)))


def test_feature_coding_imports_neither_scipy_nor_statsmodels():
    """Coding features and merging and checking manual codes (notebook 02) runs on the kernel that ran ingest,
    before it has imported the models' libraries: it must not import them itself (0.5-1 CPU-s)."""
    import subprocess
    import sys

    code = f"""
import sys, tempfile
from workbench import coding, features, ingest, pipeline, results
ds, paths = pipeline.open_run({str(REPO_ROOT / "data" / "example")!r}, tempfile.mkdtemp())
settings = results.coding_settings(ds)
result = ingest.read_exports(ds, binary_codes=settings["binary_codes"])
ingest.write_ingest_outputs(result, data_dir=paths.data, results_dir=paths.results)
posts, account, codes = results.load_ingested(paths)
auto = features.code_features(posts, account=account, timezone=ds.timezone,
                              research_domains=settings["research_domains"])
coded, info = coding.merge_codes(auto, codes, codebook=settings["codebook"])
reliability = coding.compute_reliability(codes, n_boot=20, seed=1, codebook=settings["codebook"])
assert reliability["fleiss_kappa"].notna().any()
coding.compare_manual_automatic(coded, settings["codebook"])
results.save_coding(paths, posts_coded=coded, coding_info=info, reliability=reliability)
print(",".join(sorted({{m.split(".")[0] for m in sys.modules}} & {{"scipy", "statsmodels", "matplotlib"}})))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_third_coder_on_one_post_does_not_break_kappa():
    """Issue 17.7: one extra coder coding one post turned Cohen's kappa into NaN for every code."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 2, 60)
    b = np.where(rng.random(60) < 0.85, a, 1 - a)
    two = two_coder_codes(a, b)
    three = pd.concat([two, make_codes([("p0", "cat", "1")])], ignore_index=True)
    before = compute_reliability(two, n_boot=200, seed=1).iloc[0]
    after = compute_reliability(three, n_boot=200, seed=1).iloc[0]
    assert after["cohen_kappa"] == pytest.approx(kappa_reference(list(a), list(b)), abs=1e-12)
    assert after["cohen_kappa"] == before["cohen_kappa"]
    assert after["cohen_kappa_pair"] == "ann × ben" and after["cohen_kappa_n"] == 60
    assert after["n_coders"] == 3 and after["coders"] == "ann, ben, cat"
    assert "ann × cat: too few shared posts (n=1)" in after["pairwise_kappa"]
    # Fleiss: the 59 posts with two ratings (Scott's pi there); alpha: all 60
    assert after["fleiss_kappa_n"] == 59 and after["fleiss_kappa_raters"] == 2
    assert "59 posts with 2 ratings" in after["note"]
    assert after["krippendorff_alpha_n"] == 60 and np.isfinite(after["krippendorff_alpha"])
    for stat in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        assert after[f"{stat}_ci_low"] < after[stat] < after[f"{stat}_ci_high"], stat


def test_fleiss_kappa_equals_scotts_pi_with_two_coders():
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    rel = compute_reliability(two_coder_codes(a, b), n_boot=0).iloc[0]
    # Scott's pi: p_o = .7; pooled p(yes) = (25 + 30) / 100 = .55; p_e = .55^2 + .45^2 = .505
    assert rel["fleiss_kappa"] == pytest.approx((0.7 - 0.505) / (1 - 0.505))
    assert rel["cohen_kappa_pair"] == "ann × ben" and rel["note"] == ""


def test_no_interval_from_too_few_posts_or_from_identical_resamples():
    rel = compute_reliability(two_coder_codes([1, 0, 1, 0], [1, 0, 0, 0]), n_boot=100).iloc[0]
    assert np.isfinite(rel["cohen_kappa"]) and pd.isna(rel["cohen_kappa_ci_low"])
    assert "fewer than 10 posts" in rel["note"]
    all_agree = two_coder_codes([1, 0] * 15, [1, 0] * 15)
    rel = compute_reliability(all_agree, n_boot=100).iloc[0]
    assert rel["percent_agreement"] == 1.0 and pd.isna(rel["percent_agreement_ci_low"])
    assert "every resample gave 1" in rel["note"]


def test_codebook_codes_nobody_coded_yet_say_so():
    from workbench.coding import parse_codebook

    cb = parse_codebook({"codes": [
        {"name": "has_poll", "type": "binary", "definition": "d"},
        {"name": "has_graphic", "type": "binary", "definition": "d"},
        {"name": "tone", "type": "categorical", "levels": ["a", "b"], "definition": "d"},
    ]})
    codes = make_codes([("p1", "ann", "has_graphic", "1"), ("p1", "ann", "tone", "a"), ("p2", "ben", "tone", "b")])
    rel = compute_reliability(codes, n_boot=10, codebook=cb).set_index("code")
    assert list(rel.index) == ["has_poll", "has_graphic", "tone"]
    assert (rel["n_overlap"] == 0).all()
    assert rel.loc["has_poll", "note"] == "not available: nobody has coded this code yet"
    assert "only ann coded it" in rel.loc["has_graphic", "note"]
    assert "ann, ben coded no post in common" in rel.loc["tone", "note"]
    empty = compute_reliability(make_codes([]), n_boot=10, codebook=cb)
    assert len(empty) == 3 and list(empty.columns) == list(RELIABILITY_COLUMNS)


def test_no_coding_file_yet_or_codes_for_other_posts_is_a_typed_not_available():
    """Issue 10.1: a codebook before any coding file, or coding files for posts not in the data."""
    from workbench.coding import parse_codebook

    cb = parse_codebook({"codes": [{"name": "has_poll", "type": "binary", "definition": "d"},
                                   {"name": "has_graphic", "type": "binary", "definition": "d"}]})
    posts = posts_frame(["p1", "p2"])
    out, info = merge_codes(posts, make_codes([]), codebook=cb)
    assert list(out.columns) == list(posts.columns)
    assert info["manual_codes"]["status"] == "not available"
    assert "no coding file holds a decision yet" in info["manual_codes"]["reason"]
    assert info["not_coded"] == {c: "no coding file holds a decision for it yet" for c in ("has_poll", "has_graphic")}
    rel = compute_reliability(make_codes([]), n_boot=10, codebook=cb)
    assert rel["note"].str.startswith("not available").all()
    other = make_codes([("x9", "ann", "has_poll", "1"), ("x9", "ben", "has_poll", "0")])
    out, info = merge_codes(posts, other, codebook=cb)
    assert info["manual_codes"]["status"] == "not available"
    assert "none of the 1 coded post ids is in the posts table (e.g. x9)" in info["manual_codes"]["reason"]
    assert info["not_coded"]["has_poll"].startswith("its decisions are all for posts that are not")
    assert out["has_poll"].isna().all()
    _, info = merge_codes(posts, make_codes([("p1", "ann", "has_poll", "1")]), codebook=cb)
    assert info["manual_codes"] == {"status": "available", "reason": "", "coded": ["has_poll"],
                                    "defined_in_codebook": ["has_poll", "has_graphic"]}
    assert list(info["not_coded"]) == ["has_graphic"]
    _, info = merge_codes(posts, make_codes([]))
    assert info["manual_codes"]["reason"].startswith("the dataset has no manual coding files")


def test_a_codebook_pair_whose_manual_code_is_not_coded_yet_is_not_available_not_an_error():
    from workbench.coding import parse_codebook

    cb = parse_codebook({"codes": [{"name": "has_graphic", "type": "binary", "definition": "d",
                                    "automatic": "has_media"}]})
    posts = pd.DataFrame({"post_id": ["p1", "p2"], "has_media": pd.array([True, False], dtype="boolean")})
    (row,) = compare_manual_automatic(posts, cb).to_dict("records")
    assert row["n_compared"] == 0 and np.isnan(row["cohen_kappa"])
    assert row["note"] == "not available: no column 'has_graphic' in the coded posts (the code has no decisions yet)"


def test_ingest_says_when_a_spreadsheet_rounded_coder_file_ids(tmp_path):
    """Issue 11.15: ids Excel turned into scientific notation were skipped without a word in the log."""
    from workbench.ingest import read_files

    f = tmp_path / "ann.csv"
    f.write_text("post_id,coder,has_poll\n1.46571223005443E+18,ann,1\n1465712230054432769,ann,0\n",
                 encoding="utf-8")
    r = read_files([f], root=tmp_path)
    assert r.quarantine["reason"].str.contains("scientific notation").tolist() == [True]
    log = r.log["files"][0]
    text = " ".join(r.log["warnings"])
    assert "1 rows have a post_id in scientific notation (e.g. '1.46571223005443E+18')" in text
    assert log["rows_kept"] == 1


def test_four_simulated_coders_with_gaps_recover_the_known_kappa():
    """Truth yes with p = .3; each of four coders flips it with probability e = .1 and skips a post with
    probability .25. Two ratings agree with probability (1-e)^2 + e^2 = .82; a rating is yes with q = .34;
    chance agreement q^2 + (1-q)^2 = .5512, so Fleiss' kappa, every pair's Cohen's kappa and alpha -> .5989."""
    rng = np.random.default_rng(17)
    n, e = 3000, 0.1
    truth = (rng.random(n) < 0.3).astype(int)
    rows = []
    for coder in ("ann", "ben", "cat", "dan"):
        given = np.where(rng.random(n) < e, 1 - truth, truth)
        coded = rng.random(n) >= 0.25
        rows += [(f"p{i}", coder, str(given[i])) for i in np.flatnonzero(coded)]
    rel = compute_reliability(make_codes(rows), n_boot=100, seed=3).iloc[0]
    expected = (0.82 - 0.5512) / (1 - 0.5512)
    assert rel["n_coders"] == 4 and rel["fleiss_kappa_raters"] == 3  # most posts have 3 of 4 ratings
    assert rel["fleiss_kappa"] == pytest.approx(expected, abs=0.04)
    assert rel["krippendorff_alpha"] == pytest.approx(expected, abs=0.04)
    assert rel["cohen_kappa"] == pytest.approx(expected, abs=0.05)
    pairs = rel["pairwise_kappa"].split("; ")
    assert len(pairs) == 6
    for pair in pairs:
        assert float(pair.split(": ")[1].split(" ")[0]) == pytest.approx(expected, abs=0.06), pair
    assert rel["fleiss_kappa_ci_low"] < expected < rel["fleiss_kappa_ci_high"]
