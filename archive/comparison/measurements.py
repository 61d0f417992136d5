"""Measurements on an image: distance, region statistics, and copying a measurement to another image.

Points are (row, column) in image pixels, as the pixel array is indexed. Pixel spacing is
(row spacing, column spacing) in mm, as DICOM's PixelSpacing. Values are the modality-LUT output
(``archive.dicom.pixels.decode``), so a CT region's statistics are in Hounsfield units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

NO_SPACING = ("This image has no pixel spacing: the distance is in pixels, not millimetres.")
Point = tuple[float, float]


@dataclass(frozen=True)
class Distance:
    pixels: float
    mm: float | None
    warning: str | None = None

    @property
    def text(self) -> str:
        return f"{self.mm:.1f} mm" if self.mm is not None else f"{self.pixels:.1f} px (no pixel spacing)"


def _spacing(pixel_spacing: Sequence[float] | None) -> tuple[float, float] | None:
    if pixel_spacing is None:
        return None
    try:
        rs, cs = float(pixel_spacing[0]), float(pixel_spacing[1])
    except (TypeError, ValueError, IndexError):
        return None
    return (rs, cs) if rs > 0 and cs > 0 and math.isfinite(rs) and math.isfinite(cs) else None


def distance(a: Point, b: Point, pixel_spacing: Sequence[float] | None) -> Distance:
    """The length of the line from ``a`` to ``b``: in mm with pixel spacing, else pixels and a warning."""
    dr, dc = float(b[0]) - float(a[0]), float(b[1]) - float(a[1])
    pixels = math.hypot(dr, dc)
    spacing = _spacing(pixel_spacing)
    if spacing is None:
        return Distance(pixels, None, NO_SPACING)
    return Distance(pixels, math.hypot(dr * spacing[0], dc * spacing[1]))


@dataclass(frozen=True)
class RegionStats:
    mean: float
    sd: float
    minimum: float
    maximum: float
    pixels: int
    area_mm2: float | None
    unit: str                      # 'HU' for CT, '' otherwise
    warning: str | None = None

    @property
    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        area = f"{self.area_mm2:.1f} mm²" if self.area_mm2 is not None else f"{self.pixels} px"
        return f"mean {self.mean:.1f}{unit}, SD {self.sd:.1f}{unit}, area {area}"


def region_mask(shape: tuple[int, int], a: Point, b: Point, shape_kind: str = "ellipse") -> np.ndarray:
    """A boolean mask of the box (or the ellipse inscribed in it) with corners ``a`` and ``b``."""
    r0, r1 = sorted((float(a[0]), float(b[0])))
    c0, c1 = sorted((float(a[1]), float(b[1])))
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    if shape_kind == "box":
        return (rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)
    cr, cc = (r0 + r1) / 2, (c0 + c1) / 2
    hr, hc = max((r1 - r0) / 2, 0.5), max((c1 - c0) / 2, 0.5)
    return ((rows - cr) / hr) ** 2 + ((cols - cc) / hc) ** 2 <= 1.0


def region_stats(values: np.ndarray, a: Point, b: Point, pixel_spacing: Sequence[float] | None,
                 modality: str | None = None, shape_kind: str = "ellipse") -> RegionStats:
    """Mean, SD, range and area of the pixels inside the region (HU for CT)."""
    if values.ndim != 2:
        raise ValueError("region statistics need one grey image (rows, columns)")
    mask = region_mask(values.shape, a, b, shape_kind)
    inside = values[mask].astype(np.float64)
    if inside.size == 0:
        raise ValueError("the region holds no pixels of the image")
    spacing = _spacing(pixel_spacing)
    area = float(inside.size * spacing[0] * spacing[1]) if spacing else None
    return RegionStats(float(inside.mean()), float(inside.std(ddof=1)) if inside.size > 1 else 0.0,
                       float(inside.min()), float(inside.max()), int(inside.size), area,
                       "HU" if (modality or "").upper() == "CT" else "",
                       None if spacing else "This image has no pixel spacing: the area is in pixels.")


@dataclass(frozen=True)
class Measurement:
    """A distance line or a region (two corner points) drawn on one image."""

    kind: str                      # 'distance' | 'region'
    a: Point
    b: Point
    copied: bool = False


@dataclass(frozen=True)
class Plane:
    """What is known of an image's geometry for copying measurements."""

    shape: tuple[int, int]
    pixel_spacing: tuple[float, float] | None


def copy_measurement(m: Measurement, source: Plane, target: Plane,
                     shift_mm: tuple[float, float] = (0.0, 0.0)) -> Measurement:
    """The same measurement placed at the same anatomical place on another image.

    Points go through millimetres relative to the image centre (images of one body part are
    centred on it), plus ``shift_mm`` (row, col): where the target's anatomy lies relative to the
    source's (from registration; zero when unknown). Without pixel spacing on both images the
    points are scaled by the image sizes instead.
    """
    def move(p: Point) -> Point:
        sc = ((source.shape[0] - 1) / 2, (source.shape[1] - 1) / 2)
        tc = ((target.shape[0] - 1) / 2, (target.shape[1] - 1) / 2)
        if source.pixel_spacing and target.pixel_spacing:
            mm = [(p[k] - sc[k]) * source.pixel_spacing[k] + shift_mm[k] for k in (0, 1)]
            return (round(tc[0] + mm[0] / target.pixel_spacing[0], 2),
                    round(tc[1] + mm[1] / target.pixel_spacing[1], 2))
        scale = (target.shape[0] / source.shape[0], target.shape[1] / source.shape[1])
        return (round(tc[0] + (p[0] - sc[0]) * scale[0], 2), round(tc[1] + (p[1] - sc[1]) * scale[1], 2))
    return replace(m, a=move(m.a), b=move(m.b), copied=True)
