"""One vocabulary: how features, controls and metrics are named in figures, sentences and the report.

Every module that prints a feature name or builds a sentence about it reads this module, so a feature has one
label and one phrase everywhere (figures, models' sentences, the report, the notebooks). The meaning of each
automatic feature (its definition) stays in :data:`workbench.features.FEATURE_DESCRIPTIONS`, next to the code
that computes it, in X's terms; :func:`feature_description` gives it in the terms of the posts' platforms.

Also here: the thresholds the report and the stages share (significance level, Krippendorff's α cuts), so each
is defined once.
"""

from __future__ import annotations

import re

#: Significance level of every verdict the report prints (judged on the Holm-adjusted p where present).
SIGNIFICANCE = 0.05
#: Krippendorff's α at or above which a manual code is reliable (Krippendorff 2004).
ALPHA_RELIABLE = 0.800
#: Krippendorff's α below which a manual code is too unreliable to draw conclusions from (Krippendorff 2004).
ALPHA_TENTATIVE = 0.667

#: Short labels of binary features (``has_<key>``) where "Key" capitalised would read badly.
FEATURE_NAMES: dict[str, str] = {"url": "Link (URL)", "gif": "GIF", "cta": "Call to action (CTA)"}

#: Phrases after "posts with …" for binary features ``has_<key>``.
FEATURE_PHRASES: dict[str, str] = {
    "url": "a link",
    "link": "a link",
    "poll": "a poll",
    "graphic": "a graphic",
    "emoji": "an emoji",
    "image": "an image",
    "photo": "a photo",
    "video": "a video",
    "gif": "a GIF",
    "hashtag": "a hashtag",
    "hashtags": "hashtags",
    "mention": "a mention",
    "mentions": "mentions",
    "question": "a question",
    "media": "media",
    "thread": "a thread",
    "cta": "a call to action",
}

#: Singular nouns after "each additional …" for count features ``n_<key>``.
COUNT_NOUNS: dict[str, str] = {
    "urls": "link",
    "links": "link",
    "emojis": "emoji",
    "emoji": "emoji",
    "words": "word",
    "chars": "character",
    "characters": "character",
    "hashtags": "hashtag",
    "mentions": "mention",
}

#: Readable names of the controls for "holding … constant" (the base column of a term such as ``year[T.2022]``).
CONTROL_NAMES: dict[str, str] = {
    "log_followers_at_post": "audience size",
    "followers_at_post": "audience size",
    "year": "year",
    "hour_local": "posting hour",
    "weekday_local": "weekday",
    "post_type": "post type",
    "media_type": "media type",
    "is_reply": "whether the post is a reply",
    "is_repost": "whether the post is a repost",
}

#: Readable names of account-level and post-level metrics.
METRIC_NAMES: dict[str, str] = {
    "followers": "followers",
    "impressions": "impressions",
    "engagements": "engagements",
    "engagement_rate": "engagement rate",
    "posts": "posts",
    "impressions_per_post": "impressions per post",
    "new_follows": "new follows",
    "unfollows": "unfollows",
    "likes": "likes",
    "reposts": "reposts",
    "replies": "replies",
    "url_clicks": "link clicks",
    "profile_clicks": "profile clicks",
}

#: Readable names of the model families a results file names by key.
MODEL_NAMES: dict[str, str] = {
    "ols_log": "OLS on log(1 + count) with robust HC3 errors",
    "ols_std": "OLS with standardized variables (the published form)",
    "negbin": "a negative binomial count model with robust errors",
    "negbin_rate": "a negative binomial model of engagements per impression",
}

_LEVEL_TERM = re.compile(r"^(.+)\[(?:T\.)?(.+)\]$")


def _article(words: str) -> str:
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words


def label_feature(term: str) -> str:
    """Return a readable name for a feature column: ``has_poll`` → "Poll", ``n_hashtags`` → "Hashtags (count)"."""
    term = str(term)
    if term.startswith("has_"):
        return FEATURE_NAMES.get(term[4:], term[4:].replace("_", " ").capitalize())
    if term.startswith("n_"):
        return f"{term[2:].replace('_', ' ').capitalize()} (count)"
    if term.startswith("is_"):
        return f"{term[3:].replace('_', ' ').capitalize()} (yes/no)"
    level = _LEVEL_TERM.match(term)
    if level:  # a level of a categorical column, e.g. media_type[photo]
        return f"{level.group(1).replace('_', ' ').capitalize()}: {level.group(2)}"
    return term.replace("_", " ").capitalize()


def feature_phrase(term: str) -> tuple[str, str]:
    """(kind, phrase) of a term: ``binary`` → "posts with <phrase>", ``flag`` → "posts that are <phrase>",
    ``count`` → "each additional <phrase>", ``level`` → "posts with <column> <level>"."""
    term = str(term)
    level = _LEVEL_TERM.match(term)
    if level:
        return "level", f"{level.group(1).replace('_', ' ')} {level.group(2)}"
    if term.startswith("has_"):
        key = term[4:]
        return "binary", FEATURE_PHRASES.get(key, _article(key.replace("_", " ")))
    if term.startswith("is_"):
        return "flag", _article(term[3:].replace("_", " "))
    if term.startswith("n_"):
        key = term[2:]
        noun = COUNT_NOUNS.get(key, key[:-1] if key.endswith("s") else key)
        return "count", noun.replace("_", " ")
    return "count", f"unit of {term.replace('_', ' ')}"


def control_name(term: str) -> str:
    """The readable name of a control term: ``year[T.2022]`` → "year", ``log_followers_at_post`` → "audience size"."""
    base = str(term).split("[", 1)[0]
    return CONTROL_NAMES.get(base, base.replace("_", " "))


def metric_name(metric: str) -> str:
    """The readable name of a metric column: ``url_clicks`` → "link clicks"."""
    return METRIC_NAMES.get(str(metric), str(metric).replace("_", " "))


def join_words(items: list[str] | tuple[str, ...], conj: str = "and") -> str:
    """["a"] → "a"; ["a", "b"] → "a and b"; ["a", "b", "c"] → "a, b and c"."""
    items = [str(i) for i in items]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


#: Each platform's own words for what the posts table's ``impressions`` and ``engagements`` hold, and what they
#: count (from the exports' documentation and FORMATS.md §8). The report uses the platform's word ("views" for
#: Meta, never "impressions") and prints these definitions in the methods appendix.
PLATFORM_TERMS: dict[str, dict[str, str]] = {
    "x": {"impressions": "Impressions: the times the post was shown on screen (X's count).",
          "engagements": "X's own Engagements: every interaction with the post — likes, reposts, replies, and clicks "
                         "on links, the profile, hashtags, media and detail expands."},
    "facebook": {"views": "Views: the number of times the content was played or displayed (Meta's metric; it "
                          "replaced Impressions in 2024–25).",
                 "impressions": "Impressions: the times the post was on screen (Meta's legacy metric).",
                 "engagements": "reactions + comments + shares (Meta's 'Reactions, comments and shares'); clicks are "
                                "not included.",
                 "reach": "Reach: the number of accounts that saw the content at least once (Meta's estimate); unlike views, repeats are not counted, so reach is never summed across posts or days."},
    "instagram": {"views": "Views: the number of times the content was played or displayed (Meta's metric).",
                  "impressions": "Impressions: the times the post was on screen (Meta's legacy metric).",
                  "engagements": "likes + comments + shares + saves; clicks are not included.",
                  "reach": "Reach: the number of accounts that saw the content at least once (Meta's estimate); unlike views, repeats are not counted, so reach is never summed across posts or days."},
    "linkedin": {"impressions": "Impressions: the times the post was shown (LinkedIn's count).",
                 "engagements": "clicks + likes + comments + reposts + follows (LinkedIn's own definition, its "
                                "Engagement rate × impressions)."},
    "bluesky": {"engagements": "likes + replies + reposts + quotes (Bluesky reports no impressions).",
                "engagements_absent": "not reported: Bluesky gives likes, replies, reposts and quotes per post but no "
                                      "engagement total (and no impressions), and these counts are not summed into "
                                      "one here, so no engagements are analysed."},
    "mastodon": {"engagements": "favourites + replies + boosts (Mastodon reports no impressions).",
                 "engagements_absent": "not reported: Mastodon gives favourites, boosts and replies per post but no "
                                       "engagement total (and no impressions), and these counts are not summed into "
                                       "one here, so no engagements are analysed."},
}


def impressions_word(labels: list[str] | tuple[str, ...]) -> str:
    """The report's word for the posts' ``impressions`` column, from the platforms' own labels: "views" when
    every labelled post says Views (Meta), "impressions" when every one says Impressions or none is labelled,
    else "impressions or views" (each platform's own count)."""
    found = {str(x).strip().lower() for x in labels if x is not None and str(x).strip()}
    if found == {"views"}:
        return "views"
    if found <= {"impressions"}:
        return "impressions"
    return "impressions or views"


#: Display names of platforms in sentences ("views (Facebook, Instagram)").
PLATFORM_NAMES: dict[str, str] = {"x": "X", "facebook": "Facebook", "instagram": "Instagram", "linkedin": "LinkedIn",
                                  "bluesky": "Bluesky", "mastodon": "Mastodon"}


def platform_name(platform: object) -> str:
    """ "facebook" → "Facebook", "x" → "X"; unknown names as given."""
    return PLATFORM_NAMES.get(str(platform).strip().lower(), str(platform))


def _platform_word(row: dict) -> str:
    label = str(row.get("impressions_label") or "").strip().lower()
    return "views" if label == "views" else "impressions"


def outcome_word(outcome: str, vocabulary: dict | None = None, platform: object = None) -> str:
    """The report's word for an outcome column, in the platform's own terms.

    ``impressions`` is "views" on Meta posts (their ``impressions_label`` says Views) and "impressions"
    elsewhere; with ``platform`` given, that platform's word; without, one word when every platform agrees,
    else each word with its platforms: "views (Facebook, Instagram) / impressions (X)". Other outcomes are
    named by :func:`metric_name`. ``vocabulary`` is findings' ``platform_vocabulary`` (None: the plain word).
    """
    if str(outcome) != "impressions":
        return metric_name(outcome)
    rows = [r for r in (vocabulary or {}).get("platforms") or [] if isinstance(r, dict)]
    if platform is not None and str(platform) not in ("", "nan", "None"):
        own = [r for r in rows if str(r.get("platform")) == str(platform)]
        return _platform_word(own[0]) if own else "impressions"
    if not rows:
        return str((vocabulary or {}).get("impressions_word") or "impressions")
    words: dict[str, list[str]] = {}
    for r in rows:
        words.setdefault(_platform_word(r), []).append(platform_name(r.get("platform")))
    if len(words) == 1:
        return next(iter(words))
    return " / ".join(f"{w} ({', '.join(ps)})" for w, ps in sorted(words.items(), key=lambda kv: kv[0] != "views"))


def cap(text: str) -> str:
    """First letter upper-case, the rest kept ("views (Facebook) / impressions (X)" → "Views (Facebook) / …"),
    unlike ``str.capitalize`` which lower-cases platform names."""
    text = str(text)
    return text[:1].upper() + text[1:]


#: The automatic features' definitions in platform-neutral words, for data that are not (only) X's: what
#: :mod:`workbench.features` really detects on every platform. features.FEATURE_DESCRIPTIONS keeps X's wording
#: (t.co, X's length rule, X legacy exports), printed for X-only data.
NEUTRAL_FEATURE_DESCRIPTIONS: dict[str, str] = {
    "n_urls": ("Links in the text: http(s) URLs and bare domains such as example.org/x or doi.org/10.1/abc "
               "(e-mail addresses are not links)."),
    "n_hashtags": ("Hashtags: # followed by letters, digits or underscores, with at least one letter (#1 is not a "
                   "hashtag), not preceded by a word character and not part of a link; the same rule on every "
                   "platform."),
    "n_mentions": ("Mentions written with @ in the exported text: @handle with 1-15 letters, digits or underscores, "
                   "not part of an e-mail address or a link. A tag the export shows without @ is not counted."),
    "n_chars": ("Length of the text in Unicode code points, with every link counted as 23 characters whatever "
                "its length."),
    "has_research_link": (
        "The text shows a link to the research itself: a visible domain of a research database or preprint server "
        "(doi.org and dx.doi.org, ncbi.nlm.nih.gov with PubMed and PMC, pubmed.gov, europepmc.org, biorxiv.org, "
        "medrxiv.org, arxiv.org) or of a journal/publisher listed under research_domains in the codebook, or a DOI "
        "written out as 'doi:10.…'. A link the export does not show in the text (a link card without the address "
        "in the caption) is not seen."),
    "has_media": ("The post carries native media (photo, video, GIF): where the export counts views of a post's "
                  "media (a media-views column, such as LinkedIn's video Views), a count above 0; else the export's "
                  "media type or "
                  "attachments where it gives them; NA where neither is reported."),
    "post_type": (
        "What kind of post it is: original, reply, quote or repost — from the export's own post-type column where "
        "there is one, else its reply/repost flags, else the text (a text opening with \"RT @…\" is a repost; a "
        "text ending in a link to another post is a quote); anything else counts as original."),
}

#: What a feature means on one platform beyond the neutral words (the code's rule meeting that platform's data).
PLATFORM_FEATURE_NOTES: dict[str, dict[str, str]] = {
    "instagram": {"n_mentions": "Instagram handles may hold a period or be up to 30 characters: @synth.lab "
                                "counts once (as @synth), a handle longer than 15 characters is not counted."},
    "mastodon": {"n_mentions": "A Mastodon mention written with its server (@name@server.social) is not counted; "
                               "only a bare @name is.",
                 "post_type": "A boost is Mastodon's repost (a reblog in the export).",
                 "n_chars": "Mastodon also counts every link as 23 characters."},
    "facebook": {"post_type": "A post the export marks 'Is share' (the page sharing another post) is a repost."},
    "x": {"n_urls": "In X legacy exports a photo or video shows up as one t.co link at the end of the text; when "
                    "the post has media, that trailing link is the media and is not counted.",
          "n_chars": "X shortens every link to a 23-character t.co link; the trailing media link of X legacy exports "
                     "is not counted, and X's own weighted count (CJK characters and emoji weigh 2) is not "
                     "implemented.",
          "has_research_link": "X legacy exports show every link as t.co, which hides its destination: such a post "
                               "counts as False unless a research domain is written in the text, so on X legacy "
                               "data this feature is a lower bound."},
}


def feature_description(name: str, platforms: list[str] | tuple[str, ...] | set[str] | None = None) -> str | None:
    """The definition of an automatic feature in the terms of the platforms the posts come from.

    X-only data (or no platform known) get :data:`workbench.features.FEATURE_DESCRIPTIONS` as written (X's
    terms: t.co, X's length rule, X legacy exports). Any other platform gets the neutral words of
    :data:`NEUTRAL_FEATURE_DESCRIPTIONS` (where X's text would not be true of it) followed by each platform's
    note ("Instagram: …", "On X: …" when X is among several). None for a name that is not an automatic feature.
    """
    from .features import FEATURE_DESCRIPTIONS  # the definitions live beside the code that computes them

    if name not in FEATURE_DESCRIPTIONS:
        return None
    found = sorted({str(p).strip().lower() for p in platforms or () if p is not None and str(p).strip()}
                   - {"unknown", "nan", "none", "<na>"})
    if not found or found == ["x"]:
        return FEATURE_DESCRIPTIONS[name]
    text = own_words(NEUTRAL_FEATURE_DESCRIPTIONS.get(name, FEATURE_DESCRIPTIONS[name]), found)
    notes = [(p, PLATFORM_FEATURE_NOTES.get(p, {}).get(name)) for p in found]
    notes = [(p, n) for p, n in notes if n]
    if len(found) == 1 and notes:
        return f"{text} {notes[0][1]}"
    return " ".join([text, *(f"On {platform_name(p)}: {n}" for p, n in notes)])


#: Each platform's own word where it differs from the report's: Mastodon calls a repost a boost (its API's
#: ``reblog``); X and Bluesky say repost.
PLATFORM_WORDS: dict[str, dict[str, str]] = {"mastodon": {"repost": "boost", "reposts": "boosts",
                                                          "Repost": "Boost", "Reposts": "Boosts"}}


def _platform_keys(platforms: object) -> list[str]:
    if isinstance(platforms, str):
        platforms = [platforms]
    return sorted({str(p).strip().lower() for p in platforms or () if p is not None and str(p).strip()}
                  - {"unknown", "nan", "none", "<na>"})


def vocabulary_platforms(vocabulary: dict | None) -> list[str]:
    """The posts' platforms named in findings' ``platform_vocabulary`` (``platforms`` rows)."""
    rows = (vocabulary or {}).get("platforms") or []
    return _platform_keys([r.get("platform") for r in rows if isinstance(r, dict)])


def platform_word(word: str, platforms: object) -> str:
    """``word`` in the posts' platforms' own terms: "reposts" is "boosts" when every platform is Mastodon and
    "reposts (boosts on Mastodon)" when Mastodon is one of several; a word no platform renames is as given."""
    found = _platform_keys(platforms)
    own = {p: PLATFORM_WORDS.get(p, {}).get(word, word) for p in found}
    if not found or set(own.values()) == {word}:
        return word
    if len(set(own.values())) == 1:
        return next(iter(own.values()))
    return f"{word} ({', '.join(f'{w} on {platform_name(p)}' for p, w in own.items() if w != word)})"


_OWN_WORD_RE = re.compile(r"\b(?:[Rr]eposts?)\b")


def own_words(text: str, platforms: object) -> str:
    """A sentence with "repost(s)" in the platforms' own word (:func:`platform_word`) when they all share it
    (Mastodon only: "boost(s)"); unchanged for mixed or other platforms, where a definition stays general."""
    found = _platform_keys(platforms)
    if not found:
        return text
    words = {PLATFORM_WORDS.get(p, {}).get("repost", "repost") for p in found}
    if words == {"repost"} or len(words) > 1:
        return text
    return _OWN_WORD_RE.sub(lambda m: PLATFORM_WORDS[found[0]].get(m.group(0), m.group(0)), text)


def platforms_without(metric: str, vocabulary: dict | None) -> list[str]:
    """Display names of the posts' platforms whose exports do not report ``metric`` at all (Mastodon and Bluesky
    report no impressions: :data:`PLATFORM_TERMS` has no definition for it)."""
    rows = [r for r in (vocabulary or {}).get("platforms") or [] if isinstance(r, dict)]
    out = []
    for r in rows:
        terms = PLATFORM_TERMS.get(str(r.get("platform")))
        if terms is not None and metric not in terms and not (metric == "impressions" and "views" in terms):
            out.append(platform_name(r.get("platform")))
    return out


_IRREGULAR = {"reply": "replies", "this": "these", "estimate": "estimates"}


def count_noun(n: object, noun: str, plural: str | None = None, *, spec: str = ",") -> str:
    """ "1 post", "2 posts", "1 feature–outcome estimate" (review15 M6: "1 posts"); ``n`` None → the plural alone."""
    many = plural or _IRREGULAR.get(noun) or (noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou"
                                              else noun + "s")
    if n is None:
        return many
    try:
        value = float(n)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{n} {many}"
    text = format(int(value), spec) if value.is_integer() else format(value, "g")
    return f"{text} {noun if value == 1 else many}"
