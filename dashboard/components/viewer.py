"""The image viewer: the client-side viewer (``archive.viewing``) as a Streamlit v2 component.

Used by the study viewer and both panes of the comparison page (the share portal serves the same
script). The browser holds the series and draws on a canvas: scroll (wheel, keys, drag, swipe),
window/level by presets and right-drag, invert, zoom and pan, cine, multi-frame, measurements,
the overlay corners and the position in an ``aria-live`` element. An image that is missing from
the vault or cannot be decoded is named and skipped; the rest of the series stays viewable.
The decoded-instance cache and thumbnails below serve the comparison page's registration and
the study page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import streamlit as st
from pydicom.dataset import Dataset
from streamlit.runtime.scriptrunner import get_script_run_ctx

from archive.dicom import pixels
from archive.vault import VaultError
from archive.viewing import client, frames
from dashboard import data, image_server

log = logging.getLogger("limestone.viewer")

FILE_VOI = "File's own window"
PRESET_CHOICES = [FILE_VOI, *pixels.PRESETS, "Custom"]
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


@dataclass(frozen=True)
class Pane:
    """One pane of the client-side viewer: a series of the study behind ``study_key``."""

    study_key: str
    series: int                  # the series' number on its page (1-based), never a UID
    instances: pd.DataFrame      # rows of the series' instances, in viewing order
    label: str = ""
    index: int = 0               # the image shown first (0-based)


_COMPONENT = st.components.v2.component("limestone_viewer", css=client.css(), js=client.component_js())
HELP = ("Scroll: wheel, arrow keys, Page Up/Down, Home/End, drag or swipe. Window: presets or right-drag. "
        "Zoom: + / − or Ctrl+wheel. Measure: choose Distance or Ellipse and drag.")


@st.cache_resource(show_spinner=False)
def _decoder(home: str) -> frames.DecodedCache:
    return frames.DecodedCache(data.archive(home).vault.get, size=48)


def _session_id() -> str:
    run = get_script_run_ctx()
    return run.session_id if run is not None else "no-session"


def image_viewer(home: str, user_id: str, panes: list[Pane], key: str,
                 link: dict[str, list[int]] | None = None, follow: bool = False) -> Any:
    """Mount the viewer over ``panes``; return its state (``position``, ``measurements``) or None.

    The browser loads the images itself from ``dashboard.image_server`` with a grant bound to this
    session, ``user_id`` and the study; Streamlit reruns only when the position settles or a
    measurement is drawn. ``link`` maps an image of one pane to the other's (``"0>1"``, ``"1>0"``).
    """
    shown = [p for p in panes if not p.instances.empty]
    if not shown:
        st.info("This series has no images.")
        return None
    where = image_server.endpoint()
    specs = []
    for p in shown:
        series = frames.images(p.instances.to_dict("records"))
        grant = image_server.GRANTS.issue(_session_id(), user_id, p.study_key, {p.series: series}, _decoder(home))
        specs.append(dict(where, body={"grant": grant, "series": p.series}, count=len(series),
                          label=p.label, index=min(max(p.index, 0), len(series) - 1)))
    presets = {name: [w.center, w.width] for name, w in pixels.PRESETS.items()}
    return _COMPONENT(key=key, data={"panes": specs, "link": link, "presets": presets, "follow": follow,
                                     "help": HELP},
                      on_position_change=lambda: None, on_measurements_change=lambda: None)


def preload() -> None:
    """The viewer's component with no panes (it draws nothing), so its scripts are loaded early."""
    _COMPONENT(key="viewer.preload", data={"panes": None})


def _int(value) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "?"


_THUMB_JS = """
export default function (component) {
  const { data, parentElement } = component;
  if (!data || parentElement.__thumb === JSON.stringify(data)) return;
  parentElement.__thumb = JSON.stringify(data);
  let img = parentElement.querySelector("img");
  if (!img) { img = document.createElement("img"); img.width = data.width || 128;
              img.height = data.height || 128; img.alt = data.alt;
              parentElement.appendChild(img); }
  const url = data.url || `${location.protocol}//${location.hostname}:${data.port}${data.path}`;
  fetch(url, {method: "POST", headers: {"content-type": "text/plain"}, body: JSON.stringify(data.body)})
    .then((r) => (r.status === 200 ? r.blob() : null))
    .then((blob) => { if (blob) img.src = URL.createObjectURL(blob); else img.alt = data.missing; });
}
"""
_THUMB = st.components.v2.component("limestone_thumbnail", css="img{background:#000;border-radius:4px}",
                                    js=_THUMB_JS)


def secure_thumbnail(home: str, user_id: str, study_key: str, number: int, content_hash: str, key: str) -> None:
    """A series' preview fetched by the browser from the image endpoint with this session's grant.

    Never ``st.image``: Streamlit serves those at unauthenticated ``/media/`` addresses.
    """
    grant = image_server.GRANTS.issue(_session_id(), user_id, study_key, {}, _decoder(home),
                                      thumbs={number: content_hash}, load=data.archive(home).vault.get)
    where = image_server.endpoint()
    path = {"path": "/v1/thumb"} if "port" in where else {"url": where["url"].rsplit("/", 1)[0] + "/thumb"}
    _THUMB(key=key, data=dict(where, **path, body={"grant": grant, "thumb": number},
                              alt=f"Preview of series {number}", missing="No preview"), height=132)


def secure_png(user_id: str, study_key: str, name: str, png: bytes, width: int, height: int, alt: str,
               key: str) -> None:
    """An image the page rendered (``png``), fetched by the browser with this session's grant for
    ``study_key`` like a thumbnail: never ``st.image`` and its unauthenticated ``/media/`` address."""
    grant = image_server.GRANTS.issue(_session_id(), user_id, study_key, {}, lambda *_: None,
                                      pngs={name: png})
    where = image_server.endpoint()
    path = {"path": "/v1/thumb"} if "port" in where else {"url": where["url"].rsplit("/", 1)[0] + "/thumb"}
    _THUMB(key=key, data=dict(where, **path, body={"grant": grant, "png": name}, width=width, height=height,
                              alt=alt, missing="The image could not be loaded"), height=height + 4)


@st.cache_data(max_entries=2048, show_spinner=False)
def thumbnail(content_hash: str, _load: Callable[[str], bytes]) -> bytes | None:
    """A small PNG of an instance, or None when it cannot be shown."""
    try:
        return pixels.thumbnail(_load(content_hash))
    except (VaultError, pixels.PixelError) as exc:
        log.info("no thumbnail for %s…: %s", content_hash[:12], exc)
        return None
