"""``limestone listen``: a storage SCP that files what modalities and PACS send into the archive.

Accepts C-ECHO and C-STORE of every storage SOP class in every transfer syntax, as our AE title
(setting ``ae_title``) on our port (setting ``dicom_port``). Each instance is kept as sent: its
bytes go to the vault before the sender is told it is stored, and its rows reach the store in
batches (at the latest ``listen_flush_seconds`` after it arrived). Damaged instances are kept in
quarantine and answered with a warning status. The patient links and repeat metrics are brought up
to date at the latest ``repeat_refresh_seconds`` after the first new study since their last
refresh, and once more when it stops (``archive.repeats.update``): a whole refresh, so not after
every batch.

SIGTERM or Ctrl-C stops it cleanly: no new associations are accepted, the ones in progress get
a grace period to finish, and every instance already acknowledged is committed to the store
before the process exits.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import time

from archive.home import Archive
from archive.ingest import journal
from archive.ingest.intake import Outcome, ingest_bytes
from archive.network import NetworkError, quiet_toolkit
from archive.network.status import STORE_QUARANTINED, STORE_SUCCESS
from archive.network.storage import start_storage_scp
from archive.repeats.update import RefreshSchedule, after_run
from archive.store.runs import IngestRun, finish_run, start_run
from archive.store.writer import StoreWriter, new_run_id

log = logging.getLogger("limestone.listen")

GRACE_SECONDS = 10.0


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


class Listener:
    def __init__(self, archive: Archive, ae_title: str, port: int, bind: str, site: str | None):
        self.archive = archive
        self.ae_title = ae_title
        self.port = port
        self.bind = bind
        self.site = site
        self.arrived: "queue.Queue[tuple[Outcome, str]]" = queue.Queue()
        self.stop = threading.Event()
        self.received = 0
        self.quarantined = 0
        self.bytes = 0
        self.server = None
        self.journal = journal.Journal(archive.home, "listen")
        self.replayed = 0

    def receive(self, data: bytes, calling_ae: str) -> int:
        # Acknowledged means durable: the vault file is fsync'd, and so is the journal line that
        # names it, before the status goes back; the store gets the row with the next batch.
        outcome = ingest_bytes(data, f"from-{calling_ae or 'unknown'}.dcm", self.archive.vault,
                               self.archive.home.quarantine_dir, durable=True)
        with self.journal.lock:
            if outcome.kind in ("stored", "quarantined"):
                self.journal.append(journal.Entry(outcome.kind, outcome.digest or "", outcome.size,
                                                  outcome.name, calling_ae or None, outcome.reason))
            self.arrived.put((outcome, calling_ae))
        return STORE_QUARANTINED if outcome.kind == "quarantined" else STORE_SUCCESS

    def _commit(self, writer: StoreWriter) -> int:
        """Take everything received so far into ``writer``, commit it, and forget its journal."""
        with self.journal.lock:
            segment = self.journal.rotate()
            self._drain(writer)
        inserted = writer.flush().inserted
        journal.committed(segment)
        return inserted

    def _drain(self, writer: StoreWriter) -> int:
        taken = 0
        while True:
            try:
                outcome, calling_ae = self.arrived.get_nowait()
            except queue.Empty:
                return taken
            taken += 1
            self.received += 1
            self.bytes += outcome.size
            if outcome.kind == "stored":
                writer.add(outcome.record, outcome.size, outcome.digest, source_ae=calling_ae,
                           written=outcome.written)
            elif outcome.kind == "quarantined":
                self.quarantined += 1
                writer.quarantined(outcome.digest, outcome.name, outcome.reason, outcome.size)
            else:
                log.warning("received a file that is not DICOM from %s; ignored", calling_ae or "unknown AE")

    def serve(self, ready=None) -> int:
        settings = self.archive.settings
        vault = self.archive.vault
        vault.ensure_key()  # the first key, or a wrong one refused, before the first association
        con = self.archive.store()
        run = IngestRun(new_run_id(), "listen", f"listen {self.ae_title}@{self.port}", self.site)
        start_run(con, run)
        writer = StoreWriter(con, self.archive.home, run.run_id, site=self.site, batch_size=10**9,
                             vault=vault)
        status = "failed"
        try:
            # What a listener that died had acknowledged, before anything new is accepted.
            self.replayed = journal.replay(self.archive.home, vault, writer)
            if self.replayed:
                print(f"committed {self.replayed:,} instances acknowledged before an earlier listen stopped",
                      flush=True)
            self.server = start_storage_scp(self.ae_title, self.port, self.receive, bind=self.bind,
                                            timeout=settings.dicom_timeout)
            self.port = self.server.server_address[1]
            print(f"listening as {self.ae_title!r} on port {self.port}; stop with Ctrl-C or SIGTERM",
                  flush=True)
            if ready is not None:
                ready.set()
            pending, last_flush = 0, time.monotonic()
            refresh = RefreshSchedule(settings.repeat_refresh_seconds)
            while not self.stop.wait(0.2):
                pending += self._drain(writer)
                if pending and (pending >= settings.batch_size
                                or time.monotonic() - last_flush >= settings.listen_flush_seconds):
                    refresh.added(self._commit(writer), time.monotonic())
                    pending, last_flush = 0, time.monotonic()
                if refresh.due(time.monotonic()):
                    after_run(con, self.archive.home)
                    refresh.done()
            self._shutdown()
            refresh.added(self._commit(writer), time.monotonic())
            if refresh.pending:
                after_run(con, self.archive.home)
            status = "failed" if self.quarantined else "ok"
        finally:
            if self.server is not None:
                self._shutdown()
            self._commit(writer)
            run.files_seen = self.received
            run.imported = writer.totals.inserted
            run.already_present = writer.totals.already_present
            run.quarantined = self.quarantined
            run.bytes = self.bytes
            finish_run(con, run, status)
            con.close()
        print(f"listen: {self.received:,} instances received ({writer.totals.inserted:,} new, "
              f"{writer.totals.already_present:,} already archived, {self.quarantined:,} quarantined), "
              f"{self.bytes / 1e6:,.1f} MB")
        return 0 if status == "ok" else 1

    def _shutdown(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        server.shutdown()  # no new associations
        deadline = time.monotonic() + GRACE_SECONDS
        while server.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        for assoc in server.active_associations:
            # Unacknowledged instances are not archived; the sender knows and can send them again.
            assoc.abort()


def run(args, archive: Archive) -> int:
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
        if getattr(args, "hl7_port", None) is not None:  # reports from the RIS (issue 9)
            from archive.reports.mllp import MllpServer
            try:
                hl7_server = MllpServer(archive, args.hl7_port, settings.hl7_bind).start()
            except OSError as exc:
                print(f"limestone listen: {exc}", file=sys.stderr)
                return 2
            print(f"listening for HL7 (MLLP) on port {hl7_server.port}", flush=True)
        return listener.serve()
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
