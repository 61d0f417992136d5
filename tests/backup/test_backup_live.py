"""A backup taken while ``limestone listen`` receives from dcmtk's storescu, restored on a fresh
home elsewhere with nothing but the backup and the key escrow (no key file copied), then checked:
counts, every vault file byte-identical after decryption, a share link opens in the portal, the
audit trail is whole, the dashboard starts."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import zipfile
from contextlib import closing
from pathlib import Path

import pytest
import requests

from archive.home import Archive
from tests.backup.conftest import PASSPHRASE, backup_json
from tests.support.orthanc_server import free_port
from tests.support.peers import (
    ROOT,
    Limestone,
    Lines,
    archive_counts,
    dcmtk_env,
    port_open,
    require_dcmtk,
    stop_process,
    wait_for,
)
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration


def _start_listen(limestone: Limestone, port: int) -> subprocess.Popen:
    process = limestone.popen("listen", "--port", str(port), "--ae-title", "LIMESTONE",
                              env={"LIMESTONE_LISTEN_FLUSH_SECONDS": "0.5"})
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        out.wait_for("listening as 'LIMESTONE'", timeout=60)
    except AssertionError:
        stop_process(process)
        raise AssertionError(f"listen did not start: {err.text()}") from None
    return process


def _audit_rows(home: Path) -> list[tuple]:
    with closing(sqlite3.connect(home / "state.sqlite")) as con:
        return con.execute("SELECT * FROM audit_events ORDER BY event_id").fetchall()


def _stats(limestone: Limestone) -> dict:
    result = limestone.run("stats", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    return {k: stats[k] for k in ("patients", "studies", "series", "instances", "bytes")}


def _a_study(home: Path) -> str:
    """A study of the demo's synthetic patients whose every file is in the vault (the demo also
    imports pydicom's test files, some of which are duplicates it discards)."""
    archive = Archive.load(home=str(home))
    con = archive.store(read_only=True)
    try:
        rows = con.execute("SELECT study_instance_uid, list(content_hash) FROM instances "
                           "GROUP BY study_instance_uid ORDER BY count(*) DESC").fetchall()
    finally:
        con.close()
    return next(uid for uid, hashes in rows if all(archive.vault.has(h) for h in hashes))


def test_backup_while_listen_receives_then_restore_elsewhere_from_escrow_only(home, tmp_path):
    require_dcmtk("storescu")
    env = {"LIMESTONE_ESCROW_PASSPHRASE": PASSPHRASE}
    limestone = Limestone(home, env=env)
    shared = limestone.run("share", "create", "--study", _a_study(home), "--recipient", "Test Recipient", "--json")
    assert shared.returncode == 0, shared.stderr
    link = json.loads(shared.stdout)
    escrow = limestone.run("keys", "escrow", "--out", str(tmp_path / "escrow.json"))
    assert escrow.returncode == 0, escrow.stderr
    sheet = tmp_path / "escrow.json.sheet.txt"
    before, files_before = archive_counts(home)

    # A push and a backup at the same time.
    studies = make_studies(6, 100, seed=44)
    pushed = write_studies(studies, tmp_path / "push", size=128)
    target = tmp_path / "nas" / "backups"
    port = free_port()
    listen = _start_listen(limestone, port)
    try:
        sender = subprocess.Popen(["storescu", "-aet", "MODALITY", "-aec", "LIMESTONE", "127.0.0.1", str(port),
                                   *map(str, pushed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=dcmtk_env())
        wait_for(lambda: archive_counts(home)[1] > files_before, 60, "the push to begin")
        assert sender.poll() is None, "the push ended before the backup began"
        during = limestone.run("backup", "--to", str(target), "--json")
        assert during.returncode == 0, during.stderr
        assert sender.wait(120) == 0, sender.stderr.read()
        wait_for(lambda: archive_counts(home)[0] == before + len(pushed), 60, "every pushed instance in the store")
        mid = json.loads(during.stdout)
    finally:
        stop_process(listen)
    after = backup_json(limestone, target)
    assert after["copied_files"] >= 1 and after["id"] != mid["id"]
    listing = json.loads(limestone.run("backup", "list", "--from", str(target), "--json").stdout)
    assert [b["id"] for b in listing] == [mid["id"], after["id"]]
    # The master keys are nowhere in the backup, neither as key files nor as raw bytes.
    secrets = [p.read_bytes().strip() for p in (home / "keys").glob("*.key")]
    secrets += [base64.b64decode(s) for s in secrets]
    for path in target.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret in data for secret in secrets), path

    # The backup taken mid-push restores to a consistent archive: what its catalog names is there.
    mid_home = tmp_path / "elsewhere" / "mid"
    restored_mid = Limestone(mid_home, env=env)
    result = restored_mid.run("restore", "--from", str(target), "--backup", mid["id"], "--home", str(mid_home),
                              "--escrow", str(sheet))
    assert result.returncode == 0, result.stderr
    check = restored_mid.run("verify", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert _stats(restored_mid) == {k: v for k, v in mid["counts"].items()}
    assert before <= mid["counts"]["instances"] <= before + len(pushed)

    # The newest backup on a fresh home in another folder, with the escrow sheet alone.
    new_home = tmp_path / "elsewhere" / "restored"
    fresh = Limestone(new_home, env=env)
    result = fresh.run("restore", "--from", str(target), "--home", str(new_home))
    assert result.returncode == 0, result.stderr
    assert "needs master key" in result.stdout and not (new_home / "keys").exists()
    recovered = fresh.run("keys", "recover", str(sheet))
    assert recovered.returncode == 0, recovered.stderr
    verified = fresh.run("verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["checked"] == archive_counts(home)[1]

    assert _stats(fresh) == _stats(limestone)
    original, copy = Archive.load(home=str(home)).vault, Archive.load(home=str(new_home)).vault
    hashes = sorted(original.hashes())
    assert sorted(copy.hashes()) == hashes
    for digest in hashes:
        assert copy.get(digest) == original.get(digest)
    assert _audit_rows(new_home) == _audit_rows(home)[:len(_audit_rows(new_home))]
    assert any(row[2] == "share" for row in _audit_rows(new_home))

    # The share link opens on the restored home's portal, and its download comes from the vault.
    portal_port = free_port()
    portal = fresh.popen("portal", "--port", str(portal_port))
    try:
        wait_for(lambda: port_open(portal_port), 60, "the portal")
        url = f"http://127.0.0.1:{portal_port}/s/" + link["url"].rsplit("/s/", 1)[1]
        session = requests.Session()
        answer = session.post(url, data={"answer": link["passcode"]}, allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.text
        download = session.get(url + "/download", timeout=60)
        assert download.status_code == 200, download.text[:500]
        names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
        assert any(n.endswith("DICOMDIR") for n in names) and len(names) > 1
    finally:
        stop_process(portal)
    assert len(_audit_rows(new_home)) > len(_audit_rows(home))   # the portal's events were recorded

    # The dashboard starts on the restored home.
    dash_port = free_port()
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(dash_port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, LIMESTONE_HOME=str(new_home)), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{dash_port}/_stcore/health", timeout=2).ok
            except requests.RequestException:
                return False
        wait_for(healthy, 90, "the dashboard", interval=0.2)
    finally:
        os.killpg(dashboard.pid, signal.SIGTERM)
        try:
            dashboard.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(dashboard.pid, signal.SIGKILL)
            dashboard.wait()
