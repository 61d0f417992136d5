"""The text of an Encapsulated PDF instance, where the PDF has a text layer.

A scanned PDF (images only) or a damaged one gives no text: the report is still listed, with its
title, and the PDF itself is always in the vault as part of the original DICOM instance.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime

from pydicom.dataset import Dataset

from archive.dicom import values as v

log = logging.getLogger("limestone.reports")

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
MAX_PAGES = 200  # a report is a few pages; a huge PDF is not read whole


def pdf_bytes(ds: Dataset) -> bytes:
    """The encapsulated document without the DICOM padding byte."""
    data = bytes(ds.get("EncapsulatedDocument") or b"")
    length = v.to_int(ds.get("EncapsulatedDocumentLength"))
    if length and 0 < length <= len(data):
        return data[:length]
    return data.rstrip(b"\x00") if data.endswith(b"\x00") else data


def extract_text(pdf: bytes) -> str:
    """The PDF's text layer, pages separated by blank lines; '' when there is none or it is unreadable."""
    if not pdf.startswith(b"%PDF"):
        return ""
    try:
        from pypdf import PdfReader
        reader = PdfReader(io.BytesIO(pdf), strict=False)
        pages = []
        for page in reader.pages[:MAX_PAGES]:
            pages.append((page.extract_text() or "").strip())
        return "\n\n".join(p for p in pages if p).strip()
    except Exception as exc:  # pypdf raises many kinds on damaged files
        log.warning("no text could be read from an encapsulated PDF: %s", type(exc).__name__)
        return ""


def title(ds: Dataset) -> str | None:
    return v.text(ds.get("DocumentTitle")) or None


def report_datetime(ds: Dataset) -> datetime | None:
    return (v.to_datetime(ds.get("ContentDate"), ds.get("ContentTime"))
            or v.dt_value(ds.get("AcquisitionDateTime"))
            or v.to_datetime(ds.get("InstanceCreationDate"), ds.get("InstanceCreationTime")))
