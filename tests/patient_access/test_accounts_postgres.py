"""The account model on the state in PostgreSQL (LIMESTONE_STATE): the same rules as on SQLite."""

from __future__ import annotations

import os
from datetime import date

import pytest

from archive import patient_access as pa
from archive import sharing, state
from archive.home import Home
from archive.patient_access import codes, passkeys
from archive.sharing.links import Scope

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_home(postgres_server, tmp_path):
    name = f"patients_pg_{os.getpid()}"
    url = postgres_server.create_database(name)
    yield Home(tmp_path / "home", state_url=url)
    state.release_connections()
    postgres_server.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_invite_enrol_codes_sessions_and_patient_shares_on_postgresql(pg_home):
    issued = pa.invite(pg_home, "k-fake-pg", "pat@example.org", date(1980, 2, 3), created_by="cli:clerk")
    assert not pa.enrol(pg_home, issued.token, "1980-02-04").ok
    enrolled = pa.enrol(pg_home, issued.token, "1980-02-03")
    assert enrolled.ok and enrolled.account.status == "active"
    assert not pa.enrol(pg_home, issued.token, "1980-02-03").ok
    code = codes.issue(pg_home, enrolled.account.account_id)
    assert codes.check(pg_home, code.code_id, code.code).ok and not codes.check(pg_home, code.code_id, code.code).ok
    secret = pa.start_session(pg_home, enrolled.account.account_id, "email_code")
    assert pa.session_account(pg_home, secret).account_id == enrolled.account.account_id
    assert pa.end_all_sessions(pg_home, enrolled.account.account_id) == 1
    assert pa.session_account(pg_home, secret) is None
    rp = passkeys.RelyingParty.from_base_url("http://localhost:8502")
    options = passkeys.authentication_options(pg_home, rp)
    assert not passkeys.authenticate(pg_home, rp, options["challenge_id"], {"id": "AAAA"}).ok
    link = sharing.issue(pg_home, Scope("k-fake-pg", ("1.2.3",), None), recipient_name="Dr FAKE",
                         recipient_role="doctor", created_by="patient:x",
                         account_id=enrolled.account.account_id).link
    assert [x.link_id for x in sharing.list_links(pg_home, account_id=enrolled.account.account_id)] == [link.link_id]
    assert sharing.get(pg_home, link.link_id).created_by_kind == "patient"
