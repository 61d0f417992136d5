"""Imports of hostile media: references off the medium, zip-slip names, zip bombs and huge files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive.home import Archive
from archive.ingest.run import import_paths
from tests.support.cli import ROOT

MB = 1024 * 1024


def _copy_with_new_uid(source: Path, target: Path) -> str:
    """Write ``source`` to ``target`` with a fresh SOP Instance UID; return the UID."""
    ds = pydicom.dcmread(source)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target)
    return str(ds.SOPInstanceUID)


def _dicomdir(path: Path, references: list[list[str]]) -> None:
    """A minimal DICOMDIR whose IMAGE records reference ``references`` (as given, unchecked)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.FileSetID = "HOSTILE"
    records = []
    for parts in references:
        record = Dataset()
        record.DirectoryRecordType = "IMAGE"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record.ReferencedFileID = parts if len(parts) > 1 else parts[0]
        records.append(record)
    ds.DirectoryRecordSequence = records
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the hostile values are not valid CS values
        ds.save_as(path, enforce_file_format=True)


def _stored_uids(archive: Archive) -> set[str]:
    con = archive.store(read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT sop_instance_uid FROM instances").fetchall()}
    finally:
        con.close()


def test_dicomdir_references_off_the_medium_are_refused(tmp_path, ct_folder):
    files = sorted(ct_folder.rglob("*.dcm"))
    medium = tmp_path / "cd"
    inside = _copy_with_new_uid(files[0], medium / "DICOM" / "IM1")
    parent = _copy_with_new_uid(files[1], tmp_path / "outside" / "SECRET")
    absolute = _copy_with_new_uid(files[2], tmp_path / "elsewhere" / "ABS")
    linked = _copy_with_new_uid(files[3], tmp_path / "linked" / "TARGET")
    (medium / "LINK").symlink_to(tmp_path / "linked" / "TARGET")
    _dicomdir(medium / "DICOMDIR", [["DICOM", "IM1"], ["..", "outside", "SECRET"],
                                    [str(tmp_path / "elsewhere" / "ABS")], ["LINK"]])
    archive = Archive.load(home=str(tmp_path / "home"))

    summary = import_paths(archive, [medium], workers=1)

    stored = _stored_uids(archive)
    assert inside in stored
    assert not stored & {parent, absolute, linked}, "a file off the medium was read"
    named = "\n".join(summary.refused_files)
    assert "../outside/SECRET: DICOMDIR reference leaves the medium" in named
    assert "ABS: DICOMDIR reference leaves the medium" in named
    assert "LINK: DICOMDIR reference leaves the medium" in named
    assert summary.exit_code == 1


def test_zip_slip_member_names_are_refused_and_nothing_is_written_outside(tmp_path, ct_folder):
    files = sorted(ct_folder.rglob("*.dcm"))
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    bundle = work / "slip.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("ok/IM1.dcm", files[0].read_bytes())
        z.writestr("../../evil.dcm", files[1].read_bytes())
        z.writestr("/tmp/absolute.dcm", files[2].read_bytes())
        z.writestr("ok\\..\\..\\back.dcm", files[3].read_bytes())
    before = sorted(p for p in tmp_path.rglob("*"))
    archive = Archive.load(home=str(work / "home"))

    summary = import_paths(archive, [bundle], workers=1)

    assert summary.imported == 1
    assert summary.refused == 3
    assert all("member name leads out of the container" in r for r in summary.refused_files)
    outside_home = [p for p in tmp_path.rglob("*") if not p.is_relative_to(work / "home")]
    assert sorted(outside_home) == before
    assert not Path("/tmp/absolute.dcm").exists()


# ---- bounded memory, measured on the real command -----------------------------------------------------
def _import_measured(source: Path, home: Path, env: dict[str, str]) -> tuple[dict, int, str]:
    """Run ``limestone import --json`` in a fresh process; its summary and peak RSS (MB) of the tree."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(r.stderr)\n"
        "print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else '{}')\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "pipelines", "--home", str(home),
               "import", "--json", str(source)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, **env),
                            timeout=600)
    summary_line, rss = result.stdout.strip().splitlines()[-2:]
    return json.loads(summary_line), int(rss), result.stderr


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory, ct_folder) -> Path:
    """A 3 GB file, a 1 GB zip bomb, zips nested 20 deep and a zip of 100,000 tiny members."""
    folder = tmp_path_factory.mktemp("hostile")
    _copy_with_new_uid(sorted(ct_folder.rglob("*.dcm"))[0], folder / "real.dcm")
    with open(folder / "huge.dcm", "wb") as f:   # sparse: takes no disk space
        f.truncate(3 * 1024 * MB)
    zeros = bytes(16 * MB)
    with zipfile.ZipFile(folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("bomb.dcm", "w", force_zip64=True) as member:
            for _ in range(64):
                member.write(zeros)
    inner = b"not a dicom file"
    for depth in range(20):
        holder = folder / "nest.tmp"
        with zipfile.ZipFile(holder, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"level{depth}.zip" if depth else "leaf.txt", inner)
        inner = holder.read_bytes()
    holder.rename(folder / "nested.zip")
    with zipfile.ZipFile(folder / "many.zip", "w", zipfile.ZIP_STORED) as z:
        for i in range(100_000):
            z.writestr(f"m/{i:06d}.txt", b"x")
    return folder


def test_zip_bombs_and_a_huge_file_are_refused_within_bounded_memory(tmp_path, hostile_folder):
    summary, rss_mb, log = _import_measured(hostile_folder, tmp_path / "home",
                                            {"LIMESTONE_IMPORT_MAX_MEMBERS": "1000"})

    assert summary["imported"] == 1
    assert rss_mb < 400, f"peak RSS {rss_mb} MB"
    refused = "\n".join(summary["refused_files"])
    assert "huge.dcm: larger than the size limit (3072 MB > 256 MB)" in refused
    assert "bomb.zip:bomb.dcm: larger than the size limit (1024 MB > 256 MB)" in refused
    assert "nested.zip:level19.zip: a container inside a container is not opened" in refused
    assert "many.zip: 99000 members past the limit of 1000 per container" in refused
    assert summary["refused"] == 4
    assert summary["files_seen"] == 1 + 1 + 1000   # the real file, the huge one (refused), the members read
    assert "not a dicom file" not in log


def test_a_zip_past_its_expansion_budget_is_cut_off(tmp_path, ct_folder):
    files = sorted(ct_folder.rglob("*.dcm"))[:6]
    bundle = tmp_path / "study.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for i, f in enumerate(files):
            z.writestr(f"IM{i}.dcm", f.read_bytes())
    size = files[0].stat().st_size
    archive = Archive.load(home=str(tmp_path / "home"), import_max_container_mb=1,
                           import_max_file_mb=1)
    budget_files = (1 * MB) // size

    summary = import_paths(archive, [bundle], workers=1)

    assert summary.imported == min(budget_files, 6)
    if budget_files < 6:
        assert summary.refused_files == [f"study.zip: {6 - budget_files} members past the expansion "
                                         "limit of 1 MB per container"]
