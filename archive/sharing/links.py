"""Patient share links: issuing, checking, extending, revoking and unlocking them.

A link carries only an opaque token: the prefix ``lsl_`` and 256 random bits (URL-safe base64).
The state keeps the token's SHA-256, never the token, and looks a link up by that hash; the hash
is compared again with ``hmac.compare_digest``. The recipient proves who they are with a passcode
shown once to the clerk, or with the patient's birth date; either is kept only as a scrypt hash.
After ``lockout_attempts`` wrong answers the link is locked until a clerk unlocks it.

Whatever is wrong with a link (unknown, expired, revoked, locked, used up), ``open_link`` answers
``None``: callers show one plain refusal and learn nothing about the patient. The link's public
``link_id`` (``L`` + 12 hex digits) names it in lists, the CLI and audit events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable

from archive import state
from archive.clock import now_utc
from archive.errors import LimestoneError
from archive.home import Home

TOKEN_PREFIX = "lsl_"
TOKEN_BYTES = 32                      # 256 bits
PERMISSIONS = ("view", "download")
RECIPIENT_ROLES = ("patient", "doctor", "other")
VERIFY_KINDS = ("passcode", "birth_date")
# Passcodes avoid letters and digits that are easily confused when read aloud or typed.
_PASSCODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PASSCODE_LENGTH = 10
# scrypt cost: ~50 ms per check on one core, 16 MiB of memory.
_SCRYPT = dict(n=2 ** 14, r=8, p=1, dklen=32)


class ShareError(LimestoneError, ValueError):
    """A link cannot be issued or changed as asked (a plain message for the clerk)."""


@dataclass(frozen=True)
class Scope:
    """What a link reaches: studies of one patient (read from the store by archive.sharing.scope)."""

    patient_key: str
    study_instance_uids: tuple[str, ...]
    site: str | None = None
    birth_date: date | None = None


@dataclass
class ShareLink:
    link_id: str
    patient_key: str
    study_instance_uids: tuple[str, ...]
    site: str | None
    recipient_name: str
    recipient_role: str
    recipient_email: str | None
    permissions: frozenset[str]
    verify_kind: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    use_limit: int | None
    uses: int = 0
    failed_attempts: int = 0
    locked_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    first_opened_at: datetime | None = None
    last_opened_at: datetime | None = None
    downloads: int = 0
    created_by_kind: str = "staff"      # staff | patient (a patient shared from their own account)
    account_id: str | None = None       # the patient account that made it
    token_hash: str = field(default="", repr=False)
    secret_hash: str = field(default="", repr=False)

    def status(self, now: datetime | None = None) -> str:
        """active | expired | revoked | locked | used up (for staff; recipients see one refusal)."""
        now = now or now_utc()
        if self.revoked_at is not None:
            return "revoked"
        if self.locked_at is not None:
            return "locked"
        if now >= self.expires_at:
            return "expired"
        if self.use_limit is not None and self.uses >= self.use_limit:
            return "used up"
        return "active"

    def usable(self, now: datetime | None = None) -> bool:
        return self.status(now) == "active"

    def may(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class IssuedLink:
    """A new link: the only moment the token and the passcode exist outside the recipient's hands."""

    link: ShareLink
    token: str
    passcode: str | None

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/s/{self.token}"


# ---- tokens and secrets ------------------------------------------------------------------------
def new_token() -> str:
    """A fresh link token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check (prefix, length, alphabet) before touching the database."""
    body = token[len(TOKEN_PREFIX):]
    return (token.startswith(TOKEN_PREFIX) and len(body) == 43
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in body))


def new_passcode() -> str:
    code = "".join(secrets.choice(_PASSCODE_ALPHABET) for _ in range(PASSCODE_LENGTH))
    return f"{code[:5]}-{code[5:]}"


def normalise_answer(kind: str, answer: str) -> str:
    """A passcode without case, spaces or dashes; a birth date as its digits (YYYYMMDD)."""
    text = (answer or "").strip()
    if kind == "passcode":
        return "".join(c for c in text.upper() if c.isalnum())
    return "".join(c for c in text if c.isdigit())  # the portal's date field sends YYYY-MM-DD


def hash_secret(kind: str, answer: str) -> str:
    """``scrypt$<salt b64>$<hash b64>`` of the normalised answer."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(normalise_answer(kind, answer).encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_secret(kind: str, answer: str, stored: str) -> bool:
    """Constant-time check of an answer against a stored hash."""
    try:
        _, salt, digest = stored.split("$")
        salt_b, digest_b = base64.b64decode(salt), base64.b64decode(digest)
    except ValueError:
        salt_b, digest_b = b"\0" * 16, b""
    candidate = hashlib.scrypt(normalise_answer(kind, answer).encode(), salt=salt_b, **_SCRYPT)
    return hmac.compare_digest(candidate, digest_b)


# An answer to an unknown link is still run through scrypt, so timing tells nothing.
_DUMMY_HASH = "scrypt$" + base64.b64encode(b"\0" * 16).decode() + "$" + base64.b64encode(b"\1" * 32).decode()


# ---- the state -----------------------------------------------------------------------------------
_COLUMNS = ("link_id, token_hash, patient_key, studies, site, recipient_name, recipient_role, "
            "recipient_email, permissions, verify_kind, secret_hash, created_by, created_at, "
            "expires_at, use_limit, uses, failed_attempts, locked_at, revoked_at, revoked_by, "
            "first_opened_at, last_opened_at, downloads, created_by_kind, account_id")


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _from_row(row: state.Row) -> ShareLink:
    return ShareLink(
        link_id=row["link_id"], patient_key=row["patient_key"],
        study_instance_uids=tuple(json.loads(row["studies"])), site=row["site"],
        recipient_name=row["recipient_name"], recipient_role=row["recipient_role"],
        recipient_email=row["recipient_email"],
        permissions=frozenset(p for p in row["permissions"].split(",") if p),
        verify_kind=row["verify_kind"], created_by=row["created_by"],
        created_at=_ts(row["created_at"]), expires_at=_ts(row["expires_at"]),
        use_limit=row["use_limit"], uses=row["uses"], failed_attempts=row["failed_attempts"],
        locked_at=_ts(row["locked_at"]), revoked_at=_ts(row["revoked_at"]),
        revoked_by=row["revoked_by"], first_opened_at=_ts(row["first_opened_at"]),
        last_opened_at=_ts(row["last_opened_at"]), downloads=row["downloads"],
        created_by_kind=row["created_by_kind"], account_id=row["account_id"],
        token_hash=row["token_hash"], secret_hash=row["secret_hash"])


def _connect(home: Home) -> state.StateConnection:
    return state.connect(home)


def issue(home: Home, scope: Scope, *, recipient_name: str, recipient_role: str = "patient",
          recipient_email: str | None = None, permissions: Iterable[str] = PERMISSIONS,
          days: int = 30, max_days: int = 90, use_limit: int | None = None,
          verify: str = "passcode", created_by: str, now: datetime | None = None,
          account_id: str | None = None) -> IssuedLink:
    """Create a link to ``scope``; the returned token and passcode are never stored.

    ``account_id``: the patient account sharing its own records (the link is marked ``patient``).
    """
    permissions = frozenset(permissions)
    if not scope.study_instance_uids:
        raise ShareError("choose at least one study to share")
    if not permissions or not permissions <= set(PERMISSIONS):
        raise ShareError(f"permissions must be some of: {', '.join(PERMISSIONS)}")
    if recipient_role not in RECIPIENT_ROLES:
        raise ShareError(f"recipient role must be one of: {', '.join(RECIPIENT_ROLES)}")
    if not recipient_name or not recipient_name.strip():
        raise ShareError("give the recipient's name")
    if not 1 <= days <= max_days:
        raise ShareError(f"a link may last from 1 to {max_days} days")
    if use_limit is not None and use_limit < 1:
        raise ShareError("a use limit must be at least 1")
    if verify not in VERIFY_KINDS:
        raise ShareError(f"verification must be one of: {', '.join(VERIFY_KINDS)}")
    passcode = None
    if verify == "passcode":
        passcode = new_passcode()
        secret = hash_secret("passcode", passcode)
    else:
        if scope.birth_date is None:
            raise ShareError("the patient has no birth date in the archive: use a passcode instead")
        secret = hash_secret("birth_date", scope.birth_date.strftime("%Y%m%d"))
    now = now or now_utc()
    token = new_token()
    link = ShareLink(
        link_id="L" + secrets.token_hex(6), patient_key=scope.patient_key,
        study_instance_uids=tuple(dict.fromkeys(scope.study_instance_uids)), site=scope.site,
        recipient_name=recipient_name.strip(), recipient_role=recipient_role,
        recipient_email=(recipient_email or "").strip() or None, permissions=permissions,
        verify_kind=verify, created_by=created_by, created_at=now,
        expires_at=now + timedelta(days=days), use_limit=use_limit,
        token_hash=token_hash(token), secret_hash=secret,
        created_by_kind="patient" if account_id else "staff", account_id=account_id)
    with closing(_connect(home)) as con:
        con.execute(
            f"INSERT INTO share_links ({_COLUMNS}) VALUES ({', '.join('?' * 25)})",
            [link.link_id, link.token_hash, link.patient_key, json.dumps(list(link.study_instance_uids)),
             link.site, link.recipient_name, link.recipient_role, link.recipient_email,
             ",".join(sorted(link.permissions)), link.verify_kind, link.secret_hash, link.created_by,
             _iso(link.created_at), _iso(link.expires_at), link.use_limit, 0, 0, None, None, None,
             None, None, 0, link.created_by_kind, link.account_id])
    return IssuedLink(link, token, passcode)


def get(home: Home, link_id: str) -> ShareLink | None:
    with closing(_connect(home)) as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM share_links WHERE link_id = ?", [link_id]).fetchone()
    return _from_row(row) if row else None


def find(home: Home, token: str) -> ShareLink | None:
    """The link a token names, whatever its status (None for anything else)."""
    if not isinstance(token, str) or not looks_like_token(token):
        return None
    digest = token_hash(token)
    with closing(_connect(home)) as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM share_links WHERE token_hash = ?", [digest]).fetchone()
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return None
    return _from_row(row)


def open_link(home: Home, token: str, now: datetime | None = None,
              signed_in: bool = False) -> ShareLink | None:
    """The link if it may be used now; None for unknown, expired, revoked, locked or used up.

    ``signed_in``: the caller holds a session this link opened earlier. A use is counted when the
    passcode is given, so a link whose last use opened that session is "used up" but still serves
    it (a ``--use-limit 1`` link works for its one use); the caller must check the session.
    """
    link = find(home, token)
    if link is None:
        return None
    status = link.status(now)
    if status == "active" or (signed_in and status == "used up"):
        return link
    return None


@dataclass(frozen=True)
class Verification:
    ok: bool
    link: ShareLink | None
    locked_now: bool = False
    attempts_left: int | None = None


def verify(home: Home, token: str, answer: str, lockout_attempts: int = 5,
           now: datetime | None = None) -> Verification:
    """Check the recipient's passcode or birth date; count the use or the failure.

    A success opens one use of the link (the use limit counts these). Every answer first takes
    one of the link's ``lockout_attempts`` in a single conditional UPDATE, before the slow check,
    so answers sent at once cannot all be checked: the ones beyond the limit are refused without
    a look at the secret, exactly one failure locks the link, and a correct answer that arrives
    while a lock is due (or set) is refused. A success gives its attempt back (the count starts
    again); a failure keeps it. Single-statement updates keep this atomic in SQLite and PostgreSQL.
    Whatever the outcome, one scrypt check runs, so timing says nothing about the link.
    """
    now = now or now_utc()
    link = open_link(home, token, now)
    if link is None:
        check_secret("passcode", answer, _DUMMY_HASH)
        return Verification(False, None)
    with closing(_connect(home)) as con:
        taken = con.execute(
            "UPDATE share_links SET failed_attempts = failed_attempts + 1 WHERE link_id = ? "
            "AND revoked_at IS NULL AND locked_at IS NULL AND failed_attempts < ? RETURNING failed_attempts",
            [link.link_id, lockout_attempts]).fetchone()
    if taken is None:                 # locked, or a lock is due from answers still being checked
        check_secret("passcode", answer, _DUMMY_HASH)
        return Verification(False, None)
    if check_secret(link.verify_kind, answer, link.secret_hash):
        with closing(_connect(home)) as con:
            # Conditional update: two recipients racing for the last use cannot both win, and a
            # lock set meanwhile by other (wrong) answers wins over this one.
            cur = con.execute(
                "UPDATE share_links SET uses = uses + 1, failed_attempts = 0, last_opened_at = ?, "
                "first_opened_at = coalesce(first_opened_at, ?) WHERE link_id = ? AND revoked_at IS NULL "
                "AND locked_at IS NULL AND (use_limit IS NULL OR uses < use_limit)",
                [_iso(now), _iso(now), link.link_id])
        if cur.rowcount != 1:
            return Verification(False, None)
        return Verification(True, get(home, link.link_id))
    failed = int(taken[0])
    with closing(_connect(home)) as con:
        # Only one failure can set the lock (locked_at IS NULL): one lockout, however many raced.
        locked = con.execute(
            "UPDATE share_links SET locked_at = ? WHERE link_id = ? AND locked_at IS NULL "
            "AND failed_attempts >= ? RETURNING link_id", [_iso(now), link.link_id, lockout_attempts]).fetchone()
    return Verification(False, link, locked_now=locked is not None,
                        attempts_left=max(0, lockout_attempts - failed))


def count_download(home: Home, link_id: str) -> None:
    with closing(_connect(home)) as con:
        con.execute("UPDATE share_links SET downloads = downloads + 1 WHERE link_id = ?", [link_id])


def list_links(home: Home, patient_key: str | None = None, limit: int = 500,
               account_id: str | None = None) -> list[ShareLink]:
    """Links, newest first (optionally one patient's, or those one patient account made)."""
    with closing(_connect(home)) as con:
        if account_id:
            rows = con.execute(f"SELECT {_COLUMNS} FROM share_links WHERE account_id = ? "
                               "ORDER BY created_at DESC LIMIT ?", [account_id, limit]).fetchall()
        elif patient_key:
            rows = con.execute(f"SELECT {_COLUMNS} FROM share_links WHERE patient_key = ? "
                               "ORDER BY created_at DESC LIMIT ?", [patient_key, limit]).fetchall()
        else:
            rows = con.execute(f"SELECT {_COLUMNS} FROM share_links ORDER BY created_at DESC LIMIT ?",
                               [limit]).fetchall()
    return [_from_row(r) for r in rows]


def _require(home: Home, link_id: str) -> ShareLink:
    link = get(home, link_id)
    if link is None:
        raise ShareError(f"there is no link {link_id}")
    return link


def revoke(home: Home, link_id: str, by: str, now: datetime | None = None) -> ShareLink:
    """Withdraw a link at once (a no-op for a link already revoked)."""
    _require(home, link_id)
    with closing(_connect(home)) as con:
        con.execute("UPDATE share_links SET revoked_at = ?, revoked_by = ? WHERE link_id = ? "
                    "AND revoked_at IS NULL", [_iso(now or now_utc()), by, link_id])
    return get(home, link_id)


def extend(home: Home, link_id: str, days: int, max_days: int = 90,
           now: datetime | None = None) -> ShareLink:
    """Make a link expire ``days`` from now (at most ``max_days``); a revoked link stays revoked."""
    link = _require(home, link_id)
    if link.revoked_at is not None:
        raise ShareError(f"link {link_id} was revoked; issue a new link instead")
    if not 1 <= days <= max_days:
        raise ShareError(f"a link may last from 1 to {max_days} days")
    with closing(_connect(home)) as con:
        con.execute("UPDATE share_links SET expires_at = ? WHERE link_id = ?",
                    [_iso((now or now_utc()) + timedelta(days=days)), link_id])
    return get(home, link_id)


def unlock(home: Home, link_id: str) -> ShareLink:
    """Clear a lockout after wrong passcodes (the clerk has checked who is asking)."""
    _require(home, link_id)
    with closing(_connect(home)) as con:
        con.execute("UPDATE share_links SET locked_at = NULL, failed_attempts = 0 WHERE link_id = ?",
                    [link_id])
    return get(home, link_id)
