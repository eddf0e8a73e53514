"""End to end: `workbench run` on the example dataset into a temp folder, checking every contract file.

Also: the report recovers the documented truth, a re-run with nothing changed is a no-op, and the exit codes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e_example")]

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
WORKBENCH = [sys.executable, "-m", "workbench.cli"]
REGRESSION_COLUMNS = ["outcome", "model", "term", "estimate", "std_error", "ci_low", "ci_high", "p_value",
                      "std_beta", "effect_pct", "n", "r2"]


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*WORKBENCH, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("example_run")
    proc = run_cli("run", str(EXAMPLE), "--out", str(out), "--screenshot")  # the first-screen PNG is asked for
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc


def test_progress_lines_and_report_path(example_run):
    out, proc = example_run
    lines = proc.stdout.splitlines()
    for i, stage in enumerate(["ingest", "features", "regression", "growth", "publications", "report"], 1):
        assert any(line.startswith(f"[{i}/6] {stage}") and " ran in " in line for line in lines), proc.stdout
    assert f"report: {out / 'report.html'}" in proc.stdout


def test_run_folder_has_every_contract_file(example_run):
    out, _ = example_run
    for rel in ["report.html", "manifest.json", "data/posts.parquet", "data/account.parquet", "data/quarantine.csv",
                "data/posts_coded.parquet", "results/ingest_log.json", "results/reliability.csv",
                "results/regression.csv", "results/growth.json", "data/publications.parquet",
                "results/publications.csv", "results/publications.json"]:
        assert (out / rel).is_file(), rel
    for nb in ["01_ingest", "02_feature_coding", "03_regression", "04_growth_comparison", "05_report",
               "06_publications"]:
        assert (out / "notebooks" / f"{nb}.ipynb").is_file()
    figures = list((out / "results" / "figures").glob("*.png"))
    assert figures and all(f.stat().st_size > 1000 for f in figures)


def test_ingest_log_accounts_for_every_row(example_run):
    out, _ = example_run
    log = json.loads((out / "results" / "ingest_log.json").read_text())
    assert log["files"]
    for f in log["files"]:
        assert set(f) >= {"file", "format", "table", "rows_read", "rows_kept", "rows_quarantined", "rows_superseded"}
        assert f["rows_read"] == f["rows_kept"] + f["rows_quarantined"] + f["rows_superseded"], f
        assert not Path(f["file"]).is_absolute()
    posts = pd.read_parquet(out / "data" / "posts.parquet")
    kept = sum(f["rows_kept"] for f in log["files"] if f["table"] == "posts")
    assert len(posts) == kept
    quarantine = pd.read_csv(out / "data" / "quarantine.csv")
    assert list(quarantine.columns[:3]) == ["source_file", "source_row", "reason"]


def test_posts_table_contract(example_run):
    out, _ = example_run
    posts = pd.read_parquet(out / "data" / "posts.parquet")
    assert str(posts["post_id"].dtype) == "string" and posts["post_id"].is_unique
    assert str(posts["published_at"].dtype) == "datetime64[ns, UTC]"
    assert str(posts["impressions"].dtype) == "Int64"
    assert posts["quotes"].isna().all()  # not reported by the legacy export: NA, never 0
    coded = pd.read_parquet(out / "data" / "posts_coded.parquet")
    for col in ["has_url", "n_hashtags", "n_mentions", "has_emoji", "hour_local", "weekday_local", "year",
                "followers_at_post", "has_poll", "has_graphic"]:
        assert col in coded.columns, col
    assert coded["followers_at_post"].notna().mean() > 0.95


def test_regression_csv_contract(example_run):
    out, _ = example_run
    reg = pd.read_csv(out / "results" / "regression.csv")
    assert list(reg.columns[: len(REGRESSION_COLUMNS)]) == REGRESSION_COLUMNS
    assert {"ols_log", "ols_std"} <= set(reg["model"])
    assert {"impressions", "engagements"} == set(reg["outcome"])
    assert {"Intercept", "has_poll", "has_graphic", "has_url", "has_emoji"} <= set(reg["term"])
    ols = reg[reg["model"] == "ols_log"]
    assert (ols["ci_low"] <= ols["estimate"]).all() and (ols["estimate"] <= ols["ci_high"]).all()
    assert ols.loc[ols["term"] != "Intercept", "effect_pct"].notna().all()
    rel = pd.read_csv(out / "results" / "reliability.csv")
    assert list(rel.columns[:5]) == ["code", "n_overlap", "percent_agreement", "cohen_kappa", "krippendorff_alpha"]
    assert set(rel["code"]) == {"has_poll", "has_graphic"}


def test_growth_json_contract(example_run):
    out, _ = example_run
    g = json.loads((out / "results" / "growth.json").read_text())
    for key in ["metric", "unit", "periods", "slope_ratio", "slope_ratio_ci", "slope_change", "monthly"]:
        assert key in g, key
    assert len(g["periods"]) == 2
    for p in g["periods"]:
        assert set(p) >= {"label", "start", "end", "n", "slope_per_day", "slope_ci", "r2"}
    assert set(g["slope_change"]) >= {"estimate", "ci", "p_value", "cov_type", "maxlags"}
    assert g["slope_change"]["cov_type"] == "HAC"
    assert set(g["monthly"]) >= {"metric", "before_mean", "after_mean", "fold_change", "fold_change_ci",
                                 "welch_p_two_sided", "welch_p_one_sided", "mannwhitney_p"}


def test_report_is_self_contained_and_escaped(example_run):
    out, _ = example_run
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower()
    assert 'src="http' not in html and "href=\"http" not in html.replace('href="https://twitter.com/', "")
    assert html.count("data:image/png;base64,") >= 2


def test_rerun_with_nothing_changed_is_fast_and_starts_no_kernel(example_run):
    out, _ = example_run
    t0 = time.perf_counter()
    proc = run_cli("run", str(EXAMPLE), "--out", str(out), "--screenshot")  # the parameters of the first run
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    stage_lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    assert len(stage_lines) == 6 and all(line.endswith("up to date") for line in stage_lines), proc.stdout
    assert elapsed < 10  # the benchmark holds the 3 s target; this only guards against kernels starting


def test_bad_card_exits_2(tmp_path):
    (tmp_path / "dataset.yml").write_text("name: x\nposts: [a.csv]\nbogus: 1\n")
    proc = run_cli("run", str(tmp_path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "unknown key 'bogus'" in proc.stderr


def test_unknown_parameter_exits_2_before_any_kernel(tmp_path):
    proc = run_cli("run", str(EXAMPLE), "--out", str(tmp_path / "out"), "-p", "nboot=3")
    assert proc.returncode == 2
    assert "Known parameters" in proc.stderr
    assert not (tmp_path / "out" / "notebooks").exists()


def test_stage_without_inputs_exits_1(tmp_path):
    proc = run_cli("run", str(EXAMPLE), "--out", str(tmp_path / "out"), "--only", "regression")
    assert proc.returncode == 1
    assert "stage 'regression' needs data/posts_coded.parquet" in proc.stderr


def _truth() -> dict:
    import re

    text = (EXAMPLE / "TRUTH.md").read_text()
    return json.loads(re.findall(r"```json\n(.*?)\n```", text, re.S)[-1])


@pytest.mark.parametrize("outcome", ["impressions", "engagements"])
def test_report_recovers_the_true_post_effects(example_run, outcome):
    out, _ = example_run
    truth = _truth()[f"{outcome}_effects_pct"]
    reg = pd.read_csv(out / "results" / "regression.csv")
    rows = reg[(reg["model"] == "ols_log") & (reg["outcome"] == outcome)].set_index("term")
    for term, true_pct in truth.items():
        low, high = rows.loc[term, "effect_pct_ci_low"], rows.loc[term, "effect_pct_ci_high"]
        assert low <= true_pct <= high, f"{outcome} {term}: true {true_pct}% outside 95% CI [{low:.1f}, {high:.1f}]"


def test_report_recovers_the_true_growth_change(example_run):
    out, _ = example_run
    truth = _truth()
    g = json.loads((out / "results" / "growth.json").read_text())
    low, high = g["slope_ratio_ci"]
    assert low <= truth["slope_ratio"] <= high, (g["slope_ratio"], g["slope_ratio_ci"])
    change = truth["net_per_day_after"] - truth["net_per_day_before"]
    assert g["slope_change"]["ci"][0] <= change <= g["slope_change"]["ci"][1]
    assert g["slope_change"]["p_value"] < 0.05


def test_example_report_reads_offline_in_a_real_browser(example_run):
    from browser import SKIP_REASON, assert_reads_offline, inspect_report

    out, _ = example_run
    seen = inspect_report(out / "report.html")
    if seen is None:
        pytest.skip(SKIP_REASON)
    assert_reads_offline(seen, out / "report.html")
    assert (out / "results" / "report_first_screen.png").stat().st_size > 10_000


def test_report_shows_the_publications_stage_result(example_run):
    """publications runs before the report; the report's section says what results/publications.json says."""
    import html
    import re

    out, _ = example_run
    pub = json.loads((out / "results" / "publications.json").read_text(encoding="utf-8"))
    page = (out / "report.html").read_text(encoding="utf-8")
    match = re.search(r'<section id="publications"[^>]*>(.*?)</section>', page, flags=re.S)
    assert match
    sec = html.unescape(match.group(1))
    if pub["status"] != "ok":
        assert f"Not available: {pub['reason']}" in sec
        return
    for v in pub["verdicts"]:
        assert (v["sentence"] if v["available"] else v["reason"]) in sec
    if pub.get("figure"):
        assert "data:image/png;base64," in match.group(1)


def test_each_notebook_figure_is_rendered_once(example_run):
    """A figure a cell returns is shown once (as its value), not a second time when the cell ends: each PNG in
    the audit-trail notebooks is drawn once."""
    out, _ = example_run
    for name in ("03_regression", "04_growth_comparison"):
        nb = json.loads((out / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            pngs = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            assert len(pngs) <= 1, (name, "".join(cell["source"])[:60], len(pngs))
        assert any("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
