"""Image quality metrics of one decoded image, with scikit-image and numpy.

All metrics are computed in presentation space: modality-LUT values (Hounsfield units for CT) of one
frame (the middle one of a multi-frame object; colour images as luminance), with MONOCHROME1 images
inverted within the range the file can represent, so that bright means more signal for every
photometric interpretation (a CR station storing MONOCHROME1 would otherwise get a larger mean, and
so a larger SNR, from the same exposure). Saturation and clipping are counted after the inversion
(the top of the presented range is the brightest pixel). The image is cut into square tiles
(about 32 across); the tiles are split into object and background with Otsu's threshold on their
means (``skimage.filters.threshold_otsu``), and the most uniform quarter of each side (lowest
standard deviation) makes the automatically found regions:

- ``noise_sigma``: Gaussian noise estimated from the finest wavelet detail band
  (``skimage.restoration.estimate_sigma``) on a central crop of at most 128 x 128 pixels: its
  4,000 finest-band coefficients are plenty for the robust (median) estimate, and it keeps the
  pipeline fast;
- ``snr``: mean / standard deviation in the uniform object region (CT values measured from air,
  i.e. HU + 1000, so that zero means no signal as in the other modalities);
- ``cnr``: |object mean - background mean| / pooled standard deviation of the two uniform regions
  (None when the image has no background);
- ``sharpness``: variance of the 3x3 Laplacian (the kernel of ``skimage.filters.laplace``) of the
  image scaled to its 1-99 % range, so that it does not depend on the units; noise raises it too,
  so compare it within a station and protocol, as the outlier view does;
- ``saturation_fraction`` / ``clipping_fraction``: share of pixels at the top / bottom of the range
  the file can represent (bits stored and rescale), e.g. a burnt-out detector or clipped window;
- ``ct_noise_hu`` (CT only): median standard deviation of the most uniform soft-tissue tiles
  (mean between -150 and 250 HU), the classic "noise in a uniform region" of CT QA;
- ``content_fraction``: share of tiles whose mean stands out from the background (the darkest
  tenth of the tiles) by more than 4 noise sigmas. An image below ``MIN_CONTENT`` shows no
  anatomy (an empty edge slice, a blank frame): its SNR and sharpness mean nothing, and the
  outlier analysis leaves it out and counts it (``archive.quality.outliers``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from pydicom.dataset import Dataset
from skimage.filters import threshold_otsu
from skimage.restoration import estimate_sigma

from archive.errors import LimestoneError

METRICS_VERSION = 3   # 3: presentation space (MONOCHROME1 inverted), content fraction; 2: noise crop 128
MIN_CONTENT = 0.02    # below this share of tiles with signal, an image shows no anatomy
NOISE_CROP = 128
SOFT_TISSUE_HU = (-150.0, 250.0)


class NotMeasurable(LimestoneError, ValueError):
    """The image is too small (or not an image plane) for the metrics to mean anything."""


@dataclass
class ImageMetrics:
    noise_sigma: float | None = None
    snr: float | None = None
    cnr: float | None = None
    sharpness: float | None = None
    saturation_fraction: float | None = None
    clipping_fraction: float | None = None
    ct_noise_hu: float | None = None
    signal_mean: float | None = None
    background_mean: float | None = None
    content_fraction: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in asdict(self).items()}


def representable_range(ds: Dataset) -> tuple[float, float] | None:
    """The lowest and highest value the file can hold, in modality-LUT units (None if unknown)."""
    try:
        bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 0)
        signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        return None
    if not 1 <= bits <= 32:
        return None
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    a, b = lo * slope + intercept, hi * slope + intercept
    return (min(a, b), max(a, b))


def as_grey(frame: np.ndarray) -> np.ndarray:
    """One frame as a float32 2-D image (colour as Rec. 601 luminance)."""
    if frame.ndim == 3 and frame.shape[-1] == 3:
        return (frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114).astype(np.float32)
    return np.asarray(frame, dtype=np.float32)


def _tiles(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each square tile (sums along contiguous axes: fast)."""
    h, w = image.shape
    size = max(4, min(h, w) // 32)
    ty, tx = h // size, w // size
    x = image[:ty * size, :tx * size]
    ref = float(x[::8, ::8].mean())   # centring first keeps E[x^2] - E[x]^2 accurate
    x = x - ref
    sums = x.reshape(ty, size, tx * size).sum(axis=1, dtype=np.float64).reshape(ty, tx, size).sum(axis=2)
    x *= x
    squares = x.reshape(ty, size, tx * size).sum(axis=1, dtype=np.float64).reshape(ty, tx, size).sum(axis=2)
    n = size * size
    mean = sums / n
    return (mean + ref).ravel(), np.sqrt(np.maximum(squares / n - mean * mean, 0)).ravel()


def _laplacian_variance(image: np.ndarray) -> float:
    lap = image[1:-1, 1:-1] * 4
    lap -= image[:-2, 1:-1]
    lap -= image[2:, 1:-1]
    lap -= image[1:-1, :-2]
    lap -= image[1:-1, 2:]
    flat = lap.ravel()
    mean = float(flat.mean(dtype=np.float64))
    return float(np.dot(flat, flat)) / flat.size - mean * mean


def _quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) by partial sort: a tenth of its overhead."""
    position = q * (values.size - 1)
    low = int(position)
    high = min(low + 1, values.size - 1)
    part = np.partition(values.ravel(), (low, high))
    return float(part[low]) + (position - low) * (float(part[high]) - float(part[low]))


def _uniform(means: np.ndarray, stds: np.ndarray) -> tuple[float, float] | None:
    """Mean and noise of the most uniform quarter of the given tiles."""
    if means.size == 0:
        return None
    keep = stds <= _quantile(stds, 0.25)
    return float(means[keep].mean()), _quantile(stds[keep], 0.5)


def measure(image: np.ndarray, modality: str | None = None,
            value_range: tuple[float, float] | None = None) -> ImageMetrics:
    """The quality metrics of one 2-D image (see the module docstring for their definitions)."""
    image = as_grey(image)
    if image.ndim != 2 or min(image.shape) < 16:
        raise NotMeasurable(f"image too small to measure ({'x'.join(map(str, image.shape))})")
    modality = (modality or "").upper()
    out = ImageMetrics()
    h, w = image.shape
    ch, cw = min(h, NOISE_CROP), min(w, NOISE_CROP)
    top, left = (h - ch) // 2, (w - cw) // 2
    out.noise_sigma = float(estimate_sigma(image[top:top + ch, left:left + cw]))

    means, stds = _tiles(image)
    split = None
    if np.ptp(means) > 0:
        threshold = threshold_otsu(means)
        split = means > threshold
    obj = _uniform(means[split], stds[split]) if split is not None else _uniform(means, stds)
    bg = _uniform(means[~split], stds[~split]) if split is not None and (~split).any() else None
    offset = 1000.0 if modality == "CT" else 0.0
    if obj is not None:
        out.signal_mean = obj[0]
        out.snr = (obj[0] + offset) / obj[1] if obj[1] > 0 else None
    if obj is not None and bg is not None:
        out.background_mean = bg[0]
        pooled = math.sqrt((obj[1] ** 2 + bg[1] ** 2) / 2)
        out.cnr = abs(obj[0] - bg[0]) / pooled if pooled > 0 else None
    background = _quantile(means, 0.1)
    threshold = max(4.0 * out.noise_sigma, 1e-9)
    out.content_fraction = float(np.count_nonzero(np.abs(means - background) > threshold)) / means.size
    if modality == "CT":
        soft = (means >= SOFT_TISSUE_HU[0]) & (means <= SOFT_TISSUE_HU[1])
        tissue = _uniform(means[soft], stds[soft]) if soft.sum() >= 4 else None
        if tissue is not None:
            out.ct_noise_hu = tissue[1]

    sample = image[::8, ::8]
    scale = (_quantile(sample, 0.99) - _quantile(sample, 0.01)) or 1.0
    out.sharpness = _laplacian_variance(image) / (scale * scale)

    if value_range is not None:
        lo, hi = value_range
        n = image.size
        # Most images touch neither end: the extremes say so without counting.
        out.saturation_fraction = float(np.count_nonzero(image >= hi)) / n if image.max() >= hi else 0.0
        out.clipping_fraction = float(np.count_nonzero(image <= lo)) / n if image.min() <= lo else 0.0
    return out


def presentation(ds: Dataset, frame: np.ndarray) -> tuple[np.ndarray, tuple[float, float] | None]:
    """A decoded frame in presentation space, and the range it can take there.

    MONOCHROME1 (minimum value shown white) is inverted within the representable range (or, when
    that is unknown, within the frame's own range), so that the same exposure stored as
    MONOCHROME1 or MONOCHROME2 gives the same numbers.
    """
    if frame.ndim == 3:
        return frame, (0.0, 255.0)
    value_range = representable_range(ds)
    if str(ds.get("PhotometricInterpretation", "") or "").strip().upper() == "MONOCHROME1":
        lo, hi = value_range if value_range is not None else (float(frame.min()), float(frame.max()))
        frame = (lo + hi) - np.asarray(frame, dtype=np.float32)
    return frame, value_range


def measure_dataset(ds: Dataset, frame: np.ndarray) -> ImageMetrics:
    """Metrics of one decoded frame of a dataset (see ``archive.dicom.pixels.decode_frame``), in
    presentation space (``presentation``)."""
    image, value_range = presentation(ds, frame)
    return measure(image, str(ds.get("Modality", "") or ""), value_range)
