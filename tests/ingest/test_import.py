"""Import of real files: pydicom's test set, generated folders, zip files and a dcmtk DICOMDIR."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pydicom
import pytest

from archive.home import Archive
from archive.ingest.run import import_paths
from archive.ingest.sources import Discovery, discover
from tests.support.browse_table_check import assert_browse_table_current
from tests.support.cli import limestone
from tests.support.samples import pydicom_file

EDGE_CASES = {
    "no preamble": "ExplVR_LitEndNoMeta.dcm",
    "implicit, no meta": "rtstruct.dcm",
    "deflated": "image_dfl.dcm",
    "big endian": "MR_small_bigendian.dcm",
    "bad VR": "badVR.dcm",
    "JPEG 2000": "693_J2KI.dcm",
    "JPEG baseline": "SC_rgb_jpeg_dcmtk.dcm",
    "JPEG lossless": "SC_rgb_jpeg_gdcm.dcm",
    "RLE": "SC_rgb_rle.dcm",
    "JPEG-LS": "MR_small_jpeg_ls_lossless.dcm",
    "US multi-frame YBR": "examples_ybr_color.dcm",
    "structured report": "test-SR.dcm",
}


EXPECTED_BACKENDS = {
    "embedded": {"catalog": "sqlite", "lake": "folder", "vault": "folder", "state": "sqlite"},
    "distributed": {"catalog": "postgresql", "lake": "s3", "vault": "s3", "state": "postgresql"},
}


def _rows(archive: Archive, sql: str, params=()):
    con = archive.store(read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def imported(tmp_path_factory, pydicom_dir):
    """pydicom's whole test-file folder imported once into a fresh home."""
    archive = Archive.load(home=str(tmp_path_factory.mktemp("pyd") / "home"))
    summary = import_paths(archive, [pydicom_dir])
    return archive, summary


def test_summary_counts_every_file(imported, pydicom_dir):
    _, summary = imported
    files = [p for p in pydicom_dir.rglob("*") if p.is_file()]
    assert summary.files_seen == len(files)
    assert summary.files_seen == (summary.imported + summary.already_present + summary.skipped
                                  + summary.quarantined + summary.failed)
    assert summary.imported > 100 and summary.skipped >= 10 and summary.quarantined >= 1
    assert summary.exit_code == 1  # something was quarantined


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_are_archived_byte_for_byte(imported, case):
    archive, _ = imported
    path = pydicom_file(EDGE_CASES[case])
    uid = pydicom.dcmread(path, force=True).SOPInstanceUID
    rows = _rows(archive, "SELECT content_hash, transfer_syntax_uid FROM instances WHERE sop_instance_uid = ?", [uid])
    assert len(rows) == 1, f"{case}: {len(rows)} rows"
    # Several of pydicom's variants share one SOP Instance UID: the archived copy is one of them.
    assert archive.vault.get(rows[0][0]) in {p.read_bytes() for p in path.parent.glob("*") if p.is_file()}


SYNTAX_SAMPLES = {
    "1.2.840.10008.1.2": "MR_small_implicit.dcm",
    "1.2.840.10008.1.2.1": "MR_small.dcm",
    "1.2.840.10008.1.2.2": "MR_small_bigendian.dcm",
    "1.2.840.10008.1.2.1.99": "image_dfl.dcm",
    "1.2.840.10008.1.2.4.50": "SC_rgb_jpeg_dcmtk.dcm",
    "1.2.840.10008.1.2.4.51": "JPEG-lossy.dcm",
    "1.2.840.10008.1.2.4.70": "SC_rgb_jpeg_gdcm.dcm",
    "1.2.840.10008.1.2.4.80": "MR_small_jpeg_ls_lossless.dcm",
    "1.2.840.10008.1.2.4.90": "MR_small_jp2klossless.dcm",
    "1.2.840.10008.1.2.4.91": "JPEG2000.dcm",
    "1.2.840.10008.1.2.5": "MR_small_RLE.dcm",
}


@pytest.mark.usefixtures("backend")
def test_every_transfer_syntax_lands_byte_for_byte(tmp_path, archive):
    """Each syntax as a distinct instance (pydicom's variants share UIDs, so give each a fresh one)."""
    originals = {}
    for syntax, name in SYNTAX_SAMPLES.items():
        ds = pydicom.dcmread(pydicom_file(name))
        assert ds.file_meta.TransferSyntaxUID == syntax
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        path = tmp_path / "src" / name
        path.parent.mkdir(exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        originals[ds.SOPInstanceUID] = path.read_bytes()
    summary = import_paths(archive, [tmp_path / "src"])
    assert summary.imported == len(SYNTAX_SAMPLES) and summary.exit_code == 0
    rows = _rows(archive, "SELECT sop_instance_uid, transfer_syntax_uid, content_hash FROM instances")
    assert {r[1] for r in rows} == set(SYNTAX_SAMPLES)
    for uid, _, digest in rows:
        assert archive.vault.get(digest) == originals[uid]


def test_damaged_and_foreign_files(imported):
    archive, _ = imported
    reasons = dict(_rows(archive, "SELECT source_name, reason FROM quarantine"))
    assert "truncated pixel data" in reasons["MR_truncated.dcm"]
    assert "missing" in reasons["no_meta_group_length.dcm"]
    kept = list(archive.home.quarantine_dir.glob("*.dcm"))
    assert len(kept) == len(reasons)
    note = json.loads(next(archive.home.quarantine_dir.glob("*.json")).read_text())
    assert set(note) == {"source_name", "reason", "quarantined_at"}
    assert "README.txt" not in reasons  # skipped, not quarantined


def test_study_and_series_rows_are_aggregated(imported):
    archive, _ = imported
    mismatches = _rows(archive, """
        SELECT s.study_instance_uid FROM studies s
        JOIN (SELECT study_instance_uid, count(*) n, sum(bytes) b, count(DISTINCT series_instance_uid) k
              FROM instances GROUP BY ALL) i USING (study_instance_uid)
        WHERE s.number_of_instances != i.n OR s.bytes != i.b OR s.number_of_series != i.k""")
    assert mismatches == []
    duplicates = _rows(archive, "SELECT sop_instance_uid FROM instances GROUP BY 1 HAVING count(*) > 1")
    assert duplicates == []
    assert _rows(archive, "SELECT count(*) FROM series")[0][0] == _rows(
        archive, "SELECT count(DISTINCT series_instance_uid) FROM instances")[0][0]


def test_every_imported_study_is_in_the_browse_table(imported):
    archive, _ = imported
    con = archive.store(read_only=True)
    try:
        assert_browse_table_current(con)
        assert con.execute("SELECT count(*) FROM study_browse").fetchone()[0] == _rows(
            archive, "SELECT count(*) FROM studies")[0][0] > 10
    finally:
        con.close()


def test_second_run_imports_nothing_and_says_so(tmp_path, ct_folder, backend):
    home = tmp_path / "home"
    first = limestone("import", str(ct_folder), "--json", home=home, check=True)
    assert json.loads(first.stdout)["imported"] == 60
    again = limestone("import", str(ct_folder), home=home, check=True)
    assert again.stdout.startswith("Nothing new: all 60 instances were already in the archive.")
    stats = json.loads(limestone("stats", "--json", home=home, check=True).stdout)
    counts = {k: v for k, v in stats.items() if k not in ("last_backup", "last_escrow", "escrow_due")}
    assert counts == {"patients": 3, "studies": 3, "series": 3, "instances": 60,
                      "bytes": sum(p.stat().st_size for p in ct_folder.rglob("*.dcm")),
                      "backends": EXPECTED_BACKENDS[backend.name]}
    assert stats["last_backup"] is None and stats["escrow_due"] is True


@pytest.mark.usefixtures("backend")
def test_zip_file(tmp_path, ct_folder, archive):
    bundle = tmp_path / "export.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for path in sorted(ct_folder.rglob("*.dcm")):
            z.write(path, f"STUDY/{path.parent.name}/{path.name}")
        z.writestr("README.TXT", "not an image")
    summary = import_paths(archive, [bundle])
    assert (summary.imported, summary.skipped, summary.exit_code) == (60, 1, 0)
    digest = _rows(archive, "SELECT content_hash FROM instances LIMIT 1")[0][0]
    originals = {p.read_bytes() for p in ct_folder.rglob("*.dcm")}
    assert archive.vault.get(digest) in originals


def _make_cd(root: Path, ct_folder: Path) -> Path:
    """A CD as dcmmkdir writes it: 8-character upper-case names without extension, a DICOMDIR."""
    target = root / "DICOM" / "PT000000" / "ST000000"
    target.mkdir(parents=True)
    for index, path in enumerate(sorted(ct_folder.rglob("*.dcm"))[:12]):
        shutil.copy(path, target / f"IM{index:06d}")
    subprocess.run(["dcmmkdir", "--recurse", "+id", str(root), "+D", str(root / "DICOMDIR"), "DICOM"],
                   check=True, capture_output=True)
    (root / "AUTORUN.INF").write_text("[autorun]\nopen=viewer.exe\n")
    (root / "VIEWER.EXE").write_bytes(b"MZ\x90\x00" + bytes(200))
    return root


@pytest.mark.skipif(shutil.which("dcmmkdir") is None, reason="dcmtk is installed by scripts/test")
def test_cd_with_dicomdir(tmp_path, ct_folder, archive):
    cd = _make_cd(tmp_path / "cd", ct_folder)
    summary = import_paths(archive, [cd / "DICOMDIR"])
    assert (summary.imported, summary.skipped, summary.quarantined, summary.failed) == (12, 3, 0, 0)


@pytest.mark.skipif(shutil.which("dcmmkdir") is None, reason="dcmtk is installed by scripts/test")
def test_cd_mounted_in_lower_case_with_a_missing_file(tmp_path, ct_folder, archive):
    cd = _make_cd(tmp_path / "cd", ct_folder)
    lower = tmp_path / "mnt"
    shutil.copytree(cd, lower)
    for path in sorted(lower.rglob("*"), key=lambda p: -len(p.parts)):
        if path.name != "DICOMDIR":
            path.rename(path.with_name(path.name.lower()))
    (lower / "dicom" / "pt000000" / "st000000" / "im000003").unlink()
    summary = import_paths(archive, [lower])
    assert summary.imported == 11
    assert summary.failed == 1 and summary.exit_code == 1  # the DICOMDIR names a file that is gone


def test_missing_path_is_one_plain_line(tmp_path):
    result = limestone("import", str(tmp_path / "nowhere"), home=tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no such file or folder" in result.stderr


def test_unusable_home(tmp_path, ct_folder):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = limestone("import", str(ct_folder), home=blocker / "home")
    assert result.returncode == 2 and "cannot use home" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_stats_before_any_import(tmp_path):
    result = limestone("stats", home=tmp_path / "empty")
    assert result.returncode == 2 and "no archive store" in result.stderr


def test_lost_master_key_is_refused_not_replaced(tmp_path, ct_folder):
    home = tmp_path / "home"
    limestone("import", str(ct_folder), home=home, check=True)
    shutil.rmtree(home / "keys")
    result = limestone("import", str(ct_folder), home=home)
    assert result.returncode == 2 and "no master key" in result.stderr
    assert not (home / "keys").exists() or not list((home / "keys").glob("*.key"))


def test_verify_reports_damage(tmp_path, ct_folder):
    home = tmp_path / "home"
    limestone("import", str(ct_folder), home=home, check=True)
    ok = limestone("verify", "--json", home=home)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] == 60
    files = sorted((home / "vault").rglob("*.lsv"))
    raw = bytearray(files[0].read_bytes())
    raw[-40] ^= 0xFF
    files[0].write_bytes(bytes(raw))
    files[1].unlink()
    bad = limestone("verify", "--json", home=home)
    result = json.loads(bad.stdout)
    assert bad.returncode == 1
    assert len(result["damaged"]) == 1 and len(result["missing"]) == 1 and result["ok"] == 58


def test_wrong_master_key_from_setting(tmp_path, ct_folder):
    home = tmp_path / "home"
    limestone("import", str(ct_folder), home=home, check=True)
    key_id = (home / "keys" / "current").read_text()
    env = {"LIMESTONE_MASTER_KEY": "A" * 43 + "=", "LIMESTONE_MASTER_KEY_ID": key_id}
    result = limestone("verify", home=home, env=env)
    assert result.returncode == 1 and "failed authentication" in result.stdout


def test_key_rotation_from_the_command_line(tmp_path, ct_folder, backend):
    home = tmp_path / "home"
    limestone("import", str(ct_folder), home=home, check=True)
    old = (home / "keys" / "current").read_text()
    out = limestone("keys", "rotate", home=home, check=True).stdout
    assert "re-wrapped the data keys of 60 vault files" in out
    (home / "keys" / f"{old}.key").unlink()
    assert limestone("verify", home=home).returncode == 0


@pytest.mark.skipif(shutil.which("dcmmkdir") is None or shutil.which("xorriso") is None,
                    reason="dcmtk and xorriso are installed by scripts/test")
@pytest.mark.parametrize("names", ["rock-ridge", "iso9660-level1"])
def test_cd_image_iso(tmp_path, ct_folder, archive, names):
    cd = _make_cd(tmp_path / "cd", ct_folder)
    image = tmp_path / "disc.iso"
    options = ["-R"] if names == "rock-ridge" else ["-iso-level", "1"]
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", *options, "-o", str(image), str(cd)],
                   check=True, capture_output=True)
    summary = import_paths(archive, [image])
    assert (summary.imported, summary.skipped, summary.quarantined, summary.failed) == (12, 3, 0, 0)
    originals = {p.read_bytes() for p in (cd / "DICOM").rglob("IM*")}
    digests = [r[0] for r in _rows(archive, "SELECT content_hash FROM instances")]
    assert {archive.vault.get(d) for d in digests} == originals


def test_damaged_zip_is_a_failure_not_a_crash(tmp_path, archive):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + bytes(100))
    summary = import_paths(archive, [tmp_path])
    assert summary.failed == 1 and summary.exit_code == 1


def test_a_file_and_a_link_to_it_are_read_once(tmp_path):
    (tmp_path / "CT1.dcm").write_bytes(pydicom_file("CT_small.dcm").read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "again.dcm").symlink_to(tmp_path / "CT1.dcm")
    assert [Path(item.path).name for item in discover([tmp_path], Discovery())] == ["CT1.dcm"]
