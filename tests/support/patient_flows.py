"""Steps the patient-access tests repeat: invite a patient, enrol with an e-mail code over HTTP."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from archive.patient_access import actions
from archive.sharing.actions import Actor

CLERK = Actor("cli:fake-clerk", "clerk", source="cli")


def invite(archive, patient_id: str, issuer: str, email: str) -> str:
    """The enrolment path (``/me/enrol/<token>``) of a new invitation."""
    result = actions.invite_patient(archive, patient_id, email, CLERK, issuer=issuer, send_email=False)
    return urlsplit(result.url).path


def enrol_by_email(base_url: str, smtp, path: str, birth_date: str, email: str) -> httpx.Client:
    """A client signed in after enrolling with the birth date and an e-mailed code."""
    client = httpx.Client(base_url=base_url, timeout=60)
    before = len([m for m in smtp.messages if m["To"] == email])
    r = client.post(path, data={"birth_date": birth_date})
    assert r.status_code == 303 and r.headers["location"] == "/me/setup", r.text[:300]
    r = client.post("/me/setup/email")
    assert r.status_code == 303
    code = smtp.last_code(email, before + 1)
    r = client.post("/me/code", data={"code": code})
    assert r.status_code == 303 and r.headers["location"] == "/me"
    return client


def refs(html: str) -> list[str]:
    """The study refs a records page offers."""
    return re.findall(r'name="s" value="([0-9a-f]{16})"', html)
