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
