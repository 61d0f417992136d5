"""Test worlds for the comparison review, with every expected answer known in advance.

``phantom_slice`` draws an axial CT section (HU) of a synthetic body at an anatomical height
``a`` (mm): an elliptic trunk whose size changes with height, a spine with discs every 25 mm,
a dense lesion at a = 60 mm and an air-filled one at a = 110 mm, so that every height looks
different. A series is ``CtSeries``: slices ``thickness`` apart, slice k at anatomical height
``start + k * thickness`` and at patient position ``table - k * thickness`` (its own frame of
reference). The position offset that links two series of the same body is therefore known:
``true_offset(current, prior)``.

``build_rows`` writes store rows (no files) for prior ranking; ``build_images`` writes real
DICOM files of a patient known at two sites (current CT, a prior CT with another frame of
reference, a prior CT without positions, two chest radiographs with a known shift) through the
ingest. Names are obviously fake (TEST^...).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ComputedRadiographyImageStorage, CTImageStorage, ExplicitVRLittleEndian, generate_uid

from archive.clock import now_utc
from archive.dicom.models import patient_key
from archive.store.writer import Site, upsert_sites

ROOT = "1.2.826.0.1.3680043.10.4242."


def uid(*parts) -> str:
    return generate_uid(prefix=ROOT, entropy_srcs=[str(p) for p in parts])


# ---- synthetic anatomy ---------------------------------------------------------------------------
def phantom_slice(a: float, size: int = 128, spacing: float = 2.0,
                  shift_mm: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """An axial section (HU, float32) at anatomical height ``a`` mm; ``shift_mm`` moves the body (rows, cols)."""
    centre = (size - 1) / 2
    rows, cols = np.mgrid[:size, :size].astype(np.float32)
    y = (rows - centre) * spacing - shift_mm[0]
    x = (cols - centre) * spacing - shift_mm[1]
    hu = np.full((size, size), -1000.0, np.float32)
    scale = 0.75 + 0.25 * np.sin(np.pi * np.clip(a, 0, 300) / 300)
    hu[(x / (100 * scale)) ** 2 + (y / (75 * scale)) ** 2 <= 1] = 40.0
    if 0 <= a <= 220:
        hu[(x ** 2 + (y - 45) ** 2) <= 9 ** 2] = 300.0 if a % 25 < 5 else 700.0
    for (za, yc, xc, radius, value) in ((60.0, -10.0, 30.0, 18.0, 150.0), (110.0, 20.0, -40.0, 14.0, -600.0)):
        if abs(a - za) < radius:
            r = np.sqrt(radius ** 2 - (a - za) ** 2)
            hu[((x - xc) ** 2 + (y - yc) ** 2) <= r ** 2] = value
    return hu


@dataclass
class CtSeries:
    slices: int = 30
    thickness: float = 5.0
    start: float = 0.0               # anatomical height of slice 0 (mm)
    table: float = 0.0               # patient position of slice 0 along the normal (mm)
    size: int = 128
    spacing: float = 2.0
    shift_mm: tuple[float, float] = (0.0, 0.0)

    def heights(self) -> np.ndarray:
        return self.start + np.arange(self.slices) * self.thickness

    def positions(self) -> np.ndarray:
        return self.table - np.arange(self.slices) * self.thickness

    def volume(self) -> np.ndarray:
        return np.stack([phantom_slice(a, self.size, self.spacing, self.shift_mm) for a in self.heights()])


def true_offset(current: CtSeries, prior: CtSeries) -> float:
    """Prior minus current position (mm) of the same anatomical height."""
    # height a: current position table_c - (a - start_c); prior table_p - (a - start_p)
    return (prior.table - current.table) + (prior.start - current.start)


# ---- store rows for prior ranking ----------------------------------------------------------------
ISSUERS = {"NORTH": "TEST-N", "SOUTH": "TEST-S"}
# (record, site, MRN, name, birth date, sex)
RECORDS = [
    ("pat_n", "NORTH", "N100", "TEST^PRIOR", date(1960, 1, 2), "F"),
    ("pat_s", "SOUTH", "S200", "TEST^PRIOR", date(1960, 1, 2), "F"),      # same person, other site
    ("pat_alias", "SOUTH", "S201", "TEST^PRIOR-ALIAS", date(1960, 1, 2), "F"),  # only by a link
    ("namesake", "SOUTH", "S300", "TEST^PRIOR", date(1971, 5, 5), "F"),   # another person
]
# (study, record, datetime, modality, body part, description)
STUDIES = [
    ("current", "pat_n", datetime(2025, 3, 10, 10), "CT", "CHEST", "CT Chest with contrast"),
    ("ct_chest_6m", "pat_n", datetime(2024, 9, 12, 9), "CT", "CHEST", "CT Chest with contrast"),
    ("ct_chest_2y", "pat_s", datetime(2023, 3, 1, 9), "CT", "CHEST", "CT THORAX"),
    ("cr_chest_1m", "pat_s", datetime(2025, 2, 8, 9), "CR", "CHEST", "XR Chest PA"),
    ("ct_head_1m", "pat_n", datetime(2025, 2, 10, 9), "CT", "HEAD", "CT Head"),
    ("us_neck_5y", "pat_s", datetime(2020, 3, 1, 9), "US", "NECK", "US Thyroid"),
    ("same_day_earlier", "pat_n", datetime(2025, 3, 10, 8), "CR", "CHEST", "XR Chest AP portable"),
    ("later", "pat_n", datetime(2025, 6, 1, 9), "CT", "CHEST", "CT Chest with contrast"),
    ("namesake_ct", "namesake", datetime(2024, 1, 1, 9), "CT", "CHEST", "CT Chest with contrast"),
    ("alias_ct", "pat_alias", datetime(2022, 1, 1, 9), "CT", "CHEST", "CT Chest with contrast"),
]


@dataclass
class RowsWorld:
    keys: dict[str, str] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)


def _insert(con, table: str, df: pd.DataFrame) -> None:
    con.register("new_rows", df)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM new_rows")
    finally:
        con.unregister("new_rows")


def build_rows(con) -> RowsWorld:
    """Write the ranking world into an empty, migrated store (no links)."""
    world = RowsWorld()
    upsert_sites(con, [Site(s, f"Test {s.title()} Hospital", [f"{s}_PACS"], issuer, [])
                       for s, issuer in ISSUERS.items()])
    patients = []
    for name, site, mrn, pn, born, sex in RECORDS:
        key = patient_key(mrn, ISSUERS[site])
        world.keys[name] = key
        patients.append(dict(patient_key=key, patient_id=f"TEST{mrn}", issuer_of_patient_id=ISSUERS[site],
                             site=site, patient_name=pn, patient_birth_date=born, patient_sex=sex,
                             updated_at=now_utc()))
    _insert(con, "patients", pd.DataFrame(patients))
    studies = []
    for n, (name, record, when, modality, part, description) in enumerate(STUDIES):
        world.uids[name] = f"{ROOT}9.{n + 1}"
        site = next(r[1] for r in RECORDS if r[0] == record)
        studies.append(dict(study_instance_uid=world.uids[name], patient_key=world.keys[record],
                            study_date=when.date(), study_time=when.time(), study_datetime=when,
                            study_description=description, modalities=[modality],
                            body_part_examined=part, site=site, number_of_series=1, number_of_instances=1))
    _insert(con, "studies", pd.DataFrame(studies))
    return world


def link_alias(con, world: RowsWorld) -> None:
    """Link the three records of the person as the regional identity would (patient_links rows)."""
    person = min(world.keys[k] for k in ("pat_n", "pat_s", "pat_alias"))
    rows = [dict(patient_key=world.keys[k], person_key=person, method="manual", confidence=1.0,
                 evidence="test", linked_at=now_utc()) for k in ("pat_n", "pat_s", "pat_alias")]
    rows.append(dict(patient_key=world.keys["namesake"], person_key=world.keys["namesake"], method="single",
                     confidence=1.0, evidence="test", linked_at=now_utc()))
    _insert(con, "patient_links", pd.DataFrame(rows))


# ---- DICOM files ---------------------------------------------------------------------------------
PATIENT = {"NORTH": dict(PatientName="TEST^COMPARE", PatientID="TESTN55", IssuerOfPatientID="TEST-N",
                         PatientBirthDate="19550505", PatientSex="M"),
           "SOUTH": dict(PatientName="TEST^COMPARE", PatientID="TESTS66", IssuerOfPatientID="TEST-S",
                         PatientBirthDate="19550505", PatientSex="M")}
CURRENT_CT = CtSeries(start=20.0, table=100.0)
PRIOR_CT = CtSeries(start=40.0, table=-35.0, spacing=2.2, shift_mm=(6.0, -4.0))   # other FoR and pixel size
OLD_CT = CtSeries(start=20.0, table=0.0, slices=20)                                # no positions written
CR_SHIFT_PX = (7, -5)


def _base(site: str, study_uid: str, series_uid: str, when: datetime, description: str,
          modality: str, sop_class: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    for k, v in PATIENT[site].items():
        setattr(ds, k, v)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.StudyDate = ds.SeriesDate = when.strftime("%Y%m%d")
    ds.StudyTime = when.strftime("%H%M%S")
    ds.StudyDescription = description
    ds.Modality = modality
    ds.InstitutionName = f"TEST {site}"
    ds.AccessionNumber = f"TESTACC{abs(hash(study_uid)) % 10000}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    return ds


def _save(ds: Dataset) -> bytes:
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_files(name: str, site: str, when: datetime, series: CtSeries, positions: bool = True,
             description: str = "CT Chest with contrast") -> list[bytes]:
    study_uid, series_uid, frame = uid(name, "study"), uid(name, "series"), uid(name, "frame")
    files = []
    for k, hu in enumerate(series.volume()):
        ds = _base(site, study_uid, series_uid, when, description, "CT", CTImageStorage)
        ds.SOPInstanceUID = uid(name, "sop", k)
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = "Chest 5mm", 2, k + 1
        ds.BodyPartExamined = "CHEST"
        ds.SliceThickness = series.thickness
        ds.PixelSpacing = [series.spacing, series.spacing]
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = 40, 400
        if positions:
            ds.FrameOfReferenceUID = frame
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            corner = -(series.size - 1) / 2 * series.spacing
            ds.ImagePositionPatient = [corner, corner, float(series.positions()[k])]
        ds.Rows = ds.Columns = series.size
        ds.PixelData = (hu + 1024).astype(np.int16).tobytes()
        files.append(_save(ds))
    return files


def cr_image(shift_px: tuple[int, int] = (0, 0), size: tuple[int, int] = (200, 160)) -> np.ndarray:
    """A chest-like radiograph (uint16) with distinct structures; ``shift_px`` moves the patient."""
    rows, cols = np.mgrid[:size[0], :size[1]].astype(np.float32)
    rows, cols = rows - shift_px[0], cols - shift_px[1]
    image = np.full(size, 300.0, np.float32)
    for (r, c, rr, rc, value) in ((100, 50, 60, 30, 1400), (100, 110, 60, 30, 1400), (40, 80, 15, 70, 2500),
                                  (150, 80, 25, 12, 3000), (70, 60, 8, 8, 3500)):
        image[((rows - r) / rr) ** 2 + ((cols - c) / rc) ** 2 <= 1] = value
    return image.astype(np.uint16)


def cr_file(name: str, site: str, when: datetime, shift_px: tuple[int, int], spacing: float | None = 0.5) -> bytes:
    ds = _base(site, uid(name, "study"), uid(name, "series"), when, "XR Chest PA", "CR",
               ComputedRadiographyImageStorage)
    ds.SOPInstanceUID = uid(name, "sop")
    ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = "PA", 1, 1
    ds.BodyPartExamined = "CHEST"
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
    if spacing:
        ds.PixelSpacing = [spacing, spacing]
    image = cr_image(shift_px)
    ds.Rows, ds.Columns = image.shape
    ds.PixelData = image.tobytes()
    return _save(ds)


@dataclass
class ImagesWorld:
    uids: dict[str, str] = field(default_factory=dict)


def build_images(archive) -> ImagesWorld:
    """Ingest the image world into ``archive`` (an empty home)."""
    from archive.ingest.intake import ingest_bytes
    from archive.store.runs import IngestRun, finish_run, start_run
    from archive.store.writer import StoreWriter, new_run_id

    plan = [
        ("current", "SOUTH", datetime(2025, 3, 10, 10), lambda n, s, w: ct_files(n, s, w, CURRENT_CT)),
        ("prior", "NORTH", datetime(2024, 9, 12, 9), lambda n, s, w: ct_files(n, s, w, PRIOR_CT)),
        ("old", "NORTH", datetime(2022, 1, 5, 9), lambda n, s, w: ct_files(n, s, w, OLD_CT, positions=False)),
        ("cr_now", "SOUTH", datetime(2025, 4, 1, 9), lambda n, s, w: [cr_file(n, s, w, (0, 0))]),
        ("cr_before", "NORTH", datetime(2025, 1, 20, 9), lambda n, s, w: [cr_file(n, s, w, CR_SHIFT_PX)]),
    ]
    world = ImagesWorld()
    con = archive.store()
    try:
        upsert_sites(con, [Site(s, f"Test {s.title()} Hospital", [f"{s}_PACS"], issuer, [f"TEST {s}"])
                           for s, issuer in ISSUERS.items()])
        run = start_run(con, IngestRun(new_run_id(), "import", "compare test world"))
        writer = StoreWriter(con, archive.home, run.run_id)
        for name, site, when, make in plan:
            world.uids[name] = uid(name, "study")
            for k, data in enumerate(make(name, site, when)):
                outcome = ingest_bytes(data, f"{name}{k}.dcm", archive.vault, archive.home.quarantine_dir)
                assert outcome.kind == "stored", outcome
                writer.add(outcome.record, outcome.size, outcome.digest)
        writer.flush()
        finish_run(con, run, "ok")
    finally:
        con.close()
    return world


