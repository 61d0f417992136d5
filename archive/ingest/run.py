"""An import run: every file under some folders, zip files, CD images or DICOMDIR media, into the archive.

Worker processes (one per core) read, hash, parse and encrypt files into the vault; the main
process is the store's single writer and commits the records in large batches. The import is
idempotent on SOP Instance UID: a second run stores nothing and says so. If the run is killed,
everything committed so far stays, and vault files written without a store row are simply found
again (by content hash) on the rerun, which completes the import. ``limestone import`` and
``limestone demo`` run it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Iterable, Iterator, Protocol

import duckdb

from archive.home import Archive, Home
from archive.ingest.filing import store_writer
from archive.ingest.intake import Outcome, examine
from archive.ingest.sources import Discovery, Item, Limits, Refused, discover
from archive.layout import is_object_url
from archive.patient_access.notices import after_ingest as notify_patients
from archive.repeats.update import after_run
from archive.store.connection import threads
from archive.store.maintenance import compact_if_fragmented
from archive.store.runs import IngestRun, finish_run, start_run
from archive.store.writer import StoreWriter, new_run_id
from archive.vault import Vault

log = logging.getLogger("limestone.import")

CHUNK = 32  # files per task sent to a worker: amortises inter-process overhead
# With the vault in object storage a task's files go out as one pack (one PUT and one index
# transaction, ~20 ms together): 32 files a pack cost ~0.6 ms a file, 512 a few hundredths.
PACKED_CHUNK = 512
HELD_BYTES = 64 << 20  # file bytes a worker holds at most before writing their vault files
REFUSED_NAMED = 100  # refused files named in the summary; the count covers them all


@dataclass
class Progress(Protocol):
    """A progress display: one ``update()`` per file, ``close()`` at the end (e.g. a tqdm bar)."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class ImportSummary(IngestRun):
    """An ingest run's counts, plus what the person who started it wants to know."""

    seconds: float = 0.0
    interrupted: bool = False
    refused: int = 0          # not read: past a size or count limit, or leading out of the source
    refused_files: list[str] = field(default_factory=list)   # "name: reason", the first REFUSED_NAMED

    @property
    def instances_per_second(self) -> float:
        done = self.imported + self.already_present
        return done / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if (self.quarantined or self.failed or self.refused) else 0

    def as_dict(self) -> dict[str, Any]:
        counts = {k: v for k, v in asdict(self).items() if k not in ("started_at", "finished_at")}
        return dict(counts, instances_per_second=round(self.instances_per_second, 1))

    def sentence(self) -> str:
        if self.imported == 0 and self.already_present and not (self.quarantined or self.failed):
            head = f"Nothing new: all {self.already_present} instances were already in the archive."
        else:
            head = (f"Imported {self.imported} new instances ({self.bytes / 1e6:.1f} MB), "
                    f"{self.already_present} already present.")
        text = (f"{head} Skipped {self.skipped} non-DICOM files, quarantined {self.quarantined}, "
                f"failed {self.failed}. {self.files_seen} files in {self.seconds:.1f} s "
                f"({self.instances_per_second:.0f} instances/s).")
        if self.refused:
            more = self.refused - len(self.refused_files)
            text += (f"\nRefused {self.refused} (not read): " + "; ".join(self.refused_files)
                     + (f"; and {more} more" if more > 0 else ""))
        return text

    def refuse(self, name: str, reason: str) -> None:
        """Count a file that was not read, naming the first ``REFUSED_NAMED`` of them."""
        self.refused += 1
        if len(self.refused_files) < REFUSED_NAMED:
            self.refused_files.append(f"{name}: {reason}")


# ---- worker side ------------------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _init_worker_process(*args: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # the parent decides when to stop, and commits first
    _init_worker(*args)


def _init_worker(home: Home, master_key: str, master_key_id: str, max_file_bytes: int) -> None:
    _worker.update(vault=Vault(home, master_key, master_key_id), quarantine=home.quarantine_dir, containers={},
                   max_file_bytes=max_file_bytes)


def _process(items: list[Item]) -> list[Outcome]:
    outcomes = []
    held: list[tuple[Outcome, bytes]] = []   # examined, their vault files not yet written
    held_bytes = 0
    for item in items:
        try:
            data = item.read(_worker["containers"], _worker["max_file_bytes"])
        except Refused as exc:
            outcomes.append(Outcome("refused", item.name, reason=str(exc)))
            continue
        except (OSError, KeyError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
            outcomes.append(Outcome("failed", item.name, reason=f"cannot read: {exc}"))
            continue
        outcome = examine(data, item.name, _worker["quarantine"])
        outcomes.append(outcome)
        if outcome.kind == "stored":
            held.append((outcome, data))
            held_bytes += len(data)
            if held_bytes >= HELD_BYTES:
                _put(held)
                held, held_bytes = [], 0
    _put(held)
    return outcomes


def _put(held: list[tuple[Outcome, bytes]]) -> None:
    """Write the vault files of examined outcomes, together (object storage sends them at once)."""
    written = _worker["vault"].put_many([(data, outcome.digest) for outcome, data in held]) if held else set()
    for outcome, _ in held:
        outcome.written = outcome.digest in written


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _outcomes(archive: Archive, items: Iterable[Item], workers: int, limits: Limits) -> Iterator[Outcome]:
    """Process items on ``workers`` processes (inline when 1), in order, with bounded look-ahead."""
    settings = archive.settings
    init_args = (archive.home, settings.master_key, settings.master_key_id, limits.max_file_bytes)
    size = PACKED_CHUNK if is_object_url(archive.home.vault_url) else CHUNK
    if workers <= 1:
        _init_worker(*init_args)
        for chunk in _chunks(items, size):
            yield from _process(chunk)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker_process, initargs=init_args) as pool:
        pending: deque[Future[list[Outcome]]] = deque()
        try:
            for chunk in _chunks(items, size):
                pending.append(pool.submit(_process, chunk))
                while len(pending) >= workers * 4:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


# ---- main side --------------------------------------------------------------------------------------
def import_paths(archive: Archive, paths: list[Path], site: str | None = None, kind: str = "import",
                 progress: Callable[[], Progress] | None = None, workers: int | None = None,
                 update_repeats: bool = True, store: duckdb.DuckDBPyConnection | None = None) -> ImportSummary:
    """Import every file under ``paths``; return the run's summary (see ``ImportSummary.exit_code``).

    ``store``: an open writer connection to the store to use (a job worker keeps one between
    jobs, ``archive.store.pool``); left open. Without it, one is opened and closed here.

    ``progress``, when given, makes the progress display (the command line passes a tqdm bar when it
    runs in a terminal). SIGINT and SIGTERM stop the run after the current file, with what was read
    committed (``ImportSummary.interrupted``).

    When it stored something, the repeat metrics are brought up to date at the end
    (``archive.repeats.update``) unless ``update_repeats`` is False (a caller that does it itself).
    """
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    paths = [Path(p) for p in paths]
    archive.home.ensure()
    archive.vault.ensure_key()  # before workers start, so they never race to create one
    workers = workers or archive.settings.import_workers or os.cpu_count() or 1
    summary = ImportSummary(new_run_id(), kind, _describe(paths), site)
    con = store or archive.store()
    start_run(con, summary)
    writer = store_writer(con, archive.home, summary.run_id, site=site, batch_size=archive.settings.batch_size,
                         vault=archive.vault)
    discovery = Discovery(limits=Limits.from_settings(archive.settings))
    started = time.perf_counter()
    bar = progress() if progress else _NoProgress()
    stop = _StopRequest()
    completed = False
    try:
        with threads(con, 1):   # the workers hold the cores
            for outcome in _outcomes(archive, discover(paths, discovery), workers, discovery.limits):
                summary.files_seen += 1
                bar.update()
                _count(outcome, summary, writer)
                if stop.requested:
                    summary.interrupted = True
                    break
            writer.flush()  # also on interruption: keep everything received so far
        completed = not summary.interrupted
    finally:
        stop.restore()
        bar.close()
        for problem in discovery.problems:
            log.warning("%s", problem)
        summary.failed += len(discovery.problems)
        for name, reason in discovery.refused:
            summary.refuse(name, reason)
            log.warning("refused %s: %s", name, reason)
        summary.imported = writer.totals.inserted
        summary.already_present = writer.totals.already_present
        summary.bytes = writer.totals.bytes
        summary.seconds = time.perf_counter() - started
        status = "interrupted" if summary.interrupted else ("failed" if summary.exit_code else "ok")
        finish_run(con, summary, status)
        compact_if_fragmented(con)
        if completed and update_repeats and summary.imported:
            after_run(con, archive.home)  # after the summary: its seconds are the import's own
        if completed:
            notify_patients(archive, con, summary.imported)   # "you have new images" (best-effort)
        if store is None:
            con.close()
    return summary


def _count(outcome: Outcome, summary: ImportSummary, writer: StoreWriter) -> None:
    digest = outcome.digest or ""   # set on every stored and quarantined outcome (intake)
    if outcome.kind == "stored" and outcome.record is not None:
        writer.add(outcome.record, outcome.size, digest, written=outcome.written)
    elif outcome.kind == "skipped":
        summary.skipped += 1
    elif outcome.kind == "quarantined":
        summary.quarantined += 1
        writer.quarantined(digest, outcome.name, outcome.reason or "", outcome.size)
        log.warning("quarantined file %s…: %s", digest[:12], outcome.reason)
    elif outcome.kind == "refused":
        summary.refuse(outcome.name, outcome.reason or "refused")
        log.warning("refused %s: %s", outcome.name, outcome.reason)
    else:
        summary.failed += 1
        log.warning("failed to read a file: %s", outcome.reason)


class _StopRequest:
    """SIGINT/SIGTERM ask the import to stop after the current file, so the last batch is committed."""

    def __init__(self) -> None:
        self.requested = False
        # Only the main thread may set handlers: a job worker runs imports in threads (and stops
        # them its own way).
        main = threading.current_thread() is threading.main_thread()
        self._previous = {sig: signal.signal(sig, self._request) for sig in (signal.SIGINT, signal.SIGTERM)} \
            if main else {}

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _describe(paths: list[Path]) -> str:
    names = [p.name or str(p) for p in paths[:3]]
    return ", ".join(names) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
