"""End to end in Chromium (issue 17): a DNS-rebinding page cannot drive the demo app, and a
manager's browse and study pages, at desktop and phone size, show studies but not patients."""

import re

import pytest
from playwright.sync_api import expect

from tests.reports.test_reports_e2e import PDF_LINES
from tests.reports.test_reports_e2e import reported as reported  # noqa: F401  (a fixture)
from tests.support.browser import CHROMIUM_ARGS, choose, nav, running_app, sign_in, wait_idle
from tests.support.documents import make_pdf
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def test_demo_mode_refuses_a_rebound_host_name(app_url, browser):
    """The browser resolves rebind.test to 127.0.0.1, as a DNS-rebinding attack makes it do."""
    port = app_url.rsplit(":", 1)[1]
    # A second Chromium from the session's Playwright (a second sync Playwright cannot start).
    rebinding = browser.browser_type.launch(executable_path="/usr/bin/chromium",
                                            args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP rebind.test 127.0.0.1"])
    try:
        page = rebinding.new_page()
        page.set_default_timeout(30000)
        page.goto(f"http://rebind.test:{port}/")
        expect(page.get_by_text("Demo mode only answers at").first).to_be_visible()
        expect(page.get_by_role("textbox", name="Your name")).to_have_count(0)
        page.goto(f"http://rebind.test:{port}/browse")
        expect(page.get_by_text("Demo mode only answers at").first).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("studies match")
        shot(page, "50_demo_rebound_host_refused")
        # the same app at its own address works
        page.goto(app_url)
        expect(page.get_by_role("textbox", name="Your name")).to_be_visible()
    finally:
        rebinding.close()


def test_a_manager_browses_studies_without_patient_identity(page, app_url):
    sign_in(page, app_url, "manager", "Meg Manager")
    nav(page, "Browse studies")
    expect(page.get_by_text("35 studies match")).to_be_visible()
    expect(page.get_by_text("not shown to your role").first).to_be_visible()
    expect(page.get_by_role("textbox", name="Patient name")).to_have_count(0)
    wait_idle(page)
    page.wait_for_timeout(1000)  # the data grid paints on a canvas after it is attached
    shot(page, "51_browse_manager")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(800)
    shot(page, "51_browse_manager_phone")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_role("textbox", name="Accession number").fill("ACC-CT-1")
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_text("1 study matches")).to_be_visible(timeout=60000)
    choose(page, "Open a study", re.compile("CT HEAD"))
    wait_idle(page)
    expect(page.get_by_text("Patient details are not shown to your role")).to_be_visible()
    page.get_by_role("link", name="Open study").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Series")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("TEST, Alpha")
    expect(page.locator("body")).not_to_contain_text("N1001")
    shot(page, "52_study_manager")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(800)
    shot(page, "52_study_manager_phone")


def test_a_technologist_sees_the_patient(page, app_url):
    sign_in(page, app_url, "technologist", "Tia Tech")
    nav(page, "Browse studies")
    expect(page.get_by_role("textbox", name="Patient name")).to_be_visible()
    page.get_by_role("textbox", name="Patient name").fill("test^al*")
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_text("3 studies match")).to_be_visible(timeout=60000)
    choose(page, "Open a study", re.compile("CT HEAD"))
    wait_idle(page)
    page.get_by_role("link", name="Open study").click()
    wait_idle(page)
    expect(page.get_by_text("TEST, Alpha").first).to_be_visible()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    shot(page, "53_study_technologist")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(800)
    shot(page, "53_study_technologist_phone")


def _open_ct_head(page):
    nav(page, "Browse studies")
    page.get_by_role("textbox", name="Accession number").fill("ACC-CT-1")
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_text("1 study matches")).to_be_visible(timeout=60000)
    choose(page, "Open a study", re.compile("CT HEAD"))
    wait_idle(page)
    page.get_by_role("link", name="Open study").click()
    wait_idle(page)


def test_a_report_pdf_downloaded_on_the_study_page_is_audited(browser, reported, tmp_path):  # noqa: F811
    from archive import audit
    seeded, archive = reported
    with running_app(seeded.home, tmp_path) as app_url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(30000)
        sign_in(page, app_url, "clerk", "Cleo Clerk")
        _open_ct_head(page)
        with page.expect_download() as info:
            page.get_by_role("button", name="Download the PDF").first.click()
        assert open(info.value.path(), "rb").read() == make_pdf(PDF_LINES)
        page.wait_for_timeout(3000)
        wait_idle(page)
        context.close()
    uid = seeded.studies["ct_head"]
    events = audit.events(archive.home, uid)
    downloads = [e for e in events if e["action"] == "download" and e["user_id"] == "demo:Cleo Clerk"]
    assert len(downloads) == 1, ([(e["action"], e["user_id"], e["detail"]) for e in events],
                                 (tmp_path / "streamlit.log").read_text()[-3000:])
    assert downloads[0]["detail"] == "report PDF (hl7)"
    views = [e for e in events if e["action"] == "view" and e["user_id"] == "demo:Cleo Clerk"]
    assert len(views) == 1 and views[0]["detail"].startswith("study page: details, patient identity, reports")
