"""``limestone keys``: the vault master keys: show, rotate, escrow, recover.

    limestone keys show | rotate
    limestone keys escrow --out FILE [--shares N --threshold K]
    limestone keys recover FILE [SHARE...]

Rotation re-wraps every data key; the encrypted data is not touched. Old key files stay in
<home>/keys/ (files not yet re-wrapped and older backups need them): after a rotation, make a new
escrow. The escrow passphrase is asked for in the terminal or read from
LIMESTONE_ESCROW_PASSPHRASE, never taken from the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from archive.home import Archive
from pipelines.passphrase import passphrase

if TYPE_CHECKING:
    from archive import escrow


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("keys", help="vault master keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("rotate", help="create a new master key and re-wrap every file's data key")
    actions.add_parser("show", help="print the current master key id")
    made = actions.add_parser("escrow", help="seal every master key under a passphrase, with a recovery sheet")
    made.add_argument("--out", required=True, metavar="FILE", help="the escrow file (FILE.sheet.txt beside it)")
    made.add_argument("--shares", type=int, default=0, metavar="N", help="split between N custodians")
    made.add_argument("--threshold", type=int, default=0, metavar="K", help="of whom any K recover the keys")
    back = actions.add_parser("recover", help="put the keys of an escrow into this home")
    back.add_argument("files", nargs="+", metavar="FILE",
                      help="the escrow file or recovery sheet, and (when split) K share sheets")
    parser.set_defaults(run=run)


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def escrow_paths(out: Path, sealed: escrow.Sealed) -> dict[Path, str]:
    from archive import escrow

    files = {out: sealed.text(), out.with_name(out.name + ".sheet.txt"): escrow.render_sheet(sealed)}
    count = len(sealed.shares)
    for i in range(1, count + 1):
        files[out.with_name(f"{out.name}.share-{i}-of-{count}.txt")] = escrow.render_share(sealed, i)
    return files


def run(args, archive: Archive) -> int:
    from archive import escrow
    from archive.backup.history import record_escrow

    vault = archive.vault
    if args.action == "show":
        print(vault.keys.current_id or "no master key yet (one is created on the first import)")
        return 0
    if args.action == "rotate":
        vault.ensure_key()
        key_id, count = vault.rotate()
        print(f"New master key {key_id}: re-wrapped the data keys of {count} vault files.")
        print("A new key escrow is due: run 'limestone keys escrow --out FILE' and store it safely "
              "(earlier escrows do not hold the new key).")
        return 0
    if args.action == "escrow":
        out = Path(args.out).expanduser()
        sealed_keys = vault.keys
        secret = passphrase(archive, confirm=True)
        sealed = escrow.seal(sealed_keys, secret, shares=args.shares, threshold=args.threshold)
        files = escrow_paths(out, sealed)
        taken = [str(p) for p in files if p.exists()]
        if taken:
            raise escrow.EscrowError(f"will not overwrite {', '.join(taken)}: choose another --out")
        written = []
        try:
            for path, text in files.items():
                _write_new(path, text)
                written.append(path)
        except OSError as exc:
            for path in written:
                path.unlink(missing_ok=True)
            raise escrow.EscrowError(f"cannot write the escrow: {exc.strerror or exc}") from None
        doc = sealed.document
        split = f"{args.threshold} of {args.shares}" if args.shares else None
        if archive.home.root.exists():
            record_escrow(archive.home, sealed.escrow_id, doc["created_at"], doc["key_ids"],
                          doc["current_key_id"], split)
        print(f"Escrow {sealed.escrow_id}: {len(doc['key_ids'])} key(s) ({', '.join(doc['key_ids'])}) "
              f"sealed in {out}.")
        print(f"Print {out.name}.sheet.txt and keep it apart from the backups; keep the passphrase elsewhere.")
        if args.shares:
            print(f"Give one share sheet to each of {args.shares} custodians "
                  f"({out.name}.share-N-of-{args.shares}.txt); any {args.threshold} recover the keys.")
        return 0
    texts = []
    for name in args.files:
        try:
            texts.append(Path(name).read_text(errors="replace"))
        except OSError as exc:
            raise escrow.EscrowError(f"cannot read {name}: {exc.strerror or exc}") from None
    recovered = escrow.open_escrow(texts, passphrase(archive))
    written = escrow.install(vault.keys, recovered)
    if archive.home.root.exists():   # these keys are in that escrow: none is due for them
        record_escrow(archive.home, recovered.escrow_id, recovered.created_at, sorted(recovered.keys),
                      recovered.current, recovered.split)
    print(f"Recovered {len(recovered.keys)} key(s) of escrow {recovered.escrow_id} into "
          f"{vault.keys.keys_dir}: {len(written)} written, {len(recovered.keys) - len(written)} already there.")
    return 0
