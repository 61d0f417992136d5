"""The patient identity banner, shown wherever a patient's studies or images are on screen."""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

import streamlit as st

from dashboard.data import given


def format_name(name: str | None) -> str:
    """DICOM 'FAMILY^GIVEN^MIDDLE' as 'FAMILY, Given Middle'.

    A name in several forms ('Yamada^Tarou=山田^太郎=やまだ^たろう': alphabetic, ideographic,
    phonetic) shows the first form, then the others in brackets, each as a whole.
    """
    if not name:
        return "(no name)"
    forms = [_format_form(g) for g in str(name).split("=") if g.strip(" ^")]
    if not forms:
        return "(no name)"
    return forms[0] + (f" ({', '.join(forms[1:])})" if len(forms) > 1 else "")


def _format_form(name: str) -> str:
    parts = name.split("^")
    family = parts[0].strip().upper()
    given = " ".join(p.strip().title() for p in parts[1:3] if p.strip())
    return f"{family}, {given}" if given and family else (family or given)


def _age(birth: date | None, on: date | None = None) -> str:
    if not birth:
        return ""
    on = on or date.today()
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return f" ({years} y)"


HIDDEN = "Patient details are not shown to your role"


def patient_banner(row: Mapping[str, Any], identified: bool = True) -> None:
    """Name, patient ID, issuer/site, birth date and sex, in one always-visible strip.

    ``identified=False`` (roles outside ``access.IDENTITY_ROLES``): the site only, and a note.
    """
    row = {key: given(value) for key, value in row.items()}
    if not identified:
        with st.container(border=True, key="patient_banner"):
            cols = st.columns([3, 2])
            cols[0].markdown(f":material/visibility_off: {HIDDEN}")
            cols[1].markdown(str(row.get("patient_site") or row.get("site") or "no site"))
        return
    birth = row.get("patient_birth_date")
    birth = birth.date() if hasattr(birth, "date") and not isinstance(birth, date) else birth
    birth_text = (birth.strftime("%d %b %Y") + _age(birth)) if birth else "unknown"
    sex = {"F": "Female", "M": "Male", "O": "Other"}.get(str(row.get("patient_sex") or "").upper(), "unknown")
    issuer = row.get("issuer_of_patient_id") or "no issuer"
    site = row.get("patient_site") or row.get("site") or "no site"
    with st.container(border=True, key="patient_banner"):
        cols = st.columns([3, 2, 2, 2, 1])
        cols[0].markdown(f"**{format_name(row.get('patient_name'))}**")
        cols[1].markdown(f"ID **{row.get('patient_id') or '(none)'}**")
        cols[2].markdown(f"{issuer} · {site}")
        cols[3].markdown(f"Born {birth_text}")
        cols[4].markdown(sex)
