"""Typed wrappers of the archive browser's and the study page's queries (SQL beside this module).

Every value is bound as a parameter; the only text put into SQL are the fixed fragments of
``FILTERS`` and ``SORTS``, picked by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from archive.store.connection import one_snapshot
from archive.store.queries import sql

# Sort name -> (ORDER BY clause, the reversed clause). Ties are broken by the UID so pages never
# overlap. The reversed clause lets a page near the end be read from the other end (the last page of
# "newest first" is the first of "oldest first").
SORTS: dict[str, tuple[str, str]] = {
    "date_desc": ("study_date DESC NULLS LAST, study_time DESC NULLS LAST, study_instance_uid",
                  "study_date ASC NULLS FIRST, study_time ASC NULLS FIRST, study_instance_uid DESC"),
    "date_asc": ("study_date ASC NULLS LAST, study_time ASC NULLS LAST, study_instance_uid",
                 "study_date DESC NULLS FIRST, study_time DESC NULLS FIRST, study_instance_uid DESC"),
    "patient_name": ("patient_name ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
                     "patient_name DESC NULLS FIRST, study_date ASC NULLS FIRST, study_instance_uid DESC"),
    "patient_id": ("patient_id ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
                   "patient_id DESC NULLS FIRST, study_date ASC NULLS FIRST, study_instance_uid DESC"),
    "site": ("site ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
             "site DESC NULLS FIRST, study_date ASC NULLS FIRST, study_instance_uid DESC"),
    "description": ("study_description ASC NULLS LAST, study_date DESC NULLS LAST, study_instance_uid",
                    "study_description DESC NULLS FIRST, study_date ASC NULLS FIRST, study_instance_uid DESC"),
    "instances_desc": ("number_of_instances DESC NULLS LAST, study_instance_uid",
                       "number_of_instances ASC NULLS FIRST, study_instance_uid DESC"),
}
PATIENT_SORTS = ("patient_name", "patient_id")

# Filter name -> WHERE fragment over the browse table (archive/store/browse_table.py). Only the
# filters in use are added, so the store can push each one down into its scan. Name and
# description match their lower-cased columns: lower(x) LIKE lower(p) is x ILIKE p.
FILTERS: dict[str, str] = {
    "patient_name": "patient_name_search LIKE lower($patient_name) ESCAPE '\\'",
    "patient_id": "patient_id = $patient_id",
    "accession": "accession_number = $accession",
    "date_from": "study_date >= $date_from",
    "date_to": "study_date <= $date_to",
    "modality": "list_contains(modalities, $modality)",
    "body_part": "body_part_examined = $body_part",
    "site": "site = $site",
    "description": "description_search LIKE lower($description) ESCAPE '\\'",
}

MAX_PAGE_SIZE = 500
# Sorting by a patient column sorts every matching study by a text; beyond this many matches the
# search sorts by date instead and says so (add a filter to sort by patient).
PATIENT_SORT_LIMIT = 100_000
# With more matches than this, a page query is bounded by its leading sort column first (see
# _leading_bound); with fewer, sorting them all costs less than the extra scan.
BOUND_ABOVE = 100_000
# For a page within the first this many rows, the count's scan also collects the leading sort
# column's first values (``max(column, n)``), so the bound costs no scan of its own (at
# 1,000,000 studies, 25 ms for both where the count and the bound took 45 ms).
TOP_ROWS = 1_000
ROW_COLUMNS = ["study_instance_uid", "study_date", "accession_number", "study_description",
               "modalities", "body_part_examined", "site", "number_of_series", "number_of_instances",
               "patient_name", "patient_id", "issuer_of_patient_id", "patient_birth_date", "patient_sex"]


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
    note: str | None = None

    def __post_init__(self) -> None:
        self.pages = max(1, -(-self.total // self.page_size))


def _compose(name: str, clauses: list[str], order_by: str = "", table: str = "study_browse") -> str:
    text = sql(name).replace("{where}", " AND ".join(clauses) or "true").replace("{order_by}", order_by)
    return text.replace("FROM study_browse", f"FROM {table}")


def _lookup_key(values: dict[str, Any]) -> str | None:
    """The ``study_lookup`` key (migration 0016) of an exact-match filter in use: the accession
    number (the most selective), else the patient ID; None when neither is used."""
    if values.get("accession") is not None:
        return f"a:{values['accession']}"
    if values.get("patient_id") is not None:
        return f"i:{values['patient_id']}"
    return None


def _leading_bound(con: duckdb.DuckDBPyConnection, clauses: list[str], values: dict[str, Any],
                   order: str, rows: int) -> tuple[str | None, Any]:
    """A filter that keeps the first ``rows`` matches in ``order`` (and few others): the leading
    sort column up to its value at the last of them, or None when it cannot narrow anything.

    Finding that value reads one narrow column; the page query then sorts the wide tie-breakers
    (the UID) of the rows within the bound only, and skips row groups whose range is outside it.
    """
    column, direction, nulls = _leading(order)
    found = con.execute(_compose("browse_bound", clauses, f"{column} {direction} NULLS {nulls}")
                        .replace("{column}", column), dict(values, offset=rows - 1)).fetchone()
    if found is None or (found[0] is None and nulls == "LAST"):
        return None, None
    if found[0] is None:
        return f"{column} IS NULL", None
    bound = _up_to(column, direction)
    return (f"({column} IS NULL OR {bound})" if nulls == "FIRST" else bound), found[0]


def _leading(order: str) -> tuple[str, str, str]:
    """The leading column of an ORDER BY clause of ``SORTS``, its direction and its NULLS place."""
    column, direction, _, nulls = order.split(",")[0].split()
    return column, direction, nulls


def _up_to(column: str, direction: str) -> str:
    """The rows up to the value ``$bound`` of ``column`` in a ``direction`` order (NULLs aside)."""
    return f"{column} {'<=' if direction == 'ASC' else '>='} $bound"


def search_studies(con: duckdb.DuckDBPyConnection, search: StudySearch) -> SearchResult:
    """One page of the studies matching ``search``, and how many match in all (one snapshot).

    Queries on the browse table: the count, for many matches the leading sort column's bound for
    the page (from the count's own scan for the first pages), then the page's rows (one scan with
    the filters and a top-N sort; the wide columns are read for the page's rows only). Pages past
    the middle are read from the other end with the reversed order, so the last page costs what
    the first does.
    """
    with one_snapshot(con):
        return _search(con, search)


def _search(con: duckdb.DuckDBPyConnection, search: StudySearch) -> SearchResult:
    params = search.params()
    active = [f for f in FILTERS if params.get(f) is not None]
    clauses = [FILTERS[f] for f in active]
    values = {f: params[f] for f in active}
    order, reverse = SORTS[search.sort]
    # A search by accession number or patient ID reads the few rows under that key in the lookup
    # table (in key order) instead of comparing every study of the browse table (in date order).
    table, lookup = "study_browse", _lookup_key(values)
    if lookup is not None:
        clauses, values = ["lookup_key = $lookup", *clauses], dict(values, lookup=lookup)
        found = _looked_up(con, search, clauses, values, order)
        if found is not None:
            return found
        table = "study_lookup"
    limit, offset = params["limit"], params["offset"]
    column, direction, nulls = _leading(order)
    top: list[Any] | None = None
    if lookup is None and offset + limit <= TOP_ROWS and nulls == "LAST":
        text = _compose("browse_count_top", clauses).replace("{column}", column)
        count, top = con.execute(text.replace("{top}", "max" if direction == "DESC" else "min"),
                                 dict(values, rows=offset + limit)).fetchall()[0]
        total = int(count)
    else:
        total = int(con.execute(_compose("browse_count", clauses, table=table), values).fetchall()[0][0])
    note = None
    if search.sort in PATIENT_SORTS and total > PATIENT_SORT_LIMIT:
        order, reverse = SORTS["date_desc"]
        note = (f"Sorting by patient works on up to {PATIENT_SORT_LIMIT:,} matches; these "
                f"{total:,} are shown newest first. Add a filter to sort them by patient.")
        top = None
    if offset >= total:
        return SearchResult(pd.DataFrame(columns=ROW_COLUMNS), total, search.page, search.page_size, note)
    backwards = offset + limit > total - offset
    if backwards:
        limit = min(limit, total - offset)
        offset = total - offset - limit
        order = reverse
    bound, value = None, None
    needed = min(offset + limit, total)
    if top is not None and not backwards:
        # The count's scan read the bound already: it narrows any page (a page of 6,000 matches
        # by patient name 37 -> 32 ms). Fewer values than rows: the page reaches the NULLs.
        if len(top) >= needed:
            bound, value = _up_to(column, direction), top[needed - 1]
    elif total > BOUND_ABOVE and lookup is None:
        bound, value = _leading_bound(con, clauses, values, order, needed)
    if bound is not None:
        clauses = clauses + [bound]
        values = dict(values, bound=value) if value is not None else values
    rows = con.execute(_compose("browse_page", clauses, order, table), dict(values, limit=limit, offset=offset)).df()
    if backwards:
        rows = rows.iloc[::-1].reset_index(drop=True)
    return SearchResult(rows[ROW_COLUMNS], total, search.page, search.page_size, note)


def _looked_up(con: duckdb.DuckDBPyConnection, search: StudySearch, clauses: list[str],
               values: dict[str, Any], order: str) -> SearchResult | None:
    """A page of an exact lookup in one read of ``study_lookup``: the matches of one key are few,
    so their count comes with the page (a window count) instead of from a second scan. None when
    the page is past the last match (then the count is read on its own)."""
    params = search.params()
    text = _compose("browse_page", clauses, order, "study_lookup").replace(
        "patient_sex\nFROM", "patient_sex, count(*) OVER () AS matches\nFROM")
    rows = con.execute(text, dict(values, limit=params["limit"], offset=params["offset"])).df()
    if rows.empty:
        return None
    return SearchResult(rows[ROW_COLUMNS], int(rows["matches"].iloc[0]), search.page, search.page_size)


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Sites, modalities and body parts present in the store, for filter choices."""
    sites: set[str] = set()
    modalities: set[str] = set()
    body_parts: set[str] = set()
    for site, body_part, study_modalities in con.execute(sql("filter_options")).fetchall():
        sites.add(site)
        body_parts.add(body_part)
        modalities.update(study_modalities or ())
    return {kind: sorted(v for v in values if v is not None)
            for kind, values in (("site", sites), ("modality", modalities), ("body_part", body_parts))}


def any_study_uid(con: duckdb.DuckDBPyConnection) -> str | None:
    """The UID of some study of the store (None when it is empty): a sample for warming queries."""
    row = con.execute("SELECT study_instance_uid FROM studies LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def study(con: duckdb.DuckDBPyConnection, study_instance_uid: str) -> dict[str, Any] | None:
    """One study with its patient's identity, or None when it is not in the store."""
    cursor = con.execute(sql("study"), {"study_instance_uid": study_instance_uid})
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def study_series(con: duckdb.DuckDBPyConnection, study_instance_uid: str) -> pd.DataFrame:
    """A study's series in order, with the content hash of each one's middle instance."""
    return con.execute(sql("study_series"), {"study_instance_uid": study_instance_uid}).df()


def series_instances(con: duckdb.DuckDBPyConnection, study_instance_uid: str,
                     series_instance_uid: str) -> pd.DataFrame:
    """A series' instances in viewing order."""
    return con.execute(sql("series_instances"), {"study_instance_uid": study_instance_uid,
                                                 "series_instance_uid": series_instance_uid}).df()


def patient_timeline(con: duckdb.DuckDBPyConnection, patient_key: str) -> pd.DataFrame:
    """Every study of the patient, newest first, across sites: the record's own studies and, at
    other records, those of the same name, birth date and sex (a demographic match).

    The person's key is read first (one patient, by key), so that both lookups in
    ``study_lookup`` are constant keys the scan can prune by.
    """
    with one_snapshot(con):
        return _timeline(con, patient_key)


def _timeline(con: duckdb.DuckDBPyConnection, patient_key: str) -> pd.DataFrame:
    own = con.execute(sql("patient_timeline_part"), {"lookup": f"k:{patient_key}", "patient_key": None}).df()
    if own.empty:       # a record without studies: its demographics from the patients table
        found = con.execute(sql("patient_person_key"), {"patient_key": patient_key}).fetchone()
        person = found[0] if found else None
    else:
        first = own.iloc[0]
        person = _person_key(first["patient_name"], first["patient_birth_date"], first["patient_sex"])
    others = (con.execute(sql("patient_timeline_part"), {"lookup": person, "patient_key": patient_key}).df()
              if person is not None else own.iloc[0:0])
    rows = pd.concat([frame for frame in (own, others) if not frame.empty] or [own], ignore_index=True)
    rows["same_record"] = rows["patient_key"] == patient_key
    rows = rows.sort_values(["study_date", "study_time"], ascending=False, na_position="last", kind="stable")
    return rows[TIMELINE_COLUMNS].reset_index(drop=True)


TIMELINE_COLUMNS = ["study_instance_uid", "study_date", "study_time", "study_description", "modalities",
                    "body_part_examined", "site", "accession_number", "number_of_series", "number_of_instances",
                    "patient_id", "issuer_of_patient_id", "same_record"]


def _person_key(name: Any, birth_date: Any, sex: Any) -> str | None:
    """``person_lookup_key`` of migration 0016, computed from a browse row's patient columns."""
    if name is None or birth_date is None or pd.isna(name) or pd.isna(birth_date):
        return None
    day = pd.Timestamp(birth_date).date().isoformat()
    sex = "" if sex is None or pd.isna(sex) else str(sex)
    return f"d:{name}\x1f{day}\x1f{sex}"
