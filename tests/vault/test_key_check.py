"""A wrong master key never writes (issue 17, item 8).

``LIMESTONE_MASTER_KEY`` set to the wrong 32 bytes under the existing key id: every writer
(import, pull, listen; the vault's ``put``) refuses before it stores anything, because the key
does not open the key check value kept beside the key files.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from archive.home import Archive
from archive.vault import Vault, VaultKeyError
from tests.support.cli import limestone
from tests.support.orthanc_server import free_port
from tests.support.samples import write_ct_studies

WRONG = base64.b64encode(b"\x07" * 32).decode()


def _files(home) -> set[str]:
    return {str(p.relative_to(home)) for p in (home / "vault").rglob("*") if p.is_file()}


def _store_counts(home) -> tuple[int, int]:
    con = Archive.load(home=str(home)).store(read_only=True)
    try:
        return (con.execute("SELECT count(*) FROM instances").fetchone()[0],
                con.execute("SELECT count(*) FROM ingest_runs").fetchone()[0])
    finally:
        con.close()


def test_put_refuses_a_wrong_key_under_the_current_id(tmp_path, backend):
    home = backend.home(tmp_path / "home")
    right = Vault(home)
    digest, _ = right.put(b"first file")
    key_id = right.keys.current_id
    assert (home.keys_dir / f"{key_id}.check").exists()
    wrong = Vault(home, WRONG, key_id)
    with pytest.raises(VaultKeyError, match="is wrong"):
        wrong.put(b"second file")
    assert list(right.hashes()) == [digest]
    # The right key, given the same way, writes.
    good = base64.b64encode(right.keys.get(key_id)).decode()
    assert Vault(home, good, key_id).put(b"second file")[1] is True


def test_a_key_from_before_check_values_is_proved_by_a_vault_file(tmp_path, backend):
    home = backend.home(tmp_path / "home")
    right = Vault(home)
    right.put(b"first file")
    key_id = right.keys.current_id
    (home.keys_dir / f"{key_id}.check").unlink()   # a home written before check values existed
    with pytest.raises(VaultKeyError):
        Vault(home, WRONG, key_id).put(b"second file")
    assert not (home.keys_dir / f"{key_id}.check").exists()
    assert len(list(right.hashes())) == 1
    Vault(home).put(b"second file")              # the right key proves itself and gets a check value
    assert (home.keys_dir / f"{key_id}.check").exists()


def test_import_listen_and_pull_refuse_a_wrong_key(tmp_path):
    home = tmp_path / "home"
    first, second = tmp_path / "first", tmp_path / "second"
    write_ct_studies(first, 4, per_series=2, seed=3)
    write_ct_studies(second, 4, per_series=2, seed=4)
    limestone("import", str(first), home=home, check=True)
    key_id = (home / "keys" / "current").read_text().strip()
    env = {"LIMESTONE_MASTER_KEY": WRONG, "LIMESTONE_MASTER_KEY_ID": key_id}
    files, counts = _files(home), _store_counts(home)

    result = limestone("import", str(second), home=home, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"master key '{key_id}' is wrong" in result.stderr

    result = limestone("listen", "--port", str(free_port()), "--bind", "127.0.0.1", home=home, env=env,
                       timeout=60)
    assert result.returncode == 2 and f"master key '{key_id}' is wrong" in result.stderr
    assert "listening" not in result.stdout

    port = free_port()
    limestone("nodes", "add", "pacs", "--ae-title", "PACS", "--host", "127.0.0.1", "--port", str(port),
              home=home, check=True)
    result = limestone("pull", "pacs", home=home, env=env, timeout=60)
    assert result.returncode == 2 and f"master key '{key_id}' is wrong" in result.stderr
    assert "cannot connect" not in result.stderr      # refused before the node was asked anything

    assert _files(home) == files
    assert _store_counts(home) == counts       # not even a failed run was recorded


def _first_key(root: str, start, ids) -> None:
    from archive.layout import Home as _Home
    from archive.vault import Vault as _Vault

    start.wait()
    ids.put(_Vault(_Home(Path(root))).ensure_key())


def test_processes_starting_together_on_a_new_home_make_one_master_key(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    start, ids = ctx.Barrier(6), ctx.Queue()
    workers = [ctx.Process(target=_first_key, args=(str(tmp_path / "home"), start, ids)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * 6
    made = {ids.get(timeout=5) for _ in workers}
    assert len(made) == 1
    assert [p.stem for p in (tmp_path / "home" / "keys").glob("*.key")] == list(made)
