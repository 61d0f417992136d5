"""The PS3.15 Basic Application Level Confidentiality Profile as data, and its options.

``profile.tsv`` beside this module lists the attributes of PS3.15 Annex E Table E.1-1 that Limestone
handles, each with the basic action and the option (if any) that changes it. ``Options`` says which
of the profile's options an export applies; ``effective_action`` resolves the table's combined
actions (X/Z, X/D, ...) and the options into one of:

``K`` keep, ``X`` remove, ``Z`` empty, ``D`` dummy value, ``U`` consistent new UID,
``C`` clean a descriptor, ``S`` shift a date (Retain Longitudinal Temporal Information with
Modified Dates), ``R`` keep a sequence and apply the profile to its items.

Combined actions are resolved to the least revealing choice that keeps the object valid: ``X/Z``,
``Z/D`` and ``X/Z/D`` become ``Z`` (type 2 attributes stay present, empty), ``X/D`` becomes ``X``
(those attributes are optional in the image IODs), ``X/Z/U*`` on a reference sequence keeps it and
gives every UID inside a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

_TABLE = Path(__file__).with_name("profile.tsv")

DATE_VRS = ("DA", "DT")
TIME_VRS = ("TM",)


class DatesValues(str, Enum):
    """What happens to dates and times: the basic profile removes them, or one of its two options."""

    REMOVE = "remove"   # the basic profile's actions
    KEEP = "keep"       # Retain Longitudinal Temporal Information with Full Dates Option
    SHIFT = "shift"     # Retain Longitudinal Temporal Information with Modified Dates Option


@dataclass(frozen=True)
class Options:
    """The profile options an export applies (default: the basic profile with descriptors cleaned
    and patient characteristics and device identity kept, dates removed)."""

    dates: DatesValues = DatesValues.REMOVE
    keep_uids: bool = False                  # Retain UIDs Option
    patient_characteristics: bool = True     # Retain Patient Characteristics Option
    device_identity: bool = True             # Retain Device Identity Option
    clean_descriptors: bool = True           # Clean Descriptors Option

    def __post_init__(self):
        object.__setattr__(self, "dates", DatesValues(self.dates))

    def method_codes(self) -> list[tuple[str, str]]:
        """CID 7050 codes (DCM) of the profile and its options, for DeidentificationMethodCodeSequence."""
        codes = [("113100", "Basic Application Confidentiality Profile")]
        if self.clean_descriptors:
            codes.append(("113105", "Clean Descriptors Option"))
        if self.dates is DatesValues.KEEP:
            codes.append(("113106", "Retain Longitudinal Temporal Information Full Dates Option"))
        if self.dates is DatesValues.SHIFT:
            codes.append(("113107", "Retain Longitudinal Temporal Information Modified Dates Option"))
        if self.patient_characteristics:
            codes.append(("113108", "Retain Patient Characteristics Option"))
        if self.device_identity:
            codes.append(("113109", "Retain Device Identity Option"))
        if self.keep_uids:
            codes.append(("113110", "Retain UIDs Option"))
        return codes


@dataclass(frozen=True)
class Rule:
    tag: int
    keyword: str
    action: str          # as printed in Table E.1-1, e.g. "X/Z/D"
    option: str          # "", "patient", "device", "clean" or "nodates"


@cache
def rules() -> dict[int, Rule]:
    """The profile's table, by tag."""
    found: dict[int, Rule] = {}
    for line in _TABLE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        tag_text, keyword, action = parts[:3]
        option = parts[3] if len(parts) > 3 else ""
        tag = int(tag_text[1:5] + tag_text[6:10], 16)
        found[tag] = Rule(tag, keyword, action, option)
    return found


_COMBINED = {"X/Z": "Z", "Z/D": "Z", "X/Z/D": "Z", "X/D": "X", "X/Z/U*": "R"}


def effective_action(rule: Rule, vr: str, options: Options) -> str:
    """The one action to take on an attribute of value representation ``vr`` under ``options``."""
    if rule.option == "patient" and options.patient_characteristics:
        return "K"
    if rule.option == "device" and options.device_identity:
        return "K"
    if rule.option == "clean" and options.clean_descriptors:
        return "R" if vr == "SQ" else "C"
    if vr in DATE_VRS + TIME_VRS and rule.option != "nodates":
        if options.dates is DatesValues.KEEP:
            return "K"
        if options.dates is DatesValues.SHIFT:
            return "S" if vr in DATE_VRS else "K"
    action = _COMBINED.get(rule.action, rule.action)
    if action == "U" and options.keep_uids:
        return "K"
    if action == "D" and vr == "SQ":
        return "R"   # a dummy sequence: keep its items, each de-identified by the table
    return action
