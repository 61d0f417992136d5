"""Dose and exposure against reference levels, for notebooks and pages.

CT: per study, the DLP and the highest CTDIvol from the ``study_dose`` view (dose reports where
present, else estimated from the slices; see migration 0004), grouped by protocol and compared
with the ``dose_reference_levels`` table (migration 0005; the row for the study's body part, else
the modality's ``*`` row). CR/DX: exposure index and deviation index per instance, against the
deviation index's target range in the same table. Reference levels are example values: a
department edits the table.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd


def reference_levels(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The reference level table as it is now."""
    return con.execute("SELECT * FROM dose_reference_levels ORDER BY modality, body_part, metric").df()


def ct_studies(con: duckdb.DuckDBPyConnection, since: date | None = None) -> pd.DataFrame:
    """One row per CT study: site, protocol, body part, DLP and CTDIvol with their reference levels."""
    return con.execute("""
        WITH ct AS (
            SELECT st.study_instance_uid, st.study_date, coalesce(st.site, '(no site)') AS site,
                   upper(coalesce(nullif(trim(st.body_part_examined), ''), '(unknown)')) AS body_part,
                   (SELECT coalesce(nullif(trim(any_value(se.protocol_name)), ''),
                                    any_value(se.series_description), '(unknown)')
                      FROM series se
                     WHERE se.study_instance_uid = st.study_instance_uid AND se.modality = 'CT') AS protocol,
                   (SELECT any_value(se.station_name) FROM series se
                     WHERE se.study_instance_uid = st.study_instance_uid AND se.modality = 'CT') AS station
            FROM studies st
            WHERE list_contains(st.modalities, 'CT')
              AND (CAST(? AS DATE) IS NULL OR st.study_date >= CAST(? AS DATE))
        ), levels AS (
            SELECT body_part, metric, reference_level FROM dose_reference_levels WHERE modality = 'CT'
        )
        SELECT ct.*, d.ct_dlp_mgy_cm AS dlp, d.ct_ctdi_vol_mgy AS ctdi_vol,
               coalesce((SELECT reference_level FROM levels l
                          WHERE l.body_part = ct.body_part AND l.metric = 'dlp'),
                        (SELECT reference_level FROM levels l
                          WHERE l.body_part = '*' AND l.metric = 'dlp')) AS dlp_reference,
               coalesce((SELECT reference_level FROM levels l
                          WHERE l.body_part = ct.body_part AND l.metric = 'ctdi_vol'),
                        (SELECT reference_level FROM levels l
                          WHERE l.body_part = '*' AND l.metric = 'ctdi_vol')) AS ctdi_vol_reference
        FROM ct LEFT JOIN study_dose d USING (study_instance_uid)
        ORDER BY ct.study_date
    """, [since, since]).df()


def ct_by_protocol(con: duckdb.DuckDBPyConnection, since: date | None = None) -> pd.DataFrame:
    """Per CT protocol: studies, median DLP and CTDIvol, the reference levels, and whether the
    median exceeds them (the usual DRL comparison is of the median, not single exams)."""
    studies = ct_studies(con, since)
    if studies.empty:
        return pd.DataFrame(columns=["protocol", "body_part", "studies", "median_dlp", "dlp_reference",
                                     "median_ctdi_vol", "ctdi_vol_reference", "above_reference"])
    grouped = (studies.groupby(["protocol", "body_part"], dropna=False)
               .agg(studies=("study_instance_uid", "count"), median_dlp=("dlp", "median"),
                    dlp_reference=("dlp_reference", "first"), median_ctdi_vol=("ctdi_vol", "median"),
                    ctdi_vol_reference=("ctdi_vol_reference", "first"))
               .reset_index())
    grouped["above_reference"] = ((grouped["median_dlp"] > grouped["dlp_reference"])
                                  | (grouped["median_ctdi_vol"] > grouped["ctdi_vol_reference"]))
    return grouped


def xr_exposures(con: duckdb.DuckDBPyConnection, since: date | None = None) -> pd.DataFrame:
    """One row per CR/DX instance with an exposure index: site, station, protocol, EI, DI, and
    whether DI is outside the target range of the reference table."""
    return con.execute("""
        SELECT st.study_date, coalesce(st.site, '(no site)') AS site, se.modality,
               coalesce(nullif(trim(se.station_name), ''), '(unknown)') AS station,
               coalesce(nullif(trim(se.protocol_name), ''), nullif(trim(se.series_description), ''),
                        '(unknown)') AS protocol,
               upper(coalesce(se.body_part_examined, '(unknown)')) AS body_part,
               i.exposure_index, i.deviation_index, i.kvp,
               r.lower_limit AS di_lower, r.upper_limit AS di_upper,
               (i.deviation_index < r.lower_limit OR i.deviation_index > r.upper_limit) AS di_outside_target
        FROM instances i
        JOIN series se ON se.series_instance_uid = i.series_instance_uid
        JOIN studies st ON st.study_instance_uid = i.study_instance_uid
        LEFT JOIN dose_reference_levels r ON r.modality = se.modality AND r.body_part = '*'
                                         AND r.metric = 'deviation_index'
        WHERE se.modality IN ('CR', 'DX') AND i.exposure_index IS NOT NULL
          AND (CAST(? AS DATE) IS NULL OR st.study_date >= CAST(? AS DATE))
        ORDER BY st.study_date
    """, [since, since]).df()
