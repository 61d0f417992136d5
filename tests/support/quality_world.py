"""A small archive built for the quality notebooks, with known answers (fake patients, TEST^...).

- DX "CHEST PA" at three stations, four studies each: DX1 (NORTH) and DX2 (NORTH) expose alike,
  DX2 stores MONOCHROME1; DX3 (SOUTH) is the deliberately noisier station (twice the noise).
  Answer: the station comparison names DX3 only, and DX2's SNR is DX1's, not "best".
- CT "CT HEAD ROUTINE" at CT1 (NORTH), six studies of five slices, the first and last slice of each
  empty (air only: 12 images without anatomy); CTDIvol 50 mGy, except two studies at 70 mGy.
  Answer: exactly those two studies are above the 60 mGy head reference level.
- Repeats (CT HEAD, 8 x 8 images from tests/support/repeat_exam_files.py): NORTH 3 repeats, SOUTH 2;
  with the studies above, NORTH has 34 studies (rate 3/34) and SOUTH 12 (rate 2/12).
  Answer: SOUTH has the higher repeat rate with fewer repeats.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian

from tests.support.repeat_exam_files import exam_bytes

ROOT = "1.2.826.0.1.3680043.10.9062"
ISSUERS = {"NORTH": "TEST-N", "SOUTH": "TEST-S"}
SIZE = 128


@dataclass
class World:
    folder: Path
    noisy_station: str = "DX3"
    monochrome1_station: str = "DX2"
    over_drl: list[str] = field(default_factory=list)       # study UIDs above the CT head DRL
    no_anatomy_images: int = 0
    repeats: dict[str, int] = field(default_factory=dict)   # site -> repeats
    studies: dict[str, int] = field(default_factory=dict)   # site -> studies


def _base(modality: str, study: str, series: str, sop: str, site: str, mrn: str, when: datetime) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = (
        CTImageStorage if modality == "CT" else DigitalXRayImageStorageForPresentation)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.PatientName, ds.PatientID, ds.IssuerOfPatientID = f"TEST^Q{mrn}", f"TESTQ{mrn}", ISSUERS[site]
    ds.PatientBirthDate, ds.PatientSex = "19600101", "O"
    ds.StudyDate = ds.SeriesDate = when.strftime("%Y%m%d")
    ds.StudyTime = when.strftime("%H%M%S")
    ds.Modality, ds.InstitutionName = modality, f"TEST {site}"
    ds.SeriesNumber = 1
    ds.SamplesPerPixel = 1
    ds.Rows = ds.Columns = SIZE
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    return ds


def _bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _dx(rng, station: str, site: str, n: int, when: datetime) -> bytes:
    uid = f"{ROOT}.1.{station[-1]}{n}"
    ds = _base("DX", f"{uid}.1", f"{uid}.2", f"{uid}.3", site, f"{station}{n}", when)
    ds.StationName, ds.ProtocolName, ds.SeriesDescription = station, "CHEST PA", "CHEST PA"
    ds.BodyPartExamined = "CHEST"
    image = np.full((SIZE, SIZE), 300.0)
    image[32:100, 24:104] = 1500.0
    image += rng.normal(0, 40.0 if station == "DX3" else 20.0, image.shape)
    if station == "DX2":
        ds.PhotometricInterpretation = "MONOCHROME1"
        image = 4095.0 - image
    else:
        ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.clip(image, 0, 4095).astype(np.uint16).tobytes()
    return _bytes(ds)


def _ct(rng, n: int, slice_index: int, ctdi: float, when: datetime) -> bytes:
    uid = f"{ROOT}.2.{n}"
    ds = _base("CT", f"{uid}.1", f"{uid}.2", f"{uid}.3.{slice_index}", "NORTH", f"CT{n}", when)
    ds.StationName, ds.ProtocolName, ds.SeriesDescription = "CT1", "CT HEAD ROUTINE", "AX HEAD 5mm"
    ds.BodyPartExamined = "HEAD"
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.InstanceNumber, ds.SliceLocation, ds.SliceThickness = slice_index + 1, slice_index * 5.0, 5.0
    ds.CTDIvol = ctdi
    hu = np.full((SIZE, SIZE), -1000.0)
    if slice_index not in (0, 4):           # the edge slices are empty: air only
        y, x = np.mgrid[0:SIZE, 0:SIZE]
        hu[(y - SIZE / 2) ** 2 + (x - SIZE / 2) ** 2 < (SIZE * 0.38) ** 2] = 40.0
    hu += rng.normal(0, 8.0, hu.shape)
    ds.PixelData = np.clip(hu + 1024, 0, 4095).astype(np.uint16).tobytes()
    return _bytes(ds)


def build(folder: Path, seed: int = 21) -> World:
    """Write the archive's files into ``folder``; return what the notebooks must find."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    world = World(folder)
    start = datetime(2024, 2, 5, 9)
    for station, site in (("DX1", "NORTH"), ("DX2", "NORTH"), ("DX3", "SOUTH")):
        for n in range(4):
            (folder / f"dx-{station}-{n}.dcm").write_bytes(_dx(rng, station, site, n, start + timedelta(days=7 * n)))
            world.studies[site] = world.studies.get(site, 0) + 1
    for n in range(6):
        ctdi = 70.0 if n in (1, 4) else 50.0
        for s in range(5):
            (folder / f"ct-{n}-{s}.dcm").write_bytes(_ct(rng, n, s, ctdi, start + timedelta(days=5 * n)))
        if ctdi > 60:
            world.over_drl.append(f"{ROOT}.2.{n}.1")
        world.no_anatomy_images += 2
        world.studies["NORTH"] += 1
    # Repeat exams: singles and pairs 10 days apart, per site.
    plan = {"NORTH": (14, 3), "SOUTH": (4, 2)}
    for site, (singles, pairs) in plan.items():
        for n in range(singles + pairs):
            mrn = f"{site[0]}{n}"
            when = datetime(2024, 1, 8, 10) + timedelta(days=9 * n)
            times = [when] + ([when + timedelta(days=10)] if n >= singles else [])
            for k, at in enumerate(times):
                exam = (f"rep-{site}-{n}-{k}", site, ISSUERS[site], mrn, f"TEST^R{mrn}", date(1970, 1, 1), "O", "",
                        at, "CT", "HEAD", "CT HEAD")
                (folder / f"rep-{site}-{n}-{k}.dcm").write_bytes(exam_bytes(exam))
                world.studies[site] += 1
        world.repeats[site] = pairs
    return world
