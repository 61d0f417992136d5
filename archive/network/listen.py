"""Receiving what modalities and PACS send: a storage SCP filing every instance into the archive.

Accepts C-ECHO and C-STORE of every storage SOP class in every transfer syntax. Each instance is
kept as sent: its bytes go to the vault before the sender is told it is stored, and its rows reach
the store in batches (at the latest ``listen_flush_seconds`` after it arrived). Damaged instances
are kept in quarantine and answered with a warning status. The patient links and repeat metrics
are brought up to date at the latest ``repeat_refresh_seconds`` after the first new study since
their last refresh, and once more when it stops (``archive.repeats.update``): a whole refresh, so
not after every batch.

Stopping (``Listener.stop``) is clean: no new associations are accepted, the ones in progress get
a grace period to finish, and every instance already acknowledged is committed to the store.
``limestone listen`` (pipelines/listen.py) is the command.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from archive.home import Archive
from archive.ingest import journal
from archive.ingest.filing import store_writer
from archive.ingest.intake import Outcome, ingest_bytes
from archive.network.status import STORE_QUARANTINED, STORE_SUCCESS
from archive.network.storage import start_storage_scp
from archive.patient_access.notices import after_ingest as notify_patients
from archive.repeats.update import RefreshSchedule, after_run
from archive.store.runs import IngestRun, finish_run, start_run
from archive.store.writer import StoreWriter, new_run_id

log = logging.getLogger("limestone.listen")

GRACE_SECONDS = 10.0


@dataclass
class ListenSummary:
    """What one listening session received, for the closing line of ``limestone listen``."""

    received: int = 0
    inserted: int = 0
    already_present: int = 0
    quarantined: int = 0
    bytes: int = 0
    status: str = "failed"
    replayed: int = 0   # acknowledged by an earlier listen that died, committed at this start

    @property
    def line(self) -> str:
        return (f"listen: {self.received:,} instances received ({self.inserted:,} new, "
                f"{self.already_present:,} already archived, {self.quarantined:,} quarantined), "
                f"{self.bytes / 1e6:,.1f} MB"
                + (f"; {self.replayed:,} acknowledged before an earlier listen stopped were committed "
                   "from its journal" if self.replayed else ""))


class Listener:
    """A storage SCP filing what arrives into the archive until ``stop`` is set.

    ``serve`` blocks; another thread (or a signal handler) sets ``stop`` to end it.
    """

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
        self.server: Any = None
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

    def serve(self, ready: threading.Event | None = None,
              on_listening: Callable[[int], None] | None = None) -> ListenSummary:
        """Listen until ``stop`` is set; ``ready`` is set and ``on_listening`` given the port once accepting."""
        settings = self.archive.settings
        vault = self.archive.vault
        vault.ensure_key()  # the first key, or a wrong one refused, before the first association
        con = self.archive.store()
        run = IngestRun(new_run_id(), "listen", f"listen {self.ae_title}@{self.port}", self.site)
        start_run(con, run)
        writer = store_writer(con, self.archive.home, run.run_id, site=self.site, batch_size=10**9,
                             vault=vault)
        status = "failed"
        try:
            # What a listener that died had acknowledged, before anything new is accepted.
            self.replayed = journal.replay(self.archive.home, vault, writer)
            self.server = start_storage_scp(self.ae_title, self.port, self.receive, bind=self.bind,
                                            timeout=settings.dicom_timeout)
            self.port = self.server.server_address[1]
            if on_listening is not None:
                on_listening(self.port)
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
                    notify_patients(self.archive, con, 1)   # new studies came in: "you have new images"
                    refresh.done()
            self._shutdown()
            refresh.added(self._commit(writer), time.monotonic())
            if refresh.pending:
                after_run(con, self.archive.home)
                notify_patients(self.archive, con, 1)
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
        return ListenSummary(self.received, writer.totals.inserted, writer.totals.already_present,
                             self.quarantined, self.bytes, status, self.replayed)

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
