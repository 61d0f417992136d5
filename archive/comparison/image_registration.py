"""Registration suggestions: how far a prior is shifted against the current exam.

Cross-sectional series (CT/MR): each series is reduced to a projection, the mean over image rows
per slice (a "coronal" profile for axial slices), resampled to the same millimetre grid, and the
two projections are registered with scikit-image's phase correlation. The shift along the slices
is the suggested position offset (prior minus current, mm) for synchronised scrolling; the shift
across is the in-plane offset along the image rows.

Projection radiographs (CR/DX/MG): the prior is resampled to the current pixel size and the two
images are registered directly; the shift feeds the difference view (``archive.comparison.difference``).

Everything takes numpy arrays: reading the images from the vault is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

GRID_MM = 1.0  # resampling step of the projections


@dataclass(frozen=True)
class OffsetSuggestion:
    """Suggested link of a prior to the current series."""

    offset_mm: float          # prior position minus current position, along the slice normal
    in_plane_mm: float        # shift along the image rows (x), prior minus current
    error: float              # 1 - correlation of the overlapping projections (0 perfect .. 2)

    @property
    def reliable(self) -> bool:
        return self.error < 0.5


@dataclass(frozen=True)
class Shift2D:
    """In-plane shift of a prior image against the current one, in current pixels (row, col)."""

    rows: float
    cols: float
    error: float


def standardise(values: np.ndarray) -> np.ndarray:
    """Robustly standardise (median 0, unit inter-percentile range): scanners and sites differ in grey levels."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values, dtype=np.float32)
    lo, mid, hi = np.percentile(finite, [2, 50, 98])
    out = (values - mid) / max(hi - lo, 1e-6)
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


def row_profile(image: np.ndarray) -> np.ndarray:
    """One slice reduced to its mean over rows (a column profile): all registration keeps of it."""
    return image.astype(np.float32).mean(axis=0)


def projection(volume: np.ndarray, positions: np.ndarray, pixel_spacing: float,
               step_mm: float = GRID_MM) -> tuple[np.ndarray, tuple[float, float]]:
    """The mean-over-rows projection of ``volume`` on a regular mm grid.

    ``volume`` is (slices, rows, cols), or already (slices, cols) profiles (``row_profile``), so
    a caller can reduce slices one at a time instead of holding a whole series in memory.
    Returns the image (positions ascending along axis 0, columns along axis 1) and the position
    (mm along the normal, mm from the image centre) of its first pixel. Slices are interpolated
    linearly between positions.
    """
    if volume.ndim not in (2, 3) or len(volume) != len(positions):
        raise ValueError("volume must be (slices, rows, cols) or (slices, cols), one position per slice")
    profile = volume.astype(np.float32).mean(axis=1) if volume.ndim == 3 else volume.astype(np.float32)
    order = np.argsort(positions)
    pos, profile = np.asarray(positions, dtype=float)[order], profile[order]
    z = np.arange(pos[0], pos[-1] + step_mm / 2, step_mm) if len(pos) > 1 else pos[:1]
    # Columns in mm from the image centre: images of one body part are centred on it.
    x_src = (np.arange(profile.shape[1]) - (profile.shape[1] - 1) / 2) * pixel_spacing
    x = np.arange(x_src[0], x_src[-1] + step_mm / 2, step_mm)
    along_x = np.stack([np.interp(x, x_src, row) for row in profile])   # (slices, x)
    if len(pos) > 1:
        image = np.stack([np.interp(z, pos, along_x[:, k]) for k in range(along_x.shape[1])], axis=1)
    else:
        image = along_x
    return image, (float(z[0]), float(x[0]))


def _pad_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.float32)
    out[:image.shape[0], :image.shape[1]] = image
    return out


def suggest_offset(current: np.ndarray, current_positions: np.ndarray, current_spacing: float,
                   prior: np.ndarray, prior_positions: np.ndarray, prior_spacing: float,
                   step_mm: float = GRID_MM) -> OffsetSuggestion:
    """Suggest the offset (prior minus current, mm) that puts the same anatomy on linked slices.

    ``current`` and ``prior`` are (slices, rows, cols) arrays (or their ``row_profile`` stacks) in
    real units (e.g. HU) with each
    slice's position along the current series' normal; the spacings are the column pixel spacing.
    """
    ref, (ref_z0, ref_x0) = projection(current, current_positions, current_spacing, step_mm)
    mov, (mov_z0, mov_x0) = projection(prior, prior_positions, prior_spacing, step_mm)
    ref, mov = standardise(ref), standardise(mov)
    # Padded with masks (masked normalised cross-correlation): the zero padding around each
    # projection must not count as anatomy, or the borders of the data would be registered.
    shape = (2 * max(ref.shape[0], mov.shape[0]), 2 * max(ref.shape[1], mov.shape[1]))
    ref_mask = _pad_to(np.ones_like(ref), shape) > 0
    mov_mask = _pad_to(np.ones_like(mov), shape) > 0
    result = phase_cross_correlation(_pad_to(ref, shape), _pad_to(mov, shape), reference_mask=ref_mask,
                                     moving_mask=mov_mask, overlap_ratio=0.3)
    shift = result[0] if isinstance(result, tuple) else result
    dz, dx = float(shift[0]), float(shift[1])
    # mov shifted by (dz, dx) matches ref: the prior pixel of current pixel k is k - dz.
    offset = mov_z0 - ref_z0 - dz * step_mm
    in_plane = mov_x0 - ref_x0 - dx * step_mm
    return OffsetSuggestion(round(offset, 2), round(in_plane, 2),
                            round(1.0 - _overlap_correlation(ref, mov, int(round(dz)), int(round(dx))), 4))


def _overlap_correlation(ref: np.ndarray, mov: np.ndarray, dz: int, dx: int) -> float:
    """Pearson correlation of the two projections where they overlap after the shift (0 if none)."""
    z0, z1 = max(0, dz), min(ref.shape[0], mov.shape[0] + dz)
    x0, x1 = max(0, dx), min(ref.shape[1], mov.shape[1] + dx)
    if z1 - z0 < 2 or x1 - x0 < 2:
        return 0.0
    a = ref[z0:z1, x0:x1].ravel()
    b = mov[z0 - dz:z1 - dz, x0 - dx:x1 - dx].ravel()
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def resample_to(image: np.ndarray, spacing: float, target_spacing: float) -> np.ndarray:
    """``image`` rescaled from ``spacing`` to ``target_spacing`` mm per pixel (bilinear)."""
    if abs(spacing - target_spacing) < 1e-6:
        return image.astype(np.float32)
    return ndimage.zoom(image.astype(np.float32), spacing / target_spacing, order=1)


def fit_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Crop or pad ``image`` (centred) to ``shape``, padding with its median."""
    out = np.full(shape, float(np.median(image)), dtype=np.float32)
    h, w = min(shape[0], image.shape[0]), min(shape[1], image.shape[1])
    sy, sx = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    ty, tx = (shape[0] - h) // 2, (shape[1] - w) // 2
    out[ty:ty + h, tx:tx + w] = image[sy:sy + h, sx:sx + w]
    return out


def register_2d(current: np.ndarray, prior: np.ndarray, current_spacing: float | None = None,
                prior_spacing: float | None = None) -> tuple[np.ndarray, Shift2D]:
    """The prior resampled to the current's pixel size and shape, and its shift against the current.

    Without pixel spacing on either image, pixels are taken as equal in size.
    """
    moving = prior.astype(np.float32)
    if current_spacing and prior_spacing:
        moving = resample_to(moving, prior_spacing, current_spacing)
    moving = fit_to(moving, current.shape)
    shift, error, _ = phase_cross_correlation(standardise(current.astype(np.float32)), standardise(moving),
                                              upsample_factor=4, normalization=None)
    return moving, Shift2D(float(shift[0]), float(shift[1]), float(error))
