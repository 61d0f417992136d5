"""Sites of the region as an administrator keeps them (``limestone sites``, the Sites page).

A study belongs to a site by, in this order: the site named when it was imported (``--site``),
its patient's MRN issuer (IssuerOfPatientID), its InstitutionName, or the AE title it came from
(``archive.store.writer.SiteResolver``). Sites were only made by the demo before; an archive filled
from several hospitals' files then reported every study under "(no site)", and the repeat metrics
(an *avoidable* repeat is one with an earlier exam at another site) found none.

When a site gains an issuer, institution or AE title, the stored studies that had no site and now
match are given it; when a site is removed, its studies are matched again against the sites left
(or have none). Studies already attributed to another site keep it. Each change is one transaction
under the store's write lock (the browser's table changes with it), then the patient links and
repeat facts are recomputed (``archive.repeats.update``). Values seen in the archive that no site
claims are listed by ``unassigned``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

import duckdb
import pyarrow as pa

from archive.errors import LimestoneError
from archive.home import Home
from archive.repeats.classes import set_archive_coverage
from archive.repeats.update import bring_up_to_date
from archive.store import browse_table
from archive.store.connection import retrying, rollback, write_lock
from archive.store.writer import Site, SiteResolver, upsert_sites

_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
NO_SITE = "(no site)"


class SiteError(LimestoneError, ValueError):
    """A site change that cannot be made (bad code, unknown site, a value claimed by another site)."""


@dataclass
class SiteChange:
    """What an add or remove did: the site as now stored (None once removed) and the studies moved."""

    code: str
    site: Site | None
    reattributed: int = 0
    added: bool = False


@dataclass
class Unassigned:
    """Issuers, institutions and AE titles seen in the archive that no site claims, with study counts."""

    issuers: list[dict] = field(default_factory=list)
    institutions: list[dict] = field(default_factory=list)
    ae_titles: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[dict]]:
        return {"issuers": self.issuers, "institutions": self.institutions, "ae_titles": self.ae_titles}

    def empty(self) -> bool:
        return not (self.issuers or self.institutions or self.ae_titles)


def normalise_code(code: str) -> str:
    """A site code as stored: upper case letters, digits, '-' and '_', at most 32 characters."""
    value = (code or "").strip().upper()
    if not _CODE.fullmatch(value):
        raise SiteError(f"site code {code!r} must be 1-32 letters, digits, '-' or '_', starting with "
                        "a letter or digit")
    return value


def list_sites(con: duckdb.DuckDBPyConnection) -> list[Site]:
    """Every site, by code, with its studies' identifying values."""
    rows = con.execute("SELECT site, name, ae_titles, issuer_of_patient_id, institution_names, issuers "
                       "FROM sites ORDER BY site").fetchall()
    return [Site(code, name, list(aes or []), issuer, list(names or []), list(issuers or []))
            for code, name, aes, issuer, names, issuers in rows]


def study_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Studies per site code (NO_SITE for studies without one)."""
    return {site: n for site, n in con.execute(
        f"SELECT coalesce(site, '{NO_SITE}'), count(*) FROM studies GROUP BY ALL").fetchall()}


def get_site(con: duckdb.DuckDBPyConnection, code: str) -> Site | None:
    code = normalise_code(code)
    return next((s for s in list_sites(con) if s.site == code), None)


def _clean(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        text = (value or "").strip()
        if text and text.upper() not in {v.upper() for v in out}:
            out.append(text)
    return out


def _claims(site: Site) -> dict[str, set[str]]:
    return {"issuer": {v.upper() for v in site.all_issuers()},
            "institution": {v.upper() for v in site.institution_names},
            "AE title": {v.upper() for v in site.ae_titles}}


def add_site(con: duckdb.DuckDBPyConnection, home: Home, code: str, *, name: str | None = None,
             issuers: Iterable[str] = (), institutions: Iterable[str] = (), ae_titles: Iterable[str] = (),
             covered_since: date | None = None, updated_by: str = "limestone sites") -> SiteChange:
    """Add a site, or give an existing one a name and more issuers, institutions and AE titles.

    Values are added to what the site has (never removed); a value another site already claims is
    refused. Stored studies without a site that now match are attributed to it. ``covered_since``
    records since when the site's studies reach the regional archive as they are made (the repeat
    metrics' availability, ``archive_coverage``).
    """
    code = normalise_code(code)
    sites = list_sites(con)
    current = next((s for s in sites if s.site == code), None)
    new = Site(code, name=(name or "").strip() or (current.name if current else None),
               ae_titles=_clean([*(current.ae_titles if current else []), *ae_titles]),
               institution_names=_clean([*(current.institution_names if current else []), *institutions]),
               issuers=_clean([*(current.all_issuers() if current else []), *issuers]))
    new.issuer_of_patient_id = new.issuers[0] if new.issuers else None
    wanted = _claims(new)
    for other in sites:
        if other.site == code:
            continue
        for kind, values in _claims(other).items():
            taken = sorted(wanted[kind] & values)
            if taken:
                raise SiteError(f"{kind} {taken[0]!r} already belongs to site {other.site}; "
                                f"remove it there first")
    with write_lock(home):
        upsert_sites(con, [new])
        if covered_since is not None:
            retrying(lambda: set_archive_coverage(con, code, covered_since, updated_by))
        moved = _reattribute(con, "s.site IS NULL", [])
    if moved or covered_since is not None:
        bring_up_to_date(con, home, force=True)
    return SiteChange(code, new, moved, added=current is None)


def remove_site(con: duckdb.DuckDBPyConnection, home: Home, code: str) -> SiteChange:
    """Remove a site; its studies are matched again against the other sites (or have none)."""
    code = normalise_code(code)
    if get_site(con, code) is None:
        raise SiteError(f"no site {code} (see 'limestone sites list')")

    def delete() -> None:
        con.execute("BEGIN")
        try:
            con.execute("DELETE FROM sites WHERE site = ?", [code])
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise

    with write_lock(home):
        retrying(delete)
        moved = _reattribute(con, "s.site = ?", [code], clear=code)
    if moved:
        bring_up_to_date(con, home, force=True)
    return SiteChange(code, None, moved)


def _reattribute(con: duckdb.DuckDBPyConnection, where: str, params: list, clear: str | None = None) -> int:
    """Give the studies selected by ``where`` (alias ``s``) the site their values resolve to now.

    ``clear``: a removed site's code; its studies with no match lose it. Patients keep a site they
    have unless it is ``clear``; one with none takes the site of its moved study. The caller holds
    the write lock.
    """
    resolver = SiteResolver(con)
    rows = con.execute(
        "SELECT s.study_instance_uid, s.site, p.issuer_of_patient_id, s.institution_name, s.source_ae_title, "
        f"s.patient_key FROM studies s LEFT JOIN patients p USING (patient_key) WHERE {where}", params).fetchall()
    moves = []
    for uid, old, issuer, institution, ae, patient_key in rows:
        new = resolver.resolve_values(issuer, institution, ae)
        if new != old:
            moves.append((uid, new, patient_key))
    if not moves:
        return 0
    batch = pa.table({"study_instance_uid": [m[0] for m in moves], "new_site": [m[1] for m in moves],
                      "patient_key": [m[2] for m in moves]})

    def write() -> None:
        con.execute("BEGIN")
        con.register("b_moves", batch)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE moved_studies AS SELECT s.* REPLACE (m.new_site AS site) "
                        "FROM studies s JOIN b_moves m USING (study_instance_uid)")
            con.execute("DELETE FROM studies WHERE study_instance_uid IN (SELECT study_instance_uid FROM b_moves)")
            con.execute("INSERT INTO studies BY NAME SELECT * FROM temp.moved_studies")
            keep = "p.site IS NOT NULL" + (" AND p.site <> $clear" if clear else "")
            con.execute("CREATE OR REPLACE TEMP TABLE moved_patients AS "
                        "SELECT p.* REPLACE (m.new_site AS site) FROM patients p "
                        "JOIN (SELECT patient_key, any_value(new_site) AS new_site FROM b_moves GROUP BY ALL) m "
                        f"USING (patient_key) WHERE NOT ({keep})", {"clear": clear} if clear else {})
            con.execute("DELETE FROM patients WHERE patient_key IN (SELECT patient_key FROM temp.moved_patients)")
            con.execute("INSERT INTO patients BY NAME SELECT * FROM temp.moved_patients")
            browse_table.refresh(con, "b_moves", "temp.moved_patients")
            con.execute("DROP TABLE temp.moved_studies")
            con.execute("DROP TABLE temp.moved_patients")
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
        finally:
            con.unregister("b_moves")

    retrying(write)
    return len(moves)


def unassigned(con: duckdb.DuckDBPyConnection) -> Unassigned:
    """Issuers, institutions and AE titles of stored studies that no site claims (case-insensitive),
    each with its number of studies, most studies first."""
    claimed: dict[str, set[str]] = {"issuer": set(), "institution": set(), "AE title": set()}
    for site in list_sites(con):
        for kind, values in _claims(site).items():
            claimed[kind] |= values
    rows = con.execute(
        "SELECT 'issuer', p.issuer_of_patient_id, count(*) FROM studies s JOIN patients p USING (patient_key) "
        "WHERE nullif(trim(p.issuer_of_patient_id), '') IS NOT NULL GROUP BY ALL "
        "UNION ALL SELECT 'institution', institution_name, count(*) FROM studies "
        "WHERE nullif(trim(institution_name), '') IS NOT NULL GROUP BY ALL "
        "UNION ALL SELECT 'AE title', source_ae_title, count(*) FROM studies "
        "WHERE nullif(trim(source_ae_title), '') IS NOT NULL GROUP BY ALL").fetchall()
    found = Unassigned()
    lists = {"issuer": found.issuers, "institution": found.institutions, "AE title": found.ae_titles}
    for kind, value, count in sorted(rows, key=lambda r: (-r[2], r[1])):
        if value.strip().upper() not in claimed[kind]:
            lists[kind].append({"value": value, "studies": count})
    return found


def as_json(site: Site, studies: int = 0) -> dict:
    """A site as ``limestone sites list --json`` prints it."""
    return {"code": site.site, "name": site.name, "issuers": site.all_issuers(),
            "institutions": site.institution_names, "ae_titles": site.ae_titles, "studies": studies}
