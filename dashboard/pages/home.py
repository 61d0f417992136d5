"""Home: the archive at a glance (counts, storage, the last ingest) and where to go next."""

import streamlit as st

from archive.demo.sites import DAMAGED_SAMPLE_NOTE, is_damaged_sample_run
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


def backups_and_keys(home: str) -> None:
    """For admins: when the archive was last backed up and its master keys escrowed."""
    facts = data.protection(home)
    st.subheader("Backups and keys")
    backup, escrow = facts["last_backup"], facts["last_escrow"]
    cols = st.columns(2)
    cols[0].metric("Last backup", backup["at"][:16].replace("T", " ") + " UTC" if backup else "never")
    cols[1].metric("Last key escrow", escrow["at"][:16].replace("T", " ") + " UTC" if escrow else "never")
    if backup:
        st.caption(f"Backup {backup['id']}: {backup['files']:,} files, {human_bytes(backup['bytes'])} "
                   f"({human_bytes(backup['copied_bytes'])} copied).")
    else:
        st.warning("This archive has never been backed up: run `limestone backup --to FOLDER` "
                   "(a disk or NAS share away from this one).", icon=":material/backup:")
    if facts["escrow_due"]:
        st.warning("The current master key is in no key escrow: without it the vault cannot be read. "
                   "Run `limestone keys escrow --out FILE` and store the sheet safely.",
                   icon=":material/key:")


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
        if is_damaged_sample_run(run["kind"], run.get("site")):
            st.caption(f"Last ingest: the demo's test files at {when:%Y-%m-%d %H:%M} UTC, "
                       f"{int(run['imported']):,} imported; {int(run['quarantined']):,} quarantined as a "
                       f"{DAMAGED_SAMPLE_NOTE}.")
        else:
            st.caption(f"Last ingest: {run['kind']} ({run['status']}) at {when:%Y-%m-%d %H:%M} UTC, "
                       f"{int(run['imported']):,} imported, {int(run['quarantined']):,} quarantined.")
    if "admin" in ctx.user.roles:
        backups_and_keys(ctx.home)
    st.subheader("Go to")
    for spec in pages_for(ctx.user.roles):
        if spec.name in ("home", "study"):
            continue
        try:
            st.page_link(str(spec.path), label=spec.title, icon=spec.icon)
        except Exception:  # running on its own (tests): no router to link through
            st.markdown(f"- {spec.title}")


body(ctx)
