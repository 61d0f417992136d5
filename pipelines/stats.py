"""``limestone stats [--json]``: counts of patients, studies, series, instances and bytes."""

from __future__ import annotations

import json

from archive.home import Archive
from archive.store.queries import stats


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("stats", help="counts of what the archive holds")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    con = archive.store(read_only=True)
    try:
        counts = stats(con)
    finally:
        con.close()
    backends = archive.home.backends()
    if args.json:
        print(json.dumps({**counts, "backends": backends}))
    else:
        for name, value in counts.items():
            print(f"{name:>10}: {value:,}")
        print(f"{'backends':>10}: " + ", ".join(f"{part} {kind}" for part, kind in backends.items()))
    return 0
