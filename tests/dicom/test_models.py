import glob
from datetime import date

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from archive.dicom import columns
from archive.dicom.enums import XRAY_RADIATION_DOSE_SR
from archive.dicom.models import InvalidDataset, Record, patient_key
from archive.dicom.raw import tag_of, value
from archive.ingest.intake import parse
from tests.support.samples import pydicom_file, pydicom_test_files


def test_record_from_real_ct():
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    record = Record.from_dataset(ds)
    assert record.instance.row["sop_instance_uid"] == ds.SOPInstanceUID
    assert record.instance.row["rows"] == 128 and record.instance.row["columns"] == 128
    assert record.instance.row["pixel_spacing"] == [float(x) for x in ds.PixelSpacing]
    assert record.instance.row["image_position_patient"] == [float(x) for x in ds.ImagePositionPatient]
    assert record.instance.row["transfer_syntax_uid"] == "1.2.840.10008.1.2.1"
    assert record.series.row["modality"] == "CT"
    assert record.study.row["study_date"] == date(2004, 1, 19)
    assert record.patient.row["patient_key"] == patient_key(ds.PatientID, None)
    assert record.study.row["patient_key"] == record.patient.row["patient_key"]


def test_missing_uids_are_refused():
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    del ds.SeriesInstanceUID
    with pytest.raises(InvalidDataset, match="SeriesInstanceUID"):
        Record.from_dataset(ds)


def test_patient_key_hides_the_mrn():
    key = patient_key("MRN123", "NORTH")
    assert "MRN123" not in key and key != patient_key("MRN123", "SOUTH")


def _dose_item(code: str, number: str) -> Dataset:
    item = Dataset()
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = code, "DCM", "x"
    item.ConceptNameCodeSequence = Sequence([name])
    measured = Dataset()
    measured.NumericValue = number
    item.MeasuredValueSequence = Sequence([measured])
    return item


def test_dose_from_radiation_dose_sr():
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.SOPClassUID = XRAY_RADIATION_DOSE_SR
    event = Dataset()
    event.ContentSequence = Sequence([_dose_item("113830", "12.5"), _dose_item("113838", "400")])
    ds.ContentSequence = Sequence([_dose_item("113813", "812.0"), event])
    row = Record.from_dataset(ds).instance.row
    assert row["dlp"] == 812.0 and row["ctdi_vol"] == 12.5


def test_fast_reader_agrees_with_pydicom_on_every_real_file():
    checked = 0
    for path in glob.glob(str(pydicom_test_files() / "**" / "*.dcm"), recursive=True):
        try:
            fast_ds, slow_ds = parse(open(path, "rb").read()), parse(open(path, "rb").read())
        except Exception:
            continue
        for table in (columns.PATIENT_COLUMNS, columns.STUDY_COLUMNS, columns.SERIES_COLUMNS,
                      columns.INSTANCE_COLUMNS):
            for keyword, convert in table.values():
                try:
                    expected = slow_ds.get(keyword)
                except Exception:
                    expected = None
                expected = convert(expected) if expected not in (None, "") else None
                got = value(fast_ds, tag_of(keyword))
                assert (convert(got) if got is not None else None) == expected, (path, keyword)
                checked += 1
    assert checked > 3000
