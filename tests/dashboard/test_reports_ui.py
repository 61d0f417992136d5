"""AppTests of the report pieces: reports on the study page, report-text search on Browse, Send to..."""

from __future__ import annotations

import socket

import pydicom
import pytest
from pydicom.uid import generate_uid

from archive import study_keys
from archive.home import Archive
from archive.ingest.run import import_paths
from archive.network.nodes import Node, NodeRegistry
from archive.reports import inbox
from tests.support.apptest import page, texts
from tests.support.hl7_messages import oru
from tests.support.samples import pydicom_file


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports-ui")
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.AccessionNumber, ds.PatientID, ds.PatientName = "FAKE-UI-1", "FAKE-0001", "FAKE^PATIENT"
    (root / "in").mkdir()
    ds.save_as(root / "in" / "ct.dcm", enforce_file_format=True)
    archive = Archive.load(home=str(root / "home"))
    assert import_paths(archive, [root / "in"], workers=1).exit_code == 0
    con = archive.store()
    try:
        for control, status, when, text in [("U1", "F", "20240102110000", "Final: clear lungs."),
                                            ("U2", "C", "20240103110000", "Amended: small pneumothorax.")]:
            assert inbox.receive(archive.home, con, oru(control, "FAKE-UI-1", text, status, when=when),
                                 "test", archive.vault).code == "AA"
    finally:
        con.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with NodeRegistry(archive.home) as registry:
        registry.add(Node("faraway", "FARAWAY", "127.0.0.1", closed_port, site="FAR"))
    return archive, ds.StudyInstanceUID


@pytest.fixture
def env(reported, monkeypatch):
    archive, uid = reported
    monkeypatch.setenv("LIMESTONE_HOME", str(archive.home.root))
    monkeypatch.setenv("LIMESTONE_SEND_RETRIES", "0")
    monkeypatch.setenv("LIMESTONE_DICOM_TIMEOUT", "3")
    return archive, uid, study_keys.encode(archive.home, uid)


def test_study_page_shows_current_report_and_its_history(env):
    _, _, key = env
    at = page("study", study=key).run()
    assert not at.exception
    shown = texts(at) + "\n".join(str(t.value) for t in at.text)
    assert "Reports" in shown and "Amended: small pneumothorax." in shown
    assert "1 earlier version (superseded, kept for the record)" in shown
    assert "Final: clear lungs." in shown  # history kept
    labels = [e.label for e in at.expander]
    assert any(label.startswith("CT HEAD · Amended · 2024-01-03 11:00 · RADIOLOGIST FAKE") for label in labels)
    assert "Send to..." in labels


def test_send_to_a_node_that_does_not_answer_says_so(env):
    archive, uid, key = env
    at = page("study", role="technologist", study=key).run()
    at.button(key="study.send").click().run()
    assert not at.exception
    assert any("Only 0 of 1 images reached faraway" in str(e.value) for e in at.error)
    from archive.network.send import transfers
    (row,) = [t for t in transfers(archive.home, uid)]
    assert row["status"] == "failed" and row["user_id"] == "technologist@example.org" and row["source"] == "dashboard"


def test_quality_role_gets_no_send_action(env):
    _, _, key = env
    at = page("study", role="quality", study=key).run()
    assert not at.exception and "Send to..." not in [e.label for e in at.expander]


def test_browse_searches_report_text(env):
    at = page("browse").run()
    at.text_input(key="browse.report_query").input("pneumothoraxes").run()
    assert not at.exception
    shown = texts(at)
    assert "1 report match" in shown and "Amended: small pneumothorax." in shown
    at.text_input(key="browse.report_query").input("zebra").run()
    assert "No report mentions these words." in texts(at)


@pytest.fixture(scope="module")
def pdf_reported(tmp_path_factory):
    from tests.support.documents import encapsulated_pdf, make_pdf
    root = tmp_path_factory.mktemp("reports-ui-pdf")
    (root / "in").mkdir()
    ct = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ct.file_meta.MediaStorageSOPInstanceUID = ct.SOPInstanceUID
    ct.AccessionNumber = "FAKE-ACC-PDF"
    ct.save_as(root / "in" / "ct.dcm", enforce_file_format=True)
    encapsulated_pdf(make_pdf(["Impression: no fracture."]), study_uid=ct.StudyInstanceUID).save_as(
        root / "in" / "report.dcm", enforce_file_format=True)
    archive = Archive.load(home=str(root / "home"))
    assert import_paths(archive, [root / "in"], workers=1).exit_code == 0
    return archive, ct.StudyInstanceUID


def test_a_pdf_report_offers_its_pdf_to_staff(pdf_reported, env, monkeypatch):
    archive, uid = pdf_reported
    monkeypatch.setenv("LIMESTONE_HOME", str(archive.home.root))
    at = page("study", study=study_keys.encode(archive.home, uid)).run()
    assert not at.exception
    assert "Impression: no fracture." in "\n".join(str(t.value) for t in at.text)
    assert [b.label for b in at.get("download_button")] == ["Download the PDF"]
    shown = texts(at)
    assert "report or document, no image" in shown and "1 object" in shown   # the PDF's series
    assert "no preview" not in shown and not at.error
    assert "**#1 CT**" in shown and "DOC**" in shown                             # both series tiles drawn


def test_a_report_without_a_pdf_offers_no_download(env):
    _, _, key = env
    at = page("study", study=key).run()
    assert not at.exception and not at.get("download_button")


def test_the_viewer_opens_a_study_with_a_document_series(pdf_reported, env, monkeypatch):
    # The PDF's series has no series number (NA in pandas): the series list must still be drawn.
    archive, uid = pdf_reported
    monkeypatch.setenv("LIMESTONE_HOME", str(archive.home.root))
    at = page("viewer", study=study_keys.encode(archive.home, uid), series="1").run()
    assert not at.exception and not at.error
