"""Report text for the share portal, from pydicom's real SR test file."""

from archive.reports import report_from_bytes
from archive.samples import pydicom_file


def test_structured_report_text_and_non_reports():
    text = report_from_bytes(pydicom_file("test-SR.dcm").read_bytes())
    assert text and len(text.splitlines()) > 3
    assert report_from_bytes(pydicom_file("CT_small.dcm").read_bytes()) is None
    assert report_from_bytes(b"not dicom at all") is None
