"""The dashboard's image endpoint: frames for the client-side viewer, only to a signed-in session.

Why a small Starlette app beside Streamlit (and not the other options): Streamlit 1.67 serves
its own routes only (custom routes would mean replacing ``streamlit run`` by its experimental
ASGI ``App``), and sending a series through the component's data channel re-sends it to the
browser on every rerun and passes 150 MB of a 300-image CT through the session's websocket and
Streamlit's message queue, where each message is JSON/protobuf-encoded. A plain endpoint
serves a chunk of 8 images of a 512x512 CT (4 MB) in about 30 ms here, the browser fetches the
nearest chunks first, and Streamlit reruns for nothing but the position and measurements.
The share portal's server is the wrong place: it knows link sessions, not staff.

How access is checked (issue 17 item 16): the page that shows a study asks ``grant()`` for an
opaque random token bound to the Streamlit session, the signed-in user and the study, naming the
instances the user may load (resolved by the page, so this server runs no query). Every request
carries the token in its body (a ``text/plain`` POST is a "simple" request: no CORS preflight,
no cookie, nothing in the address but the route). A request is refused (403) when the token is
unknown, expired (``GRANT_SECONDS`` after its last renewal by a page run), revoked at sign-out
(``revoke_session``), or its Streamlit session is gone (the tab closed). No patient data and no
UID appears in an address; nothing is written to an access log. Opening a study is audited by
the page (one "view" event per study and session), never per chunk.

The server binds to 127.0.0.1 on a free port (``LIMESTONE_IMAGE_PORT`` fixes one); the browser
reaches it at ``LIMESTONE_IMAGE_URL`` when set (a reverse proxy in production: give it the same
TLS as the app), else at the page's own host name with that port.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from archive.dicom import pixels
from archive.vault import VaultError
from archive.viewing import frames

log = logging.getLogger("limestone.images")

GRANT_SECONDS = 15 * 60
MAX_BODY = 4096


@dataclass
class Grant:
    token: str
    session_id: str
    user_id: str
    study_key: str
    series: dict[int, list[frames.Image]]
    decoded: Callable
    expires: float
    revoked: bool = False
    thumbs: dict[int, str] = field(default_factory=dict)     # number -> content hash
    load: Callable | None = None


class Grants:
    """Tokens issued by pages, in this process's memory (the image server runs in the same process)."""

    def __init__(self) -> None:
        self._by_token: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def issue(self, session_id: str, user_id: str, study_key: str, series: dict[int, list[frames.Image]],
              decoded: Callable, thumbs: dict[int, str] | None = None, load: Callable | None = None) -> str:
        """The token for this session, user and study (the same one while it is renewed)."""
        now = time.monotonic()
        with self._lock:
            for token, g in list(self._by_token.items()):
                if g.expires < now or g.revoked:
                    del self._by_token[token]
            for g in self._by_token.values():
                if (g.session_id, g.user_id, g.study_key) == (session_id, user_id, study_key):
                    g.series.update(series)
                    g.thumbs.update(thumbs or {})
                    g.load = load or g.load
                    g.expires = now + GRANT_SECONDS
                    return g.token
            token = secrets.token_urlsafe(32)
            self._by_token[token] = Grant(token, session_id, user_id, study_key, dict(series), decoded,
                                          now + GRANT_SECONDS, thumbs=dict(thumbs or {}), load=load)
            return token

    def revoke_session(self, session_id: str) -> int:
        with self._lock:
            gone = [t for t, g in self._by_token.items() if g.session_id == session_id]
            for t in gone:
                del self._by_token[t]
            return len(gone)

    def valid(self, token: str) -> Grant | None:
        with self._lock:
            g = self._by_token.get(token)
        if g is None or g.revoked or g.expires < time.monotonic() or not _session_alive(g.session_id):
            return None
        return g


def _session_alive(session_id: str) -> bool:
    try:
        from streamlit.runtime import Runtime
        if not Runtime.exists():
            return True     # not inside Streamlit (unit tests drive the app directly)
        return Runtime.instance().is_active_session(session_id)
    except Exception:
        return False


GRANTS = Grants()


def create_app(grants: Grants = GRANTS) -> Starlette:
    async def chunk(request: Request) -> Response:
        headers = {"access-control-allow-origin": request.headers.get("origin") or "*",
                   "cache-control": "no-store", "vary": "origin", "x-content-type-options": "nosniff"}
        body = b""
        async for piece in request.stream():
            body += piece
            if len(body) > MAX_BODY:
                return Response("too large", status_code=413, headers=headers)
        try:
            ask = json.loads(body)
            grant = grants.valid(str(ask["grant"]))
            series, start, count = int(ask["series"]), int(ask["start"]), int(ask["count"])
        except (ValueError, KeyError, TypeError):
            return Response("bad request", status_code=400, headers=headers)
        if grant is None or series not in grant.series:
            return Response("refused", status_code=403, headers=headers)
        data = await run_in_threadpool(frames.chunk, grant.series[series], start, count, grant.decoded)
        return Response(data, media_type="application/octet-stream", headers=headers)

    async def thumb(request: Request) -> Response:
        """A series' preview as PNG (the study page), checked like the frames."""
        headers = {"access-control-allow-origin": request.headers.get("origin") or "*",
                   "cache-control": "no-store", "vary": "origin", "x-content-type-options": "nosniff"}
        body = await request.body()
        try:
            ask = json.loads(body) if len(body) <= MAX_BODY else {}
            grant = grants.valid(str(ask["grant"]))
            number = int(ask["thumb"])
        except (ValueError, KeyError, TypeError):
            return Response("bad request", status_code=400, headers=headers)
        if grant is None or grant.load is None or number not in grant.thumbs:
            return Response("refused", status_code=403, headers=headers)
        try:
            png = await run_in_threadpool(pixels.thumbnail, grant.load(grant.thumbs[number]))
        except (VaultError, pixels.PixelError):
            return Response(status_code=204, headers=headers)
        return Response(png, media_type="image/png", headers=headers)

    async def health(request: Request) -> Response:
        return Response("ok")

    return Starlette(routes=[Route("/v1/chunk", chunk, methods=["POST"]),
                               Route("/v1/thumb", thumb, methods=["POST"]), Route("/health", health)])


class _Server:
    def __init__(self) -> None:
        self.port: int | None = None
        self._lock = threading.Lock()

    def start(self) -> int:
        """Start the endpoint once per process (a daemon thread) and return its port."""
        with self._lock:
            if self.port is not None:
                return self.port
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", int(os.environ.get("LIMESTONE_IMAGE_PORT") or 0)))
            config = uvicorn.Config(create_app(), log_level="warning", access_log=False, lifespan="off",
                                    server_header=False, timeout_keep_alive=30)
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="limestone-images",
                             daemon=True).start()
            self.port = sock.getsockname()[1]
            return self.port


SERVER = _Server()


def endpoint() -> dict:
    """Where the browser sends its requests: a full URL, or a port on the page's own host."""
    port = SERVER.start()
    url = os.environ.get("LIMESTONE_IMAGE_URL")
    return {"url": url.rstrip("/") + "/v1/chunk"} if url else {"port": port, "path": "/v1/chunk"}
