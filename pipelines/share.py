"""``limestone share create|list|revoke|extend|unlock``: patient share links from the command line.

``create`` prints the link (the portal's base URL with the token) and the passcode once; neither
is stored anywhere, so they cannot be shown again: issue a new link if they are lost.
"""

from __future__ import annotations

import json
import sys

from archive import sharing
from archive.home import Archive
from pipelines.actors import cli_actor


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("share", help="issue, list, extend, revoke and unlock patient share links")
    sub = parser.add_subparsers(dest="share_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="issue a link to studies of one patient")
    create.add_argument("--study", action="append", required=True, metavar="UID",
                        help="Study Instance UID to share (repeat for several studies of one patient)")
    create.add_argument("--recipient", default="Patient", help="recipient's name (default: Patient)")
    create.add_argument("--role", choices=sharing.RECIPIENT_ROLES, default="patient")
    create.add_argument("--email", help="recipient's e-mail (kept for the record; nothing is sent)")
    create.add_argument("--days", type=int, help="days the link lasts (default: $LIMESTONE_SHARE_DEFAULT_DAYS)")
    create.add_argument("--permissions", default="view,download", help="view, download or both (default)")
    create.add_argument("--use-limit", type=int, help="how many times the link may be opened")
    create.add_argument("--verify", choices=sharing.VERIFY_KINDS, default="passcode",
                        help="passcode (default) or the patient's birth date")
    create.add_argument("--json", action="store_true", help="print the link as JSON")
    listing = sub.add_parser("list", help="links, newest first")
    listing.add_argument("--json", action="store_true")
    for name, text in (("revoke", "withdraw a link at once"), ("unlock", "clear a lockout after wrong passcodes"),
                       ("extend", "make a link last longer")):
        p = sub.add_parser(name, help=text)
        p.add_argument("link_id")
        if name == "extend":
            p.add_argument("--days", type=int, required=True, help="days from now")
    for p in sub.choices.values():
        p.add_argument("--by", help="who is acting, for the audit trail (default: your login name)")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    try:
        return _run(args, archive)
    except sharing.ShareError as exc:
        print(f"limestone share {args.share_command}: {exc}", file=sys.stderr)
        return 2


def _run(args, archive: Archive) -> int:
    from archive.sharing import actions as share_actions

    command = args.share_command
    if command == "create":
        permissions = [p.strip() for p in args.permissions.split(",") if p.strip()]
        issued = share_actions.create(
            archive, args.study, cli_actor(args.by), recipient_name=args.recipient, recipient_role=args.role,
            recipient_email=args.email, permissions=permissions, days=args.days,
            use_limit=args.use_limit, verify=args.verify)
        url = issued.url(archive.settings.portal_base_url)
        if args.json:
            print(json.dumps({"url": url, "passcode": issued.passcode, **share_actions.describe(issued.link)}))
        else:
            print(f"Link {issued.link.link_id} for {len(issued.link.study_instance_uids)} "
                  f"stud{'y' if len(issued.link.study_instance_uids) == 1 else 'ies'}, "
                  f"until {issued.link.expires_at:%Y-%m-%d %H:%M} UTC")
            print(f"  URL:      {url}")
            print(f"  Passcode: {issued.passcode}" if issued.passcode else
                  "  The recipient confirms the patient's date of birth.")
            print("Give both to the recipient now: they cannot be shown again.")
        return 0
    if command == "list":
        links = [share_actions.describe(link) for link in sharing.list_links(archive.home)]
        if args.json:
            print(json.dumps(links))
        else:
            for link in links:
                print(f"{link['link_id']}  {link['status']:<8} {link['recipient_role']:<8} "
                      f"until {link['expires_at'][:16]}  uses {link['uses']}"
                      + (f"/{link['use_limit']}" if link["use_limit"] else "")
                      + f"  downloads {link['downloads']}  studies {len(link['studies'])}")
            if not links:
                print("no share links yet")
        return 0
    action = {"revoke": share_actions.revoke, "unlock": share_actions.unlock}.get(command)
    if action is not None:
        link = action(archive, args.link_id, cli_actor(args.by))
    else:
        link = share_actions.extend(archive, args.link_id, args.days, cli_actor(args.by))
    print(f"{link.link_id}: {link.status()}, until {link.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0
