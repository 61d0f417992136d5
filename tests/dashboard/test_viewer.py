"""The viewer page: it mounts the client-side viewer over the series, with a grant the image
endpoint accepts, audits the study once, and refuses roles without image access. What the
browser does with the frames is tested in tests/dashboard/test_viewer_e2e.py; the frames themselves
(every transfer syntax, multi-frame, colour, a missing file) in tests/viewing."""

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archive import audit, study_keys
from archive.home import Home
from dashboard import image_server
from tests.support.apptest import page, texts, viewers


def key(home, role):
    return study_keys.encode(Home(Path(home.home)), home.studies[role])


def test_the_viewer_is_mounted_with_a_grant_for_this_study(home):
    at = page("viewer", role="technologist", study=key(home, "ct_head")).run()
    assert not at.exception
    assert "TEST, Alpha" in texts(at)
    (viewer,) = viewers(at)
    (pane,) = viewer["panes"]
    assert pane["count"] == 12 and pane["body"]["series"] == 1
    assert set(viewer["presets"]) >= {"CT brain", "CT lung"}
    dumped = json.dumps(viewer)
    assert home.studies["ct_head"] not in dumped and "Alpha" not in dumped   # no UID, no patient data
    client = TestClient(image_server.create_app())
    ok = client.post("/v1/chunk", content=json.dumps(dict(pane["body"], start=0, count=2)))
    assert ok.status_code == 200 and len(ok.content) > 2 * 64 * 64
    other = client.post("/v1/chunk", content=json.dumps(dict(pane["body"], series=99, start=0, count=1)))
    assert other.status_code == 403


def test_viewing_is_audited_once_per_study(home):
    before = len([e for e in audit.events(Home(home.home)) if e["action"] == "view"])
    at = page("viewer", role="quality", study=key(home, "mr_knee")).run()
    at.run()
    events = [e for e in audit.events(Home(home.home)) if e["action"] == "view"]
    assert len(events) == before + 1
    assert events[0]["study_instance_uid"] == home.studies["mr_knee"]
    assert events[0]["user_id"] == "quality@example.org"
    assert events[0]["patient_key"] == home.patients["alpha"]


def test_multiframe_counts_every_frame(home):
    at = page("viewer", study=key(home, "us_abdomen")).run()
    assert not at.exception
    assert viewers(at)[0]["panes"][0]["count"] == 30


@pytest.mark.parametrize("role", ["clerk", "manager"])
def test_roles_without_image_access_are_refused(home, role):
    at = page("viewer", role=role, study=key(home, "ct_head")).run()
    assert "does not give access" in texts(at)
    assert not viewers(at)


def test_an_emr_launch_by_uid_lands_on_the_opaque_key(home):
    at = page("viewer", role="technologist", StudyInstanceUIDs=home.studies["ct_head"]).run()
    assert not at.exception
    assert "StudyInstanceUIDs" not in at.query_params
    assert at.query_params["study"] == [key(home, "ct_head")] or at.query_params["study"] == key(home, "ct_head")
    assert len(viewers(at)) == 1


def test_without_a_study_the_viewer_offers_a_search(home):
    at = page("viewer", role="technologist").run()
    assert not at.exception and not viewers(at)
    at.text_input(key="viewer.find").input("N1001").run()
    pick = at.selectbox(key="viewer.pick")
    pick.select_index(0).run()
    assert not at.exception and len(viewers(at)) == 1
