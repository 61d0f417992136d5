"""``limestone reports show|search|waiting|inbox|rescan``: the reports kept beside the images.

``reports show STUDY_UID --json`` prints a study's reports as JSON: an object with
``study_instance_uid`` and ``reports``, a list (current versions first) of objects with
report_id, source (sr|pdf|hl7), status (preliminary|final|amended|cancelled), title, author,
report_datetime (ISO), accession_number, text, sop_instance_uid, text_extracted, is_current,
versions and superseded_by; ``--history`` adds superseded versions.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("reports", help="reports (SR, PDF, HL7) kept beside the images")
    sub = parser.add_subparsers(dest="reports_command", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="a study's reports")
    show.add_argument("study", metavar="STUDY_UID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--history", action="store_true", help="include superseded versions")
    find = sub.add_parser("search", help="full-text search of report text")
    find.add_argument("query", nargs="+")
    find.add_argument("--limit", type=int, default=20)
    find.add_argument("--json", action="store_true")
    waiting = sub.add_parser("waiting", help="reports whose study is not archived yet")
    waiting.add_argument("--json", action="store_true")
    review = sub.add_parser("inbox", help="HL7 messages rejected and kept for review")
    review.add_argument("--json", action="store_true")
    sub.add_parser("rescan", help="file the reports of archived SR/PDF instances that have none yet")
    parser.set_defaults(run=run)


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _dump(obj) -> str:
    return json.dumps(obj, default=_plain, ensure_ascii=False, indent=1)


def run(args, archive: Archive) -> int:
    from archive.reports import inbox, search, store

    action = args.reports_command
    if action == "inbox":
        rows = inbox.review_queue(archive.home)
        if args.json:
            print(_dump(rows))
        else:
            for r in rows:
                print(f"#{r['message_id']} {r['received_at']} {r['source']} {r['outcome']}: {r['reason']}")
            print(f"{len(rows)} message(s) waiting for review")
        return 0
    con = archive.store(read_only=action != "rescan")
    try:
        if action == "rescan":
            added = store.rescan(con, archive.vault)
            print(f"reports rescan: {added} report(s) filed")
            return 0
        if action == "show":
            found = con.execute("SELECT count(*) FROM studies WHERE study_instance_uid = ?",
                                [args.study]).fetchone()[0]
            reports = [{k: v for k, v in r.items() if k not in ("document_key", "content_hash")}
                       for r in store.reports_for_study(con, args.study, history=args.history)]
            if not found and not reports:
                print(f"limestone reports: no study {args.study} in the archive", file=sys.stderr)
                return 1
            if args.json:
                print(_dump({"study_instance_uid": args.study, "reports": reports}))
            elif not reports:
                print("no reports for this study yet")
            for r in ([] if args.json else reports):
                when = f"{r['report_datetime']:%Y-%m-%d %H:%M}" if r["report_datetime"] else "no date"
                print(f"== {r['title']} · {r['status']} · {when} · {r['author'] or 'author unknown'}"
                      + ("" if r["is_current"] else f" (superseded by {r['superseded_by']})"))
                print(r["text"] or "(no text could be extracted; the document is in the archive)")
                print()
            return 0
        if action == "search":
            hits = search.search_reports(con, " ".join(args.query), limit=args.limit)
            if args.json:
                print(_dump(hits))
            else:
                for h in hits:
                    print(f"{h['study_instance_uid'] or '(waiting for study)'}  {h['status']:<11} "
                          f"{h['title'] or ''}: {h['snippet']}")
                print(f"{len(hits)} report(s) match")
            return 0
        if action == "waiting":
            rows = store.waiting(con)
            if args.json:
                print(_dump([{k: r[k] for k in ("report_id", "source", "accession_number", "status",
                                                 "report_datetime", "received_at")} for r in rows]))
            else:
                for r in rows:
                    print(f"{r['report_id']}  accession {r['accession_number']}  {r['status']}  "
                          f"received {r['received_at']:%Y-%m-%d %H:%M}")
                print(f"{len(rows)} report(s) waiting for their study")
            return 0
    finally:
        con.close()
    return 2
