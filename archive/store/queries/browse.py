"""Typed wrappers of the archive browser's and the study page's queries (SQL beside this module).

Every value is bound as a parameter; the only text put into SQL is an ORDER BY picked from
``SORTS`` by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from archive.store.queries import sql

# Sort name -> ORDER BY clause. Ties are broken by the UID so pages never overlap.
SORTS: dict[str, str] = {
    "date_desc": "study_date DESC NULLS LAST, study_time DESC NULLS LAST, study_instance_uid",
    "date_asc": "study_date ASC NULLS LAST, study_time ASC NULLS LAST, study_instance_uid",
    "patient_name": "patient_name ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
    "patient_id": "patient_id ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
    "site": "site ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
    "description": "study_description ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
    "instances_desc": "number_of_instances DESC NULLS LAST, study_instance_uid",
}

MAX_PAGE_SIZE = 500


def like_pattern(text: str | None, anchored_start: bool = True) -> str | None:
    """A user's search text as an ILIKE pattern: ``*`` and ``?`` are wildcards, nothing else is.

    Without a wildcard the text matches from the start (``smi`` finds SMITH^JOHN); ``^`` is read
    as a space, so ``smith john`` and ``SMITH^JOHN`` both work.
    """
    if text is None or not text.strip():
        return None
    text = text.strip().replace("^", " ")
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = escaped.replace("*", "%").replace("?", "_")
    if "*" not in text and "?" not in text:
        pattern = pattern + "%" if anchored_start else f"%{pattern}%"
    return pattern


@dataclass
class StudySearch:
    """The browser's filters; empty means no filter."""

    patient_name: str | None = None
    patient_id: str | None = None
    accession: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    modality: str | None = None
    body_part: str | None = None
    site: str | None = None
    description: str | None = None
    sort: str = "date_desc"
    page: int = 1
    page_size: int = 25

    def params(self) -> dict[str, Any]:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}; expected one of {', '.join(SORTS)}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
        blank = lambda v: (v.strip() or None) if isinstance(v, str) else v  # noqa: E731
        return {
            "patient_name": like_pattern(self.patient_name),
            "patient_id": blank(self.patient_id),
            "accession": blank(self.accession),
            "date_from": self.date_from,
            "date_to": self.date_to,
            "modality": blank(self.modality),
            "body_part": blank(self.body_part),
            "site": blank(self.site),
            "description": like_pattern(self.description, anchored_start=False),
            "limit": self.page_size,
            "offset": (max(1, self.page) - 1) * self.page_size,
        }


@dataclass
class SearchResult:
    rows: pd.DataFrame
    total: int
    page: int
    page_size: int
    pages: int = field(init=False)

    def __post_init__(self):
        self.pages = max(1, -(-self.total // self.page_size))


def search_studies(con: duckdb.DuckDBPyConnection, search: StudySearch) -> SearchResult:
    """One page of the studies matching ``search``, and how many match in all."""
    params = search.params()
    text = sql("browse_studies").replace("{order_by}", SORTS[search.sort])
    df = con.execute(text, params).df()
    total = int(df["total"].iloc[0]) if len(df) else 0
    if not len(df) and params["offset"]:
        # Past the last page (the archive changed, or a stale URL): count without the page.
        total = int(con.execute(f"SELECT count(*) FROM ({text.rsplit('ORDER BY', 1)[0]})",
                                {k: v for k, v in params.items() if k not in ("limit", "offset")}
                                ).fetchone()[0])
    return SearchResult(df.drop(columns=["total"]), total, search.page, search.page_size)


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Sites, modalities and body parts present in the store, for filter choices."""
    options: dict[str, list[str]] = {"site": [], "modality": [], "body_part": []}
    for kind, value in con.execute(sql("filter_options")).fetchall():
        options[kind].append(value)
    return options


def study(con: duckdb.DuckDBPyConnection, study_instance_uid: str) -> dict[str, Any] | None:
    """One study with its patient's identity, or None when it is not in the store."""
    cursor = con.execute(sql("study"), {"study_instance_uid": study_instance_uid})
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row))


def study_series(con: duckdb.DuckDBPyConnection, study_instance_uid: str) -> pd.DataFrame:
    """A study's series in order, with the content hash of each one's middle instance."""
    return con.execute(sql("study_series"), {"study_instance_uid": study_instance_uid}).df()


def series_instances(con: duckdb.DuckDBPyConnection, study_instance_uid: str,
                     series_instance_uid: str) -> pd.DataFrame:
    """A series' instances in viewing order."""
    return con.execute(sql("series_instances"), {"study_instance_uid": study_instance_uid,
                                                 "series_instance_uid": series_instance_uid}).df()


def patient_timeline(con: duckdb.DuckDBPyConnection, patient_key: str) -> pd.DataFrame:
    """Every study of the patient, newest first, across sites."""
    return con.execute(sql("patient_timeline"), {"patient_key": patient_key}).df()
