"""Finding the files to import: folders (recursive), .zip files, CD images (.iso) and DICOMDIR media.

A folder holding a DICOMDIR (a CD or USB medium) is read through its directory records: each
referenced file is resolved case-insensitively (ISO 9660 names are upper case, sometimes with a
';1' version suffix, while a mounted disc may show them in lower case). Files on the medium that the
DICOMDIR does not reference are still walked, so nothing on a disc is silently left behind.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pycdlib
import pydicom

DICOMDIR = "DICOMDIR"


@dataclass(frozen=True)
class Item:
    """One file to import: a path on disk, or a member of a zip file or of an ISO 9660 CD image."""

    path: str
    member: str | None = None

    @property
    def name(self) -> str:
        return Path((self.member or self.path).split(";")[0]).name

    def read(self, containers: dict[str, object]) -> bytes:
        """The file's bytes; ``containers`` caches open zip and ISO files between calls."""
        if self.member is None:
            with open(self.path, "rb") as f:
                return f.read()
        container = containers.get(self.path)
        if self.path.lower().endswith(".iso"):
            if container is None:
                container = containers[self.path] = _open_iso(self.path)
            out = io.BytesIO()
            container.get_file_from_iso_fp(out, **{_iso_path_kind(container): self.member})
            return out.getvalue()
        if container is None:
            container = containers[self.path] = zipfile.ZipFile(self.path)
        return container.read(self.member)


def _open_iso(path: str) -> pycdlib.PyCdlib:
    iso = pycdlib.PyCdlib()
    iso.open(path)
    return iso


def _iso_path_kind(iso: pycdlib.PyCdlib) -> str:
    """Which name tree to use: Rock Ridge or Joliet names when present, else plain ISO 9660."""
    if iso.has_rock_ridge():
        return "rr_path"
    if iso.has_joliet():
        return "joliet_path"
    return "iso_path"


@dataclass
class Discovery:
    """What discovery found besides the items: problems that count as failures."""

    problems: list[str] = field(default_factory=list)


def _case_insensitive(base: Path, parts: list[str]) -> Path | None:
    current = base
    for part in parts:
        candidate = current / part
        if candidate.exists():
            current = candidate
            continue
        wanted = {part.upper(), f"{part.upper()};1"}
        try:
            match = next((e for e in os.scandir(current) if e.name.upper() in wanted), None)
        except OSError:
            return None
        if match is None:
            return None
        current = Path(match.path)
    return current


def dicomdir_references(dicomdir: Path) -> tuple[list[Path], list[str]]:
    """Files referenced by a DICOMDIR (resolved on disk) and the references that are missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(dicomdir, force=True)
    found, missing = [], []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        path = _case_insensitive(dicomdir.parent, parts)
        if path is None or not path.is_file():
            missing.append("/".join(parts))
        else:
            found.append(path)
    return found, missing


def _walk_folder(root: Path, discovery: Discovery) -> Iterator[Item]:
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        dicomdir = next((f for f in files if f.upper() in (DICOMDIR, f"{DICOMDIR};1")), None)
        if dicomdir:
            try:
                referenced, missing = dicomdir_references(Path(folder) / dicomdir)
            except Exception as exc:  # a damaged DICOMDIR: fall back to walking the medium
                discovery.problems.append(f"unreadable DICOMDIR in {folder}: {type(exc).__name__}")
                referenced, missing = [], []
            discovery.problems.extend(f"DICOMDIR references a missing file: {m}" for m in missing)
            for path in referenced:
                key = os.path.join(os.path.realpath(path.parent), path.name)
                if key not in seen:
                    seen.add(key)
                    yield Item(str(path))
        real_folder = os.path.realpath(folder)   # once per folder, not once per file
        for name in sorted(files):
            path = os.path.join(folder, name)
            key = os.path.realpath(path) if os.path.islink(path) else os.path.join(real_folder, name)
            if key in seen:
                continue
            seen.add(key)
            if name.lower().endswith(".zip"):
                yield from _zip_members(Path(path), discovery)
            elif name.lower().endswith(".iso"):
                yield from _iso_members(Path(path), discovery)
            else:
                yield Item(path)


def _zip_members(path: Path, discovery: Discovery) -> Iterator[Item]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        discovery.problems.append(f"unreadable zip file {path.name}: {exc}")
        return
    for member in sorted(members, key=lambda m: m.filename):
        yield Item(str(path), member.filename)


def _iso_members(path: Path, discovery: Discovery) -> Iterator[Item]:
    try:
        iso = _open_iso(str(path))
    except (pycdlib.pycdlibexception.PyCdlibException, OSError) as exc:
        discovery.problems.append(f"unreadable CD image {path.name}: {exc}")
        return
    try:
        kind = _iso_path_kind(iso)
        members = []
        for folder, _, files in iso.walk(**{kind: "/"}):
            members.extend(f"{folder.rstrip('/')}/{name}" for name in files)
    finally:
        iso.close()
    for member in sorted(members):
        yield Item(str(path), member)


def discover(paths: list[Path], discovery: Discovery) -> Iterator[Item]:
    """Every file to import under ``paths``; problems are added to ``discovery``."""
    for path in paths:
        if path.is_dir():
            yield from _walk_folder(path, discovery)
        elif path.suffix.lower() == ".iso":
            yield from _iso_members(path, discovery)
        elif zipfile.is_zipfile(path):
            yield from _zip_members(path, discovery)
        elif path.name.upper() in (DICOMDIR, f"{DICOMDIR};1"):
            yield from _walk_folder(path.parent, discovery)
        else:
            yield Item(str(path))
