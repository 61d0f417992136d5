"""Report documents made for the tests: a PDF with a text layer, Encapsulated PDF and SR instances.

All patients are fake (``FAKE^...``); UIDs are fresh for each call.
"""

from __future__ import annotations

import io

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica), with a correct xref table."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({_escape(line)}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _base(sop_class: str, study_uid: str, accession: str, patient_id: str, modality: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.PatientName = "FAKE^REPORT"
    ds.PatientID = patient_id
    ds.AccessionNumber = accession
    ds.StudyDate = "20240105"
    ds.ContentDate = "20240105"
    ds.ContentTime = "101500"
    ds.InstanceNumber = 1
    return ds


def to_bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def encapsulated_pdf(pdf: bytes, study_uid: str | None = None, accession: str = "FAKE-ACC-PDF",
                     patient_id: str = "FAKE-0002", title: str = "Radiology report") -> Dataset:
    ds = _base(ENCAPSULATED_PDF, study_uid or generate_uid(), accession, patient_id, "DOC")
    ds.DocumentTitle = title
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.BurnedInAnnotation = "YES"
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")
    return ds


def _code(value: str, meaning: str) -> Sequence:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "99FAKE", meaning
    return Sequence([item])


def _text_item(name: str, text: str) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    item.ConceptNameCodeSequence = _code("T", name)
    item.TextValue = text
    return item


def basic_text_sr(findings: str, impression: str, study_uid: str | None = None,
                  accession: str = "FAKE-ACC-SR", patient_id: str = "FAKE-0003", verified: bool = True,
                  replaces: Dataset | None = None, verified_at: str = "20240105120000") -> Dataset:
    """A Basic Text SR with Findings and Impression sections; ``replaces`` makes it an amendment."""
    ds = _base(BASIC_TEXT_SR, study_uid or generate_uid(), accession, patient_id, "SR")
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = _code("18748-4", "Diagnostic Imaging Report")
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED" if verified else "UNVERIFIED"
    if verified:
        observer = Dataset()
        observer.VerifyingObserverName = "FAKE^RADIOLOGIST"
        observer.VerifyingOrganization = "FAKE HOSPITAL"
        observer.VerificationDateTime = verified_at
        observer.VerifyingObserverIdentificationCodeSequence = Sequence([])
        ds.VerifyingObserverSequence = Sequence([observer])
    sections = []
    for heading, text in (("Findings", findings), ("Impression", impression)):
        section = Dataset()
        section.RelationshipType, section.ValueType = "CONTAINS", "CONTAINER"
        section.ContinuityOfContent = "SEPARATE"
        section.ConceptNameCodeSequence = _code(heading[:4].upper(), heading)
        section.ContentSequence = Sequence([_text_item(heading, text)])
        sections.append(section)
    ds.ContentSequence = Sequence(sections)
    if replaces is not None:
        sop = Dataset()
        sop.ReferencedSOPClassUID, sop.ReferencedSOPInstanceUID = replaces.SOPClassUID, replaces.SOPInstanceUID
        series = Dataset()
        series.SeriesInstanceUID = replaces.SeriesInstanceUID
        series.ReferencedSOPSequence = Sequence([sop])
        study = Dataset()
        study.StudyInstanceUID = replaces.StudyInstanceUID
        study.ReferencedSeriesSequence = Sequence([series])
        ds.PredecessorDocumentsSequence = Sequence([study])
    return ds
