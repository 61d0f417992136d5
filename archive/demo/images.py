"""Phantom pixel data for the demo: images that look like CT, MR, radiographs, mammograms, ultrasound.

Everything starts from scikit-image's Shepp-Logan phantom, reshaped per body region, mapped to
each modality's values (Hounsfield units for CT, signal for MR, exposure for projection images)
and given noise from the caller's generator, so one seed always gives the same pixels.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy import ndimage
from skimage.data import shepp_logan_phantom
from skimage.transform import resize

_LEVELS = 12          # cross-section sizes kept per region; each slice picks the nearest


@lru_cache(maxsize=None)
def _phantom(rows: int, cols: int) -> np.ndarray:
    return resize(shepp_logan_phantom(), (rows, cols), order=1, anti_aliasing=True).astype(np.float32)


def _place(image: np.ndarray, size: tuple[int, int], scale: tuple[float, float]) -> np.ndarray:
    """``image`` resized by ``scale`` (rows, cols) and centred on a blank canvas of ``size``."""
    rows, cols = max(2, round(size[0] * scale[0])), max(2, round(size[1] * scale[1]))
    small = resize(image, (rows, cols), order=1, anti_aliasing=False).astype(np.float32)
    canvas = np.zeros(size, np.float32)
    top, left = (size[0] - rows) // 2, (size[1] - cols) // 2
    canvas[max(top, 0):max(top, 0) + min(rows, size[0]), max(left, 0):max(left, 0) + min(cols, size[1])] = \
        small[max(-top, 0):max(-top, 0) + min(rows, size[0]), max(-left, 0):max(-left, 0) + min(cols, size[1])]
    return canvas


# Cross-section proportions (rows, cols) of each region as seen in an axial slice.
_ASPECT = {"head": (0.86, 0.74), "chest": (0.62, 0.9), "body": (0.64, 0.88), "limb": (0.5, 0.46),
           "breast": (0.6, 0.6)}
_PLANE_ASPECT = {"SAG": (0.9, 0.55), "COR": (0.9, 0.62)}


_BINS = 64                       # phantom values are quantised to labels so mapping is a lookup
_HOLE, _OUTSIDE = _BINS, _BINS + 1
_BIN_VALUES = np.linspace(0.0, 1.0, _BINS, dtype=np.float32)


@lru_cache(maxsize=None)
def _levels(region: str, size: int, plane: str = "AX") -> np.ndarray:
    """Labelled phantom cross-sections of growing size, shape (_LEVELS, size, size), uint8.

    Labels 0.._BINS-1 are quantised phantom values inside the body, ``_HOLE`` marks phantom zeros
    inside it (ventricles, lungs, fat) and ``_OUTSIDE`` the air around it.
    """
    aspect = _PLANE_ASPECT.get(plane, _ASPECT[region])
    base = _phantom(256, 256)
    levels = []
    for k in range(_LEVELS):
        grow = 0.45 + 0.6 * k / (_LEVELS - 1)
        image = _place(base, (size, size), (aspect[0] * grow, aspect[1] * grow))
        mask = ndimage.binary_fill_holes(image > 0.5)
        labels = np.clip(np.round(image * (_BINS - 1)), 0, _BINS - 1).astype(np.uint8)
        labels[mask & (image < 0.05)] = _HOLE
        labels[~mask] = _OUTSIDE
        levels.append(labels)
    return np.stack(levels)


def _section(region: str, size: int, t: float, body_size: float, plane: str = "AX") -> np.ndarray:
    """The labelled cross-section at fraction ``t`` (0..1) along the body: smaller towards the ends."""
    profile = np.sqrt(max(0.0, 1.0 - 0.75 * (2.0 * t - 1.0) ** 2)) if plane == "AX" else 0.9
    level = int(np.clip(round((profile * body_size - 0.45) / 0.6 * (_LEVELS - 1)), 0, _LEVELS - 1))
    return _levels(region, size, plane)[level]


def _shift(image: np.ndarray, shift_px: tuple[int, int]) -> np.ndarray:
    return np.roll(image, shift_px, axis=(0, 1)) if any(shift_px) else image


# Phantom value -> tissue value, per region: (values at the phantom's levels, value of a hole).
_PHANTOM_LEVELS = [0.0, 0.098, 0.2, 0.298, 0.4, 1.0]
_CT_HU = {"head": ([0, 8, 35, 45, 75, 1100], 6), "chest": ([0, -90, 40, 50, 190, 60], -840),
          "body": ([0, 20, 60, 45, 170, 40], -95), "limb": ([0, -80, 55, 60, 400, 900], -100)}
_MR_SIGNAL = {"T1": ([0, 500, 720, 650, 600, 1250], 160), "T2": ([0, 560, 480, 600, 1150, 420], 1450),
              "FLAIR": ([0, 600, 620, 650, 1350, 520], 90), "T1C": ([0, 500, 720, 650, 1350, 1250], 160),
              "PD": ([0, 850, 800, 880, 960, 900], 1120)}


def _lut(values: Sequence[float], hole: float, outside: float, t: float, depth: float) -> np.ndarray:
    """Label -> value, with inner structures brightening and fading along the body like organs."""
    lut = np.interp(_BIN_VALUES, _PHANTOM_LEVELS, values).astype(np.float32)
    inner = (_BIN_VALUES > 0.05) & (_BIN_VALUES < 0.9)
    lut[inner] *= 1.0 + depth * np.sin(2 * np.pi * (t * 2.3 + _BIN_VALUES[inner] * 1.7))
    return np.concatenate([lut, np.array([hole, outside], np.float32)])


def _values(labels: np.ndarray, values: Sequence[float], hole: float, outside: float, t: float,
            depth: float) -> np.ndarray:
    return _lut(values, hole, outside, t, depth)[labels]


def ct_slice(region: str, size: int, t: float, body_size: float, shift_px: tuple[int, int],
             rng: np.random.Generator) -> np.ndarray:
    """One axial CT slice in Hounsfield units (int16), with quantum noise."""
    values, hole = _CT_HU.get(region, _CT_HU["body"])
    hu = _values(_shift(_section(region, size, t, body_size), shift_px), values, hole, -1000.0, t, 0.25)
    hu += rng.standard_normal(hu.shape, dtype=np.float32) * 12.0
    return np.clip(hu, -1024, 3071).astype(np.int16)


def mr_slice(region: str, weighting: str, size: int, t: float, body_size: float,
             shift_px: tuple[int, int], plane: str, rng: np.random.Generator) -> np.ndarray:
    """One MR slice (uint16 signal, 12 bits) for a weighting (T1, T2, FLAIR, T1C, PD)."""
    values, hole = _MR_SIGNAL.get(weighting, _MR_SIGNAL["T1"])
    labels = _shift(_section(region, size, t, body_size, plane), shift_px)
    signal = _values(labels, values, hole, 0.0, t, 0.2)
    noise = rng.standard_normal((2, *signal.shape), dtype=np.float32) * 25.0
    magnitude = np.hypot(signal + noise[0], noise[1])       # Rician noise, as magnitude images have
    return np.clip(magnitude, 0, 4095).astype(np.uint16)


def _map(section: np.ndarray, mask: np.ndarray, values: Sequence[float], hole: float, outside: float) -> np.ndarray:
    mapped = np.interp(section, _PHANTOM_LEVELS, values).astype(np.float32)
    mapped[mask & (section < 0.05)] = hole
    mapped[~mask] = outside
    return mapped


_XR_VALUES = {"chest": ([0, 1500, 2300, 2400, 2900, 2600], 650),
              "limb": ([0, 1700, 2500, 2600, 3000, 3500], 1400)}


@lru_cache(maxsize=None)
def _projection(region: str, view: str, rows: int, cols: int) -> np.ndarray:
    """A smooth projection image (12-bit, MONOCHROME2 sense) of a region seen from a view."""
    lateral = view in ("LL", "LAT", "OBL")
    if region == "chest":
        scale = (0.78, 0.6 if lateral else 0.86)
    else:
        scale = (0.92, 0.3 if lateral else 0.42)
    section = _place(_phantom(256, 256), (rows, cols), scale)
    mask = ndimage.binary_fill_holes(section > 0.5)
    values, hole = _XR_VALUES.get(region, _XR_VALUES["limb"])
    image = _map(section, mask, values, hole, 250.0)
    if region == "chest":
        ribs = (np.sin(np.arange(rows) / rows * 2 * np.pi * 9) > 0.75)[:, None] & mask & (section < 0.05)
        image[ribs] += 450.0
    return ndimage.gaussian_filter(image, 2.0)


def radiograph(region: str, view: str, rows: int, cols: int, rng: np.random.Generator,
               monochrome1: bool = False) -> np.ndarray:
    """A CR/DX image (uint16, 12 bits); inverted for MONOCHROME1 (bone dark in stored values)."""
    image = _projection(region, view, rows, cols) * float(rng.uniform(0.92, 1.05))
    image = image + rng.standard_normal(image.shape, dtype=np.float32) * 30.0
    image = np.clip(image, 0, 4095)
    return (4095 - image if monochrome1 else image).astype(np.uint16)


@lru_cache(maxsize=None)
def _breast_mask(rows: int, cols: int, view: str) -> np.ndarray:
    """A breast outline against the chest wall at column 0 (MLO views include the pectoral muscle)."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    reach = 0.78 if view == "CC" else 0.72
    mask = ((x / (cols * reach)) ** 2 + ((y - rows * 0.5) / (rows * 0.46)) ** 2) <= 1.0
    if view in ("MLO", "ML"):
        mask = mask.astype(np.float32)
        mask[(x < cols * 0.28 - y * 0.5)] = 2.0          # pectoral muscle: denser
    return mask.astype(np.float32)


def mammogram(view: str, laterality: str, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A 2D mammogram (uint16, 12 bits, MONOCHROME2), chest wall left for R and right for L."""
    mask = _breast_mask(rows, cols, view)
    coarse = rng.standard_normal((rows // 8 + 1, cols // 8 + 1)).astype(np.float32)
    texture = ndimage.zoom(ndimage.gaussian_filter(coarse, 1.2), 8, order=1)[:rows, :cols]
    texture = texture * 1.6 + 0.25 * rng.standard_normal((rows, cols), dtype=np.float32)
    image = np.where(mask > 0, 1500.0 + 450.0 * texture + 300.0 * (mask > 1), 120.0).astype(np.float32)
    for _ in range(int(rng.integers(2, 7))):             # a few bright dots, like calcifications
        r = int(rng.integers(int(rows * 0.25), int(rows * 0.75)))
        c = int(rng.integers(int(cols * 0.1), int(cols * 0.5)))
        if mask[r, c] > 0:
            image[r:r + 3, c:c + 3] += 1200.0
    image += rng.standard_normal(image.shape, dtype=np.float32) * 25.0
    image = np.clip(image, 0, 4095).astype(np.uint16)
    return image[:, ::-1].copy() if laterality == "L" else image


@lru_cache(maxsize=None)
def _sector(rows: int, cols: int) -> np.ndarray:
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    depth = np.hypot(x - cols / 2, y + rows * 0.1)
    angle = np.degrees(np.arctan2(x - cols / 2, y + rows * 0.1))
    return ((np.abs(angle) < 36) & (depth > rows * 0.16) & (depth < rows * 1.02)).astype(np.float32)


def ultrasound(rows: int, cols: int, t: float, rng: np.random.Generator) -> np.ndarray:
    """A B-mode ultrasound frame (uint8, MONOCHROME2): speckled anatomy inside a sector."""
    sector = _sector(rows, cols)
    labels = _section("body", 256, 0.3 + 0.4 * t, 1.0)
    # Nearest-neighbour enlargement of the middle of the section to the frame.
    labels = labels[np.ix_(np.arange(rows) * 200 // rows + 28, np.arange(cols) * 256 // cols)]
    echo = _values(labels, [70, 120, 150, 135, 175, 200], 45.0, 30.0, t, 0.2)
    speckle = rng.rayleigh(1.0, size=(rows, cols)).astype(np.float32)
    return np.clip(echo * speckle * 0.8 * sector, 0, 255).astype(np.uint8)
