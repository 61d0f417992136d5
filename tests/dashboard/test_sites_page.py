"""AppTest of the Sites page (admins): sites, unassigned values, adding a site re-attributes."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from archive.home import Archive
from archive.ingest.run import import_paths
from tests.support.apptest import page, texts
from tests.support.repeat_exam_files import write

NORTH = ("a1", "NORTH", "TEST-N", "N1", "TEST^ALICE", date(1961, 2, 3), "F", "",
         datetime(2024, 1, 10, 9), "CT", "HEAD", "CT Head")
SOUTH = ("a2", "SOUTH", "TEST-S", "S1", "TEST^BOB", date(1970, 2, 3), "M", "",
         datetime(2024, 1, 25, 9), "CT", "HEAD", "CT Head")


@pytest.fixture
def two_hospitals(tmp_path, monkeypatch):
    archive = Archive.load(home=str(tmp_path / "home"))
    import_paths(archive, [write(tmp_path / "files", NORTH, SOUTH)])
    monkeypatch.setenv("LIMESTONE_HOME", str(archive.home.root))
    return archive


def _site_of_studies(archive) -> dict:
    con = archive.store(read_only=True)
    try:
        return dict(con.execute("SELECT institution_name, site FROM studies").fetchall())
    finally:
        con.close()


def test_admin_adds_a_site_from_the_unassigned_values(two_hospitals):
    at = page("sites", "admin")
    at.run()
    assert not at.exception
    shown = texts(at)
    assert "No site yet" in shown and "2 studies have no site." in shown
    assert at.dataframe[0].value["MRN issuers"].tolist() == ["TEST-N", "TEST-S"]
    assert at.dataframe[1].value["Institution names"].tolist() == ["TEST NORTH", "TEST SOUTH"]

    at.text_input(key="sites.code").input("north")
    at.multiselect(key="sites.issuers").select("TEST-N")
    next(b for b in at.button if b.label == "Save site").click()
    at.run()
    assert not at.exception
    assert "Site NORTH added; 1 stored study attributed to it." in texts(at)
    assert _site_of_studies(two_hospitals) == {"TEST NORTH": "NORTH", "TEST SOUTH": None}
    table = at.dataframe[0].value
    assert table[["Code", "MRN issuers", "Studies"]].values.tolist() == [["NORTH", "TEST-N", 1]]


@pytest.mark.parametrize("role", ["manager", "technologist", "quality", "clerk"])
def test_other_roles_are_refused(two_hospitals, role):
    at = page("sites", role)
    at.run()
    assert "does not give access to Sites" in texts(at)
    assert not at.dataframe
