"""Patient access: clerks invite patients to their own portal account, re-send invitations,
disable and unlock accounts, and give family or caregivers access to a patient's records; managers
see the figures (accounts invited, enrolled, active in the last 90 days, shares made by patients,
studies viewed by patients) by site and month. Every action is audited (archive.patient_access)."""

from datetime import date, datetime, time, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from archive.errors import LimestoneError
from archive.patient_access import actions as patient_actions
from archive.patient_access import delegation, desk, figures
from archive.patient_access.letter import letter_html
from archive.sharing.actions import Actor
from dashboard import data
from dashboard.components import tables
from dashboard.components.charts import chart_with_csv
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("patient_access")
INVITED = "patient_access.invited"
CONFIRM = "patient_access.confirm"
DESK_ROLES, FIGURE_ROLES = {"clerk", "admin"}, {"manager", "admin"}


def _actor(ctx) -> Actor:
    try:
        ip = st.context.ip_address
        agent = st.context.headers.get("User-Agent")
    except Exception:
        ip, agent = None, None
    return Actor(ctx.user.user_id, ctx.user.role_label, source="dashboard",
                 ip=ip if isinstance(ip, str) else None, user_agent=agent if isinstance(agent, str) else None)


def _show_invitation() -> None:
    """The new invitation's link and letter, shown once (only its hash is kept)."""
    issued = st.session_state.get(INVITED)
    if not issued:
        return
    with st.container(border=True, key="patient_access-invitation"):
        st.success(f"Account {issued['account_id']} invited. The link works once, until {issued['expires']} UTC. "
                   + ("It was e-mailed to the patient." if issued["emailed"] else
                      "It was not e-mailed: print the letter or hand over the link.")
                   + " It cannot be shown again.", icon=":material/mark_email_read:")
        st.code(issued["url"], language=None)
        st.download_button("Download the letter (with QR code)", issued["letter"], file_name="invitation.html",
                           mime="text/html", key="patient_access.letter", icon=":material/print:")


def _remember(result) -> None:
    st.session_state[INVITED] = {
        "account_id": result.issued.account.account_id, "url": result.url, "emailed": result.emailed,
        "expires": f"{result.issued.invitation.expires_at:%Y-%m-%d %H:%M}",
        "letter": letter_html(result.url, result.issued.invitation.expires_at, patient_name="",
                              hospital=result.site_name)}


def _invite(ctx, archive) -> None:
    st.subheader("Invite a patient")
    with st.form("patient_access.invite_form", clear_on_submit=True, border=True):
        c = st.columns([2, 2, 3])
        patient_id = c[0].text_input("Patient ID (MRN)", key="patient_access.patient_id")
        issuer = c[1].text_input("Issuer (when the ID exists at several sites)", key="patient_access.issuer")
        email = c[2].text_input("Patient's e-mail address", key="patient_access.email")
        sent = st.form_submit_button("Invite", type="primary", icon=":material/person_add:")
    if sent:
        try:
            result = patient_actions.invite_patient(archive, patient_id.strip(), email.strip(), _actor(ctx),
                                                    issuer=issuer.strip() or None)
        except LimestoneError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            _remember(result)
    _show_invitation()


def _account_actions(ctx, archive, frame) -> None:
    chosen = st.selectbox("Account", frame["account_id"].tolist(), index=None, key="patient_access.account",
                          placeholder="Choose an account to act on")
    if not chosen:
        return
    row = frame[frame["account_id"] == chosen].iloc[0]
    c = st.columns(4)
    try:
        if c[0].button("Resend invitation", key="patient_access.resend", disabled=row["status"] != "invited"):
            _remember(desk.resend_invitation(archive, chosen, _actor(ctx)))
            st.rerun()
        if c[1].button("Unlock", key="patient_access.unlock", disabled=not row["locked"]):
            patient_actions.unlock(archive, chosen, _actor(ctx))
            st.success(f"Account {chosen} is unlocked.", icon=":material/lock_open:")
        if c[2].button("Disable...", key="patient_access.disable", disabled=row["status"] == "disabled"):
            st.session_state[CONFIRM] = chosen
        if st.session_state.get(CONFIRM) == chosen:
            st.warning(f"Disable account {chosen}? Its sessions end and nobody can sign in to it until "
                       "it is invited again.", icon=":material/warning:")
            if st.button("Yes, disable the account", key="patient_access.disable_yes"):
                patient_actions.disable(archive, chosen, _actor(ctx))
                st.session_state.pop(CONFIRM, None)
                st.success(f"Account {chosen} is disabled.", icon=":material/block:")
    except LimestoneError as exc:
        st.error(str(exc), icon=":material/error:")


def _accounts(ctx, archive) -> None:
    st.subheader("Accounts")
    frame = desk.accounts_frame(archive)
    if frame.empty:
        st.info("No patient has been invited yet.", icon=":material/group:")
        return
    shown = frame.assign(locked=frame["locked"].map({True: "locked", False: ""}))
    tables.show(shown.rename(columns={"account_id": "Account", "patient_id": "Patient ID", "email": "E-mail",
                                      "invited_at": "Invited", "enrolled_at": "Enrolled",
                                      "last_sign_in_at": "Last sign-in"}), key="patient_access.accounts")
    _account_actions(ctx, archive, frame)


def _family(ctx, archive) -> None:
    st.subheader("Family and caregivers")
    st.caption("For a child or a person under guardianship: another account opens the patient's records until "
               "the end date. Every use is recorded as that person's, on the patient's behalf.")
    with st.form("patient_access.grant_form", clear_on_submit=True, border=True):
        c = st.columns([2, 2, 3])
        patient_id = c[0].text_input("Patient ID (whose records)", key="patient_access.grant_patient")
        issuer = c[1].text_input("Issuer", key="patient_access.grant_issuer")
        email = c[2].text_input("Delegate's account e-mail", key="patient_access.grant_email")
        c = st.columns([3, 2])
        label = c[0].text_input("Whose records, as the delegate sees it", key="patient_access.grant_label",
                                placeholder="e.g. Sam (son)")
        until = c[1].date_input("Last day of access", value=date.today() + timedelta(days=365),
                                min_value=date.today(), key="patient_access.grant_until", format="YYYY-MM-DD")
        sent = st.form_submit_button("Give access", icon=":material/family_restroom:")
    if sent:
        try:
            granted = delegation.grant_by_clerk(
                archive, patient_id.strip(), datetime.combine(until, time(23, 59, 59)), actor=_actor(ctx),
                label=label, issuer=issuer.strip() or None, to_email=email.strip())
            st.success(f"Access {granted.delegation_id} given until {granted.ends_at:%Y-%m-%d}.",
                       icon=":material/check:")
        except LimestoneError as exc:
            st.error(str(exc), icon=":material/error:")
    grants = [delegation.describe(g) for g in delegation.all_grants(archive.home)]
    if not grants:
        return
    tables.show(pd.DataFrame(grants)[["delegation_id", "owner_account_id", "delegate_account_id", "label",
                                             "granted_by_kind", "ends_at", "status"]].rename(columns={
        "delegation_id": "Grant", "owner_account_id": "Patient's account", "delegate_account_id": "Delegate",
        "label": "Shown as", "granted_by_kind": "Granted by", "ends_at": "Until", "status": "Status"}),
        key="patient_access.grants")
    active = [g["delegation_id"] for g in grants if g["status"] == "active"]
    chosen = st.selectbox("Grant", active, index=None, key="patient_access.grant", placeholder="Choose a grant")
    if chosen and st.button("End this access now", key="patient_access.revoke_grant"):
        delegation.revoke(archive.home, chosen, _actor(ctx).user_id)
        st.success(f"Access {chosen} ended.", icon=":material/check:")


def _figures(ctx, archive) -> None:
    st.subheader("Patients' use of their own access")
    with data.cursor(ctx.home) as cur:
        frame = figures.events(archive.home, cur)
    sites = st.multiselect("Sites", sorted(frame["site"].unique()), key="patient_access.sites",
                           placeholder="All sites")
    totals = figures.totals(frame, tuple(sites))
    m = st.columns(5)
    m[0].metric("Accounts invited", f"{totals['invited']:,}")
    m[1].metric("Enrolled", f"{totals['enrolled']:,}")
    m[2].metric("Active (last 90 days)", f"{totals['active_90_days']:,}",
                help="Accounts that signed in or used their records in the last 90 days")
    m[3].metric("Shares made by patients", f"{totals['shares_by_patients']:,}")
    m[4].metric("Studies viewed by patients", f"{totals['studies_viewed']:,}")
    table = figures.monthly(frame, tuple(sites))
    if table.empty:
        st.info("Nothing to count yet.", icon=":material/monitoring:")
        return
    long = table.melt(id_vars=["month", "site"], value_vars=["invited", "enrolled", "active"],
                      var_name="figure", value_name="accounts")
    fig = px.bar(long, x="month", y="accounts", color="figure", facet_col="site", barmode="group", height=320,
                 labels={"month": "Month", "accounts": "Accounts", "figure": ""})
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10))
    fig.update_xaxes(type="category")
    chart_with_csv(fig, table, "patient_access_figures", "patient_access.figures")
    tables.show(table.rename(columns={"month": "Month", "site": "Site", "invited": "Invited",
                                      "enrolled": "Enrolled", "active": "Active",
                                      "shares_by_patients": "Shares by patients",
                                      "studies_viewed": "Studies viewed"}), key="patient_access.table")


@guarded("patient_access")
def body(ctx):
    archive = data.archive(ctx.home)
    st.title("Patient access")
    st.caption("Patients' own accounts in the portal: invitations, accounts, family access, and their use.")
    if ctx.user.roles & DESK_ROLES:
        _invite(ctx, archive)
        _accounts(ctx, archive)
        _family(ctx, archive)
    if ctx.user.roles & FIGURE_ROLES:
        _figures(ctx, archive)


body(ctx)
