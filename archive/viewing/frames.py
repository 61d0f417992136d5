"""Frames for the client-side viewer: modality values as a compact binary, a chunk at a time.

The browser holds the series and applies window/level itself, so the server sends each frame's
modality values (e.g. CT in HU) once. A chunk is one response holding several consecutive images
of a series; each image is::

    u32 little-endian header length | header (JSON, UTF-8) | pixel bytes (header["bytes"] long)

The header says how to read the pixels: ``kind`` "i16" (signed 16-bit modality values, the
common case: CT, MR, CR, DX after their linear rescale), "f32" (values that do not fit 16-bit
integers), "rgb" (8-bit RGB, no window applies) or "none" (the image cannot be shown; ``problem``
says why, and the other images of the series stay viewable). It also carries the file's own
window (or an automatic one), MONOCHROME1, pixel spacing, the slice position and the overlay
corner lines (nothing about the patient: that is in the page's banner).

Measured here (512x512 CT, vault decrypt + decode + encode): about 4 ms an image, 512 KB each.
"""

from __future__ import annotations

import json
import struct
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_voi

from archive.dicom import pixels
from archive.vault import VaultError

MAX_CHUNK = 32


@dataclass(frozen=True)
class Image:
    """One image of a series as the viewer numbers them: an instance and one of its frames."""

    content_hash: str
    frame: int
    frames: int
    instance_number: Any = None
    slice_location: Any = None


def images(instances: Iterable[Mapping[str, Any]]) -> list[Image]:
    """Every image of a series in viewing order, multi-frame instances unrolled frame by frame."""
    out: list[Image] = []
    for row in instances:
        try:
            count = max(1, int(row.get("number_of_frames") or 1))
        except (TypeError, ValueError):
            count = 1
        out += [Image(str(row["content_hash"]), f, count, row.get("instance_number"),
                      row.get("slice_location")) for f in range(count)]
    return out


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def corners(ds: Dataset) -> dict[str, list[str]]:
    """The corner text that does not change while scrolling (image number and window are drawn by the client)."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    thickness = _number(ds.get("SliceThickness"))
    return {
        "tl": [f"{_text(ds, 'Modality')} {_text(ds, 'SeriesDescription')}".strip()],
        "tr": [_text(ds, "StudyDate"), _text(ds, "InstitutionName")],
        "bl": [f"{ds.get('Rows')}x{ds.get('Columns')}", f"Thk {thickness:g} mm" if thickness else ""],
        "br": [pixels.photometric(ds), getattr(syntax, "name", "") or ""],
    }


def _position(ds: Dataset) -> float | None:
    """Distance along the slice normal (mm), for linking and the overlay."""
    try:
        o = np.array([float(v) for v in ds.ImageOrientationPatient], dtype=float)
        p = np.array([float(v) for v in ds.ImagePositionPatient], dtype=float)
        return float(np.dot(np.cross(o[:3], o[3:]), p))
    except (AttributeError, TypeError, ValueError):
        return _number(ds.get("SliceLocation"))


def encode(ds: Dataset, frame_values: np.ndarray, image: Image) -> bytes:
    """One decoded frame (``pixels.decode`` output) as header + pixel bytes."""
    colour = frame_values.ndim == 3
    header: dict[str, Any] = {"rows": int(frame_values.shape[0]), "cols": int(frame_values.shape[1]),
                              "frame": image.frame, "frames": image.frames,
                              "instance_number": _number(image.instance_number),
                              "location": _number(image.slice_location), "position": _position(ds),
                              "spacing": None, "mono1": pixels.photometric(ds) == "MONOCHROME1",
                              "corners": corners(ds), "window": None}
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    try:
        header["spacing"] = [float(spacing[0]), float(spacing[1])] if spacing else None
    except (TypeError, ValueError, IndexError):
        pass
    if colour:
        header["kind"] = "rgb"
        data = np.ascontiguousarray(frame_values, dtype=np.uint8).tobytes()
    else:
        window = pixels.file_window(ds) or pixels.auto_window(frame_values)
        header["window"] = [float(window.center), float(window.width)]
        header["voi"] = voi(ds)
        as_int = frame_values.astype(np.int16)
        lo, hi = (float(frame_values.min()), float(frame_values.max())) if frame_values.size else (0.0, 0.0)
        if -32768 <= lo and hi <= 32767 and np.array_equal(as_int, frame_values):
            header["kind"], data = "i16", as_int.astype("<i2", copy=False).tobytes()
        else:
            header["kind"], data = "f32", np.ascontiguousarray(frame_values, dtype="<f4").tobytes()
    header["bytes"] = len(data)
    return _framed(header, data)


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]


def voi(ds: Dataset) -> dict[str, Any] | None:
    """The file's own VOI transform for the browser (PS3.3 C.11.2.1.2), or None when it has none.

    ``function``: VOILUTFunction (LINEAR, LINEAR_EXACT or SIGMOID; anything else is LINEAR);
    ``windows``: every Window Center/Width pair with its explanation (the first is the default,
    the others are offered as choices; a width under 1 is dropped, and a centre list longer than
    the width list is cut to pairs); ``lut``: the first item of a VOI LUT Sequence as
    ``first`` (first value mapped), ``data`` (its entries) and the output range ``lo``..``hi``
    the viewer scales to 8 bits, as ``pixels.file_voi`` does on the server. A LUT wins over the
    windows, as in pydicom's ``apply_voi_lut``.
    """
    centers, widths = _values(ds.get("WindowCenter")), _values(ds.get("WindowWidth"))
    notes = _values(ds.get("WindowCenterWidthExplanation"))
    windows = []
    for k, (c, w) in enumerate(zip(centers, widths, strict=False)):   # extra centres have no width
        cf, wf = _number(c), _number(w)
        if cf is None or wf is None or wf < 1:
            continue
        windows.append([cf, wf, str(notes[k]) if k < len(notes) and notes[k] else f"File window {k + 1}"])
    function = str(ds.get("VOILUTFunction") or "LINEAR").strip().upper()
    out: dict[str, Any] = {"function": function if function in ("LINEAR_EXACT", "SIGMOID") else "LINEAR",
                           "windows": windows, "lut": None}
    if ds.get("VOILUTSequence"):
        try:
            descriptor = [int(v) for v in ds.VOILUTSequence[0].LUTDescriptor]
            entries, first = descriptor[0] or 65536, descriptor[1]
            # The entries as pydicom reads them (US or OW data, 8 or 16 bits): the LUT applied to
            # every value it maps.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = np.asarray(apply_voi(np.arange(first, first + entries, dtype=np.int64), ds, index=0),
                                  dtype=np.float64)
            if data.size:
                out["lut"] = {"first": first, "data": data.tolist(), "lo": float(data.min()),
                              "hi": float(data.max())}
        except Exception:   # a damaged LUT: the windows (or an automatic one) are used, as on the server
            pass
    return out if windows or out["lut"] else None


def unavailable(problem: str, image: Image) -> bytes:
    """An image the viewer names and skips."""
    return _framed({"kind": "none", "problem": problem, "bytes": 0, "frame": image.frame,
                    "frames": image.frames, "instance_number": _number(image.instance_number)}, b"")


def _framed(header: dict[str, Any], data: bytes) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<I", len(raw)) + raw + data


def chunk(series: Sequence[Image], start: int, count: int,
          decoded: Callable[[str], tuple[Dataset, np.ndarray]]) -> bytes:
    """Images ``start`` .. ``start + count - 1`` of ``series`` (clipped), concatenated.

    ``decoded(content_hash)`` gives (dataset, ``pixels.decode`` frames); a missing or undecodable
    instance becomes an "unavailable" image, never an error.
    """
    start = max(0, int(start))
    stop = min(len(series), start + max(1, min(int(count), MAX_CHUNK)))
    parts = []
    for image in series[start:stop]:
        try:
            ds, frames = decoded(image.content_hash)
            parts.append(encode(ds, frames[min(image.frame, len(frames) - 1)], image))
        except VaultError:
            parts.append(unavailable("is missing from the vault or damaged", image))
        except pixels.PixelError as exc:
            parts.append(unavailable(f"cannot be shown: {exc}", image))
    return b"".join(parts)


class DecodedCache:
    """A small LRU of decoded instances (a multi-frame object is decoded once for all its frames)."""

    def __init__(self, load: Callable[[str], bytes], size: int = 16):
        self.load, self.size = load, size
        self._items: OrderedDict[str, tuple[Dataset, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, content_hash: str) -> tuple[Dataset, np.ndarray]:
        with self._lock:
            if content_hash in self._items:
                self._items.move_to_end(content_hash)
                return self._items[content_hash]
        ds = pixels.read(self.load(content_hash))
        value = (ds, pixels.decode(ds))
        with self._lock:
            self._items[content_hash] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
