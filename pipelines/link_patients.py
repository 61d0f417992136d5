"""``limestone link-patients``: rebuild the regional patient identity (archive/identity.py).

Links the patient records of all sites into persons and lists conflicts for review, then
recomputes the repeat facts (archive/repeats/facts.py); prints a summary without names or
identifiers. Run it after imports and pulls (``limestone demo`` runs it);
records added since the last run count as their own person until then.
"""

from __future__ import annotations

from collections import Counter

from archive.context import Archive
from archive.identity import link_patients
from archive.repeats import facts


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("link-patients", help="link patient records across sites into persons")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    con = archive.store()
    try:
        result = link_patients(con)
        studies = facts.refresh(con)
    finally:
        con.close()
    methods = Counter(link.method for link in result.links)
    persons = len(set(result.persons.values()))
    print(f"{len(result.links):,} patient records -> {persons:,} persons "
          f"(shared identifier {methods['shared_id']:,}, demographics {methods['demographics']:,}, "
          f"staff decision {methods['manual']:,}); {len(result.conflicts):,} conflicts to review")
    print(f"repeat facts recomputed for {studies:,} studies")
    return 0
