"""AppTest of the comparison page on generated series with known offsets (tests/support/compare_world.py)."""

from pathlib import Path

import pytest

from archive import audit, study_keys
from archive.home import Archive, Home
from tests.support import compare_world as world
from tests.support.apptest import page, texts, viewers


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("compare") / "home"
    return home, world.build_images(Archive.load(home=str(home)))


@pytest.fixture
def cmp_home(built, monkeypatch):
    home, images = built
    monkeypatch.setenv("LIMESTONE_HOME", str(home))
    return home, images


def open_compare(cmp_home, study="current", role="technologist"):
    home, images = cmp_home
    return page("compare", role=role, study=study_keys.encode(Home(Path(home)), images.uids[study])).run()


def link_of(at) -> dict:
    (viewer,) = viewers(at)
    return viewer.get("link") or {}


def test_opens_with_ranked_priors_side_by_side_and_is_audited(cmp_home):
    home, images = cmp_home
    before = len(audit.events(Home(Path(home))))
    at = open_compare(cmp_home)
    assert not at.exception and not at.error
    shown = texts(at)
    assert "TEST, Compare" in shown
    assert "different frame of reference" in shown
    assert "Pixel size differs (2.00 mm on the current, 2.20 mm on the prior)" in shown
    (viewer,) = viewers(at)
    assert [p["count"] for p in viewer["panes"]] == [30, 30]
    assert images.uids["current"] not in str(viewer) and "TEST" not in str(viewer)
    table = at.dataframe[0].value
    assert list(table["Description"])[:2] == ["CT Chest with contrast", "CT Chest with contrast"]
    assert list(table["Site"])[:1] == ["NORTH"]
    events = audit.events(Home(Path(home)))[: len(audit.events(Home(Path(home)))) - before]
    assert {e["study_instance_uid"] for e in events} == {images.uids["current"], images.uids["prior"]}
    assert all(e["action"] == "view" and "comparison" in e["detail"] for e in events)


def test_suggested_link_is_applied_in_the_browser(cmp_home):
    at = open_compare(cmp_home)
    next(b for b in at.button if b.label == "Suggest link").click().run()
    assert not at.exception
    assert "Suggested link: -115.0 mm" in texts(at)
    link = link_of(at)
    # current slice k (height 20 + 5k) is prior slice k - 4 (height 40 + 5j), and back
    for k in (5, 12, 29):
        assert link["0>1"][k] == k - 4 and link["1>0"][k - 4] == k
    assert link["0>1"][1] == 0                                   # beyond the prior: its nearest image


def test_link_at_this_slice_fixes_the_offset_the_user_chose(cmp_home):
    at = open_compare(cmp_home)
    at.session_state["compare.positions"] = [10, 4]     # what the viewer reports: the user found the anatomy
    next(b for b in at.button if b.label == "Link at this slice").click().run()
    assert "Linked with offset" in texts(at)
    assert link_of(at)["0>1"][20] == 14                  # the same 10-slice step on both
    radio = next(r for r in at.radio if r.key.endswith(".mode"))
    radio.set_value("off").run()
    assert link_of(at) == {}                             # not linked: the prior stays


def test_prior_without_positions_opens_with_a_plain_note(cmp_home):
    at = open_compare(cmp_home)
    choice = at.multiselect(key="compare.priors")
    old = next(i for i, label in enumerate(choice.options) if label.startswith("2022-01-05"))
    choice.set_value([old]).run()                          # the old CT: no position information
    assert not at.exception
    shown = texts(at)
    assert "no slice position information" in shown and "linked by image number" in shown
    assert "Prior 1 · 2022-01-05" in shown.replace("**", "")
    assert len(viewers(at)[0]["panes"]) == 2 and link_of(at)["0>1"][3] == 3


def test_radiograph_difference_view(cmp_home):
    at = open_compare(cmp_home, "cr_now")
    assert not at.exception
    at.toggle(key="compare.difference").set_value(True).run()
    assert not at.exception
    shown = texts(at)
    assert "Difference: current − registered prior" in shown
    assert "shifted by -3.5 mm (rows), +2.5 mm (columns)" in shown     # 7 and 5 px of 0.5 mm


def test_no_priors_invalid_key_and_roles(cmp_home):
    home, images = cmp_home
    at = open_compare(cmp_home, "old")
    assert "no earlier studies" in texts(at)
    at = page("compare", role="technologist", study="not-a-key").run()
    assert "not valid here" in texts(at)
    at = open_compare(cmp_home, role="clerk")
    assert "does not give access" in texts(at) and not viewers(at)


def test_find_the_current_study_by_patient_id(cmp_home):
    at = page("compare", role="quality").run()
    assert not at.exception and not viewers(at)
    at.text_input(key="compare.find").input("TESTS66").run()
    pick = at.selectbox(key="compare.pick")
    current = next(i for i, label in enumerate(pick.options) if label.startswith("2025-03-10"))
    pick.select_index(current).run()
    assert not at.exception
    assert "Compare: CT Chest with contrast" in texts(at) and len(viewers(at)[0]["panes"]) == 2
    assert "1.2.826" not in str(at.query_params["study"])


def test_window_and_zoom_follow_on_request(cmp_home):
    at = open_compare(cmp_home)
    assert viewers(at)[0]["follow"] is False
    at.toggle(key="compare.sync_window").set_value(True).run()
    assert not at.exception and viewers(at)[0]["follow"] is True
