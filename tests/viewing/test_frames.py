"""Frames for the client-side viewer: modality values exact, every kind of image, nothing lost."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from archive.dicom import pixels
from archive.vault import VaultError
from archive.viewing import frames


def parse(data: bytes) -> list[tuple[dict, bytes]]:
    out, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        header = json.loads(data[at + 4:at + 4 + n])
        at += 4 + n
        out.append((header, data[at:at + header["bytes"]]))
        at += header["bytes"]
    return out


def loader(names: dict[str, str]):
    def load(content_hash: str) -> bytes:
        if content_hash not in names:
            raise VaultError("missing")
        with open(get_testdata_file(names[content_hash], download=False), "rb") as f:
            return f.read()
    return frames.DecodedCache(load)


def test_ct_values_are_hounsfield_units_exactly():
    decoded = loader({"ct": "CT_small.dcm"})
    series = frames.images([{"content_hash": "ct", "number_of_frames": 1, "instance_number": 1}])
    ((header, body),) = parse(frames.chunk(series, 0, 8, decoded))
    ds = dcmread(get_testdata_file("CT_small.dcm", download=False))
    expected = pixels.decode(ds)[0]
    assert header["kind"] == "i16" and (header["rows"], header["cols"]) == expected.shape
    values = np.frombuffer(body, "<i2").reshape(expected.shape)
    assert np.array_equal(values, expected)            # modality values, rescale applied
    assert header["spacing"] and header["window"] and header["position"] is not None
    assert "Alpha" not in json.dumps(header) and str(ds.PatientName) not in json.dumps(header)


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPEG2000.dcm",
                                  "MR_small_bigendian.dcm", "image_dfl.dcm"])
def test_every_transfer_syntax_gives_frames(name):
    decoded = loader({"x": name})
    ((header, body),) = parse(frames.chunk(frames.images([{"content_hash": "x"}]), 0, 1, decoded))
    assert header["kind"] in ("i16", "f32") and len(body) == header["rows"] * header["cols"] * (
        2 if header["kind"] == "i16" else 4)


def test_multiframe_colour_is_unrolled_and_rgb():
    decoded = loader({"us": "examples_ybr_color.dcm"})
    series = frames.images([{"content_hash": "us", "number_of_frames": 30}])
    assert len(series) == 30
    parts = parse(frames.chunk(series, 10, 3, decoded))
    assert [h["frame"] for h, _ in parts] == [10, 11, 12]
    assert all(h["kind"] == "rgb" and len(b) == h["rows"] * h["cols"] * 3 for h, b in parts)


def test_a_missing_file_is_named_and_the_rest_still_served():
    decoded = loader({"ct": "CT_small.dcm"})
    series = frames.images([{"content_hash": "gone"}, {"content_hash": "ct"}])
    (gone, _), (ok, _) = parse(frames.chunk(series, 0, 8, decoded))
    assert gone["kind"] == "none" and "missing" in gone["problem"]
    assert ok["kind"] == "i16"


def test_chunks_are_bounded():
    series = frames.images([{"content_hash": "ct"}] * 100)
    assert len(parse(frames.chunk(series, 0, 1000, loader({"ct": "CT_small.dcm"})))) == frames.MAX_CHUNK
    assert parse(frames.chunk(series, 500, 4, loader({"ct": "CT_small.dcm"}))) == []
