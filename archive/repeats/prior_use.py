"""Prior use: the events that show a prior exam was put to use for a new order.

**Decision:** prior-use events are *copied into the analytic store* (table
``prior_use_events``) by ``record_prior_use(...)``, rather than read from the SQLite state database
by the views. The store's views then need nothing attached, and the notebooks see the same numbers.
Features call it where the use happens:

- PACS pull / C-MOVE of a prior to a requesting site: ``kind="retrieved"``, ``site`` = that site;
- opening a comparison with a prior: ``kind="compared"`` (the prior, not the current study);
- a share link covering a prior: ``kind="shared"``; a media export: ``kind="exported"``.

Pass your own stable ``event_id`` (e.g. ``f"audit:{event_id}"``) to make re-sends idempotent.
Uses the state database records (audit events, the transfer log) are also copied in, under the
same ids, by ``archive.repeats.audit_uses`` at every update of the repeat metrics: that is how past
events, and share links and PDI exports, become prior uses.
``record_prior_use`` never raises on a busy store: like an audit event, it logs and returns False,
so a viewer never breaks because an ingest holds the store.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from archive.clock import now_utc
from archive.store.connection import retrying, rollback

if TYPE_CHECKING:
    from archive.home import Archive

log = logging.getLogger("limestone.repeats")

KINDS = ("retrieved", "compared", "shared", "exported")


def record_prior_use(target: Archive | duckdb.DuckDBPyConnection, study_instance_uid: str, kind: str, *,
                     site: str | None = None, user_id: str | None = None, used_at: datetime | None = None,
                     event_id: str | None = None) -> bool:
    """Record that the prior ``study_instance_uid`` was used; return False (and log) on failure.

    ``target`` is an ``archive.home.Archive`` (a writer connection is opened and closed) or an
    open writer DuckDB connection. ``used_at`` is naive UTC (default: now).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown prior use {kind!r}; expected one of {', '.join(KINDS)}")
    if not study_instance_uid:
        raise ValueError("a prior use needs the prior's StudyInstanceUID")
    row = [event_id or f"use:{uuid.uuid4().hex}", study_instance_uid, kind, site, used_at or now_utc(),
           user_id, now_utc()]

    def write(con: duckdb.DuckDBPyConnection) -> None:
        def once() -> None:
            con.execute("BEGIN")
            try:
                con.execute("INSERT INTO prior_use_events SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
                            "(SELECT 1 FROM prior_use_events WHERE event_id = ?)", row + [row[0]])
                con.execute("COMMIT")
            except Exception:
                rollback(con)
                raise
        retrying(once, attempts=12)

    try:
        if isinstance(target, duckdb.DuckDBPyConnection):
            write(target)
        else:
            con = target.store()
            try:
                write(con)
            finally:
                con.close()
        return True
    except Exception as exc:  # the caller's page or pipeline must carry on
        log.error("prior use (%s) could not be recorded: %s", kind, type(exc).__name__)
        return False
