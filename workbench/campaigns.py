"""Paid-campaign metrics with confidence intervals, compared with published benchmarks (issue 18).

Reads the ``campaigns`` table (``data/campaigns.parquet``, :data:`workbench.schema.CAMPAIGNS_SCHEMA`) and
returns a :class:`CampaignResults`: per campaign and overall (per ad platform and currency — currencies are
never added together), spend and what it bought (impressions, link clicks, results by result indicator,
conversions), and

* **CTR** = link clicks / impressions and **conversion rate** = conversions / link clicks: Wilson score
  intervals (Wilson 1927; ``statsmodels.stats.proportion.proportion_confint(method="wilson")``). When a
  campaign has several rows (days, ads), the binomial variance is widened by the Pearson dispersion of the
  rows' rates, φ = X²/(k−1) if above 1 (a quasi-binomial interval: the Wilson interval on n/φ trials); with a
  single row φ cannot be estimated and the interval is binomial only (said in ``method``).
* **CPC** = spend / link clicks, **CPM** = 1000 · spend / impressions and **CPA** = spend / conversions:
  with ≥ ``DELTA_MIN_ROWS`` rows, the ratio estimator's delta-method interval across rows (Cochran 1977,
  §6.4; computed on the log scale so it stays positive); with fewer rows, spend is taken as fixed and the count
  as Poisson, giving spend divided by the exact (Garwood 1936) Poisson interval of the count.

Conversions are the export's ``conversions`` (LinkedIn, X) or Meta ``Results`` whose ``Result indicator``
names a conversion (a lead, purchase, registration, an on-/off-site conversion); results that are link
clicks, reach, views or engagements are not conversions and are reported as what they are. Reach is not
additive across ads or days (a person reached by two ads is one person), so it is reported only for a campaign
exported as a single row and never summed.

Benchmarks (``workbench/data/claims.yml``, ``metric: ad_benchmark``) are averages over advertisers in USD on
Facebook: a campaign is compared only when it ran on Meta and was billed in USD; otherwise the comparison says
why it is not made. The verdict is about association with the benchmark's population, not advice.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

SCHEMA_VERSION = 1
#: fewest rows (days, ads) for the delta-method cost interval; fewer: spend fixed, count Poisson
DELTA_MIN_ROWS = 10
LEVEL = 0.95
#: Meta result indicators that are conversions (the rest — link clicks, reach, views, engagement — are not)
CONVERSION_INDICATOR = re.compile(
    r"(?:offsite_conversion|onsite_conversion|onsite_web|\blead|purchase|complete_registration|registration|"
    r"conversion|submit_application|schedule|contact|subscribe|start_trial|donate)", re.IGNORECASE)
LEVEL_ORDER = {"campaign": 0, "ad_set": 1, "ad": 2}
RATE_METRICS = ("ctr", "conversion_rate")
COST_METRICS = ("cpc", "cpm", "cpa")
METRIC_LABELS = {"ctr": "click-through rate", "conversion_rate": "conversion rate", "cpc": "cost per click",
                 "cpm": "cost per 1,000 impressions", "cpa": "cost per conversion"}


@dataclass
class Estimate:
    """One metric with its interval; ``value`` None when it cannot be estimated (``note`` says why)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    numerator: float
    denominator: float
    note: str = ""


@dataclass
class CampaignSummary:
    """One campaign (or an overall total for one platform and currency)."""

    ad_platform: str
    campaign: str
    currency: str | None
    level: str
    breakdown: str
    rows: int
    date_start: str | None
    date_end: str | None
    spend: float
    impressions: int
    clicks: int
    conversions: int | None
    reach: int | None
    results: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Estimate] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class BenchmarkComparison:
    """One campaign metric beside one benchmark."""

    campaign: str
    ad_platform: str
    currency: str | None
    metric: str
    benchmark_id: str
    benchmark: float
    population: str
    source: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # consistent / lower / higher / cannot tell / not compared
    reason: str


@dataclass
class CampaignResults:
    """Everything :func:`summarize_campaigns` computes; ``to_dict``/``from_dict`` round-trip through JSON."""

    campaigns: list[CampaignSummary] = field(default_factory=list)
    overall: list[CampaignSummary] = field(default_factory=list)
    benchmarks: list[BenchmarkComparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    @property
    def has_data(self) -> bool:
        return bool(self.campaigns)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CampaignResults:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"campaign results schema_version {d.get('schema_version')!r}; this workbench reads "
                             f"{SCHEMA_VERSION}. Re-run the analysis.")

        def summary(s: dict) -> CampaignSummary:
            s = dict(s)
            s["metrics"] = {k: Estimate(**v) for k, v in s.get("metrics", {}).items()}
            return CampaignSummary(**s)

        return cls(campaigns=[summary(s) for s in d.get("campaigns", [])],
                   overall=[summary(s) for s in d.get("overall", [])],
                   benchmarks=[BenchmarkComparison(**b) for b in d.get("benchmarks", [])],
                   notes=list(d.get("notes", [])), schema_version=d["schema_version"])

    def table(self) -> pd.DataFrame:
        """Campaigns and overall totals, one row each, metrics as ``<metric>``, ``<metric>_ci_low/high``."""
        rows = []
        for kind, items in (("campaign", self.campaigns), ("overall", self.overall)):
            for s in items:
                row = {"kind": kind, "ad_platform": s.ad_platform, "campaign": s.campaign, "currency": s.currency,
                       "date_start": s.date_start, "date_end": s.date_end, "rows": s.rows, "spend": s.spend,
                       "impressions": s.impressions, "clicks": s.clicks, "conversions": s.conversions,
                       "reach": s.reach}
                for m, e in s.metrics.items():
                    row[m], row[f"{m}_ci_low"], row[f"{m}_ci_high"] = e.value, e.ci_low, e.ci_high
                rows.append(row)
        return pd.DataFrame(rows)


# ---- estimators -------------------------------------------------------------------------------------------

def wilson_interval(x: float, n: float, *, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval for x successes in n trials (non-integer x, n allowed: quasi-binomial use)."""
    lo, hi = proportion_confint(x, n, alpha=1 - level, method="wilson")
    return float(lo), float(hi)


def dispersion(x: np.ndarray, n: np.ndarray) -> float:
    """Pearson dispersion φ = X²/(k−1) of k binomial rows around their pooled rate (NaN when k < 2)."""
    keep = n > 0
    x, n = x[keep].astype(float), n[keep].astype(float)
    if len(n) < 2:
        return float("nan")
    p = x.sum() / n.sum()
    if p <= 0 or p >= 1:
        return float("nan")
    chi2 = (((x - n * p) ** 2) / (n * p * (1 - p))).sum()
    return float(chi2 / (len(n) - 1))


def rate_estimate(x: np.ndarray, n: np.ndarray, *, level: float = LEVEL, what: str = "") -> Estimate:
    """Pooled rate Σx/Σn with a Wilson interval, widened by the rows' dispersion when above 1."""
    X, N = float(np.sum(x)), float(np.sum(n))
    if N <= 0:
        return Estimate(None, None, None, "none", X, N, f"no {what or 'trials'}: the rate is not defined")
    if X > N:
        return Estimate(None, None, None, "none", X, N, f"more events ({X:,.0f}) than {what} ({N:,.0f}): not a "
                        "proportion (e.g. view-through conversions without a click), so no binomial interval")
    phi = dispersion(np.asarray(x), np.asarray(n))
    if np.isnan(phi):
        lo, hi = wilson_interval(X, N, level=level)
        method = "wilson (binomial; one row, or no events: variation between days/ads not estimable)"
    else:
        scale = max(phi, 1.0)
        lo, hi = wilson_interval(X / scale, N / scale, level=level)
        method = f"wilson quasi-binomial (dispersion {phi:.2f} across {int(np.sum(np.asarray(n) > 0))} rows)"
    return Estimate(X / N, lo, hi, method, X, N)


def poisson_interval(k: float, *, level: float = LEVEL) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson count k."""
    a = 1 - level
    lo = 0.0 if k <= 0 else stats.chi2.ppf(a / 2, 2 * k) / 2
    hi = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
    return float(lo), float(hi)


def cost_estimate(spend: np.ndarray, count: np.ndarray, *, per: float = 1.0, level: float = LEVEL,
                  what: str = "") -> Estimate:
    """Cost per unit ``per · Σspend/Σcount`` with an interval (delta method across rows, or Poisson).

    Notes
    -----
    Delta method (Cochran 1977, §6.4, ratio estimator): with k rows, R = Σs/Σc and
    Var(R) ≈ Σ(s_i − R c_i)² / (k (k−1) c̄²); the interval is R·exp(±z·se/R) (log scale, stays positive).
    Poisson: spend fixed, the count Poisson: per·S / [Garwood interval of C] (upper first).
    """
    s, c = np.asarray(spend, dtype=float), np.asarray(count, dtype=float)
    S, C = float(s.sum()), float(c.sum())
    if C <= 0:
        return Estimate(None, None, None, "none", S, C, f"no {what or 'units'} were bought: the cost per unit "
                        "is not defined")
    R = per * S / C
    z = stats.norm.ppf(0.5 + level / 2)
    k = len(c)
    if k >= DELTA_MIN_ROWS:
        cbar = C / k
        resid = s - (S / C) * c
        var = float((resid ** 2).sum() / (k * (k - 1) * cbar ** 2))
        se_log = np.sqrt(var) / (S / C) if S > 0 else 0.0
        if S > 0 and se_log > 0:
            return Estimate(R, R * float(np.exp(-z * se_log)), R * float(np.exp(z * se_log)),
                            f"delta method, ratio estimator across {k} rows", S, C)
    lo_c, hi_c = poisson_interval(C, level=level)
    method = f"spend fixed, {what or 'count'} Poisson (exact); {k} row(s)"
    return Estimate(R, per * S / hi_c, per * S / lo_c if lo_c > 0 else None, method, S, C)


# ---- the campaigns table → summaries ----------------------------------------------------------------------

#: indicators that look like conversions by name but count engagement (Meta's "post saves")
NOT_CONVERSION = re.compile(r"post_save|post_engagement|link_click|video_view|landing_page_view", re.IGNORECASE)


def _is_conversion(indicator: pd.Series) -> np.ndarray:
    s = indicator.astype("string")
    return (s.str.contains(CONVERSION_INDICATOR) & ~s.str.contains(NOT_CONVERSION)).to_numpy(dtype=bool,
                                                                                                 na_value=False)


def _campaign_key(df: pd.DataFrame) -> pd.Series:
    return df["campaign_id"].astype("string").fillna(df["campaign_name"].astype("string")).fillna("(unnamed)")


def _one_view(g: pd.DataFrame, notes: list[str], label: str) -> pd.DataFrame:
    """One level and breakdown per campaign (else ad rows and campaign rows would be counted twice)."""
    views = g.groupby(["level", "breakdown"], sort=False).size()
    if len(views) == 1:
        return g
    ranked = sorted(views.index, key=lambda v: (LEVEL_ORDER.get(v[0], 9), 0 if v[1] == "day" else 1))
    level, breakdown = ranked[0]
    notes.append(f"{label}: exported at several levels/breakdowns {[f'{a}/{b}' for a, b in views.index]}; only "
                 f"the {level} rows by {breakdown} are used, so nothing is counted twice")
    return g[(g["level"] == level) & (g["breakdown"] == breakdown)]


def _cost(spend: np.ndarray, count: np.ndarray, rows: np.ndarray, *, per: float = 1.0, what: str) -> Estimate:
    if not rows.any():
        return Estimate(None, None, None, "none", 0.0, 0.0, f"no rows with both spend and {what}")
    return cost_estimate(spend[rows], count[rows], per=per, what=what)


def _summarize(g: pd.DataFrame, *, platform: str, name: str, currency: str | None) -> CampaignSummary:
    notes: list[str] = []
    spend = g["spend"].astype("Float64").fillna(0).to_numpy(dtype=float)
    imp = g["impressions"].astype("Int64")
    clk = g["clicks"].astype("Int64")
    results: dict[str, int] = {}
    if g["results"].notna().any():
        by = g.assign(ri=g["result_indicator"].astype("string").fillna("(not said)")).groupby("ri")["results"]
        results = {str(k): int(v) for k, v in by.sum().items()}
    conv_rows = g["conversions"].notna().to_numpy()
    conv = g["conversions"].astype("Int64").fillna(0).to_numpy(dtype=float)
    is_conv = _is_conversion(g["result_indicator"])
    meta_conv = is_conv & ~conv_rows
    if is_conv.any():
        # Ads Manager leaves Results (and often the indicator) blank on a day or ad without results: once the
        # campaign's results are conversions, such rows count 0 conversions (else the rate would be inflated)
        blank = g["results"].isna().to_numpy() & g["result_indicator"].isna().to_numpy() & ~conv_rows
        meta_conv |= blank
        if (meta_conv & g["results"].isna().to_numpy()).any():
            notes.append(f"{int((meta_conv & g['results'].isna().to_numpy()).sum())} row(s) with blank Results "
                         "counted as 0 conversions")
    conv = np.where(meta_conv, g["results"].astype("Int64").fillna(0).to_numpy(dtype=float), conv)
    conv_rows = conv_rows | meta_conv
    metrics: dict[str, Estimate] = {}
    ok_imp = imp.notna().to_numpy() & clk.notna().to_numpy()
    metrics["ctr"] = rate_estimate(clk[ok_imp].to_numpy(dtype=float), imp[ok_imp].to_numpy(dtype=float),
                                   what="impressions")
    has_spend = g["spend"].notna().to_numpy()
    if not has_spend.all():
        notes.append(f"{int((~has_spend).sum())} row(s) without spend: costs use the rows with spend only"
                     if has_spend.any() else "the export has no spend: costs cannot be estimated")
    ok_c = clk.notna().to_numpy()
    metrics["cpc"] = _cost(spend, clk.to_numpy(dtype=float, na_value=np.nan), ok_c & has_spend, what="link clicks")
    ok_i = imp.notna().to_numpy()
    metrics["cpm"] = _cost(spend, imp.to_numpy(dtype=float, na_value=np.nan), ok_i & has_spend, per=1000.0,
                           what="impressions")
    if conv_rows.any():
        both = conv_rows & ok_c
        metrics["conversion_rate"] = rate_estimate(conv[both], clk[both].to_numpy(dtype=float), what="link clicks")
        metrics["cpa"] = _cost(spend, conv, conv_rows & has_spend, what="conversions")
    else:
        why = ("no conversions reported: the export's results are "
               + (", ".join(sorted(results)) if results else "absent")
               + " (not conversions); export a conversion result or a Conversions column to estimate them")
        metrics["conversion_rate"] = Estimate(None, None, None, "none", 0.0, 0.0, why)
        metrics["cpa"] = Estimate(None, None, None, "none", 0.0, 0.0, why)
    reach = None
    if len(g) == 1 and g["level"].iloc[0] == "campaign" and pd.notna(g["reach"].iloc[0]):
        reach = int(g["reach"].iloc[0])
    elif g["reach"].notna().any():
        notes.append("reach is reported per row and is not additive across ads or days; no campaign total is given")
    start, end = g["date_start"].min(), g["date_end"].max()
    return CampaignSummary(
        ad_platform=platform, campaign=name, currency=currency, level=str(g["level"].iloc[0]),
        breakdown=str(g["breakdown"].iloc[0]), rows=len(g),
        date_start=None if pd.isna(start) else f"{start:%Y-%m-%d}", date_end=None if pd.isna(end) else f"{end:%Y-%m-%d}",
        spend=float(spend[has_spend].sum()), impressions=int(imp.fillna(0).sum()), clicks=int(clk.fillna(0).sum()),
        conversions=int(conv[conv_rows].sum()) if conv_rows.any() else None, reach=reach, results=results,
        metrics=metrics, notes=notes)


def summarize_campaigns(campaigns: pd.DataFrame, *, benchmarks: list[dict] | None = None) -> CampaignResults:
    """Per-campaign and overall paid metrics with intervals, and their comparison with the benchmarks.

    Parameters
    ----------
    campaigns
        The ``campaigns`` table (empty: a result with ``has_data`` False and a note).
    benchmarks
        Claims with ``metric: ad_benchmark`` (default: those in the package's claims file).

    Returns
    -------
    CampaignResults
    """
    out = CampaignResults()
    if campaigns is None or campaigns.empty:
        out.notes.append("no paid-campaign export was read (the card's `campaigns:` lists none)")
        return out
    if benchmarks is None:
        from .claims import load_claims

        benchmarks = [c for c in load_claims() if c["metric"] == "ad_benchmark"]
    df = campaigns.copy()
    df["_key"] = _campaign_key(df)
    df["_cur"] = df["currency"].astype("string").fillna("")
    chosen = []
    for (platform, key, cur), g in df.groupby(["ad_platform", "_key", "_cur"], sort=True):
        name = str(g["campaign_name"].dropna().iloc[0]) if g["campaign_name"].notna().any() else str(key)
        g = _one_view(g, out.notes, f"{platform} campaign {name!r}")
        chosen.append(g)
        s = _summarize(g, platform=str(platform), name=name, currency=cur or None)
        if not cur:
            s.notes.append("the export does not say the currency: costs are in an unknown currency")
        out.campaigns.append(s)
    used = pd.concat(chosen)
    for (platform, cur), g in used.groupby(["ad_platform", "_cur"], sort=True):
        s = _summarize(g, platform=str(platform), name="All campaigns", currency=cur or None)
        s.notes.append("rows are days/ads of several campaigns: the dispersion-widened intervals also carry the "
                       "differences between campaigns")
        out.overall.append(s)
    currencies = sorted(set(used["_cur"]))
    if len(currencies) > 1:
        out.notes.append(f"spend in several currencies {currencies}: totals are given per currency, never added")
    for s in out.campaigns + out.overall:
        for b in benchmarks:
            out.benchmarks.append(_compare(s, b))
    return out


def _compare(s: CampaignSummary, b: dict) -> BenchmarkComparison:
    metric = str(b.get("statistic"))
    e = s.metrics.get(metric)
    base = dict(campaign=s.campaign, ad_platform=s.ad_platform, currency=s.currency, metric=metric,
                benchmark_id=str(b["id"]), benchmark=float(b["effect"]), population=str(b.get("population", "")),
                source=str(b.get("source", "")), estimate=None if e is None else e.value,
                ci_low=None if e is None else e.ci_low, ci_high=None if e is None else e.ci_high)
    bcur = b.get("currency")
    if s.ad_platform != "meta":
        return BenchmarkComparison(**base, verdict="not compared",
                                   reason=f"the benchmark is for Facebook (Meta) ads; this is {s.ad_platform}")
    if metric not in RATE_METRICS and bcur and s.currency != bcur:
        return BenchmarkComparison(**base, verdict="not compared",
                                   reason=f"the benchmark is in {bcur}; this spend is in "
                                          f"{s.currency or 'an unknown currency'} (no exchange rate is assumed)")
    return BenchmarkComparison(**base, **_verdict(e, float(b["effect"])))


def _verdict(e: Estimate | None, benchmark: float) -> dict[str, str]:
    if e is None or e.value is None:
        return {"verdict": "cannot tell", "reason": e.note if e is not None else "not estimated"}
    if e.ci_low is None or e.ci_high is None:
        if e.ci_low is not None and e.ci_low > benchmark:
            return {"verdict": "higher", "reason": "the interval's lower bound is above the benchmark"}
        return {"verdict": "cannot tell", "reason": "the interval is unbounded (too few units bought)"}
    if e.ci_high < benchmark:
        return {"verdict": "lower", "reason": "the whole 95% interval is below the benchmark"}
    if e.ci_low > benchmark:
        return {"verdict": "higher", "reason": "the whole 95% interval is above the benchmark"}
    return {"verdict": "consistent", "reason": "the benchmark lies inside the 95% interval"}
