"""DICOM status codes and what they mean, in one table (PS3.4 Annex C, PS3.7 Annex C)."""

from __future__ import annotations

from enum import Enum


class StatusCategoryValues(str, Enum):
    SUCCESS = "success"
    PENDING = "pending"
    WARNING = "warning"
    CANCEL = "cancel"
    FAILURE = "failure"


_S, _P, _W, _C, _F = (StatusCategoryValues.SUCCESS, StatusCategoryValues.PENDING,
                      StatusCategoryValues.WARNING, StatusCategoryValues.CANCEL,
                      StatusCategoryValues.FAILURE)

# code -> (category, meaning)
STATUSES: dict[int, tuple[StatusCategoryValues, str]] = {
    0x0000: (_S, "success"),
    0xFF00: (_P, "pending"),
    0xFF01: (_P, "pending (optional keys not supported)"),
    0xFE00: (_C, "cancelled"),
    0x0001: (_W, "requested optional attributes are not supported"),
    0x0107: (_W, "attribute list error"),
    0x0116: (_W, "attribute value out of range"),
    0xB000: (_W, "sub-operations complete, one or more failures or warnings"),
    0xB006: (_W, "elements discarded"),
    0xB007: (_W, "data set does not match SOP class"),
    0x0105: (_F, "no such attribute"),
    0x0106: (_F, "invalid attribute value"),
    0x0110: (_F, "processing failure"),
    0x0111: (_F, "duplicate SOP instance"),
    0x0112: (_F, "no such SOP instance"),
    0x0117: (_F, "invalid object instance"),
    0x0118: (_F, "no such SOP class"),
    0x0119: (_F, "class-instance conflict"),
    0x0122: (_F, "SOP class not supported"),
    0x0124: (_F, "refused: not authorised"),
    0x0210: (_F, "duplicate invocation"),
    0x0211: (_F, "unrecognised operation"),
    0x0212: (_F, "mistyped argument"),
    0x0213: (_F, "resource limitation"),
    0xA700: (_F, "refused: out of resources"),
    0xA701: (_F, "refused: out of resources, unable to calculate number of matches"),
    0xA702: (_F, "refused: out of resources, unable to perform sub-operations"),
    0xA801: (_F, "refused: move destination unknown"),
    0xA900: (_F, "identifier does not match SOP class"),
    0xC000: (_F, "unable to process"),
}

# Ranges the standard leaves to the implementation.
_RANGES = (
    (0xA700, 0xA7FF, _F, "refused: out of resources"),
    (0xA900, 0xA9FF, _F, "data set does not match SOP class"),
    (0xC000, 0xCFFF, _F, "unable to process"),
)

# Statuses our storage SCP answers with.
STORE_SUCCESS = 0x0000
STORE_QUARANTINED = 0xB007      # kept in quarantine: the sender should not count it as archived
STORE_OUT_OF_RESOURCES = 0xA700


def category(code: int | None) -> StatusCategoryValues:
    """The category of a status; no status at all (abort, timeout) is a failure."""
    if code is None:
        return _F
    if code in STATUSES:
        return STATUSES[code][0]
    for low, high, kind, _ in _RANGES:
        if low <= code <= high:
            return kind
    return _F


def describe(code: int | None) -> str:
    """'0xC000 unable to process'; a missing status means the peer aborted or did not answer."""
    if code is None:
        return "no response (the node aborted the association or did not answer in time)"
    meaning = STATUSES.get(code, (None, None))[1]
    if meaning is None:
        meaning = next((text for low, high, _, text in _RANGES if low <= code <= high), "unknown status")
    return f"0x{code:04X} {meaning}"


def is_final(code: int | None) -> bool:
    return category(code) != StatusCategoryValues.PENDING
