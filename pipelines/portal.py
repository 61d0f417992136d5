"""``limestone portal [--host H] [--port N]``: serve the share portal (HTTPS when a certificate is set)."""

from __future__ import annotations

import sys

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("portal", help="serve the share portal patients open links in")
    parser.add_argument("--host", help="address to listen on (default: $LIMESTONE_PORTAL_HOST)")
    parser.add_argument("--port", type=int, help="port (default: $LIMESTONE_PORTAL_PORT)")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    import uvicorn

    from portal.server import PortalConfigError, config
    try:
        cfg = config(archive, args.host, args.port)
    except PortalConfigError as exc:
        print(f"limestone portal: {exc}", file=sys.stderr)
        return 2
    scheme = "https" if cfg.ssl_certfile else "http"
    print(f"portal: serving share links on {scheme}://{cfg.host}:{cfg.port} "
          f"(links start with {archive.settings.portal_base_url})", flush=True)
    server = uvicorn.Server(cfg)
    server.run()
    return 0 if server.started else 1
