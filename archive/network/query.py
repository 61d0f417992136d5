"""C-FIND (study root) at study, series and image level, and what a node's answers mean.

Identifiers ask for the keys the archive keeps (one map per level, DICOM keyword -> requested
value; numeric keys are requested empty as None). Answers are checked: a response without a valid
StudyInstanceUID, or one that cannot be decoded, is reported and skipped, never trusted.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.uid import UID

from archive.dicom import values as v
from archive.errors import LimestoneError
from archive.network.errors import NetworkError
from archive.network.nodes import Node
from archive.network.status import StatusCategoryValues, category, describe

if TYPE_CHECKING:   # the DICOMweb pull uses this module without loading pynetdicom
    from pynetdicom import Association

log = logging.getLogger(__name__)

# Study Root Query/Retrieve Information Model - FIND (pynetdicom's StudyRootQueryRetrieveInformationModelFind)
FIND_MODEL = UID("1.2.840.10008.5.1.4.1.2.2.1")

STUDY_KEYS: dict[str, str | None] = {
    "StudyInstanceUID": "", "StudyDate": "", "StudyTime": "", "AccessionNumber": "", "StudyID": "",
    "StudyDescription": "", "ReferringPhysicianName": "", "ModalitiesInStudy": "",
    "SOPClassesInStudy": "", "NumberOfStudyRelatedSeries": None, "NumberOfStudyRelatedInstances": None,
    "PatientID": "", "IssuerOfPatientID": "", "PatientName": "", "PatientBirthDate": "", "PatientSex": "",
}
SERIES_KEYS: dict[str, str | None] = {
    "StudyInstanceUID": "", "SeriesInstanceUID": "", "Modality": "", "SeriesNumber": None,
    "SeriesDescription": "", "BodyPartExamined": "", "ProtocolName": "", "SeriesDate": "",
    "SeriesTime": "", "StationName": "", "Manufacturer": "", "NumberOfSeriesRelatedInstances": None,
}
IMAGE_KEYS: dict[str, str | None] = {
    "StudyInstanceUID": "", "SeriesInstanceUID": "", "SOPInstanceUID": "", "SOPClassUID": "",
    "InstanceNumber": None,
}


class MalformedIdentifier(LimestoneError, ValueError):
    """A C-FIND answer that cannot be used."""


@dataclass(frozen=True)
class StudyFilter:
    """Which studies a pull asks a node for; empty fields match everything."""

    since: date | None = None
    until: date | None = None
    modality: str | None = None
    patient_id: str | None = None
    study_uid: str | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"--since {self.since} is after --until {self.until}")
        if self.study_uid and not UID(self.study_uid).is_valid:
            raise ValueError(f"{self.study_uid!r} is not a valid Study Instance UID")

    def date_range(self) -> str:
        if not self.since and not self.until:
            return ""
        fmt = "%Y%m%d"
        return (f"{self.since.strftime(fmt) if self.since else ''}-"
                f"{self.until.strftime(fmt) if self.until else ''}")


@dataclass
class RemoteStudy:
    """One study as a node describes it."""

    study_uid: str
    study_date: date | None
    remote_instances: int | None
    remote_series: int | None
    modalities: list[str]
    sop_classes: list[str]
    identifier: Dataset = field(repr=False)


def identifier(level: str, keys: dict[str, str | None], **values: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, default in keys.items():
        setattr(ds, keyword, values.get(keyword, default))
    return ds


def study_identifier(selection: StudyFilter) -> Dataset:
    values = {"StudyDate": selection.date_range()}
    if selection.modality:
        values["ModalitiesInStudy"] = selection.modality
    if selection.patient_id:
        values["PatientID"] = selection.patient_id
    if selection.study_uid:
        values["StudyInstanceUID"] = selection.study_uid
    return identifier("STUDY", STUDY_KEYS, **values)


def _get(ds: Dataset, keyword: str) -> object:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.get(keyword)
    except Exception:  # a value pydicom cannot decode counts as absent
        return None


def valid_uid(value: object) -> str | None:
    """The UID in ``value`` if it is a well-formed UID, else None."""
    text = v.text(value)
    if not text or "\\" in text:
        return None
    return text if UID(text).is_valid else None


def _count(ds: Dataset, keyword: str) -> int | None:
    raw = _get(ds, keyword)
    number = v.to_int(raw) if raw not in (None, "") else None
    if raw not in (None, "") and (number is None or number < 0):
        raise MalformedIdentifier(f"{keyword} is not a count ({v.text(raw)!r:.40})")
    return number


def parse_study(ds: Dataset) -> RemoteStudy:
    """A RemoteStudy from a study-level answer, or MalformedIdentifier."""
    uid = valid_uid(_get(ds, "StudyInstanceUID"))
    if uid is None:
        raw = v.text(_get(ds, "StudyInstanceUID"))
        raise MalformedIdentifier(f"answer without a valid StudyInstanceUID ({raw!r:.70})")
    try:
        instances = _count(ds, "NumberOfStudyRelatedInstances")
        series = _count(ds, "NumberOfStudyRelatedSeries")
    except MalformedIdentifier as exc:
        raise MalformedIdentifier(f"study {uid}: {exc}") from None
    modalities = v.to_texts(_get(ds, "ModalitiesInStudy")) or []
    sop_classes = [c for c in (valid_uid(x) for x in (v.to_texts(_get(ds, "SOPClassesInStudy")) or [])) if c]
    return RemoteStudy(uid, v.to_date(_get(ds, "StudyDate")), instances, series, modalities,
                       sop_classes, ds)


def find(assoc: Association, query: Dataset, node: Node, what: str) -> tuple[list[Dataset], list[str]]:
    """All answers to one C-FIND, and the problems met (undecodable answers).

    Raises NetworkError when the node fails the query or the association breaks.
    """
    answers, problems = [], []
    final = None
    for status, found in assoc.send_c_find(query, FIND_MODEL):
        code = getattr(status, "Status", None)
        kind = category(code)
        if kind == StatusCategoryValues.PENDING:
            if found is None:
                problems.append(f"node {node.name}: an answer to the C-FIND for {what} could not be decoded")
            else:
                answers.append(found)
            continue
        final = code
        break
    if category(final) not in (StatusCategoryValues.SUCCESS, StatusCategoryValues.WARNING):
        raise NetworkError(f"node {node.address}: C-FIND for {what} failed: {describe(final)}",
                           unreachable=final is None)
    return answers, problems


def find_studies(assoc: Association, node: Node, selection: StudyFilter) -> tuple[list[RemoteStudy], list[str]]:
    """The node's studies matching ``selection`` (each once), and problems met on the way."""
    what = f"study {selection.study_uid}" if selection.study_uid else "studies"
    answers, problems = find(assoc, study_identifier(selection), node, what)
    studies: dict[str, RemoteStudy] = {}
    for answer in answers:
        try:
            study = parse_study(answer)
        except MalformedIdentifier as exc:
            problems.append(f"node {node.name}: {exc}; skipped")
            continue
        if study.study_uid in studies:
            # Orthanc lists a study once per PatientID it was stored under; keep the first.
            log.warning("node %s: study %s listed more than once (under different patient IDs); "
                        "using the first", node.name, study.study_uid)
            continue
        studies[study.study_uid] = study
    return list(studies.values()), problems


def find_series(assoc: Association, node: Node, study_uid: str) -> tuple[list[Dataset], list[str]]:
    """Series-level answers for one study (each with a valid SeriesInstanceUID)."""
    answers, problems = find(assoc, identifier("SERIES", SERIES_KEYS, StudyInstanceUID=study_uid),
                             node, f"the series of study {study_uid}")
    good = []
    for answer in answers:
        if valid_uid(_get(answer, "SeriesInstanceUID")) is None:
            problems.append(f"node {node.name}: study {study_uid}: a series answer has no valid "
                            "SeriesInstanceUID; skipped")
        else:
            answer.StudyInstanceUID = study_uid
            good.append(answer)
    return good, problems


def find_instances(assoc: Association, node: Node, study_uid: str,
                   series_uid: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(SOP Instance UID, SOP Class UID) of every instance of one series."""
    answers, problems = find(assoc, identifier("IMAGE", IMAGE_KEYS, StudyInstanceUID=study_uid,
                                               SeriesInstanceUID=series_uid),
                             node, f"the instances of study {study_uid}")
    found = []
    for answer in answers:
        sop = valid_uid(_get(answer, "SOPInstanceUID"))
        if sop is None:
            problems.append(f"node {node.name}: study {study_uid}: an instance answer has no valid "
                            "SOPInstanceUID; skipped")
        else:
            found.append((sop, valid_uid(_get(answer, "SOPClassUID"))))
    return found, problems
