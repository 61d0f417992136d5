"""The sharing tests' world: one imported archive for share links, the portal, CD/USB export.

One archive for the session, imported with the real import pipeline from files written here:
patient A has a 15-slice CT study, a study of real pydicom files in other transfer syntaxes
(big endian, deflated, JPEG 2000, RLE, a multi-frame YBR ultrasound) and a reported CT study
(``a_report``: see ``REPORTS``); patient B has a 15-slice CT.
The originals stay on disk for byte-identity checks. The portal runs in-process on a free port.
"""

from __future__ import annotations

import base64
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import uvicorn
from pydicom.uid import generate_uid

from archive.home import Archive
from pipelines.cli import main as limestone_main
from tests.support.documents import basic_text_sr, encapsulated_pdf, make_pdf, to_bytes
from tests.support.hl7_messages import oru
from tests.support.orthanc_server import free_port
from tests.support.samples import pydicom_file, write_ct_studies

EXTRA = ["MR_small_bigendian.dcm", "image_dfl.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm",
         "examples_ybr_color.dcm"]
BIRTH_DATE = "19700315"
# Texts of the a_report study's reports: three are released, two never leave the hospital.
REPORTS = {
    "sr_final": "Findings: FAKE small calcified granuloma.",
    "sr_amended": "Findings: FAKE calcified granuloma, unchanged since 2019.",   # supersedes sr_final
    "sr_preliminary": "Findings: FAKE dictated, not yet signed.",
    "pdf": "FAKE PDF REPORT: no acute intracranial abnormality.",
    "hl7_pdf": "FAKE RIS PDF: sinus mucosal thickening.",
}
REPORT_ACCESSION = "FAKE-ACC-SHARE"


@dataclass
class SharedArchive:
    home: Path
    originals: Path
    studies: dict[str, str] = field(default_factory=dict)       # 'a_ct' | 'a_mixed' | 'b_ct' -> UID
    by_sop: dict[str, Path] = field(default_factory=dict)       # SOP Instance UID -> original file

    def archive(self) -> Archive:
        return Archive.load(home=str(self.home))

    def store(self):
        """One read-only store connection for the session (opening one costs seconds on a busy machine)."""
        if "_con" not in self.__dict__:
            self.__dict__["_con"] = self.archive().store(read_only=True)
        return self.__dict__["_con"]


def build(root: Path) -> SharedArchive:
    originals = root / "originals"
    written = write_ct_studies(originals / "ct", 30, per_series=15, seed=21)
    for path in written[15:]:                        # patient B has a birth date, patient A none
        ds = pydicom.dcmread(path)
        ds.PatientBirthDate = BIRTH_DATE
        ds.save_as(path, enforce_file_format=True)
    a_ct = pydicom.dcmread(written[0], stop_before_pixels=True)
    b_ct = pydicom.dcmread(written[15], stop_before_pixels=True)
    mixed = originals / "mixed"
    mixed.mkdir()
    study_uid = generate_uid(entropy_srcs=["sharing-mixed-study"])
    for n, name in enumerate(EXTRA):
        ds = pydicom.dcmread(pydicom_file(name))
        ds.PatientID, ds.PatientName = a_ct.PatientID, a_ct.PatientName
        ds.StudyInstanceUID = study_uid
        ds.StudyDescription = "MIXED SYNTAXES"
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["sharing-mixed", name])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["sharing-mixed-sop", name])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber = n + 1
        ds.InstanceNumber = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(mixed / f"F{n}.dcm", enforce_file_format=True)
    reported = _report_study(originals / "reported", written[0], a_ct.PatientID)
    home = root / "home"
    assert limestone_main(["--home", str(home), "import", str(originals)]) == 0
    hl7 = root / "ris.hl7"
    hl7.write_text(oru("FAKE-SHARE-1", REPORT_ACCESSION, text=[], patient_id=a_ct.PatientID,
                       exam="CTHEAD^CT HEAD FROM RIS^L",
                       embedded="^application^pdf^Base64^" + base64.b64encode(
                           make_pdf([REPORTS["hl7_pdf"]])).decode()))
    assert limestone_main(["--home", str(home), "import-hl7", str(hl7)]) == 0
    shared = SharedArchive(home, originals, {"a_ct": a_ct.StudyInstanceUID, "a_mixed": study_uid,
                                             "b_ct": b_ct.StudyInstanceUID, "a_report": reported})
    for path in originals.rglob("*.dcm"):
        shared.by_sop[str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)] = path
    return shared


def _report_study(folder: Path, ct_file: Path, patient_id: str) -> str:
    """Patient A's reported study: 2 CT slices, an SR amended once, a preliminary SR, an Encapsulated PDF."""
    folder.mkdir()
    study_uid = generate_uid(entropy_srcs=["sharing-reported-study"])
    ct = pydicom.dcmread(ct_file)
    ct.StudyInstanceUID, ct.SeriesInstanceUID = study_uid, generate_uid()
    ct.AccessionNumber, ct.StudyDescription = REPORT_ACCESSION, "REPORTED CT"
    for n in (1, 2):
        ct.SOPInstanceUID = ct.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ct.InstanceNumber = n
        ct.save_as(folder / f"CT{n}.dcm", enforce_file_format=True)
    common = dict(study_uid=study_uid, accession=REPORT_ACCESSION, patient_id=patient_id)
    final = basic_text_sr(REPORTS["sr_final"], "FAKE benign.", **common)
    amended = basic_text_sr(REPORTS["sr_amended"], "FAKE benign.", replaces=final,
                            verified_at="20240106090000", **common)
    preliminary = basic_text_sr(REPORTS["sr_preliminary"], "FAKE pending.", verified=False, **common)
    document = encapsulated_pdf(make_pdf([REPORTS["pdf"]]), title="Head CT report", **common)
    for name, ds in (("SR1", final), ("SR2", amended), ("SR3", preliminary), ("PDF", document)):
        ds.PatientName = ct.PatientName
        (folder / f"{name}.dcm").write_bytes(to_bytes(ds))
    return study_uid


class RunningPortal:
    """The portal served by uvicorn in a thread; ``stop()`` waits until the socket is closed."""

    def __init__(self, archive: Archive, **tls):
        from portal.server import config
        self.port = free_port()
        self.config = config(archive, "127.0.0.1", self.port)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        scheme = "https" if self.config.ssl_certfile else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> "RunningPortal":
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
        assert not self.thread.is_alive()

    @property
    def portal(self):
        return self.config.app.state.portal if hasattr(self.config.app, "state") else None
