import pytest

from tests.support.apptest import page, raw_labels, texts


def search(at, **fields):
    for key, value in fields.items():
        widget = at.text_input(key=f"browse.{key}") if key in (
            "patient_name", "patient_id", "accession", "description") else at.selectbox(key=f"browse.{key}")
        widget.input(value) if hasattr(widget, "input") else widget.select(value)
    at.button[0].click()  # the form's Search button
    return at.run()


def test_total_count_and_pages(home):
    at = page("browse").run()
    assert not at.exception
    assert "35 studies match" in texts(at)
    assert "page 1 of 2" in texts(at)
    assert len(at.dataframe[0].value) == 25
    at.button(key="browse.next").click().run()
    assert "page 2 of 2" in texts(at)
    assert len(at.dataframe[0].value) == 10
    assert raw_labels(at) == []                     # human labels, no cell reading None


@pytest.mark.parametrize("name, expected", [("test^al*", 3), ("TEST ALPHA", 3), ("te?t^b*", 2),
                                            ("*gamma", 30), ("nobody", 0)])
def test_patient_name_wildcards_case_insensitive(home, name, expected):
    at = search(page("browse").run(), patient_name=name)
    assert not at.exception
    if expected:
        assert f"{expected} studies match" in texts(at)
        assert len(at.dataframe[0].value) == min(expected, 25)
    else:
        assert "No studies match" in texts(at)


def test_filters_combine(home):
    at = search(page("browse").run(), modality="CT", site="NORTH")
    assert "2 studies match" in texts(at)
    at = search(page("browse").run(), accession="ACC-MR-1")
    assert "1 study matches" in texts(at)
    assert list(at.dataframe[0].value["Description"]) == ["MR KNEE LEFT"]
    at = search(page("browse").run(), description="follow-up 30")
    assert list(at.dataframe[0].value["Accession"]) == ["ACC-B-029"]


def test_sort_by_patient_name(home):
    at = search(page("browse").run(), sort="patient_name")
    names = list(at.dataframe[0].value["Patient"])
    assert names[:3] == ["TEST, Alpha"] * 3


def test_opening_a_study_shows_the_banner_and_an_opaque_link(home):
    at = page("browse").run()
    at.selectbox(key="browse.open.1.None").select(0).run()
    assert not at.exception
    shown = texts(at)
    assert "TEST, Beta" in shown  # newest study: the banner of its patient
    assert "Open study" in shown
    assert "1.2.826" not in shown  # no UID in the link


def test_empty_archive(empty_home):
    at = page("browse").run()
    assert not at.exception and not at.error
    assert "archive is empty" in texts(at)


def test_a_patient_without_birth_date_sex_or_issuer_opens(tmp_path, monkeypatch):
    # Browse rows come through pandas: a missing birth date is NaT there, not None.
    import pydicom
    from pydicom.uid import generate_uid

    from archive.home import Archive
    from archive.ingest.run import import_paths
    from tests.support.samples import pydicom_file

    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName, ds.PatientID = "SAMPLE^NODATE", "FAKE-0404"
    for keyword in ("PatientBirthDate", "PatientSex", "IssuerOfPatientID"):
        if keyword in ds:
            delattr(ds, keyword)
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "ct.dcm", enforce_file_format=True)
    archive = Archive.load(home=str(tmp_path / "home"))
    assert import_paths(archive, [tmp_path / "in"], workers=1).exit_code == 0
    monkeypatch.setenv("LIMESTONE_HOME", str(tmp_path / "home"))
    at = page("browse").run()
    at.selectbox(key="browse.open.1.None").select(0).run()
    assert not at.exception and not at.error
    shown = texts(at)
    assert "SAMPLE, Nodate" in shown and "Born unknown" in shown and "Open study" in shown
