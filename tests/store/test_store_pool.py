"""A job worker's store connections: kept open between jobs, dropped when a job fails."""

from __future__ import annotations

import duckdb
import pytest

from archive.home import Archive
from archive.ingest.run import import_paths
from archive.store.pool import StorePool
from tests.support.samples import write_ct_studies


def test_a_connection_serves_job_after_job_and_a_failed_jobs_is_closed(tmp_path):
    archive = Archive.load(home=str(tmp_path / "home"))
    write_ct_studies(tmp_path / "a", 4, per_series=2, seed=1)
    write_ct_studies(tmp_path / "b", 4, per_series=2, seed=2)
    pool = StorePool(archive.home)
    with pool.connection() as first:
        assert import_paths(archive, [tmp_path / "a"], workers=1, update_repeats=False, store=first).imported == 4
    with pool.connection() as again:
        assert again is first   # still open: the import left it so
        assert import_paths(archive, [tmp_path / "b"], workers=1, update_repeats=False, store=again).imported == 4
        assert again.execute("SELECT count(*) FROM instances").fetchone()[0] == 8
    with pytest.raises(RuntimeError), pool.connection() as failed:
        assert failed is first
        raise RuntimeError("the job failed")
    with pytest.raises(duckdb.ConnectionException):
        first.execute("SELECT 1")
    with pool.connection() as fresh:
        assert fresh is not first and fresh.execute("SELECT count(*) FROM instances").fetchone()[0] == 8
    pool.close()
    with pytest.raises(duckdb.ConnectionException):
        fresh.execute("SELECT 1")
