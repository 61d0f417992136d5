"""``limestone deid`` on a small archive: files, Parquet table, flagged objects, repeatability."""

from __future__ import annotations

import shutil

import pandas as pd
import pydicom
import pytest

from archive import audit
from archive.home import Archive
from archive.ingest.run import import_paths
from pipelines.cli import main
from tests.support.cli import limestone
from tests.support.samples import pydicom_file


@pytest.fixture(autouse=True)
def modality_rule(monkeypatch):
    """These tests use the modality rule for burned-in text (a setting); tests/deid/test_burned_in.py
    covers text found in the pixels."""
    monkeypatch.setenv("LIMESTONE_DEID_BURNED_IN", "modality")


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory, ct_folder) -> Archive:
    """60 CT instances in 3 studies, plus one ultrasound file (burned-in text expected)."""
    root = tmp_path_factory.mktemp("deid")
    extra = root / "extra"
    extra.mkdir()
    shutil.copy(pydicom_file("examples_ybr_color.dcm"), extra / "us.dcm")
    archive = Archive.load(home=str(root / "home"))
    import_paths(archive, [ct_folder, extra], workers=1)
    return archive


def _studies(archive: Archive) -> dict[str, str]:
    con = archive.store(read_only=True)
    try:
        return dict(con.execute("SELECT study_instance_uid, list_distinct(modalities)[1] FROM studies").fetchall())
    finally:
        con.close()


def test_deid_exports_files_and_table_without_identifiers(small_archive, tmp_path):
    studies = _studies(small_archive)
    ct = sorted(uid for uid, mod in studies.items() if mod == "CT")[:2]
    us = [uid for uid, mod in studies.items() if mod == "US"]
    out = tmp_path / "export"
    result = limestone("deid", "--study", *ct, *us, "--out", str(out), "--shift-dates", home=small_archive.home.root)
    assert result.returncode == 0, result.stderr
    assert "De-identified 40 instances of 3 studies" in result.stdout and "1 held back" in result.stdout
    files = sorted((out / "dicom").rglob("*.dcm"))
    assert len(files) == 40
    table = pd.read_parquet(out / "instances.parquet")
    assert len(table) == 41 and table["exported"].sum() == 40
    assert table.loc[~table["exported"], "burned_in_reason"].str.contains("US").all()
    assert table["burned_in"].dtype == bool and table["burned_in"].sum() == 1
    assert table["pseudonym"].nunique() == 3 and table["study_instance_uid"].nunique() == 3
    assert set(table["study_instance_uid"]).isdisjoint(studies)
    flagged = pd.read_csv(out / "flagged.csv")
    assert len(flagged) == 1 and not (out / "burned_in").exists()
    assert flagged["file"].iloc[0].startswith("(held back) burned_in/") and bool(flagged["burned_in"].iloc[0])
    for path in files[:5] + files[-5:]:
        raw = path.read_bytes()
        assert b"SAMPLE" not in raw                     # patient IDs and names of the sample files
        assert not any(uid.encode() in raw for uid in studies)
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES" and ds.PatientID.startswith("LS-")
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    events = [e for e in audit.events(small_archive.home) if e["source"] == "deid"]
    assert {e["study_instance_uid"] for e in events} == set(ct + us)

    # A second export of one study gives the same pseudonym and the same new UIDs.
    again = tmp_path / "again"
    assert main(["--home", str(small_archive.home.root), "deid", "--study", ct[0], "--out", str(again),
                 "--shift-dates"]) == 0
    second = pd.read_parquet(again / "instances.parquet")
    first = table[table["sop_instance_uid"].isin(second["sop_instance_uid"])]
    assert len(first) == 20 and set(first["pseudonym"]) == set(second["pseudonym"])
    assert sorted(first["study_date"]) == sorted(second["study_date"])

    # Exporting again into the same folder adds nothing twice.
    assert main(["--home", str(small_archive.home.root), "deid", "--study", ct[0], *us, "--out", str(out),
                 "--shift-dates"]) == 0
    assert len(pd.read_parquet(out / "instances.parquet")) == 41 and len(pd.read_csv(out / "flagged.csv")) == 1
    assert len(list((out / "dicom").rglob("*.dcm"))) == 40


def test_deid_by_query_and_plain_errors(small_archive, tmp_path, capsys):
    out = tmp_path / "q"
    result = limestone("deid", "--query", "SELECT study_instance_uid FROM series WHERE modality = 'US'",
                       "--out", str(out), "--include-burned-in", home=small_archive.home.root)
    assert result.returncode == 0, result.stderr
    assert len(list((out / "burned_in").rglob("*.dcm"))) == 1 and not (out / "dicom").exists()
    table = pd.read_parquet(out / "instances.parquet")
    assert table["study_date"].isna().all()          # dates removed without a date option
    home = ["--home", str(small_archive.home.root), "deid"]
    capsys.readouterr()
    assert main(home + ["--query", "SELECT nothing FROM nowhere", "--out", str(out)]) == 2
    assert "the query cannot be used" in capsys.readouterr().err
    assert main(home + ["--study", "1.2.3.999", "--out", str(out)]) == 2
    assert "not in the archive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as neither:
        main(home + ["--out", str(out)])
    assert neither.value.code == 2
