"""Acknowledged means durable (issue 17, item 10), with real kills (SIGKILL, not simulated):
``limestone listen`` killed while dcmtk's storescu sends (every instance storescu saw acknowledged
is in the archive after a restart, and sending everything again stores nothing twice); ``pull``
and ``send`` killed mid-transfer against Orthanc, then run again (everything once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pydicom
import pytest

from tests.support.orthanc_server import OrthancServer, free_port
from tests.support.peers import Limestone, Lines, dcmtk_env, require_dcmtk, stop_process, vault_files, wait_for
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration


def _start_listen(limestone: Limestone, port: int, flush_seconds: str):
    process = limestone.popen("listen", "--port", str(port), "--ae-title", "LIMESTONE", "--bind", "127.0.0.1",
                              env={"LIMESTONE_LISTEN_FLUSH_SECONDS": flush_seconds})
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        out.wait_for("listening as 'LIMESTONE'", timeout=90)
    except AssertionError:
        stop_process(process)
        raise AssertionError(f"listen did not start: {err.text()}") from None
    return process, out, err


def _storescu(port: int, paths) -> subprocess.Popen:
    return subprocess.Popen(["storescu", "-v", "-aet", "MODALITY", "-aec", "LIMESTONE", "127.0.0.1", str(port),
                             *map(str, paths)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dcmtk_env())


def _acknowledged(log: str) -> list[str]:
    """The files storescu was told were stored (success), from its verbose log."""
    done, current = [], None
    for line in log.splitlines():
        if "Sending file:" in line:
            current = line.split("Sending file:", 1)[1].strip()
        elif "Received Store Response" in line and "(Success)" in line and current:
            done.append(current)
            current = None
    return done


def _stored(limestone: Limestone) -> tuple[int, set[str]]:
    con = limestone.store().store(read_only=True)
    try:
        rows = [r[0] for r in con.execute("SELECT sop_instance_uid FROM instances").fetchall()]
    finally:
        con.close()
    return len(rows), set(rows)


def _journaled(home) -> int:
    """Instances a running listen has acknowledged and holds in its journal (not yet filed)."""
    from archive.ingest.journal import entries
    count = 0
    for segment in (home / "journal").glob("*.jsonl"):
        try:
            count += sum(1 for _ in entries(segment))
        except FileNotFoundError:   # committed meanwhile
            pass
    return count


def test_listen_killed_mid_transfer_keeps_every_acknowledged_instance(tmp_path):
    require_dcmtk("storescu")
    limestone = Limestone(tmp_path / "home")
    files = write_studies(make_studies(4, 60, seed=23), tmp_path / "files")
    uid_of = {str(p): str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in files}
    port = free_port()
    # Rows would reach the store only after an hour: everything acknowledged before the kill lives
    # in the journal alone (the sealed vault files with it: the vault is filed per batch).
    process, _, err = _start_listen(limestone, port, "3600")
    sender = _storescu(port, files)
    try:
        wait_for(lambda: _journaled(limestone.home) >= 40, 120, "some instances received")
        assert vault_files(limestone.home) == 0
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    log = sender.communicate(timeout=120)[0]
    acknowledged = _acknowledged(log)
    assert len(acknowledged) >= 40, log[-2000:]   # (all of them when the machine is quick)

    # A fresh port for the restart: the killed listen's port is free for any other process (another
    # pytest worker's server) to take meanwhile, and a push to that one would never finish.
    port = free_port()
    process, out, err = _start_listen(limestone, port, "0.5")
    try:
        count, uids = _stored(limestone)
        lost = {uid_of[p] for p in acknowledged} - uids
        assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged instances lost"
        assert count == len(uids)
        # The sender sends everything again: each instance is archived once.
        again = _storescu(port, files)
        assert again.wait(300) == 0, again.communicate()[0][-2000:]
        wait_for(lambda: _stored(limestone)[0] == len(files), 120, "every instance in the store")
    finally:
        assert stop_process(process) == 0, err.text()
    out.wait_for("acknowledged before an earlier listen stopped were committed from its journal", timeout=30)
    count, uids = _stored(limestone)
    assert count == len(uids) == len(files)
    assert not list((limestone.home / "journal").glob("*.jsonl"))


@pytest.fixture(scope="module")
def kill_files(tmp_path_factory):
    studies = make_studies(6, 50, seed=29, series_per_study=2)
    return studies, write_studies(studies, tmp_path_factory.mktemp("kill-files"))


@pytest.fixture
def loaded_pacs(tmp_path, kill_files):
    server = OrthancServer(tmp_path / "orthanc", ae_title="KILLPACS")
    server.start()
    try:
        server.upload(kill_files[1])
        yield server
    finally:
        server.stop()


def test_pull_killed_then_rerun_stores_everything_once(tmp_path, kill_files, loaded_pacs):
    limestone = Limestone(tmp_path / "home", env={"LIMESTONE_DICOM_TIMEOUT": "10"})
    limestone.add_node("pacs", loaded_pacs)
    total = len(kill_files[1])
    process = limestone.popen("pull", "pacs")
    try:
        wait_for(lambda: vault_files(limestone.home) >= 30 or process.poll() is not None, 120,
                 "the first instances in the vault")
        assert process.poll() is None, "the pull ended before it could be killed"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    again = limestone.run("pull", "pacs")
    assert again.returncode == 0, again.stdout + again.stderr
    count, uids = _stored(limestone)
    assert count == len(uids) == total
    assert vault_files(limestone.home) == total


def test_send_killed_then_rerun_delivers_everything_once(tmp_path, kill_files, loaded_pacs):
    sender = Limestone(tmp_path / "home", env={"LIMESTONE_DICOM_TIMEOUT": "10"})
    assert sender("import", str(kill_files[1][0].parent)).returncode == 0
    target = OrthancServer(tmp_path / "target", ae_title="TARGET")
    target.start()
    try:
        sender.add_node("target", target)
        uids = [s.study_uid for s in kill_files[0]]
        process = sender.popen("send", *[a for uid in uids for a in ("--study", uid)], "--to", "target")
        try:
            wait_for(lambda: target.request("GET", "/statistics")["CountInstances"] >= 30
                     or process.poll() is not None, 120, "the send under way", interval=0.05)
            assert process.poll() is None, "the send ended before it could be killed"
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        # The killed send's rows do not stay 'running': the listing sees its process gone.
        log = json.loads(sender.run("transfers", "--json").stdout)
        assert log and not [r for r in log if r["status"] == "running"], log
        interrupted = [r for r in log if r["status"] == "interrupted"]
        assert interrupted and all("send the study again" in r["detail"] for r in interrupted)
        again = sender.run("send", *[a for uid in uids for a in ("--study", uid)], "--to", "target")
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{len(uids)} of {len(uids)} studies sent" in again.stdout
        assert target.request("GET", "/statistics")["CountInstances"] == len(kill_files[1])
        assert len(target.studies()) == len(uids)
    finally:
        target.stop()
