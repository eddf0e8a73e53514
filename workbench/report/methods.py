"""The methods appendix: definitions, diagnostics, features, codebook, caveats and the software versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..beforeafter import MIN_MONTHS_EACH_SIDE
from ..errors import InputError
from ..features import FEATURE_DESCRIPTIONS
from ..findings import num
from ..models import MIN_LEVEL_POSTS
from ..vocab import (
    PLATFORM_TERMS,
    control_name,
    feature_description,
    join_words,
    label_feature,
    platform_name,
)
from .appendix import read_codebook
from .blocks import Block, Heading, Note, table, ul
from .format import format_int, format_number, margin_text
from .what_works import diagnostics_blocks

if TYPE_CHECKING:
    from .render import ReportContext


def _controls_text(ctx: ReportContext) -> str:
    controls = [control_name(t) for terms in ctx.f.model_terms.values() for t in terms.get("controls") or []]
    controls = list(dict.fromkeys(controls))
    if not ctx.f.model_terms:
        return "Controls: not available (no fitted model)."
    if not controls:
        return "Controls: none were in the fitted models (see the data appendix's warnings for why)."
    return f"Controls in the fitted models: {join_words(controls)}."


def _platform_definitions(ctx: ReportContext) -> list[str]:
    """Each platform's own impressions/views and engagements, as its export defines them."""
    rows = (ctx.f.vocabulary or {}).get("platforms") or []
    if not rows:
        return ["Impressions are the platform's count of times a post was shown; engagements are the platform's "
                "count of interactions. Their definitions differ between platforms."]
    out = []
    page_reach = {str(r.get("platform")) for r in (ctx.f.reach or {}).get("page") or []}
    for v in rows:
        reach = (PLATFORM_TERMS.get(str(v.get("platform")), {}).get("reach")
                 if (v.get("n_reach") or str(v.get("platform")) in page_reach) else None)
        bits = [b for b in (v.get("impressions_definition"), v.get("engagements_definition") and
                            f"Engagements: {v['engagements_definition']}", reach) if b]
        if bits:
            out.append(f"{platform_name(v['platform'])}: " + " ".join(bits))
    return out


def _at_date_measured() -> str:
    """What the simulation suite measured for the change-at-the-date rule (growth.CHANGE_AT_DATE_MEASURED)."""
    from ..growth import CHANGE_AT_DATE_MEASURED as m

    decl = [v for (_, what), v in m.items() if what.startswith("decline")]
    step = {name: v for (name, what), v in m.items() if what == "1.7x"}
    return (f"On simulated accounts (300 per scenario) whose rate declined steadily with no change at the date, the "
            f"rate comparison alone called a change in up to {max(v[0] for v in decl):.0%} of them, this rule in at "
            f"most {max(v[1] for v in decl):.0%}; the price is power against a real 1.7× step at the date: "
            f"{step['ar90'][1]:.2f} instead of {step['ar90'][0]:.2f} with bursts of attention lasting days (φ = .90), "
            f"{step['split_40_8'][1]:.2f} instead of {step['split_40_8'][0]:.2f} with 40 months before and 8 after.")


def _growth_methods(ctx: ReportContext, lag_text: str, ratio_method: str, margin_words: str) -> list[str]:
    """Which model each growth number came from (growth.json's own method texts where it has them)."""
    details = ctx.f.growth_details[0] if ctx.f.growth_details else {}
    model = details.get("growth_model")
    out = []
    growth = ctx.r.growth or {}
    if growth.get("available") is False:  # nothing was fitted: describe no method as if it had been used
        reason = (growth.get("not_available") or {}).get("reason") or "see the growth section"
        out.append(f"Growth comparison: not computed in this run ({reason}); the growth section says what input "
                   "would make it possible.")
    elif model:
        out.append(f"Growth rates, their ratio, its CI and p-value (the verdicts): the calibrated increments model — "
                   f"{model}. {details.get('calibration') or ''}".strip())
        out.append("Published form only (shown for comparison, not judged on): a straight line fitted to the "
                   "follower level in each period (slope per day, R²) and the segmented level regression with HAC "
                   "errors; on a cumulative series its CIs are too narrow.")
    else:
        out.append("Growth: a straight line is fitted to the follower series in each period (slope per day, R², as "
                   "published). The change in slope is tested in one regression with a time × period interaction "
                   f"and Newey–West (HAC) standard errors with {lag_text}, because consecutive days are not "
                   f"independent.")
    if growth.get("available") is not False:
        out.append(f"The slope ratio's 95% CI uses the {ratio_method}.")
        out.append(f"Equivalence: two one-sided tests (TOST) of the slope ratio against the margin {margin_words}; "
                   "only a significant TOST supports “no meaningful change” — a large p-value alone never does.")
        ta = details.get("trend_adjusted") or {}
        if ta.get("method"):
            out.append("A change at the date, not a drift already under way: a significant rate comparison becomes "
                       "the verdict “changed” only when, in a second model whose rate also follows one steady "
                       f"linear trend across both periods ({ta['method']}), the jump of the rate at the date is "
                       "significant in the same direction; otherwise the verdict is “cannot tell” and says why "
                       "(with the before period's own trend in the rate and the placebo dates). " + _at_date_measured())
    pa = details.get("posts_adjusted") or {}
    if ctx.f.before_after_platforms:
        out.append("Several platforms: the before/after tables compare each platform apart — its own posts (collab "
                   "posts by other accounts left out), its months (complete by that platform's data alone) and its "
                   "own follower series (the increments model run on its account rows only); no pooled view.")
    where = ("" if not pa.get("platform") else " (all platforms pooled)" if pa["platform"] == "pooled"
             else f" ({platform_name(pa['platform'])} posts, the account the growth section compares)")
    if pa.get("method"):
        out.append(f"Post change at the intervention{where}, adjusted for audience size and trend: "
                   f"{ctx.own_terms(str(pa['method']))}. "
                   f"Estimand: the {ctx.own_terms(str(pa.get('estimand')))}. The unadjusted median ratio beside it is descriptive "
                   f"({(pa.get('descriptive') or {}).get('median_ratio_ci_method') or 'no CI'}).")
    its = details.get("monthly_its") or {}
    if its.get("method"):
        out.append(f"Monthly metrics (the rigorous form): {ctx.own_terms(str(its['method']))}.")
    out.append("Medians of posts before and after the date (the before/after tables and the summary's "
               "descriptive ratio): one ratio of medians and one interval, a percentile interval of 999 resamples "
               "of whole calendar months within each period (posts of one month are not independent); no ratio "
               f"from fewer than {MIN_LEVEL_POSTS} posts a side or a median of 0, and no interval from fewer than "
               f"{MIN_MONTHS_EACH_SIDE} months a side (the cell says why).")
    out.append("Monthly metrics, published form: fold change of the period means with a 95% CI, Welch's t-test "
               "and the Mann–Whitney test (months treated as independent, the earlier trend ignored); the "
               "one-tailed t-test is shown only as the published form.")
    placebo = details.get("placebo") or {}
    if num(placebo.get("smallest_attainable_p")) is not None:
        out.append(f"Placebo check: {format_int(placebo.get('n'))} fake interventions in the earlier period; the "
                   f"smallest attainable rank p is {format_number(placebo['smallest_attainable_p'])} "
                   "(1 ÷ (placebos + 1)).")
    return out


def methods_appendix(ctx: ReportContext) -> list[Block | None]:
    growth = ctx.r.growth or {}
    comp = ctx.f.comparisons[0].results if ctx.f.comparisons else growth
    change = comp.get("slope_change") or {}
    eq = comp.get("equivalence") or {}
    lags = change.get("maxlags")
    margin = eq.get("margin") or (ctx.ds.analysis.equivalence_margin if ctx.ds else None)
    margin_words = margin_text(margin) or "as stated in the dataset card"
    lag_text = (f"{format_int(lags)} lag(s)" if num(lags) is not None
                else "floor(4·(n/100)^(2/9)) lags (Newey & West 1994)")
    ratio_method = growth.get("slope_ratio_method") or comp.get("slope_ratio_method") or "delta method"
    previous = ctx.f.previous
    items = [
        f"Engagement rate = engagements ÷ {ctx.word('impressions')}, computed per post for posts with "
        f"{ctx.word('impressions')}; the report shows its median.",
        *_platform_definitions(ctx),
        "Metrics a platform does not report are missing, never zero; reach (people reached) is never summed "
        "across posts or days.",
        "Post-level model (primary): ordinary least squares on log(1 + outcome) with HC3 heteroskedasticity-"
        "robust standard errors; a coefficient b is reported as a % change 100·(exp(b) − 1) with its 95% "
        f"CI; p-values are Holm-adjusted across the features tested. {_controls_text(ctx)}",
        "Published form: OLS with standardized variables (standardized β), shown only for comparison with "
        "the literature.",
        "Count-model check: negative binomial regression with the dispersion estimated; agreement with the "
        "primary model in direction and size supports the finding.",
        *_growth_methods(ctx, lag_text, ratio_method, margin_words),
        *(["Counterfactual: the first period's trend projected over the later period with a 95% prediction "
           "band; the excess is observed minus projected at the end of the series."]
          if growth.get("available") is not False else []),
        "Goals (workbench.goals): judged at the end of the data, never at today's date; a goal whose deadline "
        "lies after the data is projected from the last reading with the current rate in a straight line; a "
        "follower goal needs a follower level (new follows are never summed into one).",
        "Key figures against the previous period: " + (previous["rule"] + "." if previous else
                                                       "not available (no dated posts)."),
    ]
    caveats = [
        "R² of a cumulative series such as followers is close to 1 whatever happens, so a high R² says "
        "nothing about whether growth changed.",
        "The data are observational: features were not assigned at random, so effects are associations "
        "that may reflect what was posted about, when, and to whom.",
        "Posting-time counts are descriptive and are not adjusted for anything.",
    ]
    if not ctx.show_handles:
        items.append("Top posts: @handles of other accounts are shown as @… (the organization's own handle is kept).")
    platforms = [str(v.get("platform")) for v in (ctx.f.vocabulary or {}).get("platforms") or []]
    features = table(
        "Automatic features: what each column of posts_coded means",
        ["Feature", "Column", "Definition"],
        [(label_feature(name), name, ctx.own_terms(feature_description(name, platforms) or text))
         for name, text in FEATURE_DESCRIPTIONS.items()],
        row_headers=True,
    )
    versions = table(
        "Software that computed this report's numbers",
        ["Package", "Version"],
        sorted(ctx.f.versions.items()),
        row_headers=True,
    )
    return [
        Heading(3, "Definitions and methods"), ul(items),
        Heading(3, "Model diagnostics"), *diagnostics_blocks(ctx),
        Heading(3, "Automatic features"), features,
        Heading(3, "Manual codes (codebook)"), *_codebook(ctx),
        Heading(3, "Caveats"), ul(caveats),
        Heading(3, "Software versions"), versions,
    ]


def _codebook(ctx: ReportContext) -> list[Block | None]:
    ds = ctx.ds
    if ds is None:
        return [Note("The codebook is not available: the report was built without the dataset card.")]
    path = ds.codebook_path()
    if path is None:
        return [Note("The dataset card names no codebook, so no manual code definitions are shown.")]
    relpath = ds.codebook
    if not path.is_file():
        return [Note(f"The codebook is not available: {relpath} was not found in the dataset folder.")]
    try:
        codes, problems = read_codebook(path)
    except InputError as exc:
        return [Note(f"The codebook is not available: {relpath}: {exc}")]
    if not codes:
        return [Note(f"The codebook {relpath} lists no codes."), ul(problems)]
    rows = [(c["name"], c["type"], c["definition"], c["include"], c["exclude"], c["examples"]) for c in codes]
    return [table(f"Manual codes as defined in {relpath}",
                  ["Code", "Type", "Definition", "Include", "Exclude", "Examples"], rows, row_headers=True),
            ul(problems)]
