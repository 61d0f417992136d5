"""``limestone link-patients``: rebuild the regional patient identity (archive/patients/linking.py).

Copies prior uses from the audit trail (archive/repeats/audit_uses.py), links the patient records
of all sites into persons, lists conflicts for review, and recomputes the repeat facts
(archive/repeats/update.py); prints a summary without names or identifiers. Imports, pulls, the
listener and the demo do the same by themselves when they add studies; run it after changing
identity decisions outside the dashboard, or to recompute at will.
"""

from __future__ import annotations

from collections import Counter

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("link-patients", help="link patient records across sites into persons")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.repeats.update import bring_up_to_date

    con = archive.store()
    try:
        update = bring_up_to_date(con, archive.home, force=True)
    finally:
        con.close()
    result = update.link
    methods = Counter(link.method for link in result.links)
    persons = len(set(result.persons.values()))
    print(f"{len(result.links):,} patient records -> {persons:,} persons "
          f"(shared identifier {methods['shared_id']:,}, demographics {methods['demographics']:,}, "
          f"staff decision {methods['manual']:,}); {len(result.conflicts):,} conflicts to review")
    if update.prior_uses_added:
        print(f"{update.prior_uses_added:,} prior uses found in the audit trail and transfer log")
    print(f"repeat facts recomputed for {update.studies:,} studies")
    return 0
