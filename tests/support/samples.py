"""Sample DICOM files for tests and benchmarks, from pydicom's bundled real test files (offline).

``pydicom.data.get_testdata_file`` tries the internet unless ``download=False``; everything here
passes it, so nothing is ever fetched.
"""

from __future__ import annotations

import random
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid


def pydicom_file(name: str) -> Path:
    """The path of one of pydicom's bundled test files."""
    path = get_testdata_file(name, download=False)
    if path is None:
        raise FileNotFoundError(f"pydicom test file {name} is not bundled")
    return Path(path)


def pydicom_test_files() -> Path:
    """The folder of pydicom's bundled test files (many transfer syntaxes and edge cases)."""
    return pydicom_file("CT_small.dcm").parent


def write_ct_studies(out_dir: Path, files: int, per_series: int = 100, seed: int = 0,
                     template: str = "CT_small.dcm") -> list[Path]:
    """Write ``files`` copies of a real CT file as series of ``per_series`` slices, fresh UIDs each.

    Each series is its own study and patient (IDs 'SAMPLE-nnnn'), so the files are distinct instances.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    base = pydicom.dcmread(pydicom_file(template))
    written = []
    for index in range(files):
        if index % per_series == 0:
            group = index // per_series
            study_uid = generate_uid(entropy_srcs=[f"study-{seed}-{group}"])
            series_uid = generate_uid(entropy_srcs=[f"series-{seed}-{group}"])
            patient_id = f"SAMPLE-{seed:02d}{group:04d}"
            folder = out_dir / f"S{group:04d}"
            folder.mkdir(exist_ok=True)
        base.StudyInstanceUID = study_uid
        base.SeriesInstanceUID = series_uid
        base.SOPInstanceUID = generate_uid(entropy_srcs=[f"sop-{seed}-{index}-{rng.random()}"])
        base.file_meta.MediaStorageSOPInstanceUID = base.SOPInstanceUID
        base.PatientID = patient_id
        base.PatientName = f"SAMPLE^{patient_id[-4:]}"
        base.InstanceNumber = index % per_series + 1
        base.ImagePositionPatient = [-158.0, -179.0, -float(index % per_series) * 5.0]
        path = folder / f"IM{index % per_series:05d}.dcm"
        base.save_as(path, enforce_file_format=True)
        written.append(path)
    return written
