"""``limestone nodes add|list|remove|echo``: the remote DICOM nodes (PACS) Limestone pulls from.

    limestone nodes add north-pacs --ae-title NORTHPACS --host 10.1.2.3 --port 104 \\
        --site NORTH --method get --max-associations 4
    limestone nodes list [--json]
    limestone nodes echo north-pacs        # C-ECHO: can we reach it, does it accept us?
    limestone nodes remove north-pacs

A node must know our own AE title (setting ``ae_title``) and, for C-MOVE, our host and storage
port (setting ``dicom_port``).
"""

from __future__ import annotations

import json
import sys

from archive.home import Archive
from archive.network import NetworkError, echo, quiet_toolkit
from archive.network.nodes import Node, NodeError, NodeRegistry, RetrieveMethodValues


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("nodes", help="remote DICOM nodes (PACS) to pull from")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add (or with --replace, change) a node")
    add.add_argument("name", help="short name for the node, e.g. north-pacs")
    add.add_argument("--ae-title", "--aet", dest="ae_title", required=True, help="the node's AE title")
    add.add_argument("--host", required=True, help="host name or address")
    add.add_argument("--port", type=int, required=True, help="DICOM port")
    add.add_argument("--site", help="site (hospital code) its studies belong to")
    add.add_argument("--method", choices=[m.value for m in RetrieveMethodValues], default="get",
                     help="retrieve by C-GET (default) or C-MOVE to our storage SCP")
    add.add_argument("--max-associations", type=int, default=2,
                     help="associations the node accepts at once (studies pulled in parallel)")
    add.add_argument("--replace", action="store_true", help="change an existing node")

    listing = actions.add_parser("list", help="list the nodes")
    listing.add_argument("--json", action="store_true", help="print as JSON")

    remove = actions.add_parser("remove", help="forget a node and its pull progress")
    remove.add_argument("name")

    ping = actions.add_parser("echo", help="C-ECHO a node")
    ping.add_argument("name")

    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    quiet_toolkit(getattr(args, "verbose", False))
    try:
        with NodeRegistry(archive.home) as registry:
            return _ACTIONS[args.action](args, archive, registry)
    except NodeError as exc:
        print(f"limestone nodes {args.action}: {exc}", file=sys.stderr)
        return 2


def _add(args, archive: Archive, registry: NodeRegistry) -> int:
    node = Node(args.name, args.ae_title, args.host, args.port, args.site, args.method,
                args.max_associations)
    registry.add(node, replace=args.replace)
    print(f"node {node.address} {'saved' if args.replace else 'added'}: retrieve by "
          f"C-{node.retrieve_method.upper()}, up to {node.max_associations} associations"
          + (f", site {node.site}" if node.site else ""))
    return 0


def _list(args, archive: Archive, registry: NodeRegistry) -> int:
    nodes = registry.list()
    if args.json:
        print(json.dumps([n.as_dict() for n in nodes], indent=1))
        return 0
    if not nodes:
        print("no nodes yet (add one with 'limestone nodes add NAME --ae-title AE --host H --port P')")
        return 0
    header = ("name", "AE title", "host", "port", "site", "method", "assoc")
    rows = [(n.name, n.ae_title, n.host, str(n.port), n.site or "-", n.retrieve_method,
             str(n.max_associations)) for n in nodes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _remove(args, archive: Archive, registry: NodeRegistry) -> int:
    registry.remove(args.name)
    print(f"node {args.name} removed (studies already archived stay)")
    return 0


def _echo(args, archive: Archive, registry: NodeRegistry) -> int:
    node = registry.get(args.name)
    try:
        seconds = echo(node, archive.settings.ae_title, archive.settings.dicom_timeout)
    except NetworkError as exc:
        print(f"limestone nodes echo: {exc}", file=sys.stderr)
        return 1
    print(f"node {node.address}: C-ECHO ok in {seconds * 1000:.0f} ms "
          f"(we are {archive.settings.ae_title!r})")
    return 0


_ACTIONS = {"add": _add, "list": _list, "remove": _remove, "echo": _echo}
