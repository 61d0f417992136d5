"""``limestone listen``: a storage SCP that files what modalities and PACS send into the archive.

Accepts C-ECHO and C-STORE as our AE title (setting ``ae_title``) on our port (setting
``dicom_port``); what it does with each instance: ``archive.network.listen``. ``--hl7-port``
also receives HL7 v2 reports over MLLP. SIGTERM or Ctrl-C stops it cleanly: every instance
already acknowledged is committed to the store before the process exits.
"""

from __future__ import annotations

import signal
import sys

from archive.home import Archive


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("listen", help="receive images pushed by modalities and PACS (C-STORE SCP)")
    parser.add_argument("--port", type=int, help="port to listen on (default: setting dicom_port)")
    parser.add_argument("--ae-title", help="our AE title (default: setting ae_title)")
    parser.add_argument("--bind", help="address to listen on (default: setting dicom_bind, all interfaces)")
    parser.add_argument("--site", help="file everything received under this site "
                                       "(default: by issuer, institution or sender's AE title)")
    parser.add_argument("--hl7-port", type=int, help="also receive HL7 v2 ORU^R01 reports over MLLP on this "
                                                     "port, each answered with ACK/NAK (setting hl7_bind)")
    parser.set_defaults(run=run)


def run(args, archive: Archive) -> int:
    from archive.network import NetworkError, quiet_toolkit
    from archive.network.listen import Listener

    quiet_toolkit(getattr(args, "verbose", False))
    settings = archive.settings
    listener = Listener(archive, args.ae_title or settings.ae_title,
                        settings.dicom_port if args.port is None else args.port,
                        settings.dicom_bind if args.bind is None else args.bind, args.site)

    def stop(signum, frame) -> None:
        listener.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    hl7_server = None
    try:
        if getattr(args, "hl7_port", None) is not None:  # reports from the RIS
            from archive.reports.mllp import MllpServer
            try:
                hl7_server = MllpServer(archive, args.hl7_port, settings.hl7_bind).start()
            except OSError as exc:
                print(f"limestone listen: {exc}", file=sys.stderr)
                return 2
            print(f"listening for HL7 (MLLP) on port {hl7_server.port}", flush=True)
        summary = listener.serve(on_listening=lambda port: print(
            f"listening as {listener.ae_title!r} on port {port}; stop with Ctrl-C or SIGTERM", flush=True))
        print(summary.line)
        return 0 if summary.status == "ok" else 1
    except NetworkError as exc:
        print(f"limestone listen: {exc}", file=sys.stderr)
        return 2
    finally:
        if hl7_server is not None:
            hl7_server.stop()
            print(f"HL7: {hl7_server.received} messages ({hl7_server.accepted} accepted, "
                  f"{hl7_server.rejected} rejected and kept for review)")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
