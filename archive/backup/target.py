"""Where backups go: a small interface (``BackupTarget``) and its folder implementation.

A target holds named blobs: ``objects/...`` (file contents, named by content), ``manifests/...``
(one summary and one file list per backup) and ``staging/...`` (the journal of a run under way).
Every write is atomic: a blob is written under a temporary name and renamed into place, so a
run killed at any point (kill -9, a full disk) leaves only temporary files and finished blobs.

The folder target serves a local disk, a mounted disk or a NAS share. The object-storage target
(``s3://bucket/prefix``, ``archive.backup.object_target``) implements the same methods: a PUT is
atomic by itself, ``lock`` is a conditional put, ``scratch`` a local temporary folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, TextIO

from archive.errors import LimestoneError
from archive.vault import sync_filesystem

MARKER = "limestone-backup.json"
FORMAT = 1


class BackupError(LimestoneError, RuntimeError):
    """A backup, restore or check cannot go on (plain message for the user)."""


class StagedWrite(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self, name: str) -> bool: ...
    def abort(self) -> None: ...


class BackupTarget(Protocol):
    """The operations a backup, restore, prune and check need from the place backups are kept."""

    location: str

    def prepare(self) -> None:
        """Create the target's layout, or check that an existing one is a Limestone target."""

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the target for one run (backup or prune) at a time."""

    def size(self, name: str) -> int | None:
        """The size of blob ``name``, None when absent."""

    def staged(self) -> StagedWrite:
        """A blob written piece by piece and named at the end (commit) or dropped (abort)."""

    def copy_in(self, name: str, source_fd: int, size: int) -> bool:
        """Copy ``size`` bytes of an open file to blob ``name``; False when it was already there."""

    def put_bytes(self, name: str, data: bytes) -> None:
        """Write blob ``name`` at once, replacing it atomically."""

    def append(self, name: str, line: str) -> None:
        """Append a line to journal blob ``name`` (created when missing)."""

    def read_bytes(self, name: str) -> bytes: ...

    def open(self, name: str) -> BinaryIO: ...

    def names(self, prefix: str) -> Iterator[str]:
        """Every blob name under ``prefix``."""

    def delete(self, name: str) -> None: ...

    def local_path(self, name: str) -> Path | None:
        """The blob as a local file, when the target is local (checks read it in place)."""

    def scratch(self) -> contextlib.AbstractContextManager[Path]:
        """A local temporary folder for snapshots, removed afterwards."""

    def sync(self) -> None:
        """Make every blob written so far durable (before a manifest names them)."""


def _full(exc: OSError) -> BackupError | OSError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return BackupError("the backup target is full: earlier backups are intact; free some space "
                           "(or prune with --keep N) and run the backup again, it goes on from here")
    return exc


class _FolderWrite:
    def __init__(self, target: "FolderTarget"):
        self.target = target
        self.tmp = target.root / "tmp" / f".part-{os.getpid()}-{secrets.token_hex(6)}"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:
            self.abort()
            raise _full(exc) from None

    def commit(self, name: str) -> bool:
        os.close(self.fd)
        self.fd = -1
        final = self.target.root / name
        if final.exists():
            self.tmp.unlink(missing_ok=True)
            return False
        self.target.folder_for(final)
        os.replace(self.tmp, final)
        return True

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.tmp.unlink(missing_ok=True)


class FolderTarget:
    """Backups in a folder: a local disk, a mounted disk or a NAS share."""

    def __init__(self, root: Path):
        self.root = root
        self.location = str(root)
        self._journals: dict[str, TextIO] = {}
        self._folders: set[Path] = set()

    def prepare(self) -> None:
        marker = self.root / MARKER
        if self.root.exists() and not marker.exists() and any(self.root.iterdir()):
            raise BackupError(f"{self.root} is not empty and holds no Limestone backups: "
                              "choose an empty folder or an earlier backup target")
        try:
            for sub in ("objects", "manifests", "staging", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            if not marker.exists():
                self.put_bytes(MARKER, json.dumps({"format": FORMAT, "kind": "limestone-backup"}).encode())
        except OSError as exc:
            raise BackupError(f"cannot use backup target {self.root}: {exc.strerror or exc}") from None
        if json.loads((self.root / MARKER).read_text()).get("format") != FORMAT:
            raise BackupError(f"{self.root} holds backups of another format")

    def check(self) -> None:
        """Raise BackupError unless the folder holds Limestone backups (for reading)."""
        if not (self.root / MARKER).exists():
            raise BackupError(f"no Limestone backups in {self.root}")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with open(self.root / "lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError(f"another backup or prune is running on {self.root}") from None
            self._clean_tmp()
            try:
                yield
            finally:
                for journal in self._journals.values():
                    journal.close()
                self._journals.clear()

    def _clean_tmp(self) -> None:
        # Only a run holding the lock writes parts: any left are from a killed run. A scratch
        # folder may be a running check's (checks take no lock): only old ones are removed.
        for leftover in (self.root / "tmp").iterdir():
            if leftover.name.startswith(".part-"):
                leftover.unlink(missing_ok=True)
            elif leftover.name.startswith("scratch-") and time.time() - leftover.stat().st_mtime > 86400:
                shutil.rmtree(leftover, ignore_errors=True)

    def size(self, name: str) -> int | None:
        try:
            return os.stat(self.root / name).st_size
        except FileNotFoundError:
            return None

    def staged(self) -> _FolderWrite:
        try:
            return _FolderWrite(self)
        except OSError as exc:
            raise _full(exc) from None

    def copy_in(self, name: str, source_fd: int, size: int) -> bool:
        final = self.root / name
        if final.exists():
            return False
        staged = self.staged()
        try:
            _copy_range(source_fd, staged.fd, size, name)
        except OSError as exc:
            staged.abort()
            raise _full(exc) from None
        except BaseException:
            staged.abort()
            raise
        return staged.commit(name)

    def put_bytes(self, name: str, data: bytes) -> None:
        staged = self.staged()
        staged.write(data)
        os.close(staged.fd)
        staged.fd = -1
        final = self.root / name
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.tmp, final)

    def append(self, name: str, line: str) -> None:
        # Kept open for the run and flushed per line: a kill -9 loses at most the line being
        # written (readers skip a cut line); the objects it names are complete either way.
        try:
            journal = self._journals.get(name)
            if journal is None:
                journal = self._journals[name] = open(self.root / name, "a")
            journal.write(line + "\n")
            journal.flush()
        except OSError as exc:
            raise _full(exc) from None

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def open(self, name: str) -> BinaryIO:
        return open(self.root / name, "rb")

    def names(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, self.root)
            for file in files:
                if not file.startswith("."):
                    yield f"{rel}/{file}"

    def delete(self, name: str) -> None:
        journal = self._journals.pop(name, None)
        if journal is not None:
            journal.close()
        (self.root / name).unlink(missing_ok=True)

    def folder_for(self, final: Path) -> None:
        """Make the folder of ``final`` once per run (256 object folders, thousands of files)."""
        if final.parent not in self._folders:
            final.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(final.parent)

    def local_path(self, name: str) -> Path | None:
        return self.root / name

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(prefix="scratch-", dir=self.root / "tmp"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def sync(self) -> None:
        sync_filesystem(self.root)


_NO_RANGE_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM)


def _copy_range(source_fd: int, dest_fd: int, size: int, name: str) -> None:
    """Copy ``size`` bytes in the kernel: copy_file_range (which may share blocks), else sendfile
    (across file systems on kernels that refuse copy_file_range there), else read and write."""
    offset = 0
    how = "range"
    while offset < size:
        try:
            if how == "range":
                sent = os.copy_file_range(source_fd, dest_fd, size - offset, offset, offset)
            elif how == "sendfile":
                os.lseek(dest_fd, offset, os.SEEK_SET)
                sent = os.sendfile(dest_fd, source_fd, offset, size - offset)
            else:
                chunk = os.pread(source_fd, min(1 << 20, size - offset), offset)
                sent = os.pwrite(dest_fd, chunk, offset) if chunk else 0
        except OSError as exc:
            if exc.errno in _NO_RANGE_COPY and how != "plain":
                how = "sendfile" if how == "range" else "plain"
                continue
            raise
        if sent == 0:
            raise BackupError(f"{name} shrank while it was copied")
        offset += sent
