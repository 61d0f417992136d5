"""The vault: the original DICOM bytes of every instance, encrypted, stored once by content hash.

Each file is named by the SHA-256 of its plaintext and encrypted with AES-256-GCM under a random
data key of its own. The data key is wrapped (AES-256-GCM) by a master key that has a key id, so
master keys can rotate: rotation re-wraps the data keys and copies the ciphertext unchanged.

The plaintext is encrypted in segments (1 MiB) so that a file can be decrypted as a stream with
flat memory. Each segment's nonce holds its index and a last-segment flag, and every segment is
authenticated with the file header as associated data, so truncation, reordering, a swapped file
or a flipped bit are all detected.

File layout::

    b"LSV1" | u16 header length | header | segment ciphertexts (each followed by its 16-byte tag)
    header = u8 key-id length | key id | wrap nonce (12) | wrapped data key (48)
             | segment nonce prefix (7) | u32 segment size | u64 plaintext length
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import mmap
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generator, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.errors import LimestoneError
from archive.layout import Home, is_object_url

if TYPE_CHECKING:
    from archive.object_storage import ObjectBlobs

MAGIC = b"LSV1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
SEGMENT = 1 << 20
TAG = 16
SUFFIX = ".lsv"


class VaultError(LimestoneError, RuntimeError):
    """A vault file is missing, damaged or cannot be authenticated."""


class VaultKeyError(VaultError):
    """The master key is missing or wrong."""


@dataclass(frozen=True)
class _Header:
    key_id: str
    wrap_nonce: bytes
    wrapped_key: bytes
    nonce_prefix: bytes
    segment_size: int
    length: int

    def encode(self) -> bytes:
        kid = self.key_id.encode()
        return (struct.pack("B", len(kid)) + kid + self.wrap_nonce + self.wrapped_key
                + self.nonce_prefix + struct.pack(">IQ", self.segment_size, self.length))

    @classmethod
    def decode(cls, raw: bytes) -> "_Header":
        try:
            n = raw[0]
            kid = raw[1:1 + n].decode()
            rest = raw[1 + n:]
            segment_size, length = struct.unpack(">IQ", rest[67:79])
            return cls(kid, rest[0:12], rest[12:60], rest[60:67], segment_size, length)
        except (IndexError, struct.error, UnicodeDecodeError):
            raise VaultError("damaged vault file header") from None


HEADER_MAX = 6 + 1 + 255 + 79   # magic, length, and the longest header (a 255-byte key id)


def file_header(prefix: bytes) -> tuple[str, bytes]:
    """The key id and the framed header (magic to end of header) of a vault file, from its first
    ``HEADER_MAX`` bytes (or all of a shorter file). The header holds the wrapped data key: it
    changes when a key rotation re-wraps the file, while the ciphertext after it does not."""
    if len(prefix) < 6 or prefix[:4] != MAGIC:
        raise VaultError("not a vault file (bad magic)")
    (header_len,) = struct.unpack(">H", prefix[4:6])
    if len(prefix) < 6 + header_len:
        raise VaultError("damaged vault file header")
    return _Header.decode(prefix[6:6 + header_len]).key_id, prefix[:6 + header_len]


def content_hash(data: bytes) -> str:
    """The vault's name for a file: the SHA-256 of its original bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


class KeyRing:
    """Master keys by key id: files ``<home>/keys/<key id>.key`` (base64, mode 0600) and ``current``."""

    def __init__(self, keys_dir: Path, env_key: str = "", env_key_id: str = ""):
        self.keys_dir = keys_dir
        self._keys: dict[str, bytes] = {}
        self._current: str | None = None
        if keys_dir.is_dir():
            for path in keys_dir.glob("*.key"):
                self._keys[path.stem] = self._decode(path.read_text().strip(), str(path))
            current = keys_dir / "current"
            if current.exists():
                self._current = current.read_text().strip()
        if env_key:
            if not env_key_id:
                raise VaultKeyError("LIMESTONE_MASTER_KEY is set without LIMESTONE_MASTER_KEY_ID")
            self._keys[env_key_id] = self._decode(env_key, "LIMESTONE_MASTER_KEY")
            self._current = env_key_id
        if self._current is not None and self._current not in self._keys:
            raise VaultKeyError(f"master key '{self._current}' named as current is not in {keys_dir}")

    @staticmethod
    def _decode(text: str, where: str) -> bytes:
        try:
            key = base64.b64decode(text, validate=True)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise VaultKeyError(f"master key in {where} is not 32 bytes of base64")
        return key

    @property
    def current_id(self) -> str | None:
        return self._current

    def ids(self) -> list[str]:
        """Every key id on hand, current and retired, sorted."""
        return sorted(self._keys)

    def export(self) -> dict[str, bytes]:
        """Every key by id (for key escrow only: the keys never go anywhere else)."""
        return dict(self._keys)

    def install(self, key_id: str, key: bytes, make_current: bool = False) -> bool:
        """Store a recovered key as ``<key id>.key`` (mode 0600); False when it is already there.

        A different key under the same id is refused (VaultKeyError): a key file is never replaced.
        """
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", key_id) or len(key) != 32:
            raise VaultKeyError(f"not a master key: {key_id[:64]!r}")
        known = self._keys.get(key_id)
        if known is not None and known != key:
            raise VaultKeyError(f"a different master key '{key_id}' is already in {self.keys_dir}")
        written = False
        path = self.keys_dir / f"{key_id}.key"
        if not path.exists():
            self.keys_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, base64.b64encode(key), mode=0o600)
            written = True
        self._keys[key_id] = key
        if make_current or self._current is None:
            _atomic_write(self.keys_dir / "current", key_id.encode(), mode=0o600)
            self._current = key_id
        return written

    def get(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise VaultKeyError(f"master key '{key_id}' is not available (restore it to {self.keys_dir} "
                                "or set LIMESTONE_MASTER_KEY)") from None

    # ---- key check values -----------------------------------------------------------------------
    def check_path(self, key_id: str) -> Path:
        return self.keys_dir / f"{key_id}.check"

    def check(self, key_id: str) -> bool | None:
        """Whether the loaded key ``key_id`` opens its stored key check value; None if none is stored.

        The check value is a fixed marker sealed (AES-256-GCM) under the key when the key was first
        used: a wrong key of the right length (e.g. a mistyped ``LIMESTONE_MASTER_KEY``) fails its
        authentication, so writers refuse before they seal any file under it.
        """
        try:
            raw = self.check_path(key_id).read_bytes()
        except FileNotFoundError:
            return None
        try:
            plain = AESGCM(self.get(key_id)).decrypt(raw[:12], raw[12:], _check_aad(key_id))
        except InvalidTag:
            return False
        return plain == _CHECK_MARKER

    def write_check(self, key_id: str) -> None:
        """Store the key check value of ``key_id`` (mode 0600, beside the key files)."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        nonce = os.urandom(12)
        sealed = AESGCM(self.get(key_id)).encrypt(nonce, _CHECK_MARKER, _check_aad(key_id))
        _atomic_write(self.check_path(key_id), nonce + sealed, mode=0o600)

    def create(self) -> str:
        """Make a new master key, store it with mode 0600 and make it current; return its id."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        key_id = f"mk-{secrets.token_hex(6)}"
        key = AESGCM.generate_key(bit_length=256)
        path = self.keys_dir / f"{key_id}.key"
        if path.exists():
            raise VaultKeyError(f"master key '{key_id}' already exists in {self.keys_dir}")
        # Whole or absent, never half-written: another process reads every *.key it finds.
        _atomic_write(path, base64.b64encode(key), mode=0o600, durable=True)
        self._keys[key_id] = key
        self.write_check(key_id)
        _atomic_write(self.keys_dir / "current", key_id.encode(), mode=0o600, durable=True)
        self._current = key_id
        return key_id

    def create_first(self) -> str:
        """The first master key of a new home, made once even when several processes (imports
        started together, a pull beside a listen) each find none: they take turns, and each
        after the first loads the key the first one made."""
        import fcntl

        self.keys_dir.mkdir(parents=True, exist_ok=True)
        with open(self.keys_dir / ".first-key.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            made = KeyRing(self.keys_dir)
            if made.current_id is None:
                return self.create()
            self._keys.update(made.export())
            self._current = made.current_id
            return made.current_id


_CHECK_MARKER = b"limestone master key check v1"


def _check_aad(key_id: str) -> bytes:
    return b"limestone-key-check|" + key_id.encode()


_temporary_names = itertools.count()
_TEMPORARY_TAG = secrets.token_hex(4)   # with the pid: never the name a crashed process left behind


def fsync_dir(path: Path | str) -> None:
    """Make a folder's entries (a file created or renamed in it) survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(folder: Path | str) -> None:
    """Flush the whole file system holding ``folder`` (Linux ``syncfs``: one call instead of an
    fsync per file; ``sync`` elsewhere)."""
    import ctypes

    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (OSError, AttributeError):
        pass
    finally:
        os.close(fd)
    os.sync()


def _atomic_write(path: Path, data: bytes, mode: int = 0o600, durable: bool = False) -> None:
    """Write ``data`` to a private temporary file beside ``path``, then rename it into place.

    Plain ``os`` calls: an import writes thousands of small files, and file objects cost more
    than the writing. The temporary name is unique (pid, a random tag, a counter) and O_EXCL.
    ``durable``: the file and its folder entry are fsync'd before returning (a receiver that
    acknowledges the file to its sender next); an import re-reads its sources instead.
    """
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{_TEMPORARY_TAG}-{next(_temporary_names)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fdatasync(fd)   # the data and the size; the name is made durable below
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(path))


class FolderBlobs:
    """Sealed vault files in a folder: ``<vault>/ab/ab12….lsv`` (one level of 256 folders)."""

    def __init__(self, root: Path):
        self.root = root

    def place(self, digest: str) -> Path:
        return self.root / digest[:2] / (digest + SUFFIX)

    def path_for(self, digest: str) -> Path:
        """Where the file of ``digest`` is, or will be written.

        Files are spread over 256 folders by the first two hex digits of their hash: one level,
        like git's objects (a folder costs as much as a file to make, so a fresh archive makes
        256, not one per file). An earlier layout used two levels (``ab/cd/``): its files are
        read where they are.
        """
        path = self.place(digest)
        for candidate in (path, path.parent / digest[2:4] / path.name):
            if candidate.exists():
                return candidate
        return path

    def has(self, digest: str) -> bool:
        return self.path_for(digest).exists()

    def hashes(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for pattern in (f"??/*{SUFFIX}", f"??/??/*{SUFFIX}"):
            for path in self.root.glob(pattern):
                yield path.name[: -len(SUFFIX)]

    def write(self, digest: str, sealed: bytes, durable: bool = False) -> None:
        path = self.place(digest)
        try:
            _atomic_write(path, sealed, mode=0o600, durable=durable)
        except FileNotFoundError:   # the first file of its folder
            os.makedirs(path.parent, exist_ok=True)
            if durable:
                fsync_dir(path.parent.parent)
            _atomic_write(path, sealed, mode=0o600, durable=durable)

    def replace(self, digest: str, sealed: bytes) -> None:
        _atomic_write(self.path_for(digest), sealed, mode=0o600)

    def delete(self, digest: str) -> None:
        self.path_for(digest).unlink(missing_ok=True)

    def read_head(self, digest: str, size: int) -> bytes:
        try:
            with open(self.path_for(digest), "rb") as f:
                return f.read(size)
        except FileNotFoundError:
            raise VaultError(f"vault file {digest[:12]}… is missing") from None

    @contextlib.contextmanager
    def mapped(self, digest: str) -> Iterator[memoryview]:
        """The whole sealed file, mapped: segments decrypt straight from the page cache."""
        try:
            f = open(self.path_for(digest), "rb")
        except FileNotFoundError:
            raise VaultError(f"vault file {digest[:12]}… is missing") from None
        with f:
            if os.fstat(f.fileno()).st_size == 0:
                yield memoryview(b"")
                return
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as region:
                view = memoryview(region)
                try:
                    yield view
                finally:
                    view.release()


class Vault:
    """Encrypted, content-addressed storage of original DICOM files: in ``<home>/vault``, another
    folder, or object storage (``s3://bucket/prefix``, setting ``vault``), all sealed the same way."""

    def __init__(self, home: Home, master_key: str = "", master_key_id: str = ""):
        self.keys = KeyRing(home.keys_dir, master_key, master_key_id)
        self.blobs: FolderBlobs | ObjectBlobs
        if is_object_url(home.vault_url):
            from archive import state
            from archive.object_storage import ObjectBlobs as Objects  # boto3 only when needed

            self.blobs = Objects(home.vault_url, lambda: state.connect(home), VaultError)
        else:
            self.blobs = FolderBlobs(home.vault_dir)
        self._checked: str | None = None   # the key id verified by ensure_key

    # ---- naming -------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        if not isinstance(self.blobs, FolderBlobs):
            raise VaultError("this vault is in object storage, not in a folder")
        return self.blobs.root

    def path_for(self, digest: str) -> Path:
        """Where the file named ``digest`` is, or will be written (a vault in a folder)."""
        _check_digest(digest)
        if not isinstance(self.blobs, FolderBlobs):
            raise VaultError("this vault is in object storage, not in a folder")
        return self.blobs.path_for(digest)

    def has(self, digest: str) -> bool:
        _check_digest(digest)
        return self.blobs.has(digest)

    def hashes(self) -> Iterator[str]:
        """Every content hash stored in the vault."""
        return self.blobs.hashes()

    def is_empty(self) -> bool:
        return next(self.hashes(), None) is None

    def ensure_key(self) -> str:
        """The current master key id, creating the first key if the vault is new and empty."""
        key_id = self.keys.current_id
        if key_id is None:
            if not self.is_empty():
                raise VaultKeyError(f"the vault holds encrypted files but no master key was found in "
                                    f"{self.keys.keys_dir}; restore the key or set LIMESTONE_MASTER_KEY")
            key_id = self.keys.create_first()
        if self._checked != key_id:
            self._verify_key(key_id)
            self._checked = key_id
        return key_id

    def _verify_key(self, key_id: str) -> None:
        """Refuse a wrong master key before anything is sealed under it.

        The key's check value decides. A key written before check values existed has none: then
        a vault file sealed under that key id is opened (its data key unwrapped) as the proof, and
        the check value is stored from then on; a key no file uses yet gets its check value now.
        """
        verdict = self.keys.check(key_id)
        if verdict is None:
            verdict = self._opens_a_file(key_id)
            if verdict is not False:
                self.keys.write_check(key_id)
                return
        if not verdict:
            raise VaultKeyError(f"master key '{key_id}' is wrong: it does not open the key check value "
                                f"stored in {self.keys.keys_dir} (check LIMESTONE_MASTER_KEY); nothing was "
                                "written")

    def _opens_a_file(self, key_id: str, sample: int = 64) -> bool | None:
        """Whether ``key_id`` unwraps the data key of a vault file sealed under it (None: none found)."""
        for index, digest in enumerate(self.hashes()):
            if index >= sample:
                break
            try:
                prefix = self.blobs.read_head(digest, 6 + 300)
                if len(prefix) < 6 or prefix[:4] != MAGIC:
                    continue
                header = _Header.decode(prefix[6:6 + struct.unpack(">H", prefix[4:6])[0]])
            except (OSError, VaultError):
                continue
            if header.key_id != key_id:
                continue
            try:
                AESGCM(self.keys.get(key_id)).decrypt(header.wrap_nonce, header.wrapped_key,
                                                      _wrap_aad(key_id, digest))
            except InvalidTag:
                return False
            return True
        return None

    # ---- writing ------------------------------------------------------------------------------
    def put(self, data: bytes, digest: str | None = None, durable: bool = False) -> tuple[str, bool]:
        """Store ``data``; return (content hash, True if written now / False if already stored).

        ``durable``: the file (and a folder made for it) is on disk before this returns (fsync).
        """
        digest = digest or content_hash(data)
        if isinstance(self.blobs, FolderBlobs):
            if self.has(digest):
                return digest, False
            self.blobs.write(digest, self.seal(data, digest), durable=durable)
            return digest, True
        return digest, digest in self.put_many([(data, digest)])

    def put_many(self, files: list[tuple[bytes, str]]) -> set[str]:
        """``put`` each (data, content hash), not durable; return the hashes written now.

        In object storage the batch goes out as one pack (``ObjectBlobs.write_many``): one PUT, not
        one per file.
        """
        if isinstance(self.blobs, FolderBlobs):
            return {digest for data, digest in files if self.put(data, digest)[1]}
        known = self.blobs.known([digest for _, digest in files])   # sealed only when new
        return self.blobs.write_many([(digest, self.seal(data, digest)) for data, digest in files
                                      if digest not in known], checked=True)

    def seal(self, data: bytes, digest: str) -> bytes:
        """The vault file of ``data`` (named ``digest``), sealed under the current master key, not
        yet stored: a receiver journals it, then files it with ``put_sealed`` (no second sealing)."""
        _check_digest(digest)
        key_id = self.ensure_key()
        master = self.keys.get(key_id)
        data_key = AESGCM.generate_key(bit_length=256)
        wrap_nonce = os.urandom(12)
        wrapped = AESGCM(master).encrypt(wrap_nonce, data_key, _wrap_aad(key_id, digest))
        header = _Header(key_id, wrap_nonce, wrapped, os.urandom(7), SEGMENT, len(data))
        return _seal(header, data_key, data, digest)

    def put_sealed(self, files: list[tuple[str, bytes]]) -> set[str]:
        """Store files made by ``seal`` (digest, sealed bytes), all durable when this returns;
        return the digests written now (the others were already stored).

        In a folder, every file is written first and then synced, each folder once: one batch
        costs a few flushes, not three per file (``limestone listen`` files what its journal holds).
        """
        for digest, _ in files:
            _check_digest(digest)
        if not isinstance(self.blobs, FolderBlobs):   # an object store's PUT is durable once it answers
            return self.blobs.write_many(files)
        written: set[str] = set()
        for digest, sealed in files:
            if digest in written or self.has(digest):
                continue
            self.blobs.write(digest, sealed)
            written.add(digest)
        if written:
            folders = set()
            for digest in written:
                path = self.blobs.place(digest)
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
                folders.add(path.parent)
            for folder in sorted(folders):
                fsync_dir(folder)
            fsync_dir(self.blobs.root)   # a folder made for the batch's first file of its prefix
        return written

    def flush(self) -> None:
        """Make every vault file written so far durable, by whichever process of this machine wrote
        it: one flush of the vault's file system before a store commit names the files (an object
        store's PUT is durable once it answers)."""
        if isinstance(self.blobs, FolderBlobs) and self.blobs.root.is_dir():
            sync_filesystem(self.blobs.root)

    def discard(self, digest: str) -> None:
        """Remove a file that no instance references (e.g. a duplicate copy with other bytes)."""
        _check_digest(digest)
        self.blobs.delete(digest)

    # ---- reading ------------------------------------------------------------------------------
    def _open(self, digest: str) -> tuple[_Header, bytes, int]:
        _check_digest(digest)
        prefix = self.blobs.read_head(digest, 6 + 300)
        if len(prefix) < 6 or prefix[:4] != MAGIC:
            raise VaultError(f"vault file {digest[:12]}… is damaged (bad magic)")
        (header_len,) = struct.unpack(">H", prefix[4:6])
        header = _Header.decode(prefix[6:6 + header_len])
        master = self.keys.get(header.key_id)
        try:
            data_key = AESGCM(master).decrypt(header.wrap_nonce, header.wrapped_key,
                                              _wrap_aad(header.key_id, digest))
        except InvalidTag:
            raise VaultError(f"vault file {digest[:12]}… failed authentication "
                             f"(damaged, or the master key '{header.key_id}' is wrong)") from None
        return header, data_key, 6 + header_len

    def stream(self, digest: str) -> Generator[bytes, None, None]:
        """The original bytes, segment by segment, each authenticated before it is yielded.

        A folder's file is mapped, not read (segments decrypt straight from the page cache);
        an object is read with one ranged GET streamed segment by segment. Memory stays flat.
        """
        header, data_key, offset = self._open(digest)
        aead = AESGCM(data_key)
        aad = _segment_aad(header, digest)
        count = max(1, -(-header.length // header.segment_size))
        expected = offset + header.length + count * TAG
        with self.blobs.mapped(digest) as view:
            actual = len(view)
            if actual != expected:
                raise VaultError(f"vault file {digest[:12]}… is damaged "
                                 f"({'truncated' if actual < expected else 'trailing data'})")
            for index in range(count):
                start = offset + index * (header.segment_size + TAG)
                size = min(header.segment_size, header.length - index * header.segment_size) + TAG
                try:
                    plain = aead.decrypt(_nonce(header, index, index == count - 1),
                                         view[start:start + size], aad)
                except InvalidTag:
                    raise VaultError(f"vault file {digest[:12]}… is damaged (segment {index})") from None
                yield plain

    def get(self, digest: str) -> bytes:
        """The original bytes, exactly as imported."""
        data = b"".join(self.stream(digest))
        if content_hash(data) != digest:
            raise VaultError(f"vault file {digest[:12]}… does not match its content hash")
        return data

    def size(self, digest: str) -> int:
        """Length of the original file, from the header (no decryption of the data)."""
        return self._open(digest)[0].length

    def verify(self, digest: str) -> None:
        """Authenticate every segment and re-check the content hash; raise VaultError if damaged."""
        hasher = hashlib.sha256()
        for chunk in self.stream(digest):
            hasher.update(chunk)
        if hasher.hexdigest() != digest:
            raise VaultError(f"vault file {digest[:12]}… does not match its content hash")

    # ---- key rotation -------------------------------------------------------------------------
    def rewrap(self, digest: str, key_id: str) -> bool:
        """Re-wrap one file's data key under master key ``key_id``; the ciphertext is copied as is."""
        header, data_key, offset = self._open(digest)
        if header.key_id == key_id:
            return False
        wrap_nonce = os.urandom(12)
        wrapped = AESGCM(self.keys.get(key_id)).encrypt(wrap_nonce, data_key, _wrap_aad(key_id, digest))
        new_header = _Header(key_id, wrap_nonce, wrapped, header.nonce_prefix,
                             header.segment_size, header.length)
        # The segments' associated data leaves out the key id, so the ciphertext stays valid.
        with self.blobs.mapped(digest) as view:
            sealed = _frame(new_header) + bytes(view[offset:])
        self.blobs.replace(digest, sealed)
        return True

    def rotate(self) -> tuple[str, int]:
        """Create a new master key, make it current, re-wrap every file; return (key id, files)."""
        key_id = self.keys.create()
        return key_id, sum(self.rewrap(digest, key_id) for digest in self.hashes())


def _check_digest(digest: str) -> None:
    if not _HEX64.fullmatch(digest):
        raise VaultError(f"not a content hash: {digest[:80]!r}")


def _wrap_aad(key_id: str, digest: str) -> bytes:
    return b"limestone-vault-key|" + key_id.encode() + b"|" + digest.encode()


def _segment_aad(header: _Header, digest: str) -> bytes:
    return (b"limestone-vault-data|" + digest.encode() + header.nonce_prefix
            + struct.pack(">IQ", header.segment_size, header.length))


def _nonce(header: _Header, index: int, last: bool) -> bytes:
    return header.nonce_prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def _frame(header: _Header) -> bytes:
    raw = header.encode()
    return MAGIC + struct.pack(">H", len(raw)) + raw


def _seal(header: _Header, data_key: bytes, data: bytes, digest: str) -> bytes:
    aead = AESGCM(data_key)
    aad = _segment_aad(header, digest)
    count = max(1, -(-len(data) // header.segment_size))
    view = memoryview(data)
    parts = [_frame(header)]
    for index in range(count):
        segment = view[index * header.segment_size:(index + 1) * header.segment_size]
        parts.append(aead.encrypt(_nonce(header, index, index == count - 1), bytes(segment), aad))
    return b"".join(parts)
