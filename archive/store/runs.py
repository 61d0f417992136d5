"""Ingest runs: one row per pipeline run, with its counts and outcome."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

import duckdb

from archive.clock import now_utc
from archive.store.connection import retrying, rollback


@dataclass
class IngestRun:
    run_id: str
    kind: str
    source: str
    site: str | None = None
    started_at: datetime = field(default_factory=now_utc)
    finished_at: datetime | None = None
    files_seen: int = 0
    imported: int = 0
    already_present: int = 0
    skipped: int = 0
    quarantined: int = 0
    failed: int = 0
    bytes: int = 0
    status: str = "running"


def _write(con: duckdb.DuckDBPyConnection, run: IngestRun, replace: bool) -> None:
    row = {f.name: getattr(run, f.name) for f in fields(IngestRun)}  # subclasses may carry more
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)

    def write() -> None:
        con.execute("BEGIN")
        try:
            if replace:
                con.execute("DELETE FROM ingest_runs WHERE run_id = ?", [run.run_id])
            con.execute(f"INSERT INTO ingest_runs ({columns}) VALUES ({marks})", list(row.values()))
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
    retrying(write)


def start_run(con: duckdb.DuckDBPyConnection, run: IngestRun) -> IngestRun:
    """Record that a run has started (status 'running').

    An insert only: a run's id is new, and a DELETE in a DuckLake table conflicts with every
    other writer's DELETE in it (many job workers start runs at once), an INSERT with none.
    """
    _write(con, run, replace=False)
    return run


def finish_run(con: duckdb.DuckDBPyConnection, run: IngestRun, status: str) -> IngestRun:
    """Record a run's final counts and status ('ok', 'failed' or 'interrupted')."""
    run.finished_at = now_utc()
    run.status = status
    _write(con, run, replace=True)
    return run
