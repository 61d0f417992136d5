"""The image viewer: scroll a series, window/level with presets, invert, zoom, multi-frame.

Reused by the study viewer, the comparison page and the share portal, so it takes the series'
instances (rows of ``archive.store.queries.browse.series_instances``) and a function that returns
an instance's original bytes (normally ``Vault.get``); it knows nothing about pages or roles.
Scrolling: drag the slice slider, or click it and use the arrow keys (Page Up/Down step further).
An image that is missing from the vault or cannot be decoded is named and skipped; the rest of
the series stays viewable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import streamlit as st
from pydicom.dataset import Dataset

from archive.dicom import pixels
from archive.vault import VaultError

log = logging.getLogger("limestone.viewer")

FILE_VOI = "File's own window"
CUSTOM = "Custom"
PRESET_CHOICES = [FILE_VOI, *pixels.PRESETS, CUSTOM]
ZOOMS = [1.0, 1.5, 2.0, 3.0, 4.0]


@dataclass
class Decoded:
    ds: Dataset | None
    frames: np.ndarray | None
    problem: str | None = None


@st.cache_resource(max_entries=256, show_spinner=False)
def _decoded(content_hash: str, _load: Callable[[str], bytes]) -> Decoded:
    # Keyed on the content hash alone: the same hash is the same bytes in any home.
    try:
        ds = pixels.read(_load(content_hash))
        return Decoded(ds, pixels.decode(ds))
    except VaultError as exc:
        log.warning("vault: %s", exc)
        return Decoded(None, None, "is missing from the vault or damaged")
    except pixels.PixelError as exc:
        return Decoded(None, None, f"cannot be shown: {exc}")


def decoded(content_hash: str, load: Callable[[str], bytes]) -> Decoded:
    result = _decoded(content_hash, load)
    if result.problem and "vault" in result.problem:
        _decoded.clear()  # a missing file may be restored: do not remember its absence
    return result


def overlay_lines(ds: Dataset, row: Mapping, index: int, count: int, frame: int, frames: int,
                  window: pixels.Window | None) -> dict[str, list[str]]:
    """The key attributes drawn in the image corners (no patient name: that is in the banner)."""
    def get(keyword):
        value = ds.get(keyword)
        return "" if value is None else str(value)
    spacing = ds.get("PixelSpacing")
    thickness = get("SliceThickness")
    return {
        "tl": [f"{get('Modality')} {get('SeriesDescription')}".strip(),
               f"Im {index + 1}/{count}" + (f"  Fr {frame + 1}/{frames}" if frames > 1 else ""),
               f"Loc {float(row['slice_location']):.1f} mm" if pd.notna(row.get("slice_location")) else ""],
        "tr": [get("StudyDate"), get("InstitutionName")],
        "bl": [f"W {window.width:g} L {window.center:g}" if window else "",
               f"{ds.get('Rows')}x{ds.get('Columns')}" + (f"  {float(spacing[0]):.2f} mm/px" if spacing else ""),
               f"Thk {float(thickness):g} mm" if thickness else ""],
        "br": [get("PhotometricInterpretation"), getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
               and ds.file_meta.TransferSyntaxUID.name or ""],
    }


def image_viewer(instances: pd.DataFrame, load: Callable[[str], bytes], key: str,
                 on_first_image: Callable[[], None] | None = None) -> int | None:
    """Show one series; return the index of the instance on screen (None if nothing to show)."""
    if instances.empty:
        st.info("This series has no images.")
        return None
    count = len(instances)
    controls, picture = st.columns([1, 3])
    with controls:
        index = 0
        if count > 1:
            index = st.slider("Image", 1, count, 1, key=f"{key}.slice",
                              help="Click the slider, then use the arrow keys to scroll.") - 1
        preset = st.selectbox("Window", PRESET_CHOICES, key=f"{key}.preset")
        window: pixels.Window | None = None
        if preset == CUSTOM:
            c1, c2 = st.columns(2)
            center = c1.number_input("Level", value=40.0, step=10.0, key=f"{key}.center")
            width = c2.number_input("Width", value=400.0, min_value=1.0, step=10.0, key=f"{key}.width")
            window = pixels.Window(center, width)
        elif preset != FILE_VOI:
            window = pixels.PRESETS[preset]
        invert = st.toggle("Invert", key=f"{key}.invert")
        zoom = st.select_slider("Zoom", ZOOMS, value=1.0, format_func=lambda z: f"{z:g}x",
                                key=f"{key}.zoom")
        show_overlay = st.toggle("Show attributes", value=True, key=f"{key}.overlay")

    row = instances.iloc[index]
    result = decoded(row["content_hash"], load)
    with picture:
        if result.problem:
            st.warning(f"Image {index + 1} of {count} (instance number "
                       f"{_int(row.get('instance_number'))}) {result.problem}. The other images "
                       "of the series can still be viewed.", icon=":material/broken_image:")
            return index
        frames = len(result.frames)
        frame = 0
        if frames > 1:
            frame = st.slider("Frame", 1, frames, 1, key=f"{key}.frame") - 1
        if pixels.is_colour(result.ds) and preset != FILE_VOI:
            st.caption("A window does not apply to colour images.")
        shown_window = window
        if shown_window is None and not pixels.is_colour(result.ds):
            shown_window = pixels.file_window(result.ds) or pixels.auto_window(result.frames[frame])
        image = pixels.render_frame(result.ds, result.frames, frame, shown_window, invert, zoom)
        if show_overlay:
            image = pixels.overlay(image, overlay_lines(result.ds, row, index, count, frame, frames,
                                                        None if pixels.is_colour(result.ds) else shown_window))
        st.image(pixels.to_png(image), width=min(720, max(512, image.shape[1])), output_format="PNG",
                 caption=f"Image {index + 1} of {count}")
        if on_first_image is not None:
            on_first_image()
    return index


def _int(value) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "?"


@st.cache_data(max_entries=2048, show_spinner=False)
def thumbnail(content_hash: str, _load: Callable[[str], bytes]) -> bytes | None:
    """A small PNG of an instance, or None when it cannot be shown."""
    try:
        return pixels.thumbnail(_load(content_hash))
    except (VaultError, pixels.PixelError) as exc:
        log.info("no thumbnail for %s…: %s", content_hash[:12], exc)
        return None
