"""The audit trail for admins: who did what to which study, when and from where; exportable as
DICOM audit messages (PS3.15 A.5 / IHE ATNA) for the hospital's audit record repository."""

from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from archive import audit
from archive.audit import atna as audit_messages
from dashboard import data
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("audit_log")
LIMIT = 5000


@guarded("audit_log")
def body(ctx):
    archive = data.archive(ctx.home)
    st.title("Audit trail")
    st.caption("Every view, download, export, share link change, failed passcode and lockout. "
               "Patients appear by their archive key, never by name.")
    today = date.today()
    with st.form("audit_log.filters"):
        c = st.columns([3, 3, 2, 2])
        picked = c[0].date_input("Dates (UTC)", value=(today - timedelta(days=30), today),
                                 key="audit_log.dates", format="YYYY-MM-DD")
        actions = c[1].multiselect("Actions", list(audit.ACTIONS), key="audit_log.actions", placeholder="All actions")
        user = c[2].text_input("User or link", key="audit_log.user", help="Part of an e-mail, cli:name or link:ID")
        ip = c[3].text_input("From address (IP)", key="audit_log.ip")
        c = st.columns([4, 2, 2])
        study = c[0].text_input("Study Instance UID", key="audit_log.study")
        link = c[1].text_input("Share link id", key="audit_log.link")
        c[2].form_submit_button("Search", type="primary", icon=":material/search:")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick the end date of the range.")
        return
    since, until = datetime.combine(picked[0], time.min), datetime.combine(picked[1] + timedelta(days=1), time.min)
    events = audit.search(archive.home, since=since, until=until, actions=actions, user=user,
                          study_instance_uid=study, link_id=link, ip=ip, limit=LIMIT)
    more = f" (the newest {LIMIT:,}; narrow the search)" if len(events) == LIMIT else ""
    st.caption(f"{len(events):,} events" + more)
    if not events:
        st.info("No audit events match.", icon=":material/policy:")
        return
    frame = pd.DataFrame(events)[["occurred_at", "action", "outcome", "user_id", "user_role", "source", "ip",
                                  "user_agent", "link_id", "study_instance_uid", "patient_key", "detail"]]
    frame.columns = ["When (UTC)", "Action", "Outcome", "Who", "Role", "Where", "IP", "Browser", "Link",
                     "Study", "Patient key", "Detail"]
    st.dataframe(frame, hide_index=True, width="stretch", key="audit_log.table")
    c = st.columns(2)
    c[0].download_button("Export as DICOM audit messages (XML)", audit_messages.document(events),
                         file_name=f"audit-{picked[0]:%Y%m%d}-{picked[1]:%Y%m%d}.xml", mime="application/xml",
                         key="audit_log.xml", icon=":material/download:")
    c[1].download_button("Download CSV", frame.to_csv(index=False).encode(), file_name="audit.csv",
                         mime="text/csv", key="audit_log.csv", icon=":material/download:")


body(ctx)
