"""Audit events as DICOM audit messages (PS3.15 Annex A.5, the format IHE ATNA repositories take).

Each audit event (a row of ``archive.audit.trail``) becomes one ``AuditMessage``: the event's code
(``EVENTS`` maps our actions to DICOM's: "DICOM Instances Accessed", "Begin Transferring DICOM
Instances", "Export", "User Authentication", "Security Alert"), its time and outcome; the active
participants (the person or link that acted, with their network address, and Limestone as the
application); the audit source; and the participant objects: the patient (by Limestone's opaque
patient key, never a name), the study, and the share link by its public id (never its token).

An export file holds the messages in document order under one ``<AuditMessages>`` element; each
child is a complete message that can be sent on to an audit record repository as is.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Iterable, Mapping

AUDIT_SOURCE_ID = "LIMESTONE"


@dataclass(frozen=True)
class Code:
    code: str
    meaning: str
    scheme: str = "DCM"


@dataclass(frozen=True)
class EventKind:
    event_id: Code
    action_code: str                  # C create, R read, U update, D delete, E execute
    event_type: Code | None = None


INSTANCES_ACCESSED = Code("110103", "DICOM Instances Accessed")
BEGIN_TRANSFERRING = Code("110102", "Begin Transferring DICOM Instances")
EXPORT = Code("110106", "Export")
USER_AUTHENTICATION = Code("110114", "User Authentication")
SECURITY_ALERT = Code("110113", "Security Alert")
APPLICATION_ACTIVITY = Code("110100", "Application Activity")
LOGIN, LOGOUT = Code("110122", "Login"), Code("110123", "Logout")
OBJECT_SECURITY_CHANGED = Code("110135", "Object Security Attributes Changed")
USER_SECURITY_CHANGED = Code("110137", "User Security Attributes Changed")
RESTRICTED_FUNCTION = Code("110132", "Use of Restricted Function")

# Our action -> the DICOM event it is reported as (one table, used by every export).
EVENTS: dict[str, EventKind] = {
    "view": EventKind(INSTANCES_ACCESSED, "R"),
    "download": EventKind(BEGIN_TRANSFERRING, "E"),
    "export": EventKind(EXPORT, "R"),
    "open": EventKind(USER_AUTHENTICATION, "E", LOGIN),
    "passcode_failed": EventKind(USER_AUTHENTICATION, "E", LOGIN),
    "sign_in": EventKind(USER_AUTHENTICATION, "E", LOGIN),
    "sign_out": EventKind(USER_AUTHENTICATION, "E", LOGOUT),
    "share": EventKind(SECURITY_ALERT, "C", OBJECT_SECURITY_CHANGED),
    "extend": EventKind(SECURITY_ALERT, "U", OBJECT_SECURITY_CHANGED),
    "revoke": EventKind(SECURITY_ALERT, "D", OBJECT_SECURITY_CHANGED),
    "unlock": EventKind(SECURITY_ALERT, "U", USER_SECURITY_CHANGED),
    "lockout": EventKind(SECURITY_ALERT, "E", USER_SECURITY_CHANGED),
    "refused": EventKind(SECURITY_ALERT, "E", RESTRICTED_FUNCTION),
}
FALLBACK = EventKind(APPLICATION_ACTIVITY, "E")

# EventOutcomeIndicator: 0 success, 4 minor failure, 8 serious failure, 12 major failure.
SERIOUS = {"lockout"}


def _coded(parent: ET.Element, tag: str, code: Code) -> ET.Element:
    return ET.SubElement(parent, tag, {"csd-code": code.code, "codeSystemName": code.scheme,
                                      "originalText": code.meaning})


def _outcome(event: Mapping) -> str:
    if event.get("outcome") == "success":
        return "0"
    return "8" if event.get("action") in SERIOUS else "4"


def message(event: Mapping, host: str | None = None) -> ET.Element:
    """One ``AuditMessage`` element for an audit event row."""
    kind = EVENTS.get(str(event.get("action")), FALLBACK)
    root = ET.Element("AuditMessage")
    when = str(event.get("occurred_at") or "")
    identification = ET.SubElement(root, "EventIdentification", {
        "EventActionCode": kind.action_code,
        "EventDateTime": when + ("" if when.endswith("Z") or "+" in when else "Z"),
        "EventOutcomeIndicator": _outcome(event)})
    _coded(identification, "EventID", kind.event_id)
    if kind.event_type is not None:
        _coded(identification, "EventTypeCode", kind.event_type)
    description = "; ".join(str(v) for v in (event.get("action"), event.get("detail")) if v)
    ET.SubElement(identification, "EventOutcomeDescription").text = description

    person = {"UserID": str(event.get("user_id") or "unknown"), "UserIsRequestor": "true"}
    if event.get("user_role"):
        person["UserName"] = str(event["user_role"])
    if event.get("ip"):
        person["NetworkAccessPointID"] = str(event["ip"])
        person["NetworkAccessPointTypeCode"] = "2"       # an IP address
    requestor = ET.SubElement(root, "ActiveParticipant", person)
    if kind.event_id == BEGIN_TRANSFERRING:
        _coded(requestor, "RoleIDCode", Code("110152", "Destination Role ID"))
    application = ET.SubElement(root, "ActiveParticipant", {
        "UserID": AUDIT_SOURCE_ID, "AlternativeUserID": str(event.get("source") or "limestone"),
        "UserIsRequestor": "false", "NetworkAccessPointID": host or socket.gethostname(),
        "NetworkAccessPointTypeCode": "1"})                # a machine name
    _coded(application, "RoleIDCode", Code("110150", "Application") if kind.event_id != BEGIN_TRANSFERRING
           else Code("110153", "Source Role ID"))

    source = ET.SubElement(root, "AuditSourceIdentification", {"AuditSourceID": AUDIT_SOURCE_ID})
    _coded(source, "AuditSourceTypeCode", Code("4", "Application Server Process Tier"))

    if event.get("patient_key"):
        patient = ET.SubElement(root, "ParticipantObjectIdentification", {
            "ParticipantObjectID": str(event["patient_key"]), "ParticipantObjectTypeCode": "1",
            "ParticipantObjectTypeCodeRole": "1"})
        _coded(patient, "ParticipantObjectIDTypeCode", Code("2", "Patient Number", "RFC-3881"))
    if event.get("study_instance_uid"):
        study = ET.SubElement(root, "ParticipantObjectIdentification", {
            "ParticipantObjectID": str(event["study_instance_uid"]), "ParticipantObjectTypeCode": "2",
            "ParticipantObjectTypeCodeRole": "3"})
        _coded(study, "ParticipantObjectIDTypeCode", Code("110180", "Study Instance UID"))
    if event.get("link_id"):
        link = ET.SubElement(root, "ParticipantObjectIdentification", {
            "ParticipantObjectID": str(event["link_id"]), "ParticipantObjectTypeCode": "2",
            "ParticipantObjectTypeCodeRole": "13"})     # security resource
        _coded(link, "ParticipantObjectIDTypeCode", Code("12", "URI", "RFC-3881"))
        ET.SubElement(link, "ParticipantObjectName").text = f"share link {event['link_id']}"
    return root


def document(events: Iterable[Mapping], host: str | None = None) -> bytes:
    """An XML document of ``<AuditMessages>`` holding one ``AuditMessage`` per event, oldest first."""
    root = ET.Element("AuditMessages", {"source": AUDIT_SOURCE_ID})
    for event in sorted(events, key=lambda e: (str(e.get("occurred_at")), e.get("event_id") or 0)):
        root.append(message(event, host))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
