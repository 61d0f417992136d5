"""Picking chosen top-level elements out of an encoded dataset, stepping over all the others.

An import needs a few dozen of each file's hundreds of elements. pydicom's reader handles every
element it passes; ``scan`` only reads each element's tag and length, steps over the value when
the tag was not asked for, and hands back pydicom raw elements for those that were (pydicom
converts their values on access, as always).

It reads little-endian data, explicit or implicit VR. It gives up (returns None) wherever it might
read differently from pydicom, and the caller then lets pydicom's reader decide: an element asked
for that has an undefined length (a sequence, encapsulated pixel data), a VR it does not know, a
length that runs past the end of the data, or an undefined-length value that is not made of items.
"""

from __future__ import annotations

from struct import Struct
from typing import Collection, cast

from pydicom.dataelem import RawDataElement, empty_value_for_VR
from pydicom.tag import BaseTag

_EXPLICIT = Struct("<HH2sH")            # tag, VR, 16-bit length
_TAG_AND_LENGTH = Struct("<HHL")         # implicit VR elements; items and delimiters in both encodings
_LENGTH = Struct("<L")
_LONG_VRS = frozenset(v.encode() for v in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN",
                                            "UR", "UT", "UV"))   # 2 reserved bytes, then a 32-bit length
_SHORT_VRS = frozenset(v.encode() for v in ("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS",
                                             "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL",
                                             "US"))
VRS = _LONG_VRS | _SHORT_VRS
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_DELIMITERS = 0xFFFE
CHARACTER_SET = 0x00080005               # always kept: other values are decoded by it


def scan(data: bytes, start: int, implicit: bool, wanted: Collection[int]) -> dict[int, RawDataElement] | None:
    """The elements of ``wanted`` (and the character set) found in the dataset at ``data[start:]``."""
    found: dict[int, RawDataElement] = {}
    return found if _walk(data, start, implicit, wanted, found, in_item=False) is not None else None


def _walk(data: bytes, pos: int, implicit: bool, wanted: Collection[int],
          found: dict[int, RawDataElement], in_item: bool) -> int | None:
    """Walk elements from ``pos`` to the end (or, in an item, to its delimiter); the end position."""
    size = len(data)
    while pos < size:
        if pos + 8 > size:
            return None
        if implicit:
            group, element, length = _TAG_AND_LENGTH.unpack_from(data, pos)
        else:
            group, element, code, length = _EXPLICIT.unpack_from(data, pos)
        tag = group << 16 | element
        if group == _DELIMITERS:
            return pos + 8 if in_item and tag == _ITEM_END else None
        vr = None
        value = pos + 8
        if not implicit:
            if code in _LONG_VRS:
                if pos + 12 > size:
                    return None
                length = _LENGTH.unpack_from(data, pos + 8)[0]
                value = pos + 12
            elif code not in _SHORT_VRS:
                return None
            vr = code.decode()
        keep = tag in wanted or tag == CHARACTER_SET
        if length == _UNDEFINED:
            if keep:
                return None
            after = _skip_items(data, value, implicit)
            if after is None:
                return None
            pos = after
            continue
        pos = value + length
        if pos > size:
            return None
        if keep:
            # raw=True gives b"" or None; pydicom types it as any element value
            raw = data[value:pos] if length else cast("bytes | None", empty_value_for_VR(vr, raw=True))
            key = BaseTag(tag)   # pydicom's datasets are keyed by its own tag type
            found[key] = RawDataElement(key, vr, length, raw, value, implicit, True)
    return None if in_item else pos


def _skip_items(data: bytes, pos: int, implicit: bool) -> int | None:
    """Step over the items of an undefined-length value; the position after its delimiter."""
    size = len(data)
    while pos + 8 <= size:
        group, element, length = _TAG_AND_LENGTH.unpack_from(data, pos)
        tag = group << 16 | element
        if tag == _SEQUENCE_END:
            return pos + 8
        if tag != _ITEM:
            return None
        if length == _UNDEFINED:
            after = _walk(data, pos + 8, implicit, (), {}, in_item=True)
            if after is None:
                return None
            pos = after
        else:
            pos += 8 + length
    return None
