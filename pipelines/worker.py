"""``limestone worker``: take import and pull jobs from the archive's job queue (distributed mode).

    limestone worker [--concurrency N] [--burst] [--heartbeat S] [--stalled-after S]

(defaults of the last two: settings ``worker_heartbeat_seconds``, ``worker_stalled_seconds``)

Any number of workers, on any machines sharing the archive's settings, take jobs queued by
``limestone jobs submit`` (archive/jobs/). A job that raises is retried (up to ``ATTEMPTS`` times,
waiting longer each time); the jobs of a worker that died (kill -9, a lost machine) are put back in
the queue by the others once its heartbeat is ``--stalled-after`` seconds old, and marked failed
when workers died running it ``ATTEMPTS`` times (a file that crashes every worker). Every job is
idempotent (imports on SOP Instance UID, pulls fetch what is missing), so a job run twice stores
nothing twice. SIGTERM (``systemctl stop``) lets the running jobs finish first.

In the embedded default there is no queue: the command says so and exits 2.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.home import Archive

if TYPE_CHECKING:
    from archive.jobs import JobsQueue
    from archive.store.pool import StorePool

log = logging.getLogger("limestone.worker")

REFRESH_DELAY = 20      # seconds after a job that stored something before the repeat metrics refresh


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("worker", help="take import and pull jobs from the job queue (distributed mode)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                        help="jobs this worker runs at once (default 1: an import job already uses "
                             "LIMESTONE_IMPORT_WORKERS processes)")
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument("--heartbeat", type=float, metavar="S",
                        help="seconds between this worker's heartbeats (default: setting worker_heartbeat_seconds)")
    parser.add_argument("--stalled-after", type=float, metavar="S",
                        help="take over the jobs of a worker whose heartbeat is this old "
                             "(default: setting worker_stalled_seconds)")
    parser.set_defaults(run=run)


def _refresh_soon(queue: JobsQueue) -> None:
    """Queue one refresh of the patient links and repeat metrics, unless one is waiting already."""
    from procrastinate.exceptions import AlreadyEnqueued

    from archive.jobs import REFRESH_TASK

    try:
        queue.defer(REFRESH_TASK, [{}], queueing_lock="limestone-refresh-repeats",
                    schedule_in={"seconds": REFRESH_DELAY})
    except AlreadyEnqueued:
        pass


def register_tasks(app: Any, archive: Archive, queue: JobsQueue, stores: StorePool) -> None:
    """The tasks a worker runs, on ``app`` (names from archive.jobs); their store connections
    come from ``stores`` and stay open between jobs."""
    from procrastinate import RetryStrategy

    from archive.ingest.run import import_paths
    from archive.jobs import ATTEMPTS, IMPORT_TASK, PULL_STUDY_TASK, PULL_TASK, QUEUE, REFRESH_TASK
    from archive.network.nodes import Node, NodeRegistry
    from archive.network.pull import Puller, PullRequest
    from archive.network.query import StudyFilter

    retry = RetryStrategy(max_attempts=ATTEMPTS - 1, exponential_wait=2)

    @app.task(name=IMPORT_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def import_files(context: Any, submission: str, paths: list[str], site: str | None = None) -> dict:
        with stores.connection() as con:
            summary = import_paths(archive, [Path(p) for p in paths], site=site, update_repeats=False, store=con)
        counts = {"files": summary.files_seen, "imported": summary.imported,
                  "already_present": summary.already_present, "quarantined": summary.quarantined,
                  "failed": summary.failed + summary.refused, "bytes": summary.bytes, "seconds": summary.seconds}
        queue.record_outcome(context.job.id, submission, counts)
        if summary.imported:
            _refresh_soon(queue)
        return counts

    def puller(node: dict) -> tuple[Puller, NodeRegistry]:
        # The node travels with the job: a worker's own state may not know it yet.
        registry = NodeRegistry(archive.home)
        found = Node(**node)
        registry.add(found, replace=True)
        return Puller(archive, found, registry, update_repeats=False), registry

    @app.task(name=PULL_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def pull_window(context: Any, submission: str, node: dict, since: str, until: str) -> dict:
        from datetime import date

        pull, registry = puller(node)
        try:
            uids = pull.study_uids(StudyFilter(date.fromisoformat(since), date.fromisoformat(until)))
        finally:
            registry.close()
        queue.defer(PULL_STUDY_TASK, [{"submission": submission, "node": node, "study": uid} for uid in uids])
        queue.record_outcome(context.job.id, submission, {})
        return {"studies": len(uids)}

    @app.task(name=PULL_STUDY_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def pull_study(context: Any, submission: str, node: dict, study: str) -> dict:
        pull, registry = puller(node)
        try:
            request = PullRequest(study=study)
            selection, advances = pull.window(request)
            summary = pull.run(request, selection, advances)
        finally:
            registry.close()
        counts = {"files": summary.instances, "imported": summary.imported,
                  "already_present": summary.already_present, "quarantined": summary.quarantined,
                  "failed": summary.failed_instances, "bytes": summary.bytes, "seconds": summary.seconds}
        queue.record_outcome(context.job.id, submission, counts)
        if summary.imported:
            _refresh_soon(queue)
        if summary.failed:   # raise, so the job is tried again (a rerun fetches only what is missing)
            raise RuntimeError(f"pull of one study from node {pull.node.name} failed: "
                               + "; ".join(summary.errors[:3]))
        return counts

    @app.task(name=REFRESH_TASK, queue=QUEUE, retry=retry, queueing_lock="limestone-refresh-repeats")
    def refresh_repeats() -> None:
        from archive.repeats.update import after_run

        with stores.connection() as con:
            after_run(con, archive.home)


async def _serve(app: Any, args: Any) -> None:
    from archive.jobs import QUEUE
    from archive.jobs.queue import retry_stalled, worker_name

    async def sweep() -> None:
        while True:
            try:
                await retry_stalled(app, args.stalled_after)
            except Exception as exc:   # the database may be restarting: try again next time
                log.warning("could not look for stalled jobs: %s", type(exc).__name__)
            await asyncio.sleep(max(1.0, min(args.stalled_after / 3, 30.0)))

    async with app.open_async():
        sweeper = asyncio.create_task(sweep())
        try:
            await app.run_worker_async(queues=[QUEUE], concurrency=args.concurrency, wait=not args.burst,
                                       name=worker_name(), update_heartbeat_interval=args.heartbeat,
                                       stalled_worker_timeout=args.stalled_after, delete_jobs="never")
        finally:
            sweeper.cancel()


def run(args, archive: Archive) -> int:
    from archive.jobs import JobsQueue
    from archive.jobs.queue import worker_name
    from archive.store.pool import StorePool

    queue = JobsQueue(archive.home)   # JobsError (embedded mode) -> one plain line, exit 2
    archive.home.ensure()
    archive.vault.ensure_key()        # a wrong master key is refused before any job is taken
    args.heartbeat = args.heartbeat or archive.settings.worker_heartbeat_seconds
    args.stalled_after = args.stalled_after or archive.settings.worker_stalled_seconds
    app = queue.app()
    stores = StorePool(archive.home)
    register_tasks(app, archive, queue, stores)
    logging.getLogger("procrastinate").setLevel(logging.INFO if args.verbose else logging.WARNING)
    print(f"limestone worker {worker_name()}: taking jobs from the queue", flush=True)
    try:
        asyncio.run(_serve(app, args))
    finally:
        stores.close()
    return 0
