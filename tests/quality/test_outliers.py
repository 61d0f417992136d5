"""Like-with-like outliers, presentation space and robust ranges (archive/quality/outliers.py, metrics.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydicom.dataset import Dataset

from archive.home import Home
from archive.quality import outliers
from archive.quality.metrics import MIN_CONTENT, measure, measure_dataset


def _cr(photometric: str) -> Dataset:
    ds = Dataset()
    ds.Modality, ds.PhotometricInterpretation = "CR", photometric
    ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 16, 12, 0
    return ds


def _exposure(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((256, 256), 300.0)
    image[64:192, 48:208] = 1500.0          # the patient
    return image + rng.normal(0, 20, image.shape)


def test_the_same_image_stored_as_monochrome1_and_2_measures_the_same():
    shown = _exposure()
    stored_inverted = 4095.0 - shown          # MONOCHROME1: the same picture, values flipped
    one = measure_dataset(_cr("MONOCHROME2"), shown.astype(np.float32))
    two = measure_dataset(_cr("MONOCHROME1"), stored_inverted.astype(np.float32))
    assert one.snr is not None and abs(one.snr - two.snr) < 1e-3 * one.snr
    assert abs(one.cnr - two.cnr) < 1e-3 * one.cnr and abs(one.noise_sigma - two.noise_sigma) < 1e-3
    # Without the inversion the MONOCHROME1 copy would rank far "better" (the 137 vs 79).
    naive = measure(stored_inverted.astype(np.float32), "CR")
    assert naive.snr > 1.5 * one.snr


def test_an_empty_slice_shows_no_anatomy():
    rng = np.random.default_rng(1)
    empty = rng.normal(0, 5, (128, 128)).astype(np.float32)
    assert measure(empty, "MR").content_fraction < MIN_CONTENT
    assert measure(_exposure().astype(np.float32), "MR").content_fraction > 0.2


def _frame(rows: list[dict]) -> pd.DataFrame:
    base = {"site": "NORTH", "modality": "MR", "protocol": "KNEE", "sequence": "(none)", "image_type": "ORIGINAL",
            "study_date": pd.Timestamp("2024-01-02"), "deviation_index": np.nan, "saturation_fraction": 0.0,
            "clipping_fraction": 0.0, "cnr": np.nan, "ct_noise_hu": np.nan, "has_anatomy": True}
    out = []
    for i, row in enumerate(rows):
        out.append({**base, "sop_instance_uid": f"1.{i}", "instance_number": 1, "content_hash": f"h{i}", **row})
    return pd.DataFrame(out)


def test_flags_compare_like_with_like_and_need_an_effect(tmp_path):
    rows = []
    for s in range(5):   # five AX PD FS series at ST1, one of them twice as noisy
        noise = 20.0 if s == 4 else 10.0 + s * 0.1
        rows.append(dict(series_instance_uid=f"ax{s}", study_instance_uid=f"st{s}", station="ST1",
                         series_description="AX PD FS", noise_sigma=noise, snr=40.0, sharpness=0.003))
        # each with an empty edge slice that would score as "sharp" and with SNR 0.4
        rows.append(dict(series_instance_uid=f"ax{s}", study_instance_uid=f"st{s}", station="ST1",
                         series_description="AX PD FS", noise_sigma=1.0, snr=0.4, sharpness=9.0, has_anatomy=False))
    for s in range(4):   # sagittal T1 series: a different noise level, but not compared with the axials
        rows.append(dict(series_instance_uid=f"sag{s}", study_instance_uid=f"st{s}", station="ST1",
                         series_description="SAG T1", noise_sigma=30.0 + s * 0.01, snr=25.0,
                         sharpness=0.003 + s * 0.00001))
    result = outliers.analyse_frame(_frame(rows), Home(tmp_path), "http://dash")
    assert result.no_anatomy == 5
    found = set(zip(result.flags["series_instance_uid"], result.flags["metric"], strict=True))
    assert found == {("ax4", "noise_sigma")}
    flag = result.flags.iloc[0]
    assert flag["series_description"] == "AX PD FS" and flag["peer_content_hash"] != flag["content_hash"]
    assert flag["viewer_url"].startswith("http://dash/viewer?study=") and "st4" not in flag["viewer_url"]


def test_a_noisier_station_is_named(tmp_path):
    rows = []
    for station, noise in (("DX1", 10.0), ("DX2", 10.2), ("DX3", 16.0)):
        for s in range(4):
            rows.append(dict(series_instance_uid=f"{station}-{s}", study_instance_uid=f"{station}-{s}",
                             station=station, modality="DX", series_description="CHEST PA",
                             noise_sigma=noise + s * 0.05, snr=80.0 + s, sharpness=0.01))
    stations = outliers.analyse_frame(_frame(rows), Home(tmp_path)).stations
    flagged = stations[stations["flagged"]]
    assert set(flagged["station"]) == {"DX3"} and set(flagged["metric"]) == {"noise_sigma"}


def test_robust_range_ignores_one_absurd_value():
    lo, hi = outliers.robust_range(pd.Series([50.0 + i for i in range(200)] + [3_046_038.0]))
    assert hi < 1000 and lo < 50
