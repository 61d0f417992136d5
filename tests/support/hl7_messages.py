"""Synthetic, clearly fake HL7 v2 ORU^R01 messages for the report tests (no real patient)."""

from __future__ import annotations


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment with the given fields at their HL7 positions (1-based), empty in between."""
    last = max(fields) if fields else 0
    return "|".join([name] + [fields.get(i, "") for i in range(1, last + 1)])


def oru(control_id: str, accession: str, text: str | list[str] = "No acute abnormality.",
        status: str = "F", patient_id: str = "FAKE-0001", facility: str = "NORTH",
        when: str = "20240102113000", exam: str = "CTHEAD^CT HEAD^L",
        author: str = "R123&FAKE&RADIOLOGIST", message_type: str = "ORU^R01",
        embedded: str | None = None) -> str:
    """``embedded``: OBX-5 of an ED observation (``^application^pdf^Base64^<data>``) after the text."""
    lines = text if isinstance(text, list) else [text]
    msh = f"MSH|^~\\&|FAKE-RIS|{facility}|LIMESTONE|REGION|{when}||{message_type}|{control_id}|P|2.5"
    pid = segment("PID", {1: "1", 3: f"{patient_id}^^^{facility}^MR", 5: "FAKE^PATIENT"})
    obr = segment("OBR", {1: "1", 2: f"PL{accession}", 3: f"FL{accession}", 4: exam, 7: "20240102100000",
                          18: accession, 22: when, 25: status, 32: author})
    obx = [segment("OBX", {1: str(i + 1), 2: "TX", 3: "IMP^Impression", 5: line, 11: status})
           for i, line in enumerate(lines)]
    if embedded is not None:
        obx.append(segment("OBX", {1: str(len(obx) + 1), 2: "ED", 3: "PDF^Report PDF", 5: embedded, 11: status}))
    return "\r".join([msh, pid, obr, *obx]) + "\r"
