"""Measurements on known geometry: distances, region statistics (HU), copying between images."""

import math

import numpy as np
import pytest

from archive.comparison.measurements import Measurement, Plane, copy_measurement, distance, region_mask, region_stats


def test_distance_in_mm_uses_row_and_column_spacing():
    d = distance((10, 10), (40, 50), (0.5, 0.25))         # 30 rows x 0.5 mm, 40 cols x 0.25 mm
    assert d.mm == pytest.approx(math.hypot(15, 10)) and d.pixels == pytest.approx(50)
    assert d.warning is None and d.text == f"{math.hypot(15, 10):.1f} mm"


@pytest.mark.parametrize("spacing", [None, [], [0, 0], ["x", 1]])
def test_distance_without_pixel_spacing_warns_and_gives_pixels(spacing):
    d = distance((0, 0), (3, 4), spacing)
    assert d.mm is None and d.pixels == 5
    assert "no pixel spacing" in d.warning and d.text == "5.0 px (no pixel spacing)"


def test_region_stats_on_a_known_disc_in_hu():
    rows, cols = np.mgrid[:100, :100]
    image = np.where((rows - 50) ** 2 + (cols - 50) ** 2 <= 20 ** 2, 60.0, -1000.0).astype(np.float32)
    image[50, 50] = 80.0                                   # one brighter pixel inside
    s = region_stats(image, (40, 40), (60, 60), (0.8, 0.8), "CT")   # ellipse of radius 10 inside the disc
    inside = region_mask(image.shape, (40, 40), (60, 60))
    assert s.pixels == int(inside.sum()) and abs(s.pixels - math.pi * 100) < 15
    assert s.mean == pytest.approx((60.0 * (s.pixels - 1) + 80.0) / s.pixels)
    assert s.sd > 0 and s.minimum == 60.0 and s.maximum == 80.0
    assert s.area_mm2 == pytest.approx(s.pixels * 0.64) and s.unit == "HU"
    assert "HU" in s.text and "mm²" in s.text


def test_region_box_and_no_spacing():
    image = np.arange(100, dtype=np.float32).reshape(10, 10)
    s = region_stats(image, (2, 3), (3, 4), None, "MR", shape_kind="box")
    assert s.pixels == 4 and s.mean == pytest.approx((23 + 24 + 33 + 34) / 4)
    assert s.area_mm2 is None and s.unit == "" and "no pixel spacing" in s.warning
    with pytest.raises(ValueError):
        region_stats(image, (20, 20), (30, 30), None, shape_kind="box")


def test_copy_keeps_the_place_in_mm_across_pixel_sizes_and_matrices():
    m = Measurement("distance", (100.0, 100.0), (100.0, 200.0))
    source, target = Plane((512, 512), (0.5, 0.5)), Plane((256, 256), (1.0, 1.0))
    copied = copy_measurement(m, source, target)
    assert copied.copied and copied.kind == "distance"
    # 50 mm long on both, centred the same way
    assert distance(copied.a, copied.b, target.pixel_spacing).mm == pytest.approx(
        distance(m.a, m.b, source.pixel_spacing).mm)
    assert copied.a == pytest.approx(((100 - 255.5) * 0.5 + 127.5, (100 - 255.5) * 0.5 + 127.5))


def test_copy_applies_the_registration_shift_and_scales_without_spacing():
    m = Measurement("region", (10.0, 10.0), (20.0, 30.0))
    shifted = copy_measurement(m, Plane((100, 100), (1.0, 1.0)), Plane((100, 100), (1.0, 1.0)), shift_mm=(5.0, -3.0))
    assert shifted.a == (15.0, 7.0) and shifted.b == (25.0, 27.0)
    scaled = copy_measurement(m, Plane((100, 100), None), Plane((200, 200), (1.0, 1.0)))
    assert scaled.a == pytest.approx((99.5 + (10 - 49.5) * 2, 99.5 + (10 - 49.5) * 2))
