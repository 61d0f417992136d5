"""Longitudinal imaging histories: the storylines that make the demo archive tell a story.

Each person follows one storyline (an oncology patient with CT follow-ups, an emergency transfer
scanned twice, a screening mammography programme...). The first people of every demo follow the
storylines in ``STORYLINE_ORDER`` so that even a five-patient demo holds every modality, repeats at
another site (avoidable), repeats at the same site and cross-site follow-ups; later people draw a
storyline at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable

import numpy as np

from archive.demo.patients import Person

START = date(2019, 1, 7)
END = date(2024, 12, 20)
CENTRE = "CITY"                  # the regional centre: MR, oncology, transfers
MG_SITES = ("COAST", "CITY")


@dataclass(frozen=True)
class PlannedStudy:
    """A study the generator will write, before it has UIDs."""

    person: int
    site: str
    exam: str
    when: datetime
    scenario: str                 # the storyline that made it
    intent: str                   # baseline | follow_up | routine | screening | recall |
                                  # repeat_same_site | repeat_other_site
    offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)   # patient position on the table


class _Plan:
    """Collects one person's studies, keeping them inside the demo period."""

    def __init__(self, person: Person, scenario: str, rng: np.random.Generator):
        self.person, self.scenario, self.rng = person, scenario, rng
        self.studies: list[PlannedStudy] = []

    def start(self, years_needed: float) -> date:
        span = (END - START).days - int(years_needed * 365)
        return START + timedelta(days=int(self.rng.integers(0, max(span, 1))))

    def add(self, site: str, exam: str, day: date, intent: str, *, night: bool = False,
            at: time | None = None) -> datetime | None:
        if day > END:
            return None
        if not night and at is None:
            day = _weekday(day)
        when = datetime.combine(day, at or (_night_time(self.rng) if night else _work_time(self.rng)))
        rng = self.rng
        offset = (round(float(rng.uniform(-6, 6)), 1), round(float(rng.uniform(-6, 6)), 1),
                  round(float(rng.uniform(-15, 15)), 1))
        self.studies.append(PlannedStudy(self.person.index, site, exam, when, self.scenario, intent, offset))
        return when

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=int(self.rng.integers(low, high + 1)))

    def other_site(self, *exclude: str, among: tuple[str, ...] = ("CITY", "NORTH", "VALLEY", "COAST")) -> str:
        choices = [s for s in among if s not in exclude]
        return choices[int(self.rng.integers(len(choices)))]


def _weekday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)


def _work_time(rng: np.random.Generator) -> time:
    minutes = int(rng.integers(7 * 60 + 30, 17 * 60 + 30))
    return time(minutes // 60, minutes % 60, int(rng.integers(0, 60)))


def _night_time(rng: np.random.Generator) -> time:
    minutes = int(rng.integers(19 * 60, 30 * 60)) % (24 * 60)
    return time(minutes // 60, minutes % 60, int(rng.integers(0, 60)))


# ---- storylines ---------------------------------------------------------------------------------
def oncology(plan: _Plan) -> None:
    """CT staging at the centre, follow-ups every 3-4 months, one of them at the home hospital."""
    home = plan.person.home_site if plan.person.home_site != CENTRE else "NORTH"
    day = plan.start(1.5)
    plan.add(home, "XR_CHEST", day - plan.days(10, 20), "routine")
    plan.add(CENTRE, "CT_CAP", day, "baseline")
    count = int(plan.rng.integers(2, 5))
    away = int(plan.rng.integers(1, count + 1))
    for n in range(1, count + 1):
        day = day + plan.days(80, 120)
        plan.add(home if n == away else CENTRE, "CT_CAP", day, "follow_up")


def breast(plan: _Plan) -> None:
    """Biennial screening mammography, a recall with diagnostic views and ultrasound."""
    site = MG_SITES[int(plan.rng.integers(len(MG_SITES)))]
    day = plan.start(4.5)
    for n in range(3):
        plan.add(site, "MG_SCREEN", day, "screening")
        if n == 1:
            recall = day + plan.days(10, 20)
            plan.add(CENTRE, "MG_DIAG", recall, "recall")
            plan.add(CENTRE, "US_BREAST", recall, "recall")
        if n == 0 and plan.rng.random() < 0.5:
            # screened again elsewhere within the window: the earlier images were in the archive
            plan.add(plan.other_site(site, among=MG_SITES), "MG_SCREEN", day + plan.days(60, 120),
                     "repeat_other_site")
        day = day + plan.days(700, 760)


def emergency_transfer(plan: _Plan) -> None:
    """Head CT and chest film at a district hospital at night, both repeated after transfer."""
    district = plan.other_site(CENTRE)
    day = plan.start(0.5)
    scanned = plan.add(district, "CT_HEAD", day, "baseline", night=True)
    if scanned is None:   # the story would start after the demo's last day
        return
    plan.add(district, "XR_CHEST_AP", day, "routine", at=(scanned - timedelta(minutes=25)).time())
    moved = scanned + timedelta(hours=int(plan.rng.integers(4, 20)))
    plan.add(CENTRE, "CT_HEAD", moved.date(), "repeat_other_site", at=moved.time())
    plan.add(CENTRE, "XR_CHEST_AP", moved.date() + plan.days(1, 3), "repeat_other_site")
    plan.add(CENTRE, "MR_BRAIN", day + plan.days(21, 42), "follow_up")
    plan.add(CENTRE, "CT_HEAD", day + plan.days(85, 100), "follow_up")


def knee(plan: _Plan) -> None:
    """Knee radiograph repeated at the same site, MR at the centre, yearly control film."""
    home = plan.person.home_site
    day = plan.start(1.2)
    plan.add(home, "XR_KNEE", day, "baseline")
    plan.add(home, "XR_KNEE", day + plan.days(2, 6), "repeat_same_site")
    plan.add(CENTRE, "MR_KNEE", day + plan.days(21, 35), "follow_up")
    plan.add(home, "XR_KNEE", day + plan.days(350, 380), "follow_up")


def abdominal(plan: _Plan) -> None:
    """Abdominal ultrasound at home, CT and a second ultrasound at the centre within weeks."""
    home = plan.person.home_site if plan.person.home_site != CENTRE else "VALLEY"
    day = plan.start(1.2)
    plan.add(home, "US_ABD", day, "baseline")
    plan.add(CENTRE, "CT_ABD", day + plan.days(7, 12), "follow_up")
    plan.add(CENTRE, "US_ABD", day + plan.days(14, 20), "repeat_other_site")
    plan.add(home, "US_ABD", day + plan.days(350, 380), "follow_up")


def neuro(plan: _Plan) -> None:
    """Brain MR at the centre a year apart, one extra at NORTH within weeks, a lumbar spine MR."""
    day = plan.start(1.5)
    for n in range(2):
        plan.add(CENTRE, "MR_BRAIN", day, "baseline" if n == 0 else "follow_up")
        if n == 1:
            plan.add("NORTH", "MR_BRAIN", day + plan.days(30, 45), "repeat_other_site")
            plan.add("NORTH", "MR_LSPINE", day + plan.days(100, 200), "routine")
        day = day + plan.days(350, 380)


def chronic_chest(plan: _Plan) -> None:
    """Yearly chest films; a same-day retake and a film elsewhere exactly at the window's edge."""
    home = plan.person.home_site
    day = plan.start(4.2)
    for n in range(4):
        first = plan.add(home, "XR_CHEST", day, "baseline" if n == 0 else "follow_up")
        if n == 1 and first:
            plan.add(home, "XR_CHEST", first.date(), "repeat_same_site",
                     at=(first + timedelta(minutes=40)).time() if first.hour < 23 else first.time())
        if n == 2 and first:
            plan.add(plan.other_site(home), "XR_CHEST", first.date() + timedelta(days=14),
                     "repeat_other_site", at=time(11, 0))
        day = day + plan.days(350, 380)


def namesake_visit(plan: _Plan) -> None:
    """A different person who shares name, birth date and sex with person 0: two ordinary visits."""
    home = plan.person.home_site
    day = plan.start(1)
    plan.add(home, "XR_HAND", day, "routine")
    plan.add(home, "US_THYROID", day + plan.days(30, 200), "routine")


_ROUTINE = (("XR_CHEST", 4), ("XR_HAND", 2), ("XR_KNEE", 2), ("CT_CHEST", 2), ("CT_HEAD", 1),
            ("US_ABD", 2), ("US_THYROID", 1), ("MR_LSPINE", 1), ("CT_ABD", 1))


def routine(plan: _Plan) -> None:
    """One to three unrelated exams at the home hospital (CT at the centre for some)."""
    keys = [k for k, _ in _ROUTINE]
    weights = np.array([w for _, w in _ROUTINE], float)
    day = plan.start(2)
    for _ in range(int(plan.rng.integers(1, 4))):
        key = keys[int(plan.rng.choice(len(keys), p=weights / weights.sum()))]
        site = CENTRE if key.startswith("MR") else plan.person.home_site
        plan.add(site, key, day, "routine")
        day = day + plan.days(90, 500)


STORYLINES: dict[str, Callable[[_Plan], None]] = {
    "oncology": oncology, "breast": breast, "emergency_transfer": emergency_transfer,
    "knee": knee, "abdominal": abdominal, "neuro": neuro, "chronic_chest": chronic_chest,
    "namesake": namesake_visit, "routine": routine,
}
# The first people follow these in order: five people already cover CT, MR, US, MG and CR/DX.
STORYLINE_ORDER = ("oncology", "breast", "emergency_transfer", "knee", "abdominal", "neuro",
                   "chronic_chest", "namesake", "routine")
_RANDOM_WEIGHTS = {"oncology": 2, "breast": 2, "emergency_transfer": 2, "knee": 2, "abdominal": 2,
                   "neuro": 1, "chronic_chest": 2, "routine": 5}


def choose_storylines(count: int, rng: np.random.Generator) -> list[str]:
    """The storyline of each of ``count`` people."""
    names = list(STORYLINE_ORDER[:count])
    keys = list(_RANDOM_WEIGHTS)
    weights = np.array([_RANDOM_WEIGHTS[k] for k in keys])
    while len(names) < count:
        names.append(keys[int(rng.choice(len(keys), p=weights / weights.sum()))])
    return names


def plan_history(person: Person, storyline: str, rng: np.random.Generator) -> list[PlannedStudy]:
    """The studies one person has over the demo period, in time order."""
    plan = _Plan(person, storyline, rng)
    STORYLINES[storyline](plan)
    return sorted(plan.studies, key=lambda s: s.when)
