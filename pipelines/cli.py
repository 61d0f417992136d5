"""The ``limestone`` command line: one subcommand per pipeline module.

Each module in ``COMMANDS`` has ``add_parser(subparsers)``, which registers its subcommand and sets
``run=<function(args, archive) -> int>`` as the parser default. Errors a user can fix are printed as
one plain line and give a non-zero exit status; details go to the log.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from archive.config import ConfigError
from archive.context import Archive
from archive.home import HomeError
from archive.store import StoreError
from archive.vault import VaultError

COMMANDS = (
    "pipelines.import_files",
    "pipelines.demo",
    "pipelines.stats",
    "pipelines.verify",
    "pipelines.keys",
    "pipelines.compact",
    "pipelines.nodes",
    "pipelines.pull",
    "pipelines.listen",
    "pipelines.qa",
    "pipelines.priors",
    "pipelines.deid",
    "pipelines.link_patients",
    "pipelines.report",
    "pipelines.share",
    "pipelines.portal",
    "pipelines.export",
    "pipelines.audit",
    "pipelines.import_hl7",
    "pipelines.reports",
    "pipelines.send",
)

log = logging.getLogger("limestone")


def _setup_argparser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="limestone", description="Regional imaging archive operations.")
    parser.add_argument("--home", help="archive home folder (default: $LIMESTONE_HOME or data/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _setup_argparser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("pydicom").setLevel(logging.ERROR)  # per-value complaints of damaged files
    try:
        archive = Archive.load(home=args.home)
        return int(args.run(args, archive) or 0)
    except (ConfigError, HomeError, StoreError, VaultError, FileNotFoundError) as exc:
        print(f"limestone {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"limestone {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
