"""Named SQL queries of the store, each a .sql file beside this module, with typed wrappers."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb

_HERE = Path(__file__).parent


@cache
def sql(name: str) -> str:
    """The text of ``queries/<name>.sql``."""
    return (_HERE / f"{name}.sql").read_text()


def stats(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Counts of patients, studies, series, instances, and the bytes stored."""
    cursor = con.execute(sql("stats"))
    names = [d[0] for d in cursor.description]
    return dict(zip(names, (int(v) for v in cursor.fetchall()[0]), strict=True))   # one row
