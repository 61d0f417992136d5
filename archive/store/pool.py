"""Writer connections to the store kept open for reuse by a long-running process (a job worker).

Opening a writer connection loads the DuckDB extensions, attaches the catalog and checks the
migrations: ~0.6 s of CPU on a PostgreSQL catalog with the lake in S3, more than a job of 500
files spends writing its rows. A worker takes a connection for each job and gives it back after;
one whose job raised is closed (its state is unknown) and the next job opens a new one. Jobs
running at once each have their own (a DuckDB connection runs one transaction at a time).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import duckdb

from archive.layout import Home
from archive.store import open_store


class StorePool:
    """Open writer connections to one home's store, handed out one job at a time."""

    def __init__(self, home: Home):
        self.home = home
        self._idle: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An idle connection, or a new one; back in the pool when the block ends without an error."""
        with self._lock:
            con = self._idle.pop() if self._idle else None
        if con is None:
            con = open_store(self.home)
        try:
            yield con
        except BaseException:
            con.close()
            raise
        with self._lock:
            self._idle.append(con)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()
