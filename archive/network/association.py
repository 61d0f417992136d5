"""Associations with remote nodes: TCP_NODELAY on every socket, timeouts, plain error messages."""

from __future__ import annotations

import functools
import logging
import socket
import time
from typing import Any, Iterable, Sequence

from pynetdicom import AE, Association, evt
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # pynetdicom makes its SOP class names at import

from archive.network.errors import NetworkError
from archive.network.nodes import Node
from archive.network.status import describe

log = logging.getLogger(__name__)

# pynetdicom's reactor sleeps this long when idle between PDUs (its default is 1 ms). Each
# instance of a C-GET crosses the reactor several times, so a shorter nap roughly doubles the
# rate of small instances for little extra CPU.
REACTOR_DELAY = 0.0002


def tcp_nodelay(event: evt.Event) -> None:
    """EVT_CONN_OPEN handler: switch Nagle off (DCMTK peers otherwise crawl)."""
    sock = getattr(event.assoc.dul.socket, "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if hasattr(event.assoc.dul, "_run_loop_delay"):
        event.assoc.dul._run_loop_delay = REACTOR_DELAY


def make_ae(ae_title: str, timeout: float) -> AE:
    """An application entity with our AE title and every timeout set to ``timeout`` seconds."""
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    ae.maximum_pdu_size = 0  # accept PDUs of any size: fewer, larger reads
    return ae


def associate(node: Node, ae_title: str, contexts: Sequence[PresentationContext], *,
              ext_neg: Iterable[Any] | None = None,
              handlers: Iterable[tuple[Any, Any]] = (), timeout: float = 30.0) -> Association:
    """An established association with ``node``, or NetworkError saying why not."""
    if len(contexts) > 128:
        raise ValueError(f"{len(contexts)} presentation contexts proposed; DICOM allows at most 128")
    ae = make_ae(ae_title, timeout)
    opened: list[bool] = []
    started = time.monotonic()

    def on_open(event: evt.Event) -> None:
        opened.append(True)
        tcp_nodelay(event)

    assoc = ae.associate(node.host, node.port, contexts=list(contexts), ae_title=node.ae_title,
                         ext_neg=list(ext_neg or []), max_pdu=0,
                         evt_handlers=[(evt.EVT_CONN_OPEN, on_open), *handlers])
    if assoc.is_established:
        # pynetdicom has no hook for a request taken out of turn (see _give_back)
        assoc._serve_request = functools.partial(_give_back, assoc)  # type: ignore[method-assign]
        return assoc
    if not opened:
        raise NetworkError(f"node {node.address}: cannot connect (host down, port closed or "
                           f"no answer within {timeout:g} s)", unreachable=True)
    if assoc.is_rejected:
        primitive = assoc.acceptor.primitive
        reason = getattr(primitive, "reason_str", None) or "no reason given"
        raise NetworkError(f"node {node.address}: association rejected ({reason}); check that the node "
                           f"knows our AE title {ae_title!r} and the called AE title", unreachable=True)
    if time.monotonic() - started >= timeout:
        raise NetworkError(f"node {node.address}: no answer to our association request within "
                           f"{timeout:g} s", unreachable=True)
    raise NetworkError(f"node {node.address}: association aborted by the node; check that the node "
                       f"knows our AE title {ae_title!r} and accepts this kind of request",
                       unreachable=True)


def _give_back(assoc: Association, msg: Any, context_id: int) -> None:
    """Return a message the association's reactor took to the head of the queue, unserved.

    pynetdicom pauses its reactor while a request waits for its responses, but on a busy machine
    the reactor can slip through the pause once and take the first response as if it were a
    request from the peer ("Received unexpected C-FIND service message"); the waiting request
    then times out. We only ever send requests on our own associations, so whatever the
    reactor takes belongs to the waiting request: put it back first in line.
    """
    dimse_queue = assoc.dimse.msg_queue
    with dimse_queue.mutex:
        dimse_queue.queue.appendleft((context_id, msg))
        dimse_queue.unfinished_tasks += 1
        dimse_queue.not_empty.notify()


def echo(node: Node, ae_title: str, timeout: float = 30.0) -> float:
    """C-ECHO ``node``; return the round trip in seconds or raise NetworkError."""
    started = time.monotonic()
    assoc = associate(node, ae_title, [build_context(Verification)], timeout=timeout)
    try:
        status = assoc.send_c_echo()
    finally:
        close(assoc)
    code = getattr(status, "Status", None)
    if code != 0x0000:
        raise NetworkError(f"node {node.address}: C-ECHO answered {describe(code)}")
    return time.monotonic() - started


def close(assoc: Association) -> None:
    """Release an association, or abort it when it cannot be released."""
    if assoc.is_established:
        assoc.release()
    elif not (assoc.is_aborted or assoc.is_released):
        assoc.abort()

