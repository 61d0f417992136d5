"""The department's editable reference tables for repeat metrics.

Exam classes (name, repeat window, fee), the default window per modality family, the rules that
map studies to classes, the studies flagged clinically required, and the sites whose studies are
in the regional archive from the moment they are made. Seeded by migration 0004; edited through
these functions (and the Repeat exams page, for admins and managers). Each table keeps one row per
key: an edit replaces the row in one transaction, then refreshes the repeat facts
(archive/repeats/facts.py) so the new numbers show at once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from archive.clock import now_utc
from archive.repeats import facts
from archive.store.connection import retrying, rollback, scalar

FAMILIES = {"CR": "XR", "DX": "XR"}  # modality -> modality family
_KEEP: Any = object()                 # "leave this field as it is"
MAX_WINDOW_DAYS = 3650


def modality_family(modality: str | None) -> str:
    """CR and DX are one family (XR); other modalities are their own."""
    code = (modality or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2,3}", code):
        raise ValueError(f"not a modality code: {modality!r}")
    return FAMILIES.get(code, code)


def _transaction(con: duckdb.DuckDBPyConnection, statements: list[tuple[str, list[object]]]) -> None:
    """Apply one edit, then refresh the repeat facts so every reader sees its effect at once."""
    def once() -> None:
        con.execute("BEGIN")
        try:
            for sql, params in statements:
                con.execute(sql, params)
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
    retrying(once)
    facts.refresh(con)


def _window(days: int | None) -> int | None:
    if days is None:
        return None
    if int(days) != days or not 0 <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"a repeat window is a whole number of days from 0 to {MAX_WINDOW_DAYS}")
    return int(days)


def _pattern(con: duckdb.DuckDBPyConnection, pattern: str | None) -> str | None:
    if pattern is None or not pattern.strip():
        return None
    try:
        con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchone()
    except duckdb.Error:
        raise ValueError(f"not a valid regular expression: {pattern!r}") from None
    return pattern.strip()


# ---- classes --------------------------------------------------------------------------------------
def exam_classes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every class with its own window (NULL = the family default), the effective window and fee."""
    return con.execute(
        "SELECT c.exam_class, c.name, c.modality, c.body_region, c.repeat_window_days, "
        "coalesce(c.repeat_window_days, w.window_days, 30) AS effective_window_days, c.fee, "
        "c.updated_by, c.updated_at FROM exam_classes c "
        "LEFT JOIN repeat_window_defaults w ON w.modality = c.modality ORDER BY c.modality, c.exam_class").df()


def set_exam_class(con: duckdb.DuckDBPyConnection, exam_class: str, *, updated_by: str,
                   name: str | None = _KEEP, modality: str | None = _KEEP,
                   body_region: str | None = _KEEP, repeat_window_days: int | None = _KEEP,
                   fee: float | None = _KEEP) -> None:
    """Create or change a class; fields not given keep their value (None clears a window or fee)."""
    code = (exam_class or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9_]{2,40}", code):
        raise ValueError("a class code is 2-40 letters, digits or underscores, e.g. CT_HEAD")
    row = con.execute("SELECT name, modality, body_region, repeat_window_days, fee FROM exam_classes "
                      "WHERE exam_class = ? LIMIT 1", [code]).fetchone()
    current = dict(zip(("name", "modality", "body_region", "repeat_window_days", "fee"),
                       row or (code, None, None, None, None), strict=True))
    if modality is not _KEEP:
        current["modality"] = modality_family(modality)
    if current["modality"] is None:
        raise ValueError("a new class needs its modality")
    if name is not _KEEP:
        current["name"] = (name or code).strip()
    if body_region is not _KEEP:
        current["body_region"] = (body_region or "").strip().upper() or None
    if repeat_window_days is not _KEEP:
        current["repeat_window_days"] = _window(repeat_window_days)
    if fee is not _KEEP:
        if fee is not None and (fee != fee or fee < 0):
            raise ValueError("a fee is a positive amount or empty")
        current["fee"] = None if fee is None else float(fee)
    _transaction(con, [
        ("DELETE FROM exam_classes WHERE exam_class = ?", [code]),
        ("INSERT INTO exam_classes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
         [code, current["name"], current["modality"], current["body_region"],
          current["repeat_window_days"], current["fee"], updated_by, now_utc()]),
    ])


def window_defaults(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT modality, window_days, updated_by, updated_at FROM repeat_window_defaults "
                       "ORDER BY modality").df()


def set_window_default(con: duckdb.DuckDBPyConnection, modality: str, window_days: int,
                       updated_by: str) -> None:
    """The repeat window of every class of a modality family that has no window of its own."""
    family, days = modality_family(modality), _window(window_days)
    if days is None:
        raise ValueError("a default window needs a number of days")
    _transaction(con, [
        ("DELETE FROM repeat_window_defaults WHERE modality = ?", [family]),
        ("INSERT INTO repeat_window_defaults VALUES (?, ?, ?, ?)", [family, days, updated_by, now_utc()]),
    ])


# ---- rules ----------------------------------------------------------------------------------------
def class_rules(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT priority, modality, body_part_pattern, description_pattern, exam_class, "
                       "updated_by, updated_at FROM exam_class_rules "
                       "ORDER BY modality, priority, exam_class").df()


def set_class_rule(con: duckdb.DuckDBPyConnection, priority: int, modality: str, exam_class: str, *,
                   updated_by: str, body_part_pattern: str | None = None,
                   description_pattern: str | None = None) -> None:
    """Add a rule, or replace the rule with the same modality family and priority."""
    family = modality_family(modality)
    code = exam_class.strip().upper()
    if not scalar(con, "SELECT count(*) FROM exam_classes WHERE exam_class = ?", [code]):
        raise ValueError(f"unknown exam class {code}: create it first")
    _transaction(con, [
        ("DELETE FROM exam_class_rules WHERE modality = ? AND priority = ?", [family, int(priority)]),
        ("INSERT INTO exam_class_rules VALUES (?, ?, ?, ?, ?, ?, ?)",
         [int(priority), family, _pattern(con, body_part_pattern), _pattern(con, description_pattern),
          code, updated_by, now_utc()]),
    ])


def remove_class_rule(con: duckdb.DuckDBPyConnection, modality: str, priority: int) -> None:
    _transaction(con, [("DELETE FROM exam_class_rules WHERE modality = ? AND priority = ?",
                        [modality_family(modality), int(priority)])])


# ---- flags and coverage ---------------------------------------------------------------------------
def flag_clinically_required(con: duckdb.DuckDBPyConnection, study_instance_uid: str, reason: str,
                             flagged_by: str) -> None:
    """Mark a repeat as clinically required: it is then never counted as avoidable."""
    if not (reason or "").strip():
        raise ValueError("say why the repeat was clinically required")
    _transaction(con, [
        ("DELETE FROM repeat_clinical_flags WHERE study_instance_uid = ?", [study_instance_uid]),
        ("INSERT INTO repeat_clinical_flags VALUES (?, ?, ?, ?)",
         [study_instance_uid, reason.strip(), flagged_by, now_utc()]),
    ])


def unflag_clinically_required(con: duckdb.DuckDBPyConnection, study_instance_uid: str) -> None:
    _transaction(con, [("DELETE FROM repeat_clinical_flags WHERE study_instance_uid = ?",
                        [study_instance_uid])])


def clinical_flags(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT * FROM repeat_clinical_flags ORDER BY flagged_at DESC").df()


def set_archive_coverage(con: duckdb.DuckDBPyConnection, site: str, covered_since: date | None,
                         updated_by: str) -> None:
    """Since when ``site``'s studies are in the regional archive as soon as they are made (None: never)."""
    statements: list[tuple[str, list[object]]] = [("DELETE FROM archive_coverage WHERE site = ?", [site])]
    if covered_since is not None:
        statements.append(("INSERT INTO archive_coverage VALUES (?, ?, ?, ?)",
                           [site, covered_since, updated_by, now_utc()]))
    _transaction(con, statements)


def archive_coverage(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT site, covered_since, updated_by, updated_at FROM archive_coverage "
                       "ORDER BY site").df()
