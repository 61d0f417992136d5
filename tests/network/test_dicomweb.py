"""DICOMweb nodes against Debian's Orthanc with its DICOMweb plugin: echo, pull (whole, windowed,
metadata-only, resumed after kill -9), send over STOW-RS, and HTTP users (basic auth)."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from archive import state
from archive.home import Home
from tests.support.orthanc_server import OrthancServer
from tests.support.peers import Limestone, real_files
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An Orthanc holding 4 fake CT studies (2 series x 6, dated 2024-01-01..04) and pydicom's files."""
    studies = make_studies(4, 12, seed=23, series_per_study=2)
    folder = tmp_path_factory.mktemp("dw-files")
    paths = write_studies(studies, folder)
    server = OrthancServer(tmp_path_factory.mktemp("dw-orthanc")).start()
    try:
        server.upload(paths)
        server.upload(real_files())
        yield server, studies
    finally:
        server.stop()


def _limestone(tmp_path: Path, **env: str) -> Limestone:
    return Limestone(tmp_path / "home", env={"LIMESTONE_DICOMWEB_TIMEOUT": "20", **env})


def _add(limestone: Limestone, server: OrthancServer, *extra: str) -> None:
    result = limestone("nodes", "add", "web", "--url", server.url + "/dicom-web", "--site", "NORTH", *extra)
    assert result.returncode == 0, result.stderr


def _archived(limestone: Limestone) -> dict[str, bytes]:
    """SOP Instance UID -> the vault's bytes, for every archived instance."""
    archive = limestone.store()
    con = archive.store(read_only=True)
    try:
        rows = con.execute("SELECT sop_instance_uid, content_hash FROM instances").fetchall()
    finally:
        con.close()
    return {uid: archive.vault.get(digest) for uid, digest in rows}


def _orthanc_file(server: OrthancServer, sop_uid: str) -> bytes:
    (found,) = [f for f in server.request("POST", "/tools/lookup", sop_uid.encode()) if f["Type"] == "Instance"]
    req = urllib.request.Request(server.url + f"/instances/{found['ID']}/file")
    with urllib.request.urlopen(req, timeout=30) as reply:
        return reply.read()


def _study_rows(limestone: Limestone) -> dict[str, str]:
    with closing(state.connect(Home(limestone.home))) as con:
        return dict(con.execute("SELECT study_instance_uid, status FROM node_studies WHERE node = 'web'"))


def test_echo_list_and_validation(world, tmp_path):
    server, _ = world
    limestone = _limestone(tmp_path)
    _add(limestone, server, "--max-connections", "3")
    listed = json.loads(limestone("nodes", "list", "--json").stdout)
    assert listed[0]["url"] == server.url + "/dicom-web" and listed[0]["max_connections"] == 3
    assert listed[0]["auth"] == "none" and listed[0]["ae_title"] == ""
    result = limestone("nodes", "echo", "web")
    assert result.returncode == 0 and "QIDO-RS ok" in result.stdout, result.stderr
    bad = limestone("nodes", "add", "x", "--url", "https://user:secret@pacs.example.org/dicom-web")
    assert bad.returncode == 2 and "without credentials" in bad.stderr and "secret" not in bad.stderr
    assert limestone("nodes", "add", "y").returncode == 2


def test_pull_whole_is_byte_exact_and_incremental(world, tmp_path):
    server, studies = world
    limestone = _limestone(tmp_path)
    _add(limestone, server)
    result = limestone("pull", "web")
    assert result.returncode == 0, result.stdout + result.stderr
    found = int(result.stdout.split("studies found")[0].split()[-1])
    assert found == len(server.request("GET", "/studies"))
    archived = _archived(limestone)
    wanted = {u for s in studies for u in s.sop_uids}
    assert wanted <= set(archived)
    assert len(archived) == len(server.request("GET", "/instances"))
    # Byte for byte as Orthanc keeps them, whatever the transfer syntax (JPEG 2000, RLE, JPEG-LS...).
    for uid, data in archived.items():
        assert data == _orthanc_file(server, uid), uid
    assert set(_study_rows(limestone).values()) == {"complete"}
    again = limestone("pull", "web", "--since", "2024-01-01")
    assert again.returncode == 0, again.stderr
    assert "0 received" in again.stdout and "already complete" in again.stdout


def test_pull_windowed_and_metadata_only(world, tmp_path):
    server, studies = world
    limestone = _limestone(tmp_path)
    _add(limestone, server)
    result = limestone("pull", "web", "--metadata-only", "--since", "2024-01-02", "--until", "2024-01-03")
    assert result.returncode == 0, result.stderr
    assert "2 studies found" in result.stdout and "4 new series recorded" in result.stdout
    assert _archived(limestone) == {}
    assert set(_study_rows(limestone).values()) == {"metadata"}
    archive = limestone.store()
    con = archive.store(read_only=True)
    try:
        series = con.execute("SELECT count(*) FROM series").fetchone()[0]
    finally:
        con.close()
    assert series == 4
    result = limestone("pull", "web", "--since", "2024-01-02", "--until", "2024-01-03")
    assert result.returncode == 0, result.stderr
    assert set(_archived(limestone)) == set(studies[1].sop_uids) | set(studies[2].sop_uids)


def test_basic_auth_with_orthanc_users(tmp_path):
    studies = make_studies(1, 3, seed=5)
    paths = write_studies(studies, tmp_path / "files")
    server = OrthancServer(tmp_path / "orthanc", users={"limestone": "s3cret-pw"}).start()
    try:
        server.upload(paths)
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps({"web": {"username": "limestone", "password": "wrong"}}))
        os.chmod(creds, 0o600)
        limestone = _limestone(tmp_path, LIMESTONE_DICOMWEB_CREDENTIALS=str(creds))
        _add(limestone, server, "--auth", "basic")
        refused = limestone("nodes", "echo", "web")
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr and "node web" in refused.stderr
        assert "wrong" not in refused.stderr + refused.stdout
        pulled = limestone("pull", "web")
        assert pulled.returncode == 1 and "HTTP 401" in pulled.stderr
        creds.write_text(json.dumps({"web": {"username": "limestone", "password": "s3cret-pw"}}))
        assert limestone("nodes", "echo", "web").returncode == 0
        pulled = limestone("pull", "web")
        assert pulled.returncode == 0, pulled.stderr
        assert set(_archived(limestone)) == set(studies[0].sop_uids)
        assert "s3cret" not in pulled.stdout + pulled.stderr
    finally:
        server.stop()


def test_pull_killed_mid_stream_then_rerun_completes(tmp_path):
    studies = make_studies(6, 60, seed=31, series_per_study=2)
    paths = write_studies(studies, tmp_path / "files", size=256)
    server = OrthancServer(tmp_path / "orthanc").start()
    try:
        server.upload(paths)
        limestone = _limestone(tmp_path)
        _add(limestone, server, "--max-connections", "2")
        process = limestone.popen("pull", "web")
        vault = tmp_path / "home" / "vault"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if vault.exists() and sum(1 for p in vault.rglob("*") if p.is_file()) >= 40:
                break
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        before = len(_archived(limestone)) if (tmp_path / "home").exists() else 0
        assert before < 360
        result = limestone("pull", "web")
        assert result.returncode == 0, result.stdout + result.stderr
        archived = _archived(limestone)
        assert set(archived) == {u for s in studies for u in s.sop_uids}
        assert set(_study_rows(limestone).values()) == {"complete"}
        for uid in list(archived)[:20]:
            assert archived[uid] == _orthanc_file(server, uid)
    finally:
        server.stop()


def test_send_over_stow_rs(world, tmp_path):
    _, studies = world
    folder = tmp_path / "to-send"
    write_studies(studies[:2], folder)
    limestone = _limestone(tmp_path, LIMESTONE_SEND_BACKOFF_SECONDS="0.05")
    assert limestone("import", str(folder)).returncode == 0
    with OrthancServer(tmp_path / "outside") as outside:
        result = limestone("nodes", "add", "far", "--url", outside.url + "/dicom-web", "--site", "FARAWAY")
        assert result.returncode == 0, result.stderr
        result = limestone("send", "--study", studies[0].study_uid, studies[1].study_uid, "--to", "far", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        outcome = json.loads(result.stdout)
        assert [r["status"] for r in outcome] == ["sent", "sent"] and all(r["sent"] == 12 for r in outcome)
        originals = _archived(limestone)
        for uid in studies[0].sop_uids + studies[1].sop_uids:
            stored = _orthanc_file(outside, uid)
            # STOW-RS stores the file as sent: the whole file, meta group included.
            assert stored[132:] == originals[uid][132:] or stored == originals[uid]
    with closing(state.connect(Home(limestone.home))) as con:
        log = con.execute("SELECT node, destination, status, sent FROM transfers").fetchall()
    assert {(r[0], r[2], r[3]) for r in log} == {("far", "sent", 12)}
    assert all(r[1].endswith("/dicom-web") for r in log)
