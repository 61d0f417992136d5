"""Audit events for share-link actions and their export as DICOM audit messages (PS3.15 A.5)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from archive import audit
from archive.audit import atna as audit_messages
from archive.home import Home

ACTIONS = {  # action -> (EventID code, EventActionCode, EventTypeCode or None)
    "view": ("110103", "R", None),
    "download": ("110102", "E", None),
    "export": ("110106", "R", None),
    "open": ("110114", "E", "110122"),
    "passcode_failed": ("110114", "E", "110122"),
    "share": ("110113", "C", "110135"),
    "extend": ("110113", "U", "110135"),
    "revoke": ("110113", "D", "110135"),
    "unlock": ("110113", "U", "110137"),
    "lockout": ("110113", "E", "110137"),
    "refused": ("110113", "E", "110132"),
}


@pytest.fixture
def home(tmp_path, state_url) -> Home:
    """A home on each state backend (SQLite, PostgreSQL)."""
    return Home(tmp_path / "home", state_url=state_url)


def test_each_action_is_recorded_with_who_when_where_and_what(home):
    for n, action in enumerate(ACTIONS):
        failed = action in ("passcode_failed", "lockout", "refused")
        assert audit.record(home, audit.AuditEvent(
            action, f"link:L00000000000{n % 10}", "patient", "1.2.3.4", "pk-1",
            outcome="failure" if failed else "success", source="portal", detail=f"test {action}",
            occurred_at=datetime(2026, 5, 1, 10, n), link_id=f"L00000000000{n % 10}", ip="203.0.113.9",
            user_agent="Mozilla/5.0 test"))
    events = audit.search(home)
    assert {e["action"] for e in events} == set(ACTIONS)
    assert all(e["ip"] == "203.0.113.9" and e["user_agent"] == "Mozilla/5.0 test" and e["patient_key"] == "pk-1"
               for e in events)
    assert [e["action"] for e in audit.search(home, actions=["lockout", "open"])] == ["lockout", "open"]
    assert len(audit.search(home, since=datetime(2026, 5, 1, 10, 5), until=datetime(2026, 5, 1, 10, 7))) == 2
    assert len(audit.search(home, user="link:L000000000003")) == 1
    assert audit.search(home, user="%") == []                    # LIKE wildcards are escaped
    audit.record_many(home, audit.AuditEvent("view", "ann@example.org"), ["1.1", "1.2"])
    assert {e["study_instance_uid"] for e in audit.search(home, user="ann@")} == {"1.1", "1.2"}


def test_dicom_audit_message_structure(home):
    for n, action in enumerate(ACTIONS):
        audit.record(home, audit.AuditEvent(
            action, "clerk@example.org" if action in ("share", "extend", "revoke", "unlock") else "link:Labc",
            "clerk", "1.2.840.99.1", "pk-9", outcome="failure" if action == "lockout" else "success",
            occurred_at=datetime(2026, 5, 1, 11, n), link_id="Labcdef123456", ip="198.51.100.7"))
    xml = audit_messages.document(audit.search(home), host="archive-host")
    root = ET.fromstring(xml)
    assert root.tag == "AuditMessages"
    messages = root.findall("AuditMessage")
    assert len(messages) == len(ACTIONS)
    by_action = {}
    for message in messages:
        tags = [child.tag for child in message]
        # the order PS3.15 A.5.1 prescribes
        assert tags[0] == "EventIdentification" and tags[-1] == "ParticipantObjectIdentification"
        assert tags.count("ActiveParticipant") == 2 and tags.index("AuditSourceIdentification") == 3
        event = message.find("EventIdentification")
        assert event.get("EventDateTime").startswith("2026-05-01T11:") and event.get("EventDateTime").endswith("Z")
        code = event.find("EventID")
        assert code.get("codeSystemName") == "DCM" and code.get("originalText")
        action = event.find("EventOutcomeDescription").text.split(";")[0]
        by_action[action] = message
        expected_id, expected_action, expected_type = ACTIONS[action]
        assert code.get("csd-code") == expected_id and event.get("EventActionCode") == expected_action
        type_code = event.find("EventTypeCode")
        assert (type_code.get("csd-code") if type_code is not None else None) == expected_type
        requestor = message.findall("ActiveParticipant")[0]
        assert requestor.get("UserIsRequestor") == "true" and requestor.get("NetworkAccessPointID") == "198.51.100.7"
        assert requestor.get("NetworkAccessPointTypeCode") == "2"
        assert message.find("AuditSourceIdentification").get("AuditSourceID") == "LIMESTONE"
        objects = {o.find("ParticipantObjectIDTypeCode").get("csd-code"): o
                   for o in message.findall("ParticipantObjectIdentification")}
        assert objects["2"].get("ParticipantObjectID") == "pk-9"
        assert objects["2"].get("ParticipantObjectTypeCode") == "1"
        assert objects["110180"].get("ParticipantObjectID") == "1.2.840.99.1"
        assert objects["12"].get("ParticipantObjectID") == "Labcdef123456"
    assert by_action["lockout"].find("EventIdentification").get("EventOutcomeIndicator") == "8"
    assert by_action["view"].find("EventIdentification").get("EventOutcomeIndicator") == "0"
    transfer = by_action["download"].findall("ActiveParticipant")
    assert transfer[0].find("RoleIDCode").get("csd-code") == "110152"   # destination: the recipient
    assert transfer[1].find("RoleIDCode").get("csd-code") == "110153"   # source: Limestone
    assert b"lsl_" not in xml                                           # never a token
