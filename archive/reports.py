"""The readable text of a structured report (SR) or an encapsulated text, for the share portal."""

from __future__ import annotations

import io
import warnings

import pydicom
from pydicom.dataset import Dataset

SR_MODALITIES = {"SR", "DOC"}


def _walk(items, depth: int, lines: list[str]) -> None:
    for item in items or []:
        name = ""
        concept = item.get("ConceptNameCodeSequence")
        if concept:
            name = str(concept[0].get("CodeMeaning", "") or "")
        kind = str(item.get("ValueType", ""))
        value = ""
        if kind == "TEXT":
            value = str(item.get("TextValue", "") or "")
        elif kind == "CODE" and item.get("ConceptCodeSequence"):
            value = str(item.ConceptCodeSequence[0].get("CodeMeaning", "") or "")
        elif kind == "NUM" and item.get("MeasuredValueSequence"):
            measured = item.MeasuredValueSequence[0]
            unit = measured.get("MeasurementUnitsCodeSequence")
            value = f"{measured.get('NumericValue', '')} {unit[0].get('CodeValue', '') if unit else ''}".strip()
        if name or value:
            lines.append("  " * depth + (f"{name}: {value}" if name and value else name or value))
        _walk(item.get("ContentSequence"), depth + 1, lines)


def report_text(ds: Dataset) -> str | None:
    """The text lines of an SR's content tree (None when the object is not a report)."""
    if "ContentSequence" not in ds:
        return None
    lines: list[str] = []
    title = ds.get("ConceptNameCodeSequence")
    if title:
        lines.append(str(title[0].get("CodeMeaning", "") or "Report"))
    _walk(ds.ContentSequence, 0, lines)
    return "\n".join(lines) or None


def report_from_bytes(data: bytes) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception:
        return None
    return report_text(ds)
