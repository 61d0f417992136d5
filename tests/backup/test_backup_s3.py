"""Backups to object storage (``s3://bucket/prefix``, the standard AWS_* settings) against a real
S3 server (SeaweedFS): a full backup, an incremental one that skips the objects already there,
``backup verify`` naming a damaged object, ``backup list``, and a restore that gives back the home."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.backup.conftest import backup_json, vault_paths
from tests.support.peers import Limestone
from tests.support.s3_server import S3Server
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration

BUCKET = "limestone-backups"


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        server.create_bucket(BUCKET)
        yield server


def _client(s3: S3Server):
    return boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key,
                        aws_secret_access_key=s3.secret_key, region_name=s3.region)


def _stats(limestone: Limestone) -> dict:
    result = limestone.run("stats", "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    return {k: counts[k] for k in ("patients", "studies", "series", "instances", "bytes")}


def test_backup_to_s3_incremental_verify_and_restore(home, tmp_path, s3):
    limestone = Limestone(home, env=s3.env())
    target = f"s3://{BUCKET}/region/site-a"
    first = backup_json(limestone, target)
    assert first["copied_files"] == first["files"] > 0 and first["counts"]["instances"] > 0
    client = _client(s3)
    keys = {o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="region/")
            for o in page.get("Contents", [])}
    assert any(k.startswith("region/site-a/objects/") for k in keys)
    assert f"region/site-a/manifests/{first['id']}.json" in keys
    assert "region/site-a/lock" not in keys            # released after the run
    assert not any("/keys/" in k for k in keys)         # the master key never goes to a backup

    before = set(vault_paths(home))
    new = write_studies(make_studies(2, 10, seed=71), tmp_path / "new", size=64)
    assert limestone.run("import", str(tmp_path / "new")).returncode == 0
    added = set(vault_paths(home)) - before
    second = backup_json(limestone, target)
    assert {Path(p).name[:-4] for p in second["copied"] if p.startswith("vault/")} == added
    assert second["counts"]["instances"] == first["counts"]["instances"] + len(new)
    assert second["copied_files"] < first["copied_files"] / 3

    listed = json.loads(limestone.run("backup", "list", "--from", target, "--json").stdout)
    assert [b["id"] for b in listed] == [first["id"], second["id"]]
    verified = limestone.run("backup", "verify", "--from", target, "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    restored_home = tmp_path / "restored"
    restored = limestone.run("restore", "--from", target, "--home", str(restored_home), "--json")
    assert restored.returncode == 0, restored.stderr
    # the same keys (copied here: the escrow path is tested with folder targets)
    (restored_home / "keys").mkdir(exist_ok=True)
    for key in (home / "keys").iterdir():
        (restored_home / "keys" / key.name).write_bytes(key.read_bytes())
    again = Limestone(restored_home, env=s3.env())
    assert again.run("verify").returncode == 0
    assert _stats(again) == _stats(limestone)
    assert {p.name for p in vault_paths(restored_home).values()} == {p.name for p in vault_paths(home).values()}

    # A damaged object is named by verify (exit 1).
    victim = sorted(k for k in keys if "/objects/" in k)[0]
    body = client.get_object(Bucket=BUCKET, Key=victim)["Body"].read()
    client.put_object(Bucket=BUCKET, Key=victim, Body=body[:-1] + bytes([body[-1] ^ 1]))
    damaged = limestone.run("backup", "verify", "--from", target, "--backup", first["id"], "--json")
    assert damaged.returncode == 1
    assert json.loads(damaged.stdout)["problems"], damaged.stdout


def test_a_target_holding_the_archive_itself_is_refused(home, s3):
    env = {**s3.env(), "LIMESTONE_VAULT": f"s3://{BUCKET}/live/vault"}
    refused = Limestone(home, env=env).run("backup", "--to", f"s3://{BUCKET}/live")
    assert refused.returncode != 0 and "archive's own data" in refused.stderr
