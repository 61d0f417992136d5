"""Registration suggestions recover known shifts (generated series and radiographs)."""

import numpy as np
import pytest
from scipy import ndimage

from archive.comparison.difference import difference, display_sense, render
from archive.comparison.image_registration import register_2d, suggest_offset
from tests.support.compare_world import CURRENT_CT, PRIOR_CT, CtSeries, cr_image, true_offset


@pytest.mark.parametrize("prior", [
    PRIOR_CT,                                                              # other frame, pixel size, in-plane shift
    CtSeries(start=5.0, table=300.0, thickness=3.0, slices=50),            # thinner slices
    CtSeries(start=33.0, table=100.0, shift_mm=(0.0, 10.0)),               # off-grid anatomy, same table
    CtSeries(start=0.0, table=-20.0, thickness=10.0, slices=16, spacing=1.6, size=160),
])
def test_suggested_offset_within_one_slice(prior):
    current = CURRENT_CT
    s = suggest_offset(current.volume(), current.positions(), current.spacing,
                       prior.volume(), prior.positions(), prior.spacing)
    truth = true_offset(current, prior)
    assert abs(s.offset_mm - truth) <= min(current.thickness, prior.thickness) / 2, (s, truth)
    assert s.reliable
    assert abs(s.in_plane_mm - prior.shift_mm[1]) <= 2 * max(current.spacing, prior.spacing)


def test_profiles_give_the_same_answer_as_volumes():
    current, prior = CURRENT_CT, PRIOR_CT
    a = suggest_offset(current.volume(), current.positions(), current.spacing,
                       prior.volume(), prior.positions(), prior.spacing)
    b = suggest_offset(current.volume().mean(axis=1), current.positions(), current.spacing,
                       prior.volume().mean(axis=1), prior.positions(), prior.spacing)
    assert a == b


def test_unrelated_series_is_not_reliable():
    current = CURRENT_CT
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 300, (30, 64, 64)).astype(np.float32)
    s = suggest_offset(current.volume(), current.positions(), current.spacing,
                       noise, current.positions(), 4.0)
    assert not s.reliable


def test_radiograph_shift_recovered_within_two_pixels():
    current, prior = cr_image((0, 0)).astype(np.float32), cr_image((7, -5)).astype(np.float32)
    _, shift = register_2d(current, prior)
    assert abs(shift.rows + 7) <= 2 and abs(shift.cols - 5) <= 2
    # A prior from a detector with larger pixels: resampled to the current pixel size first.
    smaller = ndimage.zoom(prior, 0.8, order=1)
    moving, shift = register_2d(current, smaller, 0.5, 0.625)
    assert moving.shape == current.shape
    assert abs(shift.rows + 7) <= 2 and abs(shift.cols - 5) <= 2


def test_difference_after_registration_is_flat_where_nothing_changed():
    current, prior = cr_image((0, 0)), cr_image((7, -5))
    diff, _ = difference(current.astype(np.float32), prior.astype(np.float32))
    unregistered = np.abs(current.astype(float) - prior.astype(float)).mean()
    assert unregistered > 50
    inner = np.abs(diff[10:-10, 10:-10])
    assert inner.mean() < 0.01
    changed = current.astype(np.float32).copy()
    changed[20:30, 20:30] += 1500                                  # a new finding
    diff, _ = difference(changed, prior.astype(np.float32))
    assert diff[20:30, 20:30].mean() > 10 * np.abs(diff[60:140, 60:100]).mean()
    picture = render(diff)
    assert picture.dtype == np.uint8 and picture[100, 80] == 128 and picture[25, 25] > 200


def test_monochrome1_is_flipped_for_display():
    values = np.array([[0.0, 10.0]])
    assert display_sense(values, "MONOCHROME1").tolist() == [[10.0, 0.0]]
    assert display_sense(values, "MONOCHROME2").tolist() == [[0.0, 10.0]]
