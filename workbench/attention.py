"""Did posting raise the research's attention? Featured vs not-featured papers, before vs after, post features.

Observational throughout: the account chooses which papers to post about, and it may choose the ones that would
draw attention anyway. What the data allow is done against that:

- **count models** (negative binomial NB2, dispersion estimated, HC0 sandwich errors — the fitter of
  :mod:`workbench.models`) of the Altmetric Attention Score and of OpenAlex citations on ``featured``, with
  publication age (``log_age_years``, years from publication to when the attention was recorded) as a control,
  and journal and publication year as categorical controls (``negbin``); the same without journal and year
  (``negbin_unadjusted``) to show how much selection across journals and years there was; and within
  journal-year strata (``negbin_journal_year``: one intercept per journal × year, strata with both featured and
  not-featured papers only);
- **citations before vs after the first post** for featured papers, from OpenAlex ``counts_by_year``: a
  paper-year Poisson model with one intercept per paper, per calendar year and per year since publication
  (``poisson_paper_year``, errors clustered by paper); the first post's own year is left out (half treated);
- **attention before the first post as a control** (``negbin_prior_attention``): where the Altmetric ``history``
  reaches back to the first post (featured) or to publication + the median publication-to-post lag (not featured),
  ``log1p`` of the score at that time enters as a control;
- **Altmetric before vs after**: the counts endpoint's ``history`` (score gained in the last 1 d … 1 y before
  the fetch) brackets the score each featured paper had when it was first posted, where the first post falls
  within the year before the fetch;
- **post features** among featured papers: whether any featuring post linked the article, had a graphic or a
  poll, and the number of posts (``negbin_post_features``).

The Altmetric score is a weighted count (news 8, blog 5, X post 0.25–1, …); it is modelled as a count (the
NB2 likelihood is defined for non-integer values). Papers Altmetric does not know (HTTP 404) are *not found*, not
zero: they are left out of the Altmetric models, and a sensitivity fit scores them 0 (``negbin_not_found_zero``).
"""

from __future__ import annotations

import warnings as pywarnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from .models import CONTRACT_COLUMNS, _fit_negbin
from .publications import HISTORY_WINDOWS

OUTCOMES = ("altmetric_score", "citations")
OUTCOME_LABELS = {"altmetric_score": "Altmetric Attention Score", "citations": "citations (OpenAlex)"}
POST_FEATURES = ("has_url", "has_graphic", "has_poll")
FEATURE_LABELS = {"has_url": "a link to the article", "has_graphic": "a graphic", "has_poll": "a poll",
                  "log_n_posts": "more posts about the paper (per doubling)"}
#: a journal or year with fewer papers than this is pooled into "other" for the controls.
MIN_LEVEL_PAPERS = 5
#: fewest featured and not-featured papers a comparison needs.
MIN_GROUP = 5
EXTRA_COLUMNS = ("effect_pct_ci_low", "effect_pct_ci_high", "n_featured", "controls")
TABLE_COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS
CAUSAL_NOTE = ("These are associations. The account chooses which papers to post about and may pick the ones that "
               "would draw attention anyway (a press release, a high-profile journal, a topical subject); part of an "
               "Altmetric difference is also mechanical, because Altmetric counts the account's own posts. A causal "
               "answer needs the choice of papers to be made at random (for example, randomize which eligible new "
               "papers are posted about, or when), or a record of attention before the first post for every paper.")


@dataclass
class AttentionFit:
    """Everything the publications section shows: the tidy table, verdicts, before/after and the paper table."""

    table: pd.DataFrame
    verdicts: list[dict]
    before_after: dict
    post_features: list[dict]
    verification: dict
    warnings: list[str] = field(default_factory=list)


# -------------------------------------------------------------------------------------------------- paper table


def build_paper_table(publications: pd.DataFrame, attention: pd.DataFrame, links: pd.DataFrame,
                      posts: pd.DataFrame, *, as_of: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """One row per publication: attention, ``featured``, posts about it, their features, and age at measurement.

    ``as_of`` (when citations were counted; default the latest Altmetric fetch time, else the latest post or
    publication date) gives the age of papers without an Altmetric fetch time of their own.
    """
    pub = publications.merge(attention.drop(columns=["doi"], errors="ignore"), on="pub_id", how="left")
    p = posts[["post_id", "published_at", *[c for c in POST_FEATURES if c in posts]]].copy()
    p["post_id"] = p["post_id"].astype("string")
    lk = links[["post_id", "pub_id"]].merge(p, on="post_id", how="inner")
    agg = {"n_posts": ("post_id", "nunique"), "first_post_at": ("published_at", "min")}
    for c in POST_FEATURES:
        if c in lk:
            lk[c] = lk[c].astype("float64")
            agg[c] = (c, "max")
    per = lk.groupby("pub_id").agg(**agg) if len(lk) else pd.DataFrame(columns=list(agg))
    pub = pub.merge(per, left_on="pub_id", right_index=True, how="left")
    pub["n_posts"] = pub["n_posts"].fillna(0).astype("int64")
    pub["featured"] = (pub["n_posts"] > 0).astype("int64")
    if as_of is None:
        fetched = pd.to_datetime(pub.get("altmetric_fetched_at"), utc=True, errors="coerce")
        if fetched is not None and fetched.notna().any():
            as_of = fetched.max()
        else:
            cands = [pd.to_datetime(posts["published_at"], utc=True).max(),
                     pd.Timestamp(pub["published_date"].max()).tz_localize("UTC")]
            as_of = max(c for c in cands if pd.notna(c))
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    measured = pd.to_datetime(pub.get("altmetric_fetched_at"), utc=True, errors="coerce").fillna(as_of)
    published = pd.to_datetime(pub["published_date"]).dt.tz_localize("UTC")
    pub["age_years"] = ((measured - published).dt.days / 365.25).clip(lower=1 / 365.25)
    pub["log_age_years"] = np.log(pub["age_years"])
    pub["as_of"] = as_of
    return pub.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------------ models


def _pooled(s: pd.Series, min_n: int = MIN_LEVEL_PAPERS) -> pd.Series:
    s = s.astype("string").fillna("(unknown)")
    counts = s.value_counts()
    return s.where(s.map(counts) >= min_n, "other")


def _dummies(s: pd.Series, prefix: str) -> pd.DataFrame:
    d = pd.get_dummies(s, prefix=prefix, drop_first=True, dtype="float64")
    return d.loc[:, d.std() > 0]


def _rows_from(res, *, outcome: str, model: str, terms: list[str], n: int, n_featured: int,
               controls: list[str]) -> pd.DataFrame:
    params = pd.Series(res.params)
    bse = pd.Series(res.bse, index=params.index)
    ci = pd.DataFrame(np.asarray(res.conf_int()), index=params.index)
    pv = pd.Series(res.pvalues, index=params.index)
    terms = [t for t in terms if t in params.index]
    est = params[terms].to_numpy()
    lo, hi = ci.loc[terms, 0].to_numpy(), ci.loc[terms, 1].to_numpy()
    return pd.DataFrame({
        "outcome": outcome, "model": model, "term": terms, "estimate": est, "std_error": bse[terms].to_numpy(),
        "ci_low": lo, "ci_high": hi, "p_value": pv[terms].to_numpy(), "std_beta": np.nan,
        "effect_pct": 100 * np.expm1(est), "n": n, "r2": np.nan,
        "effect_pct_ci_low": 100 * np.expm1(lo), "effect_pct_ci_high": 100 * np.expm1(hi),
        "n_featured": n_featured, "controls": "; ".join(controls),
    })


def _fit(y: np.ndarray, X: pd.DataFrame):
    res, reason = _fit_negbin(np.asarray(y, dtype="float64"), X.astype("float64"))
    return res, reason


def _unavailable(outcome: str, model: str, term: str, reason: str, **extra) -> dict:
    return {"outcome": outcome, "model": model, "term": term, "available": False, "reason": reason, **extra}


def _verdict(rows: pd.DataFrame, *, outcome: str, model: str, comparison: str, controls_text: str) -> dict:
    r = rows[rows["term"] == "featured"].iloc[0]
    label = OUTCOME_LABELS[outcome]
    lo, hi = r["effect_pct_ci_low"], r["effect_pct_ci_high"]
    clear = lo > 0 or hi < 0
    amount = (f"a {abs(r['effect_pct']):.0f}% {'higher' if r['effect_pct'] >= 0 else 'lower'} {label}"
              if outcome == "altmetric_score" else
              f"{abs(r['effect_pct']):.0f}% {'more' if r['effect_pct'] >= 0 else 'fewer'} {label}")
    sentence = (f"Papers the account posted about had {amount} than "
                f"{comparison} (95% CI {lo:+.0f}% to {hi:+.0f}%; negative binomial on {int(r['n'])} papers, "
                f"{int(r['n_featured'])} featured; {controls_text}). "
                + ("The 95% interval does not include zero difference." if clear else
                   "The interval includes no difference: the data cannot tell a difference from none."))
    return {"outcome": outcome, "model": model, "term": "featured", "available": True,
            "estimate": float(r["estimate"]), "effect_pct": float(r["effect_pct"]),
            "ci_pct": [float(lo), float(hi)], "p_value": float(r["p_value"]), "n": int(r["n"]),
            "n_featured": int(r["n_featured"]), "controls": r["controls"].split("; ") if r["controls"] else [],
            "excludes_zero": bool(clear), "sentence": sentence}


def _featured_models(papers: pd.DataFrame, outcome: str, warnings: list[str]) -> tuple[list[pd.DataFrame], list[dict]]:
    tables, verdicts = [], []
    d = papers[papers[outcome].notna()].reset_index(drop=True)
    n_f = int(d["featured"].sum())
    n_u = len(d) - n_f
    if n_f < MIN_GROUP or n_u < MIN_GROUP:
        source = ("Altmetric answers (workbench fetch altmetric) or an Altmetric Explorer export" if
                  outcome == "altmetric_score" else "OpenAlex works pages (workbench fetch openalex)")
        reason = (f"{n_f} paper(s) the account posted about and {n_u} it did not have a known "
                  f"{OUTCOME_LABELS[outcome]}; the comparison needs at least {MIN_GROUP} of each (list more "
                  f"publications, or add their {source} to the card's attention:)")
        return [], [_unavailable(outcome, "negbin", "featured", reason)]
    y = d[outcome].to_numpy(dtype="float64")
    base = d[["featured", "log_age_years"]].astype("float64")
    journal, year = _pooled(d["journal"]), _pooled(d["year"])
    specs = [
        ("negbin", pd.concat([base, _dummies(journal, "journal"), _dummies(year, "year")], axis=1),
         ["publication age", "journal", "year"], "papers it did not post about in the same journals and years",
         "controls: publication age, journal, year"),
        ("negbin_unadjusted", base, ["publication age"], "papers it did not post about",
         "control: publication age only"),
    ]
    stratum = journal + " · " + d["year"].astype("string")
    mixed = d.groupby(stratum)["featured"].transform(lambda s: 0 < s.sum() < len(s)).astype(bool)
    if mixed.sum() >= 2 * MIN_GROUP and stratum[mixed].nunique() >= 1:
        dm = mixed.to_numpy()
        Xs = pd.concat([base[dm], _dummies(stratum[mixed], "stratum")], axis=1)
        specs.append(("negbin_journal_year", Xs, ["publication age", "journal × year strata"],
                      "papers it did not post about in the same journal and year",
                      f"within {stratum[mixed].nunique()} journal-year strata that have both"))
    else:
        verdicts.append(_unavailable(outcome, "negbin_journal_year", "featured",
                                     "no journal-year has both featured and not-featured papers enough to compare"))
    for model, X, controls, comparison, ctext in specs:
        sub = mixed.to_numpy() if model == "negbin_journal_year" else np.ones(len(d), bool)
        res, reason = _fit(y[sub], X)
        if res is None:
            verdicts.append(_unavailable(outcome, model, "featured", f"the model did not converge ({reason})"))
            continue
        rows = _rows_from(res, outcome=outcome, model=model, terms=["featured", "log_age_years"], n=int(sub.sum()),
                          n_featured=int(d["featured"][sub].sum()), controls=controls)
        tables.append(rows)
        verdicts.append(_verdict(rows, outcome=outcome, model=model, comparison=comparison, controls_text=ctext))
    if outcome == "altmetric_score":
        nf = papers[papers["altmetric_status"] == "not_found"]
        if len(nf):
            d0 = pd.concat([d, nf.assign(altmetric_score=0.0)], ignore_index=True)
            X0 = pd.concat([d0[["featured", "log_age_years"]].astype("float64"),
                            _dummies(_pooled(d0["journal"]), "journal"), _dummies(_pooled(d0["year"]), "year")], axis=1)
            res, reason = _fit(d0["altmetric_score"].to_numpy(dtype="float64"), X0)
            if res is not None:
                rows = _rows_from(res, outcome=outcome, model="negbin_not_found_zero", terms=["featured"],
                                  n=len(d0), n_featured=int(d0["featured"].sum()),
                                  controls=["publication age", "journal", "year"])
                tables.append(rows)
                v = _verdict(rows, outcome=outcome, model="negbin_not_found_zero",
                             comparison="papers it did not post about, counting the "
                                        f"{len(nf)} paper(s) Altmetric does not know as score 0",
                             controls_text="controls: publication age, journal, year; sensitivity analysis")
                verdicts.append(v)
    return tables, verdicts


def cross_check_negbin(y: np.ndarray, X: pd.DataFrame) -> dict:
    """Refit the discrete NB2 fit as a GLM (NB family, α fixed at the ML value): the coefficients must agree."""
    res, reason = _fit(y, X)
    if res is None:
        return {"available": False, "reason": reason}
    alpha = float(res.params.iloc[-1])
    exog = sm.add_constant(X.astype("float64"), has_constant="add")
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        glm = sm.GLM(y, exog, family=sm.families.NegativeBinomial(alpha=alpha)).fit(tol=1e-12, maxiter=200)
    diff = np.max(np.abs(np.asarray(res.params.iloc[:-1]) - np.asarray(glm.params)))
    return {"available": True, "alpha": alpha, "max_abs_coef_difference": float(diff),
            "method": "statsmodels discrete NegativeBinomial (NB2, ML α) vs GLM NegativeBinomial family at that α"}


def citations_before_after(papers: pd.DataFrame, by_year: pd.DataFrame) -> dict:
    """Paper-year Poisson of citations per calendar year: after vs before each featured paper's first post."""
    if by_year is None or by_year.empty or "openalex_id" not in papers or papers["openalex_id"].isna().all():
        return {"available": False, "reason": "no citations by year (OpenAlex works pages with counts_by_year "
                                              "in the card's attention files would give them)"}
    pp = papers.dropna(subset=["openalex_id"])
    as_of_year = int(pd.Timestamp(pp["as_of"].iloc[0]).year)
    # every paper-year from publication to the last complete year (zeros where counts_by_year has no entry)
    years = pp[["openalex_id", "year", "featured", "first_post_at"]].copy()
    span = [np.arange(int(y), as_of_year) for y in years["year"]]
    panel = pd.DataFrame({"openalex_id": np.repeat(years["openalex_id"].to_numpy(), [len(s) for s in span]),
                          "cal_year": np.concatenate(span) if span else np.array([], int)})
    panel = panel.merge(years, on="openalex_id")
    panel = panel.merge(by_year.rename(columns={"year": "cal_year"}).astype({"cal_year": "int64"}),
                        on=["openalex_id", "cal_year"], how="left")
    panel["citations"] = panel["citations"].fillna(0).astype("float64")
    first_year = pd.to_datetime(panel["first_post_at"], utc=True).dt.year.astype("float64").to_numpy()
    keep = ~(first_year == panel["cal_year"].to_numpy())  # the first post's year is half before, half after
    panel = panel[keep].reset_index(drop=True)
    panel["after_first_post"] = (first_year[keep] < panel["cal_year"].to_numpy()).astype("float64")
    fy = pd.to_datetime(years["first_post_at"], utc=True).dt.year
    n_pre = int(((fy > years["year"]) & years["featured"].astype(bool)).sum())
    if n_pre < 3:
        return {"available": False, "reason": f"only {n_pre} featured paper(s) were first posted about a year or more "
                                              "after publication, so no paper has citations both before and after "
                                              "its first post to compare (needs at least 3)"}
    # the publication year is a part year; papers never cited, or featured from their first full year on, carry
    # no within-paper contrast (their paper intercept absorbs them): leaving them out changes no estimate
    panel = panel[panel["cal_year"] > panel["year"]]
    contrast = panel.groupby("openalex_id")["after_first_post"].transform("nunique") > 1
    never = panel["featured"] == 0
    cited = panel.groupby("openalex_id")["citations"].transform("sum") > 0
    panel = panel[(contrast | never) & cited].reset_index(drop=True)
    panel["log_age_years"] = np.log(panel["cal_year"] - panel["year"] + 0.5)
    X = pd.concat([panel[["after_first_post", "log_age_years"]], _dummies(panel["openalex_id"], "paper"),
                   _dummies(panel["cal_year"].astype("string"), "cal")], axis=1)
    exog = sm.add_constant(X, has_constant="add")
    groups = pd.factorize(panel["openalex_id"])[0]
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        res = sm.GLM(panel["citations"].to_numpy(), exog, family=sm.families.Poisson()).fit(
            cov_type="cluster", cov_kwds={"groups": groups})
    n_pre = int(panel.loc[panel["featured"] == 1, "openalex_id"].nunique())
    rows = _rows_from(res, outcome="citations_per_year", model="poisson_paper_year", terms=["after_first_post"],
                      n=len(panel), n_featured=n_pre,
                      controls=["paper", "calendar year", "log years since publication"])
    r = rows.iloc[0]
    return {"available": True, "table": rows, "effect_pct": float(r["effect_pct"]),
            "ci_pct": [float(r["effect_pct_ci_low"]), float(r["effect_pct_ci_high"])], "n_paper_years": len(panel),
            "n_papers_with_before_and_after": n_pre,
            "sentence": (f"In the years after the first post, featured papers were cited {abs(r['effect_pct']):.0f}% "
                         f"{'more' if r['effect_pct'] >= 0 else 'less'} per year than before (95% CI "
                         f"{r['effect_pct_ci_low']:+.0f}% to {r['effect_pct_ci_high']:+.0f}%), compared with the same "
                         f"papers' earlier years and with papers never posted about, in the same calendar year, adjusting "
                         f"for years since publication (Poisson, one "
                         f"intercept per paper, errors clustered by paper; {n_pre} papers posted about a year or more "
                         "after publication carry the comparison).")}


def altmetric_before_after(papers: pd.DataFrame) -> dict:
    """Bounds on the share of each featured paper's score gained after its first post, from ``history``."""
    f = papers[(papers["featured"] == 1) & (papers["altmetric_status"] == "found")].copy()
    if f.empty or "history_at" not in f or f["history_at"].isna().all() or f["altmetric_fetched_at"].isna().all():
        return {"available": False, "reason": "needs Altmetric API responses with 'history' and the fetch log's "
                                              "fetch times (workbench fetch altmetric writes both)", "papers": []}
    days_before = (pd.to_datetime(f["altmetric_fetched_at"], utc=True)
                   - pd.to_datetime(f["first_post_at"], utc=True)).dt.total_seconds() / 86400
    wins = sorted(HISTORY_WINDOWS.items(), key=lambda kv: kv[1])
    lows, highs = [], []
    for d, (_, row) in zip(days_before.to_numpy(), f.iterrows(), strict=True):
        at = row["history_at"]
        # cumulative score at (fetch − w) = at − gained in the last w
        longer = [row[f"history_{k}"] for k, w in wins if w >= d and pd.notna(row[f"history_{k}"])]
        shorter = [row[f"history_{k}"] for k, w in wins if w <= d and pd.notna(row[f"history_{k}"])]
        if not np.isfinite(d) or not longer or pd.isna(at):
            lows.append(np.nan)
            highs.append(np.nan)
            continue
        before_low = at - longer[0]  # at an instant at or before the first post
        before_high = at - shorter[-1] if shorter else at
        lows.append(max(before_low, 0.0))
        highs.append(max(before_high, 0.0))
    f["score_before_low"], f["score_before_high"] = lows, highs
    covered = f[f["score_before_low"].notna()]
    if covered.empty:
        return {"available": False, "papers": [],
                "reason": (f"none of the {len(f)} featured papers was first posted about within the year before the "
                           "Altmetric fetch; the counts endpoint's history reaches back one year only")}
    share_after_low = 1 - covered["score_before_high"] / covered["history_at"].where(covered["history_at"] > 0)
    share_after_high = 1 - covered["score_before_low"] / covered["history_at"].where(covered["history_at"] > 0)
    return {"available": True, "n_papers": len(covered), "n_featured_found": len(f),
            "median_share_after_low": float(share_after_low.median()),
            "median_share_after_high": float(share_after_high.median()),
            "sentence": (f"For the {len(covered)} featured papers first posted about within the year before the "
                         f"Altmetric fetch, a median {share_after_low.median():.0%}–{share_after_high.median():.0%} "
                         "of the final score was gained after the first post (bounds from the score history). "
                         "Attention after a post includes the account's own post and the paper's own news cycle."),
            "papers": covered[["pub_id", "first_post_at", "history_at", "score_before_low", "score_before_high"]]
            .rename(columns={"history_at": "score"}).to_dict("records")}


def _score_at(papers: pd.DataFrame, when: pd.Series) -> pd.Series:
    """Altmetric score at ``when`` from the history: the last point the history has at or before it (else NA)."""
    fetched = pd.to_datetime(papers["altmetric_fetched_at"], utc=True)
    days = (fetched - pd.to_datetime(when, utc=True)).dt.total_seconds() / 86400
    out = pd.Series(np.nan, index=papers.index)
    # windows from the shortest up: the first window reaching back to `when` gives the score at fetch − w ≤ when
    for key, w in sorted(HISTORY_WINDOWS.items(), key=lambda kv: -kv[1]):
        col = f"history_{key}"
        if col in papers:
            reach = (days <= w) & papers[col].notna() & papers["history_at"].notna()
            out = out.mask(reach, (papers["history_at"] - papers[col]).clip(lower=0))
    return out.where(days >= 0)


def prior_attention_model(papers: pd.DataFrame) -> tuple[pd.DataFrame | None, dict]:
    """Featured vs not, holding fixed the Altmetric score each paper already had before the first post.

    A featured paper's reference time is its first post; a not-featured paper's is its publication date plus the
    median lag from publication to first post among featured papers. The score at that time comes from the
    ``history`` windows (the last point at or before it); papers whose reference time the history does not reach
    are left out. ``log1p(score before)`` enters as a control with publication age, journal and year.
    """
    d = papers[papers["altmetric_status"] == "found"].copy()
    if d.empty or "history_at" not in d or d["altmetric_fetched_at"].isna().all():
        return None, _unavailable("altmetric_score", "negbin_prior_attention", "featured",
                                  "needs Altmetric API answers with 'history' and their fetch times")
    pub = pd.to_datetime(d["published_date"]).dt.tz_localize("UTC")
    lag = (pd.to_datetime(d["first_post_at"], utc=True) - pub)[d["featured"] == 1].median()
    ref = pd.to_datetime(d["first_post_at"], utc=True).where(d["featured"] == 1, pub + (lag if pd.notna(lag) else
                                                                                          pd.Timedelta(0)))
    d["score_before"] = _score_at(d, ref)
    d = d[d["score_before"].notna()].reset_index(drop=True)
    n_f = int(d["featured"].sum())
    if n_f < MIN_GROUP or len(d) - n_f < MIN_GROUP:
        return None, _unavailable(
            "altmetric_score", "negbin_prior_attention", "featured",
            f"the score history (the year before the Altmetric fetch) reaches the first post of {n_f} featured and "
            f"the matching time of {len(d) - n_f} not-featured papers; needs {MIN_GROUP} of each (fetch Altmetric "
            "within a year of the posts, or keep earlier fetches)")
    X = pd.concat([d[["featured", "log_age_years"]].astype("float64"),
                   np.log1p(d["score_before"]).rename("log1p_score_before"),
                   _dummies(_pooled(d["journal"]), "journal"), _dummies(_pooled(d["year"]), "year")], axis=1)
    res, reason = _fit(d["altmetric_score"].to_numpy(dtype="float64"), X)
    if res is None:
        return None, _unavailable("altmetric_score", "negbin_prior_attention", "featured",
                                  f"the model did not converge ({reason})")
    rows = _rows_from(res, outcome="altmetric_score", model="negbin_prior_attention",
                      terms=["featured", "log1p_score_before"], n=len(d), n_featured=n_f,
                      controls=["attention before the first post", "publication age", "journal", "year"])
    return rows, _verdict(rows, outcome="altmetric_score", model="negbin_prior_attention",
                          comparison="papers it did not post about with the same attention before the first post",
                          controls_text="controls: Altmetric score before the first post (from the score history), "
                                        "publication age, journal, year")


def post_feature_models(papers: pd.DataFrame, warnings: list[str]) -> tuple[pd.DataFrame | None, list[dict]]:
    """Among featured papers: Altmetric score on whether any post had each feature, and the number of posts."""
    d = papers[(papers["featured"] == 1) & papers["altmetric_score"].notna()].reset_index(drop=True)
    feats = [c for c in POST_FEATURES if c in d and d[c].notna().all() and 0 < d[c].sum() < len(d)]
    skipped = [c for c in POST_FEATURES if c not in feats]
    if len(d) < 4 * MIN_GROUP or not feats:
        return None, [{"available": False, "reason": f"{len(d)} featured papers with an Altmetric score and "
                                                     f"{len(feats)} post feature(s) that vary; needs at least "
                                                     f"{4 * MIN_GROUP} papers and one varying feature"}]
    X = d[feats].astype("float64").assign(log_n_posts=np.log2(d["n_posts"].astype("float64")),
                                          log_age_years=d["log_age_years"])
    X = pd.concat([X, _dummies(_pooled(d["year"]), "year")], axis=1)
    res, reason = _fit(d["altmetric_score"].to_numpy(dtype="float64"), X)
    if res is None:
        return None, [{"available": False, "reason": f"the model did not converge ({reason})"}]
    rows = _rows_from(res, outcome="altmetric_score", model="negbin_post_features", terms=[*feats, "log_n_posts"],
                      n=len(d), n_featured=len(d), controls=["publication age", "year", "number of posts (log2)"])
    out = []
    for _, r in rows.iterrows():
        out.append({"term": r["term"], "label": FEATURE_LABELS[r["term"]], "available": True,
                    "effect_pct": float(r["effect_pct"]),
                    "ci_pct": [float(r["effect_pct_ci_low"]), float(r["effect_pct_ci_high"])],
                    "p_value": float(r["p_value"]), "n": int(r["n"]),
                    "sentence": (f"Featured papers whose posts had {FEATURE_LABELS[r['term']]} had a "
                                 f"{abs(r['effect_pct']):.0f}% {'higher' if r['effect_pct'] >= 0 else 'lower'} "
                                 f"Altmetric score (95% CI {r['effect_pct_ci_low']:+.0f}% to "
                                 f"{r['effect_pct_ci_high']:+.0f}%; {int(r['n'])} featured papers, negative binomial "
                                 "with publication age and year)." if r["term"] != "log_n_posts" else
                                 f"Each doubling of the number of posts about a paper went with a "
                                 f"{r['effect_pct']:+.0f}% Altmetric score (95% CI {r['effect_pct_ci_low']:+.0f}% to "
                                 f"{r['effect_pct_ci_high']:+.0f}%).")})
    for c in skipped:
        out.append({"term": c, "label": FEATURE_LABELS[c], "available": False,
                    "reason": "not coded for the posts" if c not in d else "every featured paper has the same value"})
    return rows, out


def analyze_attention(papers: pd.DataFrame, by_year: pd.DataFrame | None = None) -> AttentionFit:
    """Fit every comparison the data allow; return the table (regression.csv columns) and the verdicts."""
    warnings: list[str] = []
    tables, verdicts = [], []
    for outcome in OUTCOMES:
        t, v = _featured_models(papers, outcome, warnings)
        tables.extend(t)
        verdicts.extend(v)
    prior_rows, prior = prior_attention_model(papers)
    verdicts.append(prior)
    if prior_rows is not None:
        tables.append(prior_rows)
    ba_cit = citations_before_after(papers, by_year)
    if ba_cit.get("available"):
        tables.append(ba_cit.pop("table"))
    ba_alt = altmetric_before_after(papers)
    pf_rows, pf = post_feature_models(papers, warnings)
    if pf_rows is not None:
        tables.append(pf_rows)
    d = papers[papers["altmetric_score"].notna()]
    X = pd.concat([d[["featured", "log_age_years"]].astype("float64")], axis=1)
    verification = (cross_check_negbin(d["altmetric_score"].to_numpy(dtype="float64"), X)
                    if d["featured"].nunique() == 2 and len(d) >= 2 * MIN_GROUP else
                    {"available": False, "reason": "too few papers with an Altmetric score"})
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    return AttentionFit(table=table[list(TABLE_COLUMNS)], verdicts=verdicts,
                        before_after={"citations": ba_cit, "altmetric": ba_alt}, post_features=pf,
                        verification=verification, warnings=warnings)


# ------------------------------------------------------------------------------------------------ run folder

SCHEMA_VERSION = 1
SECTION_TITLE = "Did posting raise the research's attention?"
FIGURE_NAME = "publications_attention.png"
SELECTION_NOTE = ("Selection: the account chooses which papers to post about. The comparison is made within journals "
                  "and publication years (and, where enough papers allow, within each journal-year), with publication "
                  "age held fixed; the difference between the unadjusted and adjusted estimates shows how much of the "
                  "raw gap came from which journals and years get posted about. Choices the data do not record (a "
                  "press release, a topical subject, the authors' own promotion) are not held fixed.")


def not_available(reason: str) -> dict:
    """The typed result of a dataset without publications (the stage still writes its files)."""
    return {"schema_version": SCHEMA_VERSION, "title": SECTION_TITLE, "status": "not_available", "reason": reason,
            "verdicts": [], "featured_papers": [], "post_features": [], "before_after": {}, "counts": {},
            "linking": {}, "figure": None, "causal_note": CAUSAL_NOTE, "selection_note": SELECTION_NOTE}


def featured_paper_rows(papers: pd.DataFrame, links: pd.DataFrame, *, limit: int | None = None) -> list[dict]:
    """The table of featured papers (most posts first): title, journal, date, posts, attention."""
    f = papers[papers["featured"] == 1].sort_values(["n_posts", "altmetric_score"], ascending=False)
    posts_of = links.groupby("pub_id")["post_id"].agg(list)
    rows = []
    for _, r in (f if limit is None else f.head(limit)).iterrows():  # featured papers (hundreds), not posts
        rows.append({"pub_id": r["pub_id"], "doi": r["doi"], "title": r["title"], "journal": r["journal"],
                     "published_date": None if pd.isna(r["published_date"]) else str(pd.Timestamp(r["published_date"]).date()),
                     "n_posts": int(r["n_posts"]), "post_ids": list(posts_of.get(r["pub_id"], [])),
                     "first_post_at": None if pd.isna(r["first_post_at"]) else pd.Timestamp(r["first_post_at"]).isoformat(),
                     "altmetric_status": r["altmetric_status"],
                     "altmetric_score": None if pd.isna(r["altmetric_score"]) else float(r["altmetric_score"]),
                     "citations": None if pd.isna(r["citations"]) else int(r["citations"])})
    return rows


def plot_attention(papers: pd.DataFrame, *, ax=None):
    """Altmetric score of featured vs not-featured papers, by journal (log scale); returns the Axes (without one,
    on a new Agg figure: :func:`workbench.plots.figure_png` gives its PNG)."""
    from .plots import new_figure

    d = papers[papers["altmetric_score"].notna()].copy()
    if ax is None:  # an Agg figure outside pyplot; workbench.plots.figure_png lays it out and draws it once
        ax = new_figure((8, 1.6 + 0.45 * max(d["journal"].nunique(), 2)), dpi=120)[1][0, 0]
    journals = d.groupby("journal")["altmetric_score"].median().sort_values().index.tolist()
    pos = {j: i for i, j in enumerate(journals)}
    rng = np.random.default_rng(0)
    for flag, color, label, shift in ((0, "#8c8c8c", "not posted about", -0.15), (1, "#1f6fb4", "posted about", 0.15)):
        s = d[d["featured"] == flag]
        y = s["journal"].map(pos).to_numpy() + shift + rng.uniform(-0.08, 0.08, len(s))
        ax.scatter(s["altmetric_score"].clip(lower=0.25), y, s=14, alpha=0.7, color=color, label=f"{label} ({len(s)})")
    ax.set_xscale("log")
    ax.set_yticks(range(len(journals)), journals)
    ax.set_xlabel("Altmetric Attention Score (log scale)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, markerscale=1.5)
    ax.set_title("Altmetric score by journal", pad=28)
    return ax


def summarize_publications(fit: AttentionFit, papers: pd.DataFrame, link_result, *, data_counts: dict,
                           figure: str | None) -> dict:
    """``results/publications.json``: every number and sentence the report section shows."""
    primary = next((v for v in fit.verdicts if v.get("outcome") == "altmetric_score" and v.get("model") == "negbin"),
                   None)
    unadj = next((v for v in fit.verdicts if v.get("outcome") == "altmetric_score"
                  and v.get("model") == "negbin_unadjusted" and v.get("available")), None)
    selection = dict(note=SELECTION_NOTE)
    if primary and primary.get("available") and unadj:
        selection.update(unadjusted_effect_pct=unadj["effect_pct"], adjusted_effect_pct=primary["effect_pct"],
                         sentence=(f"Without journal and year controls the gap is {unadj['effect_pct']:+.0f}%; with "
                                   f"them {primary['effect_pct']:+.0f}%: "
                                   + ("part of the raw gap comes from which journals and years get posted about."
                                      if abs(unadj["effect_pct"]) > abs(primary["effect_pct"]) else
                                      "journal and year do not explain the raw gap.")))
    def clean(d):
        return {k: v for k, v in d.items() if k != "table"}
    return {
        "schema_version": SCHEMA_VERSION, "title": SECTION_TITLE, "status": "ok", "reason": None,
        "as_of": str(pd.Timestamp(papers["as_of"].iloc[0]).isoformat()) if len(papers) else None,
        "counts": {**data_counts, "papers": len(papers), "featured": int(papers["featured"].sum()),
                   "not_featured": int((papers["featured"] == 0).sum()),
                   "altmetric": {k: int(v) for k, v in papers["altmetric_status"].value_counts().items()},
                   "with_citations": int(papers["citations"].notna().sum())},
        "linking": {**link_result.counts,
                    "unresolved_links": link_result.unresolved.head(50).to_dict("records")},
        "verdicts": fit.verdicts, "primary": primary, "selection": selection, "causal_note": CAUSAL_NOTE,
        "before_after": {k: clean(v) for k, v in fit.before_after.items()}, "post_features": fit.post_features,
        "verification": fit.verification, "warnings": fit.warnings,
        "featured_papers": featured_paper_rows(papers, link_result.links),
        "figure": figure,
    }
