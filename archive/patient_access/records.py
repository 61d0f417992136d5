"""What a patient account reaches: the studies and released reports of its person, at every site.

The account is bound to the record a clerk invited; ``person_keys`` asks the store's identity
links (``archive.patients.linking``) for every record of that person at each call, so studies
imported later, at any site of the region, appear without anyone touching the account.

Pages address a study by its ``ref``: 16 hex digits of SHA-256 over the account id and the Study
Instance UID. A ref names nothing outside the account (no UID in an address), and ``resolve`` only
looks among the account's own studies, so another patient's study is never found by any ref.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import duckdb

from archive.clock import now_utc
from archive.patients.linking import person_records
from archive.reports import release

_STUDIES = """
SELECT s.study_instance_uid, s.patient_key, s.site, st.name AS site_name, s.institution_name,
       s.study_date, s.study_time, s.study_description, s.modalities, s.number_of_series,
       s.number_of_instances, s.bytes
FROM studies s LEFT JOIN sites st ON st.site = s.site
WHERE list_contains($keys, s.patient_key)
ORDER BY s.study_date DESC NULLS LAST, s.study_time DESC NULLS LAST, s.study_instance_uid
"""


def person_keys(con: duckdb.DuckDBPyConnection, patient_key: str) -> list[str]:
    """Every record (patient key) of the person the account's record belongs to."""
    return person_records(con, patient_key)


def study_ref(account_id: str, study_instance_uid: str) -> str:
    return hashlib.sha256(f"{account_id}\x00{study_instance_uid}".encode()).hexdigest()[:16]


def studies(con: duckdb.DuckDBPyConnection, account_id: str, patient_key: str) -> list[dict[str, Any]]:
    """The person's studies at every site, newest first, each with its ``ref``."""
    cur = con.execute(_STUDIES, {"keys": person_keys(con, patient_key)})
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    seen: set[str] = set()
    out = []
    for row in rows:   # a study stored under two records (a PACS quirk) is listed once
        if row["study_instance_uid"] in seen:
            continue
        seen.add(row["study_instance_uid"])
        row["ref"] = study_ref(account_id, row["study_instance_uid"])
        out.append(row)
    return out


def resolve(rows: list[dict[str, Any]], refs: list[str] | tuple[str, ...]) -> list[dict[str, Any]] | None:
    """The account's studies named by ``refs`` (in the order given); None if any ref is not one of them."""
    by_ref = {r["ref"]: r for r in rows}
    picked = [by_ref.get(str(ref)) for ref in dict.fromkeys(refs)]
    if not picked or any(p is None for p in picked):
        return None
    return [p for p in picked if p is not None]


def released_reports(con: duckdb.DuckDBPyConnection, study_instance_uid: str, delay_hours: int = 0,
                     now: datetime | None = None) -> list[dict[str, Any]]:
    """The study's reports the patient may see: the share portal's release rule (current, final or
    amended), each only once ``delay_hours`` have passed since the archive received it."""
    reports = release.released(con, study_instance_uid)
    if delay_hours <= 0:
        return reports
    cutoff = (now or now_utc()) - timedelta(hours=delay_hours)
    shown = []
    for report in reports:
        received = report.get("received_at")
        if isinstance(received, datetime):
            received = received.replace(tzinfo=None) if received.tzinfo else received
            if received <= cutoff.replace(tzinfo=None):
                shown.append(report)
    return shown
