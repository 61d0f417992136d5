"""Browse studies: search the whole archive, page through every match, open a study.

Filters stay in the session (never in the URL: names and IDs are PHI); the study is opened by
its opaque key.
"""

from datetime import date

import pandas as pd
import streamlit as st

from archive import study_keys
from dashboard import data
from dashboard.access import BY_NAME, IDENTITY_ROLES
from dashboard.components import tables
from dashboard.components.banner import format_name, patient_banner
from dashboard.components.reports import report_search
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("browse")

SORT_LABELS = {
    "date_desc": "Newest first", "date_asc": "Oldest first", "patient_name": "Patient name",
    "patient_id": "Patient ID", "site": "Site", "description": "Description",
    "instances_desc": "Most images",
}
PAGE_SIZES = [25, 50, 100]


def _filters(identified: bool) -> dict:
    s = st.session_state
    return {
        "patient_name": (s.get("browse.patient_name") or None) if identified else None,
        "patient_id": (s.get("browse.patient_id") or None) if identified else None,
        "accession": s.get("browse.accession") or None,
        "date_from": s.get("browse.date_from"),
        "date_to": s.get("browse.date_to"),
        "modality": s.get("browse.modality") or None,
        "body_part": s.get("browse.body_part") or None,
        "site": s.get("browse.site") or None,
        "description": s.get("browse.description") or None,
        "sort": s.get("browse.sort", "date_desc"),
        "page_size": s.get("browse.page_size", 25),
    }


def _day(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value:%Y-%m-%d}"


def _reset_page():
    st.session_state["browse.page"] = 1


def _search_form(ctx, identified: bool) -> None:
    options = data.filter_options(ctx.home)
    sorts = SORT_LABELS if identified else {k: v for k, v in SORT_LABELS.items() if not k.startswith("patient_")}
    if st.session_state.get("browse.sort") not in sorts:
        st.session_state["browse.sort"] = "date_desc"
    with st.form("browse.form"):
        c = st.columns(4)
        if identified:
            c[0].text_input("Patient name", key="browse.patient_name", placeholder="e.g. smith* or smi?h",
                            help="Case does not matter; * and ? are wildcards. Without them, names "
                                 "starting with the text match.")
            c[1].text_input("Patient ID", key="browse.patient_id")
        else:
            c = c[2:] + c[:2]        # the study fields move to the front
        c[2].text_input("Accession number", key="browse.accession")
        c[3].text_input("Description", key="browse.description", placeholder="e.g. chest")
        c = st.columns(4)
        c[0].date_input("From", value=None, key="browse.date_from", format="YYYY-MM-DD",
                        min_value=date(1900, 1, 1))
        c[1].date_input("To", value=None, key="browse.date_to", format="YYYY-MM-DD",
                        min_value=date(1900, 1, 1))
        c[2].selectbox("Modality", [""] + options["modality"], key="browse.modality",
                       format_func=lambda v: v or "Any")
        c[3].selectbox("Body part", [""] + options["body_part"], key="browse.body_part",
                       format_func=lambda v: v or "Any")
        c = st.columns(4)
        c[0].selectbox("Site", [""] + options["site"], key="browse.site", format_func=lambda v: v or "Any")
        c[1].selectbox("Sort by", list(sorts), format_func=sorts.get, key="browse.sort")
        c[2].selectbox("Per page", PAGE_SIZES, key="browse.page_size")
        st.form_submit_button("Search", type="primary", on_click=_reset_page)


def _results_table(rows: pd.DataFrame, identified: bool):
    """The page of studies as a table; the returned selection names the clicked row."""
    table = pd.DataFrame({
        "Date": rows["study_date"].map(_day),
        **({"Patient": rows["patient_name"].map(format_name), "Patient ID": rows["patient_id"]}
           if identified else {}),
        "Site": rows["site"],
        "Modality": rows["modalities"].map(lambda m: ", ".join(m) if m is not None else ""),
        "Description": rows["study_description"],
        "Body part": rows["body_part_examined"],
        "Accession": rows["accession_number"],
        "Series": rows["number_of_series"],
        "Images": rows["number_of_instances"],
    })
    return st.dataframe(tables.humane(table), hide_index=True, on_select="rerun", selection_mode="single-row",
                             key="browse.results", width="stretch")


def _page_buttons(page: int, pages: int) -> None:
    nav = st.columns([1, 1, 2, 4])
    if nav[0].button("Previous", disabled=page <= 1, key="browse.prev", icon=":material/chevron_left:"):
        st.session_state["browse.page"] = page - 1
        st.rerun()
    if nav[1].button("Next", disabled=page >= pages, key="browse.next",
                     icon=":material/chevron_right:"):
        st.session_state["browse.page"] = page + 1
        st.rerun()
    jump = nav[2].number_input("Go to page", 1, pages, page, key=f"browse.jump.{page}",
                               label_visibility="collapsed")
    if jump != page:
        st.session_state["browse.page"] = int(jump)
        st.rerun()


def _open_study(ctx, rows: pd.DataFrame, selection, page: int, identified: bool) -> None:
    labels = [f"{_day(r.study_date) or 'no date'} · "
              f"{format_name(r.patient_name) if identified else (r.site or 'no site')} · {r.study_description or ''}"
              for r in rows.itertuples()]
    picked = (selection.selection.rows or [None])[0] if selection else None
    choice = st.selectbox("Open a study", range(len(rows)), index=picked, format_func=labels.__getitem__,
                          placeholder="Select a study on this page", key=f"browse.open.{page}.{picked}")
    if choice is not None:
        chosen = rows.iloc[choice]
        patient_banner(chosen.to_dict(), identified)
        key = study_keys.encode(data.archive(ctx.home).home, chosen["study_instance_uid"])
        try:
            st.page_link(str(BY_NAME["study"].path), label="Open study", icon=":material/folder_open:",
                         query_params={"study": key})
        except Exception:  # the page runs on its own (tests)
            st.markdown(f"[Open study](study?study={key})")


@guarded("browse")
def body(ctx):
    st.title("Browse studies")
    # Managers see studies, not patients (dashboard.access.IDENTITY_ROLES): no names, IDs or reports.
    identified = bool(ctx.user.roles & IDENTITY_ROLES)
    if identified:
        report_search(ctx)
    else:
        st.caption(":material/visibility_off: Patient names, IDs and report text are not shown to your role.")
    _search_form(ctx, identified)
    filters = _filters(identified)
    if filters["date_from"] and filters["date_to"] and filters["date_from"] > filters["date_to"]:
        st.warning("The 'From' date is after the 'To' date.")
        return
    page = max(1, int(st.session_state.get("browse.page", 1)))
    result = data.search(ctx.home, page=page, **filters)
    if result.total == 0:
        st.info("No studies match. Try fewer filters or a wildcard such as `smi*`."
                if any(v for k, v in filters.items() if k not in ("sort", "page_size"))
                else "The archive has no studies yet.", icon=":material/search_off:")
        return
    if page > result.pages:
        st.session_state["browse.page"] = result.pages
        st.rerun()

    first = (page - 1) * result.page_size + 1
    last = first + len(result.rows) - 1
    matches = "study matches" if result.total == 1 else "studies match"
    st.markdown(f"**{result.total:,} {matches}** · showing {first:,}–{last:,} · page {page:,} of {result.pages:,}")
    if result.note:
        st.caption(result.note)
    rows = result.rows
    selection = _results_table(rows, identified)
    _page_buttons(page, result.pages)
    _open_study(ctx, rows, selection, page, identified)


body(ctx)
