"""Tests of the leadership report: content, safety (escaping, no scripts or external URLs), missing files."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import html
import json
import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from workbench import report
from workbench.dataset import Dataset, Goal, Intervention
from workbench.report import (
    GrowthComparison,
    assess_goals,
    build_report_html,
    compute_key_figures,
    describe_effect,
    describe_growth,
    engagement_rates,
    format_date,
    format_int,
    format_number,
    format_p,
    format_pct,
    format_ratio,
    low_reliability_codes,
    render_report,
)

EVIL_TEXT = "<img src=x onerror=alert(1)><script>alert(2)</script>"
EVIL_FILE = 'raw/<b onmouseover="x">march</b>.csv'
ORIGIN = dt.date(2021, 1, 1)
CHANGE = dt.date(2022, 1, 1)


def make_posts(n: int = 40, seed: int = 1) -> pd.DataFrame:
    """Posts with features; the most-seen post carries the hostile text."""
    rng = np.random.default_rng(seed)
    published = pd.Timestamp("2021-01-04 15:00", tz="UTC") + pd.to_timedelta(np.arange(n) * 17.3, unit="D")
    impressions = rng.integers(200, 5000, n)
    impressions[7] = 99_000
    engagements = (impressions * rng.uniform(0.005, 0.05, n)).astype(int)
    local = published.tz_convert("America/New_York")
    return pd.DataFrame(
        {
            "post_id": pd.array([str(10**18 + i) for i in range(n)], dtype="string"),
            "platform": "x",
            "account": "lab",
            "published_at": published,
            "text": pd.array(
                [EVIL_TEXT if i == 7 else f"Post number {i} about our study" for i in range(n)],
                dtype="string",
            ),
            "permalink": pd.array(
                [f"https://x.com/lab/status/{10**18 + i}" for i in range(n)], dtype="string"
            ),
            "impressions": pd.array(impressions, dtype="Int64"),
            "engagements": pd.array(engagements, dtype="Int64"),
            "hour_local": local.hour.astype(int),
            "weekday_local": local.weekday.astype(int),
            "year": local.year.astype(int),
            "has_poll": rng.random(n) < 0.3,
            "has_graphic": rng.random(n) < 0.5,
            "n_hashtags": rng.integers(0, 4, n),
        }
    )


def make_account() -> pd.DataFrame:
    """Weekly follower counts: +1/day in 2021, +2/day from 2022."""
    dates = pd.date_range("2021-01-01", "2022-12-31", freq="7D")
    days = (dates - pd.Timestamp(ORIGIN)).days.to_numpy()
    change = (pd.Timestamp(CHANGE) - pd.Timestamp(ORIGIN)).days
    followers = 1000 + np.where(days < change, days, change + 2 * (days - change))
    return pd.DataFrame(
        {
            "date": dates,
            "platform": "x",
            "account": "lab",
            "followers": pd.array(followers, dtype="Int64"),
            "impressions": pd.array(np.full(len(dates), 5000), dtype="Int64"),
            "source_file": "raw/followers.csv",
        }
    )


def make_regression(
    *, poll_pct: float = 32.0, poll_p_holm: float = 0.002, graphic_p_holm: float = 0.30
) -> pd.DataFrame:
    rows = []
    terms = [
        ("Intercept", "intercept"),
        ("has_poll", "predictor"),
        ("has_graphic", "predictor"),
        ("n_hashtags", "predictor"),
        ("followers_at_post", "control"),
        ("year", "control"),
    ]
    for outcome in ("impressions", "engagements"):
        for model in ("ols_log", "ols_std", "negbin"):
            for term, kind in terms:
                pct = {"has_poll": poll_pct, "has_graphic": 5.0, "n_hashtags": -3.0}.get(term, 1.0)
                if outcome == "engagements" and term == "has_poll":
                    pct = poll_pct / 2
                b = float(np.log1p(pct / 100))
                p_holm = {"has_poll": poll_p_holm, "has_graphic": graphic_p_holm}.get(term, 0.9)
                rows.append(
                    {
                        "outcome": outcome,
                        "model": model,
                        "term": term,
                        "estimate": b,
                        "std_error": 0.05,
                        "ci_low": b - 0.1,
                        "ci_high": b + 0.1,
                        "p_value": p_holm / 3,
                        "std_beta": 0.21 if model == "ols_std" else np.nan,
                        "effect_pct": pct if model != "ols_std" else np.nan,
                        "n": 40,
                        "r2": 0.31,
                        "p_holm": p_holm if model == "ols_log" else np.nan,
                        "term_type": kind,
                        "effect_pct_ci_low": 100 * np.expm1(b - 0.1) if model != "ols_std" else np.nan,
                        "effect_pct_ci_high": 100 * np.expm1(b + 0.1) if model != "ols_std" else np.nan,
                    }
                )
    return pd.DataFrame(rows)


MODELS = {
    "primary_model": "ols_log",
    "sentences": {
        "impressions": [
            "Posts with a poll received 32% more impressions (95% CI 18% to 47%), the poll's effect."
        ],
        "engagements": ["Posts with a poll received 16% more engagements (95% CI 4% to 30%)."],
    },
    "warnings": ["VIF of year is 6.2 <high>"],
    "diagnostics": {"vif": {"year": 6.2}},
}


def make_growth(
    *,
    p_value: float = 0.001,
    ratio: float = 2.0,
    ratio_ci=(1.7, 2.3),
    equivalent: bool = False,
    periods: bool = True,
) -> dict:
    account = make_account()
    days = (account["date"] - pd.Timestamp(ORIGIN)).dt.days
    period = np.where(account["date"] < pd.Timestamp(CHANGE), "before", "after")
    cf_dates = account.loc[account["date"] >= pd.Timestamp(CHANGE), "date"]
    cf_days = (cf_dates - pd.Timestamp(ORIGIN)).dt.days.to_numpy()
    projected = 1000 + cf_days
    months = pd.date_range("2021-01-01", "2022-12-01", freq="MS")
    growth = {
        "metric": "followers",
        "unit": "followers per day",
        "origin": ORIGIN.isoformat(),
        "periods": [
            {
                "label": "before",
                "start": "2021-01-01",
                "end": "2021-12-31",
                "n": 53,
                "slope_per_day": 1.0,
                "slope_ci": [0.98, 1.02],
                "r2": 0.999,
                "intercept": 1000.0,
            },
            {
                "label": "after",
                "start": "2022-01-01",
                "end": "2022-12-31",
                "n": 52,
                "slope_per_day": 2.0,
                "slope_ci": [1.97, 2.03],
                "r2": 0.998,
                "intercept": 635.0,
            },
        ],
        "slope_ratio": ratio,
        "slope_ratio_ci": list(ratio_ci),
        "slope_ratio_method": "delta method",
        "slope_change": {
            "estimate": 1.0,
            "ci": [0.9, 1.1],
            "p_value": p_value,
            "cov_type": "HAC",
            "maxlags": 3,
            "naive_p_value": p_value / 10,
        },
        "equivalence": {
            "margin": [0.8, 1.25],
            "p_value": 0.01 if equivalent else 0.9,
            "equivalent": equivalent,
            "method": "TOST",
        },
        "monthly": {
            "metric": "impressions",
            "before_mean": 5000,
            "after_mean": 13500,
            "fold_change": 2.7,
            "fold_change_ci": [1.2, 5.1],
            "welch_p_two_sided": 0.04,
            "welch_p_one_sided": 0.02,
            "mannwhitney_p": 0.03,
            "n_before": 12,
            "n_after": 12,
            "effect_size": 0.8,
        },
        "counterfactual": {
            "dates": [d.date().isoformat() for d in cf_dates],
            "projected": projected.tolist(),
            "pi_low": (projected - 20).tolist(),
            "pi_high": (projected + 20).tolist(),
            "observed_end": float(account["followers"].iloc[-1]),
            "projected_end": float(projected[-1]),
            "excess_end": float(account["followers"].iloc[-1] - projected[-1]),
            "excess_ci": [330.0, 400.0],
        },
        "series": [
            {"date": d.date().isoformat(), "value": float(v), "period": p}
            for d, v, p in zip(account["date"], account["followers"], period, strict=True)
        ],
        "monthly_series": [
            {
                "month": m.date().isoformat(),
                "impressions": 5000 if m.year == 2021 else 13500,
                "period": "before" if m.year == 2021 else "after",
            }
            for m in months
        ],
        "warnings": ["2 follower values were missing <i>interpolated</i>"],
    }
    assert len(days) == len(account)
    if not periods:
        growth = {
            "metric": "followers",
            "unit": "followers per day",
            "periods": [],
            "series": [],
            "warnings": ["no follower data"],
        }
    return growth


def make_growth_two_changes() -> dict:
    growth = make_growth()
    third = {
        "label": "third",
        "start": "2022-07-01",
        "end": "2022-12-31",
        "n": 26,
        "slope_per_day": 2.1,
        "slope_ci": [1.9, 2.3],
        "r2": 0.99,
        "intercept": 600.0,
    }
    growth["periods"][1]["end"] = "2022-06-30"
    growth["periods"].append(third)
    first = {
        k: copy.deepcopy(growth[k])
        for k in ("slope_ratio", "slope_ratio_ci", "slope_change", "equivalence", "monthly", "counterfactual")
    }
    second = copy.deepcopy(first)
    second.update(
        slope_ratio=1.05,
        slope_ratio_ci=[0.9, 1.2],
        slope_change={"estimate": 0.1, "ci": [-0.2, 0.4], "p_value": 0.45, "cov_type": "HAC", "maxlags": 2},
    )
    growth["comparisons"] = [first, second]
    return growth


RELIABILITY = pd.DataFrame(
    {
        "code": ["has_poll", "graphic"],
        "n_overlap": [30, 30],
        "percent_agreement": [0.97, 0.8],
        "cohen_kappa": [0.93, 0.52],
        "krippendorff_alpha": [0.92, 0.55],
        "krippendorff_alpha_ci_low": [0.8, 0.3],
        "krippendorff_alpha_ci_high": [1.0, 0.75],
        "n_coders": [2, 2],
        "interpretation": ["reliable", "unreliable: do not draw conclusions"],
    }
)

INGEST_LOG = {
    "files": [
        {
            "file": EVIL_FILE,
            "format": "x_legacy",
            "table": "posts",
            "rows_read": 45,
            "rows_kept": 40,
            "rows_quarantined": 3,
            "rows_superseded": 2,
        },
        {
            "file": "raw/followers.csv",
            "format": "follower_sheet",
            "table": "account",
            "rows_read": 105,
            "rows_kept": 105,
            "rows_quarantined": 0,
            "rows_superseded": 0,
        },
    ],
    "warnings": ["raw/old.csv: column 'promoted impressions' ignored"],
}


def write_run(
    root: Path,
    *,
    posts=None,
    account=None,
    regression=None,
    models=None,
    growth=None,
    reliability=None,
    ingest_log=None,
    skip: tuple[str, ...] = (),
) -> Path:
    """Write a complete synthetic run folder under ``root``; ``skip`` names relative files to leave out."""
    files = {
        "data/posts_coded.parquet": posts if posts is not None else make_posts(),
        "data/account.parquet": account if account is not None else make_account(),
        "data/quarantine.csv": pd.DataFrame(
            {
                "source_file": [EVIL_FILE] * 3,
                "source_row": [3, 9, 12],
                "reason": ["unparseable date", "unparseable date", "no post id"],
                "Tweet id": ["x", "y", ""],
            }
        ),
        "results/ingest_log.json": ingest_log if ingest_log is not None else INGEST_LOG,
        "results/reliability.csv": reliability if reliability is not None else RELIABILITY,
        "results/regression.csv": regression if regression is not None else make_regression(),
        "results/models.json": models if models is not None else MODELS,
        "results/growth.json": growth if growth is not None else make_growth(),
    }
    for rel, obj in files.items():
        if rel in skip:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".parquet"):
            obj.to_parquet(path, index=False)
        elif rel.endswith(".csv"):
            obj.to_csv(path, index=False)
        else:
            path.write_text(json.dumps(obj), encoding="utf-8")
    return root


def make_dataset(root: Path, *, goals=None, title: str = "Lab network <on X> & friends") -> Dataset:
    return Dataset(
        root=root,
        name="lab",
        title=title,
        timezone="America/New_York",
        interventions=(Intervention(CHANGE, "Designer <joined>"),),
        goals=tuple(goals)
        if goals is not None
        else (
            Goal("followers", 2000.0, dt.date(2023, 12, 31), "Followers 2k"),
            Goal("followers", 5000.0, dt.date(2023, 6, 30), "Followers 5k"),
        ),
    )


# ----------------------------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TODAY = dt.date(2023, 1, 15)
SECTION_IDS = (
    "summary",
    "key-figures",
    "what-works",
    "growth",
    "goals",
    "posting",
    "data-appendix",
    "methods-appendix",
)


def section(page: str, ident: str) -> str:
    match = re.search(rf'<section id="{ident}"[^>]*>(.*?)</section>', page, flags=re.S)
    assert match, f"section {ident} missing"
    return match.group(1)


def summary_text(page: str) -> list[str]:
    return re.findall(r"<p>(.*?)</p>", section(page, "summary"), flags=re.S)


@pytest.fixture
def quick_figures(monkeypatch):
    """Draw every figure (so plotting errors surface) but skip the slow PNG encoding; return a 1×1 PNG."""
    buf = BytesIO()
    plt.imsave(buf, np.zeros((1, 1)), format="png")
    tiny = buf.getvalue()

    def draw_only(draw, *, figsize):
        fig = Figure(figsize=figsize)
        draw(fig.add_subplot())
        return tiny

    monkeypatch.setattr(report, "_figure_png", draw_only)
    return tiny


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[Path, str]:
    run = write_run(tmp_path_factory.mktemp("run"))
    return run, build_report_html(run, dataset=make_dataset(run), today=TODAY)


def test_report_has_every_section_heading_and_a_single_h1(full):
    _, page = full
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<h1>") == 1
    for ident in SECTION_IDS:
        section(page, ident)
    for heading in (
        "Executive summary",
        "Key figures",
        "What works",
        "Growth before and after",
        "Goals",
        "Best times to post and top posts",
        "Data appendix",
        "Methods appendix",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<caption>") >= 8
    assert "break-before: page" in page and 'name="viewport"' in page


def test_report_contains_the_model_sentences_escaped(full):
    _, page = full
    for sentences in MODELS["sentences"].values():
        for s in sentences:
            assert html.escape(s) in section(page, "what-works")
    assert "the poll&#x27;s effect" in page


def test_report_has_no_scripts_and_no_external_urls_but_post_permalinks(full):
    run, page = full
    assert "<script" not in page.lower()
    assert "javascript:" not in page.lower()
    without_images = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", without_images))
    permalinks = set(pd.read_parquet(run / "data/posts_coded.parquet")["permalink"])
    assert urls and urls <= permalinks
    assert len(urls) == 5  # top five posts only
    assert "@import" not in page and "url(" not in page


def test_images_are_inline_pngs_with_alt_text_stating_the_finding(full):
    _, page = full
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)">', page)
    assert len(images) == page.count("<img") == 5  # forest ×2, growth, monthly, heatmap
    for data, _ in images:
        assert base64.b64decode(data, validate=True).startswith(PNG_MAGIC)
    alts = [html.unescape(alt) for _, alt in images]
    assert any("posts with a poll received 32% more impressions" in a for a in alts)
    assert any("2.0× faster after Designer <joined>" in a for a in alts)
    assert any(a.startswith("Of 40 posts, most went out on ") for a in alts)


def test_hostile_strings_from_the_data_are_escaped(full):
    _, page = full
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert EVIL_TEXT not in page
    assert html.escape(EVIL_FILE) in page and "<b onmouseover" not in page
    assert "Lab network &lt;on X&gt; &amp; friends" in page
    assert "Designer &lt;joined&gt;" in page and "<joined>" not in page
    assert "&lt;high&gt;" in page and "&lt;i&gt;interpolated&lt;/i&gt;" in page


def test_executive_summary_states_the_supported_findings(full):
    _, page = full
    sentences = [html.unescape(s) for s in summary_text(page)]
    assert 3 <= len(sentences) <= 5
    text = " ".join(sentences)
    assert "This report covers 40 posts" in text
    assert "posts with a poll received 32% more impressions" in text
    assert "95% CI +19% to +46%" in text  # 100·(1.32·e^∓0.1 − 1)
    assert "2 of 6 feature–outcome estimates held up after correction for multiple testing" in text
    assert "Growth in followers was 2.0× faster after Designer <joined> (95% CI 1.7× to 2.3×)" in text
    assert "HAC p = 0.001" in text
    assert "Of 2 goal(s): 1 met, 1 not on track" in text
    assert "graphic (α = 0.55)" in text


def test_executive_summary_changes_with_the_results(tmp_path, quick_figures):
    base = write_run(tmp_path / "a")
    other = write_run(
        tmp_path / "b",
        regression=make_regression(poll_p_holm=0.6, graphic_p_holm=0.01),
        growth=make_growth(p_value=0.4, ratio=1.1, ratio_ci=(0.8, 1.5)),
    )
    nothing = write_run(
        tmp_path / "c",
        regression=make_regression(poll_p_holm=0.6, graphic_p_holm=0.2),
        growth=make_growth(p_value=0.5, ratio=1.0, ratio_ci=(0.9, 1.1), equivalent=True),
    )
    pages = [build_report_html(r, dataset=make_dataset(r), today=TODAY) for r in (base, other, nothing)]
    texts = [html.unescape(" ".join(summary_text(p))) for p in pages]
    assert texts[0] != texts[1] != texts[2]
    assert "posts with a graphic received 5.0% more impressions" in texts[1]
    assert "poll" not in texts[1].split("The clearest effect:")[1].split(".")[0]
    assert "The data cannot tell whether growth in followers changed after Designer <joined>" in texts[1]
    assert "ratio 1.1×, 95% CI 0.8× to 1.5×; HAC p = 0.40" in texts[1]
    assert "No post feature had a clear effect on impressions or engagements" in texts[2]
    assert "about the same before and after" in texts[2] and "TOST p = 0.01" in texts[2]


def test_key_figures_match_an_independent_computation(full):
    run, page = full
    posts = pd.read_parquet(run / "data/posts_coded.parquet")
    imp = posts["impressions"].to_numpy(dtype=float)
    rate = np.median(posts["engagements"].to_numpy(dtype=float) / imp)
    key = compute_key_figures(posts, make_account())
    assert key["n_posts"] == 40
    assert key["impressions_total"] == imp.sum()
    assert key["impressions_median"] == np.median(imp)
    assert key["engagement_rate_median"] == pytest.approx(rate)
    assert (key["followers_start"], key["followers_end"]) == (1000, 2091)  # 635 + 2·728 on 30 Dec 2022
    assert key["followers_per_day"] == pytest.approx(1091 / 728)
    block = html.unescape(section(page, "key-figures"))
    assert f"<dd>{int(imp.sum()):,}</dd>" in block
    assert f"<dd>{100 * rate:.1f}%</dd>" in block
    assert "Engagement rate = engagements ÷ impressions" in block


def test_engagement_rate_skips_posts_without_impressions():
    posts = pd.DataFrame(
        {
            "impressions": pd.array([100, 0, None, 50], dtype="Int64"),
            "engagements": pd.array([10, 3, 4, None], dtype="Int64"),
        }
    )
    assert engagement_rates(posts).tolist() == [0.1]


def test_what_works_tables_show_percent_change_ci_holm_and_published_beta(full):
    _, page = full
    block = html.unescape(section(page, "what-works"))
    row = re.search(r"<tr><td>Poll</td>(.*?)</tr>", block).group(1)
    assert "+32%" in row and "+19% to +46%" in row and "0.002" in row
    assert "As commonly published (standardized β, for comparison with the literature)" in block
    assert "+0.21" in block
    assert "Count-model check (negative binomial)" in block
    assert "Followers at post" not in block  # controls are not findings


def test_growth_section_shows_published_and_rigorous_forms(full):
    _, page = full
    block = html.unescape(section(page, "growth"))
    for text in (
        "As commonly published",
        "Rigorous (what we stand behind)",
        "slope ratio 2.0×",
        "one-tailed t-test p = 0.02",
        "R² = 1.00",
        "95% CI 1.7× to 2.3×",
        "Newey–West with 3 lag(s)",
        "TOST equivalence test, margin 0.8× to 1.25×",
        "Mann–Whitney p = 0.03",
        "fold change 2.7× (95% CI 1.2× to 5.1×)",
        "excess +363 (95% CI +330 to +400)",
    ):
        assert text in block, text


def test_several_interventions_give_one_comparison_each(tmp_path, quick_figures):
    run = write_run(tmp_path, growth=make_growth_two_changes())
    page = html.unescape(build_report_html(run, today=TODAY))
    block = section(page, "growth")
    assert block.count("the published form side by side with the rigorous form") == 2
    assert "faster after before" not in block
    assert "2.0× faster after after" in block  # without a card the period label names the change
    assert "cannot tell whether growth in followers changed after third" in block


@pytest.mark.parametrize(
    ("skip", "note"),
    [
        (
            "results/regression.csv",
            "The post-level model is not available: results/regression.csv was not found",
        ),
        ("results/growth.json", "The growth comparison is not available: results/growth.json was not found"),
        ("results/reliability.csv", "Coding reliability is not available"),
        ("results/ingest_log.json", "The list of sources is not available"),
        ("data/posts_coded.parquet", "Posting times and top posts is not available"),
        ("results/models.json", None),
        ("data/account.parquet", None),
        ("data/quarantine.csv", None),
    ],
)
def test_a_missing_optional_file_gives_a_note_not_a_crash(tmp_path, skip, note, quick_figures):
    run = write_run(tmp_path, skip=(skip,))
    page = build_report_html(run, dataset=make_dataset(run), today=TODAY)
    for ident in SECTION_IDS:
        section(page, ident)
    if note:
        assert note in html.unescape(page)


def test_an_empty_run_folder_still_renders(tmp_path, quick_figures):
    page = html.unescape(build_report_html(tmp_path, today=TODAY))
    assert "<img" not in page
    assert "No post data were available" in page
    assert "Goals are not available: the report was built without the dataset card" in page
    assert page.count("not available") >= 6


def test_no_follower_data_is_said_plainly(tmp_path, quick_figures):
    run = write_run(tmp_path, growth=make_growth(periods=False), skip=("data/account.parquet",))
    page = html.unescape(build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert "No followers data: the run had no follower series" in page
    assert "Growth in followers could not be compared: there was no followers data." in page
    assert "Follower counts are not available" in page
    goals = section(page, "goals")
    assert goals.count("not available") >= 2


def test_a_broken_results_file_is_named_not_raised(tmp_path, quick_figures):
    run = write_run(tmp_path)
    (run / "results/growth.json").write_text("{not json", encoding="utf-8")
    (run / "results/regression.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    page = html.unescape(build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert "results/growth.json could not be read (JSONDecodeError" in page
    assert (
        "results/regression.csv could not be read (InputError: regression (regression.csv) table is missing "
        "columns ['outcome', 'model', 'term', 'estimate', 'ci_low', 'ci_high']" in page
    )


def test_links_inside_post_text_are_not_urls_in_the_page(tmp_path, quick_figures):
    posts = make_posts()
    posts.loc[7, "text"] = "New paper: https://t.co/AbC123 and www.example.org/x #science"
    run = write_run(tmp_path, posts=posts)
    page = build_report_html(run, today=TODAY)
    assert "New paper: [link] and [link] #science" in page
    assert "t.co" not in page and "example.org" not in page


def test_permalinks_that_are_not_http_are_not_links(tmp_path, quick_figures):
    posts = make_posts()
    posts.loc[7, "permalink"] = "javascript:alert(3)"
    run = write_run(tmp_path, posts=posts)
    page = build_report_html(run, today=TODAY)
    assert 'href="javascript' not in page and page.count("<a href=") == 4
    assert "javascript:alert(3)" in page  # shown as text


def test_low_reliability_warning_only_when_the_code_enters_a_model(tmp_path, quick_figures):
    warned = write_run(tmp_path / "a")
    rel = RELIABILITY.assign(krippendorff_alpha=[0.92, 0.85])
    fine = write_run(tmp_path / "b", reliability=rel)
    unused = write_run(tmp_path / "c", reliability=RELIABILITY.assign(code=["has_poll", "tone"]))
    pages = [html.unescape(build_report_html(r, today=TODAY)) for r in (warned, fine, unused)]
    assert "Warning: the code graphic has Krippendorff’s α = 0.55" in pages[0]
    assert "Warning: the code" not in pages[1] and "Warning: the code" not in pages[2]
    low = low_reliability_codes(RELIABILITY, ["has_poll", "has_graphic"])
    assert low["term"].tolist() == ["has_graphic"]


def test_data_appendix_lists_sources_quarantine_and_warnings(full):
    _, page = full
    block = html.unescape(section(page, "data-appendix"))
    assert "x_legacy" in block and "follower_sheet" in block
    assert re.search(
        r"<td>Total</td><td></td><td></td><td class=\"num\">150</td><td class=\"num\">145</td>"
        r"<td class=\"num\">3</td><td class=\"num\">2</td>",
        block,
    )
    assert re.search(r"<td>unparseable date</td><td class=\"num\">2</td>", block)
    assert "ingest: raw/old.csv: column 'promoted impressions' ignored" in block
    assert "models: VIF of year is 6.2 <high>" in block


def test_methods_appendix_defines_metrics_and_caveats(full):
    _, page = full
    block = html.unescape(section(page, "methods-appendix"))
    for text in (
        "Engagement rate = engagements ÷ impressions",
        "HC3",
        "standardized β",
        "negative binomial",
        "Newey–West (HAC) standard errors with 3 lag(s)",
        "delta method",
        "TOST",
        "margin 0.8× to 1.25×",
        "R² of a cumulative series",
        "observational",
    ):
        assert text in block, text


def test_top_posts_are_the_five_most_seen_in_local_time(full):
    run, page = full
    posts = pd.read_parquet(run / "data/posts_coded.parquet")
    top = posts.sort_values("impressions", ascending=False).head(5)
    block = section(page, "posting")
    table = block.split("Top 5 posts by impressions")[1]
    shown = re.findall(r'<td class="num">([\d,]+)</td>', table)
    assert [int(s.replace(",", "")) for s in shown] == top["impressions"].tolist()
    first = top.iloc[0]["published_at"].tz_convert("America/New_York").strftime("%Y-%m-%d %H:%M")
    assert f"<td>{first}</td>" in table
    assert "descriptive" in block.lower()


def test_goals_are_assessed_against_hand_computed_projections():
    goals = [
        Goal("followers", 2000, dt.date(2023, 12, 31), "met"),
        Goal("followers", 2500, dt.date(2023, 12, 31), "on track"),
        Goal("followers", 5000, dt.date(2023, 6, 30), "behind"),
        Goal("reach", 10, dt.date(2023, 6, 30), "no data"),
    ]
    # latest: 2091 followers on 30 Dec 2022, growing 2/day
    for growth in (make_growth(), None):  # fitted slope of the last period, or a line fitted since the change
        table = assess_goals(goals, account=make_account(), growth=growth, since=CHANGE, today=TODAY)
        assert table["status"].tolist() == ["met", "on track", "not on track", "not available"]
        assert table["rate_per_day"].iloc[1] == pytest.approx(2.0)
        assert table["projected_date"].iloc[1] == dt.date(2023, 7, 23)  # +205 days = ceil(409 / 2)
        assert table["projected_date"].iloc[2] == dt.date(2026, 12, 24)  # +1455 days = ceil(2909 / 2)
    late = assess_goals(goals[2:3], account=make_account(), today=dt.date(2023, 7, 1))
    assert late["status"].tolist() == ["not met (deadline passed)"]


def test_goals_section_in_the_page(full):
    _, page = full
    block = html.unescape(section(page, "goals"))
    assert "Followers 2k" in block and "met" in block and "already met" in block
    assert "24 Dec 2026" in block and "not on track" in block


def test_growth_verdicts():
    before = {"label": "before", "slope_per_day": 1.0}
    after = {"label": "after", "slope_per_day": 0.5}

    def verdict(**results):
        return describe_growth(GrowthComparison(0, "X", before, after, results))

    assert verdict(slope_ratio=0.5, slope_ratio_ci=[0.4, 0.6], slope_change={"p_value": 0.0001}) == (
        "Growth in followers slowed after X to 0.5× the earlier rate (95% CI 0.4× to 0.6×); "
        "the change is unlikely to be noise (HAC p < 0.001)."
    )
    assert verdict(slope_ratio=1.7, slope_ratio_ci=[1.4, 2.0], slope_change={"p_value": 0.003}).startswith(
        "Growth in followers was 1.7× faster after X (95% CI 1.4× to 2.0×)"
    )
    assert "cannot tell" in verdict(
        slope_ratio=1.2, slope_change={"p_value": 0.2}, equivalence={"equivalent": False}
    )
    assert "about the same" in verdict(
        slope_ratio=1.0,
        slope_change={"p_value": 0.7},
        equivalence={"equivalent": True, "margin": [0.8, 1.25], "p_value": 0.01},
    )
    shrinking = describe_growth(
        GrowthComparison(
            0,
            "X",
            {"slope_per_day": -1.0},
            after,
            {"slope_ratio": -0.5, "slope_change": {"p_value": 0.01, "estimate": 1.5, "ci": [1.0, 2.0]}},
        )
    )
    assert shrinking.startswith(
        "Daily growth in followers rose by 1.50 per day after X (95% CI +1.00 to +2.00)"
    )


def test_number_formatting():
    assert format_int(1234) == "1,234" and format_int(None) == "n/a" and format_int(float("nan")) == "n/a"
    assert format_pct(32.4) == "32%" and format_pct(3.44) == "3.4%" and format_pct(-3, signed=True) == "−3.0%"
    assert format_pct(18.2, signed=True) == "+18%"
    assert (
        format_number(0.954) == "0.95" and format_number(1234.5) == "1,234" and format_number(12.34) == "12.3"
    )
    assert format_p(0.0004) == "< 0.001" and format_p(0.004) == "0.004" and format_p(0.412) == "0.41"
    assert format_ratio(1.734) == "1.73×" and format_ratio(0.955) == "0.95×" and format_ratio(1.70) == "1.7×"
    assert format_ratio(2) == "2.0×" and format_ratio(12.34) == "12.3×"
    assert format_date("2023-12-31") == "31 Dec 2023"


def test_describe_effect_wording():
    assert describe_effect("has_poll", "impressions", 32, 18, 47) == (
        "posts with a poll received 32% more impressions than comparable posts without (95% CI +18% to +47%)"
    )
    assert describe_effect("n_hashtags", "engagements", -12, -20, -3).startswith(
        "each additional hashtag went with 12% fewer engagements (95% CI −20% to −3.0%)"
    )


def test_render_report_writes_the_page_and_the_figures_atomically(tmp_path, monkeypatch):
    run = write_run(tmp_path / "run")
    path = render_report(run, dataset=make_dataset(run), today=TODAY)
    assert path == run / "report.html"
    page = path.read_text(encoding="utf-8")
    figures = sorted(p.name for p in (run / "results/figures").iterdir())
    assert figures == [
        "forest_engagements.png",
        "forest_impressions.png",
        "growth.png",
        "monthly.png",
        "posting_heatmap.png",
    ]
    inline = {base64.b64decode(d) for d in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)}
    files = {(run / "results/figures" / name).read_bytes() for name in figures}
    assert inline == files  # the page embeds exactly the figures written beside it
    for data in files:
        assert data.startswith(PNG_MAGIC) and b"matplotlib" not in data
    assert not list(run.glob(".*.tmp")) and not list((run / "results/figures").glob(".*"))

    monkeypatch.setattr(report, "_figure_png", lambda draw, *, figsize: PNG_MAGIC + b"stub")
    other = render_report(run, out=tmp_path / "elsewhere" / "r.html", today=TODAY)
    assert other == tmp_path / "elsewhere" / "r.html"
    assert other.read_text(encoding="utf-8") == build_report_html(run, today=TODAY)
    assert path.read_text(encoding="utf-8") == page  # untouched by the second render


class _TagBalance(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").lower().startswith("javascript"):
                self.errors.append(f"active attribute {name}={value!r}")

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_page_is_well_formed_with_no_active_attributes(full):
    _, page = full
    checker = _TagBalance()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []


def test_categorical_terms_are_described_against_the_reference_level():
    assert describe_effect("media_type[photo]", "impressions", 25, 10, 40) == (
        "posts with media type photo received 25% more impressions than posts at the reference level "
        "(95% CI +10% to +40%)"
    )


def test_monthly_comparison_without_complete_months_is_said_plainly(tmp_path, quick_figures):
    growth = make_growth()
    growth["monthly"] = {
        "metric": "impressions",
        "before_mean": None,
        "after_mean": None,
        "fold_change": None,
        "fold_change_ci": [None, None],
        "n_before": 0,
        "n_after": 0,
    }
    for row in growth["monthly_series"]:
        row["impressions"] = None
    run = write_run(tmp_path, growth=growth)
    page = html.unescape(build_report_html(run, today=TODAY))
    assert "not compared: no complete months in one of the periods" in page
    assert "Monthly values by period" not in page  # no empty chart


def test_report_renders_what_the_model_and_growth_stages_write(tmp_path, quick_figures):
    """The real fit_post_models and compare_growth outputs (two interventions) go through the report."""
    from workbench.growth import compare_growth
    from workbench.models import describe_effects, fit_post_models

    rng = np.random.default_rng(5)
    posts = make_posts(300)
    posts["followers_at_post"] = 1000 + np.arange(300)
    poll = np.where(posts["has_poll"], 1.5, 1.0)
    posts["impressions"] = pd.array((np.exp(rng.normal(7, 0.4, 300)) * poll).astype(int), dtype="Int64")
    account = make_account()
    account["followers"] += pd.array(rng.integers(-3, 4, len(account)), dtype="Int64")
    models = fit_post_models(posts, predictors=("has_poll", "has_graphic", "n_hashtags"))
    interventions = (
        Intervention(CHANGE, "Designer <joined>"),
        Intervention(dt.date(2022, 7, 1), "Newsletter"),
    )
    growth = json.loads(json.dumps(compare_growth(account, interventions=interventions, posts=posts)))
    sentences = {o: describe_effects(models.table, outcome=o) for o in ("impressions", "engagements")}
    run = write_run(
        tmp_path,
        posts=posts,
        account=account,
        regression=models.table,
        growth=growth,
        models={"primary_model": "ols_log", "sentences": sentences, "warnings": models.warnings},
    )
    dataset = Dataset(
        root=run, name="lab", title="Lab", timezone="America/New_York", interventions=interventions
    )
    page = html.unescape(build_report_html(run, dataset=dataset, today=TODAY))
    summary = " ".join(summary_text(page))
    assert "posts with a poll received" in summary and "more impressions" in summary
    assert "Growth in followers was 2.0" in summary and "faster after Designer <joined>" in summary
    assert "The growth section also compares the later change(s): Newsletter." in summary
    block = section(page, "growth")
    assert block.count("the published form side by side with the rigorous form") == 2
    assert "n/a per day" not in block
    assert "Newey–West with" in block and "delta method" in block
    assert quick_figures and page.count("data:image/png;base64,") == 5  # 2 forests, growth, monthly, heatmap


def test_an_unexpected_error_in_one_section_leaves_the_rest_of_the_report(
    tmp_path, quick_figures, monkeypatch
):
    run = write_run(tmp_path)

    def broken(self):
        raise KeyError("slope_per_day")

    monkeypatch.setattr(report._ReportBuilder, "growth_section", broken)
    with pytest.warns(RuntimeWarning, match="Growth before and after"):
        page = html.unescape(build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert "This section could not be built: KeyError: 'slope_per_day'" in section(page, "growth")
    assert "posts with a poll received 32% more impressions" in section(page, "summary")


def test_a_result_that_cannot_be_interpreted_is_named_in_the_appendix(tmp_path, quick_figures, monkeypatch):
    run = write_run(tmp_path)

    def broken(growth, *, interventions=()):
        raise ValueError("periods overlap")

    monkeypatch.setattr(report, "growth_comparisons", broken)
    with pytest.warns(RuntimeWarning, match="growth comparisons"):
        page = html.unescape(build_report_html(run, today=TODAY))
    assert "(the growth comparisons) could not be computed: ValueError: periods overlap" in page
    assert "posts with a poll received 32% more impressions" in section(page, "summary")


def test_growth_results_of_the_wrong_shape_are_not_read(tmp_path, quick_figures):
    growth = make_growth()
    growth["periods"] = "not a list"
    run = write_run(tmp_path, growth=growth)
    page = html.unescape(build_report_html(run, today=TODAY))
    assert (
        "The growth comparison is not available: results/growth.json could not be read (InputError: "
        "growth.json: 'periods' must be a list of objects"
    ) in section(page, "growth")
    assert "Growth before and after interventions was not analysed" in section(page, "summary")
