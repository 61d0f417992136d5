"""A read-only DICOMweb face of one share link (QIDO-RS search, WADO-RS retrieve and metadata).

A doctor's own viewer (OHIF, Weasis, any DICOMweb client) can open the link's studies at
``/s/<token>/dicomweb``. It answers only for the link's studies; anything else is the portal's
plain 404. The client proves the passcode was given with the link's session cookie, or with the
link's DICOMweb access key as ``Authorization: Bearer <key>``: a credential of its own (the
studies page shows it to recipients allowed to download), good only here, read-only, expiring
with the link and ended by its revocation; the session cookie's value is not accepted as a key.
Retrieval returns the original files, byte for byte, each part labelled with its own transfer
syntax. Absolute addresses in answers (RetrieveURL, BulkDataURI) start with the setting
``portal_base_url``, never with the request's Host header.

    GET .../dicomweb/studies                                   QIDO-RS, study level
    GET .../dicomweb/studies/{study}/series                    QIDO-RS, series level
    GET .../dicomweb/studies/{study}/series/{series}/instances QIDO-RS, instance level
    GET .../dicomweb/studies/{study}[/series/{series}[/instances/{sop}]]   WADO-RS (multipart)
    GET .../dicomweb/studies/{study}[/series/{series}[/instances/{sop}]]/metadata   metadata (JSON)
    GET .../instances/{sop}/frames/{n[,m...]}                  frames (multipart octet-stream)
    GET .../instances/{sop}[/frames/{n}]/rendered              PNG (or JPEG when asked for)
    GET .../instances/{sop}/bulk/{tag}                         a bulk data value (BulkDataURI)
"""

from __future__ import annotations

import io
import json
import secrets
import warnings

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.tag import Tag
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from archive import sharing
from archive.dicom import pixels
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
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        sessions = self.portal.sessions
        if not (sessions.valid(request.cookies.get(COOKIE), link.link_id, link.token_hash)
                or sessions.valid_key(key, link.link_id, link.token_hash)):
            return None
        entry = self.portal.contents(link)
        return (link, entry) if entry is not None else None

    def _study(self, entry, uid: str):
        return next((s for s in entry.contents.studies if s.study_instance_uid == uid), None)

    def _base(self, request: Request) -> str:
        return self.portal.public_url(request.path_params["token"]) + "/dicomweb"

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
        base = self._base(request)
        for row in rows:
            try:
                header = read_header(self.portal.archive.vault, row["content_hash"])
            except (VaultError, ValueError):
                continue
            where = (f"{base}/studies/{study.study_instance_uid}/series/{row['series_instance_uid']}"
                     f"/instances/{row['sop_instance_uid']}")

            def bulk(element, where=where) -> str:
                return f"{where}/bulk/{int(element.tag):08X}"
            item = header.to_json_dict(bulk_data_threshold=4096, bulk_data_element_handler=bulk)
            # The header is read without pixel data: point at it (and at the frames) all the same.
            if row.get("rows") and row.get("columns"):
                item["7FE00010"] = {"vr": "OW" if not _compressed(row) else "OB",
                                    "BulkDataURI": f"{where}/bulk/7FE00010"}
            out.append(item)
        link, _ = self._scope(request)
        self.portal.audit(request, "view", link, [study.study_instance_uid], detail="dicomweb metadata")
        return _json(out)


    # ---- frames, rendered images, bulk data -------------------------------------------------
    def _instance(self, request: Request):
        """(link, study, row, dataset) of the one instance the path names, within scope."""
        picked = self._pick(request)
        if picked is None or len(picked[1]) != 1:
            return None
        study, (row,) = picked
        try:
            ds = pixels.read(self.portal.archive.vault.get(row["content_hash"]))
        except (VaultError, pixels.PixelError):
            return None
        link, _ = self._scope(request)
        return link, study, row, ds

    def _multipart(self, parts: list[tuple[str, bytes]]) -> Response:
        boundary = secrets.token_hex(16)
        body = b"".join(f"--{boundary}\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                        + data + b"\r\n" for kind, data in parts) + f"--{boundary}--\r\n".encode()
        kind = parts[0][0].split(";")[0] if parts else "application/octet-stream"
        return Response(body, headers={"content-type": f'multipart/related; type="{kind}"; boundary={boundary}'})

    async def frames(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(self._frames, request)

    def _frames(self, request: Request) -> Response:
        found = self._instance(request)
        if found is None:
            return self.portal.refuse(request)
        link, study, row, ds = found
        try:
            numbers = [int(n) for n in request.path_params["frames"].split(",")]
        except ValueError:
            return Response("frame numbers must be integers", status_code=400)
        count = pixels.frame_count(ds) if "PixelData" in ds else 0
        if not numbers or any(n < 1 or n > count for n in numbers):
            return Response("no such frame", status_code=404)
        keep_syntax = "transfer-syntax=*" in request.headers.get("accept", "").replace(" ", "")
        parts = [frame_part(ds, n - 1, count, keep_syntax) for n in numbers]
        self.portal.audit(request, "view", link, [study.study_instance_uid], detail=f"dicomweb frames: {len(numbers)}")
        return self._multipart(parts)

    async def rendered(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(self._rendered, request)

    def _rendered(self, request: Request) -> Response:
        found = self._instance(request)
        if found is None:
            return self.portal.refuse(request)
        link, study, row, ds = found
        index = int(request.path_params.get("frames", "1").split(",")[0]) - 1
        try:
            count = pixels.frame_count(ds)
            if not 0 <= index < count:
                return Response("no such frame", status_code=404)
            image = pixels.render_frame(ds, pixels.decode(ds), index)
        except (pixels.PixelError, ValueError):
            return Response("this instance cannot be displayed", status_code=406)
        self.portal.audit(request, "view", link, [study.study_instance_uid], detail="dicomweb rendered")
        if "image/jpeg" in request.headers.get("accept", "") and "image/png" not in request.headers.get("accept", ""):
            from PIL import Image
            out = io.BytesIO()
            Image.fromarray(image).convert("RGB").save(out, "JPEG", quality=90)
            return Response(out.getvalue(), media_type="image/jpeg")
        return Response(pixels.to_png(image), media_type="image/png")

    async def bulk(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(self._bulk, request)

    def _bulk(self, request: Request) -> Response:
        found = self._instance(request)
        if found is None:
            return self.portal.refuse(request)
        link, study, row, ds = found
        try:
            tag = Tag(int(request.path_params["tag"], 16))
        except ValueError:
            return Response("not a tag", status_code=400)
        element = _find_element(ds, tag)
        if element is None or not isinstance(element.value, (bytes, bytearray)):
            return Response("no such bulk data", status_code=404)
        syntax = str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2.1"))
        kind = "application/octet-stream" + (f"; transfer-syntax={syntax}" if tag == 0x7FE00010 else "")
        self.portal.audit(request, "view", link, [study.study_instance_uid], detail="dicomweb bulk data")
        return self._multipart([(kind, bytes(element.value))])


def _compressed(row) -> bool:
    from pydicom.uid import UID
    return UID(row.get("transfer_syntax_uid") or "1.2.840.10008.1.2.1").is_compressed


def _find_element(ds: Dataset, tag):
    if tag in ds:
        return ds[tag]
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                found = _find_element(item, tag)
                if found is not None:
                    return found
    return None


def frame_part(ds: Dataset, index: int, count: int, keep_syntax: bool) -> tuple[str, bytes]:
    """(content type, bytes) of frame ``index``: as stored when the client takes any syntax, else
    uncompressed little endian (decoded when the file is compressed)."""
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax.is_encapsulated:
        if keep_syntax:
            frames = generate_frames(ds.PixelData, number_of_frames=count)
            for number, data in enumerate(frames):
                if number == index:
                    return f"application/octet-stream; transfer-syntax={syntax}", data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = ds.pixel_array
        frame = array[index] if count > 1 else array
        return "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", np.ascontiguousarray(
            frame).astype(frame.dtype.newbyteorder("<"), copy=False).tobytes()
    bits = int(ds.BitsAllocated)
    size = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * bits
    if bits == 1:
        start, end = index * size, (index + 1) * size
        raw = np.unpackbits(np.frombuffer(ds.PixelData, dtype=np.uint8), bitorder="little")[start:end]
        return "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", np.packbits(
            raw, bitorder="little").tobytes()
    size //= 8
    data = bytes(ds.PixelData[index * size:(index + 1) * size])
    if not syntax.is_little_endian and bits > 8:
        data = np.frombuffer(data, dtype=f">u{bits // 8}").astype(f"<u{bits // 8}").tobytes()
    return "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", data


def routes(portal) -> list[Route]:
    web = DicomWeb(portal)
    base = "/s/{token}/dicomweb/studies"
    instance = base + "/{study}/series/{series}/instances/{sop}"
    return [
        Route(base, web.studies),
        Route(base + "/{study}/series", web.series),
        Route(base + "/{study}/series/{series}/instances", web.instances),
        Route(base + "/{study}/metadata", web.metadata),
        Route(base + "/{study}/series/{series}/metadata", web.metadata),
        Route(instance + "/metadata", web.metadata),
        Route(instance + "/frames/{frames}", web.frames),
        Route(instance + "/frames/{frames}/rendered", web.rendered),
        Route(instance + "/rendered", web.rendered),
        Route(instance + "/bulk/{tag}", web.bulk),
        Route(base + "/{study}", web.retrieve),
        Route(base + "/{study}/series/{series}", web.retrieve),
        Route(instance, web.retrieve),
    ]
