"""A simulated consortium: member accounts with known, staggered training effects (``workbench simulate --accounts``).

``simulate_consortium(out, n_accounts=40, cohort=True)`` writes one dataset folder per member account (an X legacy
per-tweet export and a daily follower sheet, read by the ordinary ingest), a ``cohort.yml`` card naming every
member with its training date, optional follow-up date and group, one member whose ``dataset.yml`` is broken on
purpose (``broken_card/``: a batch run must keep going past it), and ``TRUTH.md`` with every true parameter and the
realised true effects the cohort estimator should recover.

Truth model (weekly calendar from Monday 2022-01-03 to Sunday 2023-12-31, 104 weeks; all numbers are parameters)
-----------------------------------------------------------------------------------------------------------------
Posting
    Account *i* posts on each day a Poisson number of posts with mean ``(λ_i + c_t + δ_posts·D_it·A_it)/7`` while
    active; ``λ_i ~ U(1.5, 5)`` posts per week, ``c_t`` a common calendar effect shared by every account
    (a seasonal wave of ±0.6 posts/week, +0.4 posts/week per year, −1.2 in the last two weeks of each year), so a
    naive before/after comparison is biased and a difference-in-differences is not. ``D_it`` = 1 from the training
    date on; ``δ_posts`` = +1.5 posts/week.
Going quiet
    A trained account *lapses* (stops posting for good) after an exponential time with mean 300 days from its
    training; after a follow-up session (8 weeks after training, for a random half of each wave) the remaining
    time to lapse has mean 900 days. Untrained accounts never lapse (a simplification: lapsing here is the
    training's failure mode). While lapsed, ``A_it`` = 0 and the account posts nothing.
Impressions per post
    ``(b_i + s_t + δ_imp·D_it)·exp(ε − σ²/2)``, ``b_i ~ U(300, 1200)``, ``s_t`` a common ±80 wave, ``δ_imp`` = +150
    impressions per post, ``ε ~ N(0, 0.6²)``; engagements ~ Poisson(1.5 % of impressions).
Followers
    Daily gross follows ~ Poisson(``g_i + 0.3 + 0.3·sin(…) + δ_fol·D_it·A_it``), unfollows ~ Poisson(0.3),
    ``g_i ~ U(0.5, 2)`` per day, ``δ_fol`` = +0.5 followers per day while an account is trained and active.

The true effect of training on account *i* in week *t* (what an ideal estimator recovers, averaged over the
Poisson and log-normal draws) is ``(λ_i + c_t + δ)·a_it − (λ_i + c_t)`` posts per week (``a_it`` the share of the
week's days the account was active), ``δ_imp`` impressions per post in weeks it posted, and ``δ_fol·a_it``
followers per day. TRUTH.md lists their averages per week since training over the trained accounts
(``truth.json`` too), so the estimates can be checked against them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .ingest.x_current import SNOWFLAKE_EPOCH_MS
from .io import write_text
from .simulate import (
    DEFAULT_HASHTAG_PROBS,
    DEFAULT_MENTION_PROBS,
    _compose_texts,
    _csv_all_quoted,
    _x_legacy_cells,
)

START = pd.Timestamp("2022-01-03")  # a Monday
N_WEEKS = 104
WAVES = (26, 39, 52, 65)  # training weeks (week index from START) of the four waves
FOLLOW_UP_WEEKS = 8
WINDOW = (-12, 26)  # event-time window (weeks) the truth is stated for
EFFECTS = {"posts_per_week": 1.5, "impressions_per_post": 150.0, "follower_growth_per_day": 0.5}
LAPSE_MEAN_DAYS = 300.0
LAPSE_MEAN_DAYS_AFTER_FOLLOW_UP = 900.0
GROUPS = ("physician", "department")
#: post-level effects on impressions (same in every account), as % change; the texts show the features
POST_EFFECTS_PCT = {"has_url": 20.0, "has_emoji": -15.0, "n_hashtags": -3.0, "n_mentions": 0.0}
POST_PREVALENCE = {"has_url": 0.5, "has_emoji": 0.25}
BROKEN = "broken_card"


def _common_effects(days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calendar effects shared by every account: posts/week, impressions/post, follows/day."""
    t = np.asarray((days - START).days, dtype=float)
    week_of_year = np.asarray(days.isocalendar().week, dtype=float)
    holiday = (days.month == 12) & (days.day >= 18)
    posts = 0.6 * np.sin(2 * np.pi * t / 365.25) + 0.4 * t / 365.25 - 1.2 * np.asarray(holiday)
    imps = 80.0 * np.sin(2 * np.pi * (week_of_year + 13) / 52)
    follows = 0.3 * np.sin(2 * np.pi * t / 365.25)
    return posts, imps, follows


def simulate_consortium_tables(n_accounts: int = 40, *, seed: int = 15, cohort: bool = True) -> dict:
    """Simulate every member account; return posts, daily followers, the members table and the truth.

    ``n_accounts`` counts the broken-card member too, so ``n_accounts − 1`` accounts have data. With
    ``cohort=False`` nobody is trained (a consortium without a training programme).
    """
    if n_accounts < 3:
        raise InputError(f"--accounts must be at least 3 (two members and the broken card), found {n_accounts}")
    rng = np.random.default_rng(seed)
    n = n_accounts - 1
    days = pd.date_range(START, periods=7 * N_WEEKS, freq="D")
    n_days = len(days)
    day_idx = np.arange(n_days)

    # --- members: wave (training week) or never trained; follow-up for half of each wave
    n_never = max(1, round(n * 0.18)) if cohort else n
    wave = np.full(n, -1)
    trained = rng.permutation(n)[: n - n_never]
    wave[trained] = np.asarray(WAVES)[np.arange(len(trained)) % len(WAVES)]
    follow = np.zeros(n, dtype=bool)
    for w in WAVES:
        members = np.flatnonzero(wave == w)
        follow[rng.permutation(members)[: len(members) // 2]] = True
    lam = rng.uniform(1.5, 5.0, n)
    base_imp = rng.uniform(300, 1200, n)
    growth = rng.uniform(0.5, 2.0, n)
    group = np.asarray(GROUPS, dtype=object)[rng.integers(0, len(GROUPS), n)]
    start_followers = rng.integers(200, 5000, n)

    # --- lapse day (index into days), inf when never
    train_day = np.where(wave >= 0, wave * 7, np.iinfo(np.int64).max // 4)
    e1 = rng.exponential(LAPSE_MEAN_DAYS, n)
    e2 = rng.exponential(LAPSE_MEAN_DAYS_AFTER_FOLLOW_UP, n)
    fu = FOLLOW_UP_WEEKS * 7
    lapse_after = np.where(follow & (e1 >= fu), fu + e2, e1)
    lapse_day = np.where(wave >= 0, train_day + np.ceil(lapse_after).astype(np.int64), np.iinfo(np.int64).max // 4)

    # --- daily grids (accounts × days)
    c_posts, c_imp, c_fol = _common_effects(days)
    D = day_idx[None, :] >= train_day[:, None]
    A = day_idx[None, :] < lapse_day[:, None]
    rate_untreated = np.clip(lam[:, None] + c_posts[None, :], 0.1, None)
    rate = np.where(A, rate_untreated + EFFECTS["posts_per_week"] * D, 0.0)
    n_posts = rng.poisson(rate / 7)
    gross = rng.poisson(np.clip(growth[:, None] + 0.3 + c_fol[None, :] + EFFECTS["follower_growth_per_day"] * (D & A), 0, None))
    unf = rng.poisson(0.3, size=gross.shape)
    followers = start_followers[:, None] + np.cumsum(gross - unf, axis=1)

    # --- posts (vectorized over every post of every account)
    acc_of, day_of = np.nonzero(n_posts)
    reps = n_posts[acc_of, day_of]
    acc_of, day_of = np.repeat(acc_of, reps), np.repeat(day_of, reps)
    m = len(acc_of)
    seconds = rng.integers(13 * 3600, 23 * 3600, m)  # 08:00–17:59 in New York, as UTC
    published = pd.DatetimeIndex(days[day_of]).tz_localize("UTC") + pd.to_timedelta(seconds, unit="s") \
        + pd.to_timedelta(rng.integers(0, 1000, m), unit="ms")
    # post features (independent draws) shown in the text the way X shows them; their effect on impressions is a
    # multiplier normalised to mean 1, so the training effect on impressions per post stays exactly δ_imp
    feats = pd.DataFrame({
        "has_poll": np.zeros(m, dtype=bool), "has_graphic": np.zeros(m, dtype=bool),
        "has_url": rng.random(m) < POST_PREVALENCE["has_url"], "has_emoji": rng.random(m) < POST_PREVALENCE["has_emoji"],
        "n_hashtags": rng.choice(len(DEFAULT_HASHTAG_PROBS), size=m, p=DEFAULT_HASHTAG_PROBS).astype("int64"),
        "n_mentions": rng.choice(len(DEFAULT_MENTION_PROBS), size=m, p=DEFAULT_MENTION_PROBS).astype("int64"),
        "is_reply": np.zeros(m, dtype=bool),
    })
    texts = _compose_texts(rng, feats)
    log_mult = sum(np.log1p(POST_EFFECTS_PCT[k] / 100) * feats[k].to_numpy(dtype=float) for k in POST_EFFECTS_PCT)
    e_mult = ((1 + POST_PREVALENCE["has_url"] * POST_EFFECTS_PCT["has_url"] / 100)
              * (1 + POST_PREVALENCE["has_emoji"] * POST_EFFECTS_PCT["has_emoji"] / 100)
              * sum(p * (1 + POST_EFFECTS_PCT["n_hashtags"] / 100) ** i for i, p in enumerate(DEFAULT_HASHTAG_PROBS))
              * sum(p * (1 + POST_EFFECTS_PCT["n_mentions"] / 100) ** i for i, p in enumerate(DEFAULT_MENTION_PROBS)))
    mean_imp = np.clip(base_imp[acc_of] + c_imp[day_of] + EFFECTS["impressions_per_post"] * D[acc_of, day_of], 20, None)
    mean_imp = mean_imp * np.exp(log_mult) / e_mult
    sigma = 0.6
    impressions = np.maximum(np.round(mean_imp * np.exp(rng.normal(-sigma**2 / 2, sigma, m))), 1).astype(np.int64)
    engagements = rng.poisson(impressions * 0.015).astype(np.int64)
    ms = published.asi8 // 1_000_000
    ids = ((ms - SNOWFLAKE_EPOCH_MS) << 22) | rng.integers(0, 1 << 22, m)
    zeros = np.zeros(m, dtype=np.int64)
    posts = pd.DataFrame({
        "account_index": acc_of, "post_id": ids.astype(str), "published_at": published, "text": texts,
        "impressions": impressions, "engagements": engagements, "media_views": zeros,
        "reposts": zeros, "replies": zeros, "likes": engagements, "profile_clicks": zeros, "url_clicks": zeros,
        "hashtag_clicks": zeros, "detail_expands": zeros, "permalink_clicks": zeros, "app_opens": zeros,
        "app_installs": zeros, "follows": zeros, "email_tweet": zeros, "dial_phone": zeros,
        "media_engagements": zeros,
    }).sort_values(["account_index", "published_at"], kind="stable").reset_index(drop=True)

    # --- realised truth per event week, averaged over trained accounts observed at that week
    active_share = A.reshape(n, N_WEEKS, 7).mean(axis=2)
    # expected posts in the week without training, and as simulated (trained, active days only)
    rate_u_week = rate_untreated.reshape(n, N_WEEKS, 7).mean(axis=2)
    rate_t_week = rate.reshape(n, N_WEEKS, 7).mean(axis=2)
    names = [f"member_{i + 1:03d}" for i in range(n)]
    truth_event: dict[str, dict[str, float]] = {o: {} for o in EFFECTS}
    trained_idx = np.flatnonzero(wave >= 0)
    for k in range(WINDOW[0], WINDOW[1] + 1):
        cols = wave[trained_idx] + k
        ok = (cols >= 0) & (cols < N_WEEKS)
        ii, cc = trained_idx[ok], cols[ok]
        if k < 0 or len(ii) == 0:
            vals = {o: 0.0 for o in EFFECTS}
        else:
            a = active_share[ii, cc]
            effect_posts = rate_t_week[ii, cc] - rate_u_week[ii, cc]
            posted = a > 0  # impressions per post exist only in weeks with a chance of a post
            vals = {
                "posts_per_week": float(effect_posts.mean()),
                "impressions_per_post": EFFECTS["impressions_per_post"] if posted.any() else float("nan"),
                "follower_growth_per_day": float((EFFECTS["follower_growth_per_day"] * a).mean()),
            }
        for o in EFFECTS:
            truth_event[o][str(k)] = round(vals[o], 6)
    truth_att = {o: round(float(np.mean([truth_event[o][str(k)] for k in range(0, WINDOW[1] + 1)])), 6)
                 for o in EFFECTS}
    members = pd.DataFrame({
        "name": names,
        "treated": [(START + pd.Timedelta(weeks=int(w))).date().isoformat() if w >= 0 else None for w in wave],
        "follow_up": [(START + pd.Timedelta(weeks=int(w) + FOLLOW_UP_WEEKS)).date().isoformat() if w >= 0 and f
                      else None for w, f in zip(wave, follow, strict=True)],
        "group": group, "posts_per_week_base": lam.round(4), "impressions_base": base_imp.round(2),
        "follows_per_day_base": growth.round(4),
        "lapse_date": [(START + pd.Timedelta(days=int(d))).date().isoformat() if d < n_days else None
                       for d in lapse_day],
    })
    truth = {
        "seed": seed, "n_members": n, "start": START.date().isoformat(),
        "end": days[-1].date().isoformat(), "weeks": N_WEEKS,
        "waves": [(START + pd.Timedelta(weeks=w)).date().isoformat() for w in WAVES] if cohort else [],
        "effects": EFFECTS, "window_weeks": list(WINDOW),
        "post_effects_pct": POST_EFFECTS_PCT, "post_prevalence": POST_PREVALENCE,
        "att": truth_att, "event_time": truth_event,
        "lapse_mean_days": LAPSE_MEAN_DAYS, "lapse_mean_days_after_follow_up": LAPSE_MEAN_DAYS_AFTER_FOLLOW_UP,
        "follow_up_weeks": FOLLOW_UP_WEEKS,
        "median_days_to_lapse": {
            "without_follow_up": round(LAPSE_MEAN_DAYS * np.log(2), 1),
            "with_follow_up": round(fu + LAPSE_MEAN_DAYS_AFTER_FOLLOW_UP * (np.log(2) - fu / LAPSE_MEAN_DAYS), 1),
        },
        # the landmark comparison starts the clock at the follow-up (8 weeks) for accounts still posting then:
        # without follow-up the exponential is memoryless (same median), with it the mean is the later one
        "median_days_after_follow_up_landmark": {
            "without_follow_up": round(LAPSE_MEAN_DAYS * np.log(2), 1),
            "with_follow_up": round(LAPSE_MEAN_DAYS_AFTER_FOLLOW_UP * np.log(2), 1),
        },
        "broken_member": BROKEN,
    }
    fol = pd.DataFrame({
        "account_index": np.repeat(np.arange(n), n_days), "date": np.tile(days, n), "followers": followers.ravel(),
    })
    return {"posts": posts, "followers": fol, "members": members, "truth": truth}


def _card(name: str, title: str) -> str:
    return (
        f"# Simulated consortium member (synthetic), written by `workbench simulate --accounts`.\n"
        f"name: {name}\ntitle: {title}\ntimezone: America/New_York\n"
        f'posts: ["raw/tweet_activity_metrics_*.csv"]\naccount:\n  - raw/followers_daily.csv\n'
        f"interventions:\n  - {{date: 2023-01-02, label: Consortium midpoint}}\n"
    )


def _cohort_yml(members: pd.DataFrame) -> str:
    lines = [
        "# Cohort card (DESIGN.md §9) of the simulated consortium: members, training and follow-up dates.",
        "# A member without `treated` was not trained during the data (a not-yet-trained control throughout).",
        "name: simulated_consortium",
        "title: Simulated consortium (synthetic) — physician and department accounts trained in four waves",
        "accounts:",
    ]
    for r in members.itertuples(index=False):
        item = [f"dataset: {r.name}"]
        if r.treated:
            item.append(f"treated: {r.treated}")
        if r.follow_up:
            item.append(f"follow_up: {r.follow_up}")
        item.append(f"group: {r.group}")
        lines.append("  - {" + ", ".join(item) + "}")
    return "\n".join(lines) + "\n"


def render_consortium_truth(truth: dict, members: pd.DataFrame) -> str:
    e = truth["effects"]
    rows = "\n".join(
        f"| {k} | {truth['event_time']['posts_per_week'][str(k)]:+.3f} | "
        f"{truth['event_time']['impressions_per_post'][str(k)]:+.1f} | "
        f"{truth['event_time']['follower_growth_per_day'][str(k)]:+.3f} |"
        for k in range(truth["window_weeks"][0], truth["window_weeks"][1] + 1)
    )
    trained = members["treated"].notna()
    return f"""# Simulated consortium — truth

Written by `workbench simulate --accounts {truth['n_members'] + 1} --cohort` (seed {truth['seed']}). {truth['n_members']}
member accounts (one dataset folder each) from {truth['start']} to {truth['end']} ({truth['weeks']} weeks), plus
`{truth['broken_member']}/`, whose `dataset.yml` is invalid on purpose (a batch run must report it and keep going).
The model is described in `workbench/simulate_consortium.py`.

## Training

- {int(trained.sum())} members trained in four waves ({', '.join(truth['waves'])}); {int((~trained).sum())} never
  trained (not-yet-trained controls throughout). Half of each wave (rounded down) had a follow-up session
  {truth['follow_up_weeks']} weeks after training (`follow_up` in `cohort.yml`).
- True effects of training while an account is active: **posts per week +{e['posts_per_week']}**,
  **impressions per post +{e['impressions_per_post']:.0f}**, **followers per day +{e['follower_growth_per_day']}**.
- Trained accounts lapse (stop posting) after an exponential time, mean {truth['lapse_mean_days']:.0f} days
  from training; after a follow-up the remaining time has mean {truth['lapse_mean_days_after_follow_up']:.0f} days.
  True median time to lapse: **{truth['median_days_to_lapse']['without_follow_up']} days without follow-up,
  {truth['median_days_to_lapse']['with_follow_up']} days with it**. Lapsing takes away the whole posting rate,
  so the realised effect on posts per week falls with time since training and turns negative.
- Counted from the follow-up landmark (8 weeks after training) for accounts still posting then, the true median
  time to lapse is {truth['median_days_after_follow_up_landmark']['without_follow_up']} days without a follow-up
  and {truth['median_days_after_follow_up_landmark']['with_follow_up']} days with one.
- Every account shares calendar effects (seasonal waves, a trend, a holiday dip): a before/after comparison
  of trained accounts alone is biased by them; not-yet-trained accounts remove them.

## Realised true effects (average over trained accounts observed at that week; expected values given lapses)

Overall (mean of weeks 0…{truth['window_weeks'][1]} since training): posts per week
**{truth['att']['posts_per_week']:+.3f}**, impressions per post **{truth['att']['impressions_per_post']:+.1f}**,
follower growth per day **{truth['att']['follower_growth_per_day']:+.3f}**.

| week since training | posts per week | impressions per post | followers per day |
|---|---|---|---|
{rows}

## Posts

Texts show their features as X does (a t.co article link, emoji, hashtags, mentions; no polls or media). Effects on
impressions, the same in every account (so the roll-up's between-account spread τ is truly 0):
{', '.join(f"`{k}` {v:+.0f} %" for k, v in truth['post_effects_pct'].items())} (per hashtag / mention for the counts);
prevalence: link {truth['post_prevalence']['has_url']:.0%}, emoji {truth['post_prevalence']['has_emoji']:.0%}.

## Machine-readable truth

```json
{json.dumps(truth, indent=2)}
```
"""


def simulate_consortium(out: str | Path, *, n_accounts: int = 40, cohort: bool = True, seed: int = 15,
                        force: bool = False) -> dict:
    """Write the consortium (member dataset folders, ``cohort.yml``, ``TRUTH.md``) to ``out``; return the truth."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("the output path exists and is not a folder; give a folder path", file=out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError("the output folder is not empty; refusing to overwrite it (use --force)", file=out)
    t = simulate_consortium_tables(n_accounts, seed=seed, cohort=cohort)
    posts, fol, members, truth = t["posts"], t["followers"], t["members"], t["truth"]
    for i, name in enumerate(members["name"]):
        handle = f"Member{i + 1:03d}"
        p = posts[posts["account_index"] == i]
        cells = _x_legacy_cells(p, handle=handle)
        folder = out / name
        write_text(folder / "raw" / f"tweet_activity_metrics_{handle}_20220103_20240101_en.csv", _csv_all_quoted(cells))
        f = fol[fol["account_index"] == i]
        write_text(folder / "raw" / "followers_daily.csv",
                   "date,followers\n" + "".join(f"{d:%Y-%m-%d},{v}\n" for d, v in zip(f["date"], f["followers"], strict=True)))
        write_text(folder / "dataset.yml", _card(name, f"Consortium member {i + 1} ({members['group'].iloc[i]}; synthetic)"))
    # the broken member: a card with an unknown key and a name that is not a folder name
    write_text(out / BROKEN / "dataset.yml",
               "# broken on purpose: an unknown key and an invalid name\nname: Broken Card!\n"
               "title: A member whose card is invalid\nposts: [\"raw/*.csv\"]\nhashtag_file: tags.txt\n")
    if cohort:
        write_text(out / "cohort.yml", _cohort_yml(members))
    write_text(out / "members.csv", members.to_csv(index=False, lineterminator="\n"))
    write_text(out / "truth.json", json.dumps(truth, indent=2) + "\n")
    write_text(out / "TRUTH.md", render_consortium_truth(truth, members))
    return truth


__all__ = ["simulate_consortium", "simulate_consortium_tables", "render_consortium_truth"]
