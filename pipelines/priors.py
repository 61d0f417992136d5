"""``limestone priors STUDY_UID [--json] [--limit N]``: a study's relevant priors, ranked.

The JSON form is a contract for scripts and notebooks: a list, best first, of objects with
``study_instance_uid``, ``study_date`` (ISO), ``site``, ``modality``, ``description`` and ``score``
(0..1), plus ``body_part`` and ``days_before``. See ``archive.comparison.priors`` for how the score is made.
"""

from __future__ import annotations

import json
import sys

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("priors", help="a study's earlier studies of the same patient, ranked",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("study_instance_uid", metavar="STUDY_UID", help="the current study's StudyInstanceUID")
    parser.add_argument("--json", action="store_true", help="print the ranked list as JSON")
    parser.add_argument("--limit", type=int, default=None, help="print at most N priors")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.comparison.priors import relevant_priors

    if args.limit is not None and args.limit < 1:
        print("limestone priors: --limit must be at least 1", file=sys.stderr)
        return 2
    con = archive.store(read_only=True)
    try:
        priors = relevant_priors(con, args.study_instance_uid.strip(), args.limit)
    except LookupError as exc:
        print(f"limestone priors: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    if args.json:
        print(json.dumps([p.as_json() for p in priors], indent=1))
        return 0
    if not priors:
        print("No earlier studies of this patient in the archive.")
        return 0
    print(f"{'score':>5}  {'date':<10}  {'before':<16}  {'site':<8}  {'modality':<8}  description")
    for p in priors:
        print(f"{p.score:5.3f}  {p.study_date.isoformat():<10}  {p.ago:<16}  {p.site or '':<8}  "
              f"{p.modality:<8}  {p.description or ''}")
    return 0
