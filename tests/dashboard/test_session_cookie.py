"""The demo session cookie's token: only this server's own, unexpired, unrevoked tokens count."""

from __future__ import annotations

import time

from dashboard import auth


def test_a_token_carries_its_user_until_it_expires():
    token = auth.session_token("Eve Tester", "clerk")
    claims = auth.read_session_token(token)
    assert (claims["n"], claims["r"]) == ("Eve Tester", "clerk")
    assert auth.read_session_token(token, now=time.time() + auth.SESSION_SECONDS + 1) is None


def test_forged_changed_revoked_or_unknown_role_tokens_are_refused():
    token = auth.session_token("Eve Tester", "clerk")
    payload, signature = token.split(".")
    other = auth.session_token("Mallory", "admin").split(".")[0]
    assert auth.read_session_token(f"{other}.{signature}") is None       # payload swapped
    assert auth.read_session_token(f"{payload}.{signature[:-2]}AA") is None
    assert auth.read_session_token("") is None and auth.read_session_token("a.b.c") is None
    assert auth.read_session_token(auth.session_token("Eve", "superuser")) is None
    auth.revoke_session_token(token)
    assert auth.read_session_token(token) is None
