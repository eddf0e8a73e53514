"""The publication level: publication lists and attention files → canonical tables (DESIGN.md §9).

Publication lists (the card's ``publications:``), each format recognised by its content, never its file name:

- a CSV with doi, title, journal and published date (any column names, mapped in the card with
  ``{path, columns: {RAW: doi|title|journal|published|pmid|pmcid}}``; obvious names are recognised without a map);
- a PubMed CSV export (``PMID, Title, Authors, Citation, …, Journal/Book, Publication Year, Create Date, PMCID,
  NIHMS ID, DOI``);
- a PubMed MEDLINE export (``.nbib`` / ``.txt``: ``PMID- …`` records, ``TI``, ``JT``, ``DP``, ``AID … [doi]``);
- OpenAlex works API pages exactly as returned (``{"meta": …, "results": [work, …]}``) or one work object.

Attention files (the card's ``attention:``):

- Altmetric Details Page API ``/v1/doi/…`` responses exactly as returned (one JSON object per DOI), and the
  fetch log :func:`workbench.fetch_publications.fetch_altmetric` writes beside them, which records the DOIs the
  API did not know (HTTP 404: *not found*, which is not a score of zero) and when each response was fetched;
- the Altmetric Explorer CSV export (``Altmetric Attention Score``, ``DOI``, ``News mentions``, ``X mentions``…);
- OpenAlex works pages (``cited_by_count``, ``counts_by_year``): citations.

Canonical ``publications`` table: ``pub_id`` (the DOI, else ``pmid:…``, else ``openalex:W…``), ``doi`` (lower
case, no resolver prefix), ``title``, ``journal``, ``published_date`` (date, as datetime64), ``year``, ``pmid``,
``pmcid``, ``openalex_id``, ``url`` (landing page where known), ``source_format``, ``source_file``,
``source_row``. Rows without a usable identifier or date are quarantined with a reason and counted.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

PUBLICATION_COLUMNS = (
    "pub_id", "doi", "title", "journal", "published_date", "year", "pmid", "pmcid", "openalex_id", "url",
    "source_format", "source_file", "source_row",
)
ATTENTION_COLUMNS = (
    "doi", "altmetric_status", "altmetric_score", "altmetric_posts", "altmetric_x_posts", "altmetric_id",
    "altmetric_fetched_at", "altmetric_source",
)
HISTORY_WINDOWS = {"1d": 1, "2d": 2, "3d": 3, "4d": 4, "5d": 5, "6d": 6, "1w": 7, "1m": 30, "3m": 91, "6m": 182,
                   "1y": 365}
CANONICAL_FIELDS = ("doi", "title", "journal", "published", "pmid", "pmcid")
#: header names recognised without a column map (compared lower case, spaces single).
_ALIASES = {
    "doi": ("doi", "article doi", "digital object identifier"),
    "title": ("title", "article title", "paper title", "display_name"),
    "journal": ("journal", "journal title", "journal/book", "source", "venue", "journal/collection title"),
    "published": ("published", "published_date", "publication date", "published date", "date", "pub date",
                  "publication_date", "year", "publication year"),
    "pmid": ("pmid", "pubmed id"),
    "pmcid": ("pmcid", "pmc id", "pubmedcentral id"),
}
PUBMED_CSV_SIGNATURE = {"pmid", "title", "authors", "citation", "journal/book", "publication year", "doi"}
ALTMETRIC_EXPLORER_SIGNATURE = {"altmetric attention score", "doi"}
FETCH_LOG_KEY = "workbench_fetch_log"

_DOI_PREFIX = re.compile(r"^\s*(?:doi:\s*|https?://(?:dx\.)?doi\.org/|(?:dx\.)?doi\.org/)", re.IGNORECASE)
_DOI_OK = re.compile(r"^10\.\d{4,9}/\S+$")
_TRAILING = ".,;:)]}>'\""


def normalize_doi(values: pd.Series | list | np.ndarray) -> pd.Series:
    """DOIs → lower case without ``https://doi.org/`` / ``doi:`` prefix or trailing punctuation; NA if not a DOI."""
    s = pd.Series(values).astype("string[pyarrow]")  # Arrow compute runs the .str methods, not Python per row
    s = s.str.strip().str.replace(r"^\s*(?i:doi:\s*|https?://(?:dx\.)?doi\.org/|(?:dx\.)?doi\.org/)", "", regex=True)
    s = s.str.replace(r"%2[fF]", "/", regex=True).str.rstrip(_TRAILING).str.lower()
    ok = s.str.match(_DOI_OK.pattern).fillna(False).astype(bool)
    return s.where(ok).astype("string")


def _ids(values: Any, pattern: str) -> pd.Series:
    s = pd.Series(values, dtype="string").str.extract(pattern, expand=False)
    return s.astype("string")


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas (leading ``= + - @``, tab, CR get a ``'``)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col].astype("string")
            risky = s.str.match(r"^[=+\-@\t\r]").fillna(False).astype(bool)
            if risky.any():
                out[col] = s.where(~risky, "'" + s)
    return out


# ----------------------------------------------------------------------------------------------------- results


@dataclass
class PublicationData:
    """What :func:`read_publications` returns: the canonical tables, what was set aside, and per-file counts."""

    publications: pd.DataFrame
    attention: pd.DataFrame
    citations_by_year: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _empty_publications() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="string") for c in PUBLICATION_COLUMNS})
    df["published_date"] = pd.Series(dtype="datetime64[ns]")
    df["year"] = pd.Series(dtype="Int64")
    df["source_row"] = pd.Series(dtype="Int64")
    return df


def _finish(df: pd.DataFrame, *, fmt: str, source_file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical columns, ids checked, rows without an id or a date quarantined."""
    out = pd.DataFrame(index=df.index)
    out["doi"] = normalize_doi(df.get("doi", pd.Series(pd.NA, index=df.index)))
    out["title"] = pd.Series(df.get("title", pd.NA), index=df.index, dtype="string").str.strip()
    out["journal"] = pd.Series(df.get("journal", pd.NA), index=df.index, dtype="string").str.strip()
    raw_date = pd.Series(df.get("published", pd.NA), index=df.index, dtype="string").str.strip()
    year_only = raw_date.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    parsed = pd.to_datetime(raw_date.where(~year_only, raw_date + "-07-01"), errors="coerce", format="mixed")
    out["published_date"] = parsed.dt.tz_localize(None) if parsed.dt.tz is not None else parsed
    out["published_date"] = out["published_date"].dt.normalize()
    out["year"] = out["published_date"].dt.year.astype("Int64")
    out["pmid"] = _ids(df.get("pmid", pd.Series(pd.NA, index=df.index)), r"(\d{1,9})\s*$")
    out["pmcid"] = _ids(df.get("pmcid", pd.Series(pd.NA, index=df.index)), r"(?i)(PMC\d+)").str.upper()
    out["openalex_id"] = _ids(df.get("openalex_id", pd.Series(pd.NA, index=df.index)), r"(W\d+)\s*$")
    out["url"] = pd.Series(df.get("url", pd.NA), index=df.index, dtype="string")
    out["pub_id"] = out["doi"].fillna("pmid:" + out["pmid"]).fillna("openalex:" + out["openalex_id"])
    out["source_format"] = fmt
    out["source_file"] = source_file
    out["source_row"] = pd.Series(df.get("_row", np.arange(1, len(df) + 1)), index=df.index).astype("Int64")

    reasons = pd.Series("", index=df.index, dtype="string")
    raw_doi = pd.Series(df.get("doi", pd.NA), index=df.index, dtype="string").str.strip()
    bad_doi = raw_doi.notna() & (raw_doi != "") & out["doi"].isna()
    reasons = reasons.mask(bad_doi, "doi " + raw_doi.fillna("") + " is not a DOI (expected 10.NNNN/…); ")
    no_id = out["pub_id"].isna()
    reasons = reasons.mask(no_id & ~bad_doi, reasons + "no DOI, PMID or OpenAlex id; ")
    no_date = out["published_date"].isna()
    reasons = reasons.mask(no_date, reasons + "published date " + raw_date.fillna("(empty)")
                           + " is not a date (expected YYYY-MM-DD, YYYY Mon DD or YYYY); ")
    bad = (reasons != "").to_numpy()
    q = pd.DataFrame({"source_file": source_file, "source_row": out["source_row"][bad],
                      "reason": reasons[bad].str.rstrip("; ")})
    q = pd.concat([q.reset_index(drop=True),
                   df.loc[bad, [c for c in df.columns if not c.startswith("_")]].reset_index(drop=True).astype("string")],
                  axis=1)
    kept = out.loc[~bad, list(PUBLICATION_COLUMNS)].reset_index(drop=True)
    return kept, q


# ------------------------------------------------------------------------------------------------ CSV formats


def _read_csv_text(path: Path) -> pd.DataFrame:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    # the delimiter spreadsheets in many locales write (; or tab) when the header has more of it than commas
    sep = max((",", ";", "\t"), key=lambda c: (first.count(c), c == ","))
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True, sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV ({exc})", file=path) from None
    df["_row"] = np.arange(2, len(df) + 2)  # the header is row 1
    return df


def _key(name: str) -> str:
    return " ".join(str(name).replace("\ufeff", "").strip().lower().split())


def _map_columns(df: pd.DataFrame, column_map: dict[str, str], *, path: Path, what: str) -> pd.DataFrame:
    bad = [v for v in column_map.values() if v not in CANONICAL_FIELDS]
    if bad:
        raise InputError(f"the card maps a column to {bad[0]!r}; publication columns are {', '.join(CANONICAL_FIELDS)}",
                         file=path)
    missing = [k for k in column_map if k not in df.columns]
    if missing:
        raise InputError(f"column {missing[0]!r} named in the card's column map is missing ({what}). "
                         f"Found: {[c for c in df.columns if c != '_row']}", file=path)
    renamed = df.rename(columns=column_map)
    keys = {_key(c): c for c in df.columns if c not in column_map}
    for canon, aliases in _ALIASES.items():
        if canon in column_map.values():
            continue
        hit = next((keys[a] for a in aliases if a in keys), None)
        if hit is not None and hit not in renamed.columns[renamed.columns.duplicated()]:
            renamed = renamed.rename(columns={hit: canon})
    if "doi" not in renamed.columns and "pmid" not in renamed.columns:
        raise InputError(f"no DOI or PMID column ({what}). Found: {[c for c in df.columns if c != '_row']}. "
                         "Map yours in the card: publications: [{path: …, columns: {YourDoiColumn: doi, …}}]",
                         file=path)
    if "published" not in renamed.columns:
        raise InputError(f"no published-date column ({what}). Found: {[c for c in df.columns if c != '_row']}. "
                         "Map it in the card: columns: {YourDateColumn: published}", file=path)
    return renamed


def read_publication_csv(path: Path, *, column_map: dict[str, str] | None = None,
                         source_file: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """A publication list CSV (generic or PubMed's CSV export) → (kept rows, quarantined rows, format name)."""
    df = _read_csv_text(path)
    keys = {_key(c) for c in df.columns}
    source_file = source_file or str(path)
    if PUBMED_CSV_SIGNATURE <= keys and not column_map:
        cols = {c: _key(c) for c in df.columns}
        df = df.rename(columns={c: k for c, k in cols.items()})
        mapped = pd.DataFrame({"doi": df["doi"], "title": df["title"], "journal": df["journal/book"],
                               "pmid": df["pmid"], "pmcid": df.get("pmcid", pd.NA),
                               # Create Date is when PubMed indexed it; the publication year is the date we have
                               "published": df["publication year"], "_row": df["_row"]})
        kept, q = _finish(mapped, fmt="pubmed_csv", source_file=source_file)
        return kept, q, "pubmed_csv"
    mapped = _map_columns(df, dict(column_map or {}), path=path, what="publication list CSV")
    kept, q = _finish(mapped, fmt="publications_csv", source_file=source_file)
    return kept, q, "publications_csv"


# --------------------------------------------------------------------------------------------------- MEDLINE

_MEDLINE_LINE = re.compile(r"^([A-Z]{2,4})\s*-\s?(.*)$")
_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"], 1)}


def _medline_date(dp: str | None, dep: str | None) -> str | None:
    """``DEP`` (electronic, YYYYMMDD) when present, else ``DP`` ("2021 Mar 15", "2021 Mar", "2021 Spring", "2021")."""
    if dep and re.fullmatch(r"\d{8}", dep.strip()):
        d = dep.strip()
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    if not dp:
        return None
    parts = dp.strip().split()
    if not parts or not re.fullmatch(r"\d{4}", parts[0]):
        return dp
    month = _MONTHS.get(parts[1][:3].lower()) if len(parts) > 1 else None
    day = parts[2] if len(parts) > 2 and parts[2].isdigit() else "1"
    if month is None:
        return parts[0]
    return f"{parts[0]}-{month:02d}-{int(day):02d}"


def parse_medline(text: str) -> list[dict[str, Any]]:
    """MEDLINE (``.nbib``) text → one dict per record (tag → list of values, continuation lines joined)."""
    records: list[dict[str, Any]] = []
    current: dict[str, list[str]] | None = None
    last_tag = None
    start_line = 0
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _MEDLINE_LINE.match(line)
        if m and (line[:4].rstrip() == m.group(1)):
            tag, value = m.group(1), m.group(2).strip()
            if tag == "PMID":
                if current is not None:
                    records.append({"_row": start_line, **current})
                current, start_line = {}, i
            if current is None:
                current, start_line = {}, i
            current.setdefault(tag, []).append(value)
            last_tag = tag
        elif line.startswith("      ") and current is not None and last_tag is not None:
            current[last_tag][-1] += " " + line.strip()
    if current is not None:
        records.append({"_row": start_line, **current})
    return records


def read_medline(path: Path, *, source_file: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A PubMed MEDLINE export → (kept rows, quarantined rows); ``source_row`` is the record's first line."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    recs = parse_medline(text)
    if not recs:
        raise InputError("no MEDLINE records (expected lines like 'PMID- 12345678')", file=path)

    def doi_of(r: dict) -> str | None:
        for tag in ("AID", "LID"):
            for v in r.get(tag, []):
                if v.endswith("[doi]"):
                    return v[: -len("[doi]")].strip()
        return None

    df = pd.DataFrame({
        "pmid": [(r.get("PMID") or [None])[0] for r in recs],
        "title": [(r.get("TI") or r.get("BTI") or [None])[0] for r in recs],
        "journal": [(r.get("JT") or r.get("TA") or [None])[0] for r in recs],
        "doi": [doi_of(r) for r in recs],
        "pmcid": [(r.get("PMC") or [None])[0] for r in recs],
        "published": [_medline_date((r.get("DP") or [None])[0], (r.get("DEP") or [None])[0]) for r in recs],
        "_row": [r["_row"] for r in recs],
    })
    return _finish(df, fmt="pubmed_medline", source_file=source_file or str(path))


# -------------------------------------------------------------------------------------------------- OpenAlex


def _is_openalex_work(obj: Any) -> bool:
    return isinstance(obj, dict) and str(obj.get("id", "")).startswith("https://openalex.org/W")


def openalex_works(body: Any) -> list[dict] | None:
    """The works of an OpenAlex response (a results page or one work), else None."""
    if isinstance(body, dict) and isinstance(body.get("results"), list) and "meta" in body:
        return [w for w in body["results"] if isinstance(w, dict)]
    if _is_openalex_work(body):
        return [body]
    return None


def read_openalex(works: list[dict], *, source_file: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """OpenAlex works → (publications kept, quarantined, citations: doi, cited_by_count, counts_by_year rows)."""
    def src(w: dict) -> dict:
        return ((w.get("primary_location") or {}).get("source") or {})

    ids = [w.get("ids") or {} for w in works]
    df = pd.DataFrame({
        "doi": [w.get("doi") for w in works],
        "title": [w.get("title") or w.get("display_name") for w in works],
        "journal": [src(w).get("display_name") for w in works],
        "published": [w.get("publication_date") or w.get("publication_year") for w in works],
        "pmid": [i.get("pmid") for i in ids],
        "pmcid": [i.get("pmcid") for i in ids],
        "openalex_id": [w.get("id") for w in works],
        "url": [(w.get("primary_location") or {}).get("landing_page_url") for w in works],
        "_row": np.arange(1, len(works) + 1),
    }).astype({"published": "string"})
    kept, q = _finish(df, fmt="openalex_json", source_file=source_file)
    oid = _ids(df["openalex_id"], r"(W\d+)\s*$")
    cites = pd.DataFrame({"openalex_id": oid, "doi": normalize_doi(df["doi"]),
                          "citations": pd.array([w.get("cited_by_count") for w in works], dtype="Int64")})
    years = [(o, c.get("year"), c.get("cited_by_count")) for o, w in zip(oid, works, strict=True)
             for c in (w.get("counts_by_year") or []) if isinstance(c, dict)]
    by_year = pd.DataFrame(years, columns=["openalex_id", "year", "citations"]).astype(
        {"openalex_id": "string", "year": "Int64", "citations": "Int64"})
    return kept, q, cites, by_year


# ------------------------------------------------------------------------------------------------- Altmetric


def _is_altmetric(obj: Any) -> bool:
    return isinstance(obj, dict) and "altmetric_id" in obj and "score" in obj


def read_altmetric_responses(items: list[tuple[dict, str]], log_entries: list[dict]) -> pd.DataFrame:
    """Altmetric Details Page responses (+ the fetch log's 404s and fetch times) → one row per DOI."""
    log = pd.DataFrame({"doi": normalize_doi([e.get("doi") for e in log_entries]),
                        "status": [e.get("status") for e in log_entries],
                        "fetched_at": [e.get("fetched_at") for e in log_entries],
                        "file": [e.get("_file") for e in log_entries]}).dropna(subset=["doi"])
    log = log.drop_duplicates("doi", keep="last")
    hist = [obj.get("history") or {} for obj, _ in items]
    rows = pd.DataFrame({
        "doi": normalize_doi([obj.get("doi") for obj, _ in items]), "altmetric_status": "found",
        "altmetric_score": [obj.get("score") for obj, _ in items],
        "altmetric_posts": [obj.get("cited_by_posts_count") for obj, _ in items],
        "altmetric_x_posts": [obj.get("cited_by_tweeters_count") for obj, _ in items],
        "altmetric_id": [str(obj.get("altmetric_id")) for obj, _ in items],
        "altmetric_source": [file for _, file in items],
        "altmetric_url": [obj.get("url") for obj, _ in items],
        **{f"history_{k}": [h.get(k) for h in hist] for k in HISTORY_WINDOWS},
        "history_at": [h.get("at") for h in hist],
    }).dropna(subset=["doi"])
    rows["altmetric_fetched_at"] = rows["doi"].map(log.set_index("doi")["fetched_at"])
    nf = log[(log["status"] == 404) & ~log["doi"].isin(rows["doi"])]
    not_found = pd.DataFrame({"doi": nf["doi"], "altmetric_status": "not_found",
                              "altmetric_fetched_at": nf["fetched_at"], "altmetric_source": nf["file"]})
    return pd.concat([x for x in (rows, not_found) if len(x)], ignore_index=True) if len(rows) or len(not_found) \
        else pd.DataFrame(columns=["doi", "altmetric_status"])


def read_altmetric_explorer(path: Path, *, source_file: str) -> pd.DataFrame:
    """Altmetric Explorer CSV export → one row per DOI (score, mention counts); rows without a DOI are skipped."""
    df = _read_csv_text(path)
    k = {_key(c): c for c in df.columns}
    score = pd.to_numeric(df[k["altmetric attention score"]].str.replace(",", ""), errors="coerce")
    x_col = k.get("x mentions") or k.get("twitter mentions")
    mention_cols = [c for key, c in k.items() if key.endswith(" mentions")]
    posts = df[mention_cols].apply(lambda s: pd.to_numeric(s.str.replace(",", ""), errors="coerce")).sum(
        axis=1, min_count=1) if mention_cols else pd.Series(np.nan, index=df.index)
    return pd.DataFrame({
        "doi": normalize_doi(df[k["doi"]]), "altmetric_status": "found", "altmetric_score": score,
        "altmetric_posts": posts,
        "altmetric_x_posts": pd.to_numeric(df[x_col], errors="coerce") if x_col else np.nan,
        "altmetric_id": pd.NA, "altmetric_fetched_at": pd.NA, "altmetric_source": source_file,
    }).dropna(subset=["doi"])


# ------------------------------------------------------------------------------------------------ entry point


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", file=path) from None


def _sniff(path: Path) -> str:
    head = path.read_bytes()[:4096].decode("utf-8-sig", errors="replace")
    stripped = head.lstrip()
    if stripped.startswith(("{", "[")):
        return "json"
    if re.search(r"^PMID-\s", head, re.MULTILINE):
        return "medline"
    first = next(csv.reader(io.StringIO(stripped.splitlines()[0] if stripped else "")), [])
    if {_key(c) for c in first} >= ALTMETRIC_EXPLORER_SIGNATURE:
        return "altmetric_explorer"
    return "csv"


def read_publications(pub_files: list[tuple[Path, dict[str, str]]], attention_files: list[Path] = (), *,
                      relative=str) -> PublicationData:
    """Read every publication list and attention file into the canonical tables.

    Parameters
    ----------
    pub_files
        ``(path, column map)`` per publication list (``Dataset.publication_files()``).
    attention_files
        Paths of attention files (``Dataset.attention_files()``); a file may be in both lists (OpenAlex pages).
    relative
        Path → the name written in logs (``Dataset.relative``).
    """
    pubs, quar, files, warnings = [], [], [], []
    cites, by_year, alt_items, log_entries, explorer = [], [], [], [], []
    for path, cmap in pub_files:
        name = relative(path)
        kind = _sniff(path)
        if kind == "json":
            works = openalex_works(_load_json(path))
            if works is None:
                raise InputError("a JSON publication list must be an OpenAlex works page ({\"meta\": …, "
                                 "\"results\": [work, …]}) or one work", file=path)
            kept, q, c, y = read_openalex(works, source_file=name)
            fmt = "openalex_json"
        elif kind == "medline":
            kept, q = read_medline(path, source_file=name)
            fmt = "pubmed_medline"
        elif kind == "altmetric_explorer":
            raise InputError("this is an Altmetric Explorer export (attention), not a publication list: "
                             "list it under 'attention:' in the card", file=path)
        else:
            kept, q, fmt = read_publication_csv(path, column_map=cmap, source_file=name)
        pubs.append(kept)
        quar.append(q)
        files.append({"file": name, "format": fmt, "table": "publications", "rows_read": len(kept) + len(q),
                      "rows_kept": len(kept), "rows_quarantined": len(q)})
    for path in attention_files:
        name = relative(path)
        kind = _sniff(path)
        if kind == "json":
            body = _load_json(path)
            works = openalex_works(body)
            if works is not None:
                _, _, c, y = read_openalex(works, source_file=name)
                cites.append(c)
                by_year.append(y)
                files.append({"file": name, "format": "openalex_json", "table": "attention",
                              "rows_read": len(works), "rows_kept": int(c["citations"].notna().sum())})
            elif _is_altmetric(body):
                alt_items.append((body, name))
                files.append({"file": name, "format": "altmetric_api", "table": "attention", "rows_read": 1,
                              "rows_kept": 1})
            elif isinstance(body, dict) and FETCH_LOG_KEY in body:
                entries = [dict(e, _file=name) for e in body.get("requests", []) if isinstance(e, dict)]
                log_entries.extend(entries)
                files.append({"file": name, "format": "altmetric_fetch_log", "table": "attention",
                              "rows_read": len(entries), "rows_kept": len(entries)})
            else:
                raise InputError("not an attention file: expected an OpenAlex works page, an Altmetric Details Page "
                                 f"API response (with altmetric_id and score) or a fetch log. Top-level keys: "
                                 f"{sorted(body)[:12] if isinstance(body, dict) else type(body).__name__}", file=path)
        elif kind == "altmetric_explorer":
            e = read_altmetric_explorer(path, source_file=name)
            explorer.append(e)
            files.append({"file": name, "format": "altmetric_explorer_csv", "table": "attention",
                          "rows_read": len(e), "rows_kept": len(e)})
        else:
            raise InputError("not an attention file: expected OpenAlex/Altmetric JSON or an Altmetric Explorer CSV "
                             "(with 'Altmetric Attention Score' and 'DOI' columns)", file=path)

    pub = pd.concat(pubs, ignore_index=True) if pubs else _empty_publications()
    n_before = len(pub)
    if len(pub):
        # one row per publication: the first list that names it wins, later lists fill its gaps
        pub = pub.groupby("pub_id", sort=False, as_index=False).first()
        pub = pub[list(PUBLICATION_COLUMNS)]
    if n_before > len(pub):
        warnings.append(f"{n_before - len(pub)} publication row(s) repeat a DOI/PMID already listed; merged")
    quarantine = pd.concat(quar, ignore_index=True) if quar else pd.DataFrame(columns=["source_file", "source_row",
                                                                                     "reason"])
    alt = read_altmetric_responses(alt_items, log_entries)
    if explorer:
        ex = pd.concat(explorer, ignore_index=True)
        extra = ex[~ex["doi"].isin(alt["doi"] if len(alt) else [])]
        alt = pd.concat([alt, extra], ignore_index=True) if len(alt) else extra.reset_index(drop=True)
    if len(alt):
        # the latest response per DOI wins (files sort by name; fetch times where the log has them)
        alt = alt.sort_values("altmetric_fetched_at", na_position="first", kind="stable")
        alt = alt.drop_duplicates("doi", keep="last").reset_index(drop=True)
    citations = pd.concat(cites, ignore_index=True) if cites else pd.DataFrame(
        {"openalex_id": pd.Series(dtype="string"), "doi": pd.Series(dtype="string"),
         "citations": pd.Series(dtype="Int64")})
    citations = citations.drop_duplicates(["openalex_id"], keep="last")
    cby = pd.concat(by_year, ignore_index=True) if by_year else pd.DataFrame(
        {"openalex_id": pd.Series(dtype="string"), "year": pd.Series(dtype="Int64"),
         "citations": pd.Series(dtype="Int64")})
    cby = cby.drop_duplicates(["openalex_id", "year"], keep="last")
    if len(alt) and "altmetric_url" in alt and len(pub):
        # the article's address Altmetric knows links posts to papers whose list gave none
        known = alt.dropna(subset=["altmetric_url"]).drop_duplicates("doi").set_index("doi")["altmetric_url"]
        pub["url"] = pub["url"].fillna(pub["doi"].map(known)).astype("string")
    attention = attach_attention(pub, alt, citations)
    return PublicationData(attention=attention, publications=pub.reset_index(drop=True), citations_by_year=cby,
                           quarantine=quarantine, files=files, warnings=warnings)


def attach_attention(pub: pd.DataFrame, alt: pd.DataFrame, citations: pd.DataFrame) -> pd.DataFrame:
    """Per publication: Altmetric status/score (NA when not fetched or not found, never 0) and OpenAlex citations."""
    out = pub[["pub_id", "doi", "openalex_id"]].copy()
    if len(alt):
        out = out.merge(alt, on="doi", how="left")
    for col in ATTENTION_COLUMNS[1:]:
        if col not in out.columns:
            out[col] = pd.NA
    out["altmetric_status"] = out["altmetric_status"].astype("string").fillna("not_fetched")
    for col in ("altmetric_score", *[f"history_{k}" for k in HISTORY_WINDOWS], "history_at"):
        out[col] = pd.to_numeric(out.get(col, pd.Series(np.nan, index=out.index)), errors="coerce").astype("float64")
    for col in ("altmetric_posts", "altmetric_x_posts"):
        out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
    out["altmetric_fetched_at"] = pd.to_datetime(out["altmetric_fetched_at"], utc=True, errors="coerce")
    by_oa = citations.dropna(subset=["openalex_id"]).drop_duplicates("openalex_id", keep="last")
    by_doi = citations.dropna(subset=["doi"]).drop_duplicates("doi", keep="last")
    c1 = out["openalex_id"].map(by_oa.set_index("openalex_id")["citations"])
    c2 = out["doi"].map(by_doi.set_index("doi")["citations"])
    out["citations"] = c1.fillna(c2).astype("Int64")
    return out.drop(columns=["openalex_id", "altmetric_url"], errors="ignore")
