"""The coding panel in real JupyterLab: code three posts with the keyboard, reload, resume at the fourth.

A JupyterLab server on 127.0.0.1 (this environment's, on a temporary folder, with its own config, runtime and
settings folders) and Debian's Chromium driven by the ``playwright`` package's bundled driver (no browser
download). Every request that does not go to that server is aborted. The test skips, saying why, when Chromium
or playwright is absent, and always stops the server it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import LAUNCH_ARGS  # noqa: E402

from workbench.report import find_chromium  # noqa: E402

CHROMIUM = find_chromium() or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (Debian's /usr/bin/chromium): the coding panel's browser test is skipped",
                allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[dev]')"
)

pytestmark = pytest.mark.xdist_group("coding_browser")
TOKEN = "workbench-test-token"
N_POSTS = 6

CELL = f'''
import pandas as pd
from workbench.coding import parse_codebook
from workbench.widgets import CodingPanel
codebook = parse_codebook({{"codes": [
    {{"name": "has_poll", "type": "binary", "label": "Poll", "definition": "A native poll.",
      "include": ["Polls in replies"], "exclude": ["Questions without a poll"]}},
    {{"name": "tone", "type": "categorical", "levels": ["negative", "neutral", "positive"],
      "definition": "The tone of the post."}}]}})
posts = pd.DataFrame({{"post_id": [f"17{{i:05d}}" for i in range({N_POSTS})],
                      "published_at": pd.date_range("2023-03-01 12:00", periods={N_POSTS}, freq="D", tz="UTC"),
                      "text": [f"Text of post number {{i + 1}}" for i in range({N_POSTS})],
                      "impressions": [918273 + i for i in range({N_POSTS})]}})
panel = CodingPanel(posts, codebook, coder="ann", path="ann.csv", timezone="America/New_York")
panel.widget
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, method: str = "GET"):
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
        return json.loads(body) if body else None


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving ``tmp_path/work`` (stopped afterwards); yields (url, folder)."""
    with jupyterlab(tmp_path) as served:
        yield served


@contextlib.contextmanager
def jupyterlab(tmp_path: Path):
    """Start JupyterLab on a free port of 127.0.0.1 with the panel notebook; stop it and its kernels after."""
    work = tmp_path / "work"
    work.mkdir()
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "panel", "metadata": {}, "outputs": [],
                   "source": CELL.strip()}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (work / "panel.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    port = _free_port()
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
           f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI and this container run as root
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"{url}/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield url, work
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and every process of its session (the kernels it started): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break  # the whole group is gone
        try:
            server.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.5)  # kernels exit after their server; the next round kills what is left


def _open_and_run(page, url: str) -> None:
    page.goto(f"{url}/lab/tree/panel.ipynb?token={TOKEN}", wait_until="domcontentloaded", timeout=30_000)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.context"
        " && window.jupyterapp.shell.currentWidget.context.isReady"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.connectionStatus === 'connected'"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=30_000)
    # not awaited: the command's promise settles only when every cell has run
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_selector(".workbench-coding-panel .workbench-post-text", timeout=30_000)


def _header(page) -> str:
    return page.inner_text(".workbench-coding-panel")


def test_code_three_posts_with_the_keyboard_reload_and_resume_at_the_fourth(lab):
    url, work = lab
    started = time.monotonic()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, timeout=60_000)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            aborted = []

            def route(r):
                if r.request.url.startswith(url):
                    r.continue_()
                else:
                    aborted.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("dialog", lambda d: d.accept())  # "leave the page?" on reload
            _open_and_run(page, url)
            panel = page.locator(".workbench-coding-panel")
            assert "Text of post number 1" in panel.inner_text()
            assert "918273" not in panel.inner_text()  # blind: no metric anywhere in the panel
            assert "Polls in replies" in panel.inner_text()  # the codebook beside the post
            for i in range(3):
                page.hover(".workbench-coding-panel .workbench-post-text")  # keys go to the panel under the mouse
                page.keyboard.press("y")
                page.wait_for_function(
                    "n => document.querySelector('.workbench-coding-panel').innerText.includes(n)",
                    arg=f"saved has_poll = 1 for post 17{i:05d}", timeout=15_000)
                page.keyboard.press(str(i + 1))  # tone: negative, neutral, positive
                page.wait_for_function(
                    "n => document.querySelector('.workbench-coding-panel').innerText.includes(n)",
                    arg=f"coded {i + 1} of {N_POSTS}", timeout=15_000)
                page.keyboard.press("Enter")
                page.wait_for_function(
                    "n => document.querySelector('.workbench-coding-panel').innerText.includes(n)",
                    arg=f"Text of post number {i + 2}", timeout=15_000)
                assert "saved" not in page.inner_text(".workbench-coding-panel")  # no stale "saved ... post"
            lines = (work / "ann.csv").read_text(encoding="utf-8").splitlines()
            assert lines[0] == "post_id,coder,has_poll,tone,coded_at" and len(lines) == 1 + 2 * 3
            assert [ln.split(",")[3] for ln in lines[2::2]] == ["negative", "neutral", "positive"]

            # the coder closes the browser: the kernel goes too; reopening starts a new kernel on the same file
            page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")  # awaited: saved
            for session in _get(f"{url}/api/sessions"):
                _get(f"{url}/api/sessions/{session['id']}", method="DELETE")
            page.reload(wait_until="domcontentloaded")
            _open_and_run(page, url)
            page.wait_for_function(
                "() => document.querySelector('.workbench-coding-panel').innerText.includes('post 4 of 6')",
                timeout=30_000)
            text = _header(page)
            assert f"coded 3 of {N_POSTS}" in text and "Text of post number 4" in text
            page.hover(".workbench-coding-panel .workbench-post-text")
            page.keyboard.press("n")
            page.wait_for_function(
                "() => document.querySelector('.workbench-coding-panel').innerText.includes('saved has_poll = 0')",
                timeout=15_000)
            assert (work / "ann.csv").read_text(encoding="utf-8").splitlines()[-1].startswith("1700003,ann,0,,")
            assert not [u for u in aborted if not u.startswith("data:")], aborted
        finally:
            browser.close()
    print(f"coding panel browser test: {time.monotonic() - started:.1f} s with the browser")
