"""Reports in the analytic store: writing versions, reading a study's reports.

Rows are only ever inserted (``reports``, migration 0007); the store's views pick each
document's current version (``report_versions``) and match HL7 reports to studies by accession
number (``study_reports``), so a report that comes before its study waits without any update.
Writes are idempotent on ``report_id``: filing the same SR, PDF or HL7 message twice changes
nothing.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import duckdb
import pydicom
from pydicom.dataset import Dataset

from archive.clock import now_utc
from archive.dicom import values as v
from archive.reports import pdf, sr
from archive.store.connection import retrying, rollback

if TYPE_CHECKING:
    from archive.store.writer import Queued
    from archive.vault import Vault

log = logging.getLogger("limestone.reports")

STATUSES = ("preliminary", "final", "amended", "cancelled")
REPORT_CLASSES = {**sr.REPORT_SR_CLASSES, pdf.ENCAPSULATED_PDF_STORAGE: "Encapsulated PDF"}
COLUMNS = ("report_id", "document_key", "source", "study_instance_uid", "accession_number",
           "patient_ids", "status", "author", "report_datetime", "title", "text",
           "sop_instance_uid", "content_hash", "text_extracted", "received_at", "report_utc_offset")


@dataclass
class Report:
    report_id: str
    document_key: str
    source: str                          # sr | pdf | hl7
    status: str
    text: str = ""
    study_instance_uid: str | None = None
    accession_number: str | None = None
    patient_ids: list[str] = field(default_factory=list)
    author: str | None = None
    report_datetime: datetime | None = None
    title: str | None = None
    sop_instance_uid: str | None = None
    content_hash: str | None = None
    text_extracted: bool = True
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"report status {self.status!r} is not one of {', '.join(STATUSES)}")

    def row(self) -> list[Any]:
        values = asdict(self)
        values["received_at"] = self.received_at or now_utc()
        when = self.report_datetime
        offset = when.utcoffset() if when is not None else None
        values["report_datetime"] = when.replace(tzinfo=None) if when is not None else None  # as written
        values["report_utc_offset"] = _offset_text(offset) if offset is not None else None
        return [values[c] for c in COLUMNS]


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _with_offset(when: datetime | None, offset: str | None) -> datetime | None:
    """A stored report time with its offset again (aware), or as stored when it had none."""
    if when is None or not offset:
        return when
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return when.replace(tzinfo=timezone(sign * timedelta(hours=int(hours), minutes=int(minutes))))


def is_report_class(sop_class_uid: str | None) -> bool:
    return (sop_class_uid or "") in REPORT_CLASSES


def from_dataset(ds: Dataset, content_hash: str | None = None) -> Report | None:
    """The report an SR or Encapsulated PDF instance holds (None for any other object)."""
    sop_class = str(ds.get("SOPClassUID", "") or "")
    sop_uid = str(ds.get("SOPInstanceUID", "") or "")
    if not is_report_class(sop_class) or not sop_uid:
        return None
    common: dict[str, Any] = dict(study_instance_uid=v.text(ds.get("StudyInstanceUID")),
                  accession_number=v.text(ds.get("AccessionNumber")),
                  sop_instance_uid=sop_uid, content_hash=content_hash)
    if sop_class == pdf.ENCAPSULATED_PDF_STORAGE:
        text = pdf.extract_text(pdf.pdf_bytes(ds))
        return Report(f"pdf:{sop_uid}", f"pdf:{sop_uid}", "pdf", "final", text,
                      title=pdf.title(ds) or "PDF document", report_datetime=pdf.report_datetime(ds),
                      text_extracted=bool(text), **common)
    previous = sr.predecessors(ds)
    # A new version names the one it replaces; its key is settled against the store when filed.
    key = f"sr:{previous[0]}" if previous else f"sr:{sop_uid}"
    return Report(f"sr:{sop_uid}", key, "sr", sr.status(ds), sr.flatten(ds), author=sr.author(ds),
                  report_datetime=sr.report_datetime(ds), title=sr.title(ds) or "Structured report",
                  **common)


def from_bytes(data: bytes, content_hash: str | None = None) -> Report | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    return from_dataset(ds, content_hash)


def insert(con: duckdb.DuckDBPyConnection, reports: Iterable[Report]) -> int:
    """File report versions not yet in the store; return how many were new."""
    reports = list({r.report_id: r for r in reports}.values())
    if not reports:
        return 0

    def write() -> int:
        con.execute("BEGIN")
        try:
            ids = [r.report_id for r in reports]
            known = {row[0] for row in con.execute(
                "SELECT report_id FROM reports WHERE list_contains(?, report_id)", [ids]).fetchall()}
            new = [r for r in reports if r.report_id not in known]
            _settle_document_keys(con, new)
            if new:
                con.executemany(f"INSERT INTO reports ({', '.join(COLUMNS)}) VALUES "
                                f"({', '.join('?' * len(COLUMNS))})", [r.row() for r in new])
            con.execute("COMMIT")
            return len(new)
        except Exception:
            try:
                rollback(con)
            except duckdb.Error:
                pass  # a failed COMMIT has already ended the transaction: keep the first error
            raise
    return retrying(write)


def _settle_document_keys(con: duckdb.DuckDBPyConnection, new: list[Report]) -> None:
    """An SR that replaces an earlier one joins that one's document (so chains stay one document)."""
    for report in new:
        if report.source != "sr" or report.document_key == f"sr:{report.sop_instance_uid}":
            continue
        predecessor = report.document_key.removeprefix("sr:")
        row = con.execute("SELECT document_key FROM reports WHERE report_id = ?",
                          [f"sr:{predecessor}"]).fetchone()
        if row:
            report.document_key = row[0]


def file_instances(con: duckdb.DuckDBPyConnection, vault: Vault, items: Iterable[tuple[str | None, str]]) -> int:
    """File the reports among stored instances given as (SOP class UID, content hash).

    Called by the store writer after each batch commit (every import, pull and listen), and by
    ``limestone reports rescan``. Never raises: a report that cannot be read is logged by hash.
    """
    found = []
    for sop_class, digest in items:
        if not is_report_class(sop_class):
            continue
        try:
            report = from_bytes(vault.get(digest), digest)
        except Exception as exc:
            log.warning("report instance %s… could not be read: %s", digest[:12], type(exc).__name__)
            continue
        if report is not None:
            found.append(report)
    if not found:
        return 0
    try:
        return insert(con, found)
    except Exception as exc:
        log.error("%d report(s) could not be filed: %s (run 'limestone reports rescan')",
                  len(found), type(exc).__name__)
        return 0


def file_after_batch(con: duckdb.DuckDBPyConnection, vault: Vault, records: Sequence[Queued]) -> int:
    """The store writer's hook: ``records`` are its (Record, size, digest, ...) tuples."""
    return file_instances(con, vault, ((r[0].instance.row.get("sop_class_uid"), r[2]) for r in records
                                       if is_report_class(r[0].instance.row.get("sop_class_uid"))))


def rescan(con: duckdb.DuckDBPyConnection, vault: Vault) -> int:
    """File reports of archived SR/PDF instances that have none yet (archived before reports were filed)."""
    rows = con.execute(
        "SELECT sop_class_uid, content_hash FROM instances WHERE list_contains(?, sop_class_uid) "
        "AND sop_instance_uid NOT IN (SELECT sop_instance_uid FROM reports WHERE sop_instance_uid IS NOT NULL)",
        [list(REPORT_CLASSES)]).fetchall()
    return file_instances(con, vault, rows)


_READ = ("report_id, document_key, source, accession_number, status, author, report_datetime, title, "
         "text, sop_instance_uid, content_hash, text_extracted, received_at, report_utc_offset")


def _report_dict(names: list[str], row: tuple) -> dict[str, Any]:
    item = dict(zip(names, row, strict=True))
    item["report_datetime"] = _with_offset(item["report_datetime"], item.pop("report_utc_offset"))
    return item


def reports_for_study(con: duckdb.DuckDBPyConnection, study_uid: str,
                      history: bool = False) -> list[dict[str, Any]]:
    """A study's reports, current versions first (newest report first); ``history`` adds the
    superseded versions (``is_current`` false, ``superseded_by`` naming the current one).

    Each dict: report_id, source (sr|pdf|hl7), status, title, author, report_datetime, text,
    accession_number, sop_instance_uid and content_hash (SR/PDF: the vault file), text_extracted,
    is_current, versions, superseded_by, received_at.
    """
    rows = con.execute(
        f"SELECT {_READ}, is_current, versions, "
        " first_value(report_id) OVER (PARTITION BY document_key ORDER BY version_rank) AS current_id "
        "FROM study_reports WHERE study_instance_uid = ? "
        "ORDER BY is_current DESC, report_datetime DESC NULLS LAST, received_at DESC",
        [study_uid]).fetchall()
    names = [*_READ.split(", "), "is_current", "versions", "current_id"]
    result = []
    for row in rows:
        item = _report_dict(names, row)
        current = item.pop("current_id")
        item["superseded_by"] = None if item["is_current"] else current
        if history or item["is_current"]:
            result.append(item)
    return result


def waiting(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Reports (current versions) whose study is not in the archive yet."""
    rows = con.execute(f"SELECT {_READ} FROM waiting_reports ORDER BY received_at").fetchall()
    return [_report_dict(_READ.split(", "), row) for row in rows]
