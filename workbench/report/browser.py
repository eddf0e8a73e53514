"""Headless Chromium for the report: a screenshot of the first screen and a printed PDF (A4 or Letter).

The page is opened from the file with every host name unresolvable, so nothing leaves the machine (the report
itself has no scripts and no external resources).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import InputError
from ..io import write_bytes

log = logging.getLogger("workbench.report")

#: paper sizes ``print_pdf`` accepts (Chromium's --print-to-pdf uses the page's @page size).
PAPER_SIZES = {"A4": "210mm 297mm", "Letter": "8.5in 11in"}


def find_chromium() -> str | None:
    """Return the path of a Chromium/Chrome executable: ``$WORKBENCH_CHROMIUM``, else the first on PATH."""
    explicit = os.environ.get("WORKBENCH_CHROMIUM")
    names = (
        [explicit] if explicit else ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
    )
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot_report(
    report_path: str | Path,
    png_path: str | Path,
    *,
    width: int = 1280,
    height: int = 900,
    timeout: float = 60.0,
) -> Path | None:
    """Save a PNG of the report's first screen (``width`` × ``height`` CSS pixels) with headless Chromium.

    The page is opened from the file with every host name unresolvable, so nothing leaves the machine (the
    report itself has no scripts and no external resources). Returns ``png_path``, or None with the reason logged (warning) when no Chromium is
    found (set ``WORKBENCH_CHROMIUM`` to point at one), the report does not exist, or the browser fails.
    """
    report_path, png_path = Path(report_path), Path(png_path)
    if not report_path.is_file():
        log.warning("No screenshot of the report: %s does not exist.", report_path)
        return None
    browser = find_chromium()
    if browser is None:
        log.warning(
            "No screenshot of the report: no Chromium found on PATH (chromium, chromium-browser, google-chrome); "
            "set WORKBENCH_CHROMIUM to a Chromium executable to keep one."
        )
        return None
    with tempfile.TemporaryDirectory(prefix="workbench-chromium-") as tmp:
        shot = Path(tmp) / "shot.png"
        command = _command(browser, Path(tmp), [f"--window-size={int(width)},{int(height)}",
                                                f"--screenshot={shot}"], report_path)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("No screenshot of the report: %s failed: %s", browser, exc)
            return None
        png = shot.read_bytes() if shot.is_file() else b""
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            detail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            log.warning("No screenshot of the report: %s wrote no PNG (%s)", browser, detail[0])
            return None
    return write_bytes(png_path, png)


#: Why a run keeps no screenshot unless asked (the notebook prints it, so the audit trail says so).
SCREENSHOT_NOT_ASKED = (
    "No screenshot of the report's first screen: not asked for. It is a picture for a reviewer of what "
    "leadership sees first, not part of the report; starting Chromium for it costs about a second of every run. "
    "Ask for it with `workbench run DATASET --screenshot` (or screenshot = True in this notebook's parameters)."
)


def first_screen(report_path: str | Path, png_path: str | Path, *, take: bool) -> Path | None:
    """The screenshot step of the report stage: :func:`screenshot_report` when ``take``; otherwise no browser is
    started, a PNG an earlier run left at ``png_path`` is removed (it shows an older report) and
    :data:`SCREENSHOT_NOT_ASKED` is logged. Returns the PNG's path, or None when there is none."""
    png_path = Path(png_path)
    if take:
        return screenshot_report(report_path, png_path)
    png_path.unlink(missing_ok=True)
    log.warning(SCREENSHOT_NOT_ASKED)
    return None


# --------------------------------------------------------------------------------------------------------------
# HTML building blocks
# --------------------------------------------------------------------------------------------------------------


def _command(browser: str, tmp: Path, extra: list[str], page: Path) -> list[str]:
    command = [
        browser, "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp / 'profile'}", *extra,
        page.resolve().as_uri(),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Chromium refuses to start as root with its sandbox
        command.insert(2, "--no-sandbox")
    return command


def print_pdf(report_path: str | Path, pdf_path: str | Path, *, paper: str = "A4", timeout: float = 120.0) -> Path:
    """Print the report to PDF with headless Chromium (``paper``: A4 or Letter) and return ``pdf_path``.

    The paper size is set by an ``@page`` rule added to a temporary copy of the page, so the printed columns
    are laid out for that paper. Raises :class:`InputError` (a clear message, no traceback for the CLI) when no
    Chromium is found, the report does not exist or the browser writes no PDF.
    """
    report_path, pdf_path = Path(report_path), Path(pdf_path)
    if paper not in PAPER_SIZES:
        raise InputError(f"paper must be one of {sorted(PAPER_SIZES)}, not {paper!r}")
    if not report_path.is_file():
        raise InputError("the report does not exist; run the pipeline first (workbench run DATASET)",
                         file=str(report_path))
    browser = find_chromium()
    if browser is None:
        raise InputError("no Chromium found on PATH (chromium, chromium-browser, google-chrome); set "
                         "WORKBENCH_CHROMIUM to a Chromium executable to print the report")
    page = report_path.read_text(encoding="utf-8").replace(
        "</style>", f"@page {{ size: {PAPER_SIZES[paper]}; margin: 15mm; }}</style>", 1)
    with tempfile.TemporaryDirectory(prefix="workbench-chromium-") as tmp:
        copy, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        copy.write_text(page, encoding="utf-8")
        command = _command(browser, Path(tmp), ["--no-pdf-header-footer", "--print-to-pdf-no-header",
                                               f"--print-to-pdf={out}"], copy)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"{browser} could not print the report: {exc}") from exc
        pdf = out.read_bytes() if out.is_file() else b""
        if not pdf.startswith(b"%PDF"):
            detail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            raise InputError(f"{browser} wrote no PDF ({detail[0]})")
    return write_bytes(pdf_path, pdf)
