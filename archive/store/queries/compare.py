"""Typed wrappers of the comparison review's queries (SQL beside this module, ``compare_*.sql``)."""

from __future__ import annotations

import logging

import duckdb
import pandas as pd

from archive.store.queries import sql

log = logging.getLogger("limestone.compare")


def same_person_keys(con: duckdb.DuckDBPyConnection, patient_key: str) -> list[str]:
    """The patient records (one per site and MRN) that belong to the same person as ``patient_key``.

    This is the one place the comparison review decides who is the same person: the regional
    patient identity (view ``patient_identity`` of the repeat-exam work) when the store has it,
    otherwise (no such view, or the linker has never run) PatientID + issuer and exactly equal
    name, birth date and sex.
    """
    name = "compare_same_person_linked" if _linked_identity(con) else "compare_same_person"
    rows = con.execute(sql(name), {"patient_key": patient_key}).fetchall()
    keys = sorted({r[0] for r in rows if r[0]})
    return keys or [patient_key]


def _linked_identity(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        return bool(con.execute("SELECT EXISTS (SELECT 1 FROM patient_links) "
                                "AND EXISTS (SELECT 1 FROM patient_identity)").fetchall()[0][0])
    except duckdb.CatalogException:
        return False


def prior_candidates(con: duckdb.DuckDBPyConnection, study_instance_uid: str,
                     patient_keys: list[str]) -> pd.DataFrame:
    """The studies of ``patient_keys`` done before the current study, newest first."""
    return con.execute(sql("compare_prior_candidates"),
                       {"study_instance_uid": study_instance_uid, "patient_keys": patient_keys}).df()


def series_geometry(con: duckdb.DuckDBPyConnection, study_instance_uid: str) -> pd.DataFrame:
    """A study's series with orientation, thickness, spacing, matrix and frame of reference."""
    return con.execute(sql("compare_series"), {"study_instance_uid": study_instance_uid}).df()


def series_instances(con: duckdb.DuckDBPyConnection, study_instance_uid: str,
                     series_instance_uid: str) -> pd.DataFrame:
    """A series' instances in the viewer's order, with ImagePositionPatient and orientation."""
    return con.execute(sql("compare_instances"), {"study_instance_uid": study_instance_uid,
                                                  "series_instance_uid": series_instance_uid}).df()
