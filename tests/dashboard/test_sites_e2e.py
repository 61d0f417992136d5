"""End to end in Chromium: an admin opens the Sites page of an archive filled from two hospitals'
files, sees the values no site claims, adds a site from them; desktop and phone screenshots."""

from datetime import date, datetime

import pytest
from playwright.sync_api import expect

from archive.home import Archive
from archive.ingest.run import import_paths
from archive.sites.registry import add_site
from tests.support.browser import running_app, sign_in, wait_idle
from tests.support.repeat_exam_files import write
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e

EXAMS = [
    ("a1", "NORTH", "TEST-N", "N1", "TEST^ALICE", date(1961, 2, 3), "F", "", datetime(2024, 1, 10, 9),
     "CT", "HEAD", "CT Head"),
    ("a2", "SOUTH", "TEST-S", "S1", "TEST^ALICE", date(1961, 2, 3), "F", "", datetime(2024, 1, 25, 9),
     "CT", "HEAD", "CT Head"),
    ("b1", "SOUTH", "TEST-S", "S2", "TEST^BOB", date(1970, 1, 1), "M", "", datetime(2024, 1, 25, 11),
     "DX", "CHEST", "XR Chest PA"),
]


def open_sites(page):
    """The Sites link of the sidebar; admins have more pages than the sidebar lists at first."""
    sidebar = page.get_by_test_id("stSidebarNav")
    more = page.get_by_test_id("stSidebarNavViewButton")
    if more.count() and more.first.is_visible():
        more.first.click()
    sidebar.get_by_text("Sites", exact=True).click()
    wait_idle(page)


@pytest.fixture(scope="module")
def sites_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("sites")
    archive = Archive.load(home=str(root / "home"))
    import_paths(archive, [write(root / "files", *EXAMS)])
    con = archive.store()
    try:
        add_site(con, archive.home, "NORTH", name="Test North Hospital", issuers=["TEST-N"])
    finally:
        con.close()
    with running_app(archive.home.root, root) as url:
        yield url


def test_admin_adds_a_site_on_desktop_and_phone(browser, sites_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20000)
    try:
        sign_in(page, sites_url, "admin")
        open_sites(page)
        expect(page.get_by_text("2 studies have no site.")).to_be_visible()
        shot(page, "sites_desktop")
        page.get_by_role("textbox", name="Code").fill("SOUTH")
        page.get_by_role("textbox", name="Name").fill("Test South Hospital")
        page.get_by_test_id("stMultiSelect").filter(has_text="Institution names").click()
        page.get_by_role("option", name="TEST SOUTH").click()
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Save site").click()
        expect(page.get_by_text("Site SOUTH added; 2 stored studies attributed to it.")).to_be_visible()
        wait_idle(page)
        shot(page, "sites_desktop_added")
    finally:
        context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.set_default_timeout(20000)
    try:
        sign_in(page, sites_url, "admin")
        page.get_by_test_id("stExpandSidebarButton").click() if page.get_by_test_id(
            "stExpandSidebarButton").is_visible() else None
        open_sites(page)
        page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
        expect(page.get_by_role("heading", name="Sites")).to_be_visible()
        shot(page, "sites_phone")
    finally:
        phone.close()
