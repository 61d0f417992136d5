"""In Chromium: the Share links desk (revoke asks first, the form clears), sharing the open study
from its page, and the pages whose tables and notices were reworded; each photographed at desktop
and phone width."""

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import choose, nav, sign_in, wait_idle
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def shots(page, name: str) -> None:
    shot(page, f"{name}_desktop")
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    shot(page, f"{name}_phone")
    page.set_viewport_size(desktop)
    page.wait_for_timeout(300)


def test_share_desk_study_share_and_reworded_pages(page, app_url):
    page.set_default_timeout(30000)
    sign_in(page, app_url, "admin", "Ada Admin")
    nav(page, "Home")
    wait_idle(page)
    shots(page, "polish_home")

    # Browse -> a study -> "Share this study" lands on the desk with the study chosen.
    nav(page, "Browse studies")
    page.get_by_role("textbox", name="Patient name").fill("test^al*")
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_text("3 studies match")).to_be_visible(timeout=60000)
    choose(page, "Open a study", re.compile("CT HEAD"))
    wait_idle(page)
    page.get_by_role("link", name="Open study").click()
    wait_idle(page)
    expect(page.get_by_role("link", name="Share this study")).to_be_visible()
    shots(page, "polish_study")
    page.get_by_role("link", name="Share this study").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Share links")).to_be_visible()
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Studies to share")).to_contain_text("CT HEAD")
    page.get_by_role("textbox", name="Recipient's name").fill("Dr Outside")
    page.get_by_role("button", name="Create link").click()
    wait_idle(page)
    issued = page.locator(".st-key-share_links-new_link")
    expect(issued).to_contain_text("cannot be shown again")
    expect(page.get_by_role("textbox", name="Recipient's name")).to_have_value("")   # the form cleared
    shots(page, "polish_share_issued")
    link_id = re.search(r"Link (L[0-9a-f]{12}) created", issued.inner_text()).group(1)
    expect(page.get_by_role("button", name="Revoke...")).to_be_disabled()           # nothing preselected
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Link", exact=True)).locator("input")
    box.click()
    box.fill(link_id)
    page.get_by_role("option", name=link_id).click()
    wait_idle(page)
    page.get_by_role("button", name="Revoke...").click()
    wait_idle(page)
    expect(page.get_by_text(f"Revoke link {link_id}?")).to_be_visible()
    shots(page, "polish_share_confirm")
    page.get_by_role("button", name="Yes, revoke the link").click()
    wait_idle(page)
    expect(page.get_by_text(f"Link {link_id} is now revoked")).to_be_visible()

    for title, name in (("Department metrics", "metrics"), ("Repeat exams", "repeats"),
                        ("Audit trail", "audit")):
        nav(page, title)
        wait_idle(page)
        expect(page.get_by_test_id("stDataFrame").first).to_be_attached(timeout=60000)
        body = page.locator("[data-testid=stMain]").inner_text()
        assert "started_at" not in body and "limestone link-patients" not in body
        shots(page, f"polish_{name}")
