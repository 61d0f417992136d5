"""Reports beside the images (study page, viewer), report-text search (browse) and "Send to...".

Small pieces a page adds with one call each; the logic lives in archive.reports and
archive.network.send. Sending is for the roles in ``SEND_ROLES``; it is audited and logged there.
"""

from __future__ import annotations

import logging

import streamlit as st

from archive.audit.trail import AuditEvent, record
from archive.network.nodes import NodeRegistry
from archive.reports import release, reports_for_study
from archive.reports import search as report_search_index
from dashboard import data

log = logging.getLogger("limestone.dashboard")

SEND_ROLES = frozenset({"technologist", "clerk", "admin"})
STATUS_LABELS = {"preliminary": "Preliminary", "final": "Final", "amended": "Amended", "cancelled": "Cancelled"}
SOURCE_LABELS = {"sr": "structured report", "pdf": "PDF document", "hl7": "from the RIS"}


@st.cache_data(ttl=data.TTL, show_spinner=False)
def _reports(home: str, study_uid: str) -> list[dict]:
    return reports_for_study(data.cursor(home), study_uid, history=True)


def _heading(report: dict) -> str:
    when = f"{report['report_datetime']:%Y-%m-%d %H:%M}" if report.get("report_datetime") else "no date"
    author = report.get("author") or "author unknown"
    return (f"{report.get('title') or 'Report'} · {STATUS_LABELS.get(report['status'], report['status'])} · "
            f"{when} · {author}")


def study_reports(ctx, study_uid: str, key: str = "study") -> None:
    """The study's reports: current versions open, earlier versions listed under each."""
    st.subheader("Reports")
    try:
        reports = _reports(ctx.home, study_uid)
    except Exception:
        log.exception("reports could not be read")
        st.info("Reports cannot be shown right now.")
        return
    current = [r for r in reports if r["is_current"]]
    if not current:
        st.caption("No report for this study yet. Reports from the RIS appear here as soon as they arrive.")
        return
    for report in current:
        with st.expander(_heading(report), expanded=True):
            st.caption(SOURCE_LABELS.get(report["source"], report["source"])
                       + (f" · accession {report['accession_number']}" if report.get("accession_number") else ""))
            if report.get("text"):
                st.text(report["text"])
            else:
                st.info("No text could be read from this document; it is kept in the archive as sent.")
            if release.has_document(report):
                _pdf_download(ctx, report, key, study_uid)
            older = [r for r in reports if not r["is_current"] and r["superseded_by"] == report["report_id"]]
            if older:
                st.caption(f"{len(older)} earlier version{'s' if len(older) != 1 else ''} "
                           "(superseded, kept for the record):")
                for r in older:
                    st.markdown(f"~~{_heading(r)}~~")
                    st.text(r.get("text") or "")


def _pdf_download(ctx, report: dict, key: str, study_uid: str) -> None:
    """The report's PDF as it was received (reports are small: a download button is fine)."""
    try:
        document = release.document(data.archive(ctx.home).vault, report)
    except Exception:
        log.exception("a report's PDF could not be read")
        st.warning("The PDF of this report cannot be read from the archive.")
        return
    if document is None:
        return

    def audited() -> None:
        record(data.archive(ctx.home).home, AuditEvent(
            # the report rows carry no study UID: the page's own study is the one downloaded from
            "download", ctx.user.user_id, ctx.user.role_label, study_uid,
            detail=f"report PDF ({report['source']})"))

    st.download_button("Download the PDF", b"".join(document.chunks()), file_name="report.pdf",
                       mime="application/pdf", key=f"{key}.pdf.{report['report_id']}", on_click=audited,
                       icon=":material/picture_as_pdf:")


def report_search(ctx) -> None:
    """Search report text across the archive (full-text, stemmed); results open the study."""
    from archive import study_keys
    from dashboard.access import BY_NAME

    with st.expander("Search report text", icon=":material/description:"):
        query = st.text_input("Words in the report", key="browse.report_query",
                              placeholder="e.g. pneumothorax, nodule, fracture")
        if not query.strip():
            return
        try:
            hits = report_search_index.search_reports(data.cursor(ctx.home), query, limit=25)
        except Exception:
            log.exception("report search failed")
            st.warning("Report search is not available right now.")
            return
        if not hits:
            st.info("No report mentions these words.")
            return
        st.caption(f"{len(hits)} report{'s' if len(hits) != 1 else ''} match (best first).")
        home = data.archive(ctx.home).home
        for hit in hits:
            when = f"{hit['report_datetime']:%Y-%m-%d}" if hit.get("report_datetime") else "no date"
            st.markdown(f"**{hit.get('title') or 'Report'}** · {STATUS_LABELS.get(hit['status'], hit['status'])}"
                        f" · {when}")
            st.caption(hit["snippet"])
            if hit["study_instance_uid"]:
                key = study_keys.encode(home, hit["study_instance_uid"])
                try:
                    st.page_link(str(BY_NAME["study"].path), label="Open study", icon=":material/folder_open:",
                                 query_params={"study": key})
                except Exception:  # the page runs on its own (tests)
                    st.markdown(f"[Open study](study?study={key})")
            else:
                st.caption("The study of this report is not in the archive yet.")


def send_action(ctx, study_uid: str) -> None:
    """'Send to...': C-STORE the study to a node of the node list, for staff allowed to send."""
    if not (ctx.user.roles & SEND_ROLES):
        return
    archive = data.archive(ctx.home)
    with st.expander("Send to...", icon=":material/send:"):
        try:
            with NodeRegistry(archive.home) as registry:
                nodes = registry.list()
        except Exception:
            log.exception("node list could not be read")
            nodes = []
        if not nodes:
            st.caption("No destinations yet: an administrator adds hospitals' PACS with `limestone nodes add`.")
            return
        labels = {n.name: f"{n.name} · {n.site or 'no site'} · {n.destination}" for n in nodes}
        choice = st.selectbox("Destination", list(labels), format_func=labels.get, key="study.send_to")
        if st.button("Send this study", key="study.send", icon=":material/send:"):
            from archive.network.send import send_studies
            node = next(n for n in nodes if n.name == choice)
            with st.spinner(f"Sending to {node.name}..."):
                try:
                    (result,) = send_studies(archive, [study_uid], node, user_id=ctx.user.user_id,
                                             user_role=ctx.user.role_label, source="dashboard")
                except Exception:
                    log.exception("send failed")
                    st.error("The study could not be sent. Please try again or tell an administrator.")
                    return
            if result.status == "sent":
                st.success(f"Sent {result.sent} image{'s' if result.sent != 1 else ''} to {node.name}.")
                if result.converted:
                    st.info(f"{result.converted} image(s) were converted to a format {node.name} accepts.")
            else:
                st.error(f"Only {result.sent} of {result.instances} images reached {node.name}. "
                         "The transfer log has the details; try again later.")
