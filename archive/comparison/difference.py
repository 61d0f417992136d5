"""The difference view of 2D exams (CR/DX/MG): current minus the registered prior.

Grey levels of two radiographs are not comparable as stored (other detector, exposure, site), so
each image is first standardised (median 0, unit 2-98 percentile range); the prior is resampled to
the current pixel size and shifted by the registration (``archive.comparison.image_registration.register_2d``).
Mid-grey means no change; bright is denser now, dark less dense.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from archive.comparison.image_registration import Shift2D, register_2d, standardise


def display_sense(values: np.ndarray, photometric: str | None) -> np.ndarray:
    """Values where higher is brighter on screen (MONOCHROME1 stores the opposite)."""
    values = values.astype(np.float32)
    if (photometric or "").upper().strip() == "MONOCHROME1":
        return float(values.max()) - values
    return values


def difference(current: np.ndarray, prior: np.ndarray, current_spacing: float | None = None,
               prior_spacing: float | None = None) -> tuple[np.ndarray, Shift2D]:
    """Standardised current minus the registered prior (float image of the current's shape)."""
    if current.ndim != 2 or prior.ndim != 2:
        raise ValueError("the difference view needs two grey 2D images")
    moving, shift = register_2d(current, prior, current_spacing, prior_spacing)
    aligned = ndimage.shift(standardise(moving), (shift.rows, shift.cols), order=1, mode="nearest")
    return standardise(current.astype(np.float32)) - aligned, shift


def render(diff: np.ndarray, spread: float = 0.5) -> np.ndarray:
    """The difference as 8-bit grey: 128 is no change, +-``spread`` reaches white/black."""
    return np.clip(128 + diff * (127 / spread), 0, 255).astype(np.uint8)
