"""``limestone verify``: fixity check — re-read and authenticate every vault file the store names.

Reports files the store references that are missing from the vault, files that fail
authentication (damaged, or encrypted under a key that is not available), and vault files that no
instance references (left by an interrupted import; harmless, and adopted by the next import).
Exit status 0 when every referenced file is present and intact, 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import sys

from tqdm import tqdm

from archive.home import Archive

log = logging.getLogger("limestone.verify")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("verify", help="fixity check of every file in the vault")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.vault import VaultError

    con = archive.store(read_only=True)
    try:
        referenced = {h for (h,) in con.execute("SELECT DISTINCT content_hash FROM instances").fetchall()}
    finally:
        con.close()
    vault = archive.vault
    stored = set(vault.hashes())
    missing = sorted(referenced - stored)
    damaged: list[dict[str, str]] = []
    for digest in tqdm(sorted(stored), unit=" files", disable=not sys.stderr.isatty(), leave=False):
        try:
            vault.verify(digest)
        except VaultError as exc:
            damaged.append({"content_hash": digest, "problem": str(exc)})
            log.warning("%s", exc)
    result = {"checked": len(stored), "ok": len(stored) - len(damaged), "damaged": damaged,
              "missing": missing, "unreferenced": len(stored - referenced)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"Checked {result['checked']} vault files: {result['ok']} intact, {len(damaged)} damaged, "
              f"{len(missing)} missing, {result['unreferenced']} not referenced by the store.")
        for item in damaged:
            print(f"  damaged: {item['problem']}")
        for digest in missing:
            print(f"  missing: vault file {digest[:12]}…")
    return 1 if (damaged or missing) else 0
