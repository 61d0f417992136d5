"""One-time codes sent by e-mail: the sign-in fallback and recovery (only a scrypt hash is kept).

A code is 8 digits, lasts ``minutes`` and is used once; a new code for the same account and purpose
withdraws the older ones. Each answer first takes one of ``max_attempts`` in a conditional UPDATE
(answers sent at once cannot exceed it), then the slow check runs; a success marks the code used
in one conditional UPDATE, so two browsers racing with one code cannot both sign in.
"""

from __future__ import annotations

import base64
import secrets
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive import state
from archive.clock import now_utc
from archive.home import Home
from archive.sharing.links import check_secret, hash_secret

PURPOSES = ("sign_in", "enrol", "recovery")
CODE_DIGITS = 8
_DUMMY_HASH = "scrypt$" + base64.b64encode(b"\0" * 16).decode() + "$" + base64.b64encode(b"\1" * 32).decode()


@dataclass(frozen=True)
class IssuedCode:
    code_id: str          # kept by the browser that asked (a cookie), names the code without revealing it
    code: str             # sent by e-mail, never stored
    expires_at: datetime


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def issue(home: Home, account_id: str, purpose: str = "sign_in", minutes: int = 10,
          now: datetime | None = None) -> IssuedCode:
    """A new code for the account (older open codes of the same purpose are withdrawn)."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")
    now = now or now_utc()
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    code_id = "C" + secrets.token_hex(8)
    expires = now + timedelta(minutes=minutes)
    with closing(state.connect(home)) as con:
        con.execute("UPDATE patient_email_codes SET used_at = ? WHERE account_id = ? AND purpose = ? "
                    "AND used_at IS NULL", [_iso(now), account_id, purpose])
        con.execute("INSERT INTO patient_email_codes (code_id, account_id, purpose, code_hash, created_at, "
                    "expires_at, used_at, attempts) VALUES (?, ?, ?, ?, ?, ?, NULL, 0)",
                    [code_id, account_id, purpose, hash_secret("passcode", code), _iso(now), _iso(expires)])
    return IssuedCode(code_id, code, expires)


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    account_id: str | None = None     # the code's account, known even when the answer was wrong


def check(home: Home, code_id: str, answer: str, max_attempts: int = 5,
          now: datetime | None = None) -> CodeCheck:
    """Check an answer against an open code; on success the code is used up."""
    now = now or now_utc()
    if not isinstance(code_id, str) or len(code_id) != 17 or not code_id.startswith("C"):
        check_secret("passcode", answer, _DUMMY_HASH)
        return CodeCheck(False)
    with closing(state.connect(home)) as con:
        row = con.execute(
            "UPDATE patient_email_codes SET attempts = attempts + 1 WHERE code_id = ? AND used_at IS NULL "
            "AND expires_at > ? AND attempts < ? RETURNING account_id, code_hash",
            [code_id, _iso(now), max_attempts]).fetchone()
    if row is None:
        check_secret("passcode", answer, _DUMMY_HASH)
        return CodeCheck(False)
    if not check_secret("passcode", answer, row["code_hash"]):
        return CodeCheck(False, row["account_id"])
    with closing(state.connect(home)) as con:
        used = con.execute("UPDATE patient_email_codes SET used_at = ? WHERE code_id = ? AND used_at IS NULL "
                           "RETURNING code_id", [_iso(now), code_id]).fetchone()
    return CodeCheck(used is not None, row["account_id"])
