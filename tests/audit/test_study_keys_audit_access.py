import sqlite3

import pytest

from archive import audit, state, study_keys
from archive.home import Home
from dashboard import access
from dashboard.auth import roles_from_claims


def test_study_keys_round_trip_and_reject_foreign_keys(tmp_path):
    home, other = Home(tmp_path / "a"), Home(tmp_path / "b")
    uid = "1.2.826.0.1.3680043.10.1234.99"
    key = study_keys.encode(home, uid)
    assert uid not in key and study_keys.encode(home, uid) == key  # stable, opaque
    assert study_keys.decode(home, key) == uid
    assert study_keys.decode(other, key) is None                    # another home's key
    assert study_keys.decode(home, key[:-3] + "AAA") is None        # tampered
    assert study_keys.decode(home, "") is None and study_keys.decode(home, "x" * 500) is None
    assert (home.keys_dir / "url-key.bin").stat().st_mode & 0o777 == 0o600


def test_audit_events_are_written_and_read_back(tmp_path, state_url):
    home = Home(tmp_path, state_url=state_url)
    assert audit.record(home, audit.AuditEvent("view", "ann@example.org", "technologist", "1.2.3", "pk"))
    assert audit.record(home, audit.AuditEvent("view", "bob@example.org", study_instance_uid="9.9"))
    events = audit.events(home, "1.2.3")
    assert len(events) == 1 and events[0]["user_id"] == "ann@example.org" and events[0]["outcome"] == "success"
    assert len(audit.events(home)) == 2
    with pytest.raises(ValueError):
        audit.record(home, audit.AuditEvent("peek", "x"))
    if not state_url:
        con = sqlite3.connect(home.state_path)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    else:
        assert not home.state_path.exists()      # nothing of the state on this machine
    assert state.schema_version(home) == max(n for n, _, _ in state.SCHEMA_STEPS)


def test_state_steps_apply_once(tmp_path, state_url):
    home = Home(tmp_path, state_url=state_url)
    state.connect(home).close()
    state.release_connections()       # a new process: the steps are looked at again
    state.connect(home).close()
    with state.connect(home) as con:
        numbers = [row["number"] for row in con.execute("SELECT number FROM schema_steps ORDER BY number")]
    assert numbers == [n for n, _, _ in state.SCHEMA_STEPS]


def test_page_access_table():
    assert access.allowed("metrics", {"manager"}) and not access.allowed("metrics", {"clerk"})
    assert access.allowed("viewer", {"technologist"}) and not access.allowed("viewer", {"manager"})
    assert not access.allowed("nonexistent", {"admin"})
    assert [p.name for p in access.pages_for({"clerk"})] == ["home", "browse", "study", "share_links",
                                                              "patient_access"]
    assert all(p.path.exists() for p in access.PAGES + (access.SIGN_IN,))
    assert {r for p in access.PAGES for r in p.roles} <= set(access.ROLES)


def test_roles_from_claims():
    assert roles_from_claims({"roles": ["Manager", "intruder"]}, {}) == {"manager"}
    assert roles_from_claims({"groups": "quality"}, {"role_claim": "groups"}) == {"quality"}
    table = {"user_roles": {"Ann@Example.org": ["clerk", "admin"]}}
    assert roles_from_claims({"email": "ann@example.org"}, table) == {"clerk", "admin"}
    assert roles_from_claims({"email": "x@example.org"}, table) == frozenset()
