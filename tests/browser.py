"""Open a report in headless Chromium, offline, and collect what a reader's browser would see.

Shared by the end-to-end tests (the example and rOpenSci reports). ``open_report`` returns None when no
Chromium or no playwright is available; callers skip with ``SKIP_REASON``.
"""

from __future__ import annotations

from pathlib import Path

from workbench.report import find_chromium

LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SKIP_REASON = "Chromium or the playwright package is not available: browser checks of the report are skipped"


def open_offline(browser, url: str, *, timeout: float | None = None, **context_options):
    """Open ``url`` with every other request aborted; return (page, log of what the page tried)."""
    context = browser.new_context(**context_options)
    seen: dict = {"requests": [], "aborted": [], "console": [], "page_errors": [], "dialogs": []}

    def route(r):
        if r.request.url == url:
            r.continue_()
        else:
            seen["aborted"].append(r.request.url)
            r.abort()

    def dialog(d):
        seen["dialogs"].append(d.message)
        d.dismiss()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda req: seen["requests"].append(req.url))
    page.on("console", lambda msg: seen["console"].append((msg.type, msg.text)))
    page.on("pageerror", lambda exc: seen["page_errors"].append(str(exc)))
    page.on("dialog", dialog)
    page.goto(url, wait_until="load", **({"timeout": timeout} if timeout else {}))
    return page, seen


def inspect_report(report: Path) -> dict | None:
    """Load ``report`` with every other request aborted; return requests, console messages, dialogs, the
    decoded state of every image, the h2 headings and the page count of the A4 print. None without a browser."""
    chromium = find_chromium() or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    url = report.resolve().as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS, timeout=60_000)
        try:
            page, seen = open_offline(browser, url, timeout=60_000)
            seen["images"] = page.evaluate(
                "[...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}))"
            )
            seen["h2"] = page.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent.trim())")
            seen["scripts"] = page.evaluate("document.scripts.length")
            seen["toc"] = page.evaluate(TOC_JS)
            seen["tables_too_wide"] = {}
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900})
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                seen["tables_too_wide"][width] = [
                    t for t in page.evaluate(TABLE_FIT_JS) if t["table"] > t["box"] + 1 or t["right"] > width + 1
                ]
            pdf = page.pdf(format="A4", print_background=True)
            seen["pdf_pages"] = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        finally:
            browser.close()
    return seen


#: every contents link: its target's tag and the h2 inside the target.
TOC_JS = """
() => [...document.querySelectorAll('nav.toc a')].map(a => {
  const t = document.getElementById(a.getAttribute('href').slice(1));
  return {text: a.textContent, tag: t ? t.tagName : null, h2: t && t.querySelector('h2') ? t.querySelector('h2').textContent : null};
})
"""
#: every visible table: its width against its box's, and where the box ends.
TABLE_FIT_JS = """
() => [...document.querySelectorAll('.table-wrap')].filter(w => w.offsetParent !== null).map(w => {
  const t = w.querySelector('table');
  return {caption: t.caption ? t.caption.textContent.slice(0, 60) : '', table: t.scrollWidth,
          box: w.clientWidth, right: w.getBoundingClientRect().right};
})
"""

def _registered_headings() -> list[str]:
    from workbench.report import SECTIONS

    return [s.title for s in SECTIONS]


#: every registered section, in the registry's order (the page must show each as an h2 and in the contents)
SECTION_HEADINGS = _registered_headings()
assert SECTION_HEADINGS[:4] == ["Executive summary", "Key figures", "What works", "Growth before and after"]
assert SECTION_HEADINGS[-2:] == ["Data appendix", "Methods appendix"]
OPTIONAL_HEADINGS = ("Paid results",)


def assert_reads_offline(seen: dict, report: Path) -> None:
    """The checks every generated report must pass in a real browser."""
    url = report.resolve().as_uri()
    assert [u for u in seen["requests"] if not u.startswith("data:")] == [url], seen["requests"]
    assert seen["aborted"] == []
    assert [m for m in seen["console"] if m[0] in ("error", "warning")] == []
    assert seen["page_errors"] == [] and seen["dialogs"] == [] and seen["scripts"] == 0
    assert seen["images"] and all(i["ok"] and len(i["alt"]) > 20 for i in seen["images"]), seen["images"]
    # "Paid results" is left out without paid data; every other registered section is always there
    expected = [h for h in SECTION_HEADINGS if h in seen["h2"] or h not in OPTIONAL_HEADINGS]
    assert seen["h2"] == expected
    assert seen["pdf_pages"] >= len(expected)
    assert [(t["text"], t["tag"], t["h2"]) for t in seen["toc"]] == [(h, "SECTION", h) for h in expected]
    assert seen["tables_too_wide"] == {1280: [], 390: []}, seen["tables_too_wide"]
