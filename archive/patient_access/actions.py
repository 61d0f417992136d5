"""Staff actions on patient accounts (CLI and dashboard share these), each audited.

``invite_patient`` finds the patient record by Patient ID (and issuer, when the ID exists at more
than one), takes its birth date from the store for the enrolment check, creates or re-invites the
account, and e-mails the enrolment link when an SMTP server is set (the e-mail holds no patient
data). The printable letter (``letter.letter_html``) carries the same link and its QR code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from archive import audit
from archive.home import Archive
from archive.patient_access import accounts, mail, records
from archive.patient_access.accounts import Account, AccountError, IssuedInvitation
from archive.sharing.actions import Actor

log = logging.getLogger("limestone.patient_access")


@dataclass(frozen=True)
class InviteResult:
    issued: IssuedInvitation
    url: str
    patient_name: str
    site_name: str
    emailed: bool


def find_record(archive: Archive, patient_id: str, issuer: str | None = None) -> dict:
    """The store's patient record of this Patient ID (and issuer); AccountError unless exactly one."""
    con = archive.store(read_only=True)
    try:
        sql = ("SELECT p.patient_key, p.patient_birth_date, p.patient_name, p.issuer_of_patient_id, "
               "any_value(st.name) AS site_name FROM patients p LEFT JOIN studies s USING (patient_key) "
               "LEFT JOIN sites st ON st.site = s.site WHERE p.patient_id = ?")
        params: list = [patient_id]
        if issuer is not None:
            sql += " AND coalesce(p.issuer_of_patient_id, '') = ?"
            params.append(issuer)
        cur = con.execute(sql + " GROUP BY ALL", params)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    if not rows:
        raise AccountError("no patient with this Patient ID" + (" and issuer" if issuer is not None else "")
                           + " is in the archive")
    if len({r["patient_key"] for r in rows}) > 1:
        raise AccountError("this Patient ID exists at several issuers: give --issuer")
    return rows[0]


def _account_key(archive: Archive, patient_key: str, email: str) -> str:
    """The record the invitation's account is bound to, so that one address names one account.

    A sign-in code is asked for by e-mail address, so two accounts (not disabled) must never share
    one: an address another person's account uses is refused. When the account using it is the
    same person's, under another of their records (linked across sites), that account is invited
    again rather than a second one made.
    """
    address = accounts.normalise_email(email)
    others = [a for a in accounts.for_email(archive.home, address)
              if a.status != "disabled" and a.patient_key != patient_key]
    if not others:
        return patient_key
    con = archive.store(read_only=True)
    try:
        person = set(records.person_keys(con, patient_key))
    finally:
        con.close()
    if any(a.patient_key not in person for a in others):
        raise AccountError("this e-mail address is already used by another patient's account; sign-in "
                           "codes go to one account per address: give the patient's own address (or "
                           "disable the other account first)")
    if accounts.for_patient(archive.home, patient_key) is not None:
        raise AccountError("this person already has an account with this e-mail address under another "
                           "of their records: re-invite that account")
    return others[0].patient_key


def invite_patient(archive: Archive, patient_id: str, email: str, actor: Actor,
                   issuer: str | None = None, send_email: bool = True) -> InviteResult:
    """Invite a patient to their own account; audited as ``invite``."""
    record = find_record(archive, patient_id, issuer)
    born = record["patient_birth_date"]
    if not isinstance(born, date):
        raise AccountError("the patient has no birth date in the archive: enrolment needs one")
    settings = archive.settings
    days = int(settings.patient_invite_days)
    patient_key = _account_key(archive, record["patient_key"], email)
    issued = accounts.invite(archive.home, patient_key, email, born, created_by=actor.user_id, days=days)
    url = issued.url(str(settings.portal_base_url))
    emailed = False
    if send_email and settings.smtp_url:
        subject, body = mail.invitation_message(url, days)
        try:
            mail.send(settings.smtp_url, settings.smtp_sender, issued.account.email, subject, body)
            emailed = True
        except mail.MailError as exc:
            log.warning("invitation e-mail not sent: %s", exc)
    audit.record(archive.home, audit.AuditEvent(
        action="invite", user_id=actor.user_id, user_role=actor.role, source=actor.source,
        patient_key=patient_key, account_id=issued.account.account_id, ip=actor.ip,
        user_agent=actor.user_agent,
        detail=f"invitation {issued.invitation.invitation_id} until {issued.invitation.expires_at:%Y-%m-%d}"
               + ("; e-mailed" if emailed else "")))
    return InviteResult(issued, url, str(record.get("patient_name") or ""), str(record.get("site_name") or ""),
                        emailed)


def disable(archive: Archive, account_id: str, actor: Actor) -> Account:
    account = accounts.disable(archive.home, account_id, by=actor.user_id)
    audit.record(archive.home, audit.AuditEvent(
        action="disable", user_id=actor.user_id, user_role=actor.role, source=actor.source,
        patient_key=account.patient_key, account_id=account.account_id, ip=actor.ip))
    return account


def unlock(archive: Archive, account_id: str, actor: Actor) -> Account:
    account = accounts.unlock(archive.home, account_id)
    audit.record(archive.home, audit.AuditEvent(
        action="unlock", user_id=actor.user_id, user_role=actor.role, source=actor.source,
        patient_key=account.patient_key, account_id=account.account_id, ip=actor.ip))
    return account


def describe(account: Account) -> dict:
    """An account as plain values for lists and JSON (never a token)."""
    return {"account_id": account.account_id, "patient_key": account.patient_key, "email": account.email,
            "status": account.status, "locked": account.locked_at is not None,
            "created_at": account.created_at.isoformat(),
            "enrolled_at": account.enrolled_at.isoformat() if account.enrolled_at else None,
            "last_sign_in_at": account.last_sign_in_at.isoformat() if account.last_sign_in_at else None}
