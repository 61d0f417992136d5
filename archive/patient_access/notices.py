""""You have new images": one e-mail per account whose person has studies stored since it last looked.

``notify_new_images`` looks at every active account: when the store holds studies of its person
(any site) first stored after the later of its last sign-in, its enrolment and its last notice,
it sends the fixed message (no patient data, only the portal's ``/me`` address) and records a
``notify`` audit event, which is also how the next run knows when the last notice went out.
Every import, pull and listen batch that filed new instances calls ``after_ingest`` at the end
of its run (best-effort: a failure is logged without patient data and never fails the ingest;
what was not sent is still due, so the next run sends it). ``limestone patients notify`` does
the same by hand.
"""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import datetime

import duckdb

from archive import audit, state
from archive.home import Archive
from archive.patient_access import accounts, mail, records

log = logging.getLogger("limestone.patient_access")


def _last_notices(archive: Archive) -> dict[str, datetime]:
    with closing(state.connect(archive.home)) as con:
        rows = con.execute("SELECT account_id, max(occurred_at) AS at FROM audit_events WHERE action = 'notify' "
                           "AND account_id IS NOT NULL GROUP BY account_id").fetchall()
    return {r["account_id"]: datetime.fromisoformat(r["at"]).replace(tzinfo=None) for r in rows}


def notify_new_images(archive: Archive, con: duckdb.DuckDBPyConnection | None = None,
                      source: str = "cli") -> int:
    """Send the notices due; how many were sent (none when no SMTP server is set).

    ``con``: a store connection to read through (an ingest's own); else one is opened here.
    """
    settings = archive.settings
    if not settings.smtp_url:
        return 0
    notices = _last_notices(archive)
    sent = 0
    own = con is None
    if con is None:
        con = archive.store(read_only=True)
    try:
        for account in accounts.list_accounts(archive.home, limit=1_000_000):
            if not account.usable:
                continue
            marks = [m for m in (account.enrolled_at, account.last_sign_in_at, notices.get(account.account_id)) if m]
            since = max(m.replace(tzinfo=None) for m in marks) if marks else None
            keys = records.person_keys(con, account.patient_key)
            row = con.execute("SELECT count(*) FROM studies WHERE list_contains(?, patient_key) "
                              "AND first_ingested_at > ?", [keys, since]).fetchone() if since else None
            newer = int(row[0]) if row else 0
            if not newer:
                continue
            subject, body = mail.new_images_message(str(settings.portal_base_url).rstrip("/") + "/me")
            try:
                mail.send(settings.smtp_url, settings.smtp_sender, account.email, subject, body)
            except mail.MailError as exc:
                log.warning("new-images notice not sent: %s", exc)
                continue
            audit.record(archive.home, audit.AuditEvent(
                action="notify", user_id="system", source=source, patient_key=account.patient_key,
                account_id=account.account_id, detail=f"{newer} new studies"))
            sent += 1
    finally:
        if own:
            con.close()
    return sent


def after_ingest(archive: Archive, con: duckdb.DuckDBPyConnection, added: int) -> int:
    """``notify_new_images`` at the end of an ingest run that filed ``added`` new instances.

    Best-effort: whatever goes wrong is logged by its kind only (no address, no patient data) and
    never raised; a notice not sent is still due, so the next run (or ``limestone patients
    notify``) sends it.
    """
    if not added:
        return 0
    try:
        return notify_new_images(archive, con, source="ingest")
    except Exception as exc:   # best-effort by design: the ingest's files are stored whatever happens here
        log.warning("new-images notices not sent after the ingest (%s); the next run retries",
                    type(exc).__name__)
        return 0
