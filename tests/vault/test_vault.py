import base64
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from archive.home import Home
from archive.vault import SEGMENT, Vault, VaultError, VaultKeyError, content_hash
from tests.support.workers import MASTER_KEY


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def any_home(tmp_path, backend) -> Home:
    """A home whose vault is a folder, then a prefix in object storage."""
    return backend.home(tmp_path / "home").ensure()


@pytest.mark.parametrize("size", [0, 1, 1000, SEGMENT - 1, SEGMENT, 2 * SEGMENT + 17])
def test_round_trip_gives_back_the_exact_bytes(any_home, size):
    data = os.urandom(size)
    vault = Vault(any_home)
    digest, written = vault.put(data)
    assert digest == content_hash(data) and written
    assert vault.get(digest) == data
    assert b"".join(vault.stream(digest)) == data
    assert vault.size(digest) == size
    assert vault.put(data) == (digest, False)  # stored once
    assert list(vault.hashes()) == [digest]


def test_a_batch_is_stored_once_and_says_what_it_wrote(any_home):
    vault = Vault(any_home)
    known, fresh, twice = os.urandom(100), os.urandom(2000), os.urandom(0)
    vault.put(known)
    batch = [(known, content_hash(known)), (fresh, content_hash(fresh)), (twice, content_hash(twice)),
             (twice, content_hash(twice))]
    assert vault.put_many(batch) == {content_hash(fresh), content_hash(twice)}
    assert all(vault.get(digest) == data for data, digest in batch)
    assert sorted(vault.hashes()) == sorted({digest for _, digest in batch})
    assert vault.put_many(batch) == set()   # a second import writes nothing


def test_object_storage_sends_a_batch_as_one_pack(distributed, monkeypatch):
    """In object storage a batch of files goes out as one PUT (a pack), not one per file, and
    another machine sharing the state database reads every file of it."""
    vault = Vault(distributed.home().ensure(), MASTER_KEY, "mk-test")
    sent = []
    real_put = vault.blobs._puts.put
    monkeypatch.setattr(vault.blobs._puts, "put", lambda *a: sent.append(a[1]) or real_put(*a))
    files = [os.urandom(n) for n in (0, 500, 70_000, 500)]
    batch = [(data, content_hash(data)) for data in files]
    assert vault.put_many(batch) == {digest for _, digest in batch}
    assert len(sent) == 1 and "/packs/" in sent[0]
    assert vault.put_many(batch) == set() and len(sent) == 1   # stored: nothing is sent again
    other = Vault(distributed.home(distributed.root.parent / "node-b"), MASTER_KEY, "mk-test")
    assert all(other.get(digest) == data for data, digest in batch)
    assert sorted(other.hashes()) == sorted({digest for _, digest in batch})


def test_object_storage_indexes_nothing_when_the_put_fails(distributed, monkeypatch):
    """A pack the server refused is not indexed: nothing half-stored, and the next try stores it."""
    vault = Vault(distributed.home().ensure())
    data = os.urandom(800)
    with monkeypatch.context() as refusing:
        refusing.setattr(vault.blobs._puts, "put", lambda *a: (503, "SlowDown"))
        with pytest.raises(VaultError, match="SlowDown"):
            vault.put(data)
    assert not vault.has(content_hash(data))
    assert vault.put(data) == (content_hash(data), True) and vault.get(content_hash(data)) == data


def test_object_storage_racing_writers_store_a_file_once(distributed):
    """Two machines storing the same files at the same moment: each file is indexed once, and
    each writer is told which files it wrote (together, every file exactly once)."""
    homes = [distributed.home(distributed.root.parent / f"node-{n}").ensure() for n in "ab"]
    vaults = [Vault(home, MASTER_KEY, "mk-test") for home in homes]
    vaults[0].ensure_key()
    files = [os.urandom(1000 + n) for n in range(40)]
    batch = [(data, content_hash(data)) for data in files]
    barrier = threading.Barrier(2)

    def store(vault: Vault) -> set[str]:
        sealed = [(digest, vault.seal(data, digest)) for data, digest in batch]
        barrier.wait()
        return vault.blobs.write_many(sealed, checked=True)   # both send a pack: the index decides

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(store, vaults)
    assert first.isdisjoint(second) and first | second == {digest for _, digest in batch}
    assert sorted(vaults[1].hashes()) == sorted(first | second)
    assert all(vaults[1].get(digest) == data for data, digest in batch)


def test_file_is_encrypted_and_key_file_is_private(home):
    data = b"PATIENT^SECRET" * 100
    vault = Vault(home)
    digest, _ = vault.put(data)
    assert b"PATIENT^SECRET" not in vault.path_for(digest).read_bytes()
    key_files = list(home.keys_dir.glob("*.key"))
    assert len(key_files) == 1
    assert stat.S_IMODE(key_files[0].stat().st_mode) == 0o600


@pytest.mark.parametrize("where", ["header", "data", "tag", "truncate", "append"])
def test_tampering_is_detected(home, where):
    data = os.urandom(SEGMENT + 500)
    vault = Vault(home)
    digest, _ = vault.put(data)
    path = vault.path_for(digest)
    raw = bytearray(path.read_bytes())
    if where == "header":
        raw[30] ^= 1
    elif where == "data":
        raw[len(raw) // 2] ^= 1
    elif where == "tag":
        raw[-1] ^= 1
    elif where == "truncate":
        raw = raw[:-600]
    else:
        raw += b"\x00"
    path.write_bytes(bytes(raw))
    with pytest.raises(VaultError):
        vault.verify(digest)


def test_swapped_files_are_detected(home):
    vault = Vault(home)
    a, _ = vault.put(b"first file")
    b, _ = vault.put(b"second file")
    vault.path_for(a).write_bytes(vault.path_for(b).read_bytes())
    with pytest.raises(VaultError):
        vault.get(a)


def test_missing_file_is_reported(any_home):
    vault = Vault(any_home)
    with pytest.raises(VaultError, match="missing"):
        vault.get("0" * 64)
    with pytest.raises(VaultError, match="not a content hash"):
        vault.get("../../etc/passwd")


def test_wrong_master_key_is_refused(any_home):
    vault = Vault(any_home)
    digest, _ = vault.put(b"data")
    key_id = vault.keys.current_id
    for path in any_home.keys_dir.iterdir():
        path.unlink()
    wrong = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(VaultError, match="failed authentication"):
        Vault(any_home, master_key=wrong, master_key_id=key_id).get(digest)


def test_never_a_new_key_when_encrypted_files_exist(any_home):
    vault = Vault(any_home)
    vault.put(b"data")
    for path in any_home.keys_dir.iterdir():
        path.unlink()
    with pytest.raises(VaultKeyError, match="no master key"):
        Vault(any_home).put(b"more")
    assert not list(any_home.keys_dir.iterdir())


def test_master_key_from_setting(any_home):
    key = base64.b64encode(os.urandom(32)).decode()
    vault = Vault(any_home, master_key=key, master_key_id="hsm-1")
    digest, _ = vault.put(b"data")
    assert not any_home.keys_dir.exists() or not list(any_home.keys_dir.glob("*.key"))
    assert Vault(any_home, master_key=key, master_key_id="hsm-1").get(digest) == b"data"
    with pytest.raises(VaultKeyError, match="not available"):
        Vault(any_home).get(digest)
    with pytest.raises(VaultKeyError, match="without"):
        Vault(any_home, master_key=key)
    with pytest.raises(VaultKeyError, match="32 bytes"):
        Vault(any_home, master_key="c2hvcnQ=", master_key_id="x")


def test_rotation_rewraps_without_reencrypting(home):
    vault = Vault(home)
    files = {vault.put(os.urandom(n))[0]: None for n in (10, SEGMENT + 3)}
    before = {d: vault.path_for(d).read_bytes() for d in files}
    old_id = vault.keys.current_id
    new_id, count = vault.rotate()
    assert count == 2 and new_id != old_id
    (home.keys_dir / f"{old_id}.key").unlink()  # the old key is no longer needed
    fresh = Vault(home)
    for digest, old in before.items():
        new = fresh.path_for(digest).read_bytes()
        assert old[-(SEGMENT // 2):] == new[-(SEGMENT // 2):] or len(old) < SEGMENT
        assert old[-16:] == new[-16:]  # ciphertext and its tag are the same bytes
        fresh.verify(digest)


def test_one_folder_level_and_files_of_the_earlier_two_level_layout_still_found(home):
    vault = Vault(home)
    new, _ = vault.put(b"written now")
    assert vault.path_for(new) == home.vault_dir / new[:2] / f"{new}.lsv"
    old, _ = vault.put(b"written by an earlier version")
    earlier = home.vault_dir / old[:2] / old[2:4] / f"{old}.lsv"
    earlier.parent.mkdir(parents=True, exist_ok=True)
    vault.path_for(old).rename(earlier)   # as a vault made before one level was used

    assert vault.path_for(old) == earlier
    assert vault.get(old) == b"written by an earlier version"
    vault.verify(old)
    assert sorted(vault.hashes()) == sorted([new, old])
    assert vault.put(b"written by an earlier version") == (old, False)   # not stored twice
    assert len(list(home.vault_dir.rglob("*.lsv"))) == 2
    vault.discard(old)
    assert not earlier.exists() and sorted(vault.hashes()) == [new]
