"""Keeping the repeat metrics current: after imports, pulls and listens, without a manual run.

``bring_up_to_date(con, home)`` is the one way the linked identity and the repeat facts are
recomputed outside an edit of classes or windows. Under the store's write lock (so no batch commits
between the freshness check and the refresh) it

1. copies prior uses from the audit trail and the transfer log (``archive.repeats.audit_uses``),
2. checks ``repeat_facts_status``: a few max() reads of the store, no join;
3. only when something changed since the last refresh (studies arrived, patients relinked, prior
   uses recorded), or when ``force`` is given, links every patient record again
   (``archive.patients.linking.link_patients``) and recomputes the facts (``archive.repeats.facts.refresh``).

Who runs it: ``limestone import`` at the end of a run that stored something, ``limestone pull``
at the end of every run (its C-FIND alone may record studies); ``limestone listen`` at most
``repeat_refresh_seconds`` after the first new study it filed (``RefreshSchedule``) and when it
stops; ``limestone demo`` after seeding its story; with ``force``, ``limestone link-patients`` and
the Repeat exams page's *Recompute now* and *Save decision and link again*.

The update is whole (links and facts of the entire archive), not per patient: the repeat
definitions are views over all studies, and narrowing them to a few people's studies still reads
them all, so a partial update costs about as much as a whole one (benchmarks/repeat_metrics.py
prints the numbers). Hence once per run, and debounced while listening, rather than per
committed batch.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

import duckdb

from archive import state
from archive.home import Home
from archive.patients.linking import LinkResult, link_patients
from archive.repeats import audit_uses, facts
from archive.store.connection import write_lock

log = logging.getLogger("limestone.repeats")


@dataclass
class Update:
    """What ``bring_up_to_date`` did."""

    prior_uses_added: int = 0            # copied from the audit trail and transfer log
    link: LinkResult | None = None       # None when the metrics were already current
    studies: int | None = None           # studies in the refreshed facts

    @property
    def refreshed(self) -> bool:
        return self.studies is not None


def bring_up_to_date(con: duckdb.DuckDBPyConnection, home: Home, *, force: bool = False) -> Update:
    """Copy prior uses from the state database; relink and refresh if anything changed (or ``force``).

    Takes the store's write lock: never call it while this process holds it (inside a batch commit).
    """
    with write_lock(home):
        update = Update(prior_uses_added=audit_uses.copy_into_store(con, home))
        if force or facts.status(con)["stale"]:
            update.link = link_patients(con)
            update.studies = facts.refresh(con)
    return update


def after_run(con: duckdb.DuckDBPyConnection, home: Home) -> None:
    """``bring_up_to_date`` for a pipeline that has committed its batches; a failure is logged, not
    raised (what the run stored stays stored; ``limestone link-patients`` completes it)."""
    try:
        bring_up_to_date(con, home)
    except (duckdb.Error, OSError, sqlite3.Error, state.StateError) as exc:
        log.warning("the repeat metrics were not brought up to date (%s); run 'limestone link-patients'",
                    type(exc).__name__)


class RefreshSchedule:
    """When a long-running receiver should refresh: ``delay`` seconds after the first new study
    since the last refresh (0: after every batch that added one), and at the end if any is left."""

    def __init__(self, delay: float):
        self.delay = max(0.0, delay)
        self.pending_since: float | None = None

    def added(self, count: int, now: float) -> None:
        """A batch committed ``count`` new instances at monotonic time ``now``."""
        if count and self.pending_since is None:
            self.pending_since = now

    def due(self, now: float) -> bool:
        return self.pending_since is not None and now - self.pending_since >= self.delay

    @property
    def pending(self) -> bool:
        return self.pending_since is not None

    def done(self) -> None:
        self.pending_since = None
