"""The repeat-facts snapshot: the per-study repeat definitions computed once, read many times.

The definitions are the views of migration 0004 (``repeat_study_facts``, ``study_dose``);
computing them joins every study with its earlier ones, which is too slow to do for each chart of
a page at archive scale (a million studies). ``refresh(con)`` stores their result in
``repeat_facts`` in one transaction; ``prior_use_episodes``, ``repeat_avoided`` and
``repeat_metrics_daily`` read it (migration 0006).

When it runs: ``limestone link-patients`` (after imports and pulls), ``limestone demo``, and every
edit made through ``archive.repeats.classes``. ``status(con)`` says when it was taken and whether
anything it depends on changed since; the page shows that, and offers a recompute.
Prior-use events need no refresh: episodes are computed from them at read time.
"""

from __future__ import annotations

from typing import Any

import duckdb

from archive.clock import now_utc
from archive.store.connection import retrying

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
            count = con.execute("SELECT count(*) FROM repeat_facts").fetchone()[0]
            con.execute("COMMIT")
            return count
        except Exception:
            con.execute("ROLLBACK")
            raise
    return retrying(once)


def status(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """``refreshed_at``, ``studies`` (in the snapshot), ``changed_at`` (latest source change), ``stale``."""
    cursor = con.execute("SELECT * FROM repeat_facts_status")
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone()))
