"""Automatic, vectorized feature coding of posts (DESIGN.md §4 ``posts_coded``).

The text features are computed on Arrow with RE2 patterns through ``pyarrow.compute`` (the same answers as
the Python ``re`` patterns below, which the reference implementation uses and the tests compare against);
the rest with numpy on whole columns: nothing loops over posts in Python except the few rows a pattern's
look-around needs Python's ``re`` for, so a million posts cost about a second.
The meaning of each feature is stated once, in :data:`FEATURE_DESCRIPTIONS` (the report prints it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import emoji
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .codebook import _DOMAIN_RE, _LABEL, normalize_research_domains  # noqa: F401 - re-exported
from .errors import InputError
from .schema import check_columns

#: Characters a URL counts for in X's length rule (every link is shortened to a 23-character t.co link).
URL_WEIGHT = 23

#: Days a follower count is carried before the first / after the last known count of the account table.
FOLLOWERS_CARRY_DAYS = 45

#: Domains whose links count as a link to the research itself (subdomains included: dx.doi.org,
#: pubmed.ncbi.nlm.nih.gov, pmc.ncbi.nlm.nih.gov, www.biorxiv.org). A codebook adds journals/publishers.
RESEARCH_DOMAINS: tuple[str, ...] = (
    "doi.org",
    "ncbi.nlm.nih.gov",
    "pubmed.gov",
    "europepmc.org",
    "biorxiv.org",
    "medrxiv.org",
    "arxiv.org",
)

#: Words and phrases that make a call to action (matched as whole words, case-insensitive; a space also
#: matches a hyphen or several spaces: "sign-up").
CALL_TO_ACTION_PHRASES: tuple[str, ...] = (
    "read",
    "register",
    "join",
    "sign up",
    "signup",
    "download",
    "learn more",
    "click",
    "vote",
    "subscribe",
    "watch",
    "listen",
    "rsvp",
    "donate",
    "enroll",
    "enrol",
    "check out",
    "find out",
    "tune in",
    "save the date",
    "apply now",
    "fill out",
    "take the survey",
    "take our survey",
)

#: What each automatic feature means, in words (printed by the report).
FEATURE_DESCRIPTIONS: dict[str, str] = {
    "n_urls": (
        "Links in the text: http(s) URLs (t.co included) and bare domains such as example.org/x or "
        "doi.org/10.1/abc (e-mail addresses are not links). In X legacy exports a photo or video shows up as "
        "one t.co link at the end of the text; when the post has media, that trailing link is the media and "
        "is not counted."
    ),
    "has_url": "The text contains at least one link (n_urls > 0).",
    "n_hashtags": (
        "Hashtags as X defines them: # followed by letters, digits or underscores, with at least one letter "
        "(#1 is not a hashtag), not preceded by a word character and not part of a link."
    ),
    "n_mentions": (
        "Mentions: @handle with 1-15 letters, digits or underscores, not part of an e-mail address or a link."
    ),
    "n_emoji": (
        "Emoji in the text, as listed by the `emoji` package; a multi-code-point emoji (a ZWJ family, a skin "
        "tone, a flag, a heart with variation selector) counts once."
    ),
    "has_emoji": "The text contains at least one emoji (n_emoji > 0).",
    "has_media": (
        "The post carries native media (photo, video, GIF): media views > 0 where the export reports media "
        "views (a lower bound: media nobody opened is missed); else from the export's media type where it "
        "gives one; NA where neither is reported."
    ),
    "n_chars": (
        "Length of the text in Unicode code points, with every link counted as 23 characters (X shortens "
        "links to t.co) and the trailing media link of X legacy exports not counted. X's own weighted count "
        "(CJK characters and emoji weigh 2) is not implemented."
    ),
    "is_question": "The text (outside links) contains a question mark (? or the full-width ？).",
    "has_thread_marker": (
        "The text marks a thread: the 🧵 emoji, a numbering in brackets such as (1/n) or [2/5], a bare "
        "'k/' token anywhere, '1/5' or '1/n' opening the text, or a numbering such as 2/5 closing it."
    ),
    "hour_local": "Hour of publication (0-23) in the dataset's time zone, daylight saving time included.",
    "weekday_local": "Weekday of publication in the dataset's time zone: 0 = Monday ... 6 = Sunday.",
    "year": "Calendar year of publication in the dataset's time zone.",
    "month": "First day of the month of publication in the dataset's time zone (for monthly aggregation).",
    "followers_at_post": (
        "Follower count when the post went out: linearly interpolated in time between the neighbouring known "
        "counts of the account table (dates taken as midnight in the dataset's time zone); the first/last "
        f"known count is carried up to {FOLLOWERS_CARRY_DAYS} days before/after it, NA further out."
    ),
    "engagement_rate": "Engagements / impressions; NA where impressions is 0 or not reported.",
    "has_research_link": (
        "The text shows a link to the research itself: a visible domain of a research database or preprint "
        "server (doi.org and dx.doi.org, ncbi.nlm.nih.gov with PubMed and PMC, pubmed.gov, europepmc.org, "
        "biorxiv.org, medrxiv.org, arxiv.org) or of a journal/publisher listed under research_domains in the "
        "codebook, or a DOI written out as 'doi:10.…'. X legacy exports show every link as t.co, which hides "
        "its destination: such a post counts as False unless a research domain is written in the text, so "
        "on X legacy data this feature is a lower bound."
    ),
    "post_type": (
        "What kind of post it is: original, reply, quote or repost — from the export's own post-type column where "
        "there is one, else its reply/repost flags, else the text (a retweet written \"RT @…\"; a text ending in a "
        "link to another post is a quote); anything else counts as original."
    ),
    "post_type_source": (
        "Where post_type came from: post_type (the export's column), is_repost or is_reply (the export's flags), "
        "text (the text rules) or default (nothing said otherwise: original)."
    ),
    "has_call_to_action": (
        "The text (outside links, mentions and hashtags) asks the reader to act, with one of these words or "
        "phrases, case-insensitive and as whole words: " + ", ".join(CALL_TO_ACTION_PHRASES) + ". Inflected "
        "forms (reading, registered) do not count."
    ),
}

# --- regular expressions -------------------------------------------------------------------------------

# Every pattern that scans all posts starts with a literal or a character class and is case-insensitive
# through explicit classes ([hH]), not re.IGNORECASE: that keeps the prefix search that makes Python's re
# fast. Look-behinds come after the first character for the same reason.
# Generic top-level domains a bare domain (no http://) may end with. Country-code domains (any two letters)
# count only when followed by a path, as in X's own rules, so "e.g." or "node.js" are not links.
_GTLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|app|dev|co|me|ly|tv|fm|gl|news|blog|page|site|online|"
    "science|research|health|tech|museum|xyz|social"
)
_URL_TAIL = r"[^\s<>\"]*[^\s<>\"'.,;:!?)\]}…]"  # a link may not end with punctuation
#: http(s) links (t.co included), not glued to a preceding word character or @.
HTTP_RE = re.compile(r"[hH](?<![\w@][hH])[tT][tT][pP][sS]?://" + _URL_TAIL)
#: bare domains, tried only on text that still contains ".x" after http links were removed.
BARE_URL_RE = re.compile(
    r"(?<![\w@.\-/:])(?:"
    r"(?:" + _LABEL + r"\.)+(?:" + _GTLDS + r")(?![\w-])(?:/(?:" + _URL_TAIL + r")?)?"
    r"|(?:" + _LABEL + r"\.)+[a-z]{2}(?![\w-])/(?:" + _URL_TAIL + r")?"
    r"|www\.(?:" + _LABEL + r"\.)+[a-z]{2,}(?![\w-])(?:/(?:" + _URL_TAIL + r")?)?)",
    re.IGNORECASE,
)
_BARE_CANDIDATE_RE = re.compile(r"\.[a-zA-Z]{2}")
#: Each link is replaced by this character in the text outside links (so links are counted once, and
#: their characters measured, in one pass).
_LINK = "\x00"
_LINK_RE = re.compile(_LINK)
# X legacy exports: native media appears as ONE t.co link at the very end of the text.
MEDIA_TAIL_RE = re.compile(r"[hH][tT][tT][pP][sS]?://t\.co/[A-Za-z0-9]+\s*\Z")
HASHTAG_RE = re.compile(r"[#＃](?<![\w&#＃/][#＃])[0-9_]*[^\W\d_]\w*")
MENTION_RE = re.compile(r"[@＠](?<![\w!#$%&*@＠][@＠])[A-Za-z0-9_]{1,15}(?![\w@＠])")
# Thread markers, anchored on the "/" (or 🧵) so the search skips quickly to candidates; the numerator
# (1-2 digits starting a token, or after a bracket) is checked by look-behinds.
_NUMERATOR = r"(?:(?<=\d/)(?<!\S\d/)|(?<=\d\d/)(?<!\S\d\d/))"
_BRACKETED = r"(?:(?<=[(\[]\d/)|(?<=[(\[]\d\d/))"
THREAD_RE = re.compile(
    r"🧵"
    r"|/(?:" + _BRACKETED + r"(?:\d{1,2}|[nN])[)\]]"  # (1/n), [2/5]
    r"|" + _NUMERATOR + r"(?:(?![^\s\x00])|(?:\d{1,2}|[nN])[\s\x00]*\Z))"  # a bare "1/" token; "2/5" closing
)
THREAD_START_RE = re.compile(r"\s*1/(?:\d{1,2}|[nN])?(?![^\s\x00])")  # "1/", "1/5", "1/n" opening the text

# The two word-list features are matched by RE2 through pyarrow (linear time, about ten times faster than
# Python's re on these alternations, case-insensitive without lower-casing the text). RE2 has no
# look-arounds, so boundaries are matched as characters: "not a letter, digit or _" is [^\pL\pN_].
#: A written-out DOI ("doi:10.1000/xyz", "DOI: 10.1000/xyz").
DOI_TEXT_RE2 = r"doi:\s*10\.[0-9]{4,9}/\S"
#: Calls to action outside links: a phrase not preceded by a letter, digit, _, @ or # (so not part of a
#: word, a mention or a hashtag) and not followed by a letter, digit, _ or hyphen.
CALL_TO_ACTION_RE2 = (
    r"(?:^|[^\pL\pN_@#＠＃])(?:"
    + "|".join(r"[\s-]+".join(map(re.escape, p.split())) for p in CALL_TO_ACTION_PHRASES)
    + r")(?:$|[^\pL\pN_-])"
)


def research_domain_pattern(domains: Sequence[str]) -> str:
    """RE2 pattern (case-insensitive use) of a host that is, or is a subdomain of, one of ``domains``.

    The host may not continue (``doi.org.evil.com``), may not be part of a longer name (``notdoi.org``)
    and may not follow ``@`` (an e-mail address at that domain is not a link).
    """
    alts = "|".join(re.escape(d) for d in sorted(set(domains), key=lambda d: (-len(d), d)))
    return r"(?:^|[^\pL\pN_@.-])(?:" + _LABEL + r"\.)*(?:" + alts + r")(?:$|[^\pL\pN_.-]|\.$|\.[^a-z0-9])"


_MEDIA_TYPES_WITH_MEDIA = {
    "photo",
    "image",
    "multi_image",
    "video",
    "gif",
    "reel",
    "story",
    "carousel",
    "audio",
    "album",
}
_MEDIA_TYPES_WITHOUT_MEDIA = {"none", "text", "link_card", "link", "poll", "status"}


#: canonical post types (the ingest stage's ``post_type`` column uses the same words).
POST_TYPES = ("original", "reply", "quote", "repost")
#: where a post's type came from (:func:`post_types`' second column; :func:`post_type_codes` indexes it).
POST_TYPE_SOURCES = ("post_type", "is_repost", "is_reply", "text", "default")
#: a repost written into the text the old way ("RT @handle: ..."), as X and Mastodon clients did (RE2).
_RT_RE = r"^\s*RT\s+@\w"
#: a quote: the text ends with a link to another post's status page (X/Twitter, Bluesky; RE2).
_QUOTE_URL_RE = (
    r"https?://(?:www\.|mobile\.)?(?:twitter\.com|x\.com)/\w+/status(?:es)?/\d+\S*\s*$"
    r"|https?://bsky\.app/profile/[^/\s]+/post/\w+\s*$"
)


def post_types(posts: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Return every post's type (original, reply, quote, repost) and where it came from.

    Parameters
    ----------
    posts
        The posts table (any columns). Read, in order of trust: ``post_type`` (the ingest stage's
        canonical column, used where it holds one of :data:`POST_TYPES`), ``is_repost``, ``is_reply``
        and ``text``.

    Returns
    -------
    (Series, Series)
        ``post_type`` (string, one of :data:`POST_TYPES` on every row) and ``post_type_source`` (string):
        ``"post_type"`` (the export's own column), ``"is_repost"`` / ``"is_reply"`` (the export's flags),
        ``"text"`` (a retweet written ``RT @…`` or a text ending in a link to another post's page — a
        quote), or ``"default"`` (nothing says otherwise: counted as original). A flag that is NA says
        nothing, so a row whose flags are all NA falls through to the text rules.

    Notes
    -----
    Order of the rules: repost before reply before quote (a repost of a reply is a repost). X legacy
    exports shorten every link to t.co, so a quote cannot be seen in their text: there quotes count as
    original posts (the default), which the source column makes visible.
    """
    return _post_types(posts)


_POST_TYPE_SOURCES = POST_TYPE_SOURCES


def _post_types(posts: pd.DataFrame, text: pa.Array | None = None) -> tuple[pd.Series, pd.Series]:
    """:func:`post_types` (``text``: the posts' text already converted to Arrow, if at hand)."""
    kind, source = post_type_codes(posts, text)
    return (
        pd.Series(pd.array(np.array(POST_TYPES, dtype=object)[kind], dtype="string"), index=posts.index,
                  name="post_type"),
        pd.Series(pd.array(np.array(_POST_TYPE_SOURCES, dtype=object)[source], dtype="string"),
                  index=posts.index, name="post_type_source"),
    )


def post_type_codes(posts: pd.DataFrame, text: pa.Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`post_types` as int8 codes: indices into :data:`POST_TYPES` and into the sources
    (``post_type``, ``is_repost``, ``is_reply``, ``text``, ``default``), without a million strings."""
    n = len(posts)
    kind = np.full(n, -1, dtype=np.int8)  # index into POST_TYPES; -1 = not decided yet
    source = np.full(n, -1, dtype=np.int8)  # index into _POST_TYPE_SOURCES

    def fill(rows: np.ndarray, value: str, where: str) -> None:
        rows = rows & (kind < 0)
        kind[rows] = POST_TYPES.index(value)
        source[rows] = _POST_TYPE_SOURCES.index(where)

    if "post_type" in posts.columns:
        # the distinct values only (a handful), not every row's string
        column = posts["post_type"]
        arrow_backed = isinstance(column.dtype, pd.ArrowDtype) or getattr(column.dtype, "storage", None) in (
            "pyarrow", "pyarrow_numpy")
        if not (arrow_backed or isinstance(column.dtype, pd.CategoricalDtype)):
            column = column.astype("string")  # Arrow-backed text is factorized in Arrow, without Python strings
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        given = pd.Series(uniques, dtype="string").str.strip().str.lower()
        lookup = np.array([POST_TYPES.index(v) if v in POST_TYPES else -1 for v in given.fillna("")] + [-1],
                          dtype=np.int8)
        kind = lookup[codes]  # codes -1 (NA) take the trailing -1
        source[kind >= 0] = _POST_TYPE_SOURCES.index("post_type")
    for column, value in (("is_repost", "repost"), ("is_reply", "reply")):
        if column in posts.columns:
            flag = posts[column].astype("boolean").fillna(False).to_numpy(dtype=bool)
            fill(flag, value, column)
    rest = kind < 0
    if "text" in posts.columns and rest.any():  # the text rules, only where nothing else said (RE2 via Arrow)
        if text is None:
            text = _text_arrow(posts["text"])
        rows = np.flatnonzero(rest)
        sub = text if len(rows) == n else pc.take(text, pa.array(rows))
        for pattern, value in ((_RT_RE, "repost"), (_QUOTE_URL_RE, "quote")):
            found = np.zeros(n, dtype=bool)
            found[rows] = pc.fill_null(pc.match_substring_regex(sub, pattern, ignore_case=True), False).to_numpy(
                zero_copy_only=False
            )
            fill(found, value, "text")
    rest = kind < 0
    kind[rest] = POST_TYPES.index("original")
    source[rest] = _POST_TYPE_SOURCES.index("default")
    return kind, source


def _trie_pattern(node: dict) -> str:
    """Regex source for a trie node; longest match first (greedy optional continuations)."""
    alts = [re.escape(ch) + _trie_pattern(child) for ch, child in sorted(node.items()) if ch != ""]
    if not alts:
        return ""
    body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
    return f"(?:{body})?" if "" in node else body


def _char_class(codepoints: list[int], *, gap: int) -> str:
    """A character class covering ``codepoints``, merging runs closer than ``gap`` into one range."""
    cps = sorted(codepoints)
    ranges = [[cps[0], cps[0]]]
    for c in cps[1:]:
        if c - ranges[-1][1] <= gap:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    parts = [re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges]
    return "[" + "".join(parts) + "]"


@lru_cache(maxsize=1)
def emoji_pattern() -> re.Pattern:
    """One compiled pattern matching every emoji of ``emoji.EMOJI_DATA`` (longest sequence first).

    Built as a trie so a ZWJ sequence, a skin-tone modifier or a flag matches as one emoji. Python's
    ``re`` tests alternatives one by one and checks astral character classes range by range, so the trie's
    first level is split into blocks of 64 code points (largest first), each guarded by a one-range
    look-ahead, and the whole pattern by a coarse look-ahead built from the first characters of the emoji
    data (not a hand-written range: it is computed, and only filters where the exact trie is tried).
    """
    trie = _emoji_trie()
    blocks: dict[int, list[str]] = {}
    for ch in trie:
        blocks.setdefault(ord(ch) >> 6, []).append(ch)
    alts = []
    for _, chars in sorted(blocks.items(), key=lambda kv: -len(kv[1])):  # big (common) blocks first
        sub = "|".join(re.escape(ch) + _trie_pattern(trie[ch]) for ch in sorted(chars))
        if len(chars) == 1:
            alts.append(sub)
        else:
            lo, hi = min(chars), max(chars)
            alts.append(f"(?=[{re.escape(lo)}-{re.escape(hi)}])(?:{sub})")
    first_ascii = [ord(c) for c in trie if ord(c) < 128]
    first_other = [ord(c) for c in trie if ord(c) >= 128]
    guard = _char_class(first_other, gap=256)
    if first_ascii:  # keycaps: '1' + U+FE0F + U+20E3 — an ASCII first character followed by a non-ASCII one
        guard += "|" + _char_class(first_ascii, gap=0) + r"[^\x00-\x7f]"
    return re.compile(f"(?={guard})(?:" + "|".join(alts) + ")")


@lru_cache(maxsize=1)
def _ascii_outside_emoji() -> re.Pattern:
    """Runs of ASCII characters that occur in no emoji (all but '#', '*' and digits, used by keycaps)."""
    in_emoji = {c for key in emoji.EMOJI_DATA for c in key if ord(c) < 128}
    return re.compile(_char_class([c for c in range(128) if chr(c) not in in_emoji], gap=0) + "+")


# --- helpers ------------------------------------------------------------------------------------------


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown time zone {timezone!r}; expected an IANA name such as 'UTC' or 'America/New_York'"
        ) from exc


#: Arrow's time-zone library applies the zone's explicit transitions only (tzdata lists them up to 2037);
#: Python's zoneinfo extends them by the zone's rule: instants from here on are converted by pandas.
_ARROW_TZ_UNTIL = pd.Timestamp("2037-01-01", tz="UTC").value


def _local_wall_time(published: pd.Series, zone: ZoneInfo) -> pd.Series:
    """``published`` (datetime64[ns, UTC]) as naive local wall-clock time in ``zone``.

    pandas converts with a ZoneInfo zone by calling ``utcoffset`` per value (about 0.5 s per million posts);
    Arrow's ``local_timestamp`` reads the same system time-zone database in C++, for instants before 2037
    (later ones, and all where Arrow does not know the zone, are converted by pandas).
    tests/test_features_fastpath.py compares both over three centuries in zones with odd rules.
    """
    utc = published.to_numpy(dtype="datetime64[ns]")
    late = utc.view("int64") >= _ARROW_TZ_UNTIL  # NaT is the smallest int64: not late
    try:
        arrow = pa.array(np.where(late, np.datetime64("NaT"), utc), type=pa.timestamp("ns", tz=zone.key),
                         from_pandas=True)
        local = pc.local_timestamp(arrow).to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    except (pa.ArrowException, ValueError):
        return published.dt.tz_convert(zone).dt.tz_localize(None)
    if late.any():
        local[late] = published[late].dt.tz_convert(zone).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return pd.Series(local, index=published.index, name=published.name)


def _utc(values: pd.Series, *, table: str, column: str) -> pd.Series:
    """``values`` as datetime64[ns, UTC]; naive datetimes are an error (we cannot guess the zone)."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(values.dtype):
            raise InputError(
                f"{table} table: expected time-zone-aware UTC datetimes, found naive {values.dtype}",
                column=column,
            )
        try:
            values = pd.to_datetime(values, utc=True)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{table} table: cannot read as datetimes: {exc}", column=column) from exc
    return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


#: The last text converted to Arrow by :func:`_arrow_of` (the Series itself is held and compared by identity:
#: a Series changed in place after it was converted must not be passed again).
_ARROW_CACHE: list = []


def _arrow_of(text: pd.Series):
    """``text`` as an Arrow string array (converted once per Series, the last one kept), or None when it cannot
    be one (a lone surrogate): the callers then use pandas' ``.str``."""
    if _ARROW_CACHE and _ARROW_CACHE[0] is text:
        return _ARROW_CACHE[1]
    try:
        arr = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError, TypeError):
        arr = None
    _ARROW_CACHE[:] = [text, arr]
    return arr


def _has(text: pd.Series, literal: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows whose text contains ``literal`` (a plain substring test: far cheaper than any regex).

    Only ``rows`` are tested when given (e.g. the non-ASCII rows for a non-ASCII literal). The test runs on
    Arrow (``pyarrow.compute.match_substring``: a UTF-8 substring is a code-point substring), about ten times
    faster than ``in`` per Python string.
    """
    arrow = _arrow_of(text)
    if arrow is not None:
        if rows is not None:
            out = np.zeros(len(text), dtype=bool)
            if rows.any():
                hit = pc.match_substring(arrow.filter(pa.array(rows)), literal)
                out[rows] = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
            return out
        return pc.fill_null(pc.match_substring(arrow, literal), False).to_numpy(zero_copy_only=False).astype(bool)
    if rows is None:
        return text.str.contains(literal, regex=False, na=False).to_numpy(dtype=bool)
    out = np.zeros(len(text), dtype=bool)
    if rows.any():
        out[rows] = text[rows].str.contains(literal, regex=False, na=False).to_numpy(dtype=bool)
    return out


def _count(text: pd.Series, pattern: re.Pattern, rows: np.ndarray) -> pd.Series:
    """Matches of ``pattern`` per row as Int64: NA where text is NA, 0 outside ``rows`` (only they are scanned)."""
    out = pd.Series(0, index=text.index, dtype="Int64")
    out[text.isna().to_numpy()] = pd.NA
    if rows.any():
        out[rows] = text[rows].str.count(pattern).astype("Int64")
    return out


def _contains(text: pd.Series, pattern: re.Pattern, rows: np.ndarray) -> pd.Series:
    """Whether ``pattern`` occurs, as boolean: NA where text is NA, False outside ``rows``."""
    out = pd.Series(False, index=text.index, dtype="boolean")
    out[text.isna().to_numpy()] = pd.NA
    if rows.any():
        out[rows] = text[rows].str.contains(pattern, regex=True).astype("boolean")
    return out


def _replace(text: pd.Series, pattern: re.Pattern, rows: np.ndarray, repl: str = " ") -> pd.Series:
    """``text`` with ``pattern`` replaced in ``rows`` only."""
    out = text.copy()
    if rows.any():
        out[rows] = text[rows].str.replace(pattern, repl, regex=True)
    return out


def _media_flags(posts: pd.DataFrame) -> pd.Series:
    media_views = posts["media_views"].astype("Int64")
    has_media = (media_views > 0).astype("boolean")
    if "media_type" in posts.columns:
        unknown = (has_media.isna() & posts["media_type"].notna()).to_numpy(dtype=bool)
        if unknown.any():
            kind = posts.loc[unknown, "media_type"].astype("string").str.strip().str.lower()
            known = kind.isin(_MEDIA_TYPES_WITH_MEDIA | _MEDIA_TYPES_WITHOUT_MEDIA).to_numpy(dtype=bool)
            values = kind.isin(_MEDIA_TYPES_WITH_MEDIA).to_numpy(dtype=bool)
            rows = np.flatnonzero(unknown)[known]
            has_media.iloc[rows] = values[known]
    return has_media


def _account_key(df: pd.DataFrame) -> pd.Series:
    platform = df["platform"].astype("string").str.strip().str.lower().fillna("")
    account = df["account"].astype("string").str.strip().str.lstrip("@").str.lower().fillna("")
    return platform + "\x1f" + account


def interpolate_followers(posts: pd.DataFrame, account: pd.DataFrame, *, timezone: str = "UTC") -> pd.Series:
    """Follower count at each post's ``published_at``, linearly interpolated between known counts (Float64).

    Parameters
    ----------
    posts
        Needs ``published_at`` (UTC), and ``platform``/``account`` when the account table holds several
        accounts.
    account
        The account table (``date``, ``platform``, ``account``, ``followers``). Rows with NA followers are
        skipped. Dates are taken as midnight in ``timezone`` (exports print local dates). When the table
        holds a single account, its series is used for every post; otherwise each post uses the series of
        its own platform and account (handles compared case-insensitively, without a leading ``@``).
    timezone
        IANA time zone of the account table's dates.

    Returns
    -------
    pandas.Series
        Float64, aligned with ``posts``: NA for posts more than 45 days before the first or after the last
        known count (within 45 days the nearest count is carried), for posts of accounts without counts,
        and for posts without ``published_at``.
    """
    check_columns(account, ["date", "followers"], table="account")
    zone = _zone(timezone)
    t_post = _utc(posts["published_at"], table="posts", column="published_at")
    result = np.full(len(posts), np.nan)
    known = account[account["followers"].notna()]
    if len(known) == 0 or len(posts) == 0:
        return pd.Series(result, index=posts.index, dtype="Float64")

    dates = known["date"]
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        t_known = dates.dt.tz_convert("UTC")
    else:
        try:
            naive = pd.to_datetime(dates)
        except (TypeError, ValueError) as exc:
            raise InputError(f"account table: cannot read dates: {exc}", column="date") from exc
        t_known = naive.dt.tz_localize(
            zone, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="shift_forward"
        )
    frame = pd.DataFrame(
        {
            "t": t_known.astype("datetime64[ns, UTC]").astype("int64").to_numpy(),
            "followers": known["followers"].astype("Float64").to_numpy(dtype=float),
            "key": (
                _account_key(known).to_numpy()
                if {"platform", "account"} <= set(known.columns)
                else np.full(len(known), "")
            ),
        }
    )
    frame = frame[t_known.notna().to_numpy()]
    # one count per account and instant (the last row wins, as for post snapshots)
    frame = frame.drop_duplicates(["key", "t"], keep="last").sort_values(["key", "t"])
    keys = frame["key"].unique()
    post_ns = t_post.astype("int64").to_numpy()
    post_ok = t_post.notna().to_numpy()
    if len(keys) == 1:
        targets = {keys[0]: post_ok}
    else:
        if not {"platform", "account"} <= set(posts.columns):
            raise InputError(
                "the account table holds several accounts, so posts need 'platform' and 'account' columns "
                f"to find theirs. Existing columns: {list(posts.columns)}"
            )
        post_key = _account_key(posts).to_numpy()
        targets = {k: post_ok & (post_key == k) for k in keys}
    carry = FOLLOWERS_CARRY_DAYS * 86_400 * 10**9
    for key, rows in targets.items():  # a handful of accounts, each vectorized over its posts
        if not rows.any():
            continue
        series = frame[frame["key"] == key]
        tk, fk = series["t"].to_numpy(dtype=float), series["followers"].to_numpy()
        t = post_ns[rows].astype(float)
        values = np.interp(t, tk, fk)
        values[(t < tk[0] - carry) | (t > tk[-1] + carry)] = np.nan
        result[rows] = values
    return pd.Series(result, index=posts.index, dtype="Float64").where(~np.isnan(result), pd.NA)


# --- the public entry point ---------------------------------------------------------------------------


def _arrow_contains(text: pd.Series, pattern: str) -> pd.Series:
    """Whether the RE2 ``pattern`` occurs (case-insensitive), as boolean: NA where text is NA."""
    arr = pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    found = pc.match_substring_regex(arr, pattern, ignore_case=True)
    values = found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return pd.Series(values, index=text.index, dtype="boolean").mask(text.isna(), pd.NA)


def _research_links(body: pd.Series, domains: tuple[str, ...]) -> pd.Series:
    """``has_research_link``: a research domain or a written-out DOI in the text (NA where text is NA)."""
    return _arrow_contains(body, research_domain_pattern(domains) + "|" + DOI_TEXT_RE2)


def _calls_to_action(outside: pd.Series) -> pd.Series:
    """``has_call_to_action`` on the text outside links (NA where text is NA)."""
    return _arrow_contains(outside, CALL_TO_ACTION_RE2)


def code_features(
    posts: pd.DataFrame,
    *,
    account: pd.DataFrame | None = None,
    timezone: str = "UTC",
    research_domains: Sequence[str] = (),
) -> pd.DataFrame:
    """Return a new frame: ``posts`` plus the automatic features of every post.

    Parameters
    ----------
    posts
        The posts table (DESIGN.md §4). Needs ``published_at`` (UTC), ``text``, ``media_views``,
        ``impressions`` and ``engagements``; other columns are kept as they are.
    account
        The account table; when given (and it has follower counts) ``followers_at_post`` is filled.
    timezone
        IANA time zone in which posting hour, weekday, year and month are read (daylight saving time
        included) and in which the account table's dates are midnight.
    research_domains
        Journal or publisher domains (e.g. a codebook's ``research_domains``, ``["nejm.org"]``) that count
        as a link to the research, besides :data:`RESEARCH_DOMAINS`.

    Returns
    -------
    pandas.DataFrame
        ``posts`` with these columns added (replaced when already present; ``is_reply`` is kept):

        - ``n_urls`` (Int64), ``has_url`` (boolean): links in the text — http(s) URLs including t.co
          and bare domains (``example.org/x``, ``doi.org/...``; a bare domain with a two-letter
          country-code ending counts only with a path), never e-mail addresses. **X legacy quirk**: native
          media (a photo or video) appears in the text as ONE trailing t.co link. When ``has_media`` is
          true and the text ends with a t.co link, that last link is the media, not a link, and is not
          counted (nor, with the whitespace before it, in ``n_chars``).
        - ``n_hashtags`` (Int64): ``#`` + letters/digits/underscores with at least one letter (``#1`` is
          not a hashtag), not after a word character, not inside a link.
        - ``n_mentions`` (Int64): ``@handle`` of 1-15 letters/digits/underscores, not inside an e-mail
          address or a link, not followed by further word characters.
        - ``n_emoji`` (Int64), ``has_emoji`` (boolean): emoji of the ``emoji`` package's data; a
          multi-code-point emoji (ZWJ family, skin tone, flag, ❤️ with variation selector) counts once.
          Only rows with non-ASCII characters are scanned (ASCII rows have 0).
        - ``has_media`` (boolean): ``media_views > 0`` where media views are reported; where they are NA
          and the export gives a ``media_type``, whether that type is a photo/video/GIF/...; else NA.
        - ``n_chars`` (Int64): length in Unicode code points with every link counted as 23 characters
          (X's t.co length) and the trailing media link not counted; X's weighted count (CJK and emoji
          weigh 2) is not implemented.
        - ``is_question`` (boolean): a ``?`` (or full-width ``？``) outside links.
        - ``has_thread_marker`` (boolean): 🧵, a bracketed numbering ``(1/n)``/``[2/5]``, a bare ``k/``
          token anywhere (``1/ Here we go``), ``1/5``/``1/n`` opening the text, or a numbering such as
          ``2/5`` closing it (``24/7 support`` or ``1/2 cup`` mid-text are not thread markers).
        - ``hour_local`` (0-23), ``weekday_local`` (0 = Monday ... 6 = Sunday), ``year`` (all Int64) and
          ``month`` (first day of the local month, naive datetime) from ``published_at`` converted to
          ``timezone``.
        - ``followers_at_post`` (Float64): see :func:`interpolate_followers`; NA when ``account`` is None.
        - ``engagement_rate`` (Float64): engagements / impressions, NA where impressions is 0 or NA.
        - ``has_research_link`` (boolean): a visible link to the research — a host that is or ends in
          one of :data:`RESEARCH_DOMAINS` or ``research_domains`` (``dx.doi.org``,
          ``pubmed.ncbi.nlm.nih.gov``; not ``notdoi.org``, not ``jane@doi.org``), or a DOI written as
          ``doi:10.…``. A t.co link hides its destination, so X legacy posts whose text shows only t.co
          links are False: the feature sees visible domains only (a lower bound there).
        - ``has_call_to_action`` (boolean): one of :data:`CALL_TO_ACTION_PHRASES` as a whole word
          (case-insensitive) outside links, mentions and hashtags (``#VoteNow`` and ``@join`` do not count).

        - ``post_type`` (string: original, reply, quote, repost) and ``post_type_source``: see
          :func:`post_types` (the ingest stage's ``post_type`` where it has one, else the export's
          ``is_repost``/``is_reply`` flags and the text).

        Text features are NA where the text is NA.
    """
    check_columns(posts, ["published_at", "text", "media_views", "impressions", "engagements"], table="posts")
    try:
        return _code_features(posts, account=account, timezone=timezone, research_domains=research_domains)
    finally:
        _ARROW_CACHE.clear()  # the last text converted must not outlive the call
        pa.default_memory_pool().release_unused()  # the text passes' freed buffers go back to the system


def _code_features(posts: pd.DataFrame, *, account: pd.DataFrame | None, timezone: str,
                   research_domains: Sequence[str], reference: bool = False) -> pd.DataFrame:
    zone = _zone(timezone)
    domains = tuple(dict.fromkeys(RESEARCH_DOMAINS + normalize_research_domains(research_domains)))
    has_media = _media_flags(posts)
    arrow = None
    if reference:  # Python's re on object strings: what the Arrow path is tested against
        coded = _text_features_reference(posts["text"], has_media, domains)
    else:
        arrow = _text_arrow(posts["text"])
        coded = _text_features_arrow(arrow, posts.index, has_media, domains)
    # a shallow copy: the new columns are set on it, the caller's frame and its arrays are not touched
    out = posts.copy(deep=False)
    for name in ("n_urls", "has_url", "n_hashtags", "n_mentions", "n_emoji", "has_emoji"):
        out[name] = coded[name]
    out["has_media"] = has_media
    for name in ("n_chars", "is_question", "has_thread_marker", "has_research_link", "has_call_to_action"):
        out[name] = coded[name]
    del coded
    out["post_type"], out["post_type_source"] = _post_types(posts, arrow)
    del arrow

    published = _utc(posts["published_at"], table="posts", column="published_at")
    local = _local_wall_time(published, zone)  # local wall-clock time, DST applied
    out["hour_local"] = local.dt.hour.astype("Int64")
    out["weekday_local"] = local.dt.weekday.astype("Int64")
    out["year"] = local.dt.year.astype("Int64")
    # first day of the local month (numpy's month unit: the same instants as to_period("M").to_timestamp())
    out["month"] = pd.Series(
        local.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype("datetime64[ns]"), index=posts.index
    )

    if account is not None and "followers" in account.columns:
        out["followers_at_post"] = interpolate_followers(posts, account, timezone=timezone)
    else:
        out["followers_at_post"] = pd.Series(pd.NA, index=posts.index, dtype="Float64")

    impressions = posts["impressions"].astype("Float64")
    engagements = posts["engagements"].astype("Float64")
    out["engagement_rate"] = (engagements / impressions.where((impressions > 0).fillna(False))).astype(
        "Float64"
    )
    return out


def _text_features_reference(text: pd.Series, has_media: pd.Series, domains: tuple[str, ...]) -> dict[str, pd.Series]:
    """The text features with Python's ``re`` on object strings: the reference the Arrow path is tested against.

    Slower (about 5 s per million posts); kept as the reference of tests/test_features_fastpath.py.
    """
    # object dtype: pandas' .str methods carry less per-call overhead there than on the "string" dtype
    text = text.astype("string").astype(object)

    # str.isascii is O(1) on Python strings: non-ASCII literals (＃, ＠, ？, 🧵) are looked for only there
    non_ascii = ~text.fillna("").map(str.isascii).to_numpy(dtype=bool)
    # X legacy quirk: the trailing t.co link of a post with native media is the media itself.
    media_rows = has_media.fillna(False).to_numpy(dtype=bool) & text.notna().to_numpy()
    tail_rows = media_rows.copy()
    if tail_rows.any():
        tail_rows[tail_rows] = text[tail_rows].str.contains(MEDIA_TAIL_RE).to_numpy(dtype=bool)
    body = text.copy()
    if tail_rows.any():  # drop the media link and the whitespace before it
        body[tail_rows] = text[tail_rows].str.replace(MEDIA_TAIL_RE, "", regex=True).str.rstrip()
    body = _replace(body, _LINK_RE, _has(body, _LINK))  # the placeholder must not occur in the text

    # text outside links: hashtags, mentions and question marks inside a link do not count
    outside = _replace(body, HTTP_RE, _has(body, "://"), repl=_LINK)
    bare_rows = _has(outside, ".")
    bare_rows[bare_rows] = outside[bare_rows].str.contains(_BARE_CANDIDATE_RE).to_numpy(dtype=bool)
    outside = _replace(outside, BARE_URL_RE, bare_rows, repl=_LINK)
    n_urls = _count(outside, _LINK_RE, _has(outside, _LINK))
    # every link became one placeholder: link characters = len(body) - len(outside) + n_urls
    body_len = body.str.len().astype("Int64")
    link_chars = body_len - outside.str.len().astype("Int64") + n_urls
    n_chars = body_len - link_chars + URL_WEIGHT * n_urls

    # Only the non-ASCII rows are scanned for emoji. There, every run of ASCII characters that no emoji
    # contains becomes one space (which no emoji contains either): the text shrinks about tenfold and no
    # emoji is joined to or split from another.
    emoji_text = _replace(text, _ascii_outside_emoji(), non_ascii)
    n_emoji = _count(emoji_text, emoji_pattern(), non_ascii)

    out: dict[str, pd.Series] = {}
    out["n_urls"] = n_urls
    out["has_url"] = (n_urls > 0).astype("boolean")
    out["n_hashtags"] = _count(outside, HASHTAG_RE, _has(outside, "#") | _has(outside, "＃", non_ascii))
    out["n_mentions"] = _count(outside, MENTION_RE, _has(outside, "@") | _has(outside, "＠", non_ascii))
    out["n_emoji"] = n_emoji
    out["has_emoji"] = (n_emoji > 0).astype("boolean")
    out["n_chars"] = n_chars.astype("Int64")
    question = pd.Series(
        _has(outside, "?") | _has(outside, "？", non_ascii), index=text.index, dtype="boolean"
    )
    out["is_question"] = question.mask(text.isna(), pd.NA)
    thread_rows = _has(outside, "/") | _has(outside, "🧵", non_ascii)
    thread = _contains(outside, THREAD_RE, thread_rows)
    thread_rows &= ~thread.fillna(False).to_numpy(dtype=bool)
    if thread_rows.any():
        thread[thread_rows] = outside[thread_rows].str.match(THREAD_START_RE).astype("boolean")
    out["has_thread_marker"] = thread
    out["has_research_link"] = _research_links(body, domains)
    out["has_call_to_action"] = _calls_to_action(outside)
    _ARROW_CACHE.clear()
    return out


# --- the Arrow path: RE2 through pyarrow.compute, look-arounds emulated ----------------------------------


def _text_arrow(text: pd.Series) -> pa.Array:
    """``text`` as an Arrow large_string array, converted once (no copy when it is Arrow-backed already).

    Raises InputError naming the first row whose text is not valid Unicode (a lone surrogate, which no
    UTF-8 export can hold): neither Arrow nor the reference path can code it.
    """
    values = text.array
    if isinstance(text.dtype, pd.ArrowDtype) or getattr(text.dtype, "storage", None) in ("pyarrow", "pyarrow_numpy"):
        arr = pa.chunked_array(pa.array(values)) if not isinstance(values, pa.ChunkedArray) else values
    else:
        objects = text.to_numpy(dtype=object, na_value=None)
        try:
            arr = pa.array(objects, type=pa.large_string(), from_pandas=True)
        except (pa.ArrowException, UnicodeError, TypeError) as exc:
            bad = next((i for i, t in enumerate(objects) if t is not None and not _encodable(t)), None)
            where = f"row {bad + 1} (index {text.index[bad]!r})" if bad is not None else "a row"
            raise InputError(
                f"posts table: the text of {where} is not valid Unicode text ({exc}); expected text decoded "
                "from UTF-8. Re-run the ingest stage on the export, or repair that row.",
                column="text",
            ) from exc
    arr = arr if pa.types.is_large_string(arr.type) else arr.cast(pa.large_string())
    # one contiguous array: take/filter on many chunks cost more than this copy
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _encodable(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=1)
def _re2_patterns() -> dict[str, str]:
    """RE2 versions of the patterns above, with Python's own \\w, \\s, \\d written out (see textscan)."""
    from .textscan import CharSet

    word = CharSet.of_python(r"[\w]")
    space = CharSet.of_python(r"[\s]")
    digit = CharSet.of_python(r"[\d]")
    s, d = space.re2(), digit.re2()
    letter = (word - digit - CharSet.of("_")).re2()  # Python's [^\W\d_]
    link_chars = (~(space | CharSet.of('<>"'))).re2()
    link_end = (~(space | CharSet.of('<>"\'.,;:!?)]}…'))).re2()
    tail = f"{link_chars}*{link_end}"
    http = "[hH][tT][tT][pP][sS]?://" + tail
    hashtag = f"[0-9_]*{letter}"  # after "#" or "＃"
    numbering = f"(?:{d}{{1,2}}|[nN])"
    s0 = (space | CharSet.of("\x00")).re2()  # whitespace or the link placeholder
    # a superset of BARE_URL_RE (look-behind consumed, look-aheads dropped, letters of every case Python's
    # IGNORECASE folds onto a-z): only rows it finds are scanned by BARE_URL_RE itself
    alnum_i = CharSet.of_python(r"(?i:[a-z0-9])")
    alnum_i_re2, alnum_hyphen_i = alnum_i.re2(), (alnum_i | CharSet.of("-")).re2()
    bare_pre = (~(word | CharSet.of("@.-/:"))).re2()
    # a character before "http", "#" or "@" that fails the look-behind of HTTP_RE, HASHTAG_RE or MENTION_RE
    violation = (
        f"{(word | CharSet.of('@')).re2()}[hH][tT][tT][pP][sS]?://"
        f"|{(word | CharSet.of('&#＃/')).re2()}[#＃]"
        f"|{(word | CharSet.of('!#$%&*@＠')).re2()}[@＠]"
    )
    return {
        "violation": violation,
        "http_plain": http,
        # without the look-behind (rows where it can fail go to Python's re); without the trailing \w*, which
        # cannot hold another "#" in those rows (a "#" after a word character fails the look-behind)
        "hashtag": hashtag,
        # the look-ahead (?![\w@＠]) as a consumed character: it is never "@", so never the next mention's
        "mention": "[A-Za-z0-9_]{1,15}(?:" + (~(word | CharSet.of("@＠"))).re2() + "|\\z)",  # after "@" or "＠"
        "media_tail": f"{s}*[hH][tT][tT][pP][sS]?://t\\.co/[A-Za-z0-9]+{s}*\\z",
        "thread": (
            "🧵"
            f"|[(\\[]{d}{{1,2}}/{numbering}[)\\]]"
            f"|(?:^|{s}){d}{{1,2}}/(?:{s0}|\\z|{numbering}{s0}*\\z)"
            f"|^{s}*1/{numbering}?(?:{s0}|\\z)"
        ),
        "emoji": _emoji_trie_re2(),
        "bare_candidate": f"(?:^|{bare_pre}){alnum_i_re2}(?:{alnum_hyphen_i}*{alnum_i_re2})?\\.{alnum_i_re2}",
    }


@lru_cache(maxsize=1)
def _emoji_trie_re2() -> str:
    """The emoji trie of :func:`emoji_pattern` without its look-ahead guards (RE2 needs no guards)."""
    return _trie_pattern(_emoji_trie())


def _emoji_trie() -> dict:
    """Every emoji sequence of the ``emoji`` package as a character trie (``""`` marks the end of a sequence)."""
    trie: dict = {}
    for key in emoji.EMOJI_DATA:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}
    return trie


def _thread_markers(outside: pa.Array, pattern: str) -> np.ndarray:
    """Whether the thread pattern occurs; every marker holds a "/" or 🧵, so only those rows are scanned."""
    from .textscan import to_numpy_bool

    thread = to_numpy_bool(pc.match_substring_regex(outside, "/")) | to_numpy_bool(
        pc.match_substring_regex(outside, "🧵")
    )
    thread[thread] = to_numpy_bool(pc.match_substring_regex(_rows(outside, thread), pattern))
    return thread


def _rows(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    """The rows of ``arr`` where ``mask`` holds (a copy of their text: worth it when they are few)."""
    return pc.filter(arr, pa.array(mask))


def _scatter(n: int, rows: np.ndarray, values: np.ndarray, dtype) -> np.ndarray:
    out = np.zeros(n, dtype=dtype)
    out[rows] = values
    return out


#: Posts whose text features are computed together: every feature is a function of one post's text, so the
#: text passes run over slices of this many posts, and their temporaries (the text with the media link cut, the
#: text outside links: a copy of the text each) are a slice's, not the whole column's.
TEXT_CHUNK = 262_144


def _text_features_arrow(arr: pa.Array, index: pd.Index, has_media: pd.Series,
                         domains: tuple[str, ...], *, chunk: int | None = None) -> dict[str, pd.Series]:
    """The text features of :func:`_text_features_reference`, computed on Arrow with RE2 (same values), over
    slices of ``chunk`` posts (default :data:`TEXT_CHUNK`)."""
    n = len(arr)
    chunk = chunk or TEXT_CHUNK
    media = has_media.fillna(False).to_numpy(dtype=bool)
    parts = [_text_feature_arrays(arr.slice(start, chunk), media[start:start + chunk], domains)
             for start in range(0, max(n, 1), chunk)]
    got = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    del parts
    na = got.pop("na")

    def count(values: np.ndarray) -> pd.Series:
        return pd.Series(pd.arrays.IntegerArray(values.astype(np.int64, copy=False), na.copy()), index=index)

    def flag(values: np.ndarray) -> pd.Series:
        return pd.Series(pd.arrays.BooleanArray(values.astype(bool, copy=False), na.copy()), index=index)

    n_urls, n_emoji = got["n_urls"], got["n_emoji"]
    return {
        "n_urls": count(n_urls),
        "has_url": flag(n_urls > 0),
        "n_hashtags": count(got["n_hashtags"]),
        "n_mentions": count(got["n_mentions"]),
        "n_emoji": count(n_emoji),
        "has_emoji": flag(n_emoji > 0),
        "n_chars": count(got["n_chars"]),
        "is_question": flag(got["question"]),
        "has_thread_marker": flag(got["thread"]),
        "has_research_link": flag(got["research"]),
        "has_call_to_action": flag(got["cta"]),
    }


def _text_feature_arrays(arr: pa.Array, media: np.ndarray, domains: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The text features of the posts in ``arr`` as numpy arrays (``na``: the text is NA; ``media``: has_media).

    RE2 has no look-arounds. One RE2 pass finds the rows where a look-behind of HTTP_RE, HASHTAG_RE or
    MENTION_RE can fail (a word character or @ before "http", "#" or "@": e-mail addresses, C#); those rows
    get Python's re, and everywhere else the patterns without look-behinds match the same. The mention's
    look-ahead becomes a consumed character (never an @, so never the start of the next mention); the
    thread markers' look-arounds are consumed characters too (only whether one occurs counts); bare
    domains go to BARE_URL_RE on the rows an RE2 superset of it finds. Emoji are counted with the emoji
    trie (no guards) on the non-ASCII rows.
    tests/test_features_fastpath.py holds every column equal to :func:`_text_features_reference`.
    """
    from .textscan import to_numpy_bool, to_numpy_int

    p = _re2_patterns()
    n = len(arr)
    na = to_numpy_bool(pc.is_null(arr))
    # X legacy quirk: on posts with media, a trailing t.co link (and the whitespace before it) is the media.
    media_rows = np.flatnonzero(media & ~na)
    body = arr
    if len(media_rows):
        rows = pa.array(media_rows)
        stripped = pc.replace_substring_regex(pc.take(arr, rows), p["media_tail"], "")
        mask = np.zeros(n, dtype=bool)
        mask[media_rows] = True
        body = pc.replace_with_mask(arr, pa.array(mask), stripped)
    if pc.any(pc.match_substring_regex(body, _LINK)).as_py():  # the placeholder must not occur in the text
        body = pc.replace_substring(body, _LINK, " ")
    non_ascii = ~to_numpy_bool(pc.string_is_ascii(arr)) & ~na

    # Rows where a character before "http", "#" or "@" fails a look-behind (an e-mail address, C#, a
    # word glued to a link: a few percent) get Python's re below; elsewhere the look-behinds always hold
    # and the patterns without them give the same matches.
    slow = np.flatnonzero(to_numpy_bool(pc.match_substring_regex(body, p["violation"])))
    slow_mask = pa.array(_scatter(n, slow, True, bool))

    # text outside links: every http(s) link becomes one placeholder, then the bare domains
    outside = pc.replace_substring_regex(body, p["http_plain"], _LINK)
    if len(slow):
        fixed = [HTTP_RE.sub(_LINK, t) for t in pc.take(body, pa.array(slow)).to_pylist()]
        outside = pc.replace_with_mask(outside, slow_mask, pa.array(fixed, type=pa.large_string()))
    bare = to_numpy_bool(pc.match_substring_regex(outside, r"\.[a-zA-Z]{2}"))
    if bare.any():
        rows = np.flatnonzero(bare)
        cand = to_numpy_bool(pc.match_substring_regex(pc.take(outside, pa.array(rows)), p["bare_candidate"]))
        rows = rows[cand]
        if len(rows):
            after = [BARE_URL_RE.sub(_LINK, t) for t in pc.take(outside, pa.array(rows)).to_pylist()]
            outside = pc.replace_with_mask(
                outside, pa.array(_scatter(n, rows, True, bool)), pa.array(after, type=pa.large_string())
            )
    # The passes below are independent and Arrow's kernels release the GIL: two threads run them side by side.
    jobs = {
        "n_urls": lambda: to_numpy_int(pc.count_substring_regex(outside, _LINK)),
        "body_len": lambda: to_numpy_int(pc.utf8_length(body)),
        "outside_len": lambda: to_numpy_int(pc.utf8_length(outside)),
        "research": lambda: to_numpy_bool(pc.match_substring_regex(
            body, research_domain_pattern(domains) + "|" + DOI_TEXT_RE2, ignore_case=True)),
        "cta": lambda: to_numpy_bool(pc.match_substring_regex(outside, CALL_TO_ACTION_RE2, ignore_case=True)),
        # emoji: the trie (no guards) on the non-ASCII rows only
        "n_emoji": lambda: _scatter(n, non_ascii, to_numpy_int(
            pc.count_substring_regex(_rows(arr, non_ascii), p["emoji"])), np.int64),
        # each pattern starts with one literal character, so RE2 skips to its occurrences (memchr)
        **{f"hashtag{c}": (lambda c=c: to_numpy_int(pc.count_substring_regex(outside, c + p["hashtag"])))
           for c in "#＃"},
        **{f"mention{c}": (lambda c=c: to_numpy_int(pc.count_substring_regex(outside, c + p["mention"])))
           for c in "@＠"},
        "question": lambda: to_numpy_bool(pc.match_substring_regex(outside, r"\?")) | to_numpy_bool(
            pc.match_substring_regex(outside, "？")),
        "thread": lambda: _thread_markers(outside, p["thread"]),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = {name: pool.submit(job) for name, job in jobs.items()}
        got = {name: future.result() for name, future in done.items()}
    del jobs, done
    n_urls, n_emoji = got["n_urls"], got["n_emoji"]
    # every link became one placeholder: link characters = len(body) - len(outside) + n_urls
    link_chars = got["body_len"] - got["outside_len"] + n_urls
    n_chars = got["body_len"] - link_chars + URL_WEIGHT * n_urls
    n_hashtags = got["hashtag#"] + got["hashtag＃"]
    n_mentions = got["mention@"] + got["mention＠"]
    if len(slow):
        texts = pc.take(outside, pa.array(slow)).to_pylist()
        n_hashtags[slow] = [len(HASHTAG_RE.findall(t)) for t in texts]
        n_mentions[slow] = [len(MENTION_RE.findall(t)) for t in texts]
        del texts
    return {"na": na, "n_urls": n_urls, "n_hashtags": n_hashtags, "n_mentions": n_mentions, "n_emoji": n_emoji,
            "n_chars": n_chars, "question": got["question"], "thread": got["thread"], "research": got["research"],
            "cta": got["cta"]}
