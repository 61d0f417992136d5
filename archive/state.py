"""The operational database: small transactional writes made by the app (SQLite, WAL).

Audit events, share links, node records and job runs live here, never in the analytic store, so
an app action never waits on an ingest. The schema is a list of numbered, append-only steps
(``SCHEMA_STEPS``); a module that needs tables adds a step at the end. ``connect(home)`` opens
the database at ``Home.state_path`` in WAL mode and applies pending steps.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from archive.home import Home

# (number, name, SQL). Append only: never edit or reorder a step that has shipped.
SCHEMA_STEPS: list[tuple[int, str, str]] = [
    (1, "audit_events", """
        CREATE TABLE audit_events (
            event_id     INTEGER PRIMARY KEY AUTOINCREMENT,
            occurred_at  TEXT NOT NULL,          -- ISO 8601, UTC
            action       TEXT NOT NULL,          -- view | download | export | share | revoke | passcode_failed | sign_in ...
            outcome      TEXT NOT NULL,          -- success | failure
            user_id      TEXT,                   -- the signed-in user (e-mail or subject), never a patient
            user_role    TEXT,
            source       TEXT,                   -- which face of the app: dashboard | portal | cli
            study_instance_uid TEXT,
            patient_key  TEXT,                   -- opaque key of archive.dicom.models.patient_key
            detail       TEXT                    -- short, PHI-free note
        );
        CREATE INDEX audit_events_study ON audit_events (study_instance_uid);
        CREATE INDEX audit_events_time ON audit_events (occurred_at);
    """),
]


def _apply(con: sqlite3.Connection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_steps (number INTEGER PRIMARY KEY, name TEXT)")
    done = {row[0] for row in con.execute("SELECT number FROM schema_steps")}
    for number, name, sql in SCHEMA_STEPS:
        if number in done:
            continue
        # executescript commits on its own: wrap the step and its record in one explicit transaction.
        con.executescript(f"BEGIN IMMEDIATE;\n{sql}\n"
                          f"INSERT INTO schema_steps VALUES ({int(number)}, '{name}');\nCOMMIT;")


def connect(home: Home) -> sqlite3.Connection:
    """A connection to the home's state database (created and migrated on first use)."""
    home.root.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(home.state_path, timeout=10, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA busy_timeout=10000")
    try:
        _apply(con)
    except sqlite3.OperationalError:
        # Another process may be applying the same step: re-check once it has finished.
        _apply(con)
    return con


def schema_version(home: Home) -> int:
    """The highest schema step applied (0 for a fresh database)."""
    with closing(connect(home)) as con:
        return con.execute("SELECT coalesce(max(number), 0) FROM schema_steps").fetchone()[0]
