"""The reader's first page: stage failures, executive summary, key figures (with the previous period), goals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..beforeafter import MIN_MONTHS_EACH_SIDE
from ..findings import _rate, num
from ..vocab import (
    ALPHA_TENTATIVE,
    SIGNIFICANCE,
    cap,
    count_noun,
    join_words,
    label_feature,
    metric_name,
    platform_name,
    platform_word,
    platforms_without,
    vocabulary_platforms,
)
from .blocks import Block, Heading, Keys, Meta, Note, P, Warn, table, ul
from .format import (
    ci_text,
    format_date,
    format_int,
    format_number,
    format_pct,
    format_ratio,
    p_is,
)
from .what_works import unfitted_sentence
from .wording import after_phrase, describe_effect, describe_growth, describe_posts_adjusted, thin_clause

if TYPE_CHECKING:
    from .render import ReportContext


def failure_blocks(ctx: ReportContext) -> list[Block]:
    """A warning under the title for every stage that failed: which stage, when, and what it said."""
    out = []
    for s in ctx.f.stages:
        when = f" at {s['when']}" if s.get("when") else ""
        cell = f" (cell {s['cell']})" if s.get("cell") else ""
        what = f": {s['message']}" if s.get("message") else ""
        out.append(Warn(
            f"The {s['stage']} stage failed{when}{cell}{what}. Parts of this report that depend on it show "
            "the results of an earlier successful run, or say that they are not available."
        ))
    return out


_TYPE_WORDS = {"original": "original posts", "reply": "replies", "quote": "quotes", "repost": "reposts",
               "unknown": "of unknown type"}


def _type_word(ctx: ReportContext, kind: str) -> str:
    """A post type's plural in the posts' platforms' own words ("boosts" on Mastodon, :func:`platform_word`)."""
    return platform_word(_TYPE_WORDS.get(kind, kind), vocabulary_platforms(ctx.f.vocabulary))


def _median_change_row(ctx: ReportContext, metric: str) -> Mapping[str, Any] | None:
    table_ = ctx.f.period_change
    if table_ is None or not (table_["metric"] == metric).any():
        return None
    return table_[table_["metric"] == metric].iloc[0].to_dict()


def summary_sentences(ctx: ReportContext) -> list[str]:
    """At most five sentences: coverage, the clearest effect, growth, goals, unreliable codes."""
    f, out = ctx.f, []
    k = f.key
    span = f.date_range
    if k["n_posts"] is not None:
        when = f" published between {format_date(span[0])} and {format_date(span[1])}" if span else ""
        word = ctx.word("impressions")
        imp = (
            "" if num(k["impressions_total"]) is None else
            (f", which were seen {format_int(k['impressions_total'])} times in total "
             f"(median {format_int(k['impressions_median'])} impressions per post)") if word == "impressions" else
            (f", with {format_int(k['impressions_total'])} {word} in total "
             f"(median {format_int(k['impressions_median'])} per post; each platform's own count, defined in the "
             "methods appendix)")
        )
        plats = [v for v in (f.vocabulary or {}).get("platforms") or [] if v.get("platform") != "unknown"]
        if len(plats) > 1:
            imp += " — " + "; ".join(
                f"{platform_name(v['platform'])} {format_int(v['n_posts'])} posts"
                + ("" if num(v.get("impressions_total")) is None else
                   f", {format_int(v['impressions_total'])} {ctx.word('impressions', v['platform'])} "
                   f"(median {format_int(v['impressions_median'])} per post)")
                for v in plats)
        pooled = [v for v in plats or (f.vocabulary or {}).get("platforms") or [] if len(v.get("accounts") or []) > 1]
        if pooled:  # review15 M1: several accounts of one platform are analysed together; say so, and how not to
            imp += ". " + " ".join(
                f"{platform_name(v['platform'])}'s posts come from {len(v['accounts'])} accounts ("
                + ", ".join(f"{a['account']}: {count_noun(a['n_posts'], 'post')}" for a in v["accounts"][:4])
                + (", …" if len(v["accounts"]) > 4 else "") + ") and are analysed together: its medians, models "
                "and comparisons pool them." for v in pooled) + (
                " To judge each account on its own, give each its own dataset folder and run them together "
                "(workbench run data/a data/b)")
        sentence = (f"This report covers {format_int(k['n_posts'])} posts{when}{imp}." if k["n_posts"] else
                    "This report covers no posts: the exports the card names held none that could be used (the data "
                    "appendix lists every file read, its rows and what was quarantined).")
        change = _median_change_row(ctx, "impressions")
        adjusted = (f.growth_details[0].get("posts_adjusted") if f.growth_details else None) or None
        if f.split is not None and (span is None or span[0] < f.split[0] <= span[1]):
            date, label = f.split
            intro = (f"After {label}" if ctx.ds is not None and ctx.ds.interventions
                     else f"From {format_date(date)} on")
            per_platform = _platform_records(ctx)
            if per_platform:  # several platforms: each its own posts, never pooled
                for rec in per_platform:
                    name = platform_name(rec["platform"])
                    said = describe_posts_adjusted(rec.get("posts_adjusted"), f"{intro}, on {name}")
                    sentence += " " + " ".join(ctx.own_terms(s, rec["platform"]) for s in said[:1])
            elif adjusted:  # the adjusted change leads; the median ratio follows, labelled descriptive
                sentence += " " + " ".join(ctx.own_terms(s) for s in describe_posts_adjusted(adjusted, intro))
            elif change is not None and num(change["ratio"]) is not None:
                sentence += (
                    f" {intro}, the median post was seen {format_ratio(change['ratio'])} as often "
                    f"as before ({format_int(change['median_before'])} → {format_int(change['median_after'])} "
                    f"{word}; "
                    + (ci_text([change['ratio_ci_low'], change['ratio_ci_high']], format_ratio) + " from resampling "
                       "whole months" if num(change['ratio_ci_low']) is not None else
                       str(change.get("note") or "CI not available")) + "); "
                    "descriptive only, not adjusted for audience size or trend."
                )
        out.append(sentence)
    else:
        out.append("No post data were available for this report.")

    eff = f.effects
    if eff is not None and len(eff):
        supported = per_outcome = eff[eff["supported"]]
        kind = str(eff["p_kind"].iloc[0])
        held = "after correction for multiple testing" if kind.startswith("Holm") else "at p < 0.05"
        held_up = f.held_up or {}
        n_held = len(supported)
        if held_up.get("family") and "across" in str(held_up["family"]):
            # the sentence counts across outcomes, so the family is every outcome's predictors
            n_held = int(held_up["n_held_up"])
            held = f"after correction for multiple testing ({held_up['family']})"
            supported = eff[(eff["p_holm_across_outcomes"] < SIGNIFICANCE) & (eff["cannot_tell"] == "")]
            kind = "Holm-adjusted (across outcomes)"
            supported = supported.assign(p_used=supported["p_holm_across_outcomes"])
        if len(supported):
            size = pd.to_numeric(supported["estimate"], errors="coerce").abs()
            best = supported.iloc[int(np.argmax(size.fillna(-1.0).to_numpy()))]
            best_platform = best.get("platform") if "platform" in supported.columns else None
            best_platform = None if best_platform is None or pd.isna(best_platform) else str(best_platform)
            phrase = describe_effect(str(best["term"]), ctx.word(str(best["outcome"]), best_platform),
                                     best["effect_pct"],
                                     best["effect_pct_ci_low"], best["effect_pct_ci_high"])
            several = len([v for v in (f.vocabulary or {}).get("platforms") or []
                           if v.get("platform") != "unknown"]) > 1  # the report covers several platforms
            where = f" (on {platform_name(best_platform)})" if best_platform and several else ""
            out.append(
                f"The clearest effect{where}: {phrase[:-1]}; {kind} {p_is(best['p_used'])}); "
                f"{n_held} of {count_noun(len(eff), 'feature–outcome estimate')} held up {held}{thin_clause(eff)}."
            )
        elif len(per_outcome):
            # none holds up across outcomes, but the tables below judge each outcome's predictors as their own
            # family and call some clear: say both, so the summary does not contradict the tables
            labels = [label_feature(str(t)) for t in per_outcome["term"]]
            within = join_words([f"{lab[:1].lower()}{lab[1:]} ({ctx.word(str(o))})"
                                 for lab, o in zip(labels, per_outcome["outcome"], strict=True)])
            out.append(
                f"None of the {count_noun(len(eff), 'feature–outcome estimate')} held up {held}{thin_clause(eff)}; "
                "judged within "
                f"each outcome, as the tables below are, {len(per_outcome)} did: {within}."
            )
        else:
            out.append(
                f"No post feature had a clear effect on {' or '.join(ctx.word(o) for o in ctx.outcomes())}: none of the "
                f"{count_noun(len(eff), 'feature–outcome estimate')} held up {held}{thin_clause(eff)}."
            )
    else:
        out.append("No post feature could be estimated (every predictor was left out of the models: too few posts "
                   "in a group, or not in the data; see What works), so no claim is made about which features work."
                   if f.effects is None and any(d.get("role") == "predictor" for d in f.dropped or [])
                   else "Post-level models were not available, so no claim is made about which features work.")

    unfitted = unfitted_sentence(ctx)  # review15 M6: models not fitted are said here, not only in the appendix
    if unfitted:
        out.append(unfitted)

    growth, metric = ctx.r.growth, metric_name(f.metric)
    if growth is None:
        out.append("Growth before and after interventions was not analysed (no growth results).")
    elif not growth.get("periods"):
        na = growth.get("reason") or growth.get("not_available")
        reason = na.get("reason") if isinstance(na, Mapping) else na
        needed = (na.get("needed") or {}).get("file") if isinstance(na, Mapping) else None
        out.append(f"Growth in {metric} could not be compared: "
                   + (str(reason).rstrip(".") if reason else f"there was no {metric} data") + "."
                   + (f" It needs {needed}." if needed else ""))
    elif f.split is not None and f.date_range is not None and not f.date_range[0] < f.split[0] <= f.date_range[1]:
        out.append(f"Growth could not be compared at {f.split[1]}: its date ({format_date(f.split[0])}) is outside "
                   f"the data ({format_date(f.date_range[0])} – {format_date(f.date_range[1])}).")
    elif _platform_growth_sentences(ctx):  # several platforms: each its own series, never one pooled verdict
        out.append(" ".join(_platform_growth_sentences(ctx)))
    elif f.comparisons:
        verdict = describe_growth(f.comparisons[0], metric=f.metric, level_known=growth.get("level_known"))
        if len(f.comparisons) > 1:
            later = ", ".join(c.label if c.named else after_phrase(c) for c in f.comparisons[1:])
            verdict += f" The growth section also compares the later change(s): {later}."
        out.append(verdict)
    else:
        per_day = _rate(growth["periods"][0])[0]
        if per_day is not None:
            out.append(f"There was no intervention to compare; {metric} grew by {format_number(per_day)} per day.")

    goals = f.goals
    if goals is not None and len(goals):
        counts = goals["status"].value_counts()
        parts = [f"{n} {status}" for status, n in counts.items()]
        one = len(goals) == 1
        why = goals["reason"].iloc[0] if one and "reason" in goals and goals["status"].iloc[0] == "not available" else None
        sentence = (f"The goal ({goals['label'].iloc[0]}): {goals['status'].iloc[0]}"
                    + (f" ({str(why).rstrip('.')})" if isinstance(why, str) and why else "") if one
                    else f"Of {count_noun(len(goals), 'goal')}: {', '.join(parts)}")
        behind = goals[goals["status"].isin(["not on track", "not met", "not met (deadline passed)"])]
        if len(behind):
            g = behind.iloc[0]
            sentence += (f"; {'it' if one else g['label']} stood at {format_number(g['actual'])} of "
                         f"{format_number(g['target'])} "
                         f"due {format_date(g['by'])} on {format_date(g['actual_date'])}")
            if g["projected_date"] is not None:
                sentence += f" and would be reached around {format_date(g['projected_date'])} at the current rate"
        out.append(sentence + ".")

    low = f.low_codes
    if len(low):
        codes = ", ".join(f"{c} (α = {format_number(a)})"
                          for c, a in zip(low["code"], low["krippendorff_alpha"], strict=True))
        out.append(f"Caution: the manual code(s) {codes} were coded unreliably (α below {ALPHA_TENTATIVE}) and "
                   "enter the models, so effects involving them are tentative.")
    return out[:5]


def summary(ctx: ReportContext) -> list[Block]:
    return [P(s) for s in summary_sentences(ctx)]


def _change_text(row: Mapping[str, Any]) -> str:
    """ "+12% vs 1 Jan – 31 Mar 2023 (95% CI …)" for one previous-period row."""
    ratio = num(row.get("ratio"))
    if row.get("kind") == "difference":
        c, p = num(row.get("current")), num(row.get("previous"))
        if c is None or p is None:
            return "previous period: not available"
        return f"previous period: {format_number(p, signed=True)}"  # a difference of levels: no ratio
    if ratio is None:
        return "previous period: " + ("none" if num(row.get("previous")) in (None, 0) else "not comparable")
    pct = format_pct(100 * (ratio - 1), signed=True)
    ci = row.get("ratio_ci") or [None, None]
    if num(ci[0]) is not None and num(ci[1]) is not None:
        return f"{pct} vs previous period ({ci_text([100 * (ci[0] - 1), 100 * (ci[1] - 1)], lambda v: format_pct(v, signed=True))})"
    return f"{pct} vs previous period"


def _follower_rows(k: Mapping[str, Any], levels: list[dict[str, Any]] | None) -> list[tuple[str, str, str]]:
    """Follower key figures: with several platforms, each platform's own dated counts (account table); else the
    main account's first and last count — one row when there is a single dated count (an anchor such as
    Audience.csv's total), never a start and an end on the same day."""
    if levels:
        rows = []
        for v in levels:
            name = platform_name(v["platform"])
            files = f"; {', '.join(v['sources'])}" if v.get("sources") else ""
            if v["n"] > 1 and v["first_date"] != v["last_date"]:
                rows.append((f"Followers ({name}, {format_date(v['first_date'])}{files})", format_int(v["first"]), ""))
            rows.append((f"Followers ({name}, {format_date(v['last_date'])}{files})", format_int(v["last"]), ""))
        return rows
    if num(k["followers_start"]) is None and num(k["followers_end"]) is None:
        return [("Followers", "not available (see the note below)", "")]
    if k.get("followers_start_date") == k.get("followers_end_date"):
        return [(f"Followers ({format_date(k['followers_end_date'])})", format_int(k["followers_end"]), "")]
    return [(f"Followers at start ({format_date(k['followers_start_date'])})", format_int(k["followers_start"]), ""),
            (f"Followers at end ({format_date(k['followers_end_date'])})", format_int(k["followers_end"]), ""),
            ("Follower growth per day", format_number(k["followers_per_day"], signed=True), "")]


def _reach_rows(reach: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """Key-figure rows of reach, named by table: the median reach per post of each post type where a platform
    has several types (posts table), and the page-level daily reach (account table) per platform."""
    reach = reach or {}
    rows: list[tuple[str, str, str]] = []
    posts = [r for r in reach.get("posts") or [] if num(r.get("reach_median")) is not None]
    for plat in dict.fromkeys(str(r["platform"]) for r in posts):
        own = [r for r in posts if str(r["platform"]) == plat]
        if len(own) < 2:
            continue
        rows += [(f"Reach per post, median ({platform_name(plat)} {r['type']} posts: {format_int(r['n_posts'])})",
                  format_int(r["reach_median"]), "") for r in own]
    for r in reach.get("page") or []:
        if num(r.get("daily_median")) is None:
            continue
        rows.append((f"Page reach per day, median ({platform_name(r['platform'])}, account table: "
                     f"{format_int(r['n_days'])} days, {format_date(r['start'])} – {format_date(r['end'])})",
                     format_int(r["daily_median"]), ""))
    return rows


def key_figures(ctx: ReportContext) -> list[Block | None]:
    f, k = ctx.f, ctx.f.key
    prev = {row["key"]: row for row in (f.previous or {}).get("rows", [])}
    word = ctx.word("impressions")
    # several platforms: each one's posts, total and median in its own word beside the pooled figures
    plats = [v for v in (f.vocabulary or {}).get("platforms") or [] if v.get("platform") != "unknown"]
    plats = plats if len(plats) > 1 else []

    def change(key: str) -> str:
        return _change_text(prev[key]) if key in prev else ""

    pooled = " (all platforms pooled)" if plats else ""
    unreported = platforms_without("impressions", f.vocabulary) if num(k["impressions_total"]) is None else []
    items = [
        (f"Posts{pooled}", format_int(k["n_posts"]), change("n_posts")),
        *(((f"{cap(word)}", f"not reported ({join_words(unreported)} exports have no such count)", ""),)
          if unreported else
          ((f"{cap(word)}, total{pooled}", format_int(k["impressions_total"]), change("impressions_total")),
           (f"{cap(word)} per post, median{pooled}", format_int(k["impressions_median"]),
            change("impressions_median")))),
        *(row for v in plats for row in (
            (f"Posts ({platform_name(v['platform'])})", format_int(v["n_posts"]), ""),
            (f"{cap(ctx.word('impressions', v['platform']))}, total ({platform_name(v['platform'])})",
             format_int(v.get("impressions_total")), ""),
            (f"{cap(ctx.word('impressions', v['platform']))} per post, median "
             f"({platform_name(v['platform'])})", format_int(v.get("impressions_median")), ""))),
        *((f"Reach per post, median ({platform_name(v['platform'])}: {format_int(v['n_reach'])} posts)",
           format_int(v["reach_median"]), "") for v in (f.vocabulary or {}).get("platforms", [])
          if v.get("reach_median") is not None),
        *_reach_rows(f.reach),
        *(() if unreported else ((f"Engagement rate, median{pooled}",
                                  format_pct(None if k["engagement_rate_median"] is None
                                             else 100 * k["engagement_rate_median"]),
                                  change("engagement_rate_median")),)),
        *_follower_rows(k, f.followers if f.followers and len(f.followers) > 1 else None),
    ]
    gained = prev.get("followers_gained")
    if gained is not None and num(gained.get("current")) is not None:
        items.append((f"Followers gained, latest {f.previous['days']} days",
                      format_number(gained["current"], signed=True), change("followers_gained")))
    blocks: list[Block | None] = [Keys(tuple(items))]
    if f.previous:
        p, c = f.previous["previous"], f.previous["current"]
        blocks.append(Meta(
            f"Change vs previous period: the latest {f.previous['days']} days of posts "
            f"({format_date(c['start'])} – {format_date(c['end'])}) against the {f.previous['days']} days before "
            f"them ({format_date(p['start'])} – {format_date(p['end'])}). Medians carry a distribution-free "
            "95% interval of their ratio; counts and totals are all posts, not samples, so they have none."
        ))
    blocks.append(Meta(
        f"Engagement rate = engagements ÷ {word}, per post (posts with {word}); "
        f"the median over {format_int(k['n_rated'])} posts is shown."
        if k["n_rated"]
        else f"No engagement rate: it needs {word}, which {join_words(unreported)} does not report."
        if unreported
        else f"Engagement rate = engagements ÷ {word}, per post."
    ))
    types = [t for t in f.post_types if t["n"] > 0]
    if len(types) > 1 or (types and types[0]["type"] != "original"):
        listed = ", ".join(f"{format_int(t['n'])} {_type_word(ctx, t['type'])}"
                           + (f" (median {format_int(t['median_impressions'])} {word})"
                              if num(t.get("median_impressions")) is not None else "") for t in types)
        blocks.append(Meta(f"Posts by type: {listed}. The key figures above count all of them."))
        top = max(types, key=lambda t: t["n"])
        others = [t for t in types if t is not top and num(t["median_impressions"])]
        if top["share"] > 0.5 and top["type"] != "original" and others and num(top["median_impressions"]):
            ref = max(others, key=lambda t: t["n"])
            ratio = top["median_impressions"] / ref["median_impressions"]
            if ratio < 0.5 or ratio > 2:
                blocks.append(Warn(
                    f"{cap(_type_word(ctx, top['type']))} are {format_pct(100 * top['share'])} "
                    f"of the posts and their median reach differs from {_type_word(ctx, ref['type'])} "
                    f"({format_int(top['median_impressions'])} vs {format_int(ref['median_impressions'])} {word}): "
                    "totals, medians and feature effects mix the two unless post type is controlled."))
    for rec in f.reconciliation:
        pct = num(rec.get("difference_pct"))
        if pct is not None and abs(pct) > 0.5:
            what = ctx.word(str(rec["metric"]))
            blocks.append(Meta(
                f"Two totals of {what}: {format_int(rec['per_post'])} from the per-post exports (used in this "
                f"report) and {format_int(rec['account'])} from the account-level files over the same dates "
                f"({format_pct(pct, signed=True)})"
                + (" (account rows filed under the month they describe, as the card's month_of says)"
                   if rec.get("month_of_previous_applied") else "") + ". "
                + ("; ".join(cap(x) if i == 0 else x for i, x in enumerate(rec["reasons"])) + "."
                   if rec.get("reasons") else
                   "Account-level totals also count posts that are not in the per-post files (replies, promoted or "
                   "deleted posts, posts outside the exported months).")
            ))
    if ctx.r.posts is None:
        blocks.append(Note(ctx.r.missing_note(ctx.paths.posts_coded, "Post data")))
    if k["followers_start"] is None:
        blocks.append(Note(
            "Follower counts are not available: the run has no follower data (no account table with a followers "
            "column). Map a follower-count column of an account export in the card's account: entry "
            "(e.g. {path: raw/followers.csv, columns: {Followers: followers}}) to show them."
        ))
    blocks.extend(_change_table(ctx))
    return blocks


def _platform_records(ctx: ReportContext, index: int = 0) -> list[dict[str, Any]]:
    """Each platform's own before/after at the ``index``-th intervention (findings' before_after_by_platform);
    [] when the posts hold one platform."""
    recs = ctx.f.before_after_platforms or []
    return list(recs[index].get("platforms") or []) if index < len(recs) else []


def _platform_growth(ctx: ReportContext, platform: str, index: int = 0) -> tuple[Any, Mapping[str, Any]] | None:
    """(GrowthComparison, record) of one platform's own growth comparison at the ``index``-th intervention
    (findings' growth_by_platform), or None when it has none."""
    from ..findings import growth_comparisons

    for g in ctx.f.growth_platforms or []:
        if str(g.get("platform")) != str(platform) or g.get("error") or not g.get("periods"):
            continue
        comps = growth_comparisons({"periods": g["periods"], "comparisons": g.get("comparisons")},
                                   interventions=ctx.ds.interventions if ctx.ds else ())
        return (comps[index], g) if index < len(comps) else None
    return None


def _platform_growth_sentences(ctx: ReportContext) -> list[str]:
    """One growth verdict per platform, each on its own series (several platforms only)."""
    out = []
    for g in ctx.f.growth_platforms or []:
        name = platform_name(g.get("platform"))
        got = _platform_growth(ctx, str(g.get("platform")))
        if got is not None:
            comp, rec = got
            out.append(f"{name}: " + describe_growth(comp, metric=str(rec.get("metric") or "followers"),
                                                     level_known=rec.get("level_known")))
        elif g.get("error") or not g.get("available"):
            why = g.get("error") or (g.get("not_available") or {}).get("reason") or "no growth data"
            out.append(f"{name}: growth was not compared ({str(why).rstrip('.')}).")
    return out


def _enough_months(monthly: Mapping[str, Any]) -> bool:
    """A monthly before/after (the published Welch form) is shown only with enough complete months a side."""
    nb, na = num(monthly.get("n_before")), num(monthly.get("n_after"))
    return nb is not None and na is not None and min(nb, na) >= MIN_MONTHS_EACH_SIDE


def _ratio_cell(ratio: Any, ci: Any, note: Any = None) -> str:
    """The ratio of medians with its month-resampling CI, or why either is missing (findings' ``note``)."""
    note = note if isinstance(note, str) and note else None
    if num(ratio) is None:
        return f"not available: {note}" if note else "not available (too few posts, or a median of zero)"
    if all(num(v) is not None for v in ci or [None]):
        return f"{format_ratio(ratio)} ({ci_text(ci, format_ratio)}, resampling whole months)"
    return f"{format_ratio(ratio)} ({note or ci_text(ci, format_ratio)})"


def _platform_change_blocks(ctx: ReportContext, rec: Mapping[str, Any], *, event: str, date: Any,
                            growth_platform: str | None) -> list[Block | None]:
    """One platform's before/after table: its posts' medians, the adjusted post change, its months (Welch, the
    published form, and the interrupted time series), and the follower growth when growth.json compares this
    platform's account."""
    plat = str(rec["platform"])
    name = platform_name(plat)
    word = ctx.word("impressions", plat)
    rows = []
    medians = {m.get("metric"): m for m in rec.get("medians") or []}
    for metric, label, fmt in (
        ("impressions", f"{cap(word)} per post, median (descriptive, unadjusted)", format_int),
        ("engagement_rate", "Engagement rate, median", lambda v: format_pct(None if v is None else 100 * v)),
    ):
        m = medians.get(metric)
        if m is None or not (m.get("n_before") or m.get("n_after")):
            continue
        rows.append((label, f"{fmt(num(m.get('median_before')))} ({format_int(m.get('n_before'))} posts)",
                     f"{fmt(num(m.get('median_after')))} ({format_int(m.get('n_after'))} posts)",
                     _ratio_cell(m.get("ratio"), [m.get("ratio_ci_low"), m.get("ratio_ci_high")], m.get("note"))))
    pa = rec.get("posts_adjusted") or {}
    adjusted_label = (f"{cap(word)} of the typical post, adjusted for "
                      f"{join_words(pa.get('adjusted_for') or ['nothing'])}")
    if pa.get("available") and num(pa.get("estimate")) is not None:
        rows.append((adjusted_label, "", "", f"{format_ratio(pa['estimate'])} ({ci_text(pa.get('ci'), format_ratio)}"
                                             f", clustered by month; {format_int(pa.get('n_posts'))} posts)"))
    else:
        rows.append((f"{cap(word)} of the typical post, adjusted for audience size and trend", "", "",
                     f"not available: {pa.get('reason') or 'no posts'}"))
    monthly = rec.get("monthly") or {}
    metric = ctx.word(str(monthly.get("metric") or "impressions"), plat)
    if (num(monthly.get("fold_change")) is not None and _enough_months(monthly)
            and all(num(v) is not None for v in monthly.get("fold_change_ci") or [None])):
        rows.append((f"Monthly {metric}, mean (published form: months as independent, earlier trend ignored)",
                     f"{format_int(monthly.get('before_mean'))} ({format_int(monthly.get('n_before'))} months)",
                     f"{format_int(monthly.get('after_mean'))} ({format_int(monthly.get('n_after'))} months)",
                     f"{format_ratio(monthly['fold_change'])} ({ci_text(monthly['fold_change_ci'], format_ratio)})"))
    elif monthly:
        rows.append((f"Monthly {metric}, mean (published form)",
                     f"{format_int(monthly.get('n_before'))} complete month(s)",
                     f"{format_int(monthly.get('n_after'))} complete month(s)",
                     f"not compared: at least {MIN_MONTHS_EACH_SIDE} complete months on each side are needed"))
    its = rec.get("monthly_its") or {}
    its_label = (f"Monthly {ctx.word(str(its.get('metric') or 'impressions'), plat)}: level change beyond the "
                 "earlier trend (interrupted time series)")
    if its.get("available") and num(its.get("level_change")) is not None:
        rows.append((its_label, "", "", f"{format_ratio(its['level_change'])} "
                                        f"({ci_text(its.get('level_change_ci'), format_ratio)})"))
    elif its:
        rows.append((its_label, "", "", f"not available: {its.get('reason') or 'no monthly data'}"))
    f = ctx.f
    own_growth = _platform_growth(ctx, plat)
    if own_growth is not None:
        comp, g = own_growth
        r = comp.results
        if num(r.get("slope_ratio")) is not None or _rate(comp.before)[0] is not None:
            rows.append(_growth_rate_row(_own_series_label(g, name), comp))
    elif f.comparisons and growth_platform == plat and not f.growth_platforms:
        comp = f.comparisons[0]
        r = comp.results
        level_known = (ctx.r.growth or {}).get("level_known")
        if num(r.get("slope_ratio")) is not None or _rate(comp.before)[0] is not None:
            rows.append(_growth_rate_row(_gained_per_day_label(f.metric, level_known), comp))
    n_collab = int(rec.get("n_collab_out") or 0)
    posts_text = f"{format_int(rec.get('n_posts'))} posts" + (
        f"; {format_int(n_collab)} posts by other accounts (collabs) left out" if n_collab else "")
    return [
        Heading(4, f"{name} ({posts_text})"),
        table(f"{name}: change at {event} ({format_date(date)}), after ÷ before, with 95% CI — {name} posts and "
              f"months only", ["Measure", "Before", "After", "Change (after ÷ before)"], rows, numeric=(1, 2, 3),
              row_headers=True, wide=True),
    ]


def _change_table(ctx: ReportContext) -> list[Block | None]:
    """Before vs after the first intervention: post medians (order-statistic CIs) and growth.json results; with
    several platforms one table per platform, each on its own posts, months and follower series."""
    f = ctx.f
    if f.split is None:
        return [Heading(3, "Before and after"),
                Note("No intervention is set in the dataset card, so no before/after change is shown.")]
    date, label = f.split
    named = ctx.ds is not None and bool(ctx.ds.interventions)
    title = f"Before and after {label}" if named else f"Before and after {format_date(date)}"
    span = f.date_range
    if span is not None and not span[0] < date <= span[1]:
        side = "after the last" if date > span[1] else "on or before the first"
        return [Heading(3, title), Note(
            f"The intervention date {format_date(date)} is {side} day of the data ({format_date(span[0])} – "
            f"{format_date(span[1])}), so there is nothing to compare on one side of it. Set an intervention date "
            "inside the data's range in the dataset card.")]
    event = label if named else f"the change on {format_date(date)}"
    per_platform = _platform_records(ctx)
    if per_platform:
        recs = f.before_after_platforms or []
        growth_platform = recs[0].get("growth_platform") if recs else None
        blocks: list[Block | None] = [Heading(3, title), Meta(
            "The platforms are compared apart: each has its own audience, so each table uses only that platform's "
            "posts, months and follower series (no pooled view).")]
        for rec in per_platform:
            blocks += _platform_change_blocks(ctx, rec, event=event, date=date, growth_platform=growth_platform)
        blocks.append(Meta(
            "Medians of single posts compare the typical post, which a few viral posts cannot move; the 95% "
            "interval of their ratio resamples whole calendar months (posts of one month are not independent). The "
            "adjusted change is an OLS of log(1 + count) with standard errors clustered by calendar month; the "
            "monthly rows use complete months of that platform only, the month containing the date left out."
            + (" Follower growth in each table is that platform's own series (the growth model run on its account "
               "rows alone); the growth section below shows "
               + ("each platform's comparison." if len(f.growth_platforms) > 1 else
                  f"the {platform_name(f.growth_platforms[0].get('platform'))} comparison.")
               if f.growth_platforms else
               f" Follower growth is compared for the {platform_name(growth_platform)} account (the growth section)."
               if growth_platform and f.comparisons else "")
            + f" A change here went with {event}; it is not proof that {event} caused it."))
        return blocks
    rows = []
    for metric, name, fmt in (
        ("impressions", f"{cap(ctx.word('impressions'))} per post, median (descriptive, unadjusted)",
         format_int),
        ("engagement_rate", "Engagement rate, median", lambda v: format_pct(None if v is None else 100 * v)),
    ):
        row = _median_change_row(ctx, metric)
        if row is None:
            continue
        change = _ratio_cell(row["ratio"], [row["ratio_ci_low"], row["ratio_ci_high"]], row.get("note"))
        rows.append((name, f"{fmt(num(row['median_before']))} ({format_int(row['n_before'])} posts)",
                     f"{fmt(num(row['median_after']))} ({format_int(row['n_after'])} posts)", change))
    details = f.growth_details[0] if f.growth_details else {}
    adjusted = details.get("posts_adjusted") or {}
    if adjusted.get("available") and num(adjusted.get("estimate")) is not None:
        rows.append((
            f"{cap(ctx.word(str(adjusted.get('outcome') or 'impressions')))} of the typical post, adjusted for "
            f"{join_words(adjusted.get('adjusted_for') or ['nothing'])}",
            "", "", f"{format_ratio(adjusted['estimate'])} ({ci_text(adjusted.get('ci'), format_ratio)}, clustered "
                    "by month)"))
    posts_platforms = [str(v.get("platform")) for v in (f.vocabulary or {}).get("platforms") or []]
    own_growth = _platform_growth(ctx, posts_platforms[0]) if len(posts_platforms) == 1 else None
    if own_growth is not None:  # the account table holds several platforms: the posts' platform's own series
        comp, g = own_growth
        name = platform_name(posts_platforms[0])
        rows.append(_growth_rate_row(_own_series_label(g, name), comp))
    if f.comparisons:
        comp = f.comparisons[0]
        r = comp.results
        level_known = (ctx.r.growth or {}).get("level_known")
        if own_growth is None and (num(r.get("slope_ratio")) is not None or _rate(comp.before)[0] is not None):
            rows.append(_growth_rate_row(_gained_per_day_label(f.metric, level_known), comp))
        monthly = r.get("monthly") or {}
        if num(monthly.get("fold_change")) is not None and _enough_months(monthly) and all(
                num(v) is not None for v in monthly.get("fold_change_ci") or [None]):
            rows.append((
                f"Monthly {ctx.word(str(monthly.get('metric', 'metric')))}, mean (published form: months as "
                "independent, earlier trend ignored)",
                format_int(monthly.get("before_mean")),
                format_int(monthly.get("after_mean")),
                f"{format_ratio(monthly.get('fold_change'))} ({ci_text(monthly.get('fold_change_ci'), format_ratio)})",
            ))
        elif monthly.get("n_before") is not None and (monthly.get("n_before") or monthly.get("n_after")):
            rows.append((f"Monthly {ctx.word(str(monthly.get('metric', 'metric')))}, mean (published form)",
                         f"{format_int(monthly.get('n_before'))} complete month(s)",
                         f"{format_int(monthly.get('n_after'))} complete month(s)",
                         f"not compared: at least {MIN_MONTHS_EACH_SIDE} complete months on each side are needed"))
        its = details.get("monthly_its") or {}
        if its.get("available") and num(its.get("level_change")) is not None:
            rows.append((
                f"Monthly {ctx.word(str(its.get('metric') or 'metric'))}: level change beyond the earlier trend "
                "(interrupted time series)",
                "", "", f"{format_ratio(its['level_change'])} ({ci_text(its.get('level_change_ci'), format_ratio)})"))
    if not rows:
        return [Heading(3, title),
                Note("The change at the first intervention is not available: no posts or growth results.")]
    return [
        Heading(3, title),
        table(f"Change at {event} ({format_date(date)}): after ÷ before, with 95% CI",
              ["Measure", "Before", "After", "Change (after ÷ before)"], rows, numeric=(1, 2, 3),
              row_headers=True, wide=True),
        Meta("Medians of single posts compare the typical post, which a few viral posts cannot move; the 95% "
             "interval of their ratio resamples whole calendar months (posts of one month are not independent). "
             + (f"The follows row is the {platform_name(posts_platforms[0])} account's own series (the growth model "
                "run on its account rows alone); monthly figures come from the growth comparison below. "
                if own_growth is not None else "Growth and monthly figures come from the growth comparison below. ")
             + "A change here went with "
             f"{event}; it is not proof that {event} caused it."),
    ]


def goals_section(ctx: ReportContext) -> list[Block | None]:
    goals = ctx.f.goals
    if goals is None:
        return [Note(
            "No goals are set in the dataset card (goals: metric, target, by), so none are tracked."
            if ctx.ds is not None
            else "Goals are not available: the report was built without the dataset card."
        )]
    rows = [
        (
            g["label"],
            metric_name(g["metric"]),
            format_number(g["target"]),
            format_date(g["by"]),
            f"{format_number(g['actual'])} ({format_date(g['actual_date'])})" if g["actual"] is not None
            else "not available",
            f"{format_number(g['rate_per_day'], signed=True)} per day" if g["rate_per_day"] is not None else "n/a",
            g["status"] + (f" (as of {format_date(g['as_of'])})" if g.get("as_of") is not None else ""),
            format_date(g["projected_date"]) if g["projected_date"] is not None
            else ("already met" if g["status"] == "met"
                  else "not reached at the current rate" if g["actual"] is not None else "n/a"),
        )
        for g in goals.to_dict("records")
    ]
    return [
        table("Goals: latest value against target",
              ["Goal", "Metric", "Target", "Deadline", "Latest value", "Current rate", "Status",
               "Projected date at current rate"], rows, numeric=(2, 4, 5)),
        ul(f"{g['label']}: {g['reason']}." for g in goals.to_dict("records") if g.get("reason")),
        Meta("Goals are judged at the end of the data, never at today's date. Met: a reading on or before the "
             "deadline reached the target. Not met: the data reach the deadline and the last reading on or before "
             "it is below the target. On track / not on track: the data end before the deadline and the current "
             "rate (the growth model's rate of the latest period, else a straight line since the last "
             "intervention) reaches the target by the deadline or not; the projection is a straight line, not a "
             "forecast with uncertainty. A follower goal needs a follower level: summed new follows are not one."),
    ]


def what_it_will_say(findings, dataset=None) -> str:
    """The executive summary and, per outcome, what the primary model held constant and left out: the text
    notebook 05 prints before rendering (one line per sentence)."""
    from .render import ReportContext
    from .wording import describe_terms

    ctx = ReportContext(findings, dataset)
    lines = [f"• {s}" for s in summary_sentences(ctx)]
    for outcome, terms in findings.model_terms.items():
        lines += [f"  {s}" for s in describe_terms(terms, findings.dropped, outcome=outcome)]
    return "\n".join(lines)


def _growth_rate_row(label: str, comp: Any) -> tuple[str, str, str, str]:
    """A before/after table row of a growth comparison: the rate per day in each period and the growth ratio with
    its CI."""
    r = comp.results
    at = r.get("change_at_date")
    # a rate that was already drifting: the ratio stays (it is what the periods' rates are), not as a change at the date
    caveat = ("; not a change at the date: the rate was already changing before it (growth section)"
              if isinstance(at, Mapping) and at.get("holds") is False else "")
    return (label, format_number(_rate(comp.before)[0], signed=True), format_number(_rate(comp.after)[0], signed=True),
            f"{format_ratio(r.get('slope_ratio'))} ({ci_text(r.get('slope_ratio_ci'), format_ratio)}){caveat}")


def _own_series_label(g: Mapping[str, Any], name: str) -> str:
    """The row label of a platform's own growth series (findings' growth_by_platform entry ``g``)."""
    return f"{cap(str(g.get('unit') or metric_name(str(g.get('metric')))))} ({name}'s own series)"


def _gained_per_day_label(metric: str, level_known: Any) -> str:
    """The row label of growth.json's comparison: new follows when the follower level is unknown."""
    if metric == "followers" and level_known is False:
        return "New follows per day (follower level unknown)"
    return f"{cap(metric_name(metric))} gained per day"
