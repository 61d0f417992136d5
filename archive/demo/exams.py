"""The catalogue of demo exams: what each kind of study contains and how it is described.

An exam key (``CT_CHEST``, ``XR_KNEE``...) is also the demo's ground-truth exam class: two studies
of one person with the same key are comparable, and a second one within the class's repeat window
is a repeat. CR and DX share the ``XR_`` keys (a chest radiograph is the same exam on either).
"""

from __future__ import annotations

from dataclasses import dataclass

# Default repeat windows by modality family (days), as the repeat-exam issue proposes.
REPEAT_WINDOW_DAYS = {"CT": 30, "MR": 60, "XR": 14, "US": 30, "MG": 180}


@dataclass(frozen=True)
class SeriesSpec:
    """One series of an exam. ``images`` is a slice count (CT/MR/US) or view list (XR/MG)."""

    description: str
    protocol: str
    slices: int = 1
    thickness: float = 5.0
    plane: str = "AX"                    # AX | SAG | COR, for CT/MR orientation
    window: tuple[float, float] = (40.0, 400.0)
    kernel: str = ""                     # CT ConvolutionKernel
    weighting: str = ""                  # MR contrast: T1 | T2 | FLAIR | PD | T1C
    views: tuple[str, ...] = ()          # XR ViewPosition or MG "<laterality> <view>"
    same_frame_as: int | None = None     # index of the series whose slices this one shares


@dataclass(frozen=True)
class Exam:
    """A kind of study: modality family, body part, descriptions and its series."""

    key: str
    family: str                          # XR | CT | MR | US | MG
    body_part: str
    description: str
    series: tuple[SeriesSpec, ...]
    fov_mm: float = 350.0                # field of view (CT/MR) or detector width (XR/MG)
    shape: str = "body"                  # phantom profile: head | body | limb | chest | breast
    ctdi_vol: float = 0.0                # typical CTDIvol (mGy) for CT
    kvp: float = 120.0

    @property
    def window_days(self) -> int:
        return REPEAT_WINDOW_DAYS[self.family]


def _xr(key: str, part: str, desc: str, views: tuple[str, ...], fov: float, shape: str, kvp: float) -> Exam:
    return Exam(key, "XR", part, desc, (SeriesSpec(desc.replace("XR ", ""), desc, views=views),),
                fov_mm=fov, shape=shape, kvp=kvp)


EXAMS: dict[str, Exam] = {e.key: e for e in (
    _xr("XR_CHEST", "CHEST", "XR Chest PA and Lateral", ("PA", "LL"), 430.0, "chest", 125.0),
    _xr("XR_CHEST_AP", "CHEST", "XR Chest AP portable", ("AP",), 430.0, "chest", 90.0),
    _xr("XR_HAND", "HAND", "XR Hand 2 views", ("PA", "OBL"), 240.0, "limb", 55.0),
    _xr("XR_KNEE", "KNEE", "XR Knee 2 views", ("AP", "LAT"), 300.0, "limb", 65.0),
    Exam("CT_HEAD", "CT", "HEAD", "CT Head without contrast", (
        SeriesSpec("Head 5mm", "CT HEAD ROUTINE", 20, 5.0, window=(40, 80), kernel="H30s"),
    ), fov_mm=230.0, shape="head", ctdi_vol=55.0),
    Exam("CT_CHEST", "CT", "CHEST", "CT Chest with contrast", (
        SeriesSpec("Chest 5mm soft tissue", "CT CHEST CONTRAST", 24, 5.0, window=(40, 400), kernel="B30f"),
        SeriesSpec("Chest 5mm lung", "CT CHEST CONTRAST", 24, 5.0, window=(-600, 1500), kernel="B70f",
                   same_frame_as=0),
    ), fov_mm=360.0, shape="chest", ctdi_vol=9.0),
    Exam("CT_ABD", "CT", "ABDOMEN", "CT Abdomen Pelvis with contrast", (
        SeriesSpec("Abdomen 8mm portal venous", "CT ABDOMEN PELVIS", 24, 8.0, window=(50, 350), kernel="B30f"),
    ), fov_mm=380.0, shape="body", ctdi_vol=11.0),
    Exam("CT_CAP", "CT", "CHESTABDPELVIS", "CT Chest Abdomen Pelvis staging", (
        SeriesSpec("CAP 10mm portal venous", "CT ONCO STAGING", 24, 10.0, window=(40, 400), kernel="B30f"),
    ), fov_mm=400.0, shape="body", ctdi_vol=12.0),
    Exam("MR_BRAIN", "MR", "BRAIN", "MR Brain with and without contrast", (
        SeriesSpec("AX T1", "BRAIN ROUTINE", 14, 5.0, weighting="T1"),
        SeriesSpec("AX T2", "BRAIN ROUTINE", 14, 5.0, weighting="T2", same_frame_as=0),
        SeriesSpec("AX FLAIR", "BRAIN ROUTINE", 14, 5.0, weighting="FLAIR", same_frame_as=0),
    ), fov_mm=230.0, shape="head"),
    Exam("MR_KNEE", "MR", "KNEE", "MR Knee without contrast", (
        SeriesSpec("SAG PD FS", "KNEE ROUTINE", 12, 3.5, plane="SAG", weighting="PD"),
        SeriesSpec("COR T1", "KNEE ROUTINE", 12, 3.5, plane="COR", weighting="T1", same_frame_as=0),
        SeriesSpec("AX PD FS", "KNEE ROUTINE", 12, 3.5, weighting="PD", same_frame_as=0),
    ), fov_mm=160.0, shape="limb"),
    Exam("MR_LSPINE", "MR", "LSPINE", "MR Lumbar Spine without contrast", (
        SeriesSpec("SAG T1", "LSPINE ROUTINE", 11, 4.0, plane="SAG", weighting="T1"),
        SeriesSpec("SAG T2", "LSPINE ROUTINE", 11, 4.0, plane="SAG", weighting="T2", same_frame_as=0),
        SeriesSpec("AX T2", "LSPINE ROUTINE", 12, 4.0, weighting="T2", same_frame_as=0),
    ), fov_mm=300.0, shape="body"),
    Exam("US_ABD", "US", "ABDOMEN", "US Abdomen complete", (
        SeriesSpec("Abdomen", "US ABDOMEN", 6),), fov_mm=160.0, shape="body"),
    Exam("US_THYROID", "US", "NECK", "US Thyroid", (
        SeriesSpec("Thyroid", "US THYROID", 4),), fov_mm=60.0, shape="limb"),
    Exam("US_BREAST", "US", "BREAST", "US Breast targeted", (
        SeriesSpec("Breast", "US BREAST", 4),), fov_mm=50.0, shape="breast"),
    Exam("MG_SCREEN", "MG", "BREAST", "MG Screening Bilateral", (
        SeriesSpec("Screening", "MAMMO SCREENING", views=("R CC", "L CC", "R MLO", "L MLO")),),
        fov_mm=240.0, shape="breast", kvp=29.0),
    Exam("MG_DIAG", "MG", "BREAST", "MG Diagnostic Left", (
        SeriesSpec("Diagnostic", "MAMMO DIAGNOSTIC", views=("L CC", "L MLO", "L ML")),),
        fov_mm=240.0, shape="breast", kvp=30.0),
)}


def exam(key: str) -> Exam:
    """The exam of a key; raises ValueError naming the known keys otherwise."""
    try:
        return EXAMS[key]
    except KeyError:
        raise ValueError(f"unknown demo exam {key!r}; known: {', '.join(sorted(EXAMS))}") from None
