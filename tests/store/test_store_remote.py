"""Studies and series known from a node before their images (metadata-only pulls)."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from archive.ingest.intake import ingest_bytes
from archive.store.remote import local_instances, refresh_retrieve_status, retrieve_status, upsert_remote_studies
from archive.store.writer import StoreWriter
from tests.support.synthetic_studies import make_studies, write_studies


@pytest.fixture
def store(archive):
    con = archive.store()
    yield con
    con.close()


def answers(study):
    ds = Dataset()
    ds.StudyInstanceUID = study.study_uid
    ds.PatientID = study.patient_id
    ds.StudyDate = study.study_date.strftime("%Y%m%d")
    ds.ModalitiesInStudy = "CT"
    series = []
    for uid, sops in study.series:
        item = Dataset()
        item.StudyInstanceUID = study.study_uid
        item.SeriesInstanceUID = uid
        item.Modality = "CT"
        series.append((item, len(sops)))
    return (ds, study.instances), series


@pytest.mark.usefixtures("backend")
def test_metadata_rows_then_images_make_the_study_complete(archive, store, tmp_path):
    study = make_studies(1, 6, seed=3, series_per_study=2)[0]
    study_answer, series_answers = answers(study)
    assert upsert_remote_studies(store, archive.home, "north", "NORTH", [study_answer], series_answers) == (1, 2)
    assert upsert_remote_studies(store, archive.home, "north", "NORTH", [study_answer], series_answers) == (0, 0)
    assert retrieve_status(store, [study.study_uid]) == {study.study_uid: ("not retrieved", 0, 6)}
    row = store.execute("SELECT site, source_node, modalities, patient_key IS NOT NULL FROM studies").fetchone()
    assert row == ("NORTH", "north", ["CT"], True)
    assert store.execute("SELECT count(*) FROM series WHERE retrieve_status = 'not retrieved'").fetchone()[0] == 2

    files = write_studies([study], tmp_path / "files")
    writer = StoreWriter(store, archive.home, "run")
    for path in files[:4]:
        outcome = ingest_bytes(path.read_bytes(), path.name, archive.vault, archive.home.quarantine_dir)
        writer.add(outcome.record, outcome.size, outcome.digest)
    writer.flush()
    refresh_retrieve_status(store, archive.home, [study.study_uid])
    assert retrieve_status(store, [study.study_uid]) == {study.study_uid: ("partial", 4, 6)}
    assert len(local_instances(store, [study.study_uid])[study.study_uid]) == 4

    for path in files[4:]:
        outcome = ingest_bytes(path.read_bytes(), path.name, archive.vault, archive.home.quarantine_dir)
        writer.add(outcome.record, outcome.size, outcome.digest)
    writer.flush()
    refresh_retrieve_status(store, archive.home, [study.study_uid])
    assert retrieve_status(store, [study.study_uid]) == {study.study_uid: ("complete", 6, 6)}
    statuses = store.execute("SELECT retrieve_status, number_of_instances, remote_instances FROM series "
                             "ORDER BY series_instance_uid").fetchall()
    assert statuses == [("complete", 3, 3), ("complete", 3, 3)]
    # The study row kept what C-FIND said and what the images added.
    assert store.execute("SELECT study_date IS NOT NULL, first_ingested_at IS NOT NULL, source_node "
                         "FROM studies").fetchone() == (True, True, "north")


def updates_run(store, action) -> list[str]:
    """The UPDATE statements ``action`` ran on the archive's tables (DuckDB's query log; DuckLake's
    own bookkeeping in its catalog left out)."""
    store.execute("CALL truncate_duckdb_logs()")
    store.execute("CALL enable_logging('QueryLog')")
    try:
        action()
    finally:
        store.execute("CALL disable_logging()")
    return [m for (m,) in store.execute("SELECT message FROM duckdb_logs WHERE type = 'QueryLog'").fetchall()
            if m.lstrip().upper().startswith("UPDATE") and "__ducklake_metadata" not in m]


def test_rows_that_would_not_change_are_not_updated(archive, store):
    # An UPDATE costs a DuckLake store ~0.2 s of CPU even when it changes nothing: a pull of new
    # studies ran six of them. Only rows whose values differ are updated, and then still are.
    study = make_studies(1, 6, seed=4, series_per_study=2)[0]
    study_answer, series_answers = answers(study)
    assert updates_run(store, lambda: upsert_remote_studies(
        store, archive.home, "north", "NORTH", [study_answer], series_answers)) == []
    assert updates_run(store, lambda: upsert_remote_studies(
        store, archive.home, "north", "NORTH", [study_answer], series_answers)) == []
    assert updates_run(store, lambda: refresh_retrieve_status(store, archive.home, [study.study_uid])) == []

    # The node now reports more instances: the counts are brought up to date.
    ds, _ = study_answer
    grown = [(item, count + 1) for item, count in series_answers]
    ran = updates_run(store, lambda: upsert_remote_studies(store, archive.home, "north", "NORTH",
                                                           [(ds, study.instances + 2)], grown))
    assert len(ran) == 2
    assert retrieve_status(store, [study.study_uid]) == {study.study_uid: ("not retrieved", 0, 8)}
    assert sorted(r for (r,) in store.execute("SELECT remote_instances FROM series").fetchall()) == [4, 4]
