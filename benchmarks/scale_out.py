"""Scale-out: imports by 1, 2, 4 ``limestone worker`` processes on PostgreSQL + S3 against the
embedded default, and the dashboard's queries on a PostgreSQL catalog against the SQLite one.

    python benchmarks/scale_out.py [--instances 20000] [--workers 1,2,4] [--files-per-job 2000]
                                   [--studies 1000000] [--repeat 15] [--rounds 3] [--cold] [--yearly-instances 80000000]

1. Import: N small real CT files (pydicom's CT_small.dcm, fresh UIDs). Baseline: the embedded
   default's import (SQLite catalog, folders; one process per core), in a subprocess. Then, for
   each worker count k, a fresh distributed archive (its own catalog and state databases and bucket
   prefix on a PostgreSQL and a SeaweedFS S3 server started here, on loopback), the same files
   submitted with ``limestone jobs submit import`` (the store made beforehand, untimed), and k
   ``limestone worker`` processes (LIMESTONE_IMPORT_WORKERS=1 each) already running, as a region
   runs them (systemd units): wall time from ``jobs submit`` to ``jobs wait`` returning, both whole
   commands (``--cold``: ``worker --burst`` processes started after the submission, timed from
   their start to their exit). CPU is the user+system time of the commands and the workers, and
   apart from it the servers' (SeaweedFS, and PostgreSQL with its ended backends);
   bytes to S3 are the sizes of the objects the run left in its prefix (lake Parquet + vault packs).
   Target: 2 workers >= 0.8x the embedded import's instances/s (on 2 shared cores: nothing serialises).
2. Queries: the browse and metrics queries of benchmarks/dashboard_queries.py on a synthetic store
   of M studies, built once in a SQLite catalog and once in the PostgreSQL catalog (lake on S3),
   read-only like the dashboard; p95 of each side. Target: PostgreSQL p95 <= 1.5x SQLite's.
3. Projection: a region's yearly volume as instances/s (on average, and in working hours) next to
   what one worker measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from archive.home import Archive  # noqa: E402
from benchmarks.dashboard_queries import build, timed  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402
from tests.support.s3_server import S3Server  # noqa: E402
from tests.support.samples import write_ct_studies  # noqa: E402

BUCKET = "limestone-bench"
MASTER_KEY = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VnhwEjRWeJCrze8="   # a benchmark key, never a real one
CLEAN = ("LIMESTONE_CATALOG", "LIMESTONE_LAKE", "LIMESTONE_VAULT", "LIMESTONE_STATE")


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | str, ended_children: bool = False) -> float:
    """CPU seconds (user + system) a running process has used so far, with its ended children's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15 if ended_children else 13]) / os.sysconf("SC_CLK_TCK")


def server_cpu() -> float:
    """CPU seconds used so far by this machine's SeaweedFS and PostgreSQL processes (with their
    ended children: a PostgreSQL backend ends with its connection)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"weed" in command or command.startswith(b"postgres") or b"/postgres" in command.split(b"\0")[0]:
                total += process_cpu(pid, ended_children=True)
        except OSError:
            continue
    return total


def env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in CLEAN}
    return {**base, "LIMESTONE_MASTER_KEY": MASTER_KEY, "LIMESTONE_MASTER_KEY_ID": "mk-bench", **extra}


def limestone(home: Path, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines", "--home", str(home), *args], cwd=ROOT,
                          env=env(extra), capture_output=True, text=True, check=True)


def prefix_bytes(s3: S3Server, prefix: str) -> int:
    client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key,
                          aws_secret_access_key=s3.secret_key, region_name=s3.region)
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        total += sum(item["Size"] for item in page.get("Contents", []))
    return total


def embedded_import(source: Path, home: Path, files: int) -> dict:
    code = ("import sys; from pathlib import Path; from archive.home import Archive; "
            "from archive.ingest.run import import_paths; "
            "s = import_paths(Archive.load(home=sys.argv[1]), [Path(sys.argv[2])], progress=False, "
            "update_repeats=False); print(s.imported)")
    cpu = child_cpu()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(home), str(source)], cwd=ROOT, env=env({}),
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    assert int(done.stdout.strip()) == files, done.stdout + done.stderr
    return {"label": "embedded (SQLite + folders), one import", "seconds": seconds, "cpu": child_cpu() - cpu,
            "server_cpu": 0.0, "s3_bytes": 0}


def distributed_import(source: Path, tmp: Path, pg: PostgresServer, s3: S3Server, workers: int, files: int,
                       files_per_job: int, cold: bool) -> dict:
    """The import by ``workers`` workers: running already (as deployed, systemd units), timed from
    ``jobs submit`` to ``jobs wait`` returning; ``cold``: ``worker --burst`` processes started after
    the submission and timed from their start to their end (start-up included)."""
    name = f"bench_{workers}_{os.getpid()}_{int(time.time())}"
    settings = {"LIMESTONE_CATALOG": pg.create_database(name), "LIMESTONE_LAKE": f"s3://{BUCKET}/{name}/lake",
                "LIMESTONE_VAULT": f"s3://{BUCKET}/{name}/vault",
                "LIMESTONE_STATE": pg.create_database(f"{name}_state"), "LIMESTONE_IMPORT_WORKERS": "1", **s3.env()}
    admin = tmp / f"{name}-admin"
    # The region's archive exists before the import: its store is created here, untimed.
    subprocess.run([sys.executable, "-c", "import sys; from archive.home import Archive; "
                    "Archive.load(home=sys.argv[1]).store().close()", str(admin)],
                   cwd=ROOT, env=env(settings), check=True)
    command = [sys.executable, "-m", "pipelines", "--home"]

    def submit() -> str:
        return json.loads(limestone(admin, settings, "jobs", "submit", "import", str(source), "--files-per-job",
                                    str(files_per_job), "--json").stdout)["submission_id"]

    def start() -> list[subprocess.Popen]:
        return [subprocess.Popen([*command, str(tmp / f"{name}-w{i}"), "worker", *(["--burst"] if cold else [])],
                                 cwd=ROOT, env=env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True) for i in range(workers)]

    if cold:
        submission = submit()
        cpu, servers = child_cpu(), server_cpu()
        started = time.perf_counter()
        procs = start()
        for proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"worker failed: {err[-2000:]}")
        seconds = time.perf_counter() - started
        cpu, servers = child_cpu() - cpu, server_cpu() - servers
    else:
        procs = start()
        try:
            deadline = time.monotonic() + 120
            while len(json.loads(limestone(admin, settings, "jobs", "--json").stdout)["workers"]) < workers:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError("the workers did not start")
                time.sleep(0.2)
            cpu, servers = child_cpu() + sum(map(process_cpu, (p.pid for p in procs))), server_cpu()
            started = time.perf_counter()
            submission = submit()
            limestone(admin, settings, "jobs", "wait", submission, "--timeout", "600")
            seconds = time.perf_counter() - started
            cpu = child_cpu() + sum(map(process_cpu, (p.pid for p in procs))) - cpu
            servers = server_cpu() - servers
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.communicate(timeout=60)
    state = json.loads(limestone(admin, settings, "jobs", "wait", submission, "--timeout", "600", "--json").stdout)
    assert state["imported"] == files and state["failed"] == 0, state
    return {"label": f"distributed (PostgreSQL + S3), {workers} worker(s)", "seconds": seconds, "cpu": cpu,
            "server_cpu": servers, "s3_bytes": prefix_bytes(s3, name + "/")}


def query_cases(con) -> list[tuple[str, Callable[[], object]]]:
    from archive.store.queries import browse, metrics, stats

    first, last = metrics.date_range(con)
    year = metrics.MetricFilter(date(last.year - 1, last.month, 1), last)
    whole = metrics.MetricFilter(first, last)
    uid = con.execute("SELECT study_instance_uid FROM studies ORDER BY study_date DESC LIMIT 1 OFFSET 10").fetchone()[0]

    def search(**kw):
        return lambda: browse.search_studies(con, browse.StudySearch(**kw))

    return [("stats (counts, bytes)", lambda: stats(con)),
            ("browse: newest first, page 1", search()),
            ("browse: modality + site + one year", search(modality="CT", site="NORTH", date_from=year.date_from,
                                                          date_to=year.date_to)),
            ("browse: description contains", search(description="knee")),
            ("study + patient", lambda: browse.study(con, uid)),
            ("metrics: volume per week, 1 year", lambda: metrics.exam_volume(con, year, "week")),
            ("metrics: volume per month, all years", lambda: metrics.exam_volume(con, whole, "month")),
            ("metrics: turnaround, 1 year", lambda: metrics.turnaround(con, year)),
            ("metrics: storage by month, all years", lambda: metrics.storage(con, whole))]


def queries(tmp: Path, pg: PostgresServer, s3: S3Server, studies: int, repeat: int) -> list[tuple[str, float, float]]:
    name = f"bench_q_{os.getpid()}_{int(time.time())}"
    distributed = {"LIMESTONE_CATALOG": pg.create_database(name), "LIMESTONE_LAKE": f"s3://{BUCKET}/{name}/lake",
                   "LIMESTONE_VAULT": f"s3://{BUCKET}/{name}/vault", **s3.env()}
    results: dict[str, dict[str, float]] = {}
    for side, settings in (("sqlite", {}), ("postgresql", distributed)):
        saved = {k: os.environ.get(k) for k in (*CLEAN, *settings)}
        for key in CLEAN:
            os.environ.pop(key, None)
        os.environ.update(settings)
        try:
            home = tmp / f"queries-{side}"
            print(f"building {studies:,} studies on the {side} catalog ...", flush=True)
            build(home, studies)
            con = Archive.load(home=str(home)).store(read_only=True)
            try:
                for label, action in query_cases(con):
                    results.setdefault(label, {})[side] = timed(action, repeat)[1]
            finally:
                con.close()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return [(label, sides["sqlite"], sides["postgresql"]) for label, sides in results.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma separated")
    parser.add_argument("--files-per-job", type=int, default=2000)
    parser.add_argument("--studies", type=int, default=1_000_000, help="studies of the query stores (0: skip)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="import rounds, alternating the sides (median kept)")
    parser.add_argument("--cold", action="store_true",
                        help="start 'worker --burst' processes after submitting (their start-up timed too)")
    parser.add_argument("--yearly-instances", type=int, default=80_000_000,
                        help="a region's instances per year, for the projection (~40 TB at 0.5 MB each)")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    failures = 0
    with tempfile.TemporaryDirectory() as folder, PostgresServer() as pg, S3Server() as s3:
        tmp = Path(folder)
        s3.create_bucket(BUCKET)
        source = tmp / "source"
        write_ct_studies(source, args.instances, per_series=100, seed=7)
        os.sync()
        load = os.getloadavg()[0]
        runs: dict[str, list[dict]] = {}
        for round_ in range(args.rounds):   # alternated: a slow spell of the machine hits every side
            done = [embedded_import(source, tmp / f"embedded-{round_}", args.instances)]
            done += [distributed_import(source, tmp, pg, s3, k, args.instances, args.files_per_job, args.cold)
                     for k in counts]
            for row in done:
                runs.setdefault(row["label"], []).append(row)
        rows = [sorted(same, key=lambda r: r["seconds"])[len(same) // 2] for same in runs.values()]
        base_rate = args.instances / rows[0]["seconds"]
        print(f"\nimport of {args.instances:,} instances, median of {args.rounds} alternated round(s); "
              f"{os.cpu_count()} cores, load average {load:.1f} at start\n")
        print("| run | seconds (each round) | instances/s | x embedded | CPU ms/instance | servers' CPU ms/instance "
              "| MB to S3 | target |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        per_worker = 0.0
        for row, same in zip(rows, runs.values(), strict=True):
            rate = args.instances / row["seconds"]
            target = ""
            if row["label"].endswith(", 2 worker(s)"):
                ok = rate >= 0.8 * base_rate
                failures += not ok
                target = f">= 0.8x: {'met' if ok else 'NOT met'}"
            if row["label"].endswith(", 1 worker(s)"):
                per_worker = rate
            each = " / ".join(f"{r['seconds']:.1f}" for r in same)
            print(f"| {row['label']} | {row['seconds']:.1f} ({each}) | {rate:,.0f} | {rate / base_rate:.2f} | "
                  f"{1000 * row['cpu'] / args.instances:.2f} | {1000 * row['server_cpu'] / args.instances:.2f} | "
                  f"{row['s3_bytes'] / 1e6:,.1f} | {target} |")

        if args.studies:
            print()
            results = queries(tmp, pg, s3, args.studies, args.repeat)
            print(f"\nqueries at {args.studies:,} studies: p95 of {args.repeat} runs each (after a warm-up)\n")
            print("| query | SQLite p95 ms | PostgreSQL p95 ms | ratio | target <= 1.5x |")
            print("|---|---:|---:|---:|---|")
            for label, lite, pgp95 in results:
                ratio = pgp95 / lite if lite else float("inf")
                ok = ratio <= 1.5
                failures += not ok
                print(f"| {label} | {lite:.1f} | {pgp95:.1f} | {ratio:.2f} | {'met' if ok else 'NOT met'} |")

    average = args.yearly_instances / (365 * 24 * 3600)
    working = args.yearly_instances / (250 * 10 * 3600)   # 250 working days of 10 hours
    print(f"\nprojection: {args.yearly_instances:,} instances a year = {average:,.1f} instances/s on average, "
          f"{working:,.1f}/s if it all came in working hours (250 days x 10 h)")
    if per_worker:
        print(f"measured: {per_worker:,.0f} instances/s with one worker here -> "
              f"{max(1, -(-working // per_worker)):.0f} worker(s) keep up in working hours "
              f"(x{per_worker / working:,.1f} headroom per worker)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
