"""The share portal's web application (Starlette), served by ``limestone portal``.

Routes (``<token>`` is the link's token; studies, series and images are numbered from 1 in the
order the link page shows them, so no UID ever appears in an address)::

    GET  /                                  a plain note on what this site is
    GET  /s/<token>                         passcode form, or the studies once it was given
    POST /s/<token>                         check the passcode (or birth date)
    POST /s/<token>/signout                 forget the session cookie
    GET  /s/<token>/view/<study>/<series>   the read-only image viewer
    GET  /s/<token>/image/<study>/<series>/<n>.png   one rendered image (window, invert)
    GET  /s/<token>/thumb/<study>/<series>.png
    GET  /s/<token>/download[/<study>]      ZIP of the original files with a DICOMDIR, streamed
    GET  /s/<token>/report/<study>/<n>.pdf  a report's PDF, streamed from the vault

Reports: the studies page shows each study's released reports (``archive.reports.
release``: current versions, final or amended): their text when the link allows ``view``, their
PDF when it allows ``download`` (reports belong to the images' record, so a link needs no
permission of its own for them; existing links keep working as they were issued). Showing them
is audited as a ``view`` of the study, a PDF as a ``download``.

Every refusal - unknown token, expired, revoked, locked or used-up link, a study number the
link does not reach, a missing permission, a page that does not exist - is the same plain page
with status 404 and says nothing about the patient. Access logs are off: an address holds a token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from archive import audit, sharing
from archive.dicom import pixels
from archive.home import Archive
from archive.media.dicomdir import plan as media_plan
from archive.media.zipstream import Member, zip_chunks, zip_size
from archive.reports import release
from archive.sharing.links import ShareLink
from archive.sharing.scope import Contents
from archive.sharing.scope import contents as read_contents
from archive.store import StoreError
from archive.store.connection import LAKE
from archive.vault import VaultError
from portal import pages
from portal.limits import RateLimit
from portal.session import COOKIE, Sessions
from portal.streaming import read_ahead

log = logging.getLogger("limestone.portal")

CONTENTS_TTL = 60.0     # seconds a link's study list is reused before the store is asked again
ZIP_README = """These are the original DICOM files of the shared studies, exactly as the hospital
archived them, with a DICOMDIR index at the top of the folder.

Open the folder (or the DICOMDIR) with a DICOM viewer, for example on your doctor's workstation,
or give the whole folder to the clinic that asked for the images. The files are medical records:
keep them safe and do not send them by ordinary e-mail.
"""


def _security_headers(tls: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "cache-control": "no-store",
        "x-robots-tag": "noindex, nofollow",
    }
    if tls:
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


class _Guard:
    """ASGI middleware: per-address request limit and security headers on every response."""

    def __init__(self, app, limit: RateLimit, tls: bool):
        self.app, self.limit, self.headers = app, limit, _security_headers(tls)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(event):
            if event["type"] == "http.response.start":
                names = {k.lower() for k, _ in event.get("headers", [])}
                event = dict(event, headers=list(event.get("headers", []))
                             + [h for h in self.headers if h[0] not in names])
            await send(event)

        client = (scope.get("client") or ("unknown", 0))[0]
        if not self.limit.allow(client):
            response = HTMLResponse(pages.message("Please wait", pages.TOO_MANY), status_code=429,
                                    headers={"retry-after": "60"})
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)


@dataclass
class _Entry:
    at: float
    contents: Contents
    reports: dict[int, list[dict[str, Any]]]     # study number -> its released reports


class Portal:
    """The portal's state: the archive, sessions, limits and small caches."""

    def __init__(self, archive: Archive, tls: bool = False):
        settings = archive.settings
        self.archive = archive
        self.home = archive.home
        self.tls = tls
        self.sessions = Sessions(self.home, int(settings.portal_session_minutes))
        self.attempts = RateLimit(int(settings.portal_attempts_per_minute))
        self.requests = RateLimit(int(settings.portal_requests_per_minute))
        self.lockout_attempts = int(settings.share_lockout_attempts)
        self._con = None
        self._lock = threading.Lock()
        self._contents: dict[str, _Entry] = {}
        self._decoded: OrderedDict[str, Any] = OrderedDict()
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal-audit")

    # ---- store access ----------------------------------------------------------------------
    def _cursor(self):
        with self._lock:
            if self._con is None:
                self._con = self.archive.store(read_only=True)
            cur = self._con.cursor()
        cur.execute(f"USE {LAKE}")
        return cur

    def contents(self, link: ShareLink) -> _Entry | None:
        entry = self._contents.get(link.link_id)
        if entry is not None and time.monotonic() - entry.at < CONTENTS_TTL:
            return entry
        try:
            cur = self._cursor()
            try:
                found = read_contents(cur, list(link.study_instance_uids))
                reports = {i: release.released(cur, study.study_instance_uid)
                           for i, study in enumerate(found.studies, start=1)}
            finally:
                cur.close()
        except (StoreError, duckdb.Error) as exc:
            log.error("share portal cannot read the store: %s", type(exc).__name__)
            return None
        if not found.studies:
            return None
        entry = _Entry(time.monotonic(), found, {i: r for i, r in reports.items() if r})
        self._contents[link.link_id] = entry
        return entry

    def decoded(self, content_hash: str):
        with self._lock:
            if content_hash in self._decoded:
                self._decoded.move_to_end(content_hash)
                return self._decoded[content_hash]
        ds = pixels.read(self.archive.vault.get(content_hash))
        value = (ds, pixels.decode(ds))
        with self._lock:
            self._decoded[content_hash] = value
            while len(self._decoded) > 24:
                self._decoded.popitem(last=False)
        return value

    # ---- helpers ---------------------------------------------------------------------------
    @staticmethod
    def client(request: Request) -> tuple[str | None, str | None]:
        ip = request.client.host if request.client else None
        return ip, request.headers.get("user-agent")

    def audit(self, request: Request, action: str, link: ShareLink | None, studies=(),
              outcome: str = "success", detail: str | None = None) -> None:
        ip, agent = self.client(request)
        event = audit.AuditEvent(
            action=action, user_id=f"link:{link.link_id}" if link else None,
            user_role=link.recipient_role if link else None, patient_key=link.patient_key if link else None,
            outcome=outcome, source="portal", detail=detail, link_id=link.link_id if link else None,
            ip=ip, user_agent=agent)
        audit.record_many(self.home, event, list(studies))

    def refuse(self, request: Request, token: str | None = None) -> HTMLResponse:
        if token:
            known = sharing.find(self.home, token)
            if known is not None:  # a real link that may not be used now: worth a record
                # Written in the background, so a known link is not answered measurably slower.
                self._background.submit(self.audit, request, "refused", known, outcome="failure",
                                        detail=known.status())
        return HTMLResponse(pages.refusal(), status_code=404)

    def signed_in(self, request: Request, token: str) -> tuple[ShareLink, _Entry] | None:
        """The link and its contents when the token is usable and this browser gave the passcode."""
        link = sharing.open_link(self.home, token)
        if link is None or not self.sessions.valid(request.cookies.get(COOKIE), link.link_id, link.token_hash):
            return None
        entry = self.contents(link)
        return (link, entry) if entry is not None else None

    @staticmethod
    def base(token: str) -> str:
        return f"/s/{token}"

    # ---- pages -----------------------------------------------------------------------------
    def home_page(self, request: Request) -> Response:
        return HTMLResponse(pages.home())

    def link_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        link = sharing.open_link(self.home, token)
        if link is None:
            return self.refuse(request, token)
        if not self.sessions.valid(request.cookies.get(COOKIE), link.link_id, link.token_hash):
            return HTMLResponse(pages.passcode_form(self.base(token), link.verify_kind))
        entry = self.contents(link)
        if entry is None:
            return self.refuse(request)
        can_view = link.may("view")
        studies = [{"study": s.study, "reports": entry.reports.get(i, []),
                    "series": [{"modality": r.modality, "series_description": r.series_description,
                                "instances": r.instances} for r in s.series]}
                   for i, s in enumerate(entry.contents.studies, start=1)]
        shown = [s.study_instance_uid for i, s in enumerate(entry.contents.studies, start=1)
                 if can_view and entry.reports.get(i)]
        if shown:
            self.audit(request, "view", link, shown, detail="reports")
        return HTMLResponse(pages.studies_page(
            self.base(token), entry.contents.patient, studies, link.may("view"), link.may("download"),
            link.expires_at.strftime("%d %b %Y %H:%M"), entry.contents.bytes,
            dicomweb=(str(request.base_url).rstrip("/") + self.base(token) + "/dicomweb",
                      request.cookies.get(COOKIE)) if link.may("download") else None))

    async def answer(self, request: Request) -> Response:
        token = request.path_params["token"]
        ip, _ = self.client(request)
        if not self.attempts.allow(ip or "unknown"):
            return HTMLResponse(pages.message("Please wait", pages.TOO_MANY), status_code=429,
                                headers={"retry-after": "60"})
        form = await request.form()
        answer = str(form.get("answer") or "")[:64]
        result = await run_in_threadpool(sharing.verify, self.home, token, answer, self.lockout_attempts)
        if result.ok:
            link = result.link
            await run_in_threadpool(self.audit, request, "open", link, link.study_instance_uids)
            response = RedirectResponse(self.base(token), status_code=303)
            response.set_cookie(COOKIE, self.sessions.issue(link.link_id, link.token_hash),
                                max_age=self.sessions.seconds, path=self.base(token), httponly=True,
                                secure=self.tls, samesite="strict")
            return response
        if result.link is None:
            return await run_in_threadpool(self.refuse, request, token)
        await run_in_threadpool(self.audit, request, "passcode_failed", result.link, outcome="failure",
                                detail=f"{result.attempts_left} attempts left")
        if result.locked_now:
            await run_in_threadpool(self.audit, request, "lockout", result.link, outcome="failure",
                                    detail=f"locked after {self.lockout_attempts} wrong answers")
            return HTMLResponse(pages.refusal(), status_code=404)
        error = ("The date of birth does not match. Please check it and try again."
                 if result.link.verify_kind == "birth_date" else
                 "The passcode is not correct. Please check it and try again.")
        return HTMLResponse(pages.passcode_form(self.base(token), result.link.verify_kind, error),
                            status_code=401)

    def signout(self, request: Request) -> Response:
        token = request.path_params["token"]
        response = RedirectResponse(self.base(token) if sharing.looks_like_token(token) else "/", status_code=303)
        response.delete_cookie(COOKIE, path=self.base(token))
        return response

    def _series(self, entry: _Entry, s_index: int, r_index: int):
        studies = entry.contents.studies
        if not 1 <= s_index <= len(studies) or not 1 <= r_index <= len(studies[s_index - 1].series):
            return None
        return studies[s_index - 1], studies[s_index - 1].series[r_index - 1]

    @staticmethod
    def _frames(series) -> list[tuple[int, int]]:
        """(instance index, frame index) of every image of a series: multi-frame objects unrolled."""
        return [(i, f) for i, row in enumerate(series.instances)
                for f in range(max(1, int(row.get("number_of_frames") or 1)))]

    def viewer(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = self.signed_in(request, token)
        if found is None or not found[0].may("view"):
            return self.refuse(request, token)
        link, entry = found
        s_index, r_index = request.path_params["study"], request.path_params["series"]
        picked = self._series(entry, s_index, r_index)
        if picked is None:
            return self.refuse(request)
        study, series = picked
        self.audit(request, "view", link, [study.study_instance_uid], detail=f"series {r_index}")
        return HTMLResponse(pages.viewer_page(
            self.base(token), entry.contents.patient, {"study": study.study},
            {"modality": series.modality, "series_description": series.series_description},
            s_index, r_index, len(self._frames(series))))

    def image(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = self.signed_in(request, token)
        if found is None or not found[0].may("view"):
            return self.refuse(request, token)
        _, entry = found
        picked = self._series(entry, request.path_params["study"], request.path_params["series"])
        if picked is None:
            return self.refuse(request)
        frames = self._frames(picked[1])
        n = request.path_params["n"]
        preset = request.query_params.get("window", "")
        if not 1 <= n <= len(frames) or (preset and preset not in pixels.PRESETS):
            return self.refuse(request)
        instance, frame = frames[n - 1]
        try:
            ds, decoded = self.decoded(picked[1].instances[instance]["content_hash"])
            window = pixels.PRESETS.get(preset) if preset and not pixels.is_colour(ds) else None
            image = pixels.render_frame(ds, decoded, min(frame, len(decoded) - 1), window,
                                        request.query_params.get("invert") == "1")
        except (VaultError, pixels.PixelError) as exc:
            log.warning("portal image not shown: %s", exc)
            return HTMLResponse(pages.message("Image not available",
                                              "This image cannot be shown. The others can still be viewed."),
                                status_code=404)
        return Response(pixels.to_png(image), media_type="image/png")

    def thumb(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = self.signed_in(request, token)
        if found is None or not found[0].may("view"):
            return self.refuse(request, token)
        picked = self._series(found[1], request.path_params["study"], request.path_params["series"])
        if picked is None or not picked[1].instances:
            return self.refuse(request)
        rows = picked[1].instances
        try:
            png = pixels.thumbnail(self.archive.vault.get(rows[len(rows) // 2]["content_hash"]))
        except (VaultError, pixels.PixelError):
            return Response(status_code=204)
        return Response(png, media_type="image/png")

    def download(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = self.signed_in(request, token)
        if found is None or not found[0].may("download"):
            return self.refuse(request, token)
        link, entry = found
        studies = entry.contents.studies
        if "study" in request.path_params:
            s_index = request.path_params["study"]
            if not 1 <= s_index <= len(studies):
                return self.refuse(request)
            studies = [studies[s_index - 1]]
        media = media_plan(Contents(entry.contents.patient, studies), self.archive.vault)
        vault = self.archive.vault
        readme = ZIP_README.encode()
        members = [Member("README.TXT", len(readme), lambda: [readme]),
                   Member("DICOMDIR", len(media.dicomdir), lambda: [media.dicomdir])]
        members += [Member(f.path, f.size, (lambda h=f.content_hash: vault.stream(h)))
                    for f in media.files + media.unindexed]
        sharing.count_download(self.home, link.link_id)
        self.audit(request, "download", link, [s.study_instance_uid for s in studies],
                   detail=f"zip: {len(media.files) + len(media.unindexed)} files, {media.bytes} bytes"
                          + (f", {len(media.missing)} missing" if media.missing else ""))
        return StreamingResponse(read_ahead(zip_chunks(members)), media_type="application/zip", headers={
            "content-disposition": 'attachment; filename="limestone-images.zip"',
            "content-length": str(zip_size(members))})

    def report_pdf(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = self.signed_in(request, token)
        if found is None or not found[0].may("download"):
            return self.refuse(request, token)
        link, entry = found
        s_index, n = request.path_params["study"], request.path_params["n"]
        reports = entry.reports.get(s_index, [])
        if not 1 <= n <= len(reports) or not release.has_document(reports[n - 1]):
            return self.refuse(request)
        study = entry.contents.studies[s_index - 1]
        try:
            document = release.document(self.archive.vault, reports[n - 1])
        except VaultError as exc:
            log.warning("portal report PDF not available: %s", exc)
            document = None
        if document is None:
            return HTMLResponse(pages.message("Report not available",
                                              "This report's PDF cannot be given right now. Its text is on the "
                                              "studies page; please contact the hospital for the document."),
                                status_code=404)
        self.audit(request, "download", link, [study.study_instance_uid], detail=f"report PDF {n}")
        return StreamingResponse(read_ahead(iter(document.chunks())), media_type="application/pdf", headers={
            "content-length": str(document.size),
            "content-disposition": f'attachment; filename="report-{s_index}-{n}.pdf"'})

    def not_found(self, request: Request, exc=None) -> Response:
        return HTMLResponse(pages.refusal(), status_code=404)

    def failed(self, request: Request, exc: Exception) -> Response:
        # The traceback names code, not request values (the address holds a token).
        log.error("share portal error: %s", type(exc).__name__, exc_info=(type(exc), exc, None))
        return HTMLResponse(pages.message("Something went wrong",
                                          "The page could not be shown. Please try again in a few minutes."),
                            status_code=500)

    @staticmethod
    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "portal.css":
            return Response(pages.CSS, media_type="text/css")
        if name == "portal.js":
            return Response(pages.JS, media_type="text/javascript")
        return HTMLResponse(pages.refusal(), status_code=404)


def create_app(archive: Archive, tls: bool = False) -> Starlette:
    """The portal as an ASGI application over ``archive``."""
    portal = Portal(archive, tls=tls)
    routes = [
        Route("/", portal.home_page),
        Route("/static/{name}", portal.static),
        Route("/s/{token}", portal.link_page, methods=["GET"]),
        Route("/s/{token}", portal.answer, methods=["POST"]),
        Route("/s/{token}/signout", portal.signout, methods=["POST"]),
        Route("/s/{token}/view/{study:int}/{series:int}", portal.viewer),
        Route("/s/{token}/image/{study:int}/{series:int}/{n:int}.png", portal.image),
        Route("/s/{token}/thumb/{study:int}/{series:int}.png", portal.thumb),
        Route("/s/{token}/download", portal.download),
        Route("/s/{token}/download/{study:int}", portal.download),
        Route("/s/{token}/report/{study:int}/{n:int}.pdf", portal.report_pdf),
    ]
    from portal import dicomweb
    routes += dicomweb.routes(portal)
    app = Starlette(routes=routes, exception_handlers={404: portal.not_found, 405: portal.not_found,
                                                        Exception: portal.failed})
    app.state.portal = portal
    app.add_middleware(_Guard, limit=portal.requests, tls=tls)
    return app
