"""Retrieving a study from a node by C-GET or C-MOVE, and filling its gaps instance by instance.

A ``RetrieveSession`` holds one association with a node and retrieves studies one after the
other. A whole study is asked for in one request; when that leaves gaps (a PACS stops a C-GET at
its first failed sub-operation, a run was killed half-way, an instance failed last time) the
session lists the study's instances with C-FIND and asks for what is missing: a whole series
when none of it arrived, else one instance at a time, so one bad instance never holds back the
rest. Each failure is kept with its instance and reason.

What arrives is handed to ``receive(data, calling_ae) -> status`` (for C-GET, in this session's
association; for C-MOVE, by our storage SCP, which reports arrivals through ``MoveTracker``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, cast

from pydicom.dataset import Dataset
from pynetdicom import Association, evt
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # pynetdicom makes its SOP class names at import
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from archive.dicom import values as v
from archive.network import query
from archive.network.association import NetworkError, associate, close
from archive.network.contexts import COMMON_STORAGE_CLASSES, retrieve_contexts
from archive.network.jobs import StudyJob, StudyResult
from archive.network.nodes import Node
from archive.network.status import STORE_OUT_OF_RESOURCES, StatusCategoryValues, category, describe
from archive.network.storage import received_file

log = logging.getLogger(__name__)

GET_MODEL = StudyRootQueryRetrieveInformationModelGet
MOVE_MODEL = StudyRootQueryRetrieveInformationModelMove

# The status to answer, or (status, what was kept) when the caller collects the outcomes.
Receive = Callable[[bytes, str], "int | tuple[int, Any]"]

# Studies in a row that find the node unreachable before a session stops trying it.
GIVE_UP_AFTER = 2


class MoveTracker:
    """Which instances of which study our storage SCP has received (shared by threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_study: dict[str, set[str]] = {}

    def add(self, study_uid: str, sop_uid: str) -> None:
        with self._lock:
            self._by_study.setdefault(study_uid, set()).add(sop_uid)

    def received(self, study_uid: str) -> set[str]:
        with self._lock:
            return set(self._by_study.get(study_uid, ()))

    def forget(self, study_uid: str) -> None:
        with self._lock:
            self._by_study.pop(study_uid, None)


@dataclass
class Answer:
    status: int | None
    failed: int = 0
    failed_uids: list[str] = field(default_factory=list)


class RetrieveSession:
    """Retrieves studies from one node over one association (re-made when needed)."""

    method = "get"

    def __init__(self, node: Node, ae_title: str, timeout: float = 30.0):
        self.node = node
        self.ae_title = ae_title
        self.timeout = timeout
        self.assoc: Association | None = None
        self._job: StudyJob | None = None
        self._unreachable_streak = 0

    # ---- the association ------------------------------------------------------------------------
    def close(self) -> None:
        if self.assoc is not None:
            try:
                close(self.assoc)
            except Exception:  # the peer may be gone already
                pass
            self.assoc = None

    def _alive(self) -> bool:
        return self.assoc is not None and self.assoc.is_established

    def _association(self) -> Association:
        """The open association (``_ensure`` made it)."""
        if self.assoc is None:
            raise NetworkError(f"node {self.node.address}: the association is closed", unreachable=True)
        return self.assoc

    def _connect(self, sop_classes: list[str]) -> None:
        raise NotImplementedError

    def _ensure(self, sop_classes: list[str]) -> None:
        if not self._alive():
            self.close()
            self._connect(sop_classes)

    # ---- what subclasses provide ----------------------------------------------------------------
    def _send(self, identifier: Dataset) -> Answer:
        raise NotImplementedError

    def _received(self, study_uid: str) -> set[str]:
        raise NotImplementedError

    def _begin(self, job: StudyJob) -> None:
        self._job = job

    def _outcomes(self) -> list:
        return []

    # ---- one study --------------------------------------------------------------------------------
    def retrieve(self, job: StudyJob) -> StudyResult:
        """Bring ``job``'s study in; never raises for a node's failure (see StudyResult.error)."""
        result = StudyResult(job.study_uid)
        self._begin(job)
        if self._unreachable_streak >= GIVE_UP_AFTER:
            # The node failed the last studies outright: do not wait out its timeouts again.
            result.error = f"{self._where(job)}: not tried, the node is unreachable"
            result.unreachable = True
            return result
        try:
            self._retrieve(job, result)
        except NetworkError as exc:
            prefix = f"node {self.node.address}: "
            text = str(exc)
            if f"study {job.study_uid}" not in text and text.startswith(prefix):
                text = f"{self._where(job)}: {text[len(prefix):]}"
            result.error = text
            result.unreachable = exc.unreachable
            self.close()
        except Exception as exc:  # a bug or an unexpected answer: report it, keep the run going
            log.exception("node %s: study %s: unexpected error", self.node.name, job.study_uid)
            result.error = f"node {self.node.name}: study {job.study_uid}: unexpected error: {type(exc).__name__}"
            self.close()
        result.received = len(self._received(job.study_uid) - job.have)
        result.outcomes = self._outcomes()
        self._unreachable_streak = self._unreachable_streak + 1 if result.unreachable else 0
        return result

    def _where(self, job: StudyJob) -> str:
        return f"node {self.node.address}: study {job.study_uid}"

    def _request(self, job: StudyJob, level: str, **keys: str) -> Answer:
        answer = self._send(retrieve_identifier(job.study_uid, level, **keys))
        if answer.status is None:
            got = len(self._received(job.study_uid) - job.have)
            self.close()
            raise NetworkError(f"{self._where(job)}: the node stopped answering during the "
                               f"{self.method.upper()} ({got} instances received before)", unreachable=True)
        return answer

    def _retrieve(self, job: StudyJob, result: StudyResult) -> None:
        classes = list(job.sop_classes)
        if not job.have:
            self._ensure(classes)
            answer = self._request(job, "STUDY")
            got = self._received(job.study_uid)
            if (category(answer.status) == StatusCategoryValues.SUCCESS and answer.failed == 0
                    and job.expected is not None and len(got) >= job.expected):
                result.complete = True
                return
        # Gaps: list what the node holds and ask for what is still missing.
        self._ensure(classes)
        listing: dict[str, list[tuple[str, str | None]]] = {}
        series, problems = query.find_series(self._association(), self.node, job.study_uid)
        result.problems.extend(problems)
        for one_series in series:
            series_uid = v.text(one_series.get("SeriesInstanceUID")) or ""
            found, problems = query.find_instances(self._association(), self.node, job.study_uid, series_uid)
            result.problems.extend(problems)
            listing[series_uid] = found
        result.listed = sum(len(found) for found in listing.values())
        if not listing or result.listed == 0:
            if self._received(job.study_uid) - job.have:
                result.complete = True   # it went while we looked; what came is kept
                return
            raise NetworkError(f"{self._where(job)}: the study is no longer on the node "
                               "(deleted or moved after it was listed)")
        listed_classes = sorted({cls for found in listing.values() for _, cls in found if cls})
        if listed_classes and not set(listed_classes) <= set(classes):
            classes = sorted(set(classes) | set(listed_classes))
            self._ensure(classes)
        failures: dict[str, str] = {}
        for series_uid, found in listing.items():
            wanted = [sop for sop, _ in found]
            have = job.have | self._received(job.study_uid)
            if not any(sop in have for sop in wanted) and len(listing) > 1:
                answer = self._request(job, "SERIES", SeriesInstanceUID=series_uid)
                for sop in answer.failed_uids:
                    failures[sop] = describe(answer.status)
            have = job.have | self._received(job.study_uid)
            for sop in wanted:
                if sop in have:
                    continue
                answer = self._request(job, "IMAGE", SeriesInstanceUID=series_uid, SOPInstanceUID=sop)
                if sop not in self._received(job.study_uid):
                    failures[sop] = describe(answer.status) if category(answer.status) not in (
                        StatusCategoryValues.SUCCESS,) else "the node answered success but sent nothing"
        all_listed = {sop for found in listing.values() for sop, _ in found}
        have = job.have | self._received(job.study_uid)
        result.failures = sorted((sop, reason) for sop, reason in failures.items() if sop not in have)
        missing = len(all_listed - have)
        if missing:
            reasons = sorted({reason for _, reason in result.failures})
            result.error = (f"{self._where(job)}: {missing} of {len(all_listed)} instances could not be "
                            f"retrieved ({'; '.join(reasons)[:200] or 'not sent'})")
        else:
            result.complete = True


class GetSession(RetrieveSession):
    """C-GET: the node sends the instances back over our association."""

    method = "get"

    def __init__(self, node: Node, ae_title: str, receive: Receive, timeout: float = 30.0):
        super().__init__(node, ae_title, timeout)
        self.receive = receive
        self._got: set[str] = set()
        self._results: list = []
        self._classes: frozenset[str] = frozenset()
        self._exact = False

    def _begin(self, job: StudyJob) -> None:
        super()._begin(job)
        self._got = set()
        self._results = []

    def _outcomes(self) -> list:
        return self._results

    def _received(self, study_uid: str) -> set[str]:
        return self._got

    def _on_store(self, event: evt.Event) -> int:
        try:
            sop = v.text(cast(C_STORE, event.request).AffectedSOPInstanceUID) or ""   # EVT_C_STORE's
            outcome = self.receive(received_file(event), self.node.ae_title)
        except Exception:
            log.exception("node %s: could not keep a received instance", self.node.name)
            return STORE_OUT_OF_RESOURCES
        status, kept = outcome if isinstance(outcome, tuple) else (outcome, None)
        if kept is not None:
            self._results.append(kept)
        if category(status) != StatusCategoryValues.FAILURE:
            self._got.add(sop)
        return status

    def _ensure(self, sop_classes: list[str]) -> None:
        exact = bool(sop_classes)
        if self._alive() and set(sop_classes or COMMON_STORAGE_CLASSES) <= self._classes and (
                self._exact or not exact):
            return
        # The association must offer every class the node will send, with as many syntaxes as
        # fit: re-make it when the classes are new or now known exactly.
        self.close()
        self._connect(sop_classes)
        self._exact = exact

    def _connect(self, sop_classes: list[str]) -> None:
        classes = list(sop_classes) or list(COMMON_STORAGE_CLASSES)
        contexts, roles = retrieve_contexts(classes, GET_MODEL, query.FIND_MODEL)
        self.assoc = associate(self.node, self.ae_title, contexts, ext_neg=roles,
                               handlers=[(evt.EVT_C_STORE, self._on_store)], timeout=self.timeout)
        self._classes = frozenset(classes)

    def close(self) -> None:
        super().close()
        self._classes = frozenset()

    def _send(self, identifier: Dataset) -> Answer:
        return final_answer(self._association().send_c_get(identifier, GET_MODEL))


class MoveSession(RetrieveSession):
    """C-MOVE: the node sends the instances to our storage SCP (``move_aet``), which it must know."""

    method = "move"

    def __init__(self, node: Node, ae_title: str, tracker: MoveTracker, move_aet: str | None = None,
                 timeout: float = 30.0):
        super().__init__(node, ae_title, timeout)
        self.tracker = tracker
        self.move_aet = move_aet or ae_title

    def _received(self, study_uid: str) -> set[str]:
        return self.tracker.received(study_uid)

    def _connect(self, sop_classes: list[str]) -> None:
        self.assoc = associate(self.node, self.ae_title,
                               [build_context(MOVE_MODEL), build_context(query.FIND_MODEL)],
                               timeout=self.timeout)

    def _send(self, identifier: Dataset) -> Answer:
        answer = final_answer(self._association().send_c_move(identifier, self.move_aet, MOVE_MODEL))
        if answer.status == 0xA801:
            raise NetworkError(f"node {self.node.address} does not know {self.move_aet!r} as a move "
                               "destination (add our AE title, host and port to the node)", unreachable=True)
        return answer


def retrieve_identifier(study_uid: str, level: str, **keys: str) -> Dataset:
    """The identifier of a C-GET or C-MOVE (study root): a study, one of its series or instances."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    ds.StudyInstanceUID = study_uid
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def final_answer(responses: Iterable[tuple[Dataset, Dataset | None]]) -> Answer:
    """The final answer of a C-GET or C-MOVE, with its failed sub-operations."""
    for status, found in responses:
        code = getattr(status, "Status", None)
        if code is None:
            return Answer(None)
        if category(code) == StatusCategoryValues.PENDING:
            continue
        failed = v.to_int(status.get("NumberOfFailedSuboperations")) or 0
        uids = []
        if found is not None:
            try:
                uids = v.to_texts(found.get("FailedSOPInstanceUIDList")) or []
            except Exception:
                uids = []
        return Answer(code, failed, uids)
    return Answer(None)
