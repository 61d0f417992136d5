"""Numbered, append-only SQL migrations of the analytic store.

Each file ``migrations/NNNN_name.sql`` runs once, in order, in one transaction, and is recorded in
``schema_migrations``. The store's migrate lock keeps two processes from migrating at once.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from archive.layout import Home
from archive.store.connection import retrying, rollback, scalar, store_lock

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def available() -> list[tuple[int, str, Path]]:
    """All migration files as (number, name, path), in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append((int(number), name, path))
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"duplicate migration numbers in {MIGRATIONS_DIR}")
    return found


def applied(con: duckdb.DuckDBPyConnection) -> set[int]:
    exists = scalar(
        con, "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND table_name = 'schema_migrations'")
    if not exists:
        return set()
    return {row[0] for row in con.execute("SELECT number FROM schema_migrations").fetchall()}


def migrate(con: duckdb.DuckDBPyConnection, home: Home) -> list[str]:
    """Apply every pending migration; return the names of those applied now."""
    with store_lock(home, "migrate"):
        done = applied(con)
        pending = [m for m in available() if m[0] not in done]
        if not pending:
            return []
        if not done:
            retrying(lambda: con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(number INTEGER, name VARCHAR, applied_at TIMESTAMP)"))
        names = []
        for number, name, path in pending:
            retrying(functools.partial(_apply, con, number, name, path.read_text()))
            names.append(f"{number:04d}_{name}")
        return names


def _apply(con: duckdb.DuckDBPyConnection, number: int, name: str, sql: str) -> None:
    """Run one migration and record it, in one transaction."""
    con.execute("BEGIN")
    try:
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [number, name, datetime.now(timezone.utc).replace(tzinfo=None)])
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
