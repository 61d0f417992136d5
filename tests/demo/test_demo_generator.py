"""The demo generator: deterministic, valid DICOM, and the scenario its manifest promises."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from archive.demo import build_demo
from archive.demo.exams import EXAMS
from archive.demo.manifest import StudyEntry, label_repeats
from archive.demo.sites import REGION_SITES

SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1", "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2", "US": "1.2.840.10008.5.1.4.1.1.6.1",
}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.dcm"))}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_a")
    return build_demo(folder, patients=8, seed=11, workers=1), folder


@pytest.fixture(scope="module")
def datasets(demo):
    _, folder = demo
    return {path: pydicom.dcmread(io.BytesIO(data)) for path, data in _files(folder).items()}


def test_same_seed_gives_identical_files_whatever_the_workers(demo, tmp_path):
    manifest, folder = demo
    again = build_demo(tmp_path, patients=8, seed=11, workers=2)
    first, second = _files(folder), _files(tmp_path)
    assert len(first) == manifest.instances > 100
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    assert again.to_json() == manifest.to_json()


def test_another_seed_gives_other_uids_and_pixels(demo, datasets, tmp_path):
    manifest, _ = demo
    other = build_demo(tmp_path, patients=8, seed=12, workers=1)
    assert not {s.study_instance_uid for s in manifest.studies} & {s.study_instance_uid for s in other.studies}
    theirs = {pydicom.dcmread(p).SOPInstanceUID for p in tmp_path.rglob("*.dcm")}
    assert not theirs & {ds.SOPInstanceUID for ds in datasets.values()}


def test_files_are_valid_dicom_of_the_right_sop_class(demo, datasets):
    manifest, _ = demo
    uids = set()
    for path, ds in datasets.items():
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SOPClassUID == SOP_CLASSES[ds.Modality], path
        pixels = ds.pixel_array
        assert pixels.shape == (ds.Rows, ds.Columns)
        assert pixels.std() > 1, f"{path} has a blank image"
        assert ds.PatientName.family_name.startswith("DEMO-") and ds.PatientID.startswith("DEMO-")
        assert ds.InstanceNumber >= 1
        uids.add(ds.SOPInstanceUID)
    assert len(uids) == len(datasets) == manifest.instances


def test_encoder_writes_what_pydicom_writes(demo):
    _, folder = demo
    for path in sorted(folder.rglob("*.dcm"))[::25]:
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, pydicom.dcmread(path), enforce_file_format=True)
        assert buffer.getvalue() == path.read_bytes(), path


def test_every_modality_is_present_with_its_modules(datasets):
    by_modality = defaultdict(list)
    for ds in datasets.values():
        by_modality[ds.Modality].append(ds)
    assert {"CT", "MR", "US", "MG"} <= by_modality.keys() and {"CR", "DX"} & by_modality.keys()
    for ds in by_modality["CT"]:
        assert ds.RescaleIntercept == -1024 and ds.RescaleType == "HU" and ds.CTDIvol > 0 and ds.KVP
        assert len(ds.ImagePositionPatient) == 3 and list(ds.ImageOrientationPatient) == [1, 0, 0, 0, 1, 0]
        hu = ds.pixel_array.astype(int) + int(ds.RescaleIntercept)
        assert hu.min() < -900 and hu.max() > 0            # air around a body
    views = {(ds.ImageLaterality, ds.ViewPosition) for ds in by_modality["MG"]}
    assert {("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")} <= views
    for ds in by_modality["MG"]:
        assert ds.PresentationIntentType == "FOR PRESENTATION"
        assert ds.ViewCodeSequence[0].CodingSchemeDesignator == "SCT"
    for ds in by_modality["CR"] + by_modality["DX"]:
        assert ds.ExposureIndex > 0 and abs(ds.DeviationIndex) < 10
        assert ds.PhotometricInterpretation in ("MONOCHROME1", "MONOCHROME2")
    for ds in by_modality["US"]:
        assert ds.BitsAllocated == 8 and ds.pixel_array.dtype == np.uint8
    for ds in by_modality["MR"]:
        assert ds.MagneticFieldStrength in (1.5, 3.0) and ds.FrameOfReferenceUID


def test_studies_carry_their_sites_issuer_and_institution(demo, datasets):
    manifest, _ = demo
    sites = {s.code: s for s in REGION_SITES}
    by_study = {s.study_instance_uid: s for s in manifest.studies}
    for ds in datasets.values():
        study = by_study[ds.StudyInstanceUID]
        assert ds.IssuerOfPatientID == sites[study.site].issuer
        assert ds.InstitutionName == sites[study.site].name
        assert ds.PatientID == study.patient_id and ds.AccessionNumber == study.accession_number


def test_one_frame_of_reference_per_acquisition(demo, datasets):
    manifest, _ = demo
    frames = defaultdict(set)
    for ds in datasets.values():
        if ds.Modality in ("CT", "MR"):
            frames[ds.SeriesInstanceUID].add(ds.FrameOfReferenceUID)
    assert all(len(f) == 1 for f in frames.values())
    per_study = defaultdict(set)
    for study in manifest.studies:
        for series in study.series:
            if series.frame_of_reference_uid:
                per_study[series.frame_of_reference_uid].add(study.study_instance_uid)
    assert all(len(s) == 1 for s in per_study.values()), "a frame of reference spans two studies"


def test_follow_up_ct_has_priors_at_another_site_with_other_frames(demo):
    manifest, _ = demo
    oncology = [s for s in manifest.studies if s.person == 0 and s.exam == "CT_CAP"]
    assert len(oncology) >= 3 and len({s.site for s in oncology}) == 2
    latest = oncology[-1]
    assert latest.prior_uids == [s.study_instance_uid for s in oncology[:-1]]
    frames = {s.series[0].frame_of_reference_uid for s in oncology}
    offsets = {s.offset_mm for s in oncology}
    assert len(frames) == len(oncology) and len(offsets) == len(oncology)


def test_known_repeats_are_in_the_manifest(demo):
    manifest, _ = demo
    avoidable = manifest.avoidable_repeats()
    assert avoidable and all(manifest.study(s.repeat_of).site != s.site for s in avoidable)
    assert {"CT_HEAD", "XR_CHEST_AP"} <= {s.exam for s in avoidable}          # the transfer
    same_site = [s for s in manifest.repeats() if not s.avoidable]
    assert any(s.exam == "XR_KNEE" for s in same_site)
    for study in manifest.repeats():
        prior = manifest.study(study.repeat_of)
        assert prior.person == study.person and prior.exam == study.exam
        assert 0 <= (study.study_date - prior.study_date).days <= EXAMS[study.exam].window_days


def test_people_across_sites_share_demographics_and_some_a_health_card(demo, datasets):
    manifest, _ = demo
    multi = [p for p in manifest.people if len(p.mrns) > 1]
    assert multi
    seen = defaultdict(set)
    for ds in datasets.values():
        seen[(str(ds.PatientName), ds.PatientBirthDate, ds.PatientSex)].add((ds.PatientID, ds.IssuerOfPatientID))
    for person in multi:
        assert len(set(person.mrns.values())) == len(person.mrns)
        key = (person.name, person.birth_date.strftime("%Y%m%d"), person.sex)
        assert {(mrn, next(s.issuer for s in REGION_SITES if s.code == site))
                for site, mrn in person.mrns.items()} <= seen[key]
    carded = [ds for ds in datasets.values() if "OtherPatientIDs" in ds]
    assert carded and all(ds.OtherPatientIDs.startswith("DEMO-HC-") for ds in carded)


def test_namesake_is_another_person_with_the_same_name(demo):
    manifest, _ = demo
    twin = next(p for p in manifest.people if p.namesake_of is not None)
    original = manifest.people[twin.namesake_of]
    assert (twin.name, twin.birth_date, twin.sex) == (original.name, original.birth_date, original.sex)
    assert twin.health_card != original.health_card
    assert not set(twin.mrns) & set(original.mrns)


def _study(uid, person, site, exam, when):
    return StudyEntry(uid, uid, person, f"P{person}", "X", site, exam, "CR", "CHEST", "", when,
                      "test", "routine", (0.0, 0.0, 0.0))


def test_repeat_labels_follow_the_window_inclusively():
    day = datetime(2022, 3, 1, 9, 0)
    studies = [
        _study("a", 1, "CITY", "XR_CHEST", day),
        _study("b", 1, "NORTH", "XR_CHEST", day + timedelta(days=14, hours=3)),   # on the edge
        _study("c", 1, "NORTH", "XR_CHEST", day + timedelta(days=29)),            # 15 days after b
        _study("d", 1, "NORTH", "XR_CHEST", day + timedelta(days=29, hours=1)),   # same day, same site
        _study("e", 2, "NORTH", "XR_CHEST", day + timedelta(days=1)),             # another person
        _study("f", 1, "NORTH", "XR_KNEE", day + timedelta(days=2)),              # another class
    ]
    label_repeats(studies)
    labels = {s.study_instance_uid: (s.repeat_of, s.avoidable) for s in studies}
    assert labels == {"a": (None, False), "b": ("a", True), "c": (None, False), "d": ("c", False),
                      "e": (None, False), "f": (None, False)}


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        build_demo(tmp_path, patients=0)
