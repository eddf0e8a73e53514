"""Names the card check needs, in a module that imports nothing.

The CLI validates a card before the first kernel has finished starting; importing ``schema`` (pandas) or
``growth`` (statsmodels, scipy) there would cost ~1 CPU-s of every run. ``schema`` and ``growth`` re-export these.
"""

from __future__ import annotations

#: platforms the workbench reads, in the order the report lists them
PLATFORMS = ("x", "facebook", "instagram", "linkedin", "bluesky", "mastodon")

#: a post's type (``post_type``): what the platform's export says the post is
POST_TYPES = ("original", "reply", "quote", "repost")

#: monthly metrics growth can derive from the posts table when the account table lacks them
POST_DERIVABLE = ("impressions", "engagements", "posts")

#: the automatic features :func:`workbench.features.code_features` computes, in the order of
#: ``features.FEATURE_DESCRIPTIONS`` (which defines each beside the code; a test keeps the two equal)
AUTOMATIC_FEATURES = ("n_urls", "has_url", "n_hashtags", "n_mentions", "n_emoji", "has_emoji", "has_media", "n_chars",
                      "is_question", "has_thread_marker", "hour_local", "weekday_local", "year", "month",
                      "followers_at_post", "engagement_rate", "has_research_link", "post_type", "post_type_source",
                      "has_call_to_action")
