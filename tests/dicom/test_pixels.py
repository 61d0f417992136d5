import io
import warnings

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from archive.dicom import pixels


def data(name):
    with open(get_testdata_file(name, download=False), "rb") as f:
        return f.read()


def test_linear_window_follows_the_dicom_formula():
    values = np.array([-1000, -161, -160, 40, 239, 240, 3000], dtype=np.float32)
    out = pixels.apply_window(values, pixels.Window(40, 400))
    assert out[0] == 0 and out[1] == 0          # at or below c - 0.5 - (w-1)/2 = -160
    assert out[-1] == 255 and out[-2] == 255     # above c - 0.5 + (w-1)/2 = 239
    assert 126 <= out[3] <= 129                  # the centre maps to mid grey
    assert list(out) == sorted(out)              # monotonic


def test_presets_are_the_usual_ct_windows():
    assert pixels.PRESETS["CT brain"] == pixels.Window(40, 80)
    assert pixels.PRESETS["CT lung"] == pixels.Window(-600, 1500)
    assert set(pixels.PRESETS) == {"CT brain", "CT lung", "CT bone", "CT abdomen"}
    with pytest.raises(ValueError):
        pixels.Window(40, 0)


def test_ct_is_in_hounsfield_units_and_uses_its_own_window():
    ds = pixels.read(data("CT_small.dcm"))
    frames = pixels.decode(ds)
    assert frames.shape == (1, 128, 128) and frames.dtype == np.float32
    raw = ds.pixel_array.astype(np.float32)
    assert np.allclose(frames[0], raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    lung = pixels.render_frame(ds, frames, 0, pixels.PRESETS["CT lung"])
    bone = pixels.render_frame(ds, frames, 0, pixels.PRESETS["CT bone"])
    assert lung.dtype == np.uint8 and not np.array_equal(lung, bone)


def test_monochrome1_is_shown_inverted_and_invert_flips_back():
    ds = pixels.read(data("MR_small.dcm"))
    frames = pixels.decode(ds)
    window = pixels.Window(600, 1200)
    mono2 = pixels.render_frame(ds, frames, 0, window)
    ds.PhotometricInterpretation = "MONOCHROME1"
    mono1 = pixels.render_frame(ds, frames, 0, window)
    assert np.array_equal(mono1, 255 - mono2)
    assert np.array_equal(pixels.render_frame(ds, frames, 0, window, invert=True), mono2)


@pytest.mark.parametrize("name, shape", [
    ("examples_ybr_color.dcm", (30, 240, 320, 3)),     # multi-frame YBR_FULL_422
    ("examples_rgb_color.dcm", (1, 240, 320, 3)),
    ("examples_palette.dcm", (1, 350, 800, 3)),
    ("SC_rgb_rle_2frame.dcm", (2, 100, 100, 3)),
    ("JPEG2000.dcm", (1, 1024, 256)),
    ("MR_small_RLE.dcm", (1, 64, 64)),
    ("MR_small_jpeg_ls_lossless.dcm", (1, 64, 64)),
    ("JPGExtended.dcm", (1, 1024, 256)),
    ("MR_small_bigendian.dcm", (1, 64, 64)),
    ("image_dfl.dcm", (1, 512, 512)),
])
def test_decodes_colour_multiframe_and_compressed(name, shape):
    ds = pixels.read(data(name))
    frames = pixels.decode(ds)
    assert frames.shape == shape
    image = pixels.render_frame(ds, frames, len(frames) - 1)
    assert image.dtype == np.uint8 and image.shape[:2] == shape[1:3]
    assert image.std() > 0  # not a blank picture


def test_colour_ybr_comes_out_as_rgb():
    ds = pixels.read(data("SC_rgb_dcmtk_+eb+cy+np.dcm"))  # YBR_FULL_422 of a red/green/blue test card
    rgb = pixels.read(data("SC_rgb_dcmtk_+eb+cr.dcm"))
    assert np.abs(pixels.decode(ds).astype(int) - pixels.decode(rgb).astype(int)).mean() < 3


def test_damaged_files_raise_a_plain_error():
    with pytest.raises(pixels.PixelError, match="cannot be decoded"):
        pixels.decode(pixels.read(data("MR_truncated.dcm")))
    with pytest.raises(pixels.PixelError, match="no image"):
        pixels.decode(pixels.read(data("test-SR.dcm")))
    with pytest.raises(pixels.PixelError, match="frame 3 does not exist"):
        ds = pixels.read(data("CT_small.dcm"))
        pixels.render_frame(ds, pixels.decode(ds), 2)


def test_zoom_magnifies_the_centre():
    image = np.zeros((100, 100), np.uint8)
    image[40:60, 40:60] = 255
    zoomed = pixels.zoom_center(image, 2.0)
    assert zoomed.shape == image.shape
    assert (zoomed > 128).sum() > 3 * (image > 128).sum()


def test_thumbnail_and_png_and_overlay():
    png = pixels.thumbnail(data("CT_small.dcm"), size=64)
    thumb = Image.open(io.BytesIO(png))
    assert thumb.format == "PNG" and max(thumb.size) == 64
    out = pixels.overlay(np.zeros((128, 128), np.uint8), {"tl": ["CT AXIAL"], "br": ["W 400 L 40"]})
    assert out.shape == (384, 384, 3) and out.max() > 0  # text was drawn, image scaled for legibility


def test_auto_window_for_files_without_voi():
    values = np.linspace(0, 1000, 10000, dtype=np.float32)
    w = pixels.auto_window(values)
    assert 450 < w.center < 550 and 900 < w.width <= 1000


@pytest.mark.parametrize("name, fast_path", [
    ("CT_small.dcm", True), ("MR_small.dcm", True), ("MR_small_implicit.dcm", True), ("rtdose_1frame.dcm", True),
    ("OBXXXX1A.dcm", False), ("liver_1frame.dcm", False), ("SC_rgb.dcm", False),
    ("MR_small_bigendian.dcm", False), ("emri_small.dcm", False), ("MR2_J2KI.dcm", False),
])
def test_native_fast_path_gives_what_pydicom_decodes(name, fast_path):
    # Single-frame native little-endian grey images take the fast path, which must agree with
    # pydicom's decoder; palette, 1-bit, colour, big endian, multi-frame and compressed do not.
    import pydicom
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.asarray(ds.pixel_array)
    fast = pixels._native_grey_frame(ds)
    assert (fast is not None) == fast_path
    if fast is not None:
        assert fast.dtype == expected.dtype and np.array_equal(fast, expected)


@pytest.mark.parametrize("representation, values, expected", [
    (1, [0x7FFF, 0xFFFF, 0x0800, 0x07FF], [-1, -1, -2048, 2047]),   # 12 of 16 bits, signed: sign-extended
    (0, [0x7FFF, 0xF123, 0x0800, 0x07FF], [4095, 0x123, 2048, 2047]),  # unsigned: high bits cleared
])
def test_native_fast_path_handles_unused_high_bits_like_pydicom(representation, values, expected):
    import pydicom
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.Rows, ds.Columns, ds.BitsStored, ds.PixelRepresentation = 2, 2, 12, representation
    ds.PixelData = np.array(values, dtype="<u2").tobytes()
    fast = pixels._native_grey_frame(ds)
    assert fast.ravel().tolist() == expected
    assert np.array_equal(fast, ds.pixel_array)


def test_short_native_pixel_data_is_left_to_the_full_decoder():
    import pydicom
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PixelData = ds.PixelData[:100]
    assert pixels._native_grey_frame(ds) is None
    with pytest.raises(pixels.PixelError):
        pixels.decode_frame(ds)
