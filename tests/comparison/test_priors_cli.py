"""``limestone priors STUDY_UID --json``: the real command in a subprocess."""

import json

import pytest

from archive.home import Archive
from tests.support import compare_world as world
from tests.support.cli import limestone


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("priors_cli") / "home"
    con = Archive.load(home=str(home)).store()
    try:
        built = world.build_rows(con)
    finally:
        con.close()
    return home, built


def test_json_lists_ranked_priors_with_the_contract_fields(home):
    path, built = home
    result = limestone("priors", built.uids["current"], "--json", home=path, check=True)
    rows = json.loads(result.stdout)
    assert [r["study_instance_uid"] for r in rows[:2]] == [built.uids["ct_chest_6m"], built.uids["ct_chest_2y"]]
    assert len(rows) == 6
    for row in rows:
        assert {"study_instance_uid", "study_date", "site", "modality", "description", "score"} <= set(row)
    assert rows[0] == {**rows[0], "study_date": "2024-09-12", "site": "NORTH", "modality": "CT",
                       "description": "CT Chest with contrast"}
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_table_limit_and_unknown_study(home):
    path, built = home
    result = limestone("priors", built.uids["current"], "--limit", "2", home=path, check=True)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and "CT Chest with contrast" in lines[1] and "NORTH" in lines[1]
    missing = limestone("priors", "1.2.3.4.5.6", home=path)
    assert missing.returncode == 1 and "not in the archive" in missing.stderr
    earliest = limestone("priors", built.uids["us_neck_5y"], "--json", home=path, check=True)
    assert json.loads(earliest.stdout) == []
