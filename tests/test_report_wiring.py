"""The finished analyses as the report shows them: each section says what its result file says, and a missing
input gives the "not available: reason" form."""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import pytest

from workbench import attention, findings, report

sys.path.insert(0, str(Path(__file__).parent))
from test_report import TODAY, make_dataset, section, write_run  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(report.render, "_figure_png", lambda draw, *, figsize: b"\x89PNG\r\n\x1a\nstub")


def publications_ok() -> dict:
    return {"schema_version": 1, "title": attention.SECTION_TITLE, "status": "ok", "reason": None,
            "counts": {"papers": 40, "featured": 12, "not_featured": 28},
            "linking": {"posts_linked": 15, "posts": 60, "short_links_unresolved": 2,
                        "unresolved_links": [{"short_url": "https://t.co/x"}]},
            "verdicts": [{"outcome": "altmetric_score", "model": "negbin", "available": True,
                          "sentence": "Papers the account posted about had 85% more attention <b>"},
                         {"outcome": "citations", "model": "negbin", "available": False,
                          "reason": "only 3 papers have citation counts"}],
            "before_after": {"altmetric": {"available": False, "reason": "no dated attention history"}},
            "selection": {"note": "Posted papers are chosen.", "sentence": "Without journal and year controls …"},
            "causal_note": "This is an association.", "post_features": [],
            "featured_papers": [{"title": f"Paper {i}", "doi": f"10.1/{i}", "journal": "J", "n_posts": 1,
                                 "published_date": "2021-01-01", "altmetric_score": 3.0 + i,
                                 "altmetric_status": "ok", "citations": None} for i in range(30)],
            "figure": "figures/publications_attention.png"}


def test_publications_section_says_what_publications_json_says(tmp_path, quick):
    run = write_run(tmp_path)
    (run / "results" / "publications.json").write_text(json.dumps(publications_ok()))
    (run / "results" / "figures").mkdir(parents=True, exist_ok=True)
    (run / "results" / "figures" / "publications_attention.png").write_bytes(PNG)
    report.render_report(run, dataset=make_dataset(run), today=TODAY)
    raw = (run / "report.html").read_text(encoding="utf-8")
    sec = html.unescape(section(raw, "publications"))
    assert "Did posting raise the research&#39;s attention?" in raw or "Did posting raise the research's" in raw
    assert "40 papers: 12 the account posted about, 28 it did not." in sec
    assert "15 of 60 posts link to a paper; 2 short link(s) could not be followed." in sec
    assert "Papers the account posted about had 85% more attention <b> (negbin)" in sec
    assert "<b> (negbin)" not in section(raw, "publications")  # escaped in the page
    assert "citations, negbin: not available — only 3 papers have citation counts" in sec
    assert "Before vs after the first post (altmetric): not available — no dated attention history" in sec
    assert "Paper 24" in sec and "Paper 25" not in sec and "… and 5 more papers" in sec
    import base64
    assert base64.b64encode(PNG).decode() in raw  # the stage's figure, inline
    found = json.loads((run / "results" / "findings.json").read_text(encoding="utf-8"))
    assert found["publications"]["counts"]["featured"] == 12
    assert "unresolved_links" not in found["publications"]["linking"]
    # the section comes after growth and before the appendices
    ids = [s.id for s in report.SECTIONS]
    assert ids.index("growth") < ids.index("publications") < ids.index("data-appendix")


def test_publications_not_available_gives_the_reason(tmp_path, quick):
    run = write_run(tmp_path)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert "Not available: the dataset card has no publications" in section(page, "publications")
    (run / "results" / "publications.json").write_text(json.dumps(attention.not_available(
        "the publication lists hold no usable publication")))
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert section(page, "publications").count("Not available: the publication lists hold no usable publication") == 1
    (run / "results" / "publications.json").write_text("{broken")
    found = findings.compute_findings(run, make_dataset(run), today=TODAY)
    assert found.publications["status"] == "not_available"
    assert "results/publications.json could not be read" in found.publications["reason"]


def test_goals_are_judged_at_the_end_of_the_data_by_one_rule(tmp_path, quick):
    import dataclasses
    import datetime as dt

    from workbench import goals as goals_mod
    from workbench.dataset import Goal

    run = write_run(tmp_path)
    ds = dataclasses.replace(make_dataset(run), goals=(Goal("followers", 5000, dt.date(2023, 6, 30), "behind"),))
    early = findings.compute_findings(run, ds, today=dt.date(2023, 1, 2))
    late = findings.compute_findings(run, ds, today=dt.date(2030, 1, 1))
    # today's date decides nothing: the same rows as workbench.goals.assess_goals at the end of the data
    pd_rows = goals_mod.assess_goals(ds.goals, account=early.results.account, growth=early.results.growth,
                                     since=ds.interventions[-1].date)
    for f in (early, late):
        assert f.goals["status"].tolist() == pd_rows["status"].tolist() == ["not on track"]
        assert f.goals["as_of"].tolist() == pd_rows["as_of"].tolist()
    page = html.unescape(report.build_report_html(run, dataset=ds, today=dt.date(2030, 1, 1)))
    block = section(page, "goals")
    assert f"not on track (as of {early.goals['as_of'].iloc[0]:%-d %b %Y})" in block
    assert "judged at the end of the data, never at today's date" in block
    assert "deadline passed" not in page
