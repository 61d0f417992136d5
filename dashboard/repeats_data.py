"""Data access of the Repeat exams page: cached readers of the repeat views, and the admin edits.

Readers use the dashboard's shared read-only connection (``dashboard.data.cursor``); edits open a
short-lived writer connection, go through ``archive.repeats.classes`` / ``archive.patients.linking`` (which
validate them), and clear the cached readers so the page shows the new numbers at once.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

import pandas as pd
import streamlit as st

from archive.repeats import classes, facts, metrics, update
from archive.store.connection import LAKE
from dashboard import data

TTL = data.TTL


def _filter(since, until, sites, exam_classes, modalities) -> metrics.RepeatFilter:
    return metrics.RepeatFilter(since, until, tuple(sites), tuple(exam_classes), tuple(modalities))


@st.cache_data(ttl=TTL, show_spinner=False)
def date_range(home: str) -> tuple[date | None, date | None]:
    with data.cursor(home) as cur:
        return metrics.study_date_range(cur)


@st.cache_data(ttl=TTL, show_spinner=False)
def options(home: str) -> dict[str, Any]:
    """Sites, classes (code -> name) and modality families to filter on."""
    with data.cursor(home) as cur:
        return metrics.filter_options(cur)


@st.cache_data(ttl=TTL, show_spinner=False)
def status(home: str) -> dict[str, Any]:
    with data.cursor(home) as cur:
        # With the home: uses in the state database not yet copied (links, media) make it stale too.
        return facts.status(cur, data.archive(home).home)


@st.cache_data(ttl=TTL, show_spinner=False)
def series(home: str, grain: str, since, until, sites, exam_classes, modalities) -> pd.DataFrame:
    with data.cursor(home) as cur:
        return metrics.series(cur, _filter(since, until, sites, exam_classes, modalities), grain)


@st.cache_data(ttl=TTL, show_spinner=False)
def avoidable(home: str, since, until, sites, exam_classes, modalities, limit: int = 5000) -> pd.DataFrame:
    with data.cursor(home) as cur:
        return metrics.avoidable_repeats(cur, _filter(since, until, sites, exam_classes, modalities), limit)


@st.cache_data(ttl=TTL, show_spinner=False)
def prior_uses(home: str, since, until, sites, exam_classes, modalities, limit: int = 5000) -> pd.DataFrame:
    with data.cursor(home) as cur:
        return metrics.prior_uses(cur, _filter(since, until, sites, exam_classes, modalities), limit)


@st.cache_data(ttl=TTL, show_spinner=False)
def conflicts(home: str) -> pd.DataFrame:
    with data.cursor(home) as cur:
        return metrics.link_conflicts(cur)


@st.cache_data(ttl=TTL, show_spinner=False)
def link_summary(home: str) -> dict[str, Any]:
    with data.cursor(home) as cur:
        return metrics.link_summary(cur)


@st.cache_data(ttl=TTL, show_spinner=False)
def reference(home: str) -> dict[str, pd.DataFrame]:
    """The editable tables: classes, window defaults, rules, clinical flags, archive coverage."""
    with data.cursor(home) as cur:
        return {"classes": classes.exam_classes(cur), "windows": classes.window_defaults(cur),
                "rules": classes.class_rules(cur), "flags": classes.clinical_flags(cur),
                "coverage": classes.archive_coverage(cur)}


def _clear() -> None:
    for reader in (status, series, avoidable, prior_uses, conflicts, link_summary, reference, options):
        reader.clear()


def edit(home: str, action: Callable[..., Any], *args, **kwargs) -> Any:
    """Run one edit (a function of archive.repeats.classes or archive.patients.linking) on a writer connection."""
    con = data.archive(home).store()
    try:
        con.execute(f"USE {LAKE}")
        return action(con, *args, **kwargs)
    finally:
        con.close()
        _clear()


def bring_up_to_date(home: str) -> update.Update:
    """Copy prior uses from the audit trail, link the patient records again and recompute the
    repeat facts (archive/repeats/update.py)."""
    archive_home = data.archive(home).home
    return edit(home, lambda con: update.bring_up_to_date(con, archive_home, force=True))
