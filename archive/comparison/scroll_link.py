"""Synchronised scrolling between a current series and a prior series.

Each image's position is its ImagePositionPatient projected on the current series' slice normal
(millimetres along the normal). Three ways to link the two series:

- **position**: both series share a frame of reference (same scanner session), so equal positions
  are the same place in the patient; the prior shows its slice nearest to the current position.
- **offset**: the frames differ (the usual case across dates and sites), so a position offset
  (prior minus current, in mm) is needed: fixed by the user ("link at this slice") or suggested
  by registration (``archive.comparison.image_registration``). Without position information the offset is in images.
- **off**: the prior is scrolled on its own.

``plan_sync`` says which links are possible and gives the plain notes a technologist reads when
something cannot be synchronised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from archive.comparison.series_pairing import finite_vector, plane, slice_normal

POSITION, OFFSET, OFF = "position", "offset", "off"
PLANE_NAMES: dict[str | None, str] = {"AX": "axial", "SAG": "sagittal", "COR": "coronal", "OBL": "oblique"}


@dataclass
class SeriesGeometry:
    """The slice positions of a series in the viewer's order, and what is known of its geometry."""

    positions: np.ndarray                     # mm along ``normal``, NaN where an image has no position
    normal: np.ndarray | None
    orientation: tuple[float, ...] | None
    frame_of_reference_uid: str | None
    pixel_spacing: tuple[float, float] | None
    matrix: tuple[int, int] | None
    slice_thickness: float | None

    @classmethod
    def from_instances(cls, instances: pd.DataFrame, frame_of_reference_uid: str | None = None,
                       normal: np.ndarray | None = None) -> "SeriesGeometry":
        """From rows of ``compare.series_instances``; ``normal`` is the current series' normal
        (pass it for a prior, so both are measured along the same axis)."""
        rows = instances.to_dict("records")
        orientations = [finite_vector(r.get("image_orientation_patient")) for r in rows]
        first = next((o for o in orientations if o is not None and o.size == 6), None)
        own = slice_normal(first) if first is not None else None
        axis = normal if normal is not None else own
        positions = np.full(len(rows), np.nan)
        if axis is not None:
            for k, r in enumerate(rows):
                ipp = finite_vector(r.get("image_position_patient"))
                if ipp is not None and ipp.size == 3:
                    positions[k] = float(np.dot(ipp, axis))
        spacing = next((finite_vector(r.get("pixel_spacing")) for r in rows
                        if finite_vector(r.get("pixel_spacing")) is not None), None)
        thickness = [float(r["slice_thickness"]) for r in rows
                     if r.get("slice_thickness") is not None and r["slice_thickness"] == r["slice_thickness"]]
        matrix = next(((int(r["rows"]), int(r["columns"])) for r in rows
                       if r.get("rows") == r.get("rows") and r.get("rows") and r.get("columns")), None)
        return cls(positions, axis if own is not None else None,
                   tuple(first) if first is not None else None,
                   frame_of_reference_uid or None,
                   (float(spacing[0]), float(spacing[1])) if spacing is not None and spacing.size >= 2 else None,
                   matrix, float(np.median(thickness)) if thickness else None)

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def has_positions(self) -> bool:
        return self.count > 0 and bool(np.all(np.isfinite(self.positions))) and self.normal is not None

    @property
    def slice_spacing(self) -> float | None:
        """The typical distance between neighbouring slices (mm)."""
        if not self.has_positions or self.count < 2:
            return self.slice_thickness
        steps = np.abs(np.diff(np.sort(self.positions)))
        steps = steps[steps > 1e-3]
        return float(np.median(steps)) if steps.size else self.slice_thickness


@dataclass
class SyncPlan:
    """Which links are possible between a current and a prior series, with notes for the user."""

    by_position: bool                 # same frame of reference and positions on both
    by_offset_mm: bool                # positions on both, planes parallel: an offset in mm
    by_index: bool                    # no positions: an offset in images
    notes: list[str] = field(default_factory=list)

    @property
    def linkable(self) -> bool:
        return self.by_position or self.by_offset_mm or self.by_index

    @property
    def default_mode(self) -> str:
        return POSITION if self.by_position else (OFFSET if self.linkable else OFF)


def plan_sync(current: SeriesGeometry, prior: SeriesGeometry) -> SyncPlan:
    """How ``prior`` can follow ``current``, and the plain notes about what cannot be synchronised."""
    notes: list[str] = []
    if prior.count == 0:
        return SyncPlan(False, False, False, ["The prior series has no images to show."])
    pc, pp = plane(current.orientation), plane(prior.orientation)
    if current.normal is not None and prior.orientation is not None:
        prior_normal = slice_normal(prior.orientation)
        if prior_normal is not None and abs(float(np.dot(current.normal, prior_normal))) < np.cos(np.radians(25)):
            notes.append(f"The prior series is {PLANE_NAMES.get(pp, 'in another plane')} and the current "
                         f"one {PLANE_NAMES.get(pc, 'in another plane')}: they cannot be scrolled in step. "
                         "Scroll the prior on its own, or pick a prior series in the same plane.")
            return SyncPlan(False, False, False, notes)
    both = current.has_positions and prior.has_positions
    if not both:
        which = "prior" if current.has_positions else ("current" if prior.has_positions else "current and prior")
        if current.count > 1 or prior.count > 1:
            notes.append(f"The {which} images have no slice position information: the prior is "
                         "linked by image number. Scroll to the same anatomy on both and press "
                         "\"Link at this slice\" to fix the step.")
    same_frame = (both and current.frame_of_reference_uid is not None
                  and current.frame_of_reference_uid == prior.frame_of_reference_uid)
    if both and not same_frame:
        notes.append("The prior was acquired in a different frame of reference (another date, site "
                     "or scanner), so table positions do not match. Scroll both to the same anatomy "
                     "and press \"Link at this slice\", or use the suggested link.")
    if current.slice_spacing and prior.slice_spacing and abs(current.slice_spacing - prior.slice_spacing) > 0.1:
        notes.append(f"Slices are {current.slice_spacing:g} mm apart on the current series and "
                     f"{prior.slice_spacing:g} mm on the prior: the nearest prior slice is shown.")
    if current.pixel_spacing is None or prior.pixel_spacing is None:
        which = "current" if current.pixel_spacing is None else "prior"
        notes.append(f"The {which} images have no pixel spacing: distances on them are in pixels, "
                     "not millimetres, and measurements cannot be copied in mm.")
    elif max(abs(a - b) for a, b in zip(current.pixel_spacing, prior.pixel_spacing, strict=False)) > 0.01:
        notes.append(f"Pixel size differs ({current.pixel_spacing[0]:.2f} mm on the current, "
                     f"{prior.pixel_spacing[0]:.2f} mm on the prior): measurements are compared in mm.")
    if current.matrix and prior.matrix and current.matrix != prior.matrix:
        notes.append(f"Image size differs ({current.matrix[0]}x{current.matrix[1]} on the current, "
                     f"{prior.matrix[0]}x{prior.matrix[1]} on the prior).")
    return SyncPlan(same_frame, both, not both and (current.count > 1 or prior.count > 1), notes)


@dataclass(frozen=True)
class Linked:
    """The prior slice that goes with a current slice."""

    index: int
    distance_mm: float | None = None      # from the wanted position to the shown slice
    outside: bool = False                 # the wanted position is beyond the prior's slices


def linked_index(current: SeriesGeometry, index: int, prior: SeriesGeometry, mode: str,
                 offset: float = 0.0) -> Linked | None:
    """The prior slice to show with the current slice ``index`` (None when ``mode`` is off).

    ``offset`` is prior minus current position in mm (or in images when a series has no positions).
    """
    if mode == OFF or prior.count == 0:
        return None
    if not (current.has_positions and prior.has_positions):
        wanted = index + int(round(offset))
        return Linked(int(np.clip(wanted, 0, prior.count - 1)), None, not 0 <= wanted < prior.count)
    target = current.positions[index] + (0.0 if mode == POSITION else offset)
    gaps = np.abs(prior.positions - target)
    j = int(np.argmin(gaps))
    tolerance = max(prior.slice_spacing or 0.0, prior.slice_thickness or 0.0, 1.0) / 2 + 0.01
    return Linked(j, float(gaps[j]), bool(gaps[j] > tolerance))


def offset_between(current: SeriesGeometry, index: int, prior: SeriesGeometry, prior_index: int) -> float:
    """The offset that links current slice ``index`` to prior slice ``prior_index`` ("link at this slice")."""
    if current.has_positions and prior.has_positions:
        return float(prior.positions[prior_index] - current.positions[index])
    return float(prior_index - index)


def describe_offset(offset: float, current: SeriesGeometry, prior: SeriesGeometry) -> str:
    if current.has_positions and prior.has_positions:
        return f"{offset:+.1f} mm"
    return f"{int(round(offset)):+d} images"

