"""Taking a backup while the archive is in use, and pruning old ones.

Order matters for consistency while imports, ``listen`` and the portal keep writing:

1. the store's catalog (SQLite, WAL) is copied with SQLite's online backup API: one consistent
   snapshot of the store as of one commit;
2. the state database (links, audit, nodes) likewise;
3. then the vault, the lake's Parquet files and the quarantine are walked. A vault file is written
   (and synced) before the store row naming it commits, and a Parquet file before the catalog
   commit naming it, so everything the snapshot refers to is there; files the snapshot does not
   know yet are harmless extras. Lake files are only removed by compaction once older than its
   retention, so none that the snapshot names disappears meanwhile.

Incremental: a file whose size and modification time match the newest backup's (or a killed
run's journal) is not read again; for a vault file it is its inode (vault files are written to a
temporary name and renamed, never changed in place: a re-wrapped one is a new inode, even with
the same size and time), which the walk reads with the name, without a stat per file. Objects
already on the target are not written again. The master keys (``<home>/keys``) are never copied:
they go into a key escrow (``archive.escrow``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import signal
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from archive.backup import manifest as mf
from archive.backup.manifest import Entry, Manifest, object_name
from archive.backup.target import BackupError, BackupTarget
from archive.backup.targets import open_target
from archive.home import Archive, Home
from archive.vault import HEADER_MAX, SUFFIX, VaultError, file_header

log = logging.getLogger("limestone.backup")

# Folders of the home whose files are copied as they are (immutable or written once).
FILE_FOLDERS = ("vault", "store/lake", "quarantine")
CHUNK = 1 << 20
WORKERS = 4


@dataclass
class BackupResult:
    manifest: Manifest
    copied: list[str] = field(default_factory=list)   # home paths copied in this run
    pruned: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.manifest.summary(), "copied": self.copied, "pruned": self.pruned,
                "target": None}


def new_backup_id(now: datetime, newest: str | None = None) -> str:
    """An id that sorts by time (to the millisecond) and after ``newest``, the target's last id.

    Two backups within one millisecond, or a machine whose clock is behind the one that wrote
    ``newest``, still get an id that sorts last, so "the newest backup" is always the last made
    (ids are chosen under the target's lock).
    """
    if newest is not None:
        now = max(now, mf.id_time(newest) + timedelta(milliseconds=1))
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


def _iso(now: datetime) -> str:
    return now.isoformat(timespec="seconds").replace("+00:00", "Z")


def sqlite_snapshot(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (WAL readers and writers go on meanwhile)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def walk(home: Home) -> Iterator[tuple[str, os.DirEntry]]:
    """(path relative to the home, directory entry) of every file in the copied folders."""
    skip = len(str(home.root)) + 1
    stack = [str(home.root / folder) for folder in FILE_FOLDERS]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for item in it:
                    if item.name.startswith("."):      # temporary files of writers at work
                        continue
                    if item.is_dir(follow_symlinks=False):
                        stack.append(item.path)
                    elif item.is_file(follow_symlinks=False):
                        yield item.path[skip:], item
        except FileNotFoundError:
            continue


def _copy_hashed(target: BackupTarget, fd: int) -> tuple[str, bool]:
    """Copy an open file to the target, naming it by the SHA-256 of its bytes."""
    hasher = hashlib.sha256()
    staged = target.staged()
    try:
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                break
            hasher.update(chunk)
            staged.write(chunk)
    except BaseException:
        staged.abort()
        raise
    digest = hasher.hexdigest()
    return digest, staged.commit(object_name(digest))


def copy_file(target: BackupTarget, home: Home, rel: str) -> tuple[Entry, bool]:
    """Copy one home file; return its entry and whether bytes were written to the target."""
    fd = os.open(home.root / rel, os.O_RDONLY)
    try:
        st = os.fstat(fd)   # of the file as opened: a rename meanwhile does not mix two versions
        if rel.startswith("vault/") and rel.endswith(SUFFIX):
            prefix = os.pread(fd, HEADER_MAX, 0)
            try:
                key_id, header = file_header(prefix)
            except VaultError:
                key_id, header = None, prefix   # damaged: copied as it is; verify names it
            digest = os.path.basename(rel)[: -len(SUFFIX)]
            obj = f"{digest}.{hashlib.sha256(header).hexdigest()[:24]}"
            written = target.copy_in(object_name(obj), fd, st.st_size)
            return Entry(rel, obj, st.st_size, st.st_mtime_ns, key_id, st.st_ino), written
        obj, written = _copy_hashed(target, fd)
        return Entry(rel, obj, st.st_size, st.st_mtime_ns, inode=st.st_ino), written
    finally:
        os.close(fd)


def _count_snapshot(scratch: Path, home: Home) -> dict[str, int]:
    """The snapshot's counts (``archive.backup.counts``), imported in the forked child only: the
    counting loads DuckDB, which the backup itself never needs."""
    from archive.backup.counts import snapshot_counts

    return snapshot_counts(scratch, home)


def back_up(archive: Archive, location: str, *, keep: int | None = None,
            progress: Callable[[int], None] | None = None) -> BackupResult:
    """Back up ``archive``'s home to the target at ``location`` (incremental); see the module doc."""
    home = archive.home
    if not home.catalog_path.exists():
        raise BackupError(f"no archive in {home.root} to back up")
    target = open_target(location, home, for_writing=True)
    target.prepare()
    with target.lock():
        started = datetime.now(timezone.utc)
        ids = mf.backup_ids(target)
        backup_id = new_backup_id(started, ids[-1] if ids else None)
        journal = f"staging/{backup_id}.jsonl"
        entries: list[Entry] = []
        copied: list[str] = []
        copied_bytes = 0
        with target.scratch() as scratch, contextlib.ExitStack() as children:
            # 1-2: snapshots of the catalog and the state database, before any file is walked.
            sqlite_snapshot(home.catalog_path, scratch / "catalog.sqlite")
            if home.state_path.exists():
                sqlite_snapshot(home.state_path, scratch / "state.sqlite")
            # The snapshot's counts are read from here on, on the other core, while the last
            # backup's list is read, the files copied and the new list written; dropped when the
            # catalog has not changed since (the last backup's counts stand).
            counts_job = _Forked(_count_snapshot, scratch, home)
            children.callback(counts_job.close)
            known: dict[str, Entry] = {}
            previous = mf.load(target, ids[-1]) if ids else None
            if previous is not None:
                known.update((e.path, e) for e in mf.entries(target, previous))
            for entry in mf.journal_entries(target):
                if target.size(object_name(entry.object)) == entry.size:
                    known[entry.path] = entry
            snapshot_ns = int(started.timestamp() * 1e9)
            for rel, local in (("store/catalog.sqlite", scratch / "catalog.sqlite"),
                               ("state.sqlite", scratch / "state.sqlite")):
                if not local.exists():
                    continue
                fd = os.open(local, os.O_RDONLY)
                try:
                    obj, written = _copy_hashed(target, fd)
                finally:
                    os.close(fd)
                size = local.stat().st_size
                entries.append(Entry(rel, obj, size, snapshot_ns))
                if written:
                    copied.append(rel)
                    copied_bytes += size
            last_catalog = known.get("store/catalog.sqlite")
            counts: dict[str, int] = dict(previous.counts) if previous else {}
            if counts and last_catalog and last_catalog.object == entries[0].object:
                counts_job.cancel()

            # 3: the files, copied in parallel (the kernel copies vault files; hashing releases the GIL).
            todo: list[str] = []
            for rel, item in walk(home):
                prior = known.get(rel)
                if prior is None:
                    todo.append(rel)
                elif rel.startswith("vault/"):
                    # A free check (scandir reads the inode with the name). Another inode: re-wrapped,
                    # or a restored home; its header is read again, its object kept if unchanged.
                    if prior.inode == item.inode():
                        entries.append(prior)
                    else:
                        todo.append(rel)
                else:
                    st = item.stat(follow_symlinks=False)
                    if prior.size == st.st_size and prior.mtime_ns == st.st_mtime_ns:
                        entries.append(prior)
                    else:
                        todo.append(rel)
            done = 0
            with ThreadPoolExecutor(WORKERS) as pool:
                for rel, result in zip(todo, pool.map(lambda r: _try_copy(target, home, r), todo), strict=True):
                    done += 1
                    if progress:
                        progress(done)
                    if result is None:     # gone meanwhile (a discarded duplicate, a moved file)
                        continue
                    entry, written = result
                    entries.append(entry)
                    target.append(journal, entry.line())
                    if written:
                        copied.append(rel)
                        copied_bytes += entry.size
            finished = datetime.now(timezone.utc)
            manifest = Manifest(
                id=backup_id, started_at=_iso(started), finished_at=_iso(finished), home=str(home.root),
                counts=counts, files=len(entries), bytes=sum(e.size for e in entries),
                copied_files=len(copied), copied_bytes=copied_bytes,
                key_ids=sorted({e.key_id for e in entries if e.key_id}))
            mf.save_list(target, manifest, sorted(entries, key=lambda e: e.path))   # while counting
            if not counts_job.cancelled:
                manifest.counts = counts_job.result()
        mf.save_summary(target, manifest)
        for name in list(target.names("staging")):
            target.delete(name)
        pruned = prune_locked(target, keep) if keep else None
    from archive.backup.history import record_backup

    record_backup(home, target.location, manifest.summary())
    return BackupResult(manifest, copied, pruned)


_MAX_FD = os.sysconf("SC_OPEN_MAX")


class _Forked:
    """``fn(*args)`` run in a forked child, on the other core, its JSON-able result read back.

    For the counts of a backup: in a thread, DuckDB's import and the reading held the GIL against
    the walk and the copies (65 of 180 ms of an incremental backup of a 2 GB home; none in a
    child). A bare fork rather than ``concurrent.futures.ProcessPoolExecutor``, whose import alone
    (multiprocessing) cost 7 ms of that backup. Forked before any thread of the run starts.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any):
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:   # the child: never returns into the caller's code
            # Only the standard streams and its pipe: an inherited descriptor of the target's lock
            # would keep the target locked after a kill -9 of the parent, until the child ends.
            os.closerange(3, write)
            os.closerange(write + 1, _MAX_FD)
            code = 1
            try:
                data = json.dumps(fn(*args)).encode()
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self.pipe: BinaryIO | None = os.fdopen(read, "rb")
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the child: its result is not needed."""
        self.cancelled = True
        os.kill(self.pid, signal.SIGKILL)
        self.close()

    def result(self) -> Any:
        assert self.pipe is not None
        data = self.pipe.read()
        self.close()
        if self.status != 0 or not data:
            raise BackupError("counting the store's rows failed (see the messages above)")
        return json.loads(data)

    def close(self) -> None:
        if self.pipe is not None:
            self.pipe.close()
            self.pipe = None
            self.status = os.waitpid(self.pid, 0)[1]


def _try_copy(target: BackupTarget, home: Home, rel: str) -> tuple[Entry, bool] | None:
    try:
        return copy_file(target, home, rel)
    except FileNotFoundError:
        return None


def prune(location: str, keep: int) -> dict[str, Any]:
    """Keep the newest ``keep`` backups; remove older ones and the objects only they used."""
    target = open_target(location)
    with target.lock():
        return prune_locked(target, keep)


def prune_locked(target: BackupTarget, keep: int) -> dict[str, Any]:
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    ids = mf.backup_ids(target)
    old, kept = ids[:-keep], ids[-keep:]
    for backup_id in old:
        target.delete(mf.summary_name(backup_id))   # first: from here on the backup does not exist
        target.delete(mf.list_name(backup_id))
    # Objects are shared between backups: keep every one that a kept backup (or a killed run
    # that the next backup will finish) names; remove the rest.
    live: set[str] = set()
    for backup_id in kept:
        live.update(e.object for e in mf.entries(target, mf.load(target, backup_id)))
    live.update(e.object for e in mf.journal_entries(target))
    removed = freed = 0
    for name in list(target.names("objects")):
        if name.rsplit("/", 1)[1] not in live:
            freed += target.size(name) or 0
            target.delete(name)
            removed += 1
    return {"removed_backups": old, "kept_backups": kept, "removed_objects": removed, "freed_bytes": freed}


def listing(location: str) -> list[dict[str, Any]]:
    """Every complete backup on the target, oldest first (summaries only)."""
    target = open_target(location)
    return [mf.load(target, backup_id).summary() for backup_id in mf.backup_ids(target)]


def summary_json(result: BackupResult, location: str) -> str:
    data = result.as_dict()
    data["target"] = location
    return json.dumps(data)
