"""``limestone demo``: the synthetic regional archive lands in the store, once."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from archive.home import Archive
from pipelines.cli import main
from tests.support.browse_table_check import assert_browse_table_current

PATIENTS = 5


def _rows(home: Path, sql: str):
    con = Archive.load(home=str(home)).store(read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _counts(home: Path) -> dict:
    return {table: _rows(home, f"SELECT count(*) FROM {table}")[0][0]
            for table in ("sites", "patients", "studies", "series", "instances")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One demo built through the CLI, with its manifest and the stdout of the run."""
    home = tmp_path_factory.mktemp("home")
    manifest_path = home.parent / "demo_manifest.json"
    code = main(["--home", str(home), "demo", "--patients", str(PATIENTS), "--manifest", str(manifest_path)])
    return home, json.loads(manifest_path.read_text()), code


def test_demo_builds_the_region_and_its_studies(built):
    home, manifest, code = built
    assert code == 0
    sites = dict(_rows(home, "SELECT site, issuer_of_patient_id FROM sites"))
    assert sites == {"CITY": "DEMO-CUH", "NORTH": "DEMO-NGH", "VALLEY": "DEMO-VDH",
                     "COAST": "DEMO-CCH", "EXT": None}
    assert len(manifest["people"]) == PATIENTS
    expected_patients = {(s["patient_id"], s["issuer_of_patient_id"]) for s in manifest["studies"]}
    stored_patients = set(_rows(home, "SELECT patient_id, issuer_of_patient_id FROM patients WHERE site <> 'EXT'"))
    assert stored_patients == expected_patients
    assert len(expected_patients) > PATIENTS          # some people are known at two sites


def test_every_demo_study_is_in_the_browse_table(built):
    home, manifest, _ = built
    con = Archive.load(home=str(home)).store(read_only=True)
    try:
        assert_browse_table_current(con)
        assert con.execute("SELECT count(*) FROM study_browse").fetchone()[0] >= len(manifest["studies"])
    finally:
        con.close()


def test_every_study_is_assigned_to_its_site_with_its_modality(built):
    home, manifest, _ = built
    stored = {uid: (site, modalities) for uid, site, modalities in _rows(
        home, "SELECT study_instance_uid, site, modalities FROM studies WHERE site <> 'EXT'")}
    expected = {s["study_instance_uid"]: (s["site"], [s["modality"]]) for s in manifest["studies"]}
    assert stored == expected
    by_modality = Counter(m for _, ms in stored.values() for m in ms)
    assert {"CT", "MR", "US", "MG"} <= by_modality.keys()
    assert by_modality["CR"] + by_modality["DX"] > 0
    instances = sum(series["instances"] for s in manifest["studies"] for series in s["series"])
    assert _rows(home, "SELECT count(*) FROM instances i JOIN studies s USING (study_instance_uid) "
                       "WHERE s.site <> 'EXT'")[0][0] == instances


def test_ct_series_keep_geometry_and_dose(built):
    home, _, _ = built
    rows = _rows(home, "SELECT i.image_position_patient, i.pixel_spacing, i.slice_thickness, i.ctdi_vol, "
                       "i.window_center, se.frame_of_reference_uid FROM instances i "
                       "JOIN series se USING (series_instance_uid) WHERE se.modality = 'CT' "
                       "AND se.study_instance_uid IN (SELECT study_instance_uid FROM studies WHERE site <> 'EXT')")
    assert rows and all(len(r[0]) == 3 and len(r[1]) == 2 and r[2] > 0 and r[3] > 0 and r[5] for r in rows)


def test_repeats_at_another_site_are_in_the_store(built):
    home, manifest, _ = built
    avoidable = [s for s in manifest["studies"] if s["avoidable"]]
    assert avoidable
    sites = dict(_rows(home, "SELECT study_instance_uid, site FROM studies"))
    for study in avoidable:
        assert sites[study["study_instance_uid"]] != sites[study["repeat_of"]]


def test_pydicom_test_files_come_in_as_the_external_site(built):
    home, _, _ = built
    studies, syntaxes = _rows(home, "SELECT count(DISTINCT i.study_instance_uid), "
                                    "count(DISTINCT i.transfer_syntax_uid) FROM instances i "
                                    "JOIN studies s USING (study_instance_uid) WHERE s.site = 'EXT'")[0]
    assert studies >= 10 and syntaxes >= 6


def test_a_second_run_adds_nothing(built, capsys):
    home, _, _ = built
    before = _counts(home)
    capsys.readouterr()
    assert main(["--home", str(home), "demo", "--patients", str(PATIENTS)]) == 0
    assert "Nothing new" in capsys.readouterr().out
    assert _counts(home) == before


def test_patients_must_be_positive(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "demo", "--patients", "0"]) == 2
    assert "--patients" in capsys.readouterr().err
