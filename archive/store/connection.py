"""Opening the analytic store: DuckDB with a DuckLake lake (SQLite catalog in WAL mode, Parquet data).

Extensions come from the pinned PyPI wheels and are loaded from disk; autoinstall and autoload are
off, so nothing is ever downloaded at run time. Readers open the lake READ_ONLY and may run while a
pipeline writes; they see each commit once it lands.
"""

from __future__ import annotations

import fcntl
import importlib.util
import random
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import duckdb

from archive.layout import Home

DUCKDB_VERSION = "v1.5.5"
LAKE = "lake"
T = TypeVar("T")


class StoreError(RuntimeError):
    """The store cannot be opened or used."""


def wheel_extension(package: str, file_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StoreError(f"the Python package {package} is not installed (pip install {package.replace('_', '-')})")
    path = Path(list(spec.submodule_search_locations)[0]) / "extensions" / DUCKDB_VERSION / file_name
    if not path.exists():
        raise StoreError(f"DuckDB extension missing from its wheel: {path}")
    return path


def _enable_wal(catalog: Path) -> None:
    # WAL must be on before DuckLake first attaches, or concurrent use stalls and fails.
    con = sqlite3.connect(catalog)
    try:
        if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def connect(home: Home, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection with the home's lake attached as ``lake`` and selected by USE."""
    if read_only and not home.catalog_path.exists():
        raise StoreError(f"no archive store in {home.root} (run 'limestone import' or 'limestone demo' first)")
    if not read_only:
        home.ensure()
        _enable_wal(home.catalog_path)
    con = duckdb.connect(config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "extension_directory": str(home.extensions_dir),
    })
    try:
        con.execute(f"LOAD '{wheel_extension('duckdb_extension_ducklake', 'ducklake.duckdb_extension')}'")
        con.execute(f"INSTALL '{wheel_extension('duckdb_extension_sqlite', 'sqlite.duckdb_extension')}'")
        con.execute("LOAD sqlite")
        options = f"DATA_PATH '{home.lake_dir}/'" + (", READ_ONLY" if read_only else "")
        retrying(lambda: con.execute(
            f"ATTACH 'ducklake:sqlite:{home.catalog_path}' AS {LAKE} ({options})"))
        con.execute(f"USE {LAKE}")
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"cannot open the archive store in {home.root}: {exc}") from None
    return con


@contextmanager
def threads(con: duckdb.DuckDBPyConnection, count: int) -> Iterator[None]:
    """Let DuckDB use ``count`` threads meanwhile, then as many as before.

    A pipeline's worker processes hold every core while its writer commits batch-sized statements:
    there, one DuckDB thread does the same work with half the CPU (its many small catalog queries
    cost less without a thread hand-over each).
    """
    before = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.execute(f"SET threads = {int(count)}")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(before)}")


@contextmanager
def write_lock(home: Home) -> Iterator[None]:
    """Hold the home's store write lock: one batch commit (or refresh) at a time across local
    processes. Not re-entrant: a process must not take it again while it holds it."""
    with open(home.store_dir / ".write.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """End a failed transaction. A commit that failed has already ended it: then there is nothing
    to roll back, and the commit's own error (often a retryable lock) must be the one raised."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


def _is_transient(exc: Exception) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "conflict" in text or "busy" in text


def retrying(action: Callable[[], T], attempts: int = 60, first_delay: float = 0.02) -> T:
    """Run ``action`` until it succeeds, backing off with jitter on lock and commit conflicts.

    DuckLake does not retry a commit that meets a locked SQLite catalog or a conflicting writer;
    a batch must never be dropped, so callers send whole transactions through here.
    """
    delay = first_delay
    for attempt in range(attempts):
        try:
            return action()
        except duckdb.Error as exc:
            if not _is_transient(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")
