"""``limestone restore --from TARGET [--backup ID] --home NEWHOME [--escrow FILE [SHARE...]]``.

Rebuilds a home from a backup into an empty folder (a rerun after an interruption goes on). The
master keys come from a key escrow: given here with --escrow, or afterwards with
``limestone --home NEWHOME keys recover FILE``. Then ``limestone verify`` checks every file.
"""

from __future__ import annotations

import json
from pathlib import Path

from archive.home import Archive
from pipelines.passphrase import passphrase


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("restore", help="rebuild a home from a backup")
    parser.add_argument("--from", dest="source", required=True, metavar="TARGET", help="the backup target")
    parser.add_argument("--backup", metavar="ID", help="which backup (default: the newest)")
    parser.add_argument("--home", dest="new_home", metavar="NEWHOME",
                        help="the new, empty home (default: the global --home)")
    parser.add_argument("--escrow", nargs="+", metavar="FILE",
                        help="recover the master keys from this escrow (and share sheets) too")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive import escrow
    from archive.backup.history import record_escrow
    from archive.backup.restore import restore

    new_home = args.new_home or archive.settings.home
    target_archive = Archive.load(home=str(Path(new_home).expanduser().resolve()))
    recovered = None
    if args.escrow:    # opened first: a wrong passphrase stops before anything is written
        texts = [Path(name).read_text(errors="replace") for name in args.escrow]
        recovered = escrow.open_escrow(texts, passphrase(archive))
    result = restore(args.source, target_archive.home.root, args.backup)
    keys = target_archive.vault.keys
    if recovered is not None:
        escrow.install(keys, recovered)
        record_escrow(target_archive.home, recovered.escrow_id, recovered.created_at, sorted(recovered.keys),
                      recovered.current, recovered.split)
    missing = sorted(set(result.key_ids) - set(keys.ids()))
    if args.json:
        print(json.dumps({**result.as_dict(), "missing_key_ids": missing}))
    else:
        print(f"Restored backup {result.backup_id} into {result.home}: {result.files:,} files "
              f"({result.restored_files:,} copied now).")
        if missing:
            print(f"The vault needs master key(s) {', '.join(missing)}: recover them with "
                  f"'limestone --home {result.home} keys recover ESCROW-FILE', then run 'limestone verify'.")
        else:
            print(f"Run 'limestone --home {result.home} verify' to check every file.")
    return 0
