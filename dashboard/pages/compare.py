"""Comparison review: the current study beside its relevant priors, scrolled in step.

Open with ``?study=<key>`` (the study page's opaque key). The priors are ranked by
``archive.comparison.priors``; series are paired by ``archive.comparison.series_pairing``
(changeable); the prior panes follow the current one by patient position, by an offset the user
fixes ("Link at this slice") or by a registration suggestion (``archive.comparison.scroll_link``,
``archive.comparison.image_registration``). Opening a comparison is audited and counted as a
prior used (``archive.comparison.record``).
"""

import hashlib
import uuid
from functools import partial

import pandas as pd
import streamlit as st

from archive import study_keys
from archive.comparison.difference import difference, display_sense
from archive.comparison.difference import render as render_difference
from archive.comparison.image_registration import suggest_offset
from archive.comparison.record import Shown, audit_comparison, comparison_id, record_prior_uses
from archive.comparison.scroll_link import (
    OFF,
    OFFSET,
    POSITION,
    SeriesGeometry,
    describe_offset,
    linked_index,
    offset_between,
    plan_sync,
)
from archive.comparison.series_pairing import SeriesInfo, pair_series
from archive.dicom import pixels
from dashboard import data
from dashboard.components import comparison as cmp
from dashboard.components.banner import patient_banner
from dashboard.components.find_study import find_study
from dashboard.components.setup import guarded, page_setup
from dashboard.components.viewer import Pane, image_viewer, secure_png

ctx = page_setup("compare")
MAX_PRIORS = 3
TWO_D = {"CR", "DX", "MG", "RG", "DR"}
MODES = {POSITION: "Patient position", OFFSET: "Linked offset", OFF: "Not linked"}
ss = st.session_state


def _h(text: str) -> str:
    """A short key fragment for a UID (widget keys stay short and carry nothing readable)."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _day(value) -> str:
    return f"{value:%Y-%m-%d}" if value is not None and value == value else "unknown date"


def _shown(study, chosen) -> tuple[Shown, list[Shown]]:
    return (Shown(study["study_instance_uid"], study.get("patient_key")),
            [Shown(p.study_instance_uid, p.patient_key) for p in chosen])


def _audit(archive, study, chosen) -> bool:
    """Audit the comparison once per session for this set of studies; True when it was new."""
    session = ss.setdefault("compare.session", uuid.uuid4().hex)
    cid = comparison_id(ctx.user.user_id, study["study_instance_uid"],
                        [p.study_instance_uid for p in chosen], session)
    done = ss.setdefault("compare.recorded", set())
    if cid in done:
        return False
    if audit_comparison(archive, ctx.user.user_id, ctx.user.role_label, *_shown(study, chosen), session):
        done.add(cid)
    return True


def _read_ahead(home: str, uid: str, index: int) -> None:
    """The current study's series and the images of the one on screen, read while the page ranks
    the priors (``data.prefetch``)."""
    rows = cmp.series_geometry(home, uid)
    if 0 <= index < len(rows):
        cmp.series_instances(home, uid, rows.iloc[index]["series_instance_uid"])


@guarded("compare")
def body(ctx):
    archive = data.archive(ctx.home)
    key = st.query_params.get("study")
    uid = study_keys.decode(archive.home, key)
    study = data.study(ctx.home, uid) if uid else None
    if study is None:
        st.title("Compare with priors")
        if key:
            st.info("This study link is not valid here. Find the current study below.")
        find_study(ctx, archive, "compare", label="Current study", pick_label="Study to compare",
                   placeholder="Choose the current study")
        return
    data.prefetch(partial(_read_ahead, ctx.home, uid, ss.get("compare.current_series", 0)))
    patient_banner(study)
    st.title(f"Compare: {study.get('study_description') or 'study'}")
    st.caption(f"Current study: {_day(study.get('study_date'))} · {study.get('site') or 'no site'} · "
               f"{', '.join(study.get('modalities') or [])}")
    priors = cmp.relevant_priors(ctx.home, uid, study)
    if not priors:
        st.info("This patient has no earlier studies in the regional archive to compare with.")
        return
    chosen = _choose_priors(priors)
    if not chosen:
        return
    data.prefetch(*(partial(cmp.series_geometry, ctx.home, p.study_instance_uid) for p in chosen))
    first_open = _audit(archive, study, chosen)
    _compare(ctx, archive, key, uid, study, chosen)
    if first_open:   # once the images are on their way: its store writer would compete with them
        record_prior_uses(archive, ctx.user.user_id, *_shown(study, chosen), study.get("site"),
                          ss["compare.session"], background=True)


def _compare(ctx, archive, key, uid, study, chosen) -> None:
    """The series pickers, the scroll-link controls and the linked panes of the chosen priors."""
    current_rows = cmp.series_geometry(ctx.home, uid)
    if current_rows.empty:
        st.warning("The current study has no series in the store.")
        return
    cur_info, ci, paired = _pair_series(ctx, current_rows, chosen)
    cur_inst = cmp.series_instances(ctx.home, uid, cur_info.series_instance_uid)
    cur_geom = SeriesGeometry.from_instances(cur_inst, cur_info.frame_of_reference_uid)
    follow = st.toggle("Window and zoom follow the pane in use", key="compare.sync_window")
    positions = ss.get("compare.positions") or []
    panes = [Pane(key, ci + 1, cur_inst, f"Current · {_day(study.get('study_date'))} · {study.get('site') or ''}",
                  positions[0] if positions else 0)]
    link: dict[str, list[int]] = {}
    columns = st.columns(max(1, len(paired)))
    for n, (prior, infos, si, h) in enumerate(paired, start=1):
        inst = cmp.series_instances(ctx.home, prior.study_instance_uid, infos[si].series_instance_uid)
        geom = SeriesGeometry.from_instances(inst, infos[si].frame_of_reference_uid, cur_geom.normal)
        with columns[n - 1]:
            mode, offset = _link_controls(archive, h, prior, cur_inst, cur_geom, inst, geom, n)
        link.update(_link_maps(cur_geom, geom, n, mode, offset))
        panes.append(Pane(study_keys.encode(archive.home, prior.study_instance_uid), si + 1, inst,
                          f"Prior · {_day(prior.study_date)} · {prior.site or ''} · {prior.ago} before",
                          positions[n] if len(positions) > n else (link.get(f"0>{n}") or [0])[0]))
    state = image_viewer(ctx.home, ctx.user.user_id, panes, key=f"compare.viewer.{_h(str(ci))}",
                         link=link, follow=follow)
    if state is not None and state.get("position") is not None:
        ss["compare.positions"] = list(state["position"])
    _list_measurements(state, panes)
    if (cur_info.modality or "").upper() in TWO_D and paired:
        _difference(ctx, archive, cur_inst, cur_geom, paired[0], key)


def _choose_priors(priors) -> list:
    table = pd.DataFrame([{"Score": p.score, "Date": p.study_date, "Before": p.ago, "Site": p.site,
                           "Modality": p.modality, "Description": p.description,
                           "Body part": p.body_part} for p in priors])
    with st.expander(f"Relevant priors ({len(priors)}), best first", expanded=True):
        st.dataframe(table, hide_index=True, width="stretch", key="compare.priors_table",
                     column_config={"Score": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                             format="%.2f")})
    labels = [f"{_day(p.study_date)} · {p.site or '?'} · {p.modality} · {p.description or ''} "
              f"({p.ago} before)" for p in priors]
    picked = st.multiselect("Priors to show beside the current study (up to three)", range(len(priors)),
                            default=[0], max_selections=MAX_PRIORS, format_func=labels.__getitem__,
                            key="compare.priors")
    if not picked:
        st.info("Choose at least one prior to compare.")
    return [priors[i] for i in picked]


def _pair_series(ctx, current_rows, chosen):
    """The current series (picked) and, per prior, its series list and the paired (or picked) one."""
    current_series = [SeriesInfo.from_row(r) for r in current_rows.to_dict("records")]
    top = st.columns([2] + [2] * len(chosen))
    with top[0]:
        ci = st.selectbox("Current series", range(len(current_series)),
                          format_func=lambda i: current_series[i].label, key="compare.current_series")
    cur_info = current_series[ci]
    paired = []
    for n, prior in enumerate(chosen):
        h = _h(prior.study_instance_uid)
        infos = [SeriesInfo.from_row(r) for r in
                 cmp.series_geometry(ctx.home, prior.study_instance_uid).to_dict("records")]
        with top[n + 1]:
            if not infos:
                st.warning(f"The prior of {_day(prior.study_date)} has no images in the archive.")
                continue
            match = pair_series([cur_info], infos)[cur_info.series_instance_uid]
            default = next((k for k, s in enumerate(infos) if s.series_instance_uid == match), 0)
            auto = f"compare.p{h}.auto"
            if ss.get(auto) != (cur_info.series_instance_uid, default):
                ss[auto] = (cur_info.series_instance_uid, default)   # the current series changed: re-pair
                ss[f"compare.p{h}.series"] = default
            si = st.selectbox(f"Prior {_day(prior.study_date)} series", range(len(infos)),
                              format_func=lambda i, infos=infos, default=default: (
                                  infos[i].label + (" (paired)" if i == default else "")),
                              key=f"compare.p{h}.series")
            if match is None:
                st.caption("No series of the same modality: choose one by hand.")
        paired.append((prior, infos, si, h))
    return cur_info, ci, paired


def _link_controls(archive, h, prior, cur_inst, cur_geom, inst, geom, n) -> tuple[str, float]:
    """The prior's scroll link: mode, "Link at this slice", "Suggest link"; returns (mode, offset)."""
    plan = plan_sync(cur_geom, geom)
    pkey = f"compare.p{h}"
    link_id = (tuple(cur_inst["content_hash"][:1]), tuple(inst["content_hash"][:1]))
    if ss.get(f"{pkey}.link_for") != link_id:      # a new pair: start from the plan's default
        ss[f"{pkey}.link_for"] = link_id
        ss[f"{pkey}.mode"] = plan.default_mode
        ss[f"{pkey}.offset"] = 0.0
        for stale in ("suggested", "suggest_note", "in_plane_mm"):
            ss.pop(f"{pkey}.{stale}", None)
    modes = [m for m in (POSITION, OFFSET, OFF) if m == OFF or (m == POSITION and plan.by_position)
             or (m == OFFSET and plan.linkable)]
    if ss[f"{pkey}.mode"] not in modes:
        ss[f"{pkey}.mode"] = modes[0]
    st.markdown(f"**Prior {n}** · {_day(prior.study_date)} · {prior.site or ''}")
    for note in plan.notes:
        st.caption(f":material/info: {note}")
    mode = st.radio("Scroll link", modes, format_func=MODES.get, horizontal=True, key=f"{pkey}.mode")
    b = st.columns(2)
    b[0].button("Link at this slice", key=f"{pkey}.link", disabled=not plan.linkable or not len(cur_inst),
                help="Fix the link so this prior image goes with the current image on screen.",
                on_click=_link_here, args=(pkey, cur_geom, geom, n))
    b[1].button("Suggest link", key=f"{pkey}.suggest", disabled=not (cur_geom.has_positions and geom.has_positions),
                help="Register the two series (phase correlation of their projections).",
                on_click=_suggest, args=(pkey, archive, cur_inst, cur_geom, inst, geom))
    if mode == OFFSET:
        st.caption(f"Linked with offset {describe_offset(ss[f'{pkey}.offset'], cur_geom, geom)}"
                   + (" (suggested by registration)" if ss.get(f"{pkey}.suggested") else ""))
    if ss.get(f"{pkey}.suggest_note"):
        st.caption(ss[f"{pkey}.suggest_note"])
    return mode, float(ss[f"{pkey}.offset"])


def _link_maps(cur_geom, geom, n: int, mode: str, offset: float) -> dict[str, list[int]]:
    """The scroll link computed once, applied in the browser: image i of one pane -> image of the other."""
    if mode == OFF or not cur_geom.count or not geom.count:
        return {}
    forward = [linked_index(cur_geom, i, geom, mode, offset).index for i in range(cur_geom.count)]
    back = [linked_index(geom, j, cur_geom, mode, -offset).index for j in range(geom.count)]
    return {f"0>{n}": forward, f"{n}>0": back}


def _list_measurements(state, panes) -> None:
    """The measurements drawn on the canvases, as the viewer sent them."""
    marks = (state or {}).get("measurements") or []
    rows = [{"Pane": panes[n].label.split(" · ")[0] + (f" {n}" if n else ""), "Image": m.get("image"),
             "Tool": "Distance" if m.get("kind") == "distance" else "Ellipse", "Result": m.get("text")}
            for n, pane_marks in enumerate(marks) if n < len(panes) for m in pane_marks]
    if rows:
        st.subheader("Measurements")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="compare.marks")


def _difference(ctx, archive, cur_inst, cur_geom, first, study_key: str) -> None:
    if not st.toggle("Difference view (current − registered prior)", key="compare.difference"):
        return
    prior, infos, si, _ = first
    inst = cmp.series_instances(ctx.home, prior.study_instance_uid, infos[si].series_instance_uid)
    positions = ss.get("compare.positions") or [0, 0]
    ci, pi = min(positions[0], len(cur_inst) - 1), min(positions[1] if len(positions) > 1 else 0, len(inst) - 1)
    view = cmp.PaneView(None, False, 1.0)
    cur = cmp.render_pane(cur_inst.iloc[ci], ci, len(cur_inst), archive.vault.get, view)
    old = cmp.render_pane(inst.iloc[pi], pi, len(inst), archive.vault.get, view)
    if cur.values is None or old.values is None:
        st.info("The difference view needs two readable grey images.")
        return
    geom = SeriesGeometry.from_instances(inst, infos[si].frame_of_reference_uid, cur_geom.normal)
    diff, shift = difference(display_sense(cur.values, cur.photometric), display_sense(old.values, old.photometric),
                             (cur_geom.pixel_spacing or (None,))[0], (geom.pixel_spacing or (None,))[0])
    st.subheader("Difference: current − registered prior")
    spacing = (cur_geom.pixel_spacing or (1.0, 1.0))
    st.caption(f"The prior was resampled to the current pixel size and shifted by "
               f"{shift.rows * spacing[0]:+.1f} mm (rows), {shift.cols * spacing[1]:+.1f} mm (columns). "
               "Mid-grey: no change; bright: denser now; dark: less dense now.")
    width = min(720, diff.shape[1])
    height = max(1, round(diff.shape[0] * width / diff.shape[1]))
    secure_png(ctx.user.user_id, study_key, "difference", pixels.to_png(render_difference(diff)), width, height,
               "Difference image: current minus registered prior", key="compare.difference_image")


def _link_here(pkey, cur_geom, geom, n) -> None:
    positions = ss.get("compare.positions") or []
    cur_index = min(positions[0] if positions else 0, cur_geom.count - 1)
    p_index = min(positions[n] if len(positions) > n else 0, geom.count - 1)
    ss[f"{pkey}.offset"] = offset_between(cur_geom, cur_index, geom, p_index)
    ss[f"{pkey}.mode"] = OFFSET
    ss[f"{pkey}.suggested"] = False
    ss.pop(f"{pkey}.suggest_note", None)


def _suggest(pkey, archive, cur_inst, cur_geom, inst, geom) -> None:
    cur_profiles, cur_missing = cmp.row_profiles(tuple(cur_inst["content_hash"]), archive.vault.get)
    profiles, missing = cmp.row_profiles(tuple(inst["content_hash"]), archive.vault.get)
    keep_c = [k for k in range(len(cur_inst)) if k not in cur_missing]
    keep_p = [k for k in range(len(inst)) if k not in missing]
    if len(keep_c) < 2 or len(keep_p) < 2 or cur_geom.pixel_spacing is None or geom.pixel_spacing is None:
        ss[f"{pkey}.suggest_note"] = ("No suggestion: registration needs at least two readable images "
                                      "with pixel spacing on both series.")
        return
    suggestion = suggest_offset(cur_profiles[keep_c], cur_geom.positions[keep_c], cur_geom.pixel_spacing[1],
                                profiles[keep_p], geom.positions[keep_p], geom.pixel_spacing[1])
    ss[f"{pkey}.offset"] = suggestion.offset_mm
    ss[f"{pkey}.in_plane_mm"] = suggestion.in_plane_mm
    ss[f"{pkey}.mode"] = OFFSET
    ss[f"{pkey}.suggested"] = True
    ss[f"{pkey}.suggest_note"] = (f"Suggested link: {suggestion.offset_mm:+.1f} mm"
                                  + ("" if suggestion.reliable else " (weak match: check it by eye)"))


body(ctx)
