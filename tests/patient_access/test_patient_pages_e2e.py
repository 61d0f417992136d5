"""In Chromium, at phone and desktop size, in English and French: every page of the patients' door
passes axe-core's WCAG 2.1 A/AA rules (signed out: sign-in, enrolment, code; signed in: records,
study, viewer, share form, shares, security, family), and a delegate opens the records someone
gave them access to. Screenshots of each page go to the screenshots folder."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from archive.patient_access import accounts
from tests.support.axe import assert_accessible
from tests.support.patient_flows import enrol_by_email, invite
from tests.support.patient_world import P_BIRTH, P_NORTH, Q_BIRTH, Q_NORTH
from tests.support.screenshots import page_shot

pytestmark = pytest.mark.e2e
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
P_MAIL, Q_MAIL = "pat.pages@example.org", "carer.pages@example.org"
DOB = f"{P_BIRTH[:4]}-{P_BIRTH[4:6]}-{P_BIRTH[6:]}"
Q_DOB = f"{Q_BIRTH[:4]}-{Q_BIRTH[4:6]}-{Q_BIRTH[6:]}"


@pytest.fixture(scope="module")
def people(door, smtp):
    """P (the owner) gives Q (a carer) access; both signed in over HTTP."""
    owner = enrol_by_email(door.url, smtp, invite(door.archive, P_NORTH, "NORTH", P_MAIL), DOB, P_MAIL)
    carer = enrol_by_email(door.url, smtp, invite(door.archive, Q_NORTH, "NORTH", Q_MAIL), Q_DOB, Q_MAIL)
    until = (datetime.utcnow() + timedelta(days=60)).strftime("%Y-%m-%d")
    granted = owner.post("/me/family/grant", data={"email": Q_MAIL, "label": "Pat (FAKE mother)", "until": until})
    assert granted.status_code == 200
    yield owner, carer
    owner.close()
    carer.close()


def _context(browser, door, size: str, lang: str, client=None):
    context = browser.new_context(viewport=SIZES[size], locale={"en": "en-CA", "fr": "fr-CA"}[lang],
                                  is_mobile=size == "phone", has_touch=size == "phone")
    if client is not None:        # the signed-in session of an HTTP client, in the browser
        context.add_cookies([{"name": c.name, "value": c.value, "domain": "localhost", "path": c.path or "/me"}
                             for c in client.cookies.jar if c.name.startswith("limestone_me")])
    page = context.new_page()
    page.set_default_timeout(30000)
    return context, page


def _check(page, name: str) -> None:
    page.wait_for_load_state("load")
    assert_accessible(page, name)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        f"{name} scrolls sideways"
    page_shot(page, name)


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_patient_page_passes_axe(browser, door, people, size, lang):
    tag = f"{size}_{lang}"
    context, page = _context(browser, door, size, lang)
    try:
        page.goto(door.url + "/me")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        _check(page, f"p30_me_sign_in_{tag}")
        page.goto(door.url + "/me/code")
        _check(page, f"p31_me_code_{tag}")
        enrol = invite(door.archive, P_NORTH, "NORTH", P_MAIL)       # a fresh invitation (the account stays)
        page.goto(door.url + enrol)
        _check(page, f"p32_me_enrol_{tag}")
    finally:
        context.close()
    context, page = _context(browser, door, size, lang, people[0])
    try:
        page.goto(door.url + "/me")
        expect(page.locator("strong.desc").first).to_be_visible()
        _check(page, f"p33_me_records_{tag}")
        page.locator("a.study-link").first.click()
        expect(page.locator("article.report, .series").first).to_be_visible()
        _check(page, f"p34_me_study_{tag}")
        page.locator("a.tile").first.click()
        expect(page.locator(".lsv-live").first).to_have_text(re.compile(r"^Image 1 (of|sur) 3$"))
        _check(page, f"p35_me_viewer_{tag}")
        page.goto(door.url + "/me")
        page.locator("li.study input[type=checkbox]").first.check()
        page.locator("#share-chosen").click()
        expect(page.locator("#doctor")).to_be_visible()
        _check(page, f"p36_me_share_form_{tag}")
        for path, name in (("/me/shares", "p37_me_shares"), ("/me/security", "p38_me_security"),
                           ("/me/family", "p39_me_family")):
            page.goto(door.url + path)
            _check(page, f"{name}_{tag}")
    finally:
        context.close()


def test_a_delegate_opens_the_records_in_the_browser(browser, door, people):
    context, page = _context(browser, door, "phone", "fr", people[1])
    try:
        page.goto(door.url + "/me")
        expect(page.locator("strong.desc")).to_have_text(["FAKE KNEE CT"])     # their own records first
        page.get_by_role("link", name="Famille et proches aidants").click()
        page.get_by_role("button", name="Ouvrir le dossier de Pat (FAKE mother)").click()
        expect(page.locator("#acting")).to_contain_text("Vous consultez le dossier de Pat (FAKE mother)")
        expect(page.locator("strong.desc").filter(has_text="FAKE CHEST CT")).to_be_visible()   # the mother's
        expect(page.locator("strong.desc").filter(has_text="FAKE HEAD CT")).to_be_visible()
        expect(page.locator("strong.desc").filter(has_text="FAKE KNEE CT")).to_have_count(0)  # not their own
        _check(page, "p40_me_delegate_records_phone_fr")
        page.locator("a.study-link").filter(has_text="FAKE CHEST CT").click()
        expect(page.locator("#acting")).to_be_visible()
        page.locator("a.tile").first.click()
        expect(page.locator(".lsv-live").first).to_have_text("Image 1 sur 3")
        page.get_by_role("button", name="Revenir à mon dossier").click()
        expect(page.locator("strong.desc")).to_have_text(["FAKE KNEE CT"])
        expect(page.locator("#acting")).to_have_count(0)
        owner = accounts.for_email(door.archive.home, P_MAIL)[0]
        carer = accounts.for_email(door.archive.home, Q_MAIL)[0]
        from archive import audit
        used = [e for e in audit.events(door.archive.home, limit=100) if e.get("on_behalf_of") == owner.account_id]
        assert used and all(e["account_id"] == carer.account_id and e["user_role"] == "delegate" for e in used)
        assert urlsplit(page.url).path == "/me"
    finally:
        context.close()
