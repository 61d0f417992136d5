"""Reading a file for the archive: the two-step parse of the usual files gives what dcmread gives."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian

from archive.ingest import intake as ingest
from tests.support.samples import pydicom_file, pydicom_test_files

FILES = sorted(p for p in pydicom_test_files().rglob("*") if p.is_file())


def _classified(data: bytes, name: str):
    record, kind, reason = ingest.read_record(data, name)
    rows = None if record is None else [record.patient.row, record.study.row, record.series.row, record.instance.row]
    return kind, reason, rows


def test_every_pydicom_test_file_reads_the_same_as_a_whole_dcmread(monkeypatch):
    """The short way (two steps, only the elements a record needs) changes nothing it records."""
    usual = 0
    scanned = []
    differences = []
    real_scan = ingest.scan
    monkeypatch.setattr(ingest, "scan", lambda *args: scanned.append(real_scan(*args)) or scanned[-1])
    for path in FILES:
        data = path.read_bytes()
        fast = ingest._parse_usual(data) is not None
        usual += fast
        got = _classified(data, path.name)
        with monkeypatch.context() as m:
            m.setattr(ingest, "parse", lambda data, tags=None: pydicom.dcmread(io.BytesIO(data), force=True))
            expected = _classified(data, path.name)
        if got != expected:
            differences.append(path.name)
    assert differences == []
    assert len(FILES) > 100 and usual > len(FILES) // 2   # most files take the short way
    assert sum(found is not None for found in scanned) > len(FILES) // 3   # many are only scanned


def test_only_the_elements_asked_for_are_kept():
    data = pydicom_file("CT_small.dcm").read_bytes()
    whole = ingest.parse(data)
    some = ingest.parse(data, {0x00100010, 0x00280010, 0x7FE00010})
    assert len(whole) > 50
    assert [e.tag for e in some] == [0x00080005, 0x00100010, 0x00280010, 0x7FE00010]  # and the character set
    assert some.PatientName == whole.PatientName and some.PixelData == whole.PixelData


@pytest.mark.parametrize("name", ["no_meta.dcm", "no_meta_group_length.dcm"])
def test_files_out_of_the_usual_shape_are_left_to_dcmread(name):
    (path,) = [p for p in FILES if p.name == name]
    data = path.read_bytes()
    assert ingest._parse_usual(data) is None
    assert len(ingest.parse(data)) == len(pydicom.dcmread(io.BytesIO(data), force=True))


def test_a_deflated_dataset_is_left_to_dcmread(tmp_path):
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(tmp_path / "deflated.dcm", enforce_file_format=True)
    data = (tmp_path / "deflated.dcm").read_bytes()
    assert ingest._parse_usual(data) is None
    record, kind, _ = ingest.read_record(data, "deflated.dcm")
    assert kind == "stored" and record.instance.row["sop_instance_uid"] == ds.SOPInstanceUID
