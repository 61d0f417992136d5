"""``limestone import-hl7 FILE...``: file HL7 v2 ORU^R01 result messages (reports) from files.

A file may hold one message or several (one after another, in an HL7 batch, or MLLP-framed).
Each message goes through the same inbox as the MLLP listener: kept, read, filed, and either
accepted or rejected with its reason (kept for review). A report whose study is not archived
yet waits for it. Exit status 0 when every message was filed, 1 when any was rejected.
"""

from __future__ import annotations

import sys
from pathlib import Path

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("import-hl7", help="file HL7 v2 ORU^R01 report messages from files")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.reports.hl7v2 import split_messages
    from archive.reports.inbox import receive

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"no such file: {', '.join(missing)}")
    con = archive.store()
    filed, rejected, report_ids = 0, 0, []
    try:
        for path in args.files:
            for number, text in enumerate(split_messages(path.read_bytes()), start=1):
                result = receive(archive.home, con, text, f"file {path.name}", archive.vault)
                if result.code == "AA":
                    filed += 1
                    report_ids.extend(result.report_ids)
                else:
                    rejected += 1
                    print(f"{path.name} message {number}: rejected ({result.code}): {result.reason} "
                          f"[inbox #{result.message_id}]", file=sys.stderr)
        matched = 0
        if report_ids:
            matched = con.execute("SELECT count(DISTINCT report_id) FROM report_study_matches "
                                  "WHERE list_contains(?, report_id)", [report_ids]).fetchone()[0]
    finally:
        con.close()
    print(f"import-hl7: {filed + rejected} messages: {filed} filed ({len(report_ids)} reports, "
          f"{matched} matched to a study, {len(report_ids) - matched} waiting for their study), "
          f"{rejected} rejected and kept for review")
    return 1 if rejected else 0
