"""Family and caregivers over HTTP against the real portal: a patient gives another account access
to their records until a date; the delegate opens them (records, study, viewer frames, download),
every use is audited as the delegate's on the owner's behalf; the end date, a withdrawal and a
clerk's grant (the CLI) all work, and nothing else of the owner's account is reachable."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from archive import audit
from archive.patient_access import accounts, delegation
from tests.support.cli import ROOT
from tests.support.patient_flows import enrol_by_email, invite, refs
from tests.support.patient_world import P_BIRTH, P_NORTH, Q_BIRTH, Q_NORTH

pytestmark = pytest.mark.integration
P_MAIL, Q_MAIL = "pat.family@example.org", "carer.family@example.org"
DOB = f"{P_BIRTH[:4]}-{P_BIRTH[4:6]}-{P_BIRTH[6:]}"
Q_DOB = f"{Q_BIRTH[:4]}-{Q_BIRTH[4:6]}-{Q_BIRTH[6:]}"


@pytest.fixture(scope="module")
def owner(door, smtp):
    client = enrol_by_email(door.url, smtp, invite(door.archive, P_NORTH, "NORTH", P_MAIL), DOB, P_MAIL)
    yield client
    client.close()


@pytest.fixture(scope="module")
def carer(door, smtp):
    client = enrol_by_email(door.url, smtp, invite(door.archive, Q_NORTH, "NORTH", Q_MAIL), Q_DOB, Q_MAIL)
    yield client
    client.close()


def _account(door, mail: str):
    return accounts.for_email(door.archive.home, mail)[0]


def _grant(owner, until: str | None = None, email: str = Q_MAIL):
    until = until or (datetime.utcnow() + timedelta(days=30)).strftime("%Y-%m-%d")
    return owner.post("/me/family/grant", data={"email": email, "label": "Pat (FAKE mother)", "until": until})


def _open(carer, door) -> str:
    grants = delegation.granted_to(door.archive.home, _account(door, Q_MAIL).account_id)
    assert grants, "no grant to open"
    r = carer.post(f"/me/family/{grants[0].delegation_id}/open")
    assert r.status_code == 303 and r.headers["location"] == "/me"
    return grants[0].delegation_id


def test_a_delegate_opens_the_owners_records_audited_as_their_own(door, owner, carer):
    own_refs = refs(carer.get("/me").text)
    granted = _grant(owner)
    assert granted.status_code == 200 and "they can open your records until" in granted.text
    assert Q_MAIL in owner.get("/me/family").text
    page = carer.get("/me/family").text
    assert "Open the records of Pat (FAKE mother)" in page
    chosen = _open(carer, door)

    records = carer.get("/me").text
    assert 'id="acting"' in records and "Pat (FAKE mother)" in records
    assert "FAKE CHEST CT" in records and "FAKE HEAD CT" in records and "FAKE KNEE CT" not in records
    p_refs = refs(records)
    assert set(p_refs).isdisjoint(own_refs)
    study = carer.get(f"/me/study/{p_refs[0]}")
    assert study.status_code == 200
    frames = carer.post("/me/chunk", content=json.dumps({"study": p_refs[0], "series": 1, "start": 0, "count": 1}),
                        headers={"content-type": "application/json"})
    assert frames.status_code == 200 and len(frames.content) > 100
    download = carer.get("/me/download", params={"s": p_refs[0]})
    assert download.status_code == 200 and download.content[:2] == b"PK"

    p_id, q_id = _account(door, P_MAIL).account_id, _account(door, Q_MAIL).account_id
    rows = [e for e in audit.events(door.archive.home, limit=200) if e.get("on_behalf_of") == p_id]
    assert {e["action"] for e in rows} >= {"view", "download"}
    assert all(e["user_id"] == f"patient:{q_id}" and e["user_role"] == "delegate" and e["account_id"] == q_id
               for e in rows)
    # Sign-in, security, sharing and the family page stay the delegate's own.
    assert f"/me/family/{chosen}/revoke" not in carer.get("/me/family").text
    assert carer.get("/me/share/new", params={"s": p_refs[0]}).status_code == 404
    carer.post("/me/family/own")
    carer.cookies.delete("limestone_me_for")
    assert refs(carer.get("/me").text) == own_refs


def test_the_end_date_and_a_withdrawal_stop_the_access(door, owner, carer):
    for earlier in delegation.granted_to(door.archive.home, _account(door, Q_MAIL).account_id):
        assert owner.post(f"/me/family/{earlier.delegation_id}/revoke").status_code == 200
    _grant(owner)
    chosen = _open(carer, door)
    p_refs = refs(carer.get("/me").text)
    assert p_refs
    with sqlite3.connect(door.archive.home.root / "state.sqlite") as con:       # the end date passes
        con.execute("UPDATE patient_delegations SET ends_at = ? WHERE delegation_id = ?",
                    [(datetime.utcnow() - timedelta(minutes=1)).isoformat(timespec="seconds"), chosen])
    assert "FAKE KNEE CT" in carer.get("/me").text and 'id="acting"' not in carer.get("/me").text
    assert carer.get(f"/me/study/{p_refs[0]}").status_code == 404
    assert carer.post(f"/me/family/{chosen}/open").status_code == 404
    assert "Open the records of" not in carer.get("/me/family").text

    _grant(owner)
    chosen = _open(carer, door)
    assert 'id="acting"' in carer.get("/me").text
    assert carer.post(f"/me/family/{chosen}/revoke").status_code == 404       # only the owner withdraws
    assert owner.post(f"/me/family/{chosen}/revoke").status_code == 200
    assert carer.get(f"/me/study/{p_refs[0]}").status_code == 404
    assert 'id="acting"' not in carer.get("/me").text
    actions = [e["action"] for e in audit.events(door.archive.home, limit=300)]
    assert "delegate" in actions and "delegate_revoke" in actions


def test_grants_to_unknown_addresses_or_oneself_are_refused_alike(door, owner):
    past = (datetime.utcnow() - timedelta(days=1)).strftime("%Y-%m-%d")
    for response in (_grant(owner, email="nobody.fake@example.org"), _grant(owner, email=P_MAIL),
                     _grant(owner, until=past)):
        assert response.status_code == 400 and "Access could not be given" in response.text


def test_a_clerk_grants_lists_and_revokes_with_the_cli(door, owner, carer):
    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "pipelines", "--home", str(door.archive.home.root), "patients",
                               "delegate", *args], cwd=ROOT, capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr

    code, out, err = cli("grant", "--patient-id", Q_NORTH, "--issuer", "NORTH", "--to-email", P_MAIL,
                         "--until", "2030-01-31", "--label", "FAKE child Q", "--by", "fake-clerk", "--json")
    assert code == 0, err
    granted = json.loads(out)
    assert granted["granted_by_kind"] == "clerk" and granted["ends_at"] == "2030-01-31T23:59:59"
    assert granted["status"] == "active" and granted["owner_account_id"] == _account(door, Q_MAIL).account_id
    assert "Open the records of FAKE child Q" in owner.get("/me/family").text
    code, out, _ = cli("list", "--json")
    assert granted["delegation_id"] in [g["delegation_id"] for g in json.loads(out)]
    code, out, _ = cli("revoke", granted["delegation_id"], "--json")
    assert code == 0 and json.loads(out)["status"] == "revoked"
    assert "Open the records of FAKE child Q" not in owner.get("/me/family").text
    code, _, err = cli("grant", "--patient-id", "FAKE-NOBODY", "--to-email", P_MAIL, "--until", "2030-01-01",
                       "--label", "x")
    assert code == 2 and "no patient with this Patient ID" in err


def test_the_figures_count_patients_and_delegates(door, owner, carer):
    from archive.patient_access import figures
    _grant(owner)
    _open(carer, door)
    for ref in refs(carer.get("/me").text):
        assert carer.get(f"/me/study/{ref}").status_code == 200
    con = door.archive.store(read_only=True)
    try:
        frame = figures.events(door.archive.home, con)
    finally:
        con.close()
    totals = figures.totals(frame)
    assert totals["enrolled"] >= 2 and totals["active_90_days"] >= 2 and totals["studies_viewed"] >= 2
    table = figures.monthly(frame)
    assert table["invited"].sum() >= totals["invited"] and table["studies_viewed"].sum() >= 2
    long_ago = datetime.utcnow() + timedelta(days=200)          # seen from the future, nobody is active
    assert figures.totals(frame, now=long_ago)["active_90_days"] == 0


def test_a_second_grant_to_the_same_person_replaces_the_first(door, owner, carer):
    soon = (datetime.utcnow() + timedelta(days=10)).strftime("%Y-%m-%d")
    later = (datetime.utcnow() + timedelta(days=40)).strftime("%Y-%m-%d")
    assert _grant(owner, soon).status_code == 200
    assert _grant(owner, later).status_code == 200
    carer_id, owner_id = _account(door, Q_MAIL).account_id, _account(door, P_MAIL).account_id
    current = [g for g in delegation.granted_to(door.archive.home, carer_id) if g.owner_account_id == owner_id]
    assert len(current) == 1 and current[0].ends_at.strftime("%Y-%m-%d") == later
