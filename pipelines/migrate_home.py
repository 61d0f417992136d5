"""``limestone migrate-home --to-distributed | --to-embedded [--json]``: move a home's store and vault
between its own folders and the distributed backends of the settings, then verify the copy.

    LIMESTONE_CATALOG=postgresql://... LIMESTONE_LAKE=s3://... LIMESTONE_VAULT=s3://... \\
        limestone --home H migrate-home --to-distributed     # H's store and vault -> PostgreSQL + S3
    (same settings) limestone --home H migrate-home --to-embedded   # back into H's own folders

How, and what is not moved: ``archive/migrate_home.py``. Stop imports, pulls, ``listen`` and
workers first. Exit 0 when every table's rows and every vault file arrived and every copied file
authenticates; 1 otherwise (the source is never changed).
"""

from __future__ import annotations

import json
import sys

from tqdm import tqdm

from archive.home import Archive
from archive.migrate_home import embedded, migrate


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("migrate-home", help="move a home between the embedded and the distributed backends",
                                   description=__doc__.splitlines()[0])
    way = parser.add_mutually_exclusive_group(required=True)
    way.add_argument("--to-distributed", action="store_true",
                     help="copy the home's store and vault into LIMESTONE_CATALOG/LAKE/VAULT")
    way.add_argument("--to-embedded", action="store_true",
                     help="copy the store and vault of LIMESTONE_CATALOG/LAKE/VAULT into the home's folders")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    here, there = embedded(archive.home), archive.home
    source, target = (here, there) if args.to_distributed else (there, here)
    direction = "to-distributed" if args.to_distributed else "to-embedded"
    bar = tqdm(unit=" vault files", disable=not sys.stderr.isatty(), leave=False)
    try:
        result = migrate(source, target, archive.settings.master_key, archive.settings.master_key_id,
                         direction, progress=bar.update)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        rows = sum(result.tables.values())
        print(f"Moved {direction}: {len(result.tables)} tables ({rows:,} rows), {result.vault_files:,} vault files "
              f"({result.copied_files:,} copied now). State: {result.state}.")
        for table, (was, now) in result.mismatched.items():
            print(f"  table {table}: {was} rows in the source, {now} in the target")
        if result.missing_files or result.damaged_files:
            print(f"  vault: {len(result.missing_files)} files missing, "
                  f"{len(result.damaged_files)} damaged in the target")
        print("Verified: every row and vault file arrived and authenticates." if result.ok else
              "NOT verified: see above; the source is unchanged, run again after fixing the cause.")
    return 0 if result.ok else 1
