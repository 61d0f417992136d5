"""The store writer's merges: new series, studies and patients are inserted, known ones recounted."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from archive.home import Archive
from archive.ingest.intake import ingest_bytes
from archive.store.writer import StoreWriter
from tests.support.samples import write_ct_studies


@pytest.fixture
def archive(tmp_path):
    archive = Archive.load(home=str(tmp_path / "home"))
    archive.home.ensure()
    archive.vault.ensure_key()
    return archive


def _outcomes(archive, paths):
    return [ingest_bytes(p.read_bytes(), p.name, archive.vault, archive.home.quarantine_dir) for p in paths]


def _write(archive, outcomes, batch_size):
    con = archive.store()
    try:
        writer = StoreWriter(con, archive.home, "run", batch_size=batch_size, vault=archive.vault)
        for outcome in outcomes:
            writer.add(outcome.record, outcome.size, outcome.digest, written=outcome.written)
        writer.flush()
        return writer.totals
    finally:
        con.close()


def _counts(archive):
    con = archive.store(read_only=True)
    try:
        return {
            "series": con.execute("SELECT series_instance_uid, number_of_instances, bytes FROM series "
                                  "ORDER BY 1").fetchall(),
            "studies": con.execute("SELECT study_instance_uid, number_of_series, number_of_instances, bytes, "
                                   "modalities FROM studies ORDER BY 1").fetchall(),
            "patients": con.execute("SELECT patient_key, patient_name FROM patients ORDER BY 1").fetchall(),
            "browse": con.execute("SELECT study_instance_uid, number_of_instances FROM study_browse "
                                  "ORDER BY 1").fetchall(),
            "truth": con.execute("SELECT study_instance_uid, count(DISTINCT series_instance_uid), count(*), "
                                 "sum(bytes) FROM instances GROUP BY 1 ORDER BY 1").fetchall(),
        }
    finally:
        con.close()


def _second_series_of(path, out):
    """Another series of the same study and patient as ``path`` (one instance)."""
    ds = pydicom.dcmread(path)
    ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "MR"
    ds.save_as(out, enforce_file_format=True)
    return out


@pytest.mark.parametrize("batch_size", [1000, 7, 1])
def test_rows_are_the_same_however_the_batches_fall(archive, tmp_path, batch_size):
    # One batch sees only new rows; small batches keep adding to series, studies and patients
    # written by the batches before them; the counts must come out the same.
    paths = write_ct_studies(tmp_path / "in", 20, per_series=8)
    paths.append(_second_series_of(paths[0], tmp_path / "in" / "extra.dcm"))
    totals = _write(archive, _outcomes(archive, paths), batch_size)
    assert totals.inserted == 21
    counts = _counts(archive)
    assert sorted(n for _, n, _ in counts["series"]) == [1, 4, 8, 8]
    assert [(uid, k, n, b) for uid, k, n, b, _ in counts["studies"]] == counts["truth"]
    assert {tuple(m) for *_, m in counts["studies"]} == {("CT",), ("CT", "MR")}
    assert len(counts["patients"]) == 3
    assert counts["browse"] == [(uid, n) for uid, _, n, _ in counts["truth"]]


@pytest.mark.usefixtures("backend")
def test_a_later_batch_adds_to_known_rows_without_losing_them(archive, tmp_path):
    paths = write_ct_studies(tmp_path / "in", 16, per_series=8)
    first, second = _outcomes(archive, paths[:5]), _outcomes(archive, paths[5:])
    _write(archive, first, 1000)
    _write(archive, second + first, 1000)           # the first five again: already present
    counts = _counts(archive)
    assert sorted(n for _, n, _ in counts["series"]) == [8, 8]
    assert [(uid, k, n, b) for uid, k, n, b, _ in counts["studies"]] == counts["truth"]
    assert all(name for _, name in counts["patients"])
