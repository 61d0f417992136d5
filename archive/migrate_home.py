"""Moving a home between the embedded default and the distributed backends, both ways.

``to_distributed``: the store (SQLite catalog + Parquet in the home) is copied table by table into
the DuckLake store of the settings (catalog in PostgreSQL, data in a folder or S3) and every sealed
vault file into the settings' vault (object storage); ``to_embedded`` copies them back into the
home's own folders. The target is migrated to the current schema first, so its views and seeds
exist; each table's seeded rows are replaced by the source's. Vault files are copied sealed, as
they are (no key is needed to copy, none is changed), several at a time; a file already in the
target is skipped, so an interrupted run, rerun, goes on.

Verified before it reports success: every table has as many rows in the target as in the source,
the target vault holds every file the source holds, and every target vault file is authenticated
(``Vault.verify``, the same check as ``limestone verify``; that needs the master key).

The state (share links, audit events, sessions, nodes, transfers...) moves too when the settings
put it in PostgreSQL (``LIMESTONE_STATE``): ``<home>/state.sqlite`` table by table into that
database (or back), whose schema steps are applied first; generated keys keep their values and
the identity sequences continue after them; row counts are compared like the store's. Without
``LIMESTONE_STATE`` the state stays in the home (``state`` in the result says which).

Not moved: the source stays as it was (remove it yourself once satisfied); DuckLake's snapshot
history (the target starts with one snapshot per table); the keys (``<home>/keys`` or
``LIMESTONE_MASTER_KEY``: every machine of a region needs the same); the quarantine (local files).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb

from archive.errors import LimestoneError
from archive.layout import Home
from archive.store import open_store
from archive.store.connection import retrying, rollback, write_lock
from archive.vault import FolderBlobs, Vault, VaultError

COPY_THREADS = 8
COPY_BATCH = 64      # vault files a thread copies at once (one pack in object storage)


class MigrationError(LimestoneError, RuntimeError):
    """The move cannot start (the same place on both sides, a target already in use)."""


@dataclass
class MigrationResult:
    direction: str
    tables: dict[str, int] = field(default_factory=dict)          # rows per table (source)
    mismatched: dict[str, list[int]] = field(default_factory=dict)  # table: [source, target]
    vault_files: int = 0
    copied_files: int = 0
    missing_files: list[str] = field(default_factory=list)
    damaged_files: list[str] = field(default_factory=list)
    state: str = "stays in the home (state.sqlite)"
    state_tables: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing_files or self.damaged_files)

    def as_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "ok": self.ok, "tables": self.tables, "mismatched": self.mismatched,
                "vault_files": self.vault_files, "copied_files": self.copied_files,
                "missing_files": len(self.missing_files), "damaged_files": len(self.damaged_files),
                "state": self.state, "state_tables": self.state_tables}


def embedded(home: Home) -> Home:
    """The same home folder with every part inside it."""
    return Home(home.root)


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND NOT temporary ORDER BY table_name").fetchall()
    return [r[0] for r in rows if r[0] != "schema_migrations"]


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0


def _copy_store(source: Home, target: Home, result: MigrationResult) -> None:
    src = open_store(source, read_only=True)
    dst = open_store(target)
    try:
        if _count(dst, "instances"):
            raise MigrationError("the target store already holds instances: migrate into an empty one")
        for table in _tables(src):
            result.tables[table] = _count(src, table)

            def copy(table: str = table) -> None:
                reader = src.execute(f'SELECT * FROM "{table}"').fetch_record_batch(100_000)
                dst.execute("BEGIN")
                try:
                    dst.register("m_source", reader)
                    dst.execute(f'DELETE FROM "{table}"')
                    dst.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM m_source')
                    dst.execute("COMMIT")
                except Exception:
                    rollback(dst)
                    raise
                finally:
                    dst.unregister("m_source")
            with write_lock(target):
                retrying(copy, attempts=5)
        for table, rows in result.tables.items():
            copied = _count(dst, table)
            if copied != rows:
                result.mismatched[table] = [rows, copied]
    finally:
        src.close()
        dst.close()


def _copy_state(source: Home, target: Home, result: MigrationResult) -> None:
    """Every table of the source's state into the target's (whose schema is made first)."""
    from archive import state

    src, dst = state.connect(source), state.connect(target)
    try:
        if src.postgres:
            names = [r[0] for r in src.execute("SELECT table_name FROM information_schema.tables "
                                               "WHERE table_schema = current_schema() ORDER BY 1")]
        else:
            names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                               "AND name NOT LIKE 'sqlite_%' ORDER BY 1")]
        # The vault's index is the vault copy's to write: it describes where the target's files are.
        names = [n for n in names if n not in ("schema_steps", "vault_objects")]
        if any(dst.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in ("share_links", "audit_events")):
            raise MigrationError("the target state already holds share links or audit events: migrate into an "
                                 "empty one")
        counts: dict[str, int] = {}
        with dst.transaction():
            for name in names:
                cursor = src.execute(f'SELECT * FROM "{name}"')
                columns = [d[0] for d in cursor.description]
                rows = [list(r) for r in cursor.fetchall()]
                counts[name] = len(rows)
                dst.execute(f'DELETE FROM "{name}"')
                marks = ", ".join("?" for _ in columns)
                dst.executemany(f'INSERT INTO "{name}" ({", ".join(columns)}) VALUES ({marks})', rows)
                if dst.postgres and rows:   # identity keys go on after the copied ones
                    for column in columns:
                        sequence = dst.execute("SELECT pg_get_serial_sequence(?, ?)", [name, column]).fetchone()[0]
                        if sequence:
                            dst.execute(f'SELECT setval(?, (SELECT max("{column}") FROM "{name}"))', [sequence])
        for name, count in counts.items():
            copied = int(dst.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            result.state_tables[name] = count
            if copied != count:
                result.mismatched[f"state.{name}"] = [count, copied]
        result.state = f"moved to {state.backend(target)}"
    finally:
        src.close()
        dst.close()


def _sealed(blobs: Any, digest: str) -> bytes:
    with blobs.mapped(digest) as view:
        return bytes(view[0:len(view)])


def _copy_vault(source: Vault, target: Vault, result: MigrationResult,
                progress: Callable[[int], None] | None) -> None:
    wanted = sorted(set(source.hashes()))
    present = set(target.hashes())
    result.vault_files = len(wanted)

    def copy(batch: list[str]) -> int:
        """Copy a batch of files: read in this thread, written as one pack to object storage."""
        files = [(digest, _sealed(source.blobs, digest)) for digest in batch if digest not in present]
        if isinstance(target.blobs, FolderBlobs):
            for digest, sealed in files:
                target.blobs.write(digest, sealed, durable=True)
        else:
            target.blobs.write_many(files)
        return len(files)

    batches = [wanted[start:start + COPY_BATCH] for start in range(0, len(wanted), COPY_BATCH)]
    with ThreadPoolExecutor(COPY_THREADS) as pool:
        for batch, copied in zip(batches, pool.map(copy, batches), strict=True):
            result.copied_files += copied
            if progress:
                progress(len(batch))
    now = set(target.hashes())
    result.missing_files = [d for d in wanted if d not in now]

    def check(digest: str) -> str | None:
        try:
            target.verify(digest)
            return None
        except VaultError:
            return digest

    with ThreadPoolExecutor(COPY_THREADS) as pool:
        result.damaged_files = [d for d in pool.map(check, sorted(now)) if d]


def migrate(source: Home, target: Home, master_key: str = "", master_key_id: str = "",
            direction: str = "to-distributed", progress: Callable[[int], None] | None = None) -> MigrationResult:
    """Copy the store and the vault of ``source`` into ``target`` and verify the copy."""
    result = MigrationResult(direction)
    same_store = (source.catalog_url, source.lake_location) == (target.catalog_url, target.lake_location)
    same_vault = (source.vault_url, source.vault_dir) == (target.vault_url, target.vault_dir)
    if same_store and same_vault:
        raise MigrationError("the source and the target are the same: set LIMESTONE_CATALOG, LIMESTONE_LAKE and "
                             "LIMESTONE_VAULT to the distributed backends")
    if not source.exists():
        raise MigrationError(f"no archive store to move in {source.root}")
    source_vault = Vault(source, master_key, master_key_id)
    target_vault = Vault(target, master_key, master_key_id)
    source_vault.ensure_key()   # a wrong or missing key is refused before anything is copied
    if not same_store:
        _copy_store(source, target, result)   # refuses a target store in use before anything is copied
    if source.state_url != target.state_url:
        _copy_state(source, target, result)
    if not same_vault:
        _copy_vault(source_vault, target_vault, result, progress)
    return result
