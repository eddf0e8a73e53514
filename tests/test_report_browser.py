"""The report in a real browser: offline, no script runs, images decode, prints to A4, fits a phone.

One headless Chromium (Debian's, driven by the ``playwright`` package's bundled driver; no browser download)
serves the whole module. The tests skip, saying why, when Chromium or playwright is absent.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.report import find_chromium, render_report, screenshot_report

sys.path.insert(0, str(Path(__file__).parent))
from browser import LAUNCH_ARGS, OPTIONAL_HEADINGS, TABLE_FIT_JS, open_offline  # noqa: E402
from browser import SECTION_HEADINGS as REGISTERED  # noqa: E402

#: the synthetic runs here have no paid data, so "Paid results" is left out
SECTION_HEADINGS = [h for h in REGISTERED if h not in OPTIONAL_HEADINGS]
from test_report import EVIL_TEXT, TODAY, make_dataset, make_posts, write_run  # noqa: E402

CHROMIUM = find_chromium() or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
if CHROMIUM is None:
    pytest.skip(
        "Chromium is not installed (Debian's /usr/bin/chromium; `make test` installs it when run as root, or set "
        "WORKBENCH_CHROMIUM): the report's browser tests are skipped",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[dev]')"
)

# one browser for the whole module, also under pytest-xdist's --dist loadgroup
pytestmark = pytest.mark.xdist_group("report_browser")

MENTION_TEXT = "Thanks @Alice_S and @lab for the talk"

# WCAG 2.1 contrast of every element that holds text, against the first opaque background behind it.
CONTRAST_JS = """
() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const fg = rgb(style.color).slice(0, 3);
    const [l1, l2] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    out.push({tag: el.tagName, text: el.textContent.trim().slice(0, 40), ratio: (l1 + 0.05) / (l2 + 0.05),
              needed: large ? 3 : 4.5});
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """A report rendered from a synthetic run folder with real PNG figures and a hostile post text."""
    posts = make_posts()
    assert posts.loc[7, "text"] == EVIL_TEXT  # the most-seen post: shown in the top posts
    posts.loc[3, ["text", "impressions"]] = [MENTION_TEXT, 98_000]
    run = write_run(tmp_path_factory.mktemp("run"), posts=posts)
    return render_report(run, dataset=make_dataset(run), today=TODAY)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, timeout=30_000)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def loaded(browser, report_file):
    url = report_file.resolve().as_uri()
    page, seen = open_offline(browser, url, viewport={"width": 1280, "height": 900})
    yield url, page, seen
    page.context.close()


def test_the_report_opens_offline_without_errors_or_dialogs(loaded):
    url, page, seen = loaded
    page.wait_for_timeout(200)  # an onerror handler or a script would have fired by now
    assert [u for u in seen["requests"] if not u.startswith("data:")] == [url]
    assert seen["aborted"] == []
    assert [m for m in seen["console"] if m[0] in ("error", "warning")] == []
    assert seen["page_errors"] == [] and seen["dialogs"] == []
    assert page.evaluate("document.scripts.length") == 0


def test_every_figure_decodes_and_has_alt_text(loaded):
    _, page, _ = loaded
    images = page.evaluate(
        "[...document.images].map(i => ({src: i.src.slice(0, 22), ok: i.complete, w: i.naturalWidth, "
        "h: i.naturalHeight, alt: i.alt}))"
    )
    assert len(images) == 5  # forest ×2, growth, monthly, posting heatmap; the hostile <img> is text
    for img in images:
        assert img["src"] == "data:image/png;base64," and img["ok"]
        assert img["w"] > 100 and img["h"] > 100
        assert len(img["alt"]) > 30


def test_hostile_post_text_is_shown_as_text(loaded):
    _, page, _ = loaded
    cell = page.get_by_text(EVIL_TEXT, exact=True)
    assert cell.count() == 1 and cell.is_visible()
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], script').length") == 0
    posting = page.locator("#posting").inner_text()
    assert "Thanks @… and @lab for the talk" in posting and "Alice_S" not in posting


def test_headings_tables_language_and_contrast_are_accessible(loaded):
    _, page, _ = loaded
    assert page.evaluate("document.documentElement.lang") == "en"
    levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])")
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    h2 = page.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert h2 == SECTION_HEADINGS
    tables = page.evaluate(
        "[...document.querySelectorAll('table')].map(t => ({caption: t.caption ? t.caption.textContent : '', "
        "th: [...t.querySelectorAll('th')].map(th => th.scope)}))"
    )
    assert len(tables) >= 10
    for table in tables:
        assert table["caption"].strip()
        assert table["th"] and all(scope in ("col", "row") for scope in table["th"])
    checks = page.evaluate(CONTRAST_JS)
    assert len(checks) > 100
    low = [c for c in checks if c["ratio"] < c["needed"]]
    assert low == []


def test_a_phone_screen_needs_no_horizontal_scrolling(browser, report_file):
    url = report_file.resolve().as_uri()
    page, seen = open_offline(
        browser, url, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    try:
        width = page.evaluate(
            "({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, "
            "inner: window.innerWidth})"
        )
        assert width["inner"] == 390
        assert width["doc"] <= width["inner"] and width["body"] <= width["inner"], width
        # a figure's box stays on screen; the image inside keeps a legible scale and scrolls within the box
        figure = page.evaluate(
            "Math.max(...[...document.querySelectorAll('figure')].map(f => f.getBoundingClientRect().right))"
        )
        assert figure <= 390
        shown = page.evaluate("Math.min(...[...document.images].map(i => Math.max(i.clientWidth / 560, "
                              "i.clientWidth / i.naturalWidth)))")
        assert shown >= 0.99, shown  # at least 560 CSS px wide (or natural size), not squeezed to 370
        assert seen["aborted"] == []
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def pdf_bytes(loaded) -> bytes:
    _, page, _ = loaded
    return page.pdf(format="A4", print_background=True)


def test_the_report_prints_to_a4_with_each_section_on_new_pages(pdf_bytes):
    assert pdf_bytes.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf_bytes))
    assert pages >= len(SECTION_HEADINGS)  # break-before: page on every section after the first
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf_bytes)
    assert box and abs(float(box[1]) - 595.3) < 2 and abs(float(box[2]) - 841.9) < 2  # A4 in points


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_printed_pdf_has_every_section_heading_at_the_top_of_a_page(pdf_bytes, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(pdf_bytes)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    tops = []
    for page in text.split("\f"):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        if lines:
            tops.append(lines[0])
    starts = [t for t in tops if t in SECTION_HEADINGS]
    assert starts == SECTION_HEADINGS[1:] or starts == SECTION_HEADINGS  # the first follows the title
    flat = re.sub(r"\s+", " ", text)
    # the contents list the headings first (in two columns in print, so pdftotext may read them in any order)
    toc_end = max(flat.find(h) + len(h) for h in SECTION_HEADINGS)
    positions = [flat.find(h, toc_end) for h in SECTION_HEADINGS]
    assert -1 not in positions and positions == sorted(positions)
    # printed as text (the table cell wraps it over two lines)
    assert "<img src=x onerror=alert(1)>" in flat.replace("onerror= alert", "onerror=alert")
    assert re.search(r"<script>\s?alert\(2\)</script>", flat)


def test_screenshot_report_keeps_the_first_screen(report_file, tmp_path):
    png = tmp_path / "results" / "report_first_screen.png"
    assert screenshot_report(report_file, png, width=800, height=600) == png
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (800, 600)
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert np.std(pixels[..., :3]) > 0.05  # the heading and text are drawn, not a blank page
    assert not list(png.parent.glob(".*"))


def test_every_contents_anchor_resolves_to_its_section(loaded):
    _, page, _ = loaded
    links = page.evaluate(
        "[...document.querySelectorAll('nav.toc a')].map(a => ({href: a.getAttribute('href'), text: a.textContent,"
        " target: (document.getElementById(a.getAttribute('href').slice(1)) || {}).tagName || null,"
        " heading: ((document.getElementById(a.getAttribute('href').slice(1)) || document).querySelector('h2')"
        " || {}).textContent || null}))"
    )
    assert [link["text"] for link in links] == SECTION_HEADINGS
    for link in links:
        assert link["href"].startswith("#") and link["target"] == "SECTION", link
        assert link["heading"] == link["text"], link



@pytest.mark.parametrize("width", [1280, 390])
def test_no_table_is_wider_than_its_box(browser, long_names_report, width):
    url = long_names_report.resolve().as_uri()
    page, _ = open_offline(browser, url, viewport={"width": width, "height": 900})
    try:
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        fits = page.evaluate(TABLE_FIT_JS)
        assert len(fits) >= 10
        wide = [f for f in fits if f["table"] > f["box"] + 1 or f["right"] > width + 1]
        assert wide == [], wide
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def long_names_report(tmp_path_factory) -> Path:
    """A report whose Sources table has long file names without spaces (as real export names are)."""
    from test_report import INGEST_LOG

    log = {**INGEST_LOG, "files": [
        {**f, "file": f"raw/{'tweet_activity_metrics_ResearchNetworkOfficial_20230101_20230201_en' * 2}_{i}.csv"}
        for i, f in enumerate(INGEST_LOG["files"])
    ]}
    run = write_run(tmp_path_factory.mktemp("long"), ingest_log=log)
    return render_report(run, dataset=make_dataset(run), today=TODAY)


@pytest.mark.parametrize(("paper", "size"), [("A4", (595.3, 841.9)), ("Letter", (612.0, 792.0))])
def test_printed_pdf_on_a4_and_letter_has_no_clipped_columns(browser, long_names_report, tmp_path, paper, size):
    from workbench.report import print_pdf

    pdf = print_pdf(long_names_report, tmp_path / f"report-{paper}.pdf", paper=paper)
    data = pdf.read_bytes()
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box and abs(float(box[1]) - size[0]) < 2 and abs(float(box[2]) - size[1]) < 2
    # print layout at the paper's text width (page width less 2 × 15 mm margins, in CSS px): tables fit
    width = round((size[0] / 72 * 25.4 - 30) / 25.4 * 96)
    page, _ = open_offline(browser, long_names_report.resolve().as_uri(), viewport={"width": width, "height": 1000})
    try:
        page.emulate_media(media="print")
        wide = [f for f in page.evaluate(TABLE_FIT_JS) if f["table"] > f["box"] + 1 or f["right"] > width + 1]
        assert wide == [], wide
    finally:
        page.context.close()
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True, timeout=30).stdout
        assert "Quarantined" in text and "Superseded" in text
        # no heading stands alone at the foot of a page, and the first page is not left mostly empty
        headings = {html.unescape(h) for h in re.findall(r"<h[234][^>]*>(.*?)</h[234]>",
                                                          long_names_report.read_text(encoding="utf-8"))}
        pages = [[line.strip() for line in p.splitlines() if line.strip()] for p in text.split("\f")]
        pages = [p for p in pages if p]
        assert [p[-1] for p in pages if p[-1] in headings] == []
        first = " ".join(pages[0])
        assert "Contents" in first and "Executive summary" in first and "goal" in first and len(pages[0]) >= 15
