"""Fast Part 10 encoding of the instances of a series (Explicit VR Little Endian only).

``pydicom.dcmwrite`` re-encodes every element of every file, yet the instances of a demo series
share all but a handful of values. ``SeriesEncoder`` encodes the shared dataset once with pydicom's
own element writer, and per instance only the elements that differ, then joins them in tag order.
The result equals what ``dcmwrite(..., enforce_file_format=True)`` writes for the merged dataset
(a test checks this).
"""

from __future__ import annotations

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.uid import UID, ExplicitVRLittleEndian

_PREAMBLE = b"\x00" * 128 + b"DICM"


def _encode(elem: DataElement) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_data_element(fp, elem)
    return fp.getvalue()


class SeriesEncoder:
    """Part 10 files of ``shared`` plus each instance's own elements (which win on a clash).

    ``shared`` is encoded when the encoder is made: change it afterwards and the files won't know.
    """

    def __init__(self, shared: Dataset, implementation_uid: str, implementation_name: str):
        self._shared = {int(elem.tag): _encode(elem) for elem in shared}
        meta = FileMetaDataset()
        meta.FileMetaInformationVersion = b"\x00\x01"
        meta.MediaStorageSOPClassUID = shared.SOPClassUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = UID(implementation_uid)
        meta.ImplementationVersionName = implementation_name
        # The file meta group differs per file only in the instance UID (0002,0003).
        self._meta = {int(elem.tag): _encode(elem) for elem in meta}

    def encode(self, instance: Dataset) -> bytes:
        """The whole file of one instance; ``instance`` must hold its SOPInstanceUID."""
        parts = dict(self._shared)
        for elem in instance:
            parts[int(elem.tag)] = _encode(elem)
        meta = dict(self._meta)
        meta[0x00020003] = _encode(DataElement(0x00020003, "UI", instance.SOPInstanceUID))
        body = b"".join(meta[tag] for tag in sorted(meta))
        length = _encode(DataElement(0x00020000, "UL", len(body)))
        return b"".join([_PREAMBLE, length, body, *(parts[tag] for tag in sorted(parts))])
