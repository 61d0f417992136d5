"""Dose and exposure against reference levels, for notebooks and pages.

CT: per study, the DLP and the highest CTDIvol from the ``study_dose`` view (dose reports where
present, else estimated from the slices; see migration 0004), grouped by protocol and compared
with the ``dose_reference_levels`` table (migration 0005; the row for the study's body part, else
the modality's ``*`` row). Every study above its level is named (``studies_above_reference``): a
median below the DRL can hide single exams far above it. CR/DX: exposure index and deviation index
per instance and per station, against the deviation index's target range in the same table.

The table holds national levels (the published DRLs; the shipped rows are example values) and the
department's own local levels beside them; a local level applies instead of the national one
(``effective_levels``). Edit it with ``set_reference_level``; each row names its source.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from archive import study_keys
from archive.clock import now_utc
from archive.home import Home
from archive.store.connection import retrying, rollback

LEVEL_KINDS = ("national", "local")
_LEVEL_COLUMNS = ["modality", "body_part", "metric", "reference_level", "lower_limit", "upper_limit", "unit",
                  "source", "level_kind", "updated_at"]


def reference_levels(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The reference level table as it is now (national and local rows)."""
    return con.execute(f"SELECT {', '.join(_LEVEL_COLUMNS)} FROM dose_reference_levels "
                       "ORDER BY modality, body_part, metric, level_kind").df()


def effective_levels(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One level per modality, body part and metric: the local one where the team set one, else the
    national one."""
    levels = reference_levels(con)
    levels["_rank"] = (levels["level_kind"] != "local").astype(int)
    return (levels.sort_values("_rank").drop_duplicates(["modality", "body_part", "metric"])
            .drop(columns="_rank").reset_index(drop=True))


def set_reference_level(con: duckdb.DuckDBPyConnection, modality: str, body_part: str, metric: str,
                        reference_level: float | None, *, source: str, level_kind: str = "local",
                        unit: str | None = None, lower_limit: float | None = None,
                        upper_limit: float | None = None) -> None:
    """Add or replace one reference level (a ``local`` one applies instead of the ``national`` one).

    ``source`` says where the number comes from (a national DRL publication, a local audit).
    """
    if level_kind not in LEVEL_KINDS:
        raise ValueError(f"level_kind must be one of {', '.join(LEVEL_KINDS)}")
    if not source or not source.strip():
        raise ValueError("a reference level needs its source")
    key = [modality.upper(), body_part.upper(), metric, level_kind]

    def write() -> None:
        con.execute("BEGIN")
        try:
            con.execute("DELETE FROM dose_reference_levels WHERE modality = ? AND body_part = ? AND metric = ? "
                        "AND level_kind = ?", key)
            con.execute("INSERT INTO dose_reference_levels (modality, body_part, metric, reference_level, "
                        "lower_limit, upper_limit, unit, source, updated_at, level_kind) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        key[:3] + [reference_level, lower_limit, upper_limit, unit, source.strip(), now_utc(),
                                   level_kind])
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
    retrying(write)


def _level_for(levels: pd.DataFrame, modality: str, body_part: str, metric: str) -> pd.Series | None:
    rows = levels[(levels["modality"] == modality) & (levels["metric"] == metric)]
    exact = rows[rows["body_part"] == body_part]
    if not exact.empty:
        return exact.iloc[0]
    any_part = rows[rows["body_part"] == "*"]
    return any_part.iloc[0] if not any_part.empty else None


def ct_studies(con: duckdb.DuckDBPyConnection, since: date | None = None) -> pd.DataFrame:
    """One row per CT study: site, station, protocol, body part, DLP and CTDIvol with the reference
    level that applies (local before national; the body part's row, else the ``*`` row) and its source."""
    studies = con.execute("""
        WITH ct AS (
            SELECT st.study_instance_uid, st.study_date, coalesce(st.site, '(no site)') AS site,
                   upper(coalesce(nullif(trim(st.body_part_examined), ''), '(unknown)')) AS body_part,
                   (SELECT coalesce(nullif(trim(any_value(se.protocol_name)), ''),
                                    any_value(se.series_description), '(unknown)')
                      FROM series se
                     WHERE se.study_instance_uid = st.study_instance_uid AND se.modality = 'CT') AS protocol,
                   (SELECT coalesce(nullif(trim(any_value(se.station_name)), ''), '(unknown)') FROM series se
                     WHERE se.study_instance_uid = st.study_instance_uid AND se.modality = 'CT') AS station
            FROM studies st
            WHERE list_contains(st.modalities, 'CT')
              AND (CAST(? AS DATE) IS NULL OR st.study_date >= CAST(? AS DATE))
        )
        SELECT ct.*, d.ct_dlp_mgy_cm AS dlp, d.ct_ctdi_vol_mgy AS ctdi_vol
        FROM ct LEFT JOIN study_dose d USING (study_instance_uid)
        ORDER BY ct.study_date, ct.study_instance_uid
    """, [since, since]).df()
    levels = effective_levels(con)
    for metric in ("dlp", "ctdi_vol"):
        found = [_level_for(levels, "CT", part, metric) for part in studies["body_part"]]
        studies[f"{metric}_reference"] = [None if f is None else f["reference_level"] for f in found]
        studies[f"{metric}_reference_source"] = [None if f is None else f"{f['level_kind']}: {f['source']}"
                                                 for f in found]
    return studies


def studies_above_reference(con: duckdb.DuckDBPyConnection, home: Home, since: date | None = None,
                            base_url: str = "") -> pd.DataFrame:
    """Every CT study whose DLP or CTDIvol exceeds its reference level, one row per study and metric,
    with the level's kind and source and a link into the dashboard viewer (opaque study key)."""
    studies = ct_studies(con, since)
    rows = []
    for row in studies.itertuples(index=False):
        for metric, unit in (("ctdi_vol", "mGy"), ("dlp", "mGy*cm")):
            value, level = getattr(row, metric), getattr(row, f"{metric}_reference")
            if value is None or level is None or pd.isna(value) or pd.isna(level) or value <= level:
                continue
            key = study_keys.encode(home, row.study_instance_uid)
            rows.append({"study_date": row.study_date, "site": row.site, "station": row.station,
                         "protocol": row.protocol, "body_part": row.body_part, "metric": metric,
                         "value": round(float(value), 1), "reference_level": float(level), "unit": unit,
                         "ratio": round(float(value) / float(level), 2),
                         "reference_source": getattr(row, f"{metric}_reference_source"),
                         "study_key": key, "viewer_url": f"{base_url.rstrip('/')}/viewer?study={key}"})
    return pd.DataFrame(rows, columns=["study_date", "site", "station", "protocol", "body_part", "metric", "value",
                                       "reference_level", "unit", "ratio", "reference_source", "study_key",
                                       "viewer_url"])


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


def xr_by_station(con: duckdb.DuckDBPyConnection, since: date | None = None) -> pd.DataFrame:
    """Per CR/DX modality and station: images, median exposure and deviation index, and the share
    of images outside the deviation index's target range."""
    xr = xr_exposures(con, since)
    columns = ["modality", "station", "images", "median_exposure_index", "median_deviation_index",
               "outside_target", "outside_target_share"]
    if xr.empty:
        return pd.DataFrame(columns=columns)
    xr = xr.assign(outside=xr["di_outside_target"].fillna(False).astype(bool))
    out = xr.groupby(["modality", "station"]).agg(
        images=("exposure_index", "count"), median_exposure_index=("exposure_index", "median"),
        median_deviation_index=("deviation_index", "median"), outside_target=("outside", "sum")).reset_index()
    out["outside_target_share"] = (out["outside_target"] / out["images"]).round(3)
    return out[columns]
