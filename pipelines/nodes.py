"""``limestone nodes add|list|remove|echo``: the remote DICOM nodes (PACS) Limestone pulls from.

    limestone nodes add north-pacs --ae-title NORTHPACS --host 10.1.2.3 --port 104 \\
        --site NORTH --method get --max-associations 4
    limestone nodes add cloud --url https://pacs.example.org/dicom-web --site EAST \\
        --auth bearer --max-connections 4          # a DICOMweb node (credentials from settings)
    limestone nodes list [--json]
    limestone nodes echo north-pacs        # C-ECHO (a DICOMweb node: a QIDO-RS probe)
    limestone nodes remove north-pacs

A node must know our own AE title (setting ``ae_title``) and, for C-MOVE, our host and storage
port (setting ``dicom_port``). A node may have a DIMSE address, a DICOMweb URL, or both; pull and
send use DICOMweb when it has one. DICOMweb credentials are read from the file named by the
setting ``dicomweb_credentials``, never from the command line.
"""

from __future__ import annotations

import json
import sys

from archive.home import Archive
from archive.network.nodes import AuthValues, Node, NodeError, NodeRegistry, RetrieveMethodValues


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("nodes", help="remote DICOM nodes (PACS) to pull from")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add (or with --replace, change) a node")
    add.add_argument("name", help="short name for the node, e.g. north-pacs")
    add.add_argument("--ae-title", "--aet", dest="ae_title", help="the node's AE title (DIMSE)")
    add.add_argument("--host", help="host name or address (DIMSE)")
    add.add_argument("--port", type=int, help="DICOM port (DIMSE)")
    add.add_argument("--url", help="DICOMweb root, e.g. https://pacs.example.org/dicom-web")
    add.add_argument("--auth", choices=[a.value for a in AuthValues], default="none",
                     help="DICOMweb auth; the secrets come from the dicomweb_credentials settings file")
    add.add_argument("--max-connections", type=int, default=4,
                     help="HTTP connections the DICOMweb node accepts at once (studies pulled in parallel)")
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

    ping = actions.add_parser("echo", help="C-ECHO a node (QIDO-RS probe for a DICOMweb node)")
    ping.add_argument("name")

    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.network import quiet_toolkit

    quiet_toolkit(getattr(args, "verbose", False))
    try:
        with NodeRegistry(archive.home) as registry:
            return _ACTIONS[args.action](args, archive, registry)
    except NodeError as exc:
        print(f"limestone nodes {args.action}: {exc}", file=sys.stderr)
        return 2


def _add(args, archive: Archive, registry: NodeRegistry) -> int:
    dimse = [args.ae_title, args.host, args.port]
    if not args.url and not all(x is not None for x in dimse):
        raise NodeError("give --ae-title, --host and --port (DIMSE), or --url (DICOMweb), or both")
    if args.url and any(x is not None for x in dimse) and not all(x is not None for x in dimse):
        raise NodeError("a DIMSE address needs all of --ae-title, --host and --port")
    node = Node(args.name, args.ae_title or "", args.host or "", args.port or 0, args.site, args.method,
                args.max_associations, args.url, args.auth, args.max_connections)
    registry.add(node, replace=args.replace)
    ways = []
    if node.has_dimse:
        ways.append(f"retrieve by C-{node.retrieve_method.upper()}, up to {node.max_associations} associations")
    if node.url:
        ways.append(f"DICOMweb ({node.auth} auth), up to {node.max_connections} connections")
    print(f"node {node.address} {'saved' if args.replace else 'added'}: " + "; ".join(ways)
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
    header = ("name", "AE title", "host", "port", "site", "method", "assoc", "DICOMweb URL", "auth", "conn")
    rows = [(n.name, n.ae_title or "-", n.host or "-", str(n.port) if n.port else "-", n.site or "-",
             n.retrieve_method if n.has_dimse else "-", str(n.max_associations) if n.has_dimse else "-",
             n.url or "-", n.auth if n.url else "-", str(n.max_connections) if n.url else "-") for n in nodes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _remove(args, archive: Archive, registry: NodeRegistry) -> int:
    registry.remove(args.name)
    print(f"node {args.name} removed (studies already archived stay)")
    return 0


def _echo(args, archive: Archive, registry: NodeRegistry) -> int:
    from archive.network import NetworkError, echo
    from archive.network.dicomweb import DicomWebClient, web_settings

    node = registry.get(args.name)
    if node.url:
        try:
            with DicomWebClient(node, web_settings(archive.settings, archive.home.root, node)) as client:
                seconds = client.echo()
        except NetworkError as exc:
            print(f"limestone nodes echo: {exc}", file=sys.stderr)
            return 1
        print(f"node {node.address}: QIDO-RS ok in {seconds * 1000:.0f} ms")
        if not node.has_dimse:
            return 0
    try:
        seconds = echo(node, archive.settings.ae_title, archive.settings.dicom_timeout)
    except NetworkError as exc:
        print(f"limestone nodes echo: {exc}", file=sys.stderr)
        return 1
    print(f"node {node.address}: C-ECHO ok in {seconds * 1000:.0f} ms "
          f"(we are {archive.settings.ae_title!r})")
    return 0


_ACTIONS = {"add": _add, "list": _list, "remove": _remove, "echo": _echo}
