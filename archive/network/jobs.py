"""What a pull worker is given (a study to fetch) and gives back (what came of it), by any protocol.

Kept apart from the DIMSE code so the DICOMweb workers never load the DICOM network toolkit.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StudyJob:
    """One study to bring into the archive from a node."""

    study_uid: str
    sop_classes: list[str] = field(default_factory=list)   # SOPClassesInStudy, when the node says
    expected: int | None = None                            # NumberOfStudyRelatedInstances
    have: frozenset[str] = frozenset()                     # SOP Instance UIDs already archived


@dataclass
class StudyResult:
    study_uid: str
    received: int = 0                                     # instances that arrived in this job
    failures: list[tuple[str, str]] = field(default_factory=list)   # (SOP Instance UID, reason)
    error: str | None = None                              # one line naming node and study
    unreachable: bool = False                             # the node could not be reached at all
    listed: int | None = None                             # instances the node listed, when asked
    complete: bool = False
    problems: list[str] = field(default_factory=list)     # malformed answers met, skipped
    outcomes: list = field(default_factory=list)          # what receive() produced (C-GET workers)
