"""Synchronised scrolling: generated series with known positions, offsets and spacing."""

import numpy as np
import pandas as pd
import pytest

from archive.comparison.scroll_link import (
    OFF,
    OFFSET,
    POSITION,
    SeriesGeometry,
    linked_index,
    offset_between,
    plan_sync,
)

AXIAL = [1.0, 0, 0, 0, 1, 0]
SAGITTAL = [0.0, 1, 0, 0, 0, -1]


def series(positions, frame="1.2.3", spacing=(0.7, 0.7), orientation=AXIAL, matrix=(512, 512), thickness=5.0):
    rows = []
    for z in positions:
        rows.append(dict(image_position_patient=None if z is None else [-180.0, -180.0, float(z)],
                         image_orientation_patient=orientation if z is not None else None,
                         pixel_spacing=list(spacing) if spacing else None, slice_thickness=thickness,
                         rows=matrix[0], columns=matrix[1]))
    return pd.DataFrame(rows), frame


def geometry(positions, normal=None, **kw):
    df, frame = series(positions, **kw)
    return SeriesGeometry.from_instances(df, frame, normal)


def test_same_frame_links_by_position_with_different_spacing():
    current = geometry([100 - 5 * k for k in range(20)])              # 100 .. 5, 5 mm
    prior = geometry([60 - 2.5 * k for k in range(30)], normal=current.normal, thickness=2.5)  # 60 .. -12.5
    plan = plan_sync(current, prior)
    assert plan.by_position and plan.default_mode == POSITION
    assert any("5 mm apart on the current series and 2.5 mm" in n for n in plan.notes)
    for k in range(20):
        linked = linked_index(current, k, prior, POSITION)
        expected = current.positions[k]
        if -12.5 <= expected <= 60:
            assert prior.positions[linked.index] == pytest.approx(expected) and not linked.outside
        else:
            assert linked.outside
    assert linked_index(current, 0, prior, OFF) is None


def test_other_frame_links_by_offset_the_user_fixes():
    current = geometry([100 - 5 * k for k in range(20)], frame="1.1")
    prior = geometry([-30 - 5 * k for k in range(20)], frame="2.2", normal=None)
    plan = plan_sync(current, prior)
    assert not plan.by_position and plan.by_offset_mm and plan.default_mode == OFFSET
    assert any("different frame of reference" in n for n in plan.notes)
    # Same anatomy: current slice 4 (80 mm) is prior slice 7 (-65 mm) -> offset -145 mm
    offset = offset_between(current, 4, prior, 7)
    assert offset == pytest.approx(-145.0)
    for k in range(20):
        linked = linked_index(current, k, prior, OFFSET, offset)
        if 0 <= k + 3 < 20:
            assert linked.index == k + 3 and linked.distance_mm == pytest.approx(0) and not linked.outside
        else:
            assert linked.outside and linked.index == 19


def test_offset_rounds_to_the_nearest_prior_slice():
    current = geometry([10.0 * k for k in range(10)], frame="a")
    prior = geometry([3.0 * k for k in range(40)], frame="b", thickness=3.0)
    linked = linked_index(current, 5, prior, OFFSET, 7.4)   # wants 57.4 -> slice at 57
    assert prior.positions[linked.index] == pytest.approx(57.0)
    assert linked.distance_mm == pytest.approx(0.4)


def test_no_positions_links_by_image_number_with_a_note():
    current = geometry([100 - 5 * k for k in range(10)])
    prior = geometry([None] * 12)
    plan = plan_sync(current, prior)
    assert plan.by_index and not plan.by_offset_mm
    assert any("no slice position information" in n for n in plan.notes)
    assert offset_between(current, 2, prior, 5) == 3
    assert linked_index(current, 2, prior, OFFSET, 3).index == 5
    beyond = linked_index(current, 9, prior, OFFSET, 3)
    assert beyond.index == 11 and beyond.outside is True


def test_other_plane_cannot_be_synchronised():
    current = geometry([5.0 * k for k in range(10)])
    prior = geometry([5.0 * k for k in range(10)], orientation=SAGITTAL)
    plan = plan_sync(current, prior)
    assert not plan.linkable and plan.default_mode == OFF
    assert "sagittal" in plan.notes[0] and "axial" in plan.notes[0]


def test_missing_spacing_and_other_matrix_are_noted():
    current = geometry([5.0 * k for k in range(5)])
    prior = geometry([5.0 * k for k in range(5)], spacing=None, matrix=(256, 256))
    notes = " ".join(plan_sync(current, prior).notes)
    assert "no pixel spacing" in notes and "512x512" in notes and "256x256" in notes
    prior = geometry([5.0 * k for k in range(5)], spacing=(0.9, 0.9))
    assert "Pixel size differs (0.70 mm on the current, 0.90 mm" in " ".join(plan_sync(current, prior).notes)


def test_empty_prior_has_a_note_and_no_link():
    current = geometry([5.0 * k for k in range(5)])
    prior = SeriesGeometry.from_instances(pd.DataFrame(columns=["image_position_patient"]), None)
    plan = plan_sync(current, prior)
    assert not plan.linkable and "no images" in plan.notes[0]
    assert linked_index(current, 0, prior, POSITION) is None


def test_positions_are_projected_on_the_current_normal():
    # A prior stored feet-first (normal flipped) still maps by true patient position.
    current = geometry([10.0 * k for k in range(5)])
    flipped = geometry([10.0 * k for k in range(5)], orientation=[-1.0, 0, 0, 0, 1, 0], normal=current.normal)
    assert np.allclose(flipped.positions, current.positions)
    assert linked_index(current, 3, flipped, POSITION).index == 3
