"""Object storage (S3 and S3-compatible servers) for the vault and backups of a region's archive.

Locations are ``s3://bucket/prefix``. Credentials, endpoint and region come from the standard
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` and ``AWS_REGION`` (boto3,
the maintained AWS SDK for Python, reads them itself); nothing here logs them. The vault's files
are packed many to an object (``ObjectBlobs``), written once (a conditional put: ``If-None-Match:
*``) and read with ranged GETs streamed in pieces, so memory stays flat.

The vault's pack PUTs skip boto3's request pipeline (event hooks, endpoint rules, response
parsing: ~2 ms of CPU a call here): the request is signed by botocore's own SigV4 signer, with the
same credentials, region and endpoint as the boto3 client, and sent by urllib3 (~0.7 ms),
``PUT_THREADS`` at a time. Reads (and the backups' objects) go through boto3.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import struct
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote, urlsplit

import boto3
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import get_cert_path

from archive.clock import now_utc
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


@dataclass(frozen=True)
class _Connection:
    s3: Any
    puts: ConditionalPuts
    threads: ThreadPoolExecutor


_connections: dict[tuple[int, str], _Connection] = {}
_connections_lock = threading.Lock()


def _connection() -> _Connection:
    """This process's S3 client, PUT sender and PUT threads for the current AWS_* settings, made
    once: a boto3 client costs ~0.2 s of CPU to make (it loads its service model), and a worker
    opens a vault for every job."""
    settings = "\0".join(os.environ.get(f"AWS_{name}", "") for name in
                         ("ENDPOINT_URL", "REGION", "DEFAULT_REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY",
                          "SESSION_TOKEN", "PROFILE", "CA_BUNDLE"))
    key = (os.getpid(), hashlib.sha256(settings.encode()).hexdigest())
    with _connections_lock:
        made = _connections.get(key)
        if made is None:
            session = boto3.session.Session()
            s3 = client(session)
            made = _connections[key] = _Connection(s3, ConditionalPuts(s3, session),
                                                   ThreadPoolExecutor(PUT_THREADS, thread_name_prefix="vault-put"))
        return made


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


def _now() -> str:
    return now_utc().isoformat(timespec="seconds")


PACK_BYTES = 64 << 20    # a pack is closed at this size (a larger file is a pack of its own)
PACK_ENTRY = b"LSP1"     # before each sealed file in a pack: magic | 32-byte digest | u64 length
INDEX_ROWS = 500         # index rows per statement


@dataclass(frozen=True)
class Location:
    """Where a sealed vault file is: ``byte_count`` bytes from ``first_byte`` of object ``object``."""

    object: str
    first_byte: int
    byte_count: int


class ObjectBlobs:
    """Sealed vault files packed into objects ``<prefix>/packs/ab/<random>.lsp`` in a bucket, with
    an index (table ``vault_objects`` of the state database, ``archive.state``) saying where each is.

    One PUT per instance cost about 2 ms of CPU in this process and as much again in the object
    server, several times the rest of an import (``benchmarks/scale_out.py``); a batch of files now
    goes out as one pack. A pack is self-describing (each sealed file follows its content hash and
    length), so the index can be rebuilt by reading the packs. A file is indexed only after its
    pack's PUT has answered (a PUT is durable then), and the first row for a content hash wins, so
    two workers storing the same file at once leave one entry. On several machines the state
    database must be the shared PostgreSQL one (``LIMESTONE_STATE``), as for share links and audit.

    Failures raise ``error`` (the vault's own error type, so callers catch one type wherever the
    vault lives).
    """

    def __init__(self, url: str, connect: Callable[[], Any], error: type[Exception] = ObjectStorageError):
        self.url = url
        self.error = error
        self.bucket, self.prefix = split_url(url)
        self._connect = connect         # a state database connection (``archive.state.connect``)
        self._located: dict[str, Location] = {}

    @property
    def s3(self) -> Any:
        return _connection().s3

    @property
    def _puts(self) -> ConditionalPuts:
        return _connection().puts

    @property
    def _threads(self) -> ThreadPoolExecutor:
        return _connection().threads

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _fail(self, digest: str, exc: Exception) -> Exception:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        if code in ("NoSuchKey", "404", "NotFound"):
            return self.error(f"vault file {digest[:12]}… is missing")
        return self.error(f"object storage error for vault file {digest[:12]}…: {code or type(exc).__name__}")

    # ---- the index ----------------------------------------------------------------------------
    def _locate(self, digest: str) -> Location:
        known = self._located.get(digest)
        if known is not None:
            return known
        with self._connect() as con:
            row = con.execute("SELECT object, first_byte, byte_count FROM vault_objects WHERE digest = ?",
                              [digest]).fetchone()
        if row is None:
            raise self.error(f"vault file {digest[:12]}… is missing")
        if len(self._located) >= 4096:
            self._located.clear()
        found = self._located[digest] = Location(row[0], int(row[1]), int(row[2]))
        return found

    def has(self, digest: str) -> bool:
        return digest in self.known([digest])

    def known(self, digests: list[str]) -> set[str]:
        """Which of ``digests`` are stored."""
        found: set[str] = set()
        with self._connect() as con:
            for start in range(0, len(digests), INDEX_ROWS):
                part = digests[start:start + INDEX_ROWS]
                marks = ", ".join("?" for _ in part)
                found.update(r[0] for r in con.execute(
                    f"SELECT digest FROM vault_objects WHERE digest IN ({marks})", part))
        return found

    def hashes(self) -> Iterator[str]:
        after = ""
        while True:
            with self._connect() as con:
                page = [r[0] for r in con.execute("SELECT digest FROM vault_objects WHERE digest > ? "
                                                  "ORDER BY digest LIMIT 10000", [after])]
            yield from page
            if len(page) < 10000:
                return
            after = page[-1]

    # ---- writing ------------------------------------------------------------------------------
    def _put_pack(self, entries: list[tuple[str, bytes]]) -> list[tuple[str, Location]]:
        """Send one pack of (digest, sealed) entries; return where each entry is in it."""
        name = f"packs/{secrets.token_hex(1)}/{secrets.token_hex(16)}.lsp"
        parts: list[bytes] = []
        placed: list[tuple[str, Location]] = []
        offset = 0
        for digest, sealed in entries:
            head = PACK_ENTRY + bytes.fromhex(digest) + struct.pack(">Q", len(sealed))
            parts += (head, sealed)
            placed.append((digest, Location(name, offset + len(head), len(sealed))))
            offset += len(head) + len(sealed)
        try:
            status, code = self._puts.put(self.bucket, self._key(name), b"".join(parts))
        except urllib3.exceptions.HTTPError as exc:
            raise self.error(f"object storage error for a vault pack: {type(exc).__name__}") from None
        if not 200 <= status < 300:
            raise self.error(f"object storage error for a vault pack: {code or status}")
        return placed

    def write_many(self, files: Iterable[tuple[str, bytes]], checked: bool = False) -> set[str]:
        """Store each (digest, sealed bytes) not stored yet, in packs of up to ``PACK_BYTES`` sent
        ``PUT_THREADS`` at a time, then index them; return the digests written now (a file already
        indexed, or indexed by another writer meanwhile, is not). ``checked``: the caller has just
        left out the stored ones (``known``)."""
        batch: dict[str, bytes] = {}
        for digest, sealed in files:
            batch.setdefault(digest, sealed)
        known = self.known(list(batch)) if batch and not checked else set()
        packs: list[list[tuple[str, bytes]]] = []
        size = PACK_BYTES
        for digest, sealed in batch.items():
            if digest in known:
                continue
            if size + len(sealed) > PACK_BYTES:
                packs.append([])
                size = 0
            packs[-1].append((digest, sealed))
            size += len(sealed)
        if not packs:
            return set()
        futures = [self._threads.submit(self._put_pack, pack) for pack in packs]
        wait(futures)
        # In content-hash order: two writers indexing overlapping batches take the rows' locks in
        # the same order, so neither waits for the other in a deadlock.
        placed = sorted((entry for future in futures for entry in future.result()), key=lambda entry: entry[0])
        stored = _now()
        with self._connect() as con, con.transaction():
            con.executemany("INSERT INTO vault_objects (digest, object, first_byte, byte_count, stored_at) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                            [(d, at.object, at.first_byte, at.byte_count, stored) for d, at in placed])
            names = sorted({at.object for _, at in placed})
            marks = ", ".join("?" for _ in names)
            ours = {r[0] for r in con.execute(f"SELECT digest FROM vault_objects WHERE object IN ({marks})", names)}
        return ours

    def replace(self, digest: str, sealed: bytes) -> None:
        """Point ``digest`` at a new sealed copy (a key rotation's re-wrapped header)."""
        (_, at), = self._put_pack([(digest, sealed)])
        with self._connect() as con:
            con.execute("INSERT INTO vault_objects (digest, object, first_byte, byte_count, stored_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE SET object = excluded.object, "
                        "first_byte = excluded.first_byte, byte_count = excluded.byte_count, "
                        "stored_at = excluded.stored_at", [digest, at.object, at.first_byte, at.byte_count, _now()])
        self._located[digest] = at

    def delete(self, digest: str) -> None:
        """Forget the file: its entry leaves the index (the pack's bytes stay until the pack is rewritten)."""
        with self._connect() as con:
            con.execute("DELETE FROM vault_objects WHERE digest = ?", [digest])
        self._located.pop(digest, None)

    # ---- reading ------------------------------------------------------------------------------
    def _get(self, digest: str, at: Location, size: int) -> Any:
        last = at.first_byte + size - 1
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=self._key(at.object),
                                      Range=f"bytes={at.first_byte}-{last}")
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(digest, exc) from None

    def read_head(self, digest: str, size: int) -> bytes:
        at = self._locate(digest)
        size = min(size, at.byte_count)
        if size <= 0:
            return b""
        body = self._get(digest, at, size)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    @contextlib.contextmanager
    def mapped(self, digest: str) -> Iterator[_ForwardReader | memoryview]:
        """The sealed file as one ranged GET, read forward in slices."""
        at = self._locate(digest)
        if at.byte_count == 0:
            yield memoryview(b"")
            return
        answer = self._get(digest, at, at.byte_count)
        body = answer["Body"]
        try:
            yield _ForwardReader(body, int(answer["ContentLength"]), self.error)
        finally:
            body.close()
