"""Series pairing between a current and a prior study."""

from archive.comparison.series_pairing import SeriesInfo, pair_score, pair_series, plane

AXIAL = (1, 0, 0, 0, 1, 0)
SAGITTAL = (0, 1, 0, 0, 0, -1)
CORONAL = (1, 0, 0, 0, 0, -1)


def s(uid, modality="CT", description="", orientation=AXIAL, thickness=5.0, images=40):
    return SeriesInfo(uid, modality, description, orientation, thickness, images)


def test_planes_from_orientation():
    assert (plane(AXIAL), plane(SAGITTAL), plane(CORONAL), plane(None)) == ("AX", "SAG", "COR", None)
    assert plane((1, 0, 0, 0, 0.7071, 0.7071)) == "OBL"


def test_pairs_by_description_thickness_and_plane():
    current = [s("c-soft", description="Chest 5mm soft tissue"),
               s("c-lung", description="Chest 1mm lung", thickness=1.0),
               s("c-sag", description="Sagittal reformat", orientation=SAGITTAL, thickness=3.0)]
    prior = [s("p-lung", description="LUNG 1.25 mm", thickness=1.25), s("p-sag", description="SAG MPR",
             orientation=SAGITTAL, thickness=3.0), s("p-soft", description="CHEST 5 MM SOFT")]
    assert pair_series(current, prior) == {"c-soft": "p-soft", "c-lung": "p-lung", "c-sag": "p-sag"}


def test_other_modality_never_pairs_and_radiograph_families_do():
    assert pair_score(s("a", "CT"), s("b", "MR")) is None
    assert pair_score(s("a", "CR", orientation=None, thickness=None),
                      s("b", "DX", orientation=None, thickness=None)) is not None
    assert pair_series([s("c", "CT")], [s("p", "MR")]) == {"c": None}


def test_a_prior_series_is_shared_when_the_prior_has_fewer():
    current = [s("c1", description="Head 5mm"), s("c2", description="Head bone 2mm", thickness=2.0)]
    prior = [s("p1", description="Head 5mm")]
    assert pair_series(current, prior) == {"c1": "p1", "c2": "p1"}


def test_same_plane_beats_a_closer_description_in_another_plane():
    current = [s("c", description="T2 AX")]
    prior = [s("p-sag", description="T2 AX", orientation=SAGITTAL), s("p-ax", description="T2 axial")]
    assert pair_series(current, prior) == {"c": "p-ax"}


def test_from_row_reads_store_values_with_missing_parts():
    info = SeriesInfo.from_row({"series_instance_uid": "1", "modality": "CT", "series_description": None,
                                "image_orientation_patient": [1.0, 0, 0, 0, 1, 0], "slice_thickness": float("nan"),
                                "images": 12, "frame_of_reference_uid": None, "series_number": 3})
    assert info.plane == "AX" and info.slice_thickness is None and info.label == "#3 CT (12)"
