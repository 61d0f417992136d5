"""End to end in Chromium: sign in, search, open a study, scroll and window a CT, switch pages,
download a CSV, and a role that must not see a page."""

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import choose, nav, sign_in, wait_idle
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e


def test_sign_in_search_open_scroll_window(page, app_url):
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Sign in to Limestone")).to_be_visible()
    shot(page, "01_sign_in")
    sign_in(page, app_url, "technologist")

    nav(page, "Home")
    expect(page.get_by_test_id("stMetricValue").nth(1)).to_have_text("35")
    expect(page.get_by_text("demo mode").first).to_be_visible()
    shot(page, "02_home")

    nav(page, "Browse studies")
    expect(page.get_by_text("35 studies match")).to_be_visible()
    page.get_by_role("textbox", name="Patient name").fill("test^al*")
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_text("3 studies match")).to_be_visible(timeout=60000)
    choose(page, "Open a study", re.compile("CT HEAD"))
    expect(page.locator(".st-key-patient_banner")).to_contain_text("TEST, Alpha", timeout=60000)
    wait_idle(page)
    shot(page, "03_browse")
    page.get_by_role("link", name="Open study").click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"/study\?study=[A-Za-z0-9_-]+$"))
    assert "1.2.826" not in page.url and "TEST" not in page.url  # opaque key, no PHI
    expect(page.get_by_role("heading", name="CT HEAD WITHOUT CONTRAST")).to_be_visible()
    expect(page.get_by_text("3 studies at 2 sites")).to_be_visible()
    expect(page.locator("img[alt^='Preview of series']").first).to_have_attribute("src", re.compile("^blob:"))
    shot(page, "04_study")

    page.get_by_role("link", name="View", exact=True).first.click()
    wait_idle(page)
    live = page.locator(".lsv-live").first
    expect(live).to_have_text("Image 1 of 12")
    canvas = page.locator("canvas.lsv-canvas").first
    page.wait_for_function("() => ((window.limestoneViewerStats || {}).draws || []).length > 0")
    first = canvas.evaluate("c => c.toDataURL()")
    canvas.focus()
    for _ in range(3):
        canvas.press("ArrowRight")
    expect(live).to_have_text("Image 4 of 12")
    page.wait_for_function("() => window.limestoneViewerStats.draws.some(d => d.index === 3)")
    scrolled = canvas.evaluate("c => c.toDataURL()")
    assert scrolled != first
    page.get_by_role("combobox", name="Window preset").select_option("CT lung")
    assert canvas.evaluate("c => c.toDataURL()") != scrolled
    expect(live).to_have_text("Image 4 of 12")
    expect(page.locator(".st-key-patient_banner")).to_contain_text("TEST, Alpha")  # the banner stays on screen
    shot(page, "05_viewer")


def test_manager_metrics_and_csv(page, app_url):
    sign_in(page, app_url, "manager", "Meg Manager")
    nav(page, "Department metrics")
    expect(page.get_by_text("35 studies in the range")).to_be_visible(timeout=60000)  # heaviest page
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(6, timeout=30000)  # Plotly loads lazily
    shot(page, "06_metrics")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").first.click()
    download = info.value
    assert download.suggested_filename == "exam_volume_by_week.csv"
    text = open(download.path()).read()
    assert text.splitlines()[0] == "period,site,modality,studies,instances"
    assert sum(int(line.split(",")[3]) for line in text.splitlines()[1:]) == 35
    # The manager may not open images: the viewer is not in the navigation.
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Image viewer")).to_have_count(0)


def test_clerk_does_not_see_metrics(page, app_url):
    sign_in(page, app_url, "clerk", "Cal Clerk")
    sidebar = page.get_by_test_id("stSidebarNav")
    expect(sidebar.get_by_text("Browse studies")).to_be_visible()
    expect(sidebar.get_by_text("Department metrics")).to_have_count(0)
    expect(sidebar.get_by_text("Image viewer")).to_have_count(0)
    # A typed-in URL does not reach the page either: the new page load is still the clerk's (the
    # demo session cookie), whose pages do not include it, and the page itself refuses roles it
    # does not allow (see tests/dashboard).
    page.goto(app_url + "/metrics")
    expect(page.get_by_text("Signed in as Cal Clerk · clerk")).to_be_visible()
    wait_idle(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)
    expect(page.get_by_role("heading", name="Department metrics")).to_have_count(0)
    shot(page, "07_clerk_refused")
