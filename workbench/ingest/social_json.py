"""Bluesky and Mastodon API responses saved as JSON (by ``workbench fetch``; FORMATS.md §6).

These platforms have no analytics export; :mod:`workbench.fetch` saves each API page as one JSON file,
wrapped in an envelope ``{"workbench_fetch": {"platform", "endpoint", "url", "fetched_at", "page"},
"response": <the API's JSON>}``. Formats, recognised by content:

* ``bluesky_feed`` → posts: ``app.bsky.feed.getAuthorFeed`` pages (an envelope, or a bare ``{"feed": [...]}``).
  post_id is the post's ``at://`` URI; likes/reposts/replies/quotes/bookmarks from ``likeCount``,
  ``repostCount``, ``replyCount``, ``quoteCount``, ``bookmarkCount`` (NA when absent: all are optional in the
  lexicon). An item with ``reason`` ``#reasonRepost`` is a repost by the account (``is_repost``; its id is the
  repost record's URI, its account the reposter, its counts NA because they belong to the original post).
  ``is_reply`` = the record has ``reply``. media_type from the view embed: images/gallery → photo, video →
  video, external → link_card (gif when the link is a GIF, e.g. Tenor), a quote with media → that media,
  a plain quote or no embed → none.
* ``mastodon_statuses`` → posts: ``/api/v1/accounts/:id/statuses`` pages (an envelope, or a bare list of
  Statuses). likes/reposts/replies/quotes from ``favourites_count``, ``reblogs_count``, ``replies_count``,
  ``quotes_count`` (4.5+; NA when absent). ``is_reply`` = ``in_reply_to_id`` set; a boost (``reblog`` set)
  is ``is_repost`` with the boosted status's text and media, and the boost's own counts. media_type: poll →
  poll, else the first attachment (video, gifv → gif, image → photo, audio), else a preview card → link_card,
  else none. Text is the HTML ``content`` as plain text (paragraphs and line breaks become newlines).
  ``is_quote`` = the status has a ``quote`` (Mastodon 4.5+); on Bluesky, a record embed (quote post).
  The account is ``user@instance``.
* ``bluesky_profile`` / ``mastodon_profile`` → account: the profile snapshot saved with the feed
  (``followersCount`` / ``followers_count``) as followers on the fetch day (``fetched_at``, UTC), with
  ``postsCount`` / ``statuses_count`` left out (a running total, not posts that day). Envelope only, because
  the fetch time is needed.

Impressions, reach, clicks, media views and follows: these platforms report none (NA). Engagements are the sum of
the interactions each platform does count per post (:data:`ENGAGEMENT_PARTS`: Mastodon favourites + replies + boosts;
Bluesky likes + replies + reposts + quotes), NA when any part is NA — the definitions ``workbench.vocab`` prints.
``source_row`` is the item's position in its page (1-based).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .common import FileOutcome, ParseContext, Reasons, parse_counts
from .rawcsv import STRING, RawTable
from .x_legacy import finish_posts

BLUESKY_FEED_FORMAT = "bluesky_feed"
BLUESKY_PROFILE_FORMAT = "bluesky_profile"
MASTODON_STATUSES_FORMAT = "mastodon_statuses"
MASTODON_PROFILE_FORMAT = "mastodon_profile"
ENVELOPE = "workbench_fetch"

BSKY_FEED_ENDPOINT = "app.bsky.feed.getAuthorFeed"
BSKY_PROFILE_ENDPOINT = "app.bsky.actor.getProfile"
MASTODON_STATUSES_ENDPOINT = "/api/v1/accounts/:id/statuses"
MASTODON_PROFILE_ENDPOINT = "/api/v1/accounts/lookup"


class JsonDocument:
    """A loaded JSON file: the API response, the envelope's metadata (empty for a bare response), the path."""

    def __init__(self, path: Path, data: Any) -> None:
        self.path = path
        if isinstance(data, dict) and isinstance(data.get(ENVELOPE), dict) and "response" in data:
            self.meta: dict = data[ENVELOPE]
            self.response = data["response"]
        else:
            self.meta = {}
            self.response = data

    @property
    def endpoint(self) -> str:
        return str(self.meta.get("endpoint", ""))



#: what a post's ``engagements`` add up to on each platform (the definitions ``vocab.PLATFORM_TERMS`` prints)
ENGAGEMENT_PARTS = {"mastodon": ("likes", "replies", "reposts"), "bluesky": ("likes", "replies", "reposts", "quotes")}


def _engagements(counts: dict[str, pd.Series], platform: str) -> pd.Series:
    """The sum of the platform's interaction counts per post; NA where any of them is NA (never a partial sum)."""
    parts = [counts[k].astype("Int64") for k in ENGAGEMENT_PARTS[platform]]
    total = parts[0].copy()
    for p in parts[1:]:
        total = total + p  # Int64 arithmetic: NA propagates
    return total

def sniff_json(head: bytes) -> bool:
    """True when a file's first non-blank byte opens a JSON object or array."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1] in (b"{", b"[")


def load_json(path: str | Path, *, label: str | None = None) -> JsonDocument:
    """Read a JSON file (UTF-8) into a :class:`JsonDocument`; InputError naming the line when it is not JSON."""
    path = Path(path)
    label = label or str(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot open the file ({exc.strerror}); expected a JSON API response", file=label) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); expected a JSON API response",
                         file=label) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); expected a JSON "
                         "API response as saved by `workbench fetch`", file=label, row=exc.lineno) from None
    return JsonDocument(path, data)


# ---- matching -------------------------------------------------------------------------------------------------

def matches_bluesky_feed(doc: JsonDocument) -> bool:
    """A getAuthorFeed page: the envelope says so, or a bare ``{"feed": [{"post": ...}, ...]}``."""
    if doc.meta:
        return doc.endpoint == BSKY_FEED_ENDPOINT
    r = doc.response
    return (isinstance(r, dict) and isinstance(r.get("feed"), list)
            and all(isinstance(i, dict) and "post" in i for i in r["feed"][:5]) and len(r["feed"]) > 0)


def matches_mastodon_statuses(doc: JsonDocument) -> bool:
    """A statuses page: the envelope says so, or a bare non-empty list of Statuses."""
    if doc.meta:
        return doc.endpoint == MASTODON_STATUSES_ENDPOINT
    r = doc.response
    return (isinstance(r, list) and len(r) > 0
            and all(isinstance(s, dict) and "favourites_count" in s and "content" in s for s in r[:5]))


def matches_bluesky_profile(doc: JsonDocument) -> bool:
    """A getProfile snapshot saved by ``workbench fetch``."""
    return doc.endpoint == BSKY_PROFILE_ENDPOINT


def matches_mastodon_profile(doc: JsonDocument) -> bool:
    """An accounts/lookup snapshot saved by ``workbench fetch``."""
    return doc.endpoint == MASTODON_PROFILE_ENDPOINT


# ---- helpers --------------------------------------------------------------------------------------------------

def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _text(values: list[Any]) -> pd.Series:
    """Values as strings (``""`` for missing); numbers keep their JSON spelling."""
    out = []
    for v in values:
        if v is None:
            out.append("")
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, (dict, list)):
            out.append(json.dumps(v, ensure_ascii=False))
        else:
            out.append(str(v))
    return pd.Series(pd.array(out, dtype=STRING))


def _raw_table(doc: JsonDocument, fields: dict[str, list[Any]]) -> RawTable:
    """The extracted fields of a page as a RawTable (what quarantine.csv shows), rows numbered 1, 2, ..."""
    data = pd.DataFrame({k: _text(v) for k, v in fields.items()})
    n = len(data)
    return RawTable(path=doc.path, header=list(fields), data=data, rows=np.arange(1, n + 1, dtype=np.int64),
                    bad=pd.DataFrame(columns=["source_row", "reason", *fields]))


def _counts(raw: RawTable, reasons: Reasons, columns: dict[str, str]) -> dict[str, pd.Series]:
    out = {}
    for target, field in columns.items():
        values, bad, why = parse_counts(raw.data[field], label=field)
        reasons.add(bad, why)
        out[target] = values
    return out


def _published(raw: RawTable, reasons: Reasons, field: str, ctx: ParseContext) -> pd.Series:
    s = raw.data[field].str.strip()
    t = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
    reasons.add(t.isna(), lambda: f"{field} '" + s + "' is not an ISO 8601 time like 2024-05-01T12:00:00.000Z")
    now = pd.Timestamp.now(tz="UTC") if ctx.now is None else ctx.now
    reasons.add(t > now + pd.Timedelta(days=1),
                lambda: f"{field} '" + s + f"' is more than 1 day in the future (now is {now:%Y-%m-%d %H:%M} UTC)")
    return t


def _na_ints(n: int) -> pd.arrays.IntegerArray:
    return pd.array([pd.NA] * n, dtype="Int64")


def _page_items(doc: JsonDocument, key: str | None, fmt: str, label: str) -> list:
    items = doc.response.get(key) if key and isinstance(doc.response, dict) else doc.response
    if not isinstance(items, list):
        raise InputError(f"expected a list of {'feed items' if key else 'statuses'} in the {fmt} page, found "
                         f"{type(items).__name__}", file=label)
    return items


# ---- Bluesky --------------------------------------------------------------------------------------------------

_GIF = re.compile(r"(?:\.gif(?:\?|$)|//media\.tenor\.com/|//(?:media\d*\.)?giphy\.com/)", re.IGNORECASE)


def bluesky_media_type(embed: Any) -> str:
    """media_type of a Bluesky post from its view embed (see the module docstring)."""
    kind = str(_get(embed, "$type") or "")
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        return bluesky_media_type(_get(embed, "media"))
    if kind.startswith(("app.bsky.embed.images", "app.bsky.embed.gallery")):
        return "photo"
    if kind.startswith("app.bsky.embed.video"):
        return "video"
    if kind.startswith("app.bsky.embed.external"):
        uri = str(_get(embed, "external", "uri") or "")
        return "gif" if _GIF.search(uri) else "link_card"
    return "none"


def parse_bluesky_feed(doc: JsonDocument, ctx: ParseContext) -> FileOutcome:
    """A getAuthorFeed page → posts rows (see the module docstring)."""
    items = _page_items(doc, "feed", BLUESKY_FEED_FORMAT, ctx.source_file)
    posts = [_get(i, "post") or {} for i in items]
    reasons_raw = [_get(i, "reason") or {} for i in items]
    is_repost = [str(_get(r, "$type") or "").endswith("#reasonRepost") for r in reasons_raw]
    uris = [str(p.get("uri") or "") for p in posts]
    ids = [(str(r.get("uri") or f"{_get(r, 'by', 'did') or ''}/repost/{u}") if rep else u)
           for r, u, rep in zip(reasons_raw, uris, is_repost, strict=True)]
    handles = [(_get(r, "by", "handle") if rep else _get(p, "author", "handle")) or ""
               for p, r, rep in zip(posts, reasons_raw, is_repost, strict=True)]
    fields = {
        "post_id": ids,
        "uri": uris,
        "author": [_get(p, "author", "handle") for p in posts],
        "account": handles,
        "createdAt": [_get(p, "record", "createdAt") or p.get("indexedAt") for p in posts],
        "repostedAt": [_get(r, "indexedAt") if rep else None for r, rep in zip(reasons_raw, is_repost, strict=True)],
        "text": [_get(p, "record", "text") for p in posts],
        "embed": [str(_get(p, "embed", "$type") or "") for p in posts],
        "reply": [bool(_get(p, "record", "reply")) for p in posts],
        "likeCount": [p.get("likeCount") for p in posts],
        "repostCount": [p.get("repostCount") for p in posts],
        "replyCount": [p.get("replyCount") for p in posts],
        "quoteCount": [p.get("quoteCount") for p in posts],
        "bookmarkCount": [p.get("bookmarkCount") for p in posts],
    }
    raw = _raw_table(doc, fields)
    d = raw.data
    reasons = Reasons(d.index)
    reasons.add((d["uri"] == "").to_numpy(dtype=bool), "post.uri missing")
    reasons.add((d["account"] == "").to_numpy(dtype=bool), "post.author.handle (or reason.by.handle) missing")
    # a repost is dated when it was reposted; an own post when it was written
    rep = np.asarray(is_repost, dtype=bool)
    reposted = rep & (d["repostedAt"] != "").to_numpy(dtype=bool, na_value=False)
    raw.data["createdAt"] = d["createdAt"].where(~reposted, d["repostedAt"])
    published = _published(raw, reasons, "createdAt", ctx)
    counts = _counts(raw, reasons, {"likes": "likeCount", "reposts": "repostCount", "replies": "replyCount",
                                    "quotes": "quoteCount", "bookmarks": "bookmarkCount"})
    for k in counts:  # a repost's counts are the original post's
        counts[k] = counts[k].mask(rep, pd.NA)
    handle = d["account"]
    permalink = "https://bsky.app/profile/" + d["author"] + "/post/" + d["uri"].str.extract(r"([^/]*)$", expand=False)
    n = len(d)
    out = pd.DataFrame({
        "post_id": d["post_id"], "platform": "bluesky", "account": handle, "published_at": published,
        "text": d["text"], "permalink": permalink, **counts,
        "impressions": _na_ints(n), "engagements": _engagements(counts, "bluesky"), "url_clicks": _na_ints(n),
        "profile_clicks": _na_ints(n), "media_views": _na_ints(n), "follows": _na_ints(n), "reach": _na_ints(n),
        "media_type": pd.array([bluesky_media_type(_get(p, "embed")) for p in posts], dtype="string"),
        "is_reply": (d["reply"] == "true").astype("boolean"), "is_repost": pd.array(rep, dtype="boolean"),
        "is_quote": pd.array(~rep & d["embed"].str.contains(r"app\.bsky\.embed\.record(?:WithMedia)?#view",
                                                         regex=True).to_numpy(dtype=bool, na_value=False),
                             dtype="boolean"),
        "source_format": BLUESKY_FEED_FORMAT, "source_file": ctx.source_file, "source_row": raw.rows,
    }, index=d.index)
    return finish_posts(raw, ctx, out, reasons, BLUESKY_FEED_FORMAT)


# ---- Mastodon -------------------------------------------------------------------------------------------------

_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def html_to_text(content: pd.Series) -> pd.Series:
    """Mastodon HTML content → plain text: paragraphs and ``<br>`` become newlines, tags go, entities decode."""
    s = content.str.replace(_BREAK.pattern, "\n", regex=True, case=False)
    s = s.str.replace(_TAG.pattern, "", regex=True)
    has_entity = s.str.contains("&", regex=False).to_numpy(dtype=bool, na_value=False)
    if has_entity.any():
        s = s.astype(object)
        s[has_entity] = [html.unescape(t) for t in s[has_entity]]
        s = s.astype(STRING)
    return s


def mastodon_media_type(status: dict) -> str:
    """media_type of a Mastodon status (see the module docstring)."""
    if status.get("poll"):
        return "poll"
    types = [str(_get(m, "type") or "") for m in status.get("media_attachments") or []]
    for wanted, label in (("video", "video"), ("gifv", "gif"), ("image", "photo"), ("audio", "audio")):
        if wanted in types:
            return label
    if types:
        return "unknown"
    if status.get("card"):
        return "link_card"
    return "none"


def mastodon_account(account: Any) -> str:
    """``user@instance`` from an Account's ``username``/``acct`` and ``url``."""
    acct = str(_get(account, "acct") or "")
    if "@" in acct:
        return acct.lstrip("@")
    user = str(_get(account, "username") or acct)
    host = re.sub(r"^https?://([^/]+)/.*$", r"\1", str(_get(account, "url") or ""))
    return f"{user}@{host}" if user and host and "/" not in host else user


def parse_mastodon_statuses(doc: JsonDocument, ctx: ParseContext) -> FileOutcome:
    """A statuses page → posts rows (see the module docstring)."""
    items = _page_items(doc, None, MASTODON_STATUSES_FORMAT, ctx.source_file)
    items = [s if isinstance(s, dict) else {} for s in items]
    shown = [s.get("reblog") if isinstance(s.get("reblog"), dict) else s for s in items]
    fields = {
        "id": [s.get("id") for s in items],
        "account": [mastodon_account(s.get("account")) for s in items],
        "created_at": [s.get("created_at") for s in items],
        "url": [s.get("url") or s.get("uri") for s in items],
        "content": [s.get("content") for s in shown],
        "in_reply_to_id": [s.get("in_reply_to_id") for s in items],
        "reblog": [_get(s, "reblog", "id") for s in items],
        "favourites_count": [s.get("favourites_count") for s in items],
        "reblogs_count": [s.get("reblogs_count") for s in items],
        "replies_count": [s.get("replies_count") for s in items],
        "quotes_count": [s.get("quotes_count") for s in items],
        "quote": [_get(s, "quote", "id") or _get(s, "quote", "quoted_status", "id") or _get(s, "quote", "state")
                  for s in items],
    }
    raw = _raw_table(doc, fields)
    d = raw.data
    reasons = Reasons(d.index)
    post_id = d["id"].str.strip()
    empty = (post_id == "").to_numpy(dtype=bool)
    reasons.add(empty, "status id missing")
    reasons.add((d["account"] == "").to_numpy(dtype=bool), "account missing")
    published = _published(raw, reasons, "created_at", ctx)
    counts = _counts(raw, reasons, {"likes": "favourites_count", "reposts": "reblogs_count",
                                    "replies": "replies_count", "quotes": "quotes_count"})
    n = len(d)
    out = pd.DataFrame({
        "post_id": post_id, "platform": "mastodon", "account": d["account"], "published_at": published,
        "text": html_to_text(d["content"]), "permalink": d["url"], **counts,
        "impressions": _na_ints(n), "engagements": _engagements(counts, "mastodon"), "bookmarks": _na_ints(n),
        "url_clicks": _na_ints(n), "profile_clicks": _na_ints(n), "media_views": _na_ints(n),
        "follows": _na_ints(n), "reach": _na_ints(n),
        "media_type": pd.array([mastodon_media_type(s) for s in shown], dtype="string"),
        "is_reply": (d["in_reply_to_id"] != "").astype("boolean"),
        "is_repost": (d["reblog"] != "").astype("boolean"),
        "is_quote": (d["quote"] != "").astype("boolean"),
        "source_format": MASTODON_STATUSES_FORMAT, "source_file": ctx.source_file, "source_row": raw.rows,
    }, index=d.index)
    return finish_posts(raw, ctx, out, reasons, MASTODON_STATUSES_FORMAT)


# ---- profile snapshots ----------------------------------------------------------------------------------------

def _parse_profile(doc: JsonDocument, ctx: ParseContext, *, fmt: str, platform: str, account: str,
                   followers_field: str) -> FileOutcome:
    from .account_csv import finish_account

    r = doc.response if isinstance(doc.response, dict) else {}
    raw = _raw_table(doc, {"fetched_at": [doc.meta.get("fetched_at")], "account": [account],
                           followers_field: [r.get(followers_field)]})
    d = raw.data
    reasons = Reasons(d.index)
    fetched = pd.to_datetime(d["fetched_at"].str.strip(), format="ISO8601", utc=True, errors="coerce")
    reasons.add(fetched.isna(), lambda: "fetched_at '" + d["fetched_at"] + "' is not an ISO 8601 time")
    reasons.add((d["account"] == "").to_numpy(dtype=bool), "the profile has no handle")
    followers, bad, why = parse_counts(d[followers_field], label=followers_field)
    reasons.add(bad, why)
    reasons.add(followers.isna() & ~bad, f"{followers_field} missing")
    na_int = _na_ints(1)
    out = pd.DataFrame({
        "date": fetched.dt.tz_localize(None).dt.normalize(), "platform": platform, "account": d["account"],
        "followers": followers, "new_follows": na_int, "unfollows": na_int, "impressions": na_int,
        "engagements": na_int, "posts": na_int, "source_format": fmt, "source_file": ctx.source_file,
        "source_row": raw.rows,
    }, index=d.index)
    return finish_account(raw, ctx, out, reasons, fmt, check_order=False, warn_na=False)


def parse_bluesky_profile(doc: JsonDocument, ctx: ParseContext) -> FileOutcome:
    """A getProfile snapshot → one account row: followers on the fetch day (UTC)."""
    handle = str(_get(doc.response, "handle") or "")
    return _parse_profile(doc, ctx, fmt=BLUESKY_PROFILE_FORMAT, platform="bluesky", account=handle,
                          followers_field="followersCount")


def parse_mastodon_profile(doc: JsonDocument, ctx: ParseContext) -> FileOutcome:
    """An accounts/lookup snapshot → one account row: followers on the fetch day (UTC)."""
    return _parse_profile(doc, ctx, fmt=MASTODON_PROFILE_FORMAT, platform="mastodon",
                          account=mastodon_account(doc.response), followers_field="followers_count")


# ---- Mastodon account archive ("Request your archive": outbox.json + actor.json) -------------------------------
# ActivityStreams JSON. outbox.json is an OrderedCollection of the account's activities: a ``Create`` of a
# ``Note`` (a ``Question`` when it is a poll) is a post, an ``Announce`` is a boost (repost) whose object is only
# the boosted post's URL (no text). ``inReplyTo`` set → reply; a quote link (``quoteUri``, ``quoteUrl``,
# ``quote``, ``_misskey_quote``) → quote. Archives carry no impressions or reach (NA); likes and boosts only
# where the Note has ``likes``/``shares`` collections with ``totalItems`` (newer servers), else NA. The post id
# is the status id (the last part of the Note's id, as the API gives it). actor.json → the follower count where
# the archive has one (``followers_count``, ``followersCount`` or a ``followers`` collection's
# ``totalItems``), dated at the archive's latest activity (the outbox next to it), since the actor has no date.

MASTODON_OUTBOX_FORMAT = "mastodon_outbox"
MASTODON_ACTOR_FORMAT = "mastodon_actor"
_QUOTE_KEYS = ("quoteUri", "quoteUrl", "quote", "_misskey_quote")
_ACTOR = re.compile(r"^https?://(?P<host>[^/]+)/(?:users/|@)(?P<name>[^/?#]+)")


def _is_activitystreams(r: Any) -> bool:
    ctx = r.get("@context") if isinstance(r, dict) else None
    ctxs = ctx if isinstance(ctx, list) else [ctx]
    return any(isinstance(c, str) and "activitystreams" in c for c in ctxs)


def matches_mastodon_outbox(doc: JsonDocument) -> bool:
    """A Mastodon archive's outbox.json: an ActivityStreams OrderedCollection of activities."""
    r = doc.response
    return (not doc.meta and _is_activitystreams(r) and r.get("type") == "OrderedCollection"
            and isinstance(r.get("orderedItems"), list))


def matches_mastodon_actor(doc: JsonDocument) -> bool:
    """A Mastodon archive's actor.json: an ActivityStreams Person (or Service/Group/Organization)."""
    r = doc.response
    return (not doc.meta and _is_activitystreams(r)
            and r.get("type") in ("Person", "Service", "Group", "Organization", "Application"))


def _actor_account(url: Any) -> str:
    m = _ACTOR.match(str(url or ""))
    return f"{m.group('name')}@{m.group('host')}" if m else ""


def _status_id(url: Any) -> str:
    parts = [p for p in str(url or "").split("/") if p and p != "activity"]
    return parts[-1] if parts else ""


def _total(obj: Any) -> Any:
    return obj.get("totalItems") if isinstance(obj, dict) else None


def _note_media(note: dict) -> str:
    if note.get("type") == "Question":
        return "poll"
    kinds = [str(a.get("mediaType") or "") for a in note.get("attachment") or [] if isinstance(a, dict)]
    for prefix, media in (("video/", "video"), ("image/gif", "gif"), ("image/", "photo"), ("audio/", "audio")):
        if any(k.startswith(prefix) for k in kinds):
            return media
    return "none"


def parse_mastodon_outbox(doc: JsonDocument, ctx: ParseContext) -> FileOutcome:
    """outbox.json → posts rows (see the notes above)."""
    items = [i if isinstance(i, dict) else {} for i in doc.response.get("orderedItems") or []]
    kinds = [str(i.get("type") or "") for i in items]
    keep = [k in ("Create", "Announce") and (k == "Announce" or isinstance(i.get("object"), dict)
                                             and i["object"].get("type") in ("Note", "Question", "Article"))
            for i, k in zip(items, kinds, strict=True)]
    skipped: dict[str, int] = {}
    for i, k, ok in zip(items, kinds, keep, strict=True):
        if not ok:
            what = k if k != "Create" else f"Create of {_get(i, 'object', 'type') or 'an object'}"
            skipped[what or "untyped"] = skipped.get(what or "untyped", 0) + 1
    acts = [i for i, ok in zip(items, keep, strict=True) if ok]
    notes = [i["object"] if isinstance(i.get("object"), dict) else {} for i in acts]
    boost = [i.get("type") == "Announce" for i in acts]
    fields = {
        "id": [_status_id(i.get("id")) if b else _status_id(n.get("id")) for i, n, b in zip(acts, notes, boost, strict=True)],
        "type": [i.get("type") for i in acts],
        "account": [_actor_account(i.get("actor") or n.get("attributedTo")) for i, n in zip(acts, notes, strict=True)],
        "published": [i.get("published") if b else (n.get("published") or i.get("published"))
                      for i, n, b in zip(acts, notes, boost, strict=True)],
        "url": [i.get("object") if b else (n.get("url") or n.get("id")) for i, n, b in zip(acts, notes, boost, strict=True)],
        "content": [n.get("content") for n in notes],
        "inReplyTo": [n.get("inReplyTo") for n in notes],
        "quote": [next((n.get(k) for k in _QUOTE_KEYS if n.get(k)), None) for n in notes],
        "likes": [_total(n.get("likes")) for n in notes],
        "shares": [_total(n.get("shares")) for n in notes],
        "replies": [_total(n.get("replies")) for n in notes],
    }
    raw = _raw_table(doc, fields)
    d = raw.data
    reasons = Reasons(d.index)
    reasons.add((d["id"] == "").to_numpy(dtype=bool), "activity without an id")
    reasons.add((d["account"] == "").to_numpy(dtype=bool), "actor is not an account URL like https://host/users/name")
    published = _published(raw, reasons, "published", ctx)
    counts = _counts(raw, reasons, {"likes": "likes", "reposts": "shares", "replies": "replies"})
    n = len(d)
    rep = np.asarray(boost, dtype=bool)
    out = pd.DataFrame({
        "post_id": d["id"], "platform": "mastodon", "account": d["account"], "published_at": published,
        "text": html_to_text(d["content"]).where(~rep), "permalink": d["url"], **counts,
        "quotes": _na_ints(n), "impressions": _na_ints(n), "engagements": _engagements(counts, "mastodon"),
        "bookmarks": _na_ints(n),
        "url_clicks": _na_ints(n), "profile_clicks": _na_ints(n), "media_views": _na_ints(n),
        "follows": _na_ints(n), "reach": _na_ints(n),
        "media_type": pd.array([None if b else _note_media(x) for x, b in zip(notes, boost, strict=True)], dtype="string"),
        "is_reply": (d["inReplyTo"] != "").astype("boolean"),
        "is_repost": pd.array(rep, dtype="boolean"),
        "is_quote": (d["quote"] != "").astype("boolean"),
        "source_format": MASTODON_OUTBOX_FORMAT, "source_file": ctx.source_file, "source_row": raw.rows,
    }, index=d.index)
    outcome = finish_posts(raw, ctx, out, reasons, MASTODON_OUTBOX_FORMAT)
    outcome.warnings.append(f"{ctx.source_file}: a Mastodon archive: no impressions or reach (NA)"
                            + ("" if out["likes"].notna().any() else "; no like or boost counts either (NA)"))
    if skipped:
        outcome.warnings.append(f"{ctx.source_file}: activities that are not posts or boosts skipped: "
                                + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    # source_row counts the kept activities; say where they are among all of them
    return outcome


def parse_mastodon_actor(doc: JsonDocument, ctx: ParseContext) -> FileOutcome:
    """actor.json → one account row with the follower count where the archive has one (see the notes above)."""
    from .account_csv import finish_account

    r = doc.response
    account = _actor_account(r.get("id") or r.get("url"))
    if not account and r.get("preferredUsername"):
        account = str(r.get("preferredUsername"))
    count = next((v for v in (r.get("followers_count"), r.get("followersCount"), _total(r.get("followers")))
                  if v is not None), None)
    raw = _raw_table(doc, {"account": [account], "followers": [count]})
    d = raw.data
    reasons = Reasons(d.index)
    followers, bad, why = parse_counts(d["followers"], label="followers")
    reasons.add(bad, why)
    na_int = _na_ints(1)
    out = pd.DataFrame({
        "date": pd.Series([pd.NaT], dtype="datetime64[ns]"), "platform": "mastodon", "account": d["account"],
        "followers": followers, "new_follows": na_int, "unfollows": na_int, "impressions": na_int,
        "engagements": na_int, "posts": na_int, "source_format": MASTODON_ACTOR_FORMAT,
        "source_file": ctx.source_file, "source_row": raw.rows,
    }, index=d.index)
    warnings = []
    if count is None:  # nothing to keep: the archive's actor has no count (the usual case)
        out = out.iloc[0:0]
        raw = _raw_table(doc, {"account": [], "followers": []})
        reasons = Reasons(raw.data.index)
        warnings.append(f"{ctx.source_file}: the Mastodon actor holds no follower count (archives usually do "
                        "not); for a follower level, save a profile snapshot with `workbench fetch`")
    outcome = finish_account(raw, ctx, out, reasons, MASTODON_ACTOR_FORMAT, check_order=False, warn_na=False,
                             extra_warnings=warnings)
    return outcome
