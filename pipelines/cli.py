"""The ``limestone`` command line: one subcommand per pipeline module.

Each module named in ``COMMANDS`` has ``add_parser(subparsers)``, which registers its subcommand and sets
``run=<function(args, archive) -> int>`` as the parser default. Errors a user can fix are printed as
one plain line and give a non-zero exit status; details go to the log.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from archive.backup.target import BackupError
from archive.config import ConfigError
from archive.escrow import EscrowError
from archive.home import Archive, HomeError
from archive.store import StoreError
from archive.vault import VaultError

# Subcommand name -> the module that implements it. Only the module of the command being run is
# imported, so a quick command does not pay for the imports of every other one.
COMMANDS = {
    "import": "pipelines.import_files",
    "demo": "pipelines.demo",
    "stats": "pipelines.stats",
    "verify": "pipelines.verify",
    "keys": "pipelines.keys",
    "compact": "pipelines.compact",
    "nodes": "pipelines.nodes",
    "pull": "pipelines.pull",
    "listen": "pipelines.listen",
    "qa": "pipelines.qa",
    "deid": "pipelines.deid",
    "link-patients": "pipelines.link_patients",
    "report": "pipelines.report",
    "priors": "pipelines.priors",
    "share": "pipelines.share",
    "portal": "pipelines.portal",
    "export": "pipelines.export",
    "audit": "pipelines.audit",
    "import-hl7": "pipelines.import_hl7",
    "reports": "pipelines.reports",
    "send": "pipelines.send",
    "backup": "pipelines.backup",
    "restore": "pipelines.restore",
}

log = logging.getLogger("limestone")


def _setup_argparser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with only ``command`` fully defined when it is known."""
    parser = argparse.ArgumentParser(prog="limestone", description="Regional imaging archive operations.")
    parser.add_argument("--home", help="archive home folder (default: $LIMESTONE_HOME or data/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if command is None or name == command:
            importlib.import_module(module).add_parser(subparsers)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word after the global options), if any."""
    words = iter(argv)
    for word in words:
        if word == "--home":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _setup_argparser(_command_in(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("pydicom").setLevel(logging.ERROR)  # per-value complaints of damaged files
    try:
        archive = Archive.load(home=args.home)
        return int(args.run(args, archive) or 0)
    except (ConfigError, HomeError, StoreError, VaultError, BackupError, EscrowError, FileNotFoundError) as exc:
        print(f"limestone {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"limestone {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
