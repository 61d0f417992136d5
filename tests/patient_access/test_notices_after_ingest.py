"""'You have new images' goes out by itself at the end of an import that filed new studies: once,
without patient data; a failing SMTP server never fails the import and the notice stays due."""

from __future__ import annotations

import logging

import pytest

from archive.patient_access import accounts, actions
from archive.patient_access.notices import notify_new_images
from pipelines.cli import main as limestone_main
from tests.support.orthanc_server import free_port
from tests.support.patient_flows import CLERK
from tests.support.patient_world import P_BIRTH, P_NORTH, P_SOUTH

pytestmark = pytest.mark.integration
MAIL = "auto.notice.fake@example.org"
PORTAL = "http://localhost:8599"


@pytest.fixture(scope="module")
def enrolled(own_world):
    """Its own world (the shared one's accounts would get notices too), P enrolled."""
    world = own_world
    archive = world.archive(portal_base_url=PORTAL)
    issued = actions.invite_patient(archive, P_NORTH, MAIL, CLERK, issuer="NORTH", send_email=False).issued
    assert accounts.enrol(archive.home, issued.token, P_BIRTH).ok
    return world


def _notices(smtp) -> list:
    return [m for m in smtp.messages if m["To"] == MAIL]


def test_import_of_a_new_study_sends_one_notice_and_a_second_import_none(enrolled, smtp, monkeypatch):
    monkeypatch.setenv("LIMESTONE_SMTP_URL", smtp.url)
    monkeypatch.setenv("LIMESTONE_PORTAL_BASE_URL", PORTAL)
    before = len(_notices(smtp))
    enrolled.import_later_study("FAKE AUTO CT", "20260501")     # `limestone import`, nobody runs notify
    sent = _notices(smtp)[before:]
    assert len(sent) == 1
    body = sent[0].get_payload(decode=True).decode()
    assert sent[0]["Subject"] == "You have new images" and PORTAL + "/me" in body
    for phi in ("FAKE", P_NORTH, P_SOUTH, P_BIRTH, "PAT"):
        assert phi not in body and phi not in sent[0]["Subject"]
    # The same files again: nothing new was filed, nothing is sent.
    folder = enrolled.root / "FAKE_AUTO_CT"
    assert limestone_main(["--home", str(enrolled.home), "import", str(folder)]) == 0
    assert len(_notices(smtp)) == before + 1


def test_a_mail_failure_never_fails_the_import_and_the_next_run_sends(enrolled, smtp, monkeypatch, caplog):
    monkeypatch.setenv("LIMESTONE_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")   # nobody listens
    monkeypatch.setenv("LIMESTONE_PORTAL_BASE_URL", PORTAL)
    before = len(_notices(smtp))
    with caplog.at_level(logging.WARNING):
        enrolled.import_later_study("FAKE RETRY CT", "20260601")   # asserts the import's exit code 0
    said = "\n".join(r.getMessage() for r in caplog.records if r.name == "limestone.patient_access")
    assert "not sent" in said
    assert MAIL not in said and P_SOUTH not in said and "FAKE" not in said
    assert len(_notices(smtp)) == before
    # Still due: the next run (here by hand, as the next import would) sends it, once.
    archive = enrolled.archive(smtp_url=smtp.url, portal_base_url=PORTAL)
    assert notify_new_images(archive) == 1
    assert notify_new_images(archive) == 0
    assert len(_notices(smtp)) == before + 1
