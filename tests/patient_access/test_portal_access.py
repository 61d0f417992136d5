"""The patient door over HTTP against the real portal, a real SMTP server and an imported archive:
enrolment, records from every site (and a later import), downloads, shares, and refusals of
everything that belongs to another patient, by every address and identifier the pages use."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile

import httpx
import pytest

from archive import audit
from archive.patient_access import records
from archive.sharing import usage
from tests.support.patient_flows import enrol_by_email, invite, refs
from tests.support.patient_world import P_BIRTH, P_NORTH, P_SOUTH, Q_BIRTH, Q_NORTH

pytestmark = pytest.mark.integration
P_MAIL, Q_MAIL = "pat.fake@example.org", "other.fake@example.org"
DOB = f"{P_BIRTH[:4]}-{P_BIRTH[4:6]}-{P_BIRTH[6:]}"
Q_DOB = f"{Q_BIRTH[:4]}-{Q_BIRTH[4:6]}-{Q_BIRTH[6:]}"


@pytest.fixture(scope="module")
def p_client(door, smtp):
    path = invite(door.archive, P_NORTH, "NORTH", P_MAIL)
    client = enrol_by_email(door.url, smtp, path, DOB, P_MAIL)
    client.enrol_path = path
    yield client
    client.close()


@pytest.fixture(scope="module")
def q_client(door, smtp):
    client = enrol_by_email(door.url, smtp, invite(door.archive, Q_NORTH, "NORTH", Q_MAIL), Q_DOB, Q_MAIL)
    yield client
    client.close()


def _studies_text(html: str) -> list[str]:
    return re.findall(r'<strong class="desc">([^<]+)</strong>', html)


def test_records_hold_every_site_newest_first_and_the_invitation_is_spent(door, p_client, smtp):
    page = p_client.get("/me")
    assert page.status_code == 200
    shown = _studies_text(page.text)
    assert shown.index("FAKE HEAD CT") < shown.index("FAKE CHEST CT")           # south 2025, north 2024
    assert "FAKE KNEE CT" not in page.text and "FAKE NORTH HOSPITAL" in page.text
    assert "FAKE SOUTH HOSPITAL" in page.text
    # The invitation link worked once.
    assert httpx.get(door.url + p_client.enrol_path).status_code == 404
    assert httpx.post(door.url + p_client.enrol_path, data={"birth_date": DOB}).status_code == 404
    # E-mails carry a code, never patient data.
    for message in smtp.wait_for(P_MAIL):
        body = message.get_payload(decode=True).decode() + message["Subject"]
        for secret in ("FAKE^PAT", "PAT", P_NORTH, P_SOUTH, "CHEST", "HEAD", P_BIRTH, DOB, "HOSPITAL"):
            assert secret not in body


def test_study_report_viewer_and_downloads(door, p_client):
    page = p_client.get("/me")
    chest = re.search(r'id="study-([0-9a-f]{16})">\s*<input[^>]*>\s*<a[^>]*>\s*<strong class="desc">FAKE CHEST CT',
                      page.text).group(1)
    study = p_client.get(f"/me/study/{chest}")
    assert study.status_code == 200 and "FAKE normal chest" in study.text and "/me/view/" in study.text
    assert p_client.get(f"/me/view/{chest}/1").status_code == 200
    chunk = p_client.post("/me/chunk", content=json.dumps({"study": chest, "series": 1, "start": 0, "count": 2}),
                          headers={"content-type": "text/plain"})
    assert chunk.status_code == 200 and len(chunk.content) > 1000
    assert p_client.get(f"/me/thumb/{chest}/1.png").headers["content-type"] == "image/png"
    both = refs(page.text)
    zipped = p_client.get("/me/download", params=[("s", r) for r in both])
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert "DICOMDIR" in names and len([n for n in names if "/IM" in n]) >= 6
    iso = p_client.get("/me/cd", params=[("s", chest)])
    assert iso.status_code == 200 and iso.content[32768 + 1:32768 + 6] == b"CD001"


def test_a_study_imported_later_appears(door, world, p_client):
    assert "FAKE LATER CT" not in p_client.get("/me").text
    world.import_later_study()
    shown = _studies_text(p_client.get("/me").text)
    assert "FAKE LATER CT" in shown and shown.index("FAKE LATER CT") < shown.index("FAKE HEAD CT")


def test_another_patients_things_are_refused_by_every_address(door, world, p_client, q_client):
    q_page = q_client.get("/me")
    assert _studies_text(q_page.text) == ["FAKE KNEE CT"]
    q_ref = refs(q_page.text)[0]
    shared = q_client.post("/me/share", data={"s": q_ref, "doctor": "Dr FAKE Q", "days": "5",
                                              "perm": ["view", "download"]})
    assert shared.status_code == 200
    q_link = q_client.get("/me/shares")
    q_link_id = re.search(r'id="share-(L[0-9a-f]{12})"', q_link.text).group(1)
    p_account = _account_id(door, P_MAIL)
    p_ref = refs(p_client.get("/me").text)[0]
    q_uid = world.studies["q_north"]
    candidates = [q_ref, records.study_ref(p_account, q_uid), q_uid, q_uid[-16:], "0" * 16]
    for ref in candidates:
        for path in (f"/me/study/{ref}", f"/me/view/{ref}/1", f"/me/thumb/{ref}/1.png", f"/me/report/{ref}/1.pdf",
                     f"/me/download?s={ref}", f"/me/download?s={p_ref}&s={ref}", f"/me/cd?s={ref}",
                     f"/me/share/new?s={ref}"):
            r = p_client.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert "FAKE KNEE" not in r.text and "Q report" not in r.text
        r = p_client.post("/me/chunk", content=json.dumps({"study": ref, "series": 1, "start": 0, "count": 1}),
                          headers={"content-type": "text/plain"})
        assert r.status_code == 404
        r = p_client.post("/me/share", data={"s": ref, "doctor": "Dr FAKE Spy", "days": "5", "perm": "view"})
        assert r.status_code == 404
    assert p_client.post(f"/me/shares/{q_link_id}/revoke").status_code == 404
    assert q_link_id not in p_client.get("/me/shares").text
    assert 'class="status">active' in q_client.get("/me/shares").text        # still active for Q
    # Nobody signed in reaches anything.
    anon = httpx.Client(base_url=door.url)
    for path in (f"/me/study/{q_ref}", f"/me/view/{q_ref}/1", f"/me/download?s={q_ref}", f"/me/cd?s={q_ref}",
                 f"/me/report/{q_ref}/1.pdf", f"/me/share/new?s={q_ref}"):
        assert anon.get(path).status_code == 404
    assert anon.post(f"/me/shares/{q_link_id}/revoke").status_code == 404
    assert "FAKE KNEE" not in anon.get("/me").text


def _account_id(door, email: str) -> str:
    with sqlite3.connect(door.archive.home.state_path) as con:
        return con.execute("SELECT account_id FROM patient_accounts WHERE email = ?", [email]).fetchone()[0]


def test_patient_share_is_opened_listed_revoked_and_refused(door, smtp, p_client):
    page = p_client.get("/me")
    ref = refs(page.text)[0]
    form = p_client.get(f"/me/share/new?s={ref}")
    assert form.status_code == 200
    made = p_client.post("/me/share", data={"s": ref, "doctor": "Dr FAKE Doctor", "days": "7",
                                            "doctor_email": "doctor.fake@example.org", "perm": ["view", "download"]})
    assert made.status_code == 200
    url = re.search(r'id="share-url">([^<]+)<', made.text).group(1)
    passcode = re.search(r'id="share-passcode">([^<]+)<', made.text).group(1)
    mail = smtp.wait_for("doctor.fake@example.org")[-1].get_payload(decode=True).decode()
    assert url in mail and passcode not in mail and "FAKE" not in mail
    doctor = httpx.Client(timeout=60)
    opened = doctor.post(url, data={"answer": passcode})
    assert opened.status_code == 303
    assert doctor.get(url).status_code == 200
    shares = p_client.get("/me/shares").text
    assert "Dr FAKE Doctor" in shares and "opened the link" in shares
    link_id = re.search(r'id="share-(L[0-9a-f]{12})"', shares).group(1)
    assert p_client.post(f"/me/shares/{link_id}/revoke").status_code == 303
    assert doctor.get(url).status_code == 404                           # the doctor is refused at once
    with sqlite3.connect(door.archive.home.state_path) as con:
        kind = con.execute("SELECT created_by_kind FROM share_links WHERE link_id = ?", [link_id]).fetchone()[0]
    assert kind == "patient"
    assert int(usage.report(door.archive.home)["by_patients"].sum()) >= 1


def test_every_patient_action_is_audited_with_the_account(door, p_client):
    p_account = _account_id(door, P_MAIL)
    events = [e for e in audit.search(door.archive.home, limit=5000) if e.get("account_id") == p_account]
    actions = {(e["action"], e["outcome"]) for e in events}
    for wanted in ("enrol", "sign_in", "view", "download", "export", "share", "revoke", "code_sent"):
        assert (wanted, "success") in actions, wanted


def test_wrong_birth_dates_and_codes_fail_audited_and_lock(door, smtp):
    path = invite(door.archive, P_SOUTH, "SOUTH", "south.fake@example.org")
    client = httpx.Client(base_url=door.url)
    for _ in range(5):
        assert client.post(path, data={"birth_date": "1999-01-01"}).status_code in (401, 404)
    assert client.post(path, data={"birth_date": DOB}).status_code == 404   # locked
    account = _account_id(door, "south.fake@example.org")
    failures = [e for e in audit.search(door.archive.home, limit=5000)
                if e.get("account_id") == account and e["outcome"] == "failure"]
    assert {e["action"] for e in failures} >= {"sign_in", "lockout"}


def test_sign_out_everywhere(door, smtp):
    email = "twice.fake@example.org"
    first = enrol_by_email(door.url, smtp, invite(door.archive, Q_NORTH, "NORTH", email), Q_DOB, email)
    second = httpx.Client(base_url=door.url)
    second.post("/me/code/send", data={"email": email})
    code = smtp.last_code(email, 2)
    assert second.post("/me/code", data={"code": code}).status_code == 303
    assert "FAKE KNEE CT" in second.get("/me").text
    assert first.post("/me/signout-all").status_code == 303
    assert "FAKE KNEE CT" not in second.get("/me").text and "Sign in" in second.get("/me").text
    assert "FAKE KNEE CT" not in first.get("/me").text


def test_posts_from_another_site_and_forged_passkeys_are_refused(door, p_client):
    evil = {"origin": "http://evil.example"}
    assert p_client.post("/me/signout-all", headers=evil).status_code == 403
    assert p_client.post("/me/signout-all", headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert p_client.get("/me").status_code == 200 and "My records" in p_client.get("/me").text
    options = p_client.post("/me/passkey/signin/options", json={}).json()
    forged = {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
              "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}
    r = p_client.post("/me/passkey/signin", json={"challenge_id": options["challenge_id"], "credential": forged})
    assert r.status_code == 401 and not r.json()["ok"]
    # A challenge is used once.
    r = p_client.post("/me/passkey/signin", json={"challenge_id": options["challenge_id"], "credential": forged})
    assert r.status_code == 401


def test_report_delay_and_new_images_notice(door, world, smtp):
    con = world.archive().store(read_only=True)
    try:
        uid = world.studies["p_north"]
        assert [r["text"] for r in records.released_reports(con, uid)][0].count("FAKE normal chest") == 1
        assert records.released_reports(con, uid, delay_hours=24) == []          # received minutes ago
    finally:
        con.close()
    archive = world.archive(smtp_url=smtp.url, portal_base_url=door.url)
    from archive.patient_access.notices import notify_new_images
    notify_new_images(archive)                                                # whatever was due so far
    before = len([m for m in smtp.messages if m["To"] == P_MAIL])
    world.import_later_study("FAKE NOTICE CT", "20260401")
    assert notify_new_images(archive) >= 1
    notice = smtp.wait_for(P_MAIL, before + 1)[-1]
    body = notice.get_payload(decode=True).decode()
    assert notice["Subject"] == "You have new images" and door.url + "/me" in body and "FAKE" not in body
    assert notify_new_images(archive) == 0                                    # sent once
