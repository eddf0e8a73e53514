"""Which posts feature which papers: DOIs, PubMed/PMC ids, article URLs, short links, and titles.

Evidence, strongest first (a post may feature several papers; every distinct post–paper pair is kept once, with
its strongest method):

1. ``doi_text`` / ``doi_link`` — a DOI in the text or in a link (``doi.org/10.…``, or a journal URL that carries
   the DOI such as ``…/doi/full/10.1542/peds.2021-0001``); trailing ``/full``, ``/abstract``, ``/pdf`` path
   parts are tried away when the DOI with them is not in the list;
2. ``pmid`` / ``pmcid`` — ``pubmed.ncbi.nlm.nih.gov/NNN``, ``PMID: NNN``, ``PMC1234567``;
3. ``url`` — a link whose normalized address (no scheme, ``www.``, query, fragment or trailing ``/``) is a
   paper's landing page;
4. ``title`` — the post text contains the paper's title up to small differences: rapidfuzz ``partial_ratio``
   (text and title lower-cased, punctuation removed) ≥ ``title_threshold`` (default 90), for posts with no id
   evidence and at least 80 % of the title's length. Scores in [``review_threshold``, ``title_threshold``) go to
   a review CSV; the user marks ``confirmed`` yes/no and saves it as ``links/confirmed_matches.csv`` in the
   dataset folder, which the next run reads (yes → ``title_confirmed``; no → never linked).

Short links (``t.co``, ``bit.ly``, …) are looked up in the cache ``workbench fetch resolve-links`` writes
(``links/resolved_links.csv``: ``short_url, resolved_url, status, resolved_at``); runs never touch the network.
Short links not in the cache, or that did not resolve, are counted and listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .publications import normalize_doi

#: Arrow-backed strings: pandas runs their .str methods in Arrow compute, not per element in Python.
_FAST = "string[pyarrow]"
TITLE_THRESHOLD = 90.0
REVIEW_THRESHOLD = 75.0
#: a text shorter than this share of a title cannot contain it (partial_ratio would match the title's parts).
MIN_TEXT_SHARE = 0.8
SHORTENERS = ("t.co", "bit.ly", "ow.ly", "buff.ly", "tinyurl.com", "dlvr.it", "lnkd.in", "fb.me", "trib.al",
              "doi.org/10.")  # doi.org is not a shortener: excluded below
_URL = r"(https?://[^\s<>\"'”“]+)"
_DOI = r"(10\.\d{4,9}/[^\s\"<>#?]+)"
_PMID = r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/|\bPMID:?\s*)(\d{1,9})\b"
_PMC = r"\b(PMC\d{4,9})\b"
_TRAIL = ".,;:!?)]}>'\"…"
METHOD_RANK = {"doi_text": 0, "doi_link": 1, "pmid": 2, "pmcid": 3, "url": 4, "title_confirmed": 5, "title": 6}
LINK_COLUMNS = ("post_id", "pub_id", "method", "evidence", "score")
REVIEW_COLUMNS = ("post_id", "published_at", "text", "pub_id", "doi", "title", "score", "confirmed")
CACHE_COLUMNS = ("short_url", "resolved_url", "status", "resolved_at")
_YES = {"yes", "y", "1", "true", "x"}
_NO = {"no", "n", "0", "false"}


@dataclass
class LinkResult:
    """Post–paper links, the uncertain title matches to review, and the short links that could not be resolved."""

    links: pd.DataFrame
    review: pd.DataFrame
    unresolved: pd.DataFrame
    counts: dict = field(default_factory=dict)


def normalize_url(s: pd.Series) -> pd.Series:
    """Addresses → ``host/path`` lower-cased host, without scheme, ``www.``, query, fragment or trailing slash."""
    s = pd.Series(s).astype(_FAST).str.strip()
    s = s.str.replace(r"^https?://", "", regex=True, case=False).str.replace(r"^www\.", "", regex=True, case=False)
    s = s.str.replace(r"[?#].*$", "", regex=True).str.rstrip("/")
    host = s.str.replace(r"/.*$", "", regex=True).str.lower()
    rest = s.str.replace(r"^[^/]*", "", regex=True)
    return (host + rest).astype("string")


def _is_short(urls: pd.Series) -> pd.Series:
    host = normalize_url(urls).astype(_FAST).str.replace(r"/.*$", "", regex=True)
    return host.isin([h for h in SHORTENERS if "/" not in h]).fillna(False).astype(bool)


def read_link_cache(path: Path | None) -> pd.DataFrame:
    """The resolved-link cache → ``short_url, resolved_url, status, resolved_at`` (empty when there is none)."""
    if path is None:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in CACHE_COLUMNS})
    df = pd.read_csv(path, dtype="string", keep_default_na=False)
    missing = [c for c in ("short_url", "resolved_url") if c not in df.columns]
    if missing:
        raise InputError(f"link cache column {missing[0]!r} missing. Found: {list(df.columns)}; expected "
                         f"{list(CACHE_COLUMNS)} (written by `workbench fetch resolve-links`)", file=path)
    for c in CACHE_COLUMNS:
        if c not in df.columns:
            df[c] = pd.NA
    df = df.replace("", pd.NA)
    return df[list(CACHE_COLUMNS)].drop_duplicates("short_url", keep="last")


def read_confirmed(path: Path | None) -> pd.DataFrame:
    """The user's confirmed review file → ``post_id, pub_id, confirmed`` (bool); InputError names a bad row."""
    if path is None:
        return pd.DataFrame({"post_id": pd.Series(dtype="string"), "pub_id": pd.Series(dtype="string"),
                             "confirmed": pd.Series(dtype="boolean")})
    df = pd.read_csv(path, dtype="string", keep_default_na=False)
    missing = [c for c in ("post_id", "pub_id", "confirmed") if c not in df.columns]
    if missing:
        raise InputError(f"column {missing[0]!r} missing in the confirmed matches. Found: {list(df.columns)}. "
                         "Start from results/publication_matches_review.csv of the last run", file=path)
    val = df["confirmed"].str.strip().str.lower()
    ok = val.isin(_YES | _NO | {""})
    if not ok.all():
        i = int(np.flatnonzero(~ok.to_numpy())[0])
        raise InputError(f"confirmed must be yes or no (or empty: not reviewed yet), found {df['confirmed'].iloc[i]!r}",
                         file=path, row=i + 2, column="confirmed")
    df = df[val != ""].assign(confirmed=val[val != ""].isin(_YES))
    return df[["post_id", "pub_id", "confirmed"]].astype({"confirmed": "boolean"})


def _pairs(long: pd.DataFrame, key: pd.Series, index: pd.Series, method: str) -> pd.DataFrame:
    hit = key.map(index)
    m = hit.notna().to_numpy()
    return pd.DataFrame({"post_id": long["post_id"].to_numpy()[m], "pub_id": hit.to_numpy()[m], "method": method,
                         "evidence": long["value"].to_numpy()[m], "score": np.nan})


def _extract(frame: pd.DataFrame, col: str, pattern: str) -> pd.DataFrame:
    """Every match of ``pattern`` in ``frame[col]`` → long ``post_id, value``.

    Rows are screened with Arrow's RE2 (vectorized); Python's ``extractall`` then runs on the few rows that match.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    s = frame[col].astype("string").reset_index(drop=True)
    hit = pc.match_substring_regex(pa.array(s.fillna("").to_numpy(dtype=object), type=pa.string()), pattern)
    ex = s[hit.to_numpy(zero_copy_only=False)].str.extractall(pattern)
    if ex.empty:
        return pd.DataFrame({"post_id": pd.Series(dtype="string"), "value": pd.Series(dtype="string")})
    rows = ex.index.get_level_values(0)
    return pd.DataFrame({"post_id": frame["post_id"].to_numpy()[rows],
                         "value": ex.iloc[:, 0].astype("string").str.rstrip(_TRAIL).to_numpy()})


def _extract_urls(frame: pd.DataFrame) -> pd.DataFrame:
    """Every ``http(s)://`` address in the texts → long ``post_id, value`` (Arrow: split on white space, filter)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(frame["text"].astype("string").fillna("").to_numpy(dtype=object), type=pa.string())
    words = pc.utf8_split_whitespace(arr)
    flat = pc.list_flatten(words)
    parent = pc.list_parent_indices(words).to_numpy()
    keep = pc.match_substring(flat, "http").to_numpy(zero_copy_only=False)
    # an address may follow other characters ("(https://…"): drop everything before it (RE2, vectorized)
    flat = pc.replace_substring_regex(pc.filter(flat, pa.array(keep)), r"^.*?(https?://)", r"\1")
    values = pd.Series(flat.to_numpy(zero_copy_only=False), dtype=_FAST)
    ok = values.str.match(r"https?://").fillna(False).to_numpy(dtype=bool)
    return pd.DataFrame({"post_id": frame["post_id"].to_numpy()[parent[keep]][ok],
                         "value": values[ok].str.rstrip(_TRAIL).str.replace(r"[”“\"'<>].*$", "", regex=True).to_numpy()})


def _doi_pairs(long: pd.DataFrame, doi_index: pd.Series, method: str) -> pd.DataFrame:
    if long.empty:
        return pd.DataFrame(columns=list(LINK_COLUMNS))
    cand = normalize_doi(long["value"].str.replace(r"%2[fF]", "/", regex=True))
    out, left = [], pd.Series(True, index=long.index)
    for _ in range(3):  # the DOI as found, then without one or two trailing path parts (/full, /abstract, /pdf)
        hit = cand.map(doi_index).where(left)
        m = hit.notna().to_numpy()
        out.append(pd.DataFrame({"post_id": long["post_id"].to_numpy()[m], "pub_id": hit.to_numpy()[m],
                                 "method": method, "evidence": long["value"].to_numpy()[m], "score": np.nan}))
        left &= ~pd.Series(m, index=long.index)
        cand = cand.str.replace(r"/[^/]*$", "", regex=True).where(cand.str.count("/") > 1)
    return pd.concat(out, ignore_index=True)


def _normalized(s: pd.Series) -> pd.Series:
    """Lower case, anything but letters and digits → one space (rapidfuzz's ``default_process``, vectorized)."""
    return s.fillna("").astype(_FAST).str.lower().str.replace(r"[\W_]+", " ", regex=True).str.strip()


def _token_matrix(norm: pd.Series, vocab: pd.Index):
    """Rows of ``norm`` × ``vocab``: 1 where the row's text has the word (sparse; words outside vocab dropped)."""
    from scipy import sparse

    words = norm.str.split().explode()
    col = vocab.get_indexer(words.to_numpy())
    row = words.index.to_numpy()
    keep = col >= 0
    m = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (row[keep], col[keep])),
                          shape=(len(norm), len(vocab)))
    m.data[:] = 1.0  # duplicates summed by the constructor: presence only
    return m


def _title_scores(texts: pd.Series, titles: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Best title per text: (index of the title, rapidfuzz partial_ratio score); -1 and 0 where none can match.

    A text can only contain a title up to small differences if it holds most of the title's words, so pairs are
    first screened with a sparse word-overlap product (at least half of the title's distinct words; a text
    shorter than ``MIN_TEXT_SHARE`` of the title, and titles under 15 characters, are never compared), then
    scored pairwise in C++ (``rapidfuzz.process.cpdist``). Work grows with posts × candidate titles, not
    posts × all titles.
    """
    from rapidfuzz import fuzz, process

    texts = texts.reset_index(drop=True)
    t_proc = _normalized(titles).reset_index(drop=True)
    p_all = _normalized(texts)
    best_i = np.full(len(texts), -1)
    best_s = np.zeros(len(texts))
    t_len = t_proc.str.len().to_numpy()
    usable = t_len >= 15
    if not usable.any() or not len(texts):
        return best_i, best_s
    vocab = pd.Index(t_proc[usable].str.split().explode().dropna().unique())
    T = _token_matrix(t_proc.where(usable, ""), vocab)
    n_words = np.asarray(T.sum(axis=1)).ravel()
    P = _token_matrix(p_all, vocab)
    overlap = (P @ T.T).tocoo()
    share = overlap.data / np.maximum(n_words[overlap.col], 1)
    p_len = p_all.str.len().to_numpy()
    cand = (share >= 0.5) & usable[overlap.col] & (p_len[overlap.row] >= MIN_TEXT_SHARE * t_len[overlap.col])
    rows, cols = overlap.row[cand], overlap.col[cand]
    if not len(rows):
        return best_i, best_s
    scores = process.cpdist(p_all.to_numpy()[rows].tolist(), t_proc.to_numpy()[cols].tolist(),
                            scorer=fuzz.partial_ratio, processor=None, dtype=np.float32, workers=1)
    order = np.lexsort((-scores, rows))  # per text, its best title first
    first = np.r_[True, rows[order][1:] != rows[order][:-1]]
    pick = order[first]
    best_i[rows[pick]] = cols[pick]
    best_s[rows[pick]] = scores[pick]
    return best_i, best_s


def link_posts(posts: pd.DataFrame, publications: pd.DataFrame, *, cache: pd.DataFrame | None = None,
               confirmed: pd.DataFrame | None = None, title_threshold: float = TITLE_THRESHOLD,
               review_threshold: float = REVIEW_THRESHOLD) -> LinkResult:
    """Link posts (``post_id``, ``text``) to publications (``pub_id``, ``doi``, ``pmid``, ``pmcid``, ``url``,
    ``title``); see the module docstring for the evidence and its order."""
    if not 0 < review_threshold <= title_threshold <= 100:
        raise InputError(f"thresholds must satisfy 0 < review ({review_threshold}) ≤ title ({title_threshold}) ≤ 100")
    cache = read_link_cache(None) if cache is None else cache
    confirmed = read_confirmed(None) if confirmed is None else confirmed
    posts = posts[["post_id", "text", *(["published_at"] if "published_at" in posts else [])]].copy()
    posts["post_id"] = posts["post_id"].astype("string")
    posts["text"] = posts["text"].astype("string").fillna("")
    pubs = publications
    doi_index = pd.Series(pubs["pub_id"].to_numpy(), index=pubs["doi"].astype("string")).dropna()
    doi_index = doi_index[~doi_index.index.duplicated()]
    pmid_index = pd.Series(pubs["pub_id"].to_numpy(), index=pubs["pmid"].astype("string")).loc[lambda s: s.index.notna()]
    pmc_index = pd.Series(pubs["pub_id"].to_numpy(), index=pubs["pmcid"].astype("string").str.upper()).loc[
        lambda s: s.index.notna()]
    url_index = pd.Series(pubs["pub_id"].to_numpy(), index=normalize_url(pubs["url"])).loc[lambda s: s.index.notna()]
    pmid_index, pmc_index, url_index = (ix[~ix.index.duplicated()] for ix in (pmid_index, pmc_index, url_index))

    urls = _extract_urls(posts)
    short = _is_short(urls["value"]) if len(urls) else pd.Series(dtype=bool)
    resolved_ok = cache[cache["resolved_url"].notna() & (cache["status"].fillna("ok").str.lower().isin(
        ["ok", "200", "301", "302", "303", "307", "308", "resolved"]))]
    res_map = pd.Series(resolved_ok["resolved_url"].to_numpy(), index=resolved_ok["short_url"].to_numpy())
    res_map = res_map[~res_map.index.duplicated(keep="last")]
    resolved = urls["value"].map(res_map)
    unresolved = urls[short.to_numpy() & resolved.isna().to_numpy()].copy()
    unresolved["reason"] = np.where(unresolved["value"].isin(cache["short_url"]), "did not resolve (see cache status)",
                                    "not in the link cache: run `workbench fetch resolve-links`")
    # a DOI in an address may be percent-encoded (10.1542%2Fpeds…)
    targets = pd.DataFrame({"post_id": urls["post_id"], "value": resolved.fillna(urls["value"]).astype(_FAST)
                            .str.replace(r"%2[fF]", "/", regex=True).astype("string")})
    targets = targets[~(short.to_numpy() & resolved.isna().to_numpy())]

    parts = [
        _doi_pairs(_extract(posts, "text", _DOI).pipe(lambda d: d[~d["post_id"].isna()]), doi_index, "doi_text"),
        _doi_pairs(_extract(targets, "value", _DOI), doi_index, "doi_link"),
    ]
    for frame in (posts.rename(columns={"text": "value"}), targets):
        parts.append(_pairs(p := _extract(frame, "value", _PMID), p["value"], pmid_index, "pmid"))
        parts.append(_pairs(p := _extract(frame, "value", _PMC), p["value"].str.upper(), pmc_index, "pmcid"))
    parts.append(_pairs(targets, normalize_url(targets["value"]), url_index, "url"))
    links = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
        pd.DataFrame(columns=list(LINK_COLUMNS))

    # titles, for posts without id evidence
    no_id = posts[~posts["post_id"].isin(links["post_id"])]
    review = pd.DataFrame(columns=list(REVIEW_COLUMNS))
    n_title = 0
    if len(no_id) and len(pubs) and pubs["title"].notna().any():
        titled = pubs[pubs["title"].notna()].reset_index(drop=True)
        bi, bs = _title_scores(no_id["text"], titled["title"])
        cand = pd.DataFrame({"post_id": no_id["post_id"].to_numpy(), "idx": bi, "score": bs})
        cand = cand[(cand["idx"] >= 0) & (cand["score"] >= review_threshold)]
        cand["pub_id"] = titled["pub_id"].to_numpy()[cand["idx"].to_numpy()]
        decided = cand.merge(confirmed, on=["post_id", "pub_id"], how="left")
        yes = decided["confirmed"].fillna(False).astype(bool).to_numpy()
        no = (decided["confirmed"] == False).fillna(False).to_numpy()  # noqa: E712 (nullable boolean)
        auto = (decided["score"] >= title_threshold).to_numpy() & ~no & ~yes
        new = pd.DataFrame({"post_id": decided["post_id"], "pub_id": decided["pub_id"],
                            "method": np.where(yes, "title_confirmed", "title"), "evidence": "title",
                            "score": decided["score"].round(1)})[yes | auto]
        n_title = int(auto.sum())
        links = pd.concat([x for x in (links, new) if len(x)], ignore_index=True) if len(new) else links
        pending = decided[~yes & ~no & ~auto]
        if len(pending):
            info = posts.set_index("post_id").loc[pending["post_id"]]
            pinfo = titled.set_index("pub_id").loc[pending["pub_id"]]
            review = pd.DataFrame({
                "post_id": pending["post_id"].to_numpy(),
                "published_at": info["published_at"].to_numpy() if "published_at" in info else pd.NA,
                "text": info["text"].to_numpy(), "pub_id": pending["pub_id"].to_numpy(),
                "doi": pinfo["doi"].to_numpy(), "title": pinfo["title"].to_numpy(),
                "score": pending["score"].round(1).to_numpy(), "confirmed": "",
            })
    # confirmed pairs the matcher did not propose this time (texts changed, threshold changed) still count
    extra = confirmed[confirmed["confirmed"].fillna(False).astype(bool)]
    extra = extra[extra["post_id"].isin(posts["post_id"]) & extra["pub_id"].isin(pubs["pub_id"])]
    if len(extra):
        links = pd.concat([links, pd.DataFrame({"post_id": extra["post_id"], "pub_id": extra["pub_id"],
                                                "method": "title_confirmed", "evidence": "confirmed by the user",
                                                "score": np.nan})], ignore_index=True)
    if len(links):
        links["rank"] = links["method"].map(METHOD_RANK)
        links = links.sort_values(["post_id", "pub_id", "rank"], kind="stable").drop_duplicates(["post_id", "pub_id"])
        links = links.drop(columns="rank").reset_index(drop=True)
    links = links[list(LINK_COLUMNS)].astype({"post_id": "string", "pub_id": "string", "method": "string",
                                               "evidence": "string", "score": "float64"})
    unresolved_out = unresolved.rename(columns={"value": "short_url"})[["post_id", "short_url", "reason"]]
    counts = {
        "posts": len(posts), "posts_linked": int(links["post_id"].nunique()),
        "papers_linked": int(links["pub_id"].nunique()),
        "links_by_method": {k: int(v) for k, v in links["method"].value_counts().items()},
        "short_links": int(short.sum()) if len(urls) else 0,
        "short_links_unresolved": len(unresolved_out),
        "title_matches_auto": n_title, "title_matches_to_review": len(review),
        "title_threshold": title_threshold, "review_threshold": review_threshold,
        "title_scorer": "rapidfuzz.fuzz.partial_ratio on lower-cased text without punctuation",
    }
    return LinkResult(links=links, review=review, unresolved=unresolved_out.reset_index(drop=True), counts=counts)
