"""Home: the archive at a glance (counts, storage, the last ingest) and where to go next."""

import streamlit as st

from dashboard import data
from dashboard.access import pages_for
from dashboard.components.setup import guarded, page_setup

ctx = page_setup("home")


def human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PB"


@guarded("home")
def body(ctx):
    st.title("Limestone imaging archive")
    counts = data.stats(ctx.home)
    cols = st.columns(5)
    for col, (label, name) in zip(cols[:4], [("Patients", "patients"), ("Studies", "studies"),
                                         ("Series", "series"), ("Images", "instances")], strict=True):
        col.metric(label, f"{counts[name]:,}")
    cols[4].metric("Stored", human_bytes(counts["bytes"]))
    if counts["studies"] == 0:
        st.info("The archive is empty. Import studies with `limestone import PATH` or build the "
                "demo archive with `limestone demo`.", icon=":material/inventory_2:")
        return
    run = data.last_run(ctx.home)
    if run:
        when = run["finished_at"] or run["started_at"]
        st.caption(f"Last ingest: {run['kind']} ({run['status']}) at {when:%Y-%m-%d %H:%M} UTC, "
                   f"{int(run['imported']):,} imported, {int(run['quarantined']):,} quarantined.")
    st.subheader("Go to")
    for spec in pages_for(ctx.user.roles):
        if spec.name in ("home", "study"):
            continue
        try:
            st.page_link(str(spec.path), label=spec.title, icon=spec.icon)
        except Exception:  # running on its own (tests): no router to link through
            st.markdown(f"- {spec.title}")


body(ctx)
