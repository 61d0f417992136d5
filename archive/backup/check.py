"""Checking a backup without restoring it (``limestone backup verify``).

Every file of the backup is re-read: vault files are authenticated with the master keys (each
segment's AES-GCM tag, then the hash of the original bytes), every other file against the SHA-256
it is named by. Then the backed-up catalog is opened through DuckLake over the backed-up Parquet
files (linked in place, nothing copied) and every vault file its instances name must be in the
backup. Problems are named by the file's path in the home.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.backup import manifest as mf
from archive.backup.catalog import point_catalog
from archive.backup.manifest import Entry, object_name
from archive.backup.target import BackupTarget
from archive.backup.targets import open_target
from archive.home import Home
from archive.vault import SUFFIX, FolderBlobs, Vault, VaultError


@dataclass
class CheckResult:
    backup_id: str
    checked: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    referenced: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"backup_id": self.backup_id, "checked": self.checked, "ok": self.ok,
                "referenced": self.referenced, "problems": self.problems}


def _local(target: BackupTarget, name: str, scratch: Path) -> tuple[Path, bool]:
    """Blob ``name`` as a local file: in place on a folder target, else downloaded into ``scratch``
    (then True: the caller removes it)."""
    path = target.local_path(name)
    if path is not None:
        return path, False
    dest = scratch / name.replace("/", "_")
    with target.open(name) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return dest, True


def _check_entry(target: BackupTarget, vault: Vault, entry: Entry, scratch: Path) -> str | None:
    name = object_name(entry.object)
    size = target.size(name)
    if size is None:
        return "missing from the backup"
    if size != entry.size:
        return f"damaged ({size} bytes, {entry.size} expected)"
    if entry.is_vault and entry.path.endswith(SUFFIX):
        digest = os.path.basename(entry.path)[: -len(SUFFIX)]
        path, fetched = _local(target, name, scratch)
        try:
            _copy_reader(vault, path).verify(digest)
        except VaultError as exc:
            return str(exc).replace(f"vault file {digest[:12]}… ", "")
        finally:
            if fetched:
                path.unlink(missing_ok=True)
        return None
    hasher = hashlib.sha256()
    with target.open(name) as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    if hasher.hexdigest() != entry.object:
        return "damaged (its bytes do not match their hash)"
    return None


class _OneFile(FolderBlobs):
    """The vault's file reading, pointed at one copy of a file kept in a backup."""

    def __init__(self, path: Path):
        super().__init__(path.parent)
        self.path = path

    def path_for(self, digest: str) -> Path:
        return self.path


def _copy_reader(vault: Vault, path: Path) -> Vault:
    reader = copy.copy(vault)         # the same keys; reads ``path`` instead of the vault's file
    reader.blobs = _OneFile(path)
    return reader


def _catalog_hashes(target: BackupTarget, files: list[Entry], scratch: Path) -> set[str]:
    """Content hashes the backed-up catalog's instances name, read through the backed-up lake."""
    from archive.store.connection import connect

    view = Home(scratch / "view")
    view.lake_dir.mkdir(parents=True)
    view.extensions_dir.mkdir(parents=True)
    for entry in files:
        if entry.path != "store/catalog.sqlite" and not entry.path.startswith("store/lake/"):
            continue
        source, _ = _local(target, object_name(entry.object), scratch)
        if entry.path == "store/catalog.sqlite":
            shutil.copyfile(source, view.catalog_path)    # DuckLake may touch its catalog: a copy
            point_catalog(view.catalog_path, view.lake_dir)
        elif entry.path.startswith("store/lake/"):
            link = view.root / entry.path
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source)
    con = connect(view, read_only=True)
    try:
        return {h for (h,) in con.execute("SELECT DISTINCT content_hash FROM instances").fetchall()}
    finally:
        con.close()


def check(location: str, vault: Vault, backup_id: str | None = None) -> CheckResult:
    """Check backup ``backup_id`` (default: the newest) at ``location`` with ``vault``'s keys."""
    target = open_target(location)
    manifest = mf.load(target, backup_id)
    result = CheckResult(manifest.id)
    files = mf.entries(target, manifest)
    scratch = Path(tempfile.mkdtemp(prefix="limestone-check-"))
    fetched = scratch / "fetched"
    fetched.mkdir()
    with ThreadPoolExecutor(2) as pool:
        for entry, problem in zip(files, pool.map(lambda e: _check_entry(target, vault, e, fetched), files),
                                  strict=True):
            result.checked += 1
            if problem:
                result.problems.append({"path": entry.path, "problem": problem})
    try:
        referenced = _catalog_hashes(target, files, scratch)
    except Exception as exc:
        result.problems.append({"path": "store/catalog.sqlite",
                                "problem": f"the catalog cannot be read with the backed-up data files: {exc}"})
        referenced = set()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.referenced = len(referenced)
    in_backup = {os.path.basename(e.path)[: -len(SUFFIX)] for e in files if e.is_vault}
    for digest in sorted(referenced - in_backup):
        result.problems.append({"path": f"vault/{digest[:2]}/{digest}{SUFFIX}",
                                "problem": "named by the catalog but missing from the backup"})
    return result
