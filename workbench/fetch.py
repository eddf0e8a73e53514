"""Fetch an account's public posts from Bluesky or Mastodon into raw JSON files (``workbench fetch``).

Neither platform offers an analytics export, but both serve public posts with like/repost/reply counts.
:func:`fetch_bluesky` pages through ``app.bsky.feed.getAuthorFeed`` (cursor) on the public AppView;
:func:`fetch_mastodon` looks the account up (``/api/v1/accounts/lookup``) and pages through
``/api/v1/accounts/:id/statuses`` (``Link: <…>; rel="next"``, else ``max_id``). Each API page is written as one
JSON file, atomically, wrapped in an envelope that records where and when it was fetched::

    {"workbench_fetch": {"version": 1, "platform": "bluesky", "endpoint": "app.bsky.feed.getAuthorFeed",
                         "url": "https://…", "fetched_at": "2026-11-23T18:52:28Z", "page": 1},
     "response": { …the API's JSON, unchanged… }}

plus a profile snapshot (followers count at ``fetched_at``) for the account table. Files are named
``<platform>_<account>_<fetched_at>_feed_0001.json`` / ``…_profile.json`` so a later fetch sorts after an
earlier one (ingest keeps the latest copy of a post). :mod:`workbench.ingest.social_json` reads them.

HTTP goes through a small client object with one method, ``get(url, params) -> (json, headers)``, so tests
inject recorded responses and never touch the network; :class:`UrllibClient` is the real one (standard
library only, retries on 429/5xx honouring ``Retry-After``).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from . import __version__
from .errors import InputError, WorkbenchError
from .io import write_json

BLUESKY_APPVIEW = "https://public.api.bsky.app"
BSKY_FEED_ENDPOINT = "app.bsky.feed.getAuthorFeed"
BSKY_PROFILE_ENDPOINT = "app.bsky.actor.getProfile"
MASTODON_STATUSES_ENDPOINT = "/api/v1/accounts/:id/statuses"
MASTODON_PROFILE_ENDPOINT = "/api/v1/accounts/lookup"
BLUESKY_PAGE_LIMIT = 100  # lexicon maximum
MASTODON_PAGE_LIMIT = 40  # API maximum

_BSKY_HANDLE = re.compile(r"^(?:did:[a-z]+:[A-Za-z0-9._:%-]+|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                          r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)$")
_MASTODON_ACCT = re.compile(r"^@?(?P<user>[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*)@(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
                            r"(?::\d+)?)$")
_LINK_NEXT = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")


class FetchError(WorkbenchError):
    """The platform could not be reached or refused the request (names the URL and the status)."""


class HttpClient(Protocol):
    """What the fetchers need from HTTP: GET a URL with query parameters, return ``(parsed JSON, headers)``."""

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, Mapping[str, str]]: ...


@dataclass
class UrllibClient:
    """The real client: ``urllib.request`` with a timeout, a User-Agent and retries on 429 and 5xx."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 2.0
    user_agent: str = f"dissemination-workbench/{__version__} (+research analytics; urllib)"
    sleep: Callable[[float], None] = time.sleep

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, Mapping[str, str]]:
        full = url + ("?" + urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
                      if params else "")
        req = urllib.request.Request(full, headers={"User-Agent": self.user_agent, "Accept": "application/json"})
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (https URLs we build)
                    body = resp.read()
                    headers = {k.lower(): v for k, v in resp.headers.items()}
                break
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", errors="replace")
                if (exc.code == 429 or exc.code >= 500) and attempt < self.retries:
                    wait = exc.headers.get("Retry-After")
                    self.sleep(float(wait) if wait and wait.isdigit() else self.backoff * 2**attempt)
                    continue
                if exc.code in (400, 404):
                    raise InputError(f"{full}: HTTP {exc.code} ({detail.strip() or exc.reason}). "
                                     "Check the account name.") from None
                raise FetchError(f"{full}: HTTP {exc.code} ({detail.strip() or exc.reason})") from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                if attempt < self.retries:
                    self.sleep(self.backoff * 2**attempt)
                    continue
                reason = getattr(exc, "reason", exc)
                raise FetchError(f"{full}: cannot connect ({reason}). Check the network and the instance name.") from None
        try:
            return json.loads(body.decode("utf-8")), headers
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FetchError(f"{full}: the response is not JSON ({exc})") from None


@dataclass
class FetchResult:
    """What one fetch wrote: the page files, the profile snapshot, how many items, and when."""

    platform: str
    account: str
    fetched_at: str
    pages: list[Path] = field(default_factory=list)
    profile: Path | None = None
    items: int = 0
    stopped: str = ""


def _stamp(now: pd.Timestamp | None) -> pd.Timestamp:
    t = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).floor("s")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def _envelope(platform: str, endpoint: str, url: str, params: Mapping[str, Any] | None, fetched_at: str,
              page: int | None, response: Any) -> dict:
    query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
    meta = {"version": 1, "platform": platform, "endpoint": endpoint, "url": url + (f"?{query}" if query else ""),
            "fetched_at": fetched_at, "tool": f"dissemination-workbench {__version__}"}
    if page is not None:
        meta["page"] = page
    return {"workbench_fetch": meta, "response": response}


def _since(since: str | pd.Timestamp | None) -> pd.Timestamp | None:
    if since is None:
        return None
    try:
        t = pd.Timestamp(since)
    except (ValueError, TypeError):
        raise InputError(f"--since {since!r} is not a date like 2024-01-01") from None
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _oldest(times: list[Any]) -> pd.Timestamp | None:
    t = pd.to_datetime(pd.Series([x for x in times if x], dtype=object), format="ISO8601", utc=True, errors="coerce")
    return None if t.dropna().empty else t.min()


def fetch_bluesky(handle: str, *, out: str | Path, client: HttpClient | None = None,
                  base_url: str = BLUESKY_APPVIEW, max_pages: int | None = None,
                  since: str | pd.Timestamp | None = None, now: pd.Timestamp | None = None) -> FetchResult:
    """Save a Bluesky account's author feed (one JSON file per page) and profile snapshot into ``out``.

    Parameters
    ----------
    handle
        ``name.bsky.social``, a custom-domain handle or a ``did:plc:…`` (a leading ``@`` is dropped).
    out
        Folder for the files (a dataset's ``raw/``); created when missing.
    client
        HTTP client (default :class:`UrllibClient`); tests pass recorded responses.
    max_pages, since
        Stop after this many pages, or once a page reaches posts older than ``since`` (that page is kept).

    Returns
    -------
    FetchResult
        The files written and the number of feed items.
    """
    handle = handle.strip().lstrip("@")
    if not _BSKY_HANDLE.match(handle):
        raise InputError(f"{handle!r} is not a Bluesky handle (like name.bsky.social) or a DID (did:plc:…)")
    client = client or UrllibClient()
    stamp = _stamp(now)
    fetched_at = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    stem = f"bluesky_{_safe(handle)}_{stamp:%Y%m%dT%H%M%SZ}"
    out = Path(out)
    since_t = _since(since)
    result = FetchResult("bluesky", handle, fetched_at)

    url = f"{base_url}/xrpc/{BSKY_PROFILE_ENDPOINT}"
    params = {"actor": handle}
    profile, _ = client.get(url, params)
    result.profile = write_json(out / f"{stem}_profile.json",
                                _envelope("bluesky", BSKY_PROFILE_ENDPOINT, url, params, fetched_at, None, profile))

    url = f"{base_url}/xrpc/{BSKY_FEED_ENDPOINT}"
    cursor: str | None = None
    seen: set[str] = set()
    page = 0
    while True:
        params = {"actor": handle, "limit": BLUESKY_PAGE_LIMIT, "cursor": cursor}
        body, _ = client.get(url, params)
        if not isinstance(body, dict) or not isinstance(body.get("feed"), list):
            raise FetchError(f"{url}: expected {{'feed': [...]}}, found {str(body)[:200]}")
        feed = body["feed"]
        if not feed and page > 0:
            result.stopped = "end of feed"
            break
        page += 1
        result.pages.append(write_json(out / f"{stem}_feed_{page:04d}.json",
                                       _envelope("bluesky", BSKY_FEED_ENDPOINT, url, params, fetched_at, page, body)))
        result.items += len(feed)
        cursor = body.get("cursor")
        oldest = _oldest([((i.get("post") or {}).get("record") or {}).get("createdAt") for i in feed])
        if not cursor or cursor in seen or not feed:
            result.stopped = "end of feed"
            break
        if since_t is not None and oldest is not None and oldest < since_t:
            result.stopped = f"reached posts before {since_t:%Y-%m-%d}"
            break
        if max_pages is not None and page >= max_pages:
            result.stopped = f"max_pages={max_pages}"
            break
        seen.add(cursor)
    return result


def parse_mastodon_account(acct: str) -> tuple[str, str]:
    """``@user@instance`` → ``(user, instance)``; InputError for anything else."""
    m = _MASTODON_ACCT.match(acct.strip())
    if not m:
        raise InputError(f"{acct!r} is not a Mastodon account like @user@instance.social")
    return m.group("user"), m.group("host")


def _next_link(headers: Mapping[str, str]) -> str | None:
    link = next((v for k, v in headers.items() if k.lower() == "link"), "")
    m = _LINK_NEXT.search(link or "")
    return m.group(1) if m else None


def fetch_mastodon(acct: str, *, out: str | Path, client: HttpClient | None = None, max_pages: int | None = None,
                   since: str | pd.Timestamp | None = None, now: pd.Timestamp | None = None) -> FetchResult:
    """Save a Mastodon account's statuses (one JSON file per page) and account snapshot into ``out``.

    ``acct`` is ``@user@instance``. The account is looked up on its own instance; pages follow the ``Link``
    header's ``rel="next"`` URL, or ``max_id`` = the last status id when the header is missing. Other
    parameters as in :func:`fetch_bluesky`.
    """
    user, host = parse_mastodon_account(acct)
    client = client or UrllibClient()
    stamp = _stamp(now)
    fetched_at = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    stem = f"mastodon_{_safe(user)}_{_safe(host)}_{stamp:%Y%m%dT%H%M%SZ}"
    out = Path(out)
    since_t = _since(since)
    result = FetchResult("mastodon", f"{user}@{host}", fetched_at)
    base = f"https://{host}"

    url = base + MASTODON_PROFILE_ENDPOINT
    params: dict[str, Any] = {"acct": user}
    account, _ = client.get(url, params)
    if not isinstance(account, dict) or not account.get("id"):
        raise FetchError(f"{url}: expected an Account with an id, found {str(account)[:200]}")
    result.profile = write_json(out / f"{stem}_profile.json",
                                _envelope("mastodon", MASTODON_PROFILE_ENDPOINT, url, params, fetched_at, None,
                                          account))

    url = f"{base}/api/v1/accounts/{urllib.parse.quote(str(account['id']))}/statuses"
    params = {"limit": MASTODON_PAGE_LIMIT}
    page = 0
    while True:
        body, headers = client.get(url, params)
        if not isinstance(body, list):
            raise FetchError(f"{url}: expected a list of statuses, found {str(body)[:200]}")
        if not body and page > 0:
            result.stopped = "end of statuses"
            break
        page += 1
        result.pages.append(write_json(out / f"{stem}_statuses_{page:04d}.json",
                                       _envelope("mastodon", MASTODON_STATUSES_ENDPOINT, url, params, fetched_at,
                                                 page, body)))
        result.items += len(body)
        if not body:
            result.stopped = "end of statuses"
            break
        oldest = _oldest([s.get("created_at") for s in body if isinstance(s, dict)])
        if since_t is not None and oldest is not None and oldest < since_t:
            result.stopped = f"reached posts before {since_t:%Y-%m-%d}"
            break
        if max_pages is not None and page >= max_pages:
            result.stopped = f"max_pages={max_pages}"
            break
        nxt = _next_link(headers)
        if nxt:  # the next URL carries max_id and limit itself
            url, params = nxt, {}
        else:
            last = body[-1].get("id") if isinstance(body[-1], dict) else None
            if not last or params.get("max_id") == last:
                result.stopped = "end of statuses"
                break
            params = {"limit": MASTODON_PAGE_LIMIT, "max_id": last}
    return result


def describe_fetch(result: FetchResult) -> str:
    """One line for the terminal: what was written where."""
    where = result.pages[0].parent if result.pages else (result.profile.parent if result.profile else "")
    return (f"{result.platform} {result.account}: {result.items} item(s) in {len(result.pages)} page file(s) "
            f"+ profile snapshot → {where} ({result.stopped or 'done'})")
