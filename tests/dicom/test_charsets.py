"""Every file of pydicom's character-set test set, through import, the store's search and the banner.

The stored text must be what pydicom decodes, in every character set: ISO 2022 (Japanese, Korean)
is 7-bit, so a value passes an ASCII check with its escape sequences still in it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from streamlit.testing.v1 import AppTest

from archive.dicom import values as v
from archive.dicom.columns import PATIENT_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS
from archive.home import Archive
from archive.ingest.run import import_paths
from archive.store.queries.browse import StudySearch, search_studies, study
from dashboard.components.banner import format_name

CHARSET_FILES = sorted(Path(f) for f in get_charset_files() if f.endswith(".dcm"))
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
TEXT_COLUMNS = {column: keyword for table in (PATIENT_COLUMNS, STUDY_COLUMNS, SERIES_COLUMNS)
                for column, (keyword, convert) in table.items()
                if convert is v.text and not keyword.endswith("UID")}


def _as_archived_file(source: Path, target: Path) -> str:
    """``source`` as a Part 10 file (preamble, meta) with fresh UIDs; its text elements untouched."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(source, force=True)
    ds.SOPClassUID = ds.get("SOPClassUID") or SECONDARY_CAPTURE
    ds.Modality = ds.get("Modality") or "OT"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if ds.original_encoding[0] else ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(target, enforce_file_format=True)
    return str(ds.StudyInstanceUID)


def _decoded(path: Path) -> dict[str, str | None]:
    """The text columns as pydicom decodes them (the reference)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    return {column: v.text(ds.get(keyword))
            for column, keyword in TEXT_COLUMNS.items()}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charsets")
    studies = {f.name: _as_archived_file(f, folder / f.name) for f in CHARSET_FILES}
    archive = Archive.load(home=str(tmp_path_factory.mktemp("home") / "home"))
    summary = import_paths(archive, [folder], workers=1)
    assert summary.imported == len(CHARSET_FILES), summary
    return archive, folder, studies


def test_the_set_has_iso_2022_files():
    names = {f.name for f in CHARSET_FILES}
    assert {"chrH31.dcm", "chrH32.dcm", "chrI2.dcm", "chrJapMulti.dcm", "chrKoreanMulti.dcm"} <= names


@pytest.mark.parametrize("name", [f.name for f in CHARSET_FILES])
def test_stored_and_searched_text_is_pydicoms_decoding(imported, name):
    archive, folder, studies = imported
    expected = _decoded(folder / name)
    con = archive.store(read_only=True)
    try:
        row = study(con, studies[name])
        series = con.execute("SELECT * FROM series WHERE study_instance_uid = ?", [studies[name]]).df()
        assert row is not None
        stored = dict(row, **series.iloc[0].to_dict())
        for column in TEXT_COLUMNS:
            assert stored.get(column) == expected[column], f"{name} {column}"
            assert "\x1b" not in str(stored.get(column) or "")
        name_value = expected["patient_name"]
        if name_value:
            family = name_value.split("^")[0].split("=")[0]
            found = search_studies(con, StudySearch(patient_name=family, page_size=100)).rows
            assert studies[name] in set(found["study_instance_uid"]), f"{name}: search for {family!r}"
            hit = found[found["study_instance_uid"] == studies[name]].iloc[0]
            assert hit["patient_name"] == name_value
    finally:
        con.close()


def _banner_script(row: dict) -> None:
    from dashboard.components.banner import patient_banner

    patient_banner(row)  # noqa: F821 (row is given by AppTest's kwargs)


@pytest.mark.parametrize("name", ["chrH31.dcm", "chrH32.dcm", "chrI2.dcm", "chrKoreanMulti.dcm",
                                  "chrX1.dcm", "chrArab.dcm", "chrRuss.dcm"])
def test_the_banner_shows_the_decoded_name(imported, name):
    archive, folder, studies = imported
    con = archive.store(read_only=True)
    try:
        row = study(con, studies[name])
    finally:
        con.close()
    at = AppTest.from_function(_banner_script, kwargs={"row": row})
    at.run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    expected = format_name(_decoded(folder / name)["patient_name"])
    assert f"**{expected}**" in shown
    assert "\x1b" not in shown


def test_a_name_in_several_forms_shows_each_whole():
    assert format_name("Yamada^Tarou=山田^太郎=やまだ^たろう") == "YAMADA, Tarou (山田, 太郎, やまだ, たろう)"
    assert format_name("=山田^太郎") == "山田, 太郎"
    assert format_name("SMITH^JOHN") == "SMITH, John"
