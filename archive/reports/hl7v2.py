"""HL7 v2 ORU^R01 result messages from the radiology information system, read with python-hl7.

What we read (HL7 v2.3-2.5 ORU^R01, as radiology information systems send them):

- MSH-9 message type (must be ORU^R01), MSH-10 control id (required), MSH-4 sending facility;
- PID-3 patient identifiers (every repetition), used to confirm an accession match;
- each OBR starts one report: accession number from OBR-18 (placer field 1, IHE Radiology), else
  OBR-3 (filler order number), else OBR-2 (placer order number); OBR-4 the exam (its text is the
  title); OBR-25 result status (P preliminary, F final, C corrected = amended, X cancelled; the
  OBX-11 status is used when OBR-25 is empty); OBR-22 report time (else OBR-7); OBR-32 the
  principal result interpreter (author);
- the OBX segments after an OBR with text values (TX, FT, ST, CE/CWE text) are its text, in order;
- an OBX of type ED (encapsulated data, OBX-5 ``source^type^subtype^encoding^data``) with a
  Base64-encoded PDF is the report as a document: the PDF is returned in ``documents`` (by its
  content hash, for the vault, like an Encapsulated PDF instance) and its text layer, read the
  same way, is the report's text when the OBR has no OBX text of its own. One PDF per OBR; any
  other embedded document, encoding or bad Base64 rejects the message.

A message that cannot be used raises ``MessageProblem`` with a reason that names fields only
(never their values: they may be patient data); the caller answers it with a NAK carrying that
reason and keeps the message for review.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import hl7

from archive.clock import now_utc
from archive.errors import LimestoneError
from archive.reports import pdf
from archive.reports.store import Report
from archive.vault import content_hash

STATUS_CODES = {"P": "preliminary", "S": "preliminary", "A": "preliminary", "I": "preliminary",
                "R": "preliminary", "O": "preliminary", "F": "final", "C": "amended",
                "M": "amended", "X": "cancelled", "D": "cancelled", "W": "cancelled"}
TEXT_TYPES = {"TX", "FT", "ST", "CE", "CWE", "TEXT", ""}


class MessageProblem(LimestoneError, ValueError):
    """A message that cannot be filed; ``code`` is the HL7 ACK code (AE error, AR reject)."""

    def __init__(self, reason: str, code: str = "AE", error_code: str = "207"):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.error_code = error_code   # HL7 table 0357: 100 segment, 101 required field, 200 type, 207 other


@dataclass
class ResultMessage:
    control_id: str
    facility: str
    message_type: str
    reports: list[Report]
    message: Any                 # the parsed hl7.Message, for the ACK
    documents: dict[str, bytes] = field(default_factory=dict)   # embedded PDFs by content hash


def normalise(raw: bytes | str) -> str:
    """Text of one message: MLLP framing removed, segments separated by carriage returns."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        text = raw
    text = text.strip("\x0b\x1c\r\n \t")
    return "\r".join(line for line in re.split(r"\r\n|\n|\r", text) if line.strip())


def split_messages(raw: bytes | str) -> list[str]:
    """Several messages in one file (or MLLP-framed blocks): one string each, in order."""
    text = normalise(raw.replace(b"\x1c", b"\r") if isinstance(raw, bytes) else raw.replace("\x1c", "\r"))
    messages: list[str] = []
    current: list[str] = []
    for segment in text.split("\r"):
        segment = segment.strip("\x0b")
        if segment.startswith("MSH") and current:
            messages.append("\r".join(current))
            current = []
        if segment.startswith(("FHS", "BHS", "FTS", "BTS")):
            continue  # batch envelopes: the messages inside are what counts
        current.append(segment)
    if current:
        messages.append("\r".join(current))
    return messages


def _field(segment: hl7.Segment, number: int) -> str:
    try:
        return str(segment(number)).strip() if len(segment) > number else ""
    except Exception:
        return ""


def _component(segment: hl7.Segment, number: int, component: int = 1) -> str:
    try:
        if len(segment) <= number:
            return ""
        return str(segment.extract_field(1, number, 1, component, 1) or "").strip()
    except Exception:
        return _field(segment, number).split("^")[component - 1] if component == 1 else ""


_DTM = re.compile(r"(\d{8,14})(?:\.\d{1,4})?([+-])?(\d{2})?(\d{2})?")


def _timestamp(text: str) -> datetime | None:
    """An HL7 DTM (YYYYMMDD[HH[MM[SS[.S...]]]][+/-ZZZZ]) as a datetime, aware when it has an offset.

    As python-hl7's ``parse_datetime`` reads it, except that an offset below one hour west of UTC
    ('-0030') keeps its sign, which that function loses.
    """
    found = _DTM.match(text or "")
    if not found:
        return None
    raw, sign, hours, minutes = found.groups()
    try:
        when = datetime.strptime(raw + "0" * (14 - len(raw)) if len(raw) > 8 else raw,
                                 "%Y%m%d%H%M%S" if len(raw) > 8 else "%Y%m%d")
    except ValueError:
        return None
    if sign and hours and minutes and int(hours) < 24 and int(minutes) < 60:
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        when = when.replace(tzinfo=timezone(-offset if sign == "-" else offset))
    return when


def _person(text: str) -> str | None:
    """OBR-32 (NDL: ID&family&given in its first component; or XCN id^family^given) as 'Given Family'."""
    text = (text or "").strip()
    if "&" in text:
        parts = text.split("^")[0].split("&")[1:]
    elif "^" in text:
        parts = text.split("^")[1:]
    else:
        parts = [text]
    family, given = (parts + ["", ""])[:2]
    return " ".join(p for p in (given, family) if p).strip() or None


def _unescape(message: hl7.Message, text: str) -> str:
    try:
        return message.unescape(text)
    except Exception:
        return text


def _embedded_pdf(message: hl7.Message, obx: hl7.Segment, index: int) -> bytes:
    """The PDF an OBX of value type ED carries in OBX-5 (source^type^subtype^encoding^data)."""
    where = f"OBR #{index}: the embedded document in OBX-5"
    try:
        value = obx(5)(1)
        subtype, encoding, data = (str(value(n)).strip() for n in (3, 4, 5))
    except Exception:
        raise MessageProblem(f"{where} cannot be read", "AE", "102") from None
    if encoding.upper() != "BASE64":
        raise MessageProblem(f"{where} is not Base64-encoded (OBX-5.4): only Base64 is accepted", "AE", "102")
    try:
        document = base64.b64decode("".join(_unescape(message, data).split()), validate=True)
    except (binascii.Error, ValueError):
        raise MessageProblem(f"{where} is not valid Base64", "AE", "102") from None
    if subtype.upper() != "PDF" or not document.startswith(b"%PDF"):
        raise MessageProblem(f"{where} is not a PDF: only PDF documents are accepted", "AE", "102")
    return document


def parse(text: str, received_at: datetime | None = None) -> ResultMessage:
    """Read one ORU^R01 message; raise ``MessageProblem`` saying what is wrong."""
    if not text.startswith("MSH") or len(text) < 8:
        raise MessageProblem("not an HL7 v2 message: it must begin with an MSH segment", "AR", "100")
    try:
        message = hl7.parse(text)
    except Exception as exc:
        raise MessageProblem(f"the message cannot be parsed ({type(exc).__name__})", "AR", "100") from None
    msh = message.segment("MSH")
    message_type = "^".join(p for p in (_component(msh, 9, 1), _component(msh, 9, 2)) if p)
    if message_type != "ORU^R01":
        raise MessageProblem(f"unsupported message type {message_type or '(empty MSH-9)'}: "
                             "only ORU^R01 result messages are accepted", "AR", "200")
    control_id = _field(msh, 10)
    if not control_id:
        raise MessageProblem("MSH-10 message control ID is missing", "AR", "101")
    facility = _component(msh, 4) or _component(msh, 3) or "unknown"
    try:
        pid = message.segment("PID")
        patient_ids = [str(rep(1)).strip() for rep in pid(3) if str(rep(1)).strip()] if len(pid) > 3 else []
    except KeyError:
        patient_ids = []
    except Exception:
        raise MessageProblem("PID-3 patient identifier list cannot be read", "AE", "102") from None

    groups: list[tuple[Any, list[Any]]] = []
    for segment in message:
        kind = str(segment(0))
        if kind == "OBR":
            groups.append((segment, []))
        elif kind == "OBX":
            if not groups:
                raise MessageProblem("an OBX segment comes before any OBR segment", "AE", "100")
            groups[-1][1].append(segment)
    if not groups:
        raise MessageProblem("no OBR segment: the message carries no result", "AE", "100")

    received = received_at or now_utc()
    reports, documents = [], {}
    for index, (obr, observations) in enumerate(groups, start=1):
        accession = _component(obr, 18) or _component(obr, 3) or _component(obr, 2)
        if not accession:
            raise MessageProblem(f"OBR #{index} has no accession number (OBR-18, OBR-3 or OBR-2 are empty)",
                                 "AE", "101")
        code = _component(obr, 25).upper()
        if not code:
            codes = [_field(obx, 11).upper()[:1] for obx in observations if _field(obx, 11)]
            code = codes[-1] if codes else ""
        if not code:
            raise MessageProblem(f"OBR #{index} has no result status (OBR-25 and OBX-11 are empty)",
                                 "AE", "101")
        if code not in STATUS_CODES:
            raise MessageProblem(f"OBR #{index} has an unknown result status in OBR-25 "
                                 "(expected P, F, C or X)", "AE", "103")
        status = STATUS_CODES[code]
        lines, embedded = [], []
        for obx in observations:
            value_type = _field(obx, 2).upper()
            if value_type == "ED":
                embedded.append(_embedded_pdf(message, obx, index))
                continue
            if value_type not in TEXT_TYPES:
                continue
            try:
                repetitions = [str(rep) for rep in obx(5)] if len(obx) > 5 else []
            except Exception:
                repetitions = [_field(obx, 5)]
            for rep in repetitions:
                value = rep.split("^")[1] if value_type in ("CE", "CWE") and "^" in rep else rep
                lines.append(_unescape(message, value).replace("\r\n", "\n").replace("\r", "\n"))
        if len(embedded) > 1:
            raise MessageProblem(f"OBR #{index} carries {len(embedded)} embedded documents: "
                                 "one PDF per report is accepted", "AE", "102")
        body = "\n".join(lines).strip()
        digest = None
        if embedded:
            digest = content_hash(embedded[0])
            documents[digest] = embedded[0]
            body = body or pdf.extract_text(embedded[0])
        elif not body and status != "cancelled":
            raise MessageProblem(f"OBR #{index} has no report text (no OBX text values)", "AE", "101")
        title = _component(obr, 4, 2) or _component(obr, 4, 1) or "Report"
        filler = _component(obr, 3) or accession
        reports.append(Report(
            report_id=f"hl7:{facility}:{control_id}:{index}",
            document_key=f"hl7:{facility}:{filler}:{_component(obr, 4, 1)}",
            source="hl7", status=status, text=body, accession_number=accession,
            patient_ids=patient_ids, author=_person(_field(obr, 32)),
            report_datetime=_timestamp(_field(obr, 22)) or _timestamp(_field(obr, 7)),
            title=title, content_hash=digest,
            text_extracted=bool(body) or not embedded, received_at=received))
    return ResultMessage(control_id, facility, message_type, reports, message, documents)


def _clean(text: str) -> str:
    """A reason fit for an HL7 field: no delimiters."""
    return re.sub(r"[|^~\\&\r\n]", " ", text)[:200]


def identify(text: str) -> tuple[str | None, str | None]:
    """(MSH-10 control id, MSH-9 type) of a message, as far as they can be read; never raises."""
    try:
        msh = hl7.parse(text).segment("MSH") if text.startswith("MSH") else None
    except Exception:
        return None, None
    if msh is None:
        return None, None
    kind = "^".join(p for p in (_component(msh, 9, 1), _component(msh, 9, 2)) if p)
    return _field(msh, 10) or None, kind or None


def acknowledgement(text: str, code: str = "AA", reason: str | None = None,
                    error_code: str = "207") -> str:
    """The ACK (AA) or NAK (AE/AR with the reason in MSA-3 and an ERR segment) for a message."""
    stamp = now_utc().strftime("%Y%m%d%H%M%S%f")[:16]
    msh, control_id = None, ""
    try:
        if text.startswith("MSH"):
            message = hl7.parse(text)
            control_id = _field(message.segment("MSH"), 10)
            msh = str(message.create_ack(code, message_id=f"LS{stamp}")).split("\r")[0]
    except Exception:
        msh = None
    if msh is None:
        msh = f"MSH|^~\\&|LIMESTONE||||{stamp[:14]}||ACK|LS{stamp}|P|2.5"
    lines = [msh, "|".join(["MSA", code, _clean(control_id)] + ([_clean(reason)] if reason else []))]
    if reason:
        meaning = "Application error" if code == "AE" else "Application reject"
        lines.append(f"ERR|||{error_code}^{meaning}^HL70357|E||||{_clean(reason)}")
    return "\r".join(lines) + "\r"
