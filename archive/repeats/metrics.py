"""Typed readers of the repeat views (migration 0004) for the page, the report and notebooks.

Every reader takes a ``RepeatFilter``: an inclusive date range (either end open) and optional
lists of sites, exam classes and modality families (empty = all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from archive.home import Home
from archive.repeats import facts

_SQL = Path(__file__).parent / "sql"
GRAINS = ("day", "week", "month", "year")
COUNTS = ("studies", "repeats", "avoidable_repeats", "prior_uses", "avoided_repeats")
DOSES = ("ct_dlp_mgy_cm", "ct_ctdi_vol_mgy", "xr_detector_kerma_ugy")


@cache
def sql(name: str) -> str:
    return (_SQL / f"{name}.sql").read_text()


@dataclass(frozen=True)
class RepeatFilter:
    since: date | None = None
    until: date | None = None
    sites: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValueError("the start date is after the end date")

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "sites": list(self.sites) or None,
                "classes": list(self.classes) or None, "modalities": list(self.modalities) or None}


def series(con: duckdb.DuckDBPyConnection, f: RepeatFilter, grain: str = "month") -> pd.DataFrame:
    """Counts, dose and cost avoided per period, site, class and modality family."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}")
    return con.execute(sql("repeats_series"), dict(f.params(), grain=grain)).df()


def avoidable_repeats(con: duckdb.DuckDBPyConnection, f: RepeatFilter, limit: int = 1000) -> pd.DataFrame:
    """The avoidable repeats, newest first, with the prior that was available and where."""
    return con.execute(sql("avoidable_repeats"), dict(f.params(), limit=limit)).df()


def prior_uses(con: duckdb.DuckDBPyConnection, f: RepeatFilter, limit: int = 1000) -> pd.DataFrame:
    """Prior-use episodes with their outcome (avoided, repeated, pending), dose and cost avoided."""
    return con.execute(sql("avoided_repeats"), dict(f.params(), limit=limit)).df()


def study_date_range(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last study dates in the archive (None, None when it is empty)."""
    row = con.execute("SELECT min(study_date), max(study_date) FROM studies").fetchone()
    return (row[0], row[1]) if row else (None, None)


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the repeat metrics can be filtered on: sites, exam classes (code -> name), modalities."""
    # The sites table, not the studies: the same list at a fraction of the cost.
    sites = [r[0] for r in con.execute("SELECT DISTINCT site FROM sites ORDER BY 1").fetchall()]
    class_rows = con.execute("SELECT exam_class, coalesce(name, exam_class) FROM exam_classes "
                             "ORDER BY exam_class").fetchall()
    families = [r[0] for r in con.execute(
        "SELECT DISTINCT modality FROM exam_classes UNION SELECT modality FROM repeat_window_defaults "
        "ORDER BY 1").fetchall()]
    return {"site": sites, "exam_class": [c for c, _ in class_rows],
            "class_names": dict(class_rows), "modality": families}


def link_conflicts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The records the identity linker listed for review, one row per record."""
    return con.execute(sql("link_conflicts")).df()


def link_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    cursor = con.execute(sql("link_summary"))
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchall()[0], strict=True))   # the view has one row


def status(con: duckdb.DuckDBPyConnection, home: Home | None = None) -> dict[str, Any]:
    """When the repeat facts were computed and whether anything changed since (archive/repeats/facts.py;
    with ``home``, uses not yet copied from the state database count as changes)."""
    return facts.status(con, home)


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, Any] = {name: int(row.get(name) or 0) for name in COUNTS}
    counts["repeat_rate"] = round(counts["repeats"] / counts["studies"], 4) if counts["studies"] else 0.0
    counts["dose_avoided"] = {name: round(float(row.get(name) or 0.0), 1) for name in DOSES}
    counts["cost_avoided"] = round(float(row.get("cost_avoided") or 0.0), 2)
    return counts


def report(con: duckdb.DuckDBPyConnection, since: date | None = None,
           until: date | None = None, home: Home | None = None) -> dict[str, Any]:
    """The totals and the same by site and by exam class, as ``limestone report repeats`` prints them.

    Keys: ``since``, ``until``, ``as_of`` (when the repeat facts were computed), ``stale`` (something
    changed since, including prior uses in the state database not yet copied when ``home`` is
    given: run ``limestone link-patients``), ``totals``, ``by_site`` (list, each with ``site``), ``by_class``
    (list, each with ``exam_class`` and ``class_name``). Each block holds ``studies``, ``repeats``,
    ``repeat_rate``, ``avoidable_repeats``, ``prior_uses``, ``avoided_repeats``, ``dose_avoided``
    (``ct_dlp_mgy_cm``, ``ct_ctdi_vol_mgy``, ``xr_detector_kerma_ugy``) and ``cost_avoided``.
    """
    f = RepeatFilter(since, until)
    cursor = con.execute(sql("repeats_report"), {"since": since, "until": until})
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    state = facts.status(con, home)
    out: dict[str, Any] = {"since": f.since.isoformat() if f.since else None,
                           "until": f.until.isoformat() if f.until else None,
                           "as_of": state["refreshed_at"].isoformat(timespec="seconds")
                           if state["refreshed_at"] else None,
                           "stale": bool(state["stale"]),
                           "totals": _numbers({}), "by_site": [], "by_class": []}
    for row in rows:
        if row["level"] == "total":
            out["totals"] = _numbers(row)
        elif row["level"] == "site":
            out["by_site"].append({"site": row["site"], **_numbers(row)})
        else:
            out["by_class"].append({"exam_class": row["exam_class"], "class_name": row["class_name"],
                                    **_numbers(row)})
    return out


DEFAULT_MONTHS = 24


def default_window(con: duckdb.DuckDBPyConnection, months: int = DEFAULT_MONTHS) -> RepeatFilter:
    """The last ``months`` months up to the latest exam (whole months): one old sample study from
    1995 must not stretch every chart over thirty empty years."""
    row = con.execute("SELECT max(day) FROM repeat_metrics_daily").fetchone()
    latest = row[0] if row else None
    if latest is None:
        return RepeatFilter()
    start_month = latest.year * 12 + latest.month - 1 - (months - 1)
    return RepeatFilter(since=date(start_month // 12, start_month % 12 + 1, 1), until=latest)


def rates(con: duckdb.DuckDBPyConnection, f: RepeatFilter, grain: str = "month",
          by: tuple[str, ...] = ("site",)) -> pd.DataFrame:
    """Repeat rates (repeats / studies) per period and ``by`` (``site``, ``exam_class``), with the
    avoidable rate, avoided repeats and the dose avoided: a site with fewer repeats may have the
    higher rate."""
    frame = series(con, f, grain)
    keys = ["period", *by] + (["class_name"] if "exam_class" in by else [])
    columns = [*keys, "studies", "repeats", "repeat_rate", "avoidable_repeats", "avoidable_rate",
               "avoided_repeats", *DOSES]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    out = frame.groupby(keys, as_index=False, dropna=False)[list(COUNTS) + list(DOSES)].sum()
    studies = out["studies"].where(out["studies"] > 0)
    out["repeat_rate"] = out["repeats"] / studies
    out["avoidable_rate"] = out["avoidable_repeats"] / studies
    return out[columns]


def rates_overall(con: duckdb.DuckDBPyConnection, f: RepeatFilter,
                  by: tuple[str, ...] = ("site",)) -> pd.DataFrame:
    """``rates`` over the whole window, highest rate first."""
    frame = rates(con, f, "year", by)
    if frame.empty:
        return frame.drop(columns="period")
    keys = list(by) + (["class_name"] if "exam_class" in by else [])
    out = frame.groupby(keys, as_index=False, dropna=False)[
        ["studies", "repeats", "avoidable_repeats", "avoided_repeats", *DOSES]].sum()
    out["repeat_rate"] = out["repeats"] / out["studies"].where(out["studies"] > 0)
    out["avoidable_rate"] = out["avoidable_repeats"] / out["studies"].where(out["studies"] > 0)
    return out.sort_values("repeat_rate", ascending=False).reset_index(drop=True)


def trend(per_period: pd.DataFrame, by: tuple[str, ...] = ("site",)) -> pd.DataFrame:
    """Per group of a ``rates`` frame: the rate in the first and second half of the window, the
    change, and the least-squares slope per period (weighted by studies); ``direction`` is rising,
    falling or steady (a change under 1 percentage point)."""
    rows = []
    for key, group in per_period.dropna(subset=["repeat_rate"]).groupby(list(by), dropna=False):
        group = group.sort_values("period")
        periods = sorted(group["period"].unique())
        if len(periods) < 2:
            continue
        index = group["period"].map({p: i for i, p in enumerate(periods)}).to_numpy(dtype=float)
        half = len(periods) // 2
        first, second = group[index < half], group[index >= half]
        rate_a = first["repeats"].sum() / max(1, first["studies"].sum())
        rate_b = second["repeats"].sum() / max(1, second["studies"].sum())
        weights = group["studies"].to_numpy(dtype=float)
        slope = float(np.polyfit(index, group["repeat_rate"].to_numpy(dtype=float), 1, w=np.sqrt(weights))[0]) \
            if len(set(index)) > 1 else 0.0
        change = rate_b - rate_a
        rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True), periods=len(periods),
                         first_half_rate=rate_a, second_half_rate=rate_b, change=change, slope_per_period=slope,
                         direction="steady" if abs(change) < 0.01 else "rising" if change > 0 else "falling"))
    return pd.DataFrame(rows, columns=[*by, "periods", "first_half_rate", "second_half_rate", "change",
                                       "slope_per_period", "direction"])
