"""Object storage (S3 and S3-compatible servers) for the vault and backups of a region's archive.

Locations are ``s3://bucket/prefix``. Credentials, endpoint and region come from the standard
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` and ``AWS_REGION`` (boto3,
the maintained AWS SDK for Python, reads them itself); nothing here logs them. Objects are written
once (a conditional put: ``If-None-Match: *``), so two workers storing the same content at once
leave one object, and read with ranged GETs streamed in pieces, so memory stays flat.

The vault's writes are its hot path (one PUT per instance an import stores), so they skip boto3's
request pipeline (event hooks, endpoint rules, response parsing: ~2 ms of CPU a call here): the
request is signed by botocore's own SigV4 signer, with the same credentials, region and endpoint
as the boto3 client, and sent by urllib3 (~0.7 ms), ``PUT_THREADS`` at a time. Everything else
(reads, listings, deletes) goes through boto3.
"""

from __future__ import annotations

import contextlib
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import cached_property
from typing import Any, Iterable, Iterator
from urllib.parse import quote, urlsplit

import boto3
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import get_cert_path

from archive.errors import LimestoneError


class ObjectStorageError(LimestoneError, RuntimeError):
    """Object storage cannot be reached or refused a request."""


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix without slashes at either end)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ObjectStorageError(f"not an object storage location (s3://bucket/prefix): {url[:80]!r}")
    return parts.netloc, parts.path.strip("/")


ATTEMPTS = 8        # tries of one request (as the boto3 client's retry mode)
PUT_THREADS = 8     # conditional PUTs of a batch sent at once


def client(session: boto3.session.Session | None = None) -> Any:
    """An S3 client configured from the AWS_* environment (path-style for S3-compatible servers)."""
    return (session or boto3.session.Session()).client(
        "s3", config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": ATTEMPTS}))


class ConditionalPuts:
    """``PUT`` with ``If-None-Match: *`` (write once), signed by botocore's SigV4 signer and sent
    by urllib3: the same credentials (refreshed when they expire), region and endpoint as the
    boto3 client ``s3``, path-style. The payload's SHA-256 is signed, so the server refuses a body
    damaged on the way. Connection failures and 5xx answers are retried with backoff."""

    def __init__(self, s3: Any, session: boto3.session.Session):
        self.endpoint = str(s3.meta.endpoint_url).rstrip("/")
        self.region = str(s3.meta.region_name or "us-east-1")
        self.credentials = session.get_credentials()
        self.pool = urllib3.PoolManager(maxsize=PUT_THREADS, ca_certs=get_cert_path(
            os.environ.get("AWS_CA_BUNDLE") or True), timeout=urllib3.Timeout(connect=60, read=60),
            retries=urllib3.Retry(total=ATTEMPTS - 1, backoff_factor=0.1, status_forcelist=(500, 502, 503, 504),
                                  allowed_methods=None, raise_on_status=False))

    def put(self, bucket: str, key: str, body: bytes) -> tuple[int, str]:
        """Send one conditional PUT; return the HTTP status and the S3 error code ("" when none)."""
        if self.credentials is None:
            return 403, "NoCredentials"
        url = f"{self.endpoint}/{quote(bucket)}/{quote(key, safe='/~')}"
        request = AWSRequest(method="PUT", url=url, data=body, headers={"If-None-Match": "*"})
        S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", self.region).add_auth(request)
        answer = self.pool.request("PUT", url, body=body, headers=dict(request.headers.items()))
        code = re.search(rb"<Code>([^<]{1,64})</Code>", answer.data or b"") if answer.status >= 300 else None
        return answer.status, code.group(1).decode(errors="replace") if code else ""


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
    def _session(self) -> boto3.session.Session:
        return boto3.session.Session()

    @cached_property
    def s3(self) -> Any:
        return client(self._session)

    @cached_property
    def _puts(self) -> ConditionalPuts:
        return ConditionalPuts(self.s3, self._session)

    @cached_property
    def _threads(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(PUT_THREADS, thread_name_prefix="vault-put")

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

    def write(self, digest: str, sealed: bytes) -> bool:
        """Write once: a conditional put. True when written now; False when an object was already
        there (stored before, or by another writer at the same time), which is kept as it is."""
        try:
            status, code = self._puts.put(self.bucket, self.key(digest), sealed)
        except urllib3.exceptions.HTTPError as exc:
            raise self.error(f"object storage error for vault file {digest[:12]}…: {type(exc).__name__}") from None
        if 200 <= status < 300:
            return True
        if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise self.error(f"object storage error for vault file {digest[:12]}…: {code or status}")

    def write_many(self, files: Iterable[tuple[str, bytes]]) -> set[str]:
        """``write`` each (digest, sealed bytes), ``PUT_THREADS`` at a time; the digests written now.

        Returns once every PUT has answered; then the first failure, if any, is raised.
        """
        futures: dict[str, Future[bool]] = {}
        for digest, sealed in files:   # sent as they come: a caller's generator seals the next meanwhile
            if digest not in futures:
                futures[digest] = self._threads.submit(self.write, digest, sealed)
        wait(futures.values())
        return {digest for digest, future in futures.items() if future.result()}

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
