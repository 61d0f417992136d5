"""A backup's counts come from the catalog's own metadata (milliseconds, no DuckDB): they must
equal what ``limestone stats`` counts through DuckDB, also after rows were deleted and updated
(DuckLake delete files and inlined rows ended by a later snapshot)."""

from __future__ import annotations

from pathlib import Path

from archive.backup.counts import catalog_counts
from archive.home import Home
from archive.store.connection import connect
from archive.store.queries import stats


def _both(root: Path) -> tuple[dict | None, dict]:
    home = Home(root)
    mine = catalog_counts(home.catalog_path, home.lake_dir)
    con = connect(home, read_only=True)
    try:
        return mine, stats(con)
    finally:
        con.close()


def test_counts_from_the_catalog_match_duckdb(home):
    before, theirs = _both(home)
    assert theirs["instances"] > 20
    assert before == theirs

    con = connect(Home(home))
    try:
        uids = [r[0] for r in con.execute(
            "SELECT sop_instance_uid FROM instances ORDER BY sop_instance_uid LIMIT 7").fetchall()]
        con.execute("DELETE FROM instances WHERE list_contains(?, sop_instance_uid)", [uids])
        con.execute("UPDATE studies SET study_description = 'changed' WHERE study_instance_uid IN "
                    "(SELECT study_instance_uid FROM studies ORDER BY 1 LIMIT 3)")
        con.execute("DELETE FROM patients WHERE patient_key IN (SELECT patient_key FROM patients ORDER BY 1 LIMIT 1)")
    finally:
        con.close()
    mine, theirs = _both(home)
    assert mine == theirs
    assert before is not None and mine is not None
    assert mine["instances"] == before["instances"] - 7 and mine["bytes"] < before["bytes"]
