"""The finished analyses as the report shows them: each section says what its result file says, and a missing
input gives the "not available: reason" form."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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


# ---------------------------------------------------------------------------------------------------------------
# Growth (issue 12): growth.json schema 2 as compare_growth writes it (values from the example run)
# ---------------------------------------------------------------------------------------------------------------

POSTS_ADJUSTED = {
    "available": True, "outcome": "impressions", "intervention_date": "2022-01-01", "reason": None,
    "estimate": 0.937308, "ci": [0.795555, 1.104319], "p_value": 0.431,
    "estimand": "ratio of geometric means of (1 + impressions) after vs before the date, holding audience size "
                "(log followers at the post), the linear time trend constant",
    "method": "OLS of log1p(impressions) on after + years_since_date + log_followers (40 posts, 23 months); "
              "standard errors clustered by calendar month, t(22)",
    "terms": ["Intercept", "after", "years_since_date", "log_followers"], "terms_missing": {},
    "cov_type": "cluster-robust by calendar month (23 months), t(22)", "n_posts": 40, "n_months": 23,
    "descriptive": {"label": "descriptive, unadjusted: not an estimate of the intervention's effect",
                    "median_before": 728.0, "median_after": 1134.0, "median_ratio": 1.5577,
                    "median_ratio_ci": [1.3504, 1.8035],
                    "median_ratio_ci_method": "percentile interval of 999 resamples of whole calendar months",
                    "followers_median_ratio": 1.5395},
}
MONTHLY_ITS = {
    "available": True, "metric": "impressions", "reason": None, "level_change": 1.3613,
    "level_change_ci": [1.0367, 1.7875], "level_change_p": 0.030, "trend_change_per_year": 0.8736,
    "trend_change_per_year_ci": [0.7040, 1.0840], "trend_change_p": 0.195, "n_months": 24,
    "n_months_before": 12, "n_months_after": 12,
    "method": "interrupted time series: OLS of log monthly impressions on months since the date, after, and their "
              "interaction; Newey–West standard errors with 3 lag(s), fixed-b t(10.6)",
}
GROWTH_MODEL = ("WLS of the 45 increments on the days spent in each period (weights 1/days: increments of a counting "
                "process), Newey–West standard errors with 3 lag(s), calibrated by a parametric bootstrap of AR(1) "
                "errors (φ = -0.11)")


def growth_v2(**over):
    from test_report import make_growth

    g = make_growth()
    g.update(schema_version=2, basis="level", basis_text="the follower count as reported", level_known=True,
             status="judged", judgeable=True, not_judged_reason=None, posts_adjusted=POSTS_ADJUSTED,
             monthly_its=MONTHLY_ITS, growth_model=GROWTH_MODEL, calibration="parametric bootstrap: 999 series",
             placebo={"n": 18, "rank_p": 0.0526, "smallest_attainable_p": 1 / 19,
                      "summary": "The real change's calibrated p-value is smaller than 18 of their 18 p-values "
                                 "(rank p = 0.053)."})
    g.update(over)
    return g


def test_summary_leads_with_the_adjusted_post_change(tmp_path, quick):
    run = write_run(tmp_path, growth=growth_v2())
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    summary = section(page, "summary")
    lead = ("After Designer <joined>, adjusted for the trend and audience size (log followers at the post), the "
            "typical post received 0.94× the impressions of before (95% CI 0.8× to 1.1×, clustered by calendar "
            "month over 23 months and 40 posts; p = 0.43): the ratio of geometric means of (1 + impressions)")
    assert lead in summary
    descriptive = ("Descriptive only, not adjusted for anything: the median post was seen 1.56× as often as before "
                   "(728 → 1,134 impressions; 95% CI 1.35× to 1.8× from resampling whole months), while the median "
                   "follower count at the post grew 1.54×.")
    assert descriptive in summary and summary.index(lead) < summary.index(descriptive)
    found = findings.compute_findings(run, make_dataset(run), today=TODAY).to_dict()
    comp = found["growth"]["comparisons"][0]
    assert comp["posts_adjusted"]["estimate"] == POSTS_ADJUSTED["estimate"]
    assert comp["monthly_its"]["level_change"] == MONTHLY_ITS["level_change"]
    assert comp["placebo"]["smallest_attainable_p"] == pytest.approx(1 / 19)
    growth = section(page, "growth")
    assert "Monthly impressions as an interrupted time series (the rigorous monthly comparison" in growth
    assert "level changed by a factor 1.36× beyond the earlier trend (95% CI 1.04× to 1.79×; p = 0.03)" in growth
    assert "Published form (months treated as independent, the earlier trend ignored): monthly impressions" in growth
    assert "Rate per day, increments model (95% CI)" in growth
    methods = section(page, "methods-appendix")
    assert f"the calibrated increments model — {GROWTH_MODEL}" in methods
    assert "Published form only (shown for comparison, not judged on)" in methods
    assert f"smallest attainable rank p is {report.format_number(1 / 19)} (1 ÷ (placebos + 1))" in methods
    assert POSTS_ADJUSTED["method"] in methods


def test_adjusted_change_not_available_says_why_and_keeps_the_descriptive_label(tmp_path, quick):
    pa = {**POSTS_ADJUSTED, "available": False, "estimate": None, "ci": [None, None], "p_value": None,
          "reason": "posts in 2 month(s) before and 12 after the date; at least 3 on each side are needed"}
    run = write_run(tmp_path, growth=growth_v2(posts_adjusted=pa))
    summary = section(html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY)), "summary")
    assert ("After Designer <joined>, the change in impressions adjusted for audience size and trend is not "
            "available: posts in 2 month(s) before and 12 after the date") in summary
    assert "Descriptive only, not adjusted for anything: the median post was seen" in summary
    assert "typical post received" not in summary


def test_an_unjudgeable_comparison_prints_its_reason_not_a_p_value(tmp_path, quick):
    reason = ("the after period has 2 increments; at least 4 are needed on each side (add monthly counts for "
              "the months after the date)")
    g = growth_v2(judgeable=False, status="not_judgeable", not_judged_reason=reason)
    g["slope_change"] = {**g["slope_change"], "p_value": None, "ci": [None, None]}
    g["slope_ratio_ci"] = [None, None]
    run = write_run(tmp_path, growth=g)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    verdict = f"Whether growth in followers changed after Designer <joined> cannot be judged: {reason}."
    assert verdict in section(page, "summary") and verdict in section(page, "growth")
    assert f"not judged: {reason}" in section(page, "growth")
    found = findings.compute_findings(run, make_dataset(run), today=TODAY).to_dict()
    assert found["growth"]["comparisons"][0]["verdict"] == "not judged"
    assert found["growth"]["comparisons"][0]["not_judged_reason"] == reason


def test_after_data_and_unknown_follower_level_are_said_plainly(tmp_path, quick):
    g = growth_v2(status="after_data", judgeable=False,
                  not_judged_reason="the date 2030-01-01 is after your data (1 Jan 2021 – 30 Dec 2022)")
    run = write_run(tmp_path, growth=g)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert ("Growth in followers was not compared after Designer <joined>: the date is after your data (the date "
            "2030-01-01 is after your data") in section(page, "growth")
    g = growth_v2(basis="net_flows", level_known=False, basis_text="new follows and unfollows per day, no level")
    run2 = write_run(tmp_path / "flows", growth=g)
    page = html.unescape(report.build_report_html(run2, dataset=make_dataset(run2), today=TODAY))
    growth = section(page, "growth")
    assert "Growth in new follows per day was 2.0× faster after Designer <joined>" in growth
    assert "The follower level is unknown (new follows and unfollows per day, no level)" in growth
    key = section(page, "key-figures")
    assert "New follows per day (follower level unknown)" in key and "Followers gained per day" not in key


def test_no_follower_data_says_what_input_would_make_growth_possible(tmp_path, quick):
    """Issue 10.1: per-tweet + daily X exports carry no follower count; the report says which file, which columns
    and an example row, and the key figures do not print a row of n/a per follower figure."""
    needed = {"file": "an account file listed under `account:` with the follower count by date",
              "columns": "date and followers", "example_row": "date,followers\n2024-03-01,1520"}
    g = growth_v2(periods=[], series=[], comparisons=[], available=False, basis="none", level_known=False,
                  status="no_data", judgeable=False, not_judged_reason="there is no growth data to compare",
                  not_available={"reason": "no follower data", "needed": needed})
    from test_report import make_account

    acc = make_account()
    acc["followers"] = pd.array([pd.NA] * len(acc), dtype="Int64")  # daily exports: no follower count
    run = write_run(tmp_path, growth=g, account=acc)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    growth = section(page, "growth")
    assert "Growth in followers could not be compared: no follower data." in growth
    assert ("What would make it possible: an account file listed under `account:` with the follower count by date, "
            "with the columns date and followers (for example: date,followers / 2024-03-01,1520).") in growth
    key = section(page, "key-figures")
    assert "not available (see the note below)" in key and "Followers at start" not in key
    # the methods appendix describes no growth method as if one had been used (found on a new user's card)
    methods = section(page, "methods-appendix")
    assert "Growth comparison: not computed in this run (no follower data)" in methods
    for never in ("a straight line is fitted to the follower series", "The slope ratio's 95% CI", "TOST",
                  "Counterfactual:"):
        assert never not in methods, never


def test_posts_left_out_of_one_model_are_not_listed_as_a_predictor():
    """A dropped record without a term (2 posts with 0 impressions left out of the engagement-rate model) was
    printed as 'Predictors left out of the models: …; none (engagements: 2 of 121 posts …)'."""
    from workbench import findings
    from workbench.report.wording import describe_terms

    models = {"dropped": [
        {"code": "entirely_na", "term": "has_media", "role": "predictor", "reason": "entirely NA"},
        {"code": "no_exposure", "platform": "x", "outcome": "engagements", "model": "negbin_rate", "term": None,
         "n": 2, "message": "engagements: 2 of 121 posts left out of the engagement-rate model"}]}
    dropped = findings.dropped_terms(models)
    assert [d["term"] for d in dropped] == ["has_media"]
    said = describe_terms({"predictors": ["has_url", "has_emoji"], "controls": ["year"]}, dropped,
                          outcome="engagements")
    assert said[-1] == "Predictors left out of the models: media (entirely NA)." and "none" not in " ".join(said)


# ---------------------------------------------------------------------------------------------------------------
# Models (issues 10/12/19): models.json schema 2 and regression.csv's across-outcomes Holm
# ---------------------------------------------------------------------------------------------------------------


def test_held_up_count_uses_the_across_outcomes_family(tmp_path, quick):
    from test_report import MODELS, make_regression

    reg = make_regression(poll_p_holm=0.002)
    # within each outcome the poll holds up for both outcomes (p_holm 0.002); across all 6 estimates only the
    # impressions one does
    reg["p_holm_across_outcomes"] = np.where(reg["model"] == "ols_log",
                                             np.where((reg["term"] == "has_poll") & (reg["outcome"] == "impressions"),
                                                      0.01, 0.2), np.nan)
    run = write_run(tmp_path, regression=reg, models=MODELS)
    found = findings.compute_findings(run, make_dataset(run), today=TODAY)
    assert found.held_up["family"] == "Holm across all 6 feature–outcome estimates of ols_log"
    assert found.held_up["n_held_up"] == 1 and found.held_up["n_estimates"] == 6
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert ("1 of 6 feature–outcome estimates held up after correction for multiple testing (Holm across all 6 "
            "feature–outcome estimates of ols_log)") in section(page, "summary")
    assert "Holm-adjusted (across outcomes) p = 0.01" in section(page, "summary")
    # nothing holds up across outcomes while the per-outcome tables call the poll clear: the summary says both
    reg["p_holm_across_outcomes"] = np.where(reg["model"] == "ols_log", 0.2, np.nan)
    run3 = write_run(tmp_path / "none", regression=reg, models=MODELS)
    page = html.unescape(report.build_report_html(run3, dataset=make_dataset(run3), today=TODAY))
    summary = section(page, "summary")
    assert "None of the 6 feature–outcome estimates held up after correction for multiple testing (Holm across" in summary
    assert "judged within each outcome, as the tables below are, 2 did: poll (impressions) and poll (engagements)" in summary
    assert "No post feature had a clear effect" not in summary
    # without the column: the per-outcome family, named as such
    run2 = write_run(tmp_path / "old", regression=make_regression(), models=MODELS)
    old = findings.compute_findings(run2, make_dataset(run2), today=TODAY)
    assert old.held_up["family"] == "Holm within each outcome's predictors"


def models_v2():
    from test_report import MODELS

    return {**MODELS, "schema_version": 2, "platforms": ["x", "bluesky"],
            "estimands": {"ols_log": {"model": "ols_log", "title": "OLS on log(1 + count), HC3 errors",
                                      "estimand": "ratio of geometric means of (1 + outcome)"},
                          "negbin": {"model": "negbin", "title": "negative binomial count model (NB2), HC0 errors",
                                     "estimand": "ratio of expected counts"}},
            "estimand_sentences": {"ols_log": {
                "impressions": "The % is the difference in the geometric mean of (1 + impressions) — roughly the "
                               "typical post, not the average."}},
            "fitted_terms": [{"platform": "bluesky", "outcome": "engagements", "model": "negbin", "n": 40,
                              "fit_method": "poisson_qmle", "fallback_reason": "NB2 did not converge",
                              "predictors": ["has_poll"], "controls": []}],
            "dropped": [{"code": "too_few_posts", "outcome": "impressions", "term": "has_graphic", "n": 4,
                         "minimum": 10, "message": "impressions: only 4 of 40 posts with 'has_graphic'"}],
            "diagnostics": {**MODELS.get("diagnostics", {}), "impressions": {
                **MODELS.get("diagnostics", {}).get("impressions", {}),
                "dispersion": {"variance_to_mean": 388.9, "negbin_alpha": 0.222, "negbin_alpha_ci": [0.197, 0.247]},
                "overdispersion": {"negbin": {"pearson_dispersion": 402.5, "pearson_df": 30}}}},
            "reach_by_type": [{"platform": "x", "type": "image", "n": 25, "share": 0.625, "median_impressions": 900.0,
                               "median_engagements": 12.0},
                              {"platform": "bluesky", "type": "text", "n": 15, "share": 0.375,
                               "median_impressions": 300.0, "median_engagements": None}]}


def test_what_works_words_the_models_actually_fitted(tmp_path, quick):
    run = write_run(tmp_path, models=models_v2())
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    ww = section(page, "what-works")
    assert ("What the % means (OLS on log(1 + count), HC3 errors): The % is the difference in the geometric mean of "
            "(1 + impressions) — roughly the typical post, not the average.") in ww
    assert ("The count model negbin for engagements on bluesky was not fitted by maximum likelihood (nb2_ml) but by "
            "poisson_qmle: NB2 did not converge.") in ww
    assert "Cannot tell for graphic: only 4 posts in a group (at least 10 are needed in each group)." in ww
    assert ("Overdispersion of impressions: variance ÷ mean 389 (1 for Poisson counts); negative binomial α 0.22 "
            "(95% CI 0.20 to 0.25); Pearson dispersion of the Poisson fit 402.") in ww
    assert "per type (descriptive, not adjusted for anything; from models.json reach_by_type" in ww
    assert "<td>Bluesky</td><td>text</td>" in ww.replace(' class="num"', "")
    found = json.loads(json.dumps(findings.compute_findings(run, make_dataset(run), today=TODAY).to_dict(),
                                  default=str))
    assert found["model_notes"]["fallbacks"][0]["fit_method"] == "poisson_qmle"
    assert found["model_notes"]["dispersion"]["impressions"]["pearson_dispersion"] == 402.5


def test_several_platforms_are_named_row_by_row(tmp_path, quick):
    from test_report import make_regression

    reg = pd.concat([make_regression().assign(platform="x"), make_regression(poll_pct=-10).assign(platform="bluesky")])
    run = write_run(tmp_path, regression=reg, models=models_v2())
    ww = html.unescape(section(report.build_report_html(run, dataset=make_dataset(run), today=TODAY), "what-works"))
    ww = ww.replace(' class="num"', "").replace("−", "-")
    # one sub-heading per platform, each with its own model's effects under it (issue 19.2); no pooled model
    bluesky, x = ww.index("<h4>Bluesky (its own model"), ww.index("<h4>X (its own model")
    assert bluesky < x
    assert "<td>Poll</td><td>-10%</td>" in ww[bluesky:x] and "+32%" not in ww[bluesky:x]
    assert "<td>Poll</td><td>+32%</td>" in ww[x:]
    assert "pooled" not in ww.lower()


# ---------------------------------------------------------------------------------------------------------------
# Claims, timing, paid (issue 18): computed in the findings step, written beside findings.json, rendered
# ---------------------------------------------------------------------------------------------------------------


def test_claims_timing_and_privacy_are_computed_written_and_rendered(tmp_path, quick):
    run = write_run(tmp_path)
    report.render_report(run, dataset=make_dataset(run), today=TODAY)
    claims = json.loads((run / "results" / "claims.json").read_text(encoding="utf-8"))
    timing = json.loads((run / "results" / "timing.json").read_text(encoding="utf-8"))
    assert json.loads((run / "results" / "campaigns.json").read_text())["campaigns"] == []
    from workbench.privacy import REVIEW_COLUMNS, flag_privacy_risk

    review = pd.read_csv(run / "results" / "privacy_review.csv", dtype=str)  # written for the analyst
    assert tuple(review.columns) == REVIEW_COLUMNS
    assert len(review) == len(flag_privacy_risk(pd.read_parquet(run / "data" / "posts_coded.parquet")))
    page = html.unescape((run / "report.html").read_text(encoding="utf-8"))
    assert "privacy_review" not in page and "Replies flagged by a word list" not in page  # never in the report
    shown = [c for c in claims["comparisons"] if c["verdict"] != "not applicable"]
    sec = section(page, "claims")
    if shown:
        for c in shown:
            assert c["claim"] in sec and c["verdict"] in sec
    else:
        assert "Not available: no published claim applies" in sec
    tsec = section(page, "timing")
    assert timing["caveat"] in tsec
    for h in timing["hours"]:
        assert f"<td>{int(h['hour']):02d}:00</td>" in tsec
    if timing["note"]:
        assert timing["note"] in tsec
    # no paid data: the section is left out
    assert 'id="paid"' not in page
    # the report's sections after the posting heatmap
    ids = [s.id for s in report.SECTIONS]
    assert ids.index("posting") < ids.index("timing")


def test_paid_results_render_campaigns_json(tmp_path, quick):
    from workbench.ingest import read_files

    data = Path(__file__).parent / "data" / "ads"
    files = [data / "meta_ads_campaign_daily_usd.csv"]
    if not files[0].is_file():
        pytest.skip("synthetic ads exports not found")
    run = write_run(tmp_path)
    read_files(files, root=data).campaigns.to_parquet(run / "data" / "campaigns.parquet")
    report.render_report(run, dataset=make_dataset(run), today=TODAY)
    camp = json.loads((run / "results" / "campaigns.json").read_text(encoding="utf-8"))
    assert camp["campaigns"]
    sec = section(html.unescape((run / "report.html").read_text(encoding="utf-8")), "paid")
    for s in camp["campaigns"]:
        assert s["campaign"] in sec
        assert f"{s['spend']:,.2f} {s['currency']}" in sec
    found = json.loads((run / "results" / "findings.json").read_text(encoding="utf-8"))
    assert found["campaigns"] == camp


def test_a_missing_posts_table_gives_not_available(tmp_path, quick):
    run = write_run(tmp_path, skip=("data/posts_coded.parquet",))
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert "Not available: data/posts_coded.parquet was not found in the run folder." in section(page, "timing")


# ---------------------------------------------------------------------------------------------------------------
# Reliability (issue 17): what each statistic rests on, empty cells for NA, "not available" rows with their note
# ---------------------------------------------------------------------------------------------------------------


def test_reliability_table_shows_pairs_raters_and_notes(tmp_path, quick):
    rel = pd.DataFrame({
        "code": ["has_poll", "tone"],
        "n_overlap": [30, 4],
        "percent_agreement": [0.97, 0.75],
        "cohen_kappa": [0.93, np.nan],
        "cohen_kappa_ci_low": [0.80, np.nan], "cohen_kappa_ci_high": [1.0, np.nan],
        "cohen_kappa_pair": ["ana & ben", ""], "cohen_kappa_n": [28, np.nan],
        "fleiss_kappa": [0.91, np.nan], "fleiss_kappa_ci_low": [np.nan, np.nan], "fleiss_kappa_ci_high": [np.nan, np.nan],
        "fleiss_kappa_n": [25, np.nan], "fleiss_kappa_raters": [3, np.nan],
        "krippendorff_alpha": [0.92, np.nan], "krippendorff_alpha_ci_low": [0.8, np.nan],
        "krippendorff_alpha_ci_high": [1.0, np.nan], "krippendorff_alpha_n": [30, np.nan],
        "n_coders": [3, 2], "interpretation": ["reliable", ""],
        "note": ["", "only 4 shared posts (at least 10 are needed): no statistic computed"],
    })
    run = write_run(tmp_path, reliability=rel)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    sec = section(page, "data-appendix").replace(' class="num"', "")
    assert "Cohen’s κ (pair, n)" in sec and "Fleiss’ κ (n posts × raters)" in sec and "Krippendorff’s α (n)" in sec
    assert "<td>0.93 (0.80 to 1.00) — ana & ben, n = 28</td>" in sec
    assert "<td>0.91 — 25 posts × 3 raters</td>" in sec  # its CI is NA: the value alone, never "0 to 0"
    assert "<td>0.92 (0.80 to 1.00) — n = 30</td>" in sec
    row = sec.split("<th scope=\"row\">tone</th>")[1].split("</tr>")[0] if '<th scope="row">tone</th>' in sec else \
        sec.split("<td>tone</td>")[1].split("</tr>")[0]
    assert "<td></td><td></td><td></td>" in row
    assert "not available; only 4 shared posts (at least 10 are needed): no statistic computed" in row
    assert "n/a to n/a" not in sec and "0 to 0" not in sec


# ---------------------------------------------------------------------------------------------------------------
# Platform vocabulary (issue 19.10)
# ---------------------------------------------------------------------------------------------------------------


def test_meta_views_are_called_views_with_metas_definition_and_reach_is_shown(tmp_path, quick):
    from test_report import make_posts

    from workbench.vocab import PLATFORM_TERMS

    posts = make_posts()
    posts["platform"] = "facebook"
    posts["impressions_label"] = pd.array(["Views"] * len(posts), dtype="string")
    posts["reach"] = pd.array((posts["impressions"] // 2).astype("int64"), dtype="Int64")
    posts.loc[0, "reach"] = pd.NA
    run = write_run(tmp_path, posts=posts)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    total, median = int(posts["impressions"].sum()), int(posts["impressions"].median())
    assert (f"with {total:,} views in total (median {median:,} per post; each platform's own count, defined in the "
            "methods appendix)") in section(page, "summary")
    key = section(page, "key-figures")
    assert "Views, total" in key and "Impressions, total" not in key
    reach = posts["reach"].dropna().astype(float)
    assert f"Reach per post, median (Facebook: {len(reach)} posts)" in key and f"{int(reach.median()):,}" in key
    methods = section(page, "methods-appendix")
    assert f"Facebook: {PLATFORM_TERMS['facebook']['views']}" in methods
    assert PLATFORM_TERMS["facebook"]["engagements"] in methods
    vocab = findings.compute_findings(run, make_dataset(run), today=TODAY).vocabulary
    assert vocab["impressions_word"] == "views" and vocab["platforms"][0]["impressions_label"] == "Views"
    # every section names Meta's count "views" (effects, tables, forest plots, before/after, top posts, timing,
    # growth, methods). Left out of the check, each for a reason: Meta's own definition of Views ("it replaced
    # Impressions"); the claims section, which quotes published studies of X/Twitter posts and names
    # regression.csv's outcome column; a file's own column name quoted in an ingest warning ('promoted impressions')
    text = page.replace(PLATFORM_TERMS["facebook"]["views"], "")
    text = re.sub(r'<section id="claims"[^>]*>.*?</section>', "", text, flags=re.S)
    text = re.sub(r"column '[^']*'", "column ''", re.sub(r"<[^>]+>", " ", text))
    assert not re.search(r"impression", text, re.I), re.findall(r".{80}impression.{40}", text, re.I)[:20]
    for heading in ("Top posts by views", "Views per post, median (descriptive, unadjusted)"):
        assert heading in page


def test_impressions_word_follows_the_labels():
    from workbench.vocab import impressions_word

    assert impressions_word(["Views", "Views"]) == "views"
    assert impressions_word(["Impressions"]) == impressions_word([]) == "impressions"
    assert impressions_word(["Views", "Impressions"]) == "impressions or views"


def test_outcome_word_names_each_platforms_word_when_they_differ():
    from workbench.vocab import outcome_word

    vocab = {"platforms": [{"platform": "facebook", "impressions_label": "Views"},
                           {"platform": "instagram", "impressions_label": "Views"},
                           {"platform": "x", "impressions_label": None}]}
    assert outcome_word("impressions", vocab) == "views (Facebook, Instagram) / impressions (X)"
    assert outcome_word("impressions", vocab, "instagram") == "views"
    assert outcome_word("impressions", vocab, "x") == "impressions"
    assert outcome_word("impressions", {"platforms": vocab["platforms"][:2]}) == "views"
    assert outcome_word("impressions", None) == "impressions"
    assert outcome_word("engagements", vocab) == "engagements"


def test_mixed_meta_and_x_posts_are_named_per_platform(tmp_path, quick):
    from test_report import make_posts

    posts = make_posts()
    half = len(posts) // 2
    posts["platform"] = ["facebook"] * half + ["x"] * (len(posts) - half)
    posts["impressions_label"] = pd.array(["Views"] * half + ["Impressions"] * (len(posts) - half), dtype="string")
    run = write_run(tmp_path, posts=posts)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    key = section(page, "key-figures")
    assert "Views (Facebook) / impressions (X), total" in key
    fb = pd.to_numeric(posts["impressions"][:half])
    assert f"Views, total (Facebook)</dt><dd>{int(fb.sum()):,}" in key
    assert f"Posts (X)</dt><dd>{len(posts) - half}" in key
    # the top-posts table names each post's platform, and says the counts differ
    assert "Each platform counts its own way (views on Meta, impressions on X)" in page


def test_reach_by_type_leaves_out_a_platform_whose_posts_have_no_type(tmp_path, quick):
    """A platform whose exports give no media type has one row, "unknown": it is left out with a note that says why
    and what would give it; a platform with types keeps its rows."""
    mixed = models_v2()
    mixed["reach_by_type"] = [
        {"platform": "x", "type": "unknown", "n": 25, "share": 0.625, "median_impressions": 900.0,
         "median_engagements": 12.0},
        {"platform": "bluesky", "type": "text", "n": 15, "share": 0.375, "median_impressions": 300.0,
         "median_engagements": None}]
    run = write_run(tmp_path / "mixed", models=mixed)
    ww = section(html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY)), "what-works")
    flat = ww.replace(' class="num"', "")
    assert "<td>Bluesky</td><td>text</td>" in flat and "<td>unknown</td>" not in flat
    assert "Not shown for the X posts: the exports read give no post type" in ww

    untyped = models_v2()
    untyped["reach_by_type"] = [{"platform": "x", "type": "unknown", "n": 40, "share": 1.0,
                                 "median_impressions": 900.0, "median_engagements": 12.0}]
    run = write_run(tmp_path / "untyped", models=untyped)
    ww = section(html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY)), "what-works")
    assert "Reach by type" in ww and "from models.json reach_by_type" not in ww
    assert "Not shown for the posts: the exports read give no post type" in ww


def test_no_estimable_predictor_says_why_each_was_left_out_and_what_would_make_it_possible(tmp_path, quick):
    """A short, replies-heavy export where every predictor has fewer than 10 posts in a group: the regression has
    no rows. The report names each predictor's reason and what input would make it possible, not a file name."""
    from test_report import make_regression

    models = models_v2()
    models["dropped"] = [
        {"code": "too_few_posts", "role": "predictor", "outcome": "impressions", "term": "has_url", "n": 2,
         "message": "impressions: only 2 of 24 posts without 'has_url' (fewer than 10, the minimum in each group)"},
        {"code": "not_a_column", "role": "predictor", "outcome": None, "term": "has_poll", "n": None,
         "message": "Predictor 'has_poll' is not a column of the coded posts; dropped from the models."},
        {"code": "too_few_posts", "role": "predictor", "outcome": "engagements", "term": "has_url", "n": 2,
         "message": "engagements: only 2 of 24 posts without 'has_url' (fewer than 10, the minimum in each group)"}]
    run = write_run(tmp_path, regression=make_regression().iloc[0:0], models=models)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    ww = section(page, "what-works")
    assert "No post feature could be estimated: every predictor of the card was left out of the models." in ww
    assert "Link (URL): impressions: only 2 of 24 posts without 'has_url'" in ww and "engagements: only 2" not in ww
    assert "Poll: Predictor 'has_poll' is not a column of the coded posts" in ww
    assert "at least 10 with and 10 without a feature among the posts the models use" in ww
    assert "results/regression.csv has no rows" not in ww
    assert "No post feature could be estimated (every predictor was left out of the models" in page


def test_posting_times_note_names_only_the_controls_the_models_had(tmp_path, quick):
    """"the models above hold audience size and year constant" was printed under the posting-time counts even when
    no model was fitted; it now names the fitted controls, or says nothing of models that do not exist."""
    from test_report import make_regression

    run = write_run(tmp_path / "none", regression=make_regression().iloc[0:0], models=models_v2())
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert ("Descriptive only: these counts show when posts were published, not which times work best." in page)
    assert "the models above hold" not in page
    run = write_run(tmp_path / "fitted")
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    held = re.search(r"not which times work best; the models above hold ([^.]*) constant, these counts do not\.", page)
    assert held and "audience size" in held.group(1)


def test_models_not_fitted_are_said_with_their_platform_and_reason():
    # review15 M6: 3 of 4 platform × outcome models were not fitted and only the data appendix said so
    from types import SimpleNamespace

    from workbench.report.what_works import unfitted_sentence

    models = {"primary_model": "ols_log",
              "fitted_terms": [{"platform": "facebook", "outcome": "engagements", "model": "ols_log"},
                               {"platform": "facebook", "outcome": "engagements", "model": "negbin"}],
              "flags": [{"code": "no_predictors", "platform": "facebook", "outcome": "impressions", "model": None},
                        {"code": "no_predictors", "platform": "instagram", "outcome": None, "model": None},
                        {"code": "too_few_posts_model", "platform": "facebook", "outcome": "engagements",
                         "model": "negbin_rate"}]}
    words = {("impressions", "facebook"): "views", ("impressions", "instagram"): "views"}
    ctx = SimpleNamespace(r=SimpleNamespace(models=models), f=SimpleNamespace(primary="ols_log"),
                          outcomes=lambda: ["impressions", "engagements"],
                          word=lambda o, p=None: words.get((o, p), o))
    assert unfitted_sentence(ctx) == (
        "The post-level models were fitted for 1 of 4 platform–outcome pairs (Facebook engagements); not fitted: "
        "Facebook views, Instagram views and Instagram engagements (no feature could be estimated on its posts).")
    models["flags"] = []
    assert unfitted_sentence(ctx) is None
