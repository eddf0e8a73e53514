"""The fast paths (RE2 on Arrow, prefilters) give exactly what the slow, obvious code gives, on random texts.

Texts are built from the pieces real posts are made of (emoji, HTML entities, URLs and status links,
mentions, hashtags, mojibake, Unicode digits and case-folding oddities) plus arbitrary Unicode.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.ingest import integrity

PIECES = [
    "RT @user_1: ", "RT @a ", "rt @b: ", " RT @c:", "@someone ", "#hashtag", "#Ünïcode", "&amp;", "&lt;3", "&#128512;",
    "&nbsp;", "https://t.co/AbC123", "http://twitter.com/user/status/123", "https://x.com/u/statuses/٣٤٥",
    "HTTPS://WWW.TWITTER.COM/U_1/STATUS/9", "https://mobile.x.com/\u212aelvin/status/1", "https://x.com/ſam/status/7",
    "https://x.com/u/status/", "x.com/u/status/1", "📩", "ðŸ“©", "Ã©", "Â£", "â€™", "Ã", "é", "€", "\u0080", "\u00c2\u0080",
    "😀🏽", "👩‍🔬", " ", "\n", "\t", "word", "Wörd", "१२३", "status/١",
]


def _texts(rng: np.random.Generator, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.05:
            out.append(None)
            continue
        k = int(rng.integers(0, 8))
        out.append("".join(PIECES[int(i)] for i in rng.integers(0, len(PIECES), size=k)))
    return out


CASES = [
    (integrity._RETWEET, integrity._RETWEET_RE2),
    (integrity._QUOTE_LINK, integrity._QUOTE_LINK_RE2),
    (integrity._MOJIBAKE, integrity._MOJIBAKE_RE2),
]


def _slow(texts: list[str | None], pattern: str) -> np.ndarray:
    rx = re.compile(pattern)
    return np.array([t is not None and rx.search(t) is not None for t in texts], dtype=bool)


def test_re2_patterns_match_python_re_on_composed_texts():
    rng = np.random.default_rng(14)
    texts = _texts(rng, 5000)
    s = pd.Series(texts, dtype="string")
    for pattern, pattern_re2 in CASES:
        fast = integrity.contains(s, pattern, pattern_re2)
        assert fast.dtype == bool
        np.testing.assert_array_equal(fast, _slow(texts, pattern), err_msg=pattern)
        assert 0 < fast.sum() < len(texts)  # the pieces exercise both answers


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(PIECES), st.characters(
    blacklist_categories=("Cs",))), max_size=12).map("".join)), min_size=1, max_size=30))
def test_re2_patterns_match_python_re_on_any_text(texts):
    s = pd.Series(texts, dtype="string")
    for pattern, pattern_re2 in CASES:
        np.testing.assert_array_equal(integrity.contains(s, pattern, pattern_re2), _slow(texts, pattern))


def test_lone_surrogate_falls_back_to_python_re():
    texts = ["RT @a: x\ud800", "plain"]
    s = pd.Series(texts, dtype=object)
    np.testing.assert_array_equal(integrity.contains(s, integrity._RETWEET, integrity._RETWEET_RE2), [True, False])


def test_classify_posts_unchanged_by_the_fast_path(monkeypatch):
    rng = np.random.default_rng(7)
    texts = _texts(rng, 3000)
    frame = pd.DataFrame({"text": pd.Series(texts, dtype="string"),
                          "platform": np.where(rng.random(3000) < 0.8, "x", "facebook"),
                          "is_reply": pd.array(rng.random(3000) < 0.1, dtype="boolean")})
    fast = integrity.classify_posts(frame)
    monkeypatch.setattr(integrity, "_arrow_text", lambda text: None)  # the plain-`re` path
    slow = integrity.classify_posts(frame)
    pd.testing.assert_frame_equal(fast, slow)
    assert set(fast["post_type"]) >= {"original", "repost", "reply", "quote"}


def test_mojibake_repair_unchanged_by_the_fast_path(monkeypatch):
    rng = np.random.default_rng(3)
    s = pd.Series(_texts(rng, 2000), dtype="string")
    fast = integrity.repair_mojibake(s)
    monkeypatch.setattr(integrity, "_arrow_text", lambda text: None)
    slow = integrity.repair_mojibake(s)
    pd.testing.assert_series_equal(fast[0], slow[0])
    assert fast[1:] == slow[1:] and fast[1] > 0


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=40), st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.lists(st.sampled_from([b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xef\xbf\xbf",
                                           b"\xf0\x9f\x93\xa9", b"\xff", b"\xe2\x82", b"\xe0\x80\x80", b"a", b"\xc3\xa9"]),
                          max_size=6).map(b"".join)))
def test_utf8_check_agrees_with_python_decode(data):
    from workbench.ingest.rawcsv import is_utf8

    try:
        data.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    assert is_utf8(data) is expected


def test_code_features_unchanged_by_the_arrow_literal_scans(monkeypatch):
    from workbench import features

    rng = np.random.default_rng(11)
    n = 3000
    extra = ["🧵", "1/ ", "(2/5)", " 3/4", "？", "?", "＃tag", "＠who", "example.org/x", "doi.org/10.1/x", "doi:10.5/y",
             "a@b.com", "Sign up", "join us", "#VoteNow", "@join", "https://nejm.org/a?b=1", "24/7", "…"]
    pieces = PIECES + extra
    texts = []
    for _ in range(n):
        k = int(rng.integers(0, 9))
        texts.append(None if rng.random() < 0.03 else
                     " ".join(pieces[int(i)] for i in rng.integers(0, len(pieces), size=k)))
    posts = pd.DataFrame({
        "published_at": pd.to_datetime(rng.integers(1.5e9, 1.7e9, n), unit="s", utc=True),
        "text": pd.Series(texts, dtype="string"),
        "media_views": pd.array(np.where(rng.random(n) < 0.3, rng.integers(0, 5, n), pd.NA), dtype="Int64"),
        "impressions": pd.array(rng.integers(0, 1000, n), dtype="Int64"),
        "engagements": pd.array(rng.integers(0, 50, n), dtype="Int64"),
    })
    fast = features.code_features(posts, timezone="America/New_York", research_domains=["nejm.org"])
    assert not features._ARROW_CACHE  # nothing held after the call
    monkeypatch.setattr(features, "_arrow_of", lambda text: None)  # the pandas .str path
    slow = features.code_features(posts, timezone="America/New_York", research_domains=["nejm.org"])
    pd.testing.assert_frame_equal(fast, slow)
    for col in ("has_url", "is_question", "has_thread_marker", "has_research_link", "has_call_to_action"):
        assert 0 < fast[col].fillna(False).sum() < n, col
