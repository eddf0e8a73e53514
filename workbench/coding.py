"""Manual codes: final values per post (adjudication, agreement, majority) and inter-rater reliability.

Manual codes arrive in long form (``CODES_SCHEMA``: post_id, coder, code, value). A value is "0"/"1" for a
binary code and a level name for a categorical one. The coder named ``adjudicated`` is not a rater: its
value settles disagreements and is left out of the reliability statistics.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .errors import InputError
from .schema import POSTS_SCHEMA, check_columns

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
)

_BINARY_SPELLINGS = {"0": "0", "1": "1", "0.0": "0", "1.0": "1", "false": "0", "true": "1"}
_N_EXAMPLES = 5


def _clean_codes(codes: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Long codes with normalized strings, one row per (post, coder, code); the kind of every code.

    Returns the cleaned frame (columns post_id, coder, code, value, is_adjudicator), ``{code: "binary" |
    "categorical"}`` in order of first appearance, and warnings.
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
    kinds = {c: ("binary" if c in binary_codes else "categorical") for c in order}
    binary_rows = df["code"].isin(binary_codes).to_numpy()
    df.loc[binary_rows, "value"] = lowered[binary_rows].map(_BINARY_SPELLINGS).astype("string")
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


def merge_codes(posts: pd.DataFrame, codes: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Return posts with one column per manual code (final values) and a summary of how they were settled.

    Parameters
    ----------
    posts
        Posts (usually with automatic features); needs ``post_id``.
    codes
        Manual codes in long form (``CODES_SCHEMA``): post_id, coder, code, value.

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
        not in ``posts``; their codes are not merged), ``replaced_columns`` and ``warnings``.
    """
    check_columns(posts, ["post_id"], table="posts")
    df, kinds, warnings = _clean_codes(codes)
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
    }
    return out, info


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


def _unit_tables(mat: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per unit: agreement (0/1), coincidence contribution (K*K flattened), two-coder joint table or None."""
    n_units, n_coders = mat.shape
    counts = np.zeros((n_units, k))
    for j in range(n_coders):  # loop over coders (a handful), vectorized over units
        present = mat[:, j] >= 0
        counts[np.flatnonzero(present), mat[present, j]] += 1
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


def _bootstrap_weights(rng: np.random.Generator, n_units: int, n_boot: int) -> np.ndarray:
    """How often each unit is drawn in each of ``n_boot`` resamples with replacement (n_boot x n_units)."""
    draws = rng.integers(0, n_units, size=(n_boot, n_units))
    flat = (draws + (np.arange(n_boot) * n_units)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_units).reshape(n_boot, n_units).astype(float)


def _interpret(alpha: float) -> str:
    if not np.isfinite(alpha):
        return "undefined"
    if alpha >= 0.800:
        return "reliable"
    if alpha >= 0.667:
        return "tentative"
    return "unreliable"


def _ci(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.nan, np.nan
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def compute_reliability(codes: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        One row per code (in order of first appearance) with the columns of :data:`RELIABILITY_COLUMNS`:
        ``code``; ``n_overlap`` (posts coded by >= 2 raters); ``percent_agreement`` (fraction, in [0, 1], of
        overlap posts on which all their coders gave the same value); ``cohen_kappa`` (only when exactly two
        coders coded the overlap, else NA); ``krippendorff_alpha`` (nominal, any number of coders, missing
        values allowed); the percentile 95% bootstrap interval of each (``*_ci_low``, ``*_ci_high``);
        ``n_coders``; ``interpretation`` of alpha.

    Notes
    -----
    Cohen's kappa is defined for two raters only. With three or more we report NA rather than Fleiss'
    kappa (which assumes interchangeable raters and no missing values); Krippendorff's alpha covers those
    cases. Alpha is undefined (NA, "undefined") when all overlap values are identical.

    Interpretation follows Krippendorff (2004, *Content Analysis*, p. 241): alpha >= .800 "reliable",
    .667 <= alpha < .800 "tentative" (tentative conclusions only), alpha < .667 "unreliable".

    The bootstrap resamples overlap posts with replacement; a resample is a vector of how often each post
    was drawn, so the tables behind every statistic of all resamples come from one matrix product.
    """
    df, kinds, _ = _clean_codes(codes)
    raters = df[~df["is_adjudicator"]]
    rows = []
    for code in kinds:  # a handful of codes
        sub = raters[raters["code"] == code]
        mat, levels, coders, _ = _value_matrix(sub)
        n_units, n_coders = mat.shape if mat.size else (0, 0)
        rec = {"code": code, "n_overlap": n_units, "n_coders": n_coders}
        stats = {"percent_agreement": np.nan, "cohen_kappa": np.nan, "krippendorff_alpha": np.nan}
        cis = {name: (np.nan, np.nan) for name in stats}
        if n_units:
            k = len(levels)
            agree, coincid, joint = _unit_tables(mat, k)
            stats["percent_agreement"] = float(agree.mean())
            stats["krippendorff_alpha"] = float(_alpha_from_coincidences(coincid.sum(axis=0), k)[0])
            if joint is not None:
                stats["cohen_kappa"] = float(_kappa_from_joint(joint.sum(axis=0), k)[0])
            if n_boot > 0:
                rng = np.random.default_rng([seed, zlib.crc32(code.encode("utf-8"))])
                weights = _bootstrap_weights(rng, n_units, n_boot)
                cis["percent_agreement"] = _ci(weights @ agree / n_units)
                cis["krippendorff_alpha"] = _ci(_alpha_from_coincidences(weights @ coincid, k))
                if joint is not None:
                    cis["cohen_kappa"] = _ci(_kappa_from_joint(weights @ joint, k))
        for name, value in stats.items():
            rec[name] = value
            rec[f"{name}_ci_low"], rec[f"{name}_ci_high"] = cis[name]
        rec["interpretation"] = _interpret(stats["krippendorff_alpha"])
        rows.append(rec)
    out = pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))
    out["n_overlap"] = out["n_overlap"].astype("Int64")
    out["n_coders"] = out["n_coders"].astype("Int64")
    for c in RELIABILITY_COLUMNS[2:11]:
        out[c] = out[c].astype(float)
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
