"""The browser's table ``study_browse`` stays equal to studies joined to patients under every writer."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from archive.ingest.intake import ingest_bytes
from archive.store import migrations, open_store
from archive.store.maintenance import compact
from archive.store.remote import upsert_remote_studies
from archive.store.writer import StoreWriter
from tests.store.test_store_remote import answers
from tests.support.browse_table_check import assert_browse_table_current
from tests.support.synthetic_studies import ct_instance, make_studies


@pytest.fixture
def store(archive):
    con = archive.store()
    yield con
    con.close()


def add(writer, archive, study, series_index=0, numbers=(1,), named=True):
    series_uid, sops = study.series[series_index]
    for number in numbers:
        ds = ct_instance(study, series_index, series_uid, number, sops[number - 1], size=8)
        if not named:
            del ds.PatientName
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        outcome = ingest_bytes(buffer.getvalue(), f"{number}.dcm", archive.vault, archive.home.quarantine_dir)
        writer.add(outcome.record, outcome.size, outcome.digest)


def browse_row(con, uid):
    return con.execute("SELECT patient_name, patient_name_search, number_of_instances FROM study_browse "
                       "WHERE study_instance_uid = ?", [uid]).fetchone()


@pytest.mark.usefixtures("backend")
def test_each_flush_keeps_the_table_current_even_for_studies_outside_the_batch(archive, store):
    first, second = make_studies(2, 4, seed=5)
    second.patient_id = first.patient_id  # one patient, two studies
    writer = StoreWriter(store, archive.home, "run")
    add(writer, archive, first, numbers=(1, 2), named=False)  # the patient's name is not known yet
    writer.flush()
    assert_browse_table_current(store)
    assert browse_row(store, first.study_uid) == (None, None, 2)

    add(writer, archive, second, numbers=(1,))  # names the patient: the first study's row changes too
    writer.flush()
    assert_browse_table_current(store)
    name = f"FAKE^{first.patient_id}"
    assert browse_row(store, first.study_uid) == (name, name.replace("^", " ").lower(), 2)

    add(writer, archive, first, numbers=(3, 4))
    add(writer, archive, first, numbers=(3,))  # already present: changes nothing
    writer.flush()
    assert_browse_table_current(store)
    assert browse_row(store, first.study_uid)[2] == 4
    assert store.execute("SELECT count(*) FROM study_browse").fetchone()[0] == 2


def test_studies_known_from_a_node_are_browsable_before_and_after_their_images(archive, store):
    study = make_studies(1, 4, seed=6)[0]
    study_answer, series_answers = answers(study)
    upsert_remote_studies(store, archive.home, "north", "NORTH", [study_answer], series_answers)
    assert_browse_table_current(store)
    assert browse_row(store, study.study_uid)[2] == 0
    writer = StoreWriter(store, archive.home, "run")
    add(writer, archive, study, numbers=(1, 2, 3))
    writer.flush()
    assert_browse_table_current(store)
    assert browse_row(store, study.study_uid)[2] == 3


@pytest.mark.usefixtures("backend")
def test_compaction_keeps_the_table_current_and_newest_first(archive, store):
    studies = make_studies(12, 1, seed=7, first_date=date(2023, 1, 1), days_apart=3)
    writer = StoreWriter(store, archive.home, "run")
    for study in studies:  # one commit each: many small files, with deletions
        add(writer, archive, study)
        writer.flush()
    compact(store, retention=timedelta(0))
    assert_browse_table_current(store)
    listed = store.execute("SELECT data_file FROM ducklake_list_files('lake', 'study_browse')").fetchall()
    files = [r[0] for r in listed]
    assert len(files) == 1
    dates = [r[0] for r in store.execute("SELECT study_date FROM read_parquet(?)", [files[0]]).fetchall()]
    assert dates == sorted((s.study_date for s in studies), reverse=True)


def test_the_migration_fills_the_table_from_an_older_store(archive, monkeypatch):
    older = [m for m in migrations.available() if m[0] < 9]
    monkeypatch.setattr(migrations, "available", lambda: older)
    con = open_store(archive.home)
    con.execute("INSERT INTO patients (patient_key, patient_id, patient_name) VALUES ('k1', 'P1', 'DOE^JANE')")
    con.execute("INSERT INTO studies (study_instance_uid, patient_key, study_date, study_description) VALUES "
                "('1.2.3', 'k1', DATE '2024-05-01', 'CT Knee'), ('1.2.4', 'nobody', NULL, NULL)")
    monkeypatch.undo()
    con.close()
    con = open_store(archive.home)
    try:
        assert_browse_table_current(con)
        assert con.execute("SELECT study_instance_uid, patient_name_search, description_search FROM study_browse "
                           "ORDER BY 1").fetchall() == [("1.2.3", "doe jane", "ct knee"), ("1.2.4", None, None)]
    finally:
        con.close()


def test_the_lookup_table_follows_a_patients_new_name_and_id(archive, store):
    """A later batch that names the patient rewrites the lookup rows of all its studies (the
    demographic key changes), and a moved study leaves no lookup row behind."""
    first, second = make_studies(2, 4, seed=8)
    second.patient_id = first.patient_id
    writer = StoreWriter(store, archive.home, "run")
    add(writer, archive, first, numbers=(1,), named=False)
    writer.flush()
    keys = lambda: sorted(r[0][:2] for r in store.execute(  # noqa: E731
        "SELECT lookup_key FROM study_lookup WHERE study_instance_uid = ?", [first.study_uid]).fetchall())
    assert keys() == ["a:", "i:", "k:"]          # no name yet: no demographic key
    add(writer, archive, second, numbers=(1,))
    writer.flush()
    assert_browse_table_current(store)
    assert keys() == ["a:", "d:", "i:", "k:"]
    assert store.execute("SELECT count(*) FROM study_lookup WHERE lookup_key = ?",
                         [f"i:{first.patient_id}"]).fetchone()[0] == 2
