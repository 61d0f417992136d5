"""Burned-in text found in the pixels: OCR with Tesseract (Debian ``tesseract-ocr``, ``pytesseract``).

``find_text(image)`` reads a frame rendered to 8 bits (``to_uint8``: the file's window, else the
0.5-99.5 % range; MONOCHROME1 inverted as shown) with Tesseract, as shown and inverted, at a scale
where small corner text is readable (the top and bottom bands once more, enlarged), keeping only
words that look like words (confidence at least ``MIN_CONFIDENCE`` and at least ``MIN_CHARS``
letters or digits, or six of them at a lower confidence; at least ``MIN_HEIGHT`` pixels high). Anatomy and noise rarely
pass both tests; names, dates and IDs in the corners do. The regions found are returned in pixel
coordinates of the original frame so a person can check them (``flagged.csv`` names them).

``assess(ds, rule)`` is what the export asks per object, by the setting ``deid_burned_in``:

- ``pixels`` (default): hold back an object only when text is found in its pixels, or the file
  says ``BurnedInAnnotation YES``;
- ``modality``: the older rule, hold back every US and secondary capture object (and YES);
- ``both``: either.

The decision never depends on text found in the header, and the recognised text itself is never
written anywhere (it may be a patient's name): only where it is.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from archive.dicom.pixels import PixelError, apply_window, auto_window, decode_frame, file_window, photometric
from archive.errors import LimestoneError

RULES = ("pixels", "modality", "both")
MIN_CONFIDENCE = 60
MIN_CHARS = 3
MIN_HEIGHT = 6          # pixels of the original frame
MIN_SIDE = 512          # smaller frames are enlarged to this (small text needs ~20 px to be read)
MAX_SIDE = 1536         # larger ones are reduced to this (OCR time grows with the area)
BAND = 0.15             # the top and bottom bands read again enlarged when nothing was found
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"


class OcrUnavailable(LimestoneError, RuntimeError):
    """Tesseract is not installed (Debian: tesseract-ocr, tesseract-ocr-eng)."""


@dataclass
class Region:
    left: int
    top: int
    width: int
    height: int
    confidence: float

    def text(self) -> str:
        return f"{self.left},{self.top},{self.width}x{self.height}"


@dataclass
class Assessment:
    """Whether an object is held back, why, and where the text is."""

    burned_in: bool
    reason: str
    regions: list[Region] = field(default_factory=list)

    def region_text(self) -> str:
        return ";".join(r.text() for r in self.regions)


def available() -> bool:
    """Whether the tesseract binary is installed."""
    return shutil.which("tesseract") is not None


def to_uint8(ds: Dataset | None, frame: np.ndarray) -> np.ndarray:
    """A decoded frame as shown: 8-bit grey (colour as luminance), MONOCHROME1 inverted."""
    if frame.ndim == 3:
        return np.asarray(Image.fromarray(frame.astype(np.uint8)).convert("L"))
    window = file_window(ds, frame) if ds is not None else None
    image = apply_window(frame, window or auto_window(frame))
    if ds is not None and photometric(ds) == "MONOCHROME1":
        image = 255 - image
    return image.astype(np.uint8)


def _words(image: Image.Image, scale: float) -> list[Region]:
    import pytesseract

    data = pytesseract.image_to_data(image, config="--psm 11", output_type=pytesseract.Output.DICT)
    found = []
    for text, conf, left, top, width, height in zip(data["text"], data["conf"], data["left"], data["top"],
                                                    data["width"], data["height"], strict=False):
        confidence = float(conf)
        chars = sum(c.isalnum() for c in str(text))
        region = Region(int(left / scale), int(top / scale), max(1, int(width / scale)),
                        max(1, int(height / scale)), confidence)
        # Text a person can read is at least MIN_HEIGHT pixels high and wider than high.
        # Longer words are accepted at a lower confidence (carets and odd glyphs of DICOM names
        # lower it; noise rarely makes six characters in a row).
        likely = (confidence >= MIN_CONFIDENCE and chars >= MIN_CHARS) or (confidence >= 40 and chars >= 6)
        if likely and region.height >= MIN_HEIGHT and region.width > region.height:
            found.append(region)
    return found


def find_text(image: np.ndarray) -> list[Region]:
    """Regions of readable text in an 8-bit grey image (see the module docstring)."""
    if not available():
        raise OcrUnavailable("tesseract is not installed (Debian packages tesseract-ocr, tesseract-ocr-eng)")
    h, w = image.shape[:2]
    longest = max(h, w)
    scale = MIN_SIDE / longest if longest < MIN_SIDE else MAX_SIDE / longest if longest > MAX_SIDE else 1.0
    pil = Image.fromarray(image)
    if abs(scale - 1) > 0.05:
        pil = pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC)
    regions = _words(pil, scale)
    if not regions:
        # Dark text on a bright area reads better inverted.
        regions = _words(Image.fromarray(255 - np.asarray(pil)), scale)
    if not regions:
        # Small text in the top and bottom bands (where modalities burn names and dates in) is read
        # again enlarged twice: a tenth of the cost of enlarging the whole image.
        band = max(16, round(h * BAND))
        for top in (0, h - band):
            strip = Image.fromarray(image[top:top + band])
            strip = strip.resize((w * 2, band * 2), Image.Resampling.BICUBIC)
            for found in _words(strip, 2.0):
                found.top += top
                regions.append(found)
    return regions


def _modality_reason(ds: Dataset) -> str | None:
    modality = str(ds.get("Modality", "")).strip().upper()
    if modality in ("US", "SC"):
        return f"modality {modality} usually has burned-in text"
    if str(ds.get("SOPClassUID", "")).startswith(_SECONDARY_CAPTURE_PREFIX):
        return "secondary capture usually has burned-in text"
    return None


def assess(ds: Dataset, rule: str = "pixels") -> Assessment:
    """Whether this object's pixels carry burned-in text, by ``rule`` (module docstring)."""
    if rule not in RULES:
        raise ValueError(f"the burned-in rule must be one of {', '.join(RULES)}")
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        return Assessment(False, "no pixel data")
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return Assessment(True, "BurnedInAnnotation is YES")
    if rule in ("modality", "both"):
        reason = _modality_reason(ds)
        if reason:
            return Assessment(True, reason)
        if rule == "modality":
            return Assessment(False, "modality rule: no burned-in text expected")
    try:
        _, frame = decode_frame(ds, 0)
    except PixelError:
        return Assessment(True, "pixels could not be decoded to look for text")
    regions = find_text(to_uint8(ds, frame))
    if regions:
        return Assessment(True, f"text found in the pixels ({len(regions)} regions)", regions)
    return Assessment(False, "no text found in the pixels")
