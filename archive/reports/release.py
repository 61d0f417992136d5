"""Reports given to people outside the hospital: share-link recipients and CD/USB media.

What is released is a study's *current* report versions whose status is final or amended: a
preliminary report has not been signed by the radiologist yet and a cancelled one is void, so
neither leaves the hospital; superseded versions stay on the staff pages (their history is for
the record, not for the recipient).

A released report may come with its PDF (``document``): an Encapsulated PDF instance (the PDF
is taken out of the archived DICOM file) or an HL7 result with an embedded PDF (kept in the
vault as received, so it is streamed segment by segment).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import duckdb
import pydicom

from archive.reports import pdf
from archive.reports.store import reports_for_study
from archive.vault import Vault

RELEASED_STATUSES = ("final", "amended")
STATUS_LABELS = {"final": "Final", "amended": "Amended (corrected)"}


@dataclass(frozen=True)
class Document:
    """A report's PDF: its size, and its bytes as chunks (read when ``chunks()`` is called)."""

    size: int
    chunks: Callable[[], Iterable[bytes]]


def released(con: duckdb.DuckDBPyConnection, study_uid: str) -> list[dict[str, Any]]:
    """The study's reports a recipient may see, newest first (dicts as ``reports_for_study``)."""
    return [r for r in reports_for_study(con, study_uid) if r["status"] in RELEASED_STATUSES]


def has_document(report: dict[str, Any]) -> bool:
    """True when the report has a PDF in the vault (without reading it)."""
    return bool(report.get("content_hash")) and report.get("source") in ("pdf", "hl7")


def document(vault: Vault, report: dict[str, Any]) -> Document | None:
    """The report's PDF, or None when it has none. Raises ``VaultError`` when the file is unreadable."""
    if not has_document(report):
        return None
    digest = report["content_hash"]
    if report["source"] == "hl7":
        return Document(vault.size(digest), lambda: vault.stream(digest))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(vault.get(digest)), force=True)
    data = pdf.pdf_bytes(ds)
    return Document(len(data), lambda: [data]) if data.startswith(b"%PDF") else None


def heading(report: dict[str, Any]) -> str:
    """'Title · Final · 2024-01-05 12:00 · Author' for lists and file headers."""
    when = f"{report['report_datetime']:%Y-%m-%d %H:%M}" if report.get("report_datetime") else "no date"
    return " · ".join([report.get("title") or "Report", STATUS_LABELS.get(report["status"], report["status"]),
                       when, report.get("author") or "author not recorded"])


def as_text(report: dict[str, Any], study: str) -> str:
    """The report as a plain-text file (CR LF line ends, for any reader of the medium)."""
    when = f"{report['report_datetime']:%Y-%m-%d %H:%M}" if report.get("report_datetime") else "not recorded"
    lines = [report.get("title") or "Report", "=" * len(report.get("title") or "Report"), "",
             f"Study:  {study}",
             f"Status: {STATUS_LABELS.get(report['status'], report['status'])}",
             f"Author: {report.get('author') or 'not recorded'}",
             f"Date:   {when}", "",
             report.get("text") or ("(No text could be read from this report: the PDF beside this file holds it.)"
                                    if has_document(report) else "(This report has no text.)"), ""]
    return "\r\n".join("\r\n".join(line.splitlines()) if line else line for line in lines)
