"""A DICOM Structured Report's content tree flattened to readable text.

Basic Text, Enhanced and Comprehensive SR (and Comprehensive 3D / Extensible) are walked depth
first: each content item becomes one line ``<concept name>: <value>``, indented by its depth, so
a report reads like its sections and findings. Any value type we do not know, and any tree that
does not follow a template, still gives whatever names and values it holds: a malformed item is
skipped, never fatal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from pydicom.dataset import Dataset

from archive.dicom import values as v

# Storage SOP classes of narrative reports (PS3.4 B.5): not dose, CAD, key object or measurement SRs.
REPORT_SR_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
    "1.2.840.10008.5.1.4.1.1.88.35": "Extensible SR",
}

_MAX_DEPTH = 64  # a loop of references or a damaged tree must not recurse forever


def _meaning(item: Dataset, keyword: str) -> str:
    try:
        codes = item.get(keyword)
        if codes:
            return str(codes[0].get("CodeMeaning", "") or codes[0].get("CodeValue", "") or "").strip()
    except Exception:  # a damaged code sequence: leave the name out
        pass
    return ""


def _person(value: Any) -> str:
    text = str(value or "").strip()
    parts = [p for p in text.split("^") if p]
    if len(parts) >= 2:
        return " ".join([*parts[1:], parts[0]])
    return text


def _value(item: Dataset) -> str:
    kind = str(item.get("ValueType", "") or "").upper()
    if kind == "TEXT":
        return str(item.get("TextValue", "") or "").strip()
    if kind == "CODE":
        return _meaning(item, "ConceptCodeSequence")
    if kind == "NUM":
        measured = item.get("MeasuredValueSequence")
        if not measured:
            return ""
        number = str(measured[0].get("NumericValue", "") or "").strip()
        unit = measured[0].get("MeasurementUnitsCodeSequence")
        unit_text = str(unit[0].get("CodeValue", "") or "").strip() if unit else ""
        return f"{number} {unit_text}".strip() if unit_text not in ("1", "{ratio}") else number
    if kind == "PNAME":
        return _person(item.get("PersonName"))
    if kind == "DATE":
        return str(item.get("Date", "") or "")
    if kind == "TIME":
        return str(item.get("Time", "") or "")
    if kind == "DATETIME":
        return str(item.get("DateTime", "") or "")
    if kind == "UIDREF":
        return str(item.get("UID", "") or "")
    if kind in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        refs = item.get("ReferencedSOPSequence")
        return "(see referenced image)" if kind == "IMAGE" and refs else ("(see referenced object)" if refs else "")
    if kind in ("SCOORD", "SCOORD3D", "TCOORD"):
        kind_of = str(item.get("GraphicType", "") or item.get("TemporalRangeType", "") or "").lower()
        return f"({kind_of or 'region'} marked)"
    if kind == "CONTAINER":
        return ""
    # Unknown value types: any text-like attribute it carries.
    for keyword in ("TextValue", "PersonName", "DateTime", "UID"):
        if keyword in item:
            return str(item.get(keyword) or "").strip()
    return ""


def _walk(items: Iterable[Dataset] | None, depth: int, lines: list[str]) -> None:
    if not items or depth > _MAX_DEPTH:
        return
    for item in items:
        try:
            name, value = _meaning(item, "ConceptNameCodeSequence"), _value(item)
            if str(item.get("ValueType", "") or "").upper() == "CONTAINER" and name:
                line = name if depth == 0 else name + ":"
                if depth == 0 and lines:
                    lines.append("")
                lines.append("  " * depth + line)
            elif name or value:
                lines.append("  " * depth + (f"{name}: {value}" if name and value else name or value))
            elif "ReferencedContentItemIdentifier" in item:
                lines.append("  " * depth + "(see item " + ".".join(
                    str(n) for n in item.ReferencedContentItemIdentifier) + ")")
            children = item.get("ContentSequence")
        except Exception:  # one damaged item: skip it, keep the rest of the report
            continue
        _walk(children, depth + 1, lines)


def flatten(ds: Dataset) -> str:
    """The SR's title and content tree as indented lines (empty string when it has no content)."""
    lines: list[str] = []
    title = _meaning(ds, "ConceptNameCodeSequence")
    if title:
        lines.append(title)
    try:
        _walk(ds.get("ContentSequence"), 0, lines)
    except Exception:
        pass
    text = "\n".join(lines).strip()
    return text.replace("\r\n", "\n").replace("\r", "\n")


def title(ds: Dataset) -> str | None:
    return _meaning(ds, "ConceptNameCodeSequence") or None


def status(ds: Dataset) -> str:
    """preliminary | final | amended from the SR's flags and predecessors (PS3.3 C.17.2)."""
    preliminary = str(ds.get("PreliminaryFlag", "") or "").upper() == "PRELIMINARY"
    complete = str(ds.get("CompletionFlag", "") or "").upper() == "COMPLETE"
    verified = str(ds.get("VerificationFlag", "") or "").upper() == "VERIFIED"
    if preliminary or not (complete and verified):
        return "preliminary"
    return "amended" if predecessors(ds) else "final"


def predecessors(ds: Dataset) -> list[str]:
    """SOP Instance UIDs of the documents this SR replaces (Predecessor Documents Sequence)."""
    found = []
    try:
        for study in ds.get("PredecessorDocumentsSequence") or []:
            for series in study.get("ReferencedSeriesSequence") or []:
                for sop in series.get("ReferencedSOPSequence") or []:
                    uid = str(sop.get("ReferencedSOPInstanceUID", "") or "")
                    if uid:
                        found.append(uid)
    except Exception:
        pass
    return found


def author(ds: Dataset) -> str | None:
    """The verifying observer (last verification), else the author observer, else the recording observer."""
    try:
        verifying = ds.get("VerifyingObserverSequence")
        if verifying:
            return _person(verifying[-1].get("VerifyingObserverName")) or None
        authors = ds.get("AuthorObserverSequence")
        if authors:
            for item in authors:
                person = item.get("PersonIdentificationCodeSequence")
                if person:
                    return _meaning(item, "PersonIdentificationCodeSequence") or None
        for item in ds.get("ContentSequence") or []:
            if str(item.get("ValueType", "")).upper() == "PNAME" and "observer" in _meaning(
                    item, "ConceptNameCodeSequence").lower():
                return _person(item.get("PersonName")) or None
    except Exception:
        pass
    return None


def report_datetime(ds: Dataset) -> datetime | None:
    """When it was verified (last verification), else the content date and time."""
    try:
        verifying = ds.get("VerifyingObserverSequence")
        if verifying:
            when = v.dt_value(verifying[-1].get("VerificationDateTime"))
            if when is not None:
                return when.replace(tzinfo=None)
    except Exception:
        pass
    return v.to_datetime(ds.get("ContentDate"), ds.get("ContentTime"))
