"""The clerks' desk of patient accounts (the dashboard's *Patient access* page): the accounts with
their patient ID, and re-sending an invitation (a new one-time link; the older ones stop working)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from archive.home import Archive
from archive.patient_access import accounts
from archive.patient_access.accounts import AccountError
from archive.patient_access.actions import InviteResult, invite_patient
from archive.sharing.actions import Actor


def _records(archive: Archive, keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    con = archive.store(read_only=True)
    try:
        cur = con.execute("SELECT patient_key, patient_id, issuer_of_patient_id FROM patients "
                          "WHERE list_contains(?, patient_key)", [sorted(set(keys))])
        return {k: {"patient_id": pid, "issuer": issuer} for k, pid, issuer in cur.fetchall()}
    finally:
        con.close()


def accounts_frame(archive: Archive, limit: int = 5000) -> pd.DataFrame:
    """Every account, newest first: id, patient ID and issuer, e-mail, state, dates (for clerks)."""
    found = accounts.list_accounts(archive.home, limit=limit)
    records = _records(archive, [a.patient_key for a in found])
    rows = [{"account_id": a.account_id, "patient_id": records.get(a.patient_key, {}).get("patient_id"),
             "issuer": records.get(a.patient_key, {}).get("issuer"), "email": a.email, "status": a.status,
             "locked": a.locked_at is not None, "invited_at": a.created_at, "enrolled_at": a.enrolled_at,
             "last_sign_in_at": a.last_sign_in_at} for a in found]
    return pd.DataFrame(rows, columns=["account_id", "patient_id", "issuer", "email", "status", "locked",
                                       "invited_at", "enrolled_at", "last_sign_in_at"])


def resend_invitation(archive: Archive, account_id: str, actor: Actor, send_email: bool = True) -> InviteResult:
    """A new invitation for an account not yet enrolled (the letter was lost, or the link expired)."""
    account = accounts.get(archive.home, account_id)
    if account is None:
        raise AccountError("no such account")
    if account.status != "invited":
        raise AccountError("this account is already set up (or disabled): nothing to resend")
    record = _records(archive, [account.patient_key]).get(account.patient_key)
    if record is None:
        raise AccountError("the patient's record is no longer in the archive")
    return invite_patient(archive, record["patient_id"], account.email, actor, issuer=record["issuer"] or "",
                          send_email=send_email)
