"""Shares a patient makes of their own studies, with the share-link machinery (``archive.sharing``).

A patient's link is an ordinary share link (opaque token, passcode, expiry, view/download, DICOMweb
for the doctor's viewer, lockout) marked ``created_by_kind = 'patient'`` with the account's id, so
the clerks' list and the usage report tell it apart. A patient sees and revokes only the links
their account made; ``openings`` gives who opened what and when, from the audit trail.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from typing import Any

from archive import audit, sharing, state
from archive.home import Archive, Home
from archive.patient_access.accounts import Account
from archive.sharing.links import IssuedLink, Scope, ShareError, ShareLink

OPEN_ACTIONS = ("open", "view", "download", "passcode_failed", "lockout")


def user_id(account: Account) -> str:
    return f"patient:{account.account_id}"


def share(archive: Archive, account: Account, studies: list[dict[str, Any]], *, recipient_name: str,
          recipient_email: str | None = None, permissions: tuple[str, ...] = ("view", "download"),
          days: int | None = None, ip: str | None = None, user_agent: str | None = None) -> IssuedLink:
    """Share some of the account's studies (rows of ``records.studies``) with a doctor; audited."""
    if not studies:
        raise ShareError("choose at least one study to share")
    settings = archive.settings
    scope = Scope(account.patient_key, tuple(s["study_instance_uid"] for s in studies), studies[0].get("site"))
    issued = sharing.issue(
        archive.home, scope, recipient_name=recipient_name, recipient_role="doctor",
        recipient_email=recipient_email, permissions=permissions,
        days=int(days if days is not None else settings.share_default_days),
        max_days=int(settings.share_max_days), created_by=user_id(account), account_id=account.account_id)
    link = issued.link
    audit.record_many(archive.home, audit.AuditEvent(
        action="share", user_id=user_id(account), user_role="patient", patient_key=account.patient_key,
        source="portal", link_id=link.link_id, ip=ip, user_agent=user_agent, account_id=account.account_id,
        detail=f"by the patient to a doctor; {','.join(sorted(link.permissions))}; until {link.expires_at:%Y-%m-%d}"),
        link.study_instance_uids)
    return issued


def own_links(home: Home, account: Account) -> list[ShareLink]:
    """The links this account made, newest first."""
    return sharing.list_links(home, account_id=account.account_id)


def own_link(home: Home, account: Account, link_id: str) -> ShareLink | None:
    """One of the account's links (None for any other link id, whoever made it)."""
    link = sharing.get(home, str(link_id)[:20])
    if link is None or link.account_id != account.account_id or link.created_by_kind != "patient":
        return None
    return link


def revoke(archive: Archive, account: Account, link_id: str, ip: str | None = None,
           user_agent: str | None = None) -> ShareLink | None:
    """Withdraw one of the account's links at once; None when it is not theirs."""
    if own_link(archive.home, account, link_id) is None:
        return None
    link = sharing.revoke(archive.home, link_id, by=user_id(account))
    audit.record_many(archive.home, audit.AuditEvent(
        action="revoke", user_id=user_id(account), user_role="patient", patient_key=account.patient_key,
        source="portal", link_id=link.link_id, ip=ip, user_agent=user_agent, account_id=account.account_id),
        link.study_instance_uids)
    return link


def openings(home: Home, account: Account, limit: int = 500) -> dict[str, list[dict[str, Any]]]:
    """Per link of the account: what its recipient did and when (open, view, download, failed passcode)."""
    ids = [link.link_id for link in own_links(home, account)]
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    acts = ", ".join("?" * len(OPEN_ACTIONS))
    with closing(state.connect(home)) as con:
        rows = con.execute(
            f"SELECT link_id, occurred_at, action, outcome, study_instance_uid, detail FROM audit_events "
            f"WHERE link_id IN ({marks}) AND action IN ({acts}) AND (user_id IS NULL OR user_id LIKE 'link:%') "
            "ORDER BY occurred_at DESC, event_id DESC LIMIT ?", [*ids, *OPEN_ACTIONS, limit]).fetchall()
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in rows:
        item = dict(row)
        item["occurred_at"] = datetime.fromisoformat(item["occurred_at"])
        out[item["link_id"]].append(item)
    return out


__all__ = ["OPEN_ACTIONS", "ShareError", "openings", "own_link", "own_links", "revoke", "share", "user_id"]
