"""The analytic store: DuckLake over a SQLite catalog with Parquet data under the home.

``open_store(home)`` opens it for writing and applies pending migrations; ``open_store(home,
read_only=True)`` opens it for reading while pipelines write.
"""

from __future__ import annotations

import duckdb

from archive.home import Home
from archive.store.connection import StoreError, connect, retrying
from archive.store.migrations import applied, available, migrate


def open_store(home: Home, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the home's store, migrated to the latest schema (writers) or checked (readers)."""
    con = connect(home, read_only=read_only)
    if read_only:
        missing = {n for n, _, _ in available()} - applied(con)
        if missing:
            con.close()
            raise StoreError(f"the store in {home.root} needs migrating: run any limestone command "
                             "that writes (e.g. 'limestone import') first")
    else:
        migrate(con, home)
    return con


__all__ = ["open_store", "connect", "retrying", "StoreError"]
