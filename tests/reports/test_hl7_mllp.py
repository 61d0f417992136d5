"""``limestone listen --hl7-port``: HL7 v2 ORU^R01 over a real MLLP socket, answered ACK/NAK;
report before study and study before report; a malformed message NAKed and kept for review."""

from __future__ import annotations

import json
import socket

import pydicom
import pytest
from pydicom.uid import generate_uid

from archive.reports import inbox
from tests.support.hl7_messages import oru
from tests.support.orthanc_server import free_port
from tests.support.peers import Limestone, Lines, stop_process
from tests.support.samples import pydicom_file

pytestmark = pytest.mark.integration


class MllpClient:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buffer = b""

    def send(self, message: str | bytes, framed: bool = True) -> str:
        data = message.encode() if isinstance(message, str) else message
        self.sock.sendall(b"\x0b" + data + b"\x1c\r" if framed else data + b"\x1c\r")
        while b"\x1c\r" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection without an acknowledgement")
            self.buffer += chunk
        block, _, self.buffer = self.buffer.partition(b"\x1c\r")
        assert block.startswith(b"\x0b")
        return block[1:].decode()

    def close(self) -> None:
        self.sock.close()


def _msa(ack: str) -> list[str]:
    return next(line for line in ack.split("\r") if line.startswith("MSA")).split("|")


def _ct(folder, accession: str) -> str:
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.AccessionNumber, ds.PatientID, ds.PatientName = accession, "FAKE-0001", "FAKE^PATIENT"
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / f"{accession}.dcm", enforce_file_format=True)
    return ds.StudyInstanceUID


def test_mllp_listener_acks_files_and_naks(tmp_path):
    limestone = Limestone(tmp_path / "home")
    early = _ct(tmp_path / "early", "FAKE-ACC-EARLY")      # the study is archived before its report
    assert limestone("import", str(tmp_path / "early")).returncode == 0
    late = _ct(tmp_path / "late", "FAKE-ACC-LATE")          # this one arrives after its report
    hl7_port = free_port()
    process = limestone.popen("listen", "--port", str(free_port()), "--hl7-port", str(hl7_port))
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        out.wait_for("listening for HL7 (MLLP) on port", timeout=90)
        client = MllpClient(hl7_port)
        try:
            answers = [
                client.send(oru("FAKE-L1", "FAKE-ACC-LATE", "Preliminary: small effusion.", "P",
                                when="20240102100000")),
                client.send(oru("FAKE-L2", "FAKE-ACC-LATE", "Final: small left pleural effusion.", "F",
                                when="20240102110000")),
                client.send(oru("FAKE-E1", "FAKE-ACC-EARLY", "Final: normal study.", "F")),
                client.send(oru("FAKE-E2", "FAKE-ACC-EARLY", "Amended: 4 mm nodule.", "C",
                                when="20240103090000")),
                client.send(oru("FAKE-BAD", "FAKE-ACC-EARLY", "x", status="")),        # no status
                client.send(oru("FAKE-ADT", "FAKE-ACC-EARLY", message_type="ADT^A08")),  # wrong type
                client.send("MSH|^~\\&|X", framed=False),                                 # no <VT>
                client.send(oru("FAKE-E3", "FAKE-ACC-EARLY", "Still answered after the bad ones.", "C",
                                when="20240104090000")),
            ]
        except ConnectionError:
            raise AssertionError(f"connection closed; listener said: {err.text()}") from None
        finally:
            client.close()
        codes = [_msa(a)[1] for a in answers]
        assert codes == ["AA", "AA", "AA", "AA", "AE", "AR", "AR", "AA"]
        assert _msa(answers[0])[2] == "FAKE-L1" and _msa(answers[7])[2] == "FAKE-E3"
        assert "no result status" in _msa(answers[4])[3] and "ERR|" in answers[4]
        assert "unsupported message type ADT A08" in _msa(answers[5])[3]
        assert "not an MLLP block" in _msa(answers[6])[3]
        # the study of the first two reports arrives while the listener runs
        assert limestone("import", str(tmp_path / "late")).returncode == 0
    finally:
        code = stop_process(process)
    assert code == 0, err.text()
    assert "Traceback" not in err.text(), err.text()
    assert "HL7: 7 messages (5 accepted, 2 rejected and kept for review)" in out.text()

    shown = json.loads(limestone("reports", "show", late, "--json", "--history").stdout)["reports"]
    assert [(r["status"], r["is_current"]) for r in shown] == [("final", True), ("preliminary", False)]
    assert shown[0]["text"] == "Final: small left pleural effusion."
    current = json.loads(limestone("reports", "show", early, "--json").stdout)["reports"]
    assert [r["text"] for r in current] == ["Still answered after the bad ones."]
    queued = inbox.review_queue(limestone.store().home)
    assert [q["outcome"] for q in queued] == ["rejected", "rejected"]
    assert any("no result status" in q["reason"] for q in queued)
    assert all(q["source"].startswith("mllp 127.0.0.1") for q in queued)
