"""Regional patient identity: which patient records (PatientID + issuer, one per site) are one person.

Each hospital of the region has its own MRNs, so one person has a record per site visited. The
linker is deterministic and explainable; it merges two records only on strong evidence:

1. **Shared identifier** (confidence 1.0): the same value in OtherPatientIDs (a regional health-card
   number, say) on both records, and birth date and sex agree wherever both are known. A shared
   value on records that disagree is listed as ``shared_id_mismatch`` and merges nothing.
2. **Demographics** (confidence 0.9): the same normalised family name, first given name, birth
   date and sex (all four present), when no record of that demographic group carries a shared
   identifier. If some do, a record without one cannot be told apart from a namesake, so nothing
   is merged on demographics and the group is listed as ``ambiguous``; records with different
   shared identifiers are different people (``demographics_shared_id_differ``, listed). Two records
   of one site merged on demographics are listed as ``same_site_duplicate``.
3. **Decisions** staff took (``patient_link_decisions``): 'same' merges (method ``manual``),
   'different' keeps two records apart whatever the rules say.

Names are normalised by removing accents, punctuation and spaces and upper-casing; middle names,
prefixes and suffixes are ignored. A weak match (missing birth date or sex, a name alone) never
merges. The person key is the smallest patient key of the person's records.

``link_patients(con)`` rebuilds ``patient_links`` and ``patient_link_conflicts`` in one transaction;
``archive.repeats.update`` runs it after imports, pulls, the listener and the demo, and for
``limestone link-patients``. Records stored since the last run count as their own person (view
``patient_identity``) until it runs again.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from typing import Iterable, Mapping

import duckdb
import pyarrow as pa

from archive.clock import now_utc
from archive.store.connection import retrying, rollback

SHARED_ID = 1.0
DEMOGRAPHICS = 0.9
MANUAL = 1.0
_MIN_SHARED_ID_LENGTH = 4  # shorter OtherPatientIDs values collide too easily to be trusted


@dataclass(frozen=True)
class PatientRecord:
    """One site's record of a patient, as the linker sees it."""

    patient_key: str
    site: str | None = None
    patient_name: str | None = None
    patient_birth_date: date | None = None
    patient_sex: str | None = None
    other_patient_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    patient_key: str
    person_key: str
    method: str          # single | shared_id | demographics | manual
    confidence: float
    evidence: str


@dataclass(frozen=True)
class Conflict:
    kind: str
    patient_keys: tuple[str, ...]
    detail: str


@dataclass
class LinkResult:
    links: list[Link] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def persons(self) -> dict[str, str]:
        """patient_key -> person_key."""
        return {link.patient_key: link.person_key for link in self.links}


# ---- normalisation -------------------------------------------------------------------------------
def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _letters(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text)


def normalise_name(name: str | None) -> tuple[str, str] | None:
    """(family, first given name) of a DICOM PN or free-text name, or None when either is missing.

    ``"Müller-Lüdenscheidt^Hans Peter^J"`` and ``"MULLERLUDENSCHEIDT, HANS"`` both give
    ``("MULLERLUDENSCHEIDT", "HANS")``.
    """
    if not name:
        return None
    text = _plain(str(name).split("=")[0])  # alphabetic group only
    if "^" in text:
        parts = text.split("^")
        family, given = parts[0], parts[1] if len(parts) > 1 else ""
    elif "," in text:
        family, _, given = text.partition(",")
    else:
        words = text.split()
        if len(words) < 2:
            return None
        family, given = words[-1], " ".join(words[:-1])
    given_words = [w for w in re.split(r"[\s.]+", given) if _letters(w)]
    family, first = _letters(family), _letters(given_words[0]) if given_words else ""
    if not family or not first:
        return None
    return family, first


def normalise_sex(sex: str | None) -> str | None:
    value = (sex or "").strip().upper()[:1]
    return value if value in ("F", "M", "O") else None


def normalise_id(value: str | None) -> str | None:
    text = _letters(_plain(value or ""))
    return text if len(text) >= _MIN_SHARED_ID_LENGTH else None


def _agree(a: PatientRecord, b: PatientRecord) -> bool:
    """Birth date and sex agree wherever both are known."""
    if a.patient_birth_date and b.patient_birth_date and a.patient_birth_date != b.patient_birth_date:
        return False
    sa, sb = normalise_sex(a.patient_sex), normalise_sex(b.patient_sex)
    return not (sa and sb and sa != sb)


# ---- the linker ----------------------------------------------------------------------------------
class _Components:
    """Union-find that refuses to join two groups holding a pair staff marked 'different'."""

    def __init__(self, keys: Iterable[str], different: set[frozenset[str]]):
        self.parent = {k: k for k in keys}
        self.members = {k: {k} for k in self.parent}
        self.different = different

    def find(self, key: str) -> str:
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.different and any(frozenset((x, y)) in self.different
                                  for x in self.members[ra] for y in self.members[rb]):
            return False
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        return True


def link(records: list[PatientRecord], decisions: Iterable[tuple[str, str, str]] = ()) -> LinkResult:
    """Link ``records`` into persons; ``decisions`` are (patient_key_a, patient_key_b, same|different)."""
    by_key = {r.patient_key: r for r in records}
    same: list[tuple[str, str]] = []
    different: set[frozenset[str]] = set()
    for a, b, decision in decisions:
        if a in by_key and b in by_key and a != b:
            if decision == "same":
                same.append((a, b))
            elif decision == "different":
                different.add(frozenset((a, b)))
    components = _Components(sorted(by_key), different)
    result = LinkResult()
    best: dict[str, tuple[float, str, str]] = {}   # key -> (confidence, method, evidence)

    def accept(a: str, b: str, confidence: float, method: str, evidence: str) -> None:
        if not components.join(a, b):
            result.conflicts.append(Conflict("decided_different", tuple(sorted((a, b))),
                                             f"{method} match kept apart by a staff decision"))
            return
        for key in (a, b):
            if key not in best or best[key][0] < confidence:
                best[key] = (confidence, method, evidence)

    for a, b in same:
        accept(a, b, MANUAL, "manual", "linked by a staff decision")

    # 1. shared identifiers
    ids: dict[str, list[str]] = defaultdict(list)
    for record in records:
        for value in {v for v in map(normalise_id, record.other_patient_ids) if v}:
            ids[value].append(record.patient_key)
    carded: dict[str, set[str]] = defaultdict(set)
    for value, keys in sorted(ids.items()):
        for key in keys:
            carded[key].add(value)
        if len(keys) < 2:
            continue
        group = [by_key[k] for k in sorted(keys)]
        if all(_agree(x, y) for x, y in combinations(group, 2)):
            for other in group[1:]:
                accept(group[0].patient_key, other.patient_key, SHARED_ID, "shared_id",
                       f"same OtherPatientIDs value on {len(group)} records")
        else:
            result.conflicts.append(Conflict(
                "shared_id_mismatch", tuple(r.patient_key for r in group),
                "same OtherPatientIDs value but different birth date or sex: not merged"))

    # 2. demographics
    groups: dict[tuple, list[PatientRecord]] = defaultdict(list)
    for record in records:
        name, sex = normalise_name(record.patient_name), normalise_sex(record.patient_sex)
        if name and sex and record.patient_birth_date:
            groups[(name, record.patient_birth_date, sex)].append(record)
    for _, group in sorted(groups.items(), key=lambda item: item[1][0].patient_key):
        if len(group) < 2:
            continue
        group_keys = tuple(sorted(r.patient_key for r in group))
        with_card = [r for r in group if carded.get(r.patient_key)]
        without = [r for r in group if not carded.get(r.patient_key)]
        card_persons = {components.find(r.patient_key) for r in with_card}
        if len(card_persons) > 1:
            result.conflicts.append(Conflict(
                "demographics_shared_id_differ", group_keys,
                f"same name, birth date and sex on {len(group)} records with "
                f"{len(card_persons)} different shared identifiers: kept apart"))
        if with_card and without:
            result.conflicts.append(Conflict(
                "ambiguous", group_keys,
                f"{len(without)} record(s) without a shared identifier match the demographics of "
                "record(s) with one: not merged (could be a namesake)"))
            continue
        if len(without) >= 2:
            for other in without[1:]:
                accept(without[0].patient_key, other.patient_key, DEMOGRAPHICS, "demographics",
                       "same normalised name, birth date and sex")
            per_site = defaultdict(list)
            for r in without:
                per_site[r.site].append(r.patient_key)
            for _site, site_keys in sorted(per_site.items(), key=lambda i: str(i[0])):
                if len(site_keys) > 1:
                    result.conflicts.append(Conflict(
                        "same_site_duplicate", tuple(sorted(site_keys)),
                        "one person with two IDs at the same site (merged on demographics)"))

    persons: dict[str, str] = {}
    for root in {components.find(k) for k in by_key}:
        members = components.members[root]
        person = min(members)
        for key in members:
            persons[key] = person
    for key in sorted(by_key):
        if key in best and len(components.members[components.find(key)]) > 1:
            confidence, method, evidence = best[key]
        else:
            confidence, method, evidence = 1.0, "single", "no other record of this person"
        result.links.append(Link(key, persons[key], method, confidence, evidence))
    return result


# ---- the store -----------------------------------------------------------------------------------
def load_records(con: duckdb.DuckDBPyConnection) -> list[PatientRecord]:
    rows = con.execute(
        "SELECT patient_key, site, patient_name, patient_birth_date, patient_sex, other_patient_ids "
        "FROM patients").fetchall()
    seen: dict[str, PatientRecord] = {}
    for key, site, name, born, sex, others in rows:
        seen[key] = PatientRecord(key, site, name, born, sex, tuple(others or ()))
    return list(seen.values())


def load_decisions(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """The latest decision per pair."""
    rows = con.execute(
        "SELECT patient_key_a, patient_key_b, arg_max(decision, decided_at) FROM patient_link_decisions "
        "GROUP BY ALL ORDER BY ALL").fetchall()
    return [(a, b, d) for a, b, d in rows]


def link_patients(con: duckdb.DuckDBPyConnection) -> LinkResult:
    """Recompute the links of every patient record in the store and replace the stored ones."""
    result = link(load_records(con), load_decisions(con))
    now = now_utc()
    # Arrow, not pandas: every pull and import ends here, and pandas costs ~0.5 s to import.
    links = pa.table({
        "patient_key": pa.array([x.patient_key for x in result.links], pa.string()),
        "person_key": pa.array([x.person_key for x in result.links], pa.string()),
        "method": pa.array([x.method for x in result.links], pa.string()),
        "confidence": pa.array([x.confidence for x in result.links], pa.float64()),
        "evidence": pa.array([x.evidence for x in result.links], pa.string()),
        "linked_at": pa.array([now] * len(result.links), pa.timestamp("us")),
    })
    conflicts = pa.table({
        "kind": pa.array([c.kind for c in result.conflicts], pa.string()),
        "patient_keys": pa.array([list(c.patient_keys) for c in result.conflicts], pa.list_(pa.string())),
        "detail": pa.array([c.detail for c in result.conflicts], pa.string()),
        "found_at": pa.array([now] * len(result.conflicts), pa.timestamp("us")),
    })

    def write() -> None:
        con.execute("BEGIN")
        try:
            con.register("new_links", links)
            con.register("new_conflicts", conflicts)
            con.execute("DELETE FROM patient_links")
            con.execute("DELETE FROM patient_link_conflicts")
            if links.num_rows:
                con.execute("INSERT INTO patient_links BY NAME SELECT * FROM new_links")
            if conflicts.num_rows:
                con.execute("INSERT INTO patient_link_conflicts BY NAME "
                            "SELECT kind, CAST(patient_keys AS VARCHAR[]) AS patient_keys, detail, found_at "
                            "FROM new_conflicts")
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
        finally:
            con.unregister("new_links")
            con.unregister("new_conflicts")
    retrying(write)
    return result


def decide(con: duckdb.DuckDBPyConnection, patient_key_a: str, patient_key_b: str, decision: str,
           decided_by: str, note: str | None = None) -> None:
    """Record a staff decision on two records ('same' or 'different'); relink to apply it."""
    if decision not in ("same", "different"):
        raise ValueError("decision must be 'same' or 'different'")
    if patient_key_a == patient_key_b:
        raise ValueError("a decision needs two different patient records")
    a, b = sorted((patient_key_a, patient_key_b))

    def write() -> None:
        con.execute("INSERT INTO patient_link_decisions VALUES (?, ?, ?, ?, ?, ?)",
                    [a, b, decision, decided_by, note, now_utc()])
    retrying(write)


def person_records(con: duckdb.DuckDBPyConnection, patient_key: str) -> list[str]:
    """Every patient key of the person ``patient_key`` belongs to (itself included)."""
    rows = con.execute(
        "SELECT patient_key FROM patient_identity WHERE person_key = "
        "(SELECT coalesce(max(person_key), ?) FROM patient_identity WHERE patient_key = ?) "
        "ORDER BY patient_key", [patient_key, patient_key]).fetchall()
    return [r[0] for r in rows] or [patient_key]


def pair_quality(predicted: dict[str, str], truth: dict[str, object]) -> dict[str, float]:
    """Pairwise precision and recall of a linkage against the true person of each record."""
    def pairs(assign: Mapping[str, object]) -> set[frozenset[str]]:
        groups: defaultdict[object, list[str]] = defaultdict(list)
        for key, person in assign.items():
            groups[person].append(key)
        return {frozenset(p) for keys in groups.values() for p in combinations(sorted(keys), 2)}
    keys = set(predicted) & set(truth)
    got = pairs({k: predicted[k] for k in keys})
    want = pairs({k: truth[k] for k in keys})
    true_positive = len(got & want)
    return {"predicted_pairs": len(got), "true_pairs": len(want), "correct_pairs": true_positive,
            "precision": true_positive / len(got) if got else 1.0,
            "recall": true_positive / len(want) if want else 1.0}
