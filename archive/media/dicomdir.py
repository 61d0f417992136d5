"""The layout of DICOM media (a share-link ZIP, a CD or USB stick): the DICOMDIR and file names.

``plan(contents, vault)`` returns the DICOMDIR's bytes and the ISO 9660-safe path of every original
file (``PT000000/ST000000/SE000000/IM000000``: upper case, at most 8 characters, no extension).
The original files are then copied into those paths byte for byte; nothing here changes them.

The PATIENT, STUDY, SERIES and IMAGE records are made from the store's rows, and the DICOMDIR is
encoded here (records depth first, linked by byte offsets), so the cost grows in step with the
number of instances. Objects that are not images (SR, PDF, presentation states...) are few: their
records are the ones pydicom's ``FileSet`` makes from each file's header (the first vault segment
is enough; pixel data is never decoded). A Type 1 attribute the DICOMDIR needs but a file lacks
(say an empty Study ID) is filled in the directory record only, from the store or a neutral default.
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    MediaStorageDirectoryStorage,
    generate_uid,
)

from archive.sharing.scope import Contents, SeriesContent
from archive.vault import Vault, VaultError

log = logging.getLogger("limestone.dicomdir")


@dataclass(frozen=True)
class MediaFile:
    path: str                 # '/'-separated File ID relative to the medium's root
    content_hash: str
    size: int
    sop_instance_uid: str


@dataclass
class MediaPlan:
    dicomdir: bytes
    files: list[MediaFile]
    unindexed: list[MediaFile] = field(default_factory=list)   # kept on the medium, not in DICOMDIR
    missing: list[str] = field(default_factory=list)            # SOP Instance UIDs not in the vault

    @property
    def bytes(self) -> int:
        return len(self.dicomdir) + sum(f.size for f in self.files + self.unindexed)


def read_header(vault: Vault, digest: str) -> Dataset:
    """The file's header, parsed from its first vault segment (the whole file if need be)."""
    stream = vault.stream(digest)
    first = next(stream, b"")
    stream.close()
    for data in (first, None):
        if data is None:
            data = vault.get(digest)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        except Exception:
            continue
    raise ValueError("header cannot be read")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _stub(header: Dataset, row: dict, study: dict, series_index: int, image_index: int) -> Dataset:
    """A header-only copy with the Type 1 values a DICOMDIR record needs."""
    ds = Dataset()
    for element in header:
        if element.tag.group in (0x7FE0,) or element.tag > 0x7FE00000:
            continue
        ds.add(element)
    defaults = {
        "PatientID": _text(study.get("patient_id")) or "UNKNOWN",
        "StudyDate": study["study_date"].strftime("%Y%m%d") if study.get("study_date") else "19000101",
        "StudyTime": study["study_time"].strftime("%H%M%S") if study.get("study_time") else "000000",
        "StudyID": (_text(study.get("study_id")) or _text(study.get("accession_number")) or "1")[:16],
        "StudyInstanceUID": row["study_instance_uid"],
        "SeriesInstanceUID": row["series_instance_uid"],
        "Modality": _text(row.get("modality")) or "OT",
        "SeriesNumber": row.get("series_number") if row.get("series_number") is not None else series_index,
        "InstanceNumber": row.get("instance_number") if row.get("instance_number") is not None else image_index,
        "SOPInstanceUID": row["sop_instance_uid"],
        "SOPClassUID": row.get("sop_class_uid") or _text(header.get("SOPClassUID")),
    }
    for keyword, value in defaults.items():
        if keyword not in ds or ds[keyword].VM == 0 or _text(ds[keyword].value) == "":
            setattr(ds, keyword, value)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    syntax = row.get("transfer_syntax_uid") or _text(getattr(header, "file_meta", {}).get("TransferSyntaxUID"))
    meta.TransferSyntaxUID = UID(syntax) if syntax else ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def _is_image(row: dict) -> bool:
    sop_class = row.get("sop_class_uid")
    return bool(sop_class) and "Image Storage" in UID(str(sop_class)).name


@dataclass
class _Node:
    """A directory record and the records below it."""

    record: Dataset
    index: int                                   # its place among its siblings: the File ID's number
    children: dict[str, "_Node"] = field(default_factory=dict)

    def child(self, key: str, make: Callable[..., Dataset], *args: Any) -> "_Node":
        """The child record under ``key``, made by ``make(*args)`` the first time it is asked for."""
        if key not in self.children:
            self.children[key] = _Node(make(*args), len(self.children))
        return self.children[key]


def _record(kind: str, **values: Any) -> Dataset:
    record = Dataset()
    record.SpecificCharacterSet = "ISO_IR 192"
    record.DirectoryRecordType = kind
    for keyword, value in values.items():
        setattr(record, keyword, value)
    return record


def _patient_record(study: dict) -> Dataset:
    return _record("PATIENT", PatientName=_text(study.get("patient_name")),
                   PatientID=_text(study.get("patient_id")) or "UNKNOWN")


def _study_record(uid: str, study: dict) -> Dataset:
    return _record(
        "STUDY",
        StudyDate=study["study_date"].strftime("%Y%m%d") if study.get("study_date") else "19000101",
        StudyTime=study["study_time"].strftime("%H%M%S") if study.get("study_time") else "000000",
        StudyDescription=_text(study.get("study_description")),
        StudyInstanceUID=uid,
        StudyID=(_text(study.get("study_id")) or _text(study.get("accession_number")) or "1")[:16],
        AccessionNumber=_text(study.get("accession_number"))[:16])


def _series_record(series: SeriesContent, index: int) -> Dataset:
    return _record("SERIES", Modality=_text(series.modality) or "OT",
                   SeriesInstanceUID=series.series_instance_uid,
                   SeriesNumber=series.series_number if series.series_number is not None else index)


def _image_record(row: dict, index: int) -> Dataset:
    number = row.get("instance_number")
    return _record("IMAGE", InstanceNumber=number if number is not None else index)


def _records_from_headers(pending: list[tuple[dict, Dataset]]) -> tuple[dict[str, tuple[Dataset, str]], list[dict]]:
    """Leaf records and their File ID prefixes for objects that are not images (SR, PDF,
    presentation states...), by SOP Instance UID, as pydicom's ``FileSet`` makes them from each
    file's header; and the rows it cannot index. These are few per study, so pydicom's cost per
    instance (which grows with the size of the set) does not add up."""
    fs = FileSet()
    rows: dict[str, dict] = {}
    unindexed: list[dict] = []
    for row, stub in pending:
        try:
            fs.add(stub)
            rows[row["sop_instance_uid"]] = row
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            log.info("no DICOMDIR record for an instance (%s): kept outside the index", exc)
            unindexed.append(row)
    if not rows:
        return {}, unindexed
    with tempfile.TemporaryDirectory(prefix="limestone-dicomdir-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fs.write(tmp)
        written = pydicom.dcmread(Path(tmp) / "DICOMDIR")
    leaves = {}
    for record in written.DirectoryRecordSequence:
        uid = record.get("ReferencedSOPInstanceUIDInFile")
        if uid in rows:
            # pydicom names files by record type (ED000000 for a PDF): readers that use its FileSet
            # expect that, so the file keeps its prefix.
            prefix = str(list(record.ReferencedFileID)[-1])[:2]
            for keyword in _LINKS + ("ReferencedFileID",):
                if keyword in record:
                    delattr(record, keyword)
            leaves[uid] = (record, prefix)
    return leaves, unindexed + [row for uid, row in rows.items() if uid not in leaves]


def plan(contents: Contents, vault: Vault, file_set_id: str = "LIMESTONE") -> MediaPlan:
    """The DICOMDIR and the path of every original file of ``contents`` on a medium.

    Image objects get their records from the store's rows alone: reading each file's header
    would cost a decryption per file, and the store already holds every value the DICOMDIR needs.
    The cost grows in step with the number of instances (about 0.5 s for a 1,000-image study).
    """
    missing: list[str] = []
    pending: list[tuple[dict, Dataset]] = []
    unindexed_rows: list[dict] = []
    leaves: dict[str, tuple[Dataset, str]] = {}   # the leaf record and its File ID prefix
    for study in contents.studies:
        for s_index, series in enumerate(study.series, start=1):
            for i_index, row in enumerate(series.instances, start=1):
                if not vault.has(row["content_hash"]):
                    log.warning("not on the medium: vault file %s… is missing", row["content_hash"][:12])
                    missing.append(row["sop_instance_uid"])
                elif _is_image(row):
                    leaves[row["sop_instance_uid"]] = (_image_record(row, i_index), "IM")
                else:
                    try:
                        header = read_header(vault, row["content_hash"])
                    except VaultError as exc:
                        log.warning("not on the medium: %s", exc)
                        missing.append(row["sop_instance_uid"])
                        continue
                    except ValueError:
                        unindexed_rows.append(row)
                        continue
                    pending.append((row, _stub(header, row, study.study, s_index, i_index)))
    found, not_indexed = _records_from_headers(pending)
    leaves.update(found)
    unindexed_rows += not_indexed

    top = _Node(Dataset(), 0)                    # holds the PATIENT records: the root directory entity
    files: list[MediaFile] = []
    for study in contents.studies:
        patient = top.child(_text(study.study.get("patient_id")) or "UNKNOWN", _patient_record, study.study)
        study_node = patient.child(study.study_instance_uid, _study_record, study.study_instance_uid,
                                   study.study)
        for s_index, series in enumerate(study.series, start=1):
            series_node = study_node.child(series.series_instance_uid, _series_record, series, s_index)
            for row in series.instances:
                uid = row["sop_instance_uid"]
                if uid not in leaves or uid in series_node.children:
                    continue
                record, prefix = leaves[uid]
                leaf = series_node.child(uid, lambda known: known, record)
                file_id = [f"PT{patient.index:06d}", f"ST{study_node.index:06d}",
                           f"SE{series_node.index:06d}", f"{prefix}{leaf.index:06d}"]
                record.ReferencedFileID = file_id
                record.ReferencedSOPClassUIDInFile = row.get("sop_class_uid") or record.get(
                    "ReferencedSOPClassUIDInFile")
                record.ReferencedSOPInstanceUIDInFile = uid
                record.ReferencedTransferSyntaxUIDInFile = row.get("transfer_syntax_uid") or record.get(
                    "ReferencedTransferSyntaxUIDInFile") or ExplicitVRLittleEndian
                files.append(MediaFile("/".join(file_id), row["content_hash"], int(row["bytes"]), uid))
    unindexed = [MediaFile(f"EXTRA/F{n:07d}", r["content_hash"], int(r["bytes"]), r["sop_instance_uid"])
                 for n, r in enumerate(unindexed_rows, start=1)]
    return MediaPlan(_encode(file_set_id, list(top.children.values())), files, unindexed, missing)


# ---- encoding the DICOMDIR (PS3.10 7.3, PS3.3 F.3) ----------------------------------------------
_LINKS = ("OffsetOfTheNextDirectoryRecord", "RecordInUseFlag", "OffsetOfReferencedLowerLevelDirectoryEntity")
_SEQUENCE_ELEMENT = b"\x04\x00\x20\x12SQ\x00\x00"     # (0004,1220) Directory Record Sequence, explicit VR
_ITEM = b"\xfe\xff\x00\xe0"
# Explicit VR little endian headers of the offset elements: each record starts with Offset of the
# Next Directory Record (0004,1400), then Record In-use Flag (0004,1410, 10 bytes) and Offset of
# Referenced Lower-Level Directory Entity (0004,1420) 22 bytes in.
_NEXT, _LOWER = b"\x04\x00\x00\x14UL\x04\x00", b"\x04\x00\x20\x14UL\x04\x00"
_FIRST_ROOT, _LAST_ROOT = b"\x04\x00\x00\x12UL\x04\x00", b"\x04\x00\x02\x12UL\x04\x00"


def _encode(file_set_id: str, roots: list[_Node]) -> bytes:
    """The DICOMDIR file: the records depth first, each pointing at its next sibling and its first
    child by byte offset from the start of the file (0: none)."""
    order: list[_Node] = []

    def visit(node: _Node) -> None:
        order.append(node)
        for child in node.children.values():
            visit(child)

    for root in roots:
        visit(root)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MediaStorageDirectoryStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.FileSetID = file_set_id[:16]
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    for node in order:
        node.record.OffsetOfTheNextDirectoryRecord = 0
        node.record.RecordInUseFlag = 0xFFFF
        node.record.OffsetOfReferencedLowerLevelDirectoryEntity = 0
    ds.DirectoryRecordSequence = Sequence([node.record for node in order])
    # The offsets are fixed-size (UL): encode once with zeros, then write each offset in place.
    data = bytearray(_write(ds))
    where = dict(zip(map(id, order), _item_offsets(data, len(order)), strict=True))
    if roots:
        _set_offset(data, data.index(_FIRST_ROOT, 132), where[id(roots[0])])
        _set_offset(data, data.index(_LAST_ROOT, 132), where[id(roots[-1])])

    def link(nodes: list[_Node]) -> None:
        for node, following in zip(nodes, nodes[1:] + [None], strict=False):  # [] pairs with nothing
            children = list(node.children.values())
            at = where[id(node)] + 8                    # the record's first element, after the item tag
            _set_offset(data, at, where[id(following)] if following else 0, _NEXT)
            _set_offset(data, at + 22, where[id(children[0])] if children else 0, _LOWER)
            link(children)

    link(roots)
    return bytes(data)


def _set_offset(data: bytearray, at: int, offset: int, expected: bytes | None = None) -> None:
    """Write ``offset`` into the UL element encoded at ``at`` (checking it is the one meant)."""
    if expected is not None and data[at:at + 8] != expected:
        raise AssertionError("unexpected DICOMDIR record encoding")
    data[at + 8:at + 12] = offset.to_bytes(4, "little")


def _write(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _item_offsets(data: bytes | bytearray, count: int) -> list[int]:
    """Where each of the first ``count`` items of the Directory Record Sequence starts."""
    at = data.index(_SEQUENCE_ELEMENT, 132) + 12
    offsets = []
    for _ in range(count):
        if data[at:at + 4] != _ITEM:
            raise AssertionError("unexpected DICOMDIR encoding")
        offsets.append(at)
        at += 8 + int.from_bytes(data[at + 4:at + 8], "little")
    return offsets
