"""``limestone deid --study UID... | --query SQL --out DIR [--keep-dates | --shift-dates] [--keep-uids]``.

De-identified research export with the DICOM PS3.15 Basic Application Level Confidentiality
Profile (see ``archive.deid``): DICOM files, a Parquet table of their metadata, and a list of the
objects held back because their pixels may carry burned-in text. Dates are removed unless
``--shift-dates`` (moved by a per-patient offset) or ``--keep-dates``; patient characteristics and
device identity are kept and descriptors cleaned unless switched off.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("deid", help="de-identified research export (DICOM files + Parquet table)",
                                   description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--study", nargs="+", metavar="UID", help="Study Instance UIDs to export")
    which.add_argument("--query", metavar="SQL",
                       help="read-only SQL over the store returning a study_instance_uid column")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the export into")
    dates = parser.add_mutually_exclusive_group()
    dates.add_argument("--keep-dates", action="store_true",
                       help="keep dates and times (Retain Longitudinal Temporal Information, Full Dates)")
    dates.add_argument("--shift-dates", action="store_true",
                       help="move every date of a patient by the same keyed offset (Modified Dates option)")
    parser.add_argument("--keep-uids", action="store_true", help="keep the original UIDs (Retain UIDs option)")
    parser.add_argument("--no-patient-characteristics", action="store_true",
                        help="also remove sex, age, size, weight (default: kept, the profile's option)")
    parser.add_argument("--no-device-identity", action="store_true",
                        help="also remove station names and device serial numbers (default: kept)")
    parser.add_argument("--no-clean-descriptors", action="store_true",
                        help="remove descriptions instead of cleaning them (default: cleaned)")
    parser.add_argument("--include-burned-in", action="store_true",
                        help="write objects that may show burned-in text under OUT/burned_in/ for review")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.deid import DatesValues, DeidKeyError, Options
    from archive.deid.export import DeidSelectionError, export, select_studies

    options = Options(
        dates=DatesValues.KEEP if args.keep_dates else DatesValues.SHIFT if args.shift_dates else DatesValues.REMOVE,
        keep_uids=args.keep_uids, patient_characteristics=not args.no_patient_characteristics,
        device_identity=not args.no_device_identity, clean_descriptors=not args.no_clean_descriptors)
    con = archive.store(read_only=True)
    try:
        selected = select_studies(con, args.study or (), args.query)
    except DeidSelectionError as exc:
        print(f"limestone deid: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    try:
        summary = export(archive, selected, args.out, options, include_burned_in=args.include_burned_in,
                         progress=lambda items: tqdm(items, unit="instance", disable=not sys.stderr.isatty()))
    except DeidKeyError as exc:
        print(f"limestone deid: {exc}", file=sys.stderr)
        return 2
    print(summary.sentence())
    return summary.exit_code
