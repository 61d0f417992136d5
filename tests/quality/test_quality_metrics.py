"""Quality metrics on generated images whose noise, contrast and blur are known."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from skimage.data import shepp_logan_phantom
from skimage.draw import disk
from skimage.filters import gaussian
from skimage.transform import resize

from archive.quality.metrics import NotMeasurable, measure, representable_range
from tests.support.samples import pydicom_file


def _phantom(size=256) -> np.ndarray:
    return resize(shepp_logan_phantom(), (size, size), order=1) * 400.0   # soft-tissue-like contrast


def _disk_image(inside: float, outside: float, sigma: float, size=256, seed=0) -> np.ndarray:
    image = np.full((size, size), outside, dtype=np.float64)
    rr, cc = disk((size / 2, size / 2), size * 0.35)
    image[rr, cc] = inside
    return (image + np.random.default_rng(seed).normal(0, sigma, image.shape)).astype(np.float32)


@pytest.mark.parametrize("sigma", [5.0, 20.0, 50.0])
def test_noise_estimate_is_within_15_percent(sigma):
    noisy = _phantom() + np.random.default_rng(1).normal(0, sigma, (256, 256))
    assert measure(noisy.astype(np.float32)).noise_sigma == pytest.approx(sigma, rel=0.15)


def test_snr_and_cnr_in_automatically_found_regions():
    m = measure(_disk_image(inside=500, outside=100, sigma=10))
    assert m.snr == pytest.approx(50, rel=0.15)          # 500 / 10 inside the disk
    assert m.cnr == pytest.approx(40, rel=0.15)          # (500 - 100) / 10
    assert m.signal_mean == pytest.approx(500, abs=5) and m.background_mean == pytest.approx(100, abs=5)
    noisier = measure(_disk_image(inside=500, outside=100, sigma=40))
    assert noisier.cnr < m.cnr / 3


def test_ct_noise_in_uniform_soft_tissue_and_snr_from_air():
    image = _disk_image(inside=40, outside=-1000, sigma=12)   # water-like disk in air, HU
    m = measure(image, "CT", (-1024, 3071))
    assert m.ct_noise_hu == pytest.approx(12, rel=0.15)
    assert m.snr == pytest.approx(1040 / 12, rel=0.15)
    assert measure(image, "MR").ct_noise_hu is None


def test_sharpness_falls_with_blur_and_ignores_units():
    base = _phantom() + np.random.default_rng(2).normal(0, 1, (256, 256))
    values = [measure(gaussian(base, s, preserve_range=True).astype(np.float32)).sharpness if s else
              measure(base.astype(np.float32)).sharpness for s in (0, 1, 2, 4)]
    assert values == sorted(values, reverse=True) and values[0] > 10 * values[2]
    assert measure((base * 7 + 300).astype(np.float32)).sharpness == pytest.approx(values[0], rel=0.01)


def test_saturation_and_clipping_fractions():
    image = _disk_image(inside=2000, outside=500, sigma=20)
    image[:13, :] = 4095          # 13 of 256 rows: 5.1 % at the top of a 12-bit range
    image[-26:, :] = 0            # 10.2 % at zero
    m = measure(image, "DX", (0, 4095))
    assert m.saturation_fraction == pytest.approx(13 / 256, abs=1e-3)
    assert m.clipping_fraction == pytest.approx(26 / 256, abs=1e-3)
    assert measure(image, "DX", None).saturation_fraction is None


def test_colour_and_tiny_images():
    rgb = np.stack([_disk_image(200, 20, 5)] * 3, axis=-1).clip(0, 255).astype(np.uint8)
    assert measure(rgb, "US", (0, 255)).snr > 10
    with pytest.raises(NotMeasurable):
        measure(np.zeros((3, 3), dtype=np.float32))


def test_representable_range_follows_bits_and_rescale():
    ct = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    lo, hi = representable_range(ct)
    bits, slope, intercept = ct.BitsStored, float(ct.RescaleSlope), float(ct.RescaleIntercept)
    if ct.PixelRepresentation:
        assert lo == -(2 ** (bits - 1)) * slope + intercept
    else:
        assert (lo, hi) == (intercept, (2 ** bits - 1) * slope + intercept)
    assert hi > lo


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_RLE.dcm", "examples_ybr_color.dcm",
                                  "examples_palette.dcm", "emri_small.dcm", "rtdose.dcm"])
def test_decode_frame_matches_the_full_decode(name):
    from archive.dicom.pixels import decode, decode_frame, read

    data = pydicom_file(name).read_bytes()
    ds = read(data)
    index, frame = decode_frame(ds)
    full = decode(read(data))
    assert index == len(full) // 2
    assert frame.dtype == full.dtype and np.allclose(frame, full[index])
    assert ds.pixel_array.shape[0] == full.shape[0] or len(full) == 1   # the dataset still decodes all frames


@pytest.mark.parametrize("size", [1, 2, 3, 10, 1024, 4097])
@pytest.mark.parametrize("q", [0.0, 0.01, 0.25, 0.5, 0.99, 1.0])
def test_partial_sort_quantile_is_numpys_linear_quantile(size, q):
    from archive.quality.metrics import _quantile
    values = np.random.default_rng(size).normal(0, 10, size).astype(np.float32)
    assert _quantile(values, q) == pytest.approx(float(np.quantile(values, q)), rel=1e-6, abs=1e-6)
