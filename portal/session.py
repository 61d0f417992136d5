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
