"""Pulling a PACS node's studies into the archive: planning, retrieval and completeness.

1. C-FIND (study root, study level) for the window. Every study found is recorded in the store
   (study rows flagged 'not retrieved' until their images arrive; while the first studies are
   fetched, and before any of their instances), so the archive shows the node's contents even
   before, or without (metadata only, which also records series), any image is fetched.
2. Studies not yet complete in the archive (fewer instances than the node reports) are retrieved
   by C-GET or C-MOVE (to our own storage SCP, started for the run), several at a time, up to the
   node's limit of associations. C-GET runs in worker processes (DICOM decoding and encryption
   use both cores); C-MOVE workers are threads, as the instances arrive at our one SCP. A
   study that comes back with gaps is completed instance by instance (see ``retrieve``).
3. Received bytes go to the vault as they arrive and rows to the store in batches.
4. At the end, the patient links and repeat metrics are brought up to date if the run changed any
   study (``archive.repeats.update``).

Incremental: without a date window, a pull asks for studies dated from the end of the last run
that finished without failure (less ``pull_overlap_days``, for studies that reach the PACS late);
the first run asks for everything. Studies a previous run found but did not complete are asked
for again whatever the window, so a killed run, rerun, fetches only what is missing. Only runs
without a modality, patient or study filter move the window on.

A node with a DICOMweb URL is pulled over DICOMweb instead (``archive.network.dicomweb``): QIDO-RS
for the studies (paged, in narrower windows when the node caps its answers) and series, WADO-RS
for each study as one streamed multipart answer in its stored transfer syntax (worker processes,
up to the node's ``max_connections`` studies at a time), the series metadata resource for
metadata only. The same status rows, summary and repeat-metrics update.

Failures (a node that cannot be reached, refuses us, times out, loses a study, answers with a
malformed identifier) are collected one line each naming node and study; the run carries on.
Nothing received before a failure is lost. ``limestone pull`` (pipelines/pull.py) is the command.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Callable, Protocol

from archive.clock import now_utc
from archive.dicom import values as v
from archive.home import Archive
from archive.ingest.filing import store_writer
from archive.ingest.intake import Outcome, ingest_bytes
from archive.network.dicomweb import DicomWebClient, web_settings
from archive.network.dicomweb import pull as web_pull
from archive.network.dicomweb import worker as web_worker
from archive.network.errors import NetworkError
from archive.network.jobs import StudyJob, StudyResult
from archive.network.nodes import Node, NodeRegistry, StudyStatusValues
from archive.network.query import FIND_MODEL, RemoteStudy, StudyFilter, find_series, find_studies
from archive.network.status import STORE_QUARANTINED, STORE_SUCCESS
from archive.patient_access.notices import after_ingest as notify_patients
from archive.repeats.update import after_run
from archive.store import remote
from archive.store.runs import IngestRun, finish_run, start_run
from archive.store.writer import StoreWriter, new_run_id

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from archive.network.retrieve import MoveTracker

log = logging.getLogger("limestone.pull")

# Consecutive studies that find the node unreachable before the rest are given up.
UNREACHABLE_LIMIT = 3
FLUSH_SECONDS = 30.0


# ---- the request and the summary ----------------------------------------------------------------
@dataclass(frozen=True)
class PullRequest:
    """What one pull asks a node for: a date window and filters, and whether images are retrieved.

    Without dates and filters, the window starts where the last good run of the same mode ended
    (less ``pull_overlap_days``); a filtered run never moves that window on.
    """

    since: date | None = None
    until: date | None = None
    modality: str | None = None
    patient_id: str | None = None
    study: str | None = None
    metadata_only: bool = False

    @property
    def mode(self) -> str:
        """The incremental window this request belongs to: 'metadata' or 'retrieve'."""
        return "metadata" if self.metadata_only else "retrieve"

    @property
    def filtered(self) -> bool:
        return bool(self.modality or self.patient_id or self.study)


@dataclass
class PullSummary:
    node: str
    metadata_only: bool = False
    found: int = 0
    new: int = 0                  # not in the store before this run
    already_complete: int = 0
    retrieved: int = 0            # studies completed by this run
    failed_studies: int = 0
    series_recorded: int = 0
    instances: int = 0            # received in this run
    imported: int = 0
    already_present: int = 0
    quarantined: int = 0
    failed_instances: int = 0
    bytes: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.failed_studies > 0 or self.interrupted

    def lines(self) -> list[str]:
        head = (f"pull {self.node}: {self.found} studies found ({self.new} new to the archive, "
                f"{self.already_complete} already complete)")
        if self.metadata_only:
            return [head, f"  metadata only: {self.series_recorded} new series recorded; images not "
                          f"retrieved; {len(self.errors)} problems"]
        rate = self.instances / self.seconds if self.seconds > 0 else 0.0
        return [head,
                f"  retrieved: {self.retrieved} studies complete, {self.failed_studies} failed",
                f"  instances: {self.instances:,} received ({self.imported:,} new, "
                f"{self.already_present:,} already archived, {self.quarantined:,} quarantined), "
                f"{self.failed_instances:,} failed; {self.bytes / 1e6:,.1f} MB in {self.seconds:.1f} s "
                f"({rate:,.0f} instances/s)"]


# ---- the pull ----------------------------------------------------------------------------------
class Progress(Protocol):
    def update(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[int, str], Progress]


class NoProgress:
    """The progress display when there is none to show."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class Puller:
    """One pull from one node: C-FIND, recording what was found, then retrieval (C-GET or C-MOVE).

    ``progress``, when given, makes a progress display for (instances expected, label); the
    command line passes a tqdm bar when it runs in a terminal.
    """

    def __init__(self, archive: Archive, node: Node, registry: NodeRegistry,
                 progress: ProgressFactory | None = None, update_repeats: bool = True):
        self.archive = archive
        self.update_repeats = update_repeats   # False: the caller brings the repeat metrics up to date
        self.progress = progress
        self.settings = archive.settings
        self.node = node
        self.registry = registry
        self.con: DuckDBPyConnection    # the store, opened by ``run``
        self.writer: StoreWriter | None = None
        self.outcomes: "queue.Queue[Outcome]" = queue.Queue()
        self.pending_state: list[tuple] = []
        self.pending_failures: list[tuple[str, list[tuple[str, str]]]] = []
        self.touched: set[str] = set()
        self.run_id = ""
        self.get_workers: ProcessPoolExecutor | None = None

    # -- window ---------------------------------------------------------------------------------
    def window(self, request: PullRequest) -> tuple[StudyFilter, bool]:
        """The C-FIND filter, and whether this run may move the incremental window on.

        Raises ValueError for a window or UID that cannot be asked for.
        """
        since, until = request.since, request.until
        if since is None and until is None and not request.filtered:
            _, last_until = self.registry.last_window(self.node.name, request.mode)
            if last_until is not None:
                since = last_until - timedelta(days=self.settings.pull_overlap_days)
        selection = StudyFilter(since, until, request.modality, request.patient_id, request.study)
        return selection, not request.filtered

    # -- main -----------------------------------------------------------------------------------
    def run(self, request: PullRequest, selection: StudyFilter, advances: bool) -> PullSummary:
        """Find, record and (unless metadata only) retrieve the studies ``selection`` names.

        Failures are collected in the summary; only KeyboardInterrupt (Ctrl-C, or SIGTERM turned
        into it by the caller) propagates, after what was received is committed.
        """
        mode = request.mode
        summary = PullSummary(self.node.name, metadata_only=request.metadata_only)
        started = time.monotonic()
        self._ensure_master_key()   # before any row or file is written, and before a worker opens the vault
        if not request.metadata_only and (self.node.dicomweb or self.node.retrieve_method == "get"):
            self._start_get_workers()   # they load (~0.5 s of imports each) while the store opens
        run = IngestRun(new_run_id(), "pull", f"node {self.node.name}", self.node.site)
        self.run_id = run.run_id
        try:
            self.con = self.archive.store()
            if not request.metadata_only:
                # The workers (or the C-MOVE receiver) take the cores; the run's own statements
                # are small catalog reads and writes, which cost about half the CPU on one DuckDB
                # thread (measured on 2,000 instances: the found studies' upsert 0.60 -> 0.34 s,
                # the batch commit 0.58 -> 0.31 s).
                self.con.execute("SET threads = 1")
            start_run(self.con, run)
        except BaseException:
            self._stop_get_workers()
            raise
        status = "failed"
        try:
            studies = self._find(selection, summary, include_unfinished=advances and not request.metadata_only)
            if request.study and not any(s.study_uid == request.study for s in studies):
                summary.errors.append(f"node {self.node.address}: study {request.study} not found")
            if studies:
                if request.metadata_only:
                    self._record_found(studies)
                    self._metadata(studies, summary)
                else:
                    self._retrieve(studies, summary)
            status = "failed" if summary.failed else "ok"
        except NetworkError as exc:
            summary.errors.append(str(exc))
        except KeyboardInterrupt:
            summary.interrupted = True
            status = "interrupted"
            raise
        finally:
            self._stop_get_workers()
            self._flush()
            if self.touched:
                remote.refresh_retrieve_status(self.con, self.archive.home, self.touched)
            summary.seconds = time.monotonic() - started
            totals = self.writer.totals if self.writer else None
            run.files_seen = summary.instances
            run.imported = totals.inserted if totals else 0
            run.already_present = totals.already_present if totals else 0
            run.quarantined = summary.quarantined
            run.failed = summary.failed_instances + summary.failed_studies + len(summary.errors)
            run.bytes = summary.bytes
            summary.imported, summary.already_present = run.imported, run.already_present
            finish_run(self.con, run, status)
            until = selection.until or now_utc().date()
            self.registry.record_run(self.node.name, mode, selection.since, until,
                                     status if advances else "filtered")
            if not summary.interrupted and self.update_repeats:
                self.con.execute("RESET threads")   # workers done: the whole-archive update may use every core
                after_run(self.con, self.archive.home)  # the repeat metrics include what came in
                notify_patients(self.archive, self.con, run.imported)   # "you have new images"
            self.con.close()
        return summary

    def _ensure_master_key(self) -> None:
        # Worker processes each open the vault: make the first master key here, once, and refuse
        # a wrong one (its key check value) before anything is retrieved.
        self.archive.vault.ensure_key()

    # -- C-FIND ---------------------------------------------------------------------------------
    def study_uids(self, selection: StudyFilter) -> list[str]:
        """The Study Instance UIDs the node lists for ``selection`` (C-FIND or QIDO-RS); nothing is
        recorded. A job queue splits a window's pull into one job per study with it."""
        if self.node.dicomweb:
            client = self._web()
            try:
                studies, problems = web_pull.find_studies(client, self.node, selection)
            finally:
                client.close()
        else:
            from pynetdicom.presentation import build_context

            from archive.network.association import associate, close
            assoc = associate(self.node, self.settings.ae_title, [build_context(FIND_MODEL)],
                              timeout=self.settings.dicom_timeout)
            try:
                studies, problems = find_studies(assoc, self.node, selection)
            finally:
                close(assoc)
        if problems:
            raise NetworkError("; ".join(problems))
        return list(dict.fromkeys(s.study_uid for s in studies))

    def _web(self) -> DicomWebClient:
        return DicomWebClient(self.node, web_settings(self.settings, self.archive.home.root, self.node))

    def _find(self, selection: StudyFilter, summary: PullSummary, include_unfinished: bool) -> list[RemoteStudy]:
        if self.node.dicomweb:
            client = self._web()
            assoc = None
            finder = lambda sel: web_pull.find_studies(client, self.node, sel)  # noqa: E731
        else:
            from pynetdicom.presentation import build_context

            from archive.network.association import associate
            client = None
            assoc = associate(self.node, self.settings.ae_title, [build_context(FIND_MODEL)],
                              timeout=self.settings.dicom_timeout)
            finder = lambda sel: find_studies(assoc, self.node, sel)  # noqa: E731
        try:
            studies, problems = finder(selection)
            summary.errors.extend(problems)
            if include_unfinished:
                listed = {s.study_uid for s in studies}
                for uid in self.registry.unfinished_studies(self.node.name):
                    if uid in listed:
                        continue
                    again, problems = finder(StudyFilter(study_uid=uid))
                    summary.errors.extend(problems)
                    if again:
                        studies.extend(again)
                    else:
                        log.warning("node %s: study %s, unfinished by an earlier run, is no longer "
                                    "on the node", self.node.name, uid)
                        self.registry.record_studies(self.node.name, [(uid, None, None,
                                                                       StudyStatusValues.GONE.value,
                                                                       "no longer on the node")])
        finally:
            if assoc is not None:
                from archive.network.association import close
                close(assoc)
            if client is not None:
                client.close()
        summary.found = len(studies)
        if studies:
            known = remote.retrieve_status(self.con, [s.study_uid for s in studies])
            summary.new = sum(1 for s in studies if s.study_uid not in known)
        return studies

    def _record_found(self, studies: list[RemoteStudy]) -> None:
        """Record the studies found in the store (rows 'not retrieved' until their images arrive)."""
        remote.upsert_remote_studies(self.con, self.archive.home, self.node.name, self.node.site,
                                     [(s.identifier, s.remote_instances) for s in studies])
        self.touched.update(s.study_uid for s in studies)

    def _metadata(self, studies: list[RemoteStudy], summary: PullSummary) -> None:
        if self.node.dicomweb:
            client = self._web()
            assoc = None
            series_of = lambda uid: web_pull.find_series_metadata(client, self.node, uid)  # noqa: E731
        else:
            from pynetdicom.presentation import build_context

            from archive.network.association import associate
            client = None
            assoc = associate(self.node, self.settings.ae_title, [build_context(FIND_MODEL)],
                              timeout=self.settings.dicom_timeout)
            series_of = lambda uid: find_series(assoc, self.node, uid)  # noqa: E731
        series_rows: list[tuple[Any, int | None]] = []
        try:
            for study in studies:
                try:
                    found, problems = series_of(study.study_uid)
                except NetworkError as exc:
                    summary.errors.append(str(exc))
                    summary.failed_studies += 1
                    if exc.unreachable:
                        break
                    continue
                summary.errors.extend(problems)
                series_rows.extend((ds, v.to_int(ds.get("NumberOfSeriesRelatedInstances"))) for ds in found)
        finally:
            if assoc is not None:
                from archive.network.association import close
                close(assoc)
            if client is not None:
                client.close()
        _, summary.series_recorded = remote.upsert_remote_studies(
            self.con, self.archive.home, self.node.name, self.node.site, [], series_rows)
        have = remote.local_instances(self.con, [s.study_uid for s in studies])
        state = self.registry.study_states(self.node.name, [s.study_uid for s in studies])
        keep = {StudyStatusValues.FOUND.value, StudyStatusValues.PARTIAL.value, StudyStatusValues.FAILED.value}
        rows = []
        for study in studies:
            count = len(have.get(study.study_uid, ()))
            complete = study.remote_instances is not None and count >= study.remote_instances
            summary.already_complete += complete
            if not complete and state.get(study.study_uid, (None,))[0] in keep:
                continue  # a retrieval to finish: the next retrieving run still takes it up
            rows.append((study.study_uid, study.study_date, study.remote_instances,
                         StudyStatusValues.COMPLETE.value if complete else StudyStatusValues.METADATA.value, None))
        self.registry.record_studies(self.node.name, rows)

    # -- retrieval -------------------------------------------------------------------------------
    def _jobs(self, studies: list[RemoteStudy], summary: PullSummary) -> list[tuple[StudyJob, RemoteStudy]]:
        have = remote.local_instances(self.con, [s.study_uid for s in studies])
        state = self.registry.study_states(self.node.name, [s.study_uid for s in studies])
        jobs, done_rows = [], []
        for study in studies:
            local = have.get(study.study_uid, set())
            status, remote_then = state.get(study.study_uid, (None, None))
            # Complete when the archive holds as many instances as the node reports, or when the
            # last run received all of them (some may be in quarantine, not in the store) and the
            # node still reports the same number.
            complete = (study.remote_instances is not None and len(local) >= study.remote_instances) or (
                status == StudyStatusValues.COMPLETE.value and remote_then == study.remote_instances
                and bool(local))
            if complete:
                summary.already_complete += 1
                done_rows.append((study.study_uid, study.study_date, study.remote_instances,
                                  StudyStatusValues.COMPLETE.value, None))
                continue
            jobs.append((StudyJob(study.study_uid, study.sop_classes, study.remote_instances,
                                  frozenset(local)), study))
        if done_rows:
            self.registry.record_studies(self.node.name, done_rows)
        return jobs

    def _retrieve(self, studies: list[RemoteStudy], summary: PullSummary) -> None:
        """Record the studies found and retrieve those not complete in the archive.

        The workers get their studies first, and the parent records the studies found while they
        fetch (that write costs about a second of a DuckLake store): the found rows are committed
        before any batch of received instances, which the parent writes after them.
        """
        jobs = self._jobs(studies, summary)
        if not jobs:
            self._record_found(studies)
            return
        # Marked as found first: if this run is killed, the next one takes them up, whatever its window.
        self.registry.record_studies(self.node.name, [
            (job.study_uid, study.study_date, study.remote_instances, StudyStatusValues.FOUND.value, None)
            for job, study in jobs])
        self.writer = store_writer(self.con, self.archive.home, self.run_id, site=self.node.site,
                                  batch_size=10**9, vault=self.archive.vault)
        total = sum((s.remote_instances or 0) - len(j.have) for j, s in jobs)
        progress = self.progress(total, f"pull {self.node.name}") if self.progress else NoProgress()
        workers = min(self.node.max_associations, len(jobs))
        scp = None
        executor: Executor
        if self.node.dicomweb:
            executor = self._get_workers()
            submit = lambda job: executor.submit(web_worker.retrieve, job)  # noqa: E731
        elif self.node.retrieve_method == "move":
            from archive.network.retrieve import MoveSession, MoveTracker
            from archive.network.storage import start_storage_scp
            tracker = MoveTracker()
            scp = start_storage_scp(self.settings.ae_title, self.settings.dicom_port,
                                    self._move_receiver(tracker), bind=self.settings.dicom_bind,
                                    timeout=self.settings.dicom_timeout)
            sessions: "queue.Queue[MoveSession]" = queue.Queue()
            for _ in range(workers):
                sessions.put(MoveSession(self.node, self.settings.ae_title, tracker,
                                         timeout=self.settings.dicom_timeout))

            def move_study(job: StudyJob) -> StudyResult:
                session = sessions.get()
                try:
                    return session.retrieve(job)
                finally:
                    sessions.put(session)
            executor = ThreadPoolExecutor(workers, thread_name_prefix="pull")
            submit = lambda job: executor.submit(move_study, job)  # noqa: E731
        else:
            from archive.network import pull_worker
            executor = self._get_workers()
            submit = lambda job: executor.submit(pull_worker.retrieve, job)  # noqa: E731
        futures: dict[Future, tuple[StudyJob, RemoteStudy]] = {submit(job): (job, study) for job, study in jobs}
        unreachable_streak = 0
        last_flush, flushed_at = time.monotonic(), 0
        try:
            self._record_found(studies)
            while futures:
                done, _ = wait(futures, timeout=0.25, return_when=FIRST_COMPLETED)
                self._drain(summary, progress)
                for future in done:
                    job, study = futures.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # a worker died (killed, out of memory)
                        result = StudyResult(job.study_uid, error=f"node {self.node.name}: study "
                                             f"{job.study_uid}: worker failed ({type(exc).__name__})")
                    self._take(result, study, summary, progress)
                    unreachable_streak = unreachable_streak + 1 if result.unreachable else 0
                if unreachable_streak >= UNREACHABLE_LIMIT and futures:
                    self._give_up(futures, summary)
                # Few, large commits: each one is a DuckLake snapshot and costs seconds on a busy machine.
                if (summary.instances - flushed_at >= self.settings.batch_size
                        or (summary.instances > flushed_at and time.monotonic() - last_flush > FLUSH_SECONDS)):
                    self._flush()
                    last_flush, flushed_at = time.monotonic(), summary.instances
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            if scp is not None:
                scp.shutdown()
            self._drain(summary, progress)
            progress.close()

    def _get_workers(self) -> ProcessPoolExecutor:
        """The C-GET worker processes (started early, see ``_start_get_workers``)."""
        if self.get_workers is None:
            self._start_get_workers()
        assert self.get_workers is not None     # started just above
        return self.get_workers

    def _start_get_workers(self) -> None:
        """Start the worker processes now, so they load while the C-FIND runs."""
        if self.node.dicomweb:
            # WADO-RS workers: one study each at a time, up to the node's connections, and no more
            # processes than cores (the transfer costs ~0.03 ms CPU an instance; checking, hashing
            # and encrypting it ~1 ms, so more processes than cores only add start-up time).
            count = max(1, min(self.node.max_connections, max(2, os.cpu_count() or 1)))
            self.get_workers = ProcessPoolExecutor(
                count, mp_context=multiprocessing.get_context("spawn"), initializer=web_worker.init,
                initargs=(self.archive.home, self.settings.master_key, self.settings.master_key_id,
                          self.node.as_dict(), web_settings(self.settings, self.archive.home.root, self.node)))
            for _ in range(count):
                self.get_workers.submit(web_worker.ready)
            return
        from archive.network import pull_worker  # loads pynetdicom: only for C-GET
        self.get_workers = ProcessPoolExecutor(
            self.node.max_associations, mp_context=multiprocessing.get_context("spawn"),
            initializer=pull_worker.init,
            initargs=(self.archive.home, self.settings.master_key, self.settings.master_key_id,
                      self.node.as_dict(), self.settings.ae_title, self.settings.dicom_timeout))
        for _ in range(self.node.max_associations):
            self.get_workers.submit(pull_worker.ready)

    def _stop_get_workers(self) -> None:
        if self.get_workers is not None:
            self.get_workers.shutdown(wait=True, cancel_futures=True)

    def _give_up(self, futures: dict, summary: PullSummary) -> None:
        cancelled = [(f, js) for f, js in list(futures.items()) if f.cancel()]
        for future, (job, study) in cancelled:
            futures.pop(future)
            message = f"node {self.node.address}: study {job.study_uid}: not tried, the node is unreachable"
            self._take(StudyResult(job.study_uid, error=message, unreachable=True), study, summary, None)

    def _move_receiver(self, tracker: MoveTracker) -> Callable[[bytes, str], int]:
        home, vault = self.archive.home, self.archive.vault

        def receive(data: bytes, calling_ae: str) -> int:
            outcome = ingest_bytes(data, f"from-{calling_ae}.dcm", vault, home.quarantine_dir)
            if outcome.record is not None:
                tracker.add(outcome.record.study.row["study_instance_uid"],
                            outcome.record.instance.row["sop_instance_uid"])
            self.outcomes.put(outcome)
            return STORE_QUARANTINED if outcome.kind == "quarantined" else STORE_SUCCESS
        return receive

    def _drain(self, summary: PullSummary, progress: Progress | None) -> None:
        while True:
            try:
                outcome = self.outcomes.get_nowait()
            except queue.Empty:
                return
            self._keep(outcome, summary)
            if progress is not None:
                progress.update(1)

    def _keep(self, outcome: Outcome, summary: PullSummary) -> None:
        summary.instances += 1
        summary.bytes += outcome.size
        writer = self.writer
        assert writer is not None     # made by ``_retrieve`` before any outcome arrives
        if outcome.kind == "stored" and outcome.record is not None:
            writer.add(outcome.record, outcome.size, outcome.digest or "", source_ae=self.node.ae_title or None,
                       written=outcome.written)
        elif outcome.kind == "quarantined":
            summary.quarantined += 1
            writer.quarantined(outcome.digest or "", outcome.name, outcome.reason or "", outcome.size)

    def _take(self, result: StudyResult, study: RemoteStudy, summary: PullSummary,
              progress: Progress | None) -> None:
        for outcome in result.outcomes:
            self._keep(outcome, summary)
        if progress is not None and result.outcomes:
            progress.update(len(result.outcomes))
        summary.errors.extend(result.problems)
        summary.failed_instances += len(result.failures)
        if result.complete and not result.error:
            summary.retrieved += 1
            status, error = StudyStatusValues.COMPLETE.value, None
        else:
            summary.failed_studies += 1
            summary.errors.append(result.error or f"node {self.node.address}: study {result.study_uid}: "
                                                  "not complete")
            status = (StudyStatusValues.PARTIAL if result.received else StudyStatusValues.FAILED).value
            error = (result.error or "")[:300]
        remote_count = result.listed if study.remote_instances is None else study.remote_instances
        self.pending_state.append((result.study_uid, study.study_date, remote_count, status, error))
        self.pending_failures.append((result.study_uid, result.failures))

    def _flush(self) -> None:
        """Commit received rows, then the state that depends on them (never the other way round)."""
        if self.writer is not None:
            self.writer.flush()
        if self.pending_state:
            self.registry.record_studies(self.node.name, self.pending_state, count_attempt=True)
            self.pending_state = []
        for study_uid, failures in self.pending_failures:
            self.registry.clear_instance_failures(self.node.name, study_uid)
            if failures:
                self.registry.record_instance_failures(self.node.name, study_uid, failures)
        self.pending_failures = []
