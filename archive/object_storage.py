"""Object storage (S3 and S3-compatible servers) for the vault and backups of a region's archive.

Locations are ``s3://bucket/prefix``. Credentials, endpoint and region come from the standard
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` and ``AWS_REGION`` (boto3,
the maintained AWS SDK for Python, reads them itself); nothing here logs them. Objects are written
once (a conditional put: ``If-None-Match: *``), so two workers storing the same content at once
leave one object, and read with ranged GETs streamed in pieces, so memory stays flat.
"""

from __future__ import annotations

import contextlib
from functools import cached_property
from typing import Any, Iterator
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from archive.errors import LimestoneError


class ObjectStorageError(LimestoneError, RuntimeError):
    """Object storage cannot be reached or refused a request."""


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix without slashes at either end)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ObjectStorageError(f"not an object storage location (s3://bucket/prefix): {url[:80]!r}")
    return parts.netloc, parts.path.strip("/")


def client() -> Any:
    """An S3 client configured from the AWS_* environment (path-style for S3-compatible servers)."""
    return boto3.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard",
                                                                                      "max_attempts": 8}))


class _ForwardReader:
    """The body of a GET read forward by slices: ``view[a:b]`` with a, b increasing (no copy kept)."""

    def __init__(self, body: Any, size: int, error: type[Exception]):
        self.body = body
        self.error = error
        self.size = size
        self.position = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, part: slice) -> bytes:
        start, stop = part.start or 0, self.size if part.stop is None else min(part.stop, self.size)
        if start < self.position:
            raise self.error("object read out of order")
        if start > self.position:
            self.body.read(start - self.position)
        data = self.body.read(stop - start)
        self.position = start + len(data)
        return data


class ObjectBlobs:
    """Sealed vault files as objects ``<prefix>/ab/ab12….lsv`` in a bucket; failures raise ``error``
    (the vault's own error type, so callers catch one type wherever the vault lives)."""

    def __init__(self, url: str, suffix: str, error: type[Exception] = ObjectStorageError):
        self.url = url
        self.error = error
        self.bucket, self.prefix = split_url(url)
        self.suffix = suffix

    @cached_property
    def s3(self) -> Any:
        return client()

    def key(self, digest: str) -> str:
        name = f"{digest[:2]}/{digest}{self.suffix}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def _fail(self, digest: str, exc: Exception) -> Exception:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        if code in ("NoSuchKey", "404", "NotFound"):
            return self.error(f"vault file {digest[:12]}… is missing")
        return self.error(f"object storage error for vault file {digest[:12]}…: {code or type(exc).__name__}")

    def has(self, digest: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.key(digest))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail(digest, exc) from None
        except BotoCoreError as exc:
            raise self._fail(digest, exc) from None

    def hashes(self) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if name.endswith(self.suffix):
                    yield name[: -len(self.suffix)]

    def write(self, digest: str, sealed: bytes) -> None:
        """Write once: a conditional put; an object already there (another writer) is kept."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.key(digest), Body=sealed, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412",
                                                              "ConditionalRequestConflict"):
                return
            raise self._fail(digest, exc) from None
        except BotoCoreError as exc:
            raise self._fail(digest, exc) from None

    def replace(self, digest: str, sealed: bytes) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.key(digest), Body=sealed)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(digest, exc) from None

    def delete(self, digest: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(digest))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(digest, exc) from None

    def read_head(self, digest: str, size: int) -> bytes:
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=self.key(digest), Range=f"bytes=0-{size - 1}")
            return answer["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":   # an empty object
                return b""
            raise self._fail(digest, exc) from None
        except BotoCoreError as exc:
            raise self._fail(digest, exc) from None

    @contextlib.contextmanager
    def mapped(self, digest: str) -> Iterator[_ForwardReader]:
        """The sealed object as one streamed GET, read forward in slices."""
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=self.key(digest))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(digest, exc) from None
        body = answer["Body"]
        try:
            yield _ForwardReader(body, int(answer["ContentLength"]), self.error)
        finally:
            body.close()
