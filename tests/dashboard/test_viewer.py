from pathlib import Path

import pytest

from archive import audit, study_keys
from archive.home import Home
from tests.support.apptest import page, texts


def key(home, role):
    return study_keys.encode(Home(Path(home.home)), home.studies[role])


def images(at):
    return at.get("image")


def test_scroll_window_invert_zoom(home):
    at = page("viewer", role="technologist", study=key(home, "ct_head")).run()
    assert not at.exception
    assert "TEST, Alpha" in texts(at)
    first = images(at)[0].value[0]
    slider = at.slider(key="viewer.0.slice")
    assert slider.max == 12
    slider.set_value(12).run()
    assert "Image 12 of 12" in images(at)[0].captions[0]
    assert images(at)[0].value[0] != first
    for preset in ("CT brain", "CT lung", "CT bone", "CT abdomen", "Custom"):
        at.selectbox(key="viewer.0.preset").select(preset).run()
        assert not at.exception and not at.warning
    at.toggle(key="viewer.0.invert").set_value(True).run()
    at.select_slider(key="viewer.0.zoom").set_value(2.0).run()
    assert not at.exception and len(images(at)) == 1


def test_viewing_is_audited_once_per_study(home):
    before = len([e for e in audit.events(Home(home.home)) if e["action"] == "view"])
    at = page("viewer", role="quality", study=key(home, "mr_knee")).run()
    at.slider(key="viewer.0.slice").set_value(2).run()
    events = [e for e in audit.events(Home(home.home)) if e["action"] == "view"]
    assert len(events) == before + 1
    assert events[0]["study_instance_uid"] == home.studies["mr_knee"]
    assert events[0]["user_id"] == "quality@example.org"
    assert events[0]["patient_key"] == home.patients["alpha"]


def test_every_transfer_syntax_in_the_series_decodes(home):
    at = page("viewer", study=key(home, "mr_knee")).run()
    for i in range(1, 6):
        at.slider(key="viewer.0.slice").set_value(i).run()
        assert not at.exception and not at.warning, i
        assert len(images(at)) == 1


def test_multiframe_colour_and_monochrome1(home):
    at = page("viewer", study=key(home, "us_abdomen")).run()
    assert not at.exception
    frame = at.slider(key="viewer.0.frame")
    assert frame.max == 30
    frame.set_value(15).run()
    assert not at.exception and len(images(at)) == 1
    at = page("viewer", study=key(home, "cr_chest")).run()
    assert not at.exception and len(images(at)) == 1


def test_missing_file_is_named_and_the_page_carries_on(home):
    at = page("viewer", study=key(home, "missing")).run()
    assert not at.exception and not at.error
    assert "missing from the vault" in "\n".join(w.value for w in at.warning)


@pytest.mark.parametrize("role", ["clerk", "manager"])
def test_roles_without_image_access_are_refused(home, role):
    at = page("viewer", role=role, study=key(home, "ct_head")).run()
    assert "does not give access" in texts(at)
    assert not images(at)
