"""SR flattening, PDF text and HL7 ORU^R01 reading (issue 9), without a store."""

from __future__ import annotations

import base64

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from archive.reports import hl7v2, pdf, sr, store
from archive.vault import content_hash
from tests.support.documents import basic_text_sr, encapsulated_pdf, make_pdf, to_bytes
from tests.support.hl7_messages import oru, segment
from tests.support.samples import pydicom_file


def test_real_comprehensive_sr_flattens_to_its_findings():
    ds = pydicom.dcmread(pydicom_file("test-SR.dcm"))
    text = sr.flatten(ds)
    assert text.startswith("Diagnosis")
    assert "Text Code: A mass of" in text and "Diameter: 3 cm" in text and "was detected." in text
    assert "  Diameter: 3 cm" in text.splitlines()  # nested one level under the root
    assert "\r" not in text
    assert sr.status(ds) == "amended"  # verified, complete, with a predecessor document
    assert sr.author(ds) == "Verifying Observer"
    assert sr.report_datetime(ds).isoformat() == "2001-02-13T18:47:46"


def test_real_basic_text_sr_is_preliminary_with_its_sections():
    ds = pydicom.dcmread(pydicom_file("reportsi.dcm"))
    report = store.from_dataset(ds, "hash")
    assert report.source == "sr" and report.status == "preliminary"  # PARTIAL, UNVERIFIED
    assert "Section Heading" in report.text and "  Report Text: Enter text" in report.text
    assert report.title == "Document Title" and report.content_hash == "hash"


def test_sr_with_an_unexpected_tree_still_gives_its_text():
    ds = basic_text_sr("Liver normal.", "No focal lesion.")
    odd = Dataset()  # no value type, a concept name without a meaning, an unknown value type
    odd.ValueType = "MYSTERY"
    odd.ConceptNameCodeSequence = Sequence([Dataset()])
    odd.TextValue = "Odd but readable"
    bare = Dataset()  # an item with nothing in it
    ds.ContentSequence.extend([odd, bare])
    ds.ContentSequence[0].ConceptNameCodeSequence[0].CodeMeaning = None  # a meaningless heading
    text = sr.flatten(ds)
    assert "Liver normal." in text and "No focal lesion." in text and "Odd but readable" in text


def test_dose_srs_and_images_are_not_reports():
    assert not store.is_report_class("1.2.840.10008.5.1.4.1.1.88.67")  # X-ray radiation dose SR
    assert not store.is_report_class("1.2.840.10008.5.1.4.1.1.2")
    assert store.from_dataset(pydicom.dcmread(pydicom_file("CT_small.dcm"))) is None


def test_encapsulated_pdf_text_and_a_pdf_without_text():
    report = store.from_bytes(to_bytes(encapsulated_pdf(make_pdf(["Impression: no pneumothorax."]))))
    assert report.source == "pdf" and report.text == "Impression: no pneumothorax." and report.text_extracted
    scanned = store.from_bytes(to_bytes(encapsulated_pdf(b"%PDF-1.4\nnot really a pdf\n%%EOF")))
    assert scanned.text == "" and scanned.text_extracted is False and scanned.title == "Radiology report"
    assert pdf.extract_text(b"plain bytes") == ""


def test_amended_sr_joins_its_predecessor_document():
    first = basic_text_sr("a", "b")
    second = basic_text_sr("a2", "b2", replaces=first)
    report = store.from_dataset(second)
    assert report.status == "amended" and report.document_key == f"sr:{first.SOPInstanceUID}"


@pytest.mark.parametrize("code, status", [("F", "final"), ("P", "preliminary"), ("C", "amended"),
                                          ("X", "cancelled")])
def test_oru_statuses(code, status):
    parsed = hl7v2.parse(oru("FAKE-MSG-1", "FAKE-ACC-1", ["Line one.", "Line two."], code))
    (report,) = parsed.reports
    assert report.status == status and report.accession_number == "FAKE-ACC-1"
    assert report.text == "Line one.\nLine two." and report.patient_ids == ["FAKE-0001"]
    assert report.author == "RADIOLOGIST FAKE" and report.title == "CT HEAD"
    assert report.report_id == "hl7:NORTH:FAKE-MSG-1:1"
    assert report.report_datetime.isoformat() == "2024-01-02T11:30:00"


def test_accession_falls_back_to_filler_order_number():
    text = oru("M", "IGNORED").replace("|IGNORED|", "||")  # empty OBR-18
    (report,) = hl7v2.parse(text).reports
    assert report.accession_number == "FLIGNORED"


def _without(text: str, seg: str) -> str:
    return "\r".join(line for line in text.split("\r") if not line.startswith(seg))


@pytest.mark.parametrize("make, code, words", [
    (lambda: "PID|1||X\rOBR|1", "AR", "must begin with an MSH"),
    (lambda: oru("M", "A", message_type="ADT^A01"), "AR", "unsupported message type ADT^A01"),
    (lambda: oru("", "A"), "AR", "MSH-10"),
    (lambda: _without(oru("M", "A"), "OBR").replace("OBX|", "XXX|"), "AE", "no OBR segment"),
    (lambda: _without(oru("M", "A"), "OBX"), "AE", "no report text"),
    (lambda: oru("M", "A", status="Q"), "AE", "unknown result status"),
    (lambda: oru("M", "A").replace("|PLA|FLA|", "|||").replace("|A|", "||"), "AE", "no accession number"),
    (lambda: "\r".join([oru("M", "A").split("\r")[0], segment("OBX", {1: "1", 2: "TX", 5: "t"}),
                        oru("M", "A").split("\r")[2]]), "AE", "before any OBR"),
])
def test_malformed_messages_get_a_reason(make, code, words):
    with pytest.raises(hl7v2.MessageProblem) as caught:
        hl7v2.parse(make())
    assert caught.value.code == code and words in caught.value.reason
    assert "FAKE" not in caught.value.reason  # reasons name fields, never values


def _ed(document: bytes, subtype: str = "pdf", encoding: str = "Base64") -> str:
    return f"^application^{subtype}^{encoding}^{base64.b64encode(document).decode()}"


def test_oru_with_an_embedded_pdf_gives_the_document_and_its_text():
    document = make_pdf(["FAKE CLINIC", "Impression: small left pleural effusion."])
    only_pdf = _without(oru("M-ED1", "FAKE-ACC-ED", embedded=_ed(document)), "OBX|1|TX")
    parsed = hl7v2.parse(only_pdf)
    (report,) = parsed.reports
    assert parsed.documents == {content_hash(document): document}
    assert report.content_hash == content_hash(document) and report.source == "hl7"
    assert "pleural effusion" in report.text and report.text == pdf.extract_text(document)
    assert report.text_extracted and report.status == "final"
    # OBX text of its own wins over the PDF's text layer; the PDF is still the document
    both = hl7v2.parse(oru("M-ED2", "FAKE-ACC-ED", "Typed impression.", embedded=_ed(document)))
    assert both.reports[0].text == "Typed impression." and both.reports[0].content_hash in both.documents
    # a scanned PDF (no text layer) is still a report, marked as without text
    scanned = make_pdf([]).replace(b"BT /F1 12 Tf 72 720 Td 14 TL  ET", b"")
    (blank,) = hl7v2.parse(_without(oru("M-ED3", "FAKE-ACC-ED", embedded=_ed(scanned)), "OBX|1|TX")).reports
    assert blank.text == "" and blank.text_extracted is False and blank.content_hash


@pytest.mark.parametrize("value, words", [
    ("^application^pdf^Base64^JVBERi0x*not-base64*", "is not valid Base64"),
    ("^application^pdf^Base64^JVBERi0xLjQ", "is not valid Base64"),            # truncated
    ("^application^pdf^Hex^255044462D", "only Base64 is accepted"),
    (_ed(b"{\\rtf1 FAKE}", subtype="rtf"), "is not a PDF"),
    (_ed(b"FAKE plain bytes"), "is not a PDF"),
])
def test_bad_embedded_documents_are_rejected_with_a_reason(value, words):
    with pytest.raises(hl7v2.MessageProblem) as caught:
        hl7v2.parse(oru("M-BAD", "FAKE-ACC-ED", embedded=value))
    assert caught.value.code == "AE" and caught.value.error_code == "102"
    assert words in caught.value.reason and "FAKE" not in caught.value.reason


def test_two_embedded_documents_in_one_report_are_rejected():
    message = oru("M-2", "FAKE-ACC-ED", embedded=_ed(make_pdf(["one"])))
    twice = message + message.split("\r")[-2].replace("OBX|2|", "OBX|3|") + "\r"
    with pytest.raises(hl7v2.MessageProblem, match="2 embedded documents"):
        hl7v2.parse(twice)


def test_ack_and_nak_messages():
    text = oru("FAKE-MSG-9", "A")
    ack = hl7v2.acknowledgement(text)
    msh, msa = ack.strip("\r").split("\r")
    assert msh.startswith("MSH|^~\\&|LIMESTONE|REGION|FAKE-RIS|NORTH|") and "|ACK^R01^ACK|" in msh
    assert msa == "MSA|AA|FAKE-MSG-9"
    nak = hl7v2.acknowledgement(text, "AE", "OBR #1 has no report text | really", "101")
    lines = nak.strip("\r").split("\r")
    assert lines[1] == "MSA|AE|FAKE-MSG-9|OBR #1 has no report text   really"
    assert lines[2].startswith("ERR|||101^Application error^HL70357|E|")
    garbage = hl7v2.acknowledgement("not hl7", "AR", "not an HL7 v2 message")
    assert garbage.split("\r")[1] == "MSA|AR||not an HL7 v2 message"


def test_split_messages_handles_newlines_batches_and_mllp_framing():
    one, two = oru("M1", "A"), oru("M2", "B")
    raw = ("BHS|^~\\&|X\n" + one.replace("\r", "\n") + "\x0b" + two + "\x1c\rBTS|2\n").encode()
    messages = hl7v2.split_messages(raw)
    assert [hl7v2.parse(m).control_id for m in messages] == ["M1", "M2"]
