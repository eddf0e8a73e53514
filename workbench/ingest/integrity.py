"""Checks every posts reader shares (run by :func:`workbench.ingest.x_legacy.finish_posts`), vectorized.

* **Post type** (``post_type`` ∈ original, reply, quote, repost; see :func:`classify_posts`): from the
  reader's ``is_repost`` / ``is_reply`` / ``is_quote`` fields and, for X, from the text: ``RT @user:`` at the
  start is a repost (old-style retweet copied into the export), a text starting with ``@`` a reply (set by
  the X readers), a link to ``twitter.com|x.com/<user>/status/<id>`` in the text a quote. Precedence:
  repost, then reply, then quote, else original. X exports shorten links to ``t.co``, so a quote is only
  seen when the status link is written out: the quote count on X is a lower bound.
* **Mojibake** (UTF-8 bytes decoded as Windows-1252 and saved again, ``ðŸ“©`` for 📩): rows whose text
  holds the tell-tale sequences are repaired with ``ftfy.fix_encoding``; a repair is kept only when ftfy's
  own badness score drops to 0 (so a correct ``Â£`` or ``Ã©`` written on purpose in a clean text is left
  alone). The count of repaired rows is a warning of the file.
* **Plausibility** (see :func:`plausibility`): impressions (Meta: Views) below reach are impossible — every
  person reached saw the post at least once. ``impressions == 0`` with ``reach > 0`` is Meta's "not
  measured" (Instagram Views start in 2024; a broken re-export): impressions become NA with a warning
  counting the rows. ``0 < impressions < reach`` is a contradiction: the row is quarantined with the reason.
  Engagements above impressions are possible (one viewer may click, expand and like) but rare, so they
  are only counted in a warning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Characters that UTF-8 lead bytes become when read as Windows-1252 (Ã Â â ð Å Æ Ð Ñ ...), followed by
#: a character a continuation byte becomes (0x80-0xBF in Windows-1252). A cheap vectorized pre-filter.
_MOJIBAKE = (r"[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
             r"\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")

_QUOTE_LINK = r"(?i)https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/[A-Za-z0-9_]+/status(?:es)?/\d+"
_RETWEET = r"^RT @[A-Za-z0-9_]+:?"

# The same three patterns for RE2 (``pyarrow.compute``), several times faster than ``re`` row by row:
# RE2 writes a code point as a literal character, not ``\uXXXX``, and Python's ``\d`` on text is any Unicode
# decimal digit, RE2's ``\p{Nd}``. tests/test_fastpath.py checks both give the same answers on random texts.
_MOJIBAKE_RE2 = ("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                 "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")
_QUOTE_LINK_RE2 = _QUOTE_LINK.replace("\\d", "\\p{Nd}")
_RETWEET_RE2 = _RETWEET


def _arrow_text(text: pd.Series):
    """``text`` as an Arrow string array, or None when it cannot be one (a lone surrogate, say).

    Arrow-backed text is taken as it is (no copy); other text goes through Python objects.
    """
    import pyarrow as pa

    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage.startswith("pyarrow"):
        from .common import arrow_chunks

        return arrow_chunks(text)  # its chunks as read: the kernels below take chunked input (no copy)
    try:
        arr = pa.array(text.astype(object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    return arr


def contains(text: pd.Series, pattern: str, pattern_re2: str, arrow=None) -> np.ndarray:
    """Rows of ``text`` where ``pattern`` matches somewhere (NA → False), by RE2 on Arrow; ``re`` as fallback."""
    if arrow is None:
        arrow = _arrow_text(text)
    if arrow is not None:
        import pyarrow.compute as pc

        hit = pc.match_substring_regex(arrow, pattern_re2)
        return pc.fill_null(hit, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return text.astype("string").str.contains(pattern, regex=True).to_numpy(dtype=bool, na_value=False)


def repair_mojibake(text: pd.Series) -> tuple[pd.Series, int, int]:
    """``text`` with mojibake repaired (see the module notes).

    Returns ``(text, rows repaired, rows that look like mojibake but were left as they are)``.
    """
    if text is None or not len(text):
        return text, 0, 0
    s = text if isinstance(text.dtype, pd.StringDtype) else text.astype("string")
    candidate = contains(s, _MOJIBAKE, _MOJIBAKE_RE2)  # ftfy below runs on these candidate rows only
    if not candidate.any():
        return text, 0, 0
    import ftfy
    from ftfy.badness import badness

    before = s[candidate].tolist()  # only the suspicious rows go through ftfy (a Python call per distinct text)
    fixes: dict[str, tuple[str, bool]] = {}
    for t in dict.fromkeys(before):
        bad_before = badness(t)
        fixed = ftfy.fix_encoding(t) if bad_before > 0 else t
        ok = fixed != t and badness(fixed) == 0
        fixes[t] = (fixed if ok else t, bad_before > 0 and not ok)
    after = [fixes[t][0] for t in before]
    unsure = sum(fixes[t][1] for t in before)
    changed = np.array([a != b for a, b in zip(after, before, strict=True)], dtype=bool)
    if not changed.any():
        return text, 0, unsure
    out = s.copy()
    idx = s.index[candidate][changed]
    out.loc[idx] = [a for a, c in zip(after, changed, strict=True) if c]
    return out, int(changed.sum()), unsure


def classify_posts(out: pd.DataFrame, platform_is_x: np.ndarray | None = None) -> pd.DataFrame:
    """Fill ``is_quote``, ``post_type`` (and ``is_repost`` for ``RT @`` texts on X); see the module notes."""
    n = len(out)
    if "text" in out:
        text = out["text"] if isinstance(out["text"].dtype, pd.StringDtype) else out["text"].astype("string")
    else:
        text = pd.Series(pd.NA, index=out.index, dtype="string")
    if platform_is_x is None:
        platform_is_x = (out["platform"] == "x").to_numpy(dtype=bool, na_value=False)

    def flag(name: str) -> np.ndarray:
        if name not in out:
            return np.zeros(n, dtype=bool)
        return pd.Series(out[name], index=out.index).astype("boolean").to_numpy(dtype=bool, na_value=False)

    arrow = _arrow_text(text) if platform_is_x.any() else None
    rt = platform_is_x & contains(text, _RETWEET, _RETWEET_RE2, arrow) if platform_is_x.any() else platform_is_x
    quote_link = (platform_is_x & contains(text, _QUOTE_LINK, _QUOTE_LINK_RE2, arrow) if platform_is_x.any()
                  else platform_is_x)
    repost = flag("is_repost") | rt
    reply = flag("is_reply")
    quote = flag("is_quote") | quote_link
    post_type = np.select([repost, reply, quote], [3, 1, 2], 0).astype(np.int8)
    out = out.copy(deep=False)  # columns are replaced below, never written into
    if rt.any():
        out["is_repost"] = pd.array(repost, dtype="boolean")
    if "is_quote" in out:
        known = pd.Series(out["is_quote"], index=out.index).astype("boolean")
        out["is_quote"] = known.mask(quote, True)
    else:
        out["is_quote"] = pd.array(quote, dtype="boolean")
    import pyarrow as pa

    names = pa.array(["original", "reply", "quote", "repost"], type=pa.large_string())
    out["post_type"] = pd.Series(pd.arrays.ArrowStringArray(names.take(pa.array(post_type))), index=out.index)
    return out


def plausibility(out: pd.DataFrame, reasons, *, source_file: str, rows: np.ndarray,
                 views: str = "impressions") -> tuple[pd.DataFrame, list[str]]:
    """Impossible metric combinations (see the module notes); returns ``(out, warnings)``."""
    warnings: list[str] = []
    if not {"impressions", "reach"} <= set(out.columns):
        return out, warnings
    imp = pd.Series(out["impressions"], index=out.index).astype("Int64")
    reach = pd.Series(out["reach"], index=out.index).astype("Int64")
    both = (imp.notna() & reach.notna()).to_numpy(dtype=bool)
    below = both & (imp < reach).to_numpy(dtype=bool, na_value=False)
    zero = below & (imp == 0).to_numpy(dtype=bool, na_value=False)
    contradiction = below & ~zero
    if zero.any():
        out = out.copy(deep=False)  # the column is replaced, never written into
        out["impressions"] = imp.mask(zero)
        shown = [int(x) for x in np.asarray(rows)[zero][:10]]
        warnings.append(f"{source_file}: {int(zero.sum())} row(s) with {views} 0 but reach > 0 (rows {shown}"
                        f"{' …' if zero.sum() > 10 else ''}): impossible (everyone reached saw the post), so "
                        f"{views} are read as not reported (NA) there, not 0")
    reasons.add(contradiction, lambda: (
        f"{views} " + imp.astype("string").fillna("") + " below reach " + reach.astype("string").fillna("")
        + " (impossible: every person reached saw the post at least once)"))
    if "engagements" in out.columns:
        eng = pd.Series(out["engagements"], index=out.index).astype("Int64")
        above = (eng > out["impressions"].astype("Int64")).to_numpy(dtype=bool, na_value=False) & ~reasons.bad
        if above.any():
            shown = [int(x) for x in np.asarray(rows)[above][:10]]
            warnings.append(f"{source_file}: {int(above.sum())} row(s) with more engagements than {views} (rows "
                            f"{shown}{' …' if above.sum() > 10 else ''}); possible (one viewer may engage "
                            "several times) but worth checking")
    return out, warnings
