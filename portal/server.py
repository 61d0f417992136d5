"""Serving the share portal with uvicorn: plain HTTP on loopback for the demo, HTTPS with a certificate."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from archive.errors import LimestoneError
from archive.home import Archive
from portal.app import create_app, trusted_networks

log = logging.getLogger("limestone.portal")


HEADER_SECONDS = 10.0   # a request's headers must arrive within this time of the connection opening


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for a request's headers.

    uvicorn times out an idle keep-alive connection, but not one that trickles a request's
    headers a byte at a time (slowloris): each byte restarts nothing, and the connection is held
    for ever. Here a connection whose request has not started within ``HEADER_SECONDS`` of
    opening (or of the previous response) is closed. Bodies are bounded by the app (the
    passcode form reads its small body under a timeout).
    """

    header_seconds = HEADER_SECONDS

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_seconds, self._headers_too_slow)
        self._cycles_seen = self.cycle

    def _headers_too_slow(self) -> None:
        if self.cycle is self._cycles_seen and not self.transport.is_closing():
            self.transport.close()      # no request began in time

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not self._cycles_seen:     # a request's headers arrived
            self._header_deadline.cancel()

    def on_response_complete(self) -> None:
        self._header_deadline.cancel()
        self._arm()                          # the next request's headers: a new deadline
        super().on_response_complete()       # (a pipelined request starting here cancels it)

    def connection_lost(self, exc) -> None:
        self._header_deadline.cancel()
        super().connection_lost(exc)


class PortalConfigError(LimestoneError, ValueError):
    """The portal's TLS or address settings cannot be used."""


def config(archive: Archive, host: str | None = None, port: int | None = None) -> uvicorn.Config:
    """The uvicorn configuration for ``archive``'s portal settings (TLS when a certificate is set)."""
    s = archive.settings
    cert, key = str(s.portal_tls_cert or ""), str(s.portal_tls_key or "")
    if bool(cert) != bool(key):
        raise PortalConfigError("set both LIMESTONE_PORTAL_TLS_CERT and LIMESTONE_PORTAL_TLS_KEY, or neither")
    for path in (cert, key):
        if path and not Path(path).is_file():
            raise PortalConfigError(f"TLS file not found: {path}")
    tls = bool(cert)
    try:
        trusted_networks(s.portal_trusted_proxies)
    except ValueError as exc:
        raise PortalConfigError(f"LIMESTONE_PORTAL_TRUSTED_PROXIES: {exc}") from None
    return uvicorn.Config(
        create_app(archive, tls=tls), host=host or s.portal_host, port=int(port or s.portal_port),
        ssl_certfile=cert or None, ssl_keyfile=key or None,
        # X-Forwarded-For is read by the app against portal_trusted_proxies (portal.app.client_address):
        # uvicorn's own handling (which trusts 127.0.0.1 by default) stays off.
        proxy_headers=False, http=BoundedH11Protocol,
        access_log=False,          # request lines carry link tokens: never log them
        log_level="warning", server_header=False, timeout_keep_alive=5, lifespan="off",
        timeout_graceful_shutdown=3)


def serve(archive: Archive, host: str | None = None, port: int | None = None) -> None:
    uvicorn.Server(config(archive, host, port)).run()
