"""Status meanings, presentation contexts and C-FIND identifiers (no network)."""

from __future__ import annotations

from datetime import date

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from archive.network import contexts, status
from archive.network.query import (
    MalformedIdentifier,
    StudyFilter,
    parse_study,
    study_identifier,
)


def test_status_table():
    assert status.category(0x0000) == "success"
    assert status.category(0xFF00) == "pending"
    assert status.category(0xB000) == "warning"
    assert status.category(0xC123) == "failure"
    assert status.category(None) == "failure"
    assert status.describe(0xA801) == "0xA801 refused: move destination unknown"
    assert status.describe(0xC0FF) == "0xC0FF unable to process"
    assert "aborted" in status.describe(None)


def test_retrieve_contexts_one_per_syntax_and_at_most_128():
    ctx, roles = contexts.retrieve_contexts(["1.2.840.10008.5.1.4.1.1.2"], "1.2.840.10008.5.1.4.1.2.2.3")
    ct = [c for c in ctx if c.abstract_syntax == "1.2.840.10008.5.1.4.1.1.2"]
    assert all(len(c.transfer_syntax) == 1 for c in ct)
    syntaxes = {c.transfer_syntax[0] for c in ct}
    assert {ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000, RLELossless} <= syntaxes
    assert len(roles) == 1
    many, _ = contexts.retrieve_contexts(contexts.ALL_STORAGE_CLASSES[:120], "1.2.3", "1.2.4")
    assert len(many) <= 128
    with pytest.raises(ValueError):
        contexts.retrieve_contexts(contexts.ALL_STORAGE_CLASSES[:127], "1.2.3", "1.2.4")


def test_study_identifier_windows():
    ds = study_identifier(StudyFilter(since=date(2024, 1, 2), until=date(2024, 2, 3), modality="CT"))
    assert ds.QueryRetrieveLevel == "STUDY"
    assert ds.StudyDate == "20240102-20240203" and ds.ModalitiesInStudy == "CT"
    assert ds.NumberOfStudyRelatedInstances is None and ds.PatientID == ""
    assert study_identifier(StudyFilter(since=date(2024, 1, 2))).StudyDate == "20240102-"
    assert study_identifier(StudyFilter(until=date(2024, 1, 2))).StudyDate == "-20240102"
    with pytest.raises(ValueError, match="after"):
        StudyFilter(since=date(2024, 2, 1), until=date(2024, 1, 1))
    with pytest.raises(ValueError, match="not a valid Study Instance UID"):
        StudyFilter(study_uid="1.2.abc")


def test_parse_study_and_malformed_answers():
    ds = Dataset()
    ds.StudyInstanceUID = "1.2.3.4"
    ds.StudyDate = "20240105"
    ds.NumberOfStudyRelatedInstances = "12"
    ds.ModalitiesInStudy = ["CT", "SR"]
    ds.SOPClassesInStudy = ["1.2.840.10008.5.1.4.1.1.2", "not a uid"]
    study = parse_study(ds)
    assert (study.study_uid, study.study_date, study.remote_instances) == ("1.2.3.4", date(2024, 1, 5), 12)
    assert study.modalities == ["CT", "SR"] and study.sop_classes == ["1.2.840.10008.5.1.4.1.1.2"]
    bad = Dataset()
    bad.StudyInstanceUID = "1.2.x.4"
    with pytest.raises(MalformedIdentifier, match="valid StudyInstanceUID"):
        parse_study(bad)
    count = Dataset()
    count.StudyInstanceUID = "1.2.3.5"
    count.NumberOfStudyRelatedInstances = "-3"
    with pytest.raises(MalformedIdentifier, match="study 1.2.3.5: NumberOfStudyRelatedInstances"):
        parse_study(count)


def test_file_meta_matches_pynetdicom():
    from pynetdicom.dsutils import create_file_meta, encode_file_meta

    from archive.network.storage import file_meta_bytes

    for sop, instance, syntax in (("1.2.840.10008.5.1.4.1.1.2", "1.2.3.4", "1.2.840.10008.1.2.1"),
                                  ("1.2.840.10008.5.1.4.1.1.7", "1.2.3.45", "1.2.840.10008.1.2.4.90")):
        expected = b"\x00" * 128 + b"DICM" + encode_file_meta(create_file_meta(
            sop_class_uid=sop, sop_instance_uid=instance, transfer_syntax=syntax))
        assert file_meta_bytes(sop, instance, syntax) == expected
