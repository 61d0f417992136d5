"""The patient-access tests' world: one person with records at two sites, another patient, a report.

Fake patients only. Person P has a record at the north site (``FAKE-PN-0001``) and one at the south
site (``FAKE-PS-0009``) sharing a (fake) health-card number, so the linker joins them; patient Q
(``FAKE-QN-0002``) is someone else. P's north CT has a final report. ``later_study`` writes a new
south study of P to import during a test. ``SmtpCatcher`` is a real SMTP server (aiosmtpd) on a
free loopback port; ``PortalThread`` serves the portal in-process with a base URL on that port.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path

import pydicom
import uvicorn
from aiosmtpd.controller import Controller
from pydicom.uid import generate_uid

from archive.home import Archive
from pipelines.cli import main as limestone_main
from tests.support.documents import basic_text_sr, to_bytes
from tests.support.orthanc_server import free_port
from tests.support.samples import pydicom_file

P_NORTH, P_SOUTH, Q_NORTH = "FAKE-PN-0001", "FAKE-PS-0009", "FAKE-QN-0002"
P_BIRTH, Q_BIRTH = "19800203", "19750101"
REPORT_TEXT = "Findings: FAKE normal chest, no acute finding."


def _study(folder: Path, *, patient_id: str, issuer: str, name: str, birth: str, sex: str, card: str,
           institution: str, description: str, study_date: str, slices: int = 3, tag: str = "") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    study_uid = generate_uid(entropy_srcs=["patient-access", patient_id, description, tag])
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.PatientID, ds.IssuerOfPatientID, ds.PatientName = patient_id, issuer, name
    ds.PatientBirthDate, ds.PatientSex, ds.OtherPatientIDs = birth, sex, card
    ds.InstitutionName, ds.StudyDescription, ds.StudyDate = institution, description, study_date
    ds.AccessionNumber = "FAKE-" + study_uid[-8:]
    for n in range(1, slices + 1):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = n
        ds.ImagePositionPatient = [-158.0, -179.0, -5.0 * n]
        ds.save_as(folder / f"IM{n}.dcm", enforce_file_format=True)
    return study_uid


@dataclass
class PatientWorld:
    home: Path
    root: Path
    studies: dict[str, str] = field(default_factory=dict)   # p_north | p_south | q_north | p_later -> UID

    def archive(self, **settings) -> Archive:
        return Archive.load(home=str(self.home), **settings)

    def import_later_study(self, description: str = "FAKE LATER CT", study_date: str = "20260301") -> str:
        """A new south study of P (imported now, as if it arrived from the south PACS)."""
        folder = self.root / description.replace(" ", "_")
        uid = _study(folder, patient_id=P_SOUTH, issuer="SOUTH", name="FAKE^PAT^A", birth=P_BIRTH, sex="F",
                     card="FAKEHCN12345678", institution="FAKE SOUTH HOSPITAL", description=description,
                     study_date=study_date, tag=description)
        assert limestone_main(["--home", str(self.home), "import", str(folder)]) == 0
        self.studies[description] = uid
        return uid


def build(root: Path) -> PatientWorld:
    files = root / "files"
    world = PatientWorld(root / "home", root)
    world.studies["p_north"] = _study(files / "pn", patient_id=P_NORTH, issuer="NORTH", name="FAKE^PAT^A",
                                      birth=P_BIRTH, sex="F", card="FAKEHCN12345678",
                                      institution="FAKE NORTH HOSPITAL", description="FAKE CHEST CT",
                                      study_date="20240105")
    world.studies["p_south"] = _study(files / "ps", patient_id=P_SOUTH, issuer="SOUTH", name="FAKE^PAT^A",
                                      birth=P_BIRTH, sex="F", card="FAKEHCN12345678",
                                      institution="FAKE SOUTH HOSPITAL", description="FAKE HEAD CT",
                                      study_date="20250610")
    world.studies["q_north"] = _study(files / "qn", patient_id=Q_NORTH, issuer="NORTH", name="FAKE^OTHER^Q",
                                      birth=Q_BIRTH, sex="M", card="FAKEHCN99999999",
                                      institution="FAKE NORTH HOSPITAL", description="FAKE KNEE CT",
                                      study_date="20250101")
    for key, pid, issuer in (("p_north", P_NORTH, "NORTH"), ("q_north", Q_NORTH, "NORTH")):
        sr = basic_text_sr(REPORT_TEXT if key == "p_north" else "Findings: FAKE Q report.", "FAKE normal.",
                           study_uid=world.studies[key], patient_id=pid)
        sr.IssuerOfPatientID = issuer
        sr.PatientName = "FAKE^PAT^A" if key == "p_north" else "FAKE^OTHER^Q"
        sr.PatientBirthDate, sr.PatientSex = (P_BIRTH, "F") if key == "p_north" else (Q_BIRTH, "M")
        sr.OtherPatientIDs = "FAKEHCN12345678" if key == "p_north" else "FAKEHCN99999999"
        ct = pydicom.dcmread(next((files / ("pn" if key == "p_north" else "qn")).glob("*.dcm")),
                             stop_before_pixels=True)
        for keyword in ("StudyDescription", "StudyDate", "InstitutionName", "AccessionNumber"):
            setattr(sr, keyword, getattr(ct, keyword))
        (files / f"{key}-report").mkdir(exist_ok=True)
        (files / f"{key}-report" / "SR.dcm").write_bytes(to_bytes(sr))
    assert limestone_main(["--home", str(world.home), "import", str(files)]) == 0
    return world


class SmtpCatcher:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""

    def __init__(self):
        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):   # aiosmtpd's handler hook
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpCatcher":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, to: str, count: int = 1, timeout: float = 20) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if m["To"] == to]
            if len(found) >= count:
                return found
            time.sleep(0.05)  # polling the server's inbox
        raise AssertionError(f"no e-mail #{count} for {to}")

    def last_code(self, to: str, count: int = 1) -> str:
        body = self.wait_for(to, count)[-1].get_payload(decode=True).decode()
        return re.search(r"\b(\d{8})\b", body).group(1)


class PortalThread:
    """The portal in-process on ``port`` (uvicorn in a thread), base URL http://localhost:port."""

    def __init__(self, world: PatientWorld, smtp_url: str, **settings):
        from portal.server import config
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.archive = world.archive(portal_base_url=self.url, smtp_url=smtp_url,
                                     portal_attempts_per_minute=100000, portal_requests_per_minute=100000,
                                     **settings)
        self.server = uvicorn.Server(config(self.archive, "127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "PortalThread":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the portal did not start")
            time.sleep(0.02)  # polling the server's own started flag
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
