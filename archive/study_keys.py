"""Opaque study keys for URLs: a Study Instance UID encrypted deterministically (AES-SIV).

Pages put ``?study=<key>`` in the address instead of a UID or anything about the patient. The key
is stable for a home (so a link can be bookmarked), reveals nothing without the home's URL key,
and decodes straight back to the UID, so the store is searched by equality. A tampered or foreign
key decodes to ``None``.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from archive.home import Home

_CONTEXT = [b"limestone-study-key-v1"]


def _key_path(home: Home) -> Path:
    return home.keys_dir / "url-key.bin"


@lru_cache(maxsize=8)
def _cipher(key_file: Path) -> AESSIV:
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = AESSIV.generate_key(bit_length=256)
        tmp = key_file.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        try:
            os.link(tmp, key_file)  # fails if another process created it first: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return AESSIV(key_file.read_bytes())


def encode(home: Home, study_instance_uid: str) -> str:
    """The opaque URL key of a study."""
    sealed = _cipher(_key_path(home)).encrypt(study_instance_uid.encode("ascii"), _CONTEXT)
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def decode(home: Home, key: str | None) -> str | None:
    """The Study Instance UID behind a key, or None for anything that is not a valid key."""
    if not key or len(key) > 200:
        return None
    try:
        sealed = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        return _cipher(_key_path(home)).decrypt(sealed, _CONTEXT).decode("ascii")
    except (InvalidTag, ValueError, UnicodeDecodeError):
        return None
