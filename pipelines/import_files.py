"""``limestone import PATH... [--site NAME]``: folders, zip files, CD images and DICOMDIR media.

The import itself (worker processes, the store's single writer, idempotence on SOP Instance UID)
is ``archive.ingest.run``; this module parses the arguments, runs it and prints its summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.home import Archive
    from archive.ingest.run import Progress


def _bar() -> Progress:
    """A tqdm bar on a terminal; nothing shown when stderr is a file or a pipe."""
    from tqdm import tqdm

    return tqdm(unit=" files", disable=not sys.stderr.isatty(), leave=False)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("import", help="import folders, zip files and CDs (DICOMDIR)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="folder, .zip file, .iso CD image or DICOMDIR")
    parser.add_argument("--site", help="site code the studies belong to (default: found from the files)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, archive: Archive) -> int:
    from archive.ingest.run import import_paths

    summary = import_paths(archive, args.paths, site=args.site, progress=_bar)
    print(json.dumps(summary.as_dict()) if args.json else summary.sentence())
    if summary.interrupted:
        print(f"limestone import: interrupted; the {summary.imported} instances stored so far are kept. "
              "Run the same import again to complete it.", file=sys.stderr)
    return summary.exit_code

