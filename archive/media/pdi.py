"""CD/USB export following IHE Portable Data for Imaging (PDI).

The medium holds, at its root: ``DICOMDIR`` (built by archive.media.dicomdir), the original files under
``PT000000/ST000000/SE000000/IM000000`` (ISO 9660-safe: upper case, 8 characters, no extension),
``README.TXT`` (what the medium holds and who made it) and ``INDEX.HTM`` (the same for a browser).
Each study's released reports (``archive.reports.release``) are under ``REPORTS/`` as
``S001R01.TXT`` (study 1, report 1: heading and text) and, when the report is a PDF (Encapsulated
PDF, or embedded in an HL7 result), ``S001R01.PDF``; INDEX.HTM links them and README.TXT lists them.
With ``web=True`` it also holds a rendered preview of every series under ``IHE_PDI/`` and the
label says "DICOM PLUS WEB"; otherwise "DICOM ONLY". The label data (patients, institutions,
study dates, content type) is returned for printing on the disc.

Output: a folder (copy it to a USB stick), a ``.zip``, or a ``.iso`` image made with Debian's
``xorriso`` (or ``genisoimage``) as plain ISO 9660 level 1, which every reader understands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from archive.clock import now_utc
from archive.dicom import pixels
from archive.errors import LimestoneError
from archive.media.dicomdir import MediaPlan, plan
from archive.media.zipstream import Member, zip_chunks
from archive.reports import release
from archive.sharing.scope import Contents
from archive.vault import Vault, VaultError

if TYPE_CHECKING:
    import duckdb

    from archive.home import Archive
    from archive.sharing.actions import Actor

DICOM_ONLY = "DICOM ONLY"
DICOM_PLUS_WEB = "DICOM PLUS WEB"


class PdiError(LimestoneError, RuntimeError):
    """The medium cannot be written (a plain message for the user)."""


@dataclass
class Label:
    """What goes on the disc's label (IHE PDI asks for patient, institution, date and content)."""

    patients: list[str]                 # "FAMILY, Given (ID 123, born 1970-03-15)"
    institutions: list[str]
    study_dates: list[str]
    content: str                        # DICOM ONLY | DICOM PLUS WEB
    created_at: datetime
    created_by: str
    studies: list[str] = field(default_factory=list)   # "2024-03-04 CT HEAD (CT, 12 images)"

    def lines(self) -> list[str]:
        return ([f"Patient: {p}" for p in self.patients]
                + [f"Institution: {i}" for i in self.institutions]
                + [f"Study dates: {', '.join(self.study_dates) or 'unknown'}",
                   f"Content: {self.content}",
                   f"Created: {self.created_at:%Y-%m-%d %H:%M} UTC by {self.created_by}"])


@dataclass
class PdiResult:
    path: Path
    kind: str                           # folder | zip | iso
    label: Label
    files: int
    bytes: int
    missing: int                        # files (images, report PDFs) the vault could not give
    reports: int = 0                    # report text files written (their PDFs beside them)


def _name(value: object) -> str:
    parts = str(value or "").split("^")
    family, given = parts[0].strip().upper(), " ".join(p.strip().title() for p in parts[1:3] if p.strip())
    return (f"{family}, {given}" if given else family) or "(no name)"


def label_for(contents: Contents, content: str, created_by: str, now: datetime | None = None) -> Label:
    patients, institutions, dates, studies = {}, [], [], []
    for study in contents.studies:
        s = study.study
        birth = s.get("patient_birth_date")
        patients[s.get("patient_key")] = (f"{_name(s.get('patient_name'))} (ID {s.get('patient_id') or 'none'}"
                                          + (f", born {birth:%Y-%m-%d}" if isinstance(birth, date) else "") + ")")
        institution = s.get("site_name") or s.get("institution_name")
        if institution and institution not in institutions:
            institutions.append(str(institution))
        when = f"{s['study_date']:%Y-%m-%d}" if isinstance(s.get("study_date"), date) else "no date"
        if when not in dates:
            dates.append(when)
        studies.append(f"{when} {s.get('study_description') or 'Study'} "
                       f"({', '.join(s.get('modalities') or []) or '?'}, {len(study.instances)} images)")
    return Label(list(patients.values()), institutions, sorted(dates), content, now or now_utc(),
                 created_by, studies)


@dataclass(frozen=True)
class ReportFile:
    """A released report on the medium: its text file and, when it has one, its PDF."""

    study: int                          # the study's number on the medium (1-based)
    heading: str
    text_path: str
    text: bytes
    pdf_path: str | None = None
    pdf: release.Document | None = None
    pdf_missing: bool = False           # the report has a PDF, but the vault could not give it


def report_files(contents: Contents, vault: Vault,
                 reports: Mapping[str, list[dict[str, Any]]]) -> list[ReportFile]:
    """The files of each study's released reports (``reports``: study UID -> released reports)."""
    out = []
    for s_index, study in enumerate(contents.studies, start=1):
        s = study.study
        when = f"{s['study_date']:%Y-%m-%d}" if isinstance(s.get("study_date"), date) else "no date"
        for n, report in enumerate(reports.get(study.study_instance_uid, []), start=1):
            stem = f"REPORTS/S{s_index:03d}R{n:02d}"
            try:
                document, missing = release.document(vault, report), False
            except VaultError:
                document, missing = None, True      # the text still goes on the medium
            text = release.as_text(report, f"{when} {s.get('study_description') or 'Study'}")
            out.append(ReportFile(s_index, release.heading(report), stem + ".TXT", text.encode("utf-8"),
                                  stem + ".PDF" if document else None, document, missing))
    return out


def readme(label: Label, reports: list[ReportFile]) -> str:
    lines = ["IMAGES ON THIS MEDIUM", "=====================", ""] + label.lines() + ["", "Studies:"]
    lines += [f"  {s}" for s in label.studies]
    if reports:
        lines += ["", "Reports (in the REPORTS folder):"]
        lines += [f"  Study {r.study}: {r.heading}: {r.text_path.split('/')[-1]}"
                  + (f" and {r.pdf_path.split('/')[-1]}" if r.pdf_path else "") for r in reports]
    lines += ["", "This medium follows the IHE Portable Data for Imaging (PDI) profile. The DICOMDIR",
              "file at the top lists every image; the images are the original DICOM files, in full",
              "diagnostic quality. Open DICOMDIR with any DICOM viewer.",
              "Open INDEX.HTM in a web browser for a summary" +
              (" and previews (in IHE_PDI)." if label.content == DICOM_PLUS_WEB else "."),
              "", "These are medical records: keep the medium safe.", ""]
    return "\r\n".join(lines)


def index_html(label: Label, previews: list[tuple[str, str]], reports: list[ReportFile]) -> str:
    rows = "".join(f"<li>{escape(s)}</li>" for s in label.studies)
    listed = "".join(f'<li>Study {r.study}: {escape(r.heading)}: <a href="{escape(r.text_path)}">text</a>'
                     + (f' · <a href="{escape(r.pdf_path)}">PDF</a>' if r.pdf_path else "") + "</li>"
                     for r in reports)
    meta = "".join(f"<li>{escape(line)}</li>" for line in label.lines())
    images = "".join(f'<figure><img src="{escape(path)}" alt=""><figcaption>{escape(caption)}</figcaption></figure>'
                     for path, caption in previews)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Images</title></head><body>"
            f"<h1>Images on this medium</h1><ul>{meta}</ul><h2>Studies</h2><ul>{rows}</ul>"
            + (f"<h2>Reports</h2><ul>{listed}</ul>" if listed else "")
            + (f"<h2>Previews</h2>{images}" if images else "")
            + "<p>The DICOMDIR file lists the original DICOM images; open it with a DICOM viewer.</p>"
            "</body></html>")


def _previews(contents: Contents, vault: Vault) -> list[tuple[str, str, bytes]]:
    """(path, caption, PNG) of the middle image of every series."""
    out = []
    for s_index, study in enumerate(contents.studies, start=1):
        for r_index, series in enumerate(study.series, start=1):
            if not series.instances:
                continue
            row = series.instances[len(series.instances) // 2]
            try:
                png = pixels.thumbnail(vault.get(row["content_hash"]), size=512)
            except (VaultError, pixels.PixelError):
                continue
            caption = (f"Study {s_index}, series {r_index}: {series.modality or ''} "
                       f"{series.series_description or ''}").strip()
            out.append((f"IHE_PDI/S{s_index:03d}{r_index:03d}.PNG", caption, png))
    return out


def _member(name: str, data: bytes) -> Member:
    """A member whose bytes are already in memory."""
    return Member(name, len(data), lambda: [data])


def _members(media: MediaPlan, vault: Vault, label: Label, previews: list[tuple[str, str, bytes]],
             reports: list[ReportFile]) -> list[Member]:
    text = readme(label, reports).encode()
    html = index_html(label, [(p, c) for p, c, _ in previews], reports).encode()
    members = [_member("DICOMDIR", media.dicomdir), _member("README.TXT", text), _member("INDEX.HTM", html)]
    members += [_member(path, png) for path, _, png in previews]
    for r in reports:
        members.append(_member(r.text_path, r.text))
        if r.pdf is not None and r.pdf_path is not None:
            members.append(Member(r.pdf_path, r.pdf.size, r.pdf.chunks))
    members += [Member(f.path, f.size, partial(vault.stream, f.content_hash))
                for f in media.files + media.unindexed]
    return members


def _write_folder(members: list[Member], folder: Path) -> None:
    for member in members:
        target = folder / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for chunk in member.chunks():
                out.write(chunk)


def _iso_tool() -> list[str]:
    if shutil.which("xorriso"):
        return ["xorriso", "-as", "mkisofs"]
    if shutil.which("genisoimage"):
        return ["genisoimage"]
    raise PdiError("no ISO tool found: install Debian's xorriso (or genisoimage), or export to a folder or .zip")


def export(contents: Contents, vault: Vault, out: Path, *, web: bool = False, created_by: str,
           volume: str = "LIMESTONE", reports: Mapping[str, list[dict[str, Any]]] | None = None) -> PdiResult:
    """Write the medium for ``contents`` to ``out`` (a folder, ``.zip`` or ``.iso``), with the
    released reports given by study UID in ``reports``."""
    if not contents.studies:
        raise PdiError("none of the studies are in the archive")
    out = Path(out)
    kind = {".zip": "zip", ".iso": "iso"}.get(out.suffix.lower(), "folder")
    if kind == "folder" and out.exists() and any(out.iterdir()):
        raise PdiError(f"{out} is not empty: choose a new folder")
    if kind != "folder" and out.exists():
        raise PdiError(f"{out} already exists")
    media = plan(contents, vault, file_set_id=volume)
    label = label_for(contents, DICOM_PLUS_WEB if web else DICOM_ONLY, created_by)
    previews = _previews(contents, vault) if web else []
    files = report_files(contents, vault, reports or {})
    members = _members(media, vault, label, previews, files)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        if kind == "folder":
            partial.mkdir()
            _write_folder(members, partial)
        elif kind == "zip":
            with open(partial, "wb") as f:
                for chunk in zip_chunks(members):
                    f.write(chunk)
        else:
            tool = _iso_tool()
            with tempfile.TemporaryDirectory(prefix="limestone-pdi-", dir=out.parent) as tmp:
                _write_folder(members, Path(tmp))
                result = subprocess.run(tool + ["-quiet", "-iso-level", "1", "-V", volume[:32].upper(),
                                                "-o", str(partial), tmp],
                                        capture_output=True, text=True)
                if result.returncode != 0:
                    raise PdiError(f"the ISO image could not be made: {result.stderr.strip()[-300:]}")
        os.replace(partial, out)
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.exists():
            partial.unlink()
    return PdiResult(out, kind, label, len(media.files) + len(media.unindexed), media.bytes,
                     len(media.missing) + sum(f.pdf_missing for f in files), len(files))


def export_studies(archive: Archive, study_instance_uids: list[str], out: Path, actor: Actor, *,
                   web: bool = False, con: duckdb.DuckDBPyConnection | None = None) -> PdiResult:
    """Export studies of the archive (``archive.home.Archive``) and audit it as ``actor``
    (an ``archive.sharing.actions.Actor``)."""
    from archive import audit
    from archive.sharing.scope import contents as read_contents
    own = con is None
    con = con or archive.store(read_only=True)
    try:
        found = read_contents(con, list(dict.fromkeys(study_instance_uids)))
        reports = {s.study_instance_uid: release.released(con, s.study_instance_uid) for s in found.studies}
    finally:
        if own:
            con.close()
    missing = set(study_instance_uids) - {s.study_instance_uid for s in found.studies}
    if missing:
        raise PdiError(f"{len(missing)} of the studies are not in the archive")
    result = export(found, archive.vault, out, web=web, created_by=actor.user_id, reports=reports)
    for study in found.studies:
        audit.record(archive.home, audit.AuditEvent(
            action="export", user_id=actor.user_id, user_role=actor.role, source=actor.source,
            study_instance_uid=study.study_instance_uid, patient_key=study.study.get("patient_key"),
            detail=f"{result.kind} ({result.label.content}), {result.files} files"
                   + (f", {len(reports[study.study_instance_uid])} reports"
                      if reports[study.study_instance_uid] else ""),
            ip=actor.ip,
            user_agent=actor.user_agent))
    return result
