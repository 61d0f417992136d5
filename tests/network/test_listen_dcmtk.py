"""``limestone listen`` receiving from dcmtk (storescu, dcmsend), and our C-MOVE request checked
against dcmtk's storescp as the move destination."""

from __future__ import annotations

import io
import subprocess

import pydicom
import pytest
from pynetdicom.presentation import build_context

from archive.network import associate
from archive.network.nodes import Node
from archive.network.retrieve import MOVE_MODEL, final_answer, retrieve_identifier
from tests.support.browse_table_check import assert_browse_table_current
from tests.support.orthanc_server import free_port
from tests.support.peers import (
    Limestone,
    Lines,
    archive_counts,
    dataset_bytes,
    dcmtk_env,
    port_open,
    real_files,
    require_dcmtk,
    stop_process,
    wait_for,
)
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration

COMPRESSED = ["JPEG2000.dcm", "SC_rgb_rle.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPEG-LL.dcm",
              "SC_rgb_jpeg_dcmtk.dcm"]


def start_listen(limestone_cli: Limestone, port: int):
    process = limestone_cli.popen("listen", "--port", str(port), "--ae-title", "LIMESTONE",
                              env={"LIMESTONE_LISTEN_FLUSH_SECONDS": "0.5"})
    out = Lines(process.stdout)
    err = Lines(process.stderr)
    try:
        out.wait_for("listening as 'LIMESTONE'", timeout=60)
    except AssertionError:
        stop_process(process)
        raise AssertionError(f"listen did not start: {err.text()}") from None
    return process, out, err


def push(tool: str, port: int, paths, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool, "-v", "-aet", "MODALITY", "-aec", "LIMESTONE", *options,
                           "127.0.0.1", str(port), *map(str, paths)],
                          capture_output=True, text=True, env=dcmtk_env(), timeout=120)


def test_push_with_storescu_and_dcmsend_then_stop(tmp_path):
    require_dcmtk("storescu", "dcmsend")
    limestone_cli = Limestone(tmp_path / "home")
    studies = make_studies(2, 5, seed=21)
    files = write_studies(studies, tmp_path / "files")
    compressed = [p for p in real_files() if p.name in COMPRESSED]
    port = free_port()
    process, out, err = start_listen(limestone_cli, port)
    try:
        sent = push("storescu", port, files)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        # dcmsend proposes each file's own (compressed) transfer syntax
        sent = push("dcmsend", port, compressed, "-dn")  # never decompress: send as stored
        assert sent.returncode == 0, sent.stdout + sent.stderr
        # Rows reach the store while listen keeps running (flushed within listen_flush_seconds).
        wait_for(lambda: archive_counts(limestone_cli.home)[0] == len(files) + len(compressed), 60,
                 "the pushed instances in the store")
    finally:
        code = stop_process(process)
    assert code == 0, err.text()
    assert f"{len(files) + len(compressed)} instances received" in out.text()

    archive = limestone_cli.store()
    con = archive.store(read_only=True)
    try:
        rows = dict(con.execute("SELECT sop_instance_uid, content_hash FROM instances").fetchall())
        run = con.execute("SELECT kind, status, imported FROM ingest_runs").fetchone()
        assert_browse_table_current(con)
    finally:
        con.close()
    assert run == ("listen", "ok", len(files) + len(compressed))
    for path in [*files, *compressed]:
        original = path.read_bytes()
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        kept = archive.vault.get(rows[uid])
        if path in files:
            assert dataset_bytes(kept) == dataset_bytes(original)
        else:
            a, b = pydicom.dcmread(io.BytesIO(original)), pydicom.dcmread(io.BytesIO(kept))
            assert a.file_meta.TransferSyntaxUID == b.file_meta.TransferSyntaxUID
            assert a.PixelData == b.PixelData


def test_sigterm_during_a_push_loses_no_acknowledged_instance(tmp_path):
    require_dcmtk("storescu")
    limestone_cli = Limestone(tmp_path / "home")
    files = write_studies(make_studies(1, 300, seed=22), tmp_path / "files")
    port = free_port()
    process, out, err = start_listen(limestone_cli, port)
    sender = subprocess.Popen(["storescu", "-v", "-aet", "MODALITY", "-aec", "LIMESTONE", "127.0.0.1",
                               str(port), *map(str, files)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=dcmtk_env())
    sender_out = Lines(sender.stdout)
    try:
        wait_for(lambda: sender_out.text().count("Received Store Response (Success)") >= 10, 60,
                 "the first acknowledged instances")
        code = stop_process(process)
        sender.wait(120)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
        stop_process(process)
    sender_out.thread.join(10)
    acknowledged = sender_out.text().count("Received Store Response (Success)")
    assert code == 0, err.text()
    stored, vault_files = archive_counts(limestone_cli.home)
    assert acknowledged >= 10
    assert stored >= acknowledged and stored == vault_files
    assert "instances received" in out.text()


def test_c_move_request_to_storescp(pacs, generated, storescp_port, tmp_path):
    """Our C-MOVE request moves a study from Orthanc to dcmtk's storescp (known to Orthanc)."""
    require_dcmtk("storescp")
    target = tmp_path / "received"
    target.mkdir()
    scp = subprocess.Popen(["storescp", "-aet", "STORESCP", "+B", "-od", str(target), str(storescp_port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dcmtk_env())
    study = generated[0][2]
    node = Node("pacs", pacs.ae_title, "127.0.0.1", pacs.dicom_port)
    try:
        wait_for(lambda: port_open(storescp_port), 30, "storescp to listen")
        assoc = associate(node, "LIMESTONE", [build_context(MOVE_MODEL)], timeout=20)
        try:
            answer = final_answer(assoc.send_c_move(retrieve_identifier(study.study_uid, "STUDY"),
                                                    "STORESCP", MOVE_MODEL))
        finally:
            assoc.release()
        assert answer.status == 0x0000 and answer.failed == 0
        wait_for(lambda: len(list(target.iterdir())) == study.instances, 30, "storescp's files")
    finally:
        stop_process(scp)
    received = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in target.iterdir()}
    assert received == set(study.sop_uids)
