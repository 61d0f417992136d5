"""The escrow passphrase: from a terminal prompt, or the LIMESTONE_ESCROW_PASSPHRASE setting.

Never from a command-line argument: arguments show in ``ps`` and in shell histories.
"""

from __future__ import annotations

import getpass
import sys

from archive.home import Archive


def passphrase(archive: Archive, confirm: bool = False) -> str:
    from archive.escrow import EscrowError

    configured = archive.settings.escrow_passphrase
    if configured:
        return configured
    if not sys.stdin.isatty():
        raise EscrowError("no passphrase: run in a terminal to be asked, or set LIMESTONE_ESCROW_PASSPHRASE")
    first = getpass.getpass("Escrow passphrase: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise EscrowError("the two passphrases differ: nothing was written")
    return first
