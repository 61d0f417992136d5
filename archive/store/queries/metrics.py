"""Typed wrappers of the department metrics (views in migration 0003, queries beside this module).

Every function takes the same filters: a date range and optional lists of sites and modalities
(``None`` or empty = all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

import duckdb
import pandas as pd

from archive.store.queries import sql

GRAINS = ("day", "week", "month")


@dataclass(frozen=True)
class MetricFilter:
    date_from: date
    date_to: date
    sites: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.date_from > self.date_to:
            raise ValueError("the start date is after the end date")

    def params(self) -> dict[str, Any]:
        return {"date_from": self.date_from, "date_to": self.date_to,
                "sites": list(self.sites) or None, "modalities": list(self.modalities) or None}


def _df(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> pd.DataFrame:
    return con.execute(sql(name), params).df()


def date_range(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last exam dates in the store (None, None when it is empty)."""
    first, last = con.execute(sql("metrics_date_range")).fetchall()[0]   # one row
    return first, last


def exam_volume(con: duckdb.DuckDBPyConnection, f: MetricFilter, grain: str = "week") -> pd.DataFrame:
    """Studies and instances per period, site and modality."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}")
    return _df(con, "metrics_volume", dict(f.params(), grain=grain))


def workload(con: duckdb.DuckDBPyConnection, f: MetricFilter) -> pd.DataFrame:
    """Studies per ISO weekday (1 = Monday) and hour."""
    return _df(con, "metrics_workload", f.params())


def turnaround(con: duckdb.DuckDBPyConnection, f: MetricFilter) -> pd.DataFrame:
    """Hours from exam to archive per modality and site (median, p90)."""
    return _df(con, "metrics_turnaround", f.params())


def storage(con: duckdb.DuckDBPyConnection, f: MetricFilter) -> pd.DataFrame:
    """Bytes per month of exam, site and modality, with running totals."""
    return _df(con, "metrics_storage", f.params())


def ingest_runs(con: duckdb.DuckDBPyConnection, sites: Sequence[str] = (), limit: int = 50) -> pd.DataFrame:
    """The latest ingest runs, newest first."""
    return _df(con, "metrics_ingest_runs", {"sites": list(sites) or None, "limit": limit})


def quarantine(con: duckdb.DuckDBPyConnection, f: MetricFilter) -> pd.DataFrame:
    """Quarantined files by kind of reason, by the day they were quarantined within the range."""
    return _df(con, "metrics_quarantine", {"date_from": f.date_from, "date_to": f.date_to})
