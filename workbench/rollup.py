"""The consortium roll-up: ``workbench rollup RUN_FOLDER… --out DIR`` (DESIGN.md §9).

Every run folder's ``data/posts_coded.parquet`` (else ``data/posts.parquet``) and ``data/account.parquet`` are read
by **DuckDB**, which streams the Parquet files and aggregates inside the database: no query returns more than one
row per account (10 million posts never become 10 million rows in pandas). Writes into ``DIR``:

``results/accounts.csv``
    one row per account: posts, impressions, engagements, engagement rate (= engagements / impressions over posts
    that report both), median impressions per post, posts per week, first/last follower count and follower growth
    per day, and the account's own main effects from its ``results/regression.csv`` (``ols_log`` of impressions:
    ``effect_pct_<term>`` with CI).
``results/benchmarks.csv``
    each account's percentile among its peers on each metric (0 = lowest, 100 = highest; ties share the average).
``results/pooled_model.csv``
    the pooled post-level model across accounts, columns of ``regression.csv``: OLS of ``log1p(impressions)`` on
    the predictors every run folder has, ``log(followers_at_post)`` and ``year``, with **account fixed effects**
    and standard errors **clustered by account** (CR1, t with G − 1 df). Fixed effects rather than a random
    intercept because an account's baseline reach is surely correlated with how it posts (a big hub posts more
    graphics); fixed effects need no such independence assumption. It is fitted **exactly** from per-account
    sufficient statistics (counts, sums and cross-products, computed by DuckDB), so its cost in memory does not
    grow with the number of posts.
``results/account_effects.csv``
    each account's own estimate of each term (OLS within the account, classical SE: what the sufficient statistics
    allow) and the same estimate **shrunk toward the pooled one** by empirical Bayes: the between-account
    variance τ² of each term is the DerSimonian–Laird moment estimate (statsmodels ``combine_effects``), and an
    account's estimate is pulled toward the pooled estimate by the factor v/(v + τ²), v its own sampling variance.
``results/rollup.json``, ``results/figures/*.png``, ``report.html``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

PREDICTORS = ("has_poll", "has_graphic", "has_url", "has_emoji", "n_hashtags", "n_mentions")
METRICS = ("posts", "posts_per_week", "median_impressions", "impressions", "engagement_rate",
           "follower_growth_per_day", "followers_last")
POOLED_MODEL = "pooled_fe_cluster"


def _sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _run_folders(folders: list[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    rows = []
    problems = []
    for f in folders:
        root = Path(f).resolve()
        posts = root / "data" / "posts_coded.parquet"
        if not posts.exists():
            posts = root / "data" / "posts.parquet"
        if not posts.exists():
            problems.append(f"{f}: no data/posts_coded.parquet or data/posts.parquet (is it a run folder of "
                            "`workbench run`, and did its ingest stage finish?)")
            continue
        name = root.name
        try:
            man = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
            name = str(man.get("dataset", {}).get("name") or name)
        except (OSError, ValueError):
            pass
        acc = root / "data" / "account.parquet"
        reg = root / "results" / "regression.csv"
        rows.append({"account": name, "run_dir": str(root), "posts_file": str(posts),
                     "account_file": str(acc) if acc.exists() else None,
                     "regression_file": str(reg) if reg.exists() else None})
    df = pd.DataFrame(rows, columns=["account", "run_dir", "posts_file", "account_file", "regression_file"])
    dup = df["account"][df["account"].duplicated()]
    if len(dup):
        raise InputError(f"two run folders belong to the same account {dup.iloc[0]!r}: "
                         f"{', '.join(df.loc[df['account'] == dup.iloc[0], 'run_dir'])}; give each account once")
    return df, problems


def _connect(memory_limit: str = "1GB"):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def _columns(con, files: list[str]) -> dict[str, set[str]]:
    """Columns per file (from the Parquet footers only)."""
    out = {}
    for f in files:
        out[f] = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({_sql_str(f)})").fetchall()}
    return out


def _posts_view(con, folders: pd.DataFrame, cols: list[str]) -> None:
    """A view ``posts`` over every run folder's posts, with the account name; columns a file lacks are NULL."""
    con.register("folders_df", folders[["account", "posts_file"]])
    con.execute("CREATE OR REPLACE TEMP TABLE folders AS SELECT * FROM folders_df")
    files = "[" + ", ".join(_sql_str(f) for f in folders["posts_file"]) + "]"
    select = ", ".join(f'p."{c}"' for c in cols)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW posts AS SELECT f.account, {select} FROM read_parquet({files}, "
        "union_by_name = true, filename = true) p JOIN folders f ON p.filename = f.posts_file"
    )


def accounts_table(con, folders: pd.DataFrame, present: set[str]) -> pd.DataFrame:
    imp = "impressions" if "impressions" in present else "NULL::BIGINT"
    eng = "engagements" if "engagements" in present else "NULL::BIGINT"
    acc = con.execute(f"""
        SELECT account,
               count(*) AS posts,
               sum({imp}) AS impressions,
               sum({eng}) AS engagements,
               sum({eng}) FILTER (WHERE {imp} IS NOT NULL AND {eng} IS NOT NULL)
                 / nullif(sum({imp}) FILTER (WHERE {imp} IS NOT NULL AND {eng} IS NOT NULL), 0) AS engagement_rate,
               median({imp}) AS median_impressions,
               min(published_at) AS first_post, max(published_at) AS last_post
        FROM posts GROUP BY account
    """).df()
    span_days = (acc["last_post"] - acc["first_post"]).dt.total_seconds() / 86400
    acc["posts_per_week"] = np.where(span_days >= 7, acc["posts"] / (span_days / 7).where(span_days >= 7), np.nan)
    afiles = folders.dropna(subset=["account_file"])
    fol = pd.DataFrame(columns=["account", "followers_first", "followers_last", "follower_days"])
    if len(afiles):
        cols = _columns(con, list(afiles["account_file"]))
        with_f = afiles[[("followers" in cols[f] and "date" in cols[f]) for f in afiles["account_file"]]]
        if len(with_f):
            con.register("afolders_df", with_f[["account", "account_file"]])
            files = "[" + ", ".join(_sql_str(f) for f in with_f["account_file"]) + "]"
            fol = con.execute(f"""
                SELECT f.account,
                       arg_min(a.followers, a.date) AS followers_first, arg_max(a.followers, a.date) AS followers_last,
                       date_diff('day', min(a.date), max(a.date)) AS follower_days
                FROM read_parquet({files}, union_by_name = true, filename = true) a
                JOIN afolders_df f ON a.filename = f.account_file
                WHERE a.followers IS NOT NULL GROUP BY f.account
            """).df()
    acc = acc.merge(fol, on="account", how="left")
    days = pd.to_numeric(acc["follower_days"], errors="coerce")
    acc["follower_growth_per_day"] = np.where(
        days > 0, (pd.to_numeric(acc["followers_last"]) - pd.to_numeric(acc["followers_first"])) / days.where(days > 0), np.nan)
    for c in ("first_post", "last_post"):
        acc[c] = pd.to_datetime(acc[c], utc=True).dt.strftime("%Y-%m-%d")
    # the account's own main effects (its primary model), from its regression.csv
    effects = []
    for r in folders.dropna(subset=["regression_file"]).itertuples():
        try:
            reg = pd.read_csv(r.regression_file)
        except (OSError, ValueError, pd.errors.ParserError):
            continue
        need = {"outcome", "model", "term", "effect_pct", "ci_low", "ci_high"}
        if not need <= set(reg.columns):
            continue
        sel = reg[(reg["model"] == "ols_log") & (reg["outcome"] == "impressions") & reg["term"].isin(PREDICTORS)]
        row = {"account": r.account}
        for t in sel.itertuples():
            row[f"effect_pct_{t.term}"] = t.effect_pct
            row[f"effect_pct_{t.term}_ci_low"] = 100 * math.expm1(t.ci_low) if pd.notna(t.ci_low) else np.nan
            row[f"effect_pct_{t.term}_ci_high"] = 100 * math.expm1(t.ci_high) if pd.notna(t.ci_high) else np.nan
        effects.append(row)
    if effects:
        acc = acc.merge(pd.DataFrame(effects), on="account", how="left")
    acc["run_dir"] = acc["account"].map(dict(zip(folders["account"], folders["run_dir"], strict=True)))
    return acc.sort_values("account").reset_index(drop=True)


def benchmarks(acc: pd.DataFrame) -> pd.DataFrame:
    """Percentile (0–100) of each account among the accounts with a value, per metric; NA with fewer than 2."""
    out = pd.DataFrame({"account": acc["account"]})
    for m in METRICS:
        if m not in acc:
            continue
        v = pd.to_numeric(acc[m], errors="coerce")
        k = int(v.notna().sum())
        out[f"{m}_percentile"] = ((v.rank(method="average") - 1) / (k - 1) * 100) if k >= 2 else np.nan
    return out


# --------------------------------------------------------------------------------------------------------------
# the pooled model from sufficient statistics


def sufficient_statistics(con, terms: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Per account: n, Σx, Σy, Σxxᵀ, Σxy, Σy² of the model's variables (rows with any NULL left out)."""
    exprs = {
        "y": "ln(1 + impressions)",
        **{t: f"CAST({t} AS DOUBLE)" for t in terms if t not in ("log_followers", "year")},
    }
    if "log_followers" in terms:
        exprs["log_followers"] = "ln(followers_at_post)"
    if "year" in terms:
        exprs["year"] = "CAST(year AS DOUBLE)"
    names = [t for t in terms]
    where = " AND ".join(f"{e} IS NOT NULL" for e in exprs.values())
    where += " AND impressions >= 0" + (" AND followers_at_post > 0" if "log_followers" in terms else "")
    inner = ", ".join(f"{e} AS v_{k}" for k, e in exprs.items())
    aggs = ["count(*) AS n", "sum(v_y) AS s_y", "sum(v_y * v_y) AS s_yy"]
    for i, a in enumerate(names):
        aggs.append(f"sum(v_{a}) AS s_{i}")
        aggs.append(f"sum(v_{a} * v_y) AS s_{i}_y")
        for j in range(i, len(names)):
            aggs.append(f"sum(v_{a} * v_{names[j]}) AS s_{i}_{j}")
    sql = f"SELECT account, {', '.join(aggs)} FROM (SELECT account, {inner} FROM posts WHERE {where}) GROUP BY account"
    return con.execute(sql).df().sort_values("account").reset_index(drop=True), names


def _unpack(ss: pd.DataFrame, p: int) -> dict[str, np.ndarray]:
    G = len(ss)
    n = ss["n"].to_numpy(float)
    sx = np.column_stack([ss[f"s_{i}"].to_numpy(float) for i in range(p)]) if p else np.zeros((G, 0))
    sxy = np.column_stack([ss[f"s_{i}_y"].to_numpy(float) for i in range(p)]) if p else np.zeros((G, 0))
    sxx = np.zeros((G, p, p))
    for i in range(p):
        for j in range(i, p):
            sxx[:, i, j] = sxx[:, j, i] = ss[f"s_{i}_{j}"].to_numpy(float)
    sy, syy = ss["s_y"].to_numpy(float), ss["s_yy"].to_numpy(float)
    # within-account (demeaned) moments
    W = sxx - np.einsum("gi,gj->gij", sx, sx) / n[:, None, None]
    c = sxy - sx * (sy / n)[:, None]
    q = syy - sy**2 / n
    return {"n": n, "W": W, "c": c, "q": q}


def fit_pooled_fe(ss: pd.DataFrame, terms: list[str]) -> dict[str, Any]:
    """Account fixed effects OLS with CR1 cluster-robust SE from sufficient statistics.

    Terms without within-account variation are dropped (named in ``dropped``).
    """
    from scipy import stats

    p = len(terms)
    m = _unpack(ss, p)
    G, N = len(ss), float(m["n"].sum())
    Wsum = m["W"].sum(axis=0)
    var_ok = np.diag(Wsum) > 1e-9 * max(1.0, N)
    keep = [i for i in range(p) if var_ok[i]]
    dropped = [terms[i] for i in range(p) if not var_ok[i]]
    W = m["W"][:, keep][:, :, keep]
    c = m["c"][:, keep]
    Wt = W.sum(axis=0)
    if len(keep) == 0 or np.linalg.matrix_rank(Wt) < len(keep):
        raise InputError("the pooled model cannot be fitted: its terms are collinear across the accounts")
    beta = np.linalg.solve(Wt, c.sum(axis=0))
    u = c - np.einsum("gij,j->gi", W, beta)  # per-account score
    K = len(keep) + G  # the account intercepts count as parameters (as with dummies)
    bread = np.linalg.inv(Wt)
    meat = u.T @ u
    corr = (G / (G - 1)) * ((N - 1) / (N - K)) if G > 1 and N > K else float("nan")
    V = corr * bread @ meat @ bread
    se = np.sqrt(np.diag(V))
    rss = float(np.sum(m["q"]) - 2 * beta @ c.sum(axis=0) + beta @ Wt @ beta)
    tss_within = float(np.sum(m["q"]))
    df = G - 1
    tcrit = stats.t.ppf(0.975, df) if df > 0 else float("nan")
    rows = []
    for k, i in enumerate(keep):
        b, s = float(beta[k]), float(se[k])
        ok = np.isfinite(s) and s > 0
        rows.append({
            "outcome": "impressions", "model": POOLED_MODEL, "term": terms[i], "estimate": b,
            "std_error": s if ok else np.nan,
            "ci_low": b - tcrit * s if ok else np.nan, "ci_high": b + tcrit * s if ok else np.nan,
            "p_value": float(2 * stats.t.sf(abs(b / s), df)) if ok else np.nan,
            "std_beta": np.nan, "effect_pct": 100 * math.expm1(b), "n": int(N),
            "r2": 1 - rss / tss_within if tss_within > 0 else np.nan,
        })
    return {"table": pd.DataFrame(rows), "beta": dict(zip([terms[i] for i in keep], beta, strict=True)),
            "se": dict(zip([terms[i] for i in keep], se, strict=True)), "dropped": dropped,
            "n_posts": int(N), "n_accounts": G, "df": df, "within_r2": 1 - rss / tss_within if tss_within > 0 else None}


def account_estimates(ss: pd.DataFrame, terms: list[str]) -> pd.DataFrame:
    """Each account's own OLS (own intercept) of every term it varies in, with classical SE."""
    p = len(terms)
    m = _unpack(ss, p)
    rows = []
    for g, acc in enumerate(ss["account"]):
        n = m["n"][g]
        W, c, q = m["W"][g], m["c"][g], m["q"][g]
        keep = [i for i in range(p) if W[i, i] > 1e-9 * max(1.0, n)]
        est = {t: (np.nan, np.nan) for t in terms}
        if keep and n - len(keep) - 1 > 0:
            Wk = W[np.ix_(keep, keep)]
            if np.linalg.matrix_rank(Wk) == len(keep):
                b = np.linalg.solve(Wk, c[keep])
                rss = float(q - b @ c[keep])
                s2 = max(rss, 0.0) / (n - len(keep) - 1)
                se = np.sqrt(np.diag(np.linalg.inv(Wk)) * s2)
                for k, i in enumerate(keep):
                    est[terms[i]] = (float(b[k]), float(se[k]))
        for t in terms:
            rows.append({"account": acc, "term": t, "estimate": est[t][0], "std_error": est[t][1], "n": int(n)})
    return pd.DataFrame(rows)


def shrink(est: pd.DataFrame, pooled: dict[str, float]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Empirical-Bayes shrinkage of each account's estimate toward the pooled one (DerSimonian–Laird τ²)."""
    from statsmodels.stats.meta_analysis import combine_effects

    out = est.copy()
    out["shrunk_estimate"] = np.nan
    out["shrunk_std_error"] = np.nan
    out["shrinkage"] = np.nan
    tau: dict[str, Any] = {}
    for t, sub in est.groupby("term", sort=False):
        ok = sub["estimate"].notna() & (sub["std_error"] > 0) & np.isfinite(sub["std_error"])
        if t not in pooled or ok.sum() < 3:
            tau[t] = {"tau2": None, "reason": "fewer than 3 accounts estimate this term" if t in pooled
                      else "the pooled model could not estimate this term"}
            continue
        b, v = sub.loc[ok, "estimate"].to_numpy(), sub.loc[ok, "std_error"].to_numpy() ** 2
        with warnings.catch_warnings():  # its random-effects summary takes √τ² before truncating a negative τ²
            warnings.simplefilter("ignore", RuntimeWarning)
            res = combine_effects(b, v, method_re="chi2")  # DerSimonian–Laird moment estimator
        tau2 = max(float(res.tau2), 0.0)  # the moment estimate is truncated at 0
        B = v / (v + tau2)
        idx = sub.index[ok]
        out.loc[idx, "shrinkage"] = B
        out.loc[idx, "shrunk_estimate"] = B * pooled[t] + (1 - B) * b
        out.loc[idx, "shrunk_std_error"] = np.sqrt((1 - B) * v)
        tau[t] = {"tau2": tau2, "tau": math.sqrt(tau2), "accounts": int(ok.sum()),
                  "i2": max(float(res.i2), 0.0) if np.isfinite(res.i2) else None}
    for c in ("estimate", "shrunk_estimate"):
        out[c.replace("estimate", "effect_pct")] = 100 * np.expm1(out[c])
    return out, tau


# --------------------------------------------------------------------------------------------------------------


def run_rollup(run_folders: list[str | Path], out: str | Path, *, memory_limit: str = "1GB", echo=print) -> dict:
    """Everything ``workbench rollup`` does; returns the dict written to ``results/rollup.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import write_csv, write_json, write_text
    from .rollup_report import render_html, save_figure, spreadsheet_safe

    folders, problems = _run_folders(run_folders)
    for p in problems:
        echo(f"  skipped {p}")
    if folders.empty:
        raise InputError("none of the folders is a run folder with posts; see the reasons above")
    out = Path(out)
    con = _connect(memory_limit)
    cols = _columns(con, list(folders["posts_file"]))
    every = set.intersection(*cols.values())
    anywhere = set.union(*cols.values())
    if "published_at" not in every:
        bad = [f for f, c in cols.items() if "published_at" not in c]
        raise InputError("a posts table has no published_at column (not a canonical posts table)", file=bad[0])
    wanted = ["published_at", "impressions", "engagements", "followers_at_post", "year", *PREDICTORS]
    _posts_view(con, folders, [c for c in wanted if c in anywhere])
    acc = accounts_table(con, folders, anywhere)
    bench = benchmarks(acc)
    echo(f"  accounts table: {len(acc)} accounts, {int(acc['posts'].sum()):,} posts")

    terms = [t for t in PREDICTORS if t in every]
    if "followers_at_post" in every:
        terms.append("log_followers")
    if "year" in every:
        terms.append("year")
    missing_terms = [t for t in PREDICTORS if t not in every]
    pooled: dict[str, Any] = {"available": False}
    effects = pd.DataFrame()
    tau: dict[str, Any] = {}
    if "impressions" not in every or not terms:
        pooled["reason"] = ("not every run folder has impressions per post" if "impressions" not in every
                            else "no predictor is present in every run folder")
    elif len(folders) < 2:
        pooled["reason"] = "one account: a pooled model across accounts needs at least two"
    else:
        ss, names = sufficient_statistics(con, terms)
        try:
            fit = fit_pooled_fe(ss, names)
        except InputError as exc:
            pooled["reason"] = str(exc)
        else:
            total = int(acc["posts"].sum())
            pooled = {"available": True, "model": POOLED_MODEL, "n_posts": fit["n_posts"],
                      "posts_left_out": total - fit["n_posts"],
                      "posts_left_out_reason": "impressions, a predictor, followers_at_post (≤ 0 or missing) or year "
                                               "missing",
                      "n_accounts": fit["n_accounts"], "dropped_terms": fit["dropped"], "df": fit["df"],
                      "within_r2": fit["within_r2"],
                      "description": "OLS of log1p(impressions) with account fixed effects; SE clustered by account "
                                     "(CR1), t with accounts − 1 df; fitted exactly from per-account sums"}
            write_csv(out / "results" / "pooled_model.csv", spreadsheet_safe(fit["table"]))
            pooled["terms"] = fit["table"].to_dict(orient="records")
            est = account_estimates(ss, names)
            effects, tau = shrink(est, fit["beta"])
            write_csv(out / "results" / "account_effects.csv", spreadsheet_safe(effects))
    pooled["terms_not_in_every_run_folder"] = missing_terms
    write_csv(out / "results" / "accounts.csv", spreadsheet_safe(acc))
    write_csv(out / "results" / "benchmarks.csv", spreadsheet_safe(bench))

    figs: dict[str, str] = {}
    if not effects.empty:
        shown = [t for t in terms if effects.loc[effects["term"] == t, "shrunk_estimate"].notna().any()][:6]
        if shown:
            fig, axes = plt.subplots(1, len(shown), figsize=(2.6 * len(shown) + 1, 0.22 * len(acc) + 1.6), sharey=True)
            axes = np.atleast_1d(axes)
            order = {a: i for i, a in enumerate(sorted(acc["account"]))}
            for ax, t in zip(axes, shown, strict=True):
                sub = effects[effects["term"] == t]
                y = sub["account"].map(order).to_numpy()
                ax.plot(sub["effect_pct"], y, "o", mfc="none", color="#999", ms=4, label="own estimate")
                ax.plot(sub["shrunk_effect_pct"], y, "o", color="#0072b2", ms=4, label="shrunk")
                ax.axvline(100 * math.expm1(pooled_beta(pooled, t)), color="#d55e00", lw=1, label="pooled")
                ax.set_title(t, fontsize=9)
                ax.set_xlabel("% change in impressions", fontsize=8)
                lim = np.nanpercentile(np.r_[sub["effect_pct"].dropna(), 0], [2, 98])
                ax.set_xlim(lim[0] - 10, lim[1] + 10)
            axes[0].set_yticks(range(len(order)), list(order), fontsize=6)
            axes[0].legend(fontsize=7, loc="lower left")
            fig.tight_layout()
            figs["effects"] = save_figure(fig, out / "results" / "figures" / "rollup_account_effects.png")
            plt.close(fig)
    res = {
        "n_accounts": int(len(acc)), "n_posts": int(acc["posts"].sum()), "run_folders": list(folders["run_dir"]),
        "skipped": problems, "pooled": pooled, "tau": tau,
        "totals": {"posts": int(acc["posts"].sum()),
                   "impressions": float(pd.to_numeric(acc["impressions"], errors="coerce").sum())},
    }
    write_json(out / "results" / "rollup.json", res)
    write_text(out / "report.html", render_html(
        "consortium.html.j2", res=res, acc=acc, bench=bench, figures=figs,
        fmt=lambda v, d=1: "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) or pd.isna(v) else f"{v:,.{d}f}"))
    con.close()
    return res


def pooled_beta(pooled: dict, term: str) -> float:
    for r in pooled.get("terms", []):
        if r["term"] == term:
            return float(r["estimate"])
    return float("nan")
