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
