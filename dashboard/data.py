"""The dashboard's data access: one cached read-only store connection per home, cached queries.

Pages call these functions only; each opens a cursor on the shared read-only DuckDB connection
(a cursor is safe to use from the session's own thread). Results are cached for a short time,
keyed on the home and the query inputs.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Any, Callable

import duckdb
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from archive.config import Settings
from archive.errors import LimestoneError
from archive.home import Archive
from archive.store import StoreError, queries
from archive.store.connection import LAKE
from archive.store.queries import browse, metrics

log = logging.getLogger("limestone.dashboard")
TTL = 30  # seconds: staff see a new ingest within half a minute


def given(value: Any) -> Any:
    """``value`` from a row read through pandas, None when missing (None, NaN, NaT or NA)."""
    return None if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else value


def whole(value: Any) -> int | None:
    """A number from a row read through pandas, None when missing (e.g. a document series' number)."""
    value = given(value)
    return None if value is None else int(value)


class NoArchive(LimestoneError):
    """There is no store in the home yet (or it cannot be read): pages show an empty state."""


def home_dir() -> str:
    return str(Settings.load().home_path)


@st.cache_resource(show_spinner=False)
def archive(home: str) -> Archive:
    return Archive.load(home=home)


_lock = threading.Lock()


@st.cache_resource(show_spinner=False, ttl=600)
def _connection(home: str) -> duckdb.DuckDBPyConnection:
    return archive(home).store(read_only=True)


def cursor(home: str) -> duckdb.DuckDBPyConnection:
    """A cursor on the home's store, or NoArchive with a plain reason."""
    try:
        with _lock:
            con = _connection(home)
        cur = con.cursor()
        cur.execute(f"USE {LAKE}")
        return cur
    except StoreError as exc:
        _connection.clear()
        log.warning("store not readable: %s", exc)
        raise NoArchive(str(exc).replace(home, "the archive home")) from None


_warming: set[str] = set()


def warm(home: str, *more: Any) -> None:
    """Open the store connection (and run ``more``: callables such as the image server's start)
    in a background thread, once per process and home, so the first page that needs them does not
    wait: on this 2-core machine under load, opening the store (loading DuckDB's extensions and
    attaching the lake) took 0.5-3 s, which the first image of the viewer used to pay after sign-in.
    Then the study queries are run once (``warm_queries``). Called by every page's setup; a
    signed-out page warms while its user types."""
    with _lock:
        if home in _warming:
            return
        _warming.add(home)

    def run() -> None:
        for step in (lambda: warm_queries(home), *more):
            try:
                step()
            except Exception as exc:   # the page that needs it will say what is wrong
                log.info("warm-up step failed: %s", type(exc).__name__)

    threading.Thread(target=run, name="limestone-warm", daemon=True).start()


def warm_queries(home: str) -> None:
    """Run the queries of the study, viewer and comparison pages once, on any study of the store.

    The first run of a query on a connection costs ~80 ms more than the next ones, whatever
    study it asks for (measured: ``browse.study`` 115-133 ms first, 34-38 ms after another
    study's): paid here, in the background, not by the first page that shows an image. Nothing
    read here is kept.
    """
    from archive.comparison.priors import relevant_priors
    from archive.store.queries import compare

    with cursor(home) as cur:
        uid = browse.any_study_uid(cur)
        if uid is None:
            return
        browse.study(cur, uid)
        for series_uid in browse.study_series(cur, uid)["series_instance_uid"][:1]:
            browse.series_instances(cur, uid, series_uid)
            compare.series_instances(cur, uid, series_uid)
        compare.series_geometry(cur, uid)
        relevant_priors(cur, uid)


def prefetch(*calls: Callable[[], Any]) -> None:
    """Run cached queries a page needs further down, each in a thread, beside the one it waits on.

    DuckDB works without holding the interpreter, so two queries on two cores take little longer
    than one. The page's own call later finds the value cached, or waits for it (Streamlit
    computes a cached value once, under a lock per key); a failure is left for that call to
    report. Measured here (4 paired runs, loaded machine): the comparison page's first image came
    0.15-0.35 s sooner.
    """
    run = get_script_run_ctx()
    for call in calls:
        thread = threading.Thread(target=_quietly, args=(call,), name="limestone-prefetch", daemon=True)
        if run is not None:   # the session's context: no "missing ScriptRunContext" warnings
            add_script_run_ctx(thread, run)
        thread.start()


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except BaseException as exc:   # a stopped run included: the page's own call reports or redoes it
        log.info("prefetch failed: %s", type(exc).__name__)


@st.cache_data(ttl=TTL, show_spinner=False)
def stats(home: str) -> dict[str, int]:
    with cursor(home) as cur:
        return queries.stats(cur)


@st.cache_data(ttl=TTL, show_spinner=False)
def protection(home: str) -> dict[str, Any]:
    """The last backup and key escrow of the home, and whether a new escrow is due."""
    from archive.backup.history import protection as backup_protection

    arch = archive(home)
    try:
        current = arch.vault.keys.current_id
    except Exception as exc:  # keys unreadable: the home page still shows the backups
        log.warning("master keys not readable: %s", exc)
        current = None
    return backup_protection(arch.home, current)


@st.cache_data(ttl=TTL, show_spinner=False)
def last_run(home: str) -> dict[str, Any] | None:
    with cursor(home) as cur:
        df = metrics.ingest_runs(cur, limit=1)
    return None if df.empty else df.iloc[0].to_dict()


@st.cache_data(ttl=TTL, show_spinner=False)
def filter_options(home: str) -> dict[str, list[str]]:
    with cursor(home) as cur:
        return browse.filter_options(cur)


@st.cache_data(ttl=TTL, show_spinner=False)
def search(home: str, **filters) -> browse.SearchResult:
    with cursor(home) as cur:
        return browse.search_studies(cur, browse.StudySearch(**filters))


@st.cache_data(ttl=TTL, show_spinner=False)
def study(home: str, study_instance_uid: str) -> dict[str, Any] | None:
    with cursor(home) as cur:
        return browse.study(cur, study_instance_uid)


@st.cache_data(ttl=TTL, show_spinner=False)
def study_series(home: str, study_instance_uid: str) -> pd.DataFrame:
    with cursor(home) as cur:
        return browse.study_series(cur, study_instance_uid)


@st.cache_data(ttl=TTL, show_spinner=False)
def series_instances(home: str, study_instance_uid: str, series_instance_uid: str) -> pd.DataFrame:
    with cursor(home) as cur:
        return browse.series_instances(cur, study_instance_uid, series_instance_uid)


@st.cache_data(ttl=TTL, show_spinner=False)
def patient_timeline(home: str, patient_key: str) -> pd.DataFrame:
    with cursor(home) as cur:
        return browse.patient_timeline(cur, patient_key)


@st.cache_data(ttl=TTL, show_spinner=False)
def metric_date_range(home: str) -> tuple[date | None, date | None]:
    with cursor(home) as cur:
        return metrics.date_range(cur)


@st.cache_data(ttl=TTL, show_spinner=False)
def metric(home: str, name: str, date_from: date, date_to: date, sites: tuple[str, ...],
           modalities: tuple[str, ...], **extra) -> pd.DataFrame:
    """One metric query (``exam_volume``, ``workload``, ``turnaround``, ``storage``, ``quarantine``)."""
    f = metrics.MetricFilter(date_from, date_to, sites, modalities)
    function = {"exam_volume": metrics.exam_volume, "workload": metrics.workload,
                "turnaround": metrics.turnaround, "storage": metrics.storage,
                "quarantine": metrics.quarantine}[name]
    with cursor(home) as cur:
        return function(cur, f, **extra)


@st.cache_data(ttl=5, show_spinner=False)
def job_queue(home: str) -> dict[str, Any]:
    """The job queue's submissions and workers (``mode`` 'embedded' when there is no queue)."""
    from archive.jobs.queue import progress

    return progress(archive(home).home)


@st.cache_data(ttl=TTL, show_spinner=False)
def ingest_runs(home: str, sites: tuple[str, ...] = (), limit: int = 50) -> pd.DataFrame:
    with cursor(home) as cur:
        return metrics.ingest_runs(cur, sites, limit)
