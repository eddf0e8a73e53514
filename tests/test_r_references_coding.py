"""workbench.coding.compute_reliability against R (tests/results/coding/make_reference.R).

Cohen's kappa of every coder pair, the reported pair, Fleiss' kappa on the posts with the most common number of
ratings, Krippendorff's nominal alpha and percent agreement, on codes with mixed binary spellings, partial
overlap (2–4 raters per post), a rare level and an adjudicator. irr is not packaged in Debian, so the R script
writes out irr::kappa2 / kappam.fleiss's formulas. R is not needed to run this test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from workbench.coding import MIN_POSTS, compute_reliability

DIR = Path(__file__).resolve().parent / "results" / "coding"
RTOL = 1e-10


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return compute_reliability(pd.read_csv(DIR / "codes.csv", dtype=str), n_boot=0).set_index("code")


def test_inputs_are_what_make_data_writes():
    spec = importlib.util.spec_from_file_location("coding_make_data", DIR / "make_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pd.testing.assert_frame_equal(pd.read_csv(DIR / "codes.csv", dtype=str), mod.make_codes().astype(str))


@pytest.mark.parametrize("code", ["has_cta", "tone", "topic", "sarcasm"])
def test_kappas_match_r(result, code):
    ref = pd.read_csv(DIR / "ref_kappa.csv", encoding="utf-8").set_index("code").loc[code]
    got = result.loc[code]
    for key in ("n_overlap", "cohen_kappa_n", "fleiss_kappa_raters", "fleiss_kappa_n"):
        assert got[key] == ref[key], key
    assert got["cohen_kappa_pair"] == ref["cohen_kappa_pair"]
    for key in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "percent_agreement"):
        assert got[key] == pytest.approx(ref[key], rel=RTOL, abs=1e-12), key


def test_every_pair_matches_r(result):
    pairs = pd.read_csv(DIR / "ref_pairs.csv", encoding="utf-8")
    assert len(pairs) == 13
    for code, g in pairs.groupby("code"):
        listed = result.loc[code, "pairwise_kappa"]
        for r in g.itertuples(index=False):
            text = (f"{r.pair}: too few shared posts (n={r.n})" if r.n < MIN_POSTS
                    else f"{r.pair}: {r.kappa:.2f} (n={r.n})")
            assert text in listed, (code, text, listed)


def test_reference_covers_the_selection_rules():
    ref = pd.read_csv(DIR / "ref_kappa.csv", encoding="utf-8").set_index("code")
    assert (ref["fleiss_kappa_n"] < ref["n_overlap"]).any()  # Fleiss on a subset (most common rating count)
    assert ref.loc["topic", "cohen_kappa_pair"] != "ann × bo"  # the pair sharing the most posts, not the first
    assert set(ref["fleiss_kappa_raters"]) == {2, 3}
