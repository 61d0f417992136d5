"""The Repeat exams page on the ground-truth archive of tests/support/repeats_world.py."""

from datetime import date, datetime

import pytest

from archive.home import Archive
from archive.ingest.run import import_paths
from tests.support import repeats_world as world
from tests.support.apptest import page, raw_labels, texts
from tests.support.repeat_exam_files import write


def _build(home):
    con = Archive.load(home=str(home)).store()
    built = world.build(con)
    con.close()
    return built


@pytest.fixture(scope="module")
def repeats_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("repeats_page") / "home"
    _build(home)
    return home


@pytest.fixture
def home(repeats_home, monkeypatch):
    monkeypatch.setenv("LIMESTONE_HOME", str(repeats_home))
    return repeats_home


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame(at, *columns):
    """The first table that has all ``columns`` (AppTest dataframes carry no key)."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    return None


def test_manager_sees_the_numbers_without_patient_details(home):
    at = page("repeats", role="manager").run()
    assert not at.exception and not at.error
    m = metrics(at)
    assert (m["Studies"], m["Repeats"], m["Avoidable repeats"], m["Avoided repeats"]) == ("20", "6", "3", "3")
    assert m["Repeat rate"] == "30.0%" and m["Cost avoided"] == "CAD 335"
    assert m["Persons"] == "13" and m["Conflicts to review"] == "5"
    assert len(at.get("plotly_chart")) == 5
    avoidable = frame(at, "Days after prior")
    assert len(avoidable) == 3 and "Patient" not in avoidable.columns
    assert set(avoidable["Prior site"]) == {"NORTH"}
    assert raw_labels(at) == []
    assert "quality and admin roles only" in texts(at)
    assert {b.key for b in at.get("download_button")} == {
        f"repeats.{name}.csv" for name in ("rate", "counts", "site", "modality", "class", "dose_table",
                                           "avoidable", "priors", "classes_table")}


def test_quality_sees_the_drill_down_and_the_review_list(home):
    at = page("repeats", role="quality").run()
    assert not at.exception and not at.error
    avoidable = frame(at, "Days after prior")
    assert "Patient" in avoidable.columns
    conflicts = frame(at, "Kind", "Detail")
    assert set(conflicts["Kind"]) == world.EXPECTED_CONFLICT_KINDS
    priors = frame(at, "Outcome")
    assert raw_labels(at) == []
    assert sorted(priors["Outcome"]) == ["avoided", "avoided", "avoided", "repeated", "repeated"]
    assert "Managers and admins can change" in texts(at)


def test_filters(home):
    at = page("repeats", role="manager").run()
    at.multiselect(key="repeats.sites").select("SOUTH").run()
    m = metrics(at)
    assert (m["Studies"], m["Repeats"], m["Avoidable repeats"]) == ("7", "4", "3")
    at.multiselect(key="repeats.modalities").select("XR").run()
    assert metrics(at)["Repeats"] == "1"


def test_admin_changes_a_window_and_the_numbers_follow(tmp_path, monkeypatch):
    home = tmp_path / "home"
    _build(home)
    monkeypatch.setenv("LIMESTONE_HOME", str(home))
    at = page("repeats", role="admin").run()
    assert metrics(at)["Repeats"] == "6"
    at.selectbox(key="repeats.edit_class.code").select("CT_CHEST").run()
    at.number_input(key="repeats.edit_class.window.CT_CHEST").set_value(31)
    at.button(key="repeats.edit_class.save").click().run()
    assert not at.exception
    assert "CT_CHEST saved" in texts(at)
    at.run()
    assert metrics(at)["Repeats"] == "7"


def test_the_numbers_are_fresh_after_an_import(tmp_path, monkeypatch):
    home = tmp_path / "home"
    _build(home)
    monkeypatch.setenv("LIMESTONE_HOME", str(home))
    # Alice's CT chest again at NORTH, five days after the one at SOUTH: an avoidable repeat.
    folder = write(tmp_path / "new", ("alice_ct4", "NORTH", "TEST-N", "N1", "TEST^ALICE", date(1961, 2, 3), "F",
                                      "TESTHC-1111", datetime(2024, 3, 16, 9), "CT", "CHEST", "CT CHEST"))
    assert import_paths(Archive.load(home=str(home)), [folder], workers=1).imported == 1
    at = page("repeats", role="manager").run()
    assert not at.exception and not at.error
    m = metrics(at)
    assert (m["Studies"], m["Repeats"], m["Avoidable repeats"]) == ("21", "7", "4")
    assert not [w for w in at.warning if "changed after these numbers" in w.value]
    assert [c for c in at.caption if c.value.startswith("Computed ")]


def test_clerk_and_technologist_are_refused(home):
    for role in ("clerk", "technologist"):
        at = page("repeats", role=role).run()
        assert "does not give access" in texts(at)
        assert not at.get("plotly_chart")


def test_empty_archive(empty_home):
    at = page("repeats", role="manager").run()
    assert not at.exception and not at.error
    assert "archive is empty" in texts(at)


def test_stale_numbers_offer_the_pages_own_recompute(tmp_path, monkeypatch):
    home = tmp_path / "home"
    _build(home)
    monkeypatch.setenv("LIMESTONE_HOME", str(home))
    folder = write(tmp_path / "new", ("alice_ct4", "NORTH", "TEST-N", "N1", "TEST^ALICE", date(1961, 2, 3), "F",
                                      "TESTHC-1111", datetime(2024, 3, 16, 9), "CT", "CHEST", "CT CHEST"))
    archive = Archive.load(home=str(home))
    assert import_paths(archive, [folder], workers=1, update_repeats=False).imported == 1
    at = page("repeats", role="manager").run()
    notices = " ".join(w.value for w in at.warning)
    assert "changed after these numbers" in notices
    assert "limestone " not in texts(at) and "`" not in notices          # no shell command to type
    assert "Recompute now" in notices
    next(b for b in at.button if b.key == "repeats.recompute").click().run()
    assert not at.exception and "Recomputed for 21 studies" in texts(at)
    assert not [w for w in at.warning if "changed after these numbers" in w.value]
    assert metrics(at)["Studies"] == "21"
    # A role that may not recompute is told who can, not a command.
    at = page("repeats", role="quality").run()
    assert "limestone " not in texts(at)
