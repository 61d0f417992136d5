"""The share portal's web application (Starlette), served by ``limestone portal``.

Routes (``<token>`` is the link's token; studies, series and images are numbered from 1 in the
order the link page shows them, so no UID ever appears in an address)::

    GET  /                                  a plain note on what this site is
    GET  /s/<token>                         passcode form, or the studies once it was given
    POST /s/<token>                         check the passcode (or birth date)
    POST /s/<token>/signout                 end the session (on the server) and forget the cookie
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

Hardening (issue 17):

- Host: only the host of ``portal_base_url`` is answered (and loopback names when that is a
  loopback address), so a DNS-rebinding page cannot drive a recipient's session; absolute
  addresses shown to recipients are built from ``portal_base_url``, never from the request.
- Client address: ``X-Forwarded-For`` is believed only from ``portal_trusted_proxies`` (addresses
  or networks); the audit trail and the rate limits use the address it yields, else the peer's.
- Sessions are recorded on the server (``portal.session``): "Close" ends one for good.
- The passcode form takes an url-encoded body of at most ``FORM_BYTES``, read within
  ``BODY_SECONDS``; anything else (a multipart upload, a huge or slow body) is refused before
  parsing. Rendering is capped per session (``RENDERS_PER_SESSION`` at once, the rest queue).
- Refusals of a known link are audited once a minute per link and address, with the count of
  the ones held back, so a client hammering a dead link cannot grow the audit trail without end.
- Replicas: with the state on PostgreSQL the rate limits, the refusal thinning and the session
  key are kept in the state (``portal.limits``, ``portal.session``), so several portals behind one
  load balancer count together; a link's lockout is a column of the link, shared by every replica.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from archive import audit, i18n, sharing
from archive.dicom import pixels
from archive.home import Archive
from archive.i18n import N_, _
from archive.media.dicomdir import plan as media_plan
from archive.reports import release
from archive.sharing.links import ShareLink
from archive.sharing.scope import Contents
from archive.sharing.scope import contents as read_contents
from archive.store import StoreError
from archive.store.connection import LAKE
from archive.vault import VaultError
from archive.viewing import client
from archive.viewing import frames as viewer_frames
from portal import pages, patient_pages
from portal.limits import Busy, PerKeySlots, RateLimit, SharedRateLimit, portal_limits
from portal.session import COOKIE, Sessions
from portal.streaming import read_ahead, zip_download

log = logging.getLogger("limestone.portal")

CONTENTS_TTL = 60.0     # seconds a link's study list is reused before the store is asked again
FORM_BYTES = 4096       # the passcode form's largest body
BODY_SECONDS = 10.0     # time to send that body
RENDERS_PER_SESSION = 2  # images of one session rendered at once (the rest wait their turn)
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
ZIP_README = N_("""These are the original DICOM files of the shared studies, exactly as the hospital
archived them, with a DICOMDIR index at the top of the folder.

Open the folder (or the DICOMDIR) with a DICOM viewer, for example on your doctor's workstation,
or give the whole folder to the clinic that asked for the images. The files are medical records:
keep them safe and do not send them by ordinary e-mail.
""")


def _security_headers(tls: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
                                   "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "cache-control": "no-store",
        "x-robots-tag": "noindex, nofollow",
    }
    if tls:
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


def trusted_networks(setting: str) -> tuple:
    """``portal_trusted_proxies`` as networks (an address is a network of one)."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in str(setting or "").split(",")
                 if p.strip())


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: str | None, trusted: tuple) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy that says who it serves.

    ``X-Forwarded-For`` is read from the right (the nearest hop first); the first address that is
    not itself a trusted proxy is the client. A malformed entry ends the walk at the last good hop.
    """
    def is_trusted(text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in net for net in trusted)

    if not trusted or not forwarded_for or not is_trusted(peer):
        return peer
    client = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if _address(hop) is None:
            break
        client = str(_address(hop))
        if not is_trusted(hop):
            break
    return client


def allowed_hosts(base_url: str) -> frozenset[str]:
    """Host names the portal answers to: the public address's, and loopback names when that is loopback."""
    name = (urlsplit(base_url).hostname or "").lower()
    return frozenset({name} | (LOOPBACK_NAMES if name in LOOPBACK_NAMES else set())) - {""}


def host_name(header: str | None) -> str | None:
    """The name part of a Host header (``[::1]:8502`` -> ``::1``); None when it cannot be read."""
    if not header:
        return None
    try:
        return (urlsplit("//" + header).hostname or "").lower() or None
    except ValueError:
        return None


class _Guard:
    """ASGI middleware: Host check, the real client address, per-address request limit, and
    security headers on every response."""

    def __init__(self, app, limit: RateLimit | SharedRateLimit, tls: bool, hosts: frozenset[str] = frozenset(),
                 trusted: tuple = ()):
        self.app, self.limit, self.headers = app, limit, _security_headers(tls)
        self.hosts, self.trusted = hosts, trusted
        self.secure = tls

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        lang, switched = _language(scope, headers)
        i18n.use(lang)      # this request's task renders every page and message in that language
        extra = [(b"content-language", lang.encode())]
        if switched:        # the visitor used the switch: remember it for their next visits
            extra.append((b"set-cookie", _language_cookie(lang, self.secure)))

        async def send_with_headers(event):
            if event["type"] == "http.response.start":
                names = {k.lower() for k, _ in event.get("headers", [])}
                event = dict(event, headers=list(event.get("headers", []))
                             + [h for h in self.headers + extra if h[0] not in names or h[0] == b"set-cookie"])
            await send(event)

        if self.hosts and host_name(headers.get("host")) not in self.hosts:
            response = HTMLResponse(pages.message(_("Unknown address"),
                                                  _("This address does not serve shared images.")),
                                    status_code=421)
            return await response(scope, receive, send_with_headers)
        peer = (scope.get("client") or ("unknown", 0))[0]
        client = client_address(peer, headers.get("x-forwarded-for"), self.trusted)
        if client != peer:
            scope = dict(scope, client=(client, 0))
        allowed = (await run_in_threadpool(self.limit.allow, client) if getattr(self.limit, "blocking", False)
                   else self.limit.allow(client))
        if not allowed:
            response = HTMLResponse(pages.message(_("Please wait"), _(pages.TOO_MANY)), status_code=429,
                                    headers={"retry-after": "60"})
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)


def _language(scope, headers: dict[str, str]) -> tuple[str, bool]:
    """The request's language and whether the visitor just switched to it (``?lang=fr``): the
    switch, then the remembered cookie, then ``Accept-Language``."""
    switch = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
    cookies = {}
    for part in headers.get("cookie", "").split(";"):
        name, _sep, value = part.strip().partition("=")
        cookies[name] = value
    lang = i18n.choose(switch, cookies.get(i18n.COOKIE), headers.get("accept-language"))
    return lang, i18n.supported(switch) is not None


def _language_cookie(lang: str, secure: bool) -> bytes:
    """The remembered language: a year, the whole portal, nothing else in it."""
    cookie = f"{i18n.COOKIE}={lang}; Max-Age=31536000; Path=/; SameSite=Lax"
    return (cookie + ("; Secure" if secure else "")).encode()


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
        # In the state when replicas share it (PostgreSQL), else in memory (portal.limits).
        self.requests, self.attempts, self.refusals = portal_limits(
            self.home, int(settings.portal_requests_per_minute), int(settings.portal_attempts_per_minute))
        self.lockout_attempts = int(settings.share_lockout_attempts)
        self.base_url = str(settings.portal_base_url).rstrip("/")
        # Behind a TLS-terminating proxy the portal itself speaks HTTP: the public address decides.
        self.secure_cookie = tls or self.base_url.startswith("https://")
        self.renders = PerKeySlots(RENDERS_PER_SESSION)
        self._con = None
        self._lock = threading.Lock()
        self._contents: dict[str, _Entry] = {}
        self._decoded: OrderedDict[str, Any] = OrderedDict()
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal-audit")

    # ---- store access ----------------------------------------------------------------------
    def cursor(self):
        """A cursor on the portal's read-only store connection, in the lake (close it after use)."""
        return self._cursor()

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
                ip, _agent = self.client(request)
                held = self.refusals.pass_(f"{known.link_id}|{ip}")
                if held is not None:   # one row a minute per link and address, with the count held back
                    detail = known.status() + (f"; {held} more refusals not recorded separately" if held else "")
                    # Written in the background, so a known link is not answered measurably slower.
                    self._background.submit(self.audit, request, "refused", known, outcome="failure",
                                            detail=detail)
        return HTMLResponse(pages.refusal(), status_code=404)

    def session_link(self, request: Request, token: str, presented: str | None = None) -> ShareLink | None:
        """The link when it may be used and ``presented`` (default: this browser's cookie) is a live
        session of it. A link used up by the sign-in that opened this session still serves it."""
        link = sharing.open_link(self.home, token, signed_in=True)
        if presented is None:
            presented = request.cookies.get(COOKIE)
        if link is None or not self.sessions.valid(presented, link.link_id, link.token_hash):
            return None
        return link

    def signed_in(self, request: Request, token: str) -> tuple[ShareLink, _Entry] | None:
        """The link and its contents when the token is usable and this browser gave the passcode."""
        link = self.session_link(request, token)
        if link is None:
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
        link = self.session_link(request, token)
        if link is None:
            link = sharing.open_link(self.home, token)
            if link is None:
                return self.refuse(request, token)
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
            pages.date_time(link.expires_at), entry.contents.bytes,
            dicomweb=(self.public_url(token) + "/dicomweb",
                      self.sessions.issue_key(link.link_id, link.token_hash, int(link.expires_at.timestamp())))
            if link.may("download") else None))

    def public_url(self, token: str) -> str:
        """The link's absolute address, from ``portal_base_url`` (never from the request's Host)."""
        return self.base_url + self.base(token)

    async def answer(self, request: Request) -> Response:
        token = request.path_params["token"]
        ip, _agent = self.client(request)
        if not await run_in_threadpool(self.attempts.allow, ip or "unknown"):
            return HTMLResponse(pages.message(_("Please wait"), _(pages.TOO_MANY)), status_code=429,
                                headers={"retry-after": "60"})
        form = await self.small_form(request)
        if isinstance(form, Response):
            return form
        answer = (form.get("answer") or [""])[0][:64]
        result = await run_in_threadpool(sharing.verify, self.home, token, answer, self.lockout_attempts)
        if result.ok:
            link = result.link
            await run_in_threadpool(self.audit, request, "open", link, link.study_instance_uids)
            response = RedirectResponse(self.base(token), status_code=303)
            response.set_cookie(COOKIE, self.sessions.issue(link.link_id, link.token_hash),
                                max_age=self.sessions.seconds, path=self.base(token), httponly=True,
                                secure=self.secure_cookie, samesite="strict")
            return response
        if result.link is None:
            return await run_in_threadpool(self.refuse, request, token)
        await run_in_threadpool(self.audit, request, "passcode_failed", result.link, outcome="failure",
                                detail=f"{result.attempts_left} attempts left")
        if result.locked_now:
            await run_in_threadpool(self.audit, request, "lockout", result.link, outcome="failure",
                                    detail=f"locked after {self.lockout_attempts} wrong answers")
            return HTMLResponse(pages.refusal(), status_code=404)
        error = (_("The date of birth does not match. Please check it and try again.")
                 if result.link.verify_kind == "birth_date" else
                 _("The passcode is not correct. Please check it and try again."))
        left = result.attempts_left
        if left:    # the recipient is warned before a lockout, never surprised by one
            error += " " + i18n.ngettext("{left} more wrong attempt will lock this link.",
                                         "{left} more wrong attempts will lock this link.", left).format(left=left)
        return HTMLResponse(pages.passcode_form(self.base(token), result.link.verify_kind, error),
                            status_code=401)

    @staticmethod
    async def small_form(request: Request) -> dict[str, list[str]] | Response:
        """The url-encoded form of a request, refused before parsing when it is anything else,
        larger than ``FORM_BYTES`` or slower than ``BODY_SECONDS``."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return HTMLResponse(pages.message(_("Not accepted"), _("Please use the form on the page.")),
                                status_code=415)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > FORM_BYTES):
            return HTMLResponse(pages.message(_("Too large"), _("Please use the form on the page.")),
                                status_code=413)
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_SECONDS):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > FORM_BYTES:
                        return HTMLResponse(pages.message(_("Too large"), _("Please use the form on the page.")),
                                            status_code=413)
        except TimeoutError:
            return HTMLResponse(pages.message(_("Too slow"), _("Please try again.")), status_code=408)
        try:
            return parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
        except ValueError:
            return HTMLResponse(pages.message(_("Not accepted"), _("Please use the form on the page.")),
                                status_code=400)

    def signout(self, request: Request) -> Response:
        token = request.path_params["token"]
        link = self.session_link(request, token)
        if link is not None and self.sessions.end(request.cookies.get(COOKIE)):
            self.audit(request, "sign_out", link)
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
        page = pages.viewer_page if request.query_params.get("classic") == "1" else pages.client_viewer_page
        return HTMLResponse(page(
            self.base(token), entry.contents.patient, {"study": study.study},
            {"modality": series.modality, "series_description": series.series_description},
            s_index, r_index, len(self._frames(series))))

    async def image(self, request: Request) -> Response:
        return await self._capped(request, self._image)

    async def thumb(self, request: Request) -> Response:
        return await self._capped(request, self._thumb)

    async def _capped(self, request: Request, render) -> Response:
        """Run ``render`` in the thread pool, at most ``RENDERS_PER_SESSION`` at once per session."""
        key = request.cookies.get(COOKIE) or "address:" + (self.client(request)[0] or "unknown")
        try:
            async with self.renders.slot(key):
                return await run_in_threadpool(render, request)
        except Busy:
            return HTMLResponse(pages.message(_("Please wait"), _("Too many images at once.")), status_code=429,
                                headers={"retry-after": "1"})

    def _image(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = self.signed_in(request, token)
        if found is None or not found[0].may("view"):
            return self.refuse(request, token)
        entry = found[1]
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
            return HTMLResponse(pages.message(_("Image not available"),
                                              _("This image cannot be shown. The others can still be viewed.")),
                                status_code=404)
        return Response(pixels.to_png(image), media_type="image/png")

    async def chunk(self, request: Request) -> Response:
        """Frames for the client-side viewer (``archive.viewing.frames``), checked like every image."""
        token = request.path_params["token"]
        body = await request.body()
        found = await run_in_threadpool(self.signed_in, request, token)
        if found is None or not found[0].may("view") or len(body) > 1024:
            return await run_in_threadpool(self.refuse, request, token)
        try:
            ask = json.loads(body)
            picked = self._series(found[1], int(ask["study"]), int(ask["series"]))
            start, count = int(ask["start"]), int(ask["count"])
        except (ValueError, KeyError, TypeError):
            picked = None
        if picked is None:
            return self.refuse(request)
        series = viewer_frames.images(picked[1].instances)
        data = await run_in_threadpool(viewer_frames.chunk, series, start, count, self.decoded)
        return Response(data, media_type="application/octet-stream")

    def _thumb(self, request: Request) -> Response:
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
        sharing.count_download(self.home, link.link_id)
        self.audit(request, "download", link, [s.study_instance_uid for s in studies],
                   detail=f"zip: {len(media.files) + len(media.unindexed)} files, {media.bytes} bytes"
                          + (f", {len(media.missing)} missing" if media.missing else ""))
        return zip_download(media, self.archive.vault, _(ZIP_README).encode(), "limestone-images.zip")

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
            return HTMLResponse(pages.message(_("Report not available"),
                                              _("This report's PDF cannot be given right now. Its text is on the "
                                                "studies page; please contact the hospital for the document.")),
                                status_code=404)
        self.audit(request, "download", link, [study.study_instance_uid], detail=f"report PDF {n}")
        return StreamingResponse(read_ahead(iter(document.chunks())), media_type="application/pdf", headers={
            "content-length": str(document.size),
            "content-disposition": f'attachment; filename="report-{s_index}-{n}.pdf"'})

    def not_found(self, request: Request, exc=None) -> Response:
        return HTMLResponse(pages.refusal(), status_code=404)

    def client_left(self, request: Request, exc: Exception) -> Response:
        """A client that goes away mid-request (a closed tab, a dropped line) is not a fault."""
        log.info("share portal client left before the request was complete")
        return Response(status_code=400)

    def failed(self, request: Request, exc: Exception) -> Response:
        # The traceback names code, not request values (the address holds a token).
        log.error("share portal error: %s", type(exc).__name__, exc_info=(type(exc), exc, None))
        return HTMLResponse(pages.message(_("Something went wrong"),
                                          _("The page could not be shown. Please try again in a few minutes.")),
                            status_code=500)

    @staticmethod
    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "portal.css":
            return Response(pages.CSS, media_type="text/css")
        if name == "portal.js":
            return Response(pages.JS, media_type="text/javascript")
        if name == "viewer.js":
            return Response(client.portal_js(), media_type="text/javascript")
        if name == "viewer.css":
            return Response(client.css(), media_type="text/css")
        if name == "me.css":
            return Response(patient_pages.CSS, media_type="text/css")
        if name == "me.js":
            return Response(patient_pages.JS, media_type="text/javascript")
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
        Route("/s/{token}/chunk", portal.chunk, methods=["POST"]),
        Route("/s/{token}/download", portal.download),
        Route("/s/{token}/download/{study:int}", portal.download),
        Route("/s/{token}/report/{study:int}/{n:int}.pdf", portal.report_pdf),
    ]
    from portal import dicomweb, patient_door
    routes += dicomweb.routes(portal)
    routes += patient_door.routes(portal)
    app = Starlette(routes=routes, exception_handlers={404: portal.not_found, 405: portal.not_found,
                                                        ClientDisconnect: portal.client_left,
                                                        Exception: portal.failed})
    app.state.portal = portal
    app.add_middleware(_Guard, limit=portal.requests, tls=tls, hosts=allowed_hosts(portal.base_url),
                       trusted=trusted_networks(archive.settings.portal_trusted_proxies))
    return app
