"""The incremental image quality run behind ``limestone qa``.

The main process asks the store which instances have no metrics of the current version yet
(optionally only studies since a date, or one modality), hands them in small chunks to worker
processes (one per core) that read the original from the vault, decode it
(``archive.dicom.pixels``) and measure it (``archive.quality.metrics``), and commits the rows in
large batches under the store's write lock. Every instance gets a row, also when it has no image
or cannot be decoded, so the next run starts where this one stopped and never repeats work; an
interrupted run keeps what it committed.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Iterator

import duckdb

from archive.clock import now_utc
from archive.dicom.pixels import PixelError, decode_frame, read
from archive.home import Archive, Home
from archive.quality.metrics import METRICS_VERSION, NotMeasurable, measure_dataset
from archive.store.connection import retrying, rollback, write_lock
from archive.store.writer import new_run_id, table_schema, to_arrow
from archive.vault import Vault

log = logging.getLogger("limestone.qa")

CHUNK = 8          # instances per task sent to a worker
BATCH = 1000       # rows per store commit


@dataclass
class QaSummary:
    run_id: str
    pending: int = 0
    measured: int = 0
    no_image: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.measured + self.no_image + self.failed

    @property
    def instances_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0

    def sentence(self) -> str:
        if self.pending == 0:
            return "Nothing new to measure: every instance already has quality metrics."
        return (f"Measured {self.measured} instances, {self.no_image} without a measurable image, {self.failed} failed "
                f"({self.done} of {self.pending} in {self.seconds:.1f} s, "
                f"{self.instances_per_second:.0f} instances/s).")


def pending(con: duckdb.DuckDBPyConnection, since: date | None = None, modality: str | None = None,
            version: int = METRICS_VERSION) -> list[tuple[str, str, str | None]]:
    """Instances (SOP UID, content hash, modality) without metrics of ``version`` yet."""
    return con.execute(
        "SELECT i.sop_instance_uid, i.content_hash, se.modality "
        "FROM instances i "
        "JOIN series se ON se.series_instance_uid = i.series_instance_uid "
        "JOIN studies st ON st.study_instance_uid = i.study_instance_uid "
        "WHERE (CAST(? AS DATE) IS NULL OR st.study_date >= CAST(? AS DATE)) "
        "  AND (CAST(? AS VARCHAR) IS NULL OR upper(se.modality) = upper(CAST(? AS VARCHAR))) "
        "  AND i.sop_instance_uid NOT IN "
        "      (SELECT sop_instance_uid FROM qa_metrics WHERE metrics_version = ?) "
        "ORDER BY i.study_instance_uid, i.series_instance_uid, i.instance_number",
        [since, since, modality, modality, version]).fetchall()


# ---- worker side ------------------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _init_worker(home: Home, master_key: str, master_key_id: str, ignore_signals: bool = True) -> None:
    if ignore_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)   # the parent decides when to stop, and commits first
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)  # decoder tracebacks of damaged files
    _worker["vault"] = Vault(home, master_key, master_key_id)


def _joined(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v).strip() for v in value) or None
    return str(value).strip() or None


def describe(ds: Any) -> dict[str, str | None]:
    """What makes two images comparable beyond station and protocol: ImageType (ORIGINAL/DERIVED,
    PRIMARY/SECONDARY, LOCALIZER...), the photometric interpretation and the MR sequence."""
    sequence = _joined(ds.get("SequenceName")) or _joined(ds.get("ScanningSequence"))
    return {"image_type": _joined(ds.get("ImageType")),
            "photometric": _joined(ds.get("PhotometricInterpretation")),
            "sequence": sequence}


def measure_instance(vault: Vault, sop_instance_uid: str, content_hash: str) -> dict[str, Any]:
    """One row of ``qa_metrics`` for one stored instance (never raises for a bad file)."""
    row: dict[str, Any] = {"sop_instance_uid": sop_instance_uid, "content_hash": content_hash,
                           "metrics_version": METRICS_VERSION}
    try:
        # Each segment is authenticated (AES-GCM, bound to the content hash) as it is decrypted;
        # the extra whole-file SHA-256 of Vault.get is left to `limestone verify`.
        ds = read(b"".join(vault.stream(content_hash)))
        if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
            return dict(row, status="no_image", reason="no pixel data")
        row.update(describe(ds))
        frame_index, frame = decode_frame(ds)
        metrics = measure_dataset(ds, frame)
        return dict(row, status="ok", frame_index=frame_index, **metrics.as_dict())
    except NotMeasurable as exc:
        return dict(row, status="skipped", reason=str(exc))
    except PixelError as exc:
        return dict(row, status="failed", reason=str(exc)[:200])
    except Exception as exc:  # a bad file must not stop the run; the reason names no patient
        return dict(row, status="failed", reason=f"{type(exc).__name__}")


def _measure_chunk(items: list[tuple[str, str, str | None]]) -> list[dict[str, Any]]:
    # Library warnings about odd values in damaged files (pydicom's "Invalid value for VR IS")
    # would print into the progress bar; a file that cannot be measured gets its row's reason.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [measure_instance(_worker["vault"], sop, digest) for sop, digest, _ in items]


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _results(archive: Archive, items: list, workers: int) -> Iterator[list[dict[str, Any]]]:
    settings = archive.settings
    args = (archive.home, settings.master_key, settings.master_key_id)
    if workers <= 1:
        _init_worker(*args, ignore_signals=False)
        for chunk in _chunks(items, CHUNK):
            yield _measure_chunk(chunk)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=args) as pool:
        in_flight: deque[Future] = deque()
        try:
            for chunk in _chunks(items, CHUNK):
                in_flight.append(pool.submit(_measure_chunk, chunk))
                while len(in_flight) >= workers * 4:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()


# ---- main side --------------------------------------------------------------------------------------
def _commit(con: duckdb.DuckDBPyConnection, home: Home, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    batch = to_arrow(rows, table_schema(con, "qa_metrics"))

    def write() -> None:
        con.execute("BEGIN")
        try:
            con.register("b_qa", batch)
            # Another qa run may have measured some of these meanwhile: keep one row each.
            con.execute("INSERT INTO qa_metrics BY NAME SELECT * FROM b_qa WHERE sop_instance_uid NOT IN "
                        "(SELECT sop_instance_uid FROM qa_metrics WHERE metrics_version = ?)", [METRICS_VERSION])
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
        finally:
            con.unregister("b_qa")

    with write_lock(home):
        retrying(write)


def run_qa(archive: Archive, since: date | None = None, modality: str | None = None,
           workers: int | None = None, progress: Callable[[int], Any] | None = None,
           batch_size: int = BATCH) -> QaSummary:
    """Measure every instance that has no metrics yet; return the run's summary.

    ``progress(total)`` may return an object with ``update(n)`` and ``close()`` (e.g. tqdm).
    """
    started_at, started = now_utc(), time.perf_counter()
    summary = QaSummary(new_run_id())
    con = archive.store()
    try:
        todo = pending(con, since, modality)
        summary.pending = len(todo)
        if not todo:
            return summary
        workers = max(1, min(workers or archive.settings.qa_workers or os.cpu_count() or 1,
                             (len(todo) + CHUNK - 1) // CHUNK))
        bar = progress(len(todo)) if progress else None
        rows: list[dict[str, Any]] = []
        try:
            for chunk_rows in _results(archive, todo, workers):
                now = now_utc()
                for row in chunk_rows:
                    row.update(qa_run_id=summary.run_id, computed_at=now)
                    status = row["status"]
                    if status == "ok":
                        summary.measured += 1
                    elif status in ("no_image", "skipped"):
                        summary.no_image += 1
                    else:
                        summary.failed += 1
                        log.warning("instance %s… could not be measured: %s", row["content_hash"][:12],
                                    row.get("reason"))
                rows.extend(chunk_rows)
                if bar is not None:
                    bar.update(len(chunk_rows))
                if len(rows) >= batch_size:
                    _commit(con, archive.home, rows)
                    rows = []
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            _commit(con, archive.home, rows)
            if bar is not None:
                bar.close()
        summary.seconds = time.perf_counter() - started
        run_row = {"run_id": summary.run_id, "started_at": started_at, "finished_at": now_utc(),
                   "since": since, "modality": modality, "measured": summary.measured,
                   "no_image": summary.no_image, "failed": summary.failed, "seconds": summary.seconds,
                   "status": "interrupted" if summary.interrupted else ("failed" if summary.failed else "ok")}
        batch = to_arrow([run_row], table_schema(con, "qa_runs"))
        con.register("b_run", batch)
        try:
            retrying(lambda: con.execute("INSERT INTO qa_runs BY NAME SELECT * FROM b_run"))
        finally:
            con.unregister("b_run")
        return summary
    finally:
        summary.seconds = summary.seconds or time.perf_counter() - started
        con.close()
