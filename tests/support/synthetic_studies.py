"""Generated, clearly fake CT studies for the PACS tests and the pull benchmark.

Every name, ID and UID is made up and deterministic for a seed; pixel data is a small ramp with
noise so files differ. Files are written in Explicit VR Little Endian with a proper file meta.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian

UID_ROOT = "1.2.826.0.1.3680043.10.1187."  # a test-only root under the pydicom-style arc


@dataclass
class StudySpec:
    study_uid: str
    patient_id: str
    study_date: date
    modality: str = "CT"
    series: list[tuple[str, list[str]]] = field(default_factory=list)  # (series UID, SOP UIDs)

    @property
    def instances(self) -> int:
        return sum(len(sops) for _, sops in self.series)

    @property
    def sop_uids(self) -> list[str]:
        return [sop for _, sops in self.series for sop in sops]


def _uid(rng: random.Random) -> str:
    return UID_ROOT + ".".join(str(rng.randrange(1, 10**9)) for _ in range(3))


def ct_instance(study: StudySpec, series_index: int, series_uid: str, number: int,
                sop_uid: str, size: int = 64) -> Dataset:
    """One small CT slice belonging to ``study``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientID = study.patient_id
    ds.PatientName = f"FAKE^{study.patient_id}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = study.study_date.strftime("%Y%m%d")
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC" + study.study_uid[-8:].replace(".", "")
    ds.StudyDescription = "CT CHEST (TEST)"
    ds.StudyID = "1"
    ds.Modality = study.modality
    ds.SeriesNumber = series_index + 1
    ds.SeriesDescription = f"AXIAL {series_index + 1}"
    ds.InstanceNumber = number
    ds.BodyPartExamined = "CHEST"
    ds.InstitutionName = "TEST HOSPITAL"
    ds.ImagePositionPatient = [0.0, 0.0, float(number)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 1.0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ramp = (np.add.outer(np.arange(size), np.arange(size)) * 7 + number) % 4096
    ds.PixelData = ramp.astype("<u2").tobytes()
    return ds


def make_studies(count: int, instances_per_study: int, seed: int = 1, series_per_study: int = 1,
                 first_date: date = date(2024, 1, 1), days_apart: int = 1) -> list[StudySpec]:
    """Specs of ``count`` studies on consecutive days (one patient each)."""
    rng = random.Random(seed)
    studies = []
    for index in range(count):
        study = StudySpec(_uid(rng), f"TEST{seed:02d}{index:05d}", first_date + timedelta(days=index * days_apart))
        per_series = max(1, instances_per_study // series_per_study)
        remaining = instances_per_study
        for s in range(series_per_study):
            n = remaining if s == series_per_study - 1 else per_series
            study.series.append((_uid(rng), [_uid(rng) for _ in range(n)]))
            remaining -= n
        studies.append(study)
    return studies


def write_studies(studies: list[StudySpec], folder: Path, size: int = 64) -> list[Path]:
    """Write every instance of ``studies`` under ``folder``; return the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s_index, study in enumerate(studies):
        for series_index, (series_uid, sops) in enumerate(study.series):
            for number, sop in enumerate(sops, start=1):
                path = folder / f"s{s_index:04d}_{series_index}_{number:04d}.dcm"
                ct_instance(study, series_index, series_uid, number, sop, size).save_as(path, enforce_file_format=True)
                paths.append(path)
    return paths
