"""The report's ranked posts (top-posts table and report_posts.csv) are computed once and vectorized: the fast path
must give exactly what the per-post reference gives, on adversarial texts, values and timestamps."""

from __future__ import annotations

import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from workbench.features import MENTION_RE
from workbench.io import write_csv
from workbench.report import appendix
from workbench.report.format import NA_TEXT
from workbench.report.render import ReportContext

_URL_IN_TEXT = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", flags=re.IGNORECASE)


def _reference(ctx) -> pd.DataFrame | None:
    """The implementation before the fast path (sort the frame, pandas string methods and strftime per post)."""
    posts = ctx.r.posts
    if posts is None or "impressions" not in posts or posts["impressions"].notna().sum() == 0:
        return None
    ranked = posts.assign(imp=pd.to_numeric(posts["impressions"], errors="coerce"))
    ranked = ranked.sort_values("imp", ascending=False, kind="stable", na_position="last")
    text = ranked["text"].astype("string") if "text" in ranked else pd.Series(pd.NA, index=ranked.index, dtype="string")
    if not ctx.show_handles:
        own = ranked["account"].dropna().astype(str).unique() if "account" in ranked else ()
        keep = {str(h).strip().lstrip("@＠").lower() for h in own if isinstance(h, str) and h.strip()}

        def replace(match: re.Match) -> str:
            return match.group(0) if match.group(0)[1:].lower() in keep else "@…"

        text = text.astype("string").str.replace(MENTION_RE, replace, regex=True)
    text = text.str.replace(_URL_IN_TEXT, "[link]", regex=True).fillna("")
    text = text.where(text.str.len() <= 280, text.str.slice(0, 279) + "…")
    when = (ctx.local(ranked["published_at"]).dt.strftime("%Y-%m-%d %H:%M") if "published_at" in ranked
            else pd.Series(NA_TEXT, index=ranked.index))
    eng = (pd.to_numeric(ranked["engagements"], errors="coerce") if "engagements" in ranked
           else pd.Series(float("nan"), index=ranked.index))
    rate = (eng / ranked["imp"]).where(ranked["imp"] > 0)
    return pd.DataFrame({
        "rank": range(1, len(ranked) + 1),
        "published": when.fillna(NA_TEXT).to_numpy(),
        "text": text.to_numpy(),
        "impressions": ranked["imp"].to_numpy(),
        "engagement_rate": rate.to_numpy(),
        "permalink": ranked["permalink"].to_numpy() if "permalink" in ranked else None,
        "post_id": ranked["post_id"].astype("string").to_numpy() if "post_id" in ranked else None,
        "platform": ranked["platform"].astype("string").to_numpy() if "platform" in ranked else None,
    })


def _ctx(posts: pd.DataFrame, *, tz: str = "America/New_York", show_handles: bool = False):
    results = SimpleNamespace(posts=posts)
    f = SimpleNamespace(results=results, timezone=tz)
    ctx = SimpleNamespace(f=f, r=results, show_handles=show_handles, cache={}, tz=ZoneInfo(tz))
    ctx.local = lambda ts: ReportContext.local(ctx, ts)
    return ctx


TEXTS = [
    "Read it @OurLab and @someone_else https://t.co/abc", "@ourlab at the start, e-mail me: a@b.org", "＠Fullwidth",
    "no mention here", "", None, "HTTPS://EXAMPLE.ORG/x\u00a0after a no-break space", "www.example.org/y",
    "WWW.Example.org and Www.x.y", "httpſ://long-s.example/ (folds to s)", "ftp://files.example/a b",
    "ends with a link http://x.y", "a" * 279 + "é", "b" * 280 + "🧵", "😀" * 300, "=1+2 @x @OurLab!",
    "@toolonghandle_1234567 and @ok", "mail: x@y.z www.", "://bare", "line\nbreak @Some\u2003https://a.b/c\u2003d",
    "tab\t@a\r\n", "🧵 1/ @a_b", "x" * 500 + " https://t.co/" + "y" * 50,
    # every character Python's \\s takes for a space ends a link; a zero-width space does not
    *(f"see http://a.example/{c}tail www.b.example{c}end" for c in
      "\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"),
    "HtTpS://MiXeD.example FTP://up.example fTp:/not wWw.case.example", "https://mastodon.social/@someone @www.x.org",
    " @www.example.org", "x@www.example.org", "http://a.b/c@d e@f http://", "www.", "WWW.\u00a0", "httpS://ſ.example",
]


def _posts(n: int, seed: int, *, impressions_dtype: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    imp = rng.choice([0, 1, 5, 5, 5, 10, 1000, -3], size=n).astype(float)
    imp[rng.random(n) < 0.15] = np.nan
    eng = rng.integers(0, 50, size=n).astype(float)
    eng[rng.random(n) < 0.1] = np.nan
    ts = pd.Series(pd.to_datetime("2023-03-12 06:30", utc=True)
                   + pd.to_timedelta(rng.integers(-400, 400, size=n), unit="h")
                   + pd.to_timedelta(rng.integers(0, 60_000_000, size=n), unit="us"))
    ts[rng.random(n) < 0.1] = pd.NaT
    frame = pd.DataFrame({
        "post_id": [str(10**18 + i) for i in range(n)],
        "platform": pd.Categorical(rng.choice(["x", "facebook"], size=n)),
        "account": rng.choice(["OurLab", "ourlab", None], size=n),
        "published_at": ts,
        "text": [TEXTS[i] for i in rng.integers(0, len(TEXTS), size=n)],
        "permalink": [f"https://x.com/OurLab/status/{i}" for i in range(n)],
        "impressions": imp,
        "engagements": eng,
    })
    if impressions_dtype == "int64":
        frame["impressions"] = frame["impressions"].fillna(7).astype("int64")
        frame["engagements"] = frame["engagements"].fillna(0).astype("int64")
    elif impressions_dtype == "Int64":
        frame["impressions"] = frame["impressions"].astype("Int64")
        frame["engagements"] = frame["engagements"].astype("Int64")
    return frame


@pytest.mark.parametrize("impressions_dtype", ["float64", "int64", "Int64"])
@pytest.mark.parametrize("show_handles", [False, True])
def test_ranked_posts_fast_path_equals_the_reference(tmp_path, impressions_dtype, show_handles):
    posts = _posts(3000, seed=len(impressions_dtype) + show_handles, impressions_dtype=impressions_dtype)
    posts.index = np.random.default_rng(0).permutation(len(posts)) + 17  # an index that is not 0..n-1
    ref, fast = _reference(_ctx(posts, show_handles=show_handles)), appendix._rank_posts(_ctx(posts,
                                                                                         show_handles=show_handles))
    pd.testing.assert_frame_equal(fast, ref)
    write_csv(tmp_path / "ref.csv", ref)
    write_csv(tmp_path / "fast.csv", fast)
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_ranked_posts_without_optional_columns_and_naive_times():
    posts = _posts(200, seed=3, impressions_dtype="float64").drop(columns=["engagements", "platform", "account"])
    posts["published_at"] = posts["published_at"].dt.tz_localize(None)
    pd.testing.assert_frame_equal(appendix._rank_posts(_ctx(posts, tz="Asia/Kolkata")),
                                  _reference(_ctx(posts, tz="Asia/Kolkata")))
    no_text = posts.drop(columns=["text", "published_at"])
    pd.testing.assert_frame_equal(appendix._rank_posts(_ctx(no_text)), _reference(_ctx(no_text)))
    empty = posts.assign(impressions=np.nan)
    assert appendix._rank_posts(_ctx(empty)) is None and _reference(_ctx(empty)) is None


def test_ranked_posts_are_computed_once_per_report():
    ctx = _ctx(_posts(50, seed=1, impressions_dtype="int64"))
    first = appendix._ranked_posts(ctx)
    ctx.r.posts = None  # a second call must not recompute
    assert appendix._ranked_posts(ctx) is first


def test_formula_neutralizing_through_arrow_equals_a_per_cell_regex():
    from workbench import io

    rng = np.random.default_rng(5)
    cells = ["=1", "\ud800=x", None, 5, "＝2", "\t", "ok", "-3", "@x", float("nan"), "＋", "－1", "＠a", "\r=", " =",
             "'=", "a=b", "", "😀=", "\u200b=", "+"]
    frame = pd.DataFrame({"a": [cells[i] for i in rng.integers(0, len(cells), 500)],
                          "b": pd.Categorical(rng.choice(["+x", "x", "=", "é"], 500)),
                          "c": rng.normal(size=500)})
    pattern = re.compile(io._FORMULA_RE)
    expected = frame.copy()
    for col in ("a", "b"):
        expected[col] = [("'" + str(v)) if isinstance(v, str) and pattern.match(v) else v for v in frame[col]]
    got = io.neutralize_formulas(frame)
    assert got["a"].tolist() == expected["a"].tolist() and got["b"].tolist() == expected["b"].tolist()
    assert got["c"].equals(frame["c"])
    assert io._holds_carriage_return(pd.DataFrame({"t": ["a", "b\rc"]}))
    assert not io._holds_carriage_return(pd.DataFrame({"t": ["a", "\ud800", None]}))
