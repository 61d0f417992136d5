"""Fast reading of plain element values straight from pydicom's raw (not yet converted) elements.

pydicom converts a raw element on first access, which costs far more than the header parse for
the few dozen attributes an import reads. ASCII text and binary numbers are decoded here directly;
anything else (non-ASCII text needing the Specific Character Set, sequences, unusual VRs) goes
through pydicom's own conversion, so the values are the same either way. ISO 2022 text (Japanese,
Korean: ``ISO 2022 IR 87``, ``IR 149``) is 7-bit and so looks like ASCII, but its escape sequences
switch character sets: text holding an ESC byte is also left to pydicom.
"""

from __future__ import annotations

import struct
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

_TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UI", "UT", "UC"}
_BINARY = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d"}
_SINGLE_VALUED_TEXT = {"LT", "ST", "UT"}  # backslash is an ordinary character in these
_ESC = b"\x1b"   # starts an ISO 2022 escape sequence: the text is not plain ASCII


def tag_of(keyword: str) -> BaseTag:
    """The tag of ``keyword``, as pydicom's own tag type (which pydicom takes without converting)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword {keyword}")
    return BaseTag(tag)


def _vr(raw: RawDataElement) -> str | None:
    if raw.VR:
        return raw.VR
    try:
        return dictionary_VR(raw.tag)
    except KeyError:
        return None


def value(ds: Dataset, tag: int) -> Any:
    """The value of element ``tag`` (None when absent or empty); str or list[str] for text VRs."""
    try:
        element = ds.get_item(tag)
    except Exception:
        return None
    if element is None:
        return None
    if isinstance(element, RawDataElement) and element.value is not None:
        vr = _vr(element)
        data = element.value
        if vr in _TEXT_VRS and data.isascii() and _ESC not in data:
            text = data.decode("ascii").strip(" \x00")
            if not text:
                return None
            if vr in _SINGLE_VALUED_TEXT or "\\" not in text:
                return text
            return [part.strip(" \x00") for part in text.split("\\")]
        if vr in _BINARY:
            size = struct.calcsize(_BINARY[vr])
            count = len(data) // size
            if count == 0:
                return None
            order = "<" if element.is_little_endian else ">"
            numbers = struct.unpack(f"{order}{count}{_BINARY[vr]}", data[:count * size])
            return numbers[0] if count == 1 else list(numbers)
    try:
        result = ds[tag].value
    except Exception:  # a value pydicom cannot decode is treated as absent
        return None
    return None if result == "" else result
