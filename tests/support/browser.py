"""Driving the real app in Chromium: start it on a home, wait for it, sign in, navigate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

from playwright.sync_api import expect

from tests.support.cli import ROOT
from tests.support.orthanc_server import free_port

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60,
                  path: str = "/_stcore/health") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + path, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling a health endpoint, not waiting on luck
    raise RuntimeError(f"{url} did not become healthy")


@contextmanager
def running_app(home, log_dir):
    """The real app on ``home`` on a free port, stopped (its whole process group) on exit."""
    port = free_port()
    log = open(log_dir / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, LIMESTONE_HOME=str(home)), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout=90)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


IDLE = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'


def wait_idle(page):
    """Wait until no script run is requested or running (the app root's own state, not the status
    widget, which shows only after a delay). Call it once the page shows something of the run the
    last action started, so that run cannot still be about to begin."""
    page.wait_for_selector(IDLE, timeout=60000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60000)


def choose(page, selectbox: str, option):
    """Pick ``option`` in the selectbox showing ``selectbox``, once the run that drew it has ended:
    a rerun in between would redraw the select and close its list under the click."""
    wait_idle(page)
    page.get_by_test_id("stSelectbox").filter(has_text=selectbox).click()
    page.get_by_role("option", name=option).click(timeout=60000)


def sign_in(page, app_url, role: str, name: str = "Eve Tester"):
    page.goto(app_url)
    expect(page.get_by_text("Demo mode").first).to_be_visible()
    page.get_by_role("textbox", name="Your name").fill(name)
    page.get_by_role("textbox", name="Your name").press("Tab")
    choose(page, "Role", re.compile(f"^{re.escape(role)}$"))
    page.get_by_role("button", name="Sign in").click()
    wait_idle(page)
    expect(page.get_by_text(f"Signed in as {name} · {role}")).to_be_visible()


def nav(page, title: str):
    link = page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True)
    more = page.get_by_test_id("stSidebarNavViewButton")
    # Streamlit folds a long page list behind "View more": unfold it when the page is not shown.
    if link.count() == 0 and more.count() and "more" in (more.first.text_content() or "").lower():
        more.first.click()
    link.click()
    wait_idle(page)
