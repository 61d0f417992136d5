"""``limestone report repeats [--json] [--since DATE] [--until DATE]``: the repeat-exam metrics.

Prints the totals (studies, repeats, avoidable repeats, prior uses, avoided repeats, dose and cost
avoided) and the same by site and by exam class, read from the store's repeat views (the numbers
the dashboard's Repeat exams page shows). Dates are inclusive; either end may be left open.
The JSON keys are documented in ``archive.repeats.metrics.report``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from archive.home import Archive


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="reports from the archive's metrics")
    reports = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    repeats = reports.add_parser("repeats", help="repeat exams, avoidable and avoided repeats, dose and cost avoided")
    repeats.add_argument("--json", action="store_true", help="print the report as JSON")
    repeats.add_argument("--since", type=_date, help="first exam date included (YYYY-MM-DD)")
    repeats.add_argument("--until", type=_date, help="last exam date included (YYYY-MM-DD)")
    repeats.set_defaults(run=run_repeats)


def _row(label: str, block: dict) -> str:
    dose = block["dose_avoided"]
    return (f"{label:<22} {block['studies']:>9,} {block['repeats']:>8,} {block['repeat_rate']:>6.1%} "
            f"{block['avoidable_repeats']:>9,} {block['prior_uses']:>7,} {block['avoided_repeats']:>8,} "
            f"{dose['ct_dlp_mgy_cm']:>10,.0f} {dose['xr_detector_kerma_ugy']:>9,.1f} {block['cost_avoided']:>11,.2f}")


def run_repeats(args, archive: Archive) -> int:
    from archive.repeats import metrics

    if args.since and args.until and args.since > args.until:
        print("limestone report repeats: --since is after --until", file=sys.stderr)
        return 2
    con = archive.store(read_only=True)
    try:
        result = metrics.report(con, args.since, args.until, home=archive.home)
    finally:
        con.close()
    if result["stale"]:
        print("limestone report repeats: studies, links, prior uses or settings changed after the repeat facts "
              f"were computed ({result['as_of']}); run 'limestone link-patients' to include them",
              file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    span = f"{result['since'] or 'first exam'} to {result['until'] or 'last exam'}"
    print(f"Repeat exams, {span} (computed {result['as_of'] or 'never: run limestone link-patients'})")
    header = (f"{'':<22} {'studies':>9} {'repeats':>8} {'rate':>6} {'avoidable':>9} {'priors':>7} "
              f"{'avoided':>8} {'DLP mGycm':>10} {'XR uGy':>9} {'cost':>11}")
    print(header)
    print(_row("all sites", result["totals"]))
    for block in result["by_site"]:
        print(_row(f"site {block['site']}", block))
    for block in result["by_class"]:
        print(_row(block["exam_class"], block))
    return 0
