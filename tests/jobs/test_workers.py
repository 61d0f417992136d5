"""Work spread over ``limestone worker`` processes: jobs, retries, a killed worker's jobs taken over."""

from __future__ import annotations

import json
import os
import signal

import pytest

from archive.jobs import JobsQueue, import_batches, pull_windows
from archive.store.connection import connect
from tests.support.cli import limestone as plain_limestone
from tests.support.samples import write_ct_studies
from tests.support.workers import Worker, limestone, submit, wait_done, wait_for

pytestmark = pytest.mark.integration


def instance_counts(distributed) -> tuple[int, int]:
    con = connect(distributed.home(), read_only=True)
    try:
        return con.execute("SELECT count(*), count(DISTINCT sop_instance_uid) FROM instances").fetchone()
    finally:
        con.close()


def test_embedded_home_has_no_queue_and_says_so(tmp_path):
    env = {k: "" for k in ("LIMESTONE_CATALOG", "LIMESTONE_STATE", "LIMESTONE_LAKE", "LIMESTONE_VAULT")}
    result = plain_limestone("worker", home=tmp_path / "home", env=env)
    assert result.returncode == 2
    assert "distributed mode" in result.stderr and "LIMESTONE_CATALOG" in result.stderr
    assert "Traceback" not in result.stderr
    listed = plain_limestone("jobs", "--json", home=tmp_path / "home", env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout)["mode"] == "embedded"
    refused = plain_limestone("jobs", "submit", "import", str(tmp_path), home=tmp_path / "home", env=env)
    assert refused.returncode == 2 and "distributed mode" in refused.stderr


def test_plans_split_by_medium_file_batch_and_window(tmp_path):
    write_ct_studies(tmp_path / "in" / "a", 25, per_series=5, seed=1)
    medium = tmp_path / "in" / "cd"
    medium.mkdir(parents=True)
    (medium / "DICOMDIR").write_bytes(b"x")
    (medium / "IMG1").write_bytes(b"y")
    (tmp_path / "in" / "disc.iso").write_bytes(b"z")
    jobs = import_batches([tmp_path / "in"], files_per_job=10)
    units = [j["paths"] for j in jobs if len(j["paths"]) == 1 and not j["paths"][0].endswith(".dcm")]
    assert sorted(units) == sorted([[str(medium)], [str(tmp_path / "in" / "disc.iso")]])
    files = [p for j in jobs for p in j["paths"] if p.endswith(".dcm")]
    assert len(files) == len(set(files)) == 25 and max(len(j["paths"]) for j in jobs) == 10
    from datetime import date
    windows = pull_windows(date(2026, 1, 1), date(2026, 1, 20), 7)
    assert windows[0] == (date(2026, 1, 1), date(2026, 1, 7)) and windows[-1] == (date(2026, 1, 15), date(2026, 1, 20))


def test_workers_share_overlapping_imports_and_take_over_a_killed_workers_job(distributed, tmp_path):
    write_ct_studies(tmp_path / "a", 160, per_series=20, seed=31)
    write_ct_studies(tmp_path / "b", 80, per_series=20, seed=32)
    first = Worker(distributed, tmp_path / "machine-1")
    queue = JobsQueue(distributed.home())
    try:
        # Two overlapping imports: every instance is queued twice, in different jobs.
        one = submit(distributed, "import", str(tmp_path / "a"), str(tmp_path / "b"), "--files-per-job", "40")
        two = submit(distributed, "import", str(tmp_path / "b"), str(tmp_path / "a"), "--files-per-job", "40")

        def running_job():
            with queue.connect() as pg:
                row = pg.execute("SELECT id FROM procrastinate_jobs WHERE status = 'doing' LIMIT 1").fetchone()
            return row and row["id"]

        killed = wait_for(running_job, timeout=120, every=0.05)
        first.kill()
        with queue.connect() as pg:
            status = pg.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (killed,)).fetchone()
        assert status["status"] == "doing"   # left running by a dead worker, until someone takes it over
        others = [Worker(distributed, tmp_path / "machine-2"), Worker(distributed, tmp_path / "machine-3")]
        try:
            done = [wait_done(distributed, one), wait_done(distributed, two)]
        finally:
            for worker in others:
                assert worker.stop() == 0, worker.output()
    finally:
        first.kill()
    with queue.connect() as pg:
        taken_over = pg.execute("SELECT status, attempts, worker_id FROM procrastinate_jobs WHERE id = %s",
                                (killed,)).fetchone()
        by_worker = pg.execute("SELECT count(DISTINCT worker) AS n FROM job_outcomes").fetchone()["n"]
    assert taken_over["status"] == "succeeded" and taken_over["attempts"] >= 1
    assert by_worker >= 2   # both surviving workers did jobs
    assert all(item["failed"] == 0 and item["succeeded"] == item["jobs"] == 6 for item in done)
    assert sum(item["imported"] for item in done) == 240
    assert instance_counts(distributed) == (240, 240)
    assert limestone(distributed, "verify").returncode == 0
    listed = json.loads(limestone(distributed, "jobs", "--json").stdout)
    assert listed["mode"] == "distributed" and {s["submission_id"] for s in listed["submissions"]} == {one, two}
    text = limestone(distributed, "jobs").stdout
    assert one in text and "6/6 done" in text


def test_a_failing_job_is_retried_then_reported_failed(distributed, tmp_path):
    write_ct_studies(tmp_path / "c", 10, per_series=10, seed=41)
    sid = submit(distributed, "import", str(tmp_path / "c"))
    (tmp_path / "c").rename(tmp_path / "gone")   # the shared mount lost the folder: every attempt fails
    worker = Worker(distributed, tmp_path / "machine-1")
    try:
        item = wait_done(distributed, sid, timeout=120)
    finally:
        worker.process.send_signal(signal.SIGTERM)
        worker.stop()
    assert item["failed"] == 1 and item["retries"] >= 3
    assert "no such file" in worker.output().lower() or os.path.exists(tmp_path / "gone")
