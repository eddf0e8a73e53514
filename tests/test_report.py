"""Tests of the leadership report: content, safety (escaping, no scripts or external URLs), missing files."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import html
import json
import math
import re
import warnings
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from markupsafe import escape as _markup_escape
from matplotlib.figure import Figure

from workbench import findings, report
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

REPO = Path(__file__).resolve().parents[1]


def esc(text: str) -> str:
    """Escaped as the report's templates escape (Jinja2/MarkupSafe: ' becomes &#39;)."""
    return str(_markup_escape(text))
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
    # the header each cell carries for the phone layout (data-label) is not what these tests look at
    return re.sub(r' data-label="[^"]*"', "", match.group(1))


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

    monkeypatch.setattr(report.render, "_figure_png", draw_only)
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
            assert esc(s) in section(page, "what-works")
    assert "the poll&#39;s effect" in page


def test_report_has_no_scripts_and_no_external_urls_but_post_permalinks(full):
    run, page = full
    assert "<script" not in page.lower()
    assert "javascript:" not in page.lower()
    without_images = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", without_images))
    permalinks = set(pd.read_parquet(run / "data/posts_coded.parquet")["permalink"])
    assert urls and urls <= permalinks
    assert len(urls) == 40  # every post is in the table (top 50 shown), each with its own permalink
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
    assert esc(EVIL_FILE) in page and "<b onmouseover" not in page
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
    assert "Of 2 goals: 1 met, 1 not on track" in text
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
    assert "faster after after" not in block
    # without a card the periods' labels name no event: the change is named by its date
    assert re.search(r"2\.0× faster from \d+ \w+ \d{4} on", block)
    assert re.search(r"cannot tell whether growth in followers changed from \d+ \w+ \d{4} on", block)
    assert "changed after third" not in block


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
    # the methods appendix names t.co and example.org in the feature definitions; the post's links are gone
    assert "t.co/AbC123" not in page and "www.example.org" not in page


def test_permalinks_that_are_not_http_are_not_links(tmp_path, quick_figures):
    posts = make_posts()
    posts.loc[7, "permalink"] = "javascript:alert(3)"
    run = write_run(tmp_path, posts=posts)
    page = build_report_html(run, today=TODAY)
    # 39 http permalinks of the 40 posts (all shown) plus one contents anchor per section; javascript: is text
    assert 'href="javascript' not in page and page.count('<a href="http') == 39
    assert page.count('<a href="#') == len(report.SECTIONS) - 1  # no paid data: "Paid results" left out
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


def test_top_posts_are_every_post_most_seen_first_in_local_time(full):
    run, page = full
    posts = pd.read_parquet(run / "data/posts_coded.parquet")
    top = posts.sort_values("impressions", ascending=False, kind="stable")  # 40 posts: all in the top 50
    block = section(page, "posting")
    table = block.split("Top 40 posts by impressions")[1]
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
    # judged at the end of the data (30 Dec 2022), not at today's date: a deadline that passed after the data
    # ended is a projection, and the row says so
    late = assess_goals(goals[2:3], account=make_account(), today=dt.date(2023, 7, 1))
    assert late["status"].tolist() == ["not on track"]
    assert late["as_of"].tolist() == [dt.date(2022, 12, 30)]
    assert "the data end on 2022-12-30, before the deadline (2023-06-30)" in late["reason"].iloc[0]


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

    monkeypatch.setattr(report.render, "_figure_png", lambda draw, *, figsize: PNG_MAGIC + b"stub")
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

    def broken(ctx):
        raise KeyError("slope_per_day")

    sections = [report.Section(s.id, s.title, broken) if s.id == "growth" else s for s in report.SECTIONS]
    monkeypatch.setattr(report.render, "SECTIONS", sections)
    with pytest.warns(RuntimeWarning, match="Growth before and after"):
        page = html.unescape(build_report_html(run, dataset=make_dataset(run), today=TODAY))
    assert "This section could not be built: KeyError: 'slope_per_day'" in section(page, "growth")
    assert "posts with a poll received 32% more impressions" in section(page, "summary")


def test_a_result_that_cannot_be_interpreted_is_named_in_the_appendix(tmp_path, quick_figures, monkeypatch):
    run = write_run(tmp_path)

    def broken(growth, *, interventions=()):
        raise ValueError("periods overlap")

    monkeypatch.setattr(findings, "growth_comparisons", broken)
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


# ----------------------------------------------------------------------------------------------------------------
# Before/after medians, "cannot tell", handles, codebook and feature definitions, accessibility, screenshot
# ----------------------------------------------------------------------------------------------------------------


def test_median_ci_ranks_match_hand_computed_binomial_tails():
    # n = 10: P(B ≤ 1) = 11/1024 < 0.025 ≤ P(B ≤ 2) = 56/1024, so x(2)..x(9) with coverage 1 − 22/1024
    assert report.median_ci_ranks(10) == (2, 9, pytest.approx(1 - 22 / 1024))
    assert report.median_ci_ranks(6) == (1, 6, pytest.approx(1 - 2 / 64))  # P(B ≤ 0) = 1/64
    assert report.median_ci_ranks(5) is None  # 1/32 > 0.025: no 95% interval exists
    assert report.median_ci_ranks(0) is None
    for n in (7, 30, 101, 1000):
        low, high, coverage = report.median_ci_ranks(n)
        assert high == n - low + 1 and coverage >= 0.95
        # one rank further in would fall below 95%
        assert 1 - 2 * sum(math.comb(n, k) for k in range(low + 1)) / 2**n < 0.95


def test_ratio_of_medians_by_hand():
    before = np.arange(1.0, 12.0)  # median 6; n = 11 → ranks 2 and 10, coverage 1 − 24/2048
    res = report.ratio_of_medians(before, 2 * before)
    assert (res["median_before"], res["median_after"], res["ratio"]) == (6.0, 12.0, 2.0)
    z_c = 2.5205  # Φ⁻¹(1 − 12/2048), from a normal table
    se = (math.log(10) - math.log(2)) / (2 * z_c)
    half = 1.959964 * math.sqrt(2) * se
    assert res["ratio_ci"] == pytest.approx([2 * math.exp(-half), 2 * math.exp(half)], rel=1e-4)
    swapped = report.ratio_of_medians(2 * before, before)
    assert swapped["ratio_ci"] == pytest.approx([1 / res["ratio_ci"][1], 1 / res["ratio_ci"][0]])
    scaled = report.ratio_of_medians(7 * before, 14 * before)
    assert scaled["ratio_ci"] == pytest.approx(res["ratio_ci"])  # units do not matter
    small = report.ratio_of_medians([1, 2, 3], [4, 5, 6, 7, 8, 9])
    assert small["ratio"] == 6.5 / 2 and small["ratio_ci"] == [None, None]  # n = 3: no interval
    zero = report.ratio_of_medians([0, 0, 0, 1], [1, 2])
    assert zero["ratio"] is None and zero["ratio_ci"] == [None, None]
    with_na = report.ratio_of_medians(pd.array([1, None, 3], dtype="Int64"), [2.0, np.nan, 6.0])
    assert (with_na["n_before"], with_na["median_before"], with_na["ratio"]) == (2, 2.0, 2.0)


def test_ratio_of_medians_interval_agrees_with_a_bootstrap():
    rng = np.random.default_rng(11)
    before, after = rng.lognormal(7, 1.0, 400), rng.lognormal(7.4, 1.2, 300)
    res = report.ratio_of_medians(before, after)
    boot_b = np.median(rng.choice(before, size=(2000, before.size)), axis=1)
    boot_a = np.median(rng.choice(after, size=(2000, after.size)), axis=1)
    reference = np.percentile(boot_a / boot_b, [2.5, 97.5])
    assert res["ratio"] == pytest.approx(np.median(after) / np.median(before))
    assert res["ratio_ci"] == pytest.approx(reference, rel=0.08)


def test_ratio_of_medians_covers_the_true_ratio_about_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    truth = 1.5  # lognormal medians e^6 and 1.5·e^6
    hits = 0
    reps = 400
    for _ in range(reps):
        low, high = report.ratio_of_medians(
            rng.lognormal(6, 1.0, 40), rng.lognormal(6 + np.log(truth), 1.0, 60)
        )["ratio_ci"]
        hits += low <= truth <= high
    assert 0.92 <= hits / reps <= 0.99


def test_compare_post_medians_splits_on_the_local_date():
    posts = pd.DataFrame(
        {
            # 03:00 UTC on 1 Jan 2022 is still 31 Dec 2021 in New York: before the change
            "published_at": pd.to_datetime(
                [
                    "2021-12-01 12:00",
                    "2022-01-01 03:00",
                    "2021-11-01 12:00",
                    "2022-01-01 06:00",
                    "2022-02-01 12:00",
                    "2022-03-01 12:00",
                ],
                utc=True,
            ),
            "impressions": pd.array([100, 300, 200, 1000, 2000, None], dtype="Int64"),
            "engagements": pd.array([10, 3, 4, 100, 100, 5], dtype="Int64"),
        }
    )
    table = report.compare_post_medians(posts, split=CHANGE, timezone="America/New_York").set_index("metric")
    imp = table.loc["impressions"]
    assert (imp["n_before"], imp["n_after"]) == (3, 2)
    assert (imp["median_before"], imp["median_after"]) == (200, 1500)
    # 3 and 2 posts: below the models' minimum per group, so no ratio (and no interval), and the note says why
    assert np.isnan(imp["ratio"]) and np.isnan(imp["ratio_ci_low"])
    assert "needs at least 10 on each side" in imp["note"]
    rate = table.loc["engagement_rate"]
    assert rate["median_before"] == pytest.approx(0.02) and rate["median_after"] == pytest.approx(0.075)
    utc = report.compare_post_medians(posts, split=CHANGE).set_index("metric").loc["impressions"]
    assert (utc["n_before"], utc["n_after"]) == (2, 3)


def test_key_figures_show_the_change_at_the_first_intervention(full):
    run, page = full
    posts = pd.read_parquet(run / "data/posts_coded.parquet")
    local = posts["published_at"].dt.tz_convert("America/New_York").dt.date
    imp = posts["impressions"].astype(float)
    before, after = imp[local < CHANGE], imp[local >= CHANGE]
    block = html.unescape(section(page, "key-figures"))
    assert "<h3>Before and after Designer <joined></h3>" in block
    row = re.search(r'<th scope="row">Impressions per post, median \(descriptive, unadjusted\)</th>(.*?)</tr>', block).group(1)
    assert f"{np.median(before):,.0f} ({len(before)} posts)" in row
    assert f"{np.median(after):,.0f} ({len(after)} posts)" in row
    assert format_ratio(np.median(after) / np.median(before)) + " (95% CI " in row
    growth_row = re.search(r'<th scope="row">Followers gained per day.*?</tr>', block).group(0)
    assert "+1.00" in growth_row and "+2.00" in growth_row and "2.0× (95% CI 1.7× to 2.3×)" in growth_row
    assert "2.7× (95% CI 1.2× to 5.1×)" in block  # the monthly fold change from growth.json
    summary = " ".join(summary_text(page))
    ratio = format_ratio(np.median(after) / np.median(before))
    assert f"After Designer &lt;joined&gt;, the median post was seen {ratio} as often as before" in summary


def test_no_intervention_means_no_change_table(tmp_path, quick_figures):
    run = write_run(tmp_path, growth=make_growth(periods=False))
    dataset = Dataset(root=run, name="lab", title="Lab")
    block = html.unescape(section(build_report_html(run, dataset=dataset, today=TODAY), "key-figures"))
    assert "No intervention is set in the dataset card" in block and "Change at" not in block


def test_thin_features_are_found_in_diagnostics_and_warnings():
    models = {
        "diagnostics": {
            "impressions": {"flags": ["rare level: has_poll (with: 4)", "too few posts", 3]},
            "engagements": {"flags": ["rare level: has_poll (with: 4)", "rare level: has_gif (without: 1)"]},
            "broken": "not a mapping",
        },
        "warnings": [
            "impressions: only 4 of 40 posts with 'has_poll' (fewer than 10); its estimate is imprecise.",
            "likes: only 2 of 40 posts without 'has_url' (fewer than 10); its estimate is imprecise.",
            "VIF of year is 6.2",
        ],
    }
    assert report.find_thin_effects(models) == {
        ("impressions", "has_poll"): "only 4 posts with it",
        ("engagements", "has_poll"): "only 4 posts with it",
        ("engagements", "has_gif"): "only 1 post without it",
        ("likes", "has_url"): "only 2 posts without it",
    }
    for junk in (None, {}, {"diagnostics": [1], "warnings": "x"}, []):
        assert report.find_thin_effects(junk) == {}


def test_thin_features_match_what_fit_post_models_writes():
    from workbench.models import fit_post_models

    posts = make_posts(120)
    posts["has_poll"] = np.arange(120) < 4  # four polls
    with pytest.warns(Warning):
        fitted = fit_post_models(posts, predictors=("has_poll", "has_graphic"), controls=())
    models = json.loads(json.dumps({"warnings": fitted.warnings, "diagnostics": fitted.diagnostics}))
    thin = report.find_thin_effects(models)
    assert thin[("impressions", "has_poll")] == "only 4 posts with it"
    assert ("impressions", "has_graphic") not in thin
    assert report.find_thin_effects({"warnings": models["warnings"]}) == thin


def test_a_feature_with_too_few_posts_is_cannot_tell_not_a_finding(tmp_path, quick_figures):
    models = dict(MODELS, diagnostics={"impressions": {"flags": ["rare level: has_poll (with: 4)"]}})
    run = write_run(tmp_path, models=models)
    page = html.unescape(build_report_html(run, dataset=make_dataset(run), today=TODAY))
    summary = " ".join(summary_text(page))
    clearest = summary.split("The clearest effect:")[1]
    assert clearest.startswith(" posts with a poll received 16% more engagements")  # not the thin 32%
    assert "1 of 6 feature–outcome estimates held up" in clearest
    assert (
        "the data cannot tell for poll: too few posts with or without the feature (fewer than 10)" in summary
    )
    block = section(page, "what-works")
    assert "Cannot tell for poll: only 4 posts with it (fewer than 10 posts in a group)" in block
    impressions = block.split("<h3>Impressions</h3>")[1].split("<h3>")[0]
    poll_row = re.search(r"<tr><td>Poll</td>(.*?)</tr>", impressions).group(1)
    assert "cannot tell: only 4 posts with it" in poll_row
    engagements = block.split("<h3>Engagements</h3>")[1]
    assert "<td>clear</td>" in re.search(r"<tr><td>Poll</td>(.*?)</tr>", engagements).group(1)
    assert "Forest plot for impressions: every feature" in page  # the alt text claims no clear effect


def test_other_peoples_handles_are_masked_unless_allowed(tmp_path, quick_figures):
    texts = pd.Series(
        ["Thanks @Alice_S and @LAB! mail a@b.org", "@lab_team cc ＠bob", None, "no mentions"], dtype="string"
    )
    masked = report.mask_handles(texts, own=["@lab"])
    assert masked.iloc[0] == "Thanks @… and @LAB! mail a@b.org"
    assert masked.iloc[1] == "@… cc @…"
    assert pd.isna(masked.iloc[2]) and masked.iloc[3] == "no mentions"
    assert texts.iloc[0].startswith("Thanks @Alice_S")  # the input is not changed

    posts = make_posts()
    posts.loc[7, "text"] = "Great talk by @Alice_S with @lab"
    run = write_run(tmp_path, posts=posts)
    hidden = build_report_html(run, today=TODAY)
    assert "Great talk by @… with @lab" in hidden and "Alice_S" not in hidden
    assert "@handles of other accounts are shown as @…" in html.unescape(hidden)
    shown = build_report_html(run, today=TODAY, show_handles=True)
    assert "Great talk by @Alice_S with @lab" in shown and "shown as @…" not in shown


def test_the_codebook_is_read_defensively(tmp_path):
    codes, problems = report.read_codebook(REPO / "data/example/codebook.yml")
    assert [c["name"] for c in codes] == ["has_poll", "has_graphic"]
    assert codes[0]["type"] == "binary" and codes[0]["definition"].startswith(
        "The post contains a native X poll"
    )
    assert " · " in codes[0]["examples"] and problems == []
    odd = tmp_path / "odd.yml"
    odd.write_text(
        "codes:\n  - {name: tone, definition: [a, b], examples: one}\n  - just text\n  - {type: binary}\n",
        encoding="utf-8",
    )
    codes, problems = report.read_codebook(odd)
    assert codes == [
        {"name": "tone", "type": "", "definition": "a · b", "include": "", "exclude": "", "examples": "one"}
    ]
    assert problems == [
        "odd.yml: code entry 2 has no name; skipped.",
        "odd.yml: code entry 3 has no name; skipped.",
    ]
    for text, message in (
        ("codes: {a: 1}", r"odd.yml.*expected a 'codes:' list.*found dict"),
        ("- a\n- b", r"expected a 'codes:' list.*found list"),
        ("codes: [unclosed", r"odd.yml.*could not be read: (ParserError|ScannerError)"),
    ):
        odd.write_text(text, encoding="utf-8")
        with pytest.raises(report.InputError, match=message):
            report.read_codebook(odd)


def test_methods_appendix_prints_feature_and_codebook_definitions(tmp_path, quick_figures):
    from workbench.features import FEATURE_DESCRIPTIONS

    run = write_run(tmp_path / "run")
    folder = tmp_path / "dataset"
    folder.mkdir()
    (folder / "codebook.yml").write_text(
        (REPO / "data/example/codebook.yml")
        .read_text(encoding="utf-8")
        .replace("A photo from the annual meeting", "A photo <b>from</b> the meeting"),
        encoding="utf-8",
    )
    dataset = Dataset(root=folder, name="lab", title="Lab", codebook="codebook.yml")
    page = build_report_html(run, dataset=dataset, today=TODAY)
    block = section(page, "methods-appendix")
    for name, text in FEATURE_DESCRIPTIONS.items():
        assert f"<td>{name}</td><td>{esc(text)}</td>" in block
    assert "Manual codes as defined in codebook.yml" in block
    assert '<th scope="row">has_poll</th><td>binary</td><td>The post contains a native X poll' in block
    assert "Questions asked in text without a poll" in html.unescape(block)  # exclude
    assert "A photo &lt;b&gt;from&lt;/b&gt; the meeting" in block
    missing = Dataset(root=tmp_path / "nowhere", name="lab", title="Lab", codebook="codebook.yml")
    no_file = html.unescape(section(build_report_html(run, dataset=missing, today=TODAY), "methods-appendix"))
    assert "The codebook is not available: codebook.yml was not found in the dataset folder." in no_file
    none = html.unescape(
        section(build_report_html(run, dataset=make_dataset(run), today=TODAY), "methods-appendix")
    )
    assert "The dataset card names no codebook" in none


class _Outline(HTMLParser):
    """Headings in order, tables with their captions, header cells with their scope."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tables = 0
        self.captions = 0
        self.th_scopes: list[str | None] = []
        self.lang: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "table":
            self.tables += 1
        elif tag == "caption":
            self.captions += 1
        elif tag == "th":
            self.th_scopes.append(attrs.get("scope"))
        elif tag == "html":
            self.lang = attrs.get("lang")


@pytest.mark.parametrize("folder", ["full", "empty"])
def test_headings_nest_and_every_table_has_a_caption_and_scoped_headers(
    full, tmp_path, folder, quick_figures
):
    page = full[1] if folder == "full" else build_report_html(tmp_path, today=TODAY)
    outline = _Outline()
    outline.feed(page)
    assert outline.lang == "en"
    assert outline.headings[0] == 1 and outline.headings.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(outline.headings, outline.headings[1:], strict=False))
    assert outline.tables == outline.captions and outline.tables >= (10 if folder == "full" else 1)
    assert outline.th_scopes and set(outline.th_scopes) <= {"col", "row"}


def test_screenshot_report_says_why_it_cannot_take_one(tmp_path, monkeypatch, caplog):
    page = tmp_path / "report.html"
    page.write_text("<!DOCTYPE html><html lang='en'><title>t</title><h1>t</h1></html>", encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_CHROMIUM", str(tmp_path / "no-such-browser"))
    with caplog.at_level("WARNING", logger="workbench.report"):
        assert report.screenshot_report(page, tmp_path / "shot.png") is None
        assert report.screenshot_report(tmp_path / "missing.html", tmp_path / "shot.png") is None
    assert "no Chromium found" in caplog.text and "WORKBENCH_CHROMIUM" in caplog.text
    assert "missing.html does not exist" in caplog.text
    assert not (tmp_path / "shot.png").exists()

    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("WORKBENCH_CHROMIUM", str(fake))
    caplog.clear()
    with caplog.at_level("WARNING", logger="workbench.report"):
        assert report.screenshot_report(page, tmp_path / "shot.png") is None
    assert "wrote no PNG (cannot open display)" in caplog.text


def test_first_screen_starts_no_browser_unless_asked_and_drops_a_stale_picture(tmp_path, monkeypatch, caplog):
    """The report stage keeps a screenshot only when asked (workbench run --screenshot): otherwise no browser starts,
    a PNG of an earlier report is removed (it would show an older report) and the notebook's log says why."""
    page = tmp_path / "report.html"
    page.write_text("<!DOCTYPE html><html lang='en'><title>t</title><h1>t</h1></html>", encoding="utf-8")
    started = tmp_path / "browser-started"
    fake = tmp_path / "fake-chromium"
    fake.write_text(f"#!/bin/sh\ntouch {started}\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("WORKBENCH_CHROMIUM", str(fake))
    stale = tmp_path / "results" / "report_first_screen.png"
    stale.parent.mkdir()
    stale.write_bytes(b"\x89PNG\r\n\x1a\nan older report")
    with caplog.at_level("WARNING", logger="workbench.report"):
        assert report.first_screen(page, stale, take=False) is None
    assert not stale.exists() and not started.exists()
    assert "not asked for" in caplog.text and "--screenshot" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="workbench.report"):
        assert report.first_screen(page, stale, take=True) is None  # asked for: the browser runs (and fails here)
    assert started.exists() and "wrote no PNG" in caplog.text


# ----------------------------------------------------------------------------------------------------------------
# Model diagnostics and controls sensitivity (results/models.json)
# ----------------------------------------------------------------------------------------------------------------

EVIL_ID = '<b id="x">9</b>'


def make_diagnosed_models() -> dict:
    """A hand-made models.json in the shape save_post_models writes, with numbers chosen to check formatting."""
    impressions = {
        "n": 37,
        "n_total": 40,
        "n_dropped": 3,
        "dropped": {"followers_at_post is NA": 3, "year is NA": 0},
        "terms": {
            "has_poll": "predictor",
            "has_graphic": "predictor",
            "n_hashtags": "predictor",
            "followers_at_post": "control",
            "year": "control",
        },
        "vif": {
            "has_poll": 1.2,
            "has_graphic": 1.1,
            "n_hashtags": 1.0,
            "followers_at_post": 3.1,
            "year": 6.25,
        },
        "vif_flags": ["year"],
        "flags": [
            "rare level: has_poll (with: 4)",
            "VIF > 5: year",
            "separation: has_graphic (without: all 0)",
        ],
        "zero_share": 0.05,
        "residuals": {"ols_log": {"skew": 1.234, "excess_kurtosis": 2.5, "bp_p": 0.0042, "bp_r2": 0.21}},
        "overdispersion": {"negbin": {"ct_p": 0.03, "lr_p": 0.0004, "overdispersed": True}},
        "n_cook_above_4_over_n": 4,
        "influential": [
            {"row": 3, "post_id": "103", "permalink": "https://x.com/lab/status/103?a=1&b=2", "cook_d": 0.31},
            {"row": 1, "post_id": "101", "permalink": "https://x.com/lab/status/101", "cook_d": 0.05},
            {"row": 5, "post_id": EVIL_ID, "permalink": "javascript:alert(5)", "cook_d": 0.42},
            {"row": 2, "post_id": "102", "permalink": "https://x.com/lab/status/102", "cook_d": 0.12},
        ],
        "separation": [{"term": "has_graphic", "level": 0, "n_posts": 3, "outcome_value": 0}],
        "converged": {"ols_log": True, "ols_std": True, "negbin": True},
    }
    engagements = {
        "n": 40,
        "n_total": 40,
        "n_dropped": 0,
        "dropped": {},
        "vif": {"has_poll": 1.5},
        "flags": [],
        "separation": [],
        "zero_share": 0.0,
        "residuals": {"ols_log": {"skew": -0.4, "bp_p": 0.5}},
        "overdispersion": {"negbin": {"error": "the Poisson model of the same design could not be fitted"}},
        "n_cook_above_4_over_n": 0,
        "influential": [],
        "rate_model": {
            "exposure": "impressions",
            "n": 38,
            "dropped": {"impressions is NA": 2, "impressions is 0": 0},
        },
        # no top-level sensitivity rows for engagements: read from here instead
        "controls_sensitivity": {
            "has_poll": {
                "effect_pct_without_controls": 40.0,
                "effect_pct_with_controls": 16.0,
                "change_pct_points": -24.0,
                "n": 40,
            },
        },
        "converged": {"ols_log": True, "negbin": True, "negbin_rate": True},
    }
    sensitivity = [
        {
            "outcome": "impressions",
            "term": "has_poll",
            "effect_pct_without_controls": 19.35,
            "effect_pct_with_controls": 32.0,
            "change_pct_points": 12.65,
            "n": 37,
        },
        {
            "outcome": "impressions",
            "term": "has_graphic",
            "effect_pct_without_controls": 8.0,
            "effect_pct_with_controls": 5.0,
            "change_pct_points": -3.0,
            "n": 37,
        },
        # a control never appears in the "only predictors" table
        {
            "outcome": "impressions",
            "term": "followers_at_post",
            "effect_pct_without_controls": 1.0,
            "effect_pct_with_controls": 1.0,
            "change_pct_points": 0.0,
            "n": 37,
        },
        {
            "outcome": "impressions",
            "term": "n_hashtags",
            "effect_pct_without_controls": None,
            "effect_pct_with_controls": -3.0,
            "change_pct_points": None,
            "n": 37,
        },
    ]
    return dict(
        MODELS,
        primary_reason="Residuals <roughly> symmetric.",
        diagnostics={
            "impressions": impressions,
            "engagements": engagements,
            "primary": {"model": "ols_log", "reason": "from diagnostics"},
            "sensitivity": sensitivity,
        },
    )


def _block(page: str, start: str, end: str) -> str:
    assert start in page, start
    return page.split(start, 1)[1].split(end, 1)[0]


def _check_rows(table_html: str) -> dict[str, str]:
    """{check: raw cell HTML} of a (check, result) table."""
    found = re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td></tr>', table_html)
    return {html.unescape(check): cell for check, cell in found}


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory) -> str:
    run = write_run(tmp_path_factory.mktemp("diag"), models=make_diagnosed_models())
    return build_report_html(run, dataset=make_dataset(run), today=TODAY)


def test_controls_sensitivity_follows_each_outcome_table_with_the_file_numbers(diagnosed):
    block = section(diagnosed, "what-works")
    impressions = _block(block, "<h3>Impressions</h3>", "<h3>")
    main, sens = impressions.split("<h4>How much does this depend on the controls?</h4>")
    assert "% change per feature (primary model" in main  # the sensitivity comes after the outcome's table
    assert (
        "<caption>Impressions: % change per feature without and with the controls (OLS on log scale; n = 37 posts)"
        in sens
    )
    assert re.findall(r'<th scope="col">(.*?)</th>', sens) == [
        "Feature",
        "% change without controls",
        "% change with controls",
        "Change (percentage points)",
    ]
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", sens)
    cells = {f: re.findall(r'<td class="num">(.*?)</td>', rest) for f, rest in rows}
    assert list(cells) == ["Poll", "Graphic", "Hashtags (count)"]  # file order, the control left out
    assert cells["Poll"] == ["+19%", "+32%", "+12.7 points"]
    assert cells["Graphic"] == ["+8.0%", "+5.0%", "−3.00 points"]
    assert cells["Hashtags (count)"] == ["n/a", "−3.0%", "not available"]
    # engagements: no top-level records, so the per-outcome controls_sensitivity is used
    engagements = _block(block, "<h3>Engagements</h3>", "<h3>")
    sens = engagements.split("<h4>How much does this depend on the controls?</h4>")[1].split("</table>")[0]
    assert re.findall(r'<td class="num">(.*?)</td>', sens) == ["+40%", "+16%", "−24.0 points"]
    assert "n = 40 posts" in sens


def test_model_diagnostics_table_shows_the_file_numbers(diagnosed):
    block = section(diagnosed, "methods-appendix")
    diag = _block(block, "<h3>Model diagnostics</h3>", "<h3>")
    impressions = _block(diag, "<h4>Impressions</h4>", "<h4>")
    assert "<caption>Impressions: model diagnostics</caption>" in impressions
    rows = {k: html.unescape(v) for k, v in _check_rows(impressions).items()}
    assert rows["Posts used"] == "37 of 40"
    assert rows["Posts dropped (missing values)"] == "3 (followers_at_post is NA: 3)"
    assert rows["Largest VIF"] == "year: 6.25 — above 5: collinear"
    assert rows["Terms with VIF above 5"] == "year (6.25, control)"
    assert rows["Share of posts with 0 impressions"] == "5.0%"
    assert rows["Residual skew (log scale)"] == "1.23 (excess kurtosis 2.50)"
    assert rows["Heteroskedasticity (Breusch–Pagan) p"] == "p = 0.004 (R² of the squared residuals 0.21)"
    assert (
        rows["Overdispersion vs Poisson p (negbin)"] == "Cameron–Trivedi p = 0.03; likelihood ratio p < 0.001"
    )
    assert rows["Posts with Cook's distance > 4/n"] == "4"
    assert rows["Separation and rare levels"] == (
        "rare level: has_poll (with: 4); separation: has_graphic (without: all 0)"
    )
    assert "Posts in the engagement-rate model" not in rows  # impressions has no rate model
    # the three largest Cook's distances, largest first; 101 (D = 0.05) is the fourth
    influential = _check_rows(impressions)["Most influential posts"]
    assert "101" not in influential
    order = [influential.index(s) for s in ("alert(5)", "status/103", "status/102")]
    assert order == sorted(order)
    assert "(D = 0.42)" in influential and "(D = 0.31)" in influential and "(D = 0.12)" in influential

    engagements = _block(diag, "<h4>Engagements</h4>", "<h4>")
    rows = {k: html.unescape(v) for k, v in _check_rows(engagements).items()}
    assert rows["Posts dropped (missing values)"] == "0"
    assert rows["Largest VIF"] == "has_poll: 1.50 (all ≤ 5)" and rows["Terms with VIF above 5"] == "none"
    assert rows["Share of posts with 0 engagements"] == "0.0%"
    assert rows["Residual skew (log scale)"] == "−0.40"
    assert rows["Heteroskedasticity (Breusch–Pagan) p"] == "p = 0.50"
    assert rows["Overdispersion vs Poisson p (negbin)"] == (
        "not available: the Poisson model of the same design could not be fitted"
    )
    assert rows["Posts in the engagement-rate model"] == "38 (left out: impressions is NA: 2)"
    assert rows["Most influential posts"] == "none" and rows["Separation and rare levels"] == "none"

    text = html.unescape(_block(diag, "<h4>Primary model</h4>", "<h4>"))
    assert "Primary model: ols_log." in text and "Why: Residuals <roughly> symmetric." in text
    fitted = html.unescape(diag.split("<h4>Models fitted</h4>")[1])
    items = re.findall(r"<li>(.*?)</li>", fitted)
    assert [i.split(":")[0] for i in items] == ["ols_log", "ols_std", "negbin", "negbin_rate"]
    assert "the primary model. (fitted)" in items[0]
    assert "published form" in items[1] and "count-model check" in items[2]
    assert "engagement rate per impression" in items[3] and items[3].endswith("(fitted)")


def test_influential_permalinks_are_escaped_and_only_http_ones_are_links(diagnosed):
    diag = _block(section(diagnosed, "methods-appendix"), "<h3>Model diagnostics</h3>", "<h3>")
    links = re.findall(r'<a href="([^"]*)" rel="noopener noreferrer">([^<]*)</a>', diag)
    assert links == [
        ("https://x.com/lab/status/103?a=1&amp;b=2", "post 103"),
        ("https://x.com/lab/status/102", "post 102"),
    ]
    assert 'href="javascript' not in diagnosed and "javascript:alert(5)" in diag  # shown as text only
    assert esc(f"post {EVIL_ID}") in diag and EVIL_ID not in diagnosed
    assert "<script" not in diagnosed.lower()


def test_the_new_tables_keep_headings_nested_and_captioned(diagnosed):
    outline = _Outline()
    outline.feed(diagnosed)
    assert all(b <= a + 1 for a, b in zip(outline.headings, outline.headings[1:], strict=False))
    assert outline.tables == outline.captions
    assert set(outline.th_scopes) <= {"col", "row"}


@pytest.mark.parametrize(
    "models",
    [
        {"primary_model": "ols_log"},  # an old models.json: no diagnostics at all
        {"diagnostics": {"impressions": {"n": 40}, "engagements": {"vif": "broken"}, "sensitivity": "x"}},
        {"diagnostics": [1, 2]},
        {
            "diagnostics": {
                "impressions": {"n": 40, "influential": [None, {"cook_d": "big"}], "residuals": []},
                "primary": [],
                "sensitivity": [{"outcome": "impressions"}, 3],
            }
        },
    ],
)
def test_missing_or_malformed_diagnostics_say_not_available(tmp_path, quick_figures, models):
    run = write_run(tmp_path, models=dict(MODELS, **models) if "diagnostics" in models else models)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="report", category=RuntimeWarning)
        page = build_report_html(run, dataset=make_dataset(run), today=TODAY)
    what = html.unescape(section(page, "what-works"))
    assert "How much the impressions effects depend on the controls is not available" in what
    methods = html.unescape(section(page, "methods-appendix"))
    assert "This section could not be built" not in page
    diag = _block(methods, "<h3>Model diagnostics</h3>", "<h3>")
    if "<h4>Impressions</h4>" in diag:
        rows = _check_rows(_block(diag, "<h4>Impressions</h4>", "<h4>"))
        assert rows.pop("Posts used") == "40"
        assert rows and set(rows.values()) == {"not available"}
    else:
        assert (
            "Model diagnostics are not available: results/models.json has no diagnostics per outcome." in diag
        )
    assert "Primary model: ols_log." in diag


def test_no_models_json_gives_a_note_in_the_diagnostics(tmp_path, quick_figures):
    run = write_run(tmp_path, skip=("results/models.json",))
    page = html.unescape(build_report_html(run, dataset=make_dataset(run), today=TODAY))
    diag = _block(section(page, "methods-appendix"), "<h3>Model diagnostics</h3>", "<h3>")
    assert "Model checking is not available: results/models.json was not found in the run folder." in diag
    assert (
        "<h4>" not in diag
        and "How much the impressions effects depend on the controls is not available" in page
    )


def test_summarize_diagnostics_of_nothing_is_all_not_available():
    for models in (None, {}, {"diagnostics": None}, {"diagnostics": {"impressions": "x"}}):
        rows = report.summarize_diagnostics(models, outcome="impressions")
        assert len(rows) >= 9 and {v for _, v in rows} == {"not available"}
        assert report.tabulate_controls_sensitivity(models, outcome="impressions").empty
        assert report.list_diagnosed_outcomes(models) == []


def test_diagnostics_of_a_real_fit_match_an_independent_computation():
    """fit_post_models → JSON → report: the shown numbers are the fit's, and the fit's agree with numpy."""
    from workbench.models import fit_post_models

    rng = np.random.default_rng(11)
    posts = make_posts(150)
    posts["followers_at_post"] = 1000 + 3 * np.arange(150)
    posts["year"] = 2020 + np.arange(150) // 50  # no rare year (a year of 2 posts is now left out with its posts)
    poll = np.where(posts["has_poll"], 1.4, 1.0)
    posts["impressions"] = pd.array((np.exp(rng.normal(6, 0.5, 150)) * poll).astype(int), dtype="Int64")
    posts.loc[[4, 9], "followers_at_post"] = np.nan
    with pytest.warns(Warning, match="2 of 150 posts dropped"):
        fitted = fit_post_models(
            posts, predictors=("has_poll", "has_graphic"), outcomes=("impressions",), models=("ols_log",)
        )
    models = json.loads(json.dumps({"diagnostics": fitted.diagnostics}, default=float))
    rows = dict(report.summarize_diagnostics(models, outcome="impressions"))
    assert rows["Posts used"] == "148 of 150"
    assert rows["Posts dropped (missing values)"].startswith("2 (")
    sens = report.tabulate_controls_sensitivity(models, outcome="impressions")
    assert sens["term"].tolist() == ["has_poll", "has_graphic"]

    # independent: OLS of log1p(y) on the predictors alone, same 148 posts, by numpy least squares
    keep = posts["followers_at_post"].notna().to_numpy()
    y = np.log1p(posts.loc[keep, "impressions"].to_numpy(dtype=float))
    X = np.column_stack(
        [
            np.ones(keep.sum()),
            posts.loc[keep, "has_poll"].astype(float),
            posts.loc[keep, "has_graphic"].astype(float),
        ]
    )
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(sens["effect_pct_without_controls"], 100 * np.expm1(b[1:]), rtol=1e-9)
    np.testing.assert_allclose(
        sens["change_pct_points"], sens["effect_pct_with_controls"] - sens["effect_pct_without_controls"]
    )
    # Cook's distance > 4/n, recomputed from the full-design OLS by the textbook formula
    Xf = np.column_stack([X, np.log1p(posts.loc[keep, "followers_at_post"].to_numpy(dtype=float))])
    Xf = np.column_stack([Xf, pd.get_dummies(posts.loc[keep, "year"], drop_first=True).to_numpy(dtype=float)])
    beta = np.linalg.lstsq(Xf, y, rcond=None)[0]
    e = y - Xf @ beta
    h = np.einsum("ij,ji->i", Xf, np.linalg.pinv(Xf.T @ Xf) @ Xf.T)
    p = Xf.shape[1]
    d = e**2 * h / (p * (e @ e) / (len(y) - p) * (1 - h) ** 2)
    assert rows["Posts with Cook's distance > 4/n"] == str(int((d > 4 / len(y)).sum()))
    assert rows["Posts with Cook's distance > 4/n"] != "0"
    top = posts.loc[keep, "post_id"].to_numpy()[np.argsort(-d, kind="stable")[:3]]
    shown = re.findall(r">post (\d+)</a> \(D = ([0-9.]+)\)", report.render.cell_html(rows["Most influential posts"]))
    assert {p for p, _ in shown} == set(top)
    np.testing.assert_allclose([float(v) for _, v in shown], np.sort(d)[::-1][:3], rtol=5e-3)


def test_placebo_and_state_space_sentences():
    from workbench.report import describe_placebo, describe_state_space

    assert describe_placebo({"n": 0, "summary": "no placebo"}) is None
    assert describe_placebo({"n": 18, "summary": "The real change is larger than 18 of 18 placebo changes"}) == (
        "Placebo check (the same comparison at 18 earlier dates where nothing was changed): the real change is "
        "larger than 18 of 18 placebo changes."
    )
    assert describe_state_space({"error": "too few months"}) is None
    text = describe_state_space(
        {"forecast_end": 2973.4, "observed_end": 3447, "excess_end": 473.6, "excess_ci": [377.3, 569.9],
         "converged": True}
    )
    assert "forecast 2,973 followers against 3,447 observed" in text and "+474" in text
    assert "caution" in describe_state_space({"forecast_end": 1, "observed_end": 2, "excess_end": 1,
                                              "excess_ci": [0, 2], "converged": False})


def test_monthly_metrics_table_rows():
    from workbench.report import monthly_metrics_table

    rows = monthly_metrics_table(
        {
            "posts": {"before_mean": 10.2, "after_mean": 13.5, "fold_change": 1.325, "fold_change_ci": [1.15, 1.52],
                      "welch_p_two_sided": 0.00016, "mannwhitney_p": 0.00036, "effect_size": 1.1},
            "engagements": {"fold_change": None},
        }
    )
    assert len(rows) == 1 and rows[0][0] == "posts" and rows[0][3].startswith("1.3")
    assert monthly_metrics_table(None) == [] and monthly_metrics_table({"x": "bad"}) == []
