"""Repeat exams: how often patients are scanned again when an earlier exam would have done.

Every number comes from the repeat views in the store (migration 0004, documented in
archive/repeats/__init__.py), the same ones `limestone report repeats` and the notebooks read.
Patient names and IDs in the drill-downs are shown only to roles in REPEAT_DETAIL_ROLES; the
reference tables are edited by REPEAT_EDIT_ROLES.
"""

from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from archive.patients import linking as identity
from archive.repeats import classes
from dashboard import repeats_data as rd
from dashboard.access import REPEAT_DETAIL_ROLES, REPEAT_EDIT_ROLES
from dashboard.components.charts import chart_with_csv, csv_bytes
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("repeats")
PATIENT_COLUMNS = ["patient_id", "patient_name", "person_key"]
LAYOUT = dict(height=320, margin=dict(l=10, r=10, t=10, b=10))
COLORS = px.colors.qualitative.Safe
NAMES = {"repeats": "Repeats", "avoidable_repeats": "Avoidable repeats", "avoided_repeats": "Avoided repeats",
         "repeat_rate_pct": "Repeat rate", "avoidable_rate_pct": "Avoidable repeat rate"}
DATES = {c: st.column_config.DateColumn(format="YYYY-MM-DD")
         for c in ("study_date", "prior_date", "used_on", "patient_birth_date")}


def _filters(ctx):
    first, last = rd.date_range(ctx.home)
    if first is None:
        return None
    opts = rd.options(ctx.home)
    c = st.columns([2, 2, 2, 2, 1])
    default_from = max(first, last - timedelta(days=365 * 3))
    picked = c[0].date_input("Exam dates", value=(default_from, last), min_value=date(1900, 1, 1),
                             key="repeats.dates", format="YYYY-MM-DD")
    sites = c[1].multiselect("Sites", opts["site"], key="repeats.sites", placeholder="All sites")
    exam_classes = c[2].multiselect("Exam classes", opts["exam_class"], key="repeats.classes",
                                    placeholder="All classes",
                                    format_func=lambda code: opts["class_names"].get(code, code))
    modalities = c[3].multiselect("Modalities", opts["modality"], key="repeats.modalities",
                                  placeholder="All modalities")
    grain = c[4].selectbox("Per", ["week", "month", "year"], index=1, key="repeats.grain")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick the end date of the range.")
        return None
    return (picked[0], picked[1], tuple(sites), tuple(exam_classes), tuple(modalities)), grain


def _rate(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["repeat_rate_pct"] = (100 * out["repeats"] / out["studies"].where(out["studies"] > 0)).round(2)
    out["avoidable_rate_pct"] = (100 * out["avoidable_repeats"] / out["studies"].where(out["studies"] > 0)).round(2)
    return out


def _sum_by(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    numbers = ["studies", "repeats", "avoidable_repeats", "prior_uses", "avoided_repeats",
               "ct_dlp_mgy_cm", "ct_ctdi_vol_mgy", "xr_detector_kerma_ugy", "cost_avoided"]
    return _rate(df.groupby(by, as_index=False)[numbers].sum())


def _totals(df: pd.DataFrame) -> None:
    total = _sum_by(df.assign(all="all"), ["all"]).iloc[0]
    c = st.columns(6)
    c[0].metric("Studies", f"{int(total.studies):,}")
    c[1].metric("Repeats", f"{int(total.repeats):,}", help="Same person and exam class within the "
                "class's repeat window after an earlier exam.")
    c[2].metric("Repeat rate", f"{total.repeat_rate_pct:.1f}%")
    c[3].metric("Avoidable repeats", f"{int(total.avoidable_repeats):,}", help="The earlier exam was "
                "done at another site and was in the regional archive; not flagged clinically required.")
    c[4].metric("Avoided repeats", f"{int(total.avoided_repeats):,}", help="A prior was used (pulled, "
                "compared, shared, exported) and no exam of that class followed within the window.")
    c[5].metric("Cost avoided", f"{total.cost_avoided:,.0f}")
    st.caption(f"Dose avoided: CT {total.ct_dlp_mgy_cm:,.0f} mGy·cm DLP (CTDIvol {total.ct_ctdi_vol_mgy:,.0f} "
               f"mGy); radiography {total.xr_detector_kerma_ugy:,.1f} µGy detector air kerma. "
               f"Prior-use episodes: {int(total.prior_uses):,}.")


def _over_time(df: pd.DataFrame, grain: str) -> None:
    st.subheader("Over time")
    left, right = st.columns(2)
    by_period = _sum_by(df, ["period"])
    with left:
        rates = by_period.melt(id_vars="period", value_vars=["repeat_rate_pct", "avoidable_rate_pct"],
                               var_name="measure", value_name="percent")
        rates["measure"] = rates["measure"].map(NAMES)
        fig = px.line(rates, x="period", y="percent", color="measure", markers=True,
                      color_discrete_sequence=COLORS,
                      labels={"period": grain.title(), "percent": "% of studies", "measure": ""})
        fig.update_layout(**LAYOUT)
        chart_with_csv(fig, by_period, f"repeat_rate_by_{grain}", "repeats.rate")
    with right:
        counts = by_period.melt(id_vars="period", value_vars=["avoidable_repeats", "avoided_repeats"],
                                var_name="measure", value_name="exams")
        counts["measure"] = counts["measure"].map(NAMES)
        fig = px.bar(counts, x="period", y="exams", color="measure", barmode="group",
                     color_discrete_sequence=COLORS[1:],
                     labels={"period": grain.title(), "exams": "Exams", "measure": ""})
        fig.update_layout(**LAYOUT)
        chart_with_csv(fig, by_period, f"avoidable_and_avoided_by_{grain}", "repeats.counts")


def _by_site_class_modality(df: pd.DataFrame) -> None:
    st.subheader("By site, class and modality")
    left, right = st.columns(2)
    with left:
        by_site = _sum_by(df, ["site"])
        long = by_site.melt(id_vars="site", value_vars=["repeats", "avoidable_repeats", "avoided_repeats"],
                            var_name="measure", value_name="exams")
        long["measure"] = long["measure"].map(NAMES)
        fig = px.bar(long, x="site", y="exams", color="measure", barmode="group",
                     color_discrete_sequence=COLORS,
                     labels={"site": "Site", "exams": "Exams", "measure": ""})
        fig.update_layout(**LAYOUT)
        chart_with_csv(fig, by_site, "repeats_by_site", "repeats.site")
    with right:
        by_modality = _sum_by(df, ["modality"])
        fig = px.bar(by_modality, x="modality", y="repeat_rate_pct", color_discrete_sequence=COLORS,
                     hover_data=["studies", "repeats", "avoidable_repeats", "avoided_repeats"],
                     labels={"modality": "Modality", "repeat_rate_pct": "Repeat rate (%)"})
        fig.update_layout(**LAYOUT)
        chart_with_csv(fig, by_modality, "repeats_by_modality", "repeats.modality")
    by_class = _sum_by(df, ["exam_class", "class_name"]).sort_values("repeats", ascending=True)
    fig = px.bar(by_class.rename(columns=NAMES), y="class_name",
                 x=["Repeats", "Avoidable repeats", "Avoided repeats"], color_discrete_sequence=COLORS,
                 orientation="h", barmode="group", hover_data=["studies", "Repeat rate"],
                 labels={"class_name": "", "value": "Exams", "variable": ""})
    fig.update_layout(height=120 + 28 * len(by_class), margin=dict(l=10, r=10, t=10, b=10))
    chart_with_csv(fig, by_class, "repeats_by_class", "repeats.class")


def _dose_and_cost(df: pd.DataFrame) -> None:
    st.subheader("Dose and cost avoided")
    avoided = _sum_by(df, ["site", "exam_class", "class_name"])
    avoided = avoided[avoided["avoided_repeats"] > 0][
        ["site", "class_name", "avoided_repeats", "ct_dlp_mgy_cm", "ct_ctdi_vol_mgy",
         "xr_detector_kerma_ugy", "cost_avoided"]].sort_values(["site", "class_name"])
    if avoided.empty:
        st.info("No avoided repeats for these filters yet.")
    else:
        st.dataframe(avoided, hide_index=True, width="stretch", key="repeats.dose_table",
                     column_config={"ct_dlp_mgy_cm": "CT DLP (mGy·cm)", "ct_ctdi_vol_mgy": "CTDIvol (mGy)",
                                    "xr_detector_kerma_ugy": "XR kerma (µGy)", "cost_avoided": "Cost"})
        st.download_button("Download CSV", csv_bytes(avoided), "dose_and_cost_avoided.csv", "text/csv",
                           key="repeats.dose_table.csv", icon=":material/download:")


def _overview(ctx, f, grain):
    df = rd.series(ctx.home, grain, *f)
    if df.empty:
        st.info("No exams for these filters.", icon=":material/filter_alt_off:")
        return
    _totals(df)
    _over_time(df, grain)
    _by_site_class_modality(df)
    _dose_and_cost(df)


def _table(df: pd.DataFrame, ctx, name: str, key: str) -> None:
    """A drill-down table; patient columns only for roles allowed to see them."""
    if not (ctx.user.roles & REPEAT_DETAIL_ROLES):
        df = df.drop(columns=[c for c in PATIENT_COLUMNS if c in df.columns])
    st.dataframe(df, hide_index=True, width="stretch", key=key,
                 column_config={c: v for c, v in DATES.items() if c in df.columns})
    st.download_button("Download CSV", csv_bytes(df), f"{name}.csv", "text/csv", key=f"{key}.csv",
                       icon=":material/download:")


def _avoidable(ctx, f):
    df = rd.avoidable(ctx.home, *f)
    st.caption(f"{len(df):,} avoidable repeats: each with the earlier exam that was in the regional "
               "archive at the time, where it was done and how many days before."
               + ("" if ctx.user.roles & REPEAT_DETAIL_ROLES else
                  " Patient names and IDs are shown to quality and admin roles only."))
    if df.empty:
        st.info("No avoidable repeats for these filters.")
        return
    _table(df, ctx, "avoidable_repeats", "repeats.avoidable")


def _priors(ctx, f):
    df = rd.prior_uses(ctx.home, *f)
    st.caption("Priors put to use (retrieved, compared, shared, exported), grouped per person and "
               "class. 'avoided': no exam of that class followed within the window; 'repeated': one "
               "did; 'pending': the window is still open.")
    if df.empty:
        st.info("No priors were used in this range.")
        return
    df = df.assign(kinds=df["kinds"].map(lambda k: ", ".join(k) if k is not None else ""))
    _table(df, ctx, "prior_uses", "repeats.priors")


def _identity(ctx):
    summary = rd.link_summary(ctx.home)
    c = st.columns(5)
    c[0].metric("Patient records", f"{summary['records']:,}")
    c[1].metric("Persons", f"{summary['persons']:,}")
    c[2].metric("Linked by shared ID", f"{summary['by_shared_id']:,}")
    c[3].metric("Linked by demographics", f"{summary['by_demographics']:,}")
    c[4].metric("Conflicts to review", f"{summary['conflicts']:,}")
    if summary["not_yet_linked"]:
        st.warning(f"{summary['not_yet_linked']:,} records arrived after the last linking run and count "
                   "as their own person until `limestone link-patients` runs again.")
    if not (ctx.user.roles & REPEAT_DETAIL_ROLES):
        st.info("The review list shows patient details: quality and admin roles only.")
        return
    df = rd.conflicts(ctx.home)
    if df.empty:
        st.success("No conflicts to review.")
        return
    st.caption("Records the linker did not merge on its own (or merged with a warning). Decide on a "
               "pair and link again to apply it.")
    _table(df, ctx, "identity_conflicts", "repeats.conflicts")
    if "admin" not in ctx.user.roles:
        return
    with st.form("repeats.decide"):
        st.markdown("**Decide on two records**")
        labels = {row.patient_key: f"#{row.conflict} {row.site} · {row.patient_id} · {row.patient_name}"
                  for row in df.itertuples()}
        keys = list(labels)
        c = st.columns([3, 3, 2])
        a = c[0].selectbox("Record", keys, format_func=labels.get, key="repeats.decide.a")
        b = c[1].selectbox("and record", keys, index=min(1, len(keys) - 1), format_func=labels.get,
                           key="repeats.decide.b")
        decision = c[2].radio("They are", ["same", "different"], format_func=lambda d: f"the {d} person",
                              key="repeats.decide.decision")
        if st.form_submit_button("Save decision and link again"):
            try:
                rd.edit(ctx.home, identity.decide, a, b, decision, ctx.user.user_id)
                result = rd.bring_up_to_date(ctx.home).link
                st.success(f"Saved. {len(set(result.persons.values())):,} persons after linking again.")
            except ValueError as exc:
                st.error(str(exc))


def _reference(ctx):
    ref = rd.reference(ctx.home)
    may_edit = bool(ctx.user.roles & REPEAT_EDIT_ROLES)
    st.caption("Exam classes group comparable studies; a class's repeat window (empty: the modality "
               "default) and fee drive every number on this page.")
    st.dataframe(ref["classes"], hide_index=True, width="stretch", key="repeats.classes_table")
    st.download_button("Download CSV", csv_bytes(ref["classes"]), "exam_classes.csv", "text/csv",
                       key="repeats.classes_table.csv", icon=":material/download:")
    if not may_edit:
        st.info("Managers and admins can change windows, fees and flags.")
        return
    who = ctx.user.user_id
    left, right = st.columns(2)
    left, right = st.columns(2)
    with left.container(border=True):
        # Not a form: picking a class reruns the page so the inputs show that class's values.
        st.markdown("**Change a class**")
        code = st.selectbox("Class", list(ref["classes"]["exam_class"]), key="repeats.edit_class.code")
        row = ref["classes"].set_index("exam_class").loc[code]
        window = st.number_input("Repeat window (days, 0 = modality default)", 0, classes.MAX_WINDOW_DAYS,
                                 int(row["repeat_window_days"]) if pd.notna(row["repeat_window_days"]) else 0,
                                 key=f"repeats.edit_class.window.{code}")
        fee = st.number_input("Fee", 0.0, 1e6, float(row["fee"]) if pd.notna(row["fee"]) else 0.0,
                              key=f"repeats.edit_class.fee.{code}")
        if st.button("Save class", key="repeats.edit_class.save"):
            rd.edit(ctx.home, classes.set_exam_class, code, repeat_window_days=int(window) or None,
                    fee=fee or None, updated_by=who)
            st.success(f"{code} saved.")
    with right.container(border=True):
        st.markdown("**Default window of a modality**")
        windows = ref["windows"].set_index("modality")
        modality = st.selectbox("Modality", list(windows.index), key="repeats.edit_window.modality")
        days = st.number_input("Days", 0, classes.MAX_WINDOW_DAYS, int(windows.loc[modality, "window_days"]),
                               key=f"repeats.edit_window.days.{modality}")
        if st.button("Save window", key="repeats.edit_window.save"):
            rd.edit(ctx.home, classes.set_window_default, modality, int(days), who)
            st.success(f"{modality} default window saved.")
    left, right = st.columns(2)
    with left.form("repeats.flag"):
        st.markdown("**Flag a repeat as clinically required**")
        uid = st.text_input("Study Instance UID", key="repeats.flag.uid")
        reason = st.text_input("Reason", key="repeats.flag.reason")
        if st.form_submit_button("Flag"):
            try:
                rd.edit(ctx.home, classes.flag_clinically_required, uid.strip(), reason, who)
                st.success("Flagged: it no longer counts as avoidable.")
            except ValueError as exc:
                st.error(str(exc))
    with right.form("repeats.coverage"):
        st.markdown("**Site in the regional archive since**")
        site = st.selectbox("Site", rd.options(ctx.home)["site"], key="repeats.coverage.site")
        since = st.date_input("Covered since", value=date(2019, 1, 1), key="repeats.coverage.since")
        if st.form_submit_button("Save coverage"):
            rd.edit(ctx.home, classes.set_archive_coverage, site, since, who)
            st.success(f"{site} saved.")
    with st.expander("Class rules, flags and coverage"):
        for name in ("rules", "flags", "coverage"):
            st.dataframe(ref[name], hide_index=True, width="stretch", key=f"repeats.{name}_table")


def _freshness(ctx):
    state = rd.status(ctx.home)
    when = f"{state['refreshed_at']:%Y-%m-%d %H:%M} UTC" if state["refreshed_at"] else None
    if not state["stale"]:
        st.caption(f"Computed {when}." if when else "")
        return
    st.warning("Studies, patient links or prior uses changed after these numbers were computed"
               + (f" ({when})" if when else "") + ". Imports and pulls update them when they finish, "
               "the DICOM listener within minutes; `limestone link-patients` updates them now.",
               icon=":material/update:")
    if ctx.user.roles & REPEAT_EDIT_ROLES and st.button("Recompute now", key="repeats.recompute"):
        with st.spinner("Recomputing the repeat metrics..."):
            count = rd.bring_up_to_date(ctx.home).studies
        st.success(f"Recomputed for {count:,} studies.")
        st.rerun()


@guarded("repeats")
def body(ctx):
    st.title("Repeat exams")
    picked = _filters(ctx)
    if picked is None:
        if rd.date_range(ctx.home)[0] is None:
            st.info("No exams in the archive yet: repeat metrics appear after the first import.",
                    icon=":material/repeat:")
        return
    f, grain = picked
    _freshness(ctx)
    tabs = st.tabs(["Overview", "Avoidable repeats", "Priors used", "Patient identity", "Classes and windows"])
    with tabs[0]:
        _overview(ctx, f, grain)
    with tabs[1]:
        _avoidable(ctx, f)
    with tabs[2]:
        _priors(ctx, f)
    with tabs[3]:
        _identity(ctx)
    with tabs[4]:
        _reference(ctx)


body(ctx)
