"""HL7 review (admins, quality): result messages the archive kept but could not file, and HL7
reports waiting for their study. The raw messages hold patient data and are not shown: a row
names the message by its inbox number, sender and MSH-10 control id, which the RIS team can
look up on their side."""

import pandas as pd
import streamlit as st

from archive.clock import now_utc
from archive.reports import inbox, waiting
from dashboard import data
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("hl7_review")
OUTCOMES = {"rejected": "Rejected (malformed)", "error": "Not filed (archive busy)"}


@guarded("hl7_review")
def body(ctx):
    archive = data.archive(ctx.home)
    st.title("HL7 review")
    st.caption("Report messages from the RIS that were answered with a NAK and kept, and reports that "
               "arrived before their study. Messages are never deleted here.")
    notice = st.session_state.pop("hl7_review.notice", None)
    if notice:
        st.success(notice)

    st.subheader("Messages kept for review")
    queue = inbox.review_queue(archive.home)
    if not queue:
        st.info("No message is waiting for review.", icon=":material/task_alt:")
    else:
        frame = pd.DataFrame(queue)
        frame["outcome"] = frame["outcome"].map(lambda o: OUTCOMES.get(o, o))
        frame["received_at"] = pd.to_datetime(frame["received_at"])
        frame = frame[["message_id", "received_at", "reason", "control_id", "source", "message_type", "outcome"]]
        frame.columns = ["Inbox #", "Received (UTC)", "Reason", "Control ID (MSH-10)", "From", "Type", "Outcome"]
        st.dataframe(frame, hide_index=True, width="stretch", key="hl7_review.messages", column_config={
            "Inbox #": st.column_config.NumberColumn(width="small", format="%d"),
            "Received (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Reason": st.column_config.TextColumn(width="large"),
            "Type": st.column_config.TextColumn(width="small")})
        st.caption("Ask the RIS team to correct and resend a rejected message (they find it by its "
                   "control ID); once it is filed, or will not be, mark it reviewed to take it off this list.")
        labels = {m["message_id"]: f"#{m['message_id']} · {m['control_id'] or 'no control ID'} · "
                                   f"received {m['received_at'][:16].replace('T', ' ')}" for m in queue}
        c = st.columns([3, 2], vertical_alignment="bottom")
        picked = c[0].selectbox("Message", list(labels), key="hl7_review.message", format_func=labels.get)
        if c[1].button("Mark reviewed", key="hl7_review.mark", icon=":material/done:"):
            if inbox.mark_reviewed(archive.home, int(picked), ctx.user.user_id):
                st.session_state["hl7_review.notice"] = f"Message #{picked} marked reviewed."
            st.rerun()

    st.subheader("Reports waiting for their study")
    reports = [r for r in waiting(data.cursor(ctx.home)) if r["source"] == "hl7"]
    if not reports:
        st.info("Every HL7 report has found its study.", icon=":material/task_alt:")
        return
    now = now_utc()
    frame = pd.DataFrame([{
        "Received (UTC)": r["received_at"], "Waiting (days)": (now - r["received_at"]).days,
        "Accession number": r["accession_number"], "Exam": r["title"], "Status": r["status"],
        "Message": r["report_id"].removeprefix("hl7:"),
    } for r in reports])
    st.dataframe(frame, hide_index=True, width="stretch", key="hl7_review.waiting", column_config={
        "Received (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
    st.caption("A report is matched by accession number (and the patient ID in the message) as soon as "
               "its study is imported, pulled or received; one waiting for long may carry a wrong accession.")


body(ctx)
