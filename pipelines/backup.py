"""``limestone backup``: back up the home, list, check and prune the backups of a target.

    limestone backup --to TARGET [--keep N] [--json]
    limestone backup list --from TARGET [--json]
    limestone backup verify --from TARGET [--backup ID] [--json]
    limestone backup prune --from TARGET --keep N [--json]

The work is done by ``archive.backup``; exit 1 when a check finds a damaged or missing file.
"""

from __future__ import annotations

import json
import sys

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("backup", help="back up the archive (incremental), list, check, prune")
    parser.add_argument("--to", dest="to", metavar="TARGET",
                        help="folder to back up to (a disk or NAS share), or s3://bucket/prefix")
    parser.add_argument("--keep", type=int, metavar="N", help="then keep only the newest N backups")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listed = actions.add_parser("list", help="the backups on a target with their times and counts")
    checked = actions.add_parser("verify", help="re-read and authenticate every file of a backup")
    pruned = actions.add_parser("prune", help="remove all but the newest N backups")
    checked.add_argument("--backup", metavar="ID", help="the backup to check (default: the newest)")
    pruned.add_argument("--keep", dest="prune_keep", type=int, required=True, metavar="N")
    for sub in (listed, checked, pruned):
        sub.add_argument("--from", dest="source", required=True, metavar="TARGET")
        sub.add_argument("--json", dest="sub_json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"


def run(args, archive: Archive) -> int:
    from archive.backup.run import back_up, listing, prune, summary_json

    as_json = args.json or getattr(args, "sub_json", False)
    if args.action == "list":
        backups = listing(args.source)
        if as_json:
            print(json.dumps(backups))
        elif not backups:
            print(f"No backups in {args.source}.")
        for b in [] if as_json else backups:
            counts = b.get("counts") or {}
            print(f"{b['id']}  {b['finished_at']}  {counts.get('studies', '?')} studies, "
                  f"{counts.get('instances', '?')} images, {b['files']:,} files, {_human(b['bytes'])} "
                  f"({b['copied_files']:,} files, {_human(b['copied_bytes'])} copied)")
        return 0
    if args.action == "verify":
        from archive.backup.check import check

        result = check(args.source, archive.vault, args.backup)
        if as_json:
            print(json.dumps(result.as_dict()))
        else:
            print(f"Backup {result.backup_id}: checked {result.checked:,} files, "
                  f"{len(result.problems)} problem(s); the catalog names {result.referenced:,} vault files.")
            for p in result.problems:
                print(f"  {p['path']}: {p['problem']}")
        return 0 if result.ok else 1
    if args.action == "prune":
        outcome = prune(args.source, args.prune_keep)
        if as_json:
            print(json.dumps(outcome))
        else:
            print(f"Removed {len(outcome['removed_backups'])} backup(s) and {outcome['removed_objects']:,} "
                  f"files no kept backup uses ({_human(outcome['freed_bytes'])}); "
                  f"{len(outcome['kept_backups'])} kept.")
        return 0
    if not args.to:
        print("limestone backup: say where with --to TARGET (or: list, verify, prune --from TARGET)",
              file=sys.stderr)
        return 2
    progress = None
    if sys.stderr.isatty() and not as_json:
        def progress(done: int) -> None:
            if done % 500 == 0:
                print(f"\r  {done:,} files copied", end="", file=sys.stderr, flush=True)
    result = back_up(archive, args.to, keep=args.keep, progress=progress)
    m = result.manifest
    if as_json:
        print(summary_json(result, args.to))
    else:
        if progress:
            print(file=sys.stderr)
        print(f"Backup {m.id} to {args.to}: {m.files:,} files, {_human(m.bytes)}; copied "
              f"{m.copied_files:,} new or changed files ({_human(m.copied_bytes)}).")
        print("The master keys are not in the backup: keep a key escrow ('limestone keys escrow').")
        if result.pruned:
            print(f"Pruned {len(result.pruned['removed_backups'])} old backup(s), "
                  f"{_human(result.pruned['freed_bytes'])} freed.")
    return 0
