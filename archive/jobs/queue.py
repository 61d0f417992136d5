"""The job queue: Procrastinate on the archive's PostgreSQL (the state database, else the catalog's).

Why Procrastinate: the distributed archive already runs PostgreSQL, and Procrastinate needs
nothing else (no broker to deploy, back up and watch beside it, unlike Celery with RabbitMQ or
Redis). A job is a row; workers take one with ``SELECT ... FOR UPDATE SKIP LOCKED`` and hear of new
ones through LISTEN/NOTIFY; failures are retried by the task's retry strategy; every worker sends
a heartbeat, and jobs still marked as running by a worker whose heartbeat stopped (kill -9, a
machine gone) are found with ``get_stalled_jobs`` and put back in the queue (``retry_stalled``,
which every ``limestone worker`` runs on a timer). The jobs are plain rows, so ``limestone jobs``
and the dashboard read their progress with one query.

Everything lives in its own schema (``limestone_jobs``) of that database, so the queue never
mixes with the catalog's or the state's tables: Procrastinate's tables, plus ``submissions`` (one
row per ``limestone jobs submit``: what was asked, how many jobs it was split into) and
``job_outcomes`` (what each finished job stored), which the progress is counted from.

In the embedded default (no ``LIMESTONE_CATALOG``/``LIMESTONE_STATE``) there is no queue: one
machine's ``limestone import`` and ``limestone pull`` already use every core, and ``worker``,
``jobs submit`` say so plainly (``EMBEDDED``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from archive.errors import LimestoneError
from archive.layout import Home
from archive.store.connection import postgres_parts

if TYPE_CHECKING:   # Procrastinate is imported when a queue is used, not when a home is opened
    import procrastinate

log = logging.getLogger("limestone.jobs")

SCHEMA = "limestone_jobs"
QUEUE = "limestone"
IMPORT_TASK = "limestone.import_files"        # one batch of files, or one container/medium
PULL_TASK = "limestone.pull_window"           # one date window of a node: finds its studies
PULL_STUDY_TASK = "limestone.pull_study"      # one study of a node: retrieves it
REFRESH_TASK = "limestone.refresh_repeats"    # patient links and repeat metrics, once after a burst
ATTEMPTS = 4   # a job is tried this many times in all, whether it raised or its worker died

EMBEDDED = ("work is spread over workers only in the distributed mode: set LIMESTONE_CATALOG (or "
            "LIMESTONE_STATE) to a postgresql:// URL shared by the workers. On one machine, "
            "'limestone import' and 'limestone pull' already use every core.")

_TABLES = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.submissions (
    submission_id TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,              -- import | pull
    description   TEXT NOT NULL,              -- what was asked (folder names, node and window)
    submitted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    submitted_by  TEXT,                       -- the machine that submitted it
    jobs          INTEGER NOT NULL            -- jobs it was split into at first
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.job_outcomes (
    job_id          BIGINT PRIMARY KEY,       -- procrastinate_jobs.id (a retried job overwrites)
    submission_id   TEXT NOT NULL,
    worker          TEXT,                     -- host:pid that finished it
    files           INTEGER NOT NULL DEFAULT 0,
    imported        INTEGER NOT NULL DEFAULT 0,
    already_present INTEGER NOT NULL DEFAULT 0,
    quarantined     INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    bytes           BIGINT NOT NULL DEFAULT 0,
    seconds         DOUBLE PRECISION NOT NULL DEFAULT 0,
    finished_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS job_outcomes_submission ON {SCHEMA}.job_outcomes (submission_id);
"""


class JobsError(LimestoneError, RuntimeError):
    """The job queue cannot be used (embedded mode, or its database cannot be reached)."""


def queue_url(home: Home) -> str:
    """The PostgreSQL database the queue lives in: the state's, else the catalog's."""
    url = home.state_url or home.catalog_url
    if not url:
        raise JobsError(EMBEDDED)
    return url


def worker_name() -> str:
    """``host:pid``: which worker did a job (no path, no patient data)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _lock_key() -> int:
    return int.from_bytes(hashlib.sha256(b"limestone jobs schema lock").digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Submission:
    submission_id: str
    jobs: int


_ENSURED: set[str] = set()


class JobsQueue:
    """The queue of one distributed archive."""

    def __init__(self, home: Home):
        self.home = home
        self.url = queue_url(home)
        parts = postgres_parts(self.url)
        self.kwargs: dict[str, Any] = {**parts, "options": f"-c search_path={SCHEMA}"}

    # ---- plumbing -------------------------------------------------------------------------------
    def _error(self, exc: Exception) -> JobsError:
        text = str(exc)
        password = self.kwargs.get("password") or ""
        if len(password) >= 4:
            text = text.replace(password, "***")
        return JobsError(f"cannot use the job queue in PostgreSQL: {text.strip()}")

    def connect(self) -> "psycopg.Connection[dict[str, Any]]":
        """A plain connection (autocommit) with the queue's schema first on the search path."""
        try:
            return psycopg.connect(**self.kwargs, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def ensure_schema(self) -> None:
        """Create the queue's schema, Procrastinate's tables and ours, once (any machine may be first)."""
        if self.url in _ENSURED:
            return
        from procrastinate.schema import SchemaManager

        with self.connect() as pg:
            pg.execute("SELECT pg_advisory_lock(%s)", (_lock_key(),))
            try:
                pg.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                exists = pg.execute("SELECT to_regclass(%s) AS t", (f"{SCHEMA}.procrastinate_jobs",)).fetchone()
                if exists is None or exists["t"] is None:
                    pg.execute(SchemaManager.get_schema())
                pg.execute(_TABLES)
            finally:
                pg.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(),))
        _ENSURED.add(self.url)

    def app(self) -> "procrastinate.App":
        """A Procrastinate app on this queue (tasks are registered by the worker)."""
        import procrastinate

        self.ensure_schema()
        return procrastinate.App(connector=procrastinate.PsycopgConnector(kwargs=dict(self.kwargs)))

    # ---- submitting -----------------------------------------------------------------------------
    def submit(self, kind: str, description: str, task: str, jobs: list[dict[str, Any]]) -> Submission:
        """Record a submission and queue its jobs (each gets the submission's id as ``submission``)."""
        self.ensure_schema()
        submission_id = uuid.uuid4().hex[:12]
        with self.connect() as pg:
            pg.execute(f"INSERT INTO {SCHEMA}.submissions (submission_id, kind, description, submitted_by, jobs)"
                       " VALUES (%s, %s, %s, %s, %s)",
                       (submission_id, kind, description, socket.gethostname(), len(jobs)))
        self.defer(task, [dict(job, submission=submission_id) for job in jobs])
        return Submission(submission_id, len(jobs))

    def defer(self, task: str, jobs: list[dict[str, Any]], **options: Any) -> list[int]:
        """Queue jobs of ``task`` (by name: the submitter needs no task code)."""
        if not jobs:
            return []
        app = self.app()
        try:
            with app.open():
                return app.configure_task(name=task, queue=QUEUE, **options).batch_defer(*jobs)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def record_outcome(self, job_id: int, submission_id: str, counts: dict[str, Any]) -> None:
        """What a finished job stored (a retried job's row is replaced)."""
        columns = ("files", "imported", "already_present", "quarantined", "failed", "bytes", "seconds")
        values = [int(counts.get(c, 0) or 0) if c != "seconds" else float(counts.get(c, 0) or 0) for c in columns]
        with self.connect() as pg:
            pg.execute(
                f"INSERT INTO {SCHEMA}.job_outcomes (job_id, submission_id, worker, {', '.join(columns)})"
                f" VALUES (%s, %s, %s, {', '.join(['%s'] * len(columns))})"
                " ON CONFLICT (job_id) DO UPDATE SET worker = excluded.worker, finished_at = now(), "
                + ", ".join(f"{c} = excluded.{c}" for c in columns),
                (job_id, submission_id, worker_name(), *values))

    # ---- progress -------------------------------------------------------------------------------
    def progress(self, limit: int = 50) -> dict[str, Any]:
        """Submissions with their jobs by status and what the finished ones stored; the live workers.

        The shape printed by ``limestone jobs --json`` and shown on the dashboard's ingest health.
        """
        self.ensure_schema()
        with self.connect() as pg:
            rows = pg.execute("""
                WITH j AS (
                    SELECT args->>'submission' AS submission_id,
                           count(*) AS total,
                           count(*) FILTER (WHERE status = 'todo') AS todo,
                           count(*) FILTER (WHERE status = 'doing') AS doing,
                           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                           count(*) FILTER (WHERE status = 'failed') AS failed,
                           count(*) FILTER (WHERE status IN ('cancelled', 'aborted', 'aborting')) AS cancelled,
                           coalesce(sum(attempts), 0) AS retries
                    FROM procrastinate_jobs WHERE args ? 'submission' GROUP BY 1),
                o AS (
                    SELECT submission_id, sum(files) AS files, sum(imported) AS imported,
                           sum(already_present) AS already_present, sum(quarantined) AS quarantined,
                           sum(failed) AS failed_files, sum(bytes) AS bytes, max(finished_at) AS last_finished_at,
                           count(DISTINCT worker) AS workers
                    FROM job_outcomes GROUP BY 1)
                SELECT s.submission_id, s.kind, s.description, s.submitted_at, s.submitted_by,
                       coalesce(j.total, 0) AS jobs, coalesce(j.todo, 0) AS todo, coalesce(j.doing, 0) AS doing,
                       coalesce(j.succeeded, 0) AS succeeded, coalesce(j.failed, 0) AS failed,
                       coalesce(j.cancelled, 0) AS cancelled, coalesce(j.retries, 0) AS retries,
                       coalesce(o.files, 0) AS files, coalesce(o.imported, 0) AS imported,
                       coalesce(o.already_present, 0) AS already_present,
                       coalesce(o.quarantined, 0) AS quarantined, coalesce(o.failed_files, 0) AS failed_files,
                       coalesce(o.bytes, 0) AS bytes, o.last_finished_at, coalesce(o.workers, 0) AS workers
                FROM submissions s LEFT JOIN j USING (submission_id) LEFT JOIN o USING (submission_id)
                ORDER BY s.submitted_at DESC LIMIT %s""", (limit,)).fetchall()
            workers = pg.execute("SELECT id, last_heartbeat FROM procrastinate_workers ORDER BY id").fetchall()
        submissions = []
        for row in rows:
            item = {k: (_iso(v) if isinstance(v, datetime) else (int(v) if isinstance(v, (int, float)) and k != "bytes"
                                                                  else v)) for k, v in row.items()}
            item["bytes"] = int(row["bytes"] or 0)
            item["done"] = item["todo"] == 0 and item["doing"] == 0
            submissions.append(item)
        return {"mode": "distributed", "submissions": submissions,
                "workers": [{"id": w["id"], "last_heartbeat": _iso(w["last_heartbeat"])} for w in workers]}

    def submission(self, submission_id: str) -> dict[str, Any] | None:
        for item in self.progress(limit=1000)["submissions"]:
            if item["submission_id"] == submission_id:
                return item
        return None

    def wait(self, submission_id: str, timeout: float, poll: float = 0.5) -> dict[str, Any]:
        """The submission's progress once none of its jobs waits or runs (or at ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.submission(submission_id)
            if item is None:
                raise JobsError(f"no submission {submission_id}")
            if item["done"] or time.monotonic() > deadline:
                return item
            time.sleep(poll)


def embedded_progress() -> dict[str, Any]:
    """What ``limestone jobs --json`` prints in the embedded default: no queue, nothing queued."""
    return {"mode": "embedded", "submissions": [], "workers": [], "note": EMBEDDED}


def progress(home: Home) -> dict[str, Any]:
    """The queue's progress, or the embedded answer when the home has no queue."""
    if not (home.state_url or home.catalog_url):
        return embedded_progress()
    return JobsQueue(home).progress()


async def retry_stalled(app: "procrastinate.App", seconds_since_heartbeat: float,
                        attempts: int = ATTEMPTS) -> list[int]:
    """Put back in the queue the running jobs of workers whose heartbeat stopped (a dead worker's).

    A job whose worker has died while running it ``attempts`` times in all (one that kills its
    worker: a file that exhausts memory, a crash in a decoder) is marked failed instead, so it
    cannot take every worker down in turn for ever; ``limestone jobs`` counts it as failed.

    Two live workers may find the same job: the one that loses the race is told the job is no
    longer running, which is fine.
    """
    from procrastinate.jobs import Status

    retried = []
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    for job in stalled:
        assert job.id is not None
        given_up = job.attempts + 1 >= attempts
        try:
            if given_up:
                await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
            else:
                await app.job_manager.retry_job(job)
        except Exception as exc:   # raced by another worker: the job is not 'doing' any more
            log.info("stalled job %s already taken back: %s", job.id, exc)
            continue
        if given_up:
            log.error("job %s (%s) failed: the worker running it stopped %d times", job.id, job.task_name,
                      job.attempts + 1)
        else:
            retried.append(job.id)
            log.warning("job %s (%s) of a stopped worker is back in the queue", job.id, job.task_name)
    return retried


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else None


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, default=str)


def progress_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The submissions of ``progress`` as table rows for people (the dashboard's ingest health)."""
    def when(text: str | None) -> datetime | None:   # naive UTC, as the other tables of the page
        return datetime.fromisoformat(text).replace(tzinfo=None) if text else None

    return [{"state": "done" if item["done"] else "running", "jobs_done": f"{item['succeeded']}/{item['jobs']}",
             "running": item["doing"], "waiting": item["todo"], "failed": item["failed"],
             "retried": item["retries"], "new_instances": item["imported"],
             "already_present": item["already_present"], "quarantined": item["quarantined"],
             "kind": item["kind"], "what": item["description"], "submitted_at": when(item["submitted_at"]),
             "workers": item["workers"]} for item in data["submissions"]]
