"""De-identifying one DICOM dataset with the Basic Application Level Confidentiality Profile.

``deidentify(ds, options, key)`` applies the profile's table (see ``profile.py``) to every
attribute, in sequences too; removes private attributes, overlay data and comments and curves; gives
the patient a keyed-hash pseudonym as Patient ID and Patient's Name; replaces UIDs consistently;
shifts dates by the patient's offset (Modified Dates option); and records what was done in
PatientIdentityRemoved, DeidentificationMethod and DeidentificationMethodCodeSequence.

Two safety nets beyond the table: a person name (PN) attribute the table does not list is emptied,
and a UID the table does not list is replaced too unless it is a UID registered by the standard
(SOP classes, transfer syntaxes, coding schemes), so instance UIDs in less common attributes never
leak.

Pixel data is not touched. Whether it may carry burned-in text is reported as ``burned_in`` (the
file says BurnedInAnnotation YES, or it is ultrasound or secondary capture, which usually do);
the caller must not export such a file silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID

from archive.deid.keys import DeidKey
from archive.deid.profile import DatesValues, Options, effective_action, rules
from archive.dicom.models import patient_key

METHOD = "Limestone PS3.15 E.1-1 Basic Profile"
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"

# Dummy values by value representation (action D), valid for their VR.
_DUMMY = {
    "PN": "ANONYMOUS", "LO": "ANONYMIZED", "SH": "ANONYMIZED", "CS": "ANONYMIZED", "LT": "ANONYMIZED",
    "ST": "ANONYMIZED", "UT": "ANONYMIZED", "UC": "ANONYMIZED", "AE": "ANONYMIZED", "UR": "ANONYMIZED",
    "DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000Y",
    "IS": "0", "DS": "0", "US": 0, "SS": 0, "UL": 0, "SL": 0, "UV": 0, "SV": 0, "FL": 0.0, "FD": 0.0,
    "OB": b"\0\0", "OW": b"\0\0", "UN": b"\0\0", "OF": b"\0" * 4, "OL": b"\0" * 4, "OD": b"\0" * 8,
    "OV": b"\0" * 8,
}
_BINARY_VRS = ("OB", "OW", "UN", "OF", "OL", "OD", "OV")


@dataclass
class DeidResult:
    dataset: Dataset
    pseudonym: str
    date_shift_days: int | None      # None unless dates were shifted
    burned_in: str | None            # why the pixels may show text, or None


def burned_in_reason(ds: Dataset) -> str | None:
    """Why this object's pixels may carry burned-in identifying text, or None."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        return None
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return "BurnedInAnnotation is YES"
    modality = str(ds.get("Modality", "")).strip().upper()
    if modality in ("US", "SC"):
        return f"modality {modality} usually has burned-in text"
    if str(ds.get("SOPClassUID", "")).startswith(_SECONDARY_CAPTURE_PREFIX):
        return "secondary capture usually has burned-in text"
    return None


def patient_reference(ds: Dataset) -> str:
    """The store's key for the patient record of a dataset (issuer + Patient ID, hashed)."""
    issuer = str(ds.get("IssuerOfPatientID", "") or "").strip() or None
    patient_id = str(ds.get("PatientID", "") or "").strip() or None
    return patient_key(patient_id, issuer)


def identifiers(ds: Dataset) -> list[str]:
    """Text that identifies the patient or the visit, to strip out of descriptors when cleaning."""
    found: set[str] = set()
    name = ds.get("PatientName")
    if name:
        for part in re.split(r"[\^=\s,]+", str(name)):
            if len(part) >= 3:
                found.add(part)
    for keyword in ("PatientID", "AccessionNumber", "OtherPatientIDs", "PatientBirthDate",
                    "IssuerOfPatientID", "StudyID", "AdmissionID", "PatientAddress"):
        value = ds.get(keyword)
        values = value if isinstance(value, (list, MultiValue)) else [value]
        for item in values:
            text = str(item or "").strip()
            if len(text) >= 3:
                found.add(text)
    return sorted(found, key=len, reverse=True)


_DATEISH = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b|\b(19|20)\d{6}\b")
_LONG_NUMBER = re.compile(r"\d{5,}")
_CONTACT = re.compile(r"\S+@\S+|\+?\d[\d ()-]{7,}\d")


def clean_text(text: str, strip: list[str]) -> str:
    """A descriptor without the patient's identifiers, dates, long numbers or contact details."""
    out = text
    for item in strip:
        out = re.sub(re.escape(item), " ", out, flags=re.IGNORECASE)
    for pattern in (_CONTACT, _DATEISH, _LONG_NUMBER):
        out = pattern.sub(" ", out)
    return re.sub(r"\s+", " ", out).strip(" -_,;:")


def shift_date(value: str, days: int) -> str | None:
    """A DA (YYYYMMDD) or the date part of a DT moved by ``days``; None when it does not parse."""
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        moved = date(int(text[:4]), int(text[4:6]), int(text[6:8])) + timedelta(days=days)
    except ValueError:
        return None
    return moved.strftime("%Y%m%d") + text[8:]


class _Deidentifier:
    def __init__(self, options: Options, key: DeidKey, shift: int, strip: list[str]):
        self.options, self.key, self.shift, self.strip = options, key, shift, strip
        self.table = rules()

    def new_uid(self, value: str) -> str:
        return self.key.uid(str(value).strip())

    def apply(self, ds: Dataset) -> None:
        for elem in list(ds):
            self.element(ds, elem)

    def element(self, ds: Dataset, elem: DataElement) -> None:
        tag = int(elem.tag)
        group = tag >> 16
        if elem.tag.is_private or (0x5000 <= group <= 0x50FF) or (
                0x6000 <= group <= 0x60FF and (tag & 0xFFFF) in (0x3000, 0x4000)):
            del ds[elem.tag]   # private attributes, curves, overlay data and comments: X
            return
        rule = self.table.get(tag)
        if rule is None:
            self.unlisted(ds, elem)
            return
        action = effective_action(rule, elem.VR, self.options)
        if action == "K":
            return
        if action == "X":
            del ds[elem.tag]
        elif action == "Z":
            elem.value = Sequence() if elem.VR == "SQ" else None
        elif action == "R":
            for item in elem.value or []:
                self.apply(item)
        elif action == "U":
            elem.value = self.mapped(elem.value, self.new_uid)
        elif action == "D":
            elem.value = _DUMMY.get(elem.VR, "ANONYMIZED") if elem.value not in (None, "") else elem.value
        elif action == "C" and elem.VR in _BINARY_VRS:
            del ds[elem.tag]   # text we cannot read (e.g. an attribute newer than our dictionary) cannot be cleaned
        elif action == "C":
            elem.value = self.mapped(elem.value, lambda v: clean_text(str(v), self.strip)) \
                if elem.VR not in ("PN",) else None
        elif action == "S":
            self.shift_element(ds, elem)
        else:  # pragma: no cover - the table only uses the actions above
            raise ValueError(f"unknown de-identification action {action!r} for {rule.keyword}")

    def unlisted(self, ds: Dataset, elem: DataElement) -> None:
        if elem.VR == "SQ":
            for item in elem.value or []:
                self.apply(item)
        elif elem.VR == "PN" and elem.value not in (None, ""):
            elem.value = None
        elif elem.VR == "UI" and elem.value not in (None, "") and not self.options.keep_uids:
            elem.value = self.mapped(elem.value, lambda v: v if UID(str(v)).is_valid and
                                     UID(str(v)).name != str(v) else self.new_uid(v))

    def shift_element(self, ds: Dataset, elem: DataElement) -> None:
        if elem.value in (None, ""):
            return
        values = list(elem.value) if isinstance(elem.value, (list, MultiValue)) else [elem.value]
        moved = [shift_date(str(v), self.shift) for v in values]
        if any(m is None for m in moved):
            elem.value = None   # a date we cannot read cannot be shifted: empty it
        else:
            elem.value = moved if len(moved) > 1 else moved[0]

    @staticmethod
    def mapped(value: Any, function: Callable[[Any], Any]) -> Any:
        if value in (None, ""):
            return value
        if isinstance(value, (list, MultiValue)):
            return [function(v) for v in value]
        return function(value)


def deidentify(ds: Dataset, options: Options, key: DeidKey, patient_ref: str | None = None) -> DeidResult:
    """De-identify ``ds`` in place and return it with its pseudonym and burned-in finding.

    ``patient_ref`` names the patient for the pseudonym and the date shift (default: the store's
    patient key of the dataset, i.e. issuer + Patient ID); pass the linked person's key to give
    one person the same pseudonym under all their MRNs.
    """
    patient_ref = patient_ref or patient_reference(ds)
    burned_in = burned_in_reason(ds)
    pseudonym = key.pseudonym(patient_ref)
    shift = key.date_shift_days(patient_ref)
    strip = identifiers(ds)
    _Deidentifier(options, key, shift, strip).apply(ds)

    ds.PatientID = pseudonym
    ds.PatientName = pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = [METHOD] + [name[:64] for _, name in options.method_codes()[1:]]
    codes = []
    for value, meaning in options.method_codes():
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    ds.LongitudinalTemporalInformationModified = {
        DatesValues.KEEP: "UNMODIFIED", DatesValues.SHIFT: "MODIFIED", DatesValues.REMOVE: "REMOVED"}[options.dates]
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                        "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                        "PrivateInformation"):
            if keyword in meta:
                delattr(meta, keyword)
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return DeidResult(ds, pseudonym, shift if options.dates is DatesValues.SHIFT else None, burned_in)
