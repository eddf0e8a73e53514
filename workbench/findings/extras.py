"""The issue-18 analyses, computed in the findings step: published claims beside this account's estimates
(:mod:`workbench.claims`), weekday × hour effects (:mod:`workbench.timing`), paid-campaign metrics
(:mod:`workbench.campaigns`) and the privacy review of the account's own replies (:mod:`workbench.privacy`).

:func:`compute_extras` reads what it needs from the run folder (the whole posts table: the timing and privacy
analyses need the text, reply flags and time reliability the report's slim read leaves out);
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


def _full_posts(paths: RunPaths) -> pd.DataFrame | None:
    if not paths.posts_coded.is_file():
        return None
    return pd.read_parquet(paths.posts_coded)


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

    posts = attempt("posts table", lambda: _full_posts(paths))
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
        load_claims(dataset), regression=results.regression, growth=results.growth, posts=posts, campaigns=camp,
        timezone=tz))
    out.claims = claims.to_dict() if claims is not None else None
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
