"""``limestone qa [--since DATE] [--modality M]``: image quality metrics of every new instance.

Incremental: instances measured by an earlier run are skipped, so running it again after an import
measures only what arrived. Uses one worker process per core (LIMESTONE_QA_WORKERS) and shows a
progress bar on a terminal. Results are in the store: ``qa_metrics``, and the views
``qa_instance_metrics``, ``qa_outliers`` (flagged per modality, station and protocol) and
``qa_group_summary``. Exit status 1 when an instance could not be decoded (each is logged).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from archive.home import Archive


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("qa", help="image quality metrics of new instances (incremental)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--since", type=_date, metavar="DATE", help="only studies on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--modality", metavar="M", help="only series of this modality (e.g. CT, DX)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.quality.run import run_qa

    interactive = sys.stderr.isatty()
    # Log lines (an instance that could not be measured) are printed above the bar, not into it.
    with logging_redirect_tqdm():
        summary = run_qa(archive, since=args.since, modality=args.modality, workers=args.workers,
                         progress=lambda total: tqdm(total=total, unit="instance", disable=not interactive))
    print(summary.sentence())
    return summary.exit_code
