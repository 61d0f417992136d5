"""``limestone send`` to a real Orthanc (byte identity via its REST API) and to dcmtk's storescp
accepting only uncompressed syntaxes (the fallback, said so); a closed port (retries, failure);
in-process SCPs that abort or close the association in the middle of a study (retry with backoff,
the rest go on, the exit status says what failed)."""

from __future__ import annotations

import io
import json
import subprocess
from contextlib import closing
from pathlib import Path

import pydicom
import pytest
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, evt

from archive import state
from archive.audit.trail import events
from tests.support.orthanc_server import OrthancServer, free_port
from tests.support.peers import (
    Limestone,
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

COMPRESSED = {"JPEG2000.dcm", "MR_small_jpeg_ls_lossless.dcm", "SC_rgb_rle.dcm", "JPEG-LL.dcm"}
UNCOMPRESSED = {"CT_small.dcm", "rtdose.dcm"}


@pytest.fixture(scope="module")
def sender(tmp_path_factory):
    """A home with two generated CT studies and real files in several transfer syntaxes."""
    folder = tmp_path_factory.mktemp("send-files")
    studies = make_studies(2, 6, seed=91)
    write_studies(studies, folder / "ct")
    for path in real_files():
        if path.name in COMPRESSED | UNCOMPRESSED:
            (folder / "real").mkdir(exist_ok=True)
            (folder / "real" / path.name).write_bytes(path.read_bytes())
    limestone_cli = Limestone(tmp_path_factory.mktemp("send") / "home",
                          env={"LIMESTONE_SEND_BACKOFF_SECONDS": "0.05", "LIMESTONE_SEND_RETRIES": "2",
                               "LIMESTONE_DICOM_TIMEOUT": "10"})
    result = limestone_cli("import", str(folder))
    assert result.returncode == 0, result.stderr
    real = {p.name: pydicom.dcmread(p, stop_before_pixels=True) for p in (folder / "real").iterdir()}
    return limestone_cli, studies, real


def _originals(limestone_cli: Limestone, study_uid: str) -> dict[str, bytes]:
    archive = limestone_cli.store()
    con = archive.store(read_only=True)
    try:
        rows = con.execute("SELECT sop_instance_uid, content_hash FROM instances WHERE study_instance_uid = ?",
                           [study_uid]).fetchall()
    finally:
        con.close()
    return {uid: archive.vault.get(digest) for uid, digest in rows}


def test_send_to_orthanc_keeps_the_original_bytes(sender, tmp_path):
    limestone_cli, studies, real = sender
    wanted = [s.study_uid for s in studies] + [real[n].StudyInstanceUID for n in ("JPEG2000.dcm", "SC_rgb_rle.dcm",
                                                                                  "MR_small_jpeg_ls_lossless.dcm")]
    wanted = list(dict.fromkeys(wanted))
    with OrthancServer(tmp_path / "orthanc", ae_title="OUTSIDE") as pacs:
        result = limestone_cli("nodes", "add", "outside", "--ae-title", "OUTSIDE", "--host", "127.0.0.1",
                           "--port", str(pacs.dicom_port), "--site", "FARAWAY", "--max-associations", "3")
        assert result.returncode == 0, result.stderr
        result = limestone_cli("send", "--study", *wanted, "--to", "outside", "--user", "tester@example.org", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        outcome = json.loads(result.stdout)
        assert [r["status"] for r in outcome] == ["sent"] * len(wanted)
        assert all(r["converted"] == 0 and r["failed"] == 0 for r in outcome)
        exact, normalised = [], []
        for uid in wanted:
            for sop_uid, original in _originals(limestone_cli, uid).items():
                (found,) = [f for f in pacs.request("POST", "/tools/lookup", sop_uid.encode())
                            if f["Type"] == "Instance"]
                stored = urllib_get(pacs.url + f"/instances/{found['ID']}/file")
                if dataset_bytes(stored) == dataset_bytes(original):
                    exact.append(sop_uid)
                    continue
                # Orthanc (DCMTK) normalises what it stores from a C-STORE: explicit lengths for
                # sequences of undefined length, OB for encapsulated pixel data. The elements, the
                # syntax and the compressed fragments must still be the very same.
                mine, theirs = (pydicom.dcmread(io.BytesIO(d)) for d in (original, stored))
                assert mine.PixelData == theirs.PixelData, f"pixel data changed: {sop_uid}"
                assert [e.tag for e in mine] == [e.tag for e in theirs]
                assert theirs.file_meta.TransferSyntaxUID == mine.file_meta.TransferSyntaxUID
                normalised.append(sop_uid)
        generated = {u for s in studies for u in s.sop_uids}
        assert generated <= set(exact)  # byte for byte
        assert str(real["SC_rgb_rle.dcm"].SOPInstanceUID) in exact
        assert len(normalised) <= 3  # pydicom's JPEG-LS, JPEG 2000 and JPEG-LL files
    home = limestone_cli.home
    from archive.home import Home
    with closing(state.connect(Home(home))) as con:
        log = con.execute("SELECT study_instance_uid, node, destination, user_id, status, sent, instances "
                          "FROM transfers ORDER BY transfer_id").fetchall()
    assert {row[0] for row in log} == set(wanted)
    assert all(row[1] == "outside" and row[3] == "tester@example.org" and row[4] == "sent"
               and row[5] == row[6] > 0 and row[2].startswith("OUTSIDE@127.0.0.1:") for row in log)
    exports = [e for e in events(Home(home)) if e["action"] == "export"]
    assert {e["study_instance_uid"] for e in exports} == set(wanted)
    assert all("sent to node outside" in e["detail"] and e["outcome"] == "success" for e in exports)
    archive = limestone_cli.store()
    con = archive.store(read_only=True)
    try:
        uses = con.execute("SELECT study_instance_uid, kind, site FROM prior_use_events").fetchall()
    finally:
        con.close()
    assert {u[0] for u in uses} == set(wanted) and {(u[1], u[2]) for u in uses} == {("retrieved", "FARAWAY")}


def urllib_get(url: str) -> bytes:
    import urllib.request
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.read()


def test_storescp_refusing_compressed_syntaxes_gets_converted_copies(sender, tmp_path):
    require_dcmtk("storescp")
    limestone_cli, studies, real = sender
    target = tmp_path / "received"
    target.mkdir()
    port = free_port()
    # storescp's default: uncompressed transfer syntaxes only; +B keeps the bytes as received.
    scp = subprocess.Popen(["storescp", "-aet", "SMALLSCP", "+B", "-od", str(target), str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dcmtk_env())
    try:
        wait_for(lambda: port_open(port), 30, "storescp to listen")
        assert limestone_cli("nodes", "add", "small", "--ae-title", "SMALLSCP", "--host", "127.0.0.1",
                         "--port", str(port)).returncode == 0
        uids = [real["JPEG2000.dcm"].StudyInstanceUID, real["CT_small.dcm"].StudyInstanceUID]
        result = limestone_cli("send", "--study", *uids, "--to", "small")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "converted" in result.stdout and "refused JPEG 2000 Image Compression" in result.stdout
        expected = sum(len(_originals(limestone_cli, u)) for u in uids)
        wait_for(lambda: len(list(target.iterdir())) >= expected, 30, "storescp's files")
    finally:
        stop_process(scp)
    received = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in target.iterdir()}
    ct = real["CT_small.dcm"]
    original = _originals(limestone_cli, ct.StudyInstanceUID)[str(ct.SOPInstanceUID)]
    assert dataset_bytes(received[str(ct.SOPInstanceUID)].read_bytes()) == dataset_bytes(original)
    j2k = pydicom.dcmread(received[str(real["JPEG2000.dcm"].SOPInstanceUID)])
    assert not j2k.file_meta.TransferSyntaxUID.is_compressed
    source = pydicom.dcmread(Path([p for p in real_files() if p.name == "JPEG2000.dcm"][0]))
    assert (j2k.pixel_array == source.pixel_array).all()  # same image, another encoding


def test_closed_port_is_retried_then_fails_clearly(sender):
    limestone_cli, studies, _ = sender
    port = free_port()
    assert limestone_cli("nodes", "add", "gone", "--ae-title", "GONE", "--host", "127.0.0.1",
                     "--port", str(port)).returncode == 0
    result = limestone_cli("send", "--study", studies[0].study_uid, "1.2.3.4.5.404", "--to", "gone")
    assert result.returncode == 1
    assert "cannot connect" in result.stderr and "attempt 3" in result.stderr
    assert "no such study in the archive" in result.stderr
    assert "0 of 2 studies sent" in result.stdout
    assert limestone_cli("send", "--study", "1.2", "--to", "nowhere").returncode == 2



@pytest.fixture
def dropping_peer():
    """In-process storage SCPs that drop the association when ``drop(sop_uid, stored_so_far)`` says so.

    ``how`` is "abort" (an A-ABORT, as a peer that gives up) or "close" (the TCP connection just
    closes, as a peer that crashes). Every server started is shut down after the test.
    """
    servers = []

    def start(drop, how: str = "abort"):
        received: list[str] = []
        on_association: list[int] = []

        def handle_store(event):
            sop = str(event.request.AffectedSOPInstanceUID)
            if drop(sop, len(on_association)):
                if how == "abort":
                    event.assoc.abort()
                else:
                    event.assoc.dul.socket.close()
                return 0xA700
            received.append(sop)
            on_association.append(1)
            return 0x0000

        def handle_open(event):
            on_association.clear()

        ae = AE(ae_title="DROPPER")
        for context in StoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        port = free_port()
        servers.append(ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[
            (evt.EVT_C_STORE, handle_store), (evt.EVT_ESTABLISHED, handle_open)]))
        return port, received

    yield start
    for server in servers:
        server.shutdown()


def test_association_aborted_mid_study_is_retried_and_the_study_completes(sender, dropping_peer):
    limestone_cli, studies, _ = sender
    study = studies[0]
    dropped = []

    def first_association_at_third_instance(sop, stored):
        if not dropped and stored == 2:
            dropped.append(sop)
            return True
        return False

    port, received = dropping_peer(first_association_at_third_instance, how="abort")
    assert limestone_cli("nodes", "add", "flaky", "--ae-title", "DROPPER", "--host", "127.0.0.1",
                     "--port", str(port)).returncode == 0
    result = limestone_cli("send", "--study", study.study_uid, "--to", "flaky")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"study {study.study_uid}: sent, {study.instances}/{study.instances} instances to flaky in 2 attempt(s)" \
        in result.stdout
    assert "problem: attempt 1: node flaky (DROPPER@127.0.0.1" in result.stderr
    assert ("the node aborted the association during the send (after 2 of "
            f"{study.instances} instances of this attempt)") in result.stderr
    assert sorted(received) == sorted(study.sop_uids)          # each instance stored once, none lost
    (row,) = [t for t in _transfers(limestone_cli) if t["node"] == "flaky"]
    assert row["status"] == "sent" and row["attempts"] == 2 and row["sent"] == study.instances


def test_connection_dropped_at_one_instance_fails_that_study_and_the_rest_go_on(sender, dropping_peer):
    limestone_cli, studies, _ = sender
    poison = studies[0].sop_uids[3]                              # the peer crashes on this one, every time
    port, received = dropping_peer(lambda sop, stored: sop == poison, how="close")
    assert limestone_cli("nodes", "add", "crashing", "--ae-title", "DROPPER", "--host", "127.0.0.1",
                     "--port", str(port), "--max-associations", "2").returncode == 0
    result = limestone_cli("send", "--study", studies[0].study_uid, studies[1].study_uid, "--to", "crashing")
    assert result.returncode == 1, result.stdout + result.stderr
    total = studies[0].instances
    assert f"study {studies[0].study_uid}: partial, {total - 1}/{total} instances to crashing in 3 attempt(s)" \
        in result.stdout
    assert f"study {studies[1].study_uid}: sent" in result.stdout
    for attempt in (1, 2, 3):
        assert f"problem: attempt {attempt}: node crashing (DROPPER@127.0.0.1" in result.stderr
    assert "connection was closed during the send" in result.stderr
    assert "send: 1 of 2 studies sent" in result.stdout and "1 failed or incomplete" in result.stdout
    assert set(received) == (set(studies[0].sop_uids) - {poison}) | set(studies[1].sop_uids)
    assert len(received) == len(set(received))                   # nothing sent twice


def test_retries_back_off_and_only_the_unsent_instances_go_again(sender, dropping_peer):
    from archive.network.nodes import Node
    from archive.network.send import StudySend, StudySender, study_items
    limestone_cli, studies, _ = sender
    study = studies[1]
    poison = study.sop_uids[-1]
    port, received = dropping_peer(lambda sop, stored: sop == poison, how="abort")
    archive = limestone_cli.store()
    con = archive.store(read_only=True)
    try:
        items = study_items(con, study.study_uid)
    finally:
        con.close()
    waits: list[float] = []
    sender_ = StudySender(Node("x", "DROPPER", "127.0.0.1", port), "LIMESTONE", archive.vault,
                          timeout=10, retries=3, backoff=0.5, sleep=waits.append)
    result = sender_.send(StudySend(study.study_uid, "x"), items)
    assert waits == [0.5, 1.0, 2.0]                                # doubling, one wait before each retry
    assert result.status == "partial" and result.attempts == 4 and result.sent == study.instances - 1
    assert result.failed == 1 and len(result.problems) == 4
    assert sorted(received) == sorted(set(study.sop_uids) - {poison})   # the stored ones were not sent again


def _transfers(limestone_cli) -> list[dict]:
    from archive.network.send import transfers
    return transfers(limestone_cli.store().home)
