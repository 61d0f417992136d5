"""Full-text search of report text with DuckDB's fts extension, loaded offline from its wheel.

DuckLake tables cannot hold an fts index (its macros and NULL-typed columns do not commit to a
lake), so the index is built in the connection's in-memory database over the current report
versions, and rebuilt only when the reports change (their count and last receipt time). A
dashboard keeps its connection, so it builds the index once per change, not once per search.
The extension comes from the pinned ``duckdb-extension-fts`` wheel and is never downloaded.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import duckdb

from archive.store.connection import scalar, wheel_extension

_INDEX_TABLE = "memory.main.report_search"
_lock = threading.Lock()


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD the fts extension from the duckdb-extension-fts wheel (never from the internet)."""
    loaded = scalar(con, "SELECT count(*) FROM duckdb_extensions() WHERE extension_name = 'fts' AND loaded")
    if not loaded:
        con.execute(f"LOAD '{wheel_extension('duckdb_extension_fts', 'fts.duckdb_extension')}'")


def _signature(con: duckdb.DuckDBPyConnection) -> tuple[int, datetime | None]:
    count, last = con.execute("SELECT count(*), max(received_at) FROM lake.reports").fetchall()[0]
    return count, last


def ensure_index(con: duckdb.DuckDBPyConnection) -> None:
    """Build (or rebuild when the reports changed) the in-memory index of current report versions."""
    with _lock:
        load_fts(con)
        count, last = _signature(con)
        con.execute("CREATE TABLE IF NOT EXISTS memory.main.report_search_signature (n BIGINT, last TIMESTAMP)")
        if scalar(con, "SELECT count(*) FROM memory.main.report_search_signature WHERE n = ? "
                  "AND last IS NOT DISTINCT FROM ?", [count, last]):
            return
        con.execute("SET enable_progress_bar = false")
        con.execute(f"CREATE OR REPLACE TABLE {_INDEX_TABLE} AS "
                    "SELECT report_id, coalesce(title, '') || ' ' || coalesce(text, '') AS body "
                    "FROM lake.report_versions WHERE version_rank = 1")
        con.execute("PRAGMA create_fts_index('memory.main.report_search', 'report_id', 'body', "
                    "stemmer = 'porter', stopwords = 'english', overwrite = 1)")
        con.execute("DELETE FROM memory.main.report_search_signature")
        con.execute("INSERT INTO memory.main.report_search_signature VALUES (?, ?)", [count, last])


def search_reports(con: duckdb.DuckDBPyConnection, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Current reports whose text matches ``query`` (words, stemmed; BM25 order), with their study.

    Each dict: study_instance_uid (None while the report waits for its study), report_id, status,
    title, author, report_datetime, accession_number, score, snippet.
    """
    words = " ".join(query.split())
    if not words:
        return []
    ensure_index(con)
    rows = con.execute(
        "WITH hits AS ("
        "  SELECT report_id, memory.fts_main_report_search.match_bm25(report_id, ?) AS score"
        "  FROM memory.main.report_search) "
        "SELECT m.study_instance_uid, v.report_id, v.status, v.title, v.author, v.report_datetime, "
        "       v.accession_number, h.score, v.text "
        "FROM hits h JOIN lake.report_versions v ON v.report_id = h.report_id AND v.version_rank = 1 "
        "LEFT JOIN lake.report_study_matches m ON m.report_id = v.report_id "
        "WHERE h.score IS NOT NULL ORDER BY h.score DESC, v.report_datetime DESC NULLS LAST LIMIT ?",
        [words, limit]).fetchall()
    names = ["study_instance_uid", "report_id", "status", "title", "author", "report_datetime",
             "accession_number", "score"]
    result = []
    for row in rows:
        item = dict(zip(names, row[:-1], strict=True))
        item["snippet"] = _snippet(row[-1] or "", words)
        result.append(item)
    return result


def _snippet(text: str, words: str, width: int = 160) -> str:
    """The part of the text around the first query word found (plain case-insensitive match)."""
    lowered = text.lower()
    at = min((i for i in (lowered.find(w.lower()[:5]) for w in words.split()) if i >= 0), default=0)
    start = max(0, at - width // 3)
    piece = " ".join(text[start:start + width].split())
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")
