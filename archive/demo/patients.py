"""Demo people: clearly fake names and identifiers, one MRN per site a person visits.

Every name has the family name ``DEMO-<word>`` and every identifier starts with ``DEMO``, so a demo
record can never be mistaken for a real patient's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

FAMILY_WORDS = (
    "ALDER", "BASALT", "BIRCH", "CEDAR", "CHALK", "COBALT", "DUNE", "ELM", "FLINT", "GARNET",
    "GRANITE", "HAZEL", "HEATH", "JASPER", "JUNIPER", "LARCH", "MAPLE", "MARBLE", "OAK", "ONYX",
    "PINE", "QUARTZ", "ROWAN", "SHALE", "SLATE", "SPRUCE", "TOPAZ", "WILLOW", "YEW", "ZINC",
)
GIVEN_F = ("ALICE", "BEA", "CLARA", "DORA", "EDIE", "FAYE", "GWEN", "HELGA", "IRIS", "JUNE",
           "KAYA", "LENA", "MILA", "NORA", "OLGA", "PIA", "RUTH", "SIGNE", "TILDA", "VERA")
GIVEN_M = ("ARNE", "BORIS", "CARL", "DAG", "EMIL", "FINN", "GUS", "HUGO", "IVAR", "JONAS",
           "KARL", "LEIF", "MATS", "NILS", "OTTO", "PER", "ROLF", "SVEN", "TOR", "VIGGO")
INITIALS = "ABCDEFGHJKLMNPRSTW"

HEALTH_CARD_ISSUER = "DEMO-REGION-HC"


@dataclass(frozen=True)
class Person:
    """One synthetic person. ``index`` is the ground-truth identity across all sites."""

    index: int
    name: str                      # DICOM PN: DEMO-<WORD>^<GIVEN>^<INITIAL>
    birth_date: date
    sex: str                       # F | M
    health_card: str               # regional health-card number (fake)
    card_recorded: bool            # whether the sites put it in OtherPatientIDs
    home_site: str
    body_size: float               # scales the phantom so one person's exams look alike


def make_people(count: int, rng: np.random.Generator, site_codes: list[str]) -> list[Person]:
    """``count`` people with unique names, birth dates 1940-1999 and home sites."""
    people, used = [], set()
    for index in range(count):
        sex = "F" if rng.random() < 0.5 else "M"
        givens = GIVEN_F if sex == "F" else GIVEN_M
        while True:
            name = (f"DEMO-{FAMILY_WORDS[rng.integers(len(FAMILY_WORDS))]}"
                    f"^{givens[rng.integers(len(givens))]}^{INITIALS[rng.integers(len(INITIALS))]}")
            if name not in used:
                break
        used.add(name)
        born = date(1940, 1, 1) + timedelta(days=int(rng.integers(0, 60 * 365)))
        card = f"DEMO-HC-{rng.integers(1000, 10000)}-{index:05d}"
        people.append(Person(index, name, born, sex, card, bool(rng.random() < 0.6),
                             site_codes[int(rng.integers(len(site_codes)))],
                             float(rng.uniform(0.88, 1.04))))
    return people


def namesake(person: Person, index: int, rng: np.random.Generator, home_site: str) -> Person:
    """A different person with the same name, birth date and sex (a linker's hard case)."""
    return Person(index, person.name, person.birth_date, person.sex,
                  f"DEMO-HC-{rng.integers(1000, 10000)}-{index:05d}", True, home_site,
                  float(rng.uniform(0.88, 1.04)))


class MrnBook:
    """Hands out each site's MRNs (``DEMO-<letter>-000123``) in order of first visit."""

    def __init__(self, letters: dict[str, str]):
        self.letters = letters
        self._next = {code: 100 + 37 * n for n, code in enumerate(letters)}
        self.mrns: dict[tuple[int, str], str] = {}

    def mrn(self, person: int, site: str) -> str:
        key = (person, site)
        if key not in self.mrns:
            self.mrns[key] = f"DEMO-{self.letters[site]}-{self._next[site]:06d}"
            self._next[site] += 1
        return self.mrns[key]
