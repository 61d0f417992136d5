"""The DICOMDIR encoded from the store's rows: read back by pydicom's FileSet and by dcmtk."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

from pydicom.fileset import FileSet
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from archive.media.dicomdir import plan
from archive.sharing.scope import Contents, SeriesContent, StudyContent


class _Vault:
    def has(self, digest: str) -> bool:
        return True


def _contents(studies: int, series: int, images: int) -> Contents:
    study_rows = []
    for s in range(studies):
        study = {"patient_name": "MÜLLER^ÄNNE", "patient_id": "FAKE-0042", "study_date": dt.date(2024, 5, s + 1),
                 "study_time": dt.time(9, 30), "study_description": f"CT HEAD {s}", "accession_number": f"ACC{s}",
                 "study_id": None}
        content = StudyContent(generate_uid(), study)
        for e in range(series):
            item = SeriesContent(generate_uid(), "CT", e + 1, "AXIAL")
            item.instances = [{"sop_instance_uid": generate_uid(), "sop_class_uid": CTImageStorage,
                               "instance_number": i + 1, "content_hash": f"{s}{e}{i}".ljust(64, "0"),
                               "bytes": 100 + i, "transfer_syntax_uid": ExplicitVRLittleEndian}
                              for i in range(images)]
            content.series.append(item)
        study_rows.append(content)
    return Contents({}, study_rows)


def test_every_file_is_indexed_where_the_plan_puts_it(tmp_path):
    contents = _contents(studies=2, series=3, images=4)
    media = plan(contents, _Vault())
    assert len(media.files) == 24 and not media.unindexed and not media.missing
    assert media.files[0].path == "PT000000/ST000000/SE000000/IM000000"
    assert media.files[-1].path == "PT000000/ST000001/SE000002/IM000003"
    (tmp_path / "DICOMDIR").write_bytes(media.dicomdir)
    for f in media.files:
        (tmp_path / f.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.path).write_bytes(b"")
    file_set = FileSet(tmp_path / "DICOMDIR")   # follows every offset; orphans raise
    assert {i.SOPInstanceUID: i.FileID for i in file_set} == {f.sop_instance_uid: f.path for f in media.files}
    instance = next(iter(file_set))
    assert str(instance.PatientName) == "MÜLLER^ÄNNE" and instance.StudyID == "ACC0"
    assert instance.StudyDate == "20240501" and instance.SeriesNumber == 1 and instance.InstanceNumber == 1
    if shutil.which("dcmdump"):
        dump = subprocess.run(["dcmdump", "+P", "ReferencedFileID", str(tmp_path / "DICOMDIR")],
                              capture_output=True, text=True, check=True).stdout
        assert dump.count("ReferencedFileID") == 24


def test_an_empty_medium_has_a_dicomdir_without_records(tmp_path):
    media = plan(Contents({}, []), _Vault())
    (tmp_path / "DICOMDIR").write_bytes(media.dicomdir)
    assert media.files == [] and len(FileSet(tmp_path / "DICOMDIR")) == 0
