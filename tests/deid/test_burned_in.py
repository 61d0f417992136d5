"""Burned-in text found in the pixels (Tesseract OCR), not guessed from the modality."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundImageStorage, generate_uid

from archive.deid import burned_in
from archive.deid.export import export, select_studies
from archive.deid.keys import DeidKey
from archive.deid.profile import Options
from archive.home import Archive
from archive.ingest.run import import_paths
from tests.support.burned_in_images import background, samples, with_text

KEY = DeidKey(b"k" * 32)


def _us(image: np.ndarray, study: str) -> bytes:
    """An ultrasound image (fake patient) with the given 8-bit pixels."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality, ds.StudyDate = "TEST^OCR", "TESTOCR1", "US", "20240102"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = image.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = image.astype(np.uint8).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_text_is_found_in_corners_and_not_in_anatomy():
    rng = np.random.default_rng(3)
    plain = background(rng).astype(np.uint8)
    marked = with_text(background(rng), "DOE^JANE 2024-03-12", 16, 1.0, "top-left").astype(np.uint8)
    assert burned_in.find_text(plain) == []
    regions = burned_in.find_text(marked)
    assert regions and all(r.left < 260 and r.top < 60 for r in regions)


def test_detector_on_a_small_synthetic_set():
    found = [(s.has_text, bool(burned_in.find_text(s.image))) for s in samples(12, seed=5)]
    sensitivity = sum(f for t, f in found if t) / sum(t for t, _ in found)
    specificity = sum(not f for t, f in found if not t) / sum(not t for t, _ in found)
    assert sensitivity >= 0.8 and specificity >= 0.8   # the benchmark holds the real target


def test_assess_follows_the_rule_setting():
    rng = np.random.default_rng(4)
    plain = pydicom.dcmread(io.BytesIO(_us(background(rng).astype(np.uint8), generate_uid())))
    assert burned_in.assess(plain, "pixels").burned_in is False
    assert burned_in.assess(plain, "modality").burned_in is True      # the older rule stays a setting
    plain.BurnedInAnnotation = "YES"
    assert burned_in.assess(plain, "pixels").reason == "BurnedInAnnotation is YES"


def test_export_holds_back_only_the_image_with_text(tmp_path):
    rng = np.random.default_rng(6)
    study = generate_uid()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "plain.dcm").write_bytes(_us(background(rng).astype(np.uint8), study))
    marked = with_text(background(rng), "TEST^OCR 2024-01-02", 18, 1.0, "bottom-right")
    (folder / "text.dcm").write_bytes(_us(marked.astype(np.uint8), study))
    archive = Archive.load(home=str(tmp_path / "home"))
    import_paths(archive, [folder], workers=1)
    con = archive.store(read_only=True)
    try:
        selected = select_studies(con, [study])
    finally:
        con.close()
    out = tmp_path / "out"
    summary = export(archive, selected, out, Options(), key=KEY, burned_in_rule="pixels")
    assert summary.exported == 1 and summary.flagged == 1
    flagged = pd.read_csv(out / "flagged.csv")
    assert len(flagged) == 1 and flagged["reason"].iloc[0].startswith("text found in the pixels")
    left, top = (int(v) for v in flagged["regions"].iloc[0].split(";")[0].split("x")[0].split(",")[:2])
    assert left > 250 and top > 440                                    # bottom right
    assert flagged["file"].iloc[0].startswith("(held back) burned_in/")
    table = pd.read_parquet(out / "instances.parquet")
    assert table["burned_in"].tolist().count(True) == 1 and table["burned_in_reason"].notna().sum() == 1
    again = tmp_path / "again"
    export(archive, selected, again, Options(), key=KEY, include_burned_in=True, burned_in_rule="pixels")
    assert pd.read_csv(again / "flagged.csv")["file"].iloc[0].startswith("burned_in/")
