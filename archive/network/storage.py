"""Our storage SCP: accepts C-ECHO and C-STORE of every storage SOP class and transfer syntax.

A received instance is kept exactly as sent: the file is the DICOM preamble, a file meta header
built from the presentation context (its transfer syntax), and the dataset bytes as they came
off the wire, never decoded and re-encoded. What to do with the bytes is the caller's
``receive(data, calling_ae) -> status`` function; it runs in the association's thread and must
return only once the bytes are safe (in the vault), because its status tells the sender the
instance is archived.
"""

from __future__ import annotations

import logging
from typing import Callable

from pynetdicom import AE, evt
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import Verification
from pynetdicom.transport import ThreadedAssociationServer

from archive.network.association import NetworkError, make_ae, tcp_nodelay
from archive.network.contexts import storage_scp_contexts
from archive.network.status import STORE_OUT_OF_RESOURCES

log = logging.getLogger(__name__)

Receive = Callable[[bytes, str], int]


def received_file(event: evt.Event) -> bytes:
    """The instance of a C-STORE request as a DICOM file, with the sender's bytes unchanged."""
    return event.encoded_dataset(include_meta=True)


def handle_store(event: evt.Event, receive: Receive) -> int:
    """EVT_C_STORE handler: hand the file to ``receive``; any error becomes 'out of resources'."""
    try:
        data = received_file(event)
        calling = (event.assoc.requestor.ae_title or "").strip()
        return receive(data, calling)
    except Exception:
        # Never acknowledge an instance that was not kept: the sender will retry it.
        log.exception("could not keep a received instance")
        return STORE_OUT_OF_RESOURCES


def storage_ae(ae_title: str, timeout: float) -> AE:
    ae = make_ae(ae_title, timeout)
    contexts = [build_context(Verification), *storage_scp_contexts()]
    ae.supported_contexts = contexts
    return ae


def start_storage_scp(ae_title: str, port: int, receive: Receive, *, bind: str = "",
                      timeout: float = 30.0) -> ThreadedAssociationServer:
    """Start the SCP in background threads; stop it with ``server.shutdown()``."""
    ae = storage_ae(ae_title, timeout)
    handlers = [(evt.EVT_CONN_OPEN, tcp_nodelay), (evt.EVT_C_STORE, handle_store, [receive])]
    try:
        server = ae.start_server((bind, port), block=False, evt_handlers=handlers)
    except OSError as exc:
        raise NetworkError(f"cannot listen on port {port}{f' of {bind}' if bind else ''}: "
                           f"{exc.strerror or exc} (is another 'limestone listen' running?)") from None
    return server
