"""Find a study by accession number or patient ID: the way out of a page opened without one.

Study, Image viewer and Compare never dead-end: without a (valid) study they offer this search,
and a pick opens the study on the same page (``?study=<opaque key>``). An EMR/RIS launch with
``?StudyInstanceUIDs=<uid>`` (OHIF's convention) is turned into the opaque key at once, so the
UID leaves the address bar.
"""

from __future__ import annotations

import streamlit as st

from archive import study_keys
from dashboard import data


def redirect_study_uid(archive) -> None:
    """Replace ``StudyInstanceUIDs=<uid>`` (first of a comma list) by ``study=<opaque key>``."""
    given = st.query_params.get("StudyInstanceUIDs")
    if not given:
        return
    uid = given.split(",")[0].strip()
    del st.query_params["StudyInstanceUIDs"]
    if uid:
        st.query_params["study"] = study_keys.encode(archive.home, uid)
    st.rerun()


def _day(value) -> str:
    return f"{value:%Y-%m-%d}" if value is not None and value == value else "unknown date"


def find_study(ctx, archive, page: str, label: str = "Study", pick_label: str | None = None,
               placeholder: str = "Choose the study") -> None:
    """A search box and a pick list; the pick sets ``?study=`` and reruns the page."""
    text = st.text_input(f"{label}: accession number or patient ID", key=f"{page}.find",
                         placeholder="e.g. the accession number on the request")
    if not text.strip():
        return
    rows = data.search(ctx.home, accession=text.strip(), page_size=50).rows
    if rows.empty:
        rows = data.search(ctx.home, patient_id=text.strip(), page_size=50).rows
    if rows.empty:
        st.info("No study has that accession number or patient ID.")
        return
    labels = [f"{_day(r.study_date)} · {r.site or '?'} · "
              f"{', '.join(r.modalities if r.modalities is not None else [])} · "
              f"{r.study_description or ''}" for r in rows.itertuples()]
    pick = st.selectbox(pick_label or f"{label} to open", range(len(rows)), index=None,
                        format_func=labels.__getitem__, key=f"{page}.pick", placeholder=placeholder)
    if pick is not None:
        st.query_params["study"] = study_keys.encode(archive.home, rows.iloc[pick]["study_instance_uid"])
        st.rerun()
