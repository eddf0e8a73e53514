"""Datasets with known truth: the example dataset, test data and the raw material of power analysis.

``simulate_dataset`` writes a complete dataset folder (DESIGN.md §3) modelled on a pediatric emergency
research network posting on X from 2020 to 2023: monthly X legacy per-tweet exports (byte-for-byte the format of
FORMATS.md §1a), a hand-kept monthly follower sheet, manual coding files from two coders with a few errors and an
adjudication file, a codebook, the dataset card and ``TRUTH.md`` stating every true parameter and the realised
values the report should recover.

The building blocks are pure: ``simulate_followers`` and ``simulate_posts`` take a seeded
``numpy.random.Generator`` and settings and return DataFrames; ``simulate_tables`` chains them (plus the monthly
sheet and the coding) from one seed. Every draw is vectorized, so a million posts take seconds.

Truth model (all numbers are parameters; defaults below)
--------------------------------------------------------
Followers
    Daily gross follows ~ Poisson and unfollows ~ Poisson; the net growth is 1.0 per day before the
    intervention and 1.7 per day after it (ratio 1.7), starting from 1,500 followers.
Posting
    Posting days are drawn with a rate 1.4 times higher after the intervention (≈10 → ≈14 posts a month at
    570 posts over 2020–2023), weekends at 30 % of a weekday; local time (America/New_York) between 07:00 and
    18:59 with a business-hours profile (so the UTC calendar date equals the local one).
Features (independent draws)
    poll 10 %, graphic (native media) 30 %, article link 50 %, emoji 25 %, hashtags 0–3, mentions 0–2,
    replies 10 % (text starts with ``@``; a reply mentions at least its addressee).
Impressions
    ``log E[impressions] = log(baseline) + 1.0·log(followers_at_post/1000) + Σ log(1 + effect_k)·x_k`` with
    effects poll +35 %, graphic +25 %, link +20 %, emoji −15 %, each hashtag −3 %, each mention 0 %;
    impressions ~ Poisson(E·exp(ε)), ε ~ Normal(−σ²/2, σ), σ = 0.5 (so the stated mean is the mean).
Engagements
    engagement rate ``r0·Π(1 + rate_effect_k)^x_k·exp(η)`` with r0 = 1.5 %, poll +50 %, graphic +20 %,
    link +15 %, emoji −10 %, η ~ Normal(−s²/2, s), s = 0.3; engagements ~ Poisson(impressions·rate), split
    into the 14 X legacy components by a multinomial draw (url clicks only with a link, media engagements only
    with media, hashtag clicks only with hashtags). Implied true effect on engagements:
    ``(1 + impressions effect)(1 + rate effect) − 1``.

Notes
-----
Streams are drawn from ``numpy.random.SeedSequence(seed).spawn(...)`` so the follower series does not change
when only the number of posts changes. numpy does not promise identical streams across major versions for
every distribution; the files are byte-identical for a seed on one installation (tested).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .ingest.x_current import SNOWFLAKE_EPOCH_MS  # the epoch ingest decodes ids with
from .io import write_text
from .publications import HISTORY_WINDOWS as HISTORY_WINDOWS_SIM

#: The 40-column header of the X legacy per-tweet export (FORMATS.md §1a), in order.
X_LEGACY_COLUMNS: tuple[str, ...] = (
    "Tweet id",
    "Tweet permalink",
    "Tweet text",
    "time",
    "impressions",
    "engagements",
    "engagement rate",
    "retweets",
    "replies",
    "likes",
    "user profile clicks",
    "url clicks",
    "hashtag clicks",
    "detail expands",
    "permalink clicks",
    "app opens",
    "app installs",
    "follows",
    "email tweet",
    "dial phone",
    "media views",
    "media engagements",
    "promoted impressions",
    "promoted engagements",
    "promoted engagement rate",
    "promoted retweets",
    "promoted replies",
    "promoted likes",
    "promoted user profile clicks",
    "promoted url clicks",
    "promoted hashtag clicks",
    "promoted detail expands",
    "promoted permalink clicks",
    "promoted app opens",
    "promoted app installs",
    "promoted follows",
    "promoted email tweet",
    "promoted dial phone",
    "promoted media views",
    "promoted media engagements",
)

#: The 14 components whose sum is ``engagements`` in X legacy exports: (legacy column, simulated column).
ENGAGEMENT_COMPONENTS: tuple[tuple[str, str], ...] = (
    ("retweets", "reposts"),
    ("replies", "replies"),
    ("likes", "likes"),
    ("user profile clicks", "profile_clicks"),
    ("url clicks", "url_clicks"),
    ("hashtag clicks", "hashtag_clicks"),
    ("detail expands", "detail_expands"),
    ("permalink clicks", "permalink_clicks"),
    ("app opens", "app_opens"),
    ("app installs", "app_installs"),
    ("follows", "follows"),
    ("email tweet", "email_tweet"),
    ("dial phone", "dial_phone"),
    ("media engagements", "media_engagements"),
)
#: Legacy columns 5–15 are written as floats ("1938.0"); the other counts as ints.
_FLOAT_WRITTEN = (
    "impressions",
    "engagements",
    "retweets",
    "replies",
    "likes",
    "user profile clicks",
    "url clicks",
    "hashtag clicks",
    "detail expands",
    "permalink clicks",
)

#: Share of a post's engagements going to each component before masking (url clicks need a link, media
#: engagements need media, hashtag clicks need a hashtag); app opens/installs, e-mail and phone stay 0 as in
#: every real file seen.
_COMPONENT_SHARES = {
    "reposts": 0.08,
    "replies": 0.03,
    "likes": 0.38,
    "profile_clicks": 0.06,
    "url_clicks": 0.20,
    "hashtag_clicks": 0.04,
    "detail_expands": 0.20,
    "permalink_clicks": 0.02,
    "app_opens": 0.0,
    "app_installs": 0.0,
    "follows": 0.01,
    "email_tweet": 0.0,
    "dial_phone": 0.0,
    "media_engagements": 0.22,
}

PREDICTORS = ("has_poll", "has_graphic", "has_url", "has_emoji", "n_hashtags", "n_mentions")

DEFAULT_IMPRESSIONS_EFFECTS_PCT: dict[str, float] = {
    "has_poll": 35.0,
    "has_graphic": 25.0,
    "has_url": 20.0,
    "has_emoji": -15.0,
    "n_hashtags": -3.0,
    "n_mentions": 0.0,
}
DEFAULT_RATE_EFFECTS_PCT: dict[str, float] = {
    "has_poll": 50.0,
    "has_graphic": 20.0,
    "has_url": 15.0,
    "has_emoji": -10.0,
    "n_hashtags": 0.0,
    "n_mentions": 0.0,
}
DEFAULT_PREVALENCE: dict[str, float] = {
    "has_poll": 0.10,
    "has_graphic": 0.30,
    "has_url": 0.50,
    "has_emoji": 0.25,
    "is_reply": 0.10,
}
#: P(n_hashtags = 0, 1, 2, 3) and P(n_mentions = 0, 1, 2).
DEFAULT_HASHTAG_PROBS = (0.45, 0.30, 0.17, 0.08)
DEFAULT_MENTION_PROBS = (0.65, 0.25, 0.10)
#: Local posting hour 07 … 18 (business hours, New York).
_HOUR_PROBS = np.array([0.03, 0.08, 0.13, 0.14, 0.12, 0.10, 0.10, 0.09, 0.08, 0.06, 0.04, 0.03])
_FIRST_HOUR = 7

HANDLE = "ExampleResNet"
INTERVENTION_LABEL = "Trainee-led social media team"
TIMEZONE = "America/New_York"

# ---------------------------------------------------------------------------------------------------------
# text material (synthetic; a pediatric emergency research network)

_ARTICLE_TEXTS = (
    "New in our network: bedside ultrasound cut time to diagnosis for kids with forearm fractures.",
    "Which febrile infants need a lumbar puncture? Our multicenter study of 4,000 infants is out today.",
    "Head CT use for minor head trauma fell 30% after the decision rule was rolled out across 12 EDs.",
    "Our trainees & faculty summarize the evidence on high-flow oxygen for bronchiolitis.",
    "Intranasal fentanyl vs oral ibuprofen for fracture pain in children: results from 6 sites.",
    "Sepsis screening in pediatric EDs: what worked, what did not, and what we still do not know.",
    "Just published: risk of intra-abdominal injury in kids <2 years after blunt trauma.",
    "Language access & discharge instructions: families who got them in their language returned less often.",
    "Mental health boarding in pediatric EDs doubled since 2019. Our new paper looks at who waits longest.",
    "A simple rule identifies infants at very low risk of serious bacterial infection.",
    "Firearm injuries are now the leading cause of death in children. Our network's data on ED visits.",
    "Do kids with asthma exacerbations need a second dose of dexamethasone? A randomized trial answers.",
    "Point-of-care testing for influenza changed antibiotic use in our EDs. Read the findings.",
    "Cannabis edibles & toddlers: poisonings rose sharply after legalization in our states.",
    "Our study of 20,000 ED visits shows where pediatric readiness still falls short.",
    "From the network's registry: outcomes of children with out-of-hospital cardiac arrest.",
)
_GENERAL_TEXTS = (
    "Welcome to the new fellows joining our research network this month!",
    "Our annual meeting starts tomorrow. Follow along for highlights from every session.",
    "Grant writing workshop for trainees next week & mentors are still signing up.",
    "Behind every study are research coordinators working nights and weekends. Thank you!",
    "Applications for the summer research program close on Friday.",
    "Great discussion at journal club today on pediatric procedural sedation.",
    "Our site leads met today to plan the next multicenter trial.",
    "Congratulations to our investigators on a very productive year of research.",
    "Reminder: the data dictionary for the shared registry has been updated.",
    "Families are partners in our research. Meet our parent advisory panel.",
)
_POLL_TEXTS = (
    "Quick poll for ED clinicians: how do you treat pain in a child with a forearm fracture?",
    "Poll: which decision rule do you use most for pediatric head trauma?",
    "Clinicians, how often do you use bedside ultrasound in the pediatric ED?",
    "What should our next webinar cover? Vote below.",
    "Trainees: what is the biggest barrier to doing research during residency?",
    "Poll: when do you discharge a well-appearing febrile infant?",
)
_REPLY_TEXTS = (
    "thanks for sharing our work!",
    "great question. The full protocol is in the supplement.",
    "yes, the data are available on request from the coordinating center.",
    "we agree. More to come from the network on this.",
    "congratulations to the whole team!",
    "thank you for the kind words & for joining the session.",
)
_HANDLES = (
    "@PedsEMfellows",
    "@KidsERresearch",
    "@ChildHealthLab",
    "@EMResearchHub",
    "@PedEMTrainees",
    "@NurseScientist",
    "@PedsRadNet",
    "@FamilyAdvisory",
)
#: Mention phrases around one handle (before, after) and two handles (before, between, after).
_ONE_MENTION = ((" Thanks ", "!"), (" With ", "."), (" h/t ", ""), (" cc ", ""))
_TWO_MENTIONS = ((" Thanks ", " & ", "!"), (" With ", " and ", "."), (" cc ", " ", ""))
_HASHTAGS = ("#PedsEM", "#FOAMped", "#MedTwitter", "#EMresearch", "#KidsHealth", "#MedEd", "#PedsICU")
#: Includes multi-codepoint emoji (ZWJ sequences, a skin tone, a flag, a variation selector).
_EMOJI = ("🩺", "👶", "🚑", "📊", "🎉", "👩‍⚕️", "👨‍👩‍👧", "👍🏽", "❤️", "🇺🇸", "🏥", "💡", "📢")
_TCO_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8
)


# ---------------------------------------------------------------------------------------------------------
# truth


@dataclass(frozen=True)
class SimulationTruth:
    """Every true parameter of a simulated dataset and the values realised by its draws.

    Percent effects are ``100·(exp(b) − 1)`` on the multiplicative scale of the expected count.
    """

    seed: int
    handle: str
    timezone: str
    start: str
    end: str
    intervention: str
    intervention_label: str
    # followers
    start_followers: int
    net_per_day_before: float
    net_per_day_after: float
    slope_ratio: float
    unfollows_per_day_before: float
    unfollows_per_day_after: float
    # posting
    n_posts: int
    posting_rate_ratio: float
    posts_per_month_before: float
    posts_per_month_after: float
    prevalence: dict[str, float]
    hashtag_probs: tuple[float, ...]
    mention_probs: tuple[float, ...]
    # impressions
    baseline_impressions: float
    audience_elasticity: float
    impressions_effects_pct: dict[str, float]
    impressions_noise_sd: float
    # engagements
    engagement_rate: float
    engagement_rate_effects_pct: dict[str, float]
    engagement_noise_sd: float
    engagements_effects_pct: dict[str, float]
    # coding
    coder_error_rate: float
    # realised values
    realised: dict[str, object] = field(default_factory=dict)
    goal_metric: str = "followers"
    goal_target: float = 0.0
    goal_by: str = ""

    def to_dict(self) -> dict:
        """A JSON-serializable dict of every field."""
        return asdict(self)

    def to_markdown(self) -> str:
        """``TRUTH.md``: the truth in words and tables, plus the machine-readable JSON."""
        return render_truth(self)


def _effects_on_engagements(imp: Mapping[str, float], rate: Mapping[str, float]) -> dict[str, float]:
    keys = list(dict.fromkeys([*imp, *rate]))
    return {
        k: round(100.0 * ((1 + imp.get(k, 0.0) / 100) * (1 + rate.get(k, 0.0) / 100) - 1), 10) for k in keys
    }


# ---------------------------------------------------------------------------------------------------------
# building blocks


def _day(value: str | dt.date | pd.Timestamp) -> pd.Timestamp:
    """Midnight (naive) of a date given as text, date or timestamp."""
    ts = pd.Timestamp(value)
    return (ts.tz_localize(None) if ts.tzinfo else ts).normalize()


def simulate_followers(
    *,
    rng: np.random.Generator,
    start: str | dt.date = "2020-01-01",
    end: str | dt.date = "2023-12-31",
    intervention: str | dt.date = "2022-01-01",
    start_followers: int = 1500,
    net_per_day_before: float = 1.0,
    net_per_day_after: float = 1.7,
    unfollows_per_day_before: float = 0.4,
    unfollows_per_day_after: float = 0.5,
) -> pd.DataFrame:
    """Return a daily follower series: one row per calendar day from ``start`` to ``end`` inclusive.

    Columns: ``date`` (midnight, naive), ``new_follows`` (gross, Poisson with mean net + unfollow rate),
    ``unfollows`` (Poisson), ``followers_start`` (level at the start of the day), ``followers`` (level at the
    end of the day) and ``period`` (``before`` / ``after``; the intervention day is the first ``after`` day).
    """
    start_d, end_d, iv = _day(start), _day(end), _day(intervention)
    if end_d < start_d:
        raise InputError(f"end {end_d.date()} is before start {start_d.date()}")
    dates = pd.date_range(start_d, end_d, freq="D")
    after = np.asarray(dates >= iv)
    unf_rate = np.where(after, unfollows_per_day_after, unfollows_per_day_before)
    gross_rate = np.where(after, net_per_day_after, net_per_day_before) + unf_rate
    new = rng.poisson(gross_rate)
    unf = rng.poisson(unf_rate)
    level = start_followers + np.cumsum(new - unf)
    return pd.DataFrame(
        {
            "date": dates,
            "new_follows": new.astype("int64"),
            "unfollows": unf.astype("int64"),
            "followers_start": np.concatenate([[start_followers], level[:-1]]).astype("int64"),
            "followers": level.astype("int64"),
            "period": np.where(after, "after", "before"),
        }
    )


def _tco_links(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = _TCO_ALPHABET[rng.integers(0, len(_TCO_ALPHABET), size=(n, 10))]
    tails = np.ascontiguousarray(codes).view("S10").ravel().astype(str)
    return np.char.add("https://t.co/", tails).astype(object)


def _pick(rng: np.random.Generator, options: tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), size=n)]


def _compose_texts(rng: np.random.Generator, feats: pd.DataFrame) -> np.ndarray:
    """Post texts (HTML entities decoded) that show each feature the way X text shows it."""
    n = len(feats)
    poll = feats["has_poll"].to_numpy()
    url = feats["has_url"].to_numpy()
    graphic = feats["has_graphic"].to_numpy()
    emoji_ = feats["has_emoji"].to_numpy()
    reply = feats["is_reply"].to_numpy()
    n_tags = feats["n_hashtags"].to_numpy()
    n_ment = feats["n_mentions"].to_numpy()

    body = np.where(
        poll,
        _pick(rng, _POLL_TEXTS, n),
        np.where(url, _pick(rng, _ARTICLE_TEXTS, n), _pick(rng, _GENERAL_TEXTS, n)),
    )
    body = np.where(reply & ~poll, _pick(rng, _REPLY_TEXTS, n), body)

    # handles: the addressee of a reply first, then the other mentions (two distinct handles per row)
    h1 = rng.integers(0, len(_HANDLES), size=n)
    h2 = (h1 + 1 + rng.integers(0, len(_HANDLES) - 1, size=n)) % len(_HANDLES)
    handles = np.asarray(_HANDLES, dtype=object)
    first, second = handles[h1], handles[h2]
    prefix = np.where(reply, first + " ", "")
    extra = n_ment - reply.astype(int)  # mentions in the body besides the addressee
    one = rng.integers(0, len(_ONE_MENTION), size=n)
    two = rng.integers(0, len(_TWO_MENTIONS), size=n)
    one_tpl = np.asarray(_ONE_MENTION, dtype=object)[one]
    two_tpl = np.asarray(_TWO_MENTIONS, dtype=object)[two]
    body_mentions = np.select(
        [extra <= 0, (extra == 1) & reply, extra == 1],
        [
            "",
            one_tpl[:, 0] + second + one_tpl[:, 1],
            one_tpl[:, 0] + first + one_tpl[:, 1],
        ],
        default=two_tpl[:, 0] + first + two_tpl[:, 1] + second + two_tpl[:, 2],
    )

    emo1 = _pick(rng, _EMOJI, n)
    emo2 = _pick(rng, _EMOJI, n)
    two_emoji = rng.random(n) < 0.3
    emoji_str = np.where(two_emoji, emo1 + emo2, emo1)
    emoji_first = rng.random(n) < 0.5
    lead = np.where(emoji_ & emoji_first, emoji_str + " ", "")
    trail = np.where(emoji_ & ~emoji_first, " " + emoji_str, "")

    # hashtags: a per-row random permutation, first n_tags of it
    perm = np.argsort(rng.random((n, len(_HASHTAGS))), axis=1)
    tags = np.asarray(_HASHTAGS, dtype=object)[perm[:, :3]]
    tag_str = np.select(
        [n_tags == 0, n_tags == 1, n_tags == 2],
        ["", " " + tags[:, 0], " " + tags[:, 0] + " " + tags[:, 1]],
        default=" " + tags[:, 0] + " " + tags[:, 1] + " " + tags[:, 2],
    )
    sep = np.where(rng.random(n) < 0.35, "\n\n", " ")
    article = np.where(url, sep + _tco_links(rng, n), "")
    # native media shows as ONE trailing t.co link (nothing after it)
    media = np.where(graphic, " " + _tco_links(rng, n), "")
    text = prefix + lead + body + trail + body_mentions + article + tag_str + media
    return np.asarray(text, dtype=object)


def simulate_posts(
    followers: pd.DataFrame,
    *,
    rng: np.random.Generator,
    n_posts: int = 570,
    intervention: str | dt.date = "2022-01-01",
    timezone: str = TIMEZONE,
    handle: str = HANDLE,
    posting_rate_ratio: float = 1.4,
    weekend_weight: float = 0.3,
    prevalence: Mapping[str, float] | None = None,
    hashtag_probs: tuple[float, ...] = DEFAULT_HASHTAG_PROBS,
    mention_probs: tuple[float, ...] = DEFAULT_MENTION_PROBS,
    baseline_impressions: float = 400.0,
    audience_elasticity: float = 1.0,
    impressions_effects_pct: Mapping[str, float] | None = None,
    impressions_noise_sd: float = 0.5,
    engagement_rate: float = 0.015,
    engagement_rate_effects_pct: Mapping[str, float] | None = None,
    engagement_noise_sd: float = 0.3,
) -> pd.DataFrame:
    """Return simulated posts (oldest first) with their true features and X legacy metrics.

    Parameters
    ----------
    followers
        The daily series of :func:`simulate_followers` (``date``, ``followers_start``, ``new_follows``,
        ``unfollows``); posts fall on its days and ``followers_at_post`` is read from it.
    rng
        The random generator (the only source of randomness).
    n_posts
        Exact number of posts.
    posting_rate_ratio
        Posting rate after the intervention relative to before.

    Returns
    -------
    DataFrame
        ``post_id`` (snowflake id as a string), ``published_at`` (UTC, millisecond precision), ``text`` (HTML
        entities decoded), ``permalink``, ``is_reply``, the true predictors ``has_poll, has_graphic, has_url,
        has_emoji, n_hashtags, n_mentions``, ``followers_at_post`` (level interpolated within the day),
        ``period``, ``expected_impressions``, ``expected_engagement_rate``, ``impressions``, ``engagements``,
        the 14 engagement components (``reposts, replies, likes, profile_clicks, url_clicks, hashtag_clicks,
        detail_expands, permalink_clicks, app_opens, app_installs, follows, email_tweet, dial_phone,
        media_engagements``) and ``media_views``. Counts are int64.
    """
    if n_posts < 0:
        raise InputError(f"n_posts must be ≥ 0, found {n_posts}")
    prev = {**DEFAULT_PREVALENCE, **(prevalence or {})}
    imp_eff = {**DEFAULT_IMPRESSIONS_EFFECTS_PCT, **(impressions_effects_pct or {})}
    rate_eff = {**DEFAULT_RATE_EFFECTS_PCT, **(engagement_rate_effects_pct or {})}
    iv = _day(intervention)

    # --- when: a posting day (rate × weekday weight), a business hour, minute, second, millisecond
    days = pd.DatetimeIndex(followers["date"])
    w = np.where(days >= iv, posting_rate_ratio, 1.0) * np.where(days.dayofweek >= 5, weekend_weight, 1.0)
    day_idx = rng.choice(len(days), size=n_posts, p=w / w.sum())
    hour = _FIRST_HOUR + rng.choice(len(_HOUR_PROBS), size=n_posts, p=_HOUR_PROBS / _HOUR_PROBS.sum())
    offset_ms = hour * 3_600_000 + rng.integers(0, 3_600_000, size=n_posts)
    local = pd.DatetimeIndex(days[day_idx]) + pd.to_timedelta(offset_ms, unit="ms")
    published = local.tz_localize(
        timezone, ambiguous=np.zeros(n_posts, dtype=bool), nonexistent="shift_forward"
    ).tz_convert("UTC")
    order = np.argsort(published.asi8, kind="stable")
    published, day_idx, local = published[order], day_idx[order], local[order]
    frac_day = (offset_ms[order]) / 86_400_000
    f = followers.iloc[day_idx]
    followers_at_post = f["followers_start"].to_numpy() + frac_day * (
        f["new_follows"].to_numpy() - f["unfollows"].to_numpy()
    )

    # --- ids: valid snowflakes for the instant; low 22 bits random, made unique within a millisecond
    ms = published.asi8 // 1_000_000
    low = rng.integers(0, 1 << 22, size=n_posts)
    dup_rank = pd.Series(ms).groupby(ms).cumcount().to_numpy()
    ids = ((ms - SNOWFLAKE_EPOCH_MS) << 22) | ((low + dup_rank) & ((1 << 22) - 1))
    post_id = ids.astype(str).astype(object)

    # --- features (independent draws)
    feats = pd.DataFrame(
        {
            "has_poll": rng.random(n_posts) < prev["has_poll"],
            "has_graphic": rng.random(n_posts) < prev["has_graphic"],
            "has_url": rng.random(n_posts) < prev["has_url"],
            "has_emoji": rng.random(n_posts) < prev["has_emoji"],
            "n_hashtags": rng.choice(len(hashtag_probs), size=n_posts, p=hashtag_probs).astype("int64"),
            "n_mentions": rng.choice(len(mention_probs), size=n_posts, p=mention_probs).astype("int64"),
            "is_reply": rng.random(n_posts) < prev["is_reply"],
        }
    )
    feats.loc[feats["is_reply"], "n_mentions"] = feats.loc[feats["is_reply"], "n_mentions"].clip(lower=1)
    text = _compose_texts(rng, feats)

    # --- impressions
    x = feats[list(PREDICTORS)].to_numpy(dtype=float)
    b_imp = np.log1p(np.array([imp_eff[k] for k in PREDICTORS]) / 100)
    log_mu = np.log(baseline_impressions) + audience_elasticity * np.log(followers_at_post / 1000) + x @ b_imp
    eps = rng.normal(-(impressions_noise_sd**2) / 2, impressions_noise_sd, size=n_posts)
    impressions = np.maximum(rng.poisson(np.exp(log_mu + eps)), 1)

    # --- engagements and their components
    b_rate = np.log1p(np.array([rate_eff[k] for k in PREDICTORS]) / 100)
    log_rate = np.log(engagement_rate) + x @ b_rate
    eta = rng.normal(-(engagement_noise_sd**2) / 2, engagement_noise_sd, size=n_posts)
    engagements = rng.poisson(impressions * np.exp(log_rate + eta))
    names = [c for _, c in ENGAGEMENT_COMPONENTS]
    shares = np.tile(np.array([_COMPONENT_SHARES[c] for c in names]), (n_posts, 1))
    shares[:, names.index("url_clicks")] *= feats["has_url"].to_numpy()
    shares[:, names.index("media_engagements")] *= feats["has_graphic"].to_numpy()
    shares[:, names.index("hashtag_clicks")] *= feats["n_hashtags"].to_numpy() > 0
    shares /= shares.sum(axis=1, keepdims=True)
    parts = rng.multinomial(engagements, shares) if n_posts else np.zeros((0, len(names)), dtype=np.int64)
    graphic = feats["has_graphic"].to_numpy()
    media_views = np.where(
        graphic,
        np.maximum(parts[:, names.index("media_engagements")] + rng.binomial(impressions, 0.06), 1),
        0,
    )

    out = pd.DataFrame(
        {
            "post_id": post_id,
            "published_at": published,
            "text": text,
            "permalink": np.char.add(f"https://twitter.com/{handle}/status/", ids.astype(str)).astype(object),
            "is_reply": feats["is_reply"].to_numpy(),
            **{k: feats[k].to_numpy() for k in PREDICTORS},
            "followers_at_post": followers_at_post,
            "hour_local": np.asarray(local.hour, dtype="int64"),
            "period": np.where(np.asarray(published.tz_localize(None) >= iv), "after", "before"),
            "expected_impressions": np.exp(log_mu),
            "expected_engagement_rate": np.exp(log_rate),
            "impressions": impressions.astype("int64"),
            "engagements": engagements.astype("int64"),
            **{c: parts[:, j].astype("int64") for j, c in enumerate(names)},
            "media_views": media_views.astype("int64"),
        }
    )
    return out


def _previous_month_sums(dates: pd.Series, values: np.ndarray, months: pd.DatetimeIndex) -> np.ndarray:
    """Sum of ``values`` per calendar month, looked up for each month in ``months``."""
    per = pd.Series(values).groupby(pd.DatetimeIndex(dates).to_period("M")).sum()
    return per.reindex(months.to_period("M"), fill_value=0).to_numpy()


def simulate_follower_sheet(
    followers: pd.DataFrame, posts: pd.DataFrame, *, rng: np.random.Generator, n_missing: int | None = None
) -> pd.DataFrame:
    """Return a hand-kept monthly sheet: ``date, followers, new_followers, tweet_impressions``.

    One row per month from the first day of the series to the day after its last day. ``date`` is the day the
    numbers were recorded (the 1st, sometimes the 2nd–5th; always the 1st for the first and last rows);
    ``followers`` is the level at the start of that day (NA in ``n_missing`` forgotten months, by default 2–3
    in a sheet of two years or more, 1 in a shorter one, never in the first or last two rows); ``new_followers`` are
    the gross follows of the previous calendar month and ``tweet_impressions`` the impressions of the posts
    published (UTC) in the previous month — both NA in the first row, which has no previous month.
    """
    first = pd.Timestamp(followers["date"].iloc[0])
    last = pd.Timestamp(followers["date"].iloc[-1])
    months = pd.date_range(first.to_period("M").to_timestamp(), (last + pd.Timedelta(days=1)), freq="MS")
    n = len(months)
    late = rng.random(n) < 0.4
    day_offset = np.where(late, rng.integers(1, 5, size=n), 0)
    day_offset[0] = 0
    day_offset[-1] = 0
    rec = months + pd.to_timedelta(day_offset, unit="D")
    # level at the start of the recorded day = end of the previous day
    level_end = pd.Series(followers["followers"].to_numpy(), index=pd.DatetimeIndex(followers["date"]))
    start_level = int(followers["followers_start"].iloc[0])
    prev_day = rec - pd.Timedelta(days=1)
    level = level_end.reindex(prev_day).to_numpy(dtype=float)
    level[prev_day < first] = start_level
    if np.isnan(level).any():
        raise InputError("the follower series does not cover the sheet's recording dates")
    if n_missing is None:  # 2–3 forgotten months in a multi-year sheet, at most one in a short one
        k = int(rng.choice([2, 3])) if n >= 24 else int(n >= 6)
    else:
        k = n_missing
    if n > 4 and k:
        missing = rng.choice(np.arange(2, n - 2), size=min(k, n - 4), replace=False)
        level[missing] = np.nan
    prev_months = months - pd.DateOffset(months=1)
    new = _previous_month_sums(followers["date"], followers["new_follows"].to_numpy(), prev_months).astype(
        float
    )
    imp = _previous_month_sums(
        posts["published_at"].dt.tz_localize(None), posts["impressions"].to_numpy(), prev_months
    ).astype(float)
    new[0] = np.nan
    imp[0] = np.nan
    return pd.DataFrame(
        {
            "date": rec,
            "followers": pd.array(level, dtype="Float64").astype("Int64"),
            "new_followers": pd.array(new, dtype="Float64").astype("Int64"),
            "tweet_impressions": pd.array(imp, dtype="Float64").astype("Int64"),
        }
    )


def simulate_coding(
    posts: pd.DataFrame,
    *,
    rng: np.random.Generator,
    codes: tuple[str, ...] = ("has_poll", "has_graphic"),
    error_rate: float = 0.03,
    share_per_coder: float = 0.6,
) -> dict[str, pd.DataFrame]:
    """Return manual coding files: ``coder_a``, ``coder_b`` and ``adjudicated`` frames (contract columns).

    Posts are taken in time order; coder A codes the first ``share_per_coder`` of them, coder B the last
    ``share_per_coder`` (so ``2·share − 1`` are double-coded). Each coder flips each true 0/1 value
    independently with probability ``error_rate``. ``adjudicated`` holds the true values of every
    double-coded post on which the coders disagree on at least one code.
    """
    p = posts.sort_values("published_at", kind="stable").reset_index(drop=True)
    n = len(p)
    m = int(round(share_per_coder * n))
    a_idx, b_idx = np.arange(0, m), np.arange(n - m, n)
    truth = p[list(codes)].to_numpy().astype("int64")

    def _coder(idx: np.ndarray, name: str) -> pd.DataFrame:
        flips = rng.random((len(idx), len(codes))) < error_rate
        vals = truth[idx] ^ flips
        df = pd.DataFrame({"post_id": p["post_id"].to_numpy()[idx], "coder": name})
        for j, c in enumerate(codes):
            df[c] = vals[:, j]
        return df

    a, b = _coder(a_idx, "coder_a"), _coder(b_idx, "coder_b")
    both = a.merge(b, on="post_id", suffixes=("_a", "_b"))
    disagree = np.zeros(len(both), dtype=bool)
    for c in codes:
        disagree |= both[f"{c}_a"].to_numpy() != both[f"{c}_b"].to_numpy()
    adj_ids = both.loc[disagree, "post_id"]
    adj = p.loc[p["post_id"].isin(adj_ids), ["post_id", *codes]].copy()
    adj.insert(1, "coder", "adjudicated")
    for c in codes:
        adj[c] = adj[c].astype("int64")
    return {"coder_a": a, "coder_b": b, "adjudicated": adj.reset_index(drop=True)}


@dataclass(frozen=True)
class SimulatedTables:
    """Everything ``simulate_dataset`` writes, as frames, plus the truth."""

    followers: pd.DataFrame
    posts: pd.DataFrame
    sheet: pd.DataFrame
    coding: dict[str, pd.DataFrame]
    truth: SimulationTruth


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's κ of two 0/1 vectors: (p_o − p_e)/(1 − p_e); NaN when p_e = 1."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    po = float(np.mean(a == b))
    pa, pb = a.mean(), b.mean()
    pe = float(pa * pb + (1 - pa) * (1 - pb))
    return float("nan") if pe == 1 else (po - pe) / (1 - pe)


def _ols_slope(days: np.ndarray, y: np.ndarray) -> float:
    if len(y) < 2:
        return float("nan")
    return float(np.polyfit(days, y, 1)[0])


def simulate_tables(
    *,
    seed: int = 2024,
    n_posts: int = 570,
    start: str | dt.date = "2020-01-01",
    end: str | dt.date = "2023-12-31",
    intervention: str | dt.date = "2022-01-01",
    coder_error_rate: float = 0.03,
) -> SimulatedTables:
    """Simulate every table of the example dataset from one seed and compute the realised truth."""
    start_d, end_d, iv = _day(start), _day(end), _day(intervention)
    if not start_d < iv <= end_d:
        raise InputError(
            f"intervention {iv.date()} must fall after start {start_d.date()} and no later than end {end_d.date()}"
        )
    rng_f, rng_p, rng_s, rng_c = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    fol_kw = dict(
        start_followers=1500,
        net_per_day_before=1.0,
        net_per_day_after=1.7,
        unfollows_per_day_before=0.4,
        unfollows_per_day_after=0.5,
    )
    post_kw = dict(
        posting_rate_ratio=1.4,
        baseline_impressions=400.0,
        audience_elasticity=1.0,
        impressions_noise_sd=0.5,
        engagement_rate=0.015,
        engagement_noise_sd=0.3,
    )
    followers = simulate_followers(rng=rng_f, start=start_d, end=end_d, intervention=iv, **fol_kw)
    posts = simulate_posts(followers, rng=rng_p, n_posts=n_posts, intervention=iv, **post_kw)
    sheet = simulate_follower_sheet(followers, posts, rng=rng_s)
    coding = simulate_coding(posts, rng=rng_c, error_rate=coder_error_rate)

    # --- realised values
    known = sheet.dropna(subset=["followers"])
    days = (known["date"] - start_d).dt.days.to_numpy(dtype=float)
    y = known["followers"].to_numpy(dtype=float)
    before = known["date"].to_numpy() < np.datetime64(iv)
    slope_b, slope_a = _ols_slope(days[before], y[before]), _ols_slope(days[~before], y[~before])
    net = followers["new_follows"] - followers["unfollows"]
    month_imp = posts.groupby(posts["published_at"].dt.tz_localize(None).dt.to_period("M"))[
        "impressions"
    ].sum()
    all_months = pd.period_range(start_d, end_d, freq="M")
    month_imp = month_imp.reindex(all_months, fill_value=0)
    m_before = month_imp[all_months.to_timestamp() < iv]
    m_after = month_imp[all_months.to_timestamp() >= iv]
    sheet_imp = sheet.dropna(subset=["tweet_impressions"])
    sheet_before = sheet_imp["date"] < iv
    sheet_imp_b = sheet_imp.loc[sheet_before, "tweet_impressions"].astype(float)
    sheet_imp_a = sheet_imp.loc[~sheet_before, "tweet_impressions"].astype(float)
    n_months_before = max(len(m_before), 1)
    n_months_after = max(len(m_after), 1)
    a, b, adj = coding["coder_a"], coding["coder_b"], coding["adjudicated"]
    both = a.merge(b, on="post_id", suffixes=("_a", "_b"))
    true_by_id = posts.set_index("post_id")
    kappa, errors, disagreements = {}, {}, {}
    for c in ("has_poll", "has_graphic"):
        kappa[c] = round(cohen_kappa(both[f"{c}_a"], both[f"{c}_b"]), 4)
        disagreements[c] = int((both[f"{c}_a"] != both[f"{c}_b"]).sum())
        for name, df in (("coder_a", a), ("coder_b", b)):
            truth_vals = true_by_id.loc[df["post_id"], c].to_numpy().astype(int)
            errors[f"{name}.{c}"] = int((df[c].to_numpy() != truth_vals).sum())
    # final manual value per post: adjudicated, else the (single or agreeing) coder — wrong where an error
    # in a single-coded post was never seen by a second coder
    final = pd.concat([a, b]).drop_duplicates("post_id", keep="first").set_index("post_id")
    final.update(adj.set_index("post_id")[["has_poll", "has_graphic"]])
    residual = {
        c: int((final[c].astype(int) != true_by_id.loc[final.index, c].astype(int)).sum())
        for c in ("has_poll", "has_graphic")
    }
    final_followers = int(followers["followers"].iloc[-1])
    realised = {
        "n_posts_before": int((posts["period"] == "before").sum()),
        "n_posts_after": int((posts["period"] == "after").sum()),
        "posts_per_month_before": round(float((posts["period"] == "before").sum()) / n_months_before, 2),
        "posts_per_month_after": round(float((posts["period"] == "after").sum()) / n_months_after, 2),
        "daily_net_before": round(float(net[followers["period"] == "before"].mean()), 4),
        "daily_net_after": round(float(net[followers["period"] == "after"].mean()), 4),
        "sheet_slope_before": round(slope_b, 4),
        "sheet_slope_after": round(slope_a, 4),
        "sheet_slope_ratio": round(slope_a / slope_b, 4),
        "sheet_n_before": int(before.sum()),
        "sheet_n_after": int((~before).sum()),
        "sheet_missing_followers": [
            d.date().isoformat() for d in sheet.loc[sheet["followers"].isna(), "date"]
        ],
        "monthly_impressions_before_mean": round(float(m_before.mean()), 2),
        "monthly_impressions_after_mean": round(float(m_after.mean()), 2),
        "monthly_impressions_fold_change": round(float(m_after.mean() / m_before.mean()), 4),
        "sheet_impressions_before_mean": round(float(sheet_imp_b.mean()), 2),
        "sheet_impressions_after_mean": round(float(sheet_imp_a.mean()), 2),
        "sheet_impressions_fold_change": round(float(sheet_imp_a.mean() / sheet_imp_b.mean()), 4),
        "start_followers": int(followers["followers_start"].iloc[0]),
        "final_followers": final_followers,
        "final_followers_date": (followers["date"].iloc[-1] + pd.Timedelta(days=1)).date().isoformat(),
        "prevalence": {k: round(float(posts[k].mean()), 4) for k in (*PREDICTORS[:4], "is_reply")},
        "mean_hashtags": round(float(posts["n_hashtags"].mean()), 4),
        "mean_mentions": round(float(posts["n_mentions"].mean()), 4),
        "median_impressions": float(posts["impressions"].median()),
        "mean_engagement_rate": round(float((posts["engagements"] / posts["impressions"]).mean()), 5),
        "n_overlap": len(both),
        "n_coded_coder_a": len(a),
        "n_coded_coder_b": len(b),
        "n_adjudicated": len(adj),
        "coder_errors": errors,
        "overlap_disagreements": disagreements,
        "cohen_kappa": kappa,
        "final_code_errors": residual,
    }
    # goal: a bit above the final count (final + 50, rounded up to the next hundred) — narrowly missed
    expected_monthly = _expected_monthly(followers, iv, n_posts, post_kw["posting_rate_ratio"])
    target = float(math.ceil((final_followers + 50) / 100) * 100)
    truth = SimulationTruth(
        seed=seed,
        handle=HANDLE,
        timezone=TIMEZONE,
        start=start_d.date().isoformat(),
        end=end_d.date().isoformat(),
        intervention=iv.date().isoformat(),
        intervention_label=INTERVENTION_LABEL,
        start_followers=fol_kw["start_followers"],
        net_per_day_before=fol_kw["net_per_day_before"],
        net_per_day_after=fol_kw["net_per_day_after"],
        slope_ratio=round(fol_kw["net_per_day_after"] / fol_kw["net_per_day_before"], 10),
        unfollows_per_day_before=fol_kw["unfollows_per_day_before"],
        unfollows_per_day_after=fol_kw["unfollows_per_day_after"],
        n_posts=n_posts,
        posting_rate_ratio=post_kw["posting_rate_ratio"],
        posts_per_month_before=round(expected_monthly[0], 2),
        posts_per_month_after=round(expected_monthly[1], 2),
        prevalence=dict(DEFAULT_PREVALENCE),
        hashtag_probs=DEFAULT_HASHTAG_PROBS,
        mention_probs=DEFAULT_MENTION_PROBS,
        baseline_impressions=post_kw["baseline_impressions"],
        audience_elasticity=post_kw["audience_elasticity"],
        impressions_effects_pct=dict(DEFAULT_IMPRESSIONS_EFFECTS_PCT),
        impressions_noise_sd=post_kw["impressions_noise_sd"],
        engagement_rate=post_kw["engagement_rate"],
        engagement_rate_effects_pct=dict(DEFAULT_RATE_EFFECTS_PCT),
        engagement_noise_sd=post_kw["engagement_noise_sd"],
        engagements_effects_pct=_effects_on_engagements(
            DEFAULT_IMPRESSIONS_EFFECTS_PCT, DEFAULT_RATE_EFFECTS_PCT
        ),
        coder_error_rate=coder_error_rate,
        realised=realised,
        goal_metric="followers",
        goal_target=target,
        goal_by=end_d.date().isoformat(),
    )
    return SimulatedTables(followers=followers, posts=posts, sheet=sheet, coding=coding, truth=truth)


def _expected_monthly(
    followers: pd.DataFrame, iv: pd.Timestamp, n_posts: int, ratio: float
) -> tuple[float, float]:
    """Expected posts per month before and after, from the day weights used by ``simulate_posts``."""
    days = pd.DatetimeIndex(followers["date"])
    after = days >= iv
    w = np.where(after, ratio, 1.0) * np.where(days.dayofweek >= 5, 0.3, 1.0)
    share_after = w[after].sum() / w.sum()
    months_b = max(len(days[~after].to_period("M").unique()), 1)
    months_a = max(len(days[after].to_period("M").unique()), 1)
    return n_posts * (1 - share_after) / months_b, n_posts * share_after / months_a


# ---------------------------------------------------------------------------------------------------------
# writers


def _java_double(v: float) -> str:
    r = repr(float(v))
    if r in ("nan", "inf", "-inf"):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[r]
    if v == 0 or 1e-3 <= abs(v) < 1e7:
        return r  # Python's repr is positional with a fractional part in this range, like Java's
    sign = "-" if v < 0 else ""
    if "e" in r:
        mant, exp = r.lstrip("-").split("e")
        exponent = int(exp)
        digits = mant.replace(".", "")
    else:  # 0.000ddd: Python writes these positionally, Java in E notation
        frac = r.lstrip("-").split(".")[1]
        exponent = -(len(frac) - len(frac.lstrip("0")) + 1)
        digits = frac.lstrip("0")
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def format_java_double(values: np.ndarray | pd.Series) -> pd.Series:
    """Format doubles as Java's ``Double.toString`` does (shortest round-trip digits).

    Decimal notation for 1e-3 ≤ |x| < 1e7, always with a fractional part (``1.0``); otherwise computerized
    scientific notation with a capital ``E`` (``9.345794392523365E-4``) — how X legacy exports write small
    engagement rates. Digits are Python's shortest round-trip repr, as in Java 19+.
    """
    return pd.Series(np.asarray(values, dtype="float64"), dtype="float64").map(_java_double).astype(object)


def _x_legacy_cells(posts: pd.DataFrame, *, handle: str = HANDLE) -> pd.DataFrame:
    """The 40 export columns of ``posts`` as the strings X writes, newest first."""
    p = posts.sort_values("published_at", ascending=False, kind="stable")
    ids = p["post_id"].astype(str)
    counts = {legacy: p[col] for legacy, col in ENGAGEMENT_COMPONENTS}
    counts.update(
        {"impressions": p["impressions"], "engagements": p["engagements"], "media views": p["media_views"]}
    )
    cells: dict[str, pd.Series | str] = {
        "Tweet id": ids,
        "Tweet permalink": f"https://twitter.com/{handle}/status/" + ids,
        # exports keep HTML entities encoded
        "Tweet text": p["text"]
        .astype(str)
        .str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False),
        "time": p["published_at"].dt.strftime("%Y-%m-%d %H:%M +0000"),
        "engagement rate": pd.Series(
            format_java_double((p["engagements"] / p["impressions"]).to_numpy()).to_numpy(), index=p.index
        ),
    }
    for col in X_LEGACY_COLUMNS:
        if col.startswith("promoted "):
            cells[col] = "-"
        elif col in counts:
            as_text = counts[col].astype("int64").astype(str)
            cells[col] = as_text + ".0" if col in _FLOAT_WRITTEN else as_text
    return pd.DataFrame(cells, index=p.index)[list(X_LEGACY_COLUMNS)]


def _csv_all_quoted(cells: pd.DataFrame) -> str:
    buf = io.StringIO()
    cells.to_csv(buf, index=False, quoting=csv.QUOTE_ALL, lineterminator="\n")
    return buf.getvalue()


def format_x_legacy(posts: pd.DataFrame, *, handle: str = HANDLE) -> str:
    """Return the CSV text of an X legacy per-tweet export of ``posts`` (newest first, every field quoted).

    ``posts`` needs the columns of :func:`simulate_posts` (``post_id, published_at, text, impressions,
    engagements, media_views`` and the 14 engagement components).
    """
    return _csv_all_quoted(_x_legacy_cells(posts, handle=handle))


def _format_sheet(sheet: pd.DataFrame) -> str:
    buf = io.StringIO()
    s = sheet.copy()
    s["date"] = s["date"].dt.strftime("%Y-%m-%d")
    s.to_csv(buf, index=False, na_rep="NA", lineterminator="\n")
    return buf.getvalue()


def _format_codes(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


CODEBOOK_YML = """\
# Manual codes for the example dataset (synthetic). One entry per code.
codes:
  - name: has_poll
    type: binary
    label: Poll
    definition: >-
      The post contains a native X poll (answer options the audience can vote on inside the post).
    include: >-
      Any post with an X poll, including replies; polls with two to four options; questions that also have
      a poll attached.
    exclude: >-
      Questions asked in text without a poll ("What do you think?"); links to external surveys or forms;
      reports of poll results posted as text or an image.
    examples:
      - "Quick poll for ED clinicians: how do you treat pain in a child with a forearm fracture? (with poll)"
      - "Poll: which decision rule do you use most for pediatric head trauma? (with poll)"
  - name: has_graphic
    type: binary
    label: Graphic
    definition: >-
      The post carries a native image, infographic or video attached to the post (shown in the export as
      one trailing t.co link and media views above zero).
    include: >-
      Photos, designed graphics (visual abstracts, infographics, figures), GIFs and videos uploaded to the
      post.
    exclude: >-
      Link preview cards generated from a URL; images inside a quoted post; emoji.
    automatic: has_media
    examples:
      - "A visual abstract of a new paper attached to the post"
      - "A photo from the annual meeting"
"""


def _dataset_yml(truth: SimulationTruth) -> str:
    return f"""\
# Example dataset (synthetic) generated by `workbench simulate` with seed {truth.seed}.
# The true parameters and the values the report should recover are in TRUTH.md.
name: example
title: Example research network on X (synthetic)
timezone: {truth.timezone}
posts: ["raw/tweet_activity_metrics_*.csv"]
account:
  - {{path: raw/followers_monthly.csv, columns: {{new_followers: new_follows, tweet_impressions: impressions}}}}
codes: ["coding/*.csv"]
codebook: codebook.yml
campaigns: ["raw/meta_ads_*.csv"]
interventions:
  - {{date: {truth.intervention}, label: {truth.intervention_label}}}
analysis:
  outcomes: [impressions, engagements]
  predictors: [has_poll, has_graphic, has_url, has_emoji, n_hashtags, n_mentions]
  controls: [followers_at_post, year]
goals:
  # target = final simulated follower count + 50, rounded up to the next hundred: narrowly missed
  - {{metric: followers, target: {int(truth.goal_target)}, by: {truth.goal_by}, label: "Reach {int(truth.goal_target):,} followers by the end of {truth.goal_by[:4]}"}}
# papers (OpenAlex pages) and their attention (Altmetric responses + fetch log, OpenAlex citations); the t.co links
# of the posts resolve through links/resolved_links.csv
publications: ["raw/openalex/*.json"]
attention: ["raw/openalex/*.json", "raw/altmetric/*.json"]
"""


def _pct(v: float) -> str:
    return f"{v:+.1f}%"


def render_truth(truth: SimulationTruth) -> str:
    """The text of ``TRUTH.md`` for ``truth``."""
    r = truth.realised
    imp, rate, eng = (
        truth.impressions_effects_pct,
        truth.engagement_rate_effects_pct,
        truth.engagements_effects_pct,
    )
    labels = {
        "has_poll": "poll",
        "has_graphic": "graphic (native media)",
        "has_url": "link to the article",
        "has_emoji": "emoji",
        "n_hashtags": "each hashtag",
        "n_mentions": "each mention",
    }
    rows = "\n".join(
        f"| `{k}` | {labels[k]} | {_pct(imp[k])} | {math.log1p(imp[k] / 100):+.4f} | {_pct(rate[k])} | {_pct(eng[k])} |"
        for k in PREDICTORS
    )
    prev = truth.prevalence
    rp = r["prevalence"]
    kappa = r["cohen_kappa"]
    errs = r["coder_errors"]
    missing = ", ".join(r["sheet_missing_followers"]) or "none"
    gap = truth.goal_target - r["final_followers"]
    machine = json.dumps(truth.to_dict(), indent=2, sort_keys=True, ensure_ascii=False)
    return f"""\
# TRUTH — the example dataset's known answers

This folder is **synthetic**: generated by `workbench simulate` (`workbench.simulate.simulate_dataset`) with
seed {truth.seed}. It is modelled on a pediatric emergency research network posting on X as
@{truth.handle} from {truth.start} to {truth.end}, with one intervention on {truth.intervention}
("{truth.intervention_label}"). Every number below is either a parameter of the simulation (the *truth*) or
a value *realised* by this seed's random draws — the report run on this folder should recover them.

## Files

| file | what |
|---|---|
| `raw/tweet_activity_metrics_{truth.handle}_YYYYMMDD_YYYYMMDD_en.csv` | one X legacy per-tweet export per month (FORMATS.md §1a: 40 quoted columns, newest first, HTML entities encoded, snowflake ids, counts 5–15 as floats, `"-"` promoted columns) |
| `raw/followers_monthly.csv` | hand-kept monthly sheet: `date,followers,new_followers,tweet_impressions` |
| `coding/coder_a.csv`, `coding/coder_b.csv`, `coding/adjudicated.csv` | manual codes `has_poll`, `has_graphic` (0/1) |
| `codebook.yml` | definitions of the manual codes |
| `dataset.yml` | the dataset card |

## Follower growth (truth)

- Start: {truth.start_followers:,} followers on {truth.start}.
- Daily gross follows ~ Poisson, unfollows ~ Poisson ({truth.unfollows_per_day_before}/day before,
  {truth.unfollows_per_day_after}/day after); **net growth {truth.net_per_day_before} followers/day before
  and {truth.net_per_day_after} followers/day after** the intervention: **true slope ratio
  {truth.slope_ratio:.2f}**, true slope change {truth.net_per_day_after - truth.net_per_day_before:+.2f}/day.

Realised:

| quantity | before | after | ratio after/before |
|---|---|---|---|
| mean daily net follows (daily series, not in the files) | {r["daily_net_before"]:.3f} | {r["daily_net_after"]:.3f} | {r["daily_net_after"] / r["daily_net_before"]:.3f} |
| per-period OLS slope of `followers` on days, monthly sheet (what the report fits) | {r["sheet_slope_before"]:.3f} | {r["sheet_slope_after"]:.3f} | **{r["sheet_slope_ratio"]:.3f}** |
| sheet rows with a follower count (period = recorded before / on-or-after {truth.intervention}) | {r["sheet_n_before"]} | {r["sheet_n_after"]} | |

- Months whose follower count was "forgotten" (NA in the sheet): {missing}.
- The sheet's `followers` is the level at the start of the recorded day; `new_followers` are the **gross**
  follows of the previous calendar month (unfollows are not in the sheet); `tweet_impressions` is the sum of
  the impressions of the posts published (UTC) in the previous month. The first row has no previous month.
- Final follower count: **{r["final_followers"]:,}** on {r["final_followers_date"]} (the sheet's last row).

## Goal

`{truth.goal_metric} ≥ {int(truth.goal_target):,} by {truth.goal_by}` — the target is the final simulated count
plus 50, rounded up to the next hundred, so the goal is **narrowly missed** (by {gap:,.0f} followers).

## Posting

- {truth.n_posts} posts; posting rate after the intervention = {truth.posting_rate_ratio}× the rate before
  (expected {truth.posts_per_month_before:.1f} posts/month before, {truth.posts_per_month_after:.1f} after;
  realised {r["n_posts_before"]} posts = {r["posts_per_month_before"]:.1f}/month before,
  {r["n_posts_after"]} = {r["posts_per_month_after"]:.1f}/month after).
- Weekend days post at 30 % of a weekday's rate; local time ({truth.timezone}) 07:00–18:59, most often
  09:00–11:59.
- Realised monthly impressions (sum over posts per calendar month, UTC): mean {r["monthly_impressions_before_mean"]:,.0f}
  before, {r["monthly_impressions_after_mean"]:,.0f} after: **fold change {r["monthly_impressions_fold_change"]:.3f}**
  (more posts × larger audience; no other time effect).
- The account sheet carries the same sums one row later (each row holds the previous month). Split by the
  row's recorded date (before / on-or-after {truth.intervention}), as a pipeline reading the sheet does:
  mean {r["sheet_impressions_before_mean"]:,.0f} before, {r["sheet_impressions_after_mean"]:,.0f} after:
  **fold change {r["sheet_impressions_fold_change"]:.3f}**.

## Features (independent draws)

| feature | true prevalence | realised |
|---|---|---|
| `has_poll` | {prev["has_poll"]:.0%} | {rp["has_poll"]:.1%} |
| `has_graphic` (native media ⇒ media views > 0 and ONE trailing t.co link) | {prev["has_graphic"]:.0%} | {rp["has_graphic"]:.1%} |
| `has_url` (one t.co link to the article, before the hashtags) | {prev["has_url"]:.0%} | {rp["has_url"]:.1%} |
| `has_emoji` (1–2 from a set incl. ZWJ sequences, a skin tone, a flag) | {prev["has_emoji"]:.0%} | {rp["has_emoji"]:.1%} |
| `is_reply` (text starts with `@`) | {prev["is_reply"]:.0%} | {rp["is_reply"]:.1%} |
| `n_hashtags` 0/1/2/3 with probabilities {"/".join(f"{p:.2f}" for p in truth.hashtag_probs)} | mean {sum(i * p for i, p in enumerate(truth.hashtag_probs)):.2f} | mean {r["mean_hashtags"]:.2f} |
| `n_mentions` 0/1/2 with probabilities {"/".join(f"{p:.2f}" for p in truth.mention_probs)} (a reply has ≥ 1: its addressee) | | mean {r["mean_mentions"]:.2f} |

Automatic coding should recover `has_url` by counting t.co links and discounting the trailing media link of
posts with media views > 0; `has_emoji`, `n_hashtags` and `n_mentions` (the reply's addressee included) from
the text. Polls cannot be seen in an X legacy export: `has_poll` and `has_graphic` come from the manual codes.
Simplification: features are independent (on X a poll cannot carry media; here it can).

## Post-level effects (truth)

`log E[impressions] = log({truth.baseline_impressions:g}) + {truth.audience_elasticity:g}·log(followers_at_post / 1000) + Σ b_k·x_k`,
impressions ~ Poisson(E·exp(ε)), ε ~ Normal(−σ²/2, σ), σ = {truth.impressions_noise_sd}.
Engagement rate = {truth.engagement_rate:.3f}·Π(1 + rate effect)^x·exp(η), η ~ Normal(−s²/2, s), s = {truth.engagement_noise_sd};
engagements ~ Poisson(impressions × rate), split into the 14 components (`engagements` is their exact sum).

| term | feature | true effect on impressions | b (log scale) | effect on engagement rate | implied effect on engagements |
|---|---|---|---|---|---|
{rows}

- Audience: +1 % followers → +{truth.audience_elasticity:g} % impressions (elasticity {truth.audience_elasticity:g});
  **no year effect** beyond the audience.
- Replies, posting hour and weekday have **no** effect.
- Expected recovery: OLS of `log1p(impressions)` on the six predictors with `log(followers_at_post)` recovers
  b within sampling error (SE ≈ 0.5/√(n·p(1−p))); the report's `effect_pct` = 100·(exp(b) − 1). With
  `followers_at_post` and `year` as linear controls the estimates are close but not identical. For
  engagements (counts ≈ {r["median_impressions"] * r["mean_engagement_rate"]:.0f} per post) `log1p` attenuates effects a little;
  the negative binomial model targets the stated values. Estimates from the manual codes are slightly
  attenuated by the coder errors that no second coder caught (see below).
- Realised: median impressions {r["median_impressions"]:,.0f}; mean engagement rate {r["mean_engagement_rate"]:.2%}.

## Manual coding (truth)

- Coder A codes the first {r["n_coded_coder_a"]} posts in time, coder B the last {r["n_coded_coder_b"]};
  {r["n_overlap"]} posts are double-coded. Each coder flips each true 0/1 value independently with
  probability {truth.coder_error_rate:.0%}.
- Realised errors: coder A {errs["coder_a.has_poll"]} (`has_poll`) and {errs["coder_a.has_graphic"]} (`has_graphic`);
  coder B {errs["coder_b.has_poll"]} and {errs["coder_b.has_graphic"]}.
- Overlap disagreements: {r["overlap_disagreements"]["has_poll"]} (`has_poll`),
  {r["overlap_disagreements"]["has_graphic"]} (`has_graphic`); realised **Cohen's κ: `has_poll`
  {kappa["has_poll"]:.3f}, `has_graphic` {kappa["has_graphic"]:.3f}**.
- `adjudicated.csv` gives the true values of the {r["n_adjudicated"]} overlap posts with any disagreement.
- Final manual values (adjudicated, else the coder) still wrong for {r["final_code_errors"]["has_poll"]}
  (`has_poll`) and {r["final_code_errors"]["has_graphic"]} (`has_graphic`) posts: single-coded errors.

## Machine-readable truth

```json
{machine}
```
"""


def simulate_dataset(
    out: str | Path,
    *,
    seed: int = 2024,
    n_posts: int = 570,
    start: str | dt.date = "2020-01-01",
    end: str | dt.date = "2023-12-31",
    intervention: str | dt.date = "2022-01-01",
    coder_error_rate: float = 0.01,
    force: bool = False,
) -> SimulationTruth:
    """Write a complete example dataset folder with known truth to ``out`` and return the truth.

    ``coder_error_rate`` is the chance that a coder miscodes a post. The example uses 1%: its codes (is there a
    poll, is there a graphic) are objective, and for a rare code such as a poll (≈10% of posts) every
    single-coded false positive dilutes the estimated effect, so a larger rate would make the example test
    the coders rather than the models. ``simulate_coding`` keeps 3% as its own default for reliability tests.

    Refuses to write into a non-empty folder unless ``force`` is true; then it overwrites the files it
    writes and removes monthly exports of an earlier simulation (``raw/tweet_activity_metrics_<handle>_*``)
    that the new one does not write. Other files are left alone. Every file is written atomically and the
    files are byte-identical for the same arguments.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("the output path exists and is not a folder; give a folder path", file=out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(
            "the output folder is not empty; refusing to overwrite it. Choose a new folder or pass force=True "
            "(--force) to overwrite the simulated files",
            file=out,
        )
    tables = simulate_tables(
        seed=seed, n_posts=n_posts, start=start, end=end, intervention=intervention, coder_error_rate=coder_error_rate
    )
    truth, posts = tables.truth, tables.posts

    files: dict[str, str] = {}
    months = pd.period_range(truth.start, truth.end, freq="M")
    cells = _x_legacy_cells(posts)
    month_of_post = posts.loc[cells.index, "published_at"].dt.tz_localize(None).dt.to_period("M")
    for m in months:
        first = m.to_timestamp()
        nxt = (m + 1).to_timestamp()
        name = f"raw/tweet_activity_metrics_{HANDLE}_{first:%Y%m%d}_{nxt:%Y%m%d}_en.csv"
        files[name] = _csv_all_quoted(cells[(month_of_post == m).to_numpy()])
    files["raw/followers_monthly.csv"] = _format_sheet(tables.sheet)
    for key, df in tables.coding.items():
        files[f"coding/{key}.csv"] = _format_codes(df)
    files["codebook.yml"] = CODEBOOK_YML
    files["dataset.yml"] = _dataset_yml(truth)
    pubs = simulate_publications(posts, seed=seed)
    files.update(pubs.files)
    files["TRUTH.md"] = _truth_with_publications(truth, pubs.truth)
    ads, ads_truth = simulate_campaigns(seed=seed)
    files[ADS_FILE] = format_meta_ads(ads)
    files["TRUTH_campaigns.md"] = render_campaign_truth(ads, ads_truth, seed=seed)

    if force and (out / "raw").is_dir():
        for stale in (out / "raw").glob(f"tweet_activity_metrics_{HANDLE}_*_en.csv"):
            if f"raw/{stale.name}" not in files:
                stale.unlink()
        for stale in [*(out / "raw" / "altmetric").glob("altmetric_doi_*.json"),
                      *(out / "raw" / "openalex").glob("openalex_works_*.json")]:
            if stale.relative_to(out).as_posix() not in files:
                stale.unlink()
    for rel, text in files.items():
        write_text(out / rel, text)
    return truth


# ---------------------------------------------------------------------------------------------------------
# publications (issue 16): papers, some featured by the posts that link to them, with a known featuring effect.
# Drawn from their OWN seeded generator so every file above stays byte-identical to what it was before.

#: journal: (DOI prefix pattern, landing page pattern, log attention effect, log citation effect,
#: share among featured papers, share among not-featured papers) — featured papers come more often from the
#: high-attention journals: the selection the within-journal comparison must take out.
_JOURNALS = {
    "Pediatrics": ("10.1542/peds.{y}-{n:06d}", "https://publications.aap.org/pediatrics/article/{y}/{n}", 0.6, 0.4,
                   0.30, 0.12),
    "JAMA Pediatrics": ("10.1001/jamapediatrics.{y}.{n:04d}", "https://jamanetwork.com/journals/jamapediatrics/"
                        "fullarticle/{n}", 0.9, 0.5, 0.25, 0.08),
    "Academic Emergency Medicine": ("10.1111/acem.{n:05d}", "https://onlinelibrary.wiley.com/doi/full/{doi}", 0.0,
                                    0.0, 0.15, 0.20),
    "Pediatric Emergency Care": ("10.1097/pec.{n:013d}", "https://journals.lww.com/pec-online/fulltext/{y}/{n}",
                                 -0.5, -0.3, 0.10, 0.30),
    "Annals of Emergency Medicine": ("10.1016/j.annemergmed.{y}.{n:02d}.{m:03d}", "https://www.annemergmed.com/"
                                     "article/S0196-0644({y}){n:05d}/fulltext", 0.3, 0.2, 0.10, 0.15),
    "The Journal of Pediatrics": ("10.1016/j.jpeds.{y}.{n:02d}.{m:03d}", "https://www.jpeds.com/article/"
                                  "S0022-3476({y}){n:05d}/fulltext", 0.1, 0.1, 0.10, 0.15),
}
_TOPICS = ("febrile infants", "minor head trauma", "forearm fractures", "bronchiolitis", "pediatric sepsis",
           "asthma exacerbations", "firearm injuries", "mental health boarding", "cannabis exposures",
           "out-of-hospital cardiac arrest", "intussusception", "appendicitis", "procedural sedation",
           "language access", "pediatric readiness", "influenza testing", "abdominal trauma", "dehydration")
_DESIGNS = ("A multicenter cohort study of", "A randomized trial of interventions for", "Trends in emergency care for",
            "Derivation of a clinical decision rule for", "Validation of a risk score for",
            "Variation in imaging for", "Outcomes after emergency department visits for", "Costs of care for")
_POPULATIONS = ("children", "infants under 90 days", "adolescents", "children in rural emergency departments",
                "children with medical complexity", "toddlers")

#: truth of the example publications (log-scale effects on the expected value).
PUB_TRUTH = {
    "altmetric_featured_pct": 100.0,  # featuring doubles the expected Altmetric score
    "citations_after_first_post_pct": 25.0,  # citation rate per year ×1.25 in years after the first post
    "altmetric_baseline": 12.0,
    "altmetric_age_elasticity": 0.2,
    "altmetric_nb_alpha": 0.6,
    "citations_per_year_baseline": 2.5,
    "citation_frailty_sd": 0.5,
    "late_share": 0.25,  # share of featured papers first posted 1–3 years after publication
    "refeature_share": 0.6,  # share of article posts that post about an already-featured paper again
    "n_not_featured": 80,
    "fetched_at": "2024-03-01T12:00:00Z",
}


@dataclass(frozen=True)
class SimulatedPublications:
    """Files (relative path → text) and the truth of the example publications."""

    files: dict[str, str]
    truth: dict


def _publication_dates(rng: np.random.Generator, first_post: pd.Series, late: np.ndarray,
                       floor: pd.Timestamp) -> pd.Series:
    lag_days = np.where(late, rng.integers(400, 1100, len(first_post)), rng.integers(3, 60, len(first_post)))
    dates = (first_post.dt.tz_convert(None).dt.normalize() - pd.to_timedelta(lag_days, unit="D"))
    return dates.where(dates >= floor, floor)


def simulate_publications(posts: pd.DataFrame, *, seed: int = 2024, handle: str = HANDLE) -> SimulatedPublications:
    """Papers for the posts that link to an article (``has_url``): OpenAlex pages, Altmetric responses, link cache.

    Each article post's t.co link resolves (in ``links/resolved_links.csv``) to the paper's ``doi.org`` URL, a
    journal URL carrying the DOI or the paper's landing page; re-features of a paper sometimes do not resolve.
    Papers the account never posts about are drawn alongside. Attention: Altmetric score ~ NB2 with mean
    ``baseline·exp(journal + elasticity·log(age) + log(2)·featured)`` (score 0 → Altmetric answers 404, *not
    found*); citations per calendar year ~ Poisson(baseline·frailty·exp(journal)·exposure·1.25^after first post).
    """
    T = PUB_TRUTH
    rng = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    fetched = pd.Timestamp(T["fetched_at"])
    art = posts[posts["has_url"].astype(bool)].sort_values("published_at", kind="stable").reset_index(drop=True)
    links = art["text"].str.extract(r"(https://t\.co/[A-Za-z0-9]{10})", expand=False)
    n_art = len(art)
    new = rng.random(n_art) >= T["refeature_share"]
    if n_art:
        new[0] = True
    made = np.cumsum(new)
    paper_of_post = np.where(new, made - 1, np.floor(rng.random(n_art) * np.maximum(made, 1)).astype(int))
    n_feat = int(made[-1]) if n_art else 0
    first_post = art.groupby(paper_of_post)["published_at"].min() if n_art else pd.Series(dtype="datetime64[ns, UTC]")
    late = rng.random(n_feat) < T["late_share"]
    floor = pd.Timestamp("2017-01-01")
    feat_dates = _publication_dates(rng, first_post.reset_index(drop=True), late, floor)
    lo = pd.Timestamp(posts["published_at"].min()).tz_convert(None).normalize() - pd.Timedelta(days=365)
    hi = pd.Timestamp(posts["published_at"].max()).tz_convert(None).normalize()
    n_un = int(T["n_not_featured"])
    un_dates = pd.Series(lo + pd.to_timedelta(rng.integers(0, max((hi - lo).days, 1), n_un), unit="D"))
    featured = np.r_[np.ones(n_feat, bool), np.zeros(n_un, bool)]
    published = pd.concat([feat_dates, un_dates], ignore_index=True)
    n = n_feat + n_un
    names = list(_JOURNALS)
    p_feat = np.array([v[4] for v in _JOURNALS.values()])
    p_un = np.array([v[5] for v in _JOURNALS.values()])
    journal_idx = np.where(featured, rng.choice(len(names), n, p=p_feat / p_feat.sum()),
                           rng.choice(len(names), n, p=p_un / p_un.sum()))
    journal = np.asarray(names, dtype=object)[journal_idx]
    serial = rng.permutation(np.arange(1000, 1000 + 20 * n))[:n]
    years = published.dt.year.to_numpy()
    months = published.dt.month.to_numpy()
    dois, landing = [], []
    for j, y, m, s in zip(journal, years, months, serial, strict=True):  # per paper (hundreds), not per post
        pat, url, *_ = _JOURNALS[j]
        doi = pat.format(y=y, n=s, m=m * 7 % 1000).lower()
        dois.append(doi)
        landing.append(url.format(y=y, n=s, doi=doi))
    # unique titles: design × topic × population, drawn without replacement
    combos = len(_DESIGNS) * len(_TOPICS) * len(_POPULATIONS)
    pick = rng.choice(combos, n, replace=False)
    d_i, rest = np.divmod(pick, len(_TOPICS) * len(_POPULATIONS))
    t_i, p_i = np.divmod(rest, len(_POPULATIONS))
    titles = [f"{_DESIGNS[a]} {_TOPICS[b]} in {_POPULATIONS[c]}" for a, b, c in zip(d_i, t_i, p_i, strict=True)]

    # attention
    age = ((fetched.tz_convert(None) - published).dt.days.to_numpy() / 365.25).clip(1 / 365.25)
    j_alt = np.array([_JOURNALS[j][2] for j in journal])
    j_cit = np.array([_JOURNALS[j][3] for j in journal])
    mu = T["altmetric_baseline"] * np.exp(j_alt + T["altmetric_age_elasticity"] * np.log(age)
                                          + np.log1p(T["altmetric_featured_pct"] / 100) * featured)
    a = T["altmetric_nb_alpha"]
    draws = rng.poisson(rng.gamma(1 / a, mu * a))
    score = draws + 0.25 * rng.integers(0, 4, n) * (draws > 0)
    found = score > 0
    # citations per calendar year
    frailty = rng.lognormal(-T["citation_frailty_sd"] ** 2 / 2, T["citation_frailty_sd"], n)
    fp_all = np.r_[first_post.to_numpy(), np.full(n_un, np.datetime64("NaT"), dtype="datetime64[ns]")] if n_feat else \
        np.full(n_un, np.datetime64("NaT"), dtype="datetime64[ns]")
    fp = pd.to_datetime(pd.Series(fp_all), utc=True).dt.tz_convert(None)
    boost = 1 + T["citations_after_first_post_pct"] / 100
    by_year: list[list[dict]] = []
    total = np.zeros(n, dtype=int)
    cal_years = np.arange(int(years.min()), fetched.year + 1)
    for y in cal_years:  # per calendar year (a handful), vectorized over papers
        start_y, end_y = pd.Timestamp(f"{y}-01-01"), min(pd.Timestamp(f"{y + 1}-01-01"), fetched.tz_convert(None))
        exposure = ((end_y - published.clip(lower=start_y)).dt.days / 365.25).clip(lower=0).to_numpy()
        # share of the exposure after the first post (0 before, 1 after, a fraction in its year)
        after = ((end_y - fp.clip(lower=start_y)).dt.days / max((end_y - start_y).days, 1)).clip(0, 1).fillna(0)
        rate = T["citations_per_year_baseline"] * frailty * np.exp(j_cit) * exposure * (1 + (boost - 1) * after)
        c = rng.poisson(rate.to_numpy() if hasattr(rate, "to_numpy") else rate)
        total += c
        by_year.append([{"year": int(y), "cited_by_count": int(v)} for v in c])
    counts_by_year = [[by_year[k][i] for k in range(len(cal_years) - 1, -1, -1) if by_year[k][i]["cited_by_count"] > 0]
                      for i in range(n)]

    order = np.argsort(published.to_numpy(), kind="stable")
    ids = [f"W{4100000000 + int(i) * 7919}" for i in range(n)]
    works = []
    for i in order:
        works.append({
            "id": f"https://openalex.org/{ids[i]}", "doi": f"https://doi.org/{dois[i]}", "title": titles[i],
            "display_name": titles[i], "publication_year": int(years[i]),
            "publication_date": published.iloc[i].strftime("%Y-%m-%d"),
            "ids": {"openalex": f"https://openalex.org/{ids[i]}", "doi": f"https://doi.org/{dois[i]}"},
            "type": "article",
            "primary_location": {"is_oa": False, "landing_page_url": landing[i], "pdf_url": None,
                                 "source": {"id": f"https://openalex.org/S{1000 + names.index(journal[i])}",
                                            "display_name": journal[i], "type": "journal"}},
            "cited_by_count": int(total[i]), "counts_by_year": counts_by_year[i],
        })
    files: dict[str, str] = {}
    per_page = 100
    pages = [works[k:k + per_page] for k in range(0, len(works), per_page)] or [[]]
    for k, page in enumerate(pages, 1):
        body = {"meta": {"count": len(works), "db_response_time_ms": 41, "page": None, "per_page": per_page,
                         "next_cursor": None if k == len(pages) else f"IlsxNjk{k:04d}XQ==", "groups_count": None},
                "results": page, "group_by": []}
        files[f"raw/openalex/openalex_works_{k:04d}.json"] = json.dumps(body, ensure_ascii=False)

    # Altmetric: history from a score path (news cycle at publication, then a boost after the first post)
    fetched_s = int(fetched.timestamp())
    requests = []
    base_share = np.where(featured, 1 / (1 + T["altmetric_featured_pct"] / 100), 1.0)
    for i in range(n):
        doi = dois[i]
        stamp = T["fetched_at"]
        if not found[i]:
            requests.append({"doi": doi, "status": 404, "fetched_at": stamp, "file": None})
            continue

        def cum(t: pd.Timestamp, i: int = i) -> float:
            d_pub = max((t - published.iloc[i]).days, 0)
            s = score[i] * base_share[i] * (1 - np.exp(-d_pub / 45))
            if featured[i] and pd.notna(fp.iloc[i]):
                d_post = max((t - fp.iloc[i]).total_seconds() / 86400, 0)
                s += score[i] * (1 - base_share[i]) * (1 - np.exp(-d_post / 5))
            return s

        end = fetched.tz_convert(None)
        final = cum(end)
        scale = score[i] / final if final > 0 else 1.0
        hist = {k: round(float(score[i] - cum(end - pd.Timedelta(days=w)) * scale), 2)
                for k, w in HISTORY_WINDOWS_SIM.items()}
        hist["at"] = float(score[i])
        name = f"raw/altmetric/altmetric_doi_{re.sub(r'[^a-z0-9]+', '_', doi)}.json"
        body = {"title": titles[i], "doi": doi, "journal": journal[i], "altmetric_id": 100000 + i * 37,
                "cited_by_posts_count": int(draws[i]), "cited_by_tweeters_count": int(max(draws[i] - 1, 0)),
                "score": float(score[i]), "history": hist, "url": landing[i],
                "added_on": int(pd.Timestamp(published.iloc[i]).timestamp()),
                "published_on": int(pd.Timestamp(published.iloc[i]).timestamp()),
                "subjects": ["pediatrics"], "readers": {"mendeley": -1, "downloads": -1},
                "details_url": f"http://www.altmetric.com/details.php?citation_id={100000 + i * 37}",
                "last_updated": fetched_s - 86400}
        files[name] = json.dumps(body, ensure_ascii=False)
        requests.append({"doi": doi, "status": 200, "fetched_at": stamp, "file": Path(name).name})
    files["raw/altmetric/altmetric_fetch_log.json"] = json.dumps(
        {"workbench_fetch_log": {"version": 1, "service": "altmetric", "endpoint": "https://api.altmetric.com/v1/doi/",
                                 "note": "simulated by workbench simulate"}, "requests": requests}, indent=1)

    # the link cache: article links → doi.org / journal DOI URL / landing page; media links → the post's photo
    kind = rng.choice(3, n_art, p=[0.5, 0.3, 0.2])
    doi_arr = np.asarray(dois, dtype=object)[paper_of_post] if n_art else np.array([], dtype=object)
    land_arr = np.asarray(landing, dtype=object)[paper_of_post] if n_art else np.array([], dtype=object)
    resolved = np.where(kind == 0, "https://doi.org/" + doi_arr,
                        np.where(kind == 1, "https://onlinelibrary.wiley.com/doi/full/" + doi_arr, land_arr))
    broken = ~new & (rng.random(n_art) < 0.15)
    status = np.where(broken, "error: HTTP 404", "ok")
    resolved = np.where(broken, "", resolved)
    media = posts[posts["has_graphic"].astype(bool)]
    media_link = media["text"].str.extract(r"(https://t\.co/[A-Za-z0-9]{10})$", expand=False)
    cache = pd.concat([
        pd.DataFrame({"short_url": links, "resolved_url": resolved, "status": status}),
        pd.DataFrame({"short_url": media_link, "resolved_url": "https://twitter.com/" + handle + "/status/"
                      + media["post_id"].astype(str) + "/photo/1", "status": "ok"}),
    ], ignore_index=True).dropna(subset=["short_url"])
    cache["resolved_at"] = T["fetched_at"]
    files["links/resolved_links.csv"] = cache.sort_values("short_url").to_csv(index=False, lineterminator="\n")

    linked_feat = np.zeros(n, bool)
    ok_papers = np.unique(paper_of_post[~broken]) if n_art else np.array([], int)
    linked_feat[ok_papers] = True
    realised = {
        "n_papers": n, "n_featured": n_feat, "n_not_featured": n_un, "n_article_posts": n_art,
        "n_article_links_unresolved": int(broken.sum()), "n_late_featured": int(late.sum()),
        "n_altmetric_not_found": int((~found).sum()),
        "n_not_found_featured": int((~found & featured).sum()),
        "mean_score_featured": round(float(score[featured].mean()), 2) if n_feat else None,
        "mean_score_not_featured": round(float(score[~featured].mean()), 2),
        "featured_share_high_attention_journals": round(float(np.isin(journal[featured], ["Pediatrics",
                                                                                          "JAMA Pediatrics"]).mean()), 3)
        if n_feat else None,
        "not_featured_share_high_attention_journals": round(float(np.isin(journal[~featured], [
            "Pediatrics", "JAMA Pediatrics"]).mean()), 3),
        "every_featured_paper_has_a_resolved_link": bool(linked_feat[:n_feat].all()),
    }
    return SimulatedPublications(files=files, truth={**T, "seed": seed, "realised": realised})



def render_publication_truth(pt: dict) -> str:
    """The TRUTH.md section on publications and attention."""
    r = pt["realised"]
    return f"""
## Publications and attention (truth; issue 16)

Drawn from a separate generator (seed sequence [{pt['seed']}, 16]) so the files above are unchanged.

| file | what |
|---|---|
| `raw/openalex/openalex_works_NNNN.json` | OpenAlex works pages as the API returns them (`meta`, `results`): the publication list and citations (`cited_by_count`, `counts_by_year`) |
| `raw/altmetric/altmetric_doi_*.json` | one Altmetric Details Page API response per DOI Altmetric knows |
| `raw/altmetric/altmetric_fetch_log.json` | the fetch log: fetch time per DOI, and the DOIs Altmetric answered 404 (*not found*) |
| `links/resolved_links.csv` | the `workbench fetch resolve-links` cache: where each t.co link leads |

- {r['n_papers']} papers: {r['n_featured']} featured (the {r['n_article_posts']} posts with an article link post about
  them; {pt['refeature_share']:.0%} of article posts re-feature an earlier paper) and {r['n_not_featured']} the account never
  posts about. A featured paper is published 3–59 days before its first post, or 400–1,099 days before
  ({pt['late_share']:.0%} of featured papers, realised {r['n_late_featured']}: "late" features, which give citations a before and after).
- Links: a t.co link resolves to `doi.org/DOI` (50 %), a journal URL with the DOI (30 %) or the paper's landing page
  (20 %); {r['n_article_links_unresolved']} re-feature links did not resolve (status `error`), so those posts stay unlinked
  (every featured paper keeps a resolved link: {r['every_featured_paper_has_a_resolved_link']}).
- **Selection**: featured papers come more often from the two high-attention journals
  ({r['featured_share_high_attention_journals']:.0%} vs {r['not_featured_share_high_attention_journals']:.0%} of not-featured papers): the comparison without
  journal controls (`negbin_unadjusted`) overstates the featuring effect; with journal controls it targets the truth.
- **Altmetric score** ~ NB2(mean = {pt['altmetric_baseline']:g}·exp(journal effect + {pt['altmetric_age_elasticity']:g}·log(age in years) + log(2)·featured),
  α = {pt['altmetric_nb_alpha']:g}), plus 0–0.75 in quarter points when above 0: **featuring raises the expected score by
  +{pt['altmetric_featured_pct']:.0f}%** (the `featured` term of `negbin`, b = log 2 = 0.693). A draw of 0 means Altmetric
  answers 404: {r['n_altmetric_not_found']} papers are *not found* ({r['n_not_found_featured']} of them featured); `negbin_not_found_zero` scores them 0, which is
  the generating model. Realised mean score: featured {r['mean_score_featured']}, not featured {r['mean_score_not_featured']}.
- **Citations** per calendar year ~ Poisson({pt['citations_per_year_baseline']:g}·frailty·exp(journal effect)·exposure in that year
  ·1.25^(share of the year after the first post)), frailty lognormal (sd {pt['citation_frailty_sd']:g}): **the citation rate rises
  +{pt['citations_after_first_post_pct']:.0f}% in the years after the first post** (`poisson_paper_year`, term `after_first_post`). The
  cross-sectional `featured` term on total citations mixes years before and after and is smaller for late features.
- Journal effects (log scale, attention / citations): {', '.join(f'{j} {v[2]:+g} / {v[3]:+g}' for j, v in _JOURNALS.items())}.
- No effect of the post features (link, graphic, poll) on a paper's attention beyond featuring itself.
- Fetched (Altmetric, OpenAlex) {pt['fetched_at']}.
- Machine-readable: the `publications` key of the JSON below.

"""


def _truth_with_publications(truth: SimulationTruth, pt: dict) -> str:
    """TRUTH.md with the publications section before the machine-readable JSON, which stays the file's last
    block (readers take the last one) and gains a ``publications`` key."""
    head, sep, _ = render_truth(truth).partition("## Machine-readable truth")
    machine = json.dumps({**truth.to_dict(), "publications": pt}, indent=2, sort_keys=True, ensure_ascii=False)
    return f"{head.rstrip()}\n{render_publication_truth(pt)}{sep}\n\n```json\n{machine}\n```\n"


# ---- paid campaigns (issue 18): a Meta Ads Manager export, from its own random stream ---------------------
# Drawn from SeedSequence([seed, 18]), never from the streams above, so every other example file is unchanged.

ADS_FILE = "raw/meta_ads_ExampleResNet_2023-01-01_2023-03-31.csv"
#: campaign → (ad names, true CTR, result indicator, true conversion rate per link click or None, true CPM USD)
ADS_CAMPAIGNS = {
    "Trial recruitment 2023": (("Video - parents", "Image - parents"), 0.010, "actions:offsite_conversion.fb_pixel_lead",
                               0.12, 11.0),
    "Paper launch: sepsis study": (("Carousel - clinicians", "Link - clinicians"), 0.007, "actions:link_click",
                                   None, 14.0),
    "Webinar sign-ups": (("Video - trainees", "Image - trainees"), 0.012, "actions:onsite_conversion.lead_grouped",
                         0.08, 9.0),
}
ADS_HEADER = ("Reporting starts", "Reporting ends", "Day", "Campaign name", "Ad set name", "Ad name", "Ad delivery",
              "Attribution setting", "Results", "Result indicator", "Reach", "Impressions", "Cost per results",
              "Amount spent (USD)", "Link clicks", "CTR (link click-through rate)",
              "CPC (cost per link click) (USD)", "CPM (cost per 1,000 impressions) (USD)")


def simulate_campaigns(*, seed: int = 2024, start: str = "2023-01-01", days: int = 90) -> tuple[pd.DataFrame, dict]:
    """Daily ad-level rows of three Meta campaigns with known CTR, CPM and conversion rate → ``(rows, truth)``.

    Each ad-day: impressions ~ Poisson(Gamma(4, 350)); the day's CTR ~ Beta with mean the campaign's CTR
    (concentration 400: days differ more than binomial noise); link clicks ~ Binomial(impressions, CTR_day);
    spend = impressions · CPM/1000 · LogNormal(−0.02, 0.2); conversions ~ Binomial(link clicks, rate) for the
    lead campaigns (their ``Results``), link clicks for the traffic campaign; reach = impressions / 1.25.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 18]))
    day0 = pd.Timestamp(start)
    rows = []
    for name, (ads, ctr, indicator, conv, cpm) in ADS_CAMPAIGNS.items():
        for ad in ads:
            imp = rng.poisson(rng.gamma(4.0, 350.0, days))
            p = rng.beta(ctr * 400, (1 - ctr) * 400, days)
            clicks = rng.binomial(imp, p)
            spend = np.round(imp * cpm / 1000 * rng.lognormal(-0.02, 0.2, days), 2)
            results = rng.binomial(clicks, conv) if conv is not None else clicks
            for d in range(days):
                rows.append({"day": day0 + pd.Timedelta(days=d), "campaign": name, "ad_set": name.split(":")[0] + " audience",
                             "ad": ad, "indicator": indicator, "impressions": int(imp[d]), "reach": int(imp[d] / 1.25),
                             "clicks": int(clicks[d]), "spend": float(spend[d]), "results": int(results[d])})
    truth = {name: {"ctr": ctr, "cpm_usd": cpm, "conversion_rate": conv, "result_indicator": indicator}
             for name, (_, ctr, indicator, conv, cpm) in ADS_CAMPAIGNS.items()}
    return pd.DataFrame(rows), truth


def format_meta_ads(rows: pd.DataFrame) -> str:
    """An Ads Manager CSV of ``rows``: a summary row of totals (names empty) above the ads, as exports have it."""
    start, end = rows["day"].min(), rows["day"].max()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(ADS_HEADER)
    tot_imp, tot_clk, tot_sp = int(rows["impressions"].sum()), int(rows["clicks"].sum()), float(rows["spend"].sum())
    w.writerow([f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}", "", "", "", "", "", "", "", "", "", tot_imp, "",
                f"{tot_sp:.2f}", tot_clk, f"{100 * tot_clk / tot_imp:.6f}", f"{tot_sp / tot_clk:.6f}",
                f"{1000 * tot_sp / tot_imp:.6f}"])
    def ratio(num: pd.Series, den: pd.Series, scale: float = 1.0) -> pd.Series:
        ok = den > 0
        return (scale * num / den.where(ok)).map("{:.6f}".format).where(ok, "")

    body = pd.DataFrame({
        "a": f"{start:%Y-%m-%d}", "b": f"{end:%Y-%m-%d}", "day": rows["day"].dt.strftime("%Y-%m-%d"),
        "campaign": rows["campaign"], "ad_set": rows["ad_set"], "ad": rows["ad"], "delivery": "inactive",
        "attribution": "7-day click or 1-day view", "results": rows["results"].astype(str).where(rows["results"] > 0, ""),
        "indicator": rows["indicator"], "reach": rows["reach"], "impressions": rows["impressions"],
        "cpr": ratio(rows["spend"], rows["results"]), "spend": rows["spend"].map("{:.2f}".format),
        "clicks": rows["clicks"], "ctr": ratio(rows["clicks"], rows["impressions"], 100.0),
        "cpc": ratio(rows["spend"], rows["clicks"]), "cpm": ratio(rows["spend"], rows["impressions"], 1000.0)})
    body.to_csv(out, header=False, index=False, lineterminator="\n")
    return out.getvalue()


def render_campaign_truth(rows: pd.DataFrame, truth: dict, *, seed: int) -> str:
    """``TRUTH_campaigns.md``: the paid campaigns' true parameters and realised totals."""
    lines = [
        "# TRUTH — the example's paid campaigns (synthetic)",
        "",
        f"`{ADS_FILE}` is a Meta Ads Manager export (ad level, daily breakdown, USD) drawn by",
        f"`workbench.simulate.simulate_campaigns` from its own random stream (`SeedSequence([{seed}, 18])`), so the",
        "other example files do not depend on it. Its first data row is a summary row of totals (no names), as real",
        "exports have; ingest must exclude it. Reach per ad-day is impressions / 1.25 and is not additive.",
        "",
        "| campaign | true CTR | true CPM (USD) | result indicator | true conversion rate | realised spend | "
        "realised impressions | realised link clicks | realised results |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, t in truth.items():
        g = rows[rows["campaign"] == name]
        conv = "—" if t["conversion_rate"] is None else f"{t['conversion_rate']:.0%}"
        lines.append(f"| {name} | {t['ctr']:.2%} | {t['cpm_usd']:.2f} | `{t['result_indicator']}` | {conv} | "
                     f"{g['spend'].sum():,.2f} | {int(g['impressions'].sum()):,} | {int(g['clicks'].sum()):,} | "
                     f"{int(g['results'].sum()):,} |")
    lines += ["", "The traffic campaign's results are link clicks, not conversions: no conversion rate or CPA can be "
              "estimated for it.", ""]
    return "\n".join(lines)
