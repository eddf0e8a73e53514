"""Canonical tables (DESIGN.md §4): column names, dtypes and the checks run at every stage boundary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import InputError
from .names import PLATFORMS, POST_TYPES  # noqa: F401  (defined without imports for the card check)

if TYPE_CHECKING:  # pandas is imported where used: checking a card reads these names and loads no pandas
    import pandas as pd

#: Count metrics of a post. Int64 with NA where the platform does not report the metric (never 0).
POST_METRICS = (
    "impressions",
    "engagements",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "bookmarks",
    "url_clicks",
    "profile_clicks",
    "media_views",
    "follows",
    "reach",
)

#: posts table: column -> pandas dtype.
POSTS_SCHEMA: dict[str, str] = {
    "post_id": "string",
    "platform": "category",
    "account": "string",
    "published_at": "datetime64[ns, UTC]",
    "text": "string",
    "permalink": "string",
    **{m: "Int64" for m in POST_METRICS},
    "media_type": "category",
    "is_reply": "boolean",
    "is_repost": "boolean",
    "source_format": "string",
    "source_file": "string",
    "source_row": "Int64",
    # added for issues 10 and 19 (ingest); the columns above are the original contract
    "post_type": "category",  # POST_TYPES; how each format decides: README "Formats" table
    "is_quote": "boolean",
    "published_time_reliable": "boolean",  # False: the export's time of day is known to be wrong
    "is_own_post": "boolean",  # False: a collab post by another account (``author``), kept under ``account``
    "author": "string",  # the account that published the post, as the export names it
    "impressions_label": "string",  # the platform's own name of what ``impressions`` holds ("Views" on Meta)
    # added for issue 18 (paid): promoted (paid) figures where the export reports them apart; NA elsewhere
    "promoted_impressions": "Int64",  # X legacy ``promoted impressions``
    "promoted_engagements": "Int64",  # X legacy ``promoted engagements``
    "promoted_reach": "Int64",  # Meta Business Suite ``Reach from Boosted posts``; FB legacy Lifetime Post Paid Reach
    # True: the export reports paid figures for the post (X legacy promoted column not "-"; FB legacy paid
    # impressions/reach > 0; Meta Business Suite boosted reach > 0); False: it reports none; NA: not said
    "is_promoted": "boolean",
}

#: X legacy ``promoted *`` columns read into posts (raw name, normalised → posts column).
PROMOTED_COLUMNS = {"promoted impressions": "promoted_impressions", "promoted engagements": "promoted_engagements"}

#: values of posts.post_type: an original post, a reply, a quote (a post quoting another) or a repost
#: (a retweet/boost/share of someone else's post, carrying that post's text).

#: Account metrics. ``followers`` is a follower *level* (a total at that date, e.g. an Audience.csv anchor);
#: ``new_follows`` are gross daily follows and are never summed into ``followers`` at ingest.
ACCOUNT_METRICS = ("followers", "new_follows", "unfollows", "impressions", "engagements", "posts",
                   "reach", "visits", "link_clicks")

#: The account columns a card's column map may name (``account: [{columns: {raw: canonical}}]``).
ACCOUNT_COLUMNS = ("date", *ACCOUNT_METRICS, "platform", "account")

#: account table: one row per account per date.
ACCOUNT_SCHEMA: dict[str, str] = {
    "date": "datetime64[ns]",
    "platform": "category",
    "account": "string",
    **{m: "Int64" for m in ACCOUNT_METRICS},
    "source_file": "string",
}

#: levels of a campaigns row: the most detailed name the export carries.
CAMPAIGN_LEVELS = ("campaign", "ad_set", "ad")

#: campaigns table (issue 18): one row per campaign / ad set / ad per reporting period, from paid-campaign
#: exports (Meta Ads Manager, LinkedIn Campaign Manager, X Ads; README "Paid campaigns").
CAMPAIGNS_SCHEMA: dict[str, str] = {
    "ad_platform": "string",  # meta, linkedin, x
    "level": "string",  # CAMPAIGN_LEVELS
    "breakdown": "string",  # day (one row per day) or period (the export's reporting range)
    "date_start": "datetime64[ns]",
    "date_end": "datetime64[ns]",  # inclusive
    "campaign_id": "string",
    "campaign_name": "string",
    "ad_set_id": "string",  # Meta ad set; LinkedIn campaign group; X ad group
    "ad_set_name": "string",
    "ad_id": "string",
    "ad_name": "string",
    "objective": "string",
    "currency": "string",  # ISO 4217 code from the spend heading "(XXX)" or a Currency column; NA: not said
    "spend": "Float64",  # in ``currency``
    "impressions": "Int64",
    "reach": "Int64",  # people reached by this row only: NOT additive across rows (ads, days)
    "clicks": "Int64",  # link clicks (LinkedIn: Clicks)
    "clicks_all": "Int64",  # every click (Meta "Clicks (all)", X "Clicks"); NA where not reported
    "results": "Int64",  # Meta/X "Results", in the unit ``result_indicator`` names
    "result_indicator": "string",  # Meta "Result indicator" (e.g. actions:link_click), X "Result type"
    "conversions": "Int64",  # LinkedIn/X "Conversions" where reported
    "source_format": "string",
    "source_file": "string",
    "source_row": "Int64",
}

#: manual codes in long form, as read from the coding files.
CODES_SCHEMA: dict[str, str] = {
    "post_id": "string",
    "coder": "string",
    "code": "string",
    "value": "string",
    "source_file": "string",
    "source_row": "Int64",
}

QUARANTINE_LEADING = ("source_file", "source_row", "reason")


def empty_frame(schema: dict[str, str]) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of ``schema``."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in schema.items()})


def _has_dtype(s: pd.Series, dtype: str) -> bool:
    """Whether ``s`` already has the schema's ``dtype``; any storage of pandas' string dtype is ``string``."""
    import pandas as pd

    if dtype == "string":
        return isinstance(s.dtype, pd.StringDtype)
    return str(s.dtype) == dtype


def conform(df: pd.DataFrame, schema: dict[str, str], *, table: str) -> pd.DataFrame:
    """Return ``df`` with exactly the schema's columns (missing ones added as NA) in schema order and dtypes.

    Extra columns are kept after the schema's columns. Columns that already have their dtype are not copied
    (string columns keep their storage: Arrow-backed strings stay Arrow-backed); the frame is built once.
    """
    import pandas as pd

    index = pd.RangeIndex(len(df))
    if not df.index.equals(index):
        df = df.set_axis(index, axis=0, copy=False)
    cols: dict[str, pd.Series] = {}
    for col, dtype in schema.items():
        if col in df.columns:
            s = df[col]
        else:
            s = pd.Series(pd.NA, index=index, dtype=dtype if dtype != "category" else "string")
        try:
            if _has_dtype(s, dtype):
                pass
            elif dtype.startswith("datetime64[ns, UTC]"):
                s = pd.to_datetime(s, utc=True).astype("datetime64[ns, UTC]")
            elif dtype.startswith("datetime64"):
                s = pd.to_datetime(s).astype("datetime64[ns]")
            else:
                s = s.astype(dtype)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{table} table: cannot convert to {dtype}: {exc}", column=col) from exc
        cols[col] = s
    for col in df.columns:
        if col not in schema:
            cols[col] = df[col]
    return pd.DataFrame(cols, index=index, copy=False)


def check_columns(df: pd.DataFrame, required: list[str] | tuple[str, ...], *, table: str) -> None:
    """Raise an InputError listing the missing columns *and* the existing ones."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"{table} table is missing columns {missing}.\nExisting columns: {list(df.columns)}"
        )


def validate_posts(df: pd.DataFrame) -> pd.DataFrame:
    """Check the posts table contract; return it unchanged."""
    check_columns(df, list(POSTS_SCHEMA), table="posts")
    if df["post_id"].isna().any():
        raise InputError("posts table has rows without post_id", column="post_id")
    dup = df["post_id"].duplicated()
    if dup.any():
        raise InputError(
            f"posts table has {int(dup.sum())} duplicated post_id values, e.g. {df.loc[dup, 'post_id'].iloc[0]!r}",
            column="post_id",
        )
    if str(df["published_at"].dtype) != "datetime64[ns, UTC]":
        raise InputError(f"published_at must be datetime UTC, found {df['published_at'].dtype}")
    for m in POST_METRICS:
        if str(df[m].dtype) != "Int64":
            raise InputError(f"metric must be Int64 (NA = not reported), found {df[m].dtype}", column=m)
    return df


def validate_account(df: pd.DataFrame) -> pd.DataFrame:
    """Check the account table contract; return it unchanged."""
    check_columns(df, list(ACCOUNT_SCHEMA), table="account")
    for m in ACCOUNT_METRICS:
        if str(df[m].dtype) != "Int64":
            raise InputError(f"account metric must be Int64, found {df[m].dtype}", column=m)
    return df
