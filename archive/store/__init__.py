"""The analytic store: DuckLake over a SQLite catalog with Parquet data under the home.

``open_store(home)`` opens it for writing and applies pending migrations; ``open_store(home,
read_only=True)`` opens it for reading while pipelines write.
"""

from __future__ import annotations

import duckdb

from archive.layout import Home
from archive.store.connection import StoreError, connect, retrying
from archive.store.migrations import applied, available, migrate


def open_store(home: Home, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the home's store, migrated to the latest schema (writers) or checked (readers)."""
    con = connect(home, read_only=read_only)
    if not read_only:
        migrate(con, home)
    elif {n for n, _, _ in available()} - applied(con):
        # A store made by an older Limestone: bring it up to date once, then read.
        con.close()
        writer = connect(home)
        try:
            migrate(writer, home)
        finally:
            writer.close()
        con = connect(home, read_only=True)
    return con


__all__ = ["open_store", "connect", "retrying", "StoreError"]
