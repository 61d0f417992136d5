"""Sites (admins): the hospitals of the region and what identifies their studies (MRN issuers,
institution names, AE titles), the values seen in the archive that no site claims yet, and the
form that adds or extends a site. The work is done by ``archive.sites.registry``, as for
``limestone sites``; adding re-attributes the stored studies that had no site and now match."""

import pandas as pd
import streamlit as st

from archive.sites import registry
from archive.store.connection import LAKE
from dashboard import data
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("sites")


@st.cache_data(ttl=data.TTL, show_spinner=False)
def overview(home: str) -> dict:
    with data.cursor(home) as cur:
        return {"sites": registry.list_sites(cur), "counts": registry.study_counts(cur),
                "unassigned": registry.unassigned(cur).as_dict()}


def change(home: str, action, *args, **kwargs) -> registry.SiteChange:
    archive = data.archive(home)
    con = archive.store()
    try:
        con.execute(f"USE {LAKE}")
        return action(con, archive.home, *args, **kwargs)
    finally:
        con.close()
        st.cache_data.clear()   # every page's numbers may move with the studies' sites


def _lines(values: str) -> list[str]:
    return [v.strip() for v in values.replace(",", "\n").splitlines() if v.strip()]


@guarded("sites")
def body(ctx):
    st.title("Sites")
    st.caption("A study belongs to the site named at import, else to the site of its MRN issuer, its "
               "institution name or the AE title it came from. Repeat metrics count an exam as an "
               "avoidable repeat when an earlier one was made at another site.")
    notice = st.session_state.pop("sites.notice", None)
    if notice:
        st.success(notice)
    view = overview(ctx.home)
    counts = view["counts"]

    if view["sites"]:
        frame = pd.DataFrame([{
            "Code": s.site, "Name": s.name or "", "MRN issuers": ", ".join(s.all_issuers()),
            "Institutions": ", ".join(s.institution_names), "AE titles": ", ".join(s.ae_titles),
            "Studies": counts.get(s.site, 0)} for s in view["sites"]])
        st.dataframe(frame, hide_index=True, width="stretch", key="sites.table")
    else:
        st.info("No site yet: every study is counted under “(no site)”.", icon=":material/domain_disabled:")
    if counts.get(registry.NO_SITE):
        st.warning(f"{counts[registry.NO_SITE]:,} studies have no site.", icon=":material/help:")

    st.subheader("Seen in the archive, claimed by no site")
    loose = view["unassigned"]
    labels = {"issuers": "MRN issuers", "institutions": "Institution names", "ae_titles": "AE titles"}
    if not any(loose.values()):
        st.info("Every issuer, institution name and AE title in the archive belongs to a site.",
                icon=":material/task_alt:")
    else:
        columns = st.columns(3)
        for column, (key, label) in zip(columns, labels.items(), strict=True):
            column.markdown(f"**{label}**")
            if loose[key]:
                column.dataframe(pd.DataFrame(loose[key]).rename(columns={"value": label, "studies": "Studies"}),
                                 hide_index=True, width="stretch", key=f"sites.unassigned.{key}")
            else:
                column.caption("none")

    st.subheader("Add a site, or add to one")
    with st.form("sites.add", clear_on_submit=False):
        top = st.columns(2)
        code = top[0].text_input("Code", key="sites.code", placeholder="NORTH", max_chars=32)
        name = top[1].text_input("Name", key="sites.name", placeholder="North General Hospital")
        fields = st.columns(3)
        issuers = fields[0].multiselect("MRN issuers", [i["value"] for i in loose["issuers"]],
                                        key="sites.issuers", accept_new_options=True)
        institutions = fields[1].multiselect("Institution names", [i["value"] for i in loose["institutions"]],
                                             key="sites.institutions", accept_new_options=True)
        aes = fields[2].multiselect("AE titles", [i["value"] for i in loose["ae_titles"]],
                                    key="sites.aes", accept_new_options=True)
        covered = st.date_input("In the regional archive since (optional)", value=None, key="sites.covered")
        if st.form_submit_button("Save site", icon=":material/save:"):
            try:
                done = change(ctx.home, registry.add_site, code, name=name or None, issuers=issuers,
                              institutions=institutions, ae_titles=aes, covered_since=covered,
                              updated_by=ctx.user.user_id)
            except registry.SiteError as exc:
                st.error(str(exc))
            else:
                st.session_state["sites.notice"] = (
                    f"Site {done.code} {'added' if done.added else 'updated'}; {done.reattributed:,} stored "
                    f"{'study' if done.reattributed == 1 else 'studies'} attributed to it.")
                st.rerun()

    if view["sites"]:
        st.subheader("Remove a site")
        row = st.columns([3, 1], vertical_alignment="bottom")
        code = row[0].selectbox("Site", [s.site for s in view["sites"]], key="sites.remove.code")
        if row[1].button("Remove", key="sites.remove", icon=":material/delete:"):
            done = change(ctx.home, registry.remove_site, code)
            st.session_state["sites.notice"] = (f"Site {done.code} removed; {done.reattributed:,} of its "
                                                "studies matched again.")
            st.rerun()


body(ctx)
