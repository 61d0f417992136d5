"""Family and caregivers: an account opens another account's records until an end date.

The owner grants it in the portal (``/me/family``) or a clerk does (a child, a person under
guardianship: ``limestone patients delegate grant``, the dashboard's *Patient access* page). The
delegate signs in with their own account and chooses whose records to open; the portal then shows
the owner's records (studies, reports, viewer, downloads) and every use is audited as the
delegate's own action with ``on_behalf_of`` naming the owner's account. Access stops at
``ends_at`` (checked at every request), when either side revokes it, or when either account is
disabled. Sign-in, security and sharing settings always stay the signed-in account's own.
"""

from __future__ import annotations

import secrets
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive import audit, state
from archive.clock import now_utc
from archive.home import Archive, Home
from archive.patient_access import accounts
from archive.patient_access.accounts import Account, AccountError
from archive.sharing.actions import Actor

LONGEST_DAYS = 366 * 18        # a child until adulthood is the longest a grant may run


@dataclass(frozen=True)
class Delegation:
    delegation_id: str
    owner_account_id: str
    delegate_account_id: str
    label: str
    granted_by: str
    granted_by_kind: str
    created_at: datetime
    ends_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def status(self, now: datetime | None = None) -> str:
        """active | ended | revoked."""
        if self.revoked_at is not None:
            return "revoked"
        return "ended" if (now or now_utc()) >= self.ends_at else "active"


_COLUMNS = ("delegation_id, owner_account_id, delegate_account_id, label, granted_by, granted_by_kind, "
            "created_at, ends_at, revoked_at, revoked_by")


def _row(row: state.Row) -> Delegation:
    when = datetime.fromisoformat
    return Delegation(row["delegation_id"], row["owner_account_id"], row["delegate_account_id"], row["label"],
                      row["granted_by"], row["granted_by_kind"], when(row["created_at"]), when(row["ends_at"]),
                      when(row["revoked_at"]) if row["revoked_at"] else None, row["revoked_by"])


def _connect(home: Home) -> state.StateConnection:
    return state.connect(home)


def grant(home: Home, owner: Account, delegate: Account, ends_at: datetime, *, label: str, granted_by: str,
          granted_by_kind: str, now: datetime | None = None) -> Delegation:
    """Let ``delegate`` open ``owner``'s records until ``ends_at``; audited as a ``delegate`` event."""
    now = now or now_utc()
    if granted_by_kind not in ("patient", "clerk"):
        raise ValueError(f"granted_by_kind must be patient or clerk, not {granted_by_kind!r}")
    if owner.account_id == delegate.account_id:
        raise AccountError("an account cannot be given access to its own records")
    if delegate.status == "disabled":
        raise AccountError("that account is disabled")
    if ends_at <= now:
        raise AccountError("the end date must be in the future")
    if ends_at > now + timedelta(days=LONGEST_DAYS):
        raise AccountError("the end date is too far away (18 years at most)")
    label = " ".join(str(label or "").split())[:80]
    if not label:
        raise AccountError("say whose records these are (for example: Sam, my son)")
    delegation = Delegation("G" + secrets.token_hex(6), owner.account_id, delegate.account_id, label, granted_by,
                            granted_by_kind, now.replace(microsecond=0), ends_at.replace(microsecond=0))
    with closing(_connect(home)) as con, con.transaction():
        # One current grant per owner and delegate: a new one replaces the old (a changed end date),
        # so the delegate's list never shows the same person twice.
        con.execute("UPDATE patient_delegations SET revoked_at = ?, revoked_by = ? WHERE owner_account_id = ? "
                    "AND delegate_account_id = ? AND revoked_at IS NULL",
                    [delegation.created_at.isoformat(), granted_by, owner.account_id, delegate.account_id])
        con.execute(f"INSERT INTO patient_delegations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    [delegation.delegation_id, owner.account_id, delegate.account_id, label, granted_by,
                     granted_by_kind, delegation.created_at.isoformat(), delegation.ends_at.isoformat()])
    audit.record(home, audit.AuditEvent(
        action="delegate", user_id=granted_by, user_role=granted_by_kind, patient_key=owner.patient_key,
        source="portal" if granted_by_kind == "patient" else "dashboard", account_id=owner.account_id,
        detail=f"{delegation.delegation_id}: {delegate.account_id} may open the records until "
               f"{delegation.ends_at:%Y-%m-%d %H:%M} UTC"))
    return delegation


def get(home: Home, delegation_id: str) -> Delegation | None:
    with closing(_connect(home)) as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM patient_delegations WHERE delegation_id = ?",
                          [str(delegation_id)]).fetchone()
    return _row(row) if row else None


def revoke(home: Home, delegation_id: str, by: str, *, owner_account_id: str | None = None,
           now: datetime | None = None) -> Delegation:
    """End a grant now. ``owner_account_id``, when given, must be the grant's owner (a patient
    revoking their own); a clerk passes none. Audited as ``delegate_revoke``."""
    found = get(home, delegation_id)
    if found is None or (owner_account_id is not None and found.owner_account_id != owner_account_id):
        raise AccountError("no such access grant")
    if found.revoked_at is None:
        when = (now or now_utc()).replace(microsecond=0)
        with closing(_connect(home)) as con:
            con.execute("UPDATE patient_delegations SET revoked_at = ?, revoked_by = ? "
                        "WHERE delegation_id = ? AND revoked_at IS NULL", [when.isoformat(), by, delegation_id])
        owner = accounts.get(home, found.owner_account_id)
        audit.record(home, audit.AuditEvent(
            action="delegate_revoke", user_id=by, patient_key=owner.patient_key if owner else None,
            source="portal" if by.startswith("patient:") else "dashboard", account_id=found.owner_account_id,
            detail=f"{delegation_id}: {found.delegate_account_id} no longer opens the records"))
    return get(home, delegation_id) or found


def granted_by_owner(home: Home, owner_account_id: str) -> list[Delegation]:
    """Every grant of an owner's records, newest first (ended and revoked ones too)."""
    with closing(_connect(home)) as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM patient_delegations WHERE owner_account_id = ? "
                           "ORDER BY created_at DESC", [owner_account_id]).fetchall()
    return [_row(r) for r in rows]


def granted_to(home: Home, delegate_account_id: str, now: datetime | None = None) -> list[Delegation]:
    """The grants a delegate may use now (not ended, not revoked, owner not disabled)."""
    now = now or now_utc()
    with closing(_connect(home)) as con:
        rows = con.execute(
            f"SELECT {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))} FROM patient_delegations d "
            "JOIN patient_accounts o ON o.account_id = d.owner_account_id "
            "WHERE d.delegate_account_id = ? AND d.revoked_at IS NULL AND d.ends_at > ? AND o.status != 'disabled' "
            "ORDER BY d.label", [delegate_account_id, now.isoformat()]).fetchall()
    return [_row(r) for r in rows]


def all_grants(home: Home, limit: int = 1000) -> list[Delegation]:
    """Every grant, newest first (the clerks' list)."""
    with closing(_connect(home)) as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM patient_delegations ORDER BY created_at DESC LIMIT ?",
                           [limit]).fetchall()
    return [_row(r) for r in rows]


def usable(home: Home, delegation_id: str, delegate: Account, now: datetime | None = None) -> Account | None:
    """The owner's account when ``delegate`` may open it through ``delegation_id`` now, else None."""
    found = get(home, delegation_id)
    if found is None or found.delegate_account_id != delegate.account_id or found.status(now) != "active":
        return None
    owner = accounts.get(home, found.owner_account_id)
    if owner is None or owner.status == "disabled" or not delegate.usable:
        return None
    return owner


def describe(delegation: Delegation, now: datetime | None = None) -> dict:
    """The grant as JSON-ready values (``limestone patients delegate ... --json``)."""
    return {"delegation_id": delegation.delegation_id, "owner_account_id": delegation.owner_account_id,
            "delegate_account_id": delegation.delegate_account_id, "label": delegation.label,
            "granted_by": delegation.granted_by, "granted_by_kind": delegation.granted_by_kind,
            "created_at": delegation.created_at.isoformat(), "ends_at": delegation.ends_at.isoformat(),
            "revoked_at": delegation.revoked_at.isoformat() if delegation.revoked_at else None,
            "status": delegation.status(now)}


def delegate_account(home: Home, *, account_id: str | None = None, email: str | None = None,
                     not_account: str | None = None) -> Account:
    """The one account meant as a delegate, by its id or by e-mail; AccountError unless exactly one."""
    if account_id:
        found = accounts.get(home, account_id)
        candidates = [found] if found is not None else []
    else:
        candidates = [a for a in accounts.for_email(home, email or "") if a.account_id != not_account]
    candidates = [a for a in candidates if a.status != "disabled"]
    if len(candidates) != 1:
        raise AccountError("no account of this address can be given access" if not candidates else
                           "several accounts use this address: name the account (its id)")
    return candidates[0]


def grant_by_clerk(archive: Archive, patient_id: str, ends_at: datetime, *, actor: Actor, label: str,
                   issuer: str | None = None, to_account: str | None = None,
                   to_email: str | None = None) -> Delegation:
    """A clerk lets another account open a patient's records (a child, a person under guardianship).

    The patient's record is found by Patient ID (and issuer) and must have an account (invited is
    enough: a child need never sign in); the delegate by account id or e-mail."""
    from archive.patient_access.actions import find_record
    record = find_record(archive, patient_id, issuer)
    owner = accounts.for_patient(archive.home, record["patient_key"])
    if owner is None:
        raise AccountError("this patient has no account yet: invite them first (limestone patients invite)")
    delegate = delegate_account(archive.home, account_id=to_account, email=to_email, not_account=owner.account_id)
    return grant(archive.home, owner, delegate, ends_at, label=label, granted_by=actor.user_id,
                 granted_by_kind="clerk")
