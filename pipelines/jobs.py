"""``limestone jobs``: the job queue of a distributed archive: progress, and queuing big work.

    limestone jobs [--json]                                   progress of the submissions, live workers
    limestone jobs submit import PATH... [--site CODE] [--files-per-job N] [--json]
    limestone jobs submit pull NODE --since DATE --until DATE [--window-days N] [--json]
    limestone jobs wait ID [--timeout S] [--json]             until a submission's jobs are all done

``submit`` splits the work (archive/jobs/plan.py) and queues it; ``limestone worker`` processes on
any machines do it. The paths of an import must be the same on every worker (a shared mount).
``limestone import`` and ``limestone pull`` are unchanged: they do the work themselves, at once.
In the embedded default there is no queue: ``jobs`` says so (``--json``: ``"mode": "embedded"``)
and ``submit`` exits 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archive.home import Archive
from pipelines.pull import parse_date


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("jobs", help="the job queue: progress, and submitting big imports and pulls",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the progress as JSON")
    parser.set_defaults(run=run_list)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    submit = actions.add_parser("submit", help="split an import or a pull into jobs for the workers")
    kinds = submit.add_subparsers(dest="kind", metavar="KIND", required=True)
    imp = kinds.add_parser("import", help="import folders, zip files and CDs (paths shared by the workers)")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.add_argument("--site", help="site code the studies belong to (default: found from the files)")
    imp.add_argument("--files-per-job", type=int, metavar="N",
                     help="plain files per job (a CD, zip or ISO is one job) (default 2000)")
    imp.add_argument("--json", action="store_true", help="print the submission as JSON")
    imp.set_defaults(run=run_submit_import)
    pull = kinds.add_parser("pull", help="pull a node's studies of a date window, one job per study")
    pull.add_argument("node", metavar="NODE", help="name of the node (see 'limestone nodes list')")
    pull.add_argument("--since", type=parse_date, required=True, metavar="DATE")
    pull.add_argument("--until", type=parse_date, required=True, metavar="DATE")
    pull.add_argument("--window-days", type=int, default=7, metavar="N",
                      help="days per window job (each finds its studies and queues one job per study)")
    pull.add_argument("--json", action="store_true", help="print the submission as JSON")
    pull.set_defaults(run=run_submit_pull)
    wait = actions.add_parser("wait", help="wait until a submission's jobs are all done")
    wait.add_argument("submission", metavar="ID")
    wait.add_argument("--timeout", type=float, default=3600.0, metavar="S")
    wait.add_argument("--json", action="store_true", help="print the submission's progress as JSON")
    wait.set_defaults(run=run_wait)


def _line(item: dict) -> str:
    state = "done" if item["done"] else "running"
    return (f"{item['submission_id']}  {item['kind']:<6} {state:<7} jobs {item['succeeded']}/{item['jobs']} done, "
            f"{item['doing']} running, {item['todo']} waiting, {item['failed']} failed, {item['retries']} retried; "
            f"{item['imported']:,} new instances, {item['already_present']:,} already present, "
            f"{item['quarantined']:,} quarantined  ({item['description']})")


def run_list(args, archive: Archive) -> int:
    from archive.jobs.queue import dumps, progress

    data = progress(archive.home)
    if args.json:
        print(dumps(data))
        return 0
    if data["mode"] == "embedded":
        print(f"No job queue: {data['note']}")
        return 0
    print(f"{len(data['workers'])} worker(s) alive")
    if not data["submissions"]:
        print("Nothing submitted yet ('limestone jobs submit import|pull ...').")
    for item in data["submissions"]:
        print(_line(item))
    return 0


def _submitted(args, submission, what: str) -> int:
    if args.json:
        print(json.dumps({"submission_id": submission.submission_id, "jobs": submission.jobs}))
    else:
        print(f"Submitted {submission.submission_id}: {what} in {submission.jobs} job(s). "
              f"Follow it with 'limestone jobs'.")
    return 0


def _store_ready(archive: Archive) -> None:
    """Create the store or apply its pending migrations here, before any job is queued: workers
    started together would otherwise each wait for the first one's migrations (~2 s on a
    PostgreSQL catalog with the lake in S3), and a catalog that cannot be reached is refused now."""
    archive.store().close()


def run_submit_import(args, archive: Archive) -> int:
    from archive.jobs import IMPORT_TASK, JobsQueue, import_batches

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    queue = JobsQueue(archive.home)
    per_job = {} if args.files_per_job is None else {"files_per_job": args.files_per_job}
    jobs = [dict(job, site=args.site) for job in import_batches(args.paths, **per_job)]
    names = ", ".join(p.name or str(p) for p in args.paths[:3]) + (
        f" and {len(args.paths) - 3} more" if len(args.paths) > 3 else "")
    _store_ready(archive)
    submission = queue.submit("import", names, IMPORT_TASK, jobs)
    return _submitted(args, submission, f"import of {names}")


def run_submit_pull(args, archive: Archive) -> int:
    from archive.jobs import PULL_TASK, JobsQueue, pull_windows
    from archive.network.nodes import NodeRegistry

    queue = JobsQueue(archive.home)
    with NodeRegistry(archive.home) as registry:
        node = registry.get(args.node)
    try:
        windows = pull_windows(args.since, args.until, args.window_days)
    except ValueError as exc:
        print(f"limestone jobs: {exc}", file=sys.stderr)
        return 2
    jobs = [{"node": node.as_dict(), "since": a.isoformat(), "until": b.isoformat()} for a, b in windows]
    what = f"node {node.name} {args.since.isoformat()}..{args.until.isoformat()}"
    _store_ready(archive)
    submission = queue.submit("pull", what, PULL_TASK, jobs)
    return _submitted(args, submission, f"pull of {what}")


def run_wait(args, archive: Archive) -> int:
    from archive.jobs import JobsQueue
    from archive.jobs.queue import dumps

    item = JobsQueue(archive.home).wait(args.submission, args.timeout)
    print(dumps(item) if args.json else _line(item))
    if not item["done"]:
        return 1
    return 1 if item["failed"] else 0
