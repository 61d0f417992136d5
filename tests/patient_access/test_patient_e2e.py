"""In Chromium: a clerk invites (the CLI, with the printed letter); the patient enrols with a
virtual WebAuthn authenticator (CDP), signs out and back in with the passkey, sees a study imported
meanwhile, views it at phone size, shares it with a doctor who opens the link, revokes it, and the
doctor is refused. Separately, another patient enrols with a code caught by a real SMTP server.
Every patient page is photographed at desktop and phone size."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.support.cli import ROOT
from tests.support.patient_world import P_BIRTH, P_NORTH, Q_BIRTH, Q_NORTH
from tests.support.screenshots import SHOTS

pytestmark = pytest.mark.e2e
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def both(page, name: str) -> None:
    """Whole-page screenshots at desktop and phone width (the page is left at desktop width)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_load_state("load")
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")   # lazy images load
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"patient-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def _invite(world, door, patient_id: str, issuer: str, email: str, letter) -> dict:
    """The clerk's command, as typed: ``limestone patients invite ... --json``."""
    env = dict(os.environ, LIMESTONE_PORTAL_BASE_URL=door.url)
    done = subprocess.run([sys.executable, "-m", "pipelines", "--home", str(world.home), "patients", "invite",
                           "--patient-id", patient_id, "--issuer", issuer, "--email", email, "--no-email",
                           "--letter", str(letter), "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _authenticator(context, page) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True}})


def test_patient_enrols_with_a_passkey_views_shares_and_revokes(browser, world, door, tmp_path):
    letter = tmp_path / "letter.html"
    invitation = _invite(world, door, P_NORTH, "NORTH", "pat.e2e@example.org", letter)
    assert invitation["url"].startswith(door.url + "/me/enrol/lpi_")
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(letter.as_uri())
    expect(page.locator("#qr svg")).to_be_visible()
    expect(page.locator("#enrol-url")).to_have_text(invitation["url"])
    both(page, "letter")

    _authenticator(context, page)
    page.goto(invitation["url"])
    expect(page.get_by_role("heading", name="Set up your account")).to_be_visible()
    both(page, "enrol")
    page.get_by_label("Date of birth").fill(f"{P_BIRTH[:4]}-{P_BIRTH[4:6]}-{P_BIRTH[6:]}")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Choose how to sign in")).to_be_visible()
    both(page, "setup")
    page.get_by_role("button", name="Create a passkey").click()
    expect(page.get_by_role("heading", name="My records")).to_be_visible()
    expect(page.locator("strong.desc").first).to_be_visible()

    # Sign out, then in again with the passkey alone.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    both(page, "sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", name="My records")).to_be_visible()

    # A study that arrives later at another site appears by itself.
    world.import_later_study("FAKE E2E NEW CT", "20260601")
    page.reload()
    expect(page.locator("strong.desc").first).to_have_text("FAKE E2E NEW CT")
    both(page, "records")

    # The study and its images at phone size.
    page.set_viewport_size(PHONE)
    page.get_by_role("link", name=re.compile("FAKE CHEST CT")).click()
    expect(page.locator("pre.report")).to_contain_text("FAKE normal chest")
    both(page, "study")
    page.set_viewport_size(PHONE)
    expect(page.locator("a.tile")).to_have_count(1)          # the CT; the report is not an image series
    with page.expect_response(lambda r: r.url.endswith("/me/chunk")) as answer:
        page.locator("a.tile").first.click()
    assert answer.value.status == 200
    canvas = page.locator("[data-limestone-viewer] canvas").first
    expect(canvas).to_be_visible()
    page.wait_for_function("""() => { const c = document.querySelector('[data-limestone-viewer] canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4 * 97) if (d[i] > 40 && d[i] === d[i + 1]) return true;
        return false; }""", timeout=30000)               # grey pixels of the CT are drawn
    both(page, "viewer")

    # Share the new study with a doctor.
    page.goto(door.url + "/me")
    page.locator("li.study input[type=checkbox]").first.check()
    page.get_by_role("button", name="Share the chosen studies").click()
    both(page, "share-form")
    page.get_by_label("Doctor's name").fill("Dr FAKE E2E")
    page.get_by_role("button", name="Create the link").click()
    url = page.locator("#share-url").inner_text()
    passcode = page.locator("#share-passcode").inner_text()
    both(page, "shared")

    doctor_context = browser.new_context(viewport=DESKTOP)
    doctor = doctor_context.new_page()
    doctor.goto(url)
    doctor.get_by_label("Passcode").fill(passcode)
    doctor.get_by_role("button", name="Open").click()
    expect(doctor.get_by_role("heading", name="Your shared images")).to_be_visible()
    expect(doctor.locator("h2", has_text="FAKE E2E NEW CT")).to_be_visible()

    page.goto(door.url + "/me/shares")
    card = page.locator("section.share", has_text="Dr FAKE E2E")
    expect(card.locator(".trail")).to_contain_text("opened the link")
    both(page, "shares")
    card.get_by_role("button", name="Withdraw").click()
    expect(page.locator("section.share", has_text="Dr FAKE E2E").locator(".status")).to_have_text("revoked")
    doctor.reload()
    expect(doctor.get_by_role("heading", name="Link not available")).to_be_visible()

    page.goto(door.url + "/me/security")
    expect(page.locator("#passkeys li")).to_have_count(1)
    both(page, "security")
    doctor_context.close()
    context.close()


def test_patient_enrols_with_an_emailed_code_on_a_phone(browser, world, door, smtp, tmp_path):
    email = "other.e2e@example.org"
    invitation = _invite(world, door, Q_NORTH, "NORTH", email, tmp_path / "letter.html")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(invitation["url"])
    page.get_by_label("Date of birth").fill(f"{Q_BIRTH[:4]}-{Q_BIRTH[4:6]}-{Q_BIRTH[6:]}")
    page.get_by_role("button", name="Continue").click()
    before = len([m for m in smtp.messages if m["To"] == email])
    page.get_by_role("button", name="Use e-mail codes").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    both(page, "code")
    page.set_viewport_size(PHONE)
    page.get_by_label("Code").fill(smtp.last_code(email, before + 1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My records")).to_be_visible()
    expect(page.locator("strong.desc")).to_have_text(["FAKE KNEE CT"])
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]   # no sideways scroll
    context.close()
