"""The comparison page's data access and image panes.

Data: cached wrappers of ``archive.comparison.priors`` and the comparison queries, on the dashboard's shared
read-only connection. Panes: one image of a series with its window, zoom and measurements drawn,
decoded through the image viewer's own cache (``dashboard.components.viewer.decoded``) and
rendered with the same functions (``archive.dicom.pixels``) and corner overlay as the viewer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw

from archive.comparison import priors as prior_ranking
from archive.comparison.image_registration import row_profile
from archive.comparison.measurements import Measurement, distance, region_stats
from archive.dicom import pixels
from archive.store.queries import compare
from dashboard import data
from dashboard.components.viewer import decoded, overlay_lines

log = logging.getLogger("limestone.compare")


@st.cache_data(ttl=data.TTL, show_spinner=False)
def relevant_priors(home: str, study_instance_uid: str, _study: dict | None = None) -> list[prior_ranking.Prior]:
    """The ranked priors; ``_study``: the study's row as the page read it (``data.study``)."""
    with data.cursor(home) as cur:
        return prior_ranking.relevant_priors(cur, study_instance_uid, current=_study)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def series_geometry(home: str, study_instance_uid: str) -> pd.DataFrame:
    with data.cursor(home) as cur:
        return compare.series_geometry(cur, study_instance_uid)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def series_instances(home: str, study_instance_uid: str, series_instance_uid: str) -> pd.DataFrame:
    with data.cursor(home) as cur:
        return compare.series_instances(cur, study_instance_uid, series_instance_uid)


@st.cache_data(max_entries=16, show_spinner=False)
def row_profiles(hashes: tuple[str, ...], _load: Callable[[str], bytes]) -> tuple[np.ndarray, list[int]]:
    """Each image's column profile (for registration) and the indexes of images that could not be read."""
    profiles, missing, width = [], [], None
    for k, content_hash in enumerate(hashes):
        result = decoded(content_hash, _load)
        if result.problem or result.frames is None or result.frames.ndim != 3:
            missing.append(k)
            profiles.append(None)
            continue
        profile = row_profile(result.frames[0])
        width = width or profile.size
        profiles.append(profile)
    width = width or 1
    stack = np.stack([p if p is not None and p.size == width else np.full(width, np.nan, np.float32)
                      for p in profiles])
    return stack, missing


@dataclass
class PaneView:
    """How a pane is shown: window (None = file's own), invert and zoom."""

    window: pixels.Window | None
    invert: bool
    zoom: float


@dataclass
class PaneImage:
    png: bytes | None
    values: np.ndarray | None         # the grey frame (modality units) for measurements
    problem: str | None
    photometric: str | None = None


def _draw(image: np.ndarray, marks: list[tuple[Measurement, str]]) -> np.ndarray:
    """Draw measurements (image pixel coordinates) on an unzoomed rendered image."""
    if not marks:
        return image
    pil = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(pil)
    width = max(1, pil.width // 256)
    for m, label in marks:
        colour = (255, 160, 0) if m.copied else (0, 220, 255)
        (r0, c0), (r1, c1) = m.a, m.b
        if m.kind == "distance":
            draw.line([(c0, r0), (c1, r1)], fill=colour, width=width)
            for c, r in ((c0, r0), (c1, r1)):
                draw.ellipse([c - 2 * width, r - 2 * width, c + 2 * width, r + 2 * width], outline=colour)
        else:
            draw.ellipse([min(c0, c1), min(r0, r1), max(c0, c1), max(r0, r1)], outline=colour, width=width)
        draw.text((max(c0, c1) + 4, max(min(r0, r1) - 12, 0)), label, fill=colour)
    return np.asarray(pil)


def measurement_text(m: Measurement, values: np.ndarray | None, spacing, modality: str | None) -> str:
    if m.kind == "distance":
        return distance(m.a, m.b, spacing).text
    if values is None:
        return "region"
    try:
        return region_stats(values, m.a, m.b, spacing, modality).text
    except ValueError as exc:
        return str(exc)


def render_pane(row: pd.Series, index: int, count: int, load: Callable[[str], bytes], view: PaneView,
                marks: list[tuple[Measurement, str]] = (), overlay: bool = True) -> PaneImage:
    """One image of a series as PNG, the viewer's way, with measurements drawn before zooming."""
    result = decoded(row["content_hash"], load)
    if result.problem:
        return PaneImage(None, None, f"Image {index + 1} of {count} {result.problem}.")
    frames = result.frames
    colour = pixels.is_colour(result.ds)
    window = view.window
    if window is None and not colour:
        window = pixels.file_window(result.ds) or pixels.auto_window(frames[0])
    image = pixels.render_frame(result.ds, frames, 0, window, view.invert, 1.0)
    image = _draw(image, list(marks))
    if view.zoom > 1.0:
        image = pixels.zoom_center(image, view.zoom)
    if overlay:
        image = pixels.overlay(image, overlay_lines(result.ds, row, index, count, 0, len(frames),
                                                    None if colour else window))
    values = None if colour else frames[0]
    return PaneImage(pixels.to_png(image), values, None, pixels.photometric(result.ds))
