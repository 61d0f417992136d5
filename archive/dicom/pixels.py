"""Turning a DICOM file's pixel data into an image a person can look at.

Decoding uses pydicom with the pylibjpeg plugins (JPEG baseline/lossless/LS, JPEG 2000, RLE,
deflate, big endian). Grey images go through the modality LUT (rescale slope/intercept) to
stored values in real units (Hounsfield units for CT), then through a window (centre/width, the
DICOM linear VOI function) to 8 bits; the file's own VOI honours its VOILUTFunction (LINEAR_EXACT,
SIGMOID) and VOI LUT Sequence, as mammography and DX files rely on. MONOCHROME1 is shown inverted
so that air is black, as radiologists expect. Colour images (RGB, YBR_*, PALETTE COLOR) come out as 8-bit RGB; a window
does not apply to them.

Nothing here knows about Streamlit: the viewer component, the share portal and the benchmarks
all call these functions.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from archive.errors import LimestoneError


class PixelError(LimestoneError, ValueError):
    """The file has no image, or its pixel data cannot be decoded."""


class NotDisplayable(PixelError):
    """The pixel data is kept exactly as received but cannot be decoded here: a retired, private or
    unknown transfer syntax, or a codec that refuses it. The UI says "cannot be displayed"."""


@dataclass(frozen=True)
class Window:
    center: float
    width: float

    def __post_init__(self) -> None:
        if not self.width or self.width < 1:
            raise ValueError(f"window width must be at least 1, got {self.width}")


# Common CT presets (centre, width) in Hounsfield units.
PRESETS: dict[str, Window] = {
    "CT brain": Window(40, 80),
    "CT lung": Window(-600, 1500),
    "CT bone": Window(400, 1800),
    "CT abdomen": Window(40, 400),
}

COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "PALETTE COLOR"}


def read(data: bytes) -> Dataset:
    """Parse a whole DICOM file from memory (pixel data is decoded later, on demand)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # pydicom raises many types on damaged files
        raise PixelError(f"the file cannot be read as DICOM ({type(exc).__name__})") from None


def photometric(ds: Dataset) -> str:
    return str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()


def is_colour(ds: Dataset) -> bool:
    return photometric(ds) in COLOUR or int(ds.get("SamplesPerPixel", 1) or 1) == 3


def frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _require_image(ds: Dataset) -> None:
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelError("this object has no image (e.g. a report or a presentation state)")


def _pixel_array(ds: Dataset, index: int | None) -> np.ndarray:
    """The stored pixel values: all frames, or frame ``index`` only (pydicom converts YBR to RGB)."""
    arr = _native_grey_frame(ds)
    if arr is not None:
        return arr
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if index is not None:
                ds.pixel_array_options(index=index)
            return ds.pixel_array
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", None) or str(syntax or "unknown transfer syntax")
        raise NotDisplayable(f"this image cannot be displayed: the pixel data cannot be decoded "
                             f"({name}: {type(exc).__name__}); the original is kept unchanged") from None
    finally:
        if index is not None:
            ds.pixel_array_options(index=None)


def decode(ds: Dataset) -> np.ndarray:
    """All frames as an array shaped (frames, rows, cols) for grey or (frames, rows, cols, 3) for colour.

    Grey values are modality-LUT output (float32, e.g. HU); colour values are uint8 RGB.
    """
    _require_image(ds)
    frames = frame_count(ds)
    arr = _pixel_array(ds, None)
    pi = photometric(ds)
    try:
        if pi == "PALETTE COLOR":
            arr = apply_color_lut(arr, ds)
            arr = _to_uint8_colour(arr)
        elif is_colour(ds):
            arr = _to_uint8_colour(arr)
        else:
            arr = apply_modality_lut(arr, ds).astype(np.float32, copy=False)
    except Exception as exc:  # a damaged LUT or rescale: the image cannot be built
        raise NotDisplayable(f"this image cannot be displayed ({type(exc).__name__})") from None
    colour = arr.ndim == (4 if frames > 1 else 3) and arr.shape[-1] == 3
    if frames == 1:
        arr = arr[np.newaxis, ...]
    if not colour and arr.ndim != 3:
        raise PixelError(f"unexpected pixel array shape {arr.shape}")
    return arr


def decode_frame(ds: Dataset, index: int | None = None) -> tuple[int, np.ndarray]:
    """One frame (default: the middle one) as (index, image), decoding only that frame.

    The image is like one frame of ``decode``: float32 modality-LUT values for grey images (a
    linear rescale is applied in float32, which is cheaper than ``apply_modality_lut``), uint8 RGB
    for colour. Used where one frame is enough (quality metrics); it costs a fraction of
    ``decode`` on large multi-frame objects.
    """
    _require_image(ds)
    frames = frame_count(ds)
    index = frames // 2 if index is None else index
    if not 0 <= index < frames:
        raise PixelError(f"frame {index + 1} does not exist (the object has {frames})")
    arr = _pixel_array(ds, index if frames > 1 else None)
    pi = photometric(ds)
    if pi == "PALETTE COLOR":
        return index, _to_uint8_colour(apply_color_lut(arr, ds))
    if is_colour(ds):
        return index, _to_uint8_colour(arr)
    if "ModalityLUTSequence" in ds:
        return index, apply_modality_lut(arr, ds).astype(np.float32, copy=False)
    image = arr.astype(np.float32)
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    if slope != 1:
        image *= slope
    if intercept:
        image += intercept
    return index, image


_NATIVE_SYNTAXES = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
_NATIVE_TYPES = {(8, 0): "u1", (8, 1): "i1", (16, 0): "<u2", (16, 1): "<i2", (32, 0): "<u4", (32, 1): "<i4"}


def _native_grey_frame(ds: Dataset) -> np.ndarray | None:
    """A single-frame, uncompressed little-endian greyscale image read straight from its bytes.

    The commonest case in an archive (CT, MR and CR written natively) costs a tenth of going
    through pydicom's decoder framework, and gives the same array: the unused high bits are
    cleared, or sign-extended for signed pixels, as ``Dataset.pixel_array`` does by default.
    None when the file needs the full decoder (compressed, big endian, colour, multi-frame,
    float pixels, odd sizes or a short buffer).
    """
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        if syntax not in _NATIVE_SYNTAXES or photometric(ds) not in ("MONOCHROME1", "MONOCHROME2"):
            return None
        if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or frame_count(ds) != 1:
            return None
        rows, columns = int(ds.Rows), int(ds.Columns)
        allocated, stored = int(ds.BitsAllocated), int(ds.get("BitsStored") or ds.BitsAllocated)
        dtype = _NATIVE_TYPES.get((allocated, int(ds.get("PixelRepresentation", 0) or 0)))
        data = ds.get("PixelData")
    except (AttributeError, TypeError, ValueError):
        return None
    count = rows * columns
    if dtype is None or not isinstance(data, bytes) or rows < 1 or columns < 1 \
            or len(data) < count * allocated // 8 or not 1 <= stored <= allocated:
        return None
    arr = np.frombuffer(data, dtype=dtype, count=count).reshape(rows, columns)
    if stored < allocated:
        unused = allocated - stored
        arr = (arr << unused) >> unused if arr.dtype.kind == "i" else arr & ((1 << stored) - 1)
    return arr


def _to_uint8_colour(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    top = float(arr.max()) if arr.size else 0.0
    if top <= 255:
        return arr.astype(np.uint8)
    return (arr.astype(np.float32) * (255.0 / top)).astype(np.uint8)


def file_window(ds: Dataset, frame_values: np.ndarray | None = None) -> Window | None:
    """The file's own VOI window (first of WindowCenter/Width), or None when it has none."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    try:
        if center is not None and width is not None:
            c = float(center[0] if isinstance(center, (list, pydicom.multival.MultiValue)) else center)
            w = float(width[0] if isinstance(width, (list, pydicom.multival.MultiValue)) else width)
            if w >= 1:
                return Window(c, w)
    except (TypeError, ValueError, IndexError):
        pass
    return None


def auto_window(values: np.ndarray) -> Window:
    """A window covering the 0.5-99.5 percentile range: a sensible default for files without VOI."""
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return Window(0, 1)
    step = max(1, finite.size // 65536)  # a sample is enough and keeps this fast
    lo, hi = np.percentile(finite.ravel()[::step], [0.5, 99.5])
    if hi - lo < 1:
        lo, hi = float(finite.min()), float(finite.max())
    return Window((lo + hi) / 2, max(1.0, hi - lo))


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 linear VOI function to 8 bits."""
    c, w = float(window.center), float(window.width)
    if w <= 1:
        return np.where(values <= c - 0.5, 0, 255).astype(np.uint8)
    scale = 255.0 / (w - 1)
    out = (values.astype(np.float32, copy=False) - (c - 0.5 - (w - 1) / 2)) * scale
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _voi_function(ds: Dataset) -> str:
    return str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()


def file_voi(ds: Dataset, values: np.ndarray) -> np.ndarray | None:
    """The file's own VOI transform to 8 bits, as the modality meant it, or None when it has none.

    A VOI LUT Sequence (MG, DX) or a window whose VOILUTFunction is LINEAR_EXACT or SIGMOID goes
    through pydicom's ``apply_voi_lut``; the output is scaled from the transform's own output range
    (what it gives far below and far above the window, or the LUT's first and last entries), so an
    image that uses part of the range is not stretched. A plain LINEAR window is ``apply_window``.
    """
    window = file_window(ds)
    has_lut = bool(ds.get("VOILUTSequence"))
    if not has_lut and (window is None or _voi_function(ds) not in ("LINEAR_EXACT", "SIGMOID")):
        return apply_window(values, window) if window is not None else None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if has_lut:
                lut = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.float64).ravel()
                if lut.size == 0:
                    raise ValueError("empty VOI LUT")
                lo, hi = float(lut.min()), float(lut.max())
                out = apply_voi_lut(np.rint(values).astype(np.int64), ds, index=0)
            else:
                probe = apply_voi_lut(np.array([-1e12, 1e12]), ds, index=0, prefer_lut=False)
                lo, hi = float(np.min(probe)), float(np.max(probe))
                out = apply_voi_lut(values.astype(np.float64), ds, index=0, prefer_lut=False)
    except Exception:  # a damaged LUT or window: fall back to what can be shown
        return apply_window(values, window) if window is not None else None
    scaled = (np.asarray(out, dtype=np.float64) - lo) * (255.0 / max(hi - lo, 1e-9))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def render_frame(ds: Dataset, frames: np.ndarray, index: int = 0, window: Window | None = None,
                 invert: bool = False, zoom: float = 1.0) -> np.ndarray:
    """One frame as a displayable uint8 image (grey HxW or colour HxWx3).

    ``window=None`` means the file's own VOI (window values with their VOILUTFunction, or the VOI
    LUT Sequence: ``file_voi``), else an automatic window.
    MONOCHROME1 is inverted for display; ``invert`` flips the result again.
    """
    if not 0 <= index < len(frames):
        raise PixelError(f"frame {index + 1} does not exist (the object has {len(frames)})")
    frame = frames[index]
    if frame.ndim == 3:  # colour
        image = frame
    else:
        image = file_voi(ds, frame) if window is None else None
        if image is None:
            image = apply_window(frame, window if window is not None else auto_window(frame))
        if photometric(ds) == "MONOCHROME1":
            image = 255 - image
    if invert:
        image = 255 - image
    if zoom and zoom > 1.0:
        image = zoom_center(image, zoom)
    return image


def zoom_center(image: np.ndarray, zoom: float) -> np.ndarray:
    """Magnify the centre of an image by ``zoom`` (crop, then scale back to the same size)."""
    h, w = image.shape[:2]
    ch, cw = max(1, int(round(h / zoom))), max(1, int(round(w / zoom)))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = image[top:top + ch, left:left + cw]
    return np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR))


def overlay(image: np.ndarray, corners: dict[str, list[str]]) -> np.ndarray:
    """Write text lines in the image corners ('tl', 'tr', 'bl', 'br'), as on a reading workstation.

    Small images are scaled up first so the text stays legible.
    """
    pil = Image.fromarray(image).convert("RGB")
    if pil.width < 384:
        factor = 384 / pil.width
        pil = pil.resize((384, max(1, int(round(pil.height * factor)))), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(pil)
    size = max(11, pil.width // 40)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    pad, line = 4, size + 3
    for corner, lines in corners.items():
        lines = [t for t in lines if t]
        for i, text in enumerate(lines):
            width = draw.textlength(text, font=font)
            x = pad if corner.endswith("l") else pil.width - pad - width
            y = pad + i * line if corner.startswith("t") else pil.height - pad - (len(lines) - i) * line
            draw.text((x + 1, y + 1), text, fill=(0, 0, 0), font=font)
            draw.text((x, y), text, fill=(255, 255, 0), font=font)
    return np.asarray(pil)


def to_png(image: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes of a uint8 image (fast compression: the viewer sends one per slice change)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def thumbnail(data: bytes, size: int = 128) -> bytes:
    """A small PNG of an object's middle frame with its own window, for series lists."""
    ds = read(data)
    frames = decode(ds)
    image = render_frame(ds, frames, len(frames) // 2)
    pil = Image.fromarray(image)
    pil.thumbnail((size, size), Image.Resampling.BILINEAR)
    return to_png(np.asarray(pil), compress_level=6)


def render(data: bytes, index: int = 0, window: Window | None = None, invert: bool = False,
           zoom: float = 1.0) -> np.ndarray:
    """Convenience: one frame of a file's bytes as a displayable image."""
    ds = read(data)
    return render_frame(ds, decode(ds), index, window, invert, zoom)
