"""The de-identification key: a secret that makes pseudonyms, new UIDs and date shifts repeatable.

Every value derived here is a keyed hash (HMAC-SHA-256) of the original, so one patient gets the
same pseudonym, the same date shift and the same new UIDs in every export made with the same key,
and nobody without the key can go back or recompute them. The key is a 32-byte secret kept in
``<home>/keys/deid.key`` (created on first use, mode 0600) unless LIMESTONE_DEID_KEY gives it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from archive.errors import LimestoneError

# Dates move back by whole weeks (so weekdays stay true) between one week and ten years.
_MAX_SHIFT_WEEKS = 520


class DeidKeyError(LimestoneError, ValueError):
    """The de-identification key is missing, unreadable or malformed."""


@dataclass(frozen=True)
class DeidKey:
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise DeidKeyError("the de-identification key must be at least 16 bytes")

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()

    def pseudonym(self, patient_ref: str) -> str:
        """A pseudonymous patient ID such as ``LS-4F2K7Q9XMA3B``: same patient, same key, same ID."""
        text = base64.b32encode(self._mac("patient", patient_ref)[:10]).decode().rstrip("=")
        return f"LS-{text[:12]}"

    def uid(self, original: str) -> str:
        """A new UID for an original one (UUID-derived ``2.25.`` form, PS3.5 B.2)."""
        return "2.25." + str(int.from_bytes(self._mac("uid", original)[:16], "big"))

    def date_shift_days(self, patient_ref: str) -> int:
        """How many days this patient's dates move (negative: into the past), a multiple of 7."""
        weeks = 1 + int.from_bytes(self._mac("dates", patient_ref)[:4], "big") % _MAX_SHIFT_WEEKS
        return -7 * weeks


def load_key(keys_dir: Path, configured: str = "") -> DeidKey:
    """The configured key (base64), else the one in ``keys_dir/deid.key``, created on first use."""
    if configured:
        try:
            return DeidKey(base64.b64decode(configured, validate=True))
        except (ValueError, TypeError):
            raise DeidKeyError("LIMESTONE_DEID_KEY is not valid base64 of a key of 16 bytes or more") from None
    path = keys_dir / "deid.key"
    if path.exists():
        try:
            return DeidKey(base64.b64decode(path.read_text().strip(), validate=True))
        except (OSError, ValueError):
            raise DeidKeyError(f"the de-identification key {path} is unreadable or damaged") from None
    keys_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it just now
        return load_key(keys_dir)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(secret).decode())
    return DeidKey(secret)
