"""Finding the files to import: folders (recursive), .zip files, CD images (.iso) and DICOMDIR media.

Everything read comes from inside what was named: a DICOMDIR reference with ``..`` or an absolute
path, a link leading out of the folder being walked, or a zip/ISO member whose name would climb out
(``../``, ``/etc/...``) is refused and named, never followed. Containers are read within ``Limits``
(settings ``import_max_file_mb``, ``import_max_container_mb``, ``import_max_members``): a file or
member above the size limit, the members of a container past its expansion budget or member count,
and containers inside containers are refused (counted and named in the summary), so a zip bomb or a
multi-GB file never takes more than one file's worth of memory.

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
from typing import IO, Iterator

import pycdlib
import pydicom

from archive.config import Settings
from archive.errors import LimestoneError

DICOMDIR = "DICOMDIR"
MB = 1024 * 1024
_CONTAINER_SUFFIXES = (".zip", ".iso", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")


class Refused(LimestoneError):
    """A file that is not read: too large, unsafe name, or past a container's limits."""


@dataclass(frozen=True)
class Limits:
    """How much one import reads (from the ``import_max_*`` settings)."""

    max_file_bytes: int = 256 * MB
    max_container_bytes: int = 16 * 1024 * MB
    max_members: int = 200_000

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        """The limits the ``import_max_*`` settings give."""
        return cls(int(settings.import_max_file_mb) * MB, int(settings.import_max_container_mb) * MB,
                   int(settings.import_max_members))


@dataclass(frozen=True)
class Item:
    """One file to import: a path on disk, or a member of a zip file or of an ISO 9660 CD image."""

    path: str
    member: str | None = None

    @property
    def name(self) -> str:
        return Path((self.member or self.path).split(";")[0]).name

    def read(self, containers: dict[str, pycdlib.PyCdlib | zipfile.ZipFile],
             max_bytes: int | None = None) -> bytes:
        """The file's bytes; ``containers`` caches open zip and ISO files between calls.

        Raises ``Refused`` (before reading more than ``max_bytes`` + 1 bytes) for a larger file.
        """
        limit = max_bytes if max_bytes is not None else Limits().max_file_bytes
        if self.member is None:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size > limit:
                    raise Refused(_too_large(size, limit))
                return _bounded(f, limit)
        container = containers.get(self.path)
        if self.path.lower().endswith(".iso"):
            if not isinstance(container, pycdlib.PyCdlib):
                container = containers[self.path] = _open_iso(self.path)
            kind = {_iso_path_kind(container): self.member}
            size = container.get_record(**kind).get_data_length()
            if size > limit:
                raise Refused(_too_large(size, limit))
            out = io.BytesIO()
            container.get_file_from_iso_fp(out, **kind)
            return out.getvalue()
        if not isinstance(container, zipfile.ZipFile):
            container = containers[self.path] = zipfile.ZipFile(self.path)
        info = container.getinfo(self.member)
        if info.file_size > limit:
            raise Refused(_too_large(info.file_size, limit))
        with container.open(info) as f:   # the declared size may lie: never read past the limit
            return _bounded(f, limit)


def _bounded(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"expands past the size limit ({limit // MB} MB)")
    return data


def _too_large(size: int, limit: int) -> str:
    return f"larger than the size limit ({size / MB:.0f} MB > {limit // MB} MB)"


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
    refused: list[tuple[str, str]] = field(default_factory=list)   # (name, reason): not read
    limits: Limits = field(default_factory=Limits)

    def refuse(self, name: str, reason: str) -> None:
        """Record a file that is not read, and why."""
        self.refused.append((name, reason))


def _unsafe_member(name: str) -> bool:
    """A container member whose name would climb out of a folder it were extracted to."""
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":")
            or any(p == ".." for p in parts))


def _inside(path: Path | str, root: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


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


def dicomdir_references(dicomdir: Path, refused: list[str] | None = None) -> tuple[list[Path], list[str]]:
    """Files referenced by a DICOMDIR (resolved on disk) and the references that are missing.

    References that leave the medium's folder (a ``..`` or absolute part, or a link pointing
    elsewhere) are not followed: they go to ``refused`` when given, else they are dropped.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(dicomdir, force=True, stop_before_pixels=True)
    medium = os.path.realpath(dicomdir.parent)
    found, missing = [], []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        shown = "/".join(parts)
        if any(p in ("", ".", "..") or _unsafe_member(p) for p in parts):
            if refused is not None:
                refused.append(shown)
            continue
        path = _case_insensitive(dicomdir.parent, parts)
        if path is not None and not _inside(path, medium):
            if refused is not None:
                refused.append(shown)
        elif path is None or not path.is_file():
            missing.append(shown)
        else:
            found.append(path)
    return found, missing


def _walk_folder(root: Path, discovery: Discovery) -> Iterator[Item]:
    seen: set[str] = set()
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        dicomdir = next((f for f in files if f.upper() in (DICOMDIR, f"{DICOMDIR};1")), None)
        if dicomdir:
            off_medium: list[str] = []
            try:
                referenced, missing = dicomdir_references(Path(folder) / dicomdir, off_medium)
            except Exception as exc:  # a damaged DICOMDIR: fall back to walking the medium
                discovery.problems.append(f"unreadable DICOMDIR in {folder}: {type(exc).__name__}")
                referenced, missing = [], []
            discovery.problems.extend(f"DICOMDIR references a missing file: {m}" for m in missing)
            for reference in off_medium:
                discovery.refuse(reference, "DICOMDIR reference leaves the medium")
            for reference_path in referenced:
                key = os.path.join(os.path.realpath(reference_path.parent), reference_path.name)
                if key not in seen:
                    seen.add(key)
                    yield Item(str(reference_path))
        real_folder = os.path.realpath(folder)   # once per folder, not once per file
        for name in sorted(files):
            path = os.path.join(folder, name)
            key = os.path.realpath(path) if os.path.islink(path) else os.path.join(real_folder, name)
            if key in seen:
                continue
            seen.add(key)
            if os.path.islink(path) and not _inside(path, real_root):
                discovery.refuse(name, "a link leading out of the folder")
                continue
            if name.lower().endswith(".zip"):
                yield from _zip_members(Path(path), discovery)
            elif name.lower().endswith(".iso"):
                yield from _iso_members(Path(path), discovery)
            else:
                yield Item(path)


def _zip_members(path: Path, discovery: Discovery) -> Iterator[Item]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [(m.filename, m.file_size) for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        discovery.problems.append(f"unreadable zip file {path.name}: {exc}")
        return
    yield from _within_limits(path, sorted(members), discovery)


def _within_limits(path: Path, members: list[tuple[str, int]], discovery: Discovery,
                   rooted: bool = False) -> Iterator[Item]:
    """The members of one container that may be read: safe names, within its count and size budget."""
    limits = discovery.limits
    if len(members) > limits.max_members:
        discovery.refuse(path.name, f"{len(members) - limits.max_members} members past the limit of "
                                    f"{limits.max_members} per container")
        members = members[:limits.max_members]
    budget = limits.max_container_bytes
    over_budget = 0
    for name, size in members:
        if _unsafe_member(name[1:] if rooted else name):   # ISO names start at the image's root
            discovery.refuse(f"{path.name}:{Path(name).name}", "member name leads out of the container")
        elif name.lower().endswith(_CONTAINER_SUFFIXES):
            discovery.refuse(f"{path.name}:{Path(name).name}", "a container inside a container is not opened")
        elif size > limits.max_file_bytes:
            discovery.refuse(f"{path.name}:{Path(name).name}", _too_large(size, limits.max_file_bytes))
        elif size > budget:
            over_budget += 1
        else:
            budget -= size
            yield Item(str(path), name)
    if over_budget:
        discovery.refuse(path.name, f"{over_budget} members past the expansion limit of "
                                    f"{limits.max_container_bytes // MB} MB per container")


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
            for name in files:
                member = f"{folder.rstrip('/')}/{name}"
                members.append((member, iso.get_record(**{kind: member}).get_data_length()))
    except (pycdlib.pycdlibexception.PyCdlibException, OSError) as exc:
        discovery.problems.append(f"unreadable CD image {path.name}: {exc}")
        return
    finally:
        iso.close()
    yield from _within_limits(path, sorted(members), discovery, rooted=True)


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
