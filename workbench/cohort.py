"""Training cohorts: did training change what accounts post and how far it reaches? (DESIGN.md §9)

``workbench cohort COHORT.yml --out DIR`` reads the cohort card (``name``, ``title``, ``accounts:`` a list of
``{dataset, treated, follow_up, group}``), ingests every member's dataset folder, builds a weekly panel per account
and writes ``results/cohort.csv`` (``outcome, estimand, estimate, std_error, ci_low, ci_high, n_accounts,
method``), ``results/cohort.json``, the event-time and Kaplan–Meier figures and ``report.html``.

Estimator: Callaway & Sant'Anna (2021) group-time average treatment effects, written here with numpy
---------------------------------------------------------------------------------------------------------
Why this estimator: training is staggered (waves), and the effect changes with time since training (accounts
lapse). A two-way fixed-effects regression then compares late-trained accounts with *already-trained* ones and can
even flip sign (Goodman-Bacon 2021); Callaway–Sant'Anna only ever compares an account trained in week *g* with
accounts **not yet trained** at the weeks compared (and never-trained ones), so no already-treated account serves
as a control.

* A group *g* is the set of accounts whose training date falls in calendar week *g* (weeks start on Monday; the
  training week is event time 0). For every group and week *t* in the event window,
  ``ATT(g,t) = mean_{i∈g}(Y_it − base_i) − mean_{i∈C(g,t)}(Y_it − base_i)`` with ``C(g,t)`` the accounts trained
  after week ``max(t, g−1)`` or never, group *g* excluded. ``base_i`` is the account's mean over the
  ``BASE_WEEKS`` = 4 weeks before *g* (Callaway–Sant'Anna's universal base is the single week ``g − 1``; weekly
  post counts are so noisy that one base week made the standard errors 1.5–1.7× larger on the simulated
  40-account consortium, e.g. 0.60 against 0.39 posts per week for ``att``). The pre-training estimates (weeks before the base) are placebo tests against the same base.
  No covariates (unconditional parallel trends). An account missing either week (no posts → no impressions per
  post; outside its data) drops out of that cell only.
* Event time *e*: ``θ(e) = Σ_g w_g ATT(g, g+e)`` with ``w_g`` the number of treated accounts in the cell.
  ``att`` is the mean of θ(e) over e = 0 … window end ("the average effect in the first N weeks after training");
  ``att_pre_mean`` the mean over the pre-training weeks (a placebo: should be near 0).
* Inference: each cell is a difference of two means; its influence function per account is
  ``(ΔY_i − mean)/n`` (treated) or ``−(ΔY_i − mean)/n`` (controls), scaled by ``√(n/(n−1))`` so a single cell
  has exactly the Welch variance. Aggregates sum the influence functions per account before squaring, so the
  standard errors are clustered by account across weeks and groups. 95 % CIs are normal. The group weights are
  treated as fixed (the did package adds a term for their estimation; it is small next to these). A cell needs
  at least two treated and two control accounts; with fewer it is not estimated, and a quantity that rests on
  no estimable cell is reported as not available with the reason.
* Packages considered: ``differences`` and ``csdid`` resolve from PyPI (checked with ``pip install --dry-run``),
  but they bring large dependency trees (differences: polars, formulaic, tqdm; csdid: plotnine, twine, keyring,
  drdid) for the one unconditional estimator used here, so it is written with numpy and verified instead: against
  a hand-computed case, for a single wave against a saturated two-way fixed-effects event study fitted with
  statsmodels (identical point estimates), and against simulated truth (tests/test_cohort.py).

Going quiet: time from training to the first stretch of 30 days without a post (Kaplan–Meier, lifelines), by
cohort, and the follow-up question as a *landmark* comparison (only accounts still posting at the follow-up
week count, and the clock starts there for both arms, so accounts that lapsed before a follow-up could happen do
not flatter the follow-up arm).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import InputError

OUTCOMES = ("posts_per_week", "impressions_per_post", "follower_growth_per_day")
OUTCOME_LABELS = {
    "posts_per_week": "posts per week",
    "impressions_per_post": "impressions per post",
    "follower_growth_per_day": "follower growth per day",
}
CSV_COLUMNS = ("outcome", "estimand", "estimate", "std_error", "ci_low", "ci_high", "n_accounts", "method")
CARD_KEYS = ("name", "title", "accounts")
ACCOUNT_KEYS = ("dataset", "treated", "follow_up", "group")
QUIET_DAYS = 30
DEFAULT_WINDOW = (-12, 26)
BASE_WEEKS = 4  # the comparison base: the mean of the 4 weeks before training
METHOD_CS = ("Callaway-Sant'Anna group-time ATT, not-yet-trained and never-trained controls, base = mean of the "
             f"{BASE_WEEKS} weeks before training, no covariates; SE clustered by account (influence functions); "
             "normal 95% CI")
METHOD_KM = f"Kaplan-Meier (lifelines); quiet = first {QUIET_DAYS} days without a post after training"


class CohortCardError(InputError):
    """An invalid cohort card (cohort.yml)."""


@dataclass(frozen=True)
class Member:
    dataset: Path
    label: str  # as written in the card
    treated: dt.date | None
    follow_up: dt.date | None = None
    group: str = ""


@dataclass(frozen=True)
class CohortCard:
    path: Path
    name: str
    title: str
    members: tuple[Member, ...] = field(default_factory=tuple)


def _date(value: Any, where: str, card: Path) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CohortCardError(f"{where} must be a date like 2023-01-31 (or absent), found {value!r}", file=card) from None


def load_cohort_card(path: str | Path) -> CohortCard:
    """Read and validate ``cohort.yml`` (DESIGN.md §9); every error names the card and the entry."""
    card = Path(path)
    if card.is_dir():
        card = card / "cohort.yml"
    if not card.is_file():
        raise CohortCardError("no cohort card here: expected a cohort.yml file", file=card)
    try:
        data = yaml.safe_load(card.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CohortCardError(f"not valid YAML: {exc}", file=card) from None
    except ValueError as exc:  # YAML reads 2023-13-01 as a date and fails on it
        raise CohortCardError(f"a date in the card is not a calendar date ({exc}); write dates like 2023-01-31",
                              file=card) from None
    if not isinstance(data, dict):
        raise CohortCardError(f"the card must be a mapping with {', '.join(CARD_KEYS)}, found {type(data).__name__}",
                              file=card)
    unknown = [k for k in data if k not in CARD_KEYS]
    if unknown:
        raise CohortCardError(f"unknown key {unknown[0]!r}. Allowed keys: {', '.join(CARD_KEYS)}", file=card)
    for req in ("name", "accounts"):
        if req not in data:
            raise CohortCardError(f"required key {req!r} is missing", file=card)
    name = str(data["name"])
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        raise CohortCardError(f"name must use only a-z, 0-9, '_' and '-', found {name!r}", file=card)
    accounts = data["accounts"]
    if not isinstance(accounts, list) or not accounts:
        raise CohortCardError("'accounts' must be a non-empty list of {dataset, treated, follow_up, group} maps",
                              file=card)
    members: list[Member] = []
    seen: dict[Path, int] = {}
    for i, item in enumerate(accounts):
        where = f"accounts[{i}]"
        if not isinstance(item, dict):
            raise CohortCardError(f"{where} must be a map with dataset and treated, found {item!r}", file=card)
        bad = [k for k in item if k not in ACCOUNT_KEYS]
        if bad:
            raise CohortCardError(f"unknown key {bad[0]!r} in {where}. Allowed keys: {', '.join(ACCOUNT_KEYS)}",
                                  file=card)
        if not item.get("dataset"):
            raise CohortCardError(f"{where} has no 'dataset' (a dataset folder, relative to the card)", file=card)
        folder = (card.parent / str(item["dataset"])).resolve()
        if folder in seen:
            raise CohortCardError(f"{where} repeats the dataset of accounts[{seen[folder]}] ({item['dataset']})",
                                  file=card)
        seen[folder] = i
        treated = _date(item.get("treated"), f"{where}.treated", card)
        follow = _date(item.get("follow_up"), f"{where}.follow_up", card)
        if follow is not None and treated is None:
            raise CohortCardError(f"{where} has a follow_up date but no treated date", file=card)
        if follow is not None and follow < treated:
            raise CohortCardError(f"{where}.follow_up {follow} is before its treated date {treated}", file=card)
        members.append(Member(folder, str(item["dataset"]), treated, follow, str(item.get("group") or "")))
    if not any(m.treated for m in members):
        raise CohortCardError("no account has a 'treated' date: there is nothing to estimate", file=card)
    return CohortCard(card.resolve(), name, str(data.get("title") or name), tuple(members))


# --------------------------------------------------------------------------------------------------------------
# the weekly panel


def week_start(dates: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Monday of each date's week (naive midnight)."""
    d = pd.DatetimeIndex(dates).normalize()
    return d - pd.to_timedelta(d.dayofweek, unit="D")


def account_weekly(posts: pd.DataFrame, account: pd.DataFrame, *, timezone: str = "UTC") -> tuple[pd.DataFrame, pd.Series]:
    """One account's weekly outcomes and its post dates (local, naive).

    The account is observed from the first to the last date seen in its posts or account series; only weeks
    wholly inside that span count. ``posts_per_week`` is 0 in an observed week without posts;
    ``impressions_per_post`` is NA then (and where impressions are not reported); ``follower_growth_per_day`` is the
    change of the follower level (linearly interpolated between recorded dates, never extrapolated) from the end of
    the previous week to the end of this one, divided by 7.
    """
    pub = pd.Series(pd.DatetimeIndex(posts["published_at"]).tz_convert(timezone).tz_localize(None)) \
        if len(posts) else pd.Series(pd.DatetimeIndex([]))
    acc_dates = pd.to_datetime(account["date"]) if len(account) else pd.Series(pd.DatetimeIndex([]))
    all_dates = pd.concat([pub.dt.normalize(), pd.Series(pd.DatetimeIndex(acc_dates).normalize())], ignore_index=True)
    if all_dates.empty:
        return pd.DataFrame(columns=["week", *OUTCOMES]), pub
    first, last = all_dates.min(), all_dates.max()
    w0 = week_start([first])[0]
    if w0 < first:
        w0 += pd.Timedelta(days=7)
    w_last = week_start([last])[0]
    if w_last + pd.Timedelta(days=6) > last:
        w_last -= pd.Timedelta(days=7)
    if w_last < w0:
        return pd.DataFrame(columns=["week", *OUTCOMES]), pub
    weeks = pd.date_range(w0, w_last, freq="7D")
    pw = week_start(pub) if len(pub) else pd.DatetimeIndex([])
    imp = pd.to_numeric(posts["impressions"], errors="coerce").astype("float64").to_numpy() if len(posts) else np.array([])
    g = pd.DataFrame({"week": pw, "imp": imp, "has_imp": ~np.isnan(imp)})
    agg = g.groupby("week").agg(posts=("imp", "size"), imp_sum=("imp", "sum"), imp_n=("has_imp", "sum"))
    agg = agg.reindex(weeks)
    out = pd.DataFrame({"week": weeks})
    out["posts_per_week"] = agg["posts"].fillna(0).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ipp = agg["imp_sum"].to_numpy(dtype=float) / agg["imp_n"].to_numpy(dtype=float)
    out["impressions_per_post"] = np.where(agg["imp_n"].fillna(0).to_numpy() > 0, ipp, np.nan)
    out["follower_growth_per_day"] = np.nan
    if len(account) and "followers" in account:
        keys = [c for c in ("platform", "account") if c in account]
        fol = account[["date", "followers", *keys]].copy()
        fol["followers"] = pd.to_numeric(fol["followers"], errors="coerce").astype("float64")
        fol = fol.dropna(subset=["date", "followers"])
        if keys and len(fol):
            # several series (platforms, handles) in one dataset: follow the one with the most follower counts,
            # never a mix of levels that would look like jumps
            sizes = fol.groupby(keys, observed=True, dropna=False).size()
            main = sizes.idxmax()
            main = main if isinstance(main, tuple) else (main,)
            sel = np.ones(len(fol), dtype=bool)
            for k, v in zip(keys, main, strict=True):
                sel &= (fol[k].isna() if pd.isna(v) else (fol[k] == v)).to_numpy(dtype=bool)
            fol = fol[sel]
        fol = fol.groupby(pd.to_datetime(fol["date"]).dt.normalize())["followers"].last()
        if len(fol) >= 2:
            # level at the end of day d is recorded at date d; a week's end is its Sunday
            x = fol.index.asi8.astype(float)
            ends = (weeks + pd.Timedelta(days=6)).asi8.astype(float)
            prev = (weeks - pd.Timedelta(days=1)).asi8.astype(float)
            lvl_end = np.interp(ends, x, fol.to_numpy(), left=np.nan, right=np.nan)
            lvl_prev = np.interp(prev, x, fol.to_numpy(), left=np.nan, right=np.nan)
            out["follower_growth_per_day"] = (lvl_end - lvl_prev) / 7.0
    return out, pub


@dataclass
class Panel:
    """Accounts × weeks matrices of each outcome (NaN = not observed) and the accounts' training weeks."""

    accounts: list[str]
    weeks: pd.DatetimeIndex
    Y: dict[str, np.ndarray]
    group: np.ndarray  # week index of training, or +inf when never trained in the data
    members: list[Member]
    post_dates: dict[str, pd.Series]
    end: dict[str, pd.Timestamp]


def build_panel(card: CohortCard, *, echo=print) -> tuple[Panel, list[dict[str, str]]]:
    """Ingest every member's dataset; return the panel and the members that could not be used (with why)."""
    from .dataset import load_dataset
    from .ingest import read_exports

    frames: list[pd.DataFrame] = []
    excluded: list[dict[str, str]] = []
    kept: list[Member] = []
    names: list[str] = []
    post_dates: dict[str, pd.Series] = {}
    ends: dict[str, pd.Timestamp] = {}
    for m in card.members:
        try:
            ds = load_dataset(m.dataset)
            res = read_exports(ds)
            weekly, pub = account_weekly(res.posts, res.account, timezone=ds.timezone)
        except InputError as exc:
            excluded.append({"dataset": m.label, "reason": str(exc).splitlines()[0]})
            echo(f"  {m.label}: excluded: {str(exc).splitlines()[0]}")
            continue
        if weekly.empty:
            excluded.append({"dataset": m.label, "reason": "no complete week of data (no posts or account rows)"})
            continue
        name = ds.name if ds.name not in names else f"{ds.name}~{len(names)}"
        weekly["account"] = name
        frames.append(weekly)
        names.append(name)
        kept.append(m)
        post_dates[name] = pub
        ends[name] = weekly["week"].max() + pd.Timedelta(days=7)  # exclusive end of the observed span
        echo(f"  {m.label}: {len(pub)} posts, {len(weekly)} weeks")
    if not frames:
        raise InputError("no account of the cohort card could be read; see the reasons above", file=card.path)
    long = pd.concat(frames, ignore_index=True)
    weeks = pd.date_range(long["week"].min(), long["week"].max(), freq="7D")
    col = ((long["week"] - weeks[0]).dt.days // 7).to_numpy()
    row = pd.Categorical(long["account"], categories=names).codes
    Y = {}
    for o in OUTCOMES:
        mat = np.full((len(names), len(weeks)), np.nan)
        mat[row, col] = long[o].to_numpy(dtype=float)
        Y[o] = mat
    group = np.array([
        ((week_start([pd.Timestamp(m.treated)])[0] - weeks[0]).days // 7) if m.treated else np.inf for m in kept
    ], dtype=float)
    return Panel(names, weeks, Y, group, kept, post_dates, ends), excluded


# --------------------------------------------------------------------------------------------------------------
# Callaway–Sant'Anna


@dataclass
class GroupTime:
    """Estimable ATT(g,t) cells with their per-account influence functions."""

    g: np.ndarray
    t: np.ndarray
    e: np.ndarray
    att: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray
    psi: np.ndarray  # cells × accounts
    used: np.ndarray  # cells × accounts: account contributed to the cell


def att_gt(Y: np.ndarray, group: np.ndarray, *, window: tuple[int, int] = DEFAULT_WINDOW,
           min_units: int = 2, base_weeks: int = 1) -> GroupTime:
    """Group-time ATTs (not-yet-trained controls) for event times in ``window``.

    ``Y`` is accounts × weeks (NaN = unobserved); ``group`` the training week index per account (inf = never).
    The base of every comparison is the account's mean over the ``base_weeks`` weeks before training (at least
    half of them observed); with ``base_weeks=1`` this is Callaway–Sant'Anna's universal base week ``g − 1``.
    Event times inside the base (−base_weeks … −1) are the reference and are not estimated.
    """
    n, T = Y.shape
    B = int(base_weeks)
    if B < 1:
        raise InputError(f"base_weeks must be at least 1, found {base_weeks}")
    gs = np.unique(group[np.isfinite(group)]).astype(int)
    rows: list[tuple] = []
    psis: list[np.ndarray] = []
    useds: list[np.ndarray] = []
    for g in gs:
        b = g - 1
        if g - B < 0 or b >= T:
            continue
        win = Y[:, g - B:g]
        seen = np.isfinite(win).sum(axis=1)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            base = np.where(seen * 2 >= B, np.nanmean(win, axis=1), np.nan)
        for e in range(window[0], window[1] + 1):
            t = g + e
            if -B <= e <= -1 or t < 0 or t >= T:
                continue
            dy = Y[:, t] - base
            ok = np.isfinite(dy)
            treated = ok & (group == g)
            control = ok & (group > max(t, b)) & (group != g)
            nt, nc = int(treated.sum()), int(control.sum())
            if nt < min_units or nc < min_units:
                continue
            mt, mc = dy[treated].mean(), dy[control].mean()
            psi = np.zeros(n)
            psi[treated] = (dy[treated] - mt) / nt * (math.sqrt(nt / (nt - 1)) if nt > 1 else 1.0)
            psi[control] = -(dy[control] - mc) / nc * (math.sqrt(nc / (nc - 1)) if nc > 1 else 1.0)
            rows.append((g, t, e, mt - mc, nt, nc))
            psis.append(psi)
            useds.append(treated | control)
    if not rows:
        empty = np.array([])
        return GroupTime(empty, empty, empty, empty, empty, empty, np.zeros((0, n)), np.zeros((0, n), dtype=bool))
    arr = np.array(rows, dtype=float)
    return GroupTime(arr[:, 0], arr[:, 1], arr[:, 2].astype(int), arr[:, 3], arr[:, 4], arr[:, 5],
                     np.vstack(psis), np.vstack(useds))


@dataclass
class Estimate:
    estimand: str
    estimate: float
    std_error: float
    n_accounts: int
    note: str = ""

    @property
    def ci(self) -> tuple[float, float]:
        if not np.isfinite(self.std_error):
            return (float("nan"), float("nan"))
        return (self.estimate - 1.96 * self.std_error, self.estimate + 1.96 * self.std_error)


def _combine(gt: GroupTime, weights: np.ndarray, estimand: str) -> Estimate:
    """A fixed linear combination of cells: estimate, clustered SE, accounts used."""
    sel = weights != 0
    if not sel.any():
        return Estimate(estimand, float("nan"), float("nan"), 0, "no estimable group-time cell")
    est = float(weights[sel] @ gt.att[sel])
    infl = weights[sel] @ gt.psi[sel]
    se = float(np.sqrt(np.sum(infl**2)))
    n_acc = int(gt.used[sel].any(axis=0).sum())
    if not se > 0:
        return Estimate(estimand, est, float("nan"), n_acc, "the standard error is zero: the outcome does not vary")
    return Estimate(estimand, est, se, n_acc)


def event_time_weights(gt: GroupTime, e: int) -> np.ndarray:
    w = np.where(gt.e == e, gt.n_treated, 0.0)
    return w / w.sum() if w.sum() > 0 else w


def aggregate(gt: GroupTime, *, window: tuple[int, int] = DEFAULT_WINDOW) -> list[Estimate]:
    """θ(e) for every event time, ``att`` (mean over e ≥ 0) and ``att_pre_mean`` (mean over e ≤ −2)."""
    out: list[Estimate] = []
    ew: dict[int, np.ndarray] = {}
    for e in range(window[0], window[1] + 1):
        if e == -1:
            continue
        w = event_time_weights(gt, e)
        if w.sum() > 0:
            ew[e] = w
            out.append(_combine(gt, w, f"att_event_time_{e}"))
    post = [e for e in ew if e >= 0]
    pre = [e for e in ew if e <= -2]
    for name, es, what in (("att", post, "after"), ("att_pre_mean", pre, "before")):
        if es:
            w = sum(ew[e] for e in es) / len(es)
            est = _combine(gt, w, name)
            est.note = f"mean of the event-time effects {min(es)}…{max(es)} weeks {what} training"
        else:
            est = Estimate(name, float("nan"), float("nan"), 0,
                           f"no estimable week {what} training: needs accounts observed in the week before training "
                           f"and in the weeks {what} it, with at least two not-yet-trained accounts as controls")
        out.append(est)
    return out


def pretrend_test(gt: GroupTime, *, window: tuple[int, int] = DEFAULT_WINDOW) -> dict[str, Any]:
    """Wald test that every pre-training event-time effect is 0 (covariance from the influence functions)."""
    from scipy import stats

    es = [e for e in range(window[0], -1) if event_time_weights(gt, e).sum() > 0]
    if not es:
        return {"available": False, "reason": "no pre-training week could be estimated"}
    W = np.vstack([event_time_weights(gt, e) for e in es])
    theta = W @ gt.att
    infl = W @ gt.psi  # k × accounts
    V = infl @ infl.T
    rank = np.linalg.matrix_rank(V)
    if rank == 0:
        return {"available": False, "reason": "the pre-training estimates have no variance"}
    stat = float(theta @ np.linalg.pinv(V) @ theta)
    return {"available": True, "chi2": stat, "df": int(rank), "p_value": float(stats.chi2.sf(stat, rank)),
            "event_times": es}


# --------------------------------------------------------------------------------------------------------------
# going quiet


def quiet_durations(post_dates: pd.Series, start: pd.Timestamp, end: pd.Timestamp,
                    quiet_days: int = QUIET_DAYS) -> tuple[float, bool]:
    """Days from ``start`` until the account went quiet (the start of the first ≥ ``quiet_days`` gap without a post),
    and whether that was observed (False: censored at ``end − quiet_days``, the last day a gap could still be seen).

    The gap may start at ``start`` itself (no post in the first ``quiet_days`` days).
    """
    d = np.sort(pd.DatetimeIndex(post_dates).asi8)
    s, e = pd.Timestamp(start).value, pd.Timestamp(end).value
    day = 86_400 * 10**9
    d = d[(d >= s) & (d < e)]
    marks = np.concatenate([[s], d, [e]])
    gaps = np.diff(marks)
    big = np.flatnonzero(gaps >= quiet_days * day)
    if big.size:
        return float((marks[big[0]] - s) / day), True
    return max(float((e - quiet_days * day - s) / day), 0.0), False


#: |S(t) − 0.5| below this counts as the curve sitting at 0.5 (survival::quantile.survfit's tolerance)
_KM_TOL = float(np.sqrt(np.finfo(float).eps))


def _km_quantile(times: np.ndarray, surv: np.ndarray, p: float = 0.5) -> float:
    """Time at which the step curve ``surv`` (on ``times``, ascending) first falls to ``1 − p``, by
    ``survival::quantile.survfit``'s rule: the first time the curve is below it; where the curve sits *at* it
    (within :data:`_KM_TOL`) the midpoint between that time and the next drop (or the last time); ``inf`` when
    the curve never gets there (not reached, as lifelines says; R says NA).

    Written out because lifelines' ``median_survival_time_`` takes the first time with S ≤ 0.5, so when S is
    exactly 0.5 (half of an even number of accounts quiet, no censoring before) the median is that time or the
    next event's depending on the last bit of a floating-point product.
    """
    x = np.concatenate([[0.0], np.asarray(times, dtype=float)])
    y = np.concatenate([[0.0], 1.0 - np.asarray(surv, dtype=float)])
    xmax = x[-1]
    ok = np.isfinite(y)  # NaN: the interval is undefined there (S = 0)
    x, y = x[ok], y[ok]
    if y.size == 0 or y.max() < p:
        return float("inf")
    keep = np.concatenate([[True], np.diff(y) != 0])  # the first time of each value (y is non-decreasing)
    x, y = x[keep], y[keep]
    i1 = np.flatnonzero(y >= p - _KM_TOL)
    i2 = np.flatnonzero(y >= p + _KM_TOL)
    if abs(p - y[-1]) < _KM_TOL:
        return float((x[i1[0]] + xmax) / 2)
    return float((x[i1[0]] + x[i2[0]]) / 2) if i2.size else float("inf")


def _km(durations, observed, label: str) -> dict[str, Any]:
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(label=label).fit(durations, observed)
    t = kmf.survival_function_.index.to_numpy(dtype=float)
    med = _km_quantile(t, kmf.survival_function_.iloc[:, 0].to_numpy())
    ci_t = kmf.confidence_interval_.index.to_numpy(dtype=float)
    # where S = 0 the log(−log S) interval is undefined (survfit: NA); lifelines prints (0, 0), a zero-width
    # interval that would end the median's CI at the last event
    ci = kmf.confidence_interval_.to_numpy(dtype=float).copy()
    ci[kmf.survival_function_.reindex(kmf.confidence_interval_.index).iloc[:, 0].to_numpy() <= 0] = np.nan
    lo = _km_quantile(ci_t, ci[:, 0])  # the lower curve reaches 0.5 first: the lower end
    hi = _km_quantile(ci_t, ci[:, 1])
    sf = kmf.survival_function_.iloc[:, 0]
    at = {str(d): float(sf[sf.index <= d].iloc[-1]) if (sf.index <= d).any() else 1.0 for d in (30, 90, 180, 365)}
    return {"label": label, "n": int(len(durations)), "events": int(np.sum(observed)),
            "median_days": med if np.isfinite(med) else None, "median_ci": [lo, hi],
            "still_posting_at": at, "kmf": kmf}


def quiet_analysis(panel: Panel) -> dict[str, Any]:
    """Kaplan–Meier of time to going quiet, by cohort, and the follow-up landmark comparison."""
    from lifelines.statistics import logrank_test

    rows = []
    for name, m in zip(panel.accounts, panel.members, strict=True):
        if m.treated is None:
            continue
        start = pd.Timestamp(m.treated)
        end = panel.end[name]
        if end - pd.Timedelta(days=QUIET_DAYS) <= start:
            continue
        dur, obs = quiet_durations(panel.post_dates[name], start, end)
        fu = (pd.Timestamp(m.follow_up) - start).days if m.follow_up else None
        rows.append({"account": name, "treated": start, "cohort": m.group or f"trained {m.treated:%Y-%m}",
                     "duration": dur, "observed": obs, "follow_up_day": fu, "end": end})
    df = pd.DataFrame(rows)
    out: dict[str, Any] = {"definition": f"days from training to the first {QUIET_DAYS} days without a post",
                           "by_cohort": [], "follow_up": None, "accounts": len(df)}
    if df.empty:
        out["reason"] = "no trained account is observed for more than 30 days after its training"
        return out
    for label, sub in df.groupby(df["treated"].dt.strftime("trained %Y-%m-%d")):
        out["by_cohort"].append(_km(sub["duration"], sub["observed"], label))
    with_fu = df[df["follow_up_day"].notna()]
    if with_fu.empty or len(with_fu) == len(df):
        out["follow_up_reason"] = ("every trained account has a follow_up date" if len(with_fu) else
                                   "no account has a follow_up date") + ": no comparison is possible"
        return out
    lag = float(with_fu["follow_up_day"].median())
    landmark = df["follow_up_day"].fillna(lag)
    # still posting at the landmark, and observable after it
    at_risk = (df["duration"] > landmark) & ((df["end"] - df["treated"]).dt.days - QUIET_DAYS > landmark)
    lm = df[at_risk].assign(after=lambda x: x["duration"] - landmark[at_risk])
    arms = {"with_follow_up": lm[lm["follow_up_day"].notna()], "without_follow_up": lm[lm["follow_up_day"].isna()]}
    if min(len(a) for a in arms.values()) < 2:
        out["follow_up_reason"] = ("fewer than two accounts in an arm are still posting at the follow-up landmark "
                                   f"({len(arms['with_follow_up'])} with, {len(arms['without_follow_up'])} without)")
        return out
    res = {k: _km(a["after"], a["observed"], k.replace("_", " ")) for k, a in arms.items()}
    lr = logrank_test(arms["with_follow_up"]["after"], arms["without_follow_up"]["after"],
                      arms["with_follow_up"]["observed"], arms["without_follow_up"]["observed"])
    out["follow_up"] = {
        "landmark_days": {"with_follow_up": "each account's own follow-up day",
                          "without_follow_up": f"{lag:.0f} (the median follow-up day)"},
        "excluded_quiet_before_landmark": int((~at_risk).sum()), "arms": res,
        "logrank_chi2": float(lr.test_statistic), "logrank_p": float(lr.p_value),
    }
    return out


# --------------------------------------------------------------------------------------------------------------
# the command


def _fmt(v: float, digits: int = 2) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:,.{digits}f}"


def run_cohort(card_path: str | Path, out: str | Path, *, window: tuple[int, int] = DEFAULT_WINDOW,
               base_weeks: int = BASE_WEEKS, echo=print) -> dict[str, Any]:
    """Everything ``workbench cohort`` does; returns the results dict written to ``results/cohort.json``."""
    import matplotlib

    matplotlib.use("Agg")
    from .io import write_csv, write_json, write_text
    from .rollup_report import render_html, save_figure, spreadsheet_safe

    card = load_cohort_card(card_path)
    out = Path(out)
    echo(f"cohort {card.name}: {len(card.members)} accounts in the card")
    panel, excluded = build_panel(card, echo=echo)
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {"name": card.name, "title": card.title, "window_weeks": list(window),
                               "base_weeks": base_weeks,
                               "accounts": len(panel.accounts), "excluded": excluded,
                               "trained": int(np.isfinite(panel.group).sum()),
                               "never_trained": int((~np.isfinite(panel.group)).sum()),
                               "weeks": [panel.weeks[0].date().isoformat(), panel.weeks[-1].date().isoformat()],
                               "method": METHOD_CS, "outcomes": {}}
    curves: dict[str, list[Estimate]] = {}
    for o in OUTCOMES:
        gt = att_gt(panel.Y[o], panel.group, window=window, base_weeks=base_weeks)
        ests = aggregate(gt, window=window)
        curves[o] = ests
        for est in ests:
            lo, hi = est.ci
            rows.append({"outcome": o, "estimand": est.estimand, "estimate": est.estimate, "std_error": est.std_error,
                         "ci_low": lo, "ci_high": hi, "n_accounts": est.n_accounts, "method": METHOD_CS})
        results["outcomes"][o] = {
            "cells": int(len(gt.att)),
            "estimates": {e.estimand: {"estimate": e.estimate, "std_error": e.std_error, "ci": list(e.ci),
                                       "n_accounts": e.n_accounts, "note": e.note} for e in ests},
            "pretrend": pretrend_test(gt, window=window),
        }
    quiet = quiet_analysis(panel)
    for c in quiet["by_cohort"]:
        rows.append({"outcome": "days_to_quiet", "estimand": f"median {c['label']}",
                     "estimate": c["median_days"] if c["median_days"] is not None else float("nan"),
                     "std_error": float("nan"), "ci_low": c["median_ci"][0], "ci_high": c["median_ci"][1],
                     "n_accounts": c["n"], "method": METHOD_KM})
    if quiet.get("follow_up"):
        for k, a in quiet["follow_up"]["arms"].items():
            rows.append({"outcome": "days_to_quiet_after_landmark", "estimand": f"median_{k}",
                         "estimate": a["median_days"] if a["median_days"] is not None else float("nan"),
                         "std_error": float("nan"), "ci_low": a["median_ci"][0], "ci_high": a["median_ci"][1],
                         "n_accounts": a["n"], "method": METHOD_KM + "; landmark at the follow-up"})
    table = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    # a Kaplan–Meier bound that was never reached is unknown, not infinite: blank in the CSV
    table[["ci_low", "ci_high"]] = table[["ci_low", "ci_high"]].replace([np.inf, -np.inf], np.nan)
    write_csv(out / "results" / "cohort.csv", spreadsheet_safe(table))

    # figures
    import matplotlib.pyplot as plt

    figs: dict[str, str] = {}
    fig, axes = plt.subplots(1, len(OUTCOMES), figsize=(13, 3.6))
    for ax, o in zip(axes, OUTCOMES, strict=True):
        pts = [(int(e.estimand.rsplit("_", 1)[1]), e) for e in curves[o] if e.estimand.startswith("att_event_time_")]
        if pts:
            k = np.array([p[0] for p in pts])
            est = np.array([p[1].estimate for p in pts])
            lo = np.array([p[1].ci[0] for p in pts])
            hi = np.array([p[1].ci[1] for p in pts])
            for j, part in enumerate((k < 0, k >= 0)):  # no line across the reference weeks
                if part.any():
                    ax.fill_between(k[part], lo[part], hi[part], color="#9ecae1", alpha=0.6,
                                    label="95% CI" if j else None)
                    ax.plot(k[part], est[part], "o-", color="#08519c", ms=3, label="estimate" if j else None)
            ax.axvspan(-base_weeks - 0.5, -0.5, color="#eeeeee", label="reference weeks")
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
        ax.set_title(OUTCOME_LABELS[o])
        ax.set_xlabel("weeks since training")
    axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    figs["event_time"] = save_figure(fig, out / "results" / "figures" / "cohort_event_time.png")
    plt.close(fig)
    if quiet["by_cohort"]:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        for c in quiet["by_cohort"]:
            c["kmf"].plot_survival_function(ax=axes[0], ci_show=False)
        axes[0].set_title("still posting (no 30-day silence), by training cohort")
        axes[0].set_xlabel("days since training")
        if quiet.get("follow_up"):
            for a in quiet["follow_up"]["arms"].values():
                a["kmf"].plot_survival_function(ax=axes[1], ci_show=True)
            axes[1].set_title("after the follow-up landmark")
            axes[1].set_xlabel("days since landmark")
        else:
            axes[1].set_axis_off()
        fig.tight_layout()
        figs["quiet"] = save_figure(fig, out / "results" / "figures" / "cohort_quiet_km.png")
        plt.close(fig)
    for c in quiet["by_cohort"]:
        c.pop("kmf")
    if quiet.get("follow_up"):
        for a in quiet["follow_up"]["arms"].values():
            a.pop("kmf")
    results["quiet"] = quiet
    write_json(out / "results" / "cohort.json", results)
    write_text(out / "report.html", render_html("cohort.html.j2", results=results, table=table,
                                                labels=OUTCOME_LABELS, figures=figs, fmt=_fmt))
    return results
