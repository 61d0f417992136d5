"""``limestone send --study UID... --to NODE``: send studies to another hospital (C-STORE).

The archived originals go out in their original transfer syntax; only an instance whose syntax
the destination refuses is converted to an uncompressed one, and the summary says so. Several
studies go in parallel (``--parallel``, default the node's max associations), each retried with
backoff (settings ``send_retries``, ``send_backoff_seconds``). Every study is logged in the
transfer log and audited. Exit status 0 when every study was sent whole, 1 when any study failed
or was sent in part, 2 for an unknown node.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import TYPE_CHECKING

from archive.home import Archive
from archive.network.nodes import NodeError, NodeRegistry

if TYPE_CHECKING:
    from archive.network.send import StudySend


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("send", help="send studies to a node of the node list (C-STORE or STOW-RS)")
    parser.add_argument("--study", nargs="+", action="extend", required=True, metavar="UID",
                        help="Study Instance UID(s) to send")
    parser.add_argument("--to", required=True, metavar="NODE", help="destination: a node of 'limestone nodes list'")
    parser.add_argument("--parallel", type=int, help="studies sent at once (default: the node's max associations)")
    parser.add_argument("--user", help="who asks for the send (for the transfer log and audit; default: OS user)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(run=run)


def _line(result: StudySend) -> str:
    text = (f"study {result.study_instance_uid}: {result.status}, {result.sent}/{result.instances} instances "
            f"to {result.node} in {result.attempts} attempt(s)")
    if result.converted:
        text += f", {result.converted} converted"
    return text


def run(args, archive: Archive) -> int:
    from archive.network import quiet_toolkit
    from archive.network.send import send_studies

    quiet_toolkit(getattr(args, "verbose", False))
    try:
        with NodeRegistry(archive.home) as registry:
            node = registry.get(args.to)
    except NodeError as exc:
        print(f"limestone send: {exc}", file=sys.stderr)
        return 2
    user = args.user or getpass.getuser()

    def done(result: StudySend) -> None:
        if not args.json:
            print(_line(result), flush=True)
            for note in result.notes:
                print(f"  note: {note}", flush=True)
            for problem in result.problems:
                print(f"  problem: {problem}", file=sys.stderr, flush=True)

    results = send_studies(archive, args.study, node, user_id=user, user_role="cli", source="cli",
                           parallel=args.parallel, on_done=done)
    failed = [r for r in results if r.status != "sent"]
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=1))
    else:
        print(f"send: {len(results) - len(failed)} of {len(results)} studies sent to {node.address}"
              + (f"; {len(failed)} failed or incomplete" if failed else ""))
    return 1 if failed else 0
