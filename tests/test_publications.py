"""The publication level (issue 16): readers, linking, count models, fetchers, the stage and the example truth."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import attention, linking, publications
from workbench.dataset import load_dataset, parse_card
from workbench.errors import DatasetCardError, InputError
from workbench.fetch_publications import fetch_altmetric, fetch_openalex, resolve_links

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "example"
SHARED = REPO.parent / "shared" / "fixtures"
ALTMETRIC_DOC = SHARED / "exports" / "reference" / "altmetric_docs_counts_example.json"

# a recorded counts answer written from the Altmetric API documentation (fields as documented)
ALTMETRIC_RECORDED = {
    "title": "Bedside ultrasound for forearm fractures in children", "doi": "10.1542/peds.2021-051234",
    "journal": "Pediatrics", "altmetric_id": 99887766, "cited_by_posts_count": 41, "cited_by_tweeters_count": 37,
    "score": 23.75, "history": {"1d": 0, "2d": 0, "3d": 0, "4d": 0, "5d": 0, "6d": 0, "1w": 0.25, "1m": 2,
                                "3m": 10, "6m": 20, "1y": 23.75, "at": 23.75},
    "url": "https://publications.aap.org/pediatrics/article/148/2/e2021051234", "added_on": 1625097600,
    "published_on": 1625011200, "subjects": ["pediatrics"], "readers": {"mendeley": -1, "downloads": -1},
    "details_url": "http://www.altmetric.com/details.php?citation_id=99887766",
}
OPENALEX_PAGE = {
    "meta": {"count": 2, "db_response_time_ms": 30, "page": None, "per_page": 200, "next_cursor": None,
             "groups_count": None},
    "results": [
        {"id": "https://openalex.org/W3001", "doi": "https://doi.org/10.1542/PEDS.2021-051234",
         "title": "Bedside ultrasound for forearm fractures in children", "publication_year": 2021,
         "publication_date": "2021-06-30", "ids": {"pmid": "https://pubmed.ncbi.nlm.nih.gov/34100001"},
         "primary_location": {"landing_page_url": "https://publications.aap.org/pediatrics/article/148/2/e2021051234",
                              "source": {"display_name": "Pediatrics"}},
         "cited_by_count": 12, "counts_by_year": [{"year": 2023, "cited_by_count": 7}, {"year": 2022, "cited_by_count": 5}]},
        {"id": "https://openalex.org/W3002", "doi": None, "title": "No identifier but an OpenAlex id",
         "publication_year": 2020, "publication_date": None, "primary_location": None, "cited_by_count": 0,
         "counts_by_year": []},
    ],
    "group_by": [],
}
MEDLINE = """PMID- 34100002
OWN - NLM
TI  - Intranasal fentanyl versus oral ibuprofen for fracture pain in children: a
      randomized trial.
DP  - 2021 Mar
JT  - Academic emergency medicine
AID - 10.1111/acem.14242 [doi]
PMC - PMC8000001

PMID- 34100003
TI  - A record without a DOI.
DP  - 2020
TA  - Pediatr Emerg Care
"""


# ----------------------------------------------------------------------------------------------- readers


def test_normalize_doi_strips_resolvers_case_and_punctuation():
    got = publications.normalize_doi(["https://doi.org/10.1542/PEDS.2021-0001", "doi: 10.1001/jama.2020.1.",
                                      "http://dx.doi.org/10.1111%2Facem.1", "not a doi", None])
    assert got.tolist()[:3] == ["10.1542/peds.2021-0001", "10.1001/jama.2020.1", "10.1111/acem.1"]
    assert got.isna().tolist()[3:] == [True, True]


def test_medline_records_with_continuations_and_dates(tmp_path):
    f = tmp_path / "pubmed.nbib"
    f.write_text(MEDLINE)
    kept, q = publications.read_medline(f)
    assert kept["pmid"].tolist() == ["34100002", "34100003"]
    assert kept["title"].iloc[0].endswith("a randomized trial.")
    assert kept["doi"].iloc[0] == "10.1111/acem.14242" and kept["pmcid"].iloc[0] == "PMC8000001"
    assert kept["pub_id"].tolist() == ["10.1111/acem.14242", "pmid:34100003"]
    assert str(kept["published_date"].iloc[0].date()) == "2021-03-01" and kept["journal"].iloc[1] == "Pediatr Emerg Care"
    assert q.empty


def test_csv_with_card_column_map_quarantines_bad_rows_with_reasons(tmp_path):
    f = tmp_path / "papers.csv"
    f.write_text("Article DOI,Name,Outlet,When\n10.1234/x,A,J,2021-01-02\nnot-a-doi,B,J,2021-01-03\n10.2345/y,C,J,someday\n")
    kept, q, fmt = publications.read_publication_csv(f, column_map={"Article DOI": "doi", "Name": "title",
                                                                    "Outlet": "journal", "When": "published"})
    assert fmt == "publications_csv" and kept["doi"].tolist() == ["10.1234/x"]
    assert q["source_row"].tolist() == [3, 4]
    assert "is not a DOI" in q["reason"].iloc[0] and "is not a date" in q["reason"].iloc[1]
    with pytest.raises(InputError, match=r"no published-date column .*Found: \['Article DOI'"):
        publications.read_publication_csv(f, column_map={"Article DOI": "doi"})
    with pytest.raises(InputError, match="column 'DOI' named in the card's column map is missing"):
        publications.read_publication_csv(f, column_map={"DOI": "doi"})


def test_pubmed_csv_export_is_recognised(tmp_path):
    f = tmp_path / "csv-export.csv"
    f.write_text("PMID,Title,Authors,Citation,First Author,Journal/Book,Publication Year,Create Date,PMCID,NIHMS ID,DOI\n"
                 '34100002,"Fentanyl, a trial",Doe J,Acad Emerg Med. 2021,Doe J,Acad Emerg Med,2021,2021/03/01,'
                 "PMC8000001,,10.1111/acem.14242\n")
    kept, q, fmt = publications.read_publication_csv(f)
    assert fmt == "pubmed_csv" and kept["doi"].tolist() == ["10.1111/acem.14242"] and kept["year"].tolist() == [2021]


def test_openalex_page_and_altmetric_answers_and_not_found(tmp_path):
    (tmp_path / "oa.json").write_text(json.dumps(OPENALEX_PAGE))
    (tmp_path / "alt.json").write_text(json.dumps(ALTMETRIC_RECORDED))
    (tmp_path / "log.json").write_text(json.dumps({publications.FETCH_LOG_KEY: {}, "requests": [
        {"doi": "10.1542/peds.2021-051234", "status": 200, "fetched_at": "2024-01-01T00:00:00Z"},
        {"doi": "10.1111/acem.14242", "status": 404, "fetched_at": "2024-01-01T00:00:00Z"}]}))
    (tmp_path / "pubmed.nbib").write_text(MEDLINE)
    data = publications.read_publications([(tmp_path / "oa.json", {}), (tmp_path / "pubmed.nbib", {})],
                                          [tmp_path / "oa.json", tmp_path / "alt.json", tmp_path / "log.json"])
    pub = data.publications.set_index("pub_id")
    assert pub.loc["10.1542/peds.2021-051234", "pmid"] == "34100001"
    assert data.quarantine.empty and pub.loc["openalex:W3002", "year"] == 2020  # year only: kept, mid-year date
    att = data.attention.set_index("pub_id")
    assert att.loc["10.1542/peds.2021-051234", "altmetric_score"] == 23.75
    assert att.loc["10.1542/peds.2021-051234", "citations"] == 12
    assert att.loc["10.1111/acem.14242", "altmetric_status"] == "not_found"
    assert np.isnan(att.loc["10.1111/acem.14242", "altmetric_score"])  # not found is not zero
    assert att.loc["pmid:34100003", "altmetric_status"] == "not_fetched"
    assert data.citations_by_year["citations"].sum() == 12


def test_documented_altmetric_example_reads():
    if not ALTMETRIC_DOC.exists():
        pytest.skip("shared fixtures absent")
    body = json.loads(ALTMETRIC_DOC.read_text())
    alt = publications.read_altmetric_responses([(body, "doc.json")], [])
    assert alt["doi"].tolist() == ["10.1038/news.2011.498"] and alt["altmetric_score"].tolist() == [114.5]
    assert alt["history_1y"].tolist() == [114.5]


def test_altmetric_explorer_csv(tmp_path):
    f = tmp_path / "explorer.csv"
    f.write_text("Altmetric Attention Score,Title,Journal/Collection Title,Publication Date,DOI,News mentions,"
                 "X mentions\n1,234,T,J,2021-01-01,10.1234/X,2,\"1,030\"\n")
    f.write_text('Altmetric Attention Score,Title,Journal/Collection Title,Publication Date,DOI,News mentions,X mentions\n'
                 '"1,234",T,J,2021-01-01,10.1234/X,2,"1,030"\n')
    (tmp_path / "p.csv").write_text("doi,title,journal,published\n10.1234/x,T,J,2021-01-01\n")
    data = publications.read_publications([(tmp_path / "p.csv", {})], [f])
    row = data.attention.iloc[0]
    assert row["altmetric_score"] == 1234 and row["altmetric_status"] == "found"


def test_attention_without_publications_is_a_card_error(tmp_path):
    with pytest.raises(DatasetCardError, match="'attention' is set but 'publications' is not"):
        parse_card({"name": "x", "posts": ["a"], "attention": ["b"]}, tmp_path)
    with pytest.raises(DatasetCardError, match="unknown key 'paths' in a publications entry"):
        parse_card({"name": "x", "posts": ["a"], "publications": [{"paths": "b"}]}, tmp_path)


# ----------------------------------------------------------------------------------------------- linking

PUBS = pd.DataFrame({
    "pub_id": ["10.1542/peds.2021-051234", "10.1111/acem.14242", "pmid:999", "10.9999/landing"],
    "doi": ["10.1542/peds.2021-051234", "10.1111/acem.14242", pd.NA, "10.9999/landing"],
    "pmid": [pd.NA, "34100002", "999", pd.NA], "pmcid": [pd.NA, "PMC8000001", pd.NA, pd.NA],
    "url": [pd.NA, pd.NA, pd.NA, "https://www.journal.org/article/55/"],
    "title": ["Bedside ultrasound for forearm fractures in children",
              "Intranasal fentanyl versus oral ibuprofen for fracture pain in children",
              "Trends in emergency care for febrile infants", "Language access and discharge instructions"],
})


def test_link_every_kind_of_evidence_and_count_unresolved():
    posts = pd.DataFrame({"post_id": [str(i) for i in range(8)], "text": [
        "New paper doi:10.1542/PEDS.2021-051234.",                       # DOI in text
        "Read it https://t.co/AAAAAAAAAA #PedsEM",                        # t.co → journal URL with the DOI
        "PubMed: https://pubmed.ncbi.nlm.nih.gov/999/",                   # PMID
        "Full text at PMC8000001",                                        # PMCID
        "https://t.co/BBBBBBBBBB",                                        # t.co → landing page (no DOI)
        "https://t.co/CCCCCCCCCC",                                        # not in the cache
        "Out now: Trends in emergency care for febrile infants!",          # title
        "Nothing to see here",
    ]})
    cache = pd.DataFrame({"short_url": ["https://t.co/AAAAAAAAAA", "https://t.co/BBBBBBBBBB"],
                          "resolved_url": ["https://onlinelibrary.wiley.com/doi/full/10.1111/acem.14242",
                                           "http://journal.org/article/55?utm=x"],
                          "status": ["ok", "ok"], "resolved_at": ["", ""]})
    r = linking.link_posts(posts, PUBS, cache=cache)
    got = dict(zip(r.links["post_id"], zip(r.links["pub_id"], r.links["method"], strict=True), strict=True))
    assert got["0"] == ("10.1542/peds.2021-051234", "doi_text")
    assert got["1"] == ("10.1111/acem.14242", "doi_link")
    assert got["2"] == ("pmid:999", "pmid")
    assert got["3"] == ("10.1111/acem.14242", "pmcid")
    assert got["4"] == ("10.9999/landing", "url")
    assert got["6"][1] == "title" and "7" not in got and "5" not in got
    assert r.counts["short_links_unresolved"] == 1 and r.unresolved["short_url"].tolist() == ["https://t.co/CCCCCCCCCC"]


def test_uncertain_title_goes_to_review_and_the_confirmed_file_decides(tmp_path):
    posts = pd.DataFrame({"post_id": ["1", "2"], "text": [
        "Our study: Trends in emergency care of feverish infants (new!)",
        "=HYPERLINK(\"x\") Language access and discharge instructions"]})
    r = linking.link_posts(posts, PUBS, title_threshold=99, review_threshold=70)
    assert set(r.review["post_id"]) >= {"1"} and (r.review["score"] < 99).all()
    confirmed = tmp_path / "confirmed.csv"
    rev = r.review.assign(confirmed=np.where(r.review["post_id"] == "1", "yes", "no"))
    rev.to_csv(confirmed, index=False)
    r2 = linking.link_posts(posts, PUBS, title_threshold=99, review_threshold=70,
                            confirmed=linking.read_confirmed(confirmed))
    assert r2.review.empty
    methods = dict(zip(r2.links["post_id"], r2.links["method"], strict=True))
    assert methods["1"] == "title_confirmed"  # confirmed by the user
    assert methods.get("2") in (None, "title")  # the exact title (formula prefix and all) links by itself
    bad = tmp_path / "bad.csv"
    bad.write_text("post_id,pub_id,confirmed\n1,x,maybe\n")
    with pytest.raises(InputError, match=r"row 2, column 'confirmed': confirmed must be yes or no"):
        linking.read_confirmed(bad)
    assert publications.neutralize_formulas(pd.DataFrame({"t": ["=1+1", "ok"]}))["t"].tolist() == ["'=1+1", "ok"]


# -------------------------------------------------------------------------------------------------- models


def test_negbin_with_one_binary_term_reproduces_group_means_and_glm():
    # hand case: NB2 ML with an intercept and one 0/1 term fits each group's mean exactly, so
    # exp(b) = mean(y | 1) / mean(y | 0) whatever the dispersion
    rng = np.random.default_rng(3)
    x = np.r_[np.zeros(60), np.ones(40)]
    y = rng.negative_binomial(2, 2 / (2 + np.where(x == 1, 20.0, 8.0)))
    X = pd.DataFrame({"featured": x})
    res, _ = attention._fit(y, X)
    assert res.params["featured"] == pytest.approx(np.log(y[x == 1].mean() / y[x == 0].mean()), abs=1e-6)
    check = attention.cross_check_negbin(y.astype(float), X)
    assert check["max_abs_coef_difference"] < 1e-6


def test_too_few_papers_is_not_available_with_the_reason():
    papers = pd.DataFrame({"featured": [1, 0, 0], "altmetric_score": [3.0, 1.0, 2.0], "citations": [1, 2, 3],
                           "log_age_years": [0.0, 0.1, 0.2], "journal": "J", "year": 2020,
                           "altmetric_status": "found"})
    tables, verdicts = attention._featured_models(papers, "altmetric_score", [])
    assert not tables and verdicts[0]["available"] is False and "at least 5 of each" in verdicts[0]["reason"]


@pytest.fixture(scope="module")
def example_fit():
    from workbench.publications_stage import link_dataset_posts, load_publications
    from workbench.simulate import simulate_tables

    ds = load_dataset(EXAMPLE)
    data = load_publications(ds)
    posts = simulate_tables(seed=2024, coder_error_rate=0.01).posts  # the posts the example exports hold
    links = link_dataset_posts(ds, posts, data, title_threshold=90, review_threshold=75)
    papers = attention.build_paper_table(data.publications, data.attention, links.links, posts)
    truth = json.loads(re.findall(r"```json\n(.*?)\n```", (EXAMPLE / "TRUTH.md").read_text(), re.S)[-1])["publications"]
    return papers, attention.analyze_attention(papers, data.citations_by_year), links, truth


def test_example_recovers_the_featuring_effect_within_its_ci(example_fit):
    papers, fit, links, truth = example_fit
    assert int(papers["featured"].sum()) == truth["realised"]["n_featured"]
    t = fit.table.set_index(["outcome", "model", "term"])
    row = t.loc[("altmetric_score", "negbin", "featured")]
    assert row["effect_pct_ci_low"] < truth["altmetric_featured_pct"] < row["effect_pct_ci_high"]
    # selection: journals favoured for posting have more attention, so the unadjusted gap is larger
    assert t.loc[("altmetric_score", "negbin_unadjusted", "featured"), "effect_pct"] > row["effect_pct"]
    cit = t.loc[("citations_per_year", "poisson_paper_year", "after_first_post")]
    assert cit["effect_pct_ci_low"] < truth["citations_after_first_post_pct"] < cit["effect_pct_ci_high"]
    assert list(fit.table.columns[:12]) == ["outcome", "model", "term", "estimate", "std_error", "ci_low", "ci_high",
                                            "p_value", "std_beta", "effect_pct", "n", "r2"]
    assert links.counts["short_links_unresolved"] >= truth["realised"]["n_article_links_unresolved"]


# ------------------------------------------------------------------------------------------------- the stage


def test_stage_without_publications_writes_a_typed_not_available(tmp_path):
    from workbench.pipeline import RunPaths
    from workbench.publications_stage import run_publications

    ds = parse_card({"name": "x", "posts": ["raw/*.csv"]}, tmp_path)
    paths = RunPaths(tmp_path / "run")
    paths.figures.mkdir(parents=True)
    out = run_publications(ds, paths, pd.DataFrame({"post_id": ["1"], "text": ["hi"]}))
    assert out["status"] == "not_available" and "no publications in the card" in out["reason"]
    for p in (paths.publications, paths.publication_links, paths.publications_table, paths.publications_summary,
              paths.match_review, paths.publications_quarantine):
        assert p.exists()
    assert json.loads(paths.publications_summary.read_text())["verdicts"] == []


# ------------------------------------------------------------------------------------------------ fetchers


class FakeClient:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def get(self, url, params=None):
        self.calls.append((url, dict(params or {})))
        return self.answers(url, params or {})

    def head(self, url):
        self.calls.append((url, {}))
        return self.answers(url, {})


def test_fetch_altmetric_saves_answers_unchanged_records_404_and_caches(tmp_path):
    raw = json.dumps(ALTMETRIC_RECORDED, indent=4).encode()

    def answers(url, params):
        return (200, raw, {}) if url.endswith("10.1542/peds.2021-051234") else (404, b"Not Found", {})

    sleeps = []
    client = FakeClient(answers)
    r = fetch_altmetric(["https://doi.org/10.1542/PEDS.2021-051234", "10.1111/acem.14242"], out=tmp_path,
                        client=client, sleep=sleeps.append, now=pd.Timestamp("2024-01-01"))
    assert r.found == ["10.1542/peds.2021-051234"] and r.not_found == ["10.1111/acem.14242"] and sleeps == [1.0]
    saved = tmp_path / "altmetric_doi_10_1542_peds_2021_051234.json"
    assert saved.read_bytes() == raw
    log = json.loads((tmp_path / "altmetric_fetch_log.json").read_text())
    assert {e["doi"]: e["status"] for e in log["requests"]} == {"10.1542/peds.2021-051234": 200,
                                                                  "10.1111/acem.14242": 404}
    again = fetch_altmetric(["10.1542/peds.2021-051234", "10.1111/acem.14242"], out=tmp_path, client=client)
    assert len(again.cached) == 2 and len(client.calls) == 2
    with pytest.raises(InputError, match="is not a DOI"):
        fetch_altmetric(["nope"], out=tmp_path, client=client)


def test_fetch_openalex_follows_the_cursor_and_reuses_saved_pages(tmp_path):
    page1 = dict(OPENALEX_PAGE, meta=dict(OPENALEX_PAGE["meta"], next_cursor="abc"))
    page2 = dict(OPENALEX_PAGE, results=[])

    def answers(url, params):
        return 200, json.dumps(page1 if params["cursor"] == "*" else page2).encode(), {}

    client = FakeClient(answers)
    r = fetch_openalex(out=tmp_path, ror="https://ror.org/05dxps055", mailto="a@b.org", client=client)
    assert r.works == 2 and len(r.pages) == 2
    assert client.calls[0][1]["filter"] == "institutions.ror:05dxps055" and client.calls[0][1]["mailto"] == "a@b.org"
    assert client.calls[1][1]["cursor"] == "abc"
    assert json.loads(r.pages[0].read_text()) == page1
    r2 = fetch_openalex(out=tmp_path, ror="05dxps055", client=client)
    assert r2.from_cache == 2 and len(client.calls) == 2
    with pytest.raises(InputError, match="not an ORCID"):
        fetch_openalex(out=tmp_path, orcid="123", client=client)


def test_resolve_links_follows_redirects_into_the_cache(tmp_path):
    hops = {"https://t.co/AAAAAAAAAA": (301, {"location": "https://bit.ly/x"}),
            "https://bit.ly/x": (302, {"location": "https://doi.org/10.1234/x"}),
            "https://t.co/BBBBBBBBBB": (404, {})}
    client = FakeClient(lambda url, _: hops[url])
    r = resolve_links(["https://t.co/AAAAAAAAAA", "https://t.co/BBBBBBBBBB"], cache=tmp_path / "c.csv", client=client)
    cache = linking.read_link_cache(tmp_path / "c.csv").set_index("short_url")
    assert cache.loc["https://t.co/AAAAAAAAAA", "resolved_url"] == "https://doi.org/10.1234/x"
    assert cache.loc["https://t.co/BBBBBBBBBB", "status"] == "error: HTTP 404"
    assert (r.resolved, r.failed) == (1, 1)


def test_section_template_renders_escaped_and_without_scripts():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO / "workbench" / "templates_sections"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    tpl = env.get_template("publications.html.j2")
    pub = attention.not_available("no publications in the card")
    html = tpl.render(pub=pub, figure_src=None, max_rows=25)
    assert "Not available: no publications in the card" in html
    ok = {"title": attention.SECTION_TITLE, "status": "ok", "counts": {"papers": 2, "featured": 1, "not_featured": 1},
          "linking": {"posts_linked": 1, "posts": 3, "short_links_unresolved": 0},
          "verdicts": [{"available": True, "sentence": "<script>alert(1)</script>", "model": "negbin"}],
          "before_after": {"citations": {"available": False, "reason": "few"}}, "selection": {"note": "n"},
          "causal_note": "c", "post_features": [],
          "featured_papers": [{"title": "<b>T</b>", "doi": "10.1234/x", "journal": "J", "published_date": "2021-01-01",
                               "n_posts": 2, "altmetric_score": None, "altmetric_status": "not_found",
                               "citations": 3}]}
    html = tpl.render(pub=ok, figure_src=None, max_rows=25)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;T&lt;/b&gt;" in html
    assert "not found" in html


def test_editing_a_publication_file_reruns_only_the_publications_stage(tmp_path):
    import yaml

    from workbench import pipeline

    folder = tmp_path / "ds"
    (folder / "raw").mkdir(parents=True)
    (folder / "links").mkdir()
    (folder / "raw" / "posts.csv").write_text("a,b\n1,2\n")
    (folder / "raw" / "papers.csv").write_text("doi,title,journal,published\n10.1234/x,T,J,2021-01-01\n")
    (folder / "dataset.yml").write_text(yaml.safe_dump({"name": "demo", "posts": ["raw/posts.csv"],
                                                        "publications": ["raw/papers.csv"]}))
    calls = []

    def fake(stage, *, ds, paths, parameters):
        calls.append(stage.name)
        for attr in stage.writes:
            p = getattr(paths, attr)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(stage.name)

    pipeline.run_pipeline(folder, out=tmp_path / "run", executor=fake, echo=lambda s: None)
    calls.clear()
    (folder / "links" / "resolved_links.csv").write_text("short_url,resolved_url,status,resolved_at\n")
    pipeline.run_pipeline(folder, out=tmp_path / "run", executor=fake, echo=lambda s: None)
    assert calls == ["publications"]
    calls.clear()
    (folder / "raw" / "papers.csv").write_text("doi,title,journal,published\n10.1234/y,T,J,2021-01-01\n")
    pipeline.run_pipeline(folder, out=tmp_path / "run", executor=fake, echo=lambda s: None)
    assert calls == ["publications"]


def test_cli_fetch_publications_bad_input_exits_2(tmp_path, capsys):
    from workbench.cli import main

    assert main(["fetch", "altmetric", "--out", str(tmp_path)]) == 2
    assert "give --dois" in capsys.readouterr().err
    assert main(["fetch", "openalex", "--orcid", "nope", "--out", str(tmp_path)]) == 2
    assert "not an ORCID" in capsys.readouterr().err
    assert main(["fetch", "resolve-links", "--out", str(tmp_path)]) == 2
    assert main(["fetch", "bluesky", "--out", str(tmp_path)]) == 2  # the account is still required there


def test_score_before_a_date_comes_from_the_history_windows():
    alt = publications.read_altmetric_responses([(ALTMETRIC_RECORDED, "a.json")], [
        {"doi": ALTMETRIC_RECORDED["doi"], "status": 200, "fetched_at": "2024-01-01T00:00:00Z"}])
    alt["altmetric_fetched_at"] = pd.to_datetime(alt["altmetric_fetched_at"], utc=True)
    when = pd.Series(pd.to_datetime(["2023-11-15"], utc=True))
    # 47 days before the fetch: the shortest window reaching back that far is 3m (91 days): 23.75 − 10
    assert attention._score_at(alt, when).tolist() == [13.75]
    assert attention._score_at(alt, pd.Series(pd.to_datetime(["2022-06-01"], utc=True))).isna().all()  # > 1 year


def test_example_prior_attention_control_covers_the_truth(example_fit):
    papers, fit, links, truth = example_fit
    row = fit.table.set_index(["outcome", "model", "term"]).loc[("altmetric_score", "negbin_prior_attention",
                                                                 "featured")]
    assert row["effect_pct_ci_low"] < truth["altmetric_featured_pct"] < row["effect_pct_ci_high"]


def test_semicolon_csv_and_percent_encoded_doi_in_a_link(tmp_path):
    f = tmp_path / "pubs.csv"
    f.write_text("\ufeffDOI;Title;Journal;Published\n10.1542/peds.2021-051234;A paper;J;2021-01-01\n")
    kept, q, _ = publications.read_publication_csv(f)
    assert kept["doi"].tolist() == ["10.1542/peds.2021-051234"] and q.empty
    posts = pd.DataFrame({"post_id": ["1", "2"], "text": [None, "(see https://x.org/doi/10.1542%2Fpeds.2021-051234)"]})
    r = linking.link_posts(posts, PUBS)
    assert r.links[["post_id", "pub_id", "method"]].values.tolist() == [["2", "10.1542/peds.2021-051234", "doi_link"]]


def test_altmetric_url_links_posts_when_the_list_has_no_address(tmp_path):
    (tmp_path / "p.csv").write_text("doi,title,journal,published\n10.1542/peds.2021-051234,T,J,2021-06-30\n")
    (tmp_path / "a.json").write_text(json.dumps(ALTMETRIC_RECORDED))
    data = publications.read_publications([(tmp_path / "p.csv", {})], [tmp_path / "a.json"])
    assert data.publications["url"].tolist() == [ALTMETRIC_RECORDED["url"]]
    posts = pd.DataFrame({"post_id": ["1"], "text": [f"Read {ALTMETRIC_RECORDED['url']}/"]})
    assert linking.link_posts(posts, data.publications).links["method"].tolist() == ["url"]


def test_cli_fetch_altmetric_takes_dois_from_the_dataset(tmp_path, monkeypatch, capsys):
    from workbench import fetch_publications
    from workbench.cli import main

    seen = []

    def fake(dois, *, out, key=None, **kw):
        seen.extend(dois)
        return fetch_publications.AltmetricResult(found=list(dois))

    monkeypatch.setattr(fetch_publications, "fetch_altmetric", fake)
    assert main(["fetch", "altmetric", "--dataset", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    assert len(seen) == len(set(seen)) > 100  # every DOI of the example's papers, once
    assert "found" in capsys.readouterr().out
