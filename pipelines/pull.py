"""``limestone pull NODE``: bring a PACS node's studies into the archive over DICOM networking.

    limestone pull NODE [--since DATE] [--until DATE] [--modality M] [--patient-id ID]
                        [--study UID] [--metadata-only]

C-FIND (QIDO-RS for a DICOMweb node) for the window, record every study found, then retrieve
(C-GET, C-MOVE or WADO-RS) the studies not yet complete in the archive; ``--metadata-only``
records studies and series without images.
Without dates, the window starts where the last good run ended; only runs without
--modality/--patient-id/--study move it on. How the pull plans, retrieves and judges a study
complete: ``archive.network.pull``. This module only parses the arguments and prints.

Failures are printed one line each naming node and study; the run carries on and exits 1.
An unknown node or a window that cannot be asked for exits 2. SIGTERM stops it like Ctrl-C,
after what was received is committed.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import date, datetime
from typing import TYPE_CHECKING

from archive.home import Archive
from archive.network.nodes import NodeError, NodeRegistry

if TYPE_CHECKING:
    from archive.network.pull import Progress

__all__ = ["add_parser", "parse_date", "run"]


def parse_date(text: str) -> date:
    """A date given as YYYY-MM-DD or YYYYMMDD (argparse type)."""
    import argparse
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("pull", help="pull studies from a PACS node (C-FIND, C-GET/C-MOVE, or DICOMweb)")
    parser.add_argument("node", metavar="NODE", help="name of the node (see 'limestone nodes list')")
    parser.add_argument("--since", type=parse_date, metavar="DATE", help="studies dated on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", type=parse_date, metavar="DATE", help="studies dated on or before DATE")
    parser.add_argument("--modality", metavar="M", help="only studies holding this modality (e.g. CT)")
    parser.add_argument("--patient-id", metavar="ID", help="only this patient's studies")
    parser.add_argument("--study", metavar="UID", help="only this study (Study Instance UID)")
    parser.add_argument("--metadata-only", action="store_true",
                        help="record studies and series in the store without retrieving images")
    parser.set_defaults(run=run)


def _progress(total: int, label: str) -> Progress:
    """A tqdm bar on a terminal; nothing when stderr is a file or a pipe."""
    from archive.network.pull import NoProgress

    if not sys.stderr.isatty():
        return NoProgress()
    from tqdm import tqdm
    return tqdm(total=total or None, unit="inst", desc=label, file=sys.stderr, leave=False)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args, archive: Archive) -> int:
    from archive.network import quiet_toolkit
    from archive.network.pull import Puller, PullRequest

    quiet_toolkit(getattr(args, "verbose", False))
    request = PullRequest(since=args.since, until=args.until, modality=args.modality,
                          patient_id=args.patient_id, study=args.study, metadata_only=args.metadata_only)
    registry = NodeRegistry(archive.home)
    try:
        try:
            node = registry.get(args.node)
            puller = Puller(archive, node, registry, progress=_progress)
            selection, advances = puller.window(request)
        except (NodeError, ValueError) as exc:
            print(f"limestone pull: {exc}", file=sys.stderr)
            return 2
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_interrupt) if main else None
        try:
            summary = puller.run(request, selection, advances)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    finally:
        registry.close()
    for error in summary.errors:
        print(f"limestone pull: {error}", file=sys.stderr)
    for line in summary.lines():
        print(line)
    return 1 if summary.failed else 0
