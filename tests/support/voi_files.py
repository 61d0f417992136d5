"""DICOM files that carry each VOI transform of PS3.3 C.11.2.1.2, made from pydicom's CT_small.dcm
(a fake patient) by changing its VOI attributes, and the pydicom reference of what each should
look like on a screen (8 bits, MONOCHROME1 inverted).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence


def _ct() -> Dataset:
    return pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))


def with_voi(function: str | None = None, centers=(40.0,), widths=(400.0,), mono1: bool = False,
             lut: bool = False, explanations: tuple[str, ...] = ()) -> bytes:
    """CT_small with the given windows (several values allowed), VOILUTFunction, a VOI LUT
    Sequence (a 12-bit S-shaped LUT over -1000..1000 HU) and/or MONOCHROME1, as file bytes."""
    ds = _ct()
    for keyword in ("WindowCenter", "WindowWidth", "VOILUTFunction", "WindowCenterWidthExplanation"):
        if keyword in ds:
            delattr(ds, keyword)
    if centers:
        ds.WindowCenter = list(centers) if len(centers) > 1 else centers[0]
        ds.WindowWidth = list(widths) if len(widths) > 1 else widths[0]
    if explanations:
        ds.WindowCenterWidthExplanation = list(explanations) if len(explanations) > 1 else explanations[0]
    if function:
        ds.VOILUTFunction = function
    if mono1:
        ds.PhotometricInterpretation = "MONOCHROME1"
    if lut:
        item = Dataset()
        first, entries = -1000, 2001
        x = np.arange(entries, dtype=np.float64)
        values = np.round(4095 / (1 + np.exp(-(x - entries / 2) / 180))).astype(np.uint16)
        item.add_new(0x00283002, "SS", [entries, first, 12])    # LUT Descriptor (signed input)
        item.add_new(0x00283006, "US", [int(v) for v in values])  # LUT Data
        item.LUTExplanation = "TEST S-CURVE"
        ds.VOILUTSequence = Sequence([item])
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def testdata(name: str) -> bytes:
    """One of pydicom's own test files (e.g. vlut_04.dcm: a VOI LUT; RG3_UNCR.dcm: MONOCHROME1)."""
    with open(get_testdata_file(name, download=False), "rb") as f:
        return f.read()


def reference(data: bytes, window_index: int = 0) -> np.ndarray:
    """What pydicom makes of the file: modality LUT, then VOI LUT or window number ``window_index``
    with its VOILUTFunction, scaled from the transform's output range to 0..255, MONOCHROME1
    inverted."""
    ds = pydicom.dcmread(io.BytesIO(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = apply_modality_lut(ds.pixel_array, ds)
        if ds.get("VOILUTSequence"):
            out = apply_voi_lut(np.rint(values).astype(np.int64), ds, index=0).astype(np.float64)
            item = ds.VOILUTSequence[0]
            first, entries = int(item.LUTDescriptor[1]), int(item.LUTDescriptor[0]) or 65536
            table = apply_voi_lut(np.arange(first, first + entries), ds, index=0).astype(np.float64)
            lo, hi = table.min(), table.max()
        else:
            out = apply_voi_lut(values.astype(np.float64), ds, index=window_index, prefer_lut=False)
            probe = apply_voi_lut(np.array([-1e12, 1e12]), ds, index=window_index, prefer_lut=False)
            lo, hi = float(probe.min()), float(probe.max())
    grey = np.clip(np.rint((out - lo) * 255.0 / (hi - lo)), 0, 255).astype(np.int16)
    return 255 - grey if ds.PhotometricInterpretation == "MONOCHROME1" else grey
