"""The receive journal: what a receiver acknowledged and has not yet committed to the store.

``limestone listen`` answers a C-STORE with success only once the instance is durable: a record
naming it (content hash, size, the sender's AE title) followed by its vault file, already sealed
(``Vault.seal``), is appended to the journal and fsync'd: one flush per instance, and one for
many when several associations append at once (group commit). Every batch (at the latest
``listen_flush_seconds``) files the sealed bytes into the vault as they are (``Vault.put_sealed``:
written, then synced once per batch), commits the rows to the store, and deletes the journal
segment it covers. A receiver killed in between (kill -9, power loss) leaves its segment behind,
and the next receiver on the home replays it at start: each instance's vault file is filed from
the journal (when the vault does not have it yet), read back and committed, once (the store writer
is idempotent on SOP Instance UID, so a segment whose batch did commit before the kill adds
nothing twice).

Segments are files ``<home>/journal/<kind>-<pid>-<n>.jsonl``: a JSON line per entry, then the
entry's ``sealed`` bytes (0 when the vault already had the file, or for a quarantined file, which
is kept durably in quarantine before it is acknowledged). A segment whose process is alive belongs
to a running receiver and is left alone.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from archive.home import Home
from archive.ingest.intake import read_record
from archive.store.writer import StoreWriter
from archive.vault import Vault, fsync_dir

log = logging.getLogger("limestone.journal")


@dataclass(frozen=True)
class Entry:
    """One acknowledged instance: stored in the vault (``kind`` 'stored') or kept in quarantine."""

    kind: str
    digest: str
    size: int
    name: str
    source_ae: str | None = None
    reason: str | None = None
    sealed: int = 0     # length of the sealed vault file that follows the line (0: none)

    def line(self) -> bytes:
        return (json.dumps(self.__dict__, separators=(",", ":")) + "\n").encode()


def journal_dir(home: Home) -> Path:
    return home.root / "journal"


class _Segment:
    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd
        self.written = 0           # bytes appended
        self.synced = 0            # bytes known to be on disk
        self.sync_lock = threading.Lock()

    def sync(self, upto: int) -> None:
        """Make the first ``upto`` bytes durable; one fdatasync covers every append before it."""
        if self.synced >= upto:
            return
        with self.sync_lock:
            if self.synced >= upto:   # another thread's flush covered it (group commit)
                return
            target = self.written
            os.fdatasync(self.fd)
            self.synced = target


Ticket = tuple[_Segment, int]


class Journal:
    """The journal of one receiving process.

    ``append`` (under ``lock``) writes an entry and returns a ticket; ``sync(ticket)`` (without
    the lock) returns once the entry is durable. Appends made while one thread flushes are made
    durable together by the next flush (group commit).
    """

    def __init__(self, home: Home, kind: str):
        self.folder = journal_dir(home)
        self.kind = kind
        self.lock = threading.Lock()
        self._number = 0
        self._segment: _Segment | None = None
        self.folder.mkdir(parents=True, exist_ok=True)

    def _open(self) -> _Segment:
        self._number += 1
        path = self.folder / f"{self.kind}-{os.getpid()}-{self._number}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_dir(self.folder)
        self._segment = _Segment(path, fd)
        return self._segment

    def append(self, entry: Entry, sealed: bytes = b"") -> Ticket:
        """Write one entry and the sealed vault file it carries (not yet durable: ``sync`` the
        ticket). Call it with ``self.lock`` held, together with the hand-over to the writer's
        queue, so a ``rotate`` never separates an entry from its queued instance."""
        segment = self._segment or self._open()
        if sealed:
            entry = Entry(**{**entry.__dict__, "sealed": len(sealed)})
        for data in (entry.line(), sealed):
            view = memoryview(data)
            while view:
                view = view[os.write(segment.fd, view):]
            segment.written += len(data)
        return segment, segment.written

    @staticmethod
    def sync(ticket: Ticket) -> None:
        """Return once the entry of ``ticket`` is on disk."""
        segment, upto = ticket
        segment.sync(upto)

    def rotate(self) -> Path | None:
        """Make the current segment durable, close it and return it (None if nothing was appended
        since the last rotation); later entries go to a new one. Call with ``self.lock`` held."""
        segment, self._segment = self._segment, None
        if segment is None:
            return None
        segment.sync(segment.written)
        with segment.sync_lock:
            os.close(segment.fd)
        return segment.path

    def close(self) -> Path | None:
        with self.lock:
            return self.rotate()


def committed(segment: Path | None) -> None:
    """A segment's instances are all in the store: forget it."""
    if segment is not None:
        segment.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned_segments(home: Home) -> list[Path]:
    """Segments left by receivers that are no longer running, oldest first."""
    folder = journal_dir(home)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.jsonl"):
        try:
            pid = int(path.stem.split("-")[-2])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime)


def entries(segment: Path) -> Iterator[tuple[Entry, bytes]]:
    """The complete entries of a segment with their sealed vault files (b"" when none); an entry
    cut short by the crash was never acknowledged and ends the reading."""
    with open(segment, "rb") as f:
        while True:
            raw = f.readline()
            if not raw.endswith(b"\n"):
                return
            try:
                entry = Entry(**json.loads(raw))
            except (ValueError, TypeError):
                log.warning("journal segment %s ends in a damaged entry; read up to it", segment.name)
                return   # the length of what follows is unknown: nothing after it can be trusted
            sealed = f.read(entry.sealed) if entry.sealed else b""
            if len(sealed) != entry.sealed:
                return
            yield entry, sealed


REPLAY_CHUNK = 64 << 20   # sealed bytes filed into the vault at a time while replaying


def _replay(held: list[tuple[Entry, bytes]], vault: Vault, writer: StoreWriter) -> None:
    vault.put_sealed([(entry.digest, sealed) for entry, sealed in held if sealed])
    for entry, _ in held:
        if entry.kind == "quarantined":
            writer.quarantined(entry.digest, entry.name, entry.reason or "", entry.size)
            continue
        record, kind, reason = read_record(vault.get(entry.digest), entry.name)
        if record is None:   # it was stored as DICOM once: this would be a damaged vault
            log.warning("journal entry %s… could not be read back (%s)", entry.digest[:12], reason)
            continue
        writer.add(record, entry.size, entry.digest, source_ae=entry.source_ae, written=False)


def replay(home: Home, vault: Vault, writer: StoreWriter) -> int:
    """Commit what receivers that died had acknowledged; return how many entries were replayed.

    Run at a receiver's start, before it accepts anything. The segments are deleted once the
    writer's batch has committed.
    """
    segments = orphaned_segments(home)
    if not segments:
        return 0
    count = 0
    for segment in segments:
        held: list[tuple[Entry, bytes]] = []
        size = 0
        for entry, sealed in entries(segment):
            count += 1
            held.append((entry, sealed))
            size += len(sealed)
            if size >= REPLAY_CHUNK:
                _replay(held, vault, writer)
                held, size = [], 0
        _replay(held, vault, writer)
    writer.flush()
    for segment in segments:
        committed(segment)
    log.info("replayed %d acknowledged instances from %d journal segments", count, len(segments))
    return count
