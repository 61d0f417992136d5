"""End to end in Chromium: a clerk issues a share link on the dashboard; a fresh browser opens it
on the share portal, enters the passcode, views and downloads; the clerk revokes it; the
recipient is refused. Screenshots of every share page go to the screenshots folder."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest
from playwright.sync_api import expect

from tests.support.browser import free_port, nav, sign_in, wait_healthy, wait_idle
from tests.support.cli import ROOT
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def share_app(e2e_seeded, tmp_path_factory):
    """The share portal and a dashboard whose links point at it, on free ports, over the seeded home."""
    portal_port, app_port = free_port(), free_port()
    portal_url = f"http://127.0.0.1:{portal_port}"
    env = dict(os.environ, LIMESTONE_HOME=str(e2e_seeded.home), LIMESTONE_PORTAL_BASE_URL=portal_url)
    logs = tmp_path_factory.mktemp("share_logs")
    portal_log, app_log = open(logs / "portal.log", "w"), open(logs / "streamlit.log", "w")
    portal = subprocess.Popen([sys.executable, "-m", "pipelines", "portal", "--port", str(portal_port)],
                              cwd=ROOT, env=env, stdout=portal_log, stderr=subprocess.STDOUT, start_new_session=True)
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(app_port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=app_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:  # poll the portal's own page until it answers
            if portal.poll() is not None:
                raise RuntimeError(f"portal exited with {portal.returncode}")
            try:
                with urllib.request.urlopen(portal_url + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the portal did not start") from None
                time.sleep(0.1)
        wait_healthy(f"http://127.0.0.1:{app_port}", app, timeout=90)
        yield f"http://127.0.0.1:{app_port}", portal_url
    finally:
        _stop(app)
        _stop(portal)
        portal_log.close()
        app_log.close()


def test_clerk_issues_recipient_opens_views_downloads_clerk_revokes(browser, share_app):
    app_url, portal_url = share_app
    clerk = browser.new_context(viewport={"width": 1400, "height": 1000})
    desk = clerk.new_page()
    desk.set_default_timeout(30000)
    sign_in(desk, app_url, "clerk", "Cal Clerk")
    nav(desk, "Share links")
    expect(desk.get_by_role("heading", name="Share links")).to_be_visible()
    desk.get_by_role("textbox", name="Patient ID or accession number").fill("N1001")
    desk.get_by_role("textbox", name="Patient ID or accession number").press("Enter")
    wait_idle(desk)
    desk.get_by_test_id("stMultiSelect").filter(has_text="Studies to share").click()
    desk.get_by_role("option", name=re.compile("CT HEAD")).click()
    desk.keyboard.press("Escape")
    wait_idle(desk)
    desk.get_by_role("textbox", name="Recipient's name").fill("Dr Outside")
    desk.get_by_role("button", name="Create link").click()
    wait_idle(desk)
    new_link = desk.locator(".st-key-share_links-new_link")
    expect(new_link).to_contain_text("cannot be shown again")
    codes = new_link.get_by_test_id("stCode")
    url, passcode = codes.nth(0).inner_text().strip(), codes.nth(1).inner_text().strip()
    assert url.startswith(portal_url + "/s/lsl_") and re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", passcode)
    expect(desk.get_by_role("textbox", name="Recipient's name")).to_have_value("")   # the form cleared
    shot(desk, "20_share_links_issued")

    recipient = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    visit = recipient.new_page()
    visit.set_default_timeout(30000)
    visit.goto(url)
    expect(visit.get_by_role("heading", name="Open shared images")).to_be_visible()
    expect(visit.locator("body")).not_to_contain_text("TEST")          # nothing about the patient yet
    shot(visit, "21_portal_passcode")
    visit.get_by_label("Passcode").fill("WRONG-WRONG")
    visit.get_by_role("button", name="Open").click()
    expect(visit.get_by_role("alert")).to_contain_text("not correct")
    visit.get_by_label("Passcode").fill(passcode.lower())
    visit.get_by_role("button", name="Open").click()
    expect(visit.locator("#patient-banner")).to_contain_text("TEST, Alpha")
    expect(visit.get_by_role("heading", name="CT HEAD WITHOUT CONTRAST")).to_be_visible()
    expect(visit.locator(".tile img").first).to_have_js_property("naturalWidth", 128, timeout=30000)
    shot(visit, "22_portal_studies")

    visit.locator("a.tile").first.click()
    # The client-side viewer: the series is drawn on a canvas, the position read out in aria-live.
    live = visit.locator(".lsv-live").first
    canvas = visit.locator("canvas.lsv-canvas").first
    expect(live).to_have_text("Image 1 of 12", timeout=30000)
    first = canvas.evaluate("c => c.toDataURL()")
    canvas.focus()
    visit.keyboard.press("ArrowDown")
    visit.keyboard.press("ArrowDown")
    expect(live).to_have_text("Image 3 of 12")
    assert canvas.evaluate("c => c.toDataURL()") != first
    drawn = canvas.evaluate("c => c.toDataURL()")
    visit.get_by_role("combobox", name="Window preset").select_option("CT bone")
    assert canvas.evaluate("c => c.toDataURL()") != drawn          # the window is applied in the browser
    shot(visit, "23_portal_viewer")

    visit.get_by_role("link", name=re.compile("All studies")).click()
    with visit.expect_download() as info:
        visit.get_by_role("link", name=re.compile("Download all images")).click()
    download = info.value
    assert download.suggested_filename == "limestone-images.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    assert archive.testzip() is None
    assert "DICOMDIR" in archive.namelist() and len([n for n in archive.namelist() if n.startswith("PT")]) == 12

    desk.reload()
    wait_idle(desk)
    if not desk.get_by_role("heading", name="Share links").is_visible():
        sign_in(desk, app_url, "clerk", "Cal Clerk")
        nav(desk, "Share links")
    box = desk.get_by_test_id("stSelectbox").filter(has=desk.get_by_text("Link", exact=True)).locator("input")
    box.click()
    desk.get_by_role("option", name=re.compile(r"^L[0-9a-f]{12}$")).first.click()
    wait_idle(desk)
    desk.get_by_role("button", name="Revoke...").click()
    wait_idle(desk)
    expect(desk.get_by_text(re.compile(r"Revoke link L[0-9a-f]{12}\?"))).to_be_visible()
    shot(desk, "24a_share_links_confirm_revoke")
    desk.get_by_role("button", name="Yes, revoke the link").click()
    wait_idle(desk)
    expect(desk.get_by_text(re.compile(r"Link L[0-9a-f]{12} is now revoked"))).to_be_visible()
    shot(desk, "24_share_links_revoked")

    visit.reload()
    expect(visit.get_by_role("heading", name="Link not available")).to_be_visible()
    expect(visit.locator("body")).not_to_contain_text("TEST")
    shot(visit, "25_portal_refused")
    recipient.close()
    clerk.close()


def test_admin_audit_trail_and_manager_usage(browser, share_app, e2e_seeded):
    from archive.home import Archive
    from archive.sharing import actions as share_actions
    share_actions.create(Archive.load(home=str(e2e_seeded.home)), [e2e_seeded.studies["mr_knee"]],
                         share_actions.Actor("clerk@example.org", "clerk"), recipient_name="Patient")
    app_url, _ = share_app
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30000)
    sign_in(page, app_url, "admin", "Ada Admin")
    nav(page, "Audit trail")
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    expect(page.get_by_text(re.compile(r"[0-9,]+ events"))).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    wait_idle(page)
    page.wait_for_timeout(1000)  # the data grid paints on a canvas after it is attached
    shot(page, "26_audit_trail")
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Export as DICOM audit messages")).click()
    assert b"<AuditMessage>" in open(info.value.path(), "rb").read()
    nav(page, "Share link usage")
    expect(page.get_by_role("heading", name="Share link usage")).to_be_visible()
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="Links issued")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1, timeout=30000)
    shot(page, "27_share_usage")
    context.close()
