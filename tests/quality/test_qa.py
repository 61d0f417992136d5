"""``limestone qa`` on a small archive: incremental, filters, both cores, outliers in the store."""

from __future__ import annotations

from datetime import date

import pytest

from archive.home import Archive
from archive.ingest.run import import_paths
from archive.quality.run import pending, run_qa
from tests.support.cli import limestone


@pytest.fixture(scope="module")
def qa_archive(tmp_path_factory, ct_folder) -> Archive:
    """60 CT instances: 3 series of 20 slices from one station and protocol."""
    archive = Archive.load(home=str(tmp_path_factory.mktemp("qa") / "home"))
    import_paths(archive, [ct_folder], workers=1)
    return archive


def _rows(archive: Archive, sql: str, params=()):
    con = archive.store(read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_qa_is_incremental_and_filters(qa_archive):
    assert run_qa(qa_archive, modality="MR", workers=2).pending == 0
    assert run_qa(qa_archive, since=date(2100, 1, 1), workers=2).pending == 0
    first = run_qa(qa_archive, workers=2)           # both cores
    assert (first.pending, first.measured, first.failed, first.exit_code) == (60, 60, 0, 0)
    rows = _rows(qa_archive, "SELECT count(*), count(DISTINCT sop_instance_uid), min(noise_sigma), "
                             "max(noise_sigma), count(ct_noise_hu) FROM qa_metrics")
    assert rows[0][:2] == (60, 60) and 0 < rows[0][2] <= rows[0][3] < 1000
    view = _rows(qa_archive, "SELECT modality, count(*), count(DISTINCT series_instance_uid) "
                             "FROM qa_instance_metrics GROUP BY 1")
    assert view == [("CT", 60, 3)]
    again = limestone("qa", home=qa_archive.home.root)
    assert again.returncode == 0, again.stderr
    assert "Nothing new to measure" in again.stdout
    assert _rows(qa_archive, "SELECT count(*) FROM qa_metrics")[0][0] == 60
    runs = _rows(qa_archive, "SELECT measured, status FROM qa_runs ORDER BY started_at")
    assert runs[-1] == (60, "ok")


def test_a_series_far_from_its_peers_is_flagged(qa_archive):
    con = qa_archive.store()
    try:
        if not con.execute("SELECT count(*) FROM qa_metrics").fetchone()[0]:
            con.close()
            run_qa(qa_archive, workers=1)
            con = qa_archive.store()
        assert con.execute("SELECT count(*) FROM qa_outliers WHERE level = 'series'").fetchone()[0] == 0
        series = con.execute("SELECT min(series_instance_uid) FROM qa_instance_metrics").fetchone()[0]
        con.execute("UPDATE qa_metrics SET noise_sigma = noise_sigma * 10 WHERE sop_instance_uid IN "
                    "(SELECT sop_instance_uid FROM instances WHERE series_instance_uid = ?)", [series])
        flagged = con.execute("SELECT series_instance_uid, metric, robust_z > 3.5 FROM qa_outliers "
                              "WHERE level = 'series'").fetchall()
        assert flagged == [(series, "noise_sigma", True)]
        summary = con.execute("SELECT series, flagged_series FROM qa_group_summary").fetchall()
        assert summary == [(3, 1)]
    finally:
        con.close()


def test_pending_ignores_instances_already_measured(qa_archive):
    run_qa(qa_archive, workers=1)     # measures all 60 unless an earlier test did
    con = qa_archive.store(read_only=True)
    try:
        assert pending(con) == []
        assert len(pending(con, version=999)) == 60
    finally:
        con.close()
