"""End to end in Chromium: a recipient reads a study's report on the share portal and downloads its
PDF; an admin opens the HL7 review page. Screenshots of both go to the screenshots folder."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from tests.support.browser import nav, running_app, sign_in, wait_idle
from tests.support.documents import make_pdf
from tests.support.hl7_messages import oru
from tests.support.screenshots import shot
from tests.support.share_world import RunningPortal

pytestmark = pytest.mark.e2e

IMPRESSION = "No acute intracranial abnormality. Mild chronic small vessel change."
PDF_LINES = ["North General Hospital - Radiology", "CT HEAD WITHOUT CONTRAST", IMPRESSION]


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A seeded home of its own whose CT head has a report from the RIS (text and PDF), plus a
    report waiting for its study and a malformed message kept for review."""
    from archive.home import Archive
    from archive.reports import inbox
    from tests.support import dashboard_seed as seed
    root = tmp_path_factory.mktemp("reports-e2e")
    seeded = seed.build(root / "home")
    archive = Archive.load(home=str(seeded.home))
    pdf = "^application^pdf^Base64^" + base64.b64encode(make_pdf(PDF_LINES)).decode()
    con = archive.store()
    try:
        for message in (
                oru("RIS-1001", "ACC-CT-1", ["FINDINGS: No haemorrhage, mass effect or midline shift.",
                                             f"IMPRESSION: {IMPRESSION}"], patient_id="N1001",
                    when="20240304113000", exam="CTHEAD^CT HEAD WITHOUT CONTRAST^L", embedded=pdf),
                oru("RIS-1002", "ACC-XR-9", "Report for an exam not archived yet.", patient_id="N1001"),
                oru("RIS-1003", "ACC-CT-1", patient_id="N1001", embedded="^application^pdf^Base64^JVBERi*")):
            inbox.receive(archive.home, con, message, "mllp 10.20.30.40", archive.vault)
    finally:
        con.close()
    return seeded, archive


@pytest.fixture(scope="module")
def portal(reported):
    running = RunningPortal(reported[1]).start()
    try:
        yield running.url
    finally:
        running.stop()


def test_recipient_reads_the_report_and_downloads_its_pdf(browser, reported, portal):
    from archive.sharing import actions as share_actions
    seeded, archive = reported
    issued = share_actions.create(archive, [seeded.studies["ct_head"]],
                                  share_actions.Actor("clerk@example.org", "clerk"), recipient_name="Patient")
    context = browser.new_context(viewport={"width": 1280, "height": 1500}, accept_downloads=True)
    visit = context.new_page()
    visit.set_default_timeout(30000)
    visit.goto(f"{portal}/s/{issued.token}")
    visit.get_by_label("Passcode").fill(issued.passcode)
    visit.get_by_role("button", name="Open").click()
    report = visit.locator("article.report")
    expect(report).to_have_count(1)
    expect(report).to_contain_text(IMPRESSION)
    expect(report).to_contain_text("CT HEAD WITHOUT CONTRAST · Final · 2024-03-04 11:30 · RADIOLOGIST FAKE")
    expect(visit.locator(".tile img").first).to_have_js_property("naturalWidth", 128, timeout=30000)
    shot(visit, "40_portal_report")
    with visit.expect_download() as info:
        report.get_by_role("link", name="Download the report (PDF)").click()
    assert info.value.suggested_filename == "report-1-1.pdf"
    assert open(info.value.path(), "rb").read() == make_pdf(PDF_LINES)
    context.close()


def test_admin_reviews_hl7_messages(browser, reported, tmp_path):
    seeded, _ = reported
    with running_app(seeded.home, tmp_path) as app_url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30000)
        sign_in(page, app_url, "admin", "Ada Admin")
        nav(page, "HL7 review")
        expect(page.get_by_role("heading", name="HL7 review")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_have_count(2)
        expect(page.locator("body")).not_to_contain_text("N1001")      # no patient identifiers
        wait_idle(page)
        page.wait_for_timeout(1000)  # the data grid paints on a canvas after it is attached
        shot(page, "41_hl7_review")
        context.close()
