"""Sending studies to another hospital: C-STORE (or STOW-RS) of the archived originals to a node.

A node with a DICOMweb URL is sent to over STOW-RS: the archived files as they are, in batched
multipart requests (``STOW_BATCH_INSTANCES``), each instance's outcome taken from the answer's
ReferencedSOPSequence / FailedSOPSequence; the same retries, transfer log and audit as below.

Each instance goes out as it is in the vault: the original dataset bytes in their original
transfer syntax, never decoded and re-encoded. For every (SOP class, transfer syntax) of a study
the association proposes a context of its own, plus one context per SOP class with the
uncompressed syntaxes. Only when the destination refuses the original syntax (its context is
rejected) is an instance decoded and sent in an uncompressed syntax it accepted, and the result
says so ("converted"). A SOP class the destination refuses altogether fails with that reason.

Studies go in parallel (up to the node's ``max_associations``), one association per study and
attempt. An attempt that fails (no connection, association rejected or aborted, a failure status,
a timeout) is retried with exponential backoff for the instances not yet stored, up to
``send_retries`` times; the instance in flight when an association was lost goes last in the
next attempt, so one instance that makes a node drop the association cannot hold back the rest.
Every study gets a row in the state database's transfer log (who, what, where, when, result) and
an ``export`` audit event; a study that reached a node of a site counts as a prior used by that
site (repeat-exam metrics, ``record_prior_use``).
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pydicom
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.presentation import build_context

from archive import state
from archive.audit.trail import AuditEvent, record
from archive.clock import now_utc
from archive.errors import LimestoneError
from archive.network.association import NetworkError, associate, close
from archive.network.contexts import MAX_CONTEXTS
from archive.network.nodes import Node
from archive.network.status import StatusCategoryValues, category, describe

if TYPE_CHECKING:
    import duckdb
    from pynetdicom import Association

    from archive.home import Archive, Home
    from archive.network.dicomweb.client import DicomWebClient
    from archive.vault import Vault

log = logging.getLogger("limestone.send")

FALLBACK_SYNTAXES: list[str | UID] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


class LostAssociation(LimestoneError):
    """A C-STORE got no answer: the node aborted, the connection closed, or it timed out (the reason)."""


@dataclass
class Item:
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    content_hash: str
    size: int


@dataclass
class StudySend:
    """What happened to one study (also the transfer log row)."""

    study_instance_uid: str
    node: str
    instances: int = 0
    sent: int = 0
    converted: int = 0
    failed: int = 0
    attempts: int = 0
    bytes: int = 0
    transfer_id: int | None = None
    status: str = "running"                     # sent | partial | failed (interrupted: its process died)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("study_instance_uid", "node", "status", "instances", "sent",
                                               "converted", "failed", "attempts", "bytes", "transfer_id",
                                               "problems", "notes")}


# ---- the archive side ----------------------------------------------------------------------------
def study_items(con: duckdb.DuckDBPyConnection, study_uid: str) -> list[Item]:
    rows = con.execute(
        "SELECT sop_class_uid, sop_instance_uid, transfer_syntax_uid, content_hash, bytes FROM instances "
        "WHERE study_instance_uid = ? ORDER BY series_instance_uid, instance_number, sop_instance_uid",
        [study_uid]).fetchall()
    return [Item(r[0] or "", r[1], r[2] or ImplicitVRLittleEndian, r[3], int(r[4] or 0)) for r in rows]


def dataset_bytes(data: bytes) -> bytes:
    """The bytes after a file's meta group: what travels on the wire, unchanged."""
    offset = 132 if data[128:132] == b"DICM" else 0
    if data[offset:offset + 4] != b"\x02\x00\x00\x00":
        return data[offset:]  # no meta group (old files): the dataset starts here
    length = int.from_bytes(data[offset + 8:offset + 12], "little")
    return data[offset + 12 + length:]


def converted_bytes(data: bytes, syntax: UID) -> bytes:
    """The instance decoded and encoded in an uncompressed ``syntax`` (only when the original is refused)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress(generate_instance_uid=False)  # the same instance, another encoding
        encoded = encode(ds, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)
    if encoded is None:
        raise ValueError("the instance could not be encoded in an uncompressed syntax")
    return encoded


def contexts_for(items: list[Item]) -> list:
    """One context per (SOP class, original syntax), and per SOP class one with uncompressed syntaxes."""
    pairs = list(dict.fromkeys((i.sop_class_uid, i.transfer_syntax_uid) for i in items))
    classes = list(dict.fromkeys(i.sop_class_uid for i in items))
    if len(pairs) + len(classes) > MAX_CONTEXTS:
        raise ValueError(f"the study needs {len(pairs) + len(classes)} presentation contexts "
                         f"(at most {MAX_CONTEXTS})")
    contexts = [build_context(sop, syntax) for sop, syntax in pairs]
    contexts += [build_context(sop, FALLBACK_SYNTAXES) for sop in classes]
    return contexts


def _why_no_response(assoc: Association) -> str:
    """Why a request got no response; asked while the reactor is paused, before it takes the abort."""
    if assoc.acse.is_aborted("a-abort"):
        return "the node aborted the association"
    if assoc.acse.is_aborted("a-p-abort"):
        return "the connection was closed"
    return "the node did not answer in time"


@contextmanager
def reactor_paused(assoc: Association) -> Iterator[None]:
    """Park the association's reactor while we exchange requests and responses ourselves.

    pynetdicom's ``send_*`` methods pause and resume it around every message, and its loop naps
    1 ms between checks, so each pause costs up to a millisecond: a study is sent under one.
    """
    assoc._reactor_checkpoint.clear()
    while not assoc._is_paused:
        time.sleep(0.0001)
    try:
        yield
    finally:
        assoc._reactor_checkpoint.set()


def store_raw(assoc: Association, context_id: int, sop_class: str, sop_instance: str, payload: bytes,
              message_id: int) -> int | None:
    """Send one C-STORE whose dataset is ``payload`` exactly as given; return the response's status.

    Raises ``LostAssociation`` (saying why) when no response comes. The association's reactor
    must be paused (``reactor_paused``). pynetdicom's ``send_c_store`` encodes a Dataset (or
    reads a file); this sends bytes we already hold, with the same DIMSE steps.
    """
    request = C_STORE()
    request.MessageID = message_id
    request.AffectedSOPClassUID = sop_class
    request.AffectedSOPInstanceUID = sop_instance
    request.Priority = 0x0002
    request.DataSet = io.BytesIO(payload)
    assoc.dimse.send_msg(request, context_id)
    _, response = assoc.dimse.get_msg(block=True)
    if response is None:
        why = _why_no_response(assoc)
        assoc._handle_no_response()
        raise LostAssociation(why)
    return getattr(response, "Status", None)


# ---- one study -------------------------------------------------------------------------------
# STOW-RS requests carry at most this many instances, or about this many bytes.
STOW_BATCH_INSTANCES = 64
STOW_BATCH_BYTES = 32 * 1024 * 1024


class StudySender:
    def __init__(self, node: Node, ae_title: str, vault: Vault, *, timeout: float, retries: int,
                 backoff: float, sleep: Callable[[float], None] = time.sleep, web: DicomWebClient | None = None):
        self.node, self.ae_title, self.vault = node, ae_title, vault
        self.timeout, self.retries, self.backoff, self.sleep = timeout, retries, backoff, sleep
        self.web = web   # a DicomWebClient: the node is sent to over STOW-RS

    def send(self, result: StudySend, items: list[Item]) -> StudySend:
        result.instances = len(items)
        pending = {i.sop_instance_uid: i for i in items}
        permanent: dict[str, str] = {}
        delay = self.backoff
        while pending and result.attempts <= self.retries:
            if result.attempts:
                self.sleep(delay)
                delay *= 2
            result.attempts += 1
            try:
                self._attempt(result, pending, permanent)
            except NetworkError as exc:
                result.problems.append(f"attempt {result.attempts}: {exc}")
            except Exception as exc:  # a damaged vault file, an encoder error: say so, carry on
                result.problems.append(f"attempt {result.attempts}: {type(exc).__name__}: {exc}")
            for uid in list(pending):
                if uid in permanent:
                    pending.pop(uid)
        result.failed = len(pending) + len(permanent)
        result.status = "sent" if not result.failed else ("partial" if result.sent else "failed")
        reasons = sorted(set(permanent.values()))
        result.problems.extend(reasons)
        return result

    def _attempt(self, result: StudySend, pending: dict[str, Item], permanent: dict[str, str]) -> None:
        if self.web is not None:
            self._attempt_web(result, pending, permanent)
            return
        items = list(pending.values())
        assoc = associate(self.node, self.ae_title, contexts_for(items), timeout=self.timeout)
        try:
            accepted: dict[tuple[str, str], int | None] = {}
            for ctx in assoc.accepted_contexts:
                accepted.setdefault((str(ctx.abstract_syntax), str(ctx.transfer_syntax[0])), ctx.context_id)
            refused_syntaxes: dict[str, int] = {}
            with reactor_paused(assoc):
                self._store_all(result, assoc, accepted, items, pending, permanent, refused_syntaxes)
            for syntax, count in refused_syntaxes.items():
                result.notes.append(f"{count} instance(s) sent converted to an uncompressed syntax: node "
                                    f"{self.node.name} refused {UID(syntax).name or syntax}")
        finally:
            close(assoc)

    def _attempt_web(self, result: StudySend, pending: dict[str, Item], permanent: dict[str, str]) -> None:
        """STOW-RS of the pending instances in batches; each instance's outcome from the answer."""
        items = list(pending.values())
        batch: list[tuple[Item, bytes]] = []
        size = 0
        for index, item in enumerate(items):
            try:
                data = self.vault.get(item.content_hash)
            except Exception as exc:
                permanent[item.sop_instance_uid] = f"an archived file could not be read ({type(exc).__name__})"
                data = None
            if data is not None:
                batch.append((item, data))
                size += len(data)
            last = index == len(items) - 1
            if batch and (len(batch) >= STOW_BATCH_INSTANCES or size >= STOW_BATCH_BYTES or last):
                self._stow(result, batch, pending)
                batch, size = [], 0

    def _stow(self, result: StudySend, batch: list[tuple[Item, bytes]], pending: dict[str, Item]) -> None:
        if self.web is None:   # only a DICOMweb node is sent to in batches
            raise NetworkError(f"node {self.node.address} has no DICOMweb URL")
        stored, failed, _ = self.web.store([data for _, data in batch], result.study_instance_uid)
        stored_set = set(stored)
        for item, _ in batch:
            uid = item.sop_instance_uid
            if uid in stored_set and uid not in failed:
                pending.pop(uid, None)
                result.sent += 1
                result.bytes += item.size
        reasons = sorted(set(failed.values()))
        missing = [i for i, _ in batch if i.sop_instance_uid not in stored_set and i.sop_instance_uid not in failed]
        if failed:
            result.problems.append(f"attempt {result.attempts}: node {self.node.address} refused "
                                   f"{len(failed)} instance(s): {'; '.join(reasons)}")
        if missing:
            result.problems.append(f"attempt {result.attempts}: node {self.node.address} did not report "
                                   f"{len(missing)} instance(s) as stored")

    def _store_all(self, result: StudySend, assoc: Association, accepted: dict[tuple[str, str], int | None],
                   items: list[Item], pending: dict[str, Item], permanent: dict[str, str],
                   refused_syntaxes: dict[str, int]) -> None:
        """C-STORE each item over ``assoc`` (its reactor paused), keeping count in ``result``."""
        stored = 0
        for number, item in enumerate(items, start=1):
            if not assoc.is_established:
                raise NetworkError(f"node {self.node.address}: the association was dropped during the send "
                                   f"(after {stored} of {len(items)} instances of this attempt)")
            exact = accepted.get((item.sop_class_uid, item.transfer_syntax_uid))
            fallback = next(((cid, s) for s in FALLBACK_SYNTAXES
                             if (cid := accepted.get((item.sop_class_uid, str(s)))) is not None), None)
            if exact is None and fallback is None:
                permanent[item.sop_instance_uid] = (
                    f"node {self.node.address} refused SOP class "
                    f"{UID(item.sop_class_uid).name or item.sop_class_uid}")
                continue
            try:
                data = self.vault.get(item.content_hash)
            except Exception as exc:
                permanent[item.sop_instance_uid] = f"an archived file could not be read ({type(exc).__name__})"
                continue
            if exact is not None:
                payload = dataset_bytes(data)
                context_id, converted = exact, False
            elif fallback is not None:   # (one of the two is set: checked above)
                context_id, syntax = fallback
                payload = converted_bytes(data, UID(syntax))
                converted = True
                refused_syntaxes[item.transfer_syntax_uid] = refused_syntaxes.get(item.transfer_syntax_uid, 0) + 1
            try:
                status = store_raw(assoc, context_id, item.sop_class_uid, item.sop_instance_uid, payload,
                                   number % 65536)
            except LostAssociation as lost:
                # The next attempt sends this instance last: if it is what makes the node fail,
                # the study's other instances still get through.
                pending[item.sop_instance_uid] = pending.pop(item.sop_instance_uid)
                raise NetworkError(f"node {self.node.address}: {lost} during the send (after {stored} of "
                                   f"{len(items)} instances of this attempt)") from None
            kind = category(status)
            if kind in (StatusCategoryValues.SUCCESS, StatusCategoryValues.WARNING):
                pending.pop(item.sop_instance_uid)
                stored += 1
                result.sent += 1
                result.bytes += item.size
                result.converted += int(converted)
                continue
            result.problems.append(f"attempt {result.attempts}: node {self.node.address} answered "
                                   f"{describe(status)} for an instance")


# ---- the transfer log ------------------------------------------------------------------------
# While a transfer runs, its ``detail`` names the process sending it (host, pid and the process's
# start, so a pid reused after a kill is not mistaken for it); the finished transfer's detail
# replaces it. A row whose process is gone was interrupted (kill -9, power loss): the next send,
# or any listing of the transfer log, marks it so.
_OWNER = re.compile(r"^sending: pid (\d+) on (\S+) started (\S+)$")
INTERRUPTED_DETAIL = ("interrupted: the sending process ended before it finished (killed or the machine "
                      "stopped); send the study again to resume (instances already there are accepted again)")


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (boot id and clock ticks since boot), None if it is not running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()[:8]
    except OSError:
        return None
    return f"{boot}:{int(fields[19])}"   # field 22 of stat: starttime


def _owner() -> str:
    return f"sending: pid {os.getpid()} on {socket.gethostname()} started {_process_start(os.getpid())}"


def mark_interrupted(home: Home) -> int:
    """Mark 'running' transfers whose sending process on this host is gone as 'interrupted';
    return how many. Rows of another host are left as they are (their process cannot be seen)."""
    host = socket.gethostname()
    with closing(state.connect(home)) as con:
        running = con.execute("SELECT transfer_id, detail FROM transfers WHERE status = 'running'").fetchall()
        dead = []
        for transfer_id, detail in running:
            match = _OWNER.match(detail or "")
            if match is None:
                continue   # written before owners were recorded: nothing to tell it by
            pid, on, started = int(match[1]), match[2], match[3]
            if on == host and _process_start(pid) != started:
                dead.append(transfer_id)
        for transfer_id in dead:
            con.execute("UPDATE transfers SET status = 'interrupted', finished_at = ?, detail = ? "
                        "WHERE transfer_id = ? AND status = 'running'",
                        [now_utc().isoformat(timespec="milliseconds"), INTERRUPTED_DETAIL, transfer_id])
    if dead:
        log.warning("%d transfer(s) were interrupted by a send that stopped; marked as such", len(dead))
    return len(dead)


def _log_start(home: Home, result: StudySend, node: Node, user_id: str | None, source: str) -> None:
    with closing(state.connect(home)) as con:
        cur = con.execute(
            "INSERT INTO transfers (study_instance_uid, node, destination, user_id, source, requested_at, status, "
            "detail) VALUES (?, ?, ?, ?, ?, ?, 'running', ?) RETURNING transfer_id",
            [result.study_instance_uid, node.name, node.destination, user_id, source,
             now_utc().isoformat(timespec="milliseconds"), _owner()])
        result.transfer_id = int(cur.fetchone()[0])


def _log_finish(home: Home, result: StudySend) -> None:
    detail = "; ".join(result.notes + result.problems)[:500] or None
    with closing(state.connect(home)) as con:
        con.execute("UPDATE transfers SET finished_at = ?, status = ?, instances = ?, sent = ?, converted = ?, "
                    "failed = ?, attempts = ?, bytes = ?, detail = ? WHERE transfer_id = ?",
                    [now_utc().isoformat(timespec="milliseconds"), result.status, result.instances, result.sent,
                     result.converted, result.failed, result.attempts, result.bytes, detail, result.transfer_id])


def transfers(home: Home, study_instance_uid: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The transfer log, newest first (optionally for one study); transfers left 'running' by a
    send that was killed are marked 'interrupted' first."""
    mark_interrupted(home)
    with closing(state.connect(home)) as con:
        if study_instance_uid:
            rows = con.execute("SELECT * FROM transfers WHERE study_instance_uid = ? ORDER BY transfer_id DESC "
                               "LIMIT ?", [study_instance_uid, limit])
        else:
            rows = con.execute("SELECT * FROM transfers ORDER BY transfer_id DESC LIMIT ?", [limit])
        return [dict(r) for r in rows]


# ---- several studies -------------------------------------------------------------------------
def send_studies(archive: Archive, study_uids: list[str], node: Node, *, user_id: str | None = None,
                 user_role: str | None = None, source: str = "cli", parallel: int | None = None,
                 on_done: Callable[[StudySend], None] | None = None) -> list[StudySend]:
    """Send each study to ``node``; return one result per study, in the order asked."""
    settings = archive.settings
    study_uids = list(dict.fromkeys(study_uids))
    mark_interrupted(archive.home)
    con = archive.store(read_only=True)
    try:
        work = {uid: study_items(con, uid) for uid in study_uids}
        patients = dict(con.execute(
            "SELECT study_instance_uid, patient_key FROM studies WHERE list_contains(?, study_instance_uid)",
            [study_uids]).fetchall())
    finally:
        con.close()
    web = None
    if node.dicomweb:
        from archive.network.dicomweb.client import DicomWebClient, web_settings
        web = DicomWebClient(node, web_settings(settings, archive.home.root, node))
    sender = StudySender(node, settings.ae_title, archive.vault, timeout=settings.dicom_timeout,
                         retries=settings.send_retries, backoff=settings.send_backoff_seconds, web=web)
    lock = threading.Lock()

    def one(uid: str) -> StudySend:
        result = StudySend(uid, node.name)
        with lock:
            _log_start(archive.home, result, node, user_id, source)
        if not work[uid]:
            result.status = "failed"
            result.problems.append("no such study in the archive (or it has no images)")
        else:
            sender.send(result, work[uid])
        with lock:
            _log_finish(archive.home, result)
            record(archive.home, AuditEvent(
                "export", user_id, user_role, uid, patients.get(uid),
                outcome="success" if result.status == "sent" else "failure", source=source,
                detail=f"sent to node {node.name} ({node.destination}): {result.sent}/{result.instances} "
                       f"instances" + (f", {result.converted} converted" if result.converted else "")))
        if on_done is not None:
            on_done(result)
        return result

    limit = node.max_connections if node.dicomweb else node.max_associations
    workers = max(1, min(parallel or limit, len(study_uids) or 1))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
            results = list(pool.map(one, study_uids))
    finally:
        if web is not None:
            web.close()
    _record_prior_uses(archive, node, [r for r in results if r.sent], user_id)
    return results


def _record_prior_uses(archive: Archive, node: Node, results: list[StudySend], user_id: str | None) -> None:
    """A study sent to a site's node is a prior put to use by that site (repeat-exam metrics)."""
    if not node.site or not results:
        return
    from archive.repeats.prior_use import record_prior_use
    con = archive.store()
    try:
        for r in results:
            record_prior_use(con, r.study_instance_uid, "retrieved", site=node.site, user_id=user_id,
                             event_id=f"transfer:{r.transfer_id}")
    finally:
        con.close()
