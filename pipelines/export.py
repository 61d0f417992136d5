"""``limestone export pdi --study UID... --out DIR|FILE.zip|FILE.iso [--web]``: CD/USB media (IHE PDI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archive.home import Archive
from pipelines.actors import cli_actor


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export studies to CD/USB media (IHE PDI)")
    sub = parser.add_subparsers(dest="export_kind", required=True, metavar="KIND")
    pdi = sub.add_parser("pdi", help="a DICOMDIR medium: a folder, a .zip or an .iso image")
    pdi.add_argument("--study", action="append", required=True, metavar="UID", help="Study Instance UID (repeat)")
    pdi.add_argument("--out", required=True, type=Path, help="new folder, FILE.zip or FILE.iso")
    pdi.add_argument("--web", action="store_true", help="add browser previews (label: DICOM PLUS WEB)")
    pdi.add_argument("--by", help="who is exporting, for the audit trail (default: your login name)")
    pdi.add_argument("--json", action="store_true", help="print the result and label data as JSON")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.media.pdi import PdiError, export_studies
    try:
        result = export_studies(archive, args.study, args.out, cli_actor(args.by, role=None),
                                web=args.web)
    except PdiError as exc:
        print(f"limestone export: {exc}", file=sys.stderr)
        return 2
    if args.json:
        label = result.label
        print(json.dumps({"path": str(result.path), "kind": result.kind, "files": result.files,
                          "bytes": result.bytes, "missing": result.missing, "reports": result.reports,
                          "label": {"patients": label.patients, "institutions": label.institutions,
                                    "study_dates": label.study_dates, "content": label.content}}))
    else:
        print(f"Wrote {result.kind} {result.path}: {result.files} files, {result.bytes / 1e6:.1f} MB "
              f"({result.label.content}), {result.reports} report(s).")
        for line in result.label.lines():
            print(f"  {line}")
        if result.missing:
            print(f"  {result.missing} files are missing from the vault and were left out.", file=sys.stderr)
    return 1 if result.missing else 0
