"""The file's own window, as the modality meant it: VOILUTFunction and VOI LUT sequences (MG, DX)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive.dicom import pixels

MAMMOGRAPHY = "1.2.840.10008.5.1.4.1.1.1.2"   # Digital Mammography X-Ray Image - For Presentation
DX = "1.2.840.10008.5.1.4.1.1.1"              # Digital X-Ray Image - For Presentation


def _image(values: list[int], sop_class: str = MAMMOGRAPHY, modality: str = "MG",
           photometric: str = "MONOCHROME2", **elements) -> bytes:
    """A one-row 12-bit image holding ``values``, with ``elements`` (its VOI) added."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = sop_class, generate_uid(), modality
    ds.Rows, ds.Columns = 1, len(values)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.array(values, dtype="<u2").tobytes()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = sop_class, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_linear_exact_window():
    # LINEAR_EXACT: y = (x - c) / w + 0.5; LINEAR would give 141 at the centre of this narrow window.
    data = _image([95, 100, 105], WindowCenter=100, WindowWidth=10, VOILUTFunction="LINEAR_EXACT")
    shown = pixels.render(data)[0]
    assert list(shown) == [0, 128, 255]


def test_plain_linear_window_is_unchanged():
    data = _image([95, 100, 105], WindowCenter=100, WindowWidth=10)
    assert list(pixels.render(data)[0]) == [0, 141, 255]


def test_sigmoid_window():
    # SIGMOID: y = 1 / (1 + exp(-4 (x - c) / w)); at c + w/2 that is 0.881, where LINEAR is white.
    data = _image([0, 2000, 2250, 4095], WindowCenter=2000, WindowWidth=500, VOILUTFunction="SIGMOID")
    shown = pixels.render(data)[0]
    expected = [round(255 / (1 + math.exp(-4 * (x - 2000) / 500))) for x in (0, 2000, 2250, 4095)]
    assert list(shown) == pytest.approx(expected, abs=1)
    assert 220 <= shown[2] <= 228


def _voi_lut(first: int, entries: list[int], bits: int = 12) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(entries), first, bits]
    item.add_new(0x00283006, "US", entries)   # LUT Data
    item.LUTExplanation = "test curve"
    return item


def test_voi_lut_sequence_maps_through_the_lut_without_stretching():
    # A LUT from stored values 0..7 to a curve over the whole 12-bit range; the image uses only part
    # of it, and must look as the LUT says (not stretched to black and white).
    lut = [0, 100, 400, 900, 1600, 2500, 3600, 4095]
    data = _image([2, 3, 4], VOILUTSequence=[_voi_lut(0, lut)])
    shown = pixels.render(data)[0]
    assert list(shown) == [round(v * 255 / 4095) for v in (400, 900, 1600)]


def test_dx_monochrome1_with_a_voi_lut_is_inverted_after_the_lut():
    lut = [0, 1000, 2000, 4095]
    data = _image([1, 3], sop_class=DX, modality="DX", photometric="MONOCHROME1",
                  VOILUTSequence=[_voi_lut(0, lut)], WindowCenter=1, WindowWidth=2)
    shown = pixels.render(data)[0]
    assert list(shown) == [255 - round(1000 * 255 / 4095), 0]


def test_a_chosen_window_overrides_the_files_own():
    data = _image([95, 100, 105], WindowCenter=2000, WindowWidth=500, VOILUTFunction="SIGMOID")
    assert list(pixels.render(data, window=pixels.Window(100, 10))[0]) == [0, 141, 255]
