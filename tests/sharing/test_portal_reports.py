"""Reports on the share portal: released versions only, text with view, the PDF with download."""

from __future__ import annotations

import logging
import re

import requests

from archive import audit
from tests.support.documents import make_pdf
from tests.support.share_helpers import issue, link_url, signed_in
from tests.support.share_world import REPORT_ACCESSION, REPORTS

PDF_LINK = re.compile(r'href="(/s/[^"]+/report/(\d+)/(\d+)\.pdf)"')


def test_recipient_sees_released_reports_and_gets_their_pdfs(shared, portal, caplog):
    caplog.set_level(logging.DEBUG)
    issued = issue(shared, "a_ct", "a_report", recipient_role="patient")
    session = signed_in(portal, issued)
    page = session.get(link_url(portal, issued)).text
    for key in ("sr_amended", "pdf", "hl7_pdf"):
        assert REPORTS[key] in page, key
    assert REPORTS["sr_final"] not in page                  # superseded by the amendment
    assert REPORTS["sr_preliminary"] not in page            # not signed: never released
    assert "Amended (corrected)" in page and "RADIOLOGIST" in page and "Head CT report" in page
    assert 'id="report-1-' not in page                       # study 1 (a_ct) has no report
    links = PDF_LINK.findall(page)
    assert {(s, n) for _, s, n in links} == {("2", "2"), ("2", "3")}   # the PDF and the RIS's PDF
    assert REPORT_ACCESSION not in "".join(path for path, _, _ in links)
    got = {}
    for path, _, n in links:
        response = session.get(portal.url + path)
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        assert "attachment" in response.headers["content-disposition"]
        assert int(response.headers["content-length"]) == len(response.content)
        got[n] = response.content
    assert got["3"] == make_pdf([REPORTS["hl7_pdf"]])         # as embedded in the HL7 message
    assert got["2"] == make_pdf([REPORTS["pdf"]])             # taken out of the Encapsulated PDF instance
    events = audit.search(shared.archive().home, link_id=issued.link.link_id)
    viewed = [e for e in events if e["action"] == "view" and e["detail"] == "reports"]
    assert {e["study_instance_uid"] for e in viewed} == {shared.studies["a_report"]}
    pdfs = [e for e in events if e["action"] == "download" and (e["detail"] or "").startswith("report PDF")]
    assert len(pdfs) == 2 and {e["study_instance_uid"] for e in pdfs} == {shared.studies["a_report"]}
    assert all(e["source"] == "portal" and e["user_id"] == f"link:{issued.link.link_id}" for e in pdfs)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))  # the client's own
    assert all(text not in logged for text in REPORTS.values()) and issued.token not in logged


def test_permissions_decide_text_and_pdf(shared, portal):
    view_only = issue(shared, "a_report", permissions=["view"])
    session = signed_in(portal, view_only)
    page = session.get(link_url(portal, view_only)).text
    assert REPORTS["sr_amended"] in page and not PDF_LINK.search(page)
    assert session.get(link_url(portal, view_only) + "/report/1/2.pdf").status_code == 404
    download_only = issue(shared, "a_report", permissions=["download"])
    session = signed_in(portal, download_only)
    page = session.get(link_url(portal, download_only)).text
    assert REPORTS["sr_amended"] not in page and REPORTS["pdf"] not in page
    assert len(PDF_LINK.findall(page)) == 2
    assert session.get(link_url(portal, download_only) + "/report/1/2.pdf").content.startswith(b"%PDF")


def test_report_addresses_outside_the_link_are_refused(shared, portal):
    issued = issue(shared, "a_ct")
    session = signed_in(portal, issued)
    url = link_url(portal, issued)
    refusal = session.get(url + "/report/9/1.pdf")
    for path in ("/report/1/1.pdf", "/report/2/2.pdf", "/report/0/1.pdf", "/report/1/0.pdf"):
        response = session.get(url + path)
        assert response.status_code == 404 and response.text == refusal.text, path
    reported = issue(shared, "a_report")
    assert session.get(link_url(portal, reported) + "/report/1/2.pdf").status_code == 404   # not signed in
    assert requests.get(url + "/report/1/2.pdf").status_code == 404
    own = signed_in(portal, reported)
    assert own.get(link_url(portal, reported) + "/report/1/1.pdf").status_code == 404       # SR: no PDF
