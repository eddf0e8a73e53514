"""Privacy-risky replies (workbench.privacy)."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.privacy import CAUTION, LEXICON, flag_privacy_risk, formula_safe, write_privacy_review

TEXTS = {
    "a": ("@ann We're sorry about your experience at our clinic. Please DM us.", True),
    "b": ("@bob Your care team will call you tomorrow.", True),
    "c": ("@cy Thanks for sharing the paper!", False),
    "d": ("@dee We look forward to your next appointment.", True),
    "e": ("@eve When you were admitted last week we noted the delay.", True),
    "f": ("@fay Great question: the trial enrols children under 5.", False),
    "g": ("@gus Hope your symptoms settle; our records show you were seen on Monday.", True),
    "h": ("@hal Visit our website for open-day times.", False),
}


def _posts(**over):
    df = pd.DataFrame({"post_id": list(TEXTS), "platform": "facebook", "account": "clinic",
                       "published_at": pd.Timestamp("2024-02-01", tz="UTC"), "permalink": "https://fb.com/x",
                       "text": [t for t, _ in TEXTS.values()], "is_reply": True, "is_own_post": True})
    for k, v in over.items():
        df[k] = v
    return df


def test_lexicon_flags_the_risky_replies_only():
    r = flag_privacy_risk(_posts())
    assert set(r["post_id"]) == {k for k, (_, risky) in TEXTS.items() if risky}
    cats = r.set_index("post_id")["categories"]
    assert cats["a"] == "care_experience" and cats["b"] == "patient_relationship"
    assert "clinical_detail" in cats["g"] and "patient_relationship" in cats["g"]
    assert r.attrs["n_replies_screened"] == len(TEXTS)
    assert set(LEXICON) == {"patient_relationship", "care_experience", "clinical_detail"}


def test_only_own_replies_are_screened():
    p = _posts(is_reply=[True, False] * 4)
    assert set(flag_privacy_risk(p)["post_id"]) == {"a", "e", "g"}  # a, c, e, g are replies
    p = _posts(is_own_post=False)
    assert flag_privacy_risk(p).empty
    p = _posts(is_reply=pd.NA, post_type=["reply"] * 4 + ["original"] * 4)
    assert set(flag_privacy_risk(p)["post_id"]) == {"a", "b", "d"}


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_safe_csv(tmp_path, prefix):
    df = pd.DataFrame({"text": [f"{prefix}HYPERLINK(\"x\")", "plain"], "n": [1, 2]})
    safe = formula_safe(df)
    assert safe["text"].tolist() == [f"'{prefix}HYPERLINK(\"x\")", "plain"]
    path = write_privacy_review(flag_privacy_risk(_posts()), tmp_path / "results" / "privacy_review.csv")
    back = pd.read_csv(path, dtype=str)
    assert back["text"].str.startswith("'@").all()  # replies start with @: neutralised
    assert "not thereby compliant" in CAUTION and "HIPAA" in CAUTION


def test_vectorized_on_many_rows():
    big = pd.concat([_posts()] * 5000, ignore_index=True)
    big["post_id"] = big.index.astype(str)
    r = flag_privacy_risk(big)
    assert len(r) == 5 * 5000


def _reference_flags(posts: pd.DataFrame) -> pd.DataFrame:
    """The implementation before the RE2 screen: Python's re (pandas' extract) on every own reply."""
    import re

    import numpy as np

    from workbench.privacy import _compiled

    reply = posts["is_reply"].astype("boolean")
    own = posts["is_own_post"].astype("boolean").fillna(True)
    sub = posts.loc[(reply.fillna(False) & own).to_numpy(dtype=bool)]
    text = sub["text"].astype("string").fillna("")
    cats = pd.Series("", index=sub.index, dtype=object)
    matched = pd.Series("", index=sub.index, dtype=object)
    any_hit = np.zeros(len(sub), dtype=bool)
    for cat, rx in _compiled().items():
        found = text.str.extract(f"({rx.pattern})", flags=re.IGNORECASE)[0]
        hit = found.notna().to_numpy()
        if hit.any():
            any_hit |= hit
            cats[hit] = np.where(cats[hit] == "", cat, cats[hit] + "; " + cat)
            phrase = found[hit].astype(str)
            matched[hit] = np.where(matched[hit] == "", phrase, matched[hit] + "; " + phrase)
    return pd.DataFrame({"categories": cats[any_hit].to_numpy(), "matched": matched[any_hit].to_numpy(),
                         "text": sub.loc[any_hit, "text"].astype("string").to_numpy()})


@pytest.mark.parametrize("seed", range(4))
def test_re2_screen_flags_exactly_what_pythons_re_flags(seed):
    """Case variants Python folds specially (ſ, K, ı, İ, µ), word boundaries next to accents, digits, underscores,
    combining marks and emoji, line breaks: the RE2 screen must never drop a reply Python's re flags."""
    import numpy as np

    rng = np.random.default_rng(seed)
    phrases = ["your visit", "your care team", "as our patient", "sorry about your experience", "your symptoms",
               "contact us today about your case", "we're glad you're recovering", "your x-ray", "your blood test",
               "our records show that you", "when you were admitted", "your recent appointment", "your mri"]
    swaps = {"s": ["S", "ſ"], "k": ["K", "\u212a"], "i": ["I", "ı", "İ"], "u": ["U", "µ"], "y": ["Y"], "r": ["R"],
             " ": ["  ", "\n", "\u00a0"], "e": ["E", "é"], "a": ["A"], "o": ["O"]}
    edges = ["", " ", "é", "_", "1", "\u0301", "😀", ".", "ß", "\n", "x"]
    texts = []
    for _ in range(3000):
        p = phrases[int(rng.integers(len(phrases)))]
        chars = [rng.choice(swaps[c]) if c in swaps and rng.random() < 0.15 else c for c in p]
        texts.append(str(rng.choice(edges)) + "".join(chars) + str(rng.choice(edges)))
    texts += [None, "", "\ud800 your visit"[1:]]
    posts = pd.DataFrame({"post_id": [str(i) for i in range(len(texts))], "platform": "x", "account": "a",
                          "published_at": pd.Timestamp("2024-01-01", tz="UTC"), "permalink": "https://x.com/a",
                          "text": pd.Series(texts, dtype="string"), "is_reply": True, "is_own_post": True})
    ref, got = _reference_flags(posts), flag_privacy_risk(posts)
    assert len(ref) > 100 and len(ref) < len(posts)
    assert got["categories"].tolist() == ref["categories"].tolist()
    assert got["matched"].tolist() == ref["matched"].tolist()
    assert got["text"].tolist() == ref["text"].tolist()
