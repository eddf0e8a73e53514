"""The publications stage (notebook 06): read, link, fit, and write its run-folder files.

Writes, always (a dataset without ``publications:`` gets the typed "not available" result, not a failure):
``data/publications.parquet``, ``data/publications_quarantine.csv`` (``source_file, source_row, reason``, then
the row's raw values), ``data/publication_links.parquet``, ``results/publications.csv`` (regression.csv
columns), ``results/publications.json`` and ``results/publication_matches_review.csv``.
"""

from __future__ import annotations

import pandas as pd

from . import io
from .attention import (
    FIGURE_NAME,
    TABLE_COLUMNS,
    analyze_attention,
    build_paper_table,
    not_available,
    plot_attention,
    summarize_publications,
)
from .dataset import Dataset
from .linking import LINK_COLUMNS, REVIEW_COLUMNS, LinkResult, link_posts, read_confirmed, read_link_cache
from .publications import (
    PUBLICATION_COLUMNS,
    PublicationData,
    _empty_publications,
    neutralize_formulas,
    read_publications,
)


def load_publications(ds: Dataset) -> PublicationData | None:
    """The dataset's publications and attention (None when the card has no ``publications:``)."""
    if not ds.publications:
        return None
    return read_publications(ds.publication_files(), ds.attention_files(), relative=ds.relative)


def link_dataset_posts(ds: Dataset, posts: pd.DataFrame, data: PublicationData, *, title_threshold: float,
                       review_threshold: float) -> LinkResult:
    """Link the posts to the dataset's papers, with its link cache and confirmed matches."""
    files = ds.link_files()
    return link_posts(posts, data.publications, cache=read_link_cache(files["cache"]),
                      confirmed=read_confirmed(files["confirmed"]), title_threshold=title_threshold,
                      review_threshold=review_threshold)


def save_publications(paths, *, data: PublicationData | None, links: LinkResult | None = None,
                      papers: pd.DataFrame | None = None, fit=None, reason: str = "") -> dict:
    """Write every product of the stage; return the summary written to ``results/publications.json``."""
    q = data.quarantine if data is not None else pd.DataFrame(columns=["source_file", "source_row", "reason"])
    io.write_csv(paths.publications_quarantine, neutralize_formulas(q))
    if data is None or fit is None:
        io.write_parquet(paths.publications, data.publications if data is not None else _empty_publications())
        io.write_parquet(paths.publication_links, pd.DataFrame({c: pd.Series(dtype="string") for c in LINK_COLUMNS}))
        io.write_csv(paths.publications_table, pd.DataFrame(columns=list(TABLE_COLUMNS)))
        io.write_csv(paths.match_review, pd.DataFrame(columns=list(REVIEW_COLUMNS)))
        summary = not_available(reason or "no publications in the card (add publications: and attention: to "
                                          "dataset.yml; see README 'Publications and attention')")
        io.write_json(paths.publications_summary, summary)
        return summary
    io.write_parquet(paths.publications, data.publications[list(PUBLICATION_COLUMNS)])
    io.write_parquet(paths.publication_links, links.links)
    io.write_csv(paths.publications_table, fit.table)
    io.write_csv(paths.match_review, neutralize_formulas(links.review))
    figure = None
    if papers["altmetric_score"].notna().any():
        from .plots import figure_png

        io.write_bytes(paths.figures / FIGURE_NAME, figure_png(plot_attention(papers).figure))
        figure = f"figures/{FIGURE_NAME}"
    counts = {"files": data.files, "quarantined": len(data.quarantine),
              "quarantine_reasons": data.quarantine["reason"].value_counts().head(10).to_dict()
              if len(data.quarantine) else {}, "read_warnings": data.warnings}
    summary = summarize_publications(fit, papers, links, data_counts=counts, figure=figure)
    io.write_json(paths.publications_summary, summary)
    return summary


def run_publications(ds: Dataset, paths, posts: pd.DataFrame, *, title_threshold: float = 90.0,
                     review_threshold: float = 75.0) -> dict:
    """The whole stage in one call (what notebook 06 does step by step)."""
    data = load_publications(ds)
    if data is None:
        return save_publications(paths, data=None)
    if data.publications.empty:
        return save_publications(paths, data=data, reason="the publication lists hold no usable publication")
    links = link_dataset_posts(ds, posts, data, title_threshold=title_threshold, review_threshold=review_threshold)
    papers = build_paper_table(data.publications, data.attention, links.links, posts)
    fit = analyze_attention(papers, data.citations_by_year)
    return save_publications(paths, data=data, links=links, papers=papers, fit=fit)
