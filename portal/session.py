"""The recipient's session after a correct passcode: a signed, HTTP-only cookie per link.

The cookie holds the link id, an expiry and an HMAC (SHA-256) over both and the link's token
hash, under a key kept in ``<home>/keys/portal-session.bin`` (not ``.key``: those name vault master
keys). It proves only that the passcode was given; every request still loads the link, so a
revocation, expiry or lockout applies at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from archive.home import Home

COOKIE = "limestone_share"


def _key(home: Home) -> bytes:
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


class Sessions:
    def __init__(self, home: Home, minutes: int):
        self._key = _key(home)
        self.seconds = max(60, minutes * 60)

    def _sign(self, link_id: str, token_hash: str, expires: int) -> str:
        message = f"{link_id}|{token_hash}|{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, link_id: str, token_hash: str) -> str:
        expires = int(time.time()) + self.seconds
        return f"{link_id}.{expires}.{self._sign(link_id, token_hash, expires)}"

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
                and expires_at > time.time())

    def valid(self, cookie: str | None, link_id: str, token_hash: str) -> bool:
        if not cookie or cookie.count(".") != 2:
            return False
        cookie_link, expires, signature = cookie.split(".")
        try:
            expires_at = int(expires)
        except ValueError:
            return False
        expected = self._sign(link_id, token_hash, expires_at)
        return (hmac.compare_digest(signature, expected) and hmac.compare_digest(cookie_link, link_id)
                and expires_at > time.time())
