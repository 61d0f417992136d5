"""The recipient's session after a correct passcode: an HTTP-only cookie per link, recorded on the server.

The cookie is ``<link id>.<session secret>.<expiry>.<HMAC>``: 256 random bits, the expiry (Unix
seconds) and an HMAC (SHA-256) over them and the link's token hash, under a key kept in
``<home>/keys/portal-session.bin`` (not ``.key``: those name vault master keys), or in the state when
it is shared by portal replicas (PostgreSQL: table ``portal_keys``). The state database
keeps one row per session (``portal_sessions``: the secret's SHA-256, never the secret), so
"Close" ends the session on the server: the same cookie sent again afterwards is refused. A
tampered, expired, foreign or ended cookie is simply not a session.

A session proves only that the passcode was given; every request still loads the link, so a
revocation, expiry or lockout applies at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from archive import state
from archive.home import Home

COOKIE = "limestone_share"


def _shared_key(home: Home) -> bytes:
    """The key every portal replica signs with, kept in the shared state: the first replica's
    random key wins the insert, the others read it (a cookie signed by one is good on all)."""
    with closing(state.connect(home)) as con:
        con.execute("INSERT INTO portal_keys (name, value) VALUES ('session', ?) ON CONFLICT (name) DO NOTHING",
                    [base64.b64encode(secrets.token_bytes(32)).decode()])
        row = con.execute("SELECT value FROM portal_keys WHERE name = 'session'").fetchone()
    return base64.b64decode(row[0])


def _key(home: Home) -> bytes:
    if home.state_url:    # replicas behind one load balancer: one key for all
        return _shared_key(home)
    path: Path = home.keys_dir / "portal-session.bin"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # another process may have made it first: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    def __init__(self, home: Home, minutes: int, clock=time.time):
        self.home = home
        self._key = _key(home)
        self.seconds = max(60, minutes * 60)
        self.clock = clock

    def _sign(self, link_id: str, token_hash: str, secret: str, expires: int) -> str:
        message = f"{link_id}|{token_hash}|{secret}|{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, link_id: str, token_hash: str) -> str:
        """A new session for ``link_id``: recorded in the state, returned as the cookie value."""
        now = self.clock()
        expires = int(now) + self.seconds
        secret = secrets.token_urlsafe(32)
        with closing(state.connect(self.home)) as con:
            con.execute("DELETE FROM portal_sessions WHERE expires_at < ?", [_iso(now - 86400)])
            con.execute("INSERT INTO portal_sessions (session_hash, link_id, created_at, expires_at) "
                        "VALUES (?, ?, ?, ?)", [_digest(secret), link_id, _iso(now), _iso(expires)])
        return f"{link_id}.{secret}.{expires}.{self._sign(link_id, token_hash, secret, expires)}"

    def _parts(self, cookie: str | None) -> tuple[str, str, int, str] | None:
        if not cookie or not isinstance(cookie, str) or cookie.count(".") != 3 or len(cookie) > 300:
            return None
        link_id, secret, expires, signature = cookie.split(".")
        try:
            return link_id, secret, int(expires), signature
        except ValueError:
            return None

    # ---- the DICOMweb access key ------------------------------------------------------------
    # Its own credential, narrower than the session: signed for another purpose (so it is never a
    # valid cookie, nor the cookie a valid key), good only for the link's read-only DICOMweb
    # routes, and expiring with the link; revoking or locking the link ends it at once (every
    # request loads the link).
    def _sign_key(self, link_id: str, token_hash: str, expires: int) -> str:
        message = f"dicomweb-read|{link_id}|{token_hash}|{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue_key(self, link_id: str, token_hash: str, expires: int) -> str:
        return f"dw.{link_id}.{int(expires)}.{self._sign_key(link_id, token_hash, int(expires))}"

    def valid_key(self, key: str | None, link_id: str, token_hash: str) -> bool:
        if not key or key.count(".") != 3 or not key.startswith("dw."):
            return False
        _, key_link, expires, signature = key.split(".")
        try:
            expires_at = int(expires)
        except ValueError:
            return False
        expected = self._sign_key(link_id, token_hash, expires_at)
        return (hmac.compare_digest(signature, expected) and hmac.compare_digest(key_link, link_id)
                and expires_at > self.clock())

    def valid(self, cookie: str | None, link_id: str, token_hash: str) -> bool:
        """True when ``cookie`` is a live session of this link: signed by us, not expired, not ended."""
        parts = self._parts(cookie)
        if parts is None:
            return False
        cookie_link, secret, expires, signature = parts
        expected = self._sign(link_id, token_hash, secret, expires)
        now = self.clock()
        if not (hmac.compare_digest(signature, expected) and hmac.compare_digest(cookie_link, link_id)
                and expires > now):
            return False
        with closing(state.connect(self.home)) as con:
            row = con.execute("SELECT 1 FROM portal_sessions WHERE session_hash = ? AND link_id = ? "
                              "AND ended_at IS NULL AND expires_at > ?",
                              [_digest(secret), link_id, _iso(now)]).fetchone()
        return row is not None

    def end(self, cookie: str | None) -> bool:
        """Sign out: the session named by ``cookie`` is refused from now on (True if one was ended)."""
        parts = self._parts(cookie)
        if parts is None:
            return False
        link_id, secret, _, _ = parts
        with closing(state.connect(self.home)) as con:
            cur = con.execute("UPDATE portal_sessions SET ended_at = ? WHERE session_hash = ? AND link_id = ? "
                              "AND ended_at IS NULL", [_iso(self.clock()), _digest(secret), link_id])
        return cur.rowcount == 1
