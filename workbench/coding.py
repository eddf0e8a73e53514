"""Manual codes: final values per post (adjudication, agreement, majority) and inter-rater reliability.

Manual codes arrive in long form (``CODES_SCHEMA``: post_id, coder, code, value). A value is "0"/"1" for a
binary code and a level name for a categorical one. The coder named ``adjudicated`` is not a rater: its
value settles disagreements and is left out of the reliability statistics.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .codebook import (  # noqa: F401 - the codebook lives in its own light module; re-exported here
    BINARY_VALUES,
    CODE_KEYS,
    CODE_TYPES,
    CODEBOOK_KEYS,
    DEFAULT_MANUAL_AUTOMATIC,
    Code,
    Codebook,
    CodebookError,
    _looks_like_formula,
    load_codebook,
    parse_codebook,
)
from .errors import InputError
from .schema import POSTS_SCHEMA, check_columns
from .vocab import ALPHA_RELIABLE, ALPHA_TENTATIVE

#: Name of the pseudo-coder whose value is final (compared case-insensitively).
ADJUDICATOR = "adjudicated"

#: Columns of :func:`compute_reliability`, in order (the first five are the run-folder contract).
RELIABILITY_COLUMNS = (
    "code",
    "n_overlap",
    "percent_agreement",
    "cohen_kappa",
    "krippendorff_alpha",
    "percent_agreement_ci_low",
    "percent_agreement_ci_high",
    "cohen_kappa_ci_low",
    "cohen_kappa_ci_high",
    "krippendorff_alpha_ci_low",
    "krippendorff_alpha_ci_high",
    "n_coders",
    "interpretation",
    # added for more than two coders (issue 17): what each statistic rests on
    "coders",
    "cohen_kappa_pair",
    "cohen_kappa_n",
    "fleiss_kappa",
    "fleiss_kappa_ci_low",
    "fleiss_kappa_ci_high",
    "fleiss_kappa_n",
    "fleiss_kappa_raters",
    "krippendorff_alpha_n",
    "pairwise_kappa",
    "note",
)
#: Fewer shared posts than this: no bootstrap interval and no pairwise kappa (the number would mean nothing).
MIN_POSTS = 10

_BINARY_SPELLINGS = {"0": "0", "1": "1", "0.0": "0", "1.0": "1", "false": "0", "true": "1"}
_N_EXAMPLES = 5


def _clean_codes(
    codes: pd.DataFrame, codebook: Codebook | None = None
) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Long codes with normalized strings, one row per (post, coder, code); the kind of every code.

    Returns the cleaned frame (columns post_id, coder, code, value, is_adjudicator), ``{code: "binary" |
    "categorical"}`` in order of first appearance, and warnings. The kind of a code the ``codebook``
    defines is the codebook's; its values outside the codebook's (0/1 or the levels) are dropped with a
    warning. Other codes are binary when every value is a 0/1 spelling.
    """
    check_columns(codes, ["post_id", "coder", "code", "value"], table="codes")
    warnings: list[str] = []
    df = pd.DataFrame(
        {c: codes[c].astype("string").str.strip() for c in ("post_id", "coder", "code", "value")}
    )
    df = df.replace("", pd.NA)
    no_key = df[["post_id", "coder", "code"]].isna().any(axis=1)
    if no_key.any():
        warnings.append(f"{int(no_key.sum())} code rows without post_id, coder or code were ignored")
    df = df[~no_key & df["value"].notna()]
    order = list(dict.fromkeys(df["code"].tolist()))
    lowered = df["value"].str.lower()
    is_binary_value = lowered.isin(list(_BINARY_SPELLINGS)).to_numpy()
    binary_codes = set(df.loc[is_binary_value, "code"]) - set(df.loc[~is_binary_value, "code"])
    defined = {} if codebook is None else {c.name: c for c in codebook.codes}
    binary_codes = (binary_codes - set(defined)) | {n for n, c in defined.items() if c.type == "binary"}
    kinds = {c: ("binary" if c in binary_codes else "categorical") for c in order}
    binary_rows = df["code"].isin(binary_codes).to_numpy()
    original = df["value"].copy()
    df.loc[binary_rows, "value"] = lowered[binary_rows].map(_BINARY_SPELLINGS).astype("string")
    if codebook is not None:
        undefined = [c for c in order if c not in defined]
        if undefined:
            warnings.append(
                f"codes {undefined} are not defined in the codebook {codebook.path or ''}".rstrip()
            )
        invalid = pd.Series(binary_rows, index=df.index) & df["value"].isna()
        for name, code in defined.items():  # a handful of codes
            if code.type == "categorical":
                invalid |= (df["code"] == name) & ~df["value"].isin(list(code.levels))
        if invalid.any():
            bad = df[invalid]
            for name in dict.fromkeys(bad["code"]):
                values = original[invalid & (df["code"] == name)]
                warnings.append(
                    f"code {name!r}: {len(values)} values not allowed by the codebook were ignored "
                    f"(allowed: {list(defined[name].values)}; found e.g. {values.unique().tolist()[:_N_EXAMPLES]})"
                )
            df = df[~invalid]
    dup = df.duplicated(["post_id", "coder", "code"], keep="last")
    if dup.any():
        first = df[dup].iloc[0]
        warnings.append(
            f"{int(dup.sum())} repeated codes of the same post by the same coder; the last one was kept "
            f"(e.g. post {first['post_id']}, coder {first['coder']}, code {first['code']})"
        )
        df = df[~dup]
    df = df.assign(is_adjudicator=df["coder"].str.lower() == ADJUDICATOR)
    return df.reset_index(drop=True), kinds, warnings


def _resolve(df: pd.DataFrame) -> pd.DataFrame:
    """Final value per (post_id, code): adjudicated, else unanimous, else majority; ties give NA.

    Returns columns post_id, code, value, rule (``adjudicated``, ``agreement``, ``majority`` or ``tie``).
    """
    raters = df[~df["is_adjudicator"]]
    votes = raters.groupby(["post_id", "code", "value"], sort=False).size().rename("n").reset_index()
    votes["n_max"] = votes.groupby(["post_id", "code"])["n"].transform("max")
    votes["n_values"] = votes.groupby(["post_id", "code"])["n"].transform("size")
    top = votes[votes["n"] == votes["n_max"]]
    n_top = top.groupby(["post_id", "code"])["value"].transform("size")
    top = top.assign(rule=np.where(n_top > 1, "tie", np.where(top["n_values"] == 1, "agreement", "majority")))
    top.loc[top["rule"] == "tie", "value"] = pd.NA
    voted = top.drop_duplicates(["post_id", "code"])[["post_id", "code", "value", "rule"]]
    adjudicated = df.loc[df["is_adjudicator"], ["post_id", "code", "value"]].assign(rule="adjudicated")
    final = pd.concat([adjudicated, voted], ignore_index=True)
    return final.drop_duplicates(["post_id", "code"], keep="first").reset_index(drop=True)


def merge_codes(
    posts: pd.DataFrame, codes: pd.DataFrame, *, codebook: Codebook | None = None
) -> tuple[pd.DataFrame, dict]:
    """Return posts with one column per manual code (final values) and a summary of how they were settled.

    Parameters
    ----------
    posts
        Posts (usually with automatic features); needs ``post_id``.
    codes
        Manual codes in long form (``CODES_SCHEMA``): post_id, coder, code, value.
    codebook
        When given, a code it defines has the codebook's type (binary or categorical) and, when
        categorical, the codebook's levels as categories (in the codebook's order); values the codebook
        does not allow are ignored with a warning, and codes it does not define are named in a warning.

    Returns
    -------
    (pandas.DataFrame, dict)
        A new frame: ``posts`` (same rows, same order) plus one column per code, named as in the coding
        files. The final value of a post's code is the ``adjudicated`` coder's where present; else the value
        all coders agree on; else the majority value; a tie without adjudication gives NA. Binary codes
        (every value 0/1) become ``boolean``, the others ``category``; NA means not coded (or an unresolved
        tie). A code named like an automatic feature column (e.g. ``has_url``) replaces it; a code named
        like a column of the posts table itself (``post_id``, ``impressions``, ...) is an InputError.

        The info dict holds ``codes`` (per code: kind, levels, n_coders, n_coded, n_missing,
        n_adjudicated, n_agreement, n_majority, n_unresolved_ties — counted over the posts of ``posts`` —
        and n_unknown_post_ids), ``unknown_post_ids`` (``count`` and ``examples``: coded post_ids that are
        not in ``posts``; their codes are not merged), ``replaced_columns``, ``warnings``,
        ``manual_codes`` (``status``: "available" or "not available" — no coding file yet, or none of the
        coded posts in ``posts`` — with the ``reason`` in words, ``coded`` and ``defined_in_codebook``) and
        ``not_coded`` (codebook code → why it has no values). No decision at all is not an error: the
        coding stage goes on without manual codes and says why.
    """
    check_columns(posts, ["post_id"], table="posts")
    df, kinds, warnings = _clean_codes(codes, codebook)
    reserved = [c for c in kinds if c in POSTS_SCHEMA]
    if reserved:
        raise InputError(
            f"manual codes {reserved} are named like columns of the posts table itself; rename them in the "
            "coding files (e.g. has_poll, has_graphic). Only automatic feature columns may be replaced."
        )
    post_ids = posts["post_id"].astype("string").str.strip()
    known = df["post_id"].isin(set(post_ids.dropna()))
    unknown_ids = list(dict.fromkeys(df.loc[~known, "post_id"].tolist()))
    if unknown_ids:
        warnings.append(
            f"{len(unknown_ids)} coded post_ids are not in the posts table and were not merged, e.g. "
            f"{unknown_ids[:_N_EXAMPLES]}"
        )
    final = _resolve(df)
    out = posts.copy()
    replaced = [c for c in kinds if c in out.columns]
    for c in replaced:
        warnings.append(f"manual code {c!r} replaces the column of the same name computed automatically")
    per_code: dict[str, dict] = {}
    for code, kind in kinds.items():  # a handful of codes, each merged with a vectorized map
        rows = final[final["code"] == code]
        value = pd.Series(rows["value"].to_numpy(), index=rows["post_id"].to_numpy())
        mapped = post_ids.map(value)
        rule = post_ids.map(pd.Series(rows["rule"].to_numpy(), index=rows["post_id"].to_numpy()))
        if kind == "binary":
            levels = ["0", "1"]
            out[code] = mapped.map({"1": True, "0": False}).astype("boolean").array
        else:
            if codebook is not None and code in codebook.names:
                levels = list(codebook.code(code).levels)
            else:
                levels = sorted(df.loc[df["code"] == code, "value"].unique().tolist())
            out[code] = pd.Categorical(mapped.astype(object).where(mapped.notna(), None), categories=levels)
        code_rows = df[df["code"] == code]
        per_code[code] = {
            "kind": kind,
            "levels": levels,
            "n_coders": int(code_rows.loc[~code_rows["is_adjudicator"], "coder"].nunique()),
            "n_coded": int(mapped.notna().sum()),
            "n_missing": int(mapped.isna().sum()),
            "n_adjudicated": int((rule == "adjudicated").sum()),
            "n_agreement": int((rule == "agreement").sum()),
            "n_majority": int((rule == "majority").sum()),
            "n_unresolved_ties": int((rule == "tie").sum()),
            "n_unknown_post_ids": int(code_rows.loc[~known[code_rows.index], "post_id"].nunique()),
        }
        if per_code[code]["n_unresolved_ties"]:
            warnings.append(
                f"code {code!r}: {per_code[code]['n_unresolved_ties']} posts with a tie between coders and "
                "no adjudicated value are NA; add an 'adjudicated' coder to settle them"
            )
    info = {
        "codes": per_code,
        "unknown_post_ids": {"count": len(unknown_ids), "examples": unknown_ids[:_N_EXAMPLES]},
        "replaced_columns": replaced,
        "warnings": warnings,
        **_availability(per_code, codebook, n_known=int(known.sum()), unknown_ids=unknown_ids),
    }
    return out, info


def _availability(per_code: dict, codebook: Codebook | None, *, n_known: int, unknown_ids: list) -> dict:
    """``manual_codes`` (status "available" / "not available" and the reason, in words) and ``not_coded``
    (codebook code -> why it has no values), for a report that must say what is missing and why."""
    defined = list(codebook.names) if codebook is not None else []
    coded = [c for c, v in per_code.items() if v["n_coded"] > 0]
    not_coded = {}
    for name in defined:
        if name not in per_code:
            not_coded[name] = "no coding file holds a decision for it yet"
        elif per_code[name]["n_coded"] == 0:
            not_coded[name] = "its decisions are all for posts that are not in the posts table"
    if coded:
        status, reason = "available", ""
    elif not per_code and defined:
        status = "not available"
        reason = (f"the codebook defines {len(defined)} codes ({', '.join(defined)}) but no coding file holds a "
                  "decision yet; code posts with the coding panel (notebook 02, or "
                  "widgets.CodingPanel.from_dataset) and run again")
    elif not per_code:
        status, reason = "not available", "the dataset has no manual coding files (codes: in dataset.yml)"
    else:
        status = "not available"
        reason = (f"none of the {len(unknown_ids)} coded post ids is in the posts table (e.g. "
                  f"{', '.join(map(str, unknown_ids[:3]))}); were the coding files made for another account or "
                  "export?" if n_known == 0 else "no post of the posts table has a final value for any code")
    return {"manual_codes": {"status": status, "reason": reason, "coded": coded,
                             "defined_in_codebook": defined}, "not_coded": not_coded}


# --- reliability ---------------------------------------------------------------------------------------


def _value_matrix(rows: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Units x coders matrix of category indices (-1 = not coded) over the posts coded by >= 2 raters."""
    wide = rows.pivot(index="post_id", columns="coder", values="value")
    wide = wide[wide.notna().sum(axis=1) >= 2]
    wide = wide.loc[:, wide.notna().any(axis=0)]
    if wide.size == 0:
        return np.empty((0, 0), dtype=np.int64), [], [], []
    values = wide.to_numpy(dtype=object).ravel()
    levels = sorted({v for v in pd.unique(values) if not pd.isna(v)})
    lookup = {v: i for i, v in enumerate(levels)}
    mat = wide.apply(lambda col: col.map(lookup)).fillna(-1).to_numpy(dtype=np.int64)
    return mat, levels, list(wide.columns), list(wide.index)


def _category_counts(mat: np.ndarray, k: int) -> np.ndarray:
    """Units x categories: how many coders gave each category to each unit."""
    n_units, n_coders = mat.shape
    counts = np.zeros((n_units, k))
    for j in range(n_coders):  # loop over coders (a handful), vectorized over units
        present = mat[:, j] >= 0
        counts[np.flatnonzero(present), mat[present, j]] += 1
    return counts


def _unit_tables(mat: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per unit: agreement (0/1), coincidence contribution (K*K flattened), two-coder joint table or None."""
    n_units, n_coders = mat.shape
    counts = _category_counts(mat, k)
    m = counts.sum(axis=1)
    agree = (counts.max(axis=1) == m).astype(float)
    # Krippendorff: unit u adds (n_uc * n_uk - [c == k] * n_uc) / (m_u - 1) to o_ck
    coincid = (counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(k)) / (m - 1)[
        :, None, None
    ]
    joint = None
    if n_coders == 2:
        joint = np.zeros((n_units, k * k))
        joint[np.arange(n_units), mat[:, 0] * k + mat[:, 1]] = 1.0
    return agree, coincid.reshape(n_units, k * k), joint


def _alpha_from_coincidences(o: np.ndarray, k: int) -> np.ndarray:
    """Nominal Krippendorff's alpha from flattened coincidence matrices (rows = replicates)."""
    o = o.reshape(-1, k, k)
    n_c = o.sum(axis=2)
    n = n_c.sum(axis=1)
    observed = n - np.trace(o, axis1=1, axis2=2)  # sum of off-diagonal coincidences
    expected = n**2 - (n_c**2).sum(axis=1)  # sum over c != k of n_c * n_k
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1.0) * observed / expected
    return np.where(expected > 0, alpha, np.nan)


def _kappa_from_joint(j: np.ndarray, k: int) -> np.ndarray:
    """Cohen's kappa from flattened two-coder contingency tables (rows = replicates)."""
    j = j.reshape(-1, k, k)
    total = j.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = j / total[:, None, None]
        p_o = np.trace(p, axis1=1, axis2=2)
        p_e = (p.sum(axis=2) * p.sum(axis=1)).sum(axis=1)
        kappa = (p_o - p_e) / (1.0 - p_e)
    return np.where(np.isclose(p_e, 1.0), np.nan, kappa)


def _fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of a units x categories table of rating counts, every unit rated equally often.

    ``statsmodels.stats.inter_rater.fleiss_kappa(counts, method="fleiss")`` operation for operation, so the
    result is the same to the last bit (tests/test_coding.py compares them on random tables). Written out because
    importing statsmodels.stats loads scipy.stats, 0.5 CPU-s of the feature-coding stage, which uses nothing
    else of either (the kernel that codes features can then start it without them).
    """
    table = 1.0 * np.asarray(counts)
    n_total = table.sum()
    n_rat = table.sum(1).max()
    p_cat = table.sum(0) / n_total
    p_rat = ((table * table).sum(1) - n_rat) / (n_rat * (n_rat - 1.0))
    p_mean = p_rat.mean()
    p_mean_exp = (p_cat * p_cat).sum()
    return float((p_mean - p_mean_exp) / (1 - p_mean_exp))


def _fleiss_from_counts(weights: np.ndarray, counts: np.ndarray, m: int) -> np.ndarray:
    """Fleiss' kappa (Fleiss 1971) of units with ``m`` ratings each, for rows of unit weights (replicates).

    ``counts``: units x categories; with ``weights`` all ones this is the plain estimate
    (:func:`statsmodels.stats.inter_rater.fleiss_kappa` gives the same; this form serves the bootstrap).
    """
    n = weights.sum(axis=1)
    agree_i = ((counts**2).sum(axis=1) - m) / (m * (m - 1.0))  # P_i: agreeing pairs of unit i
    p_bar = weights @ agree_i / n
    p_j = (weights @ counts) / (n * m)[:, None]
    p_e = (p_j**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (p_bar - p_e) / (1.0 - p_e)
    return np.where(np.isclose(p_e, 1.0), np.nan, kappa)


def _bootstrap_weights(rng: np.random.Generator, n_units: int, n_boot: int) -> np.ndarray:
    """How often each unit is drawn in each of ``n_boot`` resamples with replacement (n_boot x n_units)."""
    draws = rng.integers(0, n_units, size=(n_boot, n_units))
    flat = (draws + (np.arange(n_boot) * n_units)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_units).reshape(n_boot, n_units).astype(float)


def _interpret(alpha: float) -> str:
    if not np.isfinite(alpha):
        return "undefined"
    if alpha >= ALPHA_RELIABLE:
        return "reliable"
    if alpha >= ALPHA_TENTATIVE:
        return "tentative"
    return "unreliable"


def _ci(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.nan, np.nan
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def compute_reliability(
    codes: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, codebook: Codebook | None = None
) -> pd.DataFrame:
    """Return inter-rater reliability per code, on the posts coded by two or more coders (the overlap).

    Parameters
    ----------
    codes
        Manual codes in long form (post_id, coder, code, value). The ``adjudicated`` coder is not a rater
        and is left out.
    n_boot
        Bootstrap resamples of the overlap posts for the 95% confidence intervals (0 = no intervals).
    seed
        Seed of the bootstrap; each code's resamples depend only on the seed and the code's name.
    codebook
        When given, its codes come first (in its order), each with a row even when nobody coded it yet
        (``n_overlap`` 0 and a ``note`` saying so), and values it does not allow are left out.

    Returns
    -------
    pandas.DataFrame
        One row per code with the columns of :data:`RELIABILITY_COLUMNS`:

        - ``code``; ``n_overlap`` (posts coded by >= 2 raters); ``n_coders`` and ``coders`` (the raters with
          at least one overlap post);
        - ``percent_agreement``: fraction of overlap posts on which all their coders gave the same value;
        - ``cohen_kappa``: Cohen's kappa of one pair of coders on the posts both coded — with two coders
          the two, with more the pair sharing the most posts — named in ``cohen_kappa_pair`` (``"a × b"``)
          with its ``cohen_kappa_n`` posts; ``pairwise_kappa`` lists every pair as
          ``"a × b: 0.81 (n=100)"`` (a pair with fewer than :data:`MIN_POSTS` shared posts gets no value);
        - ``fleiss_kappa`` (Fleiss 1971): the posts with the same number of ratings — the most common number
          among the overlap posts, ``fleiss_kappa_raters`` — which are ``fleiss_kappa_n`` posts; raters may
          differ from post to post, as Fleiss' kappa allows; with two ratings per post it is Scott's pi;
        - ``krippendorff_alpha`` (nominal; any number of coders, missing values allowed) on
          ``krippendorff_alpha_n`` = ``n_overlap`` posts, and the ``interpretation`` of alpha;
        - the percentile 95% bootstrap interval of each statistic (``*_ci_low``, ``*_ci_high``); NA when
          the statistic rests on fewer than :data:`MIN_POSTS` posts or every resample gave the same value
          (a zero-width interval says nothing);
        - ``note``: in words, what is missing and why (no overlap yet, one coder only, no variation, ...).

    Notes
    -----
    Interpretation follows Krippendorff (2004, *Content Analysis*, p. 241): alpha >= .800 "reliable",
    .667 <= alpha < .800 "tentative" (tentative conclusions only), alpha < .667 "unreliable".

    The bootstrap resamples overlap posts with replacement; a resample is a vector of how often each post
    was drawn, so the tables behind every statistic of all resamples come from one matrix product. The
    point estimate of Fleiss' kappa is statsmodels' formula (``statsmodels.stats.inter_rater.fleiss_kappa``,
    the same operations in the same order: :func:`_fleiss_kappa`); its resamples use the same formula in matrix
    form (:func:`_fleiss_from_counts`).
    """
    df, kinds, _ = _clean_codes(codes, codebook)
    raters = df[~df["is_adjudicator"]]
    order = list(dict.fromkeys([*(codebook.names if codebook is not None else ()), *kinds]))
    rows = []
    for code in order:  # a handful of codes
        sub = raters[raters["code"] == code]
        mat, levels, coders, _ = _value_matrix(sub)
        n_units, n_coders = mat.shape if mat.size else (0, 0)
        rec: dict = {"code": code, "n_overlap": n_units, "n_coders": n_coders, "coders": ", ".join(coders),
                     "krippendorff_alpha_n": n_units, "cohen_kappa_n": 0, "fleiss_kappa_n": 0,
                     "cohen_kappa_pair": "", "pairwise_kappa": "", "fleiss_kappa_raters": pd.NA}
        names = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "fleiss_kappa")
        stats = dict.fromkeys(names, np.nan)
        cis = {name: (np.nan, np.nan) for name in names}
        notes: list[str] = []
        if not n_units:
            coded_by = sorted(set(sub["coder"]))
            if not coded_by:
                notes.append("not available: nobody has coded this code yet")
            elif len(coded_by) == 1:
                notes.append(f"not available: only {coded_by[0]} coded it; reliability needs a second coder "
                             "on the same posts (an overlap sample)")
            else:
                notes.append(f"not available: {', '.join(coded_by)} coded no post in common; code an overlap "
                             "sample (the same posts for every coder)")
        else:
            k = len(levels)
            present = mat >= 0
            agree, coincid, _ = _unit_tables(mat, k)
            stats["percent_agreement"] = float(agree.mean())
            stats["krippendorff_alpha"] = float(_alpha_from_coincidences(coincid.sum(axis=0), k)[0])
            # Cohen's kappa: every pair on the posts both coded; the pair sharing the most posts is reported
            shared = present.T.astype(np.int64) @ present.astype(np.int64)
            pairs = sorted(
                ((i, j) for i in range(n_coders) for j in range(i + 1, n_coders) if shared[i, j] > 0),
                key=lambda ij: (-shared[ij], ij),
            )
            listed = []
            best = None
            for i, j in pairs:  # pairs of a handful of coders
                both = present[:, i] & present[:, j]
                _, _, joint = _unit_tables(mat[both][:, [i, j]], k)
                kappa = float(_kappa_from_joint(joint.sum(axis=0), k)[0])
                n_pair = int(both.sum())
                if best is None:
                    best = (i, j, both, joint, kappa, n_pair)
                label = f"{coders[i]} × {coders[j]}"
                if n_pair < MIN_POSTS:
                    listed.append(f"{label}: too few shared posts (n={n_pair})")
                elif not np.isfinite(kappa):
                    listed.append(f"{label}: undefined, no variation (n={n_pair})")
                else:
                    listed.append(f"{label}: {kappa:.2f} (n={n_pair})")
            rec["pairwise_kappa"] = "; ".join(listed)
            i, j, both, joint, kappa, n_pair = best
            rec["cohen_kappa_pair"], rec["cohen_kappa_n"] = f"{coders[i]} × {coders[j]}", n_pair
            stats["cohen_kappa"] = kappa if n_pair >= 2 else np.nan
            if n_coders > 2:
                notes.append(f"Cohen's kappa is {coders[i]} × {coders[j]}, the pair sharing the most posts "
                             f"({n_pair}); every pair is in pairwise_kappa")
            # Fleiss' kappa: the posts with the most common number of ratings
            m_i = present.sum(axis=1)
            values, freq = np.unique(m_i, return_counts=True)
            m = int(values[freq == freq.max()].max())
            same = m_i == m
            counts = _category_counts(mat[same], k)
            rec["fleiss_kappa_n"], rec["fleiss_kappa_raters"] = int(same.sum()), m
            p_e = float((((counts.sum(axis=0)) / counts.sum()) ** 2).sum())
            if not np.isclose(p_e, 1.0):
                stats["fleiss_kappa"] = _fleiss_kappa(counts)
            if not same.all():
                notes.append(f"Fleiss' kappa uses the {int(same.sum())} posts with {m} ratings each "
                             f"(of {n_units} overlap posts)")
            if not np.isfinite(stats["krippendorff_alpha"]):
                notes.append("kappa and alpha are undefined: every coder gave the same value to every "
                             "overlap post (no variation to agree on)")
            if n_boot > 0:
                rng = np.random.default_rng([seed, zlib.crc32(code.encode("utf-8"))])
                weights = _bootstrap_weights(rng, n_units, n_boot)
                sizes = {"percent_agreement": n_units, "krippendorff_alpha": n_units,
                         "cohen_kappa": n_pair, "fleiss_kappa": int(same.sum())}
                draws = {
                    "percent_agreement": weights @ agree / n_units,
                    "krippendorff_alpha": _alpha_from_coincidences(weights @ coincid, k),
                    "cohen_kappa": _kappa_from_joint(weights[:, both] @ joint, k),
                    "fleiss_kappa": _fleiss_from_counts(weights[:, same], counts, m),
                }
                short = []
                for name, values_b in draws.items():
                    if not np.isfinite(stats[name]):
                        continue
                    if sizes[name] < MIN_POSTS:
                        short.append(name)
                        continue
                    low, high = _ci(values_b)
                    if low < high:
                        cis[name] = (low, high)
                    else:
                        notes.append(f"no interval for {name}: every resample gave {low:.3g}")
                if short:
                    notes.append(f"no intervals for {', '.join(short)}: fewer than {MIN_POSTS} posts")
        for name, value in stats.items():
            rec[name] = value
            rec[f"{name}_ci_low"], rec[f"{name}_ci_high"] = cis[name]
        rec["interpretation"] = _interpret(stats["krippendorff_alpha"])
        rec["note"] = "; ".join(notes)
        rows.append(rec)
    out = pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))
    for c in ("n_overlap", "n_coders", "cohen_kappa_n", "fleiss_kappa_n", "fleiss_kappa_raters",
              "krippendorff_alpha_n"):
        out[c] = out[c].astype("Int64")
    for c in RELIABILITY_COLUMNS:
        if c.endswith(("_agreement", "_kappa", "_alpha", "_ci_low", "_ci_high")) and c != "pairwise_kappa":
            out[c] = out[c].astype(float)
    for c in ("coders", "cohen_kappa_pair", "pairwise_kappa", "note", "interpretation"):
        out[c] = out[c].astype(object)
    return out


def list_disagreements(codes: pd.DataFrame) -> pd.DataFrame:
    """Return the overlap posts on which the coders gave different values, one row per post and code.

    Columns: ``post_id``, ``code``, one column per (non-adjudicator) coder with that coder's value (NA
    where the coder did not code the post), and ``adjudicated`` (the adjudicated value, NA if none).
    Values are as coded (binary codes normalized to "0"/"1"). Rows are sorted by code (in order of first
    appearance), then post_id.
    """
    df, kinds, _ = _clean_codes(codes)
    raters = df[~df["is_adjudicator"]]
    coders = list(dict.fromkeys(raters["coder"].tolist()))
    spread = raters.groupby(["code", "post_id"]).agg(
        n_raters=("value", "size"), n_values=("value", "nunique")
    )
    keys = spread[(spread["n_raters"] >= 2) & (spread["n_values"] > 1)].index
    columns = ["post_id", "code", *coders, ADJUDICATOR]
    if len(keys) == 0:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    wide = raters.pivot(index=["code", "post_id"], columns="coder", values="value").reindex(keys)
    wide = wide.reindex(columns=coders)
    adjudicated = df[df["is_adjudicator"]].set_index(["code", "post_id"])["value"]
    wide[ADJUDICATOR] = adjudicated.reindex(keys).to_numpy()
    wide = wide.reset_index()
    wide["_order"] = wide["code"].map({c: i for i, c in enumerate(kinds)})
    wide = wide.sort_values(["_order", "post_id"], kind="stable").drop(columns="_order")
    out = wide[columns].astype("string").reset_index(drop=True)
    out.columns.name = None
    return out


def codebook_table(codebook: Codebook) -> pd.DataFrame:
    """One row per code for a methods table: code, label, type, values, definition, include, exclude,
    examples (lists joined with "; "), automatic (the automatic feature compared with, or "")."""
    rows = [
        {
            "code": c.name,
            "label": c.label,
            "type": c.type,
            "values": "0 = no, 1 = yes" if c.type == "binary" else ", ".join(c.levels),
            "definition": c.definition,
            "include": "; ".join(c.include),
            "exclude": "; ".join(c.exclude),
            "examples": "; ".join(c.examples),
            "automatic": c.automatic or "",
        }
        for c in codebook.codes
    ]
    columns = ["code", "label", "type", "values", "definition", "include", "exclude", "examples", "automatic"]
    return pd.DataFrame(rows, columns=columns)


def codebook_markdown(codebook: Codebook) -> str:
    """The codebook as Markdown for the report's methods section (one subsection per code)."""
    lines = [f"## {codebook.title or 'Codebook'}", ""]
    if codebook.description:
        lines += [codebook.description, ""]
    for c in codebook.codes:
        values = "0 = no, 1 = yes" if c.type == "binary" else ", ".join(c.levels)
        lines += [f"### {c.label} (`{c.name}`, {c.type}: {values})", "", c.definition, ""]
        for title, items in (("Include", c.include), ("Exclude", c.exclude), ("Examples", c.examples)):
            if items:
                lines += [f"**{title}:**", "", *[f"- {item}" for item in items], ""]
        if c.automatic:
            lines += [f"Compared with the automatic feature `{c.automatic}`.", ""]
    if codebook.research_domains:
        lines += [
            "**Research domains** (links to these count as links to the research): "
            + ", ".join(codebook.research_domains),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


# --- agreement tables ----------------------------------------------------------------------------------


def confusion_table(codes: pd.DataFrame, code: str, *, coders: tuple[str, str] | None = None) -> pd.DataFrame:
    """Return the confusion table of two coders for one code: counts of posts by (value of A, value of B).

    Parameters
    ----------
    codes
        Manual codes in long form (``CODES_SCHEMA``).
    code
        The code to tabulate.
    coders
        The two coders (rows, columns). Default: the two raters of ``code`` (the ``adjudicated`` coder is
        not a rater); with more than two, an InputError asks which pair.

    Returns
    -------
    pandas.DataFrame
        Square, int64 counts over the posts both coders coded; index = values of the first coder (index
        name = that coder), columns = values of the second (columns name = that coder); every value either
        gave appears in both, sorted. The diagonal holds the agreements: its sum over the total is
        ``percent_agreement`` and the table gives Cohen's kappa of :func:`compute_reliability`.
    """
    df, kinds, _ = _clean_codes(codes)
    if code not in kinds:
        raise InputError(f"no code {code!r} in the manual codes; codes: {list(kinds)}", column="code")
    rows = df[(df["code"] == code) & ~df["is_adjudicator"]]
    found = list(dict.fromkeys(rows["coder"].tolist()))
    if coders is None:
        if len(found) != 2:
            raise InputError(
                f"code {code!r} has {len(found)} coders {found}; pass coders=(first, second) to choose two"
            )
        coders = (found[0], found[1])
    a, b = coders
    for c in coders:
        if c not in found:
            raise InputError(f"coder {c!r} did not code {code!r}; its coders: {found}", column="coder")
    pair = rows[rows["coder"] == a][["post_id", "value"]].merge(
        rows[rows["coder"] == b][["post_id", "value"]], on="post_id", suffixes=("_a", "_b")
    )
    levels = sorted(set(rows["value"]))
    table = pd.crosstab(
        pd.Categorical(pair["value_a"], categories=levels),
        pd.Categorical(pair["value_b"], categories=levels),
        dropna=False,
    )
    table = table.reindex(index=levels, columns=levels, fill_value=0).astype("int64")
    table.index = pd.Index(levels, name=a)
    table.columns = pd.Index(levels, name=b)
    return table


def _two_by_two_kappa(x: np.ndarray, y: np.ndarray) -> float:
    """Cohen's kappa of two 0/1 vectors (NaN when chance agreement is 1)."""
    p_o = float(np.mean(x == y))
    p_e = float(x.mean() * y.mean() + (1 - x.mean()) * (1 - y.mean()))
    return float("nan") if np.isclose(p_e, 1.0) else (p_o - p_e) / (1.0 - p_e)


def compare_manual_automatic(
    posts_coded: pd.DataFrame,
    codebook: Codebook | None = None,
    *,
    pairs: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Return how well manual codes agree with the automatic features that measure the same thing.

    Parameters
    ----------
    posts_coded
        Posts with automatic features and merged manual codes (:func:`merge_codes`).
    codebook
        Codes with ``automatic: <feature>`` are compared with that feature.
    pairs
        Further ``{manual code: automatic feature}`` pairs. Besides these and the codebook's, the pairs of
        :data:`DEFAULT_MANUAL_AUTOMATIC` (e.g. a manual ``has_link`` and the automatic ``has_url``) are
        compared whenever both columns are present.

    Returns
    -------
    pandas.DataFrame
        One row per pair present in ``posts_coded``: ``manual``, ``automatic``, ``source`` (codebook,
        argument or default), ``n_compared`` (posts where both are known), ``n_agree``,
        ``percent_agreement`` (fraction), ``cohen_kappa`` (NA when chance agreement is 1),
        ``n_manual_yes``, ``n_automatic_yes``, ``n_manual_only`` (manual yes, automatic no) and
        ``n_automatic_only``, and ``note`` (why a pair has no numbers). A pair the codebook names whose
        manual code has no values yet (or whose automatic feature is missing) is a row with ``n_compared``
        0 and a "not available" note; a pair named in ``pairs`` whose columns are missing is an InputError; a manual code named like its automatic feature (which :func:`merge_codes` replaces) is
        an InputError too, since the automatic values are gone.
    """
    wanted: dict[str, tuple[str, str]] = {}
    for manual, automatic in DEFAULT_MANUAL_AUTOMATIC.items():
        if manual in posts_coded.columns and automatic in posts_coded.columns:
            wanted[manual] = (automatic, "default")
    if codebook is not None:
        wanted.update({c.name: (c.automatic, "codebook") for c in codebook.codes if c.automatic})
    wanted.update({m: (a, "argument") for m, a in (pairs or {}).items()})
    rows = []
    for manual, (automatic, source) in wanted.items():  # a handful of codes
        if manual == automatic:
            raise InputError(
                f"manual code {manual!r} has the name of the automatic feature it is compared with, so "
                "merge_codes replaced the automatic values; rename the manual code (e.g. has_link)"
            )
        missing = [c for c in (manual, automatic) if c not in posts_coded.columns]
        if missing and source == "codebook":  # a code nobody has coded yet (or a feature this platform lacks)
            rows.append({"manual": manual, "automatic": automatic, "source": source, "n_compared": 0,
                         "n_agree": 0, "percent_agreement": float("nan"), "cohen_kappa": float("nan"),
                         "n_manual_yes": 0, "n_automatic_yes": 0, "n_manual_only": 0, "n_automatic_only": 0,
                         "note": f"not available: no column {missing[0]!r} in the coded posts"
                                 + (" (the code has no decisions yet)" if missing[0] == manual else "")})
            continue
        if missing:
            raise InputError(
                f"cannot compare manual {manual!r} with automatic {automatic!r}: missing columns {missing}. "
                f"Existing columns: {list(posts_coded.columns)}"
            )
        m = posts_coded[manual].astype("boolean")
        a = posts_coded[automatic].astype("boolean")
        both = (m.notna() & a.notna()).to_numpy()
        x = m.to_numpy(dtype=bool, na_value=False)[both].astype(float)
        y = a.to_numpy(dtype=bool, na_value=False)[both].astype(float)
        n = int(both.sum())
        rows.append(
            {
                "manual": manual,
                "automatic": automatic,
                "source": source,
                "n_compared": n,
                "n_agree": int((x == y).sum()),
                "percent_agreement": float(np.mean(x == y)) if n else float("nan"),
                "cohen_kappa": _two_by_two_kappa(x, y) if n else float("nan"),
                "n_manual_yes": int(x.sum()),
                "n_automatic_yes": int(y.sum()),
                "n_manual_only": int(((x == 1) & (y == 0)).sum()),
                "n_automatic_only": int(((x == 0) & (y == 1)).sum()),
                "note": "" if n else "not available: no post has both values",
            }
        )
    columns = [
        "manual", "automatic", "source", "n_compared", "n_agree", "percent_agreement", "cohen_kappa",
        "n_manual_yes", "n_automatic_yes", "n_manual_only", "n_automatic_only", "note",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


# --- samples for coding -------------------------------------------------------------------------------


def sample_overlap(posts: pd.DataFrame, *, size: int, seed: int) -> list[str]:
    """Return the post_ids of a random sample for double coding: the same for every coder.

    The sample depends only on the set of post_ids, ``size`` and ``seed`` (ids are sorted before the
    seeded draw), not on the order of ``posts`` or on who codes; returned in the order of ``posts``.
    """
    check_columns(posts, ["post_id"], table="posts")
    ids = posts["post_id"].astype("string").str.strip()
    unique = np.array(sorted(set(ids.dropna())), dtype=object)
    if not isinstance(size, int | np.integer) or not 0 < size <= len(unique):
        raise InputError(
            f"overlap size must be a whole number from 1 to {len(unique)} (the posts); found {size!r}"
        )
    chosen = set(np.random.default_rng(seed).permutation(unique)[:size].tolist())
    return list(dict.fromkeys(ids[ids.isin(chosen)].tolist()))


def disagreement_posts(codes: pd.DataFrame) -> dict[str, list[str]]:
    """Return ``{post_id: [codes the coders disagree on]}`` for adjudication, posts sorted by post_id.

    Uses :func:`list_disagreements`: posts coded by two or more raters with different values, whether or
    not an adjudicated value already exists.
    """
    dis = list_disagreements(codes)
    return {str(k): list(v) for k, v in dis.groupby("post_id", sort=True)["code"].agg(list).items()}
