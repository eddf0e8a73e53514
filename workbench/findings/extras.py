"""The issue-18 analyses, computed in the findings step: published claims beside this account's estimates
(:mod:`workbench.claims`), weekday × hour effects (:mod:`workbench.timing`), paid-campaign metrics
(:mod:`workbench.campaigns`) and the privacy review of the account's own replies (:mod:`workbench.privacy`).

:func:`compute_extras` reads what it needs from the run folder (the posts table's :data:`EXTRAS_COLUMNS` and
the claims' outcomes: the timing and privacy analyses need the text, reply flags and time reliability the
report's slim read leaves out);
:func:`write_extras` writes ``results/claims.json``, ``results/timing.json``, ``results/campaigns.json`` and
``results/privacy_review.csv`` (for the analyst only: never shown in the report), each atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..io import write_json
from ..pipeline import RunPaths
from .runfolder import RunResults


@dataclass
class Extras:
    """The results' ``to_dict()`` forms (what the report renders) and the privacy review table."""

    claims: dict[str, Any] | None = None
    timing: dict[str, Any] | None = None
    campaigns: dict[str, Any] | None = None
    privacy_review: pd.DataFrame | None = None
    #: what could not be computed and why (the report says "not available: reason")
    reasons: dict[str, str] = field(default_factory=dict)


#: the posts_coded columns the extras read: the own-original-post and reply flags, the time and its
#: reliability (timing, claims), the reviewed replies' columns (privacy), hashtags and the default outcomes
EXTRAS_COLUMNS = frozenset({
    "post_id", "platform", "account", "published_at", "permalink", "text", "is_reply", "is_repost", "is_own_post",
    "post_type", "published_time_reliable", "n_hashtags", "impressions", "engagements"})
#: the first columns of the file are read as well: a missing outcome's error names them (timing.prepare_posts)
_NAMED_IN_ERRORS = 12


def _claim_outcomes(claims: list[dict] | Exception) -> set[str] | None:
    """The outcome columns the claims compare (a card's claim may name any), None when the claims cannot be
    read (the claims step then reports why; every column is read, as before)."""
    if isinstance(claims, Exception):
        return None
    return {str(c.get("outcome", "engagements")) for c in claims}


def _loaded(claims: list[dict] | Exception) -> list[dict]:
    """The claims as :func:`~workbench.claims.load_claims` gave them, or its error raised again."""
    if isinstance(claims, Exception):
        raise claims
    return claims


def _full_posts(paths: RunPaths, outcomes: set[str] | None = None,
                posts: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """posts_coded with the columns the extras use (all of them when ``outcomes`` is None), text columns as Arrow
    strings: the same values and results as reading every column, in a quarter of the time at 1M posts.

    ``posts``: the columns the findings already read from the same file (``RunResults.posts``); they are reused,
    and only the others are read (at 1M posts the texts, links and ids are not read and held a second time)."""
    from ..results import read_parquet

    if not paths.posts_coded.is_file():
        return None
    if outcomes is None:
        return read_parquet(paths.posts_coded)
    import pyarrow.parquet as pq

    names = pq.read_schema(paths.posts_coded).names
    keep = [c for i, c in enumerate(names) if i < _NAMED_IN_ERRORS or c in EXTRAS_COLUMNS or c in outcomes]
    if posts is None:
        return read_parquet(paths.posts_coded, columns=keep)
    rest = [c for c in keep if c not in posts.columns]
    extra = read_parquet(paths.posts_coded, columns=rest) if rest else pd.DataFrame(index=pd.RangeIndex(len(posts)))
    if len(extra) != len(posts) or not isinstance(posts.index, pd.RangeIndex) or posts.index.start != 0:
        return read_parquet(paths.posts_coded, columns=keep)  # not the same table: read it whole, as before
    # the columns themselves, not copies (the extras only read them): at 1M posts +0.26 GB with pd.concat
    return pd.DataFrame({c: posts[c] if c in posts.columns else extra[c] for c in keep}, copy=False)


def compute_extras(results: RunResults, dataset=None, *, problems: dict[str, str] | None = None) -> Extras:
    """Claims, timing, campaigns and the privacy review for a run folder (nothing is written).

    A part that fails is recorded in ``problems`` (shown in the report's data appendix) and its section says
    why it is not available; the other parts are still computed.
    """
    from ..campaigns import summarize_campaigns
    from ..claims import compare_claims, load_claims
    from ..privacy import flag_privacy_risk
    from ..timing import analyze_timing

    problems = problems if problems is not None else {}
    out = Extras()
    paths = results.paths
    tz = dataset.timezone if dataset is not None else "UTC"

    def attempt(what: str, fn):
        try:
            return fn()
        except Exception as exc:  # one analysis failing must not take the report with it
            message = f"{type(exc).__name__}: {exc}"
            problems[f"({what})"] = message
            out.reasons[what] = f"it could not be computed ({message})"
            return None

    try:  # read once (the package's claims file is YAML: ≈ 10 ms a parse); its error is the claims step's
        claims_read: list[dict] | Exception = load_claims(dataset)
    except Exception as exc:  # noqa: BLE001 - reported by the claims attempt below, as when it read them itself
        claims_read = exc
    outcomes = _claim_outcomes(claims_read)
    from ..io import give_back_memory

    give_back_memory()  # what the findings before freed goes back first: the extras' peak is the stage's
    posts = attempt("posts table", lambda: _full_posts(paths, outcomes, results.posts))
    if posts is None and "posts table" not in out.reasons:
        out.reasons["posts table"] = f"{paths.rel(paths.posts_coded)} was not found in the run folder"
    camp_table = attempt("campaigns table",
                         lambda: pd.read_parquet(paths.campaigns) if paths.campaigns.is_file() else None)
    camp = attempt("paid results", lambda: summarize_campaigns(camp_table))
    if camp is not None:
        out.campaigns = camp.to_dict()
    if posts is not None:
        timing = attempt("timing", lambda: analyze_timing(posts, outcome="impressions", timezone=tz))
        out.timing = timing.to_dict() if timing is not None else None
        out.privacy_review = attempt("privacy review", lambda: flag_privacy_risk(posts))
    claims = attempt("claims", lambda: compare_claims(
        _loaded(claims_read), regression=results.regression, growth=results.growth, posts=posts, campaigns=camp,
        timezone=tz, models=getattr(results, "models", None)))
    out.claims = claims.to_dict() if claims is not None else None
    posts = None  # the largest table the report step reads: its memory goes back before the report is built
    from ..pipeline import release_memory

    release_memory()
    return out


def write_extras(extras: Extras, paths: RunPaths) -> None:
    """Write claims.json, timing.json, campaigns.json and privacy_review.csv (what was computed), atomically.

    A result that could not be computed leaves no stale file from an earlier run behind.
    """
    from ..privacy import write_privacy_review

    for data, path in ((extras.claims, paths.claims), (extras.timing, paths.timing),
                       (extras.campaigns, paths.campaigns_summary)):
        if data is not None:
            write_json(path, data)
        else:
            path.unlink(missing_ok=True)
    if extras.privacy_review is not None:
        write_privacy_review(extras.privacy_review, paths.privacy_review)
    else:
        paths.privacy_review.unlink(missing_ok=True)
