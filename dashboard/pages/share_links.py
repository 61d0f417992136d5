"""Share links for clerks: issue a link to a patient's studies, list, extend, revoke and unlock
links, and write the same studies to CD/USB media (IHE PDI). Every action is audited.

The link and its passcode are shown once, right after issuing: only their hashes are kept.
"""

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from archive import sharing, study_keys
from archive.errors import LimestoneError
from archive.media.pdi import export_studies
from archive.sharing import actions as share_actions
from archive.sharing.actions import Actor
from archive.sharing.scope import find_studies
from dashboard import data
from dashboard.components import tables
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("share_links")
ISSUED = "share_links.issued"
CONFIRM_REVOKE = "share_links.confirm_revoke"
# The issue form's fields: emptied once a link is issued, so the next recipient starts afresh.
FORM_KEYS = ("share_links.recipient", "share_links.role", "share_links.email", "share_links.days",
             "share_links.use_limit", "share_links.view", "share_links.download", "share_links.verify")
ROLE_LABELS = {"patient": "Patient", "doctor": "Doctor", "other": "Other"}


def _actor(ctx) -> Actor:
    try:
        ip = st.context.ip_address
        agent = st.context.headers.get("User-Agent")
    except Exception:
        ip, agent = None, None
    # Without a browser (AppTest) these are not strings: record nothing rather than a placeholder.
    return Actor(ctx.user.user_id, ctx.user.role_label, source="dashboard",
                 ip=ip if isinstance(ip, str) else None, user_agent=agent if isinstance(agent, str) else None)


def _study_label(row) -> str:
    when = f"{row['study_date']:%Y-%m-%d}" if row.get("study_date") else "no date"
    modalities = ", ".join(row.get("modalities") or [])
    return (f"{when} · {row.get('study_description') or 'Study'} · {modalities or '?'} · "
            f"{row.get('site') or 'no site'} · {row.get('number_of_instances') or 0} images")


def _pick_studies(ctx, archive):
    """The patient lookup and study choice; returns (rows of the chosen studies, patient row)."""
    preset_uid = study_keys.decode(archive.home, st.query_params.get("study"))
    preset = ""
    if preset_uid:   # opened from a study's page: look up its patient by ID, not by the long UID
        with data.cursor(ctx.home) as cur:
            found = [r for r in find_studies(cur, preset_uid) if r["study_instance_uid"] == preset_uid]
        preset = (found[0].get("accession_number") or found[0].get("patient_id") or preset_uid) if found else ""
    text = st.text_input("Patient ID or accession number", key="share_links.lookup",
                         value=preset, help="The exact patient ID (MRN) or an accession number.")
    if not text.strip():
        st.caption("Look up the patient whose images are to be shared.")
        return [], None
    with data.cursor(ctx.home) as cur:
        rows = find_studies(cur, text)
    if not rows:
        st.warning("No patient with that ID or accession number is in the archive.")
        return [], None
    patients = {r["patient_key"]: r for r in rows}
    if len(patients) > 1:
        choice = st.selectbox("Patient", list(patients), key="share_links.patient",
                              format_func=lambda k: f"{patients[k]['patient_name']} · ID {patients[k]['patient_id']} "
                                                    f"({patients[k]['issuer_of_patient_id'] or 'no issuer'})")
    else:
        choice = next(iter(patients))
    patient = patients[choice]
    studies = {r["study_instance_uid"]: r for r in rows if r["patient_key"] == choice}
    born = f"{patient['patient_birth_date']:%d %b %Y}" if patient.get("patient_birth_date") else "unknown"
    st.markdown(f"**{str(patient['patient_name'] or '(no name)').replace('^', ', ', 1).replace('^', ' ')}** · "
                f"ID {patient['patient_id'] or '(none)'} · born {born}", )
    default = [u for u in studies if u == preset_uid or studies[u].get("accession_number") == text.strip()]
    chosen = st.multiselect("Studies to share", list(studies), default=default, key="share_links.studies",
                            format_func=lambda u: _study_label(studies[u]), placeholder="Choose studies")
    return [studies[u] for u in chosen], patient


def _issue_form(ctx, archive, chosen) -> None:
    settings = archive.settings
    # Cleared once submitted (in the browser; the session values are dropped after issuing):
    # the next recipient starts afresh. The form shows only with studies chosen, so it submits them.
    with st.form("share_links.form", clear_on_submit=True):
        c = st.columns([3, 2, 3])
        name = c[0].text_input("Recipient's name", key="share_links.recipient")
        role = c[1].selectbox("Recipient is", list(ROLE_LABELS), format_func=ROLE_LABELS.get,
                              key="share_links.role")
        email = c[2].text_input("E-mail (optional, for the record)", key="share_links.email")
        c = st.columns([2, 2, 2, 3])
        days = c[0].number_input("Valid for (days)", 1, int(settings.share_max_days),
                                 int(settings.share_default_days), key="share_links.days")
        use_limit = c[1].number_input("Use limit (0 = none)", 0, 1000, 0, key="share_links.use_limit")
        view = c[2].checkbox("May view", True, key="share_links.view")
        download = c[2].checkbox("May download", True, key="share_links.download")
        verify = c[3].radio("Recipient proves identity with", ["passcode", "birth_date"],
                            format_func={"passcode": "a passcode (shown once)",
                                         "birth_date": "the patient's date of birth"}.get,
                            key="share_links.verify")
        submitted = st.form_submit_button("Create link", type="primary", icon=":material/add_link:")
    if not submitted:
        return
    if not chosen:
        st.error("Choose at least one study to share.")
        return
    permissions = [p for p, on in (("view", view), ("download", download)) if on]
    try:
        with data.cursor(ctx.home) as cur:
            issued = share_actions.create(
                archive, [r["study_instance_uid"] for r in chosen], _actor(ctx), recipient_name=name,
                recipient_role=role, recipient_email=email, permissions=permissions, days=int(days),
                use_limit=int(use_limit) or None, verify=verify, con=cur)
    except LimestoneError as exc:
        st.error(f"The link was not created: {exc}.")
        return
    st.session_state[ISSUED] = {"link_id": issued.link.link_id, "url": issued.url(settings.portal_base_url),
                                "passcode": issued.passcode, "until": f"{issued.link.expires_at:%Y-%m-%d %H:%M}"}
    for key in FORM_KEYS:
        st.session_state.pop(key, None)
    st.rerun()


def _show_issued() -> None:
    issued = st.session_state.get(ISSUED)
    if not issued:
        return
    with st.container(border=True, key="share_links.new_link"):
        st.success(f"Link {issued['link_id']} created, valid until {issued['until']} UTC. Give the recipient "
                   "the link and the passcode now, separately: they cannot be shown again.",
                   icon=":material/link:")
        st.caption("Link")
        st.code(issued["url"], language=None)
        if issued["passcode"]:
            st.caption("Passcode")
            st.code(issued["passcode"], language=None)
        else:
            st.caption("The recipient confirms the patient's date of birth.")
        if st.button("Done: hide the link", key="share_links.done"):
            st.session_state.pop(ISSUED, None)
            st.rerun()


def _export(ctx, archive, chosen) -> None:
    st.subheader("CD/USB export")
    c = st.columns([2, 2, 2])
    kind = c[0].selectbox("Write as", ["folder", "zip", "iso"], key="share_links.export_kind",
                          format_func={"folder": "Folder (USB stick)", "zip": "ZIP file", "iso": "CD image (ISO)"}.get)
    web = c[1].checkbox("Add browser previews (DICOM PLUS WEB)", key="share_links.export_web")
    if c[2].button("Export the chosen studies", key="share_links.export", icon=":material/album:",
                   disabled=not chosen):
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        suffix = {"folder": "", "zip": ".zip", "iso": ".iso"}[kind]
        out = Path(archive.home.root) / "exports" / f"PDI-{stamp}{suffix}"
        try:
            with st.spinner("Writing the medium..."):
                with data.cursor(ctx.home) as cur:
                    result = export_studies(archive, [r["study_instance_uid"] for r in chosen], out,
                                            _actor(ctx), web=web, con=cur)
        except LimestoneError as exc:
            st.error(f"The export was not written: {exc}.")
            return
        st.success(f"Written to `{result.path}` ({result.files} files, {result.bytes / 1e6:.1f} MB). "
                   "Burn or copy it from there.", icon=":material/check_circle:")
        st.text("\n".join(["Label:"] + result.label.lines()))
        if result.missing:
            st.warning(f"{result.missing} files were missing from the vault and are not on the medium.")


def _links(ctx, archive, patient) -> None:
    st.subheader("Links")
    only_patient = patient is not None and st.toggle("Only this patient's links", True, key="share_links.only_patient")
    links = sharing.list_links(archive.home, patient["patient_key"] if only_patient else None)
    if not links:
        st.info("No share links yet.", icon=":material/link_off:")
        return
    rows = pd.DataFrame([{
        "Link": link.link_id, "Status": link.status(), "Recipient": link.recipient_name,
        "Role": link.recipient_role, "Studies": len(link.study_instance_uids),
        "Permissions": ", ".join(sorted(link.permissions)), "Created": link.created_at,
        "Expires": link.expires_at, "Uses": f"{link.uses}" + (f"/{link.use_limit}" if link.use_limit else ""),
        "Downloads": link.downloads, "First opened": link.first_opened_at, "Created by": link.created_by,
        "Shared by": "the patient" if link.created_by_kind == "patient" else "staff",
    } for link in links])
    rows["Role"] = rows["Role"].map(lambda r: ROLE_LABELS.get(r, r))
    tables.show(rows, key="share_links.table")
    c = st.columns([3, 2, 2, 2, 2])
    # No link is chosen for the clerk: an action applies only to the link they pick.
    link_id = c[0].selectbox("Link", [link.link_id for link in links], index=None, key="share_links.selected",
                             placeholder="Choose a link")
    days = c[1].number_input("Extend to (days from now)", 1, int(archive.settings.share_max_days),
                             int(archive.settings.share_default_days), key="share_links.extend_days")
    none = link_id is None
    actions = {"extend": c[2].button("Extend", key="share_links.extend", icon=":material/more_time:", disabled=none),
               "unlock": c[3].button("Unlock", key="share_links.unlock", icon=":material/lock_open:", disabled=none),
               "ask_revoke": c[4].button("Revoke...", key="share_links.revoke", icon=":material/link_off:",
                                         disabled=none)}
    if actions.pop("ask_revoke"):
        st.session_state[CONFIRM_REVOKE] = link_id
    pending = st.session_state.get(CONFIRM_REVOKE)
    actions["revoke"] = False
    if pending is not None and pending == link_id:
        with st.container(border=True, key="share_links.confirm"):
            st.warning(f"Revoke link {pending}? The recipient can no longer open it, and this cannot be "
                       "undone (a new link would have to be issued).", icon=":material/warning:")
            b = st.columns([2, 2, 6])
            actions["revoke"] = b[0].button("Yes, revoke the link", key="share_links.revoke_yes")
            if b[1].button("Cancel", key="share_links.revoke_no"):
                st.session_state.pop(CONFIRM_REVOKE, None)
                st.rerun()
    elif pending is not None:                       # another link was chosen meanwhile: ask again
        st.session_state.pop(CONFIRM_REVOKE, None)
    for action, pressed in actions.items():
        if not pressed:
            continue
        st.session_state.pop(CONFIRM_REVOKE, None)
        try:
            if action == "extend":
                link = share_actions.extend(archive, link_id, int(days), _actor(ctx))
            else:
                link = getattr(share_actions, action)(archive, link_id, _actor(ctx))
        except LimestoneError as exc:
            st.error(f"Nothing was changed: {exc}.")
            return
        status = link.status()
        until = f", valid until {link.expires_at:%Y-%m-%d %H:%M} UTC." if status == "active" else "."
        st.session_state["share_links.flash"] = f"Link {link.link_id} is now {status}{until}"
        st.rerun()


@guarded("share_links")
def body(ctx):
    archive = data.archive(ctx.home)
    st.title("Share links")
    st.caption("Give a patient or an outside doctor secure online access to images, instead of a CD. "
               f"Links open on the share portal at {archive.settings.portal_base_url}.")
    if flash := st.session_state.pop("share_links.flash", None):
        st.success(flash, icon=":material/check_circle:")
    chosen, patient = _pick_studies(ctx, archive)
    _show_issued()
    if chosen:
        _issue_form(ctx, archive, chosen)
        _export(ctx, archive, chosen)
    _links(ctx, archive, patient)


body(ctx)
