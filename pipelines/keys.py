"""``limestone keys rotate``: a new vault master key; every data key is re-wrapped under it.

The encrypted data is not touched: only each file's small wrapped-key header is rewritten. Old key
files stay in <home>/keys/ until you remove them after a successful rotation and backup.
"""

from __future__ import annotations

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("keys", help="vault master keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("rotate", help="create a new master key and re-wrap every file's data key")
    actions.add_parser("show", help="print the current master key id")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    vault = archive.vault
    if args.action == "show":
        print(vault.keys.current_id or "no master key yet (one is created on the first import)")
        return 0
    vault.ensure_key()
    key_id, count = vault.rotate()
    print(f"New master key {key_id}: re-wrapped the data keys of {count} vault files.")
    return 0
