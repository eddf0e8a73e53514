"""Automatic features: tricky texts with hand-checked expectations, time zones, follower interpolation."""

from __future__ import annotations

import glob
import re

import emoji
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.features import FEATURE_DESCRIPTIONS, code_features, interpolate_followers
from workbench.schema import ACCOUNT_SCHEMA, POSTS_SCHEMA, conform

T0 = pd.Timestamp("2021-06-01 12:00", tz="UTC")


def make_posts(texts, *, media_views=None, published_at=None, **cols) -> pd.DataFrame:
    n = len(texts)
    frame = {
        "post_id": [str(i) for i in range(n)],
        "platform": "x",
        "account": "lab",
        "text": texts,
        "published_at": published_at if published_at is not None else [T0] * n,
        "media_views": media_views if media_views is not None else [0] * n,
        "impressions": [100] * n,
        "engagements": [5] * n,
        **cols,
    }
    return conform(pd.DataFrame(frame), POSTS_SCHEMA, table="posts")


def make_account(dates, followers, **cols) -> pd.DataFrame:
    frame = {"date": pd.to_datetime(dates), "platform": "x", "account": "lab", "followers": followers, **cols}
    return conform(pd.DataFrame(frame), ACCOUNT_SCHEMA, table="account")


# text, n_urls, n_hashtags, n_mentions, n_emoji
TEXT_CASES = [
    ("plain text, nothing special", 0, 0, 0, 0),
    ("Read https://t.co/AbC123 now", 1, 0, 0, 0),
    ("two links http://example.org and https://doi.org/10.1000/xyz.", 2, 0, 0, 0),
    ("bare domains example.org/x and doi.org/10.1/abc count", 2, 0, 0, 0),
    ("bare www.example.de and bbc.co.uk/news count", 2, 0, 0, 0),
    ("e-mail jane@example.org or first.last@uni.edu is not a link", 0, 0, 0, 0),
    ("e.g. node.js, file.txt and 3.14 are not links", 0, 0, 0, 0),
    ("#rstats and #R_lang and #2go count", 0, 3, 0, 0),
    ("#1 and #2021 and #_ are not hashtags", 0, 0, 0, 0),
    ("a#b is not a hashtag, &#39; neither", 0, 0, 0, 0),
    ("anchor https://example.org/page#section and example.org/#/route are links", 2, 0, 0, 0),
    ("#Science inside text and https://t.co/x#frag", 1, 1, 0, 0),
    ("@alice and @Bob_99 hi", 0, 0, 2, 0),
    ("contact bob@example.com, not a mention", 0, 0, 0, 0),
    ("@this_handle_is_far_too_long is not a handle", 0, 0, 0, 0),
    ("profile https://medium.com/@writer/post is a link", 1, 0, 0, 0),
    ("family 👨‍👩‍👧", 0, 0, 0, 1),
    ("thumbs 👍🏽", 0, 0, 0, 1),
    ("flag 🇺🇸", 0, 0, 0, 1),
    ("heart ❤️", 0, 0, 0, 1),
    ("mix 😀😂 🏳️‍🌈 and 1️⃣ and #️⃣", 0, 0, 0, 5),
    ("accents café, naïve, 日本語 are not emoji", 0, 0, 0, 0),
    ("HTTPS://EXAMPLE.ORG/UPPER counts; #UPPER too", 1, 1, 0, 0),
    ("full-width ＃タグ and ＠handle count", 0, 1, 1, 0),
]


@pytest.mark.parametrize(("text", "n_urls", "n_hashtags", "n_mentions", "n_emoji"), TEXT_CASES)
def test_text_counts(text, n_urls, n_hashtags, n_mentions, n_emoji):
    out = code_features(make_posts([text]))
    row = out.iloc[0]
    assert (row["n_urls"], row["n_hashtags"], row["n_mentions"], row["n_emoji"]) == (
        n_urls,
        n_hashtags,
        n_mentions,
        n_emoji,
    )
    assert bool(row["has_url"]) == (n_urls > 0)
    assert bool(row["has_emoji"]) == (n_emoji > 0)


def test_all_cases_at_once_match_one_by_one():
    """Row-wise results do not depend on the other rows (the prefilters select rows correctly)."""
    out = code_features(make_posts([c[0] for c in TEXT_CASES]))
    expected = pd.DataFrame(
        [c[1:] for c in TEXT_CASES], columns=["n_urls", "n_hashtags", "n_mentions", "n_emoji"]
    ).astype("Int64")
    pd.testing.assert_frame_equal(out[expected.columns], expected)


def test_trailing_media_link_is_not_a_link():
    texts = [
        "Photo of the day https://t.co/Media123",  # media: trailing t.co is the photo
        "Photo of the day https://t.co/Media123",  # same text without media: a link
        "Paper https://t.co/Link1 with figure https://t.co/Media2 ",  # one link + media
        "Ends with other domain https://example.org/a",  # media but the tail is not t.co
        "Media in middle https://t.co/First and text after",
    ]
    out = code_features(make_posts(texts, media_views=[10, 0, 3, 7, 5]))
    assert out["n_urls"].tolist() == [0, 1, 1, 1, 1]
    assert out["has_media"].tolist() == [True, False, True, True, True]
    # X length: media link and the space before it not counted; links weigh 23
    assert out["n_chars"].iloc[0] == len("Photo of the day")
    assert out["n_chars"].iloc[1] == len("Photo of the day ") + 23
    assert out["n_chars"].iloc[2] == len("Paper  with figure") + 23


def test_n_chars_counts_code_points_and_links_as_23():
    text = "Read https://t.co/abc and example.org/x or doi.org/10.1/abc, mail jane@example.org"
    links = ["https://t.co/abc", "example.org/x", "doi.org/10.1/abc"]
    out = code_features(make_posts([text, "👍🏽 é", ""]))
    assert out["n_chars"].iloc[0] == len(text) - sum(map(len, links)) + 3 * 23
    assert out["n_chars"].iloc[1] == 4  # thumbs + skin tone (2 code points), space, é
    assert out["n_chars"].iloc[2] == 0


def test_question_and_thread_markers():
    texts = [
        "Is this a question?",
        "Not a question https://example.org/?a=1",
        "Full-width question？",
        "Thread 🧵 below",
        "1/ Here we go",
        "Here we go 1/",
        "(2/5) more findings",
        "more findings [3/n]",
        "the end 5/5",
        "24/7 support and 1/2 cup of flour",
        "dates 11/1/2021 are not threads",
        "no marker at all",
    ]
    out = code_features(make_posts(texts))
    assert out["is_question"].tolist() == [True, False, True] + [False] * 9
    assert out["has_thread_marker"].tolist() == [False] * 3 + [True] * 6 + [False] * 3


def test_na_text_gives_na_text_features():
    out = code_features(make_posts([None, "text"]))
    for col in ("n_urls", "has_url", "n_hashtags", "n_mentions", "n_emoji", "n_chars", "is_question"):
        assert pd.isna(out[col].iloc[0]), col
        assert not pd.isna(out[col].iloc[1]), col


def test_has_media_na_where_not_reported():
    posts = make_posts(["a", "b", "c", "d", "e"], media_views=[3, 0, None, None, None])
    posts["media_type"] = pd.Series([None, None, None, "photo", "none"], dtype="category")
    out = code_features(posts)
    assert out["has_media"].tolist()[:2] == [True, False]
    assert pd.isna(out["has_media"].iloc[2])
    assert out["has_media"].tolist()[3:] == [True, False]


def test_local_time_is_dst_aware():
    # 2021-03-14: US clocks jump from 02:00 EST to 03:00 EDT
    times = pd.to_datetime(["2021-03-14 06:30", "2021-03-14 07:30", "2021-01-04 04:59"], utc=True)
    out = code_features(make_posts(["a", "b", "c"], published_at=times), timezone="America/New_York")
    assert out["hour_local"].tolist() == [1, 3, 23]
    assert out["weekday_local"].tolist() == [6, 6, 6]  # Sunday, Sunday, Sunday 3 Jan (local)
    assert out["year"].tolist() == [2021, 2021, 2021]
    assert out["month"].tolist() == [pd.Timestamp("2021-03-01")] * 2 + [pd.Timestamp("2021-01-01")]
    for col in ("hour_local", "weekday_local", "year"):
        assert str(out[col].dtype) == "Int64"


def test_year_and_month_follow_the_local_calendar():
    t = pd.to_datetime(["2022-01-01 03:00"], utc=True)  # still 31 Dec 2021 in New York
    out = code_features(make_posts(["a"], published_at=t), timezone="America/New_York")
    assert out["year"].iloc[0] == 2021
    assert out["month"].iloc[0] == pd.Timestamp("2021-12-01")
    utc = code_features(make_posts(["a"], published_at=t))
    assert utc["year"].iloc[0] == 2022 and utc["weekday_local"].iloc[0] == 5  # Saturday


def test_unknown_timezone_is_a_helpful_error():
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        code_features(make_posts(["a"]), timezone="Mars/Olympus")


def test_missing_columns_are_named():
    posts = make_posts(["a"]).drop(columns=["text"])
    with pytest.raises(InputError, match=r"missing columns \['text'\]"):
        code_features(posts)


def test_engagement_rate():
    posts = make_posts(["a", "b", "c", "d"])
    posts["impressions"] = pd.array([200, 0, None, 50], dtype="Int64")
    posts["engagements"] = pd.array([10, 0, 3, None], dtype="Int64")
    out = code_features(posts)
    assert out["engagement_rate"].iloc[0] == pytest.approx(0.05)
    assert out["engagement_rate"].iloc[1:].isna().all()
    assert str(out["engagement_rate"].dtype) == "Float64"


def test_followers_at_post_interpolates_linearly():
    account = make_account(["2021-01-01", "2021-02-01", "2021-03-01"], [1000, 1310, 1310])
    times = pd.to_datetime(
        [
            "2021-01-02 00:00",  # one day of 31 after 1000 -> 1010
            "2021-01-16 12:00",  # half way -> 1155
            "2021-02-01 00:00",  # exactly a known count
            "2021-02-20 08:00",  # flat segment
            "2020-12-01 00:00",  # 31 days before the first count -> carried
            "2020-11-01 00:00",  # 61 days before -> NA
            "2021-04-10 00:00",  # 40 days after the last -> carried
            "2021-05-01 00:00",  # 61 days after -> NA
        ],
        utc=True,
    )
    out = code_features(make_posts(["x"] * len(times), published_at=times), account=account)
    got = out["followers_at_post"]
    assert str(got.dtype) == "Float64"
    expected = [1010.0, 1155.0, 1310.0, 1310.0, 1000.0, None, 1310.0, None]
    for g, e in zip(got.tolist(), expected, strict=True):
        assert (pd.isna(g) and e is None) or g == pytest.approx(e)


def test_followers_at_post_same_time_of_day_and_local_dates():
    # account dates are midnight in the dataset's zone: Jan 2 00:00 New York = Jan 2 05:00 UTC
    account = make_account(["2021-01-01", "2021-02-01"], [1000, 1310])
    t = pd.to_datetime(["2021-01-02 05:00"], utc=True)
    out = code_features(make_posts(["x"], published_at=t), account=account, timezone="America/New_York")
    assert out["followers_at_post"].iloc[0] == pytest.approx(1010.0)


def test_followers_at_post_skips_na_and_matches_accounts():
    account = make_account(
        ["2021-01-01", "2021-01-11", "2021-01-21", "2021-01-01", "2021-01-21"],
        [100, None, 300, 5000, 5200],
        account=["lab", "lab", "lab", "other", "other"],
    )
    times = pd.to_datetime(["2021-01-11", "2021-01-11", "2021-01-11"], utc=True)
    posts = make_posts(["a", "b", "c"], published_at=times, account=["lab", "@Other", "unknown"])
    out = code_features(posts, account=account)
    got = out["followers_at_post"].tolist()
    assert got[0] == pytest.approx(200.0)  # NA row skipped: interpolated 100 -> 300
    assert got[1] == pytest.approx(5100.0)  # handle matched without '@' and case-insensitively
    assert pd.isna(got[2])


def test_single_account_series_is_used_for_all_posts():
    account = make_account(["2021-01-01", "2021-01-11"], [100, 200], account=["the_page"] * 2)
    posts = make_posts(["a"], published_at=pd.to_datetime(["2021-01-06"], utc=True))
    assert code_features(posts, account=account)["followers_at_post"].iloc[0] == pytest.approx(150.0)


def test_followers_at_post_matches_numpy_reference_on_random_data():
    rng = np.random.default_rng(7)
    dates = pd.date_range("2020-01-01", periods=24, freq="MS")
    followers = np.cumsum(rng.integers(0, 100, size=24)) + 1000
    account = make_account(dates, followers)
    t = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 690, 500), unit="D")
    out = code_features(make_posts(["x"] * 500, published_at=t), account=account)
    ref = np.interp(t.asi8.astype(float), dates.tz_localize("UTC").asi8.astype(float), followers)
    np.testing.assert_allclose(out["followers_at_post"].to_numpy(dtype=float), ref)
    assert interpolate_followers(make_posts(["x"] * 500, published_at=t), account).equals(
        out["followers_at_post"]
    )


def test_no_account_gives_na_followers():
    out = code_features(make_posts(["a"]))
    assert out["followers_at_post"].isna().all()


def test_input_not_mutated_and_rows_kept():
    posts = make_posts(["a #tag https://t.co/x", "b"], media_views=[1, 0])
    account = make_account(["2021-01-01", "2021-12-01"], [1, 2])
    before_posts, before_account = posts.copy(deep=True), account.copy(deep=True)
    out = code_features(posts, account=account, timezone="Europe/Berlin")
    pd.testing.assert_frame_equal(posts, before_posts)
    pd.testing.assert_frame_equal(account, before_account)
    assert list(out.columns[: len(posts.columns)]) == list(posts.columns)
    assert out["post_id"].tolist() == posts["post_id"].tolist()
    assert out is not posts


def test_every_feature_is_described():
    out = code_features(make_posts(["a"]))
    added = [c for c in out.columns if c not in POSTS_SCHEMA]
    # every column code_features adds is described, and every description is of a column it returns (post_type is
    # canonical since ingest derives it, and described because code_features fills it in where ingest could not)
    assert set(added) <= set(FEATURE_DESCRIPTIONS)
    assert set(FEATURE_DESCRIPTIONS) <= set(out.columns)


def test_real_x_legacy_export(shared_fixtures):
    """On a real rOpenSci month: counts agree with simple independent checks of the raw text."""
    files = glob.glob(str(shared_fixtures / "exports" / "x_legacy" / "tweet_activity_metrics_rOpenSci_*.csv"))
    if not files:
        pytest.skip("rOpenSci legacy export not found")
    raw = pd.read_csv(files[0], dtype=str)
    posts = make_posts(
        raw["Tweet text"].tolist(),
        media_views=pd.to_numeric(raw["media views"]).astype(int).tolist(),
    )
    out = code_features(posts)
    tco = raw["Tweet text"].str.count("https://t.co/")
    media = pd.to_numeric(raw["media views"]) > 0
    ends_tco = raw["Tweet text"].str.contains(r"https://t\.co/\w+\s*$")
    # every link in these exports is a t.co link; one is dropped exactly when media + trailing t.co
    expected = tco - (media & ends_tco).astype(int)
    assert out["n_urls"].astype(int).tolist() == expected.tolist()
    assert (out["n_hashtags"] <= raw["Tweet text"].str.count("#")).all()
    # the emoji package's own (slow, per-row) count is the reference
    reference = raw["Tweet text"].map(emoji.emoji_count)
    assert out["n_emoji"].astype(int).tolist() == reference.tolist()
    assert out["n_emoji"].sum() > 0


EMOJI_KEYS = sorted(emoji.EMOJI_DATA)
WORDS = ["plain", "text", "café", "日本", "#tag", "@you", "1/", "x.org/a", "42", "—", "?"]


TOKEN_LISTS = st.lists(st.one_of(st.sampled_from(EMOJI_KEYS), st.sampled_from(WORDS)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.lists(TOKEN_LISTS, min_size=1, max_size=25))
def test_emoji_count_matches_emoji_package(token_lists):
    texts = [" ".join(tokens) for tokens in token_lists]
    out = code_features(make_posts(texts))
    assert out["n_emoji"].tolist() == [emoji.emoji_count(t) for t in texts]


def test_rows_align_with_a_non_default_index():
    posts = make_posts(["#a #b", "@x", "👍 https://t.co/q"], media_views=[0, None, 0]).iloc[[2, 0, 1]]
    posts.index = [10, 5, 7]
    account = make_account(["2021-05-01", "2021-07-01"], [100, 161])
    out = code_features(posts, account=account)
    assert out.index.tolist() == [10, 5, 7]
    assert out["n_hashtags"].tolist() == [0, 2, 0]
    assert out["n_mentions"].tolist() == [0, 0, 1]
    assert out["n_emoji"].tolist() == [1, 0, 0]
    assert out["n_urls"].tolist() == [1, 0, 0]
    assert out["has_media"].tolist()[:2] == [False, False] and pd.isna(out["has_media"].iloc[2])
    assert out["followers_at_post"].tolist() == pytest.approx([131.5] * 3)  # 1 June noon: 31.5 of 61 days


# --- links to the research and calls to action ---------------------------------------------------------

# text, has_research_link, has_call_to_action
RESEARCH_CTA_CASES = [
    ("New paper https://doi.org/10.1000/xyz", True, False),
    ("see dx.doi.org/10.1000/abc", True, False),
    ("DOI.ORG/10.1/ABC in capitals", True, False),
    ("PubMed: https://pubmed.ncbi.nlm.nih.gov/12345678/", True, False),
    ("PMC https://www.ncbi.nlm.nih.gov/pmc/articles/PMC123/", True, False),
    ("preprint www.medRxiv.org/content/10.1101/2021", True, False),
    ("preprint https://www.biorxiv.org/content/x", True, False),
    ("written out doi: 10.1001/jama.2020.1234", True, False),
    ("(https://doi.org/10.1/x)", True, False),
    ("notdoi.org/x is another site", False, False),
    ("mail editor@doi.org", False, False),
    ("doi.org.evil.com/x is a look-alike", False, False),
    ("DOI.ORG.Evil.com/x too", False, False),
    ("doi:10.1 is too short to be a DOI", False, False),
    ("X hides it: https://t.co/AbC123", False, False),  # t.co hides the destination
    ("we cite the DOI in the paper", False, False),
    ("Read the paper https://t.co/x", False, True),
    ("READ IT NOW", False, True),
    ("Sign-up today", False, True),
    ("sign  up here", False, True),
    ("Learn more: nejm.org/x", False, True),
    ("Check out our poster!", False, True),
    ("Please vote.", False, True),
    ("already reading, registered, rejoined", False, False),
    ("#VoteNow and #read are hashtags, @join_us a handle", False, False),
    ("link https://example.org/read/register", False, False),  # inside a link
    ("read-only file", False, False),
    ("naïveread is one word", False, False),
]


@pytest.mark.parametrize(("text", "research", "cta"), RESEARCH_CTA_CASES)
def test_research_link_and_call_to_action(text, research, cta):
    row = code_features(make_posts([text])).iloc[0]
    assert (bool(row["has_research_link"]), bool(row["has_call_to_action"])) == (research, cta)


def test_research_domains_from_the_codebook():
    texts = ["Out now in nejm.org/doi/full/x", "https://www.JAMAnetwork.com/journals/x", "mynejm.org/x", None]
    plain = code_features(make_posts(texts))
    assert plain["has_research_link"].tolist()[:3] == [False, False, False]
    extra = code_features(make_posts(texts), research_domains=["www.NEJM.org", "jamanetwork.com"])
    assert extra["has_research_link"].tolist()[:3] == [True, True, False]
    for col in ("has_research_link", "has_call_to_action"):
        assert pd.isna(extra[col].iloc[3]) and str(extra[col].dtype) == "boolean"
    with pytest.raises(InputError, match="research domain 'https://nejm.org' is not a host name"):
        code_features(make_posts(["a"]), research_domains=["https://nejm.org"])


def test_trailing_media_link_and_research_link():
    # X legacy: a photo's trailing t.co link is no research link, a written DOI still is
    out = code_features(make_posts(["Fig 1 of doi:10.1000/182 https://t.co/Media1"], media_views=[5]))
    assert out["has_research_link"].iloc[0] and out["n_urls"].iloc[0] == 0


CTA_WORDS = ["read", "Register", "JOIN", "sign", "up", "learn", "more", "vote", "download", "watch", "rsvp"]
OTHER_WORDS = ["the", "paper", "reading", "-", "#", "@", "é", "日本", "_", "!", ".", "x-", "'"]


def cta_reference(text: str) -> bool:
    """Independent reference with Python's re (Unicode word boundaries) on text without links."""
    words = (
        r"read|register|join|sign[\s-]+up|signup|download|learn[\s-]+more|click|vote|subscribe|watch|listen|"
    )
    words += r"rsvp|donate|enroll|enrol|check[\s-]+out|find[\s-]+out|tune[\s-]+in|save[\s-]+the[\s-]+date|"
    words += r"apply[\s-]+now|fill[\s-]+out|take[\s-]+the[\s-]+survey|take[\s-]+our[\s-]+survey"
    pattern = r"(?<![^\W_]|[_@#＠＃])(?:" + words + r")(?![^\W_]|[_-])"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(CTA_WORDS + OTHER_WORDS), max_size=8), min_size=1, max_size=40),
    st.sampled_from(["", " ", "  ", "-"]),
)
def test_call_to_action_matches_a_python_reference(token_lists, sep):
    texts = [sep.join(tokens) if sep else " ".join(tokens) for tokens in token_lists]
    texts = [t.replace("# ", "#").replace("@ ", "@") for t in texts]
    out = code_features(make_posts(texts))
    assert out["has_call_to_action"].tolist() == [cta_reference(t) for t in texts]


def research_reference(text: str, domains=("doi.org", "ncbi.nlm.nih.gov", "medrxiv.org")) -> bool:
    """Token by token: the host of each whitespace-separated token (scheme and path stripped)."""
    for token in text.split():
        if "@" in token:
            continue
        host = re.sub(r"^https?://", "", token.lower()).split("/")[0].rstrip(".,;:!?")
        if any(host == d or host.endswith("." + d) for d in domains):
            return True
    return False


HOST_TOKENS = [
    "doi.org/10.1/x",
    "https://dx.doi.org/10.1/abc",
    "notdoi.org/x",
    "jane@doi.org",
    "doi.org.",
    "pubmed.ncbi.nlm.nih.gov/1",
    "https://t.co/AbC",
    "www.medrxiv.org",
    "medrxiv.org.uk/x",
    "doi",
    "org",
    "paper",
    "ncbi.nlm.nih.gov,",
    "x.doi.org/a?b=1",
]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(st.sampled_from(HOST_TOKENS), max_size=6), min_size=1, max_size=40))
def test_research_link_matches_a_token_reference(token_lists):
    texts = [" ".join(tokens) for tokens in token_lists]
    out = code_features(make_posts(texts))
    assert out["has_research_link"].tolist() == [research_reference(t) for t in texts]


def test_real_exports_research_links_only_where_a_domain_is_visible(ropensci_dir):
    """Real X legacy text shows t.co links only: a research link is found exactly where a domain is written."""
    from workbench.features import RESEARCH_DOMAINS

    frames = [
        pd.read_csv(f, dtype=str) for f in sorted(glob.glob(str(ropensci_dir / "tweet_activity_*.csv")))
    ]
    texts = pd.concat([f["Tweet text"] for f in frames if "Tweet text" in f.columns], ignore_index=True)
    if texts.empty:
        pytest.skip("no legacy exports with 'Tweet text'")
    out = code_features(make_posts(texts.tolist()))
    expected = [research_reference(t, RESEARCH_DOMAINS) for t in texts]
    assert out["has_research_link"].tolist() == expected
    cta = out["has_call_to_action"].to_numpy(dtype=bool)
    assert 0 < cta.sum() < len(texts)


# --------------------------------------------------------------------------------------------------
# post types (the fallback until ingest's post_type column is everywhere)
# --------------------------------------------------------------------------------------------------


def test_post_types_from_flags_text_and_the_ingest_column():
    from workbench.features import post_types

    posts = pd.DataFrame(
        {
            "text": ["RT @a: hi", "@bob yes", "see https://x.com/someone/status/123", "plain", None, "rt @c x"],
            "is_reply": pd.array([False, True, False, False, pd.NA, False], dtype="boolean"),
            "is_repost": pd.array([False, False, False, False, pd.NA, pd.NA], dtype="boolean"),
        }
    )
    kind, source = post_types(posts)
    assert kind.tolist() == ["repost", "reply", "quote", "original", "original", "repost"]
    assert source.tolist() == ["text", "is_reply", "text", "default", "default", "text"]
    # the ingest stage's column wins where it holds a known type; unknown words fall through to the rules
    posts["post_type"] = ["original", "quote", None, "Reply", "bogus", None]
    kind, source = post_types(posts)
    assert kind.tolist() == ["original", "quote", "quote", "reply", "original", "repost"]
    assert source.tolist() == ["post_type", "post_type", "text", "post_type", "default", "text"]
    # a repost flag beats a reply flag; no columns at all: every post is original, by default
    both = pd.DataFrame({"is_reply": [True], "is_repost": [True]})
    assert post_types(both)[0].tolist() == ["repost"]
    assert post_types(pd.DataFrame(index=range(3)))[1].tolist() == ["default"] * 3


def test_code_features_adds_post_type():
    posts = make_posts(["@x hello", "RT @y: news", "a post"])
    posts["is_reply"] = pd.array([True, False, False], dtype="boolean")
    out = code_features(posts)
    assert out["post_type"].tolist() == ["reply", "repost", "original"]
    assert "post_type_source" in out.columns
