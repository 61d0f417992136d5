"""The archive browser's table ``study_browse``: each study with its patient's identity, in one row.

Migration 0009 defines the rows by the view ``study_browse_source`` (studies joined to patients)
and fills the table once. Every writer of ``studies`` or ``patients`` then calls ``refresh`` in its
own transaction, so a reader sees the table and the studies change together.
"""

from __future__ import annotations

import duckdb


def refresh(con: duckdb.DuckDBPyConnection, studies: str, patients: str) -> None:
    """Rewrite the browse rows of the studies in relation ``studies`` (a ``study_instance_uid``
    column) and of every study of the patients in relation ``patients`` (a ``patient_key`` column).

    Both names are registered relations of the caller, never user text. A patient row filled in by
    a later batch changes the rows of all that patient's studies, not only the batch's.
    """
    touched = (f"study_instance_uid IN (SELECT study_instance_uid FROM {studies}) "
               f"OR patient_key IN (SELECT patient_key FROM {patients})")
    con.execute(f"DELETE FROM study_browse WHERE {touched}")
    con.execute(f"INSERT INTO study_browse SELECT * FROM study_browse_source WHERE {touched}")
