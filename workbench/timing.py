"""When posts perform: hour-of-day × weekday effects on impressions or engagements (issue 18).

The posting heatmap (:mod:`workbench.explore`) counts posts per hour; this module estimates how the
account's posts *performed* by the local hour and weekday they were published, from the posts themselves:

1. Posts: the account's own original posts (no replies, reposts or collab posts by others) with the outcome
   reported and a reliable time of day — posts whose ``published_time_reliable`` is False (an export known to
   print a wrong time) are excluded and counted, as are posts without a time.
2. y = log1p(outcome), minus the mean of its calendar month (local time): growth of the audience over the
   months is taken out, so a slot is not credited for being used more in later, bigger months.
3. Hours and weekdays (main effects) are each partially pooled towards the overall mean by empirical Bayes
   (normal–normal; between-group variance τ² by the DerSimonian–Laird moment estimator, within-group variance
   σ² pooled); then each weekday × hour cell's mean is pooled towards its hour effect + weekday effect (an
   additive prior, so a slot is smoothed by its neighbours in the same hour and on the same day). Intervals are
   Morris's (1983) EB intervals, which allow for τ² being estimated (so a τ² of 0 does not give zero-width
   intervals); the uncertainty of the main effects used as the prior is not added to the cells' intervals.
4. Effects are reported as ratios exp(θ − μ): the typical (geometric-mean) post in that slot relative to the
   account's typical post.

Caveat (stated in every result): timing is confounded with what is posted when — a slot used for conference
threads or for replies to news differs in content, not only in time. These are associations, not advice.

Morris, C. N. (1983). Parametric empirical Bayes inference: theory and applications. JASA 78, 47–55.
DerSimonian, R. & Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical Trials 7, 177–188.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SCHEMA_VERSION = 1
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: fewest usable posts and occupied groups for an estimate
MIN_POSTS, MIN_GROUPS = 30, 4
#: posts beyond one per weekday × hour slot needed to measure the post-to-post variation within slots (σ²)
MIN_WITHIN_DF = 10
Z = 1.959963984540054
CAVEAT = ("Timing is confounded with what is posted when (content, topic and audience differ between slots); "
          "these are associations in this account's posts, not advice on when to post.")


@dataclass
class TimingResult:
    """Partially pooled slot effects; ``cells``/``hours``/``weekdays`` are lists of records."""

    outcome: str
    timezone: str
    n_posts: int
    n_excluded_unreliable_time: int
    n_excluded_other: int
    cells: list[dict] = field(default_factory=list)  # weekday, hour, n, ratio, ci_low, ci_high, raw_ratio
    hours: list[dict] = field(default_factory=list)
    weekdays: list[dict] = field(default_factory=list)
    tau2: float | None = None
    sigma2: float | None = None
    method: str = ("log1p(outcome) minus its calendar-month mean; empirical-Bayes partial pooling of slot means "
                   "(DerSimonian–Laird τ², Morris 1983 intervals)")
    caveat: str = CAVEAT
    note: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def estimable(self) -> bool:
        return bool(self.cells)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimingResult:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"timing schema_version {d.get('schema_version')!r}; this workbench reads "
                             f"{SCHEMA_VERSION}. Re-run the analysis.")
        return cls(**d)

    def cell_table(self) -> pd.DataFrame:
        """Weekday × hour ratios as a wide table (rows Mon…Sun, columns hours; NaN: no posts)."""
        if not self.cells:
            return pd.DataFrame(index=list(WEEKDAYS))
        df = pd.DataFrame(self.cells)
        wide = df.pivot(index="weekday", columns="hour", values="ratio").reindex(range(7))
        wide.index = [WEEKDAYS[i] for i in wide.index]
        return wide


def prepare_posts(posts: pd.DataFrame, *, outcome: str, timezone: str = "UTC") -> tuple[pd.DataFrame, int, int]:
    """Own original posts with the outcome and a reliable time → ``(frame with y, weekday, hour, month),
    n excluded for an unreliable time, n excluded otherwise)``."""
    if outcome not in posts.columns:
        raise KeyError(f"the posts have no {outcome!r} column; found {list(posts.columns)[:12]} …")
    keep = np.ones(len(posts), dtype=bool)
    for flag, wanted in (("is_reply", False), ("is_repost", False), ("is_own_post", True)):
        if flag in posts:
            keep &= (posts[flag].astype("boolean").fillna(wanted) == wanted).to_numpy(dtype=bool)
    unreliable = np.zeros(len(posts), dtype=bool)
    if "published_time_reliable" in posts:
        unreliable = (posts["published_time_reliable"].astype("boolean") == False).to_numpy(  # noqa: E712
            dtype=bool, na_value=False)
    y = pd.to_numeric(posts[outcome], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    has = ~np.isnan(y) & posts["published_at"].notna().to_numpy()
    n_unreliable = int((keep & has & unreliable).sum())
    use = keep & has & ~unreliable
    n_other = int(len(posts) - use.sum() - n_unreliable)
    p = posts.loc[use, ["published_at"]]  # the one column used (not a copy of every column)
    local = p["published_at"].dt.tz_convert(timezone)
    out = pd.DataFrame({"y": np.log1p(y[use]), "weekday": local.dt.weekday.to_numpy(),
                        "hour": local.dt.hour.to_numpy(),
                        "month": (local.dt.year * 12 + local.dt.month).to_numpy()})  # calendar month, local
    out["y"] = out["y"] - out.groupby("month")["y"].transform("mean")
    return out, n_unreliable, n_other


def pool_groups(y: pd.Series, groups: list[pd.Series], *, prior: pd.Series | None = None,
                n_prior_params: int = 1) -> tuple[pd.DataFrame, float, float]:
    """Empirical-Bayes partial pooling of group means of ``y`` → ``(table, τ², σ²)``.

    Table columns: the group keys, ``n``, ``mean`` (raw), ``theta`` (pooled), ``raw``, ``se``, ``lo``, ``hi``
    (log scale, relative to the overall weighted mean μ).

    ``prior``: per-post offsets (e.g. the hour and weekday main effects) that the group means are shrunk
    towards instead of μ alone, with ``n_prior_params`` parameters spent on them.

    Notes
    -----
    Within-group variance σ² pooled over groups (df N − C); w_c = n_c/σ²; μ = Σw ȳ/Σw; m_c = μ + prior_c;
    DerSimonian–Laird τ² = max(0, (Q − (C − 1)) / (Σw − Σw²/Σw)) with Q = Σw (ȳ_c − m_c − d̄)²;
    B_c = (σ²/n_c)/(σ²/n_c + τ²); θ_c = m_c + (1 − B_c)(ȳ_c − m_c).
    Morris (1983, eq. 4.2) interval with p = ``n_prior_params``:
    Var_c = (σ²/n_c)(1 − (C − p)/C · B_c) + 2/(C − p − 2) · B_c² (ȳ_c − m_c)².
    """
    frame = pd.DataFrame({"y": y.to_numpy(), **{g.name: g.to_numpy() for g in groups},
                          "prior": 0.0 if prior is None else prior.to_numpy()})
    keys = [g.name for g in groups]
    agg = frame.groupby(keys).agg(n=("y", "count"), mean=("y", "mean"), var=("y", "var"),
                                  prior=("prior", "mean")).reset_index()
    C, N = len(agg), int(agg["n"].sum())
    ss_within = float(((agg["n"] - 1) * agg["var"].fillna(0)).sum())
    sigma2 = ss_within / max(N - C, 1)
    if not sigma2 > 0:
        raise ValueError("pool_groups: no variation within groups (every group has one post or identical values); "
                         "σ² cannot be estimated")
    v = sigma2 / agg["n"].to_numpy(dtype=float)
    w = 1 / v
    ybar = agg["mean"].to_numpy(dtype=float)
    mu = float((w * ybar).sum() / w.sum())
    m = mu + agg["prior"].to_numpy(dtype=float)
    d = ybar - m
    dbar = float((w * d).sum() / w.sum())
    Q = float((w * (d - dbar) ** 2).sum())
    denom = float(w.sum() - (w ** 2).sum() / w.sum())
    tau2 = max(0.0, (Q - (C - 1)) / denom) if denom > 0 else 0.0
    B = v / (v + tau2)
    theta = m + (1 - B) * d
    p = n_prior_params
    var = v * (1 - (C - p) / C * B) + (2 / (C - p - 2) if C > p + 2 else 0.0) * B ** 2 * d ** 2
    se = np.sqrt(var)
    agg["theta"] = theta - mu
    agg["raw"] = ybar - mu
    agg["se"] = se
    agg["lo"], agg["hi"] = agg["theta"] - Z * se, agg["theta"] + Z * se
    return agg.drop(columns=["var", "prior"]), tau2, sigma2


def _records(agg: pd.DataFrame, keys: list[str]) -> list[dict]:
    out = []
    for r in agg.itertuples(index=False):
        d = {k: int(getattr(r, k)) for k in keys}
        d.update(n=int(r.n), ratio=math.exp(r.theta), ci_low=math.exp(r.lo), ci_high=math.exp(r.hi),
                 raw_ratio=math.exp(r.raw))
        out.append(d)
    return out


def analyze_timing(posts: pd.DataFrame, *, outcome: str = "impressions", timezone: str = "UTC") -> TimingResult:
    """Weekday × hour (and hour, weekday) effects on ``outcome``, partially pooled, with 95% intervals.

    Parameters
    ----------
    posts
        Posts table (``published_at`` UTC; ``published_time_reliable``, ``is_reply`` … used when present).
    outcome
        A count column of the posts (impressions, engagements …).
    timezone
        The card's IANA time zone: hours and weekdays are local.
    """
    prep, n_unrel, n_other = prepare_posts(posts, outcome=outcome, timezone=timezone)
    res = TimingResult(outcome=outcome, timezone=timezone, n_posts=len(prep), n_excluded_unreliable_time=n_unrel,
                       n_excluded_other=n_other)
    excluded = (f" {n_unrel} post(s) were left out because the export's time of day is known to be unreliable."
                if n_unrel else "")
    if len(prep) < MIN_POSTS:
        res.note = (f"Not estimated: {len(prep)} usable posts with {outcome} and a reliable time (at least "
                    f"{MIN_POSTS} are needed).{excluded}")
        return res
    hour, wday = prep["hour"].rename("hour"), prep["weekday"].rename("weekday")
    n_cells = prep.groupby(["weekday", "hour"]).ngroups
    if n_cells < MIN_GROUPS:
        res.note = (f"Not estimated: the posts occupy only {n_cells} weekday × hour slot(s) (at least "
                    f"{MIN_GROUPS} are needed to pool them).{excluded}")
        return res
    within_df = len(prep) - n_cells
    spread = float(prep["y"].std(ddof=1)) if len(prep) > 1 else 0.0
    if within_df < MIN_WITHIN_DF or not spread > 0:
        why = (f"{len(prep)} posts in {n_cells} weekday × hour slots leave {within_df} posts beyond one per slot "
               f"to measure how much posts in the same slot differ (at least {MIN_WITHIN_DF} are needed; more "
               "posts, or posts repeated at the same hours, would make it possible)"
               if within_df < MIN_WITHIN_DF else f"every post has the same month-adjusted {outcome}")
        res.note = f"Not estimated: {why}.{excluded}"
        return res
    # main effects first (each pooled on its own), then each cell pooled towards hour effect + weekday effect
    hours, _, _ = pool_groups(prep["y"], [hour])
    days, _, _ = pool_groups(prep["y"], [wday])
    offset = (hour.map(hours.set_index("hour")["theta"]) + wday.map(days.set_index("weekday")["theta"]))
    n_main = (len(hours) - 1) + (len(days) - 1) + 1
    cells, tau2, sigma2 = pool_groups(prep["y"], [wday, hour], prior=offset, n_prior_params=n_main)
    res.cells, res.tau2, res.sigma2 = _records(cells, ["weekday", "hour"]), tau2, sigma2
    res.hours = _records(hours, ["hour"]) if len(hours) >= MIN_GROUPS else []
    res.weekdays = _records(days, ["weekday"]) if len(days) >= MIN_GROUPS else []
    res.note = (f"{len(prep)} own original posts with {outcome}, in {len(cells)} weekday × hour slots "
                f"({timezone}).{excluded}"
                + (" Beyond the hour and weekday effects, the slots differ no more than chance would make them "
                   "(τ² = 0): each slot is pooled fully towards its hour + weekday effect." if tau2 == 0 else ""))
    return res


def window_effect(posts: pd.DataFrame, *, weekdays=range(7), hours=range(24), outcome: str = "engagements",
                  timezone: str = "UTC") -> dict[str, Any]:
    """Posts in a weekday/hour window vs all other posts: ratio of geometric means (month-adjusted) with a
    Welch 95% interval; ``ratio`` None (and ``note``) when either group has fewer than 5 posts."""
    prep, n_unrel, _ = prepare_posts(posts, outcome=outcome, timezone=timezone)
    inside = prep["weekday"].isin(list(weekdays)) & prep["hour"].isin(list(hours))
    a, b = prep.loc[inside, "y"].to_numpy(), prep.loc[~inside, "y"].to_numpy()
    out: dict[str, Any] = {"n_window": len(a), "n_other": len(b), "n_excluded_unreliable_time": n_unrel,
                           "ratio": None, "ci_low": None, "ci_high": None}
    if len(a) < 5 or len(b) < 5:
        out["note"] = (f"too few posts to compare: {len(a)} in the window, {len(b)} outside (at least 5 each); "
                       "a reliable time of day is needed")
        return out
    d = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    from scipy import stats

    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if va + vb > 0 else len(a) + len(b) - 2
    t = float(stats.t.ppf(0.975, df))
    out.update(ratio=math.exp(d), ci_low=math.exp(d - t * se), ci_high=math.exp(d + t * se),
               method="Welch t on month-adjusted log1p(outcome)")
    return out
