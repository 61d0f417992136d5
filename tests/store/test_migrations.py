
from archive.home import Home
from archive.store import open_store
from archive.store.migrations import available, migrate

TABLES = {"sites", "patients", "studies", "series", "instances", "ingest_runs", "quarantine",
          "schema_migrations"}


def test_numbers_are_contiguous_from_one():
    numbers = [n for n, _, _ in available()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_migrate_from_empty_then_nothing_more(tmp_path):
    home = Home(tmp_path / "home")
    con = open_store(home)
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'").fetchall()}
    assert TABLES <= tables
    assert migrate(con, home) == []
    applied = con.execute("SELECT number FROM schema_migrations ORDER BY 1").fetchall()
    assert [r[0] for r in applied] == [n for n, _, _ in available()]
    con.close()


def test_readers_can_open_while_a_writer_is_open(tmp_path):
    home = Home(tmp_path / "home")
    writer = open_store(home)
    reader = open_store(home, read_only=True)
    writer.execute("INSERT INTO sites (site, name) VALUES ('N', 'North')")
    assert reader.execute("SELECT name FROM sites").fetchall() == [("North",)]
    writer.close()
    reader.close()


def test_compaction_keeps_every_row(tmp_path, backend):
    from datetime import timedelta

    from archive.store.maintenance import compact, data_file_count

    home = backend.home(tmp_path / "home")
    con = open_store(home)
    for batch in range(12):  # 12 commits of 20 rows: 12 small Parquet files
        con.execute("INSERT INTO ingest_runs (run_id, files_seen) SELECT 'r' || i, i FROM range(?, ?) t(i)",
                    [batch * 20, batch * 20 + 20])
    before = data_file_count(con)
    result = compact(con, retention=timedelta(0))
    assert before >= 12 and result.files_before == before and result.files_after < before
    assert con.execute("SELECT count(*), sum(files_seen) FROM ingest_runs").fetchone() == (240, sum(range(240)))
    con.close()


def test_rollback_when_a_failed_commit_already_ended_the_transaction(tmp_path):
    from archive.store.connection import rollback

    con = open_store(Home(tmp_path / "home"))
    rollback(con)  # nothing to roll back: no error, so the commit's own error is what surfaces
    con.execute("BEGIN")
    con.execute("INSERT INTO sites (site) VALUES ('X')")
    rollback(con)
    assert con.execute("SELECT count(*) FROM sites").fetchone()[0] == 0
    con.close()
