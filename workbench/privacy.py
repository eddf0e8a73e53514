"""Privacy-risky replies: the account's own replies that may acknowledge a patient relationship or discuss care.

A guide on answering negative posts warns that a public reply can disclose protected health information —
even acknowledging that someone is a patient (in the US, under HIPAA; "we're sorry about your visit" confirms
a visit). This module flags the account's **own replies** whose text matches a documented lexicon
(:data:`LEXICON`: category → regular expressions, case-insensitive, whole words), so that an analyst can
review them. It is a screening aid for a person, not a classifier: it misses paraphrases and flags harmless
replies, it is never shown in the leadership report, and a reply it does not flag is **not** thereby
compliant with HIPAA or any other law. Matching is vectorized: RE2 (Arrow) finds the replies that can match
a category, Python's ``re`` (Unicode word boundaries) decides on those only.

:func:`write_privacy_review` writes ``results/privacy_review.csv`` for the analyst, formula-safe: a cell that
starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with ``'`` so a spreadsheet does not
run it (OWASP, "CSV Injection").
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .io import write_text

#: category → patterns. Each pattern is a regular expression matched case-insensitively on word boundaries.
LEXICON: dict[str, tuple[str, ...]] = {
    # a reply that confirms the person was or is a patient or client
    "patient_relationship": (
        r"your (?:recent |last |next )?(?:visit|appointment|appt|stay|admission|discharge|procedure|surgery|"
        r"treatment|consultation|consult|check-?up|exam|test results?|results|diagnosis|prescription|"
        r"medication|care plan|bill|invoice|claim|chart|medical records?|records?)",
        r"your (?:care team|doctor|physician|provider|nurse|surgeon|therapist|clinician|specialist|"
        r"care coordinator|case manager)",
        r"(?:when|while) you (?:were|are) (?:here|in our care|admitted|seen|treated|our patient)",
        r"as (?:our|a) patient", r"our patient", r"(?:you|your (?:child|son|daughter|mother|father|family "
        r"member|loved one)) (?:was|were|is|are) (?:seen|treated|admitted|discharged)",
        r"(?:we|our (?:team|staff|records?)) (?:show|shows|see|saw|have|has) (?:that )?you",
        r"(?:looked|look|looking) (?:into|at) your (?:account|case|file|chart|records?)",
    ),
    # an apology or reply about a specific care experience at a named place
    "care_experience": (
        r"(?:sorry|apologi[sz]e) (?:about|for|to hear about) your (?:experience|visit|stay|care|wait|treatment)",
        r"(?:sorry|apologi[sz]e) (?:about|for) (?:the|your) experience (?:at|in|with) (?:our|the)",
        r"your experience (?:at|in|with) our (?:clinic|hospital|office|practice|emergency|er|ed|unit|center|centre)",
        r"we(?:'re| are) (?:sorry|glad) (?:that )?(?:your|you(?:'re| are)) (?:recovering|feeling better|doing well)",
    ),
    # specific clinical content in a reply
    "clinical_detail": (
        r"your (?:condition|symptoms?|pain|diagnosis|scan|mri|x-?ray|blood (?:work|test)|lab(?:s| results)?|"
        r"biopsy|pregnancy|therapy|dose|dosage)",
        r"(?:reach|contact|call|message|dm) (?:us|our (?:office|clinic|patient)) .{0,40}"
        r"(?:about|regarding) your (?:care|visit|case|treatment|account)",
    ),
}

#: a cell starting with one of these is prefixed with ``'`` in the CSV (spreadsheet formula injection)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
REVIEW_COLUMNS = ("post_id", "platform", "account", "published_at", "permalink", "categories", "matched",
                  "text")
CAUTION = ("Replies flagged by a word list for a person to review: a public reply that acknowledges that someone "
           "is a patient, or discusses their care, can disclose protected health information (HIPAA in the US). "
           "The list misses paraphrases and flags harmless replies; an unflagged reply is not thereby compliant, "
           "and this file is no statement of compliance. Not part of the leadership report.")


def _compiled() -> dict[str, re.Pattern]:
    return {cat: re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in pats) + r")\b", re.IGNORECASE)
            for cat, pats in LEXICON.items()}


def _re2_folds(pattern: str) -> str:
    """``pattern`` for RE2 with Python's extra case folds: Python's ``re.IGNORECASE`` also matches i with ı and
    İ, which RE2 does not (ſ ~ s and K ~ k both fold alike). Escapes are copied as they are."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        if c in "iI":
            out.append("iIıİ" if in_class else "[iIıİ]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _candidates(text: pd.Series) -> dict[str, np.ndarray] | None:
    """Per category, the texts that can match it: its pattern without the word boundaries, case-insensitive,
    run by RE2 on Arrow (a superset of Python's matches: ``\\b`` only removes matches, and RE2 folds case by
    the same Unicode rules). None when the texts cannot be held by Arrow (a lone surrogate)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
            arr = pa.array(text.array)  # Arrow-backed text as it is (the same strings, no Python objects)
        else:
            arr = pa.array(text.astype(object).to_numpy(), type=pa.large_string(), from_pandas=True)
        return {cat: pc.fill_null(pc.match_substring_regex(arr, "|".join(f"(?:{_re2_folds(p)})" for p in pats),
                                                           ignore_case=True), False).to_numpy(zero_copy_only=False)
                for cat, pats in LEXICON.items()}
    except (ImportError, TypeError, ValueError, UnicodeError, ArithmeticError):
        return None
    except Exception as exc:  # noqa: BLE001 - pyarrow's own errors (ArrowInvalid is a ValueError; others)
        if type(exc).__module__.startswith("pyarrow"):
            return None
        raise


def flag_privacy_risk(posts: pd.DataFrame) -> pd.DataFrame:
    """The account's own replies that match the lexicon, one row each (``REVIEW_COLUMNS``).

    Own replies: ``is_reply`` True (``post_type == "reply"`` where ``is_reply`` is NA) and not a collab post
    by another account (``is_own_post`` False). ``categories`` lists the lexicon categories matched,
    ``matched`` the first matching phrase of each (``; ``-separated).
    """
    if posts.empty or "text" not in posts:
        return pd.DataFrame(columns=list(REVIEW_COLUMNS))
    reply = posts["is_reply"].astype("boolean") if "is_reply" in posts else pd.Series(pd.NA, index=posts.index,
                                                                                       dtype="boolean")
    if "post_type" in posts:
        reply = reply.fillna(posts["post_type"].astype("string") == "reply")
    own = (posts["is_own_post"].astype("boolean").fillna(True) if "is_own_post" in posts
           else pd.Series(True, index=posts.index))
    mask = (reply.fillna(False) & own).to_numpy(dtype=bool)
    # only the columns the review shows, only the own replies (not every column of a million posts)
    sub = posts.loc[mask, [c for c in ("post_id", "platform", "account", "published_at", "permalink", "text")
                           if c in posts]]
    raw = sub["text"]

    def text(rows: np.ndarray | None = None) -> pd.Series:
        """The texts (of ``rows``) as pandas strings for Python's re: only the candidates are converted."""
        return (raw if rows is None else raw[rows]).astype("string").fillna("")

    cats = pd.Series("", index=sub.index, dtype=object)
    matched = pd.Series("", index=sub.index, dtype=object)
    any_hit = np.zeros(len(sub), dtype=bool)
    candidates = _candidates(sub["text"])
    for cat, rx in _compiled().items():
        found = pd.Series(np.nan, index=sub.index, dtype=object)
        rows = candidates.get(cat) if candidates is not None else None
        if rows is None:  # Arrow could not screen the texts: Python's re on every reply
            found = text().str.extract(f"({rx.pattern})", flags=re.IGNORECASE)[0]
        elif rows.any():  # Python's re (Unicode word boundaries) only on the replies RE2 found a candidate in
            found[rows] = text(rows).str.extract(f"({rx.pattern})", flags=re.IGNORECASE)[0]
        hit = found.notna().to_numpy()
        if not hit.any():
            continue
        any_hit |= hit
        cats[hit] = np.where(cats[hit] == "", cat, cats[hit] + "; " + cat)
        phrase = found[hit].astype(str)
        matched[hit] = np.where(matched[hit] == "", phrase, matched[hit] + "; " + phrase)
    out = sub.loc[any_hit]
    review = pd.DataFrame({
        "post_id": out["post_id"].astype("string"),
        "platform": out["platform"].astype("string") if "platform" in out else pd.NA,
        "account": out["account"].astype("string") if "account" in out else pd.NA,
        "published_at": out["published_at"] if "published_at" in out else pd.NaT,
        "permalink": out["permalink"].astype("string") if "permalink" in out else pd.NA,
        "categories": cats[any_hit].to_numpy(),
        "matched": matched[any_hit].to_numpy(),
        "text": out["text"].astype("string"),
    })
    review.attrs["n_replies_screened"] = int(mask.sum())
    return review.reset_index(drop=True)


def formula_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot start a spreadsheet formula (prefixed with ``'`` when they would)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col].astype("string")
            risky = s.str.startswith(FORMULA_PREFIXES).fillna(False)
            out[col] = s.mask(risky, "'" + s)
    return out


def write_privacy_review(review: pd.DataFrame, path: str | Path) -> Path:
    """Write the review table as formula-safe CSV (UTF-8, atomic). Show :data:`CAUTION` beside it."""
    return write_text(path, formula_safe(review).to_csv(index=False))
