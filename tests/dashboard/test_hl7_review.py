"""AppTest of the HL7 review page: rejected messages and waiting reports, no patient identifiers."""

from __future__ import annotations

import pytest

from archive.home import Archive
from archive.reports import inbox
from tests.support.apptest import page, texts
from tests.support.hl7_messages import oru

PATIENT_ID, PATIENT_NAME = "FAKE-7777", "FAKE^PATIENT"


@pytest.fixture(scope="module")
def review_home(tmp_path_factory):
    """A home with one waiting report, one message with bad Base64 and one that is not HL7 at all."""
    archive = Archive.load(home=str(tmp_path_factory.mktemp("hl7-review") / "home"))
    con = archive.store()
    try:
        results = [inbox.receive(archive.home, con, message, "mllp 10.9.8.7", archive.vault) for message in (
            oru("FAKE-W1", "FAKE-ACC-WAIT", "No fracture.", patient_id=PATIENT_ID),
            oru("FAKE-B64", "FAKE-ACC-B64", patient_id=PATIENT_ID,
                embedded="^application^pdf^Base64^JVBERi0x*broken*"),
            "PID|1||" + PATIENT_ID)]
    finally:
        con.close()
    assert [r.code for r in results] == ["AA", "AE", "AR"]
    return archive, results


@pytest.fixture
def review(review_home, monkeypatch):
    monkeypatch.setenv("LIMESTONE_HOME", str(review_home[0].home.root))
    return review_home


def _shown(at) -> str:
    """Every text and table cell on the page."""
    cells = [frame.value.to_string() for frame in at.dataframe]
    return texts(at) + "\n" + "\n".join(cells)


def test_admin_sees_messages_with_reasons_and_waiting_reports(review):
    archive, (_, bad_base64, not_hl7) = review
    at = page("hl7_review", "admin")
    at.run()
    assert not at.exception
    messages, waiting = at.dataframe[0].value, at.dataframe[1].value
    assert messages["Inbox #"].tolist() == [bad_base64.message_id, not_hl7.message_id]
    reasons = dict(zip(messages["Inbox #"], messages["Reason"], strict=True))
    assert "not valid Base64" in reasons[bad_base64.message_id]
    assert "must begin with an MSH segment" in reasons[not_hl7.message_id]
    assert messages["Control ID (MSH-10)"].tolist()[0] == "FAKE-B64"
    assert all(str(t).startswith("20") for t in messages["Received (UTC)"])
    assert set(messages["From"]) == {"mllp 10.9.8.7"}
    assert waiting["Accession number"].tolist() == ["FAKE-ACC-WAIT"] and waiting["Status"].tolist() == ["final"]
    shown = _shown(at)
    assert PATIENT_ID not in shown and "FAKE" + "^" not in shown and "PATIENT" not in shown


def test_quality_may_use_it_and_other_roles_are_refused(review):
    at = page("hl7_review", "quality")
    at.run()
    assert not at.exception and "HL7 review" in texts(at)
    for role in ("clerk", "technologist", "manager"):
        at = page("hl7_review", role)
        at.run()
        assert "does not give access" in texts(at), role


def test_marking_a_message_reviewed_takes_it_off_the_list_and_keeps_it(review):
    archive, (_, bad_base64, not_hl7) = review
    at = page("hl7_review", "admin")
    at.run()
    at.selectbox(key="hl7_review.message").set_value(not_hl7.message_id)
    next(b for b in at.button if b.label == "Mark reviewed").click().run()
    assert not at.exception and f"Message #{not_hl7.message_id} marked reviewed." in texts(at)
    assert at.dataframe[0].value["Inbox #"].tolist() == [bad_base64.message_id]
    kept = inbox.message(archive.home, not_hl7.message_id)
    assert kept["reviewed_by"] == "admin@example.org" and kept["raw"].startswith("PID")
    assert inbox.mark_reviewed(archive.home, not_hl7.message_id, "someone") is False   # only once
