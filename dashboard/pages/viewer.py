"""The image viewer page: one study's series, read from the vault. Opening it is audited."""

from functools import partial

import streamlit as st

from archive import study_keys
from archive.audit.trail import AuditEvent, record
from dashboard import data
from dashboard.access import BY_NAME
from dashboard.components.banner import patient_banner
from dashboard.components.find_study import find_study, redirect_study_uid
from dashboard.components.reports import study_reports
from dashboard.components.setup import guarded, page_setup
from dashboard.components.viewer import Pane, image_viewer

ctx = page_setup("viewer")
AUDITED = "viewer.audited"


def _audit_view(ctx, archive, study) -> None:
    """One 'view' event per study per session, written when the viewer opens it."""
    seen = st.session_state.setdefault(AUDITED, set())
    if study["study_instance_uid"] in seen:
        return
    if record(archive.home, AuditEvent("view", ctx.user.user_id, ctx.user.role_label,
                                       study["study_instance_uid"], study["patient_key"])):
        seen.add(study["study_instance_uid"])


def _wanted(series_param: str | None, count: int) -> int:
    """The index of the series the address asks for (``?series=``, 1-based), within ``count``."""
    try:
        return min(max(int(series_param or "1"), 1), max(count, 1)) - 1
    except ValueError:
        return 0


def _read_ahead(home: str, uid: str, series_param: str | None) -> None:
    """The study's series and the images of the one asked for, read while the page reads the study."""
    series = data.study_series(home, uid)
    if not series.empty:
        data.series_instances(home, uid, series.iloc[_wanted(series_param, len(series))]["series_instance_uid"])


@guarded("viewer")
def body(ctx):
    archive = data.archive(ctx.home)
    redirect_study_uid(archive)
    key = st.query_params.get("study")
    uid = study_keys.decode(archive.home, key)
    if uid:
        data.prefetch(partial(_read_ahead, ctx.home, uid, st.query_params.get("series")))
    study = data.study(ctx.home, uid) if uid else None
    if study is None:
        st.title("Image viewer")
        st.info("This study link is not valid here. Find the study below." if key else
                "Find a study to view, or open one from **Browse studies**.")
        find_study(ctx, archive, "viewer")
        return
    patient_banner(study)
    _audit_view(ctx, archive, study)
    series = data.study_series(ctx.home, uid)
    if series.empty:
        st.info("This study has no series in the store.")
        return
    labels = [f"#{'' if data.whole(s.series_number) is None else data.whole(s.series_number)} "
              f"{s.modality or ''} {s.series_description or ''} ({data.whole(s.number_of_instances) or 0})"
              for s in series.itertuples()]
    wanted = _wanted(st.query_params.get("series"), len(series))
    top = st.columns([3, 1])
    with top[0]:
        chosen = st.selectbox("Series", range(len(series)), index=wanted, format_func=labels.__getitem__,
                              key="viewer.series")
    with top[1]:
        try:
            st.page_link(str(BY_NAME["study"].path), label="Back to study", icon=":material/arrow_back:",
                         query_params={"study": key})
        except Exception:
            pass
    if chosen != wanted:
        st.query_params["series"] = str(chosen + 1)
    s = series.iloc[chosen]
    instances = data.series_instances(ctx.home, uid, s["series_instance_uid"])
    image_viewer(ctx.home, ctx.user.user_id, [Pane(key, chosen + 1, instances, labels[chosen])],
                 key=f"viewer.{chosen}")
    with st.expander("Reports", icon=":material/description:"):
        study_reports(ctx, uid, key="viewer")


body(ctx)
