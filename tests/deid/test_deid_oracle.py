"""Our PS3.15 Table E.1-1 against an outside copy: dicom-anonymizer's databases of the same table."""

from __future__ import annotations

import pytest
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.dataset import Dataset

from archive.deid import DeidKey, Options, deidentify
from archive.deid.profile import rules

# dicom-anonymizer's category of Table E.1-1 -> the basic action as printed in the table.
CATEGORIES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
              "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}
EDITIONS = ["dicomfields_2023", "dicomfields_2024b", "dicomfields_2026c"]
NEWEST = EDITIONS[-1]


def _listed(edition: str) -> dict[int, str]:
    database = dicom_anonymization_database_selector(edition)
    return {(entry[0] << 16) | entry[1]: action
            for category, action in CATEGORIES.items() for entry in database[category] if len(entry) == 2}


def _masked(edition: str) -> list[tuple[int, int, int, int]]:
    database = dicom_anonymization_database_selector(edition)
    return [entry for category in CATEGORIES for entry in database[category] if len(entry) == 4]


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_attribute_the_oracle_lists_is_in_our_profile(edition):
    ours = rules()
    missing = sorted(f"({tag >> 16:04X},{tag & 0xFFFF:04X})" for tag in _listed(edition) if tag not in ours)
    assert missing == []


def test_our_basic_actions_are_the_newest_tables():
    ours = rules()
    differ = {f"({tag >> 16:04X},{tag & 0xFFFF:04X})": (ours[tag].action, action)
              for tag, action in _listed(NEWEST).items() if tag in ours and ours[tag].action != action}
    assert differ == {}


def test_masked_groups_the_oracle_lists_are_removed():
    masks = _masked(NEWEST)
    assert masks, "the oracle lists curves and overlays by mask"
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.3.4"
    tags = []
    for group, element, group_mask, element_mask in masks:
        tag = ((group | (0x02 & ~group_mask & 0xFFFF)) << 16) | (element | (0x10 & ~element_mask & 0xFFFF))
        ds.add_new(tag, "LO" if (tag & 0xFFFF) != 0x3000 else "OB",
                   "x" if (tag & 0xFFFF) != 0x3000 else b"\x00\x01")
        tags.append(tag)
    deidentify(ds, Options(), DeidKey(b"k" * 32))
    assert [f"{t:08X}" for t in tags if t in ds] == []


def test_waveform_annotation_text_is_removed():
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.3.4"
    note = Dataset()
    note.UnformattedTextValue = "Pt Jane Example, MRN 12345, fainted at 14:02"
    ds.WaveformAnnotationSequence = [note]
    deidentify(ds, Options(), DeidKey(b"k" * 32))
    assert "WaveformAnnotationSequence" not in ds
