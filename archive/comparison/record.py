"""Recording a comparison: an audit event per study shown, and a "prior used" for each prior.

Opening a comparison is an access to patient data, so each study on screen (the current and
every prior) gets an audit ``view`` event whose detail says it was a comparison. Each prior is
also recorded as a *prior used* (kind ``compared``) for the repeat-exam metrics, through
``archive.repeats.prior_use.record_prior_use`` when that module and its table are present; the
event id is derived from the comparison id, so recording the same comparison twice counts once.
Neither record ever breaks the page: failures are logged and reported as False. A page audits
(``audit_comparison``) before it shows the images and records the prior uses
(``record_prior_uses``, a writer connection to the analytic store) once they are on their way.
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
BACKGROUND_DELAY = 3.0   # seconds


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


def audit_comparison(archive: Archive, user_id: str | None, user_role: str | None, current: Shown,
                     priors: list[Shown], session: str = "") -> bool:
    """Audit the opening of a comparison: a ``view`` event per study shown; False if one failed.

    Small SQLite writes: a page calls it before it shows the images.
    """
    cid = comparison_id(user_id, current.study_instance_uid, [p.study_instance_uid for p in priors], session)
    audited = audit.record(archive.home, audit.AuditEvent(
        "view", user_id, user_role, current.study_instance_uid, current.patient_key,
        detail=f"comparison {cid}: current with {len(priors)} prior(s)"))
    for prior in priors:
        audited &= audit.record(archive.home, audit.AuditEvent(
            "view", user_id, user_role, prior.study_instance_uid, prior.patient_key,
            detail=f"comparison {cid}: prior"))
    return bool(audited)


def record_prior_uses(archive: Archive, user_id: str | None, current: Shown, priors: list[Shown],
                      site: str | None, session: str = "", background: bool = False) -> bool | None:
    """Record each prior of the comparison as used; True when all were written.

    The prior uses go to the analytic store and open a writer connection: about 0.4 s of work on
    this 2-core machine, much of it holding the interpreter, which measured 150-200 ms on the
    first image of a comparison when it ran beside it. With ``background=True`` a thread writes
    them ``BACKGROUND_DELAY`` seconds later, once the page's first images are served, and None is
    returned (a use written late or never is still copied in from the audit trail by
    ``archive.repeats.audit_uses`` at the next update of the repeat metrics).
    """
    cid = comparison_id(user_id, current.study_instance_uid, [p.study_instance_uid for p in priors], session)

    def uses() -> bool:
        return all([record_prior_used(archive, p.study_instance_uid, site, user_id,
                                      f"compare:{cid}:{p.study_instance_uid}") for p in priors])
    if background:
        timer = threading.Timer(BACKGROUND_DELAY, uses)
        timer.name, timer.daemon = "limestone-prior-use", True
        timer.start()
        return None
    return uses()
