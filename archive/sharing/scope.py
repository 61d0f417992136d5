"""What a share link (or a CD export) reaches, read from the analytic store.

``resolve`` checks that the studies a clerk picked exist and belong to one patient and gives the
``sharing.Scope`` to issue a link with. ``contents`` gives the patient banner, the studies, their
series and their instances in viewing order: the share portal and the exports address everything
by position in these lists (``study 2, series 1, image 5``), never by a UID in a URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from archive.sharing.links import Scope, ShareError


@dataclass
class SeriesContent:
    series_instance_uid: str
    modality: str | None
    series_number: int | None
    series_description: str | None
    instances: list[dict[str, Any]] = field(default_factory=list)   # sop uids, content_hash, bytes...

    @property
    def bytes(self) -> int:
        return sum(int(i["bytes"] or 0) for i in self.instances)


@dataclass
class StudyContent:
    study_instance_uid: str
    study: dict[str, Any]
    series: list[SeriesContent] = field(default_factory=list)

    @property
    def instances(self) -> list[dict[str, Any]]:
        return [i for s in self.series for i in s.instances]


@dataclass
class Contents:
    patient: dict[str, Any]
    studies: list[StudyContent]

    @property
    def instances(self) -> list[dict[str, Any]]:
        return [i for s in self.studies for i in s.instances]

    @property
    def bytes(self) -> int:
        return sum(int(i["bytes"] or 0) for i in self.instances)


_STUDIES = """
SELECT s.study_instance_uid, s.patient_key, s.site, s.study_date, s.study_time, s.study_description,
       s.accession_number, s.study_id, s.modalities, s.body_part_examined, s.institution_name,
       s.referring_physician_name, s.number_of_series, s.number_of_instances, s.bytes,
       p.patient_name, p.patient_id, p.issuer_of_patient_id, p.patient_birth_date, p.patient_sex,
       st.name AS site_name
FROM studies s
LEFT JOIN patients p USING (patient_key)
LEFT JOIN sites st ON st.site = s.site
WHERE list_contains($uids, s.study_instance_uid)
"""

_INSTANCES = """
SELECT i.study_instance_uid, i.series_instance_uid, i.sop_instance_uid, i.sop_class_uid,
       i.instance_number, i.content_hash, i.bytes, i.transfer_syntax_uid, i.rows, i.columns,
       coalesce(i.number_of_frames, 1) AS number_of_frames,
       se.modality, se.series_number, se.series_description
FROM instances i
LEFT JOIN series se USING (series_instance_uid)
WHERE list_contains($uids, i.study_instance_uid)
ORDER BY i.study_instance_uid, se.series_number NULLS LAST, i.series_instance_uid,
         i.instance_number NULLS LAST, i.slice_location NULLS LAST, i.sop_instance_uid
"""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, uids: list[str]) -> list[dict[str, Any]]:
    cur = con.execute(sql, {"uids": uids})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def resolve(con: duckdb.DuckDBPyConnection, study_instance_uids: list[str]) -> Scope:
    """The scope of a link to these studies; ShareError unless they exist and share one patient."""
    uids = list(dict.fromkeys(u.strip() for u in study_instance_uids if u and u.strip()))
    if not uids:
        raise ShareError("choose at least one study to share")
    rows = {r["study_instance_uid"]: r for r in _rows(con, _STUDIES, uids)}
    missing = [u for u in uids if u not in rows]
    if missing:
        raise ShareError(f"{len(missing)} of the studies are not in the archive")
    patients = {rows[u]["patient_key"] for u in uids}
    if len(patients) != 1:
        raise ShareError("a link can only share studies of one patient")
    first = rows[uids[0]]
    birth = first.get("patient_birth_date")
    return Scope(patients.pop(), tuple(uids), first.get("site"),
                 birth if isinstance(birth, date) else None)


def contents(con: duckdb.DuckDBPyConnection, study_instance_uids: list[str] | tuple[str, ...]) -> Contents:
    """Patient, studies (in the order given), series and instances in viewing order."""
    uids = list(study_instance_uids)
    studies = {r["study_instance_uid"]: r for r in _rows(con, _STUDIES, uids)}
    by_study: dict[str, StudyContent] = {
        u: StudyContent(u, studies[u]) for u in uids if u in studies}
    for row in _rows(con, _INSTANCES, uids):
        study = by_study.get(row["study_instance_uid"])
        if study is None:
            continue
        if not study.series or study.series[-1].series_instance_uid != row["series_instance_uid"]:
            study.series.append(SeriesContent(row["series_instance_uid"], row["modality"],
                                              row["series_number"], row["series_description"]))
        study.series[-1].instances.append(row)
    ordered = list(by_study.values())
    patient = {k: ordered[0].study.get(k) for k in (
        "patient_key", "patient_name", "patient_id", "issuer_of_patient_id", "patient_birth_date",
        "patient_sex", "site", "site_name")} if ordered else {}
    return Contents(patient, ordered)


_FIND = """
WITH hits AS (
    SELECT DISTINCT s.patient_key
    FROM studies s LEFT JOIN patients p USING (patient_key)
    WHERE upper(p.patient_id) = upper($text) OR upper(s.accession_number) = upper($text)
       OR s.study_instance_uid = $text
)
SELECT s.study_instance_uid, s.patient_key, s.study_date, s.study_description, s.modalities, s.site,
       s.accession_number, s.number_of_instances, p.patient_name, p.patient_id, p.issuer_of_patient_id,
       p.patient_birth_date, p.patient_sex
FROM studies s JOIN hits USING (patient_key) LEFT JOIN patients p USING (patient_key)
ORDER BY p.patient_id, s.study_date DESC NULLS LAST, s.study_instance_uid
LIMIT 500
"""


def find_studies(con: duckdb.DuckDBPyConnection, text: str) -> list[dict[str, Any]]:
    """Every study of the patient(s) with this Patient ID, accession number or Study UID (exact)."""
    text = (text or "").strip()
    if not text:
        return []
    cur = con.execute(_FIND, {"text": text})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
