"""Passkeys (WebAuthn) for patient accounts, with the ``webauthn`` library.

The relying party is the portal's public address (``portal_base_url``): its host name is the RP
id (browsers refuse a bare IP address, so a test portal is addressed as ``localhost``) and its
origin the expected origin. Registration asks for a resident (discoverable) key with user
verification, so signing in needs no name: the browser offers the passkey, and its user handle
names the account. Challenges are kept in ``patient_challenges`` for two minutes and used once.
"""

from __future__ import annotations

import json
import secrets
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from archive import state
from archive.clock import now_utc
from archive.home import Home

RP_NAME = "Limestone"
CHALLENGE_SECONDS = 120


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str

    @classmethod
    def from_base_url(cls, base_url: str) -> "RelyingParty":
        parts = urlsplit(base_url)
        return cls(parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class Passkey:
    credential_id: str
    account_id: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _connect(home: Home) -> state.StateConnection:
    return state.connect(home)


def _store_challenge(home: Home, account_id: str | None, purpose: str, challenge: bytes,
                     now: datetime) -> str:
    challenge_id = secrets.token_urlsafe(24)
    with closing(_connect(home)) as con:
        con.execute("DELETE FROM patient_challenges WHERE expires_at < ?", [_iso(now - timedelta(hours=1))])
        con.execute("INSERT INTO patient_challenges (challenge_id, account_id, purpose, challenge, created_at, "
                    "expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    [challenge_id, account_id, purpose, bytes_to_base64url(challenge), _iso(now),
                     _iso(now + timedelta(seconds=CHALLENGE_SECONDS))])
    return challenge_id


def _take_challenge(home: Home, challenge_id: str, purpose: str, now: datetime) -> state.Row | None:
    with closing(_connect(home)) as con:
        return con.execute(
            "UPDATE patient_challenges SET used_at = ? WHERE challenge_id = ? AND purpose = ? AND used_at IS NULL "
            "AND expires_at > ? RETURNING account_id, challenge",
            [_iso(now), str(challenge_id)[:64], purpose, _iso(now)]).fetchone()


def list_passkeys(home: Home, account_id: str) -> list[Passkey]:
    with closing(_connect(home)) as con:
        rows = con.execute("SELECT credential_id, account_id, label, created_at, last_used_at FROM patient_passkeys "
                           "WHERE account_id = ? ORDER BY created_at", [account_id]).fetchall()
    return [Passkey(r["credential_id"], r["account_id"], r["label"], datetime.fromisoformat(r["created_at"]),
                    datetime.fromisoformat(r["last_used_at"]) if r["last_used_at"] else None) for r in rows]


def registration_options(home: Home, rp: RelyingParty, account_id: str, user_name: str,
                         now: datetime | None = None) -> dict[str, Any]:
    """Options for ``navigator.credentials.create`` (JSON-ready) and the challenge id to answer with."""
    now = now or now_utc()
    existing = [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
                for p in list_passkeys(home, account_id)]
    options = generate_registration_options(
        rp_id=rp.rp_id, rp_name=RP_NAME, user_name=user_name, user_id=account_id.encode(),
        user_display_name=user_name, exclude_credentials=existing,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED))
    challenge_id = _store_challenge(home, account_id, "register", options.challenge, now)
    return {"challenge_id": challenge_id, "publicKey": json.loads(options_to_json(options))}


def register(home: Home, rp: RelyingParty, account_id: str, challenge_id: str, credential: Any,
             label: str | None = None, now: datetime | None = None) -> bool:
    """Check the browser's answer to ``registration_options`` and keep the new passkey."""
    now = now or now_utc()
    row = _take_challenge(home, challenge_id, "register", now)
    if row is None or row["account_id"] != account_id:
        return False
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(row["challenge"]),
            expected_rp_id=rp.rp_id, expected_origin=rp.origin, require_user_verification=True)
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError):
        return False
    with closing(_connect(home)) as con:
        con.execute("INSERT INTO patient_passkeys (credential_id, account_id, public_key, sign_count, transports, "
                    "label, created_at, last_used_at) VALUES (?, ?, ?, ?, NULL, ?, ?, NULL)",
                    [bytes_to_base64url(verified.credential_id), account_id,
                     bytes_to_base64url(verified.credential_public_key), verified.sign_count,
                     (label or "Passkey")[:60], _iso(now)])
    return True


def authentication_options(home: Home, rp: RelyingParty, now: datetime | None = None) -> dict[str, Any]:
    """Options for ``navigator.credentials.get`` (discoverable credentials: no account named)."""
    now = now or now_utc()
    options = generate_authentication_options(rp_id=rp.rp_id,
                                              user_verification=UserVerificationRequirement.REQUIRED)
    challenge_id = _store_challenge(home, None, "authenticate", options.challenge, now)
    return {"challenge_id": challenge_id, "publicKey": json.loads(options_to_json(options))}


@dataclass(frozen=True)
class PasskeyCheck:
    ok: bool
    account_id: str | None = None     # the passkey's account when it was found (for failure counts)


def authenticate(home: Home, rp: RelyingParty, challenge_id: str, credential: Any,
                 now: datetime | None = None) -> PasskeyCheck:
    """Check a sign-in answer; the account it belongs to when the signature and counter are right."""
    now = now or now_utc()
    row = _take_challenge(home, challenge_id, "authenticate", now)
    if row is None or not isinstance(credential, dict):
        return PasskeyCheck(False)
    credential_id = str(credential.get("id") or "")[:512]
    with closing(_connect(home)) as con:
        key = con.execute("SELECT account_id, public_key, sign_count FROM patient_passkeys WHERE credential_id = ?",
                          [credential_id]).fetchone()
    if key is None:
        return PasskeyCheck(False)
    handle = (credential.get("response") or {}).get("userHandle")
    try:
        if handle and base64url_to_bytes(handle).decode() != key["account_id"]:
            return PasskeyCheck(False, key["account_id"])
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(row["challenge"]),
            expected_rp_id=rp.rp_id, expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(key["public_key"]),
            credential_current_sign_count=key["sign_count"], require_user_verification=True)
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return PasskeyCheck(False, key["account_id"])
    with closing(_connect(home)) as con:
        con.execute("UPDATE patient_passkeys SET sign_count = ?, last_used_at = ? WHERE credential_id = ?",
                    [verified.new_sign_count, _iso(now), credential_id])
    return PasskeyCheck(True, key["account_id"])


def remove(home: Home, account_id: str, credential_id: str) -> bool:
    with closing(_connect(home)) as con:
        cur = con.execute("DELETE FROM patient_passkeys WHERE account_id = ? AND credential_id = ?",
                          [account_id, credential_id])
    return cur.rowcount == 1
