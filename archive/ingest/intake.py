"""Taking one received file into the archive: recognise, parse, check, and store its original bytes.

Shared by every way images arrive (import, demo, pull, listen). ``ingest_bytes`` never raises for
bad input: it returns an ``Outcome`` saying the file was stored, is not DICOM (skipped), or is
damaged DICOM (quarantined with its reason under ``<home>/quarantine``). The caller hands stored
records to the store writer, which decides whether the instance is new.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, cast

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID

from archive.clock import now_utc
from archive.dicom.models import HEADER_TAGS, InvalidDataset, Record
from archive.dicom.raw import tag_of, value
from archive.dicom.scan import CHARACTER_SET, VRS, scan
from archive.vault import Vault, content_hash, fsync_dir

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ".ima"}
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


@dataclass
class Outcome:
    kind: str                      # stored | skipped | quarantined | failed (unreadable source)
    name: str                      # file name only (no folders: paths may carry patient names)
    size: int = 0
    digest: str | None = None
    record: Record | None = None
    reason: str | None = None
    written: bool = False          # the vault file was written now (not already there)


def _looks_like_dicom(data: bytes, name: str) -> bool:
    if len(data) >= 132 and data[128:132] == b"DICM":
        return True
    if Path(name).suffix.lower() in DICOM_SUFFIXES:
        return True
    # Files without preamble (old CDs, raw datasets) start with a group 0002 or 0008 tag.
    return len(data) >= 8 and data[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")


def parse(data: bytes, tags: Collection[int] | None = None) -> Dataset:
    """Parse a whole file from memory without decoding its pixel data.

    ``tags``: keep only these top-level elements (and the Specific Character Set); None keeps every
    element. With ``tags``, a little-endian dataset is scanned for just those elements
    (``archive.dicom.scan``), which costs a third of reading them all.

    A file in the usual shape (preamble, 'DICM', a file meta group that starts with its group
    length, a transfer syntax that is not deflated, a dataset encoded as that syntax says) is read
    in two plain steps: the meta group, then the dataset after it. Anything else (no preamble, no
    group length, deflate, an unknown syntax, implicit VR where explicit is declared or the other
    way round) goes through ``dcmread``, which knows how to cope.
    """
    return (_parse_usual(data, tags)
            or pydicom.dcmread(io.BytesIO(data), force=True, specific_tags=sorted(tags) if tags else None))


def _parse_usual(data: bytes, tags: Collection[int] | None = None) -> Dataset | None:
    if len(data) < 144 or data[128:136] != b"DICM\x02\x00\x00\x00" or data[136:140] != b"UL\x04\x00":
        return None
    end = 144 + int.from_bytes(data[140:144], "little")
    try:
        meta = FileMetaDataset(read_dataset(io.BytesIO(data[132:end]), False, True))
        syntax = UID(str(meta.get("TransferSyntaxUID") or ""))
    except Exception:  # a damaged meta group: dcmread says what is wrong with it
        return None
    if not syntax.is_transfer_syntax or syntax.is_deflated:
        return None
    implicit, little = syntax.is_implicit_VR, syntax.is_little_endian
    looks_explicit = data[end + 4:end + 6] in VRS
    if implicit == looks_explicit:
        return None   # written otherwise than declared: dcmread detects and reads it
    if tags and little:
        elements = scan(data, end, implicit, tags)
        if elements is not None:
            # Dataset keeps the dict as its own element mapping; scan keys it by pydicom's BaseTag
            ds = Dataset(cast("dict[BaseTag, DataElement | RawDataElement]", elements))
            ds.set_original_encoding(implicit, little, _encoding(elements))
            ds.file_meta = meta
            return ds
    stream = io.BytesIO(data)
    stream.seek(end)
    ds = read_dataset(stream, implicit, little, specific_tags=sorted(tags) if tags else None)
    ds.file_meta = meta
    return ds


def _encoding(elements: dict[int, RawDataElement]) -> str | list[str]:
    """The character encodings a dataset's Specific Character Set names (as pydicom's reader finds them)."""
    charset = elements.get(CHARACTER_SET)
    return convert_encodings(convert_raw_data_element(charset).value) if charset else default_encoding


_PIXEL_DATA, _ROWS, _COLUMNS, _SAMPLES, _FRAMES, _BITS, _PHOTOMETRIC = (tag_of(k) for k in (
    "PixelData", "Rows", "Columns", "SamplesPerPixel", "NumberOfFrames", "BitsAllocated",
    "PhotometricInterpretation"))
_SOP_CLASS, _SOP_INSTANCE, _MEDIA_SOP_CLASS, _TRANSFER_SYNTAX = (tag_of(k) for k in (
    "SOPClassUID", "SOPInstanceUID", "MediaStorageSOPClassUID", "TransferSyntaxUID"))
# What classifying a file reads: the record's elements, and those that say how big the pixels are.
_CLASSIFY_TAGS = HEADER_TAGS | {_PIXEL_DATA, _ROWS, _COLUMNS, _SAMPLES, _FRAMES, _BITS, _PHOTOMETRIC,
                                _SOP_CLASS, _SOP_INSTANCE}


def _pixel_problem(ds: Dataset) -> str | None:
    """Why the pixel data cannot be whole (truncated file), or None."""
    element = ds.get_item(_PIXEL_DATA)
    if element is None:
        return None
    actual = len(element.value or b"")
    meta = getattr(ds, "file_meta", None)
    syntax = UID(str(value(meta, _TRANSFER_SYNTAX) or "")) if meta is not None else None
    if syntax and (not syntax.is_transfer_syntax or syntax.is_compressed):
        # compressed, or a private or unknown syntax: the size cannot be known, the bytes are kept
        return None if actual else "empty pixel data"
    try:
        samples = int(value(ds, _SAMPLES) or 1)
        if value(ds, _PHOTOMETRIC) == "YBR_FULL_422":
            samples = 2  # two chroma samples shared by each pair of pixels
        expected = (int(value(ds, _ROWS)) * int(value(ds, _COLUMNS)) * samples
                    * int(value(ds, _FRAMES) or 1) * int(value(ds, _BITS)))
    except (TypeError, ValueError):
        return None  # the size cannot be known: let the viewer report what it cannot decode
    expected = (expected + 7) // 8
    if actual < expected:
        return f"truncated pixel data ({actual} of {expected} bytes)"
    return None


def read_record(data: bytes, name: str) -> tuple[Record | None, str, str | None]:
    """Classify a file: ('stored'-able record, 'skipped' non-DICOM, or 'quarantined' with a reason)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid values are read as absent, not reported per file
        return _classify(data, name)


def _classify(data: bytes, name: str) -> tuple[Record | None, str, str | None]:
    dicomish = _looks_like_dicom(data, name)
    try:
        ds = parse(data, _CLASSIFY_TAGS)
    except Exception as exc:  # pydicom raises many exception types on damaged input
        if dicomish:
            return None, "quarantined", f"unreadable DICOM: {type(exc).__name__}: {str(exc)[:200]}"
        return None, "skipped", "not DICOM"
    meta = getattr(ds, "file_meta", None)
    sop_class = value(ds, _SOP_CLASS) or (value(meta, _MEDIA_SOP_CLASS) if meta is not None else None)
    if str(sop_class or "") == MEDIA_STORAGE_DIRECTORY:
        return None, "skipped", "DICOMDIR (index of a medium, not an image)"
    if not dicomish and not value(ds, _SOP_INSTANCE):
        return None, "skipped", "not DICOM"
    try:
        record = Record.from_dataset(ds)
    except InvalidDataset as exc:
        return None, "quarantined", str(exc)
    problem = _pixel_problem(ds)
    if problem:
        return None, "quarantined", problem
    return record, "stored", None


def quarantine(quarantine_dir: Path, data: bytes, digest: str, name: str, reason: str,
               durable: bool = False) -> None:
    """Keep a damaged file and its reason so nothing received is ever lost (``durable``: fsync'd)."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = quarantine_dir / f"{digest}.dcm"
    note = {"source_name": name, "reason": reason, "quarantined_at": now_utc().isoformat()}
    for path, content in ((target, None if target.exists() else data),
                          (quarantine_dir / f"{digest}.json", json.dumps(note, indent=1).encode())):
        if content is None:
            continue
        with open(path, "wb") as out:
            out.write(content)
            if durable:
                out.flush()
                os.fsync(out.fileno())
    if durable:
        fsync_dir(quarantine_dir)


def examine(data: bytes, name: str, quarantine_dir: Path, durable: bool = False) -> Outcome:
    """Recognise and check one file; never raises for bad input.

    A damaged file is kept in quarantine now (``durable``: fsync'd); a good one comes back as a
    'stored' outcome with its record and content hash whose vault file is still to be written
    (``ingest_bytes`` writes it, an import writes a batch's at once).
    """
    name = Path(name).name
    record, kind, reason = read_record(data, name)
    if kind == "skipped":
        return Outcome("skipped", name, len(data), reason=reason)
    digest = content_hash(data)
    if kind == "quarantined":
        quarantine(quarantine_dir, data, digest, name, reason or "quarantined", durable=durable)
        return Outcome("quarantined", name, len(data), digest, reason=reason)
    return Outcome("stored", name, len(data), digest, record)


def ingest_bytes(data: bytes, name: str, vault: Vault, quarantine_dir: Path, durable: bool = False) -> Outcome:
    """Recognise, check and store one file's original bytes; never raises for bad input.

    ``durable``: the vault file is fsync'd before this returns (a receiver about to acknowledge it).
    """
    outcome = examine(data, name, quarantine_dir, durable=durable)
    if outcome.kind == "stored":
        _, outcome.written = vault.put(data, outcome.digest, durable=durable)
    return outcome
