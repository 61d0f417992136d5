"""Recording a comparison: an audit event per study shown, and a "prior used" for each prior.

Opening a comparison is an access to patient data, so each study on screen (the current and
every prior) gets an audit ``view`` event whose detail says it was a comparison. Each prior is
also recorded as a *prior used* (kind ``compared``) for the repeat-exam metrics, through
``archive.repeats.prior_use.record_prior_use`` when that module and its table are present; the
event id is derived from the comparison id, so recording the same comparison twice counts once.
Neither record ever breaks the page: failures are logged and reported as False.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archive import audit

if TYPE_CHECKING:
    from archive.home import Archive

log = logging.getLogger("limestone.compare")


@dataclass(frozen=True)
class Shown:
    study_instance_uid: str
    patient_key: str | None


def comparison_id(user_id: str | None, current: str, priors: list[str], session: str) -> str:
    """A stable id of one user's comparison of these studies in one session (no PHI: a hash)."""
    text = "|".join([user_id or "", current, *sorted(priors), session])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def record_prior_used(archive: Archive, prior_uid: str, site: str | None, user_id: str | None, event_id: str) -> bool:
    """Record the prior as used (kind 'compared'); False when the repeat-exam store is absent or busy."""
    try:
        module = importlib.import_module("archive.repeats.prior_use")
    except ImportError:
        log.info("prior use not recorded: the repeat-exam module is not installed")
        return False
    return bool(module.record_prior_use(archive, prior_uid, "compared", site=site, user_id=user_id,
                                        event_id=event_id))


def record_comparison(archive: Archive, user_id: str | None, user_role: str | None, current: Shown,
                      priors: list[Shown], site: str | None, session: str = "",
                      background: bool = False) -> dict[str, bool | None]:
    """Audit the opening of a comparison and record each prior as used; returns what was written.

    The audit events are written at once (small SQLite writes). The prior uses go to the analytic
    store, which takes a writer connection; with ``background=True`` they are written by a thread
    so the page opens without waiting (``prior_used`` is then None).
    """
    cid = comparison_id(user_id, current.study_instance_uid, [p.study_instance_uid for p in priors], session)
    detail = f"comparison {cid}: current with {len(priors)} prior(s)"
    audited = audit.record(archive.home, audit.AuditEvent(
        "view", user_id, user_role, current.study_instance_uid, current.patient_key, detail=detail))
    for prior in priors:
        audited &= audit.record(archive.home, audit.AuditEvent(
            "view", user_id, user_role, prior.study_instance_uid, prior.patient_key,
            detail=f"comparison {cid}: prior"))
    def uses() -> bool:
        return all([record_prior_used(archive, p.study_instance_uid, site, user_id,
                                      f"compare:{cid}:{p.study_instance_uid}") for p in priors])
    if background and priors:
        threading.Thread(target=uses, name="limestone-prior-use", daemon=True).start()
        return {"audited": bool(audited), "prior_used": None}
    return {"audited": bool(audited), "prior_used": uses() if priors else True}
