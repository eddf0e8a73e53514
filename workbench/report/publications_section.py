"""The report section "Did posting raise the research's attention?": renders findings' ``publications`` record
(``results/publications.json`` of the publications stage). Every sentence is the stage's own, written from the
attention model it names; this module only lays them out and inlines the stage's figure."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..attention import FIGURE_NAME
from . import blocks
from .blocks import Block, Figure, Note, P

TITLE = "Did posting raise the research's attention?"
MAX_PAPERS = 25


def _list(x: Any) -> list[Mapping[str, Any]]:
    return [v for v in x if isinstance(v, Mapping)] if isinstance(x, list) else []


def _figure(ctx) -> Block | None:
    path = ctx.paths.figures / FIGURE_NAME
    if not path.is_file():
        return None
    png = path.read_bytes()
    return Figure(base64.b64encode(png).decode("ascii"),
                  "Altmetric Attention Score of papers the account posted about and of papers it did not, by journal",
                  "Attention of papers posted about and not (publications stage)")


def publications(ctx) -> list[Block | None]:
    pub = ctx.f.publications
    if not isinstance(pub, Mapping):
        return [Note("Not available: the publications summary could not be computed (see the data appendix).")]
    if pub.get("status") != "ok":
        return [Note(f"Not available: {pub.get('reason') or 'no reason given'}")]
    counts = pub.get("counts") if isinstance(pub.get("counts"), Mapping) else {}
    linking = pub.get("linking") if isinstance(pub.get("linking"), Mapping) else {}
    out: list[Block | None] = []
    if counts:
        sentence = (f"{counts.get('papers', 0)} papers: {counts.get('featured', 0)} the account posted about, "
                    f"{counts.get('not_featured', 0)} it did not.")
        if linking:
            sentence += f" {linking.get('posts_linked', 0)} of {linking.get('posts', 0)} posts link to a paper"
            if linking.get("short_links_unresolved"):
                sentence += f"; {linking['short_links_unresolved']} short link(s) could not be followed"
            sentence += "."
        out.append(P(sentence))
    items: list[str] = []
    for v in _list(pub.get("verdicts")):
        if v.get("available"):
            items.append(f"{v.get('sentence')} ({v.get('model')})")
        else:
            items.append(f"{v.get('outcome')}, {v.get('model')}: not available — {v.get('reason')}")
    before_after = pub.get("before_after") if isinstance(pub.get("before_after"), Mapping) else {}
    for key, ba in before_after.items():
        if isinstance(ba, Mapping):
            items.append(ba.get("sentence") if ba.get("available") else
                         f"Before vs after the first post ({key}): not available — {ba.get('reason')}")
    out.append(blocks.ul(items))
    selection = pub.get("selection") if isinstance(pub.get("selection"), Mapping) else {}
    if selection.get("sentence"):
        out.append(P(str(selection["sentence"])))
    note = " ".join(str(x) for x in (selection.get("note") or pub.get("selection_note"), pub.get("causal_note")) if x)
    if note:
        out.append(Note(note))
    features = _list(pub.get("post_features"))
    if features:
        out.append(blocks.Heading(3, "Which posts go with more attention per paper"))
        out.append(blocks.ul(f.get("sentence") if f.get("available") else
                             f"{f.get('label', 'Post features')}: not available — {f.get('reason')}" for f in features))
    out.append(_figure(ctx))
    papers = _list(pub.get("featured_papers"))
    if papers:
        rows = []
        for p in papers[:MAX_PAPERS]:
            score = p.get("altmetric_score")
            score_text = (f"{score:.1f}" if isinstance(score, int | float) else
                          "not found" if p.get("altmetric_status") == "not_found" else "")
            title = str(p.get("title") or "") + (f" (doi:{p['doi']})" if p.get("doi") else "")
            rows.append((title, p.get("journal") or "", p.get("published_date") or "", str(p.get("n_posts", "")),
                         score_text, "" if p.get("citations") is None else str(p.get("citations"))))
        out.append(blocks.table("Papers the account posted about (most posts first)",
                                ["Paper", "Journal", "Published", "Posts", "Altmetric score", "Citations"], rows,
                                numeric=(3, 4, 5)))
        if len(papers) > MAX_PAPERS:
            out.append(Note(f"… and {len(papers) - MAX_PAPERS} more papers (results/publications.json)."))
    return out
