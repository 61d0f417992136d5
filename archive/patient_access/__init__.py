"""Patients' own access to their records: accounts bound to the regional identity, sign-in, records, shares.

- ``accounts``: accounts, invitations (one-time expiring token + birth date), lockout, sessions;
- ``codes``: one-time codes sent by e-mail (sign-in fallback and recovery), kept hashed;
- ``passkeys``: WebAuthn registration and sign-in (the ``webauthn`` library);
- ``mail``: the SMTP messages (never any patient data: codes and "new images" notices only);
- ``records``: the studies and released reports of the account's person, at every site;
- ``shares``: shares a patient makes, lists and revokes (archive.sharing links marked as the patient's);
- ``letter``: the printable invitation letter with its QR code;
- ``actions``: every patient action, audited (view, download, share, revoke, sign_in ...);
- ``delegation``: family and caregivers: another account opens the records until an end date.
"""

from archive.patient_access.accounts import (
    Account,
    AccountError,
    Enrolment,
    Invitation,
    IssuedInvitation,
    current_session,
    disable,
    enable,
    end_all_sessions,
    end_session,
    enrol,
    find_invitation,
    for_email,
    for_patient,
    get,
    invite,
    list_accounts,
    session_account,
    sign_in_failed,
    start_session,
    unlock,
)

__all__ = [
    "Account", "AccountError", "Enrolment", "Invitation", "IssuedInvitation", "current_session", "disable", "enable",
    "end_all_sessions", "end_session", "enrol", "find_invitation", "for_email", "for_patient", "get",
    "invite", "list_accounts", "session_account", "sign_in_failed", "start_session", "unlock",
]
