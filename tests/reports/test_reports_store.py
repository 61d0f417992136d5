"""Reports in a real temporary store: the ingest hook, HL7 matching, versions, search, the CLI."""

from __future__ import annotations

import base64
import contextlib
import io
import json

import pydicom
import pytest
from pydicom.uid import generate_uid

from archive.ingest.run import import_paths
from archive.reports import inbox, reports_for_study, search, store, waiting
from pipelines.cli import main
from tests.support.documents import basic_text_sr, encapsulated_pdf, make_pdf, to_bytes
from tests.support.hl7_messages import oru
from tests.support.samples import pydicom_file


def _ct(folder, accession: str, patient_id: str = "FAKE-0001") -> str:
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.AccessionNumber, ds.PatientID, ds.PatientName = accession, patient_id, "FAKE^PATIENT"
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / f"{accession}.dcm", enforce_file_format=True)
    return ds.StudyInstanceUID


def _import(archive, folder):
    summary = import_paths(archive, [folder], workers=1)
    assert summary.exit_code == 0


def _cli(archive, *args) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--home", str(archive.home.root), *args])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """One archive for the module (a fresh store costs seconds here); tests use distinct accessions."""
    from archive.home import Archive
    return Archive.load(home=str(tmp_path_factory.mktemp("reports") / "home"))


@pytest.fixture
def tmp_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
def filed(archive, tmp_path_factory):
    """An archive with SR (real and generated, one amended), a PDF and a CT study imported."""
    folder = tmp_path_factory.mktemp("in")
    for name in ("test-SR.dcm", "reportsi.dcm"):
        (folder / name).write_bytes(pydicom_file(name).read_bytes())
    first = basic_text_sr("Lungs clear.", "Normal chest.", verified_at="20240105120000")
    amended = basic_text_sr("Lungs clear. 6 mm nodule right upper lobe.", "Nodule, follow up.",
                            study_uid=first.StudyInstanceUID, replaces=first, verified_at="20240106090000")
    (folder / "sr1.dcm").write_bytes(to_bytes(first))
    (folder / "sr2.dcm").write_bytes(to_bytes(amended))
    pdf = encapsulated_pdf(make_pdf(["Ultrasound abdomen: gallstones, no cholecystitis."]))
    (folder / "doc.dcm").write_bytes(to_bytes(pdf))
    _import(archive, folder)
    return {"sr_study": first.StudyInstanceUID, "first": first.SOPInstanceUID,
            "amended": amended.SOPInstanceUID, "pdf_study": pdf.StudyInstanceUID, "folder": folder}


def test_import_files_sr_and_pdf_reports_and_amended_supersedes(archive, filed):
    con = archive.store(read_only=True)
    try:
        current = reports_for_study(con, filed["sr_study"])
        history = reports_for_study(con, filed["sr_study"], history=True)
        pdf_reports = reports_for_study(con, filed["pdf_study"])
        real = reports_for_study(con, pydicom.dcmread(pydicom_file("test-SR.dcm")).StudyInstanceUID)
    finally:
        con.close()
    assert [r["report_id"] for r in current] == [f"sr:{filed['amended']}"]
    assert current[0]["status"] == "amended" and "6 mm nodule" in current[0]["text"]
    assert current[0]["versions"] == 2 and current[0]["is_current"]
    old = [r for r in history if not r["is_current"]]
    assert len(old) == 1 and old[0]["report_id"] == f"sr:{filed['first']}"
    assert old[0]["superseded_by"] == f"sr:{filed['amended']}" and "Lungs clear." in old[0]["text"]
    assert pdf_reports[0]["source"] == "pdf" and "gallstones" in pdf_reports[0]["text"]
    assert pdf_reports[0]["content_hash"]  # the PDF's instance is in the vault
    assert archive.vault.get(pdf_reports[0]["content_hash"])[128:132] == b"DICM"
    assert real[0]["status"] == "amended" and "A mass of" in real[0]["text"]


def test_reimport_files_nothing_twice(archive, filed):
    con = archive.store()
    try:
        before = con.execute("SELECT count(*) FROM reports WHERE source <> 'hl7'").fetchone()[0]
        assert store.rescan(con, archive.vault) == 0
    finally:
        con.close()
    _import(archive, filed["folder"])
    con = archive.store(read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM reports WHERE source <> 'hl7'").fetchone()[0] == before == 5
    finally:
        con.close()


def test_hl7_report_waits_for_its_study_then_matches(archive, tmp_folder):
    tmp_path = tmp_folder
    con = archive.store()
    try:
        got = inbox.receive(archive.home, con, oru("FAKE-M1", "FAKE-ACC-7", "Pneumonia in the right lower lobe."),
                            "test", archive.vault)
        assert got.code == "AA" and got.ack.split("\r")[1] == "MSA|AA|FAKE-M1"
        assert "hl7:NORTH:FAKE-M1:1" in [r["report_id"] for r in waiting(con)]
    finally:
        con.close()
    study = _ct(tmp_path / "ct", "FAKE-ACC-7")
    _ct(tmp_path / "other", "FAKE-ACC-7", patient_id="FAKE-9999")  # same accession, another patient
    _import(archive, tmp_path / "ct")
    _import(archive, tmp_path / "other")
    con = archive.store(read_only=True)
    try:
        assert "hl7:NORTH:FAKE-M1:1" not in [r["report_id"] for r in waiting(con)]
        (report,) = reports_for_study(con, study)
        assert report["status"] == "final" and report["text"] == "Pneumonia in the right lower lobe."
        other = con.execute("SELECT study_instance_uid FROM studies WHERE study_instance_uid <> ? "
                            "AND accession_number = 'FAKE-ACC-7'", [study]).fetchone()[0]
        assert reports_for_study(con, other) == []  # the patient ID must agree too
    finally:
        con.close()


def test_study_first_then_preliminary_final_amended_and_a_late_preliminary(archive, tmp_folder):
    tmp_path = tmp_folder
    study = _ct(tmp_path / "ct", "FAKE-ACC-8")
    _import(archive, tmp_path / "ct")
    con = archive.store()
    try:
        for control, status, when, text in [
                ("P1", "P", "20240102100000", "Preliminary: no fracture."),
                ("F1", "F", "20240102110000", "Final: no fracture."),
                ("C1", "C", "20240103090000", "Amended: hairline fracture of the radius."),
                ("P2", "P", "20240103100000", "Preliminary resent late.")]:
            assert inbox.receive(archive.home, con, oru(control, "FAKE-ACC-8", text, status, when=when),
                                 "test", archive.vault).code == "AA"
        # the same message twice changes nothing
        assert inbox.receive(archive.home, con, oru("C1", "FAKE-ACC-8", "x", "C"), "test", archive.vault).code == "AA"
        history = reports_for_study(con, study, history=True)
    finally:
        con.close()
    current = [r for r in history if r["is_current"]]
    assert [r["status"] for r in current] == ["amended"] and "hairline" in current[0]["text"]
    assert len(history) == 4 and all(r["superseded_by"] == "hl7:NORTH:C1:1" for r in history[1:])


def test_malformed_message_is_kept_for_review(archive):
    con = archive.store()
    try:
        message = oru("FAKE-BAD", "", "text").replace("|PL|FL|", "|||")
        got = inbox.receive(archive.home, con, message, "test", archive.vault)
    finally:
        con.close()
    assert got.code == "AE" and "no accession number" in got.reason
    assert got.ack.split("\r")[1].startswith("MSA|AE|FAKE-BAD|OBR #1 has no accession number")
    (queued,) = [m for m in inbox.review_queue(archive.home) if m["message_id"] == got.message_id]
    assert queued["outcome"] == "rejected"
    assert "FAKE-BAD" in inbox.message(archive.home, got.message_id)["raw"]  # never lost


def test_hl7_report_with_an_embedded_pdf_keeps_the_pdf_in_the_vault(archive, tmp_folder):
    document = make_pdf(["FAKE RADIOLOGY", "Impression: healed rib fracture."])
    encoded = base64.b64encode(document).decode()
    message = oru("FAKE-ED1", "FAKE-ACC-ED", embedded=f"^application^pdf^Base64^{encoded}")
    message = "\r".join(s for s in message.split("\r") if not s.startswith("OBX|1|TX"))
    study = _ct(tmp_folder / "ct", "FAKE-ACC-ED")
    _import(archive, tmp_folder / "ct")
    con = archive.store()
    try:
        got = inbox.receive(archive.home, con, message, "test", archive.vault)
        assert got.code == "AA", got.reason
        (report,) = reports_for_study(con, study)
        bad = inbox.receive(archive.home, con, message.replace(encoded[:40], encoded[:39] + "*"), "test",
                            archive.vault)
    finally:
        con.close()
    assert report["source"] == "hl7" and "healed rib fracture" in report["text"]
    assert archive.vault.get(report["content_hash"]) == document
    assert bad.code == "AE" and "not valid Base64" in bad.reason
    assert bad.ack.split("\r")[1].startswith("MSA|AE|FAKE-ED1|OBR #1: the embedded document in OBX-5 is not valid")
    (queued,) = [m for m in inbox.review_queue(archive.home) if m["message_id"] == bad.message_id]
    assert queued["outcome"] == "rejected" and "Base64" in queued["reason"]
    assert inbox.message(archive.home, bad.message_id)["raw"].count("|ED|") == 1   # kept whole


def test_full_text_search_with_stemming_and_rebuild(archive, filed):
    con = archive.store()
    try:
        hits = search.search_reports(con, "nodules")
        assert [h["study_instance_uid"] for h in hits] == [filed["sr_study"]]  # current version only
        assert hits[0]["report_id"] == f"sr:{filed['amended']}" and "nodule" in hits[0]["snippet"]
        assert search.search_reports(con, "gallstone")[0]["study_instance_uid"] == filed["pdf_study"]
        assert search.search_reports(con, "zebra") == []
        inbox.receive(archive.home, con, oru("Z1", "FAKE-ACC-Z", "A zebra was seen."), "test", archive.vault)
        hits = search.search_reports(con, "zebra")  # the index follows new reports
        assert len(hits) == 1 and hits[0]["study_instance_uid"] is None
        extensions = {r[0] for r in con.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
        assert "fts" in extensions
    finally:
        con.close()


def test_reports_show_json_contract(archive, filed):
    code, out = _cli(archive, "reports", "show", filed["sr_study"], "--json")
    assert code == 0
    data = json.loads(out)
    assert data["study_instance_uid"] == filed["sr_study"]
    (report,) = data["reports"]
    assert {"report_id", "source", "status", "title", "author", "report_datetime", "accession_number",
            "text", "sop_instance_uid", "text_extracted", "is_current", "versions",
            "superseded_by"} <= set(report)
    assert report["status"] == "amended" and report["report_datetime"] == "2024-01-06T09:00:00"
    code, out = _cli(archive, "reports", "show", filed["sr_study"], "--json", "--history")
    assert len(json.loads(out)["reports"]) == 2
    code, _ = _cli(archive, "reports", "show", "1.2.3.4.999", "--json")
    assert code == 1


def test_import_hl7_command(archive, tmp_folder):
    tmp_path = tmp_folder
    path = tmp_path / "results.hl7"
    path.write_text(oru("H1", "FAKE-ACC-1", "Fine.").replace("\r", "\n")
                    + oru("H2", "FAKE-ACC-2", "Also fine.", "P")
                    + oru("H3", "FAKE-ACC-3", message_type="ORM^O01"))
    code, out = _cli(archive, "import-hl7", str(path))
    assert code == 1
    assert "3 messages: 2 filed (2 reports, 0 matched to a study, 2 waiting for their study), " \
           "1 rejected and kept for review" in out
    code, out = _cli(archive, "reports", "inbox", "--json")
    queued = json.loads(out)
    assert code == 0 and "unsupported message type ORM^O01" in queued[-1]["reason"]
