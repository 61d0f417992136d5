"""The receive journal: what a receiver acknowledged and has not yet committed to the store.

``limestone listen`` answers a C-STORE with success only once the instance is durable: its vault
file is fsync'd (``Vault.put(durable=True)``) and a line naming it (content hash, size, the sender's
AE title) is appended to the journal and fsync'd. Rows reach the store in batches later; after each
batch commits, the journal segment it covers is deleted. A receiver killed in between (kill -9,
power loss) leaves its segment behind, and the next receiver on the home replays it at start:
each instance is read back from the vault and committed, once (the store writer is idempotent on
SOP Instance UID, so a segment whose batch did commit before the kill adds nothing twice).

Segments are files ``<home>/journal/<kind>-<pid>-<n>.jsonl``; a segment whose process is alive
belongs to a running receiver and is left alone.
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

    def line(self) -> bytes:
        return (json.dumps(self.__dict__, separators=(",", ":")) + "\n").encode()


def journal_dir(home: Home) -> Path:
    return home.root / "journal"


class Journal:
    """The journal of one receiving process; ``append`` is thread-safe and durable on return."""

    def __init__(self, home: Home, kind: str):
        self.folder = journal_dir(home)
        self.kind = kind
        self.lock = threading.Lock()
        self._number = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self.folder.mkdir(parents=True, exist_ok=True)

    def _open(self) -> None:
        self._number += 1
        self._path = self.folder / f"{self.kind}-{os.getpid()}-{self._number}.jsonl"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_dir(self.folder)

    def append(self, entry: Entry) -> None:
        """Write and fsync one entry. Call it with ``self.lock`` held (with the hand-over to the
        writer's queue), so a ``rotate`` never separates an entry from its queued instance."""
        if self._fd is None:
            self._open()
        data = entry.line()
        assert self._fd is not None
        while data:
            data = data[os.write(self._fd, data):]
        os.fdatasync(self._fd)

    def rotate(self) -> Path | None:
        """Close the current segment and return it (None if nothing was appended since the last
        rotation); later entries go to a new one. Call with ``self.lock`` held."""
        if self._fd is None:
            return None
        os.close(self._fd)
        path, self._fd, self._path = self._path, None, None
        return path

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


def entries(segment: Path) -> Iterator[Entry]:
    """The complete entries of a segment (a line cut short by the crash was never acknowledged)."""
    with open(segment, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            try:
                yield Entry(**json.loads(raw))
            except (ValueError, TypeError):
                log.warning("skipped a damaged line in journal segment %s", segment.name)


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
        for entry in entries(segment):
            count += 1
            if entry.kind == "quarantined":
                writer.quarantined(entry.digest, entry.name, entry.reason or "", entry.size)
                continue
            record, kind, reason = read_record(vault.get(entry.digest), entry.name)
            if record is None:   # it was stored as DICOM once: this would be a damaged vault
                log.warning("journal entry %s… could not be read back (%s)", entry.digest[:12], reason)
                continue
            writer.add(record, entry.size, entry.digest, source_ae=entry.source_ae, written=False)
    writer.flush()
    for segment in segments:
        committed(segment)
    log.info("replayed %d acknowledged instances from %d journal segments", count, len(segments))
    return count
