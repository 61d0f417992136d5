"""The layout of DICOM media (a share-link ZIP, a CD or USB stick): the DICOMDIR and file names.

``plan(contents, vault)`` reads the header of every instance from the vault (the first segment
is enough; pixel data is never decoded), lets pydicom's ``FileSet`` build the directory records
from header-only copies, and returns the DICOMDIR's bytes and the ISO 9660-safe path of every
original file (``PT000000/ST000000/SE000000/IM000000``: upper case, at most 8 characters, no
extension). The original files are then copied into those paths byte for byte; nothing here
changes them. A Type 1 attribute the DICOMDIR needs but a file lacks (say an empty Study ID) is
filled in the directory record only, from the store or a neutral default.
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.uid import UID, ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

from archive.share_scope import Contents
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


def _header(vault: Vault, digest: str) -> Dataset:
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
    meta.TransferSyntaxUID = syntax or ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def _stub_from_store(row: dict, study: dict, series_index: int, image_index: int) -> Dataset | None:
    """A header-only dataset made from the store's rows alone, for image objects (IMAGE records).

    Reading every file's first vault segment just for its header costs a decryption per file;
    for plain image objects the store already holds every value the DICOMDIR needs.
    """
    sop_class = row.get("sop_class_uid")
    if not sop_class or "Image Storage" not in UID(sop_class).name:
        return None
    header = Dataset()
    header.SpecificCharacterSet = "ISO_IR 192"
    header.PatientName = _text(study.get("patient_name"))
    header.StudyDescription = _text(study.get("study_description"))
    header.AccessionNumber = _text(study.get("accession_number"))[:16]
    header.SOPClassUID = UID(sop_class)
    return _stub(header, row, study, series_index, image_index)


def plan(contents: Contents, vault: Vault, file_set_id: str = "LIMESTONE") -> MediaPlan:
    """The DICOMDIR and the path of every original file of ``contents`` on a medium."""
    fs = FileSet()
    fs.ID = file_set_id[:16]
    by_sop: dict[str, dict] = {}
    unindexed_rows: list[dict] = []
    missing: list[str] = []
    for study in contents.studies:
        for s_index, series in enumerate(study.series, start=1):
            for i_index, row in enumerate(series.instances, start=1):
                if not vault.has(row["content_hash"]):
                    log.warning("not on the medium: vault file %s… is missing", row["content_hash"][:12])
                    missing.append(row["sop_instance_uid"])
                    continue
                stub = _stub_from_store(row, study.study, s_index, i_index)
                if stub is not None:
                    try:
                        fs.add(stub)
                        by_sop[row["sop_instance_uid"]] = row
                        continue
                    except (ValueError, KeyError, AttributeError, TypeError):
                        pass  # fall back to the file's own header
                try:
                    header = _header(vault, row["content_hash"])
                except VaultError as exc:
                    log.warning("not on the medium: %s", exc)
                    missing.append(row["sop_instance_uid"])
                    continue
                except ValueError:
                    unindexed_rows.append(row)
                    continue
                try:
                    fs.add(_stub(header, row, study.study, s_index, i_index))
                    by_sop[row["sop_instance_uid"]] = row
                except (ValueError, KeyError, AttributeError, TypeError) as exc:
                    log.info("no DICOMDIR record for an instance (%s): kept outside the index", exc)
                    unindexed_rows.append(row)
    with tempfile.TemporaryDirectory(prefix="limestone-dicomdir-") as tmp:
        if len(fs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fs.write(tmp)
            dicomdir = (Path(tmp) / "DICOMDIR").read_bytes()
            files = []
            for instance in fs:
                row = by_sop[instance.SOPInstanceUID]
                path = str(PurePosixPath(*Path(instance.FileID).parts))
                files.append(MediaFile(path, row["content_hash"], int(row["bytes"]), row["sop_instance_uid"]))
        else:
            dicomdir, files = _empty_dicomdir(fs, Path(tmp)), []
    unindexed = [MediaFile(f"EXTRA/F{n:07d}", r["content_hash"], int(r["bytes"]), r["sop_instance_uid"])
                 for n, r in enumerate(unindexed_rows, start=1)]
    files.sort(key=lambda f: f.path)
    return MediaPlan(dicomdir, files, unindexed, missing)


def _empty_dicomdir(fs: FileSet, tmp: Path) -> bytes:
    # pydicom writes nothing for an unchanged empty file-set: encode its DICOMDIR directly.
    from pydicom.filebase import DicomFileLike
    buffer = io.BytesIO()
    fs._write_dicomdir(DicomFileLike(buffer), copy_safe=True)
    return buffer.getvalue()
