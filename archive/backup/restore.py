"""Rebuilding a home from a backup (on this machine or a fresh one).

The new home must be empty: a restore never mixes with an archive that is there. While it runs, a
marker file names the backup being restored; a restore that was interrupted is run again with the
same backup and goes on where it stopped (files already in place, with their size and time, are
kept). The catalog and state database are put in place last, so a half-restored home is never
mistaken for a whole one. The master keys come from a key escrow (``limestone keys recover``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.backup import manifest as mf
from archive.backup.catalog import point_catalog
from archive.backup.manifest import Entry, object_name
from archive.backup.target import BackupError, BackupTarget
from archive.backup.targets import open_target
from archive.home import Home

MARKER = ".limestone-restore"
LAST = ("store/catalog.sqlite", "state.sqlite")


@dataclass
class RestoreResult:
    backup_id: str
    home: str
    files: int
    bytes: int
    restored_files: int
    key_ids: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_home(home: Home, backup_id: str) -> None:
    root = home.root
    if not root.exists():
        return
    if not root.is_dir():
        raise BackupError(f"{root} is not a folder")
    marker = root / MARKER
    others = [p for p in root.iterdir() if p.name != MARKER]
    if marker.exists():
        started = marker.read_text().strip()
        if started != backup_id:
            raise BackupError(f"{root} holds an unfinished restore of backup {started}: "
                              f"run it again with --backup {started}, or use an empty folder")
        return
    if others:
        raise BackupError(f"{root} is not empty: restore into a new, empty folder")


def _place(target: BackupTarget, home: Home, entry: Entry) -> bool:
    """Copy one object into the home (checked while copied); False when already in place."""
    dest = home.root / entry.path
    try:
        st = dest.stat()
        if st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns:
            return False
    except FileNotFoundError:
        pass
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".restore-{os.getpid()}-{secrets.token_hex(4)}"
    hasher = hashlib.sha256()
    size = 0
    try:
        with target.open(object_name(entry.object)) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if not entry.is_vault:
                    hasher.update(chunk)
                out.write(chunk)
        if size != entry.size or (not entry.is_vault and hasher.hexdigest() != entry.object):
            raise BackupError(f"the backup's copy of {entry.path} is damaged "
                              "(run 'limestone backup verify' on the target)")
        os.chmod(tmp, 0o600 if entry.is_vault else 0o644)
        os.utime(tmp, ns=(entry.mtime_ns, entry.mtime_ns))
        os.replace(tmp, dest)
    except FileNotFoundError:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"the backup's copy of {entry.path} is missing "
                          "(run 'limestone backup verify' on the target)") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def restore(location: str, new_home: Path, backup_id: str | None = None) -> RestoreResult:
    """Restore backup ``backup_id`` (default: the newest) from ``location`` into ``new_home``."""
    target = open_target(location)
    manifest = mf.load(target, backup_id)
    home = Home(new_home.expanduser().resolve())
    _check_home(home, manifest.id)
    files = mf.entries(target, manifest)
    home.root.mkdir(parents=True, exist_ok=True)
    (home.root / MARKER).write_text(manifest.id)
    first = [e for e in files if e.path not in LAST]
    last = [e for e in files if e.path in LAST]
    with ThreadPoolExecutor(4) as pool:
        placed = sum(pool.map(lambda e: _place(target, home, e), first))
    for entry in last:
        placed += _place(target, home, entry)
        if entry.path == "store/catalog.sqlite":
            point_catalog(home.catalog_path, home.lake_dir)
            os.utime(home.catalog_path, ns=(entry.mtime_ns, entry.mtime_ns))
    home.ensure()
    (home.root / MARKER).unlink()
    return RestoreResult(manifest.id, str(home.root), len(files), sum(e.size for e in files), placed,
                         manifest.key_ids)
