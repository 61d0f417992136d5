"""A study: the patient banner, the study's details, its series with thumbnails, and the
patient's timeline of all studies across sites."""

import pandas as pd
import plotly.express as px
import streamlit as st

from archive import study_keys
from archive.audit.trail import AuditEvent, record
from dashboard import data
from dashboard.access import BY_NAME, IDENTITY_ROLES, IMAGE_ROLES
from dashboard.components.banner import patient_banner
from dashboard.components.find_study import find_study, redirect_study_uid
from dashboard.components.reports import send_action, study_reports
from dashboard.components.setup import guarded, page_setup
from dashboard.components.viewer import secure_thumbnail

ctx = page_setup("study")
AUDITED = "study.audited"

# Series of these modalities hold reports, documents, key-object notes or presentation states:
# nothing to look at in the image viewer.
DOCUMENT_MODALITIES = {"DOC", "SR", "KO", "PR"}


def _link(page: str, label: str, icon: str, **params) -> None:
    try:
        st.page_link(str(BY_NAME[page].path), label=label, icon=icon, query_params=params)
    except Exception:  # the page runs on its own (tests)
        st.markdown(f"[{label}]({page}?" + "&".join(f"{k}={v}" for k, v in params.items()) + ")")


def _audit_view(ctx, archive, study, shown: str) -> None:
    """One 'view' event per study per browser session: the page shows patient data."""
    seen = st.session_state.setdefault(AUDITED, set())
    if study["study_instance_uid"] in seen:
        return
    if record(archive.home, AuditEvent("view", ctx.user.user_id, ctx.user.role_label,
                                       study["study_instance_uid"], study["patient_key"],
                                       detail=f"study page: {shown}")):
        seen.add(study["study_instance_uid"])


def _details(study: dict) -> None:
    details = {
        "Date": (f"{study['study_date']:%Y-%m-%d}" if study.get("study_date") else "unknown")
        + (f" {study['study_time']:%H:%M}" if study.get("study_time") else ""),
        "Accession": study.get("accession_number") or "—",
        "Modalities": ", ".join(study.get("modalities") or []) or "—",
        "Body part": study.get("body_part_examined") or "—",
        "Site": f"{study.get('site') or '—'}" + (f" ({study['site_name']})" if study.get("site_name") else ""),
        "Referring": (study.get("referring_physician_name") or "—").replace("^", " "),
        "Series / images": f"{study.get('number_of_series') or 0} / {study.get('number_of_instances') or 0}",
    }
    cols = st.columns(len(details))
    for col, (label, value) in zip(cols, details.items(), strict=True):
        col.caption(label)
        col.markdown(f"**{value}**")


def _series(ctx, archive, uid: str, key: str) -> None:
    """One tile per series: a thumbnail (for roles that see images), its number and size."""
    st.subheader("Series")
    series = data.study_series(ctx.home, uid)
    if series.empty:
        st.info("No series of this study are in the store.")
    images = bool(ctx.user.roles & IMAGE_ROLES)
    per_row = 4
    for start in range(0, len(series), per_row):
        cols = st.columns(per_row)
        for col, (i, s) in zip(cols, list(series.iloc[start:start + per_row].iterrows()), strict=False):
            document = str(s["modality"] or "").upper() in DOCUMENT_MODALITIES
            with col.container(border=True):
                if document:
                    st.caption(":material/description: report or document, no image")
                elif images:
                    if s["thumbnail_hash"] and archive.vault.has(s["thumbnail_hash"]):
                        secure_thumbnail(ctx.home, ctx.user.user_id, key, i + 1, s["thumbnail_hash"],
                                         key=f"study.thumb.{i}")
                    else:
                        st.caption(":material/broken_image: no preview (file missing or not an image)")
                number = "" if data.whole(s["series_number"]) is None else f"#{data.whole(s['series_number'])} "
                st.markdown(f"**{number}{s['modality'] or ''}** {s['series_description'] or ''}")
                frames, count = data.whole(s["frames"]) or 0, data.whole(s["number_of_instances"]) or 0
                noun = "object" if document else "image"
                st.caption(f"{count} {noun}{'s' if count != 1 else ''}"
                           + (f" · {frames} frames" if frames > count else ""))
                if ctx.may("viewer") and not document:
                    _link("viewer", "View", ":material/visibility:", study=key, series=str(i + 1))


def _timeline(ctx, archive, study: dict, uid: str, identified: bool) -> None:
    """The patient's studies at every site, this one marked, each one a link."""
    st.subheader("Patient timeline")
    timeline = data.patient_timeline(ctx.home, study["patient_key"])
    if timeline.empty:
        st.info("No other studies of this patient.")
        return
    sites = timeline["site"].fillna("(no site)").nunique()
    st.caption(f"{len(timeline)} studies at {sites} site{'s' if sites != 1 else ''}. Studies under "
               "another MRN are matched on name, birth date and sex.")
    plot = timeline.assign(
        modality=timeline["modalities"].map(lambda m: ", ".join(m) if m is not None else ""),
        site=timeline["site"].fillna("(no site)"),
        shown=(timeline["study_instance_uid"] == uid).map({True: "this study", False: "other study"}))
    fig = px.scatter(plot, x="study_date", y="site", color="modality", symbol="shown",
                     hover_data={"study_description": True, "accession_number": True, "shown": False},
                     labels={"study_date": "Date", "site": "Site", "modality": "Modality"}, height=260)
    fig.update_traces(marker_size=14)
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10), legend_title_text="")
    st.plotly_chart(fig, width="stretch", key="study.timeline")
    for r in timeline.itertuples():
        c = st.columns([2, 2, 4, 2, 2])
        c[0].write("no date" if r.study_date is None or pd.isna(r.study_date) else f"{r.study_date:%Y-%m-%d}")
        c[1].write(f"{r.site or '—'} · MRN {r.patient_id or '—'}" if identified else (r.site or "—"))
        c[2].write(r.study_description or "")
        c[3].write(", ".join(r.modalities) if r.modalities is not None else "")
        with c[4]:
            if r.study_instance_uid == uid:
                st.caption("this study")
            else:
                _link("study", "Open", ":material/folder_open:",
                      study=study_keys.encode(archive.home, r.study_instance_uid))


@guarded("study")
def body(ctx):
    archive = data.archive(ctx.home)
    redirect_study_uid(archive)
    key = st.query_params.get("study")
    uid = study_keys.decode(archive.home, key)
    if uid is None:
        st.title("Study")
        st.info("Find a study, or open one from **Browse studies**." if not key else
                "This study link is not valid here. Find the study below.")
        find_study(ctx, archive, "study")
        return
    study = data.study(ctx.home, uid)
    if study is None:
        st.title("Study")
        st.warning("This study is no longer in the archive.")
        return
    # Managers see the study, not the patient (dashboard.access.IDENTITY_ROLES).
    identified = bool(ctx.user.roles & IDENTITY_ROLES)
    images = bool(ctx.user.roles & IMAGE_ROLES)
    _audit_view(ctx, archive, study, ", ".join(
        ["details"] + (["patient identity", "reports"] if identified else []) + (["thumbnails"] if images else [])))
    patient_banner(study, identified)
    st.title(study.get("study_description") or "Study without description")
    _details(study)
    if ctx.may("share_links"):  # a clerk shares the open study: the Share links desk, study chosen
        _link("share_links", "Share this study", ":material/share:", study=key)
    send_action(ctx, uid)
    if identified:
        study_reports(ctx, uid)
    _series(ctx, archive, uid, key)
    _timeline(ctx, archive, study, uid, identified)


body(ctx)
