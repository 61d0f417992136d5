"""Studies, series, instances and patients are stored in lookup order (migration 0011)."""

from __future__ import annotations

import duckdb

from archive.store import migrations, open_store
from archive.store.queries import browse

TABLES = {"studies": "study_instance_uid", "series": "study_instance_uid", "instances": "study_instance_uid",
          "patients": "patient_key"}


def file_orders(con, table: str, column: str) -> list[list[str]]:
    """The ``column`` values of each of the table's data files, in file order."""
    files = [r[0] for r in con.execute(f"SELECT data_file FROM ducklake_list_files('lake', '{table}')").fetchall()]
    return [[r[0] for r in duckdb.execute(f"SELECT {column} FROM read_parquet(?)", [f]).fetchall()] for f in files]


def fill(con, start: int, count: int) -> None:
    """``count`` studies with two series of three instances each, UIDs in reverse order."""
    ids = f"range({start + count - 1}, {start - 1}, -1) t(i)"
    con.execute(f"INSERT INTO patients (patient_key, patient_name) SELECT 'k' || (999 - i), 'P^' || i FROM {ids}")
    con.execute(f"INSERT INTO studies (study_instance_uid, patient_key, site) SELECT '1.5.' || i, 'k' || (999 - i), "
                f"'NORTH' FROM {ids}")
    con.execute(f"INSERT INTO series (series_instance_uid, study_instance_uid) SELECT '1.5.' || i || '.' || k, "
                f"'1.5.' || i FROM {ids}, range(2) s(k)")
    con.execute("INSERT INTO instances (sop_instance_uid, series_instance_uid, study_instance_uid, content_hash) "
                f"SELECT '1.5.' || i || '.' || k || '.' || j, '1.5.' || i || '.' || k, '1.5.' || i, 'h' || j "
                f"FROM {ids}, range(2) s(k), range(3) n(j)")


def test_the_migration_rewrites_the_rows_in_lookup_order_and_new_files_keep_it(archive, monkeypatch):
    older = [m for m in migrations.available() if m[0] < 11]
    monkeypatch.setattr(migrations, "available", lambda: older)
    con = open_store(archive.home)
    fill(con, 100, 50)
    before = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=str) for t in TABLES}
    assert file_orders(con, "studies", "study_instance_uid")[0][:2] == ["1.5.149", "1.5.148"]
    monkeypatch.undo()
    con.close()

    con = open_store(archive.home)
    try:
        for table, column in TABLES.items():
            width = len(before[table][0])   # later migrations may add columns
            assert sorted((r[:width] for r in con.execute(f"SELECT * FROM {table}").fetchall()),
                          key=str) == before[table]
            orders = file_orders(con, table, column)
            assert orders and all(values == sorted(values) for values in orders)
        fill(con, 200, 30)  # a later batch: its own file, sorted as written
        for table, column in TABLES.items():
            orders = file_orders(con, table, column)
            assert len(orders) == 2 and all(values == sorted(values) for values in orders)
        study = browse.study(con, "1.5.120")
        assert (study["patient_key"], study["patient_name"], study["site"]) == ("k879", "P^120", "NORTH")
    finally:
        con.close()


def test_lookup_tables_are_written_in_small_row_groups(archive):
    """Migration 0018: a bulk write (or a compaction) of more than 16,384 rows makes several row
    groups, so a point lookup in key order reads one small row group per file."""
    con = open_store(archive.home)
    try:
        fill(con, 1000, 20_000)
        for table in TABLES:
            files = [r[0] for r in con.execute(
                f"SELECT data_file FROM ducklake_list_files('lake', '{table}')").fetchall()]
            sizes = [r[1] for f in files for r in duckdb.execute(
                "SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(?)", [f]).fetchall()]
            assert sum(sizes) >= 20_000 and max(sizes) <= 16_384, (table, sizes)
    finally:
        con.close()
