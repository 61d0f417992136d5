"""Backups as real processes on a demo home: incremental copies, damage named by ``backup verify``,
kill -9 and a full disk mid-backup, an interrupted restore, pruning, refused targets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.backup.conftest import backup_json, vault_paths
from tests.support.peers import Limestone, wait_for
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration


def _objects(target: Path) -> set[str]:
    return {p.name for p in (target / "objects").rglob("*") if p.is_file()}


def _entries(target: Path, backup_id: str) -> dict[str, str]:
    import gzip
    body = gzip.decompress((target / "manifests" / f"{backup_id}.files.json.gz").read_bytes()).decode()
    return {row[0]: row[1] for row in map(json.loads, body.splitlines())}


def _verify(limestone: Limestone, target: Path, *extra: str) -> subprocess.CompletedProcess:
    return limestone.run("backup", "verify", "--from", str(target), *extra)


def _listed(limestone: Limestone, target: Path) -> list[str]:
    result = limestone.run("backup", "list", "--from", str(target), "--json")
    assert result.returncode == 0, result.stderr
    return [b["id"] for b in json.loads(result.stdout)]


def test_an_incremental_backup_copies_only_the_new_studies(home, tmp_path):
    limestone = Limestone(home)
    target = tmp_path / "backups"
    first = backup_json(limestone, target)
    assert first["copied_files"] == first["files"] and first["counts"]["instances"] > 0
    before = set(vault_paths(home))

    new = write_studies(make_studies(3, 20, seed=61), tmp_path / "new", size=96)
    imported = limestone.run("import", str(tmp_path / "new"), "--json")
    assert imported.returncode == 0, imported.stderr
    added = set(vault_paths(home)) - before
    assert len(added) == len(new)

    second = backup_json(limestone, target)
    copied_vault = {Path(p).name[:-4] for p in second["copied"] if p.startswith("vault/")}
    assert copied_vault == added
    others = [p for p in second["copied"] if not p.startswith("vault/")]
    assert all(p.startswith("store/") or p == "state.sqlite" for p in others), others
    assert second["counts"]["instances"] == first["counts"]["instances"] + len(new)
    assert second["copied_bytes"] < first["copied_bytes"] / 5
    assert _verify(limestone, target).returncode == 0


def test_backup_verify_names_a_damaged_and_a_missing_file(home, tmp_path):
    limestone = Limestone(home)
    target = tmp_path / "backups"
    backup = backup_json(limestone, target)
    good = _verify(limestone, target)
    assert good.returncode == 0, good.stdout + good.stderr
    entries = _entries(target, backup["id"])
    vault = sorted(p for p in entries if p.startswith("vault/"))
    damaged, missing = vault[3], vault[7]
    lake = sorted(p for p in entries if p.startswith("store/lake/"))[0]

    def object_path(rel: str) -> Path:
        obj = entries[rel]
        return target / "objects" / obj[:2] / obj

    path = object_path(damaged)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01          # one bit, in the middle of the ciphertext
    path.write_bytes(bytes(data))
    object_path(missing).unlink()
    with open(object_path(lake), "r+b") as f:
        f.seek(10)
        f.write(b"\x00")

    result = _verify(limestone, target, "--json")
    assert result.returncode == 1
    problems = {p["path"]: p["problem"] for p in json.loads(result.stdout)["problems"]}
    assert "damaged" in problems[damaged]
    assert "missing" in problems[missing]
    assert "damaged" in problems[lake]
    text = _verify(limestone, target)
    assert text.returncode == 1 and damaged in text.stdout and missing in text.stdout


def test_kill_9_mid_backup_leaves_the_earlier_backup_and_the_rerun_completes(home, tmp_path):
    limestone = Limestone(home)
    target = tmp_path / "backups"
    first = backup_json(limestone, target)
    # A key rotation re-wraps every vault file: the next backup copies them all again.
    assert limestone.run("keys", "rotate").returncode == 0
    process = limestone.popen("backup", "--to", str(target))

    def journal_lines() -> int:
        return sum(len(p.read_text(errors="replace").splitlines()) for p in (target / "staging").glob("*"))
    try:
        wait_for(lambda: journal_lines() >= 40 or process.poll() is not None, 120, "the backup to copy files")
        assert process.poll() is None, "the backup ended before it could be killed"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert _listed(limestone, target) == [first["id"]]
    kept = _verify(limestone, target, "--backup", first["id"])
    assert kept.returncode == 0, kept.stdout + kept.stderr

    rerun = backup_json(limestone, target)
    files = len(vault_paths(home))
    assert 0 < sum(p.startswith("vault/") for p in rerun["copied"]) <= files - 40   # went on from the journal
    assert _listed(limestone, target) == [first["id"], rerun["id"]]
    assert not list((target / "staging").iterdir()) and not [p for p in (target / "tmp").iterdir()
                                                             if p.name.startswith(".part-")]
    assert _verify(limestone, target).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of its own, small enough to fill (tmpfs; needs root, as CI runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root): " + made.stderr.decode().strip())
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _resize(mount: Path, megabytes: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={megabytes}m", str(mount)], check=True)


def test_a_full_disk_leaves_the_earlier_backup_and_the_next_run_completes(home, tmp_path, small_disk):
    limestone = Limestone(home)
    _resize(small_disk, 1024)
    target = small_disk / "backups"
    first = backup_json(limestone, target)
    size_mb = first["bytes"] // 2**20
    _resize(small_disk, size_mb + 8)     # room for a few MB more, not for a second copy of the vault
    assert limestone.run("keys", "rotate").returncode == 0   # every vault file to copy again: no room
    full = limestone.run("backup", "--to", str(target))
    assert full.returncode == 2
    assert "full" in full.stderr and "Traceback" not in full.stderr
    assert _listed(limestone, target) == [first["id"]]
    assert _verify(limestone, target, "--backup", first["id"]).returncode == 0

    _resize(small_disk, 3 * size_mb + 20)    # a bigger disk: the next run completes
    second = backup_json(limestone, target)
    assert second["copied_files"] < second["files"]
    assert _listed(limestone, target) == [first["id"], second["id"]]
    assert _verify(limestone, target).returncode == 0


def test_an_interrupted_restore_can_be_run_again(home, tmp_path):
    limestone = Limestone(home)
    target = tmp_path / "backups"
    backup_json(limestone, target)
    new_home = tmp_path / "restored"
    process = limestone.popen("restore", "--from", str(target), "--home", str(new_home))
    try:
        wait_for(lambda: len(vault_paths(new_home)) >= 40 if new_home.exists() else False, 120, "files restored")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert (new_home / ".limestone-restore").exists()
    again = limestone.run("restore", "--from", str(target), "--home", str(new_home), "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["restored_files"] < result["files"] and result["missing_key_ids"] == result["key_ids"]
    (new_home / "keys").mkdir()
    for key in (home / "keys").iterdir():     # (the escrow path is tested elsewhere)
        (new_home / "keys" / key.name).write_bytes(key.read_bytes())
    assert Limestone(new_home).run("verify").returncode == 0
    refused = limestone.run("restore", "--from", str(target), "--home", str(new_home))
    assert refused.returncode == 2 and "not empty" in refused.stderr


def test_pruning_keeps_the_newer_backups_whole(home, tmp_path):
    limestone = Limestone(home)
    target = tmp_path / "backups"
    first = backup_json(limestone, target)
    write_studies(make_studies(2, 10, seed=71), tmp_path / "more", size=64)
    assert limestone.run("import", str(tmp_path / "more")).returncode == 0
    second = backup_json(limestone, target)
    assert limestone.run("keys", "rotate").returncode == 0
    objects_before = _objects(target)
    third = backup_json(limestone, target, "--keep", "2")
    assert third["pruned"]["removed_backups"] == [first["id"]]
    assert _listed(limestone, target) == [second["id"], third["id"]]
    # Objects the second backup shares with the first are kept; only the first's own are gone.
    assert set(_entries(target, second["id"]).values()) <= _objects(target)
    assert _objects(target) < objects_before | _objects(target)
    for backup_id in (second["id"], third["id"]):
        assert _verify(limestone, target, "--backup", backup_id).returncode == 0
    pruned = limestone.run("backup", "prune", "--from", str(target), "--keep", "1", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["removed_objects"] > 0
    assert _objects(target) == set(_entries(target, third["id"]).values())
    assert _verify(limestone, target).returncode == 0


def test_a_target_that_is_the_home_or_inside_it_is_refused(home, tmp_path):
    limestone = Limestone(home)
    for target in (home, home / "backups", home / "vault" / "x"):
        result = limestone.run("backup", "--to", str(target))
        assert result.returncode == 2 and "inside it" in result.stderr, result.stderr
    assert not (home / "backups").exists() and not (home / "vault" / "x").exists()
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"not a backup")
    result = limestone.run("backup", "--to", str(foreign))
    assert result.returncode == 2 and "not empty" in result.stderr
    result = limestone.run("backup", "--to", "s3://bucket/archive")
    assert result.returncode == 2 and "s3://" in result.stderr
    assert limestone.run("backup", "list", "--from", str(tmp_path / "nothing")).returncode == 2
