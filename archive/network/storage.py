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
import struct
from typing import Callable, cast

from pynetdicom import AE, PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION, evt
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.events import EventHandlerType
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # pynetdicom makes its SOP class names at import
from pynetdicom.transport import ThreadedAssociationServer

from archive.network.association import NetworkError, make_ae, tcp_nodelay
from archive.network.contexts import storage_scp_contexts
from archive.network.status import STORE_OUT_OF_RESOURCES

log = logging.getLogger(__name__)

Receive = Callable[[bytes, str], int]


def _element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One explicit VR little endian element of the file meta group."""
    if vr == b"OB":
        return struct.pack("<HH2s2xI", group, element, vr, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


def _even(value: str, pad: bytes) -> bytes:
    raw = value.encode("ascii")
    return raw + pad if len(raw) % 2 else raw


def file_meta_bytes(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> bytes:
    """Preamble, 'DICM' and the file meta group for a received dataset (PS3.10 7.1).

    The same elements pynetdicom's ``Event.encoded_dataset()`` writes, encoded directly: building
    and writing a pydicom dataset for every received instance costs more than the rest of the
    handler.
    """
    body = b"".join((
        _element(0x0002, 0x0001, b"OB", b"\x00\x01"),
        _element(0x0002, 0x0002, b"UI", _even(sop_class_uid, b"\x00")),
        _element(0x0002, 0x0003, b"UI", _even(sop_instance_uid, b"\x00")),
        _element(0x0002, 0x0010, b"UI", _even(transfer_syntax_uid, b"\x00")),
        _element(0x0002, 0x0012, b"UI", _even(PYNETDICOM_IMPLEMENTATION_UID, b"\x00")),
        _element(0x0002, 0x0013, b"SH", _even(PYNETDICOM_IMPLEMENTATION_VERSION, b" ")),
    ))
    return b"\x00" * 128 + b"DICM" + _element(0x0002, 0x0000, b"UL", struct.pack("<I", len(body))) + body


def received_file(event: evt.Event) -> bytes:
    """The instance of a C-STORE request as a DICOM file, with the sender's bytes unchanged."""
    request = cast(C_STORE, event.request)   # the event is EVT_C_STORE
    if request.DataSet is None:
        raise ValueError("a C-STORE request without a dataset")
    return (file_meta_bytes(str(request.AffectedSOPClassUID), str(request.AffectedSOPInstanceUID),
                            str(event.context.transfer_syntax))
            + request.DataSet.getvalue())


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
    handlers: list[EventHandlerType] = [(evt.EVT_CONN_OPEN, tcp_nodelay),
                                        (evt.EVT_C_STORE, handle_store, [receive])]
    try:
        server = ae.start_server((bind, port), block=False, evt_handlers=handlers)
    except OSError as exc:
        raise NetworkError(f"cannot listen on port {port}{f' of {bind}' if bind else ''}: "
                           f"{exc.strerror or exc} (is another 'limestone listen' running?)") from None
    if server is None:   # only a blocking server returns None
        raise NetworkError(f"cannot listen on port {port}")
    return server
