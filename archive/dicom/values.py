"""Converting DICOM element values (DA, TM, DT, DS, IS, PN, multi-valued) to plain Python values.

Real archives hold malformed values; every converter returns None for a value it cannot read
instead of raising, so one bad date never stops an import.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any

from pydicom.multival import MultiValue


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, MultiValue)):
        value = "\\".join(str(v) for v in value)
    result = str(value).strip().replace("\x00", "")
    return result or None


def to_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    raw = text(value)
    if not raw:
        return None
    raw = raw.replace(".", "")[:8]  # ACR-NEMA style YYYY.MM.DD
    try:
        if len(raw) == 8 and raw.isascii() and raw.isdigit():
            # The usual YYYYMMDD, read as strptime reads it, at a tenth of its cost (an import
            # converts several dates per instance).
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        return datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:
        return None


def to_time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    raw = text(value)
    if not raw:
        return None
    raw = raw.replace(":", "")
    main, _, fraction = raw.partition(".")
    try:
        hour = int(main[0:2])
        minute = int(main[2:4]) if len(main) >= 4 else 0
        second = min(int(main[4:6]), 59) if len(main) >= 6 else 0
        micro = int((fraction + "000000")[:6]) if fraction.isdigit() else 0
        return time(hour, minute, second, micro)
    except ValueError:
        return None


def to_datetime(day: Any, clock: Any = None) -> datetime | None:
    d = to_date(day)
    if d is None:
        return None
    t = to_time(clock) or time(0, 0)
    return datetime.combine(d, t)


def dt_value(value: Any) -> datetime | None:
    """A DT element (YYYYMMDDHHMMSS.FFFFFF&ZZXX), ignoring the UTC offset."""
    raw = text(value)
    if not raw or len(raw) < 8:
        return None
    raw = raw.split("+")[0].split("-")[0] if len(raw) > 8 else raw
    return to_datetime(raw[:8], raw[8:] or None)


def to_float(value: Any) -> float | None:
    if isinstance(value, (list, MultiValue)):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def to_int(value: Any) -> int | None:
    number = to_float(value)
    if number is None or abs(number) > 2**31 - 1:
        return None
    return int(number)


def to_floats(value: Any) -> list[float] | None:
    if value is None or value == "":
        return None
    items = value if isinstance(value, (list, MultiValue)) else [value]
    numbers = [to_float(v) for v in items]
    floats = [n for n in numbers if n is not None]
    if not floats or len(floats) < len(numbers):
        return None
    return floats


def to_texts(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    items = value if isinstance(value, (list, MultiValue)) else [value]
    cleaned = [t for t in (text(v) for v in items) if t]
    return cleaned or None
