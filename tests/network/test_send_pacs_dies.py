"""``limestone send`` against a real PACS that dies mid-send (issue 17, item 11): Orthanc frozen
with SIGSTOP and resumed with SIGCONT, or killed and started again. The send says so plainly,
naming the node, never hangs on the frozen peer (every DICOM timeout is set), and its retries
complete the study: every instance reaches Orthanc, once."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.orthanc_server import OrthancServer
from tests.support.peers import Limestone, Lines, wait_for
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration

INSTANCES = 300


@pytest.fixture(scope="module")
def one_study(tmp_path_factory):
    studies = make_studies(1, INSTANCES, seed=57)
    folder = tmp_path_factory.mktemp("dies-files")
    write_studies(studies, folder, size=128)
    limestone = Limestone(tmp_path_factory.mktemp("dies") / "home",
                          env={"LIMESTONE_DICOM_TIMEOUT": "3", "LIMESTONE_SEND_RETRIES": "6",
                               "LIMESTONE_SEND_BACKOFF_SECONDS": "1"})
    assert limestone("import", str(folder)).returncode == 0
    return limestone, studies[0].study_uid


@pytest.fixture
def pacs(tmp_path):
    server = OrthancServer(tmp_path / "orthanc", ae_title="DYINGPACS")
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


def _instances(pacs: OrthancServer) -> int:
    return pacs.request("GET", "/statistics", timeout=10)["CountInstances"]


def _send(limestone: Limestone, study_uid: str, pacs: OrthancServer):
    limestone.add_node("dying", pacs, "--replace")
    process = limestone.popen("send", "--study", study_uid, "--to", "dying")
    return process, Lines(process.stdout), Lines(process.stderr)


def test_frozen_pacs_is_reported_and_the_retry_completes(one_study, pacs):
    limestone, study_uid = one_study
    process, out, err = _send(limestone, study_uid, pacs)
    wait_for(lambda: _instances(pacs) >= 20, 120, "the send under way", interval=0.05)
    os.kill(pacs.process.pid, signal.SIGSTOP)
    time.sleep(8)                          # longer than the DICOM timeout: the attempt must give up
    assert process.poll() is None          # still retrying, not finished
    os.kill(pacs.process.pid, signal.SIGCONT)
    assert process.wait(180) == 0, out.text() + err.text()
    where = f"node dying (DYINGPACS@127.0.0.1:{pacs.dicom_port})"
    assert f"problem: attempt 1: {where}: the node did not answer in time during the send" in err.text()
    assert f"{where}: no answer to our association request within 3 s" in err.text()
    assert "1 of 1 studies sent" in out.text()
    assert _instances(pacs) == INSTANCES


def test_pacs_killed_and_restarted_mid_send(one_study, pacs):
    limestone, study_uid = one_study
    process, out, err = _send(limestone, study_uid, pacs)
    wait_for(lambda: _instances(pacs) >= 20, 120, "the send under way", interval=0.05)
    pacs.kill()
    time.sleep(2)
    pacs.start()
    assert process.wait(180) == 0, out.text() + err.text()
    assert f"node dying (DYINGPACS@127.0.0.1:{pacs.dicom_port})" in err.text()
    assert "1 of 1 studies sent" in out.text()
    assert _instances(pacs) == INSTANCES
