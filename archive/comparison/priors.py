"""Relevant priors: a patient's earlier studies across all sites, ranked for a comparison.

``relevant_priors(con, study_instance_uid)`` finds every study of the same person (see
``archive.store.queries.compare.same_person_keys``: the regional identity when linked, else
PatientID + issuer and exact demographics) done before the current one, and ranks them.

The score (0..1) is a weighted sum, highest first; ties go to the more recent study:

- modality, 0.40: a modality in common (CR and DX count as the same radiograph family: 0.30);
- body part, 0.25: equal or the same region under another name (HEAD and BRAIN); 0.12 when one
  contains the other (CHEST in CHESTABDPELVIS);
- description, 0.20 x similarity of the normalised descriptions (word overlap and spelling);
- recency, 0.15 x 0.5 ** (years before the current study): a prior loses half its recency each year.

So a same-modality, same-body-part prior always ranks above any other kind of study, and among
comparable ones the closer description, then the more recent, comes first.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from difflib import SequenceMatcher
from typing import Any, Iterable

import duckdb
import pandas as pd

from archive.store.queries import browse
from archive.store.queries.compare import prior_candidates, same_person_keys

WEIGHTS = {"modality": 0.40, "body_part": 0.25, "description": 0.20, "recency": 0.15}
FAMILIES = {"CR": "XR", "DX": "XR", "RG": "XR", "DR": "XR", "PT": "PT", "NM": "NM"}
# Words that say little about what was imaged (they differ between sites for the same exam).
# Body part names that are the same region for a comparison (BodyPartExamined varies by site).
_SAME_REGION = [{"HEAD", "BRAIN", "SKULL"}, {"CHEST", "THORAX", "LUNG", "LUNGS"},
                {"ABDOMEN", "ABD"}, {"ABDOMENPELVIS", "ABDPELVIS"}, {"BREAST", "MAMMO"},
                {"LSPINE", "LUMBARSPINE"}, {"CSPINE", "CERVICALSPINE", "NECK"}]
_NOISE = {"WITH", "WITHOUT", "W", "WO", "AND", "OF", "THE", "EXAM", "STUDY", "ROUTINE", "VIEWS",
          "VIEW", "CONTRAST", "C", "NC", "IV", "PLAIN"}


@dataclass(frozen=True)
class Prior:
    """One earlier study of the patient, with its relevance to the current one."""

    study_instance_uid: str
    study_date: date
    site: str | None
    site_name: str | None
    modality: str
    body_part: str | None
    description: str | None
    days_before: int
    score: float
    patient_key: str | None = None

    @property
    def ago(self) -> str:
        """'3 days', '5 months', '2 years 1 month' before the current study."""
        return time_before(self.days_before)

    def as_json(self) -> dict[str, Any]:
        """The command line's contract: study UID, date, site, modality, description, score."""
        return {"study_instance_uid": self.study_instance_uid, "study_date": self.study_date.isoformat(),
                "site": self.site, "modality": self.modality, "description": self.description,
                "score": self.score, "body_part": self.body_part, "days_before": self.days_before}

    def as_row(self) -> dict[str, Any]:
        return asdict(self) | {"ago": self.ago}


def time_before(days: int) -> str:
    """A plain duration: 'same day', '3 days', '5 weeks', '5 months', '2 years 1 month'."""
    if days <= 0:
        return "same day"
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    if days < 61:
        return f"{days // 7} weeks"
    months = round(days / 30.44)
    if months < 24:
        return f"{months} months"
    years, rest = divmod(months, 12)
    return f"{years} years" + (f" {rest} month{'s' if rest != 1 else ''}" if rest else "")


def family(modality: str | None) -> str:
    modality = (modality or "").upper()
    return FAMILIES.get(modality, modality)


def _words(text: str | None) -> list[str]:
    words = re.findall(r"[A-Z0-9]+", (text or "").upper())
    return [w for w in words if w not in _NOISE]


def description_similarity(a: str | None, b: str | None) -> float:
    """0..1: the better of word overlap (Jaccard) and spelling similarity of the meaningful words."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    jaccard = len(set(wa) & set(wb)) / len(set(wa) | set(wb))
    spelling = SequenceMatcher(None, " ".join(wa), " ".join(wb)).ratio()
    return round(max(jaccard, spelling), 4)


def _norm_part(part: str | None) -> str:
    return re.sub(r"[^A-Z]", "", (part or "").upper())


def modality_score(current: Iterable[str], prior: Iterable[str]) -> float:
    current, prior = {m.upper() for m in current if m}, {m.upper() for m in prior if m}
    if current & prior:
        return 1.0
    if {family(m) for m in current} & {family(m) for m in prior}:
        return 0.75
    return 0.0


def body_part_score(current: str | None, prior: str | None) -> float:
    a, b = _norm_part(current), _norm_part(prior)
    if not a or not b:
        return 0.0
    if a == b or any(a in group and b in group for group in _SAME_REGION):
        return 1.0
    if a in b or b in a:
        return 0.48
    return 0.0


def score(current: dict[str, Any], prior: dict[str, Any], days_before: int) -> float:
    """The relevance of ``prior`` to ``current`` (rows with modalities, body part, description)."""
    total = (WEIGHTS["modality"] * modality_score(_list(current.get("modalities")), _list(prior.get("modalities")))
             + WEIGHTS["body_part"] * body_part_score(current.get("body_part_examined"),
                                                      prior.get("body_part_examined"))
             + WEIGHTS["description"] * description_similarity(current.get("study_description"),
                                                               prior.get("study_description"))
             + WEIGHTS["recency"] * 0.5 ** (max(days_before, 0) / 365.25))
    return round(total, 3)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in value if v is not None and v == v]
    except TypeError:
        return []


def _day(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def rank(current: dict[str, Any], candidates: pd.DataFrame) -> list[Prior]:
    """Score and order candidate rows (``compare_prior_candidates``) against the current study row."""
    today = _day(current.get("study_date"))
    priors = []
    for row in candidates.to_dict("records"):
        when = _day(row.get("study_date"))
        if when is None:
            continue
        days = (today - when).days if today else 0
        modalities = _list(row.get("modalities"))
        priors.append(Prior(row["study_instance_uid"], when, row.get("site"), row.get("site_name"),
                            "/".join(modalities), row.get("body_part_examined"),
                            row.get("study_description"), days, score(current, row, days),
                            row.get("patient_key")))
    return sorted(priors, key=lambda p: (-p.score, p.days_before, p.study_instance_uid))


def relevant_priors(con: duckdb.DuckDBPyConnection, study_instance_uid: str,
                    limit: int | None = None, current: dict[str, Any] | None = None) -> list[Prior]:
    """The ranked priors of a study; raises LookupError when the study is not in the store.

    ``current``: the study's row from ``browse.study`` when the caller has read it already (one
    query fewer).
    """
    current = current if current is not None else browse.study(con, study_instance_uid)
    if current is None:
        raise LookupError("the study is not in the archive")
    keys = same_person_keys(con, current["patient_key"]) if current.get("patient_key") else []
    if not keys:
        return []
    ranked = rank(current, prior_candidates(con, study_instance_uid, keys))
    return ranked[:limit] if limit else ranked
