"""The ``limestone`` command line: one subcommand per pipeline module.

Each module named in ``COMMANDS`` has ``add_parser(subparsers)``, which registers its subcommand and sets
``run=<function(args, archive) -> int>`` as the parser default. Errors a user can fix are printed as
one plain line (every ``archive.errors.LimestoneError``) and give exit status 2; details go to
the log.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from archive.errors import LimestoneError
from archive.home import Archive

# Subcommand name -> (the module that implements it, its one-line help). Only the module of the
# command being run is imported, and ``limestone --help`` imports none (the help lines are here;
# tests/pipelines/test_cli.py checks they are the ones the modules register), so a quick command
# does not pay for the imports of every other one.
COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("pipelines.import_files", "import folders, zip files and CDs (DICOMDIR)"),
    "demo": ("pipelines.demo", "build the synthetic demo archive (fake patients) and import it"),
    "stats": ("pipelines.stats", "counts of what the archive holds"),
    "verify": ("pipelines.verify", "fixity check of every file in the vault"),
    "keys": ("pipelines.keys", "vault master keys"),
    "compact": ("pipelines.compact", "merge the analytic store's small files"),
    "nodes": ("pipelines.nodes", "remote DICOM nodes (PACS) to pull from"),
    "pull": ("pipelines.pull", "pull studies from a PACS node (C-FIND, C-GET/C-MOVE, or DICOMweb)"),
    "listen": ("pipelines.listen", "receive images pushed by modalities and PACS (C-STORE SCP)"),
    "qa": ("pipelines.qa", "image quality metrics of new instances (incremental)"),
    "deid": ("pipelines.deid", "de-identified research export (DICOM files + Parquet table)"),
    "link-patients": ("pipelines.link_patients", "link patient records across sites into persons"),
    "report": ("pipelines.report", "reports from the archive's metrics"),
    "priors": ("pipelines.priors", "a study's earlier studies of the same patient, ranked"),
    "share": ("pipelines.share", "issue, list, extend, revoke and unlock patient share links"),
    "patients": ("pipelines.patients", "patients' own accounts in the portal (invite, notify)"),
    "portal": ("pipelines.portal", "serve the share portal patients open links in"),
    "export": ("pipelines.export", "export studies to CD/USB media (IHE PDI)"),
    "audit": ("pipelines.audit", "search the audit trail or export it (DICOM audit messages)"),
    "import-hl7": ("pipelines.import_hl7", "file HL7 v2 ORU^R01 report messages from files"),
    "reports": ("pipelines.reports", "reports (SR, PDF, HL7) kept beside the images"),
    "send": ("pipelines.send", "send studies to a node of the node list (C-STORE or STOW-RS)"),
    "transfers": ("pipelines.transfers", "the transfer log of sends (interrupted ones marked)"),
    "backup": ("pipelines.backup", "back up the archive (incremental), list, check, prune"),
    "restore": ("pipelines.restore", "rebuild a home from a backup"),
    "sites": ("pipelines.sites", "the region's sites (hospitals) and what identifies their studies"),
    "worker": ("pipelines.worker", "take import and pull jobs from the job queue (distributed mode)"),
    "jobs": ("pipelines.jobs", "the job queue: progress, and submitting big imports and pulls"),
    "migrate-home": ("pipelines.migrate_home", "move a home between the embedded and the distributed backends"),
}

log = logging.getLogger("limestone")


def _setup_argparser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with only ``command`` fully defined when it is known."""
    parser = argparse.ArgumentParser(prog="limestone", description="Regional imaging archive operations.")
    parser.add_argument("--home", help="archive home folder (default: $LIMESTONE_HOME or data/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if name == command:
            importlib.import_module(module).add_parser(subparsers)
        else:  # listed for --help and usage errors; parsing never reaches it (see _command_in)
            subparsers.add_parser(name, help=summary)
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
    except (LimestoneError, FileNotFoundError) as exc:  # a plain sentence for the user
        print(f"limestone {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"limestone {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
