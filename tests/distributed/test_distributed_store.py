"""The same archive on PostgreSQL + S3: import, verify, many writers, no lost or doubled instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import boto3
import pytest

from archive.home import Home
from archive.store import open_store
from archive.store.connection import StoreError, connect
from archive.vault import Vault, VaultError, content_hash
from tests.support.cli import ROOT
from tests.support.distributed import BUCKET
from tests.support.samples import write_ct_studies

pytestmark = pytest.mark.integration

MASTER_KEY = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VnhwEjRWeJCrze8="   # a test key, never a real one


def run(distributed, *args, root=None, env=None):
    full = {**os.environ, **distributed.env, "LIMESTONE_MASTER_KEY": MASTER_KEY,
            "LIMESTONE_MASTER_KEY_ID": "mk-test", **(env or {})}
    command = [sys.executable, "-m", "pipelines", "--home", str(root or distributed.root), *args]
    return subprocess.run(command, capture_output=True, text=True, env=full, cwd=ROOT, timeout=300)


def objects(prefix: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def test_import_verify_and_stats_on_postgres_and_s3(distributed, tmp_path):
    write_ct_studies(tmp_path / "ct", 30, per_series=10, seed=11)
    result = run(distributed, "import", str(tmp_path / "ct"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 30
    stats = json.loads(run(distributed, "stats", "--json").stdout)
    assert stats["instances"] == 30
    assert stats["backends"] == {"catalog": "postgresql", "lake": "s3", "vault": "s3", "state": "postgresql"}
    name = distributed.vault_url.split(f"{BUCKET}/", 1)[1]
    packs = [k for k in objects(name + "/") if k.endswith(".lsp")]   # files go out packed, a batch a PUT
    assert 1 <= len(packs) < 30 and len(list(Vault(distributed.home(), MASTER_KEY, "mk-test").hashes())) == 30
    assert any(k.endswith(".parquet") for k in objects(distributed.lake_url.split(f"{BUCKET}/", 1)[1] + "/"))
    # Nothing of the archive is left in the local folder: no catalog, no lake, no vault files.
    assert not distributed.home().catalog_path.exists() and not distributed.home().state_path.exists()
    assert not list((distributed.root / "vault").rglob("*.lsv")) if (distributed.root / "vault").exists() else True
    assert run(distributed, "verify").returncode == 0


def test_two_machines_importing_overlapping_folders_store_each_instance_once(distributed, tmp_path):
    write_ct_studies(tmp_path / "a", 60, per_series=20, seed=21)
    write_ct_studies(tmp_path / "b", 40, per_series=20, seed=22)
    # Machine A imports a and b; machine B imports b and a: every instance arrives twice at once.
    results: dict[str, subprocess.CompletedProcess] = {}

    def machine(name, folders):
        results[name] = run(distributed, "import", *map(str, folders), "--json", root=tmp_path / name)

    threads = [threading.Thread(target=machine, args=("node-a", [tmp_path / "a", tmp_path / "b"])),
               threading.Thread(target=machine, args=("node-b", [tmp_path / "b", tmp_path / "a"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results.values():
        assert result.returncode == 0, result.stderr
        assert "database is locked" not in result.stderr
    imported = [json.loads(r.stdout) for r in results.values()]
    assert sum(i["imported"] for i in imported) == 100
    assert sum(i["already_present"] for i in imported) == 100
    con = connect(distributed.home(), read_only=True)
    try:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT sop_instance_uid) FROM instances").fetchone()
        series = con.execute("SELECT sum(number_of_instances) FROM series").fetchone()[0]
    finally:
        con.close()
    assert total == distinct == 100 and series == 100
    assert run(distributed, "verify", root=tmp_path / "node-b").returncode == 0


def test_catalog_password_never_in_an_error(distributed):
    wrong = distributed.catalog_url.replace("://limestone:", "://limestone:x")
    password = wrong.split("://limestone:", 1)[1].split("@", 1)[0]
    home = Home(distributed.root, catalog_url=wrong, lake_url=distributed.lake_url, vault_url=distributed.vault_url)
    with pytest.raises(StoreError) as caught:
        open_store(home)
    assert password not in str(caught.value) and "PostgreSQL catalog" in str(caught.value)
    result = run(distributed, "stats", env={"LIMESTONE_CATALOG": wrong})
    assert result.returncode != 0 and password not in result.stdout + result.stderr


@pytest.mark.parametrize("size", [0, 1000, (1 << 20) + 17])
def test_vault_in_object_storage_round_trip_and_written_once(distributed, size):
    home = distributed.home()
    vault = Vault(home, master_key=MASTER_KEY, master_key_id="mk-test")
    other = Vault(distributed.home(distributed.root.parent / "node-b"), master_key=MASTER_KEY,
                  master_key_id="mk-test")
    data = os.urandom(size)
    digest, written = vault.put(data)
    assert written and digest == content_hash(data)
    assert other.put(data) == (digest, False)         # another machine finds it stored
    assert vault.get(digest) == data and b"".join(other.stream(digest)) == data
    assert vault.size(digest) == size and list(vault.hashes()) == [digest]
    other.blobs.write_many([(digest, b"another machine's copy")])  # a later writer's copy is not indexed
    vault.verify(digest)


def test_vault_in_object_storage_detects_damage_and_missing(distributed):
    vault = Vault(distributed.home(), master_key=MASTER_KEY, master_key_id="mk-test")
    digest, _ = vault.put(os.urandom(5000))
    with vault.blobs.mapped(digest) as view:
        sealed = bytearray(view[0:len(view)])
    sealed[-1] ^= 1
    vault.blobs.replace(digest, bytes(sealed))
    with pytest.raises(VaultError, match="damaged"):
        vault.verify(digest)
    vault.discard(digest)
    assert not vault.has(digest)
    with pytest.raises(VaultError, match="missing"):
        vault.get(digest)


def test_lookups_by_patient_and_accession_on_a_postgresql_catalog(distributed, tmp_path):
    """The lookup table (migrations 0016-0017) works with its catalog in PostgreSQL and its data in
    S3: filled by the writer, equal to its view, and used by the browser's exact searches."""
    from archive.store.queries import browse
    from tests.support.browse_table_check import assert_browse_table_current

    write_ct_studies(tmp_path / "ct", 6, per_series=2, seed=31)
    assert run(distributed, "import", str(tmp_path / "ct")).returncode == 0
    con = connect(distributed.home(), read_only=True)
    try:
        assert_browse_table_current(con)
        pid, accession, key = con.execute("SELECT patient_id, accession_number, patient_key FROM study_browse "
                                          "LIMIT 1").fetchone()
        assert browse.search_studies(con, browse.StudySearch(patient_id=pid)).total == con.execute(
            "SELECT count(*) FROM study_browse WHERE patient_id = ?", [pid]).fetchone()[0] > 0
        assert browse.search_studies(con, browse.StudySearch(accession=accession)).total >= 1
        assert len(browse.patient_timeline(con, key)) >= 1
    finally:
        con.close()
