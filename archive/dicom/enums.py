"""Enumerations of DICOM attribute values that Limestone reasons about."""

from __future__ import annotations

from enum import Enum

from pydicom.uid import UID


class ModalityValues(str, Enum):
    """The imaging modalities of the department (Modality, 0008,0060), plus report objects."""

    CR = "CR"
    DX = "DX"
    CT = "CT"
    MR = "MR"
    US = "US"
    MG = "MG"
    NM = "NM"
    PT = "PT"
    XA = "XA"
    RF = "RF"
    OT = "OT"
    SC = "SC"
    SR = "SR"
    DOC = "DOC"
    KO = "KO"
    PR = "PR"


class PhotometricInterpretationValues(str, Enum):
    MONOCHROME1 = "MONOCHROME1"
    MONOCHROME2 = "MONOCHROME2"
    RGB = "RGB"
    PALETTE_COLOR = "PALETTE COLOR"
    YBR_FULL = "YBR_FULL"
    YBR_FULL_422 = "YBR_FULL_422"
    YBR_ICT = "YBR_ICT"
    YBR_RCT = "YBR_RCT"


SR_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
XRAY_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"


def is_structured_report(sop_class_uid: str | None) -> bool:
    return bool(sop_class_uid and sop_class_uid.startswith(SR_STORAGE_PREFIX))


def sop_class_name(sop_class_uid: str | None) -> str | None:
    """The standard name of a SOP class ('CT Image Storage'), or None when unknown."""
    if not sop_class_uid:
        return None
    name = UID(sop_class_uid).name
    return None if name == sop_class_uid else name
