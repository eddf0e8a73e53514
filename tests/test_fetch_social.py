"""Bluesky and Mastodon: ``workbench fetch`` (with recorded responses, never the network) and their ingest.

The recorded responses in tests/data/ingest/social/ were written by hand from the atproto lexicons and the
Mastodon documentation examples (../shared/fixtures/exports/reference); expected values are read off them.
"""

from __future__ import annotations

import io
import json
import urllib.error
from pathlib import Path

import pandas as pd
import pytest

from workbench import cli, fetch
from workbench.errors import InputError, UnknownFormatError
from workbench.fetch import (
    FetchError,
    UrllibClient,
    fetch_bluesky,
    fetch_mastodon,
    parse_mastodon_account,
)
from workbench.ingest import detect_format, read_files
from workbench.ingest.social_json import bluesky_media_type, html_to_text, mastodon_media_type

DATA = Path(__file__).parent / "data" / "ingest" / "social"
NOW = pd.Timestamp("2026-02-01", tz="UTC")
FETCHED = pd.Timestamp("2026-01-10 12:00:00", tz="UTC")
BSKY_FEED = sorted(DATA.glob("bluesky_*_feed_*.json"))
BSKY_PROFILE = DATA / "bluesky_synthlab.bsky.social_20260110T120000Z_profile.json"
MASTO_STATUSES = DATA / "mastodon_synthlab_scholar.social_20260110T120000Z_statuses_0001.json"
MASTO_PROFILE = DATA / "mastodon_synthlab_scholar.social_20260110T120000Z_profile.json"
BSKY = "https://public.api.bsky.app/xrpc/"


def recorded(path: Path):
    return json.loads(path.read_text())["response"]


class FakeClient:
    """Serves recorded responses keyed by (url, params); records every call; unknown requests fail the test."""

    def __init__(self, responses: dict[tuple[str, tuple], tuple]) -> None:
        self.responses = responses
        self.calls: list[tuple[str, dict]] = []

    def get(self, url, params=None):
        key = (url, tuple(sorted((k, str(v)) for k, v in (params or {}).items() if v is not None)))
        self.calls.append((url, dict(params or {})))
        if key not in self.responses:
            raise AssertionError(f"unexpected request {key}")
        body, headers = self.responses[key]
        return json.loads(json.dumps(body)), headers


def bsky_client(*, cursor_repeats: bool = False) -> FakeClient:
    page1, page2 = recorded(BSKY_FEED[0]), recorded(BSKY_FEED[1])
    if cursor_repeats:
        page2 = dict(page2, cursor=page1["cursor"])
    return FakeClient({
        (BSKY + "app.bsky.actor.getProfile", (("actor", "synthlab.bsky.social"),)): (recorded(BSKY_PROFILE), {}),
        (BSKY + "app.bsky.feed.getAuthorFeed", (("actor", "synthlab.bsky.social"), ("limit", "100"))): (page1, {}),
        (BSKY + "app.bsky.feed.getAuthorFeed", (("actor", "synthlab.bsky.social"), ("cursor", page1["cursor"]),
                                                ("limit", "100"))): (page2, {}),
    })


# ---- fetch ------------------------------------------------------------------------------------------------------


def test_fetch_bluesky_pages_with_the_cursor(tmp_path):
    client = bsky_client()
    result = fetch_bluesky("@synthlab.bsky.social", out=tmp_path, client=client, now=FETCHED)
    assert [c[1].get("cursor") for c in client.calls] == [None, None, "2025-12-01T09:00:00.000Z"]
    assert result.items == 9 and len(result.pages) == 2 and result.stopped == "end of feed"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in [*BSKY_FEED, BSKY_PROFILE])  # same naming as the recorded files
    env = json.loads(result.pages[1].read_text())
    meta = env["workbench_fetch"]
    assert (meta["platform"], meta["endpoint"], meta["fetched_at"], meta["page"]) == (
        "bluesky", "app.bsky.feed.getAuthorFeed", "2026-01-10T12:00:00Z", 2)
    assert "cursor=2025-12-01T09%3A00%3A00.000Z" in meta["url"]
    assert env["response"] == recorded(BSKY_FEED[1])  # the API's JSON, unchanged
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_fetch_bluesky_stops_on_max_pages_since_and_repeated_cursor(tmp_path):
    r = fetch_bluesky("synthlab.bsky.social", out=tmp_path / "a", client=bsky_client(), max_pages=1, now=FETCHED)
    assert len(r.pages) == 1 and r.stopped == "max_pages=1"
    r = fetch_bluesky("synthlab.bsky.social", out=tmp_path / "b", client=bsky_client(), since="2026-01-01",
                      now=FETCHED)
    assert len(r.pages) == 1 and r.stopped.startswith("reached posts before 2026-01-01")
    client = bsky_client(cursor_repeats=True)
    r = fetch_bluesky("synthlab.bsky.social", out=tmp_path / "c", client=client, now=FETCHED)
    assert len(r.pages) == 2 and len(client.calls) == 3  # a cursor seen before ends the loop


def test_fetch_rejects_bad_account_names(tmp_path):
    with pytest.raises(InputError, match="not a Bluesky handle"):
        fetch_bluesky("not a handle", out=tmp_path, client=FakeClient({}))
    with pytest.raises(InputError, match="not a Mastodon account like @user@instance"):
        fetch_mastodon("@synthlab", out=tmp_path, client=FakeClient({}))
    assert parse_mastodon_account("@synthlab@scholar.social") == ("synthlab", "scholar.social")
    assert parse_mastodon_account("synth.lab@mastodon.example.org") == ("synth.lab", "mastodon.example.org")


def _masto_pages(n: int) -> list[list[dict]]:
    statuses = recorded(MASTO_STATUSES)
    return [statuses[:4], statuses[4:8], []][:n]


def test_fetch_mastodon_follows_link_headers(tmp_path):
    base = "https://scholar.social/api/v1/accounts/109000000000000001/statuses"
    p1, p2, p3 = _masto_pages(3)
    nxt = f"{base}?limit=40&max_id=115000000000000004"
    client = FakeClient({
        ("https://scholar.social/api/v1/accounts/lookup", (("acct", "synthlab"),)): (recorded(MASTO_PROFILE), {}),
        (base, (("limit", "40"),)): (p1, {"Link": f'<{nxt}>; rel="next", <{base}?min_id=1>; rel="prev"'}),
        (nxt, ()): (p2, {"link": f'<{base}?limit=40&max_id=115000000000000008>; rel="next"'}),
        (f"{base}?limit=40&max_id=115000000000000008", ()): (p3, {}),
    })
    r = fetch_mastodon("@synthlab@scholar.social", out=tmp_path, client=client, now=FETCHED)
    assert r.items == 8 and len(r.pages) == 2 and r.stopped == "end of statuses"
    assert r.account == "synthlab@scholar.social"
    assert [c[0] for c in client.calls][-2:] == [nxt, f"{base}?limit=40&max_id=115000000000000008"]
    profile = json.loads(r.profile.read_text())
    assert profile["workbench_fetch"]["endpoint"] == "/api/v1/accounts/lookup"
    assert profile["response"]["followers_count"] == 877


def test_fetch_mastodon_falls_back_to_max_id(tmp_path):
    base = "https://scholar.social/api/v1/accounts/109000000000000001/statuses"
    p1, p2, p3 = _masto_pages(3)
    client = FakeClient({
        ("https://scholar.social/api/v1/accounts/lookup", (("acct", "synthlab"),)): (recorded(MASTO_PROFILE), {}),
        (base, (("limit", "40"),)): (p1, {}),
        (base, (("limit", "40"), ("max_id", p1[-1]["id"]))): (p2, {}),
        (base, (("limit", "40"), ("max_id", p2[-1]["id"]))): (p3, {}),
    })
    r = fetch_mastodon("@synthlab@scholar.social", out=tmp_path, client=client, now=FETCHED)
    assert len(r.pages) == 2 and r.items == 8


def test_an_account_without_posts_gives_one_empty_page(tmp_path):
    client = FakeClient({
        (BSKY + "app.bsky.actor.getProfile", (("actor", "new.bsky.social"),)): (
            {"handle": "new.bsky.social", "followersCount": 0}, {}),
        (BSKY + "app.bsky.feed.getAuthorFeed", (("actor", "new.bsky.social"), ("limit", "100"))): ({"feed": []}, {}),
    })
    r = fetch_bluesky("new.bsky.social", out=tmp_path, client=client, now=FETCHED)
    assert len(r.pages) == 1 and r.items == 0
    ing = read_files(sorted(tmp_path.iterdir()), root=tmp_path, now=NOW)
    assert ing.posts.empty and ing.account["followers"].tolist() == [0]  # 0 followers is a value, not NA
    assert {(f["format"], f["rows_read"]) for f in ing.log["files"]} == {("bluesky_feed", 0), ("bluesky_profile", 1)}


def test_fetched_files_ingest_end_to_end(tmp_path):
    fetch_bluesky("synthlab.bsky.social", out=tmp_path, client=bsky_client(), now=FETCHED)
    r = read_files(sorted(tmp_path.iterdir()), root=tmp_path, now=NOW)
    assert len(r.posts) == 7 and len(r.account) == 1
    assert r.account["followers"].tolist() == [1234]


# ---- the real HTTP client, with urlopen replaced ----------------------------------------------------------------


class _Resp(io.BytesIO):
    def __init__(self, body: bytes, headers: dict) -> None:
        super().__init__(body)
        self.headers = headers

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _http_error(url, code, headers=None, body=b"{}"):
    return urllib.error.HTTPError(url, code, "err", headers or {}, io.BytesIO(body))


def test_urllib_client_retries_then_succeeds(monkeypatch):
    calls, sleeps = [], []

    def urlopen(req, timeout):
        calls.append(req.full_url)
        if len(calls) == 1:
            raise _http_error(req.full_url, 429, {"Retry-After": "7"})
        if len(calls) == 2:
            raise _http_error(req.full_url, 503)
        return _Resp(b'{"ok": true}', {"Link": "<x>; rel=\"next\""})

    monkeypatch.setattr(fetch.urllib.request, "urlopen", urlopen)
    client = UrllibClient(sleep=sleeps.append, backoff=0.5)
    body, headers = client.get("https://h.example/api", {"a": 1, "cursor": None})
    assert body == {"ok": True} and headers["link"] == '<x>; rel="next"'
    assert calls == ["https://h.example/api?a=1"] * 3
    assert sleeps == [7.0, 1.0]  # Retry-After first, then backoff * 2**attempt


def test_urllib_client_errors_name_the_url(monkeypatch):
    monkeypatch.setattr(fetch.urllib.request, "urlopen",
                        lambda req, timeout: (_ for _ in ()).throw(_http_error(req.full_url, 404, body=b"Not found")))
    with pytest.raises(InputError, match=r"https://h\.example/x: HTTP 404 \(Not found\)"):
        UrllibClient(sleep=lambda s: None).get("https://h.example/x")

    def down(req, timeout):
        raise urllib.error.URLError("name resolution failed")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", down)
    with pytest.raises(FetchError, match="cannot connect .*name resolution failed"):
        UrllibClient(sleep=lambda s: None, retries=1).get("https://h.example/x")
    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda req, timeout: _Resp(b"<html>", {}))
    with pytest.raises(FetchError, match="not JSON"):
        UrllibClient().get("https://h.example/x")


def test_cli_fetch(monkeypatch, tmp_path, capsys):
    client = bsky_client()
    monkeypatch.setattr(fetch.UrllibClient, "get", lambda self, url, params=None: client.get(url, params))
    assert cli.main(["fetch", "bluesky", "synthlab.bsky.social", "--out", str(tmp_path), "--max-pages", "1"]) == 0
    assert "bluesky synthlab.bsky.social: 7 item(s) in 1 page file(s)" in capsys.readouterr().out
    assert cli.main(["fetch", "mastodon", "nobody", "--out", str(tmp_path)]) == 2
    assert "not a Mastodon account" in capsys.readouterr().err

    def offline(self, url, params=None):
        raise FetchError(f"{url}: cannot connect")

    monkeypatch.setattr(fetch.UrllibClient, "get", offline)
    assert cli.main(["fetch", "mastodon", "@a@b.example", "--out", str(tmp_path)]) == 1


# ---- ingest -----------------------------------------------------------------------------------------------------


def _posts():
    r = read_files(sorted(DATA.glob("*.json")), root=DATA, now=NOW)
    return r, r.posts.set_index("post_id")


def test_detected_by_content():
    for f in BSKY_FEED:
        assert detect_format(f) == "bluesky_feed"
    assert detect_format(BSKY_PROFILE) == "bluesky_profile"
    assert detect_format(MASTO_STATUSES) == "mastodon_statuses"
    assert detect_format(MASTO_PROFILE) == "mastodon_profile"


def test_bare_api_responses_are_recognised(tmp_path):
    (tmp_path / "feed.json").write_text(json.dumps(recorded(BSKY_FEED[1])))
    (tmp_path / "statuses.json").write_text(json.dumps(recorded(MASTO_STATUSES)))
    assert detect_format(tmp_path / "feed.json") == "bluesky_feed"
    assert detect_format(tmp_path / "statuses.json") == "mastodon_statuses"
    (tmp_path / "other.json").write_text('{"data": [1, 2]}')
    with pytest.raises(UnknownFormatError, match=r"other\.json: a JSON API response .* found keys \['data'\]"):
        read_files([tmp_path / "other.json"], now=NOW)
    (tmp_path / "broken.json").write_text('{"feed": [')
    with pytest.raises(InputError, match=r"broken\.json, row 1: not valid JSON"):
        read_files([tmp_path / "broken.json"], now=NOW)


def test_accounting_per_file():
    r, _ = _posts()
    got = {f["file"]: (f["format"], f["table"], f["rows_read"], f["rows_kept"], f["rows_quarantined"],
                       f["rows_superseded"]) for f in r.log["files"]}
    assert got == {
        BSKY_FEED[0].name: ("bluesky_feed", "posts", 7, 5, 2, 0),
        BSKY_FEED[1].name: ("bluesky_feed", "posts", 2, 2, 0, 0),
        BSKY_PROFILE.name: ("bluesky_profile", "account", 1, 1, 0, 0),
        MASTO_PROFILE.name: ("mastodon_profile", "account", 1, 1, 0, 0),
        MASTO_STATUSES.name: ("mastodon_statuses", "posts", 9, 7, 1, 1),
    }
    q = r.quarantine
    reasons = dict(zip(zip(q["source_file"], q["source_row"], strict=True), q["reason"], strict=True))
    assert reasons[(BSKY_FEED[0].name, 6)] == "column 'likeCount': '-1' is negative (a count cannot be)"
    assert reasons[(BSKY_FEED[0].name, 7)].startswith("createdAt 'yesterday' is not an ISO 8601 time")
    assert reasons[(MASTO_STATUSES.name, 8)] == "column 'favourites_count': 'many' is not a number"


def test_bluesky_posts():
    _, p = _posts()
    did = "at://did:plc:synthlab000000000000000/"
    own = p.loc[did + "app.bsky.feed.post/3lbimages01"]
    assert (own["likes"], own["reposts"], own["replies"], own["quotes"], own["bookmarks"]) == (42, 5, 3, 1, 2)
    assert own["published_at"] == pd.Timestamp("2026-01-08 15:30:00.123", tz="UTC")
    assert own["media_type"] == "photo" and not own["is_reply"] and not own["is_repost"]
    assert own["account"] == "synthlab.bsky.social" and own["platform"] == "bluesky"
    assert own["permalink"] == "https://bsky.app/profile/synthlab.bsky.social/post/3lbimages01"
    assert own["text"] == "New paper out! #openscience with @ally.bsky.social 🎉"
    reply = p.loc[did + "app.bsky.feed.post/3lbreply002"]
    assert reply["is_reply"] and reply["media_type"] == "link_card"
    repost = p.loc[did + "app.bsky.feed.repost/3lbrepost04"]
    assert repost["is_repost"] and repost["account"] == "synthlab.bsky.social"
    assert repost["published_at"] == pd.Timestamp("2026-01-06 12:00", tz="UTC")  # when it was reposted
    assert pd.isna(repost["likes"]) and pd.isna(repost["reposts"])  # counts belong to the original post
    assert p.loc[did + "app.bsky.feed.post/3lbquote005", "media_type"] == "video"  # quote with video
    gif = p.loc[did + "app.bsky.feed.post/3lbgif0006"]
    assert gif["media_type"] == "gif" and pd.isna(gif["likes"])  # counts are optional in the lexicon: NA
    assert p.loc[did + "app.bsky.feed.post/3lbgallery10", "media_type"] == "photo"
    assert p.loc[did + "app.bsky.feed.post/3lbtext0009", "media_type"] == "none"
    bsky = p[p["platform"] == "bluesky"]
    for col in ("impressions", "reach", "url_clicks", "profile_clicks", "media_views", "follows"):
        assert bsky[col].isna().all(), col
    # engagements = likes + replies + reposts + quotes (vocab's definition); NA when any part is (a repost's counts
    # are the original's; counts are optional in the lexicon)
    parts = bsky[["likes", "replies", "reposts", "quotes"]]
    complete = parts.notna().all(axis=1)
    assert complete.any() and (bsky.loc[complete, "engagements"] == parts[complete].sum(axis=1)).all()
    assert bsky.loc[~complete, "engagements"].isna().all() and pd.isna(repost["engagements"])


def test_mastodon_posts():
    _, p = _posts()
    first = p.loc["115000000000000001"]
    assert (first["likes"], first["reposts"], first["replies"], first["quotes"]) == (11, 6, 5, 2)
    assert first["text"] == "New paper & data out! #openscience\nThanks @ally\nLink: https://example.org/paper"
    assert first["media_type"] == "photo" and first["account"] == "synthlab@scholar.social"
    assert first["permalink"] == "https://scholar.social/@synthlab/115000000000000001"
    assert pd.isna(p.loc["115000000000000002", "quotes"])  # server before 4.5: NA, not 0
    kinds = p.loc[[f"11500000000000000{i}" for i in range(2, 8)], "media_type"].tolist()
    assert kinds == ["gif", "poll", "link_card", "video", "none", "audio"]
    boost = p.loc["115000000000000005"]
    assert boost["is_repost"] and boost["text"] == "Our workshop video" and boost["likes"] == 0
    reply = p.loc["115000000000000006"]
    assert reply["is_reply"] and reply["text"] == "@ally agreed, <3"
    masto = p[p["platform"] == "mastodon"]
    for col in ("impressions", "reach", "bookmarks", "url_clicks", "media_views"):
        assert masto[col].isna().all(), col
    # engagements = favourites + replies + boosts (vocab's definition); quotes are not part of it
    assert first["engagements"] == 11 + 5 + 6
    parts = masto[["likes", "replies", "reposts"]]
    assert (masto["engagements"] == parts.sum(axis=1, min_count=3)).all()


def test_profile_snapshots_become_followers():
    r, _ = _posts()
    a = r.account.set_index("platform", drop=False)
    assert a.loc["bluesky", "followers"] == 1234 and a.loc["mastodon", "followers"] == 877
    assert (a["date"] == pd.Timestamp("2026-01-10")).all()
    assert a.loc["mastodon", "account"] == "synthlab@scholar.social"
    assert a[["new_follows", "unfollows", "impressions", "posts"]].isna().all().all()


def test_media_type_rules():
    assert bluesky_media_type(None) == "none"
    assert bluesky_media_type({"$type": "app.bsky.embed.recordWithMedia#view",
                               "media": {"$type": "app.bsky.embed.images#view"}}) == "photo"
    assert bluesky_media_type({"$type": "app.bsky.embed.external#view",
                               "external": {"uri": "https://example.org/a.GIF"}}) == "gif"
    assert mastodon_media_type({"poll": {"id": "1"}, "media_attachments": []}) == "poll"
    assert mastodon_media_type({"media_attachments": [{"type": "image"}, {"type": "video"}]}) == "video"
    assert mastodon_media_type({"media_attachments": [{"type": "unknown"}]}) == "unknown"
    s = pd.Series(["<p>a</p><p>b<br/>c &amp; d</p>", "plain"], dtype="string")
    assert html_to_text(s).tolist() == ["a\nb\nc & d", "plain"]
