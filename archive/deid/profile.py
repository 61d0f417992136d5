"""The PS3.15 Basic Application Level Confidentiality Profile as data, and its options.

``profile.tsv`` beside this module lists every attribute of PS3.15 Annex E Table E.1-1, each with
the basic action and the actions of the options Limestone offers (plus a few additions of our own,
marked there). ``Options`` says which of the profile's options an export applies;
``effective_action`` resolves the table's combined actions (X/Z, X/D, ...) and the options into one
of:

``K`` keep, ``X`` remove, ``Z`` empty, ``D`` dummy value, ``U`` consistent new UID,
``C`` clean a descriptor, ``S`` shift a date (Retain Longitudinal Temporal Information with
Modified Dates), ``R`` keep a sequence and apply the profile to its items.

An option applied to an attribute replaces its basic action: ``K`` keeps it, ``C`` cleans it (the
Modified Dates option's ``C`` shifts a DA or DT by the patient's offset, keeps a TM, which a
whole-day shift leaves as it is, and on any other VR falls back to the basic action, since Limestone
cannot modify it). When two applied options list one attribute, the one that reveals less wins
(``C`` or ``S`` over ``K``: a device's calibration date is shifted under Modified Dates even with
Retain Device Identity).

Combined actions are resolved to the least revealing choice that keeps the object valid: ``X/Z``,
``Z/D`` and ``X/Z/D`` become ``Z`` (type 2 attributes stay present, empty), ``X/D`` becomes ``X``
(those attributes are optional in the image IODs), ``X/Z/U*`` on a reference sequence keeps it and
gives every UID inside a new one (``R``). On a sequence, ``K``, ``C`` and ``D`` become ``R`` (Table
E.1-1: keep means "cleaned for sequences"; a dummy sequence keeps its items, de-identified by the
table); ``D`` on a UID becomes ``U``.
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

    def __post_init__(self) -> None:
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


OPTION_NAMES = ("patient", "device", "clean", "uids", "fulldates", "modifieddates")
BASIC_ACTIONS = ("D", "Z", "X", "U", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*")
OPTION_ACTIONS = ("K", "C")


@dataclass(frozen=True)
class Rule:
    tag: int
    keyword: str
    action: str                              # as printed in Table E.1-1, e.g. "X/Z/D"
    options: tuple[tuple[str, str], ...] = ()  # (option, action), e.g. (("device", "K"),)


@cache
def rules() -> dict[int, Rule]:
    """The profile's table, by tag."""
    found: dict[int, Rule] = {}
    for line in _TABLE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        tag_text, keyword, action = parts[:3]
        pairs = [tuple(token.split(":", 1)) for token in (parts[3] if len(parts) > 3 else "").split()]
        options = tuple((o[0], o[1]) for o in pairs if len(o) == 2)
        tag = int(tag_text[1:5] + tag_text[6:10], 16)
        if (action not in BASIC_ACTIONS or tag in found
                or len(options) < len(pairs)
                or any(o[0] not in OPTION_NAMES or o[1] not in OPTION_ACTIONS for o in options)):
            raise ValueError(f"profile.tsv: bad or repeated row for {tag_text} {keyword}")
        found[tag] = Rule(tag, keyword, action, options)
    return found


_COMBINED = {"X/Z": "Z", "Z/D": "Z", "X/Z/D": "Z", "X/D": "X", "X/Z/U*": "R"}


def _applies(option: str, options: Options) -> bool:
    return {"patient": options.patient_characteristics, "device": options.device_identity,
            "clean": options.clean_descriptors, "uids": options.keep_uids,
            "fulldates": options.dates is DatesValues.KEEP,
            "modifieddates": options.dates is DatesValues.SHIFT}[option]


def effective_action(rule: Rule, vr: str, options: Options) -> str:
    """The one action to take on an attribute of value representation ``vr`` under ``options``."""
    chosen = []
    for option, action in rule.options:
        if not _applies(option, options):
            continue
        if option == "modifieddates":
            action = "S" if vr in DATE_VRS else "K" if vr in TIME_VRS else ""
        if action:
            chosen.append(action)
    if chosen:
        action = next((a for a in chosen if a != "K"), "K")   # the option that reveals less
    else:
        action = _COMBINED.get(rule.action, rule.action)
    if vr == "SQ" and action in ("K", "C", "D"):
        return "R"
    if vr == "UI" and action == "D":
        return "U"
    return action
