"""Receiving what modalities and PACS send: a storage SCP filing every instance into the archive.

Accepts C-ECHO and C-STORE of every storage SOP class in every transfer syntax. Each instance is
kept as sent: its bytes, sealed for the vault, are in the fsync'd receive journal before the sender
is told it is stored (``archive.ingest.journal``: one flush per instance, shared between concurrent
associations); the vault files and the store rows follow in batches (at the latest
``listen_flush_seconds`` after arrival), the vault files synced once per batch, before the rows
commit and the journal segment is deleted. Damaged instances
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
from archive.ingest.intake import Outcome, quarantine, read_record
from archive.network.status import STORE_QUARANTINED, STORE_SUCCESS
from archive.network.storage import start_storage_scp
from archive.patient_access.notices import after_ingest as notify_patients
from archive.repeats.update import RefreshSchedule, after_run
from archive.store.runs import IngestRun, finish_run, start_run
from archive.store.writer import StoreWriter, new_run_id
from archive.vault import content_hash

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
        self.arrived: "queue.Queue[tuple[Outcome, str, bytes]]" = queue.Queue()
        self._held: list[tuple[Outcome, str, bytes]] = []   # drained, not yet filed (with sealed bytes)
        self.stop = threading.Event()
        self.received = 0
        self.quarantined = 0
        self.bytes = 0
        self.server: Any = None
        self.journal = journal.Journal(archive.home, "listen")
        self.replayed = 0

    def receive(self, data: bytes, calling_ae: str) -> int:
        # Acknowledged means durable: the instance's sealed vault file is in the journal, and the
        # journal is fsync'd, before the status goes back; the vault file and the store row follow
        # with the next batch (``_commit``).
        name = f"from-{calling_ae or 'unknown'}.dcm"
        record, kind, reason = read_record(data, name)
        outcome = Outcome(kind, name, len(data), record=record, reason=reason)
        sealed = b""
        if kind != "skipped":
            outcome.digest = digest = content_hash(data)
            if kind == "quarantined":
                quarantine(self.archive.home.quarantine_dir, data, digest, name, reason or "", durable=True)
            elif not self.archive.vault.has(digest):
                sealed = self.archive.vault.seal(data, digest)
        ticket = None
        with self.journal.lock:
            if kind in ("stored", "quarantined"):
                ticket = self.journal.append(journal.Entry(kind, outcome.digest or "", outcome.size,
                                                           name, calling_ae or None, reason), sealed)
            self.arrived.put((outcome, calling_ae, sealed))
        if ticket is not None:
            self.journal.sync(ticket)
        return STORE_QUARANTINED if kind == "quarantined" else STORE_SUCCESS

    def _commit(self, writer: StoreWriter) -> int:
        """File everything received so far: vault files (durable), then the store rows that name
        them (one commit), then forget the journal segment that held them."""
        with self.journal.lock:
            segment = self.journal.rotate()
            self._drain()
        held, self._held = self._held, []
        written = self.archive.vault.put_sealed([(o.digest or "", sealed) for o, _, sealed in held if sealed])
        for outcome, calling_ae, _ in held:
            if outcome.kind == "stored" and outcome.record is not None:
                writer.add(outcome.record, outcome.size, outcome.digest or "", source_ae=calling_ae,
                           written=outcome.digest in written)
            else:
                writer.quarantined(outcome.digest or "", outcome.name, outcome.reason or "", outcome.size)
        inserted = writer.flush().inserted
        journal.committed(segment)
        return inserted

    def _drain(self) -> int:
        """Move what arrived to the batch being held; return how many."""
        taken = 0
        while True:
            try:
                outcome, calling_ae, sealed = self.arrived.get_nowait()
            except queue.Empty:
                return taken
            self.received += 1
            self.bytes += outcome.size
            if outcome.kind == "skipped":
                log.warning("received a file that is not DICOM from %s; ignored", calling_ae or "unknown AE")
                continue
            taken += 1
            self.quarantined += outcome.kind == "quarantined"
            self._held.append((outcome, calling_ae, sealed))

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
                             vault=vault, vault_durable=True)   # put_sealed: each file durable already
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
                pending += self._drain()
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
