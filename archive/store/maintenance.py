"""Store upkeep: every batch commit adds small Parquet and delete files; compaction merges them.

``compact`` folds inlined rows and deletions into data files, merges adjacent small files, expires
snapshots older than the retention (time travel is not kept longer than that) and removes files no
snapshot needs any more. Files are only removed once older than the retention, so a dashboard or
notebook that is reading an older snapshot right now keeps its files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import duckdb

from archive.clock import now_utc
from archive.store.connection import LAKE, retrying, scalar


@dataclass
class Compaction:
    files_before: int
    files_after: int


def data_file_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many Parquet data and delete files the lake is made of now."""
    return int(scalar(con, f"SELECT count(*) FROM __ducklake_metadata_{LAKE}.ducklake_data_file "
                           "WHERE end_snapshot IS NULL"))


def _first_column(con: duckdb.DuckDBPyConnection, call: str, params: list[str]) -> list[tuple[Any, ...]]:
    return con.execute(f"SELECT #1 FROM {call}", params).fetchall()


def compact(con: duckdb.DuckDBPyConnection, retention: timedelta = timedelta(hours=1)) -> Compaction:
    """Merge small files and drop what no snapshot within ``retention`` needs; return file counts."""
    before = data_file_count(con)
    cutoff = (now_utc() - retention).isoformat() + "+00:00"
    # Each call's first column only: it must run in full, and its timestamp columns need not be
    # turned into Python objects.
    for call, params in ((f"ducklake_flush_inlined_data('{LAKE}')", []),
                         (f"ducklake_rewrite_data_files('{LAKE}')", []),
                         (f"ducklake_merge_adjacent_files('{LAKE}')", []),
                         (f"ducklake_expire_snapshots('{LAKE}', older_than => CAST(? AS TIMESTAMPTZ))", [cutoff]),
                         (f"ducklake_cleanup_old_files('{LAKE}', older_than => CAST(? AS TIMESTAMPTZ))", [cutoff])):
        retrying(partial(_first_column, con, call, params))
    return Compaction(before, data_file_count(con))


COMPACT_ABOVE_FILES = 200  # after a pipeline run, compact once the lake has more files than this


def compact_if_fragmented(con: duckdb.DuckDBPyConnection) -> Compaction | None:
    """Compact when many small files have accumulated (called at the end of pipeline runs)."""
    if data_file_count(con) <= COMPACT_ABOVE_FILES:
        return None
    return compact(con)
