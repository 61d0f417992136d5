"""Faults during a pull against a real Orthanc: a closed port, an unknown AE title, a PACS that
dies mid-transfer and one that stops answering. Each gives a clear error naming the node and the
study, the run carries on and exits 1, nothing received is lost, and a rerun completes the rest."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.orthanc_server import OrthancServer, free_port
from tests.support.peers import Lines, archive_counts, vault_files, wait_for
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration

STUDIES, PER_STUDY = 10, 40


@pytest.fixture(scope="module")
def fault_files(tmp_path_factory):
    studies = make_studies(STUDIES, PER_STUDY, seed=31, series_per_study=2)
    return studies, write_studies(studies, tmp_path_factory.mktemp("fault-files"))


@pytest.fixture
def fault_pacs(tmp_path, fault_files, move_port):
    """A strict Orthanc of its own (only LIMESTONE may call), which the test may kill or freeze."""
    server = OrthancServer(tmp_path / "orthanc", strict=True,
                           modalities={"limestone": ["LIMESTONE", "127.0.0.1", move_port]})
    server.start()
    try:
        server.upload(fault_files[1])
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)  # in case a test left it stopped
        server.stop()


def test_closed_port_and_unknown_ae_title(limestone_cli, fault_pacs):
    port = free_port()
    assert limestone_cli("nodes", "add", "gone", "--ae-title", "GONE", "--host", "127.0.0.1",
                     "--port", str(port)).returncode == 0
    result = limestone_cli("pull", "gone")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"limestone pull: node gone (GONE@127.0.0.1:{port}): cannot connect "
                                     "(host down, port closed or no answer within 10 s)")
    limestone_cli.add_node("strict", fault_pacs)
    result = limestone_cli("pull", "strict", env={"LIMESTONE_AE_TITLE": "STRANGER"})
    assert result.returncode == 1
    # Orthanc rejects the association and closes the connection at once: depending on which of
    # the two the toolkit sees first, it is a rejection with its reason or an abort. Both name the
    # node and the AE title it does not know.
    where = f"node strict (ORTHANC@127.0.0.1:{fault_pacs.dicom_port}): association "
    assert (where + "rejected (Calling AE title not recognised)" in result.stderr
            or where + "aborted by the node; check that the node knows our AE title 'STRANGER'" in result.stderr)
    assert "'STRANGER'" in result.stderr


def _pull_until_some_arrive(limestone_cli, name: str, env: dict | None = None):
    process = limestone_cli.popen("pull", name, env=env)
    out, err = Lines(process.stdout), Lines(process.stderr)
    wait_for(lambda: vault_files(limestone_cli.home) >= 20 or process.poll() is not None, 120,
             "the first instances in the vault")
    assert process.poll() is None, f"the pull ended before the fault could be made: {out.text()}"
    return process, out, err


def _finish(process, out, err, timeout=120) -> int:
    code = process.wait(timeout)
    out.thread.join(10)
    err.thread.join(10)
    return code


def _resume_and_check(limestone_cli, received_before: int) -> None:
    again = limestone_cli("pull", "strict")
    report = f"{again.stdout}\n{again.stderr}"
    assert again.returncode == 0, report
    assert f"{STUDIES * PER_STUDY - received_before:,} received" in again.stdout, report
    stored, files = archive_counts(limestone_cli.home)
    assert stored == files == STUDIES * PER_STUDY, f"stored {stored}, vault {files}\n{report}"


def test_pacs_dies_mid_pull_then_rerun_completes(limestone_cli, fault_pacs):
    limestone_cli.add_node("strict", fault_pacs, "--max-associations", "2")
    process, out, err = _pull_until_some_arrive(limestone_cli, "strict")
    fault_pacs.kill()
    code = _finish(process, out, err)
    report = f"exit {code}\n{out.text()}\n{err.text()}"
    assert code == 1, report
    errors = [line for line in err.lines if line.startswith("limestone pull: node strict (ORTHANC@")]
    assert errors and all(": study 1.2.826.0.1.3680043.10.1187." in line for line in errors), report
    # Everything that arrived before the PACS died is in the vault and in the store.
    stored, files = archive_counts(limestone_cli.home)
    assert 20 <= stored == files < STUDIES * PER_STUDY, f"stored {stored}, vault {files}\n{report}"
    fault_pacs.start()
    _resume_and_check(limestone_cli, stored)


def test_pacs_stops_answering_mid_transfer(limestone_cli, fault_pacs):
    limestone_cli.add_node("strict", fault_pacs, "--max-associations", "2")
    process, out, err = _pull_until_some_arrive(limestone_cli, "strict", env={"LIMESTONE_DICOM_TIMEOUT": "3"})
    os.kill(fault_pacs.process.pid, signal.SIGSTOP)
    started = time.monotonic()
    try:
        code = _finish(process, out, err, timeout=180)
    finally:
        os.kill(fault_pacs.process.pid, signal.SIGCONT)
    print(f"pull gave up {time.monotonic() - started:.1f} s after the node froze")
    report = f"exit {code}\n{out.text()}\n{err.text()}"
    assert code == 1, report
    assert "the node stopped answering" in err.text() or "no answer" in err.text(), report
    stored, files = archive_counts(limestone_cli.home)
    assert stored == files < STUDIES * PER_STUDY, f"stored {stored}, vault {files}\n{report}"
    _resume_and_check(limestone_cli, stored)
