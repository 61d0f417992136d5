"""Every share-portal page in Chromium, at desktop and phone size, in English and French:
axe-core finds no WCAG 2.1 A/AA violation, and a keyboard alone opens, browses and views a link.
Screenshots of each page go to the screenshots folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.axe import assert_accessible
from tests.support.screenshots import page_shot
from tests.support.share_helpers import issue, link_url

pytestmark = pytest.mark.e2e

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _context(browser, size: str, lang: str):
    return browser.new_context(viewport=SIZES[size], locale={"en": "en-CA", "fr": "fr-CA"}[lang],
                               has_touch=size == "phone", is_mobile=size == "phone", accept_downloads=True)


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_portal_page_passes_axe(browser, shared, portal, size, lang):
    issued = issue(shared, "a_ct", "a_report", "a_mixed", permissions=("view", "download"))
    context = _context(browser, size, lang)
    page = context.new_page()
    tag = f"{size}_{lang}"
    try:
        page.goto(portal.url + "/")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        assert_accessible(page, "home")
        page_shot(page, f"p20_portal_home_{tag}")

        page.goto(link_url(portal, issued))
        assert_accessible(page, "passcode")
        page_shot(page, f"p21_portal_passcode_{tag}")
        page.locator("#answer").fill("WRONG-WRONG")
        page.locator("button[type=submit]").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert_accessible(page, "passcode error")
        page_shot(page, f"p21b_portal_passcode_error_{tag}")

        page.locator("#answer").fill(issued.passcode)
        page.locator("button[type=submit]").click()
        expect(page.locator("#patient-banner")).to_be_visible()
        expect(page.locator(".tile img").first).to_have_js_property("naturalWidth", 128, timeout=30000)
        expect(page.locator("article.report").first).to_be_visible()          # reports are on this page
        assert_accessible(page, "studies and reports")
        page_shot(page, f"p22_portal_studies_{tag}")
        page.locator("details summary").click()                                # the DICOMweb details open
        assert_accessible(page, "studies with DICOMweb details")

        page.locator("a.tile").first.click()
        expect(page.locator(".lsv-live").first).to_have_text(re.compile(r"^Image 1 (of|sur) 15$"), timeout=30000)
        assert_accessible(page, "viewer")
        page_shot(page, f"p23_portal_viewer_{tag}")

        page.goto(link_url(portal, issued) + "/view/1/1?classic=1")
        expect(page.locator("#image")).to_have_js_property("complete", True)
        assert_accessible(page, "classic viewer")

        page.goto(portal.url + "/s/lsl_not_a_link")
        assert_accessible(page, "refusal")
        page_shot(page, f"p25_portal_refused_{tag}")
    finally:
        context.close()


def test_a_keyboard_alone_opens_browses_views_and_closes_a_link(browser, shared, portal):
    from tests.support.keyboard import tab_to
    issued = issue(shared, "a_ct", "a_report", permissions=("view", "download"))
    context = _context(browser, "phone", "en")
    page = context.new_page()
    try:
        page.goto(link_url(portal, issued))
        stops = tab_to(page, "#answer")
        assert stops[0]["text"] == "Skip to content" and stops[1]["text"] == "Français"
        page.keyboard.type(issued.passcode)
        page.keyboard.press("Enter")
        expect(page.locator("#patient-banner")).to_be_visible()

        tab_to(page, "a.tile")                                        # past the downloads and reports
        page.keyboard.press("Enter")
        live = page.locator(".lsv-live").first
        expect(live).to_have_text("Image 1 of 15", timeout=30000)
        tab_to(page, "canvas.lsv-canvas", backwards=False)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("End")
        expect(live).to_have_text("Image 15 of 15")
        tab_to(page, "select.lsv-select", backwards=True)           # the window presets, by keyboard
        page.keyboard.press("ArrowDown")
        assert page.locator("select.lsv-select").input_value() != "file"
        tab_to(page, "button[aria-label^='Invert']")
        page.keyboard.press("Enter")
        tab_to(page, "a.button.quiet", backwards=True)                # "All studies"
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Your shared images")).to_be_visible()

        details = page.locator("details")
        tab_to(page, "details summary")
        page.keyboard.press("Enter")
        expect(details).to_have_attribute("open", "")
        tab_to(page, "form button[type=submit]")                      # "Close" ends the session
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Open shared images")).to_be_visible()

        page.keyboard.press("Tab")                                    # the skip link jumps to the content
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
    finally:
        context.close()


def test_a_finger_swipe_moves_through_the_images_on_a_phone(browser, shared, portal):
    issued = issue(shared, "a_ct")
    context = _context(browser, "phone", "fr")
    page = context.new_page()
    try:
        page.goto(link_url(portal, issued))
        page.locator("#answer").fill(issued.passcode)
        page.locator("button[type=submit]").click()
        page.locator("a.tile").first.click()
        live, canvas = page.locator(".lsv-live").first, page.locator("canvas.lsv-canvas").first
        expect(live).to_have_text("Image 1 sur 15", timeout=30000)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
        cdp = context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for k in range(1, 11):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y + 12 * k}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(live).not_to_have_text("Image 1 sur 15")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()
