"""Scanning an encoded dataset for chosen elements: the same values pydicom reads, or None."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from archive.dicom.scan import CHARACTER_SET, scan

NAME, ROWS, PIXELS, REFERENCED = 0x00100010, 0x00280010, 0x7FE00010, 0x00081140


def _dataset() -> Dataset:
    inner = Dataset()
    inner.CodeValue = "113813"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    item.ConceptNameCodeSequence = Sequence([inner])
    item.ConceptNameCodeSequence.is_undefined_length = True
    item.is_undefined_length_sequence_item = True
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ReferencedImageSequence = Sequence([item, Dataset()])
    ds["ReferencedImageSequence"].is_undefined_length = True
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "FAKE-1"
    ds.Rows = 4
    ds.BitsAllocated = 16
    ds.add_new(0x00291010, "OB", b"\x01\x02" * 50)   # a private element, stepped over
    ds.PixelData = b"\x00\x01" * 8
    return ds


def _encoded(ds: Dataset, implicit: bool) -> bytes:
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, implicit
    write_dataset(out, ds)
    return out.getvalue()


@pytest.mark.parametrize("implicit", [False, True])
def test_finds_what_is_asked_and_steps_over_nested_undefined_length_sequences(implicit):
    data = _encoded(_dataset(), implicit)
    found = scan(data, 0, implicit, {NAME, ROWS, PIXELS})
    assert found is not None and sorted(found) == [CHARACTER_SET, NAME, ROWS, PIXELS]
    assert all(isinstance(tag, BaseTag) for tag in found)   # keyed as pydicom keys its datasets
    whole = pydicom.filereader.read_dataset(io.BytesIO(data), implicit, True)
    for tag, raw in found.items():
        assert raw.value == whole.get_item(tag).value and raw.value_tell == whole.get_item(tag).value_tell
        assert raw.VR == (None if implicit else whole.get_item(tag).VR)


@pytest.mark.parametrize("implicit", [False, True])
def test_gives_up_on_what_pydicom_must_read(implicit):
    data = _encoded(_dataset(), implicit)
    assert scan(data, 0, implicit, {REFERENCED}) is None        # an undefined-length value asked for
    assert scan(data[:-5], 0, implicit, {NAME}) is None         # the last value runs past the end
    assert scan(data + b"\x08\x00", 0, implicit, {NAME}) is None  # half an element header


def test_gives_up_on_an_unknown_vr():
    data = _encoded(_dataset(), False)
    at = data.index(b"PN")
    assert scan(data[:at] + b"ZZ" + data[at + 2:], 0, False, {ROWS}) is None


def test_an_item_that_never_ends_is_not_stepped_over():
    data = _encoded(_dataset(), False)
    end_of_item = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    assert end_of_item in data
    assert scan(data.replace(end_of_item, b""), 0, False, {ROWS}) is None
