"""A de-identified research export: DICOM files and a Parquet table of their metadata.

``select_studies`` turns study UIDs or a read-only SQL query into the instances to export;
``export`` reads each original from the vault, de-identifies it (``dataset.deidentify``) and writes

- ``OUT/dicom/<pseudonym>/<study>/<series>/<instance>.dcm`` (the new UIDs name the folders),
- ``OUT/instances.parquet``: one row per instance with de-identified metadata only, built from the
  de-identified files themselves so the table cannot hold more than the files,
- ``OUT/flagged.csv``: objects whose pixels carry burned-in text (``archive.deid.burned_in``: text
  found in the pixels by OCR, or by the modality rule when the setting ``deid_burned_in`` says so),
  held back unless asked for (then written under ``OUT/burned_in/`` for a person to check); columns
  ``burned_in`` (true), ``reason``, ``regions`` (left,top,widthxheight of each text found) and
  ``file`` (always named: where it was written, or where it would be),
- ``OUT/export.json``: the profile options applied, counts and when.

Exporting into a folder that holds an earlier export adds to it (same key, same new UIDs).
Every study exported is an ``export`` audit event in the state database.
"""

from __future__ import annotations

import csv
import getpass
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from archive import audit
from archive.audit.trail import AuditEvent
from archive.clock import now_utc
from archive.deid.burned_in import assess
from archive.deid.dataset import deidentify
from archive.deid.keys import DeidKey, load_key
from archive.deid.profile import Options
from archive.dicom.pixels import PixelError, read
from archive.errors import LimestoneError
from archive.home import Archive
from archive.store.connection import scalar

log = logging.getLogger("limestone.deid")

SCHEMA = pa.schema([
    ("pseudonym", pa.string()), ("study_instance_uid", pa.string()), ("series_instance_uid", pa.string()),
    ("sop_instance_uid", pa.string()), ("sop_class_uid", pa.string()), ("modality", pa.string()),
    ("body_part_examined", pa.string()), ("study_date", pa.date32()), ("series_date", pa.date32()),
    ("study_description", pa.string()), ("series_description", pa.string()),
    ("protocol_name", pa.string()), ("manufacturer", pa.string()), ("manufacturer_model_name", pa.string()),
    ("station_name", pa.string()), ("patient_sex", pa.string()), ("patient_age", pa.string()),
    ("patient_size", pa.float64()), ("patient_weight", pa.float64()),
    ("rows", pa.int32()), ("columns", pa.int32()), ("number_of_frames", pa.int32()),
    ("pixel_spacing", pa.list_(pa.float64())), ("slice_thickness", pa.float64()), ("kvp", pa.float64()),
    ("ctdi_vol", pa.float64()), ("exposure_index", pa.float64()), ("deviation_index", pa.float64()),
    ("burned_in", pa.bool_()), ("burned_in_reason", pa.string()), ("exported", pa.bool_()), ("file", pa.string()),
])


class DeidSelectionError(LimestoneError, ValueError):
    """The studies to export cannot be found (no such study, or the query is not usable)."""


@dataclass
class Selected:
    study_instance_uid: str
    sop_instance_uid: str
    content_hash: str
    patient_ref: str


@dataclass
class ExportSummary:
    studies: int = 0
    exported: int = 0
    flagged: int = 0
    failed: int = 0
    out: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def sentence(self) -> str:
        return (f"De-identified {self.exported} instances of {self.studies} studies into {self.out}; "
                f"{self.flagged} held back for possible burned-in text (see flagged.csv), "
                f"{self.failed} failed.")


def _has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() "
                       "AND view_name = ?", [name]))


def select_studies(con: duckdb.DuckDBPyConnection, study_uids: Iterable[str] = (),
                   query: str | None = None) -> list[Selected]:
    """The instances of the chosen studies, with the patient reference their pseudonym comes from.

    ``query`` is SQL run on a read-only store connection that returns a ``study_instance_uid``
    column. The patient reference is the linked person (view ``patient_identity``) when the store
    has it, so one person gets one pseudonym under all their MRNs; else the patient record's key.
    """
    uids = sorted({u.strip() for u in study_uids if u and u.strip()})
    if query:
        try:
            found = con.execute(f"SELECT DISTINCT CAST(study_instance_uid AS VARCHAR) FROM ({query}) q").fetchall()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise DeidSelectionError(f"the query cannot be used (it must return a study_instance_uid "
                                     f"column): {first}") from None
        uids = sorted(set(uids) | {r[0] for r in found if r[0]})
    if not uids:
        raise DeidSelectionError("no studies to export")
    person = ("coalesce((SELECT min(pi.person_key) FROM patient_identity pi WHERE pi.patient_key = s.patient_key), "
              "s.patient_key)" if _has_view(con, "patient_identity") else "s.patient_key")
    rows = con.execute(
        f"SELECT i.study_instance_uid, i.sop_instance_uid, i.content_hash, {person} "
        "FROM instances i JOIN studies s USING (study_instance_uid) "
        "WHERE i.study_instance_uid IN (SELECT unnest(?)) "
        "ORDER BY i.study_instance_uid, i.series_instance_uid, i.instance_number, i.sop_instance_uid",
        [uids]).fetchall()
    missing = set(uids) - {r[0] for r in rows}
    if missing:
        raise DeidSelectionError(f"{len(missing)} of the {len(uids)} studies are not in the archive")
    return [Selected(*r) for r in rows]


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    if isinstance(value, MultiValue):
        value = value[0] if len(value) == 1 else "\\".join(str(v) for v in value)
    return str(value).strip() or None


def _number(ds: Dataset, keyword: str, kind: Callable[[Any], Any] = float) -> Any:
    value = ds.get(keyword)
    try:
        if hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
            value = value[0] if len(value) else None
        return kind(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(ds: Dataset, keyword: str) -> date | None:
    text = _text(ds, keyword)
    if not text or len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def metadata_row(ds: Dataset, pseudonym: str, burned_in: str | None, file: str | None) -> dict[str, Any]:
    """The Parquet row of one de-identified dataset (read from the de-identified values only)."""
    spacing = ds.get("PixelSpacing")
    try:
        spacing = [float(v) for v in spacing] if spacing else None
    except (TypeError, ValueError):
        spacing = None
    return {
        "pseudonym": pseudonym, "study_instance_uid": _text(ds, "StudyInstanceUID"),
        "series_instance_uid": _text(ds, "SeriesInstanceUID"), "sop_instance_uid": _text(ds, "SOPInstanceUID"),
        "sop_class_uid": _text(ds, "SOPClassUID"), "modality": _text(ds, "Modality"),
        "body_part_examined": _text(ds, "BodyPartExamined"), "study_date": _date(ds, "StudyDate"),
        "series_date": _date(ds, "SeriesDate"), "study_description": _text(ds, "StudyDescription"),
        "series_description": _text(ds, "SeriesDescription"), "protocol_name": _text(ds, "ProtocolName"),
        "manufacturer": _text(ds, "Manufacturer"), "manufacturer_model_name": _text(ds, "ManufacturerModelName"),
        "station_name": _text(ds, "StationName"), "patient_sex": _text(ds, "PatientSex"),
        "patient_age": _text(ds, "PatientAge"), "patient_size": _number(ds, "PatientSize"),
        "patient_weight": _number(ds, "PatientWeight"), "rows": _number(ds, "Rows", int),
        "columns": _number(ds, "Columns", int), "number_of_frames": _number(ds, "NumberOfFrames", int) or 1,
        "pixel_spacing": spacing, "slice_thickness": _number(ds, "SliceThickness"), "kvp": _number(ds, "KVP"),
        "ctdi_vol": _number(ds, "CTDIvol"), "exposure_index": _number(ds, "ExposureIndex"),
        "deviation_index": _number(ds, "DeviationIndex"), "burned_in": burned_in is not None,
        "burned_in_reason": burned_in, "exported": file is not None, "file": file,
    }


def _write_table(out: Path, rows: list[dict[str, Any]]) -> None:
    path = out / "instances.parquet"
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    if path.exists():
        earlier = pq.read_table(path)
        if earlier.schema.field("burned_in").type != pa.bool_():   # written before issue 21
            reasons = earlier["burned_in"]
            earlier = earlier.set_column(earlier.schema.get_field_index("burned_in"), "burned_in",
                                         pc.invert(pc.is_null(reasons)))
            earlier = earlier.append_column("burned_in_reason", reasons.cast(pa.string()))
        earlier = earlier.select(SCHEMA.names).cast(SCHEMA)
        keep = pc.invert(pc.is_in(earlier["sop_instance_uid"], value_set=table["sop_instance_uid"]))
        table = pa.concat_tables([earlier.filter(keep), table])
    pq.write_table(table, path)


_FLAGGED = ["pseudonym", "study_instance_uid", "sop_instance_uid", "burned_in", "reason", "regions", "file"]


def _write_flagged(out: Path, flagged: list[dict[str, str]]) -> None:
    """flagged.csv: this export's held-back objects plus earlier ones in the folder, once each."""
    path = out / "flagged.csv"
    rows: dict[str, dict[str, str]] = {}
    if path.exists():
        with open(path, newline="") as handle:
            rows = {r["sop_instance_uid"]: r for r in csv.DictReader(handle)}
    rows.update({r["sop_instance_uid"]: r for r in flagged})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, _FLAGGED, restval="")
        writer.writeheader()
        writer.writerows(rows.values())


def export(archive: Archive, selected: list[Selected], out: Path, options: Options,
           key: DeidKey | None = None, include_burned_in: bool = False,
           progress: Callable[[Iterable], Iterable] = lambda items: items,
           burned_in_rule: str | None = None) -> ExportSummary:
    """De-identify ``selected`` instances from the vault into ``out`` (see the module docstring).

    Whether an object is held back for burned-in text is decided by ``archive.deid.burned_in.assess``
    with ``burned_in_rule`` (default: the setting ``deid_burned_in``, ``pixels``: text found by OCR).
    """
    rule = burned_in_rule or getattr(archive.settings, "deid_burned_in", None) or "pixels"
    key = key or load_key(archive.home.keys_dir, archive.settings.deid_key)
    out.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(studies=len({s.study_instance_uid for s in selected}), out=str(out))
    rows, flagged = [], []
    for item in progress(selected):
        try:
            ds = read(archive.vault.get(item.content_hash))
            found = assess(ds, rule)
            result = deidentify(ds, options, key, item.patient_ref)
            result.burned_in = found.reason if found.burned_in else None
            ds = result.dataset
            relative = None
            if result.burned_in is None or include_burned_in:
                top = "dicom" if result.burned_in is None else "burned_in"
                relative = (f"{top}/{result.pseudonym}/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/"
                            f"{ds.SOPInstanceUID}.dcm")
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                ds.save_as(out / relative, enforce_file_format=True)
            if result.burned_in is not None:
                summary.flagged += 1
                # The file is named in every case: where it was written, or (held back) where it
                # would go with --include-burned-in.
                would_be = (f"burned_in/{result.pseudonym}/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/"
                            f"{ds.SOPInstanceUID}.dcm")
                flagged.append({"pseudonym": result.pseudonym,
                                "study_instance_uid": str(ds.get("StudyInstanceUID", "")),
                                "sop_instance_uid": str(ds.get("SOPInstanceUID", "")), "burned_in": "true",
                                "reason": result.burned_in, "regions": found.region_text(),
                                "file": relative or f"(held back) {would_be}"})
            if relative is not None and result.burned_in is None:
                summary.exported += 1
            rows.append(metadata_row(ds, result.pseudonym, result.burned_in, relative))
        except (PixelError, OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            # The reason goes to the log without identifiers: only our internal content hash.
            summary.failed += 1
            summary.failures.append(item.content_hash[:12])
            log.error("instance %s… could not be de-identified: %s", item.content_hash[:12], type(exc).__name__)
    if rows:
        _write_table(out, rows)
    _write_flagged(out, flagged)
    (out / "export.json").write_text(json.dumps({
        "profile": "DICOM PS3.15 E.1-1 Basic Application Level Confidentiality Profile",
        "options": [name for _, name in options.method_codes()[1:]],
        "created_at": now_utc().isoformat(timespec="seconds"), "studies": summary.studies,
        "exported": summary.exported, "flagged": summary.flagged, "failed": summary.failed,
    }, indent=2))
    user = getpass.getuser()
    for study in sorted({s.study_instance_uid for s in selected}):
        audit.record(archive.home, AuditEvent(action="export", user_id=user, source="deid",
                                              study_instance_uid=study,
                                              detail="de-identified research export"))
    return summary
