"""De-identification checked attribute by attribute against the profile's table on pydicom's real files."""

from __future__ import annotations

import copy
import os
import warnings
from datetime import date, timedelta

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID

from archive.deid import DatesValues, DeidKey, Options, burned_in_reason, deidentify, load_key, profile
from archive.deid.dataset import clean_text, patient_reference
from archive.deid.profile import effective_action, rules
from tests.support.samples import pydicom_file, pydicom_test_files, write_ct_studies

KEY = DeidKey(b"k" * 32)
OTHER_KEY = DeidKey(b"o" * 32)
ALL_OFF = Options(dates=DatesValues.REMOVE, patient_characteristics=False, device_identity=False,
                  clean_descriptors=False)
ALL_ON = Options(dates=DatesValues.SHIFT, patient_characteristics=True, device_identity=True,
                 clean_descriptors=True)


def _real_files() -> list[tuple[str, Dataset]]:
    found = []
    for path in sorted(pydicom_test_files().glob("*.dcm")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, force=True)
            ds.decode()
            list(ds.iterall())
        except Exception:
            continue  # damaged on purpose (truncated, bad VR): not a de-identification case
        if "SOPInstanceUID" in ds:
            found.append((path.name, ds))
    return found


REAL = _real_files()


def _values(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (list, pydicom.multival.MultiValue, pydicom.sequence.Sequence)):
        return list(value)
    return [value]


def _walk(ds: Dataset):
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value or []:
                yield from _walk(item)


def test_there_are_many_real_files():
    assert len(REAL) > 60
    present = {int(e.tag) for _, ds in REAL for e in ds} & set(rules())
    assert len(present) >= 40, "the real files should exercise many rows of the profile's table"


@pytest.mark.parametrize("options", [ALL_OFF, ALL_ON, Options(dates=DatesValues.KEEP, keep_uids=True)],
                         ids=["basic", "all-options", "keep-dates-uids"])
def test_every_profile_attribute_present_is_handled_as_the_table_says(options):
    table = rules()
    checked: dict[str, int] = {}
    for name, original in REAL:
        result = deidentify(copy.deepcopy(original), options, KEY)
        out = result.dataset
        for elem in original:
            rule = table.get(int(elem.tag))
            if rule is None or rule.keyword in ("PatientID", "PatientName"):
                continue
            action = effective_action(rule, elem.VR, options)
            after = out.get(elem.tag)
            where = f"{name} {rule.keyword} ({action})"
            checked[action] = checked.get(action, 0) + 1
            if action == "X":
                assert after is None, where
            elif action == "Z":
                assert after is not None and not _values(after.value), where
            elif action == "K":
                assert after is not None and after.value == elem.value, where
            elif action == "U":
                for old, new in zip(_values(elem.value), _values(after.value), strict=True):
                    assert new == KEY.uid(str(old).strip()) and new != old, where
            elif action == "S":   # a shifted multi-valued date may drop an empty value: pair what is there
                for old, new in zip(_values(elem.value), _values(after.value), strict=False):
                    moved = date(int(old[:4]), int(old[4:6]), int(old[6:8])) + timedelta(days=result.date_shift_days)
                    assert new[:8] == moved.strftime("%Y%m%d"), where
            elif action == "C":
                for new in _values(after.value):
                    assert str(original.get("PatientID") or "#none#") not in str(new), where
            elif action == "D":
                assert after is not None and (not _values(elem.value) or after.value != elem.value), where
            elif action == "R":
                assert after is not None, where
        # Nothing identifying survives anywhere, in sequences too.
        assert out.PatientID == result.pseudonym and str(out.PatientName) == result.pseudonym
        assert out.PatientIdentityRemoved == "YES"
        assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence][0] == "113100"
        assert not any(e.tag.is_private for e in _walk(out)), name
        for elem in _walk(out):
            if elem.VR == "PN" and int(elem.tag) != 0x00100010:
                assert not _values(elem.value) or str(elem.value) == "ANONYMOUS", f"{name} {elem.keyword}"
        if not options.keep_uids:
            old_uids = {str(v) for e in _walk(original) if e.VR == "UI" for v in _values(e.value)
                        if UID(str(v)).name == str(v)}  # instance UIDs, not registered ones
            new_uids = {str(v) for e in _walk(out) if e.VR == "UI" for v in _values(e.value)}
            assert not (old_uids & new_uids), f"{name} keeps original UIDs"
    print(options, checked)
    assert checked.get("X", 0) > 50 and checked.get("Z", 0) > 50
    if options is ALL_ON:
        assert checked.get("S", 0) > 50 and checked.get("C", 0) > 20 and checked.get("K", 0) > 20
    if options is ALL_OFF:
        assert checked.get("U", 0) > 150


def test_options_are_recorded_as_method_codes():
    out = deidentify(copy.deepcopy(dict(REAL)["CT_small.dcm"]), ALL_ON, KEY).dataset
    codes = {c.CodeValue for c in out.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113105", "113107", "113108", "113109"}
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    basic = deidentify(copy.deepcopy(dict(REAL)["CT_small.dcm"]), ALL_OFF, KEY).dataset
    assert {c.CodeValue for c in basic.DeidentificationMethodCodeSequence} == {"113100"}
    assert "PatientSex" not in basic or not basic.PatientSex
    assert basic.StudyDate in ("", None)


def test_uids_are_consistent_across_a_study_and_between_exports(tmp_path):
    paths = write_ct_studies(tmp_path, 6, per_series=3, seed=3)
    outs = [deidentify(pydicom.dcmread(p), ALL_OFF, KEY).dataset for p in paths]
    studies = {ds.StudyInstanceUID for ds in outs[:3]}
    series = {ds.SeriesInstanceUID for ds in outs[:3]}
    assert len(studies) == 1 and len(series) == 1
    assert len({ds.SOPInstanceUID for ds in outs}) == 6
    assert outs[0].StudyInstanceUID != outs[3].StudyInstanceUID
    assert outs[0].file_meta.MediaStorageSOPInstanceUID == outs[0].SOPInstanceUID
    again = deidentify(pydicom.dcmread(paths[0]), ALL_OFF, KEY).dataset
    assert again.SOPInstanceUID == outs[0].SOPInstanceUID and again.StudyInstanceUID == outs[0].StudyInstanceUID
    other = deidentify(pydicom.dcmread(paths[0]), ALL_OFF, OTHER_KEY).dataset
    assert other.SOPInstanceUID != outs[0].SOPInstanceUID
    assert all(UID(ds.SOPInstanceUID).is_valid and len(ds.SOPInstanceUID) <= 64 for ds in outs)


def test_pseudonym_is_stable_per_patient_and_depends_on_the_key():
    ds = dict(REAL)["CT_small.dcm"]
    first = deidentify(copy.deepcopy(ds), ALL_OFF, KEY).pseudonym
    assert first == deidentify(copy.deepcopy(ds), ALL_ON, KEY).pseudonym
    assert first != deidentify(copy.deepcopy(ds), ALL_OFF, OTHER_KEY).pseudonym
    other_patient = copy.deepcopy(ds)
    other_patient.PatientID = "SOMEONE-ELSE"
    assert deidentify(other_patient, ALL_OFF, KEY).pseudonym != first
    assert str(ds.PatientID) not in first


def test_dates_shift_by_the_same_amount_for_one_patient():
    ds = dict(REAL)["CT_small.dcm"]
    a, b = copy.deepcopy(ds), copy.deepcopy(ds)
    b.StudyDate, b.StudyInstanceUID = "20200229", "1.2.3.4.5"   # another study of the same patient
    out_a = deidentify(a, ALL_ON, KEY)
    out_b = deidentify(b, ALL_ON, KEY)
    assert out_a.date_shift_days == out_b.date_shift_days == KEY.date_shift_days(patient_reference(ds))
    shift = out_a.date_shift_days
    assert shift < 0 and shift % 7 == 0
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        if keyword in ds and ds.get(keyword):
            original = date(int(ds[keyword].value[:4]), int(ds[keyword].value[4:6]), int(ds[keyword].value[6:8]))
            assert out_a.dataset[keyword].value == (original + timedelta(days=shift)).strftime("%Y%m%d")
    assert out_b.dataset.StudyDate == (date(2020, 2, 29) + timedelta(days=shift)).strftime("%Y%m%d")
    kept = deidentify(copy.deepcopy(ds), Options(dates=DatesValues.KEEP), KEY).dataset
    assert kept.StudyDate == ds.StudyDate and kept.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert deidentify(copy.deepcopy(ds), ALL_ON, KEY).dataset.PatientBirthDate in ("", None)


def test_private_tags_overlays_and_curves_are_removed():
    with_private = [(n, ds) for n, ds in REAL if any(e.tag.is_private for e in _walk(ds))]
    assert len(with_private) >= 5
    for name, ds in with_private:
        out = deidentify(copy.deepcopy(ds), ALL_ON, KEY).dataset
        assert not any(e.tag.is_private for e in _walk(out)), name
    overlay = pydicom.dcmread(pydicom_file("examples_overlay.dcm"))
    assert any(e.tag.group == 0x6000 and e.tag.element == 0x3000 for e in overlay)
    out = deidentify(overlay, ALL_ON, KEY).dataset
    assert not any(e.tag.group == 0x6000 and e.tag.element in (0x3000, 0x4000) for e in out)


def test_burned_in_annotation_is_flagged():
    ct = copy.deepcopy(dict(REAL)["CT_small.dcm"])
    assert burned_in_reason(ct) is None
    ct.BurnedInAnnotation = "YES"
    assert "BurnedInAnnotation" in deidentify(ct, ALL_ON, KEY).burned_in
    us = dict(REAL)["examples_ybr_color.dcm"]
    assert us.Modality == "US" and "US" in burned_in_reason(us)
    sc = dict(REAL)["SC_rgb_rle.dcm"]
    assert burned_in_reason(sc) is not None
    report = dict(REAL)["test-SR.dcm"]
    assert burned_in_reason(report) is None   # no pixels


def test_clean_descriptors_strip_identifiers_dates_and_numbers():
    cleaned = clean_text("CT head for DOE John 12345678 on 2024-03-01 call +44 20 7946 0958", ["DOE", "John"])
    assert cleaned == "CT head for on call"
    assert clean_text("MR KNEE LEFT", ["SMITH"]) == "MR KNEE LEFT"


def test_key_file_is_created_private_and_reused(tmp_path):
    key = load_key(tmp_path / "keys")
    path = tmp_path / "keys" / "deid.key"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert load_key(tmp_path / "keys") == key
    import base64
    configured = load_key(tmp_path / "other", base64.b64encode(b"x" * 32).decode())
    assert configured.secret == b"x" * 32 and not (tmp_path / "other").exists()
    with pytest.raises(ValueError):
        load_key(tmp_path / "other", "not base64!!")


# Table E.1-1 (PS3.15, 2025) attribute by attribute: the expected actions below are written out from
# the standard, not read from profile.tsv, so a wrong row in the table fails here.

def _sample() -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.PatientName, ds.IssuerOfPatientID = "MRN-4711", "DOE^JANE", "HOSP"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "1.2.826.0.1.1", "1.2.826.0.1.2", "1.2.826.0.1.3"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.StudyDate, ds.StudyTime, ds.SeriesDate, ds.AcquisitionDate = "20240301", "101500", "20240301", "20240301"
    ds.TimezoneOffsetFromUTC = "+0100"
    ds.DateOfLastCalibration = "20240115"                        # X, Retain Device Identity K, dates K/C
    ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "ACC991", "HOUSE^GREGORY", "S77"  # Z
    ds.InstitutionName, ds.StationName = "St Elsewhere", "CT-ROOM-3"                             # X/Z/D
    ds.InstitutionAddress, ds.PatientAddress, ds.OtherPatientIDs = "1 Main St", "2 Elm St", "OLD-1"  # X
    ds.PatientBirthName = "ROE^JANE"                                                              # X
    ds.StudyDescription = "CT HEAD DOE MRN-4711 2024-03-01"       # X, Clean Descriptors C
    ds.SeriesDescription = "AXIAL"                               # X, Clean Descriptors C
    ds.PatientSex, ds.PatientAge, ds.PatientWeight = "F", "042Y", 61.5   # Z / X, Patient Characteristics K
    ds.PatientSexNeutered = "UNALTERED"                          # X/Z, Patient Characteristics K
    ds.Allergies = "penicillin, call +44 20 7946 0958"           # X, Patient Characteristics C, Clean C
    ds.PreMedication = "none for DOE"                            # X, Patient Characteristics C only
    ds.ImageComments = "DOE JANE on trolley"                     # X, Clean Descriptors C
    ds.ImagePresentationComments = "for DOE"                     # X, no option
    ds.DeviceSerialNumber, ds.XRayDetectorID = "SN-00421", "DET-1234567"  # X/Z/D and D, Device Identity K
    ds.VerifyingOrganization = "Radiology St Elsewhere"          # D
    ds.DigitalSignatureUID = "1.2.826.0.1.9"                     # U
    ds.add_new(0x006A0003, "UI", "1.2.826.0.1.10")               # Annotation Group UID: D on a UID
    ds.ROIName = "TUMOUR DOE"                                    # Z, Clean Descriptors C
    ds.AcquisitionContextSequence = [Dataset()]                  # X/Z on a sequence
    ds.AcquisitionContextSequence[0].ValueType = "TEXT"
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = ds.SOPClassUID, "1.2.826.0.1.4"
    ds.ReferencedImageSequence = [ref]                           # X/Z/U*
    patient_ref = Dataset()
    patient_ref.ReferencedSOPClassUID, patient_ref.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.1.1", "1.2.826.0.1.5"
    ds.ReferencedPatientSequence = [patient_ref]                 # X, Retain UIDs K
    item = Dataset()
    item.ValueType, item.TextValue, item.UID = "TEXT", "seen by DOE MRN-4711", "1.2.826.0.1.6"
    person = Dataset()
    person.ValueType, person.PersonName = "PNAME", "HOUSE^GREGORY"
    ds.ContentSequence = [item, person]                          # D: kept, items de-identified
    return ds


def _deid(options: Options) -> tuple[Dataset, Dataset, int]:
    original = _sample()
    result = deidentify(copy.deepcopy(original), options, KEY)
    return original, result.dataset, KEY.date_shift_days(patient_reference(original))


def _empty(ds: Dataset, keyword: str) -> bool:
    return keyword in ds and not _values(ds[keyword].value)


def test_basic_profile_actions_follow_table_e11():
    original, out, _ = _deid(ALL_OFF)
    for keyword in ("AccessionNumber", "ReferringPhysicianName", "StudyID", "StudyDate", "StudyTime",
                    "PatientSex", "ROIName"):                                            # Z
        assert _empty(out, keyword), keyword
    for keyword in ("InstitutionAddress", "PatientAddress", "OtherPatientIDs", "PatientBirthName",
                    "StudyDescription", "SeriesDescription", "PatientAge", "PatientWeight", "Allergies",
                    "PreMedication", "ImageComments", "ImagePresentationComments", "TimezoneOffsetFromUTC",
                    "DateOfLastCalibration", "IssuerOfPatientID"):                       # X
        assert keyword not in out, keyword
    for keyword in ("AcquisitionDate", "PatientSexNeutered", "AcquisitionContextSequence",  # X/Z
                    "InstitutionName", "StationName", "DeviceSerialNumber"):                # X/Z/D
        assert _empty(out, keyword), keyword
    assert "SeriesDate" not in out                                                       # X/D
    assert out.VerifyingOrganization == "ANONYMIZED"                                     # D
    assert out.XRayDetectorID not in ("", None, original.XRayDetectorID)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "DigitalSignatureUID"):  # U
        assert out[keyword].value == KEY.uid(original[keyword].value), keyword
    assert out[0x006A0003].value == KEY.uid("1.2.826.0.1.10")                            # D on a UID: new UID
    assert out.SOPClassUID == original.SOPClassUID                                       # not in the table
    refs = out.ReferencedImageSequence                                                   # X/Z/U*
    assert len(refs) == 1 and refs[0].ReferencedSOPInstanceUID == KEY.uid("1.2.826.0.1.4")
    assert refs[0].ReferencedSOPClassUID == original.SOPClassUID
    assert "ReferencedPatientSequence" not in out                                        # X
    text, person = out.ContentSequence                                                   # D: a dummy content tree
    assert text.ValueType == "TEXT" and text.TextValue == "ANONYMIZED" and text.UID == KEY.uid("1.2.826.0.1.6")
    assert str(person.PersonName) == "ANONYMOUS"


def test_options_keep_and_clean_what_table_e11_says():
    original, out, shift = _deid(ALL_ON)          # dates shifted, patient, device, clean descriptors
    def moved(d: str) -> str:
        return (date(int(d[:4]), int(d[4:6]), int(d[6:8])) + timedelta(days=shift)).strftime("%Y%m%d")
    for keyword in ("PatientSex", "PatientAge", "PatientWeight", "PatientSexNeutered",        # patient K
                    "DeviceSerialNumber", "XRayDetectorID", "StationName"):                  # device K
        assert out[keyword].value == original[keyword].value, keyword
    assert "penicillin" in out.Allergies and "7946" not in out.Allergies                  # patient C, clean C
    assert out.PreMedication == "none for"                                                # patient C
    for keyword in ("StudyDescription", "ImageComments", "ROIName"):                      # clean C
        assert "DOE" not in out[keyword].value and out[keyword].value, keyword
    assert out.StudyDescription == "CT HEAD" and out.SeriesDescription == "AXIAL"
    assert "ImagePresentationComments" not in out                                         # no Clean Descriptors
    assert "InstitutionAddress" not in out and _empty(out, "InstitutionName")             # no institution option
    assert out.StudyDate == moved("20240301") and out.AcquisitionDate == moved("20240301")  # modified dates C
    assert out.SeriesDate == moved("20240301") and out.StudyTime == "101500"
    assert out.DateOfLastCalibration == moved("20240115")   # device K and modified dates C: shifted
    assert "TimezoneOffsetFromUTC" not in out               # modified dates C we cannot apply: basic X
    assert out.ContentSequence[0].TextValue == "seen by"                                  # clean: cleaned text
    assert shift != 0


def test_full_dates_and_retain_uids_options():
    original, out, _ = _deid(Options(dates=DatesValues.KEEP, keep_uids=True, patient_characteristics=False,
                                     device_identity=False, clean_descriptors=False))
    for keyword in ("StudyDate", "StudyTime", "SeriesDate", "AcquisitionDate", "TimezoneOffsetFromUTC",
                    "DateOfLastCalibration"):                                                # full dates K
        assert out[keyword].value == original[keyword].value, keyword
    for keyword in ("StudyInstanceUID", "SOPInstanceUID"):                                   # uids K
        assert out[keyword].value == original[keyword].value, keyword
    assert out[0x006A0003].value == "1.2.826.0.1.10"                                          # uids K
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "1.2.826.0.1.4"
    assert out.ReferencedPatientSequence[0].ReferencedSOPInstanceUID == "1.2.826.0.1.5"     # X, uids K
    assert out.DigitalSignatureUID == KEY.uid("1.2.826.0.1.9")       # U, not in the Retain UIDs option
    assert out.ContentSequence[0].UID == KEY.uid("1.2.826.0.1.6")    # (0040,A124) UID: idem
    assert _empty(out, "PatientSex") and "Allergies" not in out and "XRayDetectorID" in out
    assert out.XRayDetectorID == "ANONYMIZED"


def test_each_option_acts_alone():
    patient_only = Options(patient_characteristics=True, device_identity=False, clean_descriptors=False)
    original, out, _ = _deid(patient_only)
    assert out.PreMedication == "none for" and "penicillin" in out.Allergies      # patient C
    assert "ImageComments" not in out and "StudyDescription" not in out           # clean not applied
    assert _empty(out, "DeviceSerialNumber") and out.XRayDetectorID == "ANONYMIZED"
    clean_only = Options(patient_characteristics=False, device_identity=False, clean_descriptors=True)
    original, out, _ = _deid(clean_only)
    assert "PreMedication" not in out and "penicillin" in out.Allergies          # only patient cleans it; clean C
    assert out.ImageComments == "on trolley" and _empty(out, "PatientSex")
    device_only = Options(patient_characteristics=False, device_identity=True, clean_descriptors=False)
    original, out, _ = _deid(device_only)
    assert out.XRayDetectorID == "DET-1234567" and out.DeviceSerialNumber == "SN-00421"   # device K
    assert out.DateOfLastCalibration == "20240115"    # device K; no date option applied
    assert "Allergies" not in out and "ImageComments" not in out


def test_profile_table_rows_are_unique_and_use_known_codes():
    text = profile._TABLE.read_text()
    rows = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    tags = [row[0] for row in rows]
    assert len(tags) == len(set(tags)), sorted(t for t in tags if tags.count(t) > 1)
    known = {"D", "Z", "X", "U", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"}
    options = {"patient", "device", "clean", "uids", "fulldates", "modifieddates"}
    for row in rows:
        assert len(row) in (3, 4) and len(row[0]) == 11 and row[0][5] == ",", row
        assert row[2] in known, row
        for token in (row[3].split() if len(row) == 4 else []):
            name, _, action = token.partition(":")
            assert name in options and action in ("K", "C"), row
            if name == "fulldates":
                assert "modifieddates:C" in row[3], row   # the two date options list the same attributes
        keyword = pydicom.datadict.keyword_for_tag(int(row[0][1:5] + row[0][6:10], 16))
        assert not keyword or keyword == row[1], row
    assert len(rows) >= 640, "Table E.1-1 lists about 640 attributes by tag"
    identifying = ["PatientName", "PatientID", "PatientBirthDate", "PatientAddress", "OtherPatientNames",
                   "PatientMotherBirthName", "PatientTelephoneNumbers", "ReferringPhysicianName",
                   "PerformingPhysicianName", "OperatorsName", "PersonName", "InstitutionName",
                   "InstitutionAddress", "StationName", "DeviceSerialNumber", "AccessionNumber",
                   "StudyID", "AdmissionID", "StudyDate", "ContentDate", "AcquisitionDateTime",
                   "StudyDescription", "ImageComments", "StudyInstanceUID", "FrameOfReferenceUID"]
    listed = {row[1] for row in rows}
    assert not [k for k in identifying if k not in listed]


def test_a_bad_profile_row_is_refused(tmp_path, monkeypatch):
    for bad in ("(0008,0050)\tAccessionNumber\tQ\n", "(0008,0050)\tAccessionNumber\tZ\tinstitution:K\n",
                "(0008,0050)\tAccessionNumber\tZ\n(0008,0050)\tAccessionNumber\tX\n"):
        table = tmp_path / "profile.tsv"
        table.write_text(bad)
        monkeypatch.setattr(profile, "_TABLE", table)
        with pytest.raises(ValueError):
            profile.rules.__wrapped__()
