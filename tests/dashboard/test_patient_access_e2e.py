"""The Patient access page in Chromium: an admin invites a patient (the link shown once), sees the
accounts, the family grants and the figures; screenshots at desktop and phone size."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import nav, sign_in, wait_idle
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e


def test_admin_invites_and_sees_the_figures(page, app_url):
    sign_in(page, app_url, "admin", "Ada Admin")
    nav(page, "Patient access")
    expect(page.get_by_role("heading", name="Patient access")).to_be_visible()
    page.get_by_role("textbox", name="Patient ID (MRN)").fill("N1001")
    page.get_by_role("textbox", name="Issuer (when the ID exists at several sites)").fill("NORTH-MRN")
    page.get_by_role("textbox", name="Patient's e-mail address").fill("alpha.e2e@example.org")
    page.get_by_role("button", name="Invite").click()
    wait_idle(page)
    box = page.locator(".st-key-patient_access-invitation")
    expect(box).to_contain_text("cannot be shown again")
    expect(box.get_by_test_id("stCode")).to_contain_text("/me/enrol/lpi_")
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="Accounts invited")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1, timeout=30000)
    page.wait_for_timeout(1000)  # the data grids paint on a canvas after they are attached
    shot(page, "60_patient_access")
    page.set_viewport_size({"width": 390, "height": 844})
    wait_idle(page)
    page.wait_for_timeout(1000)
    shot(page, "60_patient_access_phone")
