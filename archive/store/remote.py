"""Studies and series a PACS node reports (C-FIND), kept in the store before or without their images.

A pull first records what the node holds: study and series rows that are not in the archive yet
are inserted with ``retrieve_status = 'not retrieved'`` and the node's instance counts
(``remote_instances``), so managers see the region's contents before any image is fetched. When
images arrive through the ``StoreWriter``, its merge keeps these values and recounts what is
archived; ``refresh_retrieve_status`` then compares the two ('partial' or 'complete').

Writes take the same home-wide lock as the StoreWriter and retry lock conflicts.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import duckdb
import pyarrow as pa
from pydicom.dataset import Dataset

from archive.clock import now_utc
from archive.dicom import values as v
from archive.dicom.models import Patient, Series, Study
from archive.home import Home
from archive.store import browse_table
from archive.store.connection import retrying, rollback, write_lock
from archive.store.writer import table_schema, to_arrow

NOT_RETRIEVED = "not retrieved"
PARTIAL = "partial"
COMPLETE = "complete"


def _transaction(con: duckdb.DuckDBPyConnection, home: Home, action: Callable[[], object]) -> None:
    def run() -> None:
        con.execute("BEGIN")
        try:
            action()
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
    with write_lock(home):
        retrying(run)


def _any(con: duckdb.DuckDBPyConnection, rows: str) -> bool:
    """Whether ``SELECT ... {rows}`` finds a row. An UPDATE costs a DuckLake store ~0.2 s of CPU
    even when it changes nothing (a SELECT a tenth of that), and a pull ran six of them."""
    return bool(con.execute(f"SELECT EXISTS (SELECT 1 {rows})").fetchall()[0][0])


def _uids_table(con: duckdb.DuckDBPyConnection, name: str, uids: Iterable[str]) -> None:
    con.register(name, pa.table({"uid": pa.array(sorted(set(uids)), pa.string())}))


def local_instances(con: duckdb.DuckDBPyConnection, study_uids: Iterable[str]) -> dict[str, set[str]]:
    """SOP Instance UIDs already archived, per study, for the studies named."""
    _uids_table(con, "q_studies", study_uids)
    try:
        rows = con.execute("SELECT study_instance_uid, sop_instance_uid FROM instances "
                           "WHERE study_instance_uid IN (SELECT uid FROM q_studies)").fetchall()
    finally:
        con.unregister("q_studies")
    found: dict[str, set[str]] = {}
    for study, sop in rows:
        found.setdefault(study, set()).add(sop)
    return found


def upsert_remote_studies(con: duckdb.DuckDBPyConnection, home: Home, node: str, site: str | None,
                          studies: Iterable[tuple[Dataset, int | None]],
                          series: Iterable[tuple[Dataset, int | None]] = ()) -> tuple[int, int]:
    """Record studies (and series) a node reported; return (new studies, new series).

    ``studies`` are (study-level C-FIND answer, NumberOfStudyRelatedInstances); ``series`` are
    (series-level answer, NumberOfSeriesRelatedInstances). Known rows keep their values; only
    ``remote_instances``, ``source_node`` and the retrieve status are brought up to date.
    """
    now = now_utc()
    patients: dict[str, dict[str, Any]] = {}
    study_rows: dict[str, dict[str, Any]] = {}
    series_rows: dict[str, dict[str, Any]] = {}
    for ds, remote in studies:
        patient = Patient.from_dataset(ds).row
        study = Study.from_dataset(ds).row
        study.update(patient_key=patient["patient_key"], site=site, source_node=node,
                     remote_instances=remote, retrieve_status=NOT_RETRIEVED,
                     modalities=v.to_texts(ds.get("ModalitiesInStudy")),
                     number_of_series=0, number_of_instances=0, bytes=0, updated_at=now)
        study_rows.setdefault(study["study_instance_uid"], study)
        patients.setdefault(patient["patient_key"], dict(patient, site=site, updated_at=now))
    for ds, remote in series:
        row = Series.from_dataset(ds).row
        row.update(remote_instances=remote, retrieve_status=NOT_RETRIEVED, number_of_instances=0,
                   bytes=0, updated_at=now)
        series_rows.setdefault(row["series_instance_uid"], row)
    counts = [0, 0]
    if not study_rows and not series_rows:
        return 0, 0

    def write() -> None:
        registered = []
        try:
            for name, rows, table in (("r_patients", patients, "patients"), ("r_studies", study_rows, "studies"),
                                      ("r_series", series_rows, "series")):
                con.register(name, to_arrow(list(rows.values()), table_schema(con, table)))
                registered.append(name)
            con.execute("INSERT INTO patients BY NAME SELECT * FROM r_patients "
                        "WHERE patient_key NOT IN (SELECT patient_key FROM patients)")
            counts[0] = con.execute(
                "SELECT count(*) FROM r_studies WHERE study_instance_uid NOT IN "
                "(SELECT study_instance_uid FROM studies)").fetchall()[0][0]
            changed = ("(studies.remote_instances IS DISTINCT FROM r.remote_instances"
                       " OR (studies.source_node IS NULL AND r.source_node IS NOT NULL))")
            if _any(con, f"FROM studies JOIN r_studies r USING (study_instance_uid) WHERE {changed}"):
                con.execute("UPDATE studies SET remote_instances = r.remote_instances,"
                            " source_node = coalesce(studies.source_node, r.source_node)"
                            f" FROM r_studies r WHERE studies.study_instance_uid = r.study_instance_uid AND {changed}")
            con.execute("INSERT INTO studies BY NAME SELECT * FROM r_studies "
                        "WHERE study_instance_uid NOT IN (SELECT study_instance_uid FROM studies)")
            browse_table.refresh(con, "r_studies", "r_patients")
            counts[1] = con.execute(
                "SELECT count(*) FROM r_series WHERE series_instance_uid NOT IN "
                "(SELECT series_instance_uid FROM series)").fetchall()[0][0]
            if _any(con, "FROM series JOIN r_series r USING (series_instance_uid)"
                         " WHERE series.remote_instances IS DISTINCT FROM r.remote_instances"):
                con.execute("UPDATE series SET remote_instances = r.remote_instances"
                            " FROM r_series r WHERE series.series_instance_uid = r.series_instance_uid"
                            " AND series.remote_instances IS DISTINCT FROM r.remote_instances")
            con.execute("INSERT INTO series BY NAME SELECT * FROM r_series "
                        "WHERE series_instance_uid NOT IN (SELECT series_instance_uid FROM series)")
        finally:
            for name in registered:
                con.unregister(name)

    _transaction(con, home, write)
    refresh_retrieve_status(con, home, study_rows)
    return counts[0], counts[1]


def refresh_retrieve_status(con: duckdb.DuckDBPyConnection, home: Home, study_uids: Iterable[str]) -> None:
    """Set the retrieve status of pulled studies and their series from archived vs. remote counts."""
    uids = sorted(set(study_uids))
    if not uids:
        return
    status = ("CASE WHEN coalesce(number_of_instances, 0) = 0 THEN '" + NOT_RETRIEVED + "'"
              " WHEN remote_instances IS NOT NULL AND number_of_instances < remote_instances"
              " THEN '" + PARTIAL + "' ELSE '" + COMPLETE + "' END")

    def write() -> None:
        _uids_table(con, "s_studies", uids)
        try:
            stale = f"retrieve_status IS DISTINCT FROM ({status})"
            studies = f"WHERE source_node IS NOT NULL AND study_instance_uid IN (SELECT uid FROM s_studies) AND {stale}"
            if _any(con, f"FROM studies {studies}"):
                con.execute(f"UPDATE studies SET retrieve_status = {status} {studies}")
            series = f"WHERE study_instance_uid IN (SELECT uid FROM s_studies) AND {stale}"
            if _any(con, f"FROM series {series}"):
                con.execute(f"UPDATE series SET retrieve_status = {status} {series}")
        finally:
            con.unregister("s_studies")

    _transaction(con, home, write)


def retrieve_status(con: duckdb.DuckDBPyConnection, study_uids: Iterable[str]) -> dict[str, tuple]:
    """(retrieve_status, number_of_instances, remote_instances) of the studies named."""
    _uids_table(con, "q_status", study_uids)
    try:
        rows = con.execute("SELECT study_instance_uid, retrieve_status, number_of_instances, remote_instances "
                           "FROM studies WHERE study_instance_uid IN (SELECT uid FROM q_status)").fetchall()
    finally:
        con.unregister("q_status")
    return {row[0]: tuple(row[1:]) for row in rows}
