"""Backups in object storage: an ``s3://bucket/prefix`` target (S3 and S3-compatible servers).

The same blobs as a folder target (``objects/``, ``manifests/``, ``staging/``, the marker), as
objects under the prefix, reached with the standard ``AWS_*`` settings (``archive.object_storage``).
A PUT is atomic by itself: an object is either there whole or not at all, so a killed run leaves
only complete objects. Objects are named by content, so one already there (``size``) is not
written again: a second backup copies only what is new. A run's journal is kept in memory and
written as one object every ``JOURNAL_EVERY`` lines (a killed run loses at most those lines, whose
objects the next run then finds already there). The lock is an object written with a conditional
put (``If-None-Match: *``); one left by a killed run is taken over after ``LOCK_STALE_SECONDS``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from archive.backup.target import FORMAT, MARKER, BackupError
from archive.object_storage import client, split_url

JOURNAL_EVERY = 50
LOCK_STALE_SECONDS = 6 * 3600
PART = 8 << 20     # a staged blob larger than this goes up as a multipart upload


def _code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def _missing(exc: Exception) -> bool:
    return _code(exc) in ("404", "NoSuchKey", "NotFound")


class _ObjectWrite:
    """A blob written in pieces: kept in a local temporary file, uploaded at ``commit``."""

    def __init__(self, target: "ObjectTarget"):
        self.target = target
        self.file = tempfile.TemporaryFile(prefix="limestone-backup-part-")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self, name: str) -> bool:
        try:
            if self.target.size(name) is not None:
                return False
            self.file.seek(0)
            self.target.upload(name, self.file)
            return True
        finally:
            self.file.close()

    def abort(self) -> None:
        self.file.close()


class ObjectTarget:
    """Backups as objects under ``s3://bucket/prefix``."""

    def __init__(self, location: str):
        self.location = location.rstrip("/")
        self.bucket, self.prefix = split_url(location)
        self._s3: Any = None
        self._journals: dict[str, list[str]] = {}
        self._unsaved: dict[str, int] = {}

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client()
        return self._s3

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _fail(self, what: str, exc: Exception) -> BackupError:
        return BackupError(f"object storage refused {what} on {self.location}: "
                           f"{_code(exc) or type(exc).__name__}")

    # ---- the target's life ------------------------------------------------------------------
    def prepare(self) -> None:
        try:
            marker = self.read_bytes(MARKER)
        except BackupError:
            marker = None
        if marker is None:
            if next(self.names(""), None) is not None:
                raise BackupError(f"{self.location} is not empty and holds no Limestone backups: "
                                  "choose an empty prefix or an earlier backup target")
            self.put_bytes(MARKER, json.dumps({"format": FORMAT, "kind": "limestone-backup"}).encode())
        elif json.loads(marker).get("format") != FORMAT:
            raise BackupError(f"{self.location} holds backups of another format")

    def check(self) -> None:
        if self.size(MARKER) is None:
            raise BackupError(f"no Limestone backups in {self.location}")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        body = json.dumps({"since": time.time()}).encode()
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.key("lock"), Body=body, IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise self._fail("the lock", exc) from None
            try:
                since = json.loads(self.read_bytes("lock")).get("since", 0)
            except (BackupError, ValueError):
                since = 0
            if time.time() - since < LOCK_STALE_SECONDS:
                raise BackupError(f"another backup or prune is running on {self.location}") from None
            self.s3.put_object(Bucket=self.bucket, Key=self.key("lock"), Body=body)   # a killed run's
        except BotoCoreError as exc:
            raise self._fail("the lock", exc) from None
        try:
            yield
        finally:
            for name in list(self._journals):
                self._save_journal(name)
            self._journals.clear()
            self.delete("lock")

    # ---- blobs ------------------------------------------------------------------------------
    def size(self, name: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=self.bucket, Key=self.key(name))["ContentLength"])
        except ClientError as exc:
            if _missing(exc):
                return None
            raise self._fail(f"a look at {name}", exc) from None
        except BotoCoreError as exc:
            raise self._fail(f"a look at {name}", exc) from None

    def upload(self, name: str, body: BinaryIO) -> None:
        from boto3.s3.transfer import TransferConfig

        try:
            self.s3.upload_fileobj(body, self.bucket, self.key(name),
                                   Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART,
                                                         use_threads=False))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"writing {name}", exc) from None

    def staged(self) -> _ObjectWrite:
        return _ObjectWrite(self)

    def copy_in(self, name: str, source_fd: int, size: int) -> bool:
        if self.size(name) is not None:
            return False
        staged = self.staged()
        offset = 0
        while offset < size:
            chunk = os.pread(source_fd, min(1 << 20, size - offset), offset)
            if not chunk:
                staged.abort()
                raise BackupError(f"{name} shrank while it was copied")
            staged.write(chunk)
            offset += len(chunk)
        return staged.commit(name)

    def put_bytes(self, name: str, data: bytes) -> None:
        self.upload(name, io.BytesIO(data))

    def append(self, name: str, line: str) -> None:
        self._journals.setdefault(name, []).append(line)
        self._unsaved[name] = self._unsaved.get(name, 0) + 1
        if self._unsaved[name] >= JOURNAL_EVERY:
            self._save_journal(name)

    def _save_journal(self, name: str) -> None:
        lines = self._journals.get(name)
        if lines and self._unsaved.get(name):
            self.put_bytes(name, ("\n".join(lines) + "\n").encode())
            self._unsaved[name] = 0

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as body:
            return body.read()

    def open(self, name: str) -> BinaryIO:
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=self.key(name))
        except (ClientError, BotoCoreError) as exc:
            if _missing(exc):
                raise BackupError(f"{name} is missing from {self.location}") from None
            raise self._fail(f"reading {name}", exc) from None
        return contextlib.closing(answer["Body"])  # type: ignore[return-value]

    def names(self, prefix: str) -> Iterator[str]:
        start = self.key(prefix.strip("/"))
        start = start + "/" if start and not start.endswith("/") else start
        skip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
                for item in page.get("Contents", []):
                    yield item["Key"][skip:]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("a listing", exc) from None

    def delete(self, name: str) -> None:
        self._journals.pop(name, None)
        self._unsaved.pop(name, None)
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(name))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"removing {name}", exc) from None

    def local_path(self, name: str) -> Path | None:
        return None

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(prefix="limestone-backup-scratch-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def sync(self) -> None:
        for name in list(self._journals):
            self._save_journal(name)   # an object is durable once its PUT is answered
