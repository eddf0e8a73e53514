"""The findings step (results/findings.json) and what the report says from it: only what was fitted, no
number that means nothing, stage failures, every post, packaging of the notebooks, the report command."""

from __future__ import annotations

import ast
import csv
import html
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import cli, findings, models, plots, report, vocab
from workbench.pipeline import STAGES
from workbench.report.wording import describe_state_space, describe_terms

sys.path.insert(0, str(Path(__file__).parent))
from test_report import (  # noqa: E402
    MODELS,
    TODAY,
    make_dataset,
    make_growth,
    make_posts,
    make_regression,
    section,
    write_run,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def quick(monkeypatch):
    """Skip PNG encoding (figures are drawn elsewhere); the report's text is what these tests read."""
    monkeypatch.setattr(report.render, "_figure_png", lambda draw, *, figsize: b"\x89PNG\r\n\x1a\nstub")


def test_findings_json_holds_every_verdict_with_its_source(tmp_path, quick):
    run = write_run(tmp_path)
    report.render_report(run, dataset=make_dataset(run), today=TODAY)
    found = json.loads((run / "results" / "findings.json").read_text(encoding="utf-8"))
    assert found["schema_version"] == findings.SCHEMA_VERSION
    assert found["generated"] == TODAY.isoformat()
    assert {"python", "numpy", "pandas", "statsmodels", "scipy"} <= set(found["versions"])
    reg = make_regression()
    primary = reg[(reg["model"] == "ols_log") & (reg["term_type"] == "predictor")]
    assert len(found["effects"]) == len(primary)
    for e in found["effects"]:
        row = primary[(primary["outcome"] == e["outcome"]) & (primary["term"] == e["term"])].iloc[0]
        assert e["effect_pct"] == pytest.approx(row["effect_pct"])
        assert e["verdict"] == ("clear" if row["p_holm"] < 0.05 else "not clear")
        assert e["source"].startswith("regression.csv, model ols_log")
    # the fitted terms: predictors and controls from regression.csv's term_type
    assert found["model_terms"]["impressions"]["controls"] == ["followers_at_post", "year"]
    assert found["model_terms"]["impressions"]["predictors"] == ["has_poll", "has_graphic", "n_hashtags"]
    for key in ("key_figures", "period_change", "goals", "low_reliability"):
        assert found[key]["source"], key
    assert [c["verdict"] for c in found["growth"]["comparisons"]] == ["changed"]
    assert found["split"] == {"date": "2022-01-01", "label": "Designer <joined>",
                              "source": found["split"]["source"]}


def test_controls_sentence_names_only_the_controls_that_were_fitted(tmp_path, quick):
    reg = make_regression()
    reg = reg[reg["term_type"] != "control"]  # followers all missing, one year only: both controls dropped
    mods = {**MODELS, "warnings": [
        "Control 'followers_at_post' is entirely NA; dropped from the models.",
        "Control 'year' is constant (every post has 2022); dropped from the models.",
        "Predictor 'has_graphic' is not a column of posts_coded; dropped from the models. Columns starting "
        "with has_/n_: ['has_poll', 'n_hashtags']",
    ]}
    run = write_run(tmp_path, regression=reg, models=mods)
    page = html.unescape(report.build_report_html(run, dataset=make_dataset(run), today=TODAY))
    works = section(page, "what-works")
    # the intro claims no control that was not fitted (only the "left out of the models" line names it)
    assert "audience size" not in works.split("<h3>")[0].split("Controls left out of the models")[0]
    assert "holding the other features constant (OLS" in works
    assert "The impressions model held the other features constant." in works
    # left out of every model: said once for the section, not under each outcome (review15 R4)
    assert works.count("Controls left out of the models: audience size (no post has a value for it); year (it has "
                       "the same value for every post, so nothing can be compared).") == 1
    assert works.count("Features left out of the models: graphic (not in the data (no such column in "
                       "posts_coded)).") == 1
    assert works.count("left out of the models") == 2
    assert "['has_poll'" not in works  # no raw Python list
    assert "Controls: none were in the fitted models" in section(page, "methods-appendix")


def test_typed_fitted_terms_and_dropped_records_win_over_the_table(tmp_path):
    mods = {**MODELS,
            "fitted_terms": [{"outcome": "impressions", "model": "ols_log", "term": "has_poll", "role": "predictor"},
                             {"outcome": "impressions", "model": "ols_log", "term": "is_reply", "role": "control"}],
            "dropped": [{"term": "has_graphic", "role": "predictor", "reason": "no coding file has this code"}]}
    terms, source = findings.fitted_terms(mods, make_regression(), outcome="impressions", model="ols_log")
    assert terms == {"has_poll": "predictor", "is_reply": "control"} and source == "models.json fitted_terms"
    said = describe_terms({"predictors": ["has_poll"], "controls": ["is_reply"]}, findings.dropped_terms(mods),
                          outcome="impressions")
    assert said == ["The impressions model held whether the post is a reply constant.",
                    "Predictors left out of the models: graphic (no coding file has this code)."]


def test_a_zero_width_interval_is_never_printed():
    text = describe_state_space({"forecast_end": 3087, "observed_end": 3447, "excess_end": 360,
                                 "excess_ci": [360, 360], "converged": True})
    assert "+360 to +360" not in text and "zero width" in text
    assert report.format.ci_text([1.5, 1.5], report.format_ratio) == "CI not available (zero width)"


def test_period_labels_never_stand_in_for_an_event(tmp_path, quick):
    growth = make_growth()
    growth["periods"][0]["label"], growth["periods"][1]["label"] = "First half of the year", "Second half of the year"
    run = write_run(tmp_path, growth=growth)
    page = html.unescape(report.build_report_html(run, today=TODAY))  # no card: no named intervention
    for bad in ("After Second half of the year", "after Second half of the year", "Growth before (before)",
                "(First half of the year)", "Placebo check: The"):
        assert bad not in page, bad
    assert "From 1 Jan 2022 on, the median post was seen" in section(page, "summary")


def test_no_empty_reliability_table(tmp_path, quick):
    empty = pd.DataFrame(columns=["code", "n_overlap", "krippendorff_alpha"])
    run = write_run(tmp_path, reliability=empty)
    page = html.unescape(report.build_report_html(run, today=TODAY))
    block = section(page, "data-appendix").split("<h3>Coding reliability</h3>")[1]
    assert "<table" not in block and "no code was coded by two or more coders" in block


@pytest.mark.parametrize("where", ["run_status", "manifest", "outcomes"])
def test_a_failed_stage_is_named_with_its_time_at_the_top(tmp_path, quick, where):
    run = write_run(tmp_path)
    # the pipeline's failed_stages record (manifest.json and results/run_status.json), or a failed outcome
    entry = {"stage": "growth", "notebook": "04_growth_comparison.ipynb", "cell": None,
             "error": "InputError: growth results hold no series and no periods",
             "message": "stage 'growth' failed …", "at": "2026-11-27T01:02:03Z"}
    if where == "run_status":
        (run / "results" / "run_status.json").write_text(json.dumps({"failed_stages": {"growth": entry}}))
    elif where == "manifest":
        (run / "manifest.json").write_text(json.dumps({"stages": {}, "failed_stages": {"growth": entry}}))
    else:
        (run / "results" / "run_status.json").write_text(json.dumps({"stages": [
            {"name": "growth", "status": "failed", "at": entry["at"], "message": entry["error"]}]}))
    page = html.unescape(report.build_report_html(run, today=TODAY))
    header = page.split("<nav")[0]
    assert ("The growth stage failed at 2026-11-27T01:02:03Z: InputError: growth results hold no series and no "
            "periods.") in header


def test_change_against_the_previous_period_by_hand():
    days = pd.date_range("2022-01-01 15:00", periods=200, freq="D", tz="UTC")
    posts = pd.DataFrame({"published_at": days, "impressions": np.arange(200) + 1.0,
                          "engagements": np.full(200, 1.0)})
    out = findings.previous_period_change(posts, None, timezone="UTC", days=90)
    assert out["days"] == 90
    assert out["current"] == {"start": "2022-04-21", "end": "2022-07-19"}
    assert out["previous"] == {"start": "2022-01-21", "end": "2022-04-20"}
    rows = {r["key"]: r for r in out["rows"]}
    assert rows["n_posts"]["current"] == rows["n_posts"]["previous"] == 90
    # impressions 111..200 now, 21..110 before
    assert rows["impressions_total"]["current"] == sum(range(111, 201))
    assert rows["impressions_median"]["current"] == 155.5 and rows["impressions_median"]["previous"] == 65.5
    assert rows["impressions_median"]["ratio"] == pytest.approx(155.5 / 65.5)
    lo, hi = rows["impressions_median"]["ratio_ci"]
    assert lo < 155.5 / 65.5 < hi
    assert rows["impressions_total"]["ratio_ci"] == [None, None]  # a total has no interval
    # followers counted monthly, +1 a day: the level is interpolated at each period's edges
    month = pd.date_range("2021-12-01", "2022-08-01", freq="MS")
    account = pd.DataFrame({"date": month, "followers": 1000.0 + (month - month[0]).days})
    gained = {r["key"]: r for r in
              findings.previous_period_change(posts, account, timezone="UTC", days=90)["rows"]}["followers_gained"]
    assert gained["current"] == pytest.approx(90) and gained["previous"] == pytest.approx(90)
    short = findings.previous_period_change(posts.head(30), None, timezone="UTC", days=90)
    assert short["days"] == 15  # halves of a 30-day span


def test_every_post_is_listed_top_50_shown_rest_collapsed_and_in_a_formula_safe_csv(tmp_path, quick):
    posts = make_posts(n=70)
    posts.loc[0, "text"] = "=HYPERLINK(\"http://evil\")"
    posts.loc[0, "impressions"] = 10**6
    run = write_run(tmp_path, posts=posts)
    out = report.render_report(run, today=TODAY)
    page = out.read_text(encoding="utf-8")
    block = section(page, "posting")
    assert "Top 50 posts by impressions" in block
    assert "<details><summary>The other 20 posts</summary>" in block and "Posts ranked 51 to 70" in block
    with open(run / "report_posts.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 70 and rows[0]["rank"] == "1"
    assert rows[0]["text"].startswith("'=HYPERLINK")  # neutralised for spreadsheets
    assert "report_posts.csv" in block


def test_contents_list_links_every_section():
    page = report.build_report_html(REPO / "does-not-exist", today=TODAY)
    anchors = [a for a in __import__("re").findall(r'<a href="#([^"]+)"', page)]
    # every registered section but "paid", which is left out when there is no paid data
    assert anchors == [s.id for s in report.SECTIONS if s.id != "paid"]
    for ident in anchors:
        assert f'<section id="{ident}"' in page


def test_one_vocabulary():
    assert plots.label_feature is vocab.label_feature
    assert models._PHRASES is vocab.FEATURE_PHRASES and models._CONTROL_NAMES is vocab.CONTROL_NAMES
    assert report.ALPHA_TENTATIVE == vocab.ALPHA_TENTATIVE == 0.667
    assert "is reply" not in models._holding_clause(
        pd.DataFrame({"term": ["has_poll", "is_reply"], "term_type": ["predictor", "control"]}), "has_poll")


def test_meta_suite_does_not_import_detect():
    tree = ast.parse((REPO / "workbench" / "ingest" / "meta_suite.py").read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert "detect" not in imported


def test_report_command_and_version(tmp_path, quick, capsys):
    assert cli.main(["report", str(tmp_path / "nothing")]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    run = write_run(tmp_path / "run")
    assert cli.main(["report", str(run)]) == 0
    assert (run / "report.html").is_file() and (run / "results" / "findings.json").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip().startswith("workbench ")


def test_the_wheel_carries_the_top_level_notebooks_unchanged(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
         str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        shipped = {Path(n).name: zf.read(n) for n in names if n.startswith("workbench/notebooks/")}
        assert "workbench/report/templates/report.html.j2" in names and "workbench/report/report.css" in names
    top = {p.name: p.read_bytes() for p in (REPO / "notebooks").glob("*.ipynb")}
    assert shipped == top and len(top) == len(STAGES)


def test_an_intervention_after_the_data_is_said_so(tmp_path, quick):
    import dataclasses
    import datetime as dt

    from workbench.dataset import Intervention

    run = write_run(tmp_path)
    ds = dataclasses.replace(make_dataset(run), interventions=(Intervention(dt.date(2030, 1, 1), "Too late"),))
    page = html.unescape(report.build_report_html(run, dataset=ds, today=TODAY))
    key = section(page, "key-figures")
    assert "The intervention date 1 Jan 2030 is after the last day of the data (4 Jan 2021 – 10 Nov 2022)" in key
    summary = section(page, "summary")
    assert "After Too late" not in summary
    assert "Growth could not be compared at Too late: its date (1 Jan 2030) is outside the data" in summary
    assert "n/a – n/a" not in page


def test_per_post_and_account_totals_are_reconciled_by_hand(tmp_path, quick):
    run = write_run(tmp_path)
    posts = pd.read_parquet(run / "data" / "posts_coded.parquet")
    account = pd.read_parquet(run / "data" / "account.parquet")
    rec = {r["metric"]: r for r in findings.reconcile_totals(posts, account)}["impressions"]
    first = posts["published_at"].min().tz_convert(None).normalize()
    last = posts["published_at"].max().tz_convert(None).normalize()
    inside = account[(account["date"] >= first) & (account["date"] <= last)]
    assert rec["per_post"] == posts["impressions"].sum()
    assert rec["account"] == inside["impressions"].sum() == 5000 * len(inside)
    page = html.unescape(report.build_report_html(run, today=TODAY))
    assert (f"Two totals of impressions: {rec['per_post']:,.0f} from the per-post exports (used in this report) "
            f"and {rec['account']:,.0f} from the account-level files") in section(page, "key-figures")


def test_a_replies_heavy_account_is_told_so(tmp_path, quick):
    posts = make_posts(n=40)
    reply = np.arange(40) % 3 != 0  # 26 replies, 14 original posts
    posts["is_reply"] = pd.array(reply, dtype="boolean")
    posts["is_repost"] = pd.array(np.zeros(40, bool), dtype="boolean")
    posts.loc[reply, "impressions"] = (posts.loc[reply, "impressions"] // 10).astype(posts["impressions"].dtype)
    run = write_run(tmp_path, posts=posts)
    counts = {t["type"]: t for t in findings.post_type_counts(pd.read_parquet(run / "data/posts_coded.parquet"))}
    assert counts["reply"]["n"] == 26 and counts["original"]["n"] == 14
    assert counts["reply"]["median_impressions"] == posts.loc[reply, "impressions"].median()
    page = html.unescape(report.build_report_html(run, today=TODAY))
    key = section(page, "key-figures")
    assert "Posts by type: 14 original posts (median" in key and "26 replies (median" in key
    assert "Replies are 65% of the posts and their median reach differs from original posts" in key


def test_models_json_population_and_per_model_term_lists_are_read(tmp_path, quick):
    """models.json as fit_post_models writes it now: one fitted_terms record per platform × outcome × model with
    predictor and control lists, and the population the models used."""
    mods = {**MODELS,
            "fitted_terms": [
                {"platform": p, "outcome": "impressions", "model": "ols_log", "predictors": ["has_poll"],
                 "controls": ["log_followers_at_post"] + (["year[2022]"] if p == "bluesky" else [])}
                for p in ("x", "bluesky")],
            "population": {"setting": "original", "post_types": ["original"], "post_type_controlled": False,
                           "n_in": 30, "n_out": 10,
                           "counts": [{"platform": "x", "post_type": "original", "n": 30, "in_models": True},
                                      {"platform": "x", "post_type": "reply", "n": 10, "in_models": False}]}}
    terms, source = findings.fitted_terms(mods, None, outcome="impressions", model="ols_log")
    assert source == "models.json fitted_terms"
    assert terms == {"has_poll": "predictor", "log_followers_at_post": "control", "year[2022]": "control"}
    run = write_run(tmp_path, models=mods)
    page = html.unescape(report.build_report_html(run, today=TODAY))
    assert "The models use original posts only: 30 posts (left out: 10 replies)." in section(page, "what-works")
    assert json.loads(json.dumps(findings.compute_findings(run).to_dict()["population"]))["n_out"] == 10
