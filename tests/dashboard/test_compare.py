"""AppTest of the comparison page on generated series with known offsets (tests/support/compare_world.py)."""

from pathlib import Path

import pytest

from archive import audit, study_keys
from archive.home import Archive, Home
from tests.support import compare_world as world
from tests.support.apptest import page, texts


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


def prior_slider(at):
    return next(s for s in at.slider if s.key.endswith(".slice") and s.key != "compare.cur.slice")


def test_opens_with_ranked_priors_side_by_side_and_is_audited(cmp_home):
    home, images = cmp_home
    before = len(audit.events(Home(Path(home))))
    at = open_compare(cmp_home)
    assert not at.exception and not at.error
    shown = texts(at)
    assert "TEST, Compare" in shown
    assert "different frame of reference" in shown
    assert "Pixel size differs (2.00 mm on the current, 2.20 mm on the prior)" in shown
    assert len(at.get("image")) == 2
    table = at.dataframe[0].value
    assert list(table["Description"])[:2] == ["CT Chest with contrast", "CT Chest with contrast"]
    assert list(table["Site"])[:1] == ["NORTH"]
    events = audit.events(Home(Path(home)))[: len(audit.events(Home(Path(home)))) - before]
    assert {e["study_instance_uid"] for e in events} == {images.uids["current"], images.uids["prior"]}
    assert all(e["action"] == "view" and "comparison" in e["detail"] for e in events)


def test_suggested_link_then_scrolling_keeps_the_prior_in_step(cmp_home):
    at = open_compare(cmp_home)
    suggest = next(b for b in at.button if b.label == "Suggest link")
    suggest.click().run()
    assert not at.exception
    assert "Suggested link: -115.0 mm" in texts(at)
    # current slice k (height 20 + 5k) is prior slice k - 4 (height 40 + 5j)
    for k in (5, 12, 29):
        at.slider(key="compare.cur.slice").set_value(k + 1).run()
        assert prior_slider(at).value == k - 4 + 1
    at.slider(key="compare.cur.slice").set_value(2).run()
    assert prior_slider(at).value == 1 and "beyond this prior's images" in texts(at)


def test_link_at_this_slice_fixes_the_offset_the_user_chose(cmp_home):
    at = open_compare(cmp_home)
    at.slider(key="compare.cur.slice").set_value(11).run()
    prior_slider(at).set_value(5).run()                     # the user finds the same anatomy by eye
    assert at.slider(key="compare.cur.slice").value == 11
    next(b for b in at.button if b.label == "Link at this slice").click().run()
    assert "Linked with offset" in texts(at)
    at.slider(key="compare.cur.slice").set_value(21).run()
    assert prior_slider(at).value == 15                       # the same 10-slice step on both
    radio = next(r for r in at.radio if r.key.endswith(".mode"))
    radio.set_value("off").run()
    at.slider(key="compare.cur.slice").set_value(25).run()
    assert prior_slider(at).value == 15                       # not linked: the prior stays


def test_prior_without_positions_opens_with_a_plain_note(cmp_home):
    at = open_compare(cmp_home)
    choice = at.multiselect(key="compare.priors")
    old = next(i for i, label in enumerate(choice.options) if label.startswith("2022-01-05"))
    choice.set_value([old]).run()                          # the old CT: no position information
    assert not at.exception
    shown = texts(at)
    assert "no slice position information" in shown and "linked by image number" in shown
    assert "Prior · 2022-01-05" in shown.replace("**", "")
    assert len(at.get("image")) == 2


def test_measure_on_prior_and_copy_to_current(cmp_home):
    at = open_compare(cmp_home)
    keys = [n.key for n in at.number_input]
    prior_prefix = next(k.rsplit(".", 1)[0] for k in keys if not k.startswith("compare.cur."))
    for name, value in (("r0", 64), ("c0", 20), ("r1", 64), ("c1", 70)):
        at.number_input(key=f"{prior_prefix}.{name}").set_value(value).run()
    next(b for b in at.button if b.key == f"{prior_prefix}.add").click().run()
    assert "M1 110.0 mm" in texts(at).replace("**", "")          # 50 px x 2.2 mm
    next(b for b in at.button if b.label == "Copy to current").click().run()
    assert "M1 (copied) 110.0 mm" in texts(at).replace("**", "")
    at.radio(key="compare.cur.tool").set_value("Region").run()
    next(b for b in at.button if b.key == "compare.cur.add").click().run()
    assert "HU, SD" in texts(at)


def test_radiograph_difference_view(cmp_home):
    at = open_compare(cmp_home, "cr_now")
    assert not at.exception
    at.toggle(key="compare.difference").set_value(True).run()
    assert not at.exception
    shown = texts(at)
    assert "Difference: current − registered prior" in shown
    assert "shifted by -3.5 mm (rows), +2.5 mm (columns)" in shown     # 7 and 5 px of 0.5 mm
    assert len(at.get("image")) == 3


def test_no_priors_invalid_key_and_roles(cmp_home):
    home, images = cmp_home
    at = open_compare(cmp_home, "old")
    assert "no earlier studies" in texts(at)
    at = page("compare", role="technologist", study="not-a-key").run()
    assert "not valid here" in texts(at)
    at = open_compare(cmp_home, role="clerk")
    assert "does not give access" in texts(at) and not at.get("image")


def test_find_the_current_study_by_patient_id(cmp_home):
    at = page("compare", role="quality").run()
    assert not at.exception and not at.get("image")
    at.text_input(key="compare.find").input("TESTS66").run()
    pick = at.selectbox(key="compare.pick")
    current = next(i for i, label in enumerate(pick.options) if label.startswith("2025-03-10"))
    pick.select_index(current).run()
    assert not at.exception
    assert "Compare: CT Chest with contrast" in texts(at) and len(at.get("image")) == 2
    assert "1.2.826" not in str(at.query_params["study"])


def test_window_and_zoom_sync_and_a_missing_prior_image(cmp_home):
    home, images = cmp_home
    at = open_compare(cmp_home)
    prior_presets = [s for s in at.selectbox if s.key.endswith(".preset") and s.key != "compare.cur.preset"]
    assert len(prior_presets) == 1
    at.toggle(key="compare.sync_window").set_value(True).run()
    at.toggle(key="compare.sync_zoom").set_value(True).run()
    at.selectbox(key="compare.cur.preset").select("CT lung").run()
    assert not at.exception and len(at.get("image")) == 2
    assert not [s for s in at.selectbox if s.key.endswith(".preset") and s.key != "compare.cur.preset"]
    # The old CT's last image is lost from the vault: named, and the rest still shows.
    archive = Archive.load(home=str(home))
    con = archive.store(read_only=True)
    try:
        lost = con.execute("SELECT content_hash FROM instances WHERE study_instance_uid = ? "
                           "ORDER BY instance_number DESC LIMIT 1", [images.uids["old"]]).fetchone()[0]
    finally:
        con.close()
    archive.vault.path_for(lost).unlink()
    choice = at.multiselect(key="compare.priors")
    old = next(i for i, label in enumerate(choice.options) if label.startswith("2022-01-05"))
    choice.set_value([old]).run()
    prior_slider(at).set_value(20).run()
    assert not at.exception
    assert "Image 20 of 20 is missing from the vault" in "\n".join(w.value for w in at.warning)
    prior_slider(at).set_value(19).run()
    assert len(at.get("image")) == 2
