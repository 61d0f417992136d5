"""``limestone transfers [--study UID] [--json]``: the transfer log of ``limestone send``.

Newest first. A transfer whose send was killed (its process is gone) shows as 'interrupted':
sending the study again resumes it.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.home import Archive


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("transfers", help="the transfer log of sends (interrupted ones marked)")
    parser.add_argument("--study", metavar="UID", help="only the transfers of this study")
    parser.add_argument("--limit", type=int, default=200, help="at most this many rows (default 200)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, archive: Archive) -> int:
    from archive.network.send import transfers

    rows = transfers(archive.home, args.study, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        print(f"{r['transfer_id']:>6}  {r['requested_at']}  {r['status']:<11}  {r['sent']}/{r['instances']} "
              f"to {r['node']}  study {r['study_instance_uid']}" + (f"  ({r['detail']})" if r['detail'] else ""))
    if not rows:
        print("no transfers")
    return 0
