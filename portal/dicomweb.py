"""A read-only DICOMweb face of one share link (QIDO-RS search, WADO-RS retrieve and metadata).

A doctor's own viewer (OHIF, Weasis, any DICOMweb client) can open the link's studies at
``/s/<token>/dicomweb``. It answers only for the link's studies; anything else is the portal's
plain 404. The client proves the passcode was given with the link's session: the cookie the
portal set, or the same value as ``Authorization: Bearer <access key>`` (the studies page shows
it to recipients allowed to download). Retrieval returns the original files, byte for byte, each
part labelled with its own transfer syntax.

    GET .../dicomweb/studies                                   QIDO-RS, study level
    GET .../dicomweb/studies/{study}/series                    QIDO-RS, series level
    GET .../dicomweb/studies/{study}/series/{series}/instances QIDO-RS, instance level
    GET .../dicomweb/studies/{study}[/series/{series}[/instances/{sop}]]   WADO-RS (multipart)
    GET .../dicomweb/studies/{study}/metadata                  WADO-RS metadata (JSON)
"""

from __future__ import annotations

import json
import secrets

from pydicom.dataset import Dataset
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from archive import sharing
from archive.media.dicomdir import read_header
from archive.vault import VaultError
from portal.session import COOKIE
from portal.streaming import read_ahead

DICOM_JSON = "application/dicom+json"


def _json(items: list[dict]) -> Response:
    return Response(json.dumps(items), media_type=DICOM_JSON)


def _dataset(**values) -> dict:
    ds = Dataset()
    for keyword, value in values.items():
        if value is not None and value != "":
            setattr(ds, keyword, value)
    return ds.to_json_dict()


def _da(value) -> str | None:
    return value.strftime("%Y%m%d") if value is not None and hasattr(value, "strftime") else None


class DicomWeb:
    def __init__(self, portal):
        self.portal = portal

    def _scope(self, request: Request):
        """(link, contents entry) when the token is usable and the session proven, else None."""
        token = request.path_params["token"]
        link = sharing.open_link(self.portal.home, token)
        if link is None or not link.may("download"):
            return None
        auth = request.headers.get("authorization", "")
        presented = request.cookies.get(COOKIE) or (auth[7:].strip() if auth.lower().startswith("bearer ") else None)
        if not self.portal.sessions.valid(presented, link.link_id, link.token_hash):
            return None
        entry = self.portal.contents(link)
        return (link, entry) if entry is not None else None

    def _study(self, entry, uid: str):
        return next((s for s in entry.contents.studies if s.study_instance_uid == uid), None)

    def _base(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + f"/s/{request.path_params['token']}/dicomweb"

    # ---- QIDO-RS ---------------------------------------------------------------------------
    def studies(self, request: Request) -> Response:
        found = self._scope(request)
        if found is None:
            return self.portal.refuse(request, request.path_params["token"])
        _, entry = found
        wanted = request.query_params.get("StudyInstanceUID")
        patient = entry.contents.patient
        out = []
        for study in entry.contents.studies:
            if wanted and study.study_instance_uid != wanted:
                continue
            s = study.study
            out.append(_dataset(
                StudyInstanceUID=study.study_instance_uid, StudyDate=_da(s.get("study_date")),
                StudyTime=s["study_time"].strftime("%H%M%S") if s.get("study_time") else None,
                AccessionNumber=s.get("accession_number"), StudyDescription=s.get("study_description"),
                StudyID=s.get("study_id"), ModalitiesInStudy=list(s.get("modalities") or []) or None,
                PatientName=patient.get("patient_name"), PatientID=patient.get("patient_id"),
                PatientBirthDate=_da(patient.get("patient_birth_date")), PatientSex=patient.get("patient_sex"),
                NumberOfStudyRelatedSeries=len(study.series), NumberOfStudyRelatedInstances=len(study.instances),
                RetrieveURL=f"{self._base(request)}/studies/{study.study_instance_uid}"))
        return _json(out)

    def series(self, request: Request) -> Response:
        found = self._scope(request)
        study = self._study(found[1], request.path_params["study"]) if found else None
        if study is None:
            return self.portal.refuse(request)
        return _json([_dataset(
            StudyInstanceUID=study.study_instance_uid, SeriesInstanceUID=s.series_instance_uid,
            Modality=s.modality, SeriesNumber=s.series_number, SeriesDescription=s.series_description,
            NumberOfSeriesRelatedInstances=len(s.instances),
            RetrieveURL=f"{self._base(request)}/studies/{study.study_instance_uid}/series/{s.series_instance_uid}")
            for s in study.series])

    def instances(self, request: Request) -> Response:
        picked = self._pick(request)
        if picked is None:
            return self.portal.refuse(request)
        study, rows = picked
        return _json([_dataset(
            StudyInstanceUID=study.study_instance_uid, SeriesInstanceUID=r["series_instance_uid"],
            SOPClassUID=r["sop_class_uid"], SOPInstanceUID=r["sop_instance_uid"],
            InstanceNumber=r["instance_number"], Rows=r["rows"], Columns=r["columns"],
            NumberOfFrames=r["number_of_frames"]) for r in rows])

    # ---- WADO-RS ---------------------------------------------------------------------------
    def _pick(self, request: Request):
        """(study, instance rows) named by the path, within the link's scope."""
        found = self._scope(request)
        study = self._study(found[1], request.path_params["study"]) if found else None
        if study is None:
            return None
        rows = study.instances
        if "series" in request.path_params:
            rows = [r for r in rows if r["series_instance_uid"] == request.path_params["series"]]
        if "sop" in request.path_params:
            rows = [r for r in rows if r["sop_instance_uid"] == request.path_params["sop"]]
        return (study, rows) if rows else None

    def retrieve(self, request: Request) -> Response:
        picked = self._pick(request)
        if picked is None:
            return self.portal.refuse(request)
        study, rows = picked
        link, _ = self._scope(request)
        vault = self.portal.archive.vault
        boundary = secrets.token_hex(16)

        def parts():
            for row in rows:
                syntax = row.get("transfer_syntax_uid") or "1.2.840.10008.1.2.1"
                yield (f"--{boundary}\r\nContent-Type: application/dicom; transfer-syntax={syntax}\r\n"
                       f"Content-Length: {int(row['bytes'])}\r\n\r\n").encode()
                yield from vault.stream(row["content_hash"])
                yield b"\r\n"
            yield f"--{boundary}--\r\n".encode()

        self.portal.audit(request, "download", link, [study.study_instance_uid],
                          detail=f"dicomweb: {len(rows)} instances")
        return StreamingResponse(read_ahead(parts()), headers={
            "content-type": f'multipart/related; type="application/dicom"; boundary={boundary}'})

    def metadata(self, request: Request) -> Response:
        picked = self._pick(request)
        if picked is None:
            return self.portal.refuse(request)
        study, rows = picked
        out = []
        for row in rows:
            try:
                header = read_header(self.portal.archive.vault, row["content_hash"])
            except (VaultError, ValueError):
                continue
            out.append(header.to_json_dict(bulk_data_threshold=4096,
                                           bulk_data_element_handler=lambda element: ""))
        link, _ = self._scope(request)
        self.portal.audit(request, "view", link, [study.study_instance_uid], detail="dicomweb metadata")
        return _json(out)


def routes(portal) -> list[Route]:
    web = DicomWeb(portal)
    base = "/s/{token}/dicomweb/studies"
    return [
        Route(base, web.studies),
        Route(base + "/{study}/series", web.series),
        Route(base + "/{study}/series/{series}/instances", web.instances),
        Route(base + "/{study}/metadata", web.metadata),
        Route(base + "/{study}", web.retrieve),
        Route(base + "/{study}/series/{series}", web.retrieve),
        Route(base + "/{study}/series/{series}/instances/{sop}", web.retrieve),
    ]
