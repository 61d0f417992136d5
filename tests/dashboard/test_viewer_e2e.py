"""The client-side viewer in Chromium on a 300-slice 512x512 CT: keys, touch, pixels, aria-live,
and images refused once the session signed out (issue 17 item 16)."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from archive import study_keys
from archive.home import Archive
from tests.support import big_ct
from tests.support.browser import running_app, wait_idle
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    archive = Archive.load(home=str(tmp_path_factory.mktemp("bigct") / "home"))
    built = big_ct.build(archive)
    return archive, built


@pytest.fixture(scope="module")
def ct_url(ct, tmp_path_factory):
    with running_app(ct[0].home.root, tmp_path_factory.mktemp("log")) as url:
        yield url


def sign_in_here(page, role="technologist"):
    page.get_by_role("textbox", name="Your name").fill("Eve Tester")
    page.get_by_test_id("stSelectbox").filter(has_text="Role").click()
    page.get_by_role("option", name=role, exact=True).click()
    page.get_by_role("button", name="Sign in").click()


def pixels(canvas) -> str:
    return canvas.evaluate("c => c.toDataURL()")


def open_viewer(page, ct_url, ct):
    key = study_keys.encode(ct[0].home, ct[1].current_uid)
    page.goto(f"{ct_url}/viewer?study={key}")      # a deep link, signed out
    sign_in_here(page)
    live = page.locator(".lsv-live").first
    expect(live).to_have_text("Image 1 of 300", timeout=60000)
    page.wait_for_function("() => ((window.limestoneViewerStats || {}).draws || []).length > 0")
    return live, page.locator("canvas.lsv-canvas").first


def test_keyboard_steps_draw_and_announce(page, ct_url, ct):
    live, canvas = open_viewer(page, ct_url, ct)
    canvas.focus()
    before = pixels(canvas)
    for _ in range(60):                 # past the phantom's lesion at 60 mm: the picture changes
        page.keyboard.press("ArrowDown")
    expect(live).to_have_text("Image 61 of 300")
    page.wait_for_function("() => window.limestoneViewerStats.draws.some(d => d.index === 60)")
    assert pixels(canvas) != before
    page.keyboard.press("End")
    expect(live).to_have_text("Image 300 of 300")
    page.keyboard.press("Home")
    expect(live).to_have_text("Image 1 of 300")
    page.keyboard.press("PageDown")
    expect(live).to_have_text("Image 11 of 300")
    grey = pixels(canvas)
    page.get_by_role("combobox", name="Window preset").select_option("CT lung")
    assert pixels(canvas) != grey          # a preset redraws on the client
    shot(page, "viewer_client_desktop")


def test_touch_swipe_steps(browser, ct_url, ct):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    page = context.new_page()
    try:
        live, canvas = open_viewer(page, ct_url, ct)
        before = pixels(canvas)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
        cdp = context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for k in range(1, 11):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y + 12 * k}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(live).not_to_have_text("Image 1 of 300")
        page.wait_for_timeout(300)
        assert pixels(canvas) != before
        shot(page, "viewer_client_phone")
    finally:
        context.close()


def test_images_refused_after_sign_out(page, ct_url, ct):
    asked = []
    page.on("request", lambda r: asked.append(r) if r.url.endswith("/v1/chunk") else None)
    open_viewer(page, ct_url, ct)
    request = asked[0]
    assert "study" not in request.url and ct[1].current_uid not in request.url
    body = json.loads(request.post_data)
    answer = requests.post(request.url, data=json.dumps(dict(body, start=0, count=1)), timeout=10)
    assert answer.status_code == 200 and len(answer.content) > 512 * 512
    assert requests.post(request.url, data=json.dumps(dict(body, grant="x" * 43, start=0, count=1)),
                         timeout=10).status_code == 403
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Please sign in to use Limestone.")).to_be_visible(timeout=60000)   # the run it started
    wait_idle(page)
    assert requests.post(request.url, data=json.dumps(dict(body, start=0, count=1)), timeout=10).status_code == 403


def both_sizes(page, name: str) -> None:
    shot(page, f"{name}_desktop")
    desktop = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    shot(page, f"{name}_phone")
    page.set_viewport_size(desktop)


def test_a_reload_keeps_the_demo_user_signed_in_until_sign_out(page, ct_url, ct):
    page.goto(f"{ct_url}/viewer?study={study_keys.encode(ct[0].home, ct[1].current_uid)}")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30000)
    both_sizes(page, "viewer_sign_in_form")     # the viewer's scripts load under the form
    live, canvas = open_viewer(page, ct_url, ct)
    cookie = [c for c in page.context.cookies() if c["name"] == "limestone_demo_session"]
    assert cookie and cookie[0]["sameSite"] == "Strict" and "Eve" not in page.url
    page.reload()           # a new browser session: restored from the signed cookie, no sign-in form
    expect(page.locator(".lsv-live").first).to_have_text("Image 1 of 300", timeout=60000)
    expect(page.get_by_text("Signed in as Eve Tester · technologist")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    both_sizes(page, "viewer_after_reload")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30000)
    page.reload()           # signed out stays signed out, even with a copy of the old cookie
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30000)
    page.context.add_cookies([dict(cookie[0])])
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30000)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
