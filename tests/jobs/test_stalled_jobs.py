"""A job whose worker dies is put back in the queue, but not for ever: a job that kills every
worker taking it (a file exhausting memory, a decoder crash) ends failed after ``ATTEMPTS``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from archive.jobs import ATTEMPTS, IMPORT_TASK, JobsQueue
from archive.jobs.queue import retry_stalled

pytestmark = pytest.mark.integration


def _leave_running_by_a_dead_worker(queue: JobsQueue, job_id: int, attempts: int) -> None:
    """What a worker killed mid-job leaves: the job 'doing', its worker's heartbeat long stopped."""
    with queue.connect() as pg:
        worker = pg.execute("INSERT INTO procrastinate_workers (last_heartbeat) "
                            "VALUES (now() - interval '1 hour') RETURNING id").fetchone()["id"]
        pg.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s, attempts = %s WHERE id = %s",
                   (worker, attempts, job_id))


def _status(queue: JobsQueue, job_id: int) -> tuple[str, int]:
    with queue.connect() as pg:
        row = pg.execute("SELECT status, attempts FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    return row["status"], row["attempts"]


def _sweep(queue: JobsQueue) -> list[int]:
    async def sweep() -> list[int]:
        app = queue.app()
        async with app.open_async():
            return await retry_stalled(app, seconds_since_heartbeat=60)
    # In a thread of its own: a browser test of the same session may leave an event loop running here.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, sweep()).result()


def test_a_dead_workers_job_is_retried_until_its_last_attempt_then_failed(distributed):
    queue = JobsQueue(distributed.home())
    early, last = queue.defer(IMPORT_TASK, [{"paths": ["/nowhere/a"]}, {"paths": ["/nowhere/b"]}])
    _leave_running_by_a_dead_worker(queue, early, attempts=0)
    _leave_running_by_a_dead_worker(queue, last, attempts=ATTEMPTS - 1)

    assert _sweep(queue) == [early]

    assert _status(queue, early) == ("todo", 1)
    assert _status(queue, last)[0] == "failed"
    assert _sweep(queue) == []   # nothing left running: nothing to take back
