"""Serving the share portal with uvicorn: plain HTTP on loopback for the demo, HTTPS with a certificate."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from archive.errors import LimestoneError
from archive.home import Archive
from portal.app import create_app

log = logging.getLogger("limestone.portal")


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
    proxies = [p.strip() for p in str(s.portal_trusted_proxies or "").split(",") if p.strip()]
    return uvicorn.Config(
        create_app(archive, tls=tls), host=host or s.portal_host, port=int(port or s.portal_port),
        ssl_certfile=cert or None, ssl_keyfile=key or None,
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
        access_log=False,          # request lines carry link tokens: never log them
        log_level="warning", server_header=False, timeout_keep_alive=5, lifespan="off",
        timeout_graceful_shutdown=3)


def serve(archive: Archive, host: str | None = None, port: int | None = None) -> None:
    uvicorn.Server(config(archive, host, port)).run()
