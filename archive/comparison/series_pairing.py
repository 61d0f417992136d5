"""Series pairing: which series of a prior to show beside each series of the current study.

Two series pair when they have the same modality (CR and DX count as one); among those the
score favours the same plane (from ImageOrientationPatient), a similar description, a similar
slice thickness and a similar number of images. ``pair_series`` assigns each current series its
best prior series, one to one where it can; the page lets the user change any pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from archive.comparison.priors import description_similarity, family

PLANES = ("AX", "SAG", "COR")


@dataclass(frozen=True)
class SeriesInfo:
    """What pairing needs of a series (a row of ``compare.series_geometry``)."""

    series_instance_uid: str
    modality: str | None = None
    description: str | None = None
    orientation: tuple[float, ...] | None = None
    slice_thickness: float | None = None
    images: int = 0
    frame_of_reference_uid: str | None = None
    series_number: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "SeriesInfo":
        iop = finite_vector(row.get("image_orientation_patient"))
        return cls(row["series_instance_uid"], row.get("modality"), _text(row.get("series_description")),
                   tuple(iop) if iop is not None and len(iop) == 6 else None,
                   _number(row.get("slice_thickness")), int(_number(row.get("images")) or 0),
                   _text(row.get("frame_of_reference_uid")), _int(row.get("series_number")))

    @property
    def plane(self) -> str | None:
        return plane(self.orientation)

    @property
    def label(self) -> str:
        parts = ["" if self.series_number is None else f"#{self.series_number}", self.modality or "",
                 self.description or "", f"({self.images})"]
        return " ".join(p for p in parts if p)


def _text(value: object) -> str | None:
    return None if value is None or value != value else str(value)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def finite_vector(value: Any) -> np.ndarray | None:
    """A DICOM multi-valued number (position, orientation, spacing) as an array, or None if unusable."""
    if value is None:
        return None
    try:
        arr = np.asarray(list(value), dtype=float)
    except (TypeError, ValueError):
        return None
    return arr if arr.size and np.all(np.isfinite(arr)) else None


def slice_normal(orientation: Iterable[float] | None) -> np.ndarray | None:
    """The unit normal of the image plane (row direction x column direction), or None."""
    iop = finite_vector(orientation)
    if iop is None or iop.size != 6:
        return None
    normal = np.cross(iop[:3], iop[3:])
    length = float(np.linalg.norm(normal))
    return normal / length if length > 1e-6 else None


def plane(orientation: Iterable[float] | None) -> str | None:
    """'AX', 'SAG' or 'COR' by the normal's main axis, 'OBL' when tilted over 30°; None without IOP."""
    normal = slice_normal(orientation)
    if normal is None:
        return None
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) < np.cos(np.radians(30)):
        return "OBL"
    return ("SAG", "COR", "AX")[axis]


def same_plane(a: SeriesInfo, b: SeriesInfo) -> bool | None:
    """True when the two image planes are parallel within 25°; None when either has no orientation."""
    na, nb = slice_normal(a.orientation), slice_normal(b.orientation)
    if na is None or nb is None:
        return None
    return abs(float(np.dot(na, nb))) >= np.cos(np.radians(25))


def pair_score(current: SeriesInfo, prior: SeriesInfo) -> float | None:
    """How well ``prior`` matches ``current`` (0..1), or None when they cannot pair (other modality)."""
    if family(current.modality) != family(prior.modality) or not current.modality:
        return None
    parallel = same_plane(current, prior)
    score = 0.35 if parallel else (0.15 if parallel is None else 0.0)
    score += 0.35 * description_similarity(current.description, prior.description)
    if current.slice_thickness and prior.slice_thickness:
        a, b = current.slice_thickness, prior.slice_thickness
        score += 0.2 * max(0.0, 1 - abs(a - b) / max(a, b))
    elif current.slice_thickness is None and prior.slice_thickness is None:
        score += 0.1
    if current.images and prior.images:
        score += 0.1 * min(current.images, prior.images) / max(current.images, prior.images)
    return round(score, 4)


def pair_series(current: list[SeriesInfo], prior: list[SeriesInfo]) -> dict[str, str | None]:
    """current series UID -> the paired prior series UID (None when the prior has none to offer).

    Pairs are taken best score first, each prior series once; a current series left over then
    gets its best prior series even if another current series already has it.
    """
    scored: list[tuple[float, int, int, str, str]] = []
    for i, cur in enumerate(current):
        for j, pri in enumerate(prior):
            s = pair_score(cur, pri)
            if s is not None:
                scored.append((s, -i, -j, cur.series_instance_uid, pri.series_instance_uid))
    scored.sort(reverse=True)
    pairs: dict[str, str | None] = {}
    used: set[str] = set()
    for _, _, _, c, p in scored:
        if c not in pairs and p not in used:
            pairs[c] = p
            used.add(p)
    for _, _, _, c, p in scored:
        pairs.setdefault(c, p)
    return {c.series_instance_uid: pairs.get(c.series_instance_uid) for c in current}
