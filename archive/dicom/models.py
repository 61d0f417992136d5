"""Patient, Study, Series and Instance records read from a DICOM dataset.

Only ``from_dataset`` touches raw DICOM elements; the rest of Limestone handles these records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from pydicom.dataset import Dataset

from archive.dicom import values as v
from archive.dicom.columns import INSTANCE_COLUMNS, PATIENT_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS
from archive.dicom.enums import XRAY_RADIATION_DOSE_SR
from archive.dicom.raw import tag_of, value
from archive.errors import LimestoneError

REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
_REQUIRED_TAGS = [(keyword, tag_of(keyword)) for keyword in REQUIRED_UIDS]
_ACQUISITION_DATE, _ACQUISITION_TIME = tag_of("AcquisitionDate"), tag_of("AcquisitionTime")
_TRANSFER_SYNTAX = tag_of("TransferSyntaxUID")


class InvalidDataset(LimestoneError, ValueError):
    """A dataset that cannot be archived (e.g. a required UID is missing)."""


def _tags(columns: dict) -> list[tuple[str, int, Callable[[Any], Any]]]:
    return [(column, tag_of(keyword), convert) for column, (keyword, convert) in columns.items()]


_PATIENT, _STUDY, _SERIES, _INSTANCE = (_tags(c) for c in (
    PATIENT_COLUMNS, STUDY_COLUMNS, SERIES_COLUMNS, INSTANCE_COLUMNS))

# Every top-level element ``Record.from_dataset`` reads: a parser may skip all others.
HEADER_TAGS = frozenset(
    [tag for columns in (_PATIENT, _STUDY, _SERIES, _INSTANCE) for _, tag, _ in columns]
    + [tag for _, tag in _REQUIRED_TAGS]
    + [_ACQUISITION_DATE, _ACQUISITION_TIME, tag_of("ContentSequence")])


def _read(ds: Dataset, columns: list[tuple[str, int, Callable[[Any], Any]]]) -> dict[str, Any]:
    row = {}
    for column, tag, convert in columns:
        raw = value(ds, tag)
        row[column] = convert(raw) if raw is not None else None
    return row


def patient_key(patient_id: str | None, issuer: str | None) -> str:
    """A stable key for one MRN at one issuer that reveals nothing about the patient."""
    digest = hashlib.sha256(f"{issuer or ''}\x00{patient_id or ''}".encode()).hexdigest()
    return digest[:32]


@dataclass
class Patient:
    row: dict[str, Any]

    @classmethod
    def from_dataset(cls, ds: Dataset) -> "Patient":
        row = _read(ds, _PATIENT)
        row["patient_key"] = patient_key(row["patient_id"], row["issuer_of_patient_id"])
        return cls(row)


@dataclass
class Study:
    row: dict[str, Any]

    @classmethod
    def from_dataset(cls, ds: Dataset) -> "Study":
        row = _read(ds, _STUDY)
        row["study_datetime"] = v.to_datetime(row["study_date"], row["study_time"])
        return cls(row)


@dataclass
class Series:
    row: dict[str, Any]

    @classmethod
    def from_dataset(cls, ds: Dataset) -> "Series":
        return cls(_read(ds, _SERIES))


@dataclass
class Instance:
    row: dict[str, Any]

    @classmethod
    def from_dataset(cls, ds: Dataset, transfer_syntax_uid: str | None = None) -> "Instance":
        row = _read(ds, _INSTANCE)
        meta = getattr(ds, "file_meta", None)
        row["transfer_syntax_uid"] = transfer_syntax_uid or (
            v.text(value(meta, _TRANSFER_SYNTAX)) if meta is not None else None)
        if row["acquisition_datetime"] is None:
            row["acquisition_datetime"] = v.to_datetime(value(ds, _ACQUISITION_DATE), value(ds, _ACQUISITION_TIME))
        if row["sop_class_uid"] == XRAY_RADIATION_DOSE_SR:
            row["ctdi_vol"], row["dlp"] = _dose_from_sr(ds)
        else:
            row["dlp"] = None
        return cls(row)


@dataclass
class Record:
    """Everything the archive keeps about one instance, at every level."""

    patient: Patient
    study: Study
    series: Series
    instance: Instance

    @classmethod
    def from_dataset(cls, ds: Dataset, transfer_syntax_uid: str | None = None) -> "Record":
        missing = [keyword for keyword, tag in _REQUIRED_TAGS if not v.text(value(ds, tag))]
        if missing:
            raise InvalidDataset(f"missing {', '.join(missing)}")
        patient = Patient.from_dataset(ds)
        study = Study.from_dataset(ds)
        study.row["patient_key"] = patient.row["patient_key"]
        return cls(patient, study, Series.from_dataset(ds),
                   Instance.from_dataset(ds, transfer_syntax_uid))


# Codes of the CT radiation dose template (TID 10011): totals over the irradiation events.
_DLP_TOTAL = "113813"        # CT Dose Length Product Total
_DLP = "113838"              # DLP (per irradiation event)
_CTDIVOL = "113830"          # Mean CTDIvol


def _dose_from_sr(ds: Dataset) -> tuple[float | None, float | None]:
    """Total DLP and the highest mean CTDIvol found in an X-Ray Radiation Dose SR."""
    total, event_sum, ctdi = None, 0.0, None
    stack = list(ds.get("ContentSequence", []))
    while stack:
        item = stack.pop()
        stack.extend(item.get("ContentSequence", []))
        names = item.get("ConceptNameCodeSequence")
        measured = item.get("MeasuredValueSequence")
        if not names or not measured:
            continue
        code = names[0].get("CodeValue")
        number = v.to_float(measured[0].get("NumericValue"))
        if number is None:
            continue
        if code == _DLP_TOTAL:
            total = number
        elif code == _DLP:
            event_sum += number
        elif code == _CTDIVOL:
            ctdi = number if ctdi is None else max(ctdi, number)
    return ctdi, total if total is not None else (event_sum or None)

