"""A small, fully synthetic archive for dashboard tests, built from pydicom's bundled files.

Two sites; one patient known at both (different MRNs, same demographics) with a 12-slice CT, an
MR in several transfer syntaxes and a MONOCHROME1 CR; a second patient with a multi-frame YBR
ultrasound and an RGB capture; 30 single-image CT studies spread over weekdays and hours for
pagination and metrics; one study whose vault file is missing; one quarantined file; one ingest
run. Names are obviously fake (TEST^...). Deterministic: no randomness, fixed dates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from archive.home import Archive
from archive.ingest.intake import ingest_bytes
from archive.store.runs import IngestRun, finish_run, start_run
from archive.store.writer import Site, StoreWriter, new_run_id, upsert_sites

ROOT = "1.2.826.0.1.3680043.10.1234."  # a fixed UID root for the fixture


def _file(name: str) -> pydicom.Dataset:
    return pydicom.dcmread(get_testdata_file(name, download=False), force=True)


def _uid(*parts) -> str:
    return generate_uid(prefix=ROOT, entropy_srcs=[str(p) for p in parts])


def _bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@dataclass
class SeededArchive:
    home: Path
    studies: dict[str, str] = field(default_factory=dict)   # role -> StudyInstanceUID
    patients: dict[str, str] = field(default_factory=dict)  # role -> patient_key


PATIENTS = {
    "alpha_north": dict(PatientName="TEST^ALPHA", PatientID="N1001", IssuerOfPatientID="NORTH-MRN",
                        PatientBirthDate="19600102", PatientSex="F"),
    "alpha_south": dict(PatientName="TEST^ALPHA", PatientID="S77", IssuerOfPatientID="SOUTH-MRN",
                        PatientBirthDate="19600102", PatientSex="F"),
    "beta": dict(PatientName="TEST^BETA", PatientID="N2002", IssuerOfPatientID="NORTH-MRN",
                 PatientBirthDate="19751231", PatientSex="M"),
    "gamma": dict(PatientName="TEST^GAMMA", PatientID="S3003", IssuerOfPatientID="SOUTH-MRN",
                  PatientBirthDate="19880515", PatientSex="O"),
}


def _set(ds, patient: str, study_uid: str, series_uid: str, sop_uid: str, **attrs):
    for k, v in PATIENTS[patient].items():
        setattr(ds, k, v)
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = study_uid, series_uid, sop_uid
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def build(home: Path) -> SeededArchive:
    """Create the archive in ``home`` (which must not hold one yet)."""
    archive = Archive.load(home=str(home))
    seeded = SeededArchive(home)
    con = archive.store()
    upsert_sites(con, [
        Site("NORTH", "North General Hospital", ["NORTH_PACS"], "NORTH-MRN", ["NORTH GENERAL"]),
        Site("SOUTH", "South Valley Hospital", ["SOUTH_PACS"], "SOUTH-MRN", ["SOUTH VALLEY"]),
    ])
    run = start_run(con, IngestRun(new_run_id(), "import", "test fixture"))
    writer = StoreWriter(con, archive.home, run.run_id)
    files: list[tuple[str, bytes]] = []

    def study(role, patient, when: date, hhmm: str, description, institution, accession):
        uid = _uid("study", role)
        seeded.studies[role] = uid
        return uid, dict(StudyDate=when.strftime("%Y%m%d"), StudyTime=hhmm + "00",
                         StudyDescription=description, InstitutionName=institution,
                         AccessionNumber=accession)

    # 1. CT head, 12 slices (the scroll test), North.
    uid, common = study("ct_head", "alpha_north", date(2024, 3, 4), "0915", "CT HEAD WITHOUT CONTRAST",
                        "NORTH GENERAL", "ACC-CT-1")
    series = _uid("series", "ct_head")
    base = _file("CT_small.dcm")
    for i in range(12):
        ds = _set(base.copy(), "alpha_north", uid, series, _uid("sop", "ct_head", i),
                  InstanceNumber=i + 1, SliceLocation=float(i * 5), BodyPartExamined="HEAD",
                  SeriesDescription="AXIAL 5MM", SeriesNumber=2, **common)
        arr = ds.pixel_array.copy()
        arr[:, : 8 + i * 8] = arr.min()  # each slice visibly different
        ds.PixelData = arr.tobytes()
        files.append((f"ct{i}.dcm", _bytes(ds)))

    # 2. MR in several transfer syntaxes (each one an instance of the same series), North.
    uid, common = study("mr_knee", "alpha_north", date(2024, 6, 10), "1430", "MR KNEE LEFT",
                        "NORTH GENERAL", "ACC-MR-1")
    series = _uid("series", "mr")
    for i, name in enumerate(["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                              "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm"]):
        ds = _set(_file(name), "alpha_north", uid, series, _uid("sop", "mr", i), InstanceNumber=i + 1,
                  BodyPartExamined="KNEE", SeriesDescription="T1 SAG", SeriesNumber=1, **common)
        files.append((f"mr{i}.dcm", _bytes(ds)))

    # 3. CR chest, MONOCHROME1, at the other site under another MRN.
    uid, common = study("cr_chest", "alpha_south", date(2024, 6, 24), "0805", "XR CHEST PA",
                        "SOUTH VALLEY", "ACC-CR-1")
    ds = _set(_file("MR_small.dcm"), "alpha_south", uid, _uid("series", "cr"), _uid("sop", "cr"),
              Modality="CR", PhotometricInterpretation="MONOCHROME1", BodyPartExamined="CHEST",
              SeriesDescription="PA", SeriesNumber=1, InstanceNumber=1, **common)
    files.append(("cr.dcm", _bytes(ds)))

    # 4. US multi-frame YBR + an RGB secondary capture, patient beta.
    uid, common = study("us_abdomen", "beta", date(2025, 1, 15), "1100", "US ABDOMEN",
                        "NORTH GENERAL", "ACC-US-1")
    ds = _set(_file("examples_ybr_color.dcm"), "beta", uid, _uid("series", "us"), _uid("sop", "us"),
              Modality="US", BodyPartExamined="ABDOMEN", SeriesDescription="CINE", SeriesNumber=1,
              InstanceNumber=1, **common)
    files.append(("us.dcm", _bytes(ds)))
    ds = _set(_file("SC_rgb.dcm") if False else _file("examples_rgb_color.dcm"), "beta", uid,
              _uid("series", "sc"), _uid("sop", "sc"), Modality="US", SeriesDescription="CAPTURE",
              SeriesNumber=2, InstanceNumber=1, **common)
    files.append(("sc.dcm", _bytes(ds)))

    # 5. A study whose only file goes missing from the vault.
    uid, common = study("missing", "beta", date(2025, 2, 3), "1615", "CT CHEST", "NORTH GENERAL",
                        "ACC-MISS-1")
    ds = _set(_file("CT_small.dcm"), "beta", uid, _uid("series", "missing"), _uid("sop", "missing"),
              BodyPartExamined="CHEST", SeriesDescription="LOST", SeriesNumber=1, InstanceNumber=1,
              **common)
    missing_bytes = _bytes(ds)
    files.append(("missing.dcm", missing_bytes))

    # 6. Thirty single-image CT studies over weekdays and hours (pagination and metrics).
    base = _file("CT_small.dcm")
    for i in range(30):
        when = date(2024, 1, 1) + timedelta(days=i * 11)
        uid, common = study(f"bulk{i}", "gamma", when, f"{7 + i % 11:02d}{(i * 7) % 60:02d}",
                            f"CT ABDOMEN FOLLOW-UP {i + 1}", "SOUTH VALLEY", f"ACC-B-{i:03d}")
        ds = _set(base.copy(), "gamma", uid, _uid("series", "bulk", i), _uid("sop", "bulk", i),
                  BodyPartExamined="ABDOMEN", SeriesDescription="AXIAL", SeriesNumber=1,
                  InstanceNumber=1, **common)
        files.append((f"bulk{i}.dcm", _bytes(ds)))

    # 7. A damaged file: quarantined by the ingest.
    files.append(("truncated.dcm", Path(get_testdata_file("MR_truncated.dcm", download=False)).read_bytes()))

    for name, data in files:
        outcome = ingest_bytes(data, name, archive.vault, archive.home.quarantine_dir)
        run.files_seen += 1
        if outcome.kind == "stored":
            writer.add(outcome.record, outcome.size, outcome.digest)
            run.imported += 1
            run.bytes += outcome.size
        elif outcome.kind == "quarantined":
            writer.quarantined(outcome.digest, outcome.name, outcome.reason, outcome.size)
            run.quarantined += 1
    writer.flush()
    finish_run(con, run, "failed" if run.quarantined else "ok")
    from archive.vault import content_hash
    archive.vault.path_for(content_hash(missing_bytes)).unlink()
    for role, p in (("alpha", "alpha_north"), ("alpha_south", "alpha_south"), ("beta", "beta"),
                    ("gamma", "gamma")):
        key = con.execute("SELECT patient_key FROM patients WHERE patient_id = ?",
                          [PATIENTS[p]["PatientID"]]).fetchone()[0]
        seeded.patients[role] = key
    con.close()
    return seeded
