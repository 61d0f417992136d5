"""The repeat-facts snapshot: the per-study repeat definitions computed once, read many times.

The definitions are the views of migration 0004 (``repeat_study_facts``, ``study_dose``) and
``prior_use_episodes``; computing them joins every study with its earlier ones, which is too slow
to do for each chart of a page at archive scale (a million studies). ``refresh(con)`` stores, in
one transaction, their result per study (``repeat_facts``), per day, site and class
(``repeat_exam_daily``) and per prior-use episode (``prior_use_facts``); ``repeat_metrics_daily``
and ``repeat_avoided`` read those (migrations 0006, 0008).

When it runs: after imports, pulls, the listener and the demo, with the patient links, through
``archive.repeats.update`` (as does ``limestone link-patients``), and after every edit made through
``archive.repeats.classes``. ``status(con)`` says when it was taken and whether anything it depends
on changed since (studies arriving, patients linked, prior uses recorded); the page and the report
say so, and the page offers a recompute to managers and admins.
"""

from __future__ import annotations

from typing import Any

import duckdb

from archive.clock import now_utc
from archive.home import Home
from archive.repeats import audit_uses
from archive.store.connection import retrying, rollback, scalar

_COLUMNS = (
    "study_instance_uid, patient_key, person_key, site, study_date, study_datetime, modality, "
    "modality_family, body_part, description, exam_class, class_name, window_days, fee, available_at, "
    "is_repeat, is_avoidable, clinically_required, prior_uid, prior_site, prior_datetime, days_after_prior, "
    "available_prior_uid, available_prior_site, available_prior_datetime")


def refresh(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute ``repeat_facts`` from the definitions; return the number of studies in it."""
    now = now_utc()

    def once() -> int:
        con.execute("BEGIN")
        try:
            con.execute("DELETE FROM repeat_facts")
            con.execute(
                f"INSERT INTO repeat_facts SELECT {', '.join('f.' + c.strip() for c in _COLUMNS.split(','))}, "
                "d.ct_dlp_mgy_cm, d.ct_ctdi_vol_mgy, d.xr_detector_kerma_ugy, ? "
                "FROM repeat_study_facts f LEFT JOIN study_dose d USING (study_instance_uid)", [now])
            count = scalar(con, "SELECT count(*) FROM repeat_facts")
            con.execute("DELETE FROM repeat_exam_daily")
            con.execute(
                "INSERT INTO repeat_exam_daily SELECT study_date, site, exam_class, any_value(class_name), "
                "modality_family, count(*), count(*) FILTER (WHERE is_repeat), "
                "count(*) FILTER (WHERE is_avoidable), ? FROM repeat_facts "
                "GROUP BY study_date, site, exam_class, modality_family", [now])
            con.execute("DELETE FROM prior_use_facts")
            con.execute("INSERT INTO prior_use_facts SELECT *, ? FROM prior_use_episodes", [now])
            con.execute("COMMIT")
            return count
        except Exception:
            rollback(con)
            raise
    return retrying(once)


def status(con: duckdb.DuckDBPyConnection, home: Home | None = None) -> dict[str, Any]:
    """``refreshed_at``, ``studies`` (in the snapshot), ``changed_at`` (latest source change),
    ``pending_prior_uses`` and ``stale``.

    With ``home``, prior uses that the state database records but the store has not copied yet
    (share links created or opened, media exported since the last update:
    ``archive.repeats.audit_uses``) count too: any one of them makes the facts stale, so a page, the
    report or a notebook never calls facts fresh that miss a use.
    """
    cursor = con.execute("SELECT * FROM repeat_facts_status")
    names = [d[0] for d in cursor.description]
    out = dict(zip(names, cursor.fetchall()[0], strict=True))   # the view has one row
    out["pending_prior_uses"] = audit_uses.pending_count(con, home) if home is not None else 0
    out["stale"] = bool(out["stale"]) or out["pending_prior_uses"] > 0
    return out
