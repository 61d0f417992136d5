"""Writing the demo archive: people and histories become DICOM files and a manifest.

Everything derives from the seed: UIDs (``generate_uid`` with the seed as entropy), dates, names
and pixels (a numpy Generator per person and per study), so the same seed writes byte-identical
files. Files are Explicit VR Little Endian Part 10 files with the standard SOP classes of each
modality.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from archive.demo import images
from archive.demo._encode import SeriesEncoder
from archive.demo.exams import Exam, SeriesSpec, exam
from archive.demo.histories import PlannedStudy, choose_storylines, plan_history
from archive.demo.manifest import (
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    Manifest,
    PersonEntry,
    SeriesEntry,
    StudyEntry,
    label_repeats,
)
from archive.demo.patients import GIVEN_F, HEALTH_CARD_ISSUER, MrnBook, Person, make_people, namesake
from archive.demo.sites import REGION_SITES, DemoSite, site_by_code

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
MG_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"

CT_SIZE = 256
MR_SIZE = 192
XR_SHAPES = {"chest": (640, 528), "limb": (512, 400)}
MG_SHAPE = (576, 448)
US_SHAPE = (480, 640)

REFERRERS = ("DEMO^ASPEN^^DR", "DEMO^BRAMBLE^^DR", "DEMO^CLOVER^^DR", "DEMO^FERN^^DR",
             "DEMO^HOLLY^^DR", "DEMO^IVY^^DR", "DEMO^LAUREL^^DR", "DEMO^MOSS^^DR")
# SNOMED CT codes of the mammography views (View Code Sequence, CID 4014).
MG_VIEWS = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique"),
            "ML": ("399260004", "medio-lateral")}
MR_WINDOWS = {"T1": (620.0, 1240.0), "T1C": (680.0, 1360.0), "T2": (760.0, 1520.0),
              "FLAIR": (480.0, 960.0), "PD": (560.0, 1120.0)}
ORIENTATION = {"AX": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], "SAG": [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
               "COR": [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]}


class _Uids:
    """UIDs derived from the seed: the same seed and name always give the same UID."""

    def __init__(self, seed: int):
        self.seed = str(seed)

    def __call__(self, *parts: object) -> str:
        # One joined source: generate_uid concatenates its sources, so ("1", "11") == ("11", "1").
        return generate_uid(entropy_srcs=["|".join(["limestone-demo", self.seed, *map(str, parts)])])


_IMPLEMENTATION_UID = generate_uid(entropy_srcs=["limestone-demo-implementation"])


def build_demo(folder: Path, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED,
               workers: int | None = None) -> Manifest:
    """Write a demo archive of ``patients`` people into ``folder``; return what was made.

    Studies are written by ``workers`` processes (default: up to two); each study draws from its
    own seeded generator, so the files do not depend on how the work was shared out.
    """
    if patients < 1:
        raise ValueError("the demo needs at least one patient")
    folder = Path(folder)
    rng = np.random.default_rng([seed, 0])
    storylines = choose_storylines(patients, rng)
    codes = [s.code for s in REGION_SITES]
    people = make_people(patients, rng, codes)
    people = [_with_sex(p, "F") if storylines[p.index] == "breast" else p for p in people]
    namesake_of: dict[int, int] = {}
    for index, storyline in enumerate(storylines):
        if storyline == "namesake":
            # a stranger to person 0, at a hospital person 0 never visits
            home = "COAST" if people[0].home_site != "COAST" else "VALLEY"
            people[index] = namesake(people[0], index, rng, home)
            namesake_of[index] = 0

    planned: list[PlannedStudy] = []
    for person in people:
        planned += plan_history(person, storylines[person.index], np.random.default_rng([seed, 1, person.index]))
    planned.sort(key=lambda s: (s.when, s.person, s.exam))

    uids = _Uids(seed)
    mrns = MrnBook({s.code: s.letter for s in REGION_SITES})
    accessions: dict[str, int] = {}
    writers = []
    for number, plan in enumerate(planned):
        site = site_by_code(plan.site)
        accessions[site.code] = accessions.get(site.code, 0) + 1
        accession = f"{site.letter}{plan.when:%y}{accessions[site.code]:06d}"
        writers.append(_StudyWriter(folder, uids, seed, number, plan, people[plan.person], site,
                                    mrns.mrn(plan.person, site.code), accession))
    studies = _write_all(writers, workers if workers is not None else min(2, os.cpu_count() or 1))

    label_repeats(studies)
    entries = [PersonEntry(p.index, p.name, p.birth_date, p.sex, p.health_card, p.card_recorded,
                           p.home_site, storylines[p.index],
                           {site: mrn for (who, site), mrn in mrns.mrns.items() if who == p.index},
                           namesake_of.get(p.index)) for p in people]
    return Manifest(seed, patients, codes, entries, studies, folder)


def _write_study(writer: "_StudyWriter") -> StudyEntry:
    return writer.write()


def _write_all(writers: list["_StudyWriter"], workers: int) -> list[StudyEntry]:
    planned = sum(writer.expected_instances() for writer in writers)
    if workers <= 1 or planned < 600:      # below that, starting workers costs more than it saves
        return [w.write() for w in writers]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_write_study, writers, chunksize=4))


def _with_sex(person: Person, sex: str) -> Person:
    if person.sex == sex:
        return person
    family, _, initial = person.name.split("^")
    given = GIVEN_F[person.index % len(GIVEN_F)]
    return Person(person.index, f"{family}^{given}^{initial}", person.birth_date, sex,
                  person.health_card, person.card_recorded, person.home_site, person.body_size)


def _da(day: date) -> str:
    return day.strftime("%Y%m%d")


def _tm(moment: datetime) -> str:
    return moment.strftime("%H%M%S")


def _age(born: date, on: date) -> str:
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return f"{years:03d}Y"


@dataclass
class _StudyWriter:
    folder: Path
    uids: _Uids
    seed: int
    number: int
    plan: PlannedStudy
    person: Person
    site: DemoSite
    patient_id: str
    accession: str

    def expected_instances(self) -> int:
        return sum(len(s.views) or s.slices for s in exam(self.plan.exam).series)

    def write(self) -> StudyEntry:
        plan, spec = self.plan, exam(self.plan.exam)
        self.exam: Exam = spec
        self.rng = np.random.default_rng([self.seed, 2, self.number])
        family = spec.family
        if family == "XR":
            modality = self.site.device("CR" if "CR" in self.site.modalities else "DX").modality
        else:
            modality = family
        self.device = self.site.device(modality)
        self.study_uid = self.uids("study", self.number)
        self.referrer = REFERRERS[int(self.rng.integers(len(REFERRERS)))]
        self.dir = self.folder / self.site.code / f"{self.number:05d}"
        self.dir.mkdir(parents=True, exist_ok=True)
        entry = StudyEntry(self.study_uid, self.accession, self.person.index, self.patient_id,
                           self.site.issuer, self.site.code, spec.key, modality, spec.body_part,
                           spec.description, plan.when, plan.scenario, plan.intent, plan.offset_mm)
        frames: dict[int, str] = {}
        for n, series in enumerate(spec.series):
            series_number = n + 1 if family != "CT" else n + 2     # CT series 1 is the scout, not kept
            frame = None
            if family in ("CT", "MR"):
                frame = frames.get(series.same_frame_as, None) if series.same_frame_as is not None else None
                frame = frame or self.uids("frame", self.number, n)
                frames[n] = frame
            entry.series.append(self._write_series(modality, series, series_number, frame))
        return entry

    # ---- shared modules -------------------------------------------------------------------------
    def _base(self, modality: str, series: SeriesSpec, series_number: int, series_uid: str,
              sop_class: str) -> Dataset:
        person, when = self.person, self.plan.when
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SOPClassUID = sop_class
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = _da(when.date())
        ds.StudyTime = _tm(when)
        ds.SeriesTime = _tm(when + timedelta(minutes=2 + series_number))
        ds.AccessionNumber = self.accession
        ds.Modality = modality
        ds.Manufacturer = self.device.manufacturer
        ds.InstitutionName = self.site.name
        ds.InstitutionAddress = f"{self.site.code.title()} Road 1, DEMO Region"
        ds.ReferringPhysicianName = self.referrer
        ds.StationName = self.device.station_name
        ds.StudyDescription = self.exam.description
        ds.SeriesDescription = series.description
        ds.OperatorsName = f"DEMO^TECH^{self.site.letter}"
        ds.ManufacturerModelName = self.device.model
        ds.PatientName = person.name
        ds.PatientID = self.patient_id
        ds.IssuerOfPatientID = self.site.issuer
        ds.PatientBirthDate = _da(person.birth_date)
        ds.PatientSex = person.sex
        if person.card_recorded:
            ds.OtherPatientIDs = person.health_card
            other = Dataset()
            other.PatientID = person.health_card
            other.IssuerOfPatientID = HEALTH_CARD_ISSUER
            other.TypeOfPatientID = "TEXT"
            ds.OtherPatientIDsSequence = Sequence([other])
        ds.PatientAge = _age(person.birth_date, when.date())
        ds.BodyPartExamined = self.exam.body_part
        ds.DeviceSerialNumber = f"DEMO-{self.device.station_name}"
        ds.SoftwareVersions = "DEMO 1.0"
        ds.ProtocolName = series.protocol
        ds.StudyInstanceUID = self.study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = self.accession[-8:]
        ds.SeriesNumber = series_number
        ds.SamplesPerPixel = 1
        ds.BitsAllocated = 16
        ds.PixelRepresentation = 0
        return ds

    def _save(self, ds: Dataset, inst: Dataset, series_number: int, instance: int,
              pixels: np.ndarray) -> None:
        """Write one instance: the series' shared ``ds`` plus this instance's ``inst`` elements."""
        if getattr(self, "_encoder_for", None) is not ds:
            ds.Rows, ds.Columns = pixels.shape
            self._encoder = SeriesEncoder(ds, _IMPLEMENTATION_UID, "LIMESTONE_DEMO")
            self._encoder_for = ds
        inst.SOPInstanceUID = self.uids("instance", self.number, series_number, instance)
        inst.InstanceNumber = instance
        moment = self.plan.when + timedelta(minutes=2 + series_number, seconds=instance)
        inst.InstanceCreationDate = inst.ContentDate = _da(moment.date())
        inst.InstanceCreationTime = inst.ContentTime = inst.AcquisitionTime = _tm(moment)
        inst.add_new(0x7FE00010, "OW" if pixels.itemsize > 1 else "OB", pixels.tobytes())   # PixelData
        path = self.dir / f"{series_number:02d}_{instance:03d}.dcm"
        path.write_bytes(self._encoder.encode(inst))

    def _write_series(self, modality: str, series: SeriesSpec, series_number: int,
                      frame: str | None) -> SeriesEntry:
        series_uid = self.uids("series", self.number, series_number)
        writer = {"CT": self._ct, "MR": self._mr, "CR": self._xr, "DX": self._xr,
                  "MG": self._mg, "US": self._us}[modality]
        sop_class = {"CT": CT_IMAGE, "MR": MR_IMAGE, "CR": CR_IMAGE, "DX": DX_PRESENTATION,
                     "MG": MG_PRESENTATION, "US": US_IMAGE}[modality]
        ds = self._base(modality, series, series_number, series_uid, sop_class)
        if frame:
            ds.FrameOfReferenceUID = frame
            ds.PositionReferenceIndicator = ""
        count, start = writer(ds, series, series_number)
        return SeriesEntry(series_uid, series_number, modality, series.description, sop_class, frame,
                           count, series.thickness if modality in ("CT", "MR") else None, start)

    # ---- cross-sectional ------------------------------------------------------------------------
    def _slices(self, ds: Dataset, series: SeriesSpec, size: int) -> tuple[float, list[tuple[float, list[float]]]]:
        """Pixel spacing and, per slice, the anatomy fraction and ImagePositionPatient."""
        spacing = round(self.exam.fov_mm / size, 4)
        dx, dy, dz = self.plan.offset_mm
        # Each exam has its own frame of reference: the table origin differs from exam to exam.
        table = round(float(np.random.default_rng([self.seed, 3, self.number]).uniform(-60, 60)), 1)
        corner = -self.exam.fov_mm / 2 + spacing / 2
        length = series.thickness * max(series.slices - 1, 1)
        positions = []
        for k in range(series.slices):
            along = k * series.thickness
            t = float(np.clip((along + dz) / length, 0, 1))
            if series.plane == "SAG":
                ipp = [round(table - length / 2 + along, 2), corner, -corner]
            elif series.plane == "COR":
                ipp = [corner, round(table - length / 2 + along, 2), -corner]
            else:
                ipp = [corner, corner, round(table - along, 2)]
            positions.append((t, ipp))
        ds.PixelSpacing = [spacing, spacing]
        ds.SliceThickness = series.thickness
        ds.SpacingBetweenSlices = series.thickness
        ds.ImageOrientationPatient = ORIENTATION[series.plane]
        ds.PatientPosition = "HFS"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL" if series.plane == "AX" else "OTHER"]
        return spacing, positions

    def _shift_px(self, spacing: float) -> tuple[int, int]:
        dx, dy, _ = self.plan.offset_mm
        return int(round(dy / spacing)), int(round(dx / spacing))

    def _ct(self, ds: Dataset, series: SeriesSpec, series_number: int) -> tuple[int, float]:
        spacing, positions = self._slices(ds, series, CT_SIZE)
        rng = np.random.default_rng([self.seed, 4, self.number, series_number])
        ds.KVP = self.exam.kvp if self.exam.shape != "chest" else 100.0
        ds.ConvolutionKernel = series.kernel
        ds.DataCollectionDiameter = 500.0
        ds.ReconstructionDiameter = self.exam.fov_mm
        ds.GantryDetectorTilt = 0.0
        ds.TableHeight = 160.0
        ds.RotationDirection = "CW"
        ds.XRayTubeCurrent = int(180 * self.person.body_size)
        ds.ExposureTime = 500
        ds.Exposure = int(ds.XRayTubeCurrent * 0.5)
        ds.CTDIvol = round(self.exam.ctdi_vol * self.person.body_size
                           * float(np.random.default_rng([self.seed, 5, self.number]).uniform(0.85, 1.15)), 2)
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = series.window
        ds.WindowCenterWidthExplanation = "WINDOW1"
        shift = self._shift_px(spacing)
        for k, (t, ipp) in enumerate(positions, start=1):
            hu = images.ct_slice(self.exam.shape, CT_SIZE, t, self.person.body_size, shift, rng)
            inst = Dataset()
            inst.ImagePositionPatient = ipp
            inst.SliceLocation = ipp[2]
            self._save(ds, inst, series_number, k, (hu.astype(np.int32) + 1024).astype(np.int16))
        return len(positions), self.plan.offset_mm[2]

    def _mr(self, ds: Dataset, series: SeriesSpec, series_number: int) -> tuple[int, float]:
        spacing, positions = self._slices(ds, series, MR_SIZE)
        rng = np.random.default_rng([self.seed, 4, self.number, series_number])
        strength = 3.0 if "3T" in self.device.model else 1.5
        timing = {"T1": (500, 10), "T1C": (500, 10), "T2": (4000, 95), "FLAIR": (9000, 120),
                  "PD": (3000, 30)}[series.weighting or "T1"]
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "SK"
        ds.ScanOptions = "FS" if "FS" in series.description else ""
        ds.MRAcquisitionType = "2D"
        ds.RepetitionTime, ds.EchoTime = timing
        ds.InversionTime = 2500 if series.weighting == "FLAIR" else None
        if ds.InversionTime is None:
            del ds.InversionTime
        ds.MagneticFieldStrength = strength
        ds.ImagingFrequency = round(42.577 * strength, 3)
        ds.EchoTrainLength = 1 if series.weighting in ("T1", "T1C") else 16
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsStored, ds.HighBit = 12, 11
        ds.WindowCenter, ds.WindowWidth = MR_WINDOWS[series.weighting or "T1"]
        shift = self._shift_px(spacing)
        for k, (t, ipp) in enumerate(positions, start=1):
            signal = images.mr_slice(self.exam.shape, series.weighting, MR_SIZE, t,
                                     self.person.body_size, shift, series.plane, rng)
            inst = Dataset()
            inst.ImagePositionPatient = ipp
            inst.SliceLocation = ipp[{"SAG": 0, "COR": 1}.get(series.plane, 2)]
            self._save(ds, inst, series_number, k, signal)
        return len(positions), self.plan.offset_mm[2]

    # ---- projection -----------------------------------------------------------------------------
    def _xr(self, ds: Dataset, series: SeriesSpec, series_number: int) -> tuple[int, None]:
        region = "chest" if self.exam.shape == "chest" else "limb"
        rows, cols = XR_SHAPES[region]
        spacing = round(self.exam.fov_mm / rows, 4)
        rng = np.random.default_rng([self.seed, 4, self.number, series_number])
        computed = ds.Modality == "CR"
        # Plate readers of two sites store inverted grey levels (bone dark): MONOCHROME1.
        inverted = computed and self.site.code in ("NORTH",)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        if not computed:
            ds.PresentationIntentType = "FOR PRESENTATION"
            ds.PixelIntensityRelationship = "LOG"
            ds.PixelIntensityRelationshipSign = 1
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
            ds.BurnedInAnnotation = "NO"
            ds.DetectorType = "SCINTILLATOR"
            ds.ImagerPixelSpacing = [spacing, spacing]
        ds.PixelSpacing = [spacing, spacing]
        ds.KVP = self.exam.kvp
        ds.PhotometricInterpretation = "MONOCHROME1" if inverted else "MONOCHROME2"
        ds.BitsStored, ds.HighBit = 12, 11
        ds.WindowCenter, ds.WindowWidth = (2048.0, 3600.0) if region == "chest" else (2300.0, 3000.0)
        if region == "limb":
            ds.ImageLaterality = "R" if self.rng.random() < 0.55 else "L"
        ds.DistanceSourceToDetector = 1800.0 if region == "chest" else 1100.0
        for k, view in enumerate(series.views, start=1):
            target = 400.0 if not computed else 250.0
            deviation = float(rng.normal(0.0, 1.2)) + (3.5 if rng.random() < 0.08 else 0.0)
            inst = Dataset()
            inst.ViewPosition = view if view in ("PA", "AP", "LL") else ("LATERAL" if view == "LAT" else "")
            inst.TargetExposureIndex = target
            inst.ExposureIndex = round(target * 10 ** (deviation / 10), 1)
            inst.DeviationIndex = round(10 * np.log10(inst.ExposureIndex / target), 2)
            inst.Exposure = int(round(2 * 10 ** (deviation / 10))) + 1
            inst.ExposureTime = 10 if region == "chest" else 20
            inst.XRayTubeCurrent = 200
            inst.PatientOrientation = ["P", "F"] if view in ("PA", "AP") else ["A", "F"]
            pixels = images.radiograph(region, view, rows, cols, rng, monochrome1=inverted)
            self._save(ds, inst, series_number, k, pixels)
        return len(series.views), None

    def _mg(self, ds: Dataset, series: SeriesSpec, series_number: int) -> tuple[int, None]:
        rows, cols = MG_SHAPE
        spacing = round(self.exam.fov_mm / rows, 4)
        rng = np.random.default_rng([self.seed, 4, self.number, series_number])
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PixelIntensityRelationship = "LOG"
        ds.PixelIntensityRelationshipSign = 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
        ds.BurnedInAnnotation = "NO"
        ds.BreastImplantPresent = "NO"
        ds.PositionerType = "MAMMOGRAPHIC"
        ds.PartialView = "NO"
        ds.DetectorType = "DIRECT"
        ds.AnodeTargetMaterial = "TUNGSTEN"
        ds.FilterMaterial = "RHODIUM"
        ds.ImagerPixelSpacing = [spacing, spacing]
        ds.PixelSpacing = [spacing, spacing]
        ds.KVP = self.exam.kvp
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsStored, ds.HighBit = 12, 11
        ds.WindowCenter, ds.WindowWidth = 1700.0, 1600.0
        for k, label in enumerate(series.views, start=1):
            laterality, view = label.split()
            code, meaning = MG_VIEWS[view]
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "SCT", meaning
            inst = Dataset()
            inst.ViewCodeSequence = Sequence([item])
            inst.ImageLaterality = laterality
            inst.ViewPosition = view
            inst.PatientOrientation = (["A", "R" if view == "CC" else "FR"] if laterality == "R"
                                       else ["P", "L" if view == "CC" else "FL"])
            inst.BodyPartThickness = round(float(rng.uniform(40, 65)), 1)
            inst.CompressionForce = round(float(rng.uniform(80, 140)), 1)
            inst.OrganDose = round(float(rng.uniform(1.0, 2.2)), 2)
            inst.EntranceDoseInmGy = round(inst.OrganDose * 4.2, 2)
            inst.Exposure = int(rng.integers(60, 140))
            self._save(ds, inst, series_number, k, images.mammogram(view, laterality, rows, cols, rng))
        return len(series.views), None

    def _us(self, ds: Dataset, series: SeriesSpec, series_number: int) -> tuple[int, None]:
        rows, cols = US_SHAPE
        rng = np.random.default_rng([self.seed, 4, self.number, series_number])
        ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL" if self.exam.body_part == "ABDOMEN" else "SMALL PART"]
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.WindowCenter, ds.WindowWidth = 128.0, 256.0
        depth_cm = self.exam.fov_mm / 10 * 1.3
        region = Dataset()
        region.RegionSpatialFormat = 1
        region.RegionDataType = 1
        region.RegionFlags = 0
        region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = cols - 1, rows - 1
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3       # cm
        region.PhysicalDeltaX = region.PhysicalDeltaY = round(depth_cm / rows, 5)
        ds.SequenceOfUltrasoundRegions = Sequence([region])
        ds.TransducerData = "C5-1" if self.exam.body_part == "ABDOMEN" else "L12-5"
        for k in range(1, series.slices + 1):
            pixels = images.ultrasound(rows, cols, k / (series.slices + 1), rng)
            self._save(ds, Dataset(), series_number, k, pixels)
        return series.slices, None
