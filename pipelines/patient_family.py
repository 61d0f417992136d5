"""``limestone patients delegate grant|list|revoke``: family and caregivers, by a clerk.

A clerk lets another account open a patient's records until a date (a child, a person under
guardianship): the patient by Patient ID (and issuer), the delegate by account id or e-mail.
Patients grant and withdraw access themselves in the portal (``/me/family``).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, time

from archive.home import Archive
from pipelines.actors import cli_actor


def add_parsers(sub) -> None:
    """The ``delegate`` action under ``limestone patients``."""
    parser = sub.add_parser("delegate", help="family and caregivers: let another account open a patient's records")
    actions = parser.add_subparsers(dest="delegate_command", required=True, metavar="ACTION")
    grant = actions.add_parser("grant", help="let another account open a patient's records until a date")
    grant.add_argument("--patient-id", required=True, help="the patient's ID (MRN) at a site (whose records)")
    grant.add_argument("--issuer", help="Issuer of Patient ID, when the ID exists at more than one site")
    who = grant.add_mutually_exclusive_group(required=True)
    who.add_argument("--to-account", help="the delegate's account id (A...)")
    who.add_argument("--to-email", help="the delegate's account e-mail (when one account uses it)")
    grant.add_argument("--until", required=True, help="last day of access, YYYY-MM-DD (UTC, inclusive)")
    grant.add_argument("--label", required=True, help="how the delegate sees whose records these are")
    grant.add_argument("--by", help="who is acting, for the audit trail (default: your login name)")
    grant.add_argument("--json", action="store_true", help="print the grant as JSON")
    listing = actions.add_parser("list", help="every grant, newest first")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="end a grant now")
    revoke.add_argument("delegation_id", help="the grant's id (G...)")
    revoke.add_argument("--by", help="who is acting, for the audit trail (default: your login name)")
    revoke.add_argument("--json", action="store_true")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.patient_access import AccountError, delegation

    try:
        if args.delegate_command == "list":
            grants = delegation.all_grants(archive.home)
            if args.json:
                print(json.dumps([delegation.describe(g) for g in grants]))
            for g in grants if not args.json else []:
                print(f"{g.delegation_id}  {g.owner_account_id} -> {g.delegate_account_id}  until "
                      f"{g.ends_at:%Y-%m-%d}  {g.status()}  ({g.granted_by_kind})")
            return 0
        if args.delegate_command == "revoke":
            found = delegation.revoke(archive.home, args.delegation_id, cli_actor(args.by).user_id)
        else:
            try:
                last_day = datetime.strptime(args.until, "%Y-%m-%d").date()
            except ValueError:
                raise AccountError("--until must be a date, YYYY-MM-DD") from None
            found = delegation.grant_by_clerk(
                archive, args.patient_id, datetime.combine(last_day, time(23, 59, 59)), actor=cli_actor(args.by),
                label=args.label, issuer=args.issuer, to_account=args.to_account, to_email=args.to_email)
    except AccountError as exc:
        print(f"limestone patients delegate {args.delegate_command}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(delegation.describe(found)))
    elif args.delegate_command == "revoke":
        print(f"Grant {found.delegation_id} ended: {found.delegate_account_id} no longer opens the records.")
    else:
        print(f"Grant {found.delegation_id}: {found.delegate_account_id} may open the records of "
              f"{found.owner_account_id} until {found.ends_at:%Y-%m-%d %H:%M} UTC.")
    return 0
