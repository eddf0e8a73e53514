"""Reading and writing the run folder's data and results files, and the tables the notebooks display.

Stages hand data to each other only through these files (DESIGN.md §2, §5); this module is the one place
that knows their names and shapes on both sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from . import io
from .dataset import Dataset
from .schema import ACCOUNT_SCHEMA, CODES_SCHEMA, POSTS_SCHEMA, conform, empty_frame

if TYPE_CHECKING:  # pragma: no cover
    from .models import PostModels
    from .pipeline import RunPaths

RELIABILITY_COLUMNS = ("code", "n_overlap", "percent_agreement", "cohen_kappa", "krippendorff_alpha")


def read_parquet(path, columns: list[str] | None = None) -> pd.DataFrame:
    """A data file as a frame whose pandas-string columns stay in Arrow (``string[pyarrow]``).

    ``pd.read_parquet`` turns every ``string`` column into Python objects (about 1.4 s and +1 GB per million
    posts for the six text columns of posts.parquet). The columns the pandas metadata records as ``string``
    are wrapped as Arrow-backed strings without a copy (pandas keeps them as ``large_string``, so they are
    not cast); all other columns convert as ``pd.read_parquet`` converts them (object columns stay object).

    The file is read a few columns at a time, each group converted and its Arrow buffers released before the
    next is decoded: the peak is the frame plus one group, not the frame plus the whole decoded table (about
    −0.5 GB at a million posts of posts_coded.parquet). Files that store their index as a column, and
    column lists with repeats or names the file lacks, are read whole (the same result).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    meta = schema.pandas_metadata or {}
    names = list(schema.names) if columns is None else list(columns)
    stored_index = any(isinstance(ix, str) for ix in meta.get("index_columns", []))
    if not names or stored_index or len(set(names)) != len(names) or not set(names) <= set(schema.names):
        return _read_parquet_whole(pq.read_table(path, columns=columns), meta)
    strings = _string_columns(schema, meta, names)
    pieces: dict = {}
    group: list[str] = []

    def convert(group: list[str]) -> None:
        table = pf.read(columns=group, use_pandas_metadata=False)
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        for name in group:
            pieces[name] = frame[name]
        del frame
        pool.release_unused()

    pool = pa.default_memory_pool()
    for name in names:
        if name in strings:
            pieces[name] = pd.arrays.ArrowStringArray(pf.read(columns=[name], use_pandas_metadata=False).column(0))
            continue
        group.append(name)
        if len(group) == _READ_GROUP:
            convert(group)
            group = []
    if group:
        convert(group)
    return pd.DataFrame({name: pieces.pop(name) for name in names}, copy=False)

#: Columns converted together by :func:`read_parquet` (a group's Arrow buffers are the transient on top of the frame).
_READ_GROUP = 8


def _string_columns(schema, meta: dict, names: list[str]) -> set[str]:
    """The columns of ``names`` the pandas metadata records as ``string`` and Arrow holds as (large) strings."""
    import pyarrow as pa

    return {
        c["name"]
        for c in meta.get("columns", [])
        if c.get("numpy_type") == "string" and c.get("name") in names
        and (pa.types.is_string(schema.field(c["name"]).type) or pa.types.is_large_string(schema.field(c["name"]).type))
    }


def _read_parquet_whole(table, meta: dict) -> pd.DataFrame:
    """:func:`read_parquet` of a table read whole (files with a stored index, unusual column lists)."""
    strings = _string_columns(table.schema, meta, table.column_names)
    if not strings:
        return table.to_pandas()
    names = table.column_names
    df = table.drop_columns(list(strings)).to_pandas()
    for name in names:
        if name in strings:
            df[name] = pd.arrays.ArrowStringArray(table.column(name))
    return df[[n for n in names if n in df.columns] + [c for c in df.columns if c not in names]]


def _read_parquet(path, schema: dict[str, str], table: str) -> pd.DataFrame:
    df = read_parquet(path)
    return conform(df, schema, table=table) if len(df.columns) else empty_frame(schema)


def load_ingested(paths: RunPaths) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ingest stage's posts, account and codes tables."""
    return (
        _read_parquet(paths.posts, POSTS_SCHEMA, "posts"),
        _read_parquet(paths.account, ACCOUNT_SCHEMA, "account"),
        _read_parquet(paths.codes, CODES_SCHEMA, "codes"),
    )


def load_posts_coded(paths: RunPaths, *, without: tuple[str, ...] = ()) -> pd.DataFrame:
    """posts_coded.parquet; ``without``: columns the stage never reads (the post texts are most of the load at
    1M posts), left unread."""
    if not without:
        return read_parquet(paths.posts_coded)
    import pyarrow.parquet as pq

    names = [c for c in pq.read_schema(paths.posts_coded).names if c not in set(without)]
    return read_parquet(paths.posts_coded, columns=names)


def load_account(paths: RunPaths) -> pd.DataFrame:
    return _read_parquet(paths.account, ACCOUNT_SCHEMA, "account")


def dataset_codebook(ds: Dataset):
    """The dataset's validated codebook (``workbench.coding.Codebook``), or None when the card names none."""
    from .coding import load_codebook

    path = ds.codebook_path()
    return None if path is None else load_codebook(path)


def coding_settings(ds: Dataset) -> dict[str, Any]:
    """Keyword arguments the coding steps take from the dataset card and its codebook.

    ``binary_codes`` for ``ingest.read_exports``; ``research_domains`` for ``features.code_features``;
    ``codebook`` for ``coding.merge_codes``. Empty when the card names no codebook.
    """
    cb = dataset_codebook(ds)
    if cb is None:
        return {"codebook": None, "binary_codes": None, "research_domains": ()}
    return {"codebook": cb, "binary_codes": cb.binary_codes, "research_domains": tuple(cb.research_domains)}


def codebook_overview(codebook) -> pd.DataFrame:
    """The codebook as a table (empty, with a note in its caption attribute, when there is none)."""
    from .coding import codebook_table

    if codebook is None:
        df = pd.DataFrame(columns=["code", "type", "definition"])
        df.attrs["note"] = "The dataset card names no codebook."
        return df
    return codebook_table(codebook)


def feature_frequencies(posts_coded: pd.DataFrame) -> pd.DataFrame:
    """How often each ``has_*`` feature is present and the distribution of each ``n_*`` count."""
    rows = []
    n = len(posts_coded)
    for col in posts_coded.columns:
        s = posts_coded[col]
        if col.startswith("has_") or col.startswith("is_"):
            b = s.astype("boolean")
            rows.append({"feature": col, "kind": "yes/no", "n_known": int(b.notna().sum()),
                         "n_yes": int(b.sum(skipna=True)),
                         "share_yes": float(b.mean(skipna=True)) if b.notna().any() else float("nan"),
                         "mean": float("nan"), "max": float("nan")})
        elif col.startswith("n_"):
            v = pd.to_numeric(s, errors="coerce").astype("float64")  # NaN, not pd.NA, for an empty table
            rows.append({"feature": col, "kind": "count", "n_known": int(v.notna().sum()),
                         "n_yes": int((v > 0).sum()), "share_yes": float((v > 0).mean()) if n else float("nan"),
                         "mean": float(v.mean()), "max": float(v.max()) if v.notna().any() else float("nan")})
    return pd.DataFrame(rows, columns=["feature", "kind", "n_known", "n_yes", "share_yes", "mean", "max"])


def save_coding(paths: RunPaths, *, posts_coded: pd.DataFrame, coding_info: dict, reliability: pd.DataFrame) -> None:
    """Write posts_coded.parquet, reliability.csv (contract columns first) and coding.json."""
    io.write_parquet(paths.posts_coded, posts_coded)
    rel = reliability if len(reliability.columns) else pd.DataFrame(columns=list(RELIABILITY_COLUMNS))
    io.write_csv(paths.reliability, rel)
    io.write_json(paths.coding, coding_info)


def model_settings(ds: Dataset) -> dict[str, Any]:
    """The keyword arguments of ``models.fit_post_models`` that come from the dataset card.

    ``outcomes``, ``predictors``, ``controls``, ``population`` (None when the card does not set it: original
    posts, or all posts when a post-type term is in the model) and ``reference_levels``.
    """
    a = ds.analysis
    return {
        "outcomes": a.outcomes,
        "predictors": a.predictors,
        "controls": a.controls,
        "population": getattr(a, "population", None),
        "reference_levels": dict(getattr(a, "reference_levels", ()) or ()),
    }


def effects_table(table: pd.DataFrame, *, model: str = "ols_log") -> pd.DataFrame:
    """The predictor rows of one model, readable: outcome, term, % change and its CI, p and Holm p."""
    t = table[(table["model"] == model) & (table["term"] != "Intercept")]
    if "term_type" in t.columns:
        t = t[t["term_type"] == "predictor"]
    several = "platform" in t.columns and t["platform"].nunique() > 1
    names = (("platform",) if several else ()) + (
        "outcome", "term", "effect_pct", "effect_pct_ci_low", "effect_pct_ci_high", "estimate", "ci_low", "ci_high",
        "p_value", "p_holm", "std_beta", "n",
    )
    cols = [c for c in names if c in t.columns]
    return t[cols].reset_index(drop=True)


def save_post_models(paths: RunPaths, fit: PostModels, *, primary_model: str | None = None) -> dict[str, Any]:
    """Write regression.csv and models.json; return the latter.

    models.json holds the model the diagnostics favour (``primary_model`` and ``primary_reason``, from
    ``models.choose_primary_model`` unless ``primary_model`` is given), one plain sentence per predictor and
    outcome from that model, the warnings, the diagnostics and the controls-sensitivity table.

    Since ``schema_version`` 2 it also holds the typed records of ``fit.records`` (every record a dict with
    fields, never a string to parse): ``platforms``; ``population`` (the setting, the post types modelled,
    ``n_in``/``n_out``, ``counts`` per platform × post type with medians, where the post types came from, and
    ``why``); ``fitted_terms`` (per platform × outcome × model: ``n``, ``fit_method``, ``fallback_reason``,
    ``estimand``, ``predictors``, ``controls``, ``reference_levels``); ``dropped`` and ``flags`` (``code``,
    ``platform``, ``outcome``, ``model``, ``term``, ``n``, ``message`` + details); ``holm_family`` (which
    terms each adjusted p was corrected over); ``estimands`` per model and ``estimand_sentences`` per model ×
    outcome; ``minimum_posts_per_group``; ``reach_by_type`` (when posts have ``media_type``).
    """
    from .models import MODEL_REGISTRY, describe_effects, describe_estimand

    io.write_csv(paths.regression, fit.table)
    chosen = (fit.diagnostics or {}).get("primary") or {}
    model = primary_model or chosen.get("model") or "ols_log"
    reason = chosen.get("reason", "") if model == chosen.get("model") else "chosen by the analyst"
    outcomes = list(dict.fromkeys(fit.table["outcome"])) if len(fit.table) else []
    platforms = [p for p in dict.fromkeys(fit.table["platform"].dropna())] if "platform" in fit.table else []

    def refs(key: str) -> dict[str, str]:
        diag = (fit.diagnostics or {}).get(key)
        return dict(diag.get("reference_levels") or {}) if isinstance(diag, dict) else {}

    if len(platforms) > 1:  # several platforms: one sentence list per "platform: outcome", like the diagnostics
        sentences = {
            f"{p}: {o}": describe_effects(
                fit.table[fit.table["platform"] == p], outcome=o, model=model, reference_levels=refs(f"{p}: {o}")
            )
            for p in platforms
            for o in dict.fromkeys(fit.table.loc[fit.table["platform"] == p, "outcome"])
        }
    else:
        sentences = {
            o: describe_effects(fit.table, outcome=o, model=model, reference_levels=refs(o)) for o in outcomes
        }
    records = dict(fit.records or {})
    summary = {
        "schema_version": records.pop("schema_version", None),
        "primary_model": model,
        "primary_reason": reason,
        "sentences": sentences,
        "estimand_sentences": {
            m: {o: describe_estimand(m, o) for o in outcomes}
            for m in dict.fromkeys(fit.table["model"])
            if m in MODEL_REGISTRY
        },
        "warnings": list(fit.warnings),
        "diagnostics": fit.diagnostics,
        **records,
    }
    io.write_json(paths.models, summary)
    return summary


def modelled_outcomes(table: pd.DataFrame, *, model: str = "ols_log") -> list[str]:
    """Outcomes with at least one predictor row for ``model`` (an outcome a platform does not report has none)."""
    if table.empty:
        return []
    rows = table[(table["model"] == model) & (table["term"] != "Intercept")]
    return list(dict.fromkeys(rows["outcome"]))


def show_forest(table: pd.DataFrame, *, model: str = "ols_log"):
    """Forest plots of every modelled outcome, side by side, drawn once as the cell's image
    (:class:`workbench.plots.FigurePNG`); a note when nothing could be modelled."""
    from .plots import new_figure, plot_forest, show_figure

    outcomes = modelled_outcomes(table, model=model)
    if not outcomes:
        print(f"No {model} estimates to plot: see the warnings above.")
        return None
    fig, axes = new_figure((6.5 * len(outcomes), 4.5), ncols=len(outcomes))
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        plot_forest(table, outcome=outcome, model=model, ax=ax)
        ax.set_title(outcome)
    return show_figure(fig)


def influential_posts(fit: PostModels) -> pd.DataFrame:
    """The posts with the largest Cook's distance in the OLS-on-log1p fit, per outcome (with their links)."""
    rows = [
        {"outcome": outcome, **item}
        for outcome, diag in (fit.diagnostics or {}).items()
        if isinstance(diag, dict)
        for item in diag.get("influential") or []
    ]
    return pd.DataFrame(rows)


def show_residuals(fit: PostModels, *, model: str = "ols_log"):
    """Residual-vs-fitted and QQ plots of ``model`` for every modelled outcome, drawn once as the cell's image
    (:class:`workbench.plots.FigurePNG`)."""
    from .models import residual_frame
    from .plots import new_figure, plot_residuals, show_figure

    keys = [k for k in fit.fits if k[1] == model]
    if not keys:
        print(f"No {model} fits to diagnose.")
        return None
    fig, axes = new_figure((10, 4 * len(keys)), nrows=len(keys), ncols=2)
    for row, (outcome, _) in zip(axes, keys, strict=True):
        plot_residuals(residual_frame(fit.fits[(outcome, model)]), title=outcome, axes=row)
    return show_figure(fig)


def growth_settings(ds: Dataset, *, maxlags: int = -1) -> dict[str, Any]:
    """The keyword arguments of ``growth.compare_growth`` that come from the dataset card."""
    lag = ds.analysis.hac_maxlags if maxlags is None or maxlags < 0 else maxlags
    return {
        "interventions": ds.interventions,
        "metric": ds.analysis.growth_metric,
        "monthly_metric": ds.analysis.monthly_metrics[0] if ds.analysis.monthly_metrics else "impressions",
        "maxlags": lag,
        "equivalence_margin": ds.analysis.equivalence_margin,
    }


def save_growth(paths: RunPaths, growth_result: dict[str, Any]) -> None:
    io.write_json(paths.growth, growth_result)


def show_growth(growth_result: dict[str, Any]):
    """:func:`workbench.plots.plot_growth` of the growth result, drawn once as the cell's image."""
    from .plots import new_figure, plot_growth, show_figure

    fig, axes = new_figure((8, 4.5))
    plot_growth(growth_result, ax=axes[0, 0])
    return show_figure(fig)


def show_monthly(growth_result: dict[str, Any]):
    """:func:`workbench.plots.plot_monthly` of the growth result, drawn once as the cell's image."""
    from .plots import new_figure, plot_monthly, show_figure

    fig, axes = new_figure((8, 4))
    plot_monthly(growth_result, ax=axes[0, 0])
    return show_figure(fig)


def growth_table(growth_result: dict[str, Any]) -> pd.DataFrame:
    """Per-period fits as a table: label, start, end, n, slope per day with CI, R²."""
    rows = []
    for p in growth_result.get("periods", []):
        ci = p.get("slope_ci") or [None, None]
        rows.append({"period": p.get("label"), "start": p.get("start"), "end": p.get("end"), "n": p.get("n"),
                     "slope_per_day": p.get("slope_per_day"), "ci_low": ci[0], "ci_high": ci[1], "r2": p.get("r2")})
    return pd.DataFrame(rows, columns=["period", "start", "end", "n", "slope_per_day", "ci_low", "ci_high", "r2"])
