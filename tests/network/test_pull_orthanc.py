"""``limestone nodes`` and ``limestone pull`` against a real Orthanc (C-ECHO, C-FIND, C-GET, C-MOVE)."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import pydicom
import pytest
from pynetdicom.presentation import build_context

from archive.network import associate
from archive.network.nodes import Node
from archive.network.query import FIND_MODEL, StudyFilter, find_studies
from archive.network.retrieve import GetSession, StudyJob
from tests.support.browse_table_check import assert_browse_table_current
from tests.support.peers import dataset_bytes, real_files

pytestmark = pytest.mark.integration


def originals(generated) -> dict[str, bytes]:
    """SOP Instance UID -> file bytes of every file loaded into the session's Orthanc."""
    return {str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID): path.read_bytes()
            for path in [*generated[1], *real_files()]}


def archived(limestone_cli) -> dict[str, bytes]:
    """SOP Instance UID -> file bytes of what the archive's vault holds."""
    archive = limestone_cli.store()
    con = archive.store(read_only=True)
    try:
        rows = con.execute("SELECT sop_instance_uid, content_hash FROM instances").fetchall()
    finally:
        con.close()
    return {uid: archive.vault.get(digest) for uid, digest in rows}


def assert_same_instance(sent: bytes, kept: bytes, strict: bool) -> None:
    """``kept`` holds ``sent``'s pixel data byte for byte, in the same transfer syntax.

    Our generated files are well-formed, so every byte after the file meta must match
    (``strict``). DCMTK inside Orthanc normalises a few header details of pydicom's odd test
    files when it sends them (drops trailing padding, writes OB for encapsulated pixel data),
    so for those the transfer syntax and the raw pixel data are compared.
    """
    if strict:
        assert dataset_bytes(kept) == dataset_bytes(sent)
        return
    a, b = pydicom.dcmread(io.BytesIO(sent)), pydicom.dcmread(io.BytesIO(kept))
    assert a.file_meta.TransferSyntaxUID == b.file_meta.TransferSyntaxUID
    if "PixelData" in a:
        assert a.PixelData == b.PixelData


def study_rows(limestone_cli):
    con = limestone_cli.store().store(read_only=True)
    try:
        return {row[0]: row[1:] for row in con.execute(
            "SELECT study_instance_uid, retrieve_status, number_of_instances, remote_instances, source_node "
            "FROM studies").fetchall()}
    finally:
        con.close()


def test_nodes_add_list_echo_remove(limestone_cli, pacs):
    limestone_cli.add_node("north", pacs, "--site", "NORTH", "--max-associations", "3")
    listed = json.loads(limestone_cli("nodes", "list", "--json").stdout)
    assert listed == [{"name": "north", "ae_title": "ORTHANC", "host": "127.0.0.1", "port": pacs.dicom_port,
                       "site": "NORTH", "retrieve_method": "get", "max_associations": 3,
                       "url": None, "auth": "none", "max_connections": 4}]
    echo = limestone_cli("nodes", "echo", "north")
    assert echo.returncode == 0 and "C-ECHO ok" in echo.stdout
    again = limestone_cli("nodes", "add", "north", "--ae-title", "X", "--host", "h", "--port", "1")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert limestone_cli("nodes", "remove", "north").returncode == 0
    missing = limestone_cli("nodes", "echo", "north")
    assert missing.returncode == 2 and "no node named 'north'" in missing.stderr


def test_c_find_windows(pacs, generated):
    node = Node("pacs", pacs.ae_title, "127.0.0.1", pacs.dicom_port)
    studies = generated[0]
    assoc = associate(node, "LIMESTONE", [build_context(FIND_MODEL)])
    try:
        def uids(**kw):
            found, problems = find_studies(assoc, node, StudyFilter(**kw))
            assert problems == []
            return {s.study_uid for s in found}

        generated_uids = {s.study_uid for s in studies}
        assert uids(since=date(2024, 1, 1), until=date(2024, 1, 31)) == generated_uids
        assert uids(since=date(2024, 1, 2), until=date(2024, 1, 3)) == {s.study_uid for s in studies[1:3]}
        assert uids(since=date(2024, 1, 4)) >= {studies[3].study_uid}
        assert uids(until=date(2023, 12, 31)).isdisjoint(generated_uids)
        assert uids(study_uid=studies[2].study_uid) == {studies[2].study_uid}
        assert uids(patient_id=studies[1].patient_id) == {studies[1].study_uid}
        ct = uids(modality="CT")
        assert generated_uids <= ct and len(ct) < len(uids())
        everything, _ = find_studies(assoc, node, StudyFilter())
        counts = {s.study_uid: s.remote_instances for s in everything}
        assert all(counts[s.study_uid] == 12 for s in studies)
    finally:
        assoc.release()


def test_metadata_only_then_get_then_incremental(limestone_cli, pacs, generated):
    limestone_cli.add_node("pacs", pacs, "--site", "NORTH")
    meta = limestone_cli("pull", "pacs", "--metadata-only")
    assert meta.returncode == 0, meta.stderr
    rows = study_rows(limestone_cli)
    assert set(rows) >= {s.study_uid for s in generated[0]}
    assert {r[0] for r in rows.values()} == {"not retrieved"}
    assert rows[generated[0][0].study_uid][1:] == (0, 12, "pacs")
    con = limestone_cli.store().store(read_only=True)
    try:
        series = con.execute("SELECT count(*), count(*) FILTER (retrieve_status = 'not retrieved') "
                             "FROM series").fetchone()
        instances = con.execute("SELECT count(*) FROM instances").fetchone()[0]
        assert_browse_table_current(con)
    finally:
        con.close()
    assert series[0] == series[1] >= 8 and instances == 0

    pull = limestone_cli.run("pull", "pacs")  # the real command, as a subprocess
    assert pull.returncode == 0, pull.stderr
    want = originals(generated)
    got = archived(limestone_cli)
    assert set(got) == set(want)
    generated_uids = {sop for study in generated[0] for sop in study.sop_uids}
    for uid, data in want.items():
        assert_same_instance(data, got[uid], strict=uid in generated_uids)
    rows = study_rows(limestone_cli)
    assert {r[0] for r in rows.values()} == {"complete"}
    assert "0 failed" in pull.stdout
    con = limestone_cli.store().store(read_only=True)
    try:
        assert_browse_table_current(con)
    finally:
        con.close()

    # Nothing new: an explicit window over everything finds all studies already complete.
    again = limestone_cli("pull", "pacs", "--since", "1990-01-01")
    assert again.returncode == 0, again.stderr
    found = re.search(r"(\d+) studies found \(0 new to the archive, (\d+) already complete\)", again.stdout)
    assert found and found[1] == found[2] and "0 received" in again.stdout
    # Incremental: the next run asks only from the last window's end (today) on.
    nightly = limestone_cli("pull", "pacs")
    assert nightly.returncode == 0 and "0 studies found" in nightly.stdout


def test_resume_fetches_only_missing(limestone_cli, pacs, generated):
    """A study half in the archive (as after a killed run): only its missing instances are fetched."""
    from archive.ingest.intake import ingest_bytes
    from archive.store.writer import StoreWriter

    study = generated[0][1]
    files = [p for p in generated[1] if p.name.startswith("s0001_")]
    archive = limestone_cli.store()
    con = archive.store()
    writer = StoreWriter(con, archive.home, "seed")
    for path in files[:5]:
        outcome = ingest_bytes(path.read_bytes(), path.name, archive.vault, archive.home.quarantine_dir)
        writer.add(outcome.record, outcome.size, outcome.digest)
    writer.flush()
    con.close()
    limestone_cli.add_node("pacs", pacs)
    pull = limestone_cli("pull", "pacs", "--study", study.study_uid)
    assert pull.returncode == 0, pull.stderr
    assert "7 received" in pull.stdout
    assert study_rows(limestone_cli)[study.study_uid][:2] == ("complete", 12)


def test_move_pull_keeps_original_bytes(limestone_cli, pacs, generated):
    limestone_cli.add_node("pacs", pacs, "--method", "move", "--max-associations", "2")
    study = generated[0][0]
    pull = limestone_cli("pull", "pacs", "--since", "2004-08-26", "--until", "2004-08-26")
    assert pull.returncode == 0, pull.stderr
    pull = limestone_cli("pull", "pacs", "--study", study.study_uid)
    assert pull.returncode == 0, pull.stderr
    want = originals(generated)
    got = archived(limestone_cli)
    assert len(got) >= 12 + 4
    generated_uids = {sop for study in generated[0] for sop in study.sop_uids}
    for uid, data in got.items():
        assert_same_instance(want[uid], data, strict=uid in generated_uids)


def test_get_study_that_vanished(pacs, tmp_path):
    """A study listed by C-FIND and deleted before the C-GET: a clear error naming node and study."""
    from tests.support.synthetic_studies import make_studies, write_studies

    node = Node("pacs", pacs.ae_title, "127.0.0.1", pacs.dicom_port)
    studies = make_studies(1, 3, seed=77, first_date=date(2020, 2, 2))
    pacs.upload(write_studies(studies, tmp_path / "gone"))
    pacs.delete_study_by_uid(studies[0].study_uid)
    received = []
    session = GetSession(node, "LIMESTONE", lambda data, ae: received.append(data) or 0, timeout=10)
    try:
        result = session.retrieve(StudyJob(studies[0].study_uid, ["1.2.840.10008.5.1.4.1.1.2"], 3))
    finally:
        session.close()
    assert not result.complete and received == []
    assert result.error == (f"node {node.address}: study {studies[0].study_uid}: the study is no longer "
                            "on the node (deleted or moved after it was listed)")
