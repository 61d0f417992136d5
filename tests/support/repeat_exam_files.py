"""DICOM files of single exams for the repeat-metrics tests (obviously fake patients, TEST^...).

An exam is a tuple (study, site, issuer, MRN, name, birth date, sex, OtherPatientIDs, when,
modality, body part, description); the Patient ID is ``TEST<MRN>``, as in tests/support/repeats_world.py, so a file
of an exam there adds a study to the same patient record.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian

ROOT_UID = "1.2.826.0.1.3680043.10.9061"
SOP_CLASS = {"CT": CTImageStorage, "DX": DigitalXRayImageStorageForPresentation}


def exam_bytes(exam, n: int = 0) -> bytes:
    """One small image of the exam (instance ``n``), as a DICOM file's bytes."""
    study, site, issuer, mrn, name, born, sex, card, when, modality, body, description = exam
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SOP_CLASS[modality]
    prefix = f"{ROOT_UID}.{int(hashlib.sha256(study.encode()).hexdigest()[:12], 16)}"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{prefix}.3.{n}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"{prefix}.1", f"{prefix}.2"
    ds.PatientName, ds.PatientID, ds.IssuerOfPatientID = name, f"TEST{mrn}", issuer
    ds.PatientBirthDate, ds.PatientSex = born.strftime("%Y%m%d"), sex
    if card:
        ds.OtherPatientIDs = card
    ds.StudyDate, ds.StudyTime = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    ds.Modality, ds.BodyPartExamined, ds.StudyDescription = modality, body, description
    ds.InstitutionName = f"TEST {site}"
    ds.SeriesNumber, ds.InstanceNumber = 1, n + 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.zeros((8, 8), np.uint16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write(folder: Path, *exams) -> Path:
    """A folder holding one file of each exam."""
    folder.mkdir(parents=True, exist_ok=True)
    for exam in exams:
        (folder / f"{exam[0]}.dcm").write_bytes(exam_bytes(exam))
    return folder
