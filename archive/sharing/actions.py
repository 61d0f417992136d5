"""A clerk's actions on share links, each recorded in the audit trail (CLI and dashboard share these)."""

from __future__ import annotations

from dataclasses import dataclass

from archive import audit, sharing
from archive.home import Archive
from archive.sharing.links import IssuedLink, ShareLink
from archive.sharing.scope import resolve


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user (dashboard) or an operator (CLI), and from where."""

    user_id: str
    role: str | None = None
    source: str = "dashboard"
    ip: str | None = None
    user_agent: str | None = None


def _event(actor: Actor, action: str, link: ShareLink, detail: str | None = None) -> audit.AuditEvent:
    return audit.AuditEvent(action=action, user_id=actor.user_id, user_role=actor.role,
                            patient_key=link.patient_key, source=actor.source, detail=detail,
                            link_id=link.link_id, ip=actor.ip, user_agent=actor.user_agent)


def create(archive: Archive, study_instance_uids: list[str], actor: Actor, *, recipient_name: str,
           recipient_role: str = "patient", recipient_email: str | None = None,
           permissions=sharing.PERMISSIONS, days: int | None = None, use_limit: int | None = None,
           verify: str = "passcode", con=None) -> IssuedLink:
    """Issue a link to studies of one patient (checked against the store) and audit it.

    ``con`` is an open store connection to reuse (the dashboard keeps one); else one is opened.
    """
    if con is not None:
        scope = resolve(con, study_instance_uids)
    else:
        con = archive.store(read_only=True)
        try:
            scope = resolve(con, study_instance_uids)
        finally:
            con.close()
    settings = archive.settings
    issued = sharing.issue(
        archive.home, scope, recipient_name=recipient_name, recipient_role=recipient_role,
        recipient_email=recipient_email, permissions=permissions,
        days=int(days if days is not None else settings.share_default_days),
        max_days=int(settings.share_max_days), use_limit=use_limit, verify=verify,
        created_by=actor.user_id)
    link = issued.link
    audit.record_many(archive.home, _event(
        actor, "share", link, f"to a {link.recipient_role}; {','.join(sorted(link.permissions))}; "
                              f"until {link.expires_at:%Y-%m-%d}"), link.study_instance_uids)
    return issued


def revoke(archive: Archive, link_id: str, actor: Actor) -> ShareLink:
    link = sharing.revoke(archive.home, link_id, by=actor.user_id)
    audit.record_many(archive.home, _event(actor, "revoke", link), link.study_instance_uids)
    return link


def extend(archive: Archive, link_id: str, days: int, actor: Actor) -> ShareLink:
    link = sharing.extend(archive.home, link_id, days, max_days=int(archive.settings.share_max_days))
    audit.record_many(archive.home, _event(actor, "extend", link, f"until {link.expires_at:%Y-%m-%d}"),
                      link.study_instance_uids)
    return link


def unlock(archive: Archive, link_id: str, actor: Actor) -> ShareLink:
    link = sharing.unlock(archive.home, link_id)
    audit.record_many(archive.home, _event(actor, "unlock", link), link.study_instance_uids)
    return link


def describe(link: ShareLink) -> dict:
    """A link as plain values for lists and JSON (never the token or the secret hash)."""
    return {
        "link_id": link.link_id, "status": link.status(), "studies": list(link.study_instance_uids),
        "patient_key": link.patient_key, "site": link.site, "recipient_name": link.recipient_name,
        "recipient_role": link.recipient_role, "recipient_email": link.recipient_email,
        "permissions": sorted(link.permissions), "verify": link.verify_kind,
        "created_by": link.created_by, "created_by_kind": link.created_by_kind,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat(), "use_limit": link.use_limit, "uses": link.uses,
        "failed_attempts": link.failed_attempts, "downloads": link.downloads,
        "first_opened_at": link.first_opened_at.isoformat() if link.first_opened_at else None,
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
    }
