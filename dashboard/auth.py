"""Staff identity: OIDC through ``st.login`` in production, a local sign-in in demo mode.

Production is on when ``.streamlit/secrets.toml`` has an ``[auth]`` section (see
``.streamlit/secrets.toml.example``). A signed-in user's roles come from a claim of the identity
token (``[limestone] role_claim``, default ``roles``) or, failing that, from the
``[limestone.user_roles]`` table (e-mail -> role). Without an identity provider the app runs in
demo mode: anyone at this computer picks a name and a role; the app then only serves 127.0.0.1.

A reload keeps a demo user signed in, as Streamlit's own cookie does with OIDC: signing in gives
the browser a session cookie (``COOKIE``: name, role, expiry, an id; HMAC-SHA256 signed with a
key random to this server process, so a restart signs everyone out), set by a tiny component
(``dashboard/components/session_cookie.py``; SameSite=Strict, path /, never in an address). A new
browser session (a reload, a deep link in the same browser) is restored from it; signing out
revokes its id and clears it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

import streamlit as st

from dashboard.access import ROLES

DEMO_NAME_KEY = "auth.demo_name"
DEMO_ROLE_KEY = "auth.demo_role"
DEMO_TOKEN_KEY = "auth.demo_token"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
COOKIE = "limestone_demo_session"
SESSION_SECONDS = 12 * 3600          # a working day and a bit; then sign in again
_SIGNING_KEY = secrets.token_bytes(32)
_revoked: set[str] = set()
_revoked_lock = threading.Lock()


@dataclass(frozen=True)
class User:
    user_id: str                 # e-mail or subject; goes into audit events
    name: str
    roles: frozenset[str]
    demo: bool

    @property
    def role_label(self) -> str:
        return ", ".join(sorted(self.roles)) or "no role"


def _secrets() -> Mapping[str, Any]:
    try:
        return st.secrets.to_dict()
    except Exception:  # no secrets file: that simply means demo mode
        return {}


def demo_mode() -> bool:
    """True when no identity provider is configured."""
    return "auth" not in _secrets()


def roles_from_claims(claims: Mapping[str, Any], settings: Mapping[str, Any]) -> frozenset[str]:
    """The known roles of a signed-in user, from a token claim or the e-mail table."""
    claim = settings.get("role_claim", "roles")
    raw = claims.get(claim)
    values = [raw] if isinstance(raw, str) else list(raw or [])
    if not values:
        table = {k.lower(): v for k, v in (settings.get("user_roles") or {}).items()}
        mapped = table.get(str(claims.get("email", "")).lower())
        values = [mapped] if isinstance(mapped, str) else list(mapped or [])
    return frozenset(str(v).strip().lower() for v in values if str(v).strip().lower() in ROLES)


def current_user() -> User | None:
    """The signed-in user, or None."""
    info = st.user
    if info.get("is_logged_in"):
        claims = info.to_dict()
        roles = roles_from_claims(claims, _secrets().get("limestone", {}))
        user_id = str(claims.get("email") or claims.get("sub") or "unknown")
        return User(user_id, str(claims.get("name") or user_id), roles, demo=False)
    if demo_mode() and st.session_state.get(DEMO_ROLE_KEY) not in ROLES:
        _restore_demo_session()
    if demo_mode() and st.session_state.get(DEMO_ROLE_KEY) in ROLES:
        name = st.session_state.get(DEMO_NAME_KEY) or "Demo user"
        role = st.session_state[DEMO_ROLE_KEY]
        return User(f"demo:{name}", name, frozenset({role}), demo=True)
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def session_token(name: str, role: str, now: float | None = None) -> str:
    """A signed demo session: ``payload.signature``, both base64url."""
    payload = _b64(json.dumps({"n": name, "r": role, "exp": int((now or time.time()) + SESSION_SECONDS),
                               "id": secrets.token_urlsafe(12)}, separators=(",", ":")).encode())
    return payload + "." + _b64(hmac.new(_SIGNING_KEY, payload.encode(), hashlib.sha256).digest())


def read_session_token(token: str | None, now: float | None = None) -> dict[str, Any] | None:
    """The session a token carries, or None when it is missing, forged, expired, revoked or names
    an unknown role."""
    if not token or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    expected = _b64(hmac.new(_SIGNING_KEY, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expired = int(claims["exp"]) < (now or time.time())
    except (ValueError, KeyError, TypeError):
        return None
    with _revoked_lock:
        revoked = claims.get("id") in _revoked
    if expired or revoked or claims.get("r") not in ROLES:
        return None
    return claims


def revoke_session_token(token: str | None) -> None:
    claims = read_session_token(token)
    if claims:
        with _revoked_lock:
            _revoked.add(str(claims["id"]))


def request_cookie(name: str) -> str | None:
    """A cookie of the browser session's request (None outside a served app)."""
    try:
        return st.context.cookies.get(name)
    except Exception:  # no request context (bare script, AppTest)
        return None


def _restore_demo_session() -> None:
    claims = read_session_token(request_cookie(COOKIE))
    if claims:
        st.session_state[DEMO_NAME_KEY] = claims["n"]
        st.session_state[DEMO_ROLE_KEY] = claims["r"]
        st.session_state[DEMO_TOKEN_KEY] = request_cookie(COOKIE)


def demo_sign_in(name: str, role: str) -> User:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    st.session_state[DEMO_NAME_KEY] = name.strip() or "Demo user"
    st.session_state[DEMO_ROLE_KEY] = role
    st.session_state[DEMO_TOKEN_KEY] = session_token(st.session_state[DEMO_NAME_KEY], role)
    return current_user()


def demo_session_cookie() -> str | None:
    """The signed session the browser should keep for the signed-in demo user, else None."""
    return st.session_state.get(DEMO_TOKEN_KEY) if demo_mode() else None


def sign_out() -> None:
    if st.user.get("is_logged_in"):
        st.logout()
    revoke_session_token(st.session_state.get(DEMO_TOKEN_KEY))
    revoke_session_token(request_cookie(COOKIE))
    for key in (DEMO_NAME_KEY, DEMO_ROLE_KEY, DEMO_TOKEN_KEY):
        st.session_state.pop(key, None)


def loopback_host(host: str | None) -> bool:
    """True when a request's Host header names this computer (or is absent: AppTest, no HTTP).

    A DNS-rebinding page reaches 127.0.0.1 under its own name (``attacker.example:8501``); the
    browser then treats the demo app as that site's own. The Host header gives it away.
    """
    if host is None:
        return True
    name = host.strip().lower()
    if name.startswith("["):                       # [::1]:8501
        name = name[1:name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":")[0]
    return name in LOOPBACK


def request_host() -> str | None:
    """The Host header of the browser session's request (None outside a served app)."""
    try:
        return st.context.headers.get("Host")
    except Exception:  # no request context (bare script, AppTest)
        return None


def bound_to_loopback() -> bool:
    """Demo mode must never be reachable from the network."""
    address = st.get_option("server.address")
    return bool(address) and str(address) in LOOPBACK
