"""A backup's manifest: a summary (id, times, counts, bytes) and the list of its files.

Each file of the home is an entry: its path in the home, the object that holds its bytes, its
size and modification time (so the next backup knows it unchanged without reading it). Objects
are named by content: the SHA-256 of the bytes, or for a vault file its own name (the hash of the
original DICOM) plus a hash of its header (the header changes when a key rotation re-wraps the
file; the ciphertext never does). The file list is written first, the summary last: a backup is
complete exactly when its summary exists, and the summary holds the SHA-256 of the file list.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, NamedTuple

from archive.backup.target import BackupError, BackupTarget


class Entry(NamedTuple):
    """One file of a backup. A named tuple, not a dataclass: a backup reads and writes one per
    file of the home, and a tuple is made (and turned into JSON) several times faster."""

    path: str             # relative to the home, '/'-separated
    object: str           # object name (content-addressed)
    size: int
    mtime_ns: int
    key_id: str | None = None   # vault files: the master key that wraps its data key
    inode: int | None = None    # of the home file when copied (see ``archive.backup.run.back_up``)

    @property
    def is_vault(self) -> bool:
        return self.path.startswith("vault/")

    def line(self) -> str:
        return _ENCODE(self)

    @classmethod
    def from_row(cls, row: list) -> "Entry":
        return cls(str(row[0]), str(row[1]), int(row[2]), int(row[3]), row[4] if len(row) > 4 else None,
                   row[5] if len(row) > 5 else None)


_ENCODE = json.JSONEncoder().encode   # an entry as a JSON array (a named tuple encodes as one)


def object_name(obj: str) -> str:
    """Where object ``obj`` is kept on the target."""
    return f"objects/{obj[:2]}/{obj}"


@dataclass
class Manifest:
    id: str
    started_at: str
    finished_at: str
    home: str
    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    copied_files: int = 0
    copied_bytes: int = 0
    key_ids: list[str] = field(default_factory=list)
    file_list_sha256: str = ""
    format: int = 1

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def summary_name(backup_id: str) -> str:
    return f"manifests/{backup_id}.json"


def list_name(backup_id: str) -> str:
    return f"manifests/{backup_id}.files.json.gz"


def save_list(target: BackupTarget, manifest: Manifest, entries: list[Entry]) -> None:
    """Write the file list and make everything written so far durable (before ``save_summary``).

    One entry per line. Level 1 compression: the list is mostly hex digests, which compress alike
    at any level; level 5 took three times as long.
    """
    body = gzip.compress(("\n".join(map(_ENCODE, entries)) + "\n").encode(), compresslevel=1)
    manifest.file_list_sha256 = hashlib.sha256(body).hexdigest()
    target.put_bytes(list_name(manifest.id), body)
    target.sync()


def save_summary(target: BackupTarget, manifest: Manifest) -> None:
    """Write the summary: the commit point of a backup whose list ``save_list`` wrote."""
    target.put_bytes(summary_name(manifest.id), json.dumps(manifest.summary(), indent=1).encode())
    target.sync()


def backup_ids(target: BackupTarget) -> list[str]:
    """Ids of the complete backups, oldest first (ids sort by time)."""
    ids = [name.rsplit("/", 1)[1][:-len(".json")] for name in target.names("manifests")
           if name.endswith(".json") and not name.endswith(".files.json")]
    return sorted(ids, key=lambda backup_id: (id_time(backup_id), backup_id))


def id_time(backup_id: str) -> datetime:
    """When backup ``backup_id`` started: ``20261207T080426123Z-…`` (or, before 2026-12, ``…26Z-…``)."""
    stamp = backup_id.split("-", 1)[0].rstrip("Z")
    # Sliced, not strptime: its first use imports _strptime and calendar (2 ms of a backup's 200).
    return datetime(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]),
                    int(stamp[13:15]), int(stamp[15:] or "0") * 1000, tzinfo=timezone.utc)


def load(target: BackupTarget, backup_id: str | None = None) -> Manifest:
    """The summary of backup ``backup_id`` (default: the newest)."""
    ids = backup_ids(target)
    if not ids:
        raise BackupError(f"no complete backup in {target.location}")
    if backup_id is None:
        backup_id = ids[-1]
    elif backup_id not in ids:
        raise BackupError(f"no backup {backup_id!r} in {target.location} (see 'limestone backup list')")
    try:
        raw = json.loads(target.read_bytes(summary_name(backup_id)))
        return Manifest(**{k: v for k, v in raw.items() if k in Manifest.__dataclass_fields__})
    except (ValueError, TypeError):
        raise BackupError(f"the summary of backup {backup_id} is damaged") from None


def entries(target: BackupTarget, manifest: Manifest) -> list[Entry]:
    """The files of a backup; raises BackupError when the list is missing or damaged."""
    try:
        body = target.read_bytes(list_name(manifest.id))
    except FileNotFoundError:
        raise BackupError(f"the file list of backup {manifest.id} is missing") from None
    if hashlib.sha256(body).hexdigest() != manifest.file_list_sha256:
        raise BackupError(f"the file list of backup {manifest.id} is damaged")
    lines = gzip.decompress(body).decode().splitlines()
    # One parse of the whole list as a JSON array: a third of the time of a parse per line.
    return [Entry.from_row(row) for row in json.loads("[" + ",".join(line for line in lines if line) + "]")]


def journal_entries(target: BackupTarget) -> Iterator[Entry]:
    """Entries recorded by runs that did not finish (their objects are complete; the last line of
    a killed run's journal may be cut short, and is skipped)."""
    for name in target.names("staging"):
        try:
            text = target.read_bytes(name).decode(errors="replace")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            try:
                yield Entry.from_row(json.loads(line))
            except (ValueError, TypeError, IndexError):
                continue
