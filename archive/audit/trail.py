"""Audit events: every access to patient data is recorded in the state database.

An event names who did what to which study, when, and whether it worked; it carries no patient
names. ``record`` never raises into the caller's page: a failed write is logged, because a viewer
must not break when the state database is busy, but it is retried first.
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime

from archive import state
from archive.clock import now_utc
from archive.home import Home

log = logging.getLogger("limestone.audit")

ACTIONS = ("view", "download", "export", "share", "revoke", "passcode_failed", "sign_in", "sign_out",
           # share links and the share portal (archive/sharing/links.py, portal/)
           "extend", "unlock", "lockout", "open", "refused",
           # patients' own accounts (archive/patient_access/)
           "invite", "enrol", "disable", "code_sent", "notify",
           # family and caregivers (archive/patient_access/delegation.py)
           "delegate", "delegate_revoke")


@dataclass(frozen=True)
class AuditEvent:
    action: str
    user_id: str | None
    user_role: str | None = None
    study_instance_uid: str | None = None
    patient_key: str | None = None
    outcome: str = "success"
    source: str = "dashboard"
    detail: str | None = None
    occurred_at: datetime | None = None
    link_id: str | None = None          # the share link used or changed (never its token)
    ip: str | None = None               # where the request came from
    user_agent: str | None = None
    account_id: str | None = None       # the patient account acting (archive/patient_access/)
    on_behalf_of: str | None = None     # the account whose records a delegate used (family, caregivers)


def record(home: Home, event: AuditEvent) -> bool:
    """Write one event; return False (and log) if it could not be written."""
    if event.action not in ACTIONS:
        raise ValueError(f"unknown audit action {event.action!r}; expected one of {', '.join(ACTIONS)}")
    when = (event.occurred_at or now_utc()).isoformat(timespec="milliseconds")
    try:
        with closing(state.connect(home)) as con:
            con.execute(
                "INSERT INTO audit_events (occurred_at, action, outcome, user_id, user_role, source, "
                "study_instance_uid, patient_key, detail, link_id, ip, user_agent, account_id, on_behalf_of) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [when, event.action, event.outcome, event.user_id, event.user_role, event.source,
                 event.study_instance_uid, event.patient_key, event.detail, event.link_id,
                 event.ip, (event.user_agent or "")[:300] or None, event.account_id, event.on_behalf_of])
        return True
    except state.ERRORS as exc:
        log.error("audit event %s could not be written: %s", event.action, exc)
        return False


def events(home: Home, study_instance_uid: str | None = None, limit: int = 1000) -> list[dict]:
    """Recent events, newest first, optionally for one study."""
    with closing(state.connect(home)) as con:
        if study_instance_uid is None:
            rows = con.execute("SELECT * FROM audit_events ORDER BY event_id DESC LIMIT ?", [limit])
        else:
            rows = con.execute("SELECT * FROM audit_events WHERE study_instance_uid = ? "
                               "ORDER BY event_id DESC LIMIT ?", [study_instance_uid, limit])
        return [dict(r) for r in rows]


def record_many(home: Home, event: AuditEvent, study_instance_uids: list[str] | tuple[str, ...]) -> bool:
    """One event per study (so a search by study finds each); one event when there are none."""
    if not study_instance_uids:
        return record(home, event)
    return all([record(home, replace(event, study_instance_uid=uid)) for uid in study_instance_uids])


def search(home: Home, *, since: datetime | None = None, until: datetime | None = None,
           actions: list[str] | tuple[str, ...] = (), user: str | None = None,
           study_instance_uid: str | None = None, patient_key: str | None = None,
           link_id: str | None = None, ip: str | None = None, limit: int = 5000) -> list[dict]:
    """Events matching every given filter, newest first (``user`` matches part of the user id)."""
    where, params = [], []
    if since is not None:
        where.append("occurred_at >= ?")
        params.append(since.isoformat(timespec="milliseconds"))
    if until is not None:
        where.append("occurred_at < ?")
        params.append(until.isoformat(timespec="milliseconds"))
    if actions:
        where.append(f"action IN ({', '.join('?' * len(actions))})")
        params.extend(actions)
    for column, value in (("study_instance_uid", study_instance_uid), ("patient_key", patient_key),
                          ("link_id", link_id), ("ip", ip)):
        if value:
            where.append(f"{column} = ?")
            params.append(value.strip())
    if user:
        where.append("user_id LIKE ? ESCAPE '\\'")
        escaped = user.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    sql = "SELECT * FROM audit_events" + (" WHERE " + " AND ".join(where) if where else "")
    with closing(state.connect(home)) as con:
        rows = con.execute(sql + " ORDER BY event_id DESC LIMIT ?", params + [limit])
        return [dict(r) for r in rows]
