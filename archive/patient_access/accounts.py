"""Patient accounts: invitation, enrolment, lockout, sessions (the state tables of schema step 8).

An account is bound to the patient record a clerk invited (``patient_key``); the person's other
records, at every site of the region, are found through the store's identity links at each request
(``archive.patient_access.records``), so studies that arrive later appear by themselves.

- **Invitation**: an opaque one-time token (prefix ``lpi_``, 256 bits; only its SHA-256 is kept)
  that expires, plus the patient's birth date (kept as a scrypt hash) to open enrolment. A new
  invitation withdraws the older ones; one use ends it; ``lockout_attempts`` wrong birth dates lock it.
- **Sessions**: a random secret in a cookie (only its SHA-256 is kept) with an idle timeout and an
  absolute end; signing out ends one, "sign out everywhere" ends all of an account's.
- **Lockout**: failed sign-ins (wrong e-mail codes, passkey failures) count on the account; at
  ``lockout_attempts`` the account is locked until a clerk unlocks it.

Whatever is wrong with a token or a session (unknown, expired, used, withdrawn, locked), the
lookups answer ``None``, so the portal shows one plain refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from archive import state
from archive.clock import now_utc
from archive.errors import LimestoneError
from archive.home import Home
from archive.sharing.links import check_secret, hash_secret

INVITE_PREFIX = "lpi_"
SESSION_PREFIX = "lps_"
_TOKEN_BYTES = 32
STATUSES = ("invited", "active", "disabled")
SIGN_IN_METHODS = ("passkey", "email_code", "enrolment")
# An answer to an unknown invitation still costs one scrypt check, so timing says nothing.
_DUMMY_HASH = "scrypt$" + base64.b64encode(b"\0" * 16).decode() + "$" + base64.b64encode(b"\1" * 32).decode()


class AccountError(LimestoneError, ValueError):
    """An account cannot be created or changed as asked (a plain message for the clerk)."""


@dataclass(frozen=True)
class Account:
    account_id: str
    patient_key: str
    email: str
    status: str
    created_by: str
    created_at: datetime
    enrolled_at: datetime | None = None
    disabled_at: datetime | None = None
    last_sign_in_at: datetime | None = None
    failed_sign_ins: int = 0
    locked_at: datetime | None = None

    @property
    def usable(self) -> bool:
        """May sign in: enrolled, not disabled, not locked."""
        return self.status == "active" and self.locked_at is None


@dataclass(frozen=True)
class Invitation:
    invitation_id: str
    account_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    failed_attempts: int = 0
    locked_at: datetime | None = None

    def status(self, now: datetime | None = None) -> str:
        """open | used | withdrawn | locked | expired."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "withdrawn"
        if self.locked_at is not None:
            return "locked"
        if (now or now_utc()) >= self.expires_at:
            return "expired"
        return "open"


@dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation: the only moment its token exists outside the patient's letter."""

    account: Account
    invitation: Invitation
    token: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/me/enrol/{self.token}"


@dataclass(frozen=True)
class Session:
    account_id: str
    method: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


# ---- helpers -------------------------------------------------------------------------------------
def _token(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(_TOKEN_BYTES)).decode().rstrip("=")


def _looks_like(token: object, prefix: str) -> bool:
    if not isinstance(token, str) or not token.startswith(prefix):
        return False
    body = token[len(prefix):]
    return len(body) == 43 and all(c.isascii() and (c.isalnum() or c in "-_") for c in body)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _connect(home: Home) -> state.StateConnection:
    return state.connect(home)


_ACCOUNT_COLUMNS = ("account_id, patient_key, email, status, created_by, created_at, enrolled_at, "
                    "disabled_at, last_sign_in_at, failed_sign_ins, locked_at")
_INVITATION_COLUMNS = ("invitation_id, account_id, created_at, expires_at, used_at, revoked_at, "
                       "failed_attempts, locked_at")


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _account(row: state.Row) -> Account:
    return Account(row["account_id"], row["patient_key"], row["email"], row["status"], row["created_by"],
                   _when(row["created_at"]), _ts(row["enrolled_at"]), _ts(row["disabled_at"]),
                   _ts(row["last_sign_in_at"]), row["failed_sign_ins"], _ts(row["locked_at"]))


def _invitation(row: state.Row) -> Invitation:
    return Invitation(row["invitation_id"], row["account_id"], _when(row["created_at"]),
                      _when(row["expires_at"]), _ts(row["used_at"]), _ts(row["revoked_at"]),
                      row["failed_attempts"], _ts(row["locked_at"]))


def normalise_email(email: str) -> str:
    text = (email or "").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in text) or len(text) > 254:
        raise AccountError("give a valid e-mail address")
    return f"{local}@{domain.lower()}"


# ---- accounts ------------------------------------------------------------------------------------
def get(home: Home, account_id: str) -> Account | None:
    with closing(_connect(home)) as con:
        row = con.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM patient_accounts WHERE account_id = ?",
                          [account_id]).fetchone()
    return _account(row) if row else None


def for_patient(home: Home, patient_key: str) -> Account | None:
    """The account of a patient record (the newest, should there be several)."""
    with closing(_connect(home)) as con:
        row = con.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM patient_accounts WHERE patient_key = ? "
                          "ORDER BY created_at DESC, account_id LIMIT 1", [patient_key]).fetchone()
    return _account(row) if row else None


def for_email(home: Home, email: str) -> list[Account]:
    """Accounts with this e-mail address (one not disabled, when invited through ``actions``)."""
    try:
        address = normalise_email(email)
    except AccountError:
        return []
    with closing(_connect(home)) as con:
        rows = con.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM patient_accounts WHERE lower(email) = lower(?) "
                           "ORDER BY created_at", [address]).fetchall()
    return [_account(r) for r in rows]


def list_accounts(home: Home, limit: int = 1000) -> list[Account]:
    with closing(_connect(home)) as con:
        rows = con.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM patient_accounts ORDER BY created_at DESC "
                           "LIMIT ?", [limit]).fetchall()
    return [_account(r) for r in rows]


def invite(home: Home, patient_key: str, email: str, birth_date: date, *, created_by: str,
           days: int = 14, now: datetime | None = None) -> IssuedInvitation:
    """Invite the patient of ``patient_key`` (creating the account, or re-inviting it).

    Older open invitations of the account are withdrawn: only the newest letter works. Re-inviting a
    disabled account is how a clerk lets the patient back in: enrolling with the new letter (and the
    birth date) activates the account again and removes its old passkeys, so sign-in starts afresh
    (``disable`` withdrew every letter sent before it).
    """
    if not isinstance(birth_date, date):
        raise AccountError("the patient has no birth date in the archive: enrolment needs one")
    if not 1 <= days <= 90:
        raise AccountError("an invitation may last from 1 to 90 days")
    address = normalise_email(email)
    now = now or now_utc()
    token = _token(INVITE_PREFIX)
    existing = for_patient(home, patient_key)
    with closing(_connect(home)) as con, con.transaction():
        if existing is None:
            account_id = "A" + secrets.token_hex(6)
            con.execute(f"INSERT INTO patient_accounts ({_ACCOUNT_COLUMNS}) VALUES "
                        "(?, ?, ?, 'invited', ?, ?, NULL, NULL, NULL, 0, NULL)",
                        [account_id, patient_key, address, created_by, _iso(now)])
        else:
            account_id = existing.account_id
            con.execute("UPDATE patient_accounts SET email = ? WHERE account_id = ?", [address, account_id])
        con.execute("UPDATE patient_invitations SET revoked_at = ? WHERE account_id = ? "
                    "AND used_at IS NULL AND revoked_at IS NULL", [_iso(now), account_id])
        invitation_id = "I" + secrets.token_hex(6)
        con.execute(
            "INSERT INTO patient_invitations (invitation_id, account_id, token_hash, created_by, "
            "created_at, expires_at, used_at, revoked_at, birth_date_hash, failed_attempts, locked_at) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, 0, NULL)",
            [invitation_id, account_id, sha256(token), created_by, _iso(now),
             _iso(now + timedelta(days=days)), hash_secret("birth_date", birth_date.strftime("%Y%m%d"))])
    account = get(home, account_id)
    invitation = find_invitation(home, token, now=now, any_status=True)
    assert account is not None and invitation is not None
    return IssuedInvitation(account, invitation, token)


def find_invitation(home: Home, token: str, now: datetime | None = None,
                    any_status: bool = False) -> Invitation | None:
    """The open invitation a token names (None for anything else, unless ``any_status``)."""
    if not _looks_like(token, INVITE_PREFIX):
        return None
    digest = sha256(token)
    with closing(_connect(home)) as con:
        row = con.execute(f"SELECT {_INVITATION_COLUMNS}, token_hash FROM patient_invitations "
                          "WHERE token_hash = ?", [digest]).fetchone()
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return None
    invitation = _invitation(row)
    if not any_status and invitation.status(now) != "open":
        return None
    return invitation


@dataclass(frozen=True)
class Enrolment:
    ok: bool
    account: Account | None = None
    locked_now: bool = False


def enrol(home: Home, token: str, birth_date: str, lockout_attempts: int = 5,
          now: datetime | None = None) -> Enrolment:
    """Check the birth date against an open invitation; on success use it up and activate the account.

    As for share links, each answer first takes one attempt in a conditional UPDATE, so answers
    sent at once cannot exceed ``lockout_attempts``; a success marks the invitation used in one
    conditional UPDATE, so a token opens enrolment exactly once.
    """
    now = now or now_utc()
    invitation = find_invitation(home, token, now)
    if invitation is None:
        check_secret("birth_date", birth_date, _DUMMY_HASH)
        return Enrolment(False)
    with closing(_connect(home)) as con:
        taken = con.execute(
            "UPDATE patient_invitations SET failed_attempts = failed_attempts + 1 WHERE invitation_id = ? "
            "AND used_at IS NULL AND revoked_at IS NULL AND locked_at IS NULL AND failed_attempts < ? "
            "RETURNING birth_date_hash", [invitation.invitation_id, lockout_attempts]).fetchone()
    if taken is None:
        check_secret("birth_date", birth_date, _DUMMY_HASH)
        return Enrolment(False)
    if not check_secret("birth_date", birth_date, taken["birth_date_hash"]):
        with closing(_connect(home)) as con:
            locked = con.execute(
                "UPDATE patient_invitations SET locked_at = ? WHERE invitation_id = ? AND locked_at IS NULL "
                "AND failed_attempts >= ? RETURNING invitation_id",
                [_iso(now), invitation.invitation_id, lockout_attempts]).fetchone()
        return Enrolment(False, locked_now=locked is not None)
    with closing(_connect(home)) as con, con.transaction():
        used = con.execute(
            "UPDATE patient_invitations SET used_at = ?, failed_attempts = 0 WHERE invitation_id = ? "
            "AND used_at IS NULL AND revoked_at IS NULL AND locked_at IS NULL RETURNING account_id",
            [_iso(now), invitation.invitation_id]).fetchone()
        if used is not None:
            # A letter issued after the account was disabled (disabling withdraws older ones) is a
            # clerk's decision to let the patient back in: active again, its old passkeys gone.
            con.execute("DELETE FROM patient_passkeys WHERE account_id = ? AND account_id IN "
                        "(SELECT account_id FROM patient_accounts WHERE status = 'disabled')",
                        [used["account_id"]])
            con.execute("UPDATE patient_accounts SET status = 'active', enrolled_at = coalesce(enrolled_at, ?), "
                        "disabled_at = NULL, disabled_by = NULL, failed_sign_ins = 0, locked_at = NULL "
                        "WHERE account_id = ?", [_iso(now), used["account_id"]])
    if used is None:
        return Enrolment(False)
    account = get(home, invitation.account_id)
    if account is None or account.status != "active":
        return Enrolment(False)
    return Enrolment(True, account)


def sign_in_failed(home: Home, account_id: str, lockout_attempts: int = 5,
                   now: datetime | None = None) -> bool:
    """Count a failed sign-in; True when this failure locked the account."""
    now = now or now_utc()
    with closing(_connect(home)) as con:
        con.execute("UPDATE patient_accounts SET failed_sign_ins = failed_sign_ins + 1 WHERE account_id = ?",
                    [account_id])
        locked = con.execute(
            "UPDATE patient_accounts SET locked_at = ? WHERE account_id = ? AND locked_at IS NULL "
            "AND failed_sign_ins >= ? RETURNING account_id", [_iso(now), account_id, lockout_attempts]).fetchone()
    return locked is not None


def disable(home: Home, account_id: str, by: str, now: datetime | None = None) -> Account:
    """Stop an account at once: it cannot sign in, every session ends, and every invitation sent
    before is withdrawn (only a new invitation, after this, lets the patient back in)."""
    _require(home, account_id)
    now = now or now_utc()
    with closing(_connect(home)) as con, con.transaction():
        con.execute("UPDATE patient_accounts SET status = 'disabled', disabled_at = ?, disabled_by = ? "
                    "WHERE account_id = ?", [_iso(now), by, account_id])
        con.execute("UPDATE patient_invitations SET revoked_at = ? WHERE account_id = ? "
                    "AND used_at IS NULL AND revoked_at IS NULL", [_iso(now), account_id])
    end_all_sessions(home, account_id, now)
    return _require(home, account_id)


def enable(home: Home, account_id: str) -> Account:
    """Let a disabled account sign in again (active if it had enrolled, else invited)."""
    _require(home, account_id)
    with closing(_connect(home)) as con:
        con.execute("UPDATE patient_accounts SET status = CASE WHEN enrolled_at IS NULL THEN 'invited' "
                    "ELSE 'active' END, disabled_at = NULL, disabled_by = NULL WHERE account_id = ?",
                    [account_id])
    return _require(home, account_id)


def unlock(home: Home, account_id: str) -> Account:
    """Clear a lockout of the account and of its latest invitation (the clerk checked who asks)."""
    _require(home, account_id)
    with closing(_connect(home)) as con:
        con.execute("UPDATE patient_accounts SET locked_at = NULL, failed_sign_ins = 0 WHERE account_id = ?",
                    [account_id])
        con.execute("UPDATE patient_invitations SET locked_at = NULL, failed_attempts = 0 WHERE account_id = ? "
                    "AND used_at IS NULL AND revoked_at IS NULL", [account_id])
    return _require(home, account_id)


def _require(home: Home, account_id: str) -> Account:
    account = get(home, account_id)
    if account is None:
        raise AccountError(f"there is no patient account {account_id}")
    return account


# ---- sessions ------------------------------------------------------------------------------------
def start_session(home: Home, account_id: str, method: str, *, idle_minutes: int = 30,
                  max_hours: int = 12, now: datetime | None = None) -> str:
    """Sign the account in: the cookie value (returned once; only its hash is kept)."""
    if method not in SIGN_IN_METHODS:
        raise ValueError(f"method must be one of {', '.join(SIGN_IN_METHODS)}")
    now = now or now_utc()
    secret = _token(SESSION_PREFIX)
    with closing(_connect(home)) as con:
        con.execute("UPDATE patient_accounts SET last_sign_in_at = ?, failed_sign_ins = 0 WHERE account_id = ?",
                    [_iso(now), account_id])
        con.execute("INSERT INTO patient_sessions (session_hash, account_id, method, created_at, expires_at, "
                    "last_seen_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    [sha256(secret), account_id, method, _iso(now),
                     _iso(now + timedelta(hours=max_hours)), _iso(now)])
    return secret


def current_session(home: Home, secret: str | None, *, idle_minutes: int = 30,
                    now: datetime | None = None) -> tuple[Account, str] | None:
    """The usable account a session cookie belongs to and how it signed in (None when the session
    ended, idled out or expired, or the account is disabled or locked); touches the session so the
    idle timeout restarts. An ``enrolment`` session may only set up a way to sign in."""
    if not _looks_like(secret, SESSION_PREFIX):
        return None
    assert secret is not None
    now = now or now_utc()
    digest = sha256(secret)
    with closing(_connect(home)) as con:
        row = con.execute(
            "UPDATE patient_sessions SET last_seen_at = ? WHERE session_hash = ? AND ended_at IS NULL "
            "AND expires_at > ? AND last_seen_at > ? RETURNING account_id, method",
            [_iso(now), digest, _iso(now), _iso(now - timedelta(minutes=idle_minutes))]).fetchone()
    if row is None:
        return None
    account = get(home, row["account_id"])
    if account is None or not account.usable:
        return None
    return account, row["method"]


def session_account(home: Home, secret: str | None, *, idle_minutes: int = 30,
                    now: datetime | None = None) -> Account | None:
    """The account of a full session (signed in by passkey or e-mail code), else None."""
    found = current_session(home, secret, idle_minutes=idle_minutes, now=now)
    return found[0] if found is not None and found[1] != "enrolment" else None


def end_session(home: Home, secret: str, now: datetime | None = None) -> str | None:
    """Sign one session out; the account id it belonged to (None if there was none)."""
    if not _looks_like(secret, SESSION_PREFIX):
        return None
    with closing(_connect(home)) as con:
        row = con.execute("UPDATE patient_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL "
                          "RETURNING account_id", [_iso(now or now_utc()), sha256(secret)]).fetchone()
    return row["account_id"] if row else None


def end_all_sessions(home: Home, account_id: str, now: datetime | None = None) -> int:
    """Sign out everywhere: end every open session of the account; how many there were."""
    with closing(_connect(home)) as con:
        cur = con.execute("UPDATE patient_sessions SET ended_at = ? WHERE account_id = ? AND ended_at IS NULL",
                          [_iso(now or now_utc()), account_id])
    return cur.rowcount


def open_sessions(home: Home, account_id: str, now: datetime | None = None) -> int:
    now = now or now_utc()
    with closing(_connect(home)) as con:
        return con.execute("SELECT count(*) FROM patient_sessions WHERE account_id = ? AND ended_at IS NULL "
                           "AND expires_at > ?", [account_id, _iso(now)]).fetchone()[0]
