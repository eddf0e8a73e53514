"""Fetch publication lists and attention: OpenAlex works, Altmetric counts, and where short links lead.

- :func:`fetch_openalex` pages through OpenAlex's works API (``/works?filter=…&cursor=*``, ``per-page=200``,
  polite ``mailto``) and saves every page **exactly as returned** (``openalex_<query>_<hash>_NNNN.json``). Pages
  already saved for the same query are reused (the cache): their ``meta.next_cursor`` continues the paging.
- :func:`fetch_altmetric` asks the Altmetric Details Page API counts endpoint (``/v1/doi/DOI``; ``key`` optional)
  once per DOI, at most one request per ``min_interval`` seconds, and saves each answer **exactly as returned**
  (``altmetric_doi_<doi>.json``); DOIs with a saved answer are not asked again (the cache). HTTP 404 means
  Altmetric knows no attention for the DOI: it is recorded as *not found* in ``altmetric_fetch_log.json``, never
  as a score of 0. The log also records when each answer was fetched (the ``history`` windows count back from it).
- :func:`resolve_links` follows short links (``t.co`` …) one redirect at a time, without downloading pages, and
  appends where they lead to ``links/resolved_links.csv`` (``short_url, resolved_url, status, resolved_at``);
  runs read only that cache.

HTTP goes through a client with ``get(url, params) -> (status, body bytes, headers)`` and
``head(url) -> (status, headers)``; tests pass recorded responses and never touch the network.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from . import __version__
from .errors import InputError
from .fetch import FetchError
from .io import write_bytes, write_csv, write_json
from .linking import CACHE_COLUMNS, SHORTENERS, read_link_cache
from .publications import FETCH_LOG_KEY, normalize_doi

OPENALEX_WORKS = "https://api.openalex.org/works"
ALTMETRIC_DOI = "https://api.altmetric.com/v1/doi/"
OPENALEX_PER_PAGE = 200


class RawClient(Protocol):
    def get(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[int, bytes, Mapping[str, str]]: ...

    def head(self, url: str) -> tuple[int, Mapping[str, str]]: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - stop at the first hop
        return None


@dataclass
class RawUrllibClient:
    """The real client: urllib, a User-Agent, retries on 429/5xx (honouring Retry-After); statuses returned."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    user_agent: str = f"dissemination-workbench/{__version__} (+research analytics; urllib)"

    def _open(self, req: urllib.request.Request, opener=None) -> tuple[int, bytes, Mapping[str, str]]:
        for attempt in range(self.retries + 1):
            try:
                with (opener or urllib.request.build_opener()).open(req, timeout=self.timeout) as resp:
                    return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
            except urllib.error.HTTPError as exc:
                if (exc.code == 429 or exc.code >= 500) and attempt < self.retries:
                    wait = exc.headers.get("Retry-After")
                    self.sleep(float(wait) if wait and wait.isdigit() else self.backoff * 2**attempt)
                    continue
                return exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()}
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                if attempt < self.retries:
                    self.sleep(self.backoff * 2**attempt)
                    continue
                raise FetchError(f"{req.full_url}: cannot connect ({getattr(exc, 'reason', exc)})") from None
        raise FetchError(f"{req.full_url}: no answer after {self.retries} retries")

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[int, bytes, Mapping[str, str]]:
        q = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        req = urllib.request.Request(url + (f"?{q}" if q else ""), headers={"User-Agent": self.user_agent})
        return self._open(req)

    def head(self, url: str) -> tuple[int, Mapping[str, str]]:
        req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": self.user_agent})
        status, _, headers = self._open(req, urllib.request.build_opener(_NoRedirect))
        return status, headers


def _now(now: pd.Timestamp | None) -> str:
    t = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.floor("s").strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------- OpenAlex


@dataclass
class OpenAlexResult:
    pages: list[Path] = field(default_factory=list)
    works: int = 0
    from_cache: int = 0


def openalex_filter(*, ror: str | None = None, orcid: str | None = None, issn: str | None = None) -> str:
    """The works filter for an institution (ROR), an author (ORCID) or a journal (ISSN)."""
    given = [(k, v) for k, v in (("ror", ror), ("orcid", orcid), ("issn", issn)) if v]
    if len(given) > 1:
        raise InputError("give one of --ror, --orcid, --issn (and optionally --query)")
    if not given:
        return ""
    key, value = given[0]
    value = value.strip().rsplit("/", 1)[-1] if key in ("ror", "orcid") else value.strip()
    if key == "ror" and not re.fullmatch(r"0[a-z0-9]{8}", value):
        raise InputError(f"--ror {value!r} is not a ROR id like 05dxps055 (or https://ror.org/05dxps055)")
    if key == "orcid" and not re.fullmatch(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]", value):
        raise InputError(f"--orcid {value!r} is not an ORCID like 0000-0002-1825-0097")
    if key == "issn" and not re.fullmatch(r"\d{4}-\d{3}[\dXx]", value):
        raise InputError(f"--issn {value!r} is not an ISSN like 0031-4005")
    field_name = {"ror": "institutions.ror", "orcid": "author.orcid", "issn": "primary_location.source.issn"}[key]
    return f"{field_name}:{value}"


def fetch_openalex(*, out: str | Path, ror: str | None = None, orcid: str | None = None, issn: str | None = None,
                   query: str | None = None, mailto: str | None = None, client: RawClient | None = None,
                   max_pages: int | None = None) -> OpenAlexResult:
    """Save every OpenAlex works page for the filter/search into ``out``; reuse pages saved before."""
    flt = openalex_filter(ror=ror, orcid=orcid, issn=issn)
    if not flt and not query:
        raise InputError("give --ror, --orcid, --issn or --query: which works to fetch")
    client = client or RawUrllibClient()
    out = Path(out)
    key = hashlib.sha256(json.dumps([flt, query or ""]).encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "_", (flt or query or "").lower()).strip("_")[:40]
    result = OpenAlexResult()
    cursor, page = "*", 0
    while cursor and (max_pages is None or page < max_pages):
        page += 1
        path = out / f"openalex_{slug}_{key}_{page:04d}.json"
        if path.exists():
            body = json.loads(path.read_bytes())
            result.from_cache += 1
        else:
            params = {"filter": flt or None, "search": query or None, "per-page": OPENALEX_PER_PAGE,
                      "cursor": cursor, "mailto": mailto}
            status, raw, _ = client.get(OPENALEX_WORKS, params)
            if status != 200:
                raise FetchError(f"{OPENALEX_WORKS}: HTTP {status} ({raw[:200].decode('utf-8', 'replace')})")
            try:
                body = json.loads(raw)
            except ValueError:
                raise FetchError(f"{OPENALEX_WORKS}: the answer is not JSON") from None
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise FetchError(f"{OPENALEX_WORKS}: expected {{'meta': …, 'results': [...]}}, found {str(body)[:200]}")
            write_bytes(path, raw)  # exactly as returned
        result.pages.append(path)
        result.works += len(body.get("results") or [])
        if not body.get("results"):
            break
        cursor = (body.get("meta") or {}).get("next_cursor")
    return result


# ------------------------------------------------------------------------------------------------ Altmetric


@dataclass
class AltmetricResult:
    found: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    log: Path | None = None


def altmetric_file_name(doi: str) -> str:
    return "altmetric_doi_" + re.sub(r"[^a-z0-9]+", "_", doi.lower()) + ".json"


def fetch_altmetric(dois: Sequence[str], *, out: str | Path, key: str | None = None,
                    client: RawClient | None = None, min_interval: float = 1.0,
                    sleep: Callable[[float], None] = time.sleep, now: pd.Timestamp | None = None) -> AltmetricResult:
    """Save the Altmetric counts answer for each DOI into ``out``; 404 → *not found* in the fetch log."""
    norm = normalize_doi(list(dois))
    bad = [d for d, n in zip(dois, norm, strict=True) if pd.isna(n)]
    if bad:
        raise InputError(f"{bad[0]!r} is not a DOI (expected 10.NNNN/…, with or without https://doi.org/)")
    client = client or RawUrllibClient()
    out = Path(out)
    log_path = out / "altmetric_fetch_log.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {
        FETCH_LOG_KEY: {"version": 1, "service": "altmetric", "endpoint": ALTMETRIC_DOI,
                        "tool": f"dissemination-workbench {__version__}"}, "requests": []}
    known = {e.get("doi"): e for e in log.get("requests", [])}
    result = AltmetricResult(log=log_path)
    last = None
    for doi in dict.fromkeys(norm):
        target = out / altmetric_file_name(doi)
        if target.exists() or (known.get(doi) or {}).get("status") == 404:
            result.cached.append(doi)
            continue
        if last is not None and min_interval > 0:
            sleep(min_interval)  # the free API allows about one call per second
        status, raw, _ = client.get(ALTMETRIC_DOI + doi, {"key": key} if key else None)
        last = doi
        stamp = _now(now)
        if status == 200:
            write_bytes(target, raw)  # exactly as returned
            result.found.append(doi)
            known[doi] = {"doi": doi, "status": 200, "fetched_at": stamp, "file": target.name}
        elif status == 404:
            result.not_found.append(doi)
            known[doi] = {"doi": doi, "status": 404, "fetched_at": stamp, "file": None}
        else:
            log["requests"] = list(known.values())
            write_json(log_path, log)
            raise FetchError(f"{ALTMETRIC_DOI}{doi}: HTTP {status} ({raw[:200].decode('utf-8', 'replace')}). "
                             + ("Check the API key." if status in (401, 403) else "Try again later."))
    log["requests"] = list(known.values())
    write_json(log_path, log)
    return result


# ------------------------------------------------------------------------------------------- short links


@dataclass
class ResolveResult:
    resolved: int = 0
    failed: int = 0
    cached: int = 0
    cache: Path | None = None


def resolve_links(urls: Sequence[str], *, cache: str | Path, client: RawClient | None = None,
                  max_hops: int = 5, now: pd.Timestamp | None = None) -> ResolveResult:
    """Follow each short link's redirects (HEAD, one hop at a time) and add where it leads to the cache CSV."""
    client = client or RawUrllibClient()
    cache = Path(cache)
    old = read_link_cache(cache if cache.exists() else None)
    done = set(old.loc[old["status"].fillna("ok") == "ok", "short_url"])
    result = ResolveResult(cache=cache)
    rows = []
    hosts = {h for h in SHORTENERS if "/" not in h}
    for url in dict.fromkeys(urls):
        if url in done:
            result.cached += 1
            continue
        current, status = url, "ok"
        for _ in range(max_hops):
            host = urllib.parse.urlsplit(current).hostname or ""
            if host.removeprefix("www.") not in hosts:
                break
            try:
                code, headers = client.head(current)
            except FetchError as exc:
                status = f"error: {exc}"
                break
            loc = headers.get("location")
            if code in (301, 302, 303, 307, 308) and loc:
                current = urllib.parse.urljoin(current, loc)
                continue
            if code != 200:
                status = f"error: HTTP {code}"
            break
        ok = status == "ok" and current != url
        status = status if status != "ok" or ok else "error: no redirect"
        rows.append({"short_url": url, "resolved_url": current if ok else "", "status": status,
                     "resolved_at": _now(now)})
        result.resolved += ok
        result.failed += not ok
    new = pd.DataFrame(rows, columns=list(CACHE_COLUMNS))
    merged = pd.concat([old, new], ignore_index=True).drop_duplicates("short_url", keep="last")
    write_csv(cache, merged.fillna(""))
    return result


def short_links_in(posts: pd.DataFrame) -> list[str]:
    """Every short link (t.co, bit.ly, …) in the posts' texts, once."""
    from .linking import _URL, _is_short

    urls = posts["text"].astype("string").str.extractall(_URL)[0].str.rstrip(".,;:!?)]}>'\"…")
    return list(dict.fromkeys(urls[_is_short(urls).to_numpy()]))
