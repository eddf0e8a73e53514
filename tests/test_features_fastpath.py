"""The Arrow/RE2 path of code_features gives exactly the columns of the reference path (Python's re)."""

from __future__ import annotations

import glob

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import features
from workbench.textscan import CharSet

FIXTURES = REPO.parent / "shared" / "fixtures"

# Pieces that meet at every look-around and character class the patterns use.
FRAGMENTS = [
    "http://", "https://", "HTTP://", "hTtPs://", "https://t.co/AbC123", "http://t.co/x", "t.co/x",
    "www.", "www.example.co.uk", "example.org", "example.org/x", "doi.org/10.1/abc", "dx.doi.org", ".com",
    ".co", ".uk/", "node.js", "e.g.", "x.ai", "a-b.org", "-", ".", "/", ":", "//", "jane@doi.org",
    "first.last@uni.edu", "doi:10.1234/x", "DOI: 10.12345/x", "notdoi.org", "pubmed.ncbi.nlm.nih.gov",
    "#", "＃", "#1", "#a", "#_x", "#tag", "#中文", "#ハッシュ", "#١٢", "#é", "C#", "&#39;", "&", "##",
    "@", "＠", "@a", "@user_name", "@abcdefghijklmnop", "@abcdefghijklmno", "@é", "x@y", "!@", "*@",
    "RT @x: ", "RT ", "?", "？", "🧵", "1/", "2/5", "(1/n)", "[2/5]", "12/", "1/2 cup", "24/7", "1/n",
    "٣/", "(", ")", "[", "]", "'", "…", "!", ",", ";", '"', "<", ">",
    " ", "  ", "\n", "\t", "\x0b", "\x1c", "\x85", "\xa0", "\u3000", "\u2028", "\x00", "\x01",
    "a", "Z", "1", "_", "é", "ı", "İ", "ſ", "K", "k", "½", "²", "Ⅻ", "٣", "中", "ß",
    "👨\u200d👩\u200d👧", "👍🏽", "🇫🇷", "1️⃣", "#️⃣", "*⃣", "❤️", "❤", "\u200d", "\ufe0f", "🏽", "🇫", "😀😀",
    "read", "Read more", "sign-up", "sign  up", "signup", "#VoteNow", "@join", "learn more", "check out",
    "https://twitter.com/u/status/123", "https://x.com/u/status/1 ", "https://bsky.app/profile/a.b/post/3k",
    "nejm.org", "NEJM.org/doi/x",
]


def _posts(texts, media) -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame(
        {
            "post_id": [str(i) for i in range(n)],
            "published_at": pd.date_range("2024-03-30", periods=n, freq="7h", tz="UTC"),
            "text": pd.array(texts, dtype="string"),
            "media_views": pd.array(media, dtype="Int64"),
            "impressions": pd.array(np.arange(n) % 7, dtype="Int64"),
            "engagements": pd.array(np.arange(n) % 3, dtype="Int64"),
        }
    )


def _assert_same(posts: pd.DataFrame, **kwargs) -> pd.DataFrame:
    kwargs = {"account": None, "timezone": "Europe/Berlin", "research_domains": ("nejm.org",), **kwargs}
    ref = features._code_features(posts, reference=True, **kwargs)
    fast = features.code_features(posts, **kwargs)
    assert list(fast.columns) == list(ref.columns)
    for column in ref.columns:
        if column == "text":
            continue
        a, b = fast[column], ref[column]
        assert a.dtype == b.dtype, column
        same = (a.isna() == b.isna()) & ((a == b).fillna(False) | a.isna())
        bad = ~same.to_numpy(dtype=bool)
        assert not bad.any(), (column, posts["text"][bad].tolist()[:5], a[bad].tolist()[:5], b[bad].tolist()[:5])
    return fast


def test_fast_path_equals_reference_on_adversarial_fragments():
    texts = list(FRAGMENTS)
    # every fragment glued to every other on both sides (look-behinds and look-aheads meet here)
    texts += [a + b for a in FRAGMENTS for b in ("#x", "@x", "http://a.b/c", "a.org/x", " ", "é", "🧵", "1/5")]
    texts += [b + a for a in FRAGMENTS for b in ("x", "@", "#", "/", " ", "é", "_", "(1")]
    texts += [" ".join(FRAGMENTS[i::7]) for i in range(7)]
    texts += [None, "", " ", "\x00"]
    rng = np.random.default_rng(3)
    media = np.where(rng.random(len(texts)) < 0.4, 5, np.where(rng.random(len(texts)) < 0.5, 0, -1))
    _assert_same(_posts(texts, [int(m) if m >= 0 else None for m in media]))


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_fast_path_in_slices_of_posts_equals_reference(monkeypatch, chunk):
    """The text passes run over slices of TEXT_CHUNK posts; slice edges anywhere change no value."""
    monkeypatch.setattr(features, "TEXT_CHUNK", chunk)
    texts = [a + b for a in FRAGMENTS for b in ("#x", "@x ", "http://a.b/c", "é🧵", " 1/5")] + [None, "", "\x00"]
    rng = np.random.default_rng(chunk)
    media = np.where(rng.random(len(texts)) < 0.5, 5, 0)
    fast = _assert_same(_posts(texts, [int(m) for m in media]))
    monkeypatch.setattr(features, "TEXT_CHUNK", len(texts) + 1)  # one slice
    whole = features.code_features(_posts(texts, [int(m) for m in media]), account=None, timezone="Europe/Berlin",
                                   research_domains=("nejm.org",))
    pd.testing.assert_frame_equal(fast, whole)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
            st.text(max_size=20),  # any code point (hypothesis leaves surrogates out of st.text)
        ),
        min_size=1,
        max_size=25,
    ),
    st.booleans(),
)
def test_fast_path_equals_reference_on_generated_text(texts, media):
    _assert_same(_posts(texts, [5 if media else 0] * len(texts)))


@pytest.mark.parametrize("dtype", ["object", "string[python]", "string[pyarrow]", pd.ArrowDtype(pa.string()),
                                   pd.ArrowDtype(pa.large_string())])
def test_text_of_any_string_dtype_gives_the_same_columns(dtype):
    texts = ["Read #this @you https://t.co/x", None, "é 👍🏽 1/ (1/n)", "mail jane@doi.org C#"]
    posts = _posts(texts, [5, 0, None, 1])
    posts["text"] = posts["text"].astype(object).where(posts["text"].notna(), None).astype(dtype)
    before = posts.copy(deep=True)
    fast = _assert_same(posts)
    pd.testing.assert_frame_equal(posts, before)  # the input frame is not changed
    assert fast["text"].dtype == posts["text"].dtype  # the text column passes through as it came
    assert fast["n_hashtags"].tolist() == [1, pd.NA, 0, 0]


def test_text_that_is_not_unicode_is_a_clear_error():
    posts = _posts(["ok #a", "lone \ud800 surrogate #b @c"], [0, 0])
    with pytest.raises(features.InputError, match=r"text of row 2 .*not valid Unicode"):
        features.code_features(posts)


def test_charset_is_exactly_pythons_class():
    word = CharSet.of_python(r"[\w]")
    inside = {cp for lo, hi in word.ranges for cp in range(lo, hi + 1)}
    assert inside == {cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and (chr(cp).isalnum() or cp == 95)}
    letters = word - CharSet.of_python(r"[\d]") - CharSet.of("_")
    assert ("²", "½", "a") == tuple(c for c in "²½a1_" if any(lo <= ord(c) <= hi for lo, hi in letters.ranges))
    assert (~~word).ranges == word.ranges


@pytest.mark.skipif(not FIXTURES.exists(), reason="real export fixtures not present")
def test_fast_path_equals_reference_on_real_export_texts():
    texts = []
    for path in glob.glob(str(FIXTURES / "exports" / "*" / "*.csv")):
        try:
            frame = pd.read_csv(path, dtype=str)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
            continue
        for column in frame.columns:
            if column.lower() in ("tweet text", "post text", "text", "description", "message", "title"):
                texts += frame[column].tolist()
    assert len(texts) > 100
    _assert_same(_posts(texts, [5 if i % 3 == 0 else 0 for i in range(len(texts))]))


def _post_types_reference(posts: pd.DataFrame):
    """features.post_types before issue 14 (a string Series filled row set by row set), kept as the reference."""
    from workbench.features import _QUOTE_URL_RE, _RT_RE, POST_TYPES, _arrow_contains

    n = len(posts)
    kind = pd.Series(pd.array([pd.NA] * n, dtype="string"), index=posts.index)
    source = kind.copy()

    def fill(rows: np.ndarray, value: str, where: str) -> None:
        rows = rows & kind.isna().to_numpy()
        kind[rows] = value
        source[rows] = where

    if "post_type" in posts.columns:
        given = posts["post_type"].astype("string").str.strip().str.lower()
        ok = given.isin(POST_TYPES).fillna(False).to_numpy(dtype=bool)
        kind[ok] = given[ok]
        source[ok] = "post_type"
    for column, value in (("is_repost", "repost"), ("is_reply", "reply")):
        if column in posts.columns:
            flag = posts[column].astype("boolean").fillna(False).to_numpy(dtype=bool)
            fill(flag, value, column)
    rest = kind.isna().to_numpy()
    if "text" in posts.columns and rest.any():  # the text rules, only where nothing else said (RE2 via Arrow)
        text = posts["text"].astype("string")[rest]
        for pattern, value in ((_RT_RE, "repost"), (_QUOTE_URL_RE, "quote")):
            found = np.zeros(n, dtype=bool)
            found[rest] = _arrow_contains(text, pattern).fillna(False).to_numpy(dtype=bool)
            fill(found, value, "text")
    rest = kind.isna().to_numpy()
    kind[rest] = "original"
    source[rest] = "default"
    return kind.rename("post_type"), source.rename("post_type_source")


@pytest.mark.parametrize("categorical", [False, True])
def test_post_types_equal_the_reference(categorical):
    rng = np.random.default_rng(7)
    n = 400
    given = [None, "reply", " Quote ", "REPOST", "original", "status", "", "retweet"]
    texts = [None, "RT @a: x", "rt  @b hi", " RT @_", "RT@a", "x https://twitter.com/u/status/12 ",
             "https://x.com/u/statuses/9?s=1", "see https://bsky.app/profile/a.b/post/3k", "plain", "RT @é"]
    flags = [True, False, None]
    posts = pd.DataFrame({
        "text": pd.array([texts[i] for i in rng.integers(0, len(texts), n)], dtype="string"),
        "post_type": pd.array([given[i] for i in rng.integers(0, len(given), n)], dtype="string"),
        "is_repost": pd.array([flags[i] for i in rng.integers(0, 3, n)], dtype="boolean"),
        "is_reply": pd.array([flags[i] for i in rng.integers(0, 3, n)], dtype="boolean"),
    })
    if categorical:
        posts["post_type"] = posts["post_type"].astype("category")
    for columns in (list(posts.columns), ["text", "is_reply"], ["text"], ["post_type"]):
        frame = posts[columns]
        for got, want in zip(features.post_types(frame), _post_types_reference(frame), strict=True):
            pd.testing.assert_series_equal(got, want)


def test_read_parquet_keeps_string_columns_in_arrow_and_the_rest_as_pandas_reads_them(tmp_path):
    from workbench.io import write_parquet
    from workbench.results import read_parquet

    frame = pd.DataFrame({
        "post_id": pd.array(["1", None, "3"], dtype="string"),
        "text": pd.array(["é #a", "", None], dtype="string[pyarrow]"),
        "obj": ["x", None, "z"],  # object columns stay object (None, not NA)
        "n": pd.array([1, None, 3], dtype="Int64"),
        "flag": pd.array([True, None, False], dtype="boolean"),
        "platform": pd.Categorical(["x", "x", None]),
        "published_at": pd.date_range("2024-01-01", periods=3, tz="UTC"),
    })
    path = tmp_path / "posts.parquet"
    write_parquet(path, frame)
    got, want = read_parquet(path), pd.read_parquet(path)
    assert list(got.columns) == list(want.columns) and got.index.equals(want.index)
    for column in ("post_id", "text"):
        assert got[column].dtype == pd.StringDtype("pyarrow")
        pd.testing.assert_series_equal(got[column].astype(object), want[column].astype(object))
    pd.testing.assert_frame_equal(got.drop(columns=["post_id", "text"]), want.drop(columns=["post_id", "text"]))


@pytest.mark.parametrize("rows", [0, 1, 257])
def test_read_parquet_by_column_groups_equals_reading_the_table_whole(tmp_path, rows):
    """The grouped reader (a few columns decoded at a time) gives the frame of one whole-table read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench import results
    from workbench.io import write_parquet

    rng = np.random.default_rng(rows)
    texts = np.array(["é #a", "", "x\U0001F9F5 1/5", "https://t.co/abc"], dtype=object)
    frame = pd.DataFrame({
        "post_id": pd.array(rng.integers(0, 10**12, rows).astype(str), dtype="string"),
        "text": pd.array(np.where(rng.random(rows) < 0.2, None, texts[rng.integers(0, 4, rows)]), dtype="string"),
        "obj": np.where(rng.random(rows) < 0.3, None, "z").astype(object),
        "platform": pd.Categorical(rng.choice(["x", "bluesky"], rows)),
        "media_type": pd.Categorical([None] * rows, categories=["photo"]),
        "published_at": pd.Series(pd.to_datetime(rng.integers(0, 2 * 10**18, rows), utc=True)),
        "month": pd.Series(pd.to_datetime(rng.integers(0, 2 * 10**18, rows))).astype("datetime64[ns]"),
        "plain": rng.normal(size=rows),
        "followers_at_post": pd.array(np.where(rng.random(rows) < 0.1, None, rng.normal(size=rows)), dtype="Float64"),
        **{f"n_{i}": pd.array(np.where(rng.random(rows) < 0.1, None, rng.integers(0, 9, rows)), dtype="Int64")
           for i in range(11)},
        **{f"has_{i}": pd.array(np.where(rng.random(rows) < 0.1, None, rng.random(rows) < 0.5), dtype="boolean")
           for i in range(5)},
        "post_type": pd.array(rng.choice(["original", "reply"], rows), dtype="string"),
    })
    path = tmp_path / "posts_coded.parquet"
    write_parquet(path, frame)
    meta = pq.read_schema(path).pandas_metadata
    assert len(frame.columns) > 2 * results._READ_GROUP  # several groups, the last one partial

    def whole(columns=None):
        return results._read_parquet_whole(pq.read_table(path, columns=columns), meta)

    for columns in (None, ["text"], ["n_3", "text", "platform", "has_0", "post_id"], list(frame.columns)[::-1]):
        got, want = results.read_parquet(path, columns=columns), whole(columns)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert list(got.columns) == (columns or list(frame.columns))
        for name in ("post_id", "text", "post_type"):
            if name in got.columns:
                assert got[name].dtype == pd.StringDtype("pyarrow")
                assert pa.types.is_large_string(got[name].array._pa_array.type)
    # the same values pandas reads (its strings as Python objects)
    got, want = results.read_parquet(path), pd.read_parquet(path)
    strings = ["post_id", "text", "post_type"]
    pd.testing.assert_frame_equal(got.drop(columns=strings), want.drop(columns=strings), check_exact=True)
    for name in strings:
        pd.testing.assert_series_equal(got[name].astype(object), want[name].astype(object))
    # a file that stores its index, and a column the file lacks, go through the whole-table read
    indexed = tmp_path / "indexed.parquet"
    frame.set_index("post_id").to_parquet(indexed)
    want = results._read_parquet_whole(pq.read_table(indexed), pq.read_schema(indexed).pandas_metadata)
    pd.testing.assert_frame_equal(results.read_parquet(indexed), want, check_exact=True)
    with pytest.raises((KeyError, pa.ArrowInvalid)):
        results.read_parquet(path, columns=["text", "no_such_column"])


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata",
                                  "America/Sao_Paulo", "Africa/Casablanca", "Pacific/Apia", "Europe/Dublin", "UTC"])
def test_local_wall_time_equals_pandas_with_zoneinfo(zone):
    from zoneinfo import ZoneInfo

    rng = np.random.default_rng(11)
    lo, hi = pd.Timestamp("1700-01-01", tz="UTC").value, pd.Timestamp("2100-01-01", tz="UTC").value
    instants = rng.integers(lo, hi, 20_000)
    # every quarter hour around the DST changes of recent years, and NaT
    edges = pd.date_range("2017-01-01", "2026-01-01", freq="15min", tz="UTC").asi8[::7]
    edges = np.concatenate([edges, pd.date_range("2036-06-01", "2038-06-01", freq="15min", tz="UTC").asi8[::5]])
    published = pd.Series(pd.to_datetime(np.concatenate([instants, edges]), utc=True)).astype("datetime64[ns, UTC]")
    published[5] = pd.NaT
    want = published.dt.tz_convert(ZoneInfo(zone)).dt.tz_localize(None)
    got = features._local_wall_time(published, ZoneInfo(zone))
    pd.testing.assert_series_equal(got, want)
