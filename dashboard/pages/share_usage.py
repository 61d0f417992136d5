"""Share link usage for managers: links issued, opened, downloaded, never opened, time to first
open and revoked, by site and month of issue (from archive.sharing.usage)."""

from datetime import date, timedelta

import plotly.express as px
import streamlit as st

from archive.sharing import usage as share_usage
from dashboard import data
from dashboard.components.charts import chart_with_csv
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("share_usage")


@guarded("share_usage")
def body(ctx):
    archive = data.archive(ctx.home)
    st.title("Share link usage")
    st.caption("How patients and outside doctors use the links the department issues instead of CDs.")
    today = date.today()
    all_links = share_usage.links_frame(archive.home)
    if all_links.empty:
        st.info("No share links have been issued yet.", icon=":material/link:")
        return
    first = all_links["created_at"].min().date()
    c = st.columns([3, 3])
    picked = c[0].date_input("Issued between", value=(max(first, today - timedelta(days=365)), today),
                             key="share_usage.dates", format="YYYY-MM-DD")
    sites = c[1].multiselect("Sites", sorted(all_links["site"].fillna("(no site)").unique()),
                             key="share_usage.sites", placeholder="All sites")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick the end date of the range.")
        return
    frame = share_usage.report(archive.home, picked[0], picked[1], tuple(sites))
    if frame.empty:
        st.info("No links were issued in this range.", icon=":material/filter_alt_off:")
        return
    totals = share_usage.totals(frame)
    m = st.columns(5)
    m[0].metric("Links issued", f"{totals['issued']:,}")
    m[1].metric("Opened", f"{totals['opened']:,}",
                help="Opened with the right passcode at least once")
    m[2].metric("Never opened", f"{totals['never_opened']:,}")
    m[3].metric("Downloads", f"{totals['downloads']:,}")
    m[4].metric("Revoked", f"{totals['revoked']:,}")
    long = frame.melt(id_vars=["month", "site"], value_vars=["opened", "never_opened"],
                      var_name="outcome", value_name="links")
    fig = px.bar(long, x="month", y="links", color="outcome", facet_col="site", barmode="stack",
                 labels={"month": "Month issued", "links": "Links", "outcome": ""}, height=320)
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10))
    fig.update_xaxes(type="category")  # months, not instants
    chart_with_csv(fig, frame, "share_link_usage", "share_usage.opened")
    st.subheader("By site and month")
    table = frame.rename(columns={
        "month": "Month", "site": "Site", "issued": "Issued", "by_patients": "Shared by patients",
        "opened": "Opened", "never_opened": "Never opened",
        "open_rate": "Open rate", "downloads": "Downloads", "links_downloaded": "Links downloaded",
        "median_hours_to_first_open": "Median hours to first open", "revoked": "Revoked",
        "expired_unopened": "Expired unopened"})
    st.dataframe(table, hide_index=True, width="stretch", key="share_usage.table",
                 column_config={"Open rate": st.column_config.NumberColumn(format="percent")})


body(ctx)
