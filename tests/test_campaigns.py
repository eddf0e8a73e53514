"""Paid-campaign metrics (workbench.campaigns): intervals against hand computation and simulation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.campaigns import (
    CampaignResults,
    cost_estimate,
    dispersion,
    rate_estimate,
    summarize_campaigns,
    wilson_interval,
)
from workbench.ingest import read_files
from workbench.schema import CAMPAIGNS_SCHEMA, conform

DATA = Path(__file__).parent / "data" / "ads"
Z = 1.959963984540054


def _wilson_by_hand(x, n, z=Z):
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("x,n", [(83, 10000), (0, 50), (50, 50), (7, 19)])
def test_wilson_matches_hand_formula(x, n):
    assert wilson_interval(x, n) == pytest.approx(_wilson_by_hand(x, n), abs=1e-12)


def test_single_row_rate_is_plain_wilson_and_dispersion_widens():
    e = rate_estimate(np.array([83]), np.array([10000]))
    assert (e.ci_low, e.ci_high) == pytest.approx(_wilson_by_hand(83, 10000))
    assert e.method.startswith("wilson (binomial")
    # two days with very different rates: Pearson dispersion by hand, interval = Wilson on n/phi
    x, n = np.array([10, 90]), np.array([1000, 1000])
    p = 100 / 2000
    phi = ((10 - 50) ** 2 / (1000 * p * (1 - p)) + (90 - 50) ** 2 / (1000 * p * (1 - p))) / 1
    assert dispersion(x, n) == pytest.approx(phi)
    e2 = rate_estimate(x, n)
    assert (e2.ci_low, e2.ci_high) == pytest.approx(_wilson_by_hand(100 / phi, 2000 / phi))
    assert e2.ci_high - e2.ci_low > np.subtract(*_wilson_by_hand(100, 2000)[::-1])


def test_rate_not_a_proportion_is_said():
    e = rate_estimate(np.array([12]), np.array([5]), what="link clicks")
    assert e.value is None and "not a proportion" in e.note


def test_cost_poisson_interval_by_hand():
    e = cost_estimate(np.array([132.0]), np.array([100.0]), what="link clicks")
    lo_c = stats.chi2.ppf(0.025, 200) / 2
    hi_c = stats.chi2.ppf(0.975, 202) / 2
    assert e.value == pytest.approx(1.32)
    assert (e.ci_low, e.ci_high) == pytest.approx((132 / hi_c, 132 / lo_c))
    assert "Poisson" in e.method
    none = cost_estimate(np.array([10.0]), np.array([0.0]), what="conversions")
    assert none.value is None and "no conversions" in none.note


def test_cost_delta_method_by_hand():
    s = np.array([10.0, 12, 9, 14, 11, 10, 13, 8, 12, 11])
    c = np.array([8.0, 10, 7, 9, 9, 8, 11, 6, 10, 9])
    e = cost_estimate(s, c)
    R = s.sum() / c.sum()
    var = ((s - R * c) ** 2).sum() / (10 * 9 * c.mean() ** 2)
    se_log = math.sqrt(var) / R
    assert e.value == pytest.approx(R)
    assert (e.ci_low, e.ci_high) == pytest.approx((R * math.exp(-Z * se_log), R * math.exp(Z * se_log)))
    assert e.method.startswith("delta method")


def test_delta_method_covers_by_simulation():
    """Days with gamma spend and Poisson clicks whose rate varies by day (log-normal): the ratio interval covers
    the true cost per click about 95% of the time with 20 days."""
    rng = np.random.default_rng(18)
    cpc, sigma, reps, k = 1.5, 0.4, 400, 20
    hits = 0
    for _ in range(reps):
        spend = rng.gamma(4.0, 10.0, k)
        clicks = rng.poisson(spend / cpc * np.exp(rng.normal(-sigma ** 2 / 2, sigma, k)))
        e = cost_estimate(spend, clicks.astype(float))
        hits += e.ci_low <= cpc <= e.ci_high
    assert 0.90 <= hits / reps <= 0.985


def test_quasi_binomial_covers_overdispersed_ctr():
    """Daily CTRs drawn from a beta around 1%: plain Wilson under-covers, the dispersion-widened one does not."""
    rng = np.random.default_rng(7)
    reps, k, n = 300, 14, 5000
    plain = quasi = 0
    for _ in range(reps):
        p = rng.beta(20, 1980, k)  # mean 1%, sd about 0.22 percentage points between days
        x = rng.binomial(n, p)
        e = rate_estimate(x, np.full(k, n))
        quasi += e.ci_low <= 0.01 <= e.ci_high
        lo, hi = wilson_interval(x.sum(), n * k)
        plain += lo <= 0.01 <= hi
    assert quasi / reps >= 0.90
    assert plain / reps < quasi / reps


def test_summary_meta_uah_not_compared_with_usd_costs():
    r = read_files([DATA / "meta_ads_ads_uah.csv"], root=DATA)
    res = summarize_campaigns(r.campaigns)
    by = {s.campaign: s for s in res.campaigns}
    trial = by["Trial recruitment"]
    assert trial.currency == "UAH" and trial.spend == pytest.approx(1500.5)
    assert trial.conversions == 52 and trial.clicks == 150  # lead results are conversions
    assert trial.metrics["conversion_rate"].value == pytest.approx(52 / 150)
    assert trial.metrics["cpa"].value == pytest.approx(1500.5 / 52)
    assert trial.reach is None and any("not additive" in n for n in trial.notes)
    open_day = by["Open day"]
    assert open_day.conversions is None and open_day.results == {"actions:link_click": 270}
    assert "not conversions" in open_day.metrics["cpa"].note
    cmp = [b for b in res.benchmarks if b.campaign == "Trial recruitment" and b.benchmark_id == "fb_ads_medical_cpc"]
    assert cmp[0].verdict == "not compared" and "UAH" in cmp[0].reason
    ctr = [b for b in res.benchmarks if b.campaign == "Trial recruitment" and b.benchmark_id == "fb_ads_medical_ctr"]
    assert ctr[0].verdict in {"higher", "lower", "consistent"}  # a rate needs no exchange rate
    back = CampaignResults.from_dict(res.to_dict())
    assert back.to_dict() == res.to_dict()
    assert {"ctr", "ctr_ci_low", "cpa_ci_high", "spend"} <= set(back.table().columns)


def test_usd_campaign_against_benchmarks_and_currencies_never_mixed():
    frames = [read_files([DATA / n], root=DATA).campaigns for n in
              ("meta_ads_campaign_daily_usd.csv", "linkedin_campaign_performance.csv")]
    res = summarize_campaigns(pd.concat(frames, ignore_index=True))
    overall = {(s.ad_platform, s.currency): s for s in res.overall}
    assert set(overall) == {("meta", "USD"), ("linkedin", "EUR"), ("linkedin", "USD")}
    assert any("several currencies" in n for n in res.notes)
    web = next(s for s in res.campaigns if s.campaign == "Study results webinar")
    assert web.spend == pytest.approx(30.12 + 31.40 + 29.88) and web.conversions == 27 and web.clicks == 71
    cpa = next(b for b in res.benchmarks if b.campaign == "Study results webinar" and b.benchmark_id == "fb_ads_medical_cpa")
    e = web.metrics["cpa"]
    expected = "lower" if e.ci_high < 12.31 else "higher" if e.ci_low > 12.31 else "consistent"
    assert cpa.verdict == expected
    li = [b for b in res.benchmarks if b.ad_platform == "linkedin"]
    assert li and {b.verdict for b in li} == {"not compared"}


def test_levels_are_not_double_counted():
    base = {"ad_platform": "meta", "campaign_name": "A", "currency": "USD", "date_start": pd.Timestamp("2024-01-01"),
            "date_end": pd.Timestamp("2024-01-31"), "breakdown": "period"}
    rows = pd.DataFrame([
        {**base, "level": "campaign", "spend": 100.0, "impressions": 10000, "clicks": 100, "reach": 7000},
        {**base, "level": "ad", "ad_name": "x", "spend": 60.0, "impressions": 6000, "clicks": 60, "reach": 5000},
        {**base, "level": "ad", "ad_name": "y", "spend": 40.0, "impressions": 4000, "clicks": 40, "reach": 4000},
    ])
    res = summarize_campaigns(conform(rows, CAMPAIGNS_SCHEMA, table="campaigns"), benchmarks=[])
    s = res.campaigns[0]
    assert s.spend == 100.0 and s.impressions == 10000 and s.reach == 7000
    assert any("nothing is counted twice" in n for n in res.notes)


def test_no_paid_data():
    res = summarize_campaigns(pd.DataFrame(columns=list(CAMPAIGNS_SCHEMA)))
    assert not res.has_data and res.notes


def test_example_campaigns_recover_their_truth(tmp_path):
    from workbench.simulate import format_meta_ads, simulate_campaigns

    rows, truth = simulate_campaigns(seed=2024)
    f = tmp_path / "ads.csv"
    f.write_text(format_meta_ads(rows), encoding="utf-8")
    r = read_files([f])
    assert len(r.campaigns) == len(rows) and r.log["files"][0]["rows_quarantined"] == 1  # the totals row
    res = summarize_campaigns(r.campaigns)
    misses, checks = 0, 0
    for s in res.campaigns:
        t = truth[s.campaign]
        for metric, value in (("ctr", t["ctr"]), ("cpm", t["cpm_usd"]), ("conversion_rate", t["conversion_rate"])):
            e = s.metrics[metric]
            if value is None:
                assert e.value is None and "not conversions" in e.note
                continue
            checks += 1
            misses += not (e.ci_low <= value <= e.ci_high)
    assert checks == 8 and misses <= 1


def test_paid_section_escapes_and_is_absent_without_paid_data():
    from workbench.sections import render_section

    rows = read_files([DATA / "meta_ads_campaign_daily_usd.csv"], root=DATA).campaigns
    rows["campaign_name"] = "<script>alert(1)</script>"
    html = render_section("paid", summarize_campaigns(rows))
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'id="paid-results"' in html and "Against published benchmarks" in html
    assert render_section("paid", summarize_campaigns(pd.DataFrame(columns=list(CAMPAIGNS_SCHEMA)))) == ""
