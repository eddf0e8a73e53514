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
