"""De-identification checked attribute by attribute against the profile's table on pydicom's real files."""

from __future__ import annotations

import copy
import os
import warnings
from datetime import date, timedelta
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID

from archive.deid import DatesValues, DeidKey, Options, burned_in_reason, deidentify, load_key
from archive.deid.dataset import clean_text, patient_reference
from archive.deid.profile import effective_action, rules
from archive.samples import pydicom_file, pydicom_test_files, write_ct_studies

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
                for old, new in zip(_values(elem.value), _values(after.value)):
                    assert new == KEY.uid(str(old).strip()) and new != old, where
            elif action == "S":
                for old, new in zip(_values(elem.value), _values(after.value)):
                    moved = date(int(old[:4]), int(old[4:6]), int(old[6:8])) + timedelta(days=result.date_shift_days)
                    assert new[:8] == moved.strftime("%Y%m%d"), where
            elif action == "C":
                for old, new in zip(_values(elem.value), _values(after.value)):
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
