"""``limestone compact``: merge the store's small files and remove files no snapshot needs.

Imports and pulls compact by themselves once many files have accumulated; run this by hand (or
nightly) after many small runs, e.g. a listener filing pushes all day.
"""

from __future__ import annotations

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("compact", help="merge the analytic store's small files")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.store.maintenance import compact

    con = archive.store()
    try:
        result = compact(con)
    finally:
        con.close()
    print(f"Store compacted: {result.files_before} data files before, {result.files_after} after.")
    return 0
