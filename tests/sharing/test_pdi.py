"""CD/USB export (IHE PDI): DICOMDIR read back by pydicom's FileSet and by dcmtk, byte-identical files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile

import pytest
from pydicom.fileset import FileSet

from archive import audit
from archive.media.pdi import DICOM_ONLY, DICOM_PLUS_WEB, PdiError, export_studies
from archive.sharing.actions import Actor
from tests.support.cli import limestone
from tests.support.documents import make_pdf
from tests.support.share_world import REPORTS

CLERK = Actor("clerk@example.org", "clerk")
ISO_NAME = re.compile(r"^[A-Z0-9_]{1,8}(\.[A-Z0-9]{1,3})?$")


def _check_medium(root, shared, expected_files):
    names = [p.relative_to(root) for p in root.rglob("*") if p.is_file()]
    assert {"DICOMDIR", "README.TXT", "INDEX.HTM"} <= {str(n) for n in names}
    for name in names:
        assert all(ISO_NAME.match(part) for part in name.parts), name
    file_set = FileSet(root / "DICOMDIR")
    assert len(file_set) == expected_files
    for instance in file_set:
        path = root / instance.FileID
        assert path.is_file()
        assert "." not in path.name and len(path.name) <= 8
        assert path.read_bytes() == shared.by_sop[instance.SOPInstanceUID].read_bytes()
    if shutil.which("dcmdump"):
        dump = subprocess.run(["dcmdump", "+P", "ReferencedFileID", str(root / "DICOMDIR")],
                              capture_output=True, text=True, check=True).stdout
        referenced = re.findall(r"\[([^\]]+)\]", dump)
        assert len(referenced) == expected_files
        for file_id in referenced:
            assert (root / file_id.replace("\\", "/")).is_file(), file_id


def test_folder_export_reads_back_with_fileset_and_dcmdump(shared, tmp_path):
    archive = shared.archive()
    result = export_studies(archive, [shared.studies["a_ct"], shared.studies["a_mixed"]],
                            tmp_path / "usb", CLERK, con=shared.store())
    assert result.kind == "folder" and result.files == 20 and result.missing == 0
    assert result.label.content == DICOM_ONLY and len(result.label.patients) == 1
    assert "SAMPLE" in result.label.patients[0] and result.label.study_dates
    _check_medium(tmp_path / "usb", shared, 20)
    readme = (tmp_path / "usb" / "README.TXT").read_text()
    assert "Content: DICOM ONLY" in readme and "IHE Portable Data for Imaging" in readme
    assert "MIXED SYNTAXES" in (tmp_path / "usb" / "INDEX.HTM").read_text()
    events = audit.search(archive.home, actions=["export"], user="clerk@example.org")
    assert {e["study_instance_uid"] for e in events} >= {shared.studies["a_ct"], shared.studies["a_mixed"]}
    with pytest.raises(PdiError, match="not empty"):
        export_studies(archive, [shared.studies["a_ct"]], tmp_path / "usb", CLERK, con=shared.store())
    with pytest.raises(PdiError, match="not in the archive"):
        export_studies(archive, ["1.2.3.4.5"], tmp_path / "none", CLERK, con=shared.store())


def test_zip_and_iso_exports(shared, tmp_path):
    archive = shared.archive()
    zipped = export_studies(archive, [shared.studies["b_ct"]], tmp_path / "cd.zip", CLERK, con=shared.store())
    assert zipfile.ZipFile(zipped.path).testzip() is None
    zipfile.ZipFile(zipped.path).extractall(tmp_path / "unzipped")
    _check_medium(tmp_path / "unzipped", shared, 15)
    if not shutil.which("xorriso") and not shutil.which("genisoimage"):
        pytest.skip("no ISO tool")
    iso = export_studies(archive, [shared.studies["b_ct"]], tmp_path / "cd.iso", CLERK, web=True,
                         con=shared.store())
    assert iso.label.content == DICOM_PLUS_WEB
    out = tmp_path / "from_iso"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(iso.path), "-extract", "/", str(out)],
                   capture_output=True, check=True)
    _check_medium(out, shared, 15)
    assert list((out / "IHE_PDI").glob("*.PNG")) and "IHE_PDI/" in (out / "INDEX.HTM").read_text()
    assert "Content: DICOM PLUS WEB" in (out / "README.TXT").read_text()


def test_cli_export_json(shared, tmp_path, capsys):
    result = limestone("export", "pdi", "--study", shared.studies["b_ct"], "--out", str(tmp_path / "m.zip"),
                       "--json", "--by", "operator", home=shared.home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "zip" and data["files"] == 15 and data["label"]["content"] == DICOM_ONLY
    # bad input in-process (the same main(); a subprocess start costs seconds on a busy machine)
    from pipelines.cli import main
    assert main(["--home", str(shared.home), "export", "pdi", "--study", "1.2.3", "--out", str(tmp_path / "x")]) == 2
    assert "not in the archive" in capsys.readouterr().err


def test_released_reports_are_on_the_medium_and_in_index_htm(shared, tmp_path):
    archive = shared.archive()
    result = export_studies(archive, [shared.studies["a_ct"], shared.studies["a_report"]], tmp_path / "usb",
                            CLERK, con=shared.store())
    assert result.reports == 3 and result.missing == 0
    root = tmp_path / "usb"
    _check_medium(root, shared, 15 + 6)        # DICOMDIR still lists every DICOM file (2 CT, 3 SR, 1 PDF)
    assert sorted(p.name for p in (root / "REPORTS").iterdir()) == [
        "S002R01.TXT", "S002R02.PDF", "S002R02.TXT", "S002R03.PDF", "S002R03.TXT"]
    texts = {p.name: p.read_text(encoding="utf-8") for p in (root / "REPORTS").glob("*.TXT")}
    assert REPORTS["sr_amended"] in texts["S002R01.TXT"] and "Status: Amended" in texts["S002R01.TXT"]
    assert b"\r\n" in (root / "REPORTS" / "S002R01.TXT").read_bytes() and "REPORTED CT" in texts["S002R01.TXT"]
    assert REPORTS["pdf"] in texts["S002R02.TXT"] and REPORTS["hl7_pdf"] in texts["S002R03.TXT"]
    everything = "".join(texts.values())
    assert REPORTS["sr_final"] not in everything and REPORTS["sr_preliminary"] not in everything
    assert (root / "REPORTS" / "S002R02.PDF").read_bytes() == make_pdf([REPORTS["pdf"]])
    assert (root / "REPORTS" / "S002R03.PDF").read_bytes() == make_pdf([REPORTS["hl7_pdf"]])
    index = (root / "INDEX.HTM").read_text()
    linked = re.findall(r'href="(REPORTS/[^"]+)"', index)
    assert sorted(linked) == sorted(f"REPORTS/{n}" for n in
                                    ["S002R01.TXT", "S002R02.PDF", "S002R02.TXT", "S002R03.PDF", "S002R03.TXT"])
    assert "<h2>Reports</h2>" in index and "Head CT report" in index
    assert "Reports (in the REPORTS folder):" in (root / "README.TXT").read_text()
    events = audit.search(archive.home, actions=["export"], study_instance_uid=shared.studies["a_report"])
    assert any("3 reports" in (e["detail"] or "") for e in events)


def test_reports_survive_the_iso_image(shared, tmp_path):
    if not shutil.which("xorriso"):
        pytest.skip("no xorriso")
    iso = export_studies(shared.archive(), [shared.studies["a_report"]], tmp_path / "cd.iso", CLERK,
                         con=shared.store())
    out = tmp_path / "from_iso"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(iso.path), "-extract", "/", str(out)],
                   capture_output=True, check=True)
    _check_medium(out, shared, 6)
    assert (out / "REPORTS" / "S001R03.PDF").read_bytes() == make_pdf([REPORTS["hl7_pdf"]])
    assert REPORTS["sr_amended"] in (out / "REPORTS" / "S001R01.TXT").read_text(encoding="utf-8")
