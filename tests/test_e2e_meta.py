"""End to end on a Facebook page + Instagram account dataset written from the README alone (issue 19, "Done when").

Synthetic look-alikes of what a communications team downloads from Meta Business Suite: a content export per
platform (UTF-8 with BOM, minimal quoting, ``Date`` = ``Lifetime``; Facebook's header carries ``Views`` twice,
as FORMATS.md documents), and the page-level series (UTF-16 with ``sep=,``, title line, ``"Date","Primary"``):
``Follows.csv`` per platform and an ``Audience.csv`` with the follower totals. The exact headers come from the
ingest tests' committed look-alikes (tests/data/ingest/meta). The report must call Meta's count "views" and
never "impressions", and its key numbers must equal an independent pandas count of the files.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.vocab import PLATFORM_TERMS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e_meta")]

META = Path(__file__).parent / "data" / "ingest" / "meta"
WORKBENCH = [sys.executable, "-m", "workbench.cli"]
FB_HEADER = next(csv.reader(io.StringIO((META / "facebook_content.csv").read_text(encoding="utf-8-sig"))))
IG_HEADER = next(csv.reader(io.StringIO((META / "instagram_posts.csv").read_text(encoding="utf-8-sig"))))
N_FB, N_IG = 61, 45  # odd, so each platform's median is one post's value

CARD = """\
name: synth_meta
title: Synth Lab on Facebook and Instagram
timezone: Europe/Oslo
posts: ["raw/content/*.csv"]
account:
  - raw/page/Follows.csv
  - raw/page/Follows (1).csv
  - raw/page/Audience.csv
interventions:
  - {date: 2025-04-01, label: Video editor joined}
analysis:
  outcomes: [impressions, engagements]
  predictors: [has_url, has_emoji, n_hashtags]
"""


def write_content(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Business Suite's content export: UTF-8 with BOM, minimal quoting, every repeated column filled alike."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))


def write_series(path: Path, blocks: list[tuple[str, list[tuple[str, str]] | str]]) -> None:
    """A page-level file: UTF-16 with BOM, ``sep=,``, a title line, then ``"Date","Primary"`` rows (or a total)."""
    lines = ["sep=,"]
    for i, (title, rows) in enumerate(blocks):
        if i:
            lines.append("")
        lines.append(f'"{title}"')
        if isinstance(rows, str):
            lines.append(f'"{rows}"')
            continue
        lines.append('"Date","Primary"')
        lines += [f'"{d}T00:00:00","{v}"' for d, v in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\r\n".join(lines).encode("utf-16") + "\r\n".encode("utf-16-le"))


def texts(rng: np.random.Generator, n: int) -> list[str]:
    parts = []
    for i in range(n):
        t = f"Study update {i}: what we found"
        if rng.random() < 0.4:
            t += " https://synthlab.example.org/news/" + str(i)
        if rng.random() < 0.3:
            t += " 🧪"
        t += " #research" * int(rng.integers(0, 3))
        parts.append(t)
    return parts


def make_dataset(folder: Path) -> None:
    rng = np.random.default_rng(19)
    days = pd.date_range("2025-01-06", "2025-06-27", freq="D")
    # Facebook: views lognormal, reach below views, engagements = reactions + comments + shares
    fb_when = np.sort(rng.choice(days, N_FB, replace=False)) + pd.to_timedelta(rng.integers(7, 20, N_FB), "h")
    fb_rows = []
    for i, (when, text) in enumerate(zip(pd.DatetimeIndex(fb_when), texts(rng, N_FB), strict=True)):
        views = int(rng.lognormal(6.0, 0.7))
        reach = int(views * rng.uniform(0.5, 0.95))
        reactions, comments, shares = (int(x) for x in rng.poisson([views / 60, views / 300, views / 400]))
        pid = f"12210000000{i:05d}"
        fb_rows.append({
            "Post ID": pid, "Page ID": "61500000000000001", "Page name": "Synth Lab", "Title": text,
            "Duration (secs)": "0", "Publish time": when.strftime("%m/%d/%Y %H:%M"), "Caption type": "N/A",
            "Permalink": f"https://www.facebook.com/permalink.php?story_fbid=pfbid{pid}&id=61500000000000001",
            "Is crosspost": "0", "Is share": "0", "Post type": "Photos", "Date": "Lifetime", "Views": str(views),
            "Reach": str(reach), "Reactions, comments and shares": str(reactions + comments + shares),
            "Reactions": str(reactions), "Comments": str(comments), "Shares": str(shares),
            "Total clicks": str(int(rng.poisson(views / 50))),
        })
    write_content(folder / "raw" / "content" / "Jan-01-2025_Jun-30-2025_1111111111111111.csv", FB_HEADER, fb_rows)
    # Instagram: starts later (as in the case), its own views, likes + comments + shares + saves
    ig_days = days[days >= "2025-02-15"]
    ig_when = np.sort(rng.choice(ig_days, N_IG, replace=False)) + pd.to_timedelta(rng.integers(7, 20, N_IG), "h")
    ig_rows = []
    for i, (when, text) in enumerate(zip(pd.DatetimeIndex(ig_when), texts(rng, N_IG), strict=True)):
        views = int(rng.lognormal(6.8, 0.6))
        likes, comments, shares, saves = (int(x) for x in rng.poisson([views / 25, views / 200, views / 300,
                                                                        views / 250]))
        pid = f"180000000{i:08d}"
        ig_rows.append({
            "Post ID": pid, "Account ID": "17841400000000001", "Account username": "synthlab",
            "Account name": "Synth Lab", "Description": text, "Duration (sec)": "0",
            "Publish time": when.strftime("%m/%d/%Y %H:%M"), "Permalink": f"https://www.instagram.com/p/SYNTH{i:04d}/",
            "Post type": "IG image", "Date": "Lifetime", "Reach": str(int(views * rng.uniform(0.4, 0.9))),
            "Likes": str(likes), "Shares": str(shares), "Follows": "0", "Comments": str(comments),
            "Saves": str(saves), "Views": str(views),
        })
    write_content(folder / "raw" / "content" / "Jan-01-2025_Jun-30-2025_2222222222222222.csv", IG_HEADER, ig_rows)
    # page-level series of one Business Suite export: daily follows per platform, the totals in Audience.csv
    series_days = [d.strftime("%Y-%m-%d") for d in days]
    fb_follows = [(d, str(int(v))) for d, v in zip(series_days, rng.poisson(6, len(days)), strict=True)]
    ig_follows = [(d, str(int(v))) for d, v in zip(series_days, rng.poisson(3, len(days)), strict=True)]
    page = folder / "raw" / "page"
    write_series(page / "Follows.csv", [("Facebook follows", fb_follows)])
    write_series(page / "Follows (1).csv", [("Instagram follows", ig_follows)])
    write_series(page / "Audience.csv", [("Facebook followers", "30222"), ("Instagram followers", "3098")])
    (folder / "dataset.yml").write_text(CARD, encoding="utf-8")


def report_text(path: Path) -> str:
    s = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", path.read_text(encoding="utf-8"), flags=re.S)
    s = re.sub(r"<[^>]+>", " ", s)
    return re.sub(r"\s+", " ", html.unescape(s))


def count_files(folder: Path) -> dict[str, pd.DataFrame]:
    """The independent count: each content export read with plain pandas (pandas names the second Views
    column Views.1; both hold the same number)."""
    fb = pd.read_csv(folder / "raw" / "content" / "Jan-01-2025_Jun-30-2025_1111111111111111.csv",
                     encoding="utf-8-sig", dtype=str)
    ig = pd.read_csv(folder / "raw" / "content" / "Jan-01-2025_Jun-30-2025_2222222222222222.csv",
                     encoding="utf-8-sig", dtype=str)
    return {"facebook": fb, "instagram": ig}


def fmt(v: float) -> str:
    return f"{round(v):,}"


@pytest.fixture(scope="module")
def meta_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("meta")
    make_dataset(root / "ds")
    proc = subprocess.run([*WORKBENCH, "run", str(root / "ds"), "--out", str(root / "run")], capture_output=True,
                          text=True, timeout=900)
    return root, proc


def test_meta_dataset_runs_and_the_report_speaks_of_views(meta_run):
    root, proc = meta_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (root / "run" / "report.html").read_text(encoding="utf-8")
    text = report_text(root / "run" / "report.html")
    assert re.search(r"\bviews\b", text) and "Top posts by views" in text
    # "impressions" appears nowhere but inside Meta's own definition of Views ("it replaced Impressions", also in
    # ingest's note), the claims section (published studies of X/Twitter posts, quoted), file column names quoted
    # in a warning and ingest's note that the posts table's impressions column holds Meta's Views
    cleaned = re.sub(r'<section id="claims"[^>]*>.*?</section>', "", page, flags=re.S)
    cleaned = report_text_from(cleaned).replace(PLATFORM_TERMS["facebook"]["views"], "")
    cleaned = cleaned.replace(PLATFORM_TERMS["instagram"]["views"], "").replace("Meta replaced Impressions with", "")
    cleaned = re.sub(r"column '[^']*'", "column ''", cleaned).replace("the posts table's impressions column", "")
    assert not re.search(r"impression", cleaned, re.I), re.findall(r".{100}impression.{40}", cleaned, re.I)[:30]
    # What works: one sub-heading per platform, each its own model
    assert re.search(r"<h4>Facebook \(its own model", page) and re.search(r"<h4>Instagram \(its own model", page)


def report_text_from(page: str) -> str:
    s = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", s)))


def test_meta_key_numbers_equal_an_independent_count(meta_run):
    root, proc = meta_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = report_text(root / "run" / "report.html")
    files = count_files(root / "ds")
    total = 0.0
    for name, df in files.items():
        views = pd.to_numeric(df["Views"])
        total += views.sum()
        label = name.capitalize()
        assert f"Posts ({label}) {len(df):,}" in text
        assert f"Views, total ({label}) {fmt(views.sum())}" in text
        assert f"Views per post, median ({label}) {fmt(views.median())}" in text
    assert f"Posts (all platforms pooled) {N_FB + N_IG:,}" in text
    assert f"Views, total (all platforms pooled) {fmt(total)}" in text
    assert f"This report covers {N_FB + N_IG:,} posts" in text


def read_series(path: Path) -> dict[str, pd.Series]:
    """An independent reading of a page-level file: title → dated values (or a total)."""
    lines = path.read_bytes().decode("utf-16").splitlines()
    out, title, rows = {}, None, []
    for line in lines[1:] + [""]:
        if not line.strip():
            if title is not None:
                out[title] = pd.Series(dict(rows), dtype=float)
            title, rows = None, []
            continue
        cells = next(csv.reader([line]))
        if title is None:
            title = cells[0]
        elif cells != ["Date", "Primary"]:
            rows.append((cells[0][:10], float(cells[1])) if len(cells) == 2 else ("total", float(cells[0])))
    return out


def test_meta_growth_and_followers_come_from_each_platforms_own_series(meta_run):
    """The README's dataset (Follows.csv + its browser twin Follows (1).csv + Audience.csv): each platform's
    follower level comes from its Audience.csv anchor, no unlabelled ("?/?") series appears, the growth stage
    compares one platform's own daily follows (never the two summed), and the numbers match the files."""
    root, proc = meta_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = report_text(root / "run" / "report.html")
    page = root / "ds" / "raw" / "page"
    fb = read_series(page / "Follows.csv")["Facebook follows"]
    ig = read_series(page / "Follows (1).csv")["Instagram follows"]
    audience = read_series(page / "Audience.csv")
    fb_total, ig_total = audience["Facebook followers"]["total"], audience["Instagram followers"]["total"]
    assert "?/?" not in text and "?/" not in (root / "run" / "results" / "growth.json").read_text()
    # follower levels: the anchors, dated by the export (the last day of the other series), one per platform
    last = pd.Timestamp(fb.index.max()).strftime("%-d %b %Y")
    assert f"Followers (Facebook, {last}; raw/page/Audience.csv) {fmt(fb_total)}" in text
    assert f"Followers (Instagram, {last}; raw/page/Audience.csv) {fmt(ig_total)}" in text
    # the daily follows are never summed into a follower count: neither sum appears as followers
    for s in (fb.sum(), ig.sum(), fb.sum() + ig.sum()):
        assert not re.search(rf"[Ff]ollowers[^0-9.]{{0,60}} {re.escape(fmt(s))}\b", text), fmt(s)
    # growth compares one platform's own series: growth.json's series is Facebook's daily follows, value by value
    growth = json.loads((root / "run" / "results" / "growth.json").read_text())
    series = pd.Series({r["date"][:10]: float(r["value"]) for r in growth["series"]})
    assert growth["basis"] == "gross_follows" and growth["level_known"] is False
    common = series.index.intersection(fb.index)
    assert len(common) >= len(fb) - 1
    assert np.allclose(series[common].to_numpy(), fb[common].to_numpy()) or np.allclose(
        series[common].diff().dropna().to_numpy(), fb[common].iloc[1:].to_numpy())
    # each platform's before/after table carries its own growth: the per-period rates are the mean daily follows of
    # that platform's own file (gross daily follows are each day's increment)
    for name, daily in (("Facebook", fb), ("Instagram", ig)):
        before, after = daily[daily.index < "2025-04-01"], daily[daily.index >= "2025-04-01"]
        rate = re.search(rf"New follows per day \(gross\) \({name}'s own series\) \+([0-9.]+) \+([0-9.]+)", text)
        assert rate, re.findall(r".{80}per day.{80}", text)[:5]
        assert float(rate.group(1)) == pytest.approx(before.mean(), abs=0.006), name
        assert float(rate.group(2)) == pytest.approx(after.mean(), abs=0.006), name
    # the executive summary gives one growth verdict per platform
    assert re.search(r"Facebook: [^.]*growth in new follows", text, re.I)
    assert re.search(r"Instagram: [^.]*growth in new follows", text, re.I)
    # the before/after is one table per platform, no pooled view; each table's post counts are the platform's
    assert "Facebook: change at Video editor joined" in text and "Instagram: change at Video editor joined" in text
    files = count_files(root / "ds")
    for name, df in files.items():
        when = pd.to_datetime(df["Publish time"], format="%m/%d/%Y %H:%M")
        n_b = int((when < "2025-04-01").sum())
        views = pd.to_numeric(df["Views"])
        med_b, med_a = views[when < "2025-04-01"].median(), views[when >= "2025-04-01"].median()
        assert (f"Views per post, median (descriptive, unadjusted) {fmt(med_b)} ({n_b} posts) {fmt(med_a)} "
                f"({len(df) - n_b} posts)") in text, name
    # the growth section shows each platform's own comparison, headed by its name, and not growth.json's beside them
    assert "the growth section below shows each platform's comparison" in text
    section = text[text.index("Growth before and after Each platform is compared apart"):]
    section = section[:section.index("Did posting raise")]
    assert section.count("over time: observed values") == 2
    assert "Facebook New follows over time" in section and "Instagram New follows over time" in section
    for name, daily in (("Facebook", fb), ("Instagram", ig)):
        block = section[section.index(f"{name} New follows over time"):]
        before = daily[daily.index < "2025-04-01"]
        rate = re.search(r"Growth per period .*? before \d+ Jan 2025 – 31 Mar 2025 \d+ ([0-9.]+) ", block)
        assert rate and float(rate.group(1)) == pytest.approx(before.mean(), abs=0.006), name
    assert f"anchored on 2025-06-27 ({fmt(fb_total)} followers)" in section
    assert f"anchored on 2025-06-27 ({fmt(ig_total)} followers)" in section


def test_meta_engagements_are_defined_per_platform(meta_run):
    root, proc = meta_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = report_text(root / "run" / "report.html")
    for name in ("facebook", "instagram"):
        assert f"{name.capitalize()}: {PLATFORM_TERMS[name]['views']}" in text
        assert f"Engagements: {PLATFORM_TERMS[name]['engagements']}" in text
    # and the posts hold each platform's own engagements: Facebook reactions + comments + shares (no clicks),
    # Instagram likes + comments + shares + saves
    posts = pd.read_parquet(root / "run" / "data" / "posts_coded.parquet")
    files = count_files(root / "ds")
    fb, ig = files["facebook"], files["instagram"]
    want = pd.concat([
        pd.Series((pd.to_numeric(fb["Reactions"]) + pd.to_numeric(fb["Comments"])
                   + pd.to_numeric(fb["Shares"])).to_numpy(), index=fb["Post ID"].to_numpy()),
        pd.Series((pd.to_numeric(ig["Likes"]) + pd.to_numeric(ig["Comments"]) + pd.to_numeric(ig["Shares"])
                   + pd.to_numeric(ig["Saves"])).to_numpy(), index=ig["Post ID"].to_numpy()),
    ])
    got = posts.set_index(posts["post_id"].astype(str))["engagements"].astype(float)
    assert sorted(got.index) == sorted(want.index)
    assert (got.loc[want.index].to_numpy() == want.to_numpy().astype(float)).all()
    assert posts.groupby("platform", observed=True).size().to_dict() == {"facebook": N_FB, "instagram": N_IG}
