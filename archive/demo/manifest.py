"""What a demo build made: people, their MRNs, studies and series, with ground-truth labels.

Tests and later features assert against this instead of re-deriving the scenario. The repeat
labels follow the repeat-exam issue's definitions on the *true* identity of each person (which the
archive itself has to discover by linking MRNs): a study is a repeat when the same person had a
study of the same exam class within the class's window before it (calendar days, inclusive, same
day included); it is avoidable when such an earlier study was done at another site (in the demo every
study is in the regional archive from the day it was made).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from archive.demo.exams import exam

DEFAULT_PATIENTS = 40   # people in the demo archive unless asked otherwise
DEFAULT_SEED = 2024     # the same seed writes the same files


@dataclass
class SeriesEntry:
    series_instance_uid: str
    series_number: int
    modality: str
    description: str
    sop_class_uid: str
    frame_of_reference_uid: str | None
    instances: int
    slice_thickness: float | None = None
    anatomy_start_mm: float | None = None     # anatomy at the first slice, shared scale per person


@dataclass
class StudyEntry:
    study_instance_uid: str
    accession_number: str
    person: int
    patient_id: str
    issuer_of_patient_id: str
    site: str
    exam: str
    modality: str
    body_part: str
    description: str
    study_datetime: datetime
    scenario: str
    intent: str
    offset_mm: tuple[float, float, float]
    series: list[SeriesEntry] = field(default_factory=list)
    repeat_of: str | None = None              # the earlier same-class study within the window
    avoidable: bool = False                   # a study within the window was done at another site
    prior_uids: list[str] = field(default_factory=list)   # all earlier same-class studies

    @property
    def instances(self) -> int:
        return sum(s.instances for s in self.series)

    @property
    def study_date(self) -> date:
        return self.study_datetime.date()


@dataclass
class PersonEntry:
    index: int
    name: str
    birth_date: date
    sex: str
    health_card: str
    card_recorded: bool
    home_site: str
    storyline: str
    mrns: dict[str, str] = field(default_factory=dict)        # site -> PatientID
    namesake_of: int | None = None                           # same name/birth date/sex, other person


@dataclass
class Manifest:
    seed: int
    patients: int
    sites: list[str]
    people: list[PersonEntry]
    studies: list[StudyEntry]
    folder: Path | None = None

    # ---- views tests use ------------------------------------------------------------------------
    @property
    def instances(self) -> int:
        return sum(s.instances for s in self.studies)

    @property
    def patient_ids(self) -> set[tuple[str, str]]:
        """Every (PatientID, issuer) made: one per person and site visited."""
        return {(s.patient_id, s.issuer_of_patient_id) for s in self.studies}

    def studies_by_modality(self) -> Counter:
        return Counter(s.modality for s in self.studies)

    def instances_by_modality(self) -> Counter:
        counts: Counter = Counter()
        for study in self.studies:
            counts[study.modality] += study.instances
        return counts

    def repeats(self) -> list[StudyEntry]:
        return [s for s in self.studies if s.repeat_of]

    def avoidable_repeats(self) -> list[StudyEntry]:
        return [s for s in self.studies if s.avoidable]

    def study(self, uid: str) -> StudyEntry:
        return next(s for s in self.studies if s.study_instance_uid == uid)

    def to_json(self) -> str:
        def default(value: object) -> str:
            if isinstance(value, (date, datetime)):
                return value.isoformat()
            if isinstance(value, Path):
                return str(value)
            raise TypeError(type(value))
        body = {k: v for k, v in asdict(self).items() if k != "folder"}
        return json.dumps(body, default=default, indent=1)


def label_repeats(studies: list[StudyEntry]) -> None:
    """Fill ``repeat_of``, ``avoidable`` and ``prior_uids`` from each person's true history."""
    earlier: dict[tuple[int, str], list[StudyEntry]] = {}
    for study in sorted(studies, key=lambda s: (s.study_datetime, s.study_instance_uid)):
        priors = earlier.setdefault((study.person, study.exam), [])
        study.prior_uids = [p.study_instance_uid for p in priors]
        window = exam(study.exam).window_days
        recent = [p for p in priors if (study.study_date - p.study_date).days <= window]
        if recent:
            study.repeat_of = recent[-1].study_instance_uid
            study.avoidable = any(p.site != study.site for p in recent)
        priors.append(study)
