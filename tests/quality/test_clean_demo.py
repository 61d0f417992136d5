"""A clean demo (issue 21, item 9): no warning about a report file that is in no table or vault."""

from __future__ import annotations

import logging

import pydicom

from archive.home import Archive
from archive.ingest.run import import_paths
from tests.support.samples import pydicom_file


def test_a_second_copy_of_a_report_with_other_bytes_is_not_read_after_it_was_discarded(tmp_path, caplog):
    folder = tmp_path / "in"
    folder.mkdir()
    original = pydicom.dcmread(pydicom_file("test-SR.dcm"))
    original.save_as(folder / "a.dcm")
    original.StudyDescription = "another copy"      # same SOP Instance UID, other bytes
    original.save_as(folder / "b.dcm")
    archive = Archive.load(home=str(tmp_path / "home"))
    with caplog.at_level(logging.WARNING):
        import_paths(archive, [folder], workers=1)
    assert not [r for r in caplog.records if "could not be read" in r.getMessage()]
    con = archive.store(read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM instances").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM reports").fetchone()[0] == 1
    finally:
        con.close()
