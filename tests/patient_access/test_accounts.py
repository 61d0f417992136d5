"""The account model on its own: invitations single-use and expiring, lockout, codes hashed, sessions."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from archive import patient_access as pa
from archive.clock import now_utc
from archive.patient_access import codes, passkeys

BORN = date(1980, 2, 3)


def test_invitation_is_single_use_and_withdrawn_by_a_new_one(archive):
    home = archive.home
    first = pa.invite(home, "k-fake-1", "pat@example.org", BORN, created_by="cli:clerk")
    second = pa.invite(home, "k-fake-1", "pat@example.org", BORN, created_by="cli:clerk")
    assert second.account.account_id == first.account.account_id
    assert not pa.enrol(home, first.token, "1980-02-03").ok           # withdrawn by the newer letter
    assert pa.enrol(home, second.token, "1980-02-03").ok
    assert not pa.enrol(home, second.token, "1980-02-03").ok          # used once
    assert pa.find_invitation(home, second.token) is None
    with sqlite3.connect(home.state_path) as con:
        dump = "\n".join(con.iterdump())
    assert second.token not in dump and first.token not in dump       # only hashes are kept


def test_invitation_expires(archive):
    issued = pa.invite(archive.home, "k-fake-2", "pat@example.org", BORN, created_by="cli:clerk", days=1)
    later = now_utc() + timedelta(days=1, seconds=1)
    assert not pa.enrol(archive.home, issued.token, "1980-02-03", now=later).ok
    assert pa.enrol(archive.home, issued.token, "1980-02-03").ok


def test_wrong_birth_dates_lock_the_invitation(archive):
    issued = pa.invite(archive.home, "k-fake-3", "pat@example.org", BORN, created_by="cli:clerk")
    results = [pa.enrol(archive.home, issued.token, "1980-02-04", lockout_attempts=3) for _ in range(3)]
    assert [r.locked_now for r in results] == [False, False, True]
    assert not pa.enrol(archive.home, issued.token, "1980-02-03", lockout_attempts=3).ok
    pa.unlock(archive.home, issued.account.account_id)
    assert pa.enrol(archive.home, issued.token, "1980-02-03", lockout_attempts=3).ok


def test_codes_are_hashed_single_use_and_capped(archive):
    home = archive.home
    account = pa.invite(home, "k-fake-4", "pat@example.org", BORN, created_by="cli:clerk").account
    issued = codes.issue(home, account.account_id)
    with sqlite3.connect(home.state_path) as con:
        assert issued.code not in "\n".join(con.iterdump())
    assert not codes.check(home, issued.code_id, "00000000" if issued.code != "00000000" else "1").ok
    assert codes.check(home, issued.code_id, issued.code).ok
    assert not codes.check(home, issued.code_id, issued.code).ok      # single use
    capped = codes.issue(home, account.account_id)
    for _ in range(3):
        codes.check(home, capped.code_id, "x", max_attempts=3)
    assert not codes.check(home, capped.code_id, capped.code, max_attempts=3).ok
    expired = codes.issue(home, account.account_id, minutes=1)
    assert not codes.check(home, expired.code_id, expired.code, now=now_utc() + timedelta(minutes=2)).ok


def test_sessions_idle_out_expire_and_sign_out_everywhere(archive):
    home = archive.home
    issued = pa.invite(home, "k-fake-5", "pat@example.org", BORN, created_by="cli:clerk")
    account = pa.enrol(home, issued.token, "19800203").account
    one = pa.start_session(home, account.account_id, "passkey", max_hours=12)
    two = pa.start_session(home, account.account_id, "email_code")
    assert pa.session_account(home, one).account_id == account.account_id
    assert pa.session_account(home, one, idle_minutes=30, now=now_utc() + timedelta(minutes=31)) is None
    assert pa.session_account(home, one, idle_minutes=10**6, now=now_utc() + timedelta(hours=13)) is None
    assert pa.end_all_sessions(home, account.account_id) == 2
    assert pa.session_account(home, one) is None and pa.session_account(home, two) is None
    enrolling = pa.start_session(home, account.account_id, "enrolment")
    assert pa.session_account(home, enrolling) is None                # may only set up a sign-in method
    assert pa.current_session(home, enrolling)[1] == "enrolment"


def test_failed_sign_ins_lock_the_account_and_disable_ends_sessions(archive):
    home = archive.home
    issued = pa.invite(home, "k-fake-6", "pat@example.org", BORN, created_by="cli:clerk")
    account = pa.enrol(home, issued.token, "19800203").account
    session = pa.start_session(home, account.account_id, "passkey")
    assert [pa.sign_in_failed(home, account.account_id, 2) for _ in range(2)] == [False, True]
    assert pa.session_account(home, session) is None                  # a locked account has no session
    pa.unlock(home, account.account_id)
    assert pa.session_account(home, session) is not None
    pa.disable(home, account.account_id, by="cli:clerk")
    assert pa.session_account(home, session) is None


def test_a_new_invitation_lets_a_disabled_account_back_in_with_fresh_sign_in(archive):
    home = archive.home
    issued = pa.invite(home, "k-fake-7", "pat7@example.org", BORN, created_by="cli:clerk")
    account = pa.enrol(home, issued.token, "19800203").account
    with sqlite3.connect(home.state_path) as con:   # a passkey of the (say, lost) phone
        con.execute("INSERT INTO patient_passkeys (credential_id, account_id, public_key, created_at) "
                    "VALUES ('cred-fake-7', ?, 'pk', '2026-01-01T00:00:00')", [account.account_id])
    sent_before = pa.invite(home, "k-fake-7", "pat7@example.org", BORN, created_by="cli:clerk")
    pa.disable(home, account.account_id, by="cli:clerk")
    assert not pa.enrol(home, sent_before.token, "19800203").ok       # disabling withdrew older letters
    again = pa.invite(home, "k-fake-7", "pat7@example.org", BORN, created_by="cli:clerk")
    enrolled = pa.enrol(home, again.token, "19800203")
    assert enrolled.ok and enrolled.account.usable and enrolled.account.disabled_at is None
    assert passkeys.list_passkeys(home, account.account_id) == []      # sign-in starts afresh
    assert not pa.enrol(home, again.token, "19800203").ok              # used once, as any letter
