"""Audit events: every access to patient data is recorded in the state database.

An event names who did what to which study, when, and whether it worked; it carries no patient
names. ``record`` never raises into the caller's page: a failed write is logged, because a viewer
must not break when the state database is busy, but it is retried first.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from archive.clock import now_utc
from archive.home import Home
from archive import state

log = logging.getLogger("limestone.audit")

ACTIONS = ("view", "download", "export", "share", "revoke", "passcode_failed", "sign_in", "sign_out")


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


def record(home: Home, event: AuditEvent) -> bool:
    """Write one event; return False (and log) if it could not be written."""
    if event.action not in ACTIONS:
        raise ValueError(f"unknown audit action {event.action!r}; expected one of {', '.join(ACTIONS)}")
    when = (event.occurred_at or now_utc()).isoformat(timespec="milliseconds")
    try:
        with closing(state.connect(home)) as con:
            con.execute(
                "INSERT INTO audit_events (occurred_at, action, outcome, user_id, user_role, source, "
                "study_instance_uid, patient_key, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [when, event.action, event.outcome, event.user_id, event.user_role, event.source,
                 event.study_instance_uid, event.patient_key, event.detail])
        return True
    except sqlite3.Error as exc:
        log.error("audit event %s could not be written: %s", event.action, exc)
        return False


def events(home: Home, study_instance_uid: str | None = None, limit: int = 1000) -> list[dict]:
    """Recent events, newest first, optionally for one study."""
    with closing(state.connect(home)) as con:
        con.row_factory = sqlite3.Row
        if study_instance_uid is None:
            rows = con.execute("SELECT * FROM audit_events ORDER BY event_id DESC LIMIT ?", [limit])
        else:
            rows = con.execute("SELECT * FROM audit_events WHERE study_instance_uid = ? "
                               "ORDER BY event_id DESC LIMIT ?", [study_instance_uid, limit])
        return [dict(r) for r in rows]
