"""The check every writer's test makes: the browser's table holds exactly what its view defines."""

from __future__ import annotations

import duckdb


def assert_browse_table_current(con: duckdb.DuckDBPyConnection) -> None:
    """``study_browse`` equals ``study_browse_source`` and ``study_lookup`` equals
    ``study_lookup_source`` row for row (duplicates and NULLs count)."""
    for table in ("study_browse", "study_lookup"):
        extra = con.execute(f"SELECT * FROM {table} EXCEPT ALL SELECT * FROM {table}_source").fetchall()
        missing = con.execute(f"SELECT * FROM {table}_source EXCEPT ALL SELECT * FROM {table}").fetchall()
        assert extra == [] and missing == [], f"{table}: stale rows {extra}, missing rows {missing}"
