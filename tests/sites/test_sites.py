"""Sites administered with ``limestone sites`` (issue 17, item 21): files of two hospitals imported
with no site known report every study under "(no site)" and no avoidable repeat; once the sites
are added, the stored studies are re-attributed and the repeat report finds the avoidable repeat."""

from __future__ import annotations

import json
from datetime import date, datetime

from tests.support.cli import limestone
from tests.support.repeat_exam_files import write

# Alice at NORTH, then 15 days later at SOUTH under another MRN (same health card: one person).
ALICE_NORTH = ("a1", "NORTH", "TEST-N", "N1", "TEST^ALICE", date(1961, 2, 3), "F", "TESTHC-1111",
               datetime(2024, 1, 10, 9), "CT", "HEAD", "CT Head without contrast")
ALICE_SOUTH = ("a2", "SOUTH", "TEST-S", "S1", "TEST^ALICE", date(1961, 2, 3), "F", "TESTHC-1111",
               datetime(2024, 1, 25, 9), "CT", "HEAD", "CT HEAD")
BOB_SOUTH = ("b1", "SOUTH", "TEST-S", "S2", "TEST^BOB", date(1970, 1, 1), "M", "",
             datetime(2024, 1, 25, 11), "DX", "CHEST", "XR Chest PA")


def _json(*args: str, home) -> dict:
    return json.loads(limestone(*args, "--json", home=home, check=True).stdout)


def _sites_of_studies(home) -> dict[str, int]:
    from archive.home import Archive
    con = Archive.load(home=str(home)).store(read_only=True)
    try:
        studies = dict(con.execute("SELECT coalesce(site, '-'), count(*) FROM studies GROUP BY ALL").fetchall())
        browse = dict(con.execute("SELECT coalesce(site, '-'), count(*) FROM study_browse GROUP BY ALL").fetchall())
    finally:
        con.close()
    assert studies == browse      # the browser's table changed with the studies
    return studies


def test_sites_added_later_reattribute_studies_and_find_avoidable_repeats(tmp_path):
    home = tmp_path / "home"
    limestone("import", str(write(tmp_path / "north", ALICE_NORTH)), home=home, check=True)
    limestone("import", str(write(tmp_path / "south", ALICE_SOUTH, BOB_SOUTH)), home=home, check=True)

    before = _json("report", "repeats", home=home)
    assert {b["site"] for b in before["by_site"]} == {"(no site)"}
    assert before["totals"]["avoidable_repeats"] == 0
    listing = _json("sites", "list", home=home)
    assert listing["sites"] == [] and listing["no_site_studies"] == 3
    assert listing["unassigned"] == {
        "issuers": [{"value": "TEST-S", "studies": 2}, {"value": "TEST-N", "studies": 1}],
        "institutions": [{"value": "TEST SOUTH", "studies": 2}, {"value": "TEST NORTH", "studies": 1}],
        "ae_titles": []}

    out = limestone("sites", "add", "north", "--name", "Test North Hospital", "--issuer", "TEST-N",
                    "--covered-since", "2020-01-01", home=home, check=True).stdout
    assert "site NORTH added; 1 stored study attributed to it" in out
    out = limestone("sites", "add", "SOUTH", "--institution", "test south", "--ae", "SOUTH_PACS",
                    "--covered-since", "2020-01-01", home=home, check=True).stdout
    assert "site SOUTH added; 2 stored studies attributed to it" in out
    assert _sites_of_studies(home) == {"NORTH": 1, "SOUTH": 2}

    after = _json("report", "repeats", home=home)
    assert after["totals"]["avoidable_repeats"] == 1
    assert {b["site"]: b["avoidable_repeats"] for b in after["by_site"] if b["avoidable_repeats"]} == {"SOUTH": 1}

    listing = _json("sites", "list", home=home)
    assert [(s["code"], s["name"], s["issuers"], s["institutions"], s["ae_titles"], s["studies"])
            for s in listing["sites"]] == [
        ("NORTH", "Test North Hospital", ["TEST-N"], [], [], 1),
        ("SOUTH", None, [], ["test south"], ["SOUTH_PACS"], 2)]
    assert listing["unassigned"] == {"issuers": [{"value": "TEST-S", "studies": 2}],
                                     "institutions": [{"value": "TEST NORTH", "studies": 1}],
                                     "ae_titles": []}

    # A value another site claims is refused; a second issuer is added to a site's list.
    refused = limestone("sites", "add", "NORTH", "--institution", "TEST SOUTH", home=home)
    assert refused.returncode == 2 and "institution 'TEST SOUTH' already belongs to site SOUTH" in refused.stderr
    limestone("sites", "add", "NORTH", "--issuer", "TEST-N2", home=home, check=True)
    assert _json("sites", "list", home=home)["sites"][0]["issuers"] == ["TEST-N", "TEST-N2"]

    # Removing a site: its studies are matched again (none left for SOUTH's) and lose it.
    out = limestone("sites", "remove", "SOUTH", home=home, check=True).stdout
    assert "site SOUTH removed; 2 of its studies matched again" in out
    assert _sites_of_studies(home) == {"NORTH": 1, "-": 2}
    assert limestone("sites", "remove", "SOUTH", home=home).returncode == 2


def test_new_imports_use_an_added_site(tmp_path):
    home = tmp_path / "home"
    limestone("sites", "add", "NORTH", "--issuer", "TEST-N", home=home, check=True)
    limestone("import", str(write(tmp_path / "north", ALICE_NORTH)), home=home, check=True)
    assert _sites_of_studies(home) == {"NORTH": 1}
    assert limestone("sites", "add", "bad code!", home=home).returncode == 2
