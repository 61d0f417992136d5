"""Share links without a server: tokens, secrets, expiry, use limits, lockout, extension, revocation."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from archive import sharing
from archive.home import Home
from archive.sharing.links import Scope, ShareError

SCOPE = Scope("pk-1", ("1.2.3.1", "1.2.3.2"), "NORTH", date(1970, 3, 15))
T0 = datetime(2026, 1, 10, 9, 0)


@pytest.fixture
def home(tmp_path, state_url) -> Home:
    """A home on each state backend (SQLite, PostgreSQL)."""
    return Home(tmp_path / "home", state_url=state_url)


def _issue(home, **kw):
    kw.setdefault("recipient_name", "Ann Example")
    kw.setdefault("created_by", "clerk@example.org")
    kw.setdefault("now", T0)
    return sharing.issue(home, SCOPE, **kw)


def test_tokens_are_256_bit_random_with_a_prefix():
    tokens = {sharing.new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in list(tokens)[:20]:
        assert token.startswith("lsl_") and sharing.looks_like_token(token)
        import base64
        assert len(base64.urlsafe_b64decode(token[4:] + "=")) == 32
    assert not sharing.looks_like_token("lsl_" + "x" * 42) and not sharing.looks_like_token("abc")
    assert not sharing.looks_like_token("lsl_" + "é" * 43)


def test_passcodes_are_hashed_slowly_and_checked_loosely_but_exactly():
    code = sharing.new_passcode()
    assert len(code) == 11 and code[5] == "-"
    stored = sharing.hash_secret("passcode", code)
    assert stored.startswith("scrypt$") and code not in stored
    assert sharing.hash_secret("passcode", code) != stored                     # salted
    assert sharing.check_secret("passcode", code.lower().replace("-", " "), stored)
    assert not sharing.check_secret("passcode", code[:-1] + ("A" if code[-1] != "A" else "B"), stored)
    assert not sharing.check_secret("passcode", code, "garbage")


def test_issue_validates_and_stores_only_hashes(home):
    issued = _issue(home)
    link = sharing.get(home, issued.link.link_id)
    assert link.token_hash == sharing.token_hash(issued.token) and link.secret_hash != issued.passcode
    assert link.expires_at == T0 + timedelta(days=30) and link.permissions == {"view", "download"}
    assert issued.url("https://share.example.org/") == f"https://share.example.org/s/{issued.token}"
    for bad in (dict(days=91), dict(days=0), dict(permissions=["edit"]), dict(permissions=[]),
                dict(recipient_role="friend"), dict(recipient_name=" "), dict(use_limit=0),
                dict(verify="sms")):
        with pytest.raises(ShareError):
            _issue(home, **bad)
    with pytest.raises(ShareError):
        sharing.issue(home, Scope("pk", ()), recipient_name="x", created_by="y")


def test_expiry_use_limit_and_revocation(home):
    issued = _issue(home, days=2, use_limit=2)
    token = issued.token
    assert sharing.open_link(home, token, now=T0 + timedelta(days=1)) is not None
    assert sharing.open_link(home, token, now=T0 + timedelta(days=2)) is None          # expired
    assert sharing.verify(home, token, issued.passcode, now=T0).ok
    assert sharing.verify(home, token, issued.passcode, now=T0).ok
    third = sharing.verify(home, token, issued.passcode, now=T0)
    assert not third.ok and third.link is None                                          # used up
    assert sharing.get(home, issued.link.link_id).status(T0) == "used up"
    other = _issue(home)
    sharing.revoke(home, other.link.link_id, by="clerk")
    assert sharing.open_link(home, other.token, now=T0) is None
    assert sharing.get(home, other.link.link_id).status(T0) == "revoked"
    with pytest.raises(ShareError, match="revoked"):
        sharing.extend(home, other.link.link_id, 10)
    assert sharing.find(home, sharing.new_token()) is None


def test_lockout_unlock_and_extend(home):
    issued = _issue(home)
    for n in range(1, 4):
        result = sharing.verify(home, issued.token, "WRONG", lockout_attempts=3, now=T0)
        assert not result.ok and result.link is not None and result.locked_now == (n == 3)
    assert sharing.get(home, issued.link.link_id).status(T0) == "locked"
    assert not sharing.verify(home, issued.token, issued.passcode, now=T0).ok
    sharing.unlock(home, issued.link.link_id)
    assert sharing.verify(home, issued.token, issued.passcode, now=T0).ok
    extended = sharing.extend(home, issued.link.link_id, 60, max_days=90, now=T0 + timedelta(days=29))
    assert extended.expires_at == T0 + timedelta(days=89)
    with pytest.raises(ShareError):
        sharing.extend(home, issued.link.link_id, 91, max_days=90)


def test_birth_date_is_the_secret_when_asked(home):
    issued = _issue(home, verify="birth_date")
    assert issued.passcode is None
    assert sharing.verify(home, issued.token, "1970-03-15", now=T0).ok
    assert not sharing.verify(home, issued.token, "1970-03-16", now=T0).ok
