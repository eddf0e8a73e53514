"""The "What works" section and the model diagnostics of the methods appendix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..findings import (
    _as_mapping,
    _effect_columns,
    list_diagnosed_outcomes,
    num,
    tabulate_controls_sensitivity,
)
from ..models import MIN_LEVEL_POSTS, POOLED, VIF_FLAG
from ..plots import literal_text, plot_forest, select_predictor_rows
from ..vocab import (
    MODEL_NAMES,
    cap,
    control_name,
    count_noun,
    join_words,
    label_feature,
    own_words,
    platform_name,
    platform_word,
    vocabulary_platforms,
)
from .blocks import Block, Heading, Meta, Note, P, Warn, table, ul
from .diagnostics import NOT_AVAILABLE, summarize_diagnostics
from .format import NA_TEXT, ci_text, format_int, format_number, format_p, format_pct
from .wording import describe_effect, describe_terms

if TYPE_CHECKING:
    from .render import ReportContext


def _controls_phrase(ctx: ReportContext) -> str:
    """ "holding the other features, audience size and year constant" — only what the models really had."""
    controls, many = [], False
    for terms in ctx.f.model_terms.values():
        controls += [own_words(control_name(t), vocabulary_platforms(ctx.f.vocabulary))
                     for t in terms.get("controls") or []]
        many |= len(terms.get("predictors") or []) > 1
    held = (["the other features"] if many else []) + list(dict.fromkeys(controls))
    if not held:
        return "without controls (no audience size or time was held constant)"
    return f"holding {join_words(held)} constant"


def _population_block(ctx: ReportContext) -> Block | None:
    """ "The models use original posts only: 510 posts (left out: 1,200 replies)." (findings' population)"""
    f = ctx.f
    pop = f.population
    if not pop or num(pop.get("n_in")) is None:
        return None
    words = {"reply": "replies", "repost": "reposts", "quote": "quotes", "original": "original posts"}
    out: dict[str, int] = {}
    for c in pop["counts"]:
        if not c["in_models"] and c["n"]:
            out[c["post_type"]] = out.get(c["post_type"], 0) + c["n"]
    setting = {"original": "original posts only", "all": "all posts"}.get(str(pop.get("setting")),
                                                                          str(pop.get("setting") or "posts"))
    text = f"The models use {setting}: {count_noun(pop['n_in'], 'post')}"
    left = [f"{format_int(n)} {platform_word(words.get(t, t) if n != 1 else t + ' post', vocabulary_platforms(f.vocabulary))}"
            for t, n in out.items()]
    n_collab = num(pop.get("n_collab_out"))
    if n_collab:
        left.append(f"{count_noun(n_collab, 'post')} by other accounts (collabs)")
    if left:
        text += " (left out: " + ", ".join(left) + ")"
    text += "; post type is a control." if pop.get("post_type_controlled") else "."
    return Meta(text)


def _predictors_left_out(ctx: ReportContext) -> str:
    """Why each predictor was left out of the models (findings' dropped records, the first reason per predictor),
    as sentences; empty when no predictor record says so."""
    first: dict[str, str] = {}
    for d in ctx.f.dropped or []:
        if d.get("role") == "predictor" and d.get("term") is not None:
            first.setdefault(str(d["term"]), str(d.get("reason") or "left out"))
    return " ".join(f"{label_feature(t)}: {reason.rstrip('.')}." for t, reason in first.items())


def what_works(ctx: ReportContext) -> list[Block | None]:
    f, r = ctx.f, ctx.r
    if f.effects is None:
        if r.regression is None:
            return [Note(r.missing_note(ctx.paths.regression, "The post-level model"))]
        unfit = _predictors_left_out(ctx)
        if unfit:
            return [Note("No post feature could be estimated: every predictor of the card was left out of the "
                         f"models. {unfit} More posts would make it possible: at least {MIN_LEVEL_POSTS} with and "
                         f"{MIN_LEVEL_POSTS} without a feature among the posts the models use, or predictors that "
                         "these posts vary on."), _population_block(ctx)]
        return [Note(f"The post-level model is not available: results/regression.csv has no rows for the "
                     f"primary model {f.primary!r} with the expected columns.")]
    kind = str(f.effects["p_kind"].iloc[0])
    model_text = MODEL_NAMES.get(f.primary, f.primary)
    blocks: list[Block | None] = [P(
        f"Each row is the % difference in a post's {ctx.word('impressions')} or engagements that goes with a feature, "
        f"{_controls_phrase(ctx)} ({model_text}). Percentages come with 95% confidence intervals; p-values are "
        f"{kind} for the number of features tested. These are associations in observational data, not proof "
        "of cause."
    )]
    blocks.append(_population_block(ctx))
    reason = (r.models or {}).get("primary_reason")
    if reason:
        blocks.append(Meta(f"Why this model: {reason}"))
    sentences = (r.models or {}).get("sentences") or {}
    reg = r.regression
    blocks.append(_left_out_everywhere(ctx))
    unfitted = unfitted_sentence(ctx)
    if unfitted:
        blocks.append(Warn(unfitted))
    thin = {(str(t.get("outcome")), str(t.get("term"))) for t in (f.model_notes or {}).get("too_few_posts") or []}
    for outcome in ctx.outcomes():
        eff = f.effects[f.effects["outcome"].astype(str) == outcome]
        word = ctx.word(outcome)
        blocks.append(Heading(3, cap(word)))
        terms = f.model_terms.get(outcome)
        if terms:
            # this outcome's own records only (those of every model are said once above); a predictor with too
            # few posts is said by its "Cannot tell" note below, not twice (review15 R4, M7)
            mine = [dict(d, outcome=None) for d in f.dropped or [] if d.get("outcome") == outcome
                    and not (d.get("role") == "predictor" and (outcome, str(d.get("term"))) in thin)]
            blocks.extend(Meta(ctx.own_terms(s)) for s in describe_terms(terms, mine, outcome=word))
        blocks.extend(_model_note_blocks(ctx, outcome))
        # several platforms: one sub-heading per platform with its own model's effects; a pooled model (all
        # platforms in one model, only on request) last and labelled so
        names = (list(dict.fromkeys(eff["platform"].dropna().astype(str)))
                 if "platform" in eff.columns else [])
        # several platforms modelled but one fitted: still under its platform's heading (review15 M7: Facebook's
        # effect sentence followed Instagram's "Cannot tell" with no platform named)
        several = len((f.model_notes or {}).get("platforms") or []) > 1
        if len(names) > 1 or (several and names):
            names = sorted(n for n in names if n != POOLED) + [n for n in names if n == POOLED]
            for name in names:
                own = eff[eff["platform"].astype(str) == name]
                title = ("All platforms together (pooled model, platform as a control)" if name == POOLED
                         else f"{platform_name(name)} (its own model, {format_int(_n_posts(own))} posts)"
                         if _n_posts(own) is not None else f"{platform_name(name)} (its own model)")
                blocks.append(Heading(4, title))
                key = f"{name}: {outcome}"
                blocks.extend(_effect_blocks(ctx, outcome, own, sentences.get(key) if isinstance(sentences, Mapping)
                                             else None, platform=None if name == POOLED else name,
                                             reg=reg[reg["platform"].astype(str) == name], kind=kind, tag=name))
                blocks.extend(_sensitivity_table(ctx, outcome, platform=name))
        else:
            said = sentences.get(outcome) if isinstance(sentences, Mapping) else None
            plat = names[0] if names else None
            blocks.extend(_effect_blocks(ctx, outcome, eff, said, platform=plat, reg=reg, kind=kind, tag=None))
            blocks.extend(_sensitivity_table(ctx, outcome, platform=plat))
    blocks.extend(_reach_by_type(ctx))
    blocks.extend(_published_table(ctx))
    return blocks


def _n_posts(eff: pd.DataFrame) -> int | None:
    n = pd.to_numeric(eff["n"], errors="coerce").dropna() if "n" in eff.columns else pd.Series(dtype=float)
    return int(n.max()) if len(n) else None


def _effect_blocks(ctx: ReportContext, outcome: str, eff: pd.DataFrame, said: Any, *, platform: str | None,
                   reg: pd.DataFrame, kind: str, tag: str | None) -> list[Block | None]:
    """One model's effects on one outcome: its sentences, the features it cannot tell about, the forest plot and
    the table — every mention of the outcome in the platform's own word (views on Meta)."""
    f = ctx.f
    word = ctx.word(outcome, platform)
    blocks: list[Block | None] = []
    if isinstance(said, str):
        said = [said]
    if said:
        blocks.append(ul(ctx.own_terms(str(s), platform) for s in said))
    for term, why in zip(eff["term"], eff["cannot_tell"], strict=True):
        if why:
            blocks.append(Warn(
                f"Cannot tell for {label_feature(str(term)).lower()}: {why} (fewer than {MIN_LEVEL_POSTS} "
                f"posts in a group), so its estimate for {word} is too imprecise to judge either way — "
                "whatever it says above."
            ))
    supported = eff[eff["supported"]]
    where = f" ({platform_name(tag)})" if tag and tag != POOLED else " (pooled model)" if tag else ""
    if len(supported):
        alt = "; ".join(
            describe_effect(str(t), word, e, lo, hi)
            for t, e, lo, hi in zip(supported["term"], supported["effect_pct"], supported["effect_pct_ci_low"],
                                    supported["effect_pct_ci_high"], strict=True)
        )
        alt = f"Forest plot for {word}{where}: {alt}."
    else:
        alt = (f"Forest plot for {word}{where}: every feature's 95% interval is wide or crosses zero; "
               f"no feature clearly changed {word}.")

    def draw(ax: Any, o: str = outcome, w: str = word) -> Any:
        plot_forest(reg, outcome=o, model=f.primary, ax=ax)
        ax.set_xlabel(literal_text(f"% change in {w} (95% CI)"))
        ax.set_title(literal_text(f"What goes with more {w}{where}"))
        return ax

    blocks.append(ctx.figure(
        f"forest_{outcome}" + (f"_{tag}" if tag else ""),
        draw,
        alt=alt,
        caption=f"% change in {word}{where} per feature, with 95% CI (primary model)",
        figsize=(6.5, 0.45 * len(eff) + 1.6),
    ))
    negbin = (_effect_columns(select_predictor_rows(reg, outcome=outcome, model="negbin"))
              if (reg["model"] == "negbin").any() else None)
    nb = {} if negbin is None else {
        str(t): f"{format_pct(e, signed=True)} ({format_pct(lo, signed=True)} to {format_pct(hi, signed=True)})"
        for t, e, lo, hi in zip(negbin["term"], negbin["effect_pct"], negbin["effect_pct_ci_low"],
                                negbin["effect_pct_ci_high"], strict=True)
    }
    rows = [
        (
            label_feature(str(t)),
            format_pct(e, signed=True),
            f"{format_pct(lo, signed=True)} to {format_pct(hi, signed=True)}",
            format_p(p),
            nb.get(str(t), NA_TEXT),
            f"cannot tell: {thin}" if thin else "clear" if ok else "not clear",
        )
        for t, e, lo, hi, p, thin, ok in zip(
            eff["term"], eff["effect_pct"], eff["effect_pct_ci_low"], eff["effect_pct_ci_high"],
            eff["p_used"], eff["cannot_tell"], eff["supported"], strict=True)
    ]
    blocks.append(table(
        f"{cap(word)}{where}: % change per feature (primary model{_fit_text(eff)})",
        ["Feature", "% change", "95% CI", f"{kind} p", "Count-model check (negative binomial), % (95% CI)",
         "Verdict"],
        rows, numeric=(1, 2, 3),
    ))
    return blocks


def _group_words(rec: Mapping[str, Any], full: Mapping[str, Any]) -> str:
    """ "have it", "lack it", "are 'reel'": which posts a too_few_posts record counts (its ``group`` field; a
    record from before it has none: "in a group")."""
    return str(full.get("group") or "in a group")


#: models.json flag codes of an outcome (or a whole platform) that was not modelled, and why in plain words
UNFITTED_REASONS = {
    "no_predictors": "no feature could be estimated on its posts",
    "too_few_posts_model": "too few usable posts",
    "constant_outcome": "every post had the same value",
    "outcome_not_reported": "the exports do not report it",
    "outcome_missing": "the exports do not report it",
}


def unfitted_models(models: Mapping[str, Any] | None, outcomes: list[str], primary: str | None = None
                    ) -> tuple[list[tuple[str | None, str]], list[tuple[str | None, str, str]]]:
    """(fitted, not fitted) platform × outcome pairs of the primary model, from models.json's ``fitted_terms``
    and ``flags``; each pair not fitted with its reason (review15 M6: 3 of 4 were not fitted, unsaid)."""
    models = models if isinstance(models, Mapping) else {}
    primary = primary or models.get("primary_model") or "ols_log"
    fitted = list(dict.fromkeys((r.get("platform"), str(r.get("outcome")))
                                for r in models.get("fitted_terms") or [] if isinstance(r, Mapping)
                                and r.get("model") == primary))
    missing: dict[tuple[str | None, str], str] = {}
    for r in models.get("flags") or []:
        if not isinstance(r, Mapping) or r.get("code") not in UNFITTED_REASONS or r.get("model"):
            continue
        for o in ([r["outcome"]] if r.get("outcome") else outcomes):
            key = (r.get("platform"), str(o))
            if key not in fitted:
                missing.setdefault(key, UNFITTED_REASONS[str(r["code"])])
    return fitted, [(p, o, why) for (p, o), why in missing.items()]


def unfitted_sentence(ctx: ReportContext) -> str | None:
    """ "Models were fitted for 1 of 4 platform–outcome pairs (Facebook engagements); not fitted: …" or None when
    every pair was fitted. For the section and for the executive summary (overview.py may append it)."""
    fitted, missing = unfitted_models(ctx.r.models, list(ctx.outcomes()), ctx.f.primary)
    if not missing:
        return None

    def name(p: str | None, o: str) -> str:
        return f"{platform_name(p)} {ctx.word(o, p)}" if p else ctx.word(o)

    total = len(fitted) + len(missing)
    pairs = "platform–outcome pair" if any(p for p, _ in fitted) or any(p for p, _, _ in missing) else "outcome"
    done = (f"The post-level models were fitted for {len(fitted)} of {count_noun(total, pairs)}"
            + (f" ({join_words([name(p, o) for p, o in fitted])})" if fitted else ""))
    by_reason: dict[str, list[str]] = {}
    for p, o, why in missing:
        by_reason.setdefault(why, []).append(name(p, o))
    return done + "; not fitted: " + "; ".join(f"{join_words(v)} ({k})" for k, v in by_reason.items()) + "."


def _left_out_everywhere(ctx: ReportContext) -> Block | None:
    """The predictors and controls left out of the models of every outcome (no coding file, not in the exports,
    constant: a record with no outcome), said once for the section (review15 R4: said under each outcome, and once
    per platform)."""
    gone = [d for d in getattr(ctx.f, "dropped", None) or [] if d.get("outcome") is None and d.get("term") is not None]
    if not gone:
        return None
    names = {platform_name(p) for p in (getattr(ctx.f, "model_notes", None) or {}).get("platforms") or []}
    parts = []
    for role, what in (("predictor", "Features"), ("control", "Controls")):
        # one entry per term and reason: "Facebook: …" and "Instagram: …" with the same words become
        # "Facebook and Instagram: …"
        merged: dict[tuple[str, str], list[str]] = {}
        for d in gone:
            if (d.get("role") or "predictor") != role:
                continue
            reason = str(d.get("reason") or "left out")
            head, _, rest = reason.partition(": ")
            where, reason = ([head], rest) if head in names and rest else ([], reason)
            merged.setdefault((str(d["term"]), reason), []).extend(where)
        if merged:
            listed = "; ".join(
                f"{control_name(t) if role == 'control' else label_feature(t).lower()} "
                f"({join_words(list(dict.fromkeys(where))) + ': ' if where else ''}{reason})"
                for (t, reason), where in merged.items())
            parts.append(f"{what} left out of the models: {listed}.")
    return Meta(ctx.own_terms(" ".join(parts)))


def _model_note_blocks(ctx: ReportContext, outcome: str) -> list[Block | None]:
    """What the estimate means (the primary model's estimand), a count model fitted by a fallback, groups with
    too few posts, and the outcome's overdispersion — each from findings' model_notes (models.json)."""
    notes = ctx.f.model_notes or {}
    out: list[Block | None] = []
    sentence = (notes.get("estimand_sentences") or {}).get(outcome)
    est = notes.get("primary_estimand") or {}
    if sentence:
        out.append(Meta(ctx.own_terms(f"What the % means ({est.get('title') or ctx.f.primary}): {sentence}")))
    elif est.get("estimand"):
        out.append(Meta(f"What the % means ({est.get('title') or ctx.f.primary}): the {est['estimand']}."))
    for fb in notes.get("fallbacks") or []:
        if fb.get("outcome") == outcome:
            where = f" on {fb['platform']}" if fb.get("platform") and len(notes.get("platforms") or []) > 1 else ""
            out.append(Warn(f"The count model {fb.get('model')} for {ctx.word(outcome, fb.get('platform'))}{where} was not fitted by maximum "
                            f"likelihood (nb2_ml) but by {fb.get('fit_method')}: "
                            f"{fb.get('fallback_reason') or 'models.json gives no reason'}."))
    raw = {(r.get("platform"), r.get("outcome"), r.get("term")): r
           for r in (ctx.r.models or {}).get("dropped") or [] if isinstance(r, Mapping)
           and r.get("code") == "too_few_posts"}
    several = len(notes.get("platforms") or []) > 1
    for rec in notes.get("too_few_posts") or []:
        if rec.get("outcome") != outcome or rec.get("role") == "control":
            continue  # (a control's estimate is not reported: the "Controls left out" line says it)
        plat = rec.get("platform")
        where = f" on {platform_name(plat)}" if several and plat else ""
        if not rec.get("term"):
            out.append(Warn(f"Cannot tell for {ctx.word(outcome, plat)}{where}: only "
                            f"{count_noun(rec.get('n'), 'usable post')} for this outcome's models."))
            continue
        full = raw.get((plat, rec.get("outcome"), rec.get("term"))) or rec
        judged = full.get("n_judged")
        k = format_int(rec.get("n"))
        counted = f"{k} of {count_noun(judged, 'post')}" if judged else count_noun(rec.get("n"), "post")
        need = f" (at least {format_int(rec.get('minimum'))} are needed in each group)" if rec.get("minimum") else ""
        done = {"posts_left_out": f"; {'that post was' if rec.get('n') == 1 else 'those posts were'} left out of "
                                  f"these models",
                "column_left_out": "; the feature was left out of these models and its posts kept"}.get(
                    str(full.get("action")), "")
        out.append(Warn(f"Cannot tell for {label_feature(str(rec.get('term'))).lower()}{where}: only {counted} "
                        f"{_group_words(rec, full)}{need}{done}."))
    d = (notes.get("dispersion") or {}).get(outcome) or {}
    bits = []
    if num(d.get("variance_to_mean")) is not None:
        bits.append(f"variance ÷ mean {format_number(d['variance_to_mean'])} (1 for Poisson counts)")
    if num(d.get("negbin_alpha")) is not None:
        ci = d.get("negbin_alpha_ci")
        bits.append(f"negative binomial α {format_number(d['negbin_alpha'])}"
                    + (f" ({ci_text(ci, format_number)})" if isinstance(ci, list) and len(ci) == 2 else ""))
    if num(d.get("pearson_dispersion")) is not None:
        bits.append(f"Pearson dispersion of the Poisson fit {format_number(d['pearson_dispersion'])}")
    if bits:
        out.append(Meta(f"Overdispersion of {ctx.word(outcome)}: " + "; ".join(bits) + "."))
    return out


def _reach_by_type(ctx: ReportContext) -> list[Block | None]:
    """Views (or impressions) and engagements by post/media type (models.json reach_by_type), beside the
    media-type effects, with Meta's reach per post where posts_coded has it (findings' reach); descriptive."""
    rows = (ctx.f.model_notes or {}).get("reach_by_type") or []
    if not rows:
        return []
    several = len({r.get("platform") for r in rows}) > 1  # the platform is named even when one is left out
    # A platform whose posts all lack a type gives one row, "unknown": true, and says nothing. Its row is left
    # out and the note says why and what would give the table.
    typed = {r.get("platform") for r in rows if str(r.get("type")) != "unknown"}
    untyped = list(dict.fromkeys(r.get("platform") for r in rows if r.get("platform") not in typed))
    note: list[Block | None] = []
    if untyped:
        whose = ("the posts" if len(untyped) == len({r.get("platform") for r in rows}) and len(untyped) == 1
                 else "the " + ", ".join(platform_name(p) for p in untyped) + " posts")
        note = [Note(f"Not shown for {whose}: the exports read give no post type (photo, video, link, text …) for "
                     "any of them. Exports that give one per post (Facebook's and Instagram's post exports, Bluesky's "
                     "and Mastodon's archives) would make it possible.")]
        rows = [r for r in rows if r.get("platform") in typed]
        if not rows:
            return [Heading(3, "Reach by type"), *note]
    reach = {(str(r.get("platform")), str(r.get("type"))): r for r in (ctx.f.reach or {}).get("posts") or []}
    with_reach = any((str(r.get("platform")), str(r.get("type"))) in reach for r in rows)
    word = ctx.word("impressions")
    headers = ((["Platform"] if several else []) + ["Type", "Posts", "Share", f"Median {word}", "Median engagements"]
               + (["Median reach (posts with reach)"] if with_reach else []))

    def reach_cell(r: Mapping[str, Any]) -> tuple[str, ...]:
        if not with_reach:
            return ()
        got = reach.get((str(r.get("platform")), str(r.get("type"))))
        return (f"{format_int(got['reach_median'])} ({format_int(got['n_posts'])})" if got else "",)

    body = [((platform_name(r.get("platform")),) if several else ()) + (
        str(r.get("type")), format_int(r.get("n")),
        format_pct(None if num(r.get("share")) is None else 100 * num(r.get("share"))),
        format_int(r.get("median_impressions")) if num(r.get("median_impressions")) is not None else "",
        format_int(r.get("median_engagements")) if num(r.get("median_engagements")) is not None else "",
    ) + reach_cell(r) for r in rows]
    first = 1 if several else 0
    what = f"median {word}, engagements" + (" and reach" if with_reach else "")
    return [Heading(3, "Reach by type"), table(
        f"Posts and {what} per type (descriptive, not adjusted for anything; from models.json reach_by_type"
        + (" and posts_coded reach" if with_reach else "") + ")", headers, body,
        numeric=tuple(range(first + 1, first + 5 + int(with_reach)))), *note]


def _sensitivity_table(ctx: ReportContext, outcome: str, platform: str | None = None) -> list[Block | None]:
    """How much one model's effects depend on its controls; with several platforms, that platform's model only
    (its own posts, its own controls), never rows of two platforms in one table."""
    several = len((ctx.r.models or {}).get("platforms") or []) > 1
    tag = platform if several else None
    where = ("" if tag is None else " (pooled model)" if tag == POOLED else f" ({platform_name(tag)})")
    word = ctx.word(outcome, None if tag in (None, POOLED) else tag)
    heading = Heading(5 if tag else 4, f"How much does this depend on the controls?{where}")
    sens = tabulate_controls_sensitivity(ctx.r.models, outcome=outcome, platform=tag)
    if sens.empty:
        return [heading, Note(f"How much the {word} effects{where} depend on the controls is not available: "
                              "results/models.json has no controls sensitivity for this model (no control was "
                              "fitted, or the file predates the check).")]
    n = sens["n"].dropna()
    n_text = f"; n = {format_int(n.iloc[0])} posts" if len(n) else ""
    rows = [
        (label_feature(t), format_pct(without, signed=True), format_pct(with_, signed=True),
         NOT_AVAILABLE if num(change) is None else f"{format_number(change, signed=True)} points")
        for t, without, with_, change in zip(sens["term"], sens["effect_pct_without_controls"],
                                             sens["effect_pct_with_controls"], sens["change_pct_points"], strict=True)
    ]
    controls = _model_controls(ctx, outcome, tag)
    names = join_words(list(dict.fromkeys(control_name(t) for t in controls)))
    return [
        heading,
        table(f"{cap(word)}{where}: % change per feature without and with the controls "
              f"(OLS on log scale{n_text})",
              ["Feature", "% change without controls", "% change with controls", "Change (percentage points)"],
              rows, numeric=(1, 2, 3), wide=True),
        Meta((f"The controls in this model are {names}. " if names else "")
             + "A large change means part of the feature's raw difference went with when the post was made or "
             "how big the audience was."),
    ]


def _model_controls(ctx: ReportContext, outcome: str, platform: str | None) -> list[str]:
    """The controls of one model: models.json's fitted_terms record of that platform and outcome (ols_log), else
    the findings' controls of the outcome."""
    for rec in (ctx.r.models or {}).get("fitted_terms") or []:
        if (isinstance(rec, Mapping) and rec.get("outcome") == outcome and rec.get("model") == "ols_log"
                and (platform is None or str(rec.get("platform")) == str(platform))):
            return [str(t) for t in rec.get("controls") or []]
    return list((ctx.f.model_terms.get(outcome) or {}).get("controls") or [])


def _fit_text(rows: pd.DataFrame) -> str:
    bits = []
    if "n" in rows and num(rows["n"].iloc[0]) is not None:
        bits.append(f"n = {format_int(rows['n'].iloc[0])} posts")
    if "r2" in rows and num(rows["r2"].iloc[0]) is not None:
        bits.append(f"R² = {format_number(rows['r2'].iloc[0])}")
    return "; " + ", ".join(bits) if bits else ""


def _published_table(ctx: ReportContext) -> list[Block | None]:
    reg = ctx.r.regression
    caption = "As commonly published (standardized β, for comparison with the literature)"
    if reg is None or not (reg["model"] == "ols_std").any():
        return [Heading(3, caption), Note("The standardized (ols_std) model is not available in this run.")]
    rows = []
    for outcome in pd.unique(reg.loc[reg["model"] == "ols_std", "outcome"].astype(str)):
        std = select_predictor_rows(reg, outcome=outcome, model="ols_std")
        beta = pd.to_numeric(std["std_beta"], errors="coerce") if "std_beta" in std else std["estimate"]
        beta = beta.fillna(pd.to_numeric(std["estimate"], errors="coerce"))
        plats = (std["platform"].astype("string").fillna("").astype(str) if "platform" in std.columns
                 else pd.Series("", index=std.index))
        several = plats.nunique() > 1
        for t, b, p, pl in zip(std["term"], beta, std.get("p_value", pd.Series(np.nan, index=std.index)), plats,
                               strict=True):
            name = (f"{ctx.word(outcome, pl)} ({platform_name(pl) if pl != POOLED else 'pooled'})" if several
                    else ctx.word(outcome, pl or None))
            rows.append((label_feature(str(t)), name, format_number(b, signed=True), format_p(p)))
    return [
        table(caption, ["Feature", "Outcome", "Standardized β", "p (unadjusted)"], rows, numeric=(2, 3)),
        Meta("Standardized β is the change in the outcome, in standard deviations, per standard deviation of "
             "the feature, from OLS on the raw counts (not their logarithm, as in the tables above, so a few "
             "very large posts weigh heavily and its sign can differ from the % above). It is shown so these "
             "results can be compared with published studies; it cannot be read as a % change, and its "
             "p-values are not adjusted for multiple testing."),
    ]


def _fitted_models(ctx: ReportContext) -> set[str] | None:
    """Models with rows in regression.csv or that converged per models.json; None when neither says."""
    found: set[str] = set()
    known = False
    if ctx.r.regression is not None:
        known = True
        found |= set(ctx.r.regression["model"].astype(str))
    diagnostics = _as_mapping(_as_mapping(ctx.r.models).get("diagnostics"))
    for outcome in list_diagnosed_outcomes(ctx.r.models):
        converged = diagnostics[outcome].get("converged")
        if isinstance(converged, Mapping):
            known = True
            found |= {str(m) for m, ok in converged.items() if ok is True}
    return found if known else None


def diagnostics_blocks(ctx: ReportContext) -> list[Block | None]:
    models = ctx.r.models
    if models is None:
        return [Note(ctx.r.missing_note(ctx.paths.models, "Model checking"))]
    outcomes = list_diagnosed_outcomes(models)
    order = ctx.outcomes()
    outcomes = [o for o in order if o in outcomes] + [o for o in outcomes if o not in order]
    blocks: list[Block | None] = [Meta(
        "Checks of the post-level models, per outcome (of ols_log unless stated). VIF above "
        f"{VIF_FLAG:g} means a term is strongly collinear with the others (between controls such as "
        "year and audience size it does not affect the features' estimates). Many zeros, skewed "
        "residuals or a small heteroskedasticity p-value speak against the log-scale model; a small "
        "overdispersion p-value means a Poisson model would understate the uncertainty of a count "
        "model. Influential posts (Cook's distance) move the estimates most; worth a look, not removal."
    )]
    if not outcomes:
        blocks.append(Note("Model diagnostics are not available: results/models.json has no diagnostics per "
                           "outcome."))
    for outcome in outcomes:
        blocks.append(Heading(4, cap(ctx.word(outcome))))
        blocks.append(table(f"{cap(ctx.word(outcome))}: model diagnostics", ["Check", "Result"],
                            summarize_diagnostics(models, outcome=outcome, label=ctx.word(outcome)),
                            row_headers=True))
    primary = _as_mapping(_as_mapping(models.get("diagnostics")).get("primary"))
    model = models.get("primary_model") or primary.get("model")
    reason = models.get("primary_reason") or primary.get("reason")
    why = str(reason).strip() if reason else NOT_AVAILABLE
    blocks += [Heading(4, "Primary model"), P(f"Primary model: {model if model else NOT_AVAILABLE}."),
               P(f"Why: {why}" + ("" if why.endswith(".") else "."))]
    fitted = _fitted_models(ctx)
    p = ctx.f.primary
    lines = {
        "ols_log": "OLS on log(1 + count) with HC3 robust errors — "
        + ("the primary model." if p == "ols_log" else f"a check; the primary model is {p}."),
        "ols_std": "OLS with standardized variables — the published form (standardized β), for comparison "
        "with the literature only.",
        "negbin": "Negative binomial regression of the count — "
        + ("the primary model." if p == "negbin" else "the count-model check of the primary model."),
        "negbin_rate": f"Negative binomial regression of engagements with log({ctx.word('impressions')}) as offset — "
        f"the engagement rate per {ctx.own_terms('impression')}.",
    }
    items = []
    for name, text in lines.items():
        status = ("whether it was fitted is not available" if fitted is None
                  else "fitted" if name in fitted else "not fitted in this run")
        items.append(f"{name}: {text} ({status})")
    blocks += [Heading(4, "Models fitted"), ul(items)]
    return blocks
