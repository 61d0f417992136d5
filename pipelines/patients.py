"""``limestone patients invite|notify``: invite a patient to their own account in the portal; send
the "you have new images" notices.

Prints the one-time enrolment link (shown once; only its hash is kept) and writes the printable
letter with its QR code when ``--letter`` is given. When an SMTP server is set
(``LIMESTONE_SMTP_URL``) the link is also e-mailed (the e-mail carries no patient data).
Every import, pull and listen that files new studies sends the notices by itself at its end;
``notify`` sends whatever is still due (a notice an SMTP failure held back).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archive.home import Archive
from pipelines import patient_family
from pipelines.actors import cli_actor


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("patients", help="patients' own accounts in the portal (invite, notify)")
    sub = parser.add_subparsers(dest="patients_command", required=True, metavar="ACTION")
    invite = sub.add_parser("invite", help="invite a patient to see their records online (one-time link)")
    invite.add_argument("--patient-id", required=True, help="the patient's ID (MRN) at a site")
    invite.add_argument("--issuer", help="Issuer of Patient ID, when the ID exists at more than one site")
    invite.add_argument("--email", required=True, help="the patient's e-mail address (codes and notices)")
    invite.add_argument("--letter", type=Path, help="write the printable letter (HTML, with a QR code) here")
    invite.add_argument("--no-email", action="store_true", help="do not e-mail the link even if SMTP is set")
    invite.add_argument("--by", help="who is acting, for the audit trail (default: your login name)")
    invite.add_argument("--json", action="store_true", help="print the invitation as JSON")
    notify = sub.add_parser("notify", help='e-mail "you have new images" to patients with studies stored since')
    notify.add_argument("--json", action="store_true")
    patient_family.add_parsers(sub)      # delegate grant|list|revoke (family and caregivers)
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.patient_access import AccountError
    from archive.patient_access import actions as patient_actions
    from archive.patient_access.letter import letter_html

    if args.patients_command == "notify":
        from archive.patient_access.notices import notify_new_images
        sent = notify_new_images(archive)
        print(json.dumps({"sent": sent}) if args.json else f"{sent} new-images notices sent.")
        return 0
    try:
        result = patient_actions.invite_patient(archive, args.patient_id, args.email, cli_actor(args.by),
                                                issuer=args.issuer, send_email=not args.no_email)
    except AccountError as exc:
        print(f"limestone patients {args.patients_command}: {exc}", file=sys.stderr)
        return 2
    issued = result.issued
    if args.letter:
        args.letter.parent.mkdir(parents=True, exist_ok=True)
        args.letter.write_text(letter_html(result.url, issued.invitation.expires_at, patient_name="",
                                           hospital=result.site_name), encoding="utf-8")
    if args.json:
        print(json.dumps({"account_id": issued.account.account_id,
                          "invitation_id": issued.invitation.invitation_id,
                          "status": issued.account.status, "url": result.url,
                          "expires_at": issued.invitation.expires_at.isoformat(),
                          "emailed": result.emailed, "letter": str(args.letter) if args.letter else None}))
        return 0
    print(f"Account {issued.account.account_id} invited; the link works once, until "
          f"{issued.invitation.expires_at:%Y-%m-%d %H:%M} UTC:")
    print(result.url)
    print("E-mailed to the patient." if result.emailed else "Not e-mailed: hand over or post the letter.")
    if args.letter:
        print(f"Letter: {args.letter}")
    return 0
