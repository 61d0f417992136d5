"""Opening the analytic store: DuckDB with a DuckLake lake.

Embedded (the default): a SQLite catalog in WAL mode and Parquet data in the home. Distributed
(settings ``catalog`` and ``lake``): the catalog in PostgreSQL and the data in a folder or in S3
object storage, shared by any number of machines. Credentials reach DuckDB only as secrets
(``CREATE SECRET``), never in the ATTACH string, which DuckDB repeats in its error messages.

Extensions come from the pinned PyPI wheels and are loaded from disk; autoinstall and autoload are
off, so nothing is ever downloaded at run time. Readers open the lake READ_ONLY and may run while a
pipeline writes; they see each commit once it lands.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import random
import sqlite3
import time
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import unquote, urlsplit

import duckdb

from archive.errors import LimestoneError
from archive.layout import Home, is_object_url

DUCKDB_VERSION = "v1.5.5"
LAKE = "lake"
T = TypeVar("T")


class StoreError(LimestoneError, RuntimeError):
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


def postgres_parts(url: str) -> dict[str, Any]:
    """A postgresql:// URL as libpq keywords (host, port, dbname, user, password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
        raise StoreError("a catalog or state URL must look like postgresql://user@host:port/database")
    return {"host": parts.hostname or "localhost", "port": str(parts.port or 5432),
            "dbname": unquote(parts.path.strip("/")), "user": unquote(parts.username or ""),
            "password": unquote(parts.password or "")}


def sql_string(value: str) -> str:
    """``value`` as an SQL string literal (for statements that take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def _s3_secret(con: duckdb.DuckDBPyConnection) -> None:
    """Give DuckDB the standard AWS_* settings as an S3 secret (path-style for S3-compatible servers)."""
    env = os.environ
    options = [f"KEY_ID {sql_string(env.get('AWS_ACCESS_KEY_ID', ''))}",
               f"SECRET {sql_string(env.get('AWS_SECRET_ACCESS_KEY', ''))}",
               f"REGION {sql_string(env.get('AWS_REGION') or env.get('AWS_DEFAULT_REGION') or 'us-east-1')}"]
    endpoint = env.get("AWS_ENDPOINT_URL", "")
    if endpoint:
        parts = urlsplit(endpoint)
        options += [f"ENDPOINT {sql_string(parts.netloc)}", "URL_STYLE 'path'",
                    f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}"]
    con.execute(f"CREATE OR REPLACE SECRET limestone_s3 (TYPE s3, {', '.join(options)})")


def _attach(con: duckdb.DuckDBPyConnection, home: Home, read_only: bool) -> None:
    options = f"DATA_PATH {sql_string(home.lake_location)}" + (", READ_ONLY" if read_only else "")
    if is_object_url(home.lake_url):
        con.execute(f"INSTALL '{wheel_extension('duckdb_extension_httpfs', 'httpfs.duckdb_extension')}'")
        con.execute("LOAD httpfs")
        _s3_secret(con)
    if home.catalog_url:
        con.execute(f"INSTALL '{wheel_extension('duckdb_extension_postgres', 'postgres.duckdb_extension')}'")
        con.execute("LOAD postgres")
        pg = postgres_parts(home.catalog_url)
        con.execute("CREATE OR REPLACE SECRET limestone_catalog (TYPE postgres, " + ", ".join(
            f"{key} {sql_string(pg[name])}" for key, name in
            (("HOST", "host"), ("PORT", "port"), ("DATABASE", "dbname"), ("USER", "user"),
             ("PASSWORD", "password"))) + ")")
        # The connection details come from the secret; the path names only the database.
        options += ", METADATA_PARAMETERS MAP {'TYPE': 'postgres', 'SECRET': 'limestone_catalog'}"
        source = f"ducklake:dbname={pg['dbname']}"
    else:
        con.execute(f"INSTALL '{wheel_extension('duckdb_extension_sqlite', 'sqlite.duckdb_extension')}'")
        con.execute("LOAD sqlite")
        source = f"ducklake:sqlite:{home.catalog_path}"
    retrying(lambda: con.execute(f"ATTACH {sql_string(source)} AS {LAKE} ({options})"))


def _without_secrets(home: Home, message: str) -> str:
    """An error message with the catalog's password and the S3 secret key masked."""
    secrets = [postgres_parts(home.catalog_url)["password"]] if home.catalog_url else []
    secrets.append(os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    for secret in secrets:
        if len(secret) >= 4:
            message = message.replace(secret, "***")
    return message


def _where(home: Home) -> str:
    """The store's place for messages: the home folder, or 'the PostgreSQL catalog' (no URL)."""
    return "the PostgreSQL catalog" if home.catalog_url else str(home.root)


def connect(home: Home, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection with the home's lake attached as ``lake`` and selected by USE."""
    if read_only and not home.exists():
        raise StoreError(f"no archive store in {home.root} (run 'limestone import' or 'limestone demo' first)")
    if not read_only:
        home.ensure()
        if not home.catalog_url:
            _enable_wal(home.catalog_path)
    home.extensions_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "extension_directory": str(home.extensions_dir),
    })
    try:
        con.execute(f"LOAD '{wheel_extension('duckdb_extension_ducklake', 'ducklake.duckdb_extension')}'")
        if home.catalog_url and not read_only:
            # The first ATTACH creates DuckLake's tables in an empty catalog: one machine at a time.
            with store_lock(home, "attach"):
                _attach(con, home, read_only)
        else:
            _attach(con, home, read_only)
        con.execute(f"USE {LAKE}")
        if read_only:
            # A lake's data files never change once written (new data is a new file), so their
            # Parquet footers can be kept: a point lookup then reads no footer again (measured
            # on 200,000 studies: a lookup's CPU time halved).
            con.execute("SET parquet_metadata_cache = true")
            # DuckDB's late materialization (a top-N's wide columns read by a second scan joined
            # on row numbers) re-reads whole vectors around each of the page's rows: on the
            # browser's pages at 1,000,000 studies it cost more than reading the columns with the
            # filters (a filtered page by patient name 49 -> 37 ms, by date 23 -> 16 ms).
            con.execute("SET late_materialization_max_rows = 0")
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"cannot open the archive store in {_where(home)}: "
                         f"{_without_secrets(home, str(exc))}") from None
    return con


@contextmanager
def one_snapshot(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the reads meanwhile in one transaction: they see one snapshot of the store (a count
    and its page agree while imports commit), and DuckLake resolves its catalog once instead of
    per query (about 3 ms a query at 1,000,000 studies). Inside the caller's own transaction,
    that one is used."""
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        yield
        return
    try:
        yield
    finally:
        con.execute("ROLLBACK")     # only read: nothing to keep


@contextmanager
def threads(con: duckdb.DuckDBPyConnection, count: int) -> Iterator[None]:
    """Let DuckDB use ``count`` threads meanwhile, then as many as before.

    A pipeline's worker processes hold every core while its writer commits batch-sized statements:
    there, one DuckDB thread does the same work with half the CPU (its many small catalog queries
    cost less without a thread hand-over each).
    """
    before = scalar(con, "SELECT current_setting('threads')")
    con.execute(f"SET threads = {int(count)}")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(before)}")


def _pg_lock_key(purpose: str) -> int:
    # An advisory lock key in a PostgreSQL catalog: a 64-bit number only Limestone uses.
    return int.from_bytes(hashlib.sha256(f"limestone store {purpose} lock".encode()).digest()[:8], "big", signed=True)


@contextmanager
def store_lock(home: Home, purpose: str = "write") -> Iterator[None]:
    """Hold one of the store's locks (``write``: batch commits and refreshes; ``migrate``: schema
    changes) across every process that shares the store.

    Embedded: a lock file in the home (local processes). Distributed: a PostgreSQL advisory lock
    in the catalog's database, which serialises commits from every machine and is released by
    the server when a holder dies. Commits are short; reading, hashing, encrypting and uploading
    happen outside the lock. Writers check which instances are new while they hold it, so an
    instance arriving through two workers at once is stored once. Not re-entrant.
    """
    if home.catalog_url:
        import psycopg  # only a distributed archive needs the PostgreSQL driver

        try:
            pg = psycopg.connect(**postgres_parts(home.catalog_url), autocommit=True)
            pg.execute("SELECT pg_advisory_lock(%s)", (_pg_lock_key(purpose),))
        except psycopg.Error as exc:
            raise StoreError(f"cannot reach the PostgreSQL catalog: {_without_secrets(home, str(exc))}") from None
        try:
            yield
        finally:
            pg.close()   # ends the session, which releases its advisory lock
        return
    home.store_dir.mkdir(parents=True, exist_ok=True)
    with open(home.store_dir / f".{purpose}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def write_lock(home: Home) -> AbstractContextManager[None]:
    """The store's write lock (see ``store_lock``)."""
    return store_lock(home, "write")


def scalar(con: duckdb.DuckDBPyConnection, sql: str, parameters: object = None) -> Any:
    """The one value of a query that always returns one row (a count, an aggregate, a setting)."""
    row = con.execute(sql, parameters).fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row[0]


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
