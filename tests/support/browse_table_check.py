"""The check every writer's test makes: the browser's table holds exactly what its view defines."""

from __future__ import annotations

import duckdb


def assert_browse_table_current(con: duckdb.DuckDBPyConnection) -> None:
    """``study_browse`` equals ``study_browse_source`` row for row (duplicates and NULLs count)."""
    extra = con.execute("SELECT * FROM study_browse EXCEPT ALL SELECT * FROM study_browse_source").fetchall()
    missing = con.execute("SELECT * FROM study_browse_source EXCEPT ALL SELECT * FROM study_browse").fetchall()
    assert extra == [] and missing == [], f"stale browse rows {extra}, missing browse rows {missing}"
