"""Pulling from a DICOMweb node: QIDO-RS for studies and series, WADO-RS for a study's instances.

The same ``StudyFilter``, ``RemoteStudy``, ``StudyJob`` and ``StudyResult`` as the DIMSE pull, so
the pull command keeps one flow (status rows, summary, repeat metrics) whichever way the node is
reached. A study is asked for as one multipart stream with ``transfer-syntax=*`` (the node's
stored syntax); each part is checked (a PS3.10 file of the study asked for, an instance not
received yet) and written to the vault as it arrives, byte for byte. A part that is not DICOM or
belongs to another study is refused and the study is not marked complete; a stream that breaks
keeps what arrived whole (never a cut instance), and the next run asks for the study again and
keeps only what is missing.
"""

from __future__ import annotations

import logging
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

from pydicom.dataset import Dataset

from archive.ingest.intake import Outcome, quarantine, read_record
from archive.network.dicomweb.client import DicomWebClient, DicomWebError
from archive.network.errors import NetworkError
from archive.network.jobs import StudyJob, StudyResult
from archive.network.nodes import Node
from archive.network.query import (
    SERIES_KEYS,
    STUDY_KEYS,
    MalformedIdentifier,
    RemoteStudy,
    StudyFilter,
    parse_study,
    valid_uid,
)
from archive.vault import Vault, content_hash

log = logging.getLogger("limestone.dicomweb")

_STUDY_FIELDS = ",".join(k for k in STUDY_KEYS if k not in ("PatientName",))
_SERIES_FIELDS = ",".join(SERIES_KEYS)
EARLIEST = date(1900, 1, 1)


def _dataset(item: dict) -> Dataset | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Dataset.from_json(item)
    except Exception:
        return None


def study_params(selection: StudyFilter) -> dict[str, str]:
    params = {"includefield": _STUDY_FIELDS}
    if selection.date_range():
        params["StudyDate"] = selection.date_range()
    if selection.modality:
        params["ModalitiesInStudy"] = selection.modality
    if selection.patient_id:
        params["PatientID"] = selection.patient_id
    if selection.study_uid:
        params["StudyInstanceUID"] = selection.study_uid
    return params


def find_studies(client: DicomWebClient, node: Node, selection: StudyFilter,
                 today: date | None = None) -> tuple[list[RemoteStudy], list[str]]:
    """The node's studies matching ``selection``, each once, and problems met.

    When the node cuts answers short (it ignores ``offset`` and keeps answering the same page),
    the date window is halved and each half asked for, down to single days.
    """
    problems: list[str] = []
    studies: dict[str, RemoteStudy] = {}
    cap = 0

    def ask(window: StudyFilter) -> None:
        nonlocal cap
        what = f"QIDO-RS for study {window.study_uid}" if window.study_uid else "QIDO-RS for studies"
        items = client.search("studies", study_params(window), what)
        # Cut short when the node ignored offset and the window held as many as its cap.
        if client.capped:
            cap = max(cap, len(items))
        if client.capped and len(items) >= cap and not window.study_uid:
            since = window.since or EARLIEST
            until = window.until or today or date.today()
            if until > since:
                middle = since + (until - since) // 2
                log.info("node %s caps its QIDO-RS answers at %d: asking %s..%s in two halves",
                         node.name, len(items), since, until)
                ask(StudyFilter(since, middle, window.modality, window.patient_id))
                ask(StudyFilter(middle + timedelta(days=1), until, window.modality, window.patient_id))
                return
            problems.append(f"node {node.name}: more studies on {since} than the node answers at once "
                            f"({len(items)}); some may be missed")
        for item in items:
            ds = _dataset(item)
            if ds is None:
                problems.append(f"node {node.name}: a QIDO-RS answer could not be decoded; skipped")
                continue
            try:
                study = parse_study(ds)
            except MalformedIdentifier as exc:
                problems.append(f"node {node.name}: {exc}; skipped")
                continue
            studies.setdefault(study.study_uid, study)
    ask(selection)
    return list(studies.values()), problems


def find_series(client: DicomWebClient, node: Node, study_uid: str) -> tuple[list[Dataset], list[str]]:
    """Series-level answers for one study (each with a valid SeriesInstanceUID)."""
    items = client.search(f"studies/{study_uid}/series", {"includefield": _SERIES_FIELDS},
                          f"QIDO-RS for the series of study {study_uid}")
    good, problems = [], []
    for item in items:
        ds = _dataset(item)
        if ds is None or valid_uid(ds.get("SeriesInstanceUID")) is None:
            problems.append(f"node {node.name}: study {study_uid}: a series answer has no valid "
                            "SeriesInstanceUID; skipped")
            continue
        ds.StudyInstanceUID = study_uid
        good.append(ds)
    return good, problems


def series_metadata(client: DicomWebClient, study_uid: str, series_uid: str) -> list[dict]:
    """The WADO-RS metadata of one series (DICOM JSON, bulk data left out by the node)."""
    return client.get_json(f"studies/{study_uid}/series/{series_uid}/metadata", None,
                            f"WADO-RS metadata of study {study_uid}")


Keep = Callable[[bytes, str, Any, str, "str | None"], Outcome]


def keeper(vault: Vault, quarantine_dir: Path) -> Keep:
    """``keep(data, name, record, kind, reason)``: write a checked instance to the vault or quarantine."""
    def keep(data: bytes, name: str, record: Any = None, kind: str = "stored", reason: str | None = None) -> Outcome:
        digest = content_hash(data)
        if kind == "quarantined":
            quarantine(quarantine_dir, data, digest, name, reason or "")
            return Outcome("quarantined", name, len(data), digest, reason=reason)
        _, written = vault.put(data, digest)
        return Outcome("stored", name, len(data), digest, record, written=written)
    return keep


def retrieve_study(client: DicomWebClient, node: Node, job: StudyJob, vault: Vault,
                   quarantine_dir: Path) -> StudyResult:
    """WADO-RS of one study into the vault; the outcomes go back in the result, as for C-GET."""
    result = StudyResult(job.study_uid)
    keep = keeper(vault, quarantine_dir)
    seen: set[str] = set()
    refused = 0
    try:
        for headers, data in client.retrieve(f"studies/{job.study_uid}", f"WADO-RS of study {job.study_uid}"):
            kind = headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
            if kind != "application/dicom" or data[128:132] != b"DICM":
                refused += 1
                result.problems.append(f"node {node.name}: study {job.study_uid}: a part is not a DICOM "
                                       f"file ({kind or 'no content type'}); not stored")
                continue
            record, status, reason = read_record(data, "from-dicomweb.dcm")
            if record is None and status != "quarantined":
                refused += 1
                result.problems.append(f"node {node.name}: study {job.study_uid}: a part could not be "
                                       f"read as DICOM ({reason}); not stored")
                continue
            if record is not None:
                study_uid = record.study.row["study_instance_uid"]
                sop = record.instance.row["sop_instance_uid"]
                if study_uid != job.study_uid:
                    refused += 1
                    result.problems.append(f"node {node.name}: study {job.study_uid}: the node sent an "
                                           f"instance of another study ({study_uid}); not stored")
                    continue
                if sop in seen or sop in job.have:
                    seen.add(sop)
                    continue
                seen.add(sop)
            result.outcomes.append(keep(data, "from-dicomweb.dcm", record, status, reason))
            result.received += 1
    except DicomWebError as exc:
        result.error = f"{exc} (after {result.received} instances; the next run asks again)"
        result.unreachable = exc.unreachable
        return result
    except NetworkError as exc:
        result.error = str(exc)
        return result
    total = len(seen | set(job.have)) + sum(1 for o in result.outcomes if o.kind == "quarantined")
    result.listed = job.expected if job.expected is not None else total
    if refused:
        result.error = (f"node {node.address}: study {job.study_uid}: {refused} part(s) of the answer "
                        "refused (see above); the study is not complete")
    elif job.expected is not None and total < job.expected:
        result.error = (f"node {node.address}: study {job.study_uid}: {total} of the {job.expected} "
                        "instances the node reports came in the answer")
    result.complete = result.error is None
    return result


def find_series_metadata(client: DicomWebClient, node: Node, study_uid: str) -> tuple[list[Dataset], list[str]]:
    """Series rows of one study for ``--metadata-only``: QIDO-RS series, completed from each
    series' WADO-RS metadata resource (its first instance, and its instance count)."""
    found, problems = find_series(client, node, study_uid)
    for ds in found:
        series_uid = ds.SeriesInstanceUID
        items = series_metadata(client, study_uid, series_uid)
        first = _dataset(items[0]) if items else None
        if first is not None:
            for keyword in SERIES_KEYS:
                if keyword in ("StudyInstanceUID", "SeriesInstanceUID", "NumberOfSeriesRelatedInstances"):
                    continue
                if ds.get(keyword) in (None, "") and first.get(keyword) not in (None, ""):
                    setattr(ds, keyword, first.get(keyword))
        if ds.get("NumberOfSeriesRelatedInstances") in (None, ""):
            ds.NumberOfSeriesRelatedInstances = len(items)
    return found, problems
