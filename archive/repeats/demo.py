"""The demo archive's repeat-exam story: coverage, prior uses with known outcomes, linked identity.

``limestone demo`` calls ``seed_demo(con, home, manifest)`` after importing the generated files. It

- marks every demo site as in the regional archive since the demo's first day, so a study is
  available to the region as soon as it is made (the demo's own assumption);
- records prior uses with outcomes known from the manifest's true histories: for some studies
  with no exam of their class in the following months, the study is retrieved or compared at
  another hospital a few days later (an **avoided** repeat); for some avoidable repeats, the prior
  is opened in a comparison after the repeat on the same day (**repeated**, the usual story);
- links the patient records and refreshes the repeat facts (``archive.repeats.update``).

At most one use per person and exam class, so every use is its own episode and the expected
numbers (``DemoRepeats``) follow directly. Event ids are derived from the study UIDs, so running
the demo again adds nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import duckdb

from archive.demo.exams import exam
from archive.demo.histories import START
from archive.demo.manifest import Manifest, StudyEntry
from archive.home import Home
from archive.repeats.classes import set_archive_coverage
from archive.repeats.prior_use import KINDS, record_prior_use
from archive.repeats.update import bring_up_to_date

# The demo's exam keys are the store's exam classes, except this one the department names otherwise.
DEMO_CLASS = {"XR_CHEST_AP": "XR_CHEST_PORTABLE"}


def exam_class(key: str) -> str:
    return DEMO_CLASS.get(key, key)


@dataclass
class DemoRepeats:
    """The prior uses written, and what the repeat views must make of them."""

    avoided: list[tuple[str, str]] = field(default_factory=list)     # (prior UID, requesting site)
    repeated: list[tuple[str, str]] = field(default_factory=list)

    def avoided_by_class(self, manifest: Manifest) -> Counter:
        return Counter(exam_class(manifest.study(uid).exam) for uid, _ in self.avoided)

    def avoided_by_site(self) -> Counter:
        return Counter(site for _, site in self.avoided)


def _other_site(study: StudyEntry, sites: list[str], n: int) -> str:
    choices = [s for s in sites if s != study.site]
    return choices[n % len(choices)]


def plan_uses(manifest: Manifest) -> tuple[DemoRepeats, list[tuple[StudyEntry, str, str, datetime, str]]]:
    """The uses to record: (prior, kind, requesting site, when, expected outcome)."""
    studies = sorted(manifest.studies, key=lambda s: (s.study_datetime, s.study_instance_uid))
    by_person_exam: dict[tuple[int, str], list[StudyEntry]] = {}
    for s in studies:
        by_person_exam.setdefault((s.person, s.exam), []).append(s)
    used: set[tuple[int, str]] = set()
    uses, expected = [], DemoRepeats()
    # Repeated: a comparison of the prior right after an avoidable repeat, every second one.
    for n, repeat in enumerate(s for s in studies if s.avoidable):
        key = (repeat.person, repeat.exam)
        if n % 2 or key in used or repeat.repeat_of is None:   # an avoidable repeat has its prior
            continue
        prior = manifest.study(repeat.repeat_of)
        when = repeat.study_datetime + timedelta(minutes=30)
        uses.append((prior, "compared", repeat.site, when, "repeated"))
        expected.repeated.append((prior.study_instance_uid, repeat.site))
        used.add(key)
    # Avoided: a study with no exam of its class for twice the window, used elsewhere 2-8 days later.
    eligible = 0
    for s in studies:
        key = (s.person, s.exam)
        if key in used:
            continue
        window = exam(s.exam).window_days
        when = datetime.combine(s.study_date + timedelta(days=2 + len(uses) % 7), time(10, 15))
        later = [t for t in by_person_exam[key] if t.study_datetime > s.study_datetime
                 and (t.study_date - s.study_date).days <= 2 * window + 10]
        if later:
            continue
        eligible += 1
        if eligible % 3:
            continue
        site = _other_site(s, manifest.sites, eligible)
        uses.append((s, KINDS[(eligible // 3) % 2], site, when, "avoided"))
        expected.avoided.append((s.study_instance_uid, site))
        used.add(key)
    return expected, uses


def seed_demo(con: duckdb.DuckDBPyConnection, home: Home, manifest: Manifest,
              updated_by: str = "demo") -> DemoRepeats:
    """Coverage, prior uses and linked identity for a demo archive just imported; see the module doc."""
    for site in manifest.sites:
        set_archive_coverage(con, site, START, updated_by)
    expected, uses = plan_uses(manifest)
    for prior, kind, site, when, _ in uses:
        record_prior_use(con, prior.study_instance_uid, kind, site=site, used_at=when,
                         user_id="demo", event_id=f"demo:{prior.study_instance_uid}:{kind}")
    bring_up_to_date(con, home, force=True)
    return expected
