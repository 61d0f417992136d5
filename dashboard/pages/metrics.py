"""Department metrics for managers: volumes, workload, turnaround, storage, ingest health.

Every number comes from the metric views in the store (migration 0003), the same ones the
notebooks read; each chart offers its data as CSV.
"""

import logging
from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from archive.demo.sites import DAMAGED_SAMPLE_NOTE, is_damaged_sample_run
from archive.errors import LimestoneError
from archive.jobs.queue import progress_rows
from dashboard import data
from dashboard.components import tables
from dashboard.components.charts import chart_with_csv, csv_bytes
from dashboard.components.setup import guarded, page_setup

log = logging.getLogger("limestone.dashboard.metrics")

ctx = page_setup("metrics")
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _filters(ctx):
    first, last = data.metric_date_range(ctx.home)
    if first is None:
        return None
    options = data.filter_options(ctx.home)
    c = st.columns([2, 2, 2, 1])
    default_from = max(first, last - timedelta(days=365 * 2))
    picked = c[0].date_input("Exam dates", value=(default_from, last), min_value=date(1900, 1, 1),
                             key="metrics.dates", format="YYYY-MM-DD")
    sites = c[1].multiselect("Sites", options["site"], key="metrics.sites", placeholder="All sites")
    modalities = c[2].multiselect("Modalities", options["modality"], key="metrics.modalities",
                                  placeholder="All modalities")
    grain = c[3].selectbox("Per", ["day", "week", "month"], index=1, key="metrics.grain")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick the end date of the range.")
        return None
    return dict(date_from=picked[0], date_to=picked[1], sites=tuple(sites),
                modalities=tuple(modalities)), grain


def _empty(what: str) -> None:
    st.info(f"No {what} for these filters.", icon=":material/filter_alt_off:")


def _volumes(ctx, f: dict, grain: str) -> None:
    volume = data.metric(ctx.home, "exam_volume", grain=grain, **f)
    total = int(volume["studies"].sum()) if not volume.empty else 0
    st.subheader("Exam volumes")
    st.caption(f"{total:,} studies in the range.")
    if volume.empty:
        _empty("exams")
    else:
        by = st.radio("Colour by", ["modality", "site"], horizontal=True, key="metrics.volume_by",
                      format_func=str.title)
        fig = px.bar(volume, x="period", y="studies", color=by,
                     hover_data=["site" if by == "modality" else "modality"],
                     labels={"period": grain.title(), "studies": "Studies", "modality": "Modality",
                             "site": "Site"})
        fig.update_layout(barmode="stack", height=340, margin=dict(l=10, r=10, t=10, b=10))
        chart_with_csv(fig, volume, f"exam_volume_by_{grain}", "metrics.volume")


def _workload(ctx, f: dict) -> None:
    st.subheader("Workload by weekday and hour")
    work = data.metric(ctx.home, "workload", **f)
    if work.empty:
        _empty("exams with a time of day")
    else:
        grid = (work.pivot_table(index="weekday", columns="hour", values="studies", aggfunc="sum")
                .reindex(index=range(1, 8), columns=range(24)).fillna(0))
        fig = px.imshow(grid.values, x=[f"{h:02d}" for h in range(24)], y=WEEKDAYS,
                        color_continuous_scale="Blues", aspect="auto",
                        labels={"x": "Hour", "y": "", "color": "Studies"})
        fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10))
        chart_with_csv(fig, work, "workload_weekday_hour", "metrics.workload")


def _turnaround(ctx, f: dict) -> None:
    st.subheader("Turnaround: exam to archive")
    turn = data.metric(ctx.home, "turnaround", **f)
    if turn.empty:
        _empty("studies with both an exam time and an arrival time")
    else:
        days = turn["median_hours"].max() > 72  # long delays read better in days
        plot = turn.assign(median=turn["median_hours"] / (24 if days else 1))
        fig = px.bar(plot, x="modality", y="median", color="site", barmode="group",
                     hover_data=["median_hours", "p90_hours", "studies"],
                     labels={"median": f"Median {'days' if days else 'hours'}",
                             "modality": "Modality", "site": "Site"})
        fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10))
        chart_with_csv(fig, turn, "turnaround_exam_to_archive", "metrics.turnaround")
        st.caption("Time from the exam's date and time to its first arrival in the archive. "
                   "Imports of older studies show as long delays; report times are not in the store.")


def _storage(ctx, f: dict) -> None:
    st.subheader("Storage")
    storage = data.metric(ctx.home, "storage", **f)
    if storage.empty:
        _empty("stored studies")
    else:
        # A full month x modality grid, so a month without exams keeps the running total flat.
        grid = (storage.pivot_table(index="month", columns="modality", values="bytes", aggfunc="sum")
                .fillna(0).sort_index().cumsum())
        unit, scale = ("GB", 1e9) if grid.to_numpy().max() >= 1e9 else ("MB", 1e6)
        by_modality = grid.reset_index().melt(id_vars="month", var_name="modality",
                                              value_name="cumulative_bytes")
        by_modality[f"cumulative_{unit.lower()}"] = by_modality["cumulative_bytes"] / scale
        left, right = st.columns(2)
        with left:
            fig = px.area(by_modality, x="month", y=f"cumulative_{unit.lower()}", color="modality",
                          labels={"month": "Month of exam", f"cumulative_{unit.lower()}": f"{unit} (cumulative)",
                                  "modality": "Modality"})
            fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10))
            chart_with_csv(fig, by_modality, "storage_growth_by_modality", "metrics.storage_growth")
        with right:
            by_site = storage.groupby(["site", "modality"], as_index=False)[["studies", "bytes"]].sum()
            by_site["size"] = by_site["bytes"] / scale
            fig = px.bar(by_site, x="site", y="size", color="modality",
                         labels={"site": "Site", "size": unit, "modality": "Modality"})
            fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10))
            chart_with_csv(fig, by_site, "storage_by_site", "metrics.storage_site")


def _ingest_health(ctx, f: dict) -> None:
    st.subheader("Ingest health")
    runs = data.ingest_runs(ctx.home, f["sites"])
    # Ingest health is about arrivals, not exam dates: quarantine counts cover all time.
    quarantine = data.metric(ctx.home, "quarantine", date(1900, 1, 1), date.today() + timedelta(days=1),
                             (), ())
    if not runs.empty:   # the demo's damaged samples are quarantined on purpose: not a failed ingest
        sample = [is_damaged_sample_run(k, s) for k, s in zip(runs["kind"], runs["site"], strict=True)]
        runs = runs.assign(status=runs["status"].where(~pd.Series(sample, index=runs.index), "demo sample"))
        on_purpose = int(runs.loc[sample, "quarantined"].sum())
    else:
        on_purpose = 0
    c = st.columns(4)
    c[0].metric("Runs shown", len(runs))
    c[1].metric("Runs not ok", int((~runs["status"].isin(["ok", "demo sample"])).sum()) if not runs.empty else 0)
    c[2].metric("Failed files", int(runs["failed"].sum()) if not runs.empty else 0)
    c[3].metric("Quarantined files", int(quarantine["files"].sum()) if not quarantine.empty else 0)
    if on_purpose:
        st.info(f"{on_purpose:,} of the quarantined files are the {DAMAGED_SAMPLE_NOTE}: they show how the "
                "archive sets bad files aside.", icon=":material/science:")
    if runs.empty:
        st.info("No ingest runs recorded yet.")
    else:
        latest = runs.sort_values("started_at", ascending=False).groupby(["kind", "source"], as_index=False).first()
        st.caption("Latest run per source and node")
        tables.show(latest[["kind", "source", "site", "status", "started_at", "imported", "quarantined",
                            "failed"]], key="metrics.latest_runs")
        st.caption("All recent runs")
        tables.show(runs.drop(columns=["run_id"]), key="metrics.runs")
        st.download_button("Download CSV", csv_bytes(runs), "ingest_runs.csv", "text/csv",
                           key="metrics.runs.csv", icon=":material/download:")
    _job_queue(ctx)
    if not quarantine.empty:
        fig = px.bar(quarantine, x="files", y="reason_kind", orientation="h",
                     labels={"files": "Files", "reason_kind": "Reason"})
        fig.update_layout(height=80 + 40 * len(quarantine), margin=dict(l=10, r=10, t=10, b=10))
        chart_with_csv(fig, quarantine, "quarantine_reasons", "metrics.quarantine")


def _job_queue(ctx) -> None:
    """Big imports and pulls spread over workers (a region's archive only)."""
    try:
        queue = data.job_queue(ctx.home)
    except LimestoneError:
        log.warning("the job queue could not be read", exc_info=True)
        st.warning("The work queue cannot be read just now.", icon=":material/cloud_off:")
        return
    if queue["mode"] != "distributed":
        return
    rows = progress_rows(queue)
    st.caption(f"Work queue: {len(queue['workers'])} worker(s) alive, "
               f"{sum(1 for r in rows if r['state'] == 'running')} submission(s) in progress")
    if rows:
        tables.show(pd.DataFrame(rows), key="metrics.jobs")


@guarded("metrics")
def body(ctx):
    st.title("Department metrics")
    picked = _filters(ctx)
    if picked is None:
        if data.metric_date_range(ctx.home)[0] is None:
            st.info("No exams in the archive yet: metrics appear after the first import.",
                    icon=":material/monitoring:")
        return
    f, grain = picked

    _volumes(ctx, f, grain)
    left, right = st.columns(2)
    with left:
        _workload(ctx, f)
    with right:
        _turnaround(ctx, f)
    _storage(ctx, f)
    _ingest_health(ctx, f)


body(ctx)
