"""``limestone audit list|export``: search the audit trail; export it as DICOM audit messages (XML)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from archive.audit import atna as audit_messages
from archive.home import Archive


def _day(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"limestone audit: not a date: {text!r} (use YYYY-MM-DD)") from None


def add_parser(subparsers) -> None:
    from archive import audit

    parser = subparsers.add_parser("audit", help="search the audit trail or export it (DICOM audit messages)")
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    for name, text in (("list", "events, newest first"), ("export", "write DICOM audit messages (PS3.15 A.5) as XML")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--since", help="first day (YYYY-MM-DD, UTC)")
        p.add_argument("--until", help="last day, inclusive (YYYY-MM-DD, UTC)")
        p.add_argument("--action", action="append", choices=audit.ACTIONS, help="only these actions (repeat)")
        p.add_argument("--user", help="part of the user id (e-mail, cli:name or link:ID)")
        p.add_argument("--study", help="Study Instance UID")
        p.add_argument("--link", help="share link id")
        p.add_argument("--limit", type=int, default=100000)
        if name == "export":
            p.add_argument("--out", type=Path, required=True, help="XML file to write ('-' for stdout)")
        else:
            p.add_argument("--json", action="store_true")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive import audit

    events = audit.search(
        archive.home, since=_day(args.since) if args.since else None,
        until=_day(args.until) + timedelta(days=1) if args.until else None,
        actions=args.action or (), user=args.user, study_instance_uid=args.study, link_id=args.link,
        limit=args.limit)
    if args.audit_command == "export":
        xml = audit_messages.document(events)
        if str(args.out) == "-":
            sys.stdout.buffer.write(xml)
        else:
            args.out.write_bytes(xml)
            print(f"Wrote {len(events)} audit messages to {args.out}")
        return 0
    if args.json:
        print(json.dumps(events))
    else:
        for e in events:
            print(f"{e['occurred_at']}  {e['action']:<15} {e['outcome']:<8} {e['user_id'] or '-':<28} "
                  f"{e['source'] or '':<9} {e['ip'] or '':<15} {e['link_id'] or '':<14} "
                  f"{e['study_instance_uid'] or ''}")
        if not events:
            print("no audit events match")
    return 0
