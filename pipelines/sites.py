"""``limestone sites add|list|remove``: the hospitals of the region and what identifies their studies.

    limestone sites add NORTH --name "North General" --issuer NGH-MRN --institution "North General" \\
        --ae NGH_PACS [--covered-since 2020-01-01]
    limestone sites list [--json]
    limestone sites remove NORTH

Adding to a site re-attributes the stored studies without a site that now match it
(``archive.sites.registry``); ``list --json`` also shows the issuers, institutions and AE titles
seen in the archive that no site claims (``"unassigned"``).
"""

from __future__ import annotations

import json
import sys
from datetime import date

from archive.home import Archive


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"limestone sites: not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sites", help="the region's sites (hospitals) and what identifies their studies")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a site, or add issuers, institutions and AE titles to one")
    add.add_argument("code", help="short site code, e.g. NORTH")
    add.add_argument("--name", help="the hospital's name")
    add.add_argument("--issuer", action="append", default=[], metavar="ISSUER",
                     help="an IssuerOfPatientID of the site's MRNs (repeatable)")
    add.add_argument("--institution", action="append", default=[], metavar="NAME",
                     help="an InstitutionName the site's files carry (repeatable)")
    add.add_argument("--ae", action="append", default=[], metavar="AE_TITLE",
                     help="an AE title the site's studies come from (repeatable)")
    add.add_argument("--covered-since", type=_date, metavar="YYYY-MM-DD",
                     help="since when the site's studies reach the regional archive as they are made "
                          "(repeat metrics: a prior there was available to the region)")

    listing = actions.add_parser("list", help="list the sites, and the values no site claims")
    listing.add_argument("--json", action="store_true", help="print as JSON")

    remove = actions.add_parser("remove", help="remove a site (its studies are matched again)")
    remove.add_argument("code")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.sites.registry import SiteError

    con = archive.store()
    try:
        return _ACTIONS[args.action](args, archive, con)
    except SiteError as exc:
        print(f"limestone sites {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()


def _add(args, archive: Archive, con) -> int:
    from archive.sites.registry import add_site

    change = add_site(con, archive.home, args.code, name=args.name, issuers=args.issuer,
                      institutions=args.institution, ae_titles=args.ae, covered_since=args.covered_since)
    print(f"site {change.code} {'added' if change.added else 'updated'}; "
          f"{change.reattributed:,} stored {'study' if change.reattributed == 1 else 'studies'} attributed to it")
    return 0


def _remove(args, archive: Archive, con) -> int:
    from archive.sites.registry import remove_site

    change = remove_site(con, archive.home, args.code)
    print(f"site {change.code} removed; {change.reattributed:,} of its studies matched again")
    return 0


def _list(args, archive: Archive, con) -> int:
    from archive.sites.registry import NO_SITE, as_json, list_sites, study_counts, unassigned

    sites, counts, loose = list_sites(con), study_counts(con), unassigned(con)
    if args.json:
        print(json.dumps({"sites": [as_json(s, counts.get(s.site, 0)) for s in sites],
                          "no_site_studies": counts.get(NO_SITE, 0),
                          "unassigned": loose.as_dict()}, indent=1))
        return 0
    if not sites:
        print("no sites yet (add one with 'limestone sites add CODE --issuer ... --institution ... --ae ...')")
    for s in sites:
        print(f"{s.site}  {s.name or ''}  ({counts.get(s.site, 0):,} studies)")
        for label, values in (("issuers", s.all_issuers()), ("institutions", s.institution_names),
                              ("AE titles", s.ae_titles)):
            if values:
                print(f"    {label}: {', '.join(values)}")
    if counts.get(NO_SITE):
        print(f"{counts[NO_SITE]:,} studies have no site")
    if not loose.empty():
        print("seen in the archive but claimed by no site:")
        for label, items in (("issuers", loose.issuers), ("institutions", loose.institutions),
                             ("AE titles", loose.ae_titles)):
            if items:
                print(f"    {label}: " + ", ".join(f"{i['value']} ({i['studies']})" for i in items))
    return 0


_ACTIONS = {"add": _add, "list": _list, "remove": _remove}
