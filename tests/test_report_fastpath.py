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


def _as_read(posts: pd.DataFrame) -> pd.DataFrame:
    """The text columns as the report reads them from posts_coded.parquet (Arrow-backed strings)."""
    return posts.assign(**{c: posts[c].astype("string[pyarrow]") for c in ("text", "permalink", "post_id", "account")})


def _values(frame: pd.DataFrame) -> dict[str, list]:
    return {c: [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
                for v in frame[c].astype(object)] for c in frame.columns}


@pytest.mark.parametrize("impressions_dtype", ["float64", "int64", "Int64"])
@pytest.mark.parametrize("show_handles", [False, True])
@pytest.mark.parametrize("arrow_text", [False, True])
@pytest.mark.parametrize("carriage_return", [False, True])
def test_ranked_posts_fast_path_equals_the_reference(tmp_path, impressions_dtype, show_handles, arrow_text,
                                                     carriage_return):
    posts = _posts(3000, seed=len(impressions_dtype) + show_handles, impressions_dtype=impressions_dtype)
    if not carriage_return:  # without a CR the file is written slice by slice in Arrow; with one, by pandas
        posts["text"] = [v.replace("\r", "") if isinstance(v, str) else v for v in posts["text"]]
    posts = _as_read(posts) if arrow_text else posts
    posts.index = np.random.default_rng(0).permutation(len(posts)) + 17  # an index that is not 0..n-1
    ref = _reference(_ctx(posts, show_handles=show_handles))
    ranked = appendix._rank_posts(_ctx(posts, show_handles=show_handles))
    pd.testing.assert_frame_equal(ranked.frame(0, len(ranked)), ref)
    pd.testing.assert_frame_equal(ranked.frame(50, 1000), ref.iloc[50:1000])
    # the slices report_posts.csv is written from: Arrow-backed text, the same values
    assert _values(pd.concat(list(ranked.chunks(700)))) == _values(ref)
    write_csv(tmp_path / "ref.csv", ref)
    appendix.write_posts_csv(_ctx(posts, show_handles=show_handles), tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert (b"\r" in (tmp_path / "ref.csv").read_bytes()) == carriage_return
    assert ranked.n_platforms() == ref["platform"].nunique()


def test_ranked_posts_without_optional_columns_and_naive_times():
    posts = _posts(200, seed=3, impressions_dtype="float64").drop(columns=["engagements", "platform", "account"])
    posts["published_at"] = posts["published_at"].dt.tz_localize(None)

    def whole(ctx):
        ranked = appendix._rank_posts(ctx)
        return ranked.frame(0, len(ranked))

    pd.testing.assert_frame_equal(whole(_ctx(posts, tz="Asia/Kolkata")), _reference(_ctx(posts, tz="Asia/Kolkata")))
    beyond = appendix._rank_posts(_ctx(posts)).frame(250, 1000)  # fewer posts than the collapsed part starts at
    pd.testing.assert_frame_equal(beyond, _reference(_ctx(posts)).iloc[250:1000], check_index_type=False)
    no_text = posts.drop(columns=["text", "published_at"])
    pd.testing.assert_frame_equal(whole(_ctx(no_text)), _reference(_ctx(no_text)))
    assert appendix._rank_posts(_ctx(no_text)).n_platforms() == 0
    empty = posts.assign(impressions=np.nan)
    assert appendix._rank_posts(_ctx(empty)) is None and _reference(_ctx(empty)) is None


def test_ranked_posts_are_computed_once_per_report():
    ctx = _ctx(_posts(50, seed=1, impressions_dtype="int64"))
    first = appendix._ranked_posts(ctx)
    ctx.r.posts = None  # a second call must not recompute
    assert appendix._ranked_posts(ctx) is first


#: characters around @ that decide MENTION_RE: word characters of every kind (é, a combining mark, Arabic and
#: superscript digits), the look-behind's !#$%&*@＠, handles that fold (K, ſ), 15-character runs, line ends
MENTION_ALPHABET = ["@", "＠", "a", "B", "_", "9", "é", "\u0301", ".", " ", "!", "#", "&", "*", "$", "%", "K",
                    "ſ", "ourlab", "OurLab", "OURLAB_", "x" * 14, "\n", "😀", "١", "²", "-", "/", ":", "…", "\\1"]


@pytest.mark.parametrize("keep", [set(), {"ourlab"}, {"ourlab", "k", "é", "a.b"}])
def test_mention_masking_through_re2_equals_python_re(keep):
    """RE2 masks where MENTION_RE's look-behind cannot fail and no kept handle is near; Python elsewhere."""
    import pyarrow as pa

    rng = np.random.default_rng(len(keep))
    texts = ["".join(rng.choice(MENTION_ALPHABET, size=int(rng.integers(0, 12)))) for _ in range(20_000)]
    texts += [None, "", "@", "@@a", "@a.@b", "@ab@cd", "＠ab＠cd", "(@ab)", "@" + "a" * 15, "@" + "a" * 16]

    def replace(match: re.Match) -> str:
        return match.group(0) if match.group(0)[1:].lower() in keep else "@…"

    expected = [None if t is None else MENTION_RE.sub(replace, t) for t in texts]
    assert appendix._mask_mentions(pa.array(texts, type=pa.string()), keep).to_pylist() == expected


def test_formula_neutralizing_through_arrow_equals_a_per_cell_regex():
    from workbench import io

    rng = np.random.default_rng(5)
    cells = ["=1", "\ud800=x", None, 5, "＝2", "\t", "ok", "-3", "@x", float("nan"), "＋", "－1", "＠a", "\r=", " =",
             "'=", "a=b", "", "😀=", "\u200b=", "+"]
    frame = pd.DataFrame({"a": [cells[i] for i in rng.integers(0, len(cells), 500)],
                          "b": pd.Categorical(rng.choice(["+x", "x", "=", "é"], 500)),
                          "c": rng.normal(size=500)})
    # Arrow-backed text (its first character looked up in the prefixes): every text cell above, and nulls
    frame["d"] = pd.Series([c if isinstance(c, str) and "\ud800" not in c else None for c in frame["a"]],
                           dtype="string[pyarrow]")
    pattern = re.compile(io._FORMULA_RE)
    expected = frame.copy()
    for col in ("a", "b", "d"):
        expected[col] = [("'" + str(v)) if isinstance(v, str) and pattern.match(v) else v for v in frame[col]]
    got = io.neutralize_formulas(frame)
    assert got["a"].tolist() == expected["a"].tolist() and got["b"].tolist() == expected["b"].tolist()
    assert got["d"].astype(object).tolist() == expected["d"].astype(object).tolist()
    assert got["c"].equals(frame["c"])
    assert io._holds_carriage_return(pd.DataFrame({"t": ["a", "b\rc"]}))
    assert not io._holds_carriage_return(pd.DataFrame({"t": ["a", "\ud800", None]}))


def _pandas_csv(frame: pd.DataFrame) -> bytes:
    """What write_csv wrote before the Arrow path: pandas' to_csv (QUOTE_ALL when a text cell holds a CR)."""
    import csv

    from workbench import io

    neutral = io.neutralize_formulas(frame)
    quoting = csv.QUOTE_ALL if io._holds_carriage_return(frame) else csv.QUOTE_MINIMAL
    return neutral.to_csv(index=False, quoting=quoting).encode("utf-8")


def _random_frame(rng: np.random.Generator) -> pd.DataFrame:
    """Text cells that need quoting, escaping or neutralizing; floats numpy and Arrow format differently."""
    alphabet = list('ab ,"\n\t=+-@é€😀\u2028\x0b\x1c;\'\\＝') + ["", " ", "line\nbreak", '"quoted"', "http://x.y/?a=1,2"]
    n = int(rng.integers(1, 400))

    def text() -> str:
        return "".join(rng.choice(alphabet, size=int(rng.integers(0, 7))))

    objs = [[None, float("nan"), pd.NA][int(rng.integers(0, 3))] if rng.random() < .15 else text() for _ in range(n)]
    scale = rng.choice([1, 3.7, 1e10, 1e-7, -1], size=n)
    floats = rng.choice([0.1, 1.0, 1e-5, 1e16, 123456789.0, np.nan, np.inf, -0.0, 1 / 3, 2.5e-300], size=n) * scale
    frame = pd.DataFrame({"rank": np.arange(1, n + 1), "rate": floats, "text": pd.Series(objs, dtype=object),
                          "string": pd.Series(objs, dtype="string"),
                          "arrow": pd.Series([o if isinstance(o, str) else None for o in objs], dtype="string[pyarrow]"),
                          "none": None, "small": rng.integers(-5, 5, n).astype("int32"),
                          "single": rng.random(n).astype("float32")})
    frame.index = rng.permutation(n) + 3  # the index is not written
    return frame


@pytest.mark.parametrize("seed", range(6))
def test_write_csv_through_arrow_writes_the_bytes_pandas_wrote(tmp_path, seed):
    from workbench import io

    frame = _random_frame(np.random.default_rng(seed))
    parts = io._csv_bytes_arrow(io.neutralize_formulas(frame))
    assert parts is not None  # the Arrow path is the one tested
    assert b"".join(bytes(p) for p in parts) == _pandas_csv(frame)
    io.write_csv(tmp_path / "out.csv", frame)
    assert (tmp_path / "out.csv").read_bytes() == _pandas_csv(frame)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"t": ["a", "b\rc"], "n": [1, 2]}),  # a CR: pandas with QUOTE_ALL
    pd.DataFrame({"t": ["a", 5], "n": [1, 2]}),  # a number among texts
    pd.DataFrame({"t": pd.Series([b"ab", "x"], dtype=object), "n": [1, 2]}),  # bytes: pandas writes b'ab'
    pd.DataFrame({"t": pd.Series([b"ab", None], dtype=object), "n": [1, 2]}),
    pd.DataFrame({"when": pd.to_datetime(["2024-01-01", None]), "b": [True, False]}),  # dates, booleans
    pd.DataFrame({"x": pd.array([1, None], dtype="Int64"), "y": pd.array([0.5, None], dtype="Float64")}),
    pd.DataFrame({"only": ["", "a"]}),  # one column: an empty field is written as ""
    pd.DataFrame({"a,b": [1], "c": [2]}),  # a header that needs quotes
    pd.DataFrame({"t": ["\ud800", "x"], "n": [1, 2]}),  # a lone surrogate Arrow cannot hold
    pd.DataFrame({"a": pd.Series([], dtype=object), "b": pd.Series([], dtype=float)}),
])
def test_write_csv_falls_back_to_pandas_where_arrow_would_differ(tmp_path, frame):
    from workbench import io

    try:
        expected = _pandas_csv(frame)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            io.write_csv(tmp_path / "out.csv", frame)
        return
    io.write_csv(tmp_path / "out.csv", frame)
    assert (tmp_path / "out.csv").read_bytes() == expected


@pytest.mark.parametrize("seed", range(6))
def test_write_csv_chunks_writes_the_bytes_of_the_whole_frame(tmp_path, seed):
    """Slices written one after the other give write_csv's bytes for the whole frame, on the Arrow path and (a CR,
    a number among texts in one slice only) on the fallback, which leaves no temporary file behind."""
    from workbench import io

    rng = np.random.default_rng(seed)
    frame = _random_frame(rng)
    if seed == 4:
        frame.loc[frame.index[-1], "text"] = 5  # only the last slice holds a non-text object
    if seed in (2, 5):  # a CR in the last slice: the whole file is written with every field quoted
        frame.loc[frame.index[-1], "arrow"] = "a\rb"
    cuts = sorted({0, len(frame), *rng.integers(1, max(len(frame), 2), size=3).tolist()})
    slices = [frame.iloc[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
    def whole() -> pd.DataFrame:
        assert seed in (2, 4, 5), "the Arrow path should have written these slices"
        return frame

    io.write_csv_chunks(tmp_path / "out.csv", iter(slices), whole=whole)
    io.write_csv(tmp_path / "whole.csv", frame)
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes() == _pandas_csv(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "whole.csv"]


def test_neutralizing_keeps_arrow_backed_text_in_arrow():
    from workbench import io

    frame = pd.DataFrame({"t": pd.Series(["=1", None, "ok", "@x", "－2"], dtype="string[pyarrow]"), "n": range(5)})
    got = io.neutralize_formulas(frame)
    assert got["t"].dtype == "string[pyarrow]"
    assert got["t"].tolist() == ["'=1", pd.NA, "ok", "'@x", "'－2"]
    assert frame["t"].tolist() == ["=1", pd.NA, "ok", "@x", "－2"]  # the input is not changed


def test_float_text_through_arrow_equals_numpy():
    """Arrow's digits where it lays them out as numpy does, numpy's text everywhere else: rates, every scale,
    random bit patterns (subnormals, huge values), integers, ±0, ±inf, NaN and the layout boundaries."""
    from workbench import io

    rng = np.random.default_rng(11)
    n = 200_000
    values = np.concatenate([
        rng.integers(0, 5000, n) / rng.integers(1, 100_000, n),  # engagement rates
        np.exp(rng.uniform(-30, 80, n)) * rng.choice([-1, 1], n),
        rng.integers(0, 2**63, n, dtype=np.int64).view(np.float64),
        rng.integers(-10**6, 10**6, 1000).astype(float), [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324],
        *(np.nextafter(np.full(500, b), d) * (1 + rng.random(500) * 1e-12)
          for b in (1e-4, 1e-5, 1e15, 1e16, 1e17, 1.0, 0.1) for d in (-np.inf, np.inf)),
    ])
    got = io._float64_text(values).to_pylist()
    assert got == values.astype(str).tolist()


@pytest.mark.parametrize("cells", [["a", "b\rc"], ["a", "b"], ["", ""], ["\r"], ["é\r", None], ["x", None],
                                   ["😀", "\u2028", "\n"]])
def test_carriage_return_check_on_arrow_text_equals_a_per_cell_check(cells):
    from workbench import io

    frame = pd.DataFrame({"t": pd.Series(cells, dtype="string[pyarrow]")})
    assert io._holds_carriage_return(frame) == any(isinstance(c, str) and "\r" in c for c in cells)
    sliced = pd.DataFrame({"t": pd.Series(["\r", *cells], dtype="string[pyarrow]").iloc[1:]})  # an offset slice
    assert io._holds_carriage_return(sliced) == any(isinstance(c, str) and "\r" in c for c in cells)
