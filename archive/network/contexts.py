"""Presentation contexts: what we propose for C-GET and what our storage SCP accepts.

Debian's Orthanc cannot transcode JPEG 2000, and a PACS that must transcode may change the
bytes, so a C-GET proposes, for each storage SOP class, one context per transfer syntax (the
little endian ones too): the node then sends each instance in the syntax it is stored in. An
association carries at most 128 contexts; when a study holds many SOP classes the rarer
syntaxes are dropped first.
"""

from __future__ import annotations

from typing import Iterable

from pydicom.uid import (
    JPEG2000,
    MPEG2MPHL,
    MPEG2MPML,
    MPEG4HP41,
    MPEG4HP41BD,
    MPEG4HP42STEREO,
    UID,
    AllTransferSyntaxes,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import build_role
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # pynetdicom makes its SOP class names at import
    _STORAGE_CLASSES,
    BasicTextSRStorage,
    BreastTomosynthesisImageStorage,
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    EncapsulatedPDFStorage,
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedSRStorage,
    GrayscaleSoftcopyPresentationStateStorage,
    KeyObjectSelectionDocumentStorage,
    MRImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    MultiFrameTrueColorSecondaryCaptureImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
    RTDoseStorage,
    RTPlanStorage,
    RTStructureSetStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    VLPhotographicImageStorage,
    XRayAngiographicImageStorage,
    XRayRadiationDoseSRStorage,
    XRayRadiofluoroscopicImageStorage,
)

MAX_CONTEXTS = 128

UNCOMPRESSED: list[str | UID] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian]
# Each syntax in a context of its own, most common first: when contexts run short, the tail is
# dropped. The two little endian syntaxes are separate too, or the node would convert one to the
# other (its choice of syntax in a shared context) and the bytes would change.
OWN_CONTEXT = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGLosslessSV1, JPEGBaseline8Bit,
               JPEG2000Lossless, JPEG2000, RLELossless, JPEGLossless, JPEGExtended12Bit, JPEGLSLossless,
               JPEGLSNearLossless, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian,
               MPEG2MPML, MPEG2MPHL, MPEG4HP41, MPEG4HP41BD, MPEG4HP42STEREO]
COMPRESSED = [uid for uid in OWN_CONTEXT if uid not in UNCOMPRESSED]

ALL_STORAGE_CLASSES: list[UID] = [UID(uid) for uid in _STORAGE_CLASSES.values()]

# Used when a node does not report SOPClassesInStudy: the classes a department mostly stores.
COMMON_STORAGE_CLASSES: list[UID] = [
    CTImageStorage, MRImageStorage, ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing, DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing, UltrasoundImageStorage, UltrasoundMultiFrameImageStorage,
    SecondaryCaptureImageStorage, MultiFrameTrueColorSecondaryCaptureImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage, XRayAngiographicImageStorage,
    XRayRadiofluoroscopicImageStorage, NuclearMedicineImageStorage, PositronEmissionTomographyImageStorage,
    EnhancedCTImageStorage, EnhancedMRImageStorage, BreastTomosynthesisImageStorage,
    VLPhotographicImageStorage, XRayRadiationDoseSRStorage, EnhancedSRStorage, BasicTextSRStorage,
    ComprehensiveSRStorage, KeyObjectSelectionDocumentStorage, GrayscaleSoftcopyPresentationStateStorage,
    EncapsulatedPDFStorage, RTDoseStorage, RTStructureSetStorage, RTPlanStorage,
]


def retrieve_contexts(sop_classes: Iterable[str], *query_models: str) -> tuple[list[PresentationContext], list]:
    """Contexts and SCP/SCU role selections for a C-GET of instances of ``sop_classes``.

    Each class gets one context per transfer syntax (``OWN_CONTEXT``), as far as the
    128-context limit allows (the query models take one each).
    """
    classes = list(dict.fromkeys(UID(c) for c in sop_classes if c))
    if not classes:
        raise ValueError("no SOP classes to retrieve")
    room = MAX_CONTEXTS - len(query_models)
    if len(classes) > room:
        raise ValueError(f"{len(classes)} SOP classes exceed the {MAX_CONTEXTS}-context limit")
    per_class = room // len(classes)
    contexts = [build_context(model) for model in query_models]
    for sop in classes:
        if per_class >= 2:
            contexts.extend(build_context(sop, syntax) for syntax in OWN_CONTEXT[:per_class])
        else:
            contexts.append(build_context(sop, UNCOMPRESSED))
    roles = [build_role(sop, scp_role=True) for sop in classes]
    return contexts, roles


# Syntaxes pydicom does not list (retired by the standard, or private to a vendor) that modalities
# and old archives still send: accepted, kept byte for byte, and shown as "cannot be displayed"
# where they cannot be decoded. A syntax unknown to everyone is refused in negotiation (the
# sender hears "transfer syntax not supported"), never a crash.
RETIRED_AND_PRIVATE = [
    *(f"1.2.840.10008.1.2.4.{n}" for n in (52, 53, 54, 55, 56, 58, 59, 60, 61, 62, 63, 64, 65, 66)),
    "1.2.840.10008.1.2.6.1",     # RFC 2557 MIME encapsulation (retired)
    "1.2.840.10008.1.2.6.2",     # XML encoding (retired)
    "1.2.840.113619.5.2",        # GE private implicit VR big endian
    "1.3.46.670589.33.1.4.1",    # Philips private explicit VR little endian
]


def storage_scp_contexts() -> list[PresentationContext]:
    """Every storage SOP class with every transfer syntax: our SCP keeps whatever it is sent."""
    syntaxes = list(dict.fromkeys([*UNCOMPRESSED, *COMPRESSED, *AllTransferSyntaxes, *RETIRED_AND_PRIVATE]))
    contexts = []
    for sop in ALL_STORAGE_CLASSES:
        context = build_context(sop, syntaxes)
        contexts.append(context)
    return contexts
