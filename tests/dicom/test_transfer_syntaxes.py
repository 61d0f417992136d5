"""Retired, private and unknown transfer syntaxes: imported and received byte for byte, refused in
negotiation only when nobody knows them, and "cannot be displayed" in the viewer, never a crash."""

from __future__ import annotations

import io
import threading
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import UID, generate_uid, register_transfer_syntax
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from archive.dicom import pixels
from archive.home import Archive
from archive.ingest.run import import_paths
from archive.network.storage import start_storage_scp
from tests.support.orthanc_server import free_port
from tests.support.samples import pydicom_file

SYNTAXES = {
    "retired JPEG extended": "1.2.840.10008.1.2.4.52",
    "retired JPEG spectral selection": "1.2.840.10008.1.2.4.53",
    "GE private big endian": "1.2.840.113619.5.2",
    "unknown private": "1.2.3.4.5.6.7.8.9",
}


def _file(syntax: str) -> bytes:
    """CT_small with a fresh UID, declared as ``syntax`` (compressed ones get an encapsulated frame)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = syntax
        if UID(syntax).is_transfer_syntax and UID(syntax).is_compressed:
            ds.PixelData = encapsulate([b"\xff\xd8 a frame no decoder here reads \xff\xd9"])
            ds["PixelData"].VR = "OB"
        out = io.BytesIO()
        ds.save_as(out, implicit_vr=False, little_endian=True)
    return out.getvalue()


@pytest.mark.parametrize("case", sorted(SYNTAXES))
def test_import_keeps_the_bytes_and_the_viewer_says_cannot_be_displayed(tmp_path, case):
    data = _file(SYNTAXES[case])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "odd.dcm").write_bytes(data)
    archive = Archive.load(home=str(tmp_path / "home"))

    summary = import_paths(archive, [tmp_path / "in"], workers=1)

    assert (summary.imported, summary.quarantined, summary.failed) == (1, 0, 0)
    con = archive.store(read_only=True)
    try:
        digest, syntax = con.execute("SELECT content_hash, transfer_syntax_uid FROM instances").fetchone()
    finally:
        con.close()
    assert syntax == SYNTAXES[case]
    stored = archive.vault.get(digest)
    assert stored == data
    with pytest.raises(pixels.NotDisplayable, match="cannot be displayed"):
        pixels.render(stored)
    with pytest.raises(pixels.NotDisplayable):
        pixels.thumbnail(stored)


@pytest.fixture
def scp():
    received: list[bytes] = []
    lock = threading.Lock()

    def receive(data: bytes, calling: str) -> int:
        with lock:
            received.append(data)
        return 0x0000

    port = free_port()
    server = start_storage_scp("LIMESTONE", port, receive, bind="127.0.0.1", timeout=10)
    yield port, received
    server.shutdown()


def _send(port: int, syntax: str, path: Path | None):
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(CTImageStorage, syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title="LIMESTONE")
    if not assoc.is_established:   # no context accepted: the association is rejected
        return [], None
    try:
        accepted = [c.transfer_syntax[0] for c in assoc.accepted_contexts]
        status = assoc.send_c_store(path) if accepted and path is not None else None
    finally:
        assoc.release()
    return accepted, status


PHILIPS_PRIVATE = "1.3.46.670589.33.1.4.1"   # Philips private explicit VR little endian


def test_listen_negotiates_a_known_private_syntax(scp):
    # pynetdicom cannot send in a private syntax; the negotiation is what decides acceptance.
    port, _ = scp
    accepted, _ = _send(port, PHILIPS_PRIVATE, None)
    assert accepted == [PHILIPS_PRIVATE]


@pytest.mark.parametrize("syntax", [SYNTAXES["retired JPEG extended"], SYNTAXES["retired JPEG spectral selection"]])
def test_listen_accepts_retired_syntaxes_byte_for_byte(tmp_path, scp, syntax):
    port, received = scp
    register_transfer_syntax(syntax, False, True)   # the sending modality knows its own syntax's encoding
    data = _file(syntax)
    path = tmp_path / "odd.dcm"
    path.write_bytes(data)

    accepted, status = _send(port, syntax, path)

    assert accepted == [syntax]
    assert status is not None and status.Status == 0x0000
    (kept,) = received
    dataset_start = data.index(b"\x08\x00", 132 + 12 + int.from_bytes(data[140:144], "little"))
    assert kept.endswith(data[dataset_start:])   # the sender's dataset bytes, unchanged


def test_listen_refuses_an_unknown_syntax_in_negotiation_without_crashing(tmp_path, scp):
    port, received = scp
    path = tmp_path / "odd.dcm"
    path.write_bytes(_file(SYNTAXES["unknown private"]))

    accepted, status = _send(port, SYNTAXES["unknown private"], path)

    assert accepted == [] and status is None and received == []
    # and the listener still takes the next, ordinary association
    ok_path = tmp_path / "ok.dcm"
    ok_path.write_bytes(_file("1.2.840.10008.1.2.1"))
    accepted, status = _send(port, "1.2.840.10008.1.2.1", ok_path)
    assert status.Status == 0x0000 and len(received) == 1
