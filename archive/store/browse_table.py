"""The archive browser's tables: ``study_browse``, each study with its patient's identity in one
row, and ``study_lookup``, the same rows once per key they are looked up by (patient ID,
accession number, patient key, the person's name + birth date + sex; migration 0016).

Migration 0009 creates it and 0010 fills it; its rows are defined once, by the table macro
``study_browse_rows(study_uids)`` (migration 0012; the view ``study_browse_source`` is that macro
over every study; ``study_lookup_rows`` for the lookup table). Every writer of ``studies`` or
``patients`` then calls ``refresh`` in its own transaction, so a reader sees both tables and the
studies change together.
"""

from __future__ import annotations

import duckdb

from archive.store.connection import scalar


def refresh(con: duckdb.DuckDBPyConnection, studies: str, patients: str, replace: bool = True) -> None:
    """Rewrite the browse rows of the studies in relation ``studies`` (a ``study_instance_uid``
    column) and of every study of the patients in relation ``patients`` (a ``patient_key`` column).

    Both names are registered relations of the caller, never user text. A patient row filled in by
    a later batch changes the rows of all that patient's studies, not only the batch's.
    ``replace=False`` says that none of those studies and patients was stored before this
    transaction: then there is no row to replace and no other study of those patients, and the
    batch's rows are only added.
    """
    touched = (f"SELECT study_instance_uid FROM {studies} UNION SELECT study_instance_uid FROM studies "
               f"WHERE patient_key IN (SELECT patient_key FROM {patients})"
               if replace else f"SELECT study_instance_uid FROM {studies}")
    uids = scalar(con, f"SELECT list(study_instance_uid) FROM ({touched})")
    if not uids:
        return
    if replace:
        con.execute("DELETE FROM study_browse WHERE study_instance_uid IN (SELECT unnest($uids))", {"uids": uids})
        con.execute("DELETE FROM study_lookup WHERE study_instance_uid IN (SELECT unnest($uids))", {"uids": uids})
    con.execute("INSERT INTO study_browse SELECT * FROM study_browse_rows($uids)", {"uids": uids})
    con.execute("INSERT INTO study_lookup SELECT * FROM study_lookup_rows($uids)", {"uids": uids})
