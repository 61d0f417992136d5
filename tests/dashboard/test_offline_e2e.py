"""In Chromium: the dashboard asks nothing of the internet, the browser-tab icon included (a
Material or emoji page icon is fetched from fonts.gstatic.com or a CDN)."""

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.support.browser import nav, sign_in, wait_idle

pytestmark = pytest.mark.e2e
LOCAL = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _icon(page) -> str:
    return page.evaluate("() => (document.querySelector(\"link[rel~='icon']\") || {}).href || ''")


def test_no_request_leaves_the_computer_and_the_tab_icon_is_served_locally(page, app_url):
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).scheme in ("http", "https") and urlparse(r.url).hostname not in LOCAL else None)
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Sign in to Limestone")).to_be_visible()
    wait_idle(page)
    sign_in(page, app_url, "technologist")
    for title in ("Browse studies", "Home"):
        nav(page, title)
        wait_idle(page)
    page.wait_for_function("() => !!document.querySelector(\"link[rel~='icon']\")")
    href = _icon(page)
    assert urlparse(href).hostname in LOCAL, href
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"] == "image/png"
    assert outside == []
