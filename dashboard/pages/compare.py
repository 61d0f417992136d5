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

import pandas as pd
import streamlit as st

from archive import study_keys
from archive.comparison.difference import difference, display_sense
from archive.comparison.difference import render as render_difference
from archive.comparison.image_registration import suggest_offset
from archive.comparison.measurements import Measurement, Plane, copy_measurement
from archive.comparison.record import Shown, comparison_id, record_comparison
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
from dashboard.components.setup import guarded, page_setup
from dashboard.components.viewer import FILE_VOI, PRESET_CHOICES, ZOOMS

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


def _record(archive, study, chosen) -> None:
    """Audit and 'prior used', once per session for this set of studies."""
    session = ss.setdefault("compare.session", uuid.uuid4().hex)
    cid = comparison_id(ctx.user.user_id, study["study_instance_uid"],
                        [p.study_instance_uid for p in chosen], session)
    done = ss.setdefault("compare.recorded", set())
    if cid in done:
        return
    result = record_comparison(archive, ctx.user.user_id, ctx.user.role_label,
                               Shown(study["study_instance_uid"], study.get("patient_key")),
                               [Shown(p.study_instance_uid, p.patient_key) for p in chosen],
                               study.get("site"), session, background=True)
    if result["audited"]:
        done.add(cid)


def _view_controls(prefix: str, disabled: bool = False) -> cmp.PaneView:
    preset = st.selectbox("Window", PRESET_CHOICES[:-1], key=f"{prefix}.preset", disabled=disabled)
    c1, c2 = st.columns(2)
    invert = c1.toggle("Invert", key=f"{prefix}.invert", disabled=disabled)
    zoom = c2.select_slider("Zoom", ZOOMS, key=f"{prefix}.zoom", format_func=lambda z: f"{z:g}x",
                            disabled=disabled)
    return cmp.PaneView(None if preset == FILE_VOI else pixels.PRESETS[preset], invert, zoom)


def _marks(pane: str, index: int) -> list[Measurement]:
    return ss.setdefault(f"compare.{pane}.marks", {}).setdefault(index, [])


def _measure_tools(pane: str, index: int, image: cmp.PaneImage, spacing, modality, shape) -> None:
    """Two points (row, column) for a distance or a region; the results listed under the image."""
    with st.expander("Measure", expanded=False):
        kind = st.radio("Tool", ["Distance", "Region"], horizontal=True, key=f"compare.{pane}.tool")
        rows, cols = shape
        c = st.columns(4)
        r0 = c[0].number_input("Row 1", 0, rows - 1, rows // 3, key=f"compare.{pane}.r0")
        c0 = c[1].number_input("Col 1", 0, cols - 1, cols // 3, key=f"compare.{pane}.c0")
        r1 = c[2].number_input("Row 2", 0, rows - 1, (2 * rows) // 3, key=f"compare.{pane}.r1")
        c1 = c[3].number_input("Col 2", 0, cols - 1, (2 * cols) // 3, key=f"compare.{pane}.c1")
        b = st.columns(2)
        if b[0].button("Add measurement", key=f"compare.{pane}.add"):
            _marks(pane, index).append(Measurement("distance" if kind == "Distance" else "region",
                                                   (float(r0), float(c0)), (float(r1), float(c1))))
            st.rerun()
        if b[1].button("Clear", key=f"compare.{pane}.clear"):
            _marks(pane, index).clear()
            st.rerun()
    if spacing is None:
        st.caption(":material/warning: This image has no pixel spacing: distances are in pixels, not mm.")


def _list_marks(pane: str, index: int, image: cmp.PaneImage, spacing, modality,
                copy_to=None) -> None:
    for n, m in enumerate(_marks(pane, index)):
        text = cmp.measurement_text(m, image.values, spacing, modality)
        line = st.columns([4, 2]) if copy_to else [st.container()]
        line[0].markdown(f"**M{n + 1}** {'(copied) ' if m.copied else ''}{text}")
        if copy_to:
            line[1].button("Copy to current", key=f"compare.{pane}.copy.{index}.{n}",
                           on_click=copy_to, args=(m,))


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
        _find_study(ctx, archive)
        return
    patient_banner(study)
    st.title(f"Compare: {study.get('study_description') or 'study'}")
    st.caption(f"Current study: {_day(study.get('study_date'))} · {study.get('site') or 'no site'} · "
               f"{', '.join(study.get('modalities') or [])}")

    priors = cmp.relevant_priors(ctx.home, uid)
    if not priors:
        st.info("This patient has no earlier studies in the regional archive to compare with.")
        return
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
    chosen = [priors[i] for i in picked]
    if not chosen:
        st.info("Choose at least one prior to compare.")
        return
    _record(archive, study, chosen)

    # ---- series pairing -------------------------------------------------------------------------
    current_rows = cmp.series_geometry(ctx.home, uid)
    if current_rows.empty:
        st.warning("The current study has no series in the store.")
        return
    current_series = [SeriesInfo.from_row(r) for r in current_rows.to_dict("records")]
    top = st.columns([2] + [2] * len(chosen))
    with top[0]:
        ci = st.selectbox("Current series", range(len(current_series)),
                          format_func=lambda i: current_series[i].label, key="compare.current_series")
    cur_info = current_series[ci]
    panes = []
    for n, prior in enumerate(chosen):
        h = _h(prior.study_instance_uid)
        rows = cmp.series_geometry(ctx.home, prior.study_instance_uid)
        infos = [SeriesInfo.from_row(r) for r in rows.to_dict("records")]
        with top[n + 1]:
            if not infos:
                st.warning(f"The prior of {_day(prior.study_date)} has no images in the archive.")
                continue
            paired = pair_series([cur_info], infos)[cur_info.series_instance_uid]
            default = next((k for k, s in enumerate(infos) if s.series_instance_uid == paired), 0)
            auto = f"compare.p{h}.auto"
            if ss.get(auto) != (cur_info.series_instance_uid, default):
                ss[auto] = (cur_info.series_instance_uid, default)   # the current series changed: re-pair
                ss[f"compare.p{h}.series"] = default
            si = st.selectbox(f"Prior {_day(prior.study_date)} series", range(len(infos)),
                              format_func=lambda i, infos=infos, default=default: (
                                  infos[i].label + (" (paired)" if i == default else "")),
                              key=f"compare.p{h}.series")
            if paired is None:
                st.caption("No series of the same modality: choose one by hand.")
        panes.append((prior, infos[si], h))

    # ---- geometry and sync plans ----------------------------------------------------------------
    cur_inst = cmp.series_instances(ctx.home, uid, cur_info.series_instance_uid)
    cur_geom = SeriesGeometry.from_instances(cur_inst, cur_info.frame_of_reference_uid)
    sync_bar = st.columns(3)
    sync_window = sync_bar[0].toggle("Same window/level on all panes", key="compare.sync_window")
    sync_zoom = sync_bar[1].toggle("Same zoom on all panes", key="compare.sync_zoom")
    show_diff = False
    if (cur_info.modality or "").upper() in TWO_D:
        show_diff = sync_bar[2].toggle("Difference view (current − registered prior)", key="compare.difference")

    grid = st.columns(1 + len(panes))
    count = len(cur_inst)
    # ---- current pane ---------------------------------------------------------------------------
    with grid[0]:
        st.markdown(f"**Current** · {_day(study.get('study_date'))} · {study.get('site') or ''}")
        cur_index = 0
        if count > 1:
            cur_index = st.slider("Image", 1, count, 1, key="compare.cur.slice",
                                  help="Click the slider, then use the arrow keys: linked priors follow.") - 1
        cur_view = _view_controls("compare.cur")
    moved = ss.get("compare.cur.last") != (cur_info.series_instance_uid, cur_index)
    ss["compare.cur.last"] = (cur_info.series_instance_uid, cur_index)

    cur_image = None
    if count:
        cur_row = cur_inst.iloc[cur_index]
        marks = [(m, f"M{k + 1}") for k, m in enumerate(_marks("cur", cur_index))]
        cur_image = cmp.render_pane(cur_row, cur_index, count, archive.vault.get, cur_view, marks)
    with grid[0]:
        if not count:
            st.info("This series has no images.")
        elif cur_image.problem:
            st.warning(cur_image.problem + " The other images can still be viewed.", icon=":material/broken_image:")
        else:
            st.image(cur_image.png, caption=f"Current image {cur_index + 1} of {count}", width="stretch")
            _measure_tools("cur", cur_index, cur_image, cur_geom.pixel_spacing, cur_info.modality,
                           cur_geom.matrix or (512, 512))
            _list_marks("cur", cur_index, cur_image, cur_geom.pixel_spacing, cur_info.modality)

    # ---- prior panes ----------------------------------------------------------------------------
    prior_images = []
    for n, (prior, info, h) in enumerate(panes):
        inst = cmp.series_instances(ctx.home, prior.study_instance_uid, info.series_instance_uid)
        geom = SeriesGeometry.from_instances(inst, info.frame_of_reference_uid, cur_geom.normal)
        plan = plan_sync(cur_geom, geom)
        pkey = f"compare.p{h}"
        link_id = (cur_info.series_instance_uid, info.series_instance_uid)
        if ss.get(f"{pkey}.link_for") != link_id:      # a new pair: start from the plan's default
            ss[f"{pkey}.link_for"] = link_id
            ss[f"{pkey}.mode"] = plan.default_mode
            ss[f"{pkey}.offset"] = 0.0
            for stale in ("suggested", "suggest_note", "in_plane_mm"):
                ss.pop(f"{pkey}.{stale}", None)
            moved = True
        modes = [m for m in (POSITION, OFFSET, OFF) if m == OFF or (m == POSITION and plan.by_position)
                 or (m == OFFSET and plan.linkable)]
        if ss[f"{pkey}.mode"] not in modes:
            ss[f"{pkey}.mode"] = modes[0]
        pcount = len(inst)
        with grid[n + 1]:
            st.markdown(f"**Prior** · {_day(prior.study_date)} · {prior.site or ''} · {prior.ago} before")
            for note in plan.notes:
                st.caption(f":material/info: {note}")
            mode = st.radio("Scroll link", modes, format_func=MODES.get, horizontal=True, key=f"{pkey}.mode")
            linked = linked_index(cur_geom, cur_index, geom, mode, ss[f"{pkey}.offset"]) if count else None
            if linked is not None and (moved or ss.get(f"{pkey}.follow") != (mode, ss[f"{pkey}.offset"])):
                ss[f"{pkey}.slice"] = linked.index + 1
            ss[f"{pkey}.follow"] = (mode, ss[f"{pkey}.offset"])
            if pcount == 0:
                st.info("This prior series has no images.")
                prior_images.append(None)
                continue
            ss.setdefault(f"{pkey}.slice", 1)
            ss[f"{pkey}.slice"] = min(max(int(ss[f"{pkey}.slice"]), 1), pcount)
            p_index = 0
            if pcount > 1:
                p_index = st.slider("Prior image", 1, pcount, key=f"{pkey}.slice") - 1
            b = st.columns(2)
            b[0].button("Link at this slice", key=f"{pkey}.link", disabled=not plan.linkable or not count,
                        help="Fix the link so this prior image goes with the current image on screen.",
                        on_click=_link_here, args=(pkey, cur_geom, geom))
            b[1].button("Suggest link", key=f"{pkey}.suggest",
                        disabled=not (cur_geom.has_positions and geom.has_positions),
                        help="Register the two series (phase correlation of their projections).",
                        on_click=_suggest, args=(pkey, archive, cur_inst, cur_geom, inst, geom))
            if mode == OFFSET:
                st.caption(f"Linked with offset {describe_offset(ss[f'{pkey}.offset'], cur_geom, geom)}"
                           + (" (suggested by registration)" if ss.get(f"{pkey}.suggested") else ""))
            if linked is not None and linked.outside:
                st.caption(":material/warning: The current position is beyond this prior's images: "
                           "its nearest image is shown.")
            if ss.get(f"{pkey}.suggest_note"):
                st.caption(ss[f"{pkey}.suggest_note"])
            view = cur_view if sync_window else _view_controls(pkey, disabled=False)
            if sync_zoom:
                view = cmp.PaneView(view.window, view.invert, cur_view.zoom)
            elif sync_window:
                view = cmp.PaneView(view.window, view.invert, st.select_slider(
                    "Zoom", ZOOMS, key=f"{pkey}.zoom_only", format_func=lambda z: f"{z:g}x"))
            marks = [(m, f"M{k + 1}") for k, m in enumerate(_marks(h, p_index))]
            image = cmp.render_pane(inst.iloc[p_index], p_index, pcount, archive.vault.get, view, marks)
            prior_images.append((image, geom, info, p_index))
            if image.problem:
                st.warning(image.problem + " The other images can still be viewed.", icon=":material/broken_image:")
                continue
            st.image(image.png, caption=f"Prior image {p_index + 1} of {pcount}", width="stretch")
            _measure_tools(h, p_index, image, geom.pixel_spacing, info.modality, geom.matrix or (512, 512))
            _list_marks(h, p_index, image, geom.pixel_spacing, info.modality,
                        copy_to=lambda m, geom=geom, pkey=pkey: _copy(m, geom, cur_geom, pkey))

    if show_diff and cur_image is not None and cur_image.values is not None and prior_images \
            and prior_images[0] is not None and prior_images[0][0].values is not None:
        image, geom, _, _ = prior_images[0]
        diff, shift = difference(display_sense(cur_image.values, cur_image.photometric),
                                 display_sense(image.values, image.photometric),
                                 (cur_geom.pixel_spacing or (None,))[0], (geom.pixel_spacing or (None,))[0])
        st.subheader("Difference: current − registered prior")
        spacing = (cur_geom.pixel_spacing or (1.0, 1.0))
        st.caption(f"The prior was resampled to the current pixel size and shifted by "
                   f"{shift.rows * spacing[0]:+.1f} mm (rows), {shift.cols * spacing[1]:+.1f} mm (columns). "
                   "Mid-grey: no change; bright: denser now; dark: less dense now.")
        st.image(pixels.to_png(render_difference(diff)), width=min(720, diff.shape[1]))


def _find_study(ctx, archive) -> None:
    """Pick the current study by accession number or patient ID (the page then opens it)."""
    text = st.text_input("Current study: accession number or patient ID", key="compare.find",
                         placeholder="e.g. the accession number on the request")
    if not text.strip():
        return
    rows = data.search(ctx.home, accession=text.strip(), page_size=50).rows
    if rows.empty:
        rows = data.search(ctx.home, patient_id=text.strip(), page_size=50).rows
    if rows.empty:
        st.info("No study has that accession number or patient ID.")
        return
    labels = [f"{_day(r.study_date)} · {r.site or '?'} · "
              f"{', '.join(r.modalities if r.modalities is not None else [])} · "
              f"{r.study_description or ''}" for r in rows.itertuples()]
    pick = st.selectbox("Study to compare", range(len(rows)), index=None, format_func=labels.__getitem__,
                        key="compare.pick", placeholder="Choose the current study")
    if pick is not None:
        st.query_params["study"] = study_keys.encode(archive.home, rows.iloc[pick]["study_instance_uid"])
        st.rerun()


def _shown(key: str) -> int:
    """The image index a pane's slider shows now (read at click time: a click can arrive before
    the run that follows a scroll has re-registered the buttons, so arguments could be stale)."""
    return int(ss.get(key, 1)) - 1


def _link_here(pkey, cur_geom, geom) -> None:
    cur_index = min(_shown("compare.cur.slice"), cur_geom.count - 1)
    p_index = min(_shown(f"{pkey}.slice"), geom.count - 1)
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


def _copy(m: Measurement, geom: SeriesGeometry, cur_geom: SeriesGeometry, pkey: str) -> None:
    """Copy a prior's measurement onto the current image on screen, at the same place in mm.

    The registration suggestion's shift along the image rows is applied when there is one
    (the anatomy of the current lies that much the other way).
    """
    source = Plane(geom.matrix or (512, 512), geom.pixel_spacing)
    target = Plane(cur_geom.matrix or (512, 512), cur_geom.pixel_spacing)
    shift = (0.0, -float(ss.get(f"{pkey}.in_plane_mm", 0.0) or 0.0))
    _marks("cur", min(_shown("compare.cur.slice"), max(cur_geom.count - 1, 0))).append(
        copy_measurement(m, source, target, shift))


body(ctx)
