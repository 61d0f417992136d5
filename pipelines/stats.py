"""``limestone stats [--json]``: counts of patients, studies, series, instances and bytes, and when
the archive was last backed up and its master keys escrowed."""

from __future__ import annotations

import json

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("stats", help="counts of what the archive holds")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.backup.history import protection
    from archive.store.queries import stats
    from archive.vault import VaultKeyError

    con = archive.store(read_only=True)
    try:
        counts = stats(con)
    finally:
        con.close()
    try:
        current = archive.vault.keys.current_id
    except VaultKeyError:
        current = None
    facts = protection(archive.home, current)
    backends = archive.home.backends()
    if args.json:
        print(json.dumps({**counts, "backends": backends, **facts}))
        return 0
    for name, value in counts.items():
        print(f"{name:>10}: {value:,}")
    print(f"{'backends':>10}: " + ", ".join(f"{part} {kind}" for part, kind in backends.items()))
    backup, escrow = facts["last_backup"], facts["last_escrow"]
    print(f"{'backup':>10}: " + (f"{backup['at']} ({backup['id']} to {backup['target']})" if backup else "never"))
    print(f"{'escrow':>10}: " + (f"{escrow['at']} ({escrow['id']})" if escrow else "never")
          + ("; a new key escrow is due (limestone keys escrow --out FILE)" if facts["escrow_due"] else ""))
    return 0
