"""DICOM networking with remote nodes: associations, C-ECHO, C-FIND, C-GET, C-MOVE and a storage SCP.

The node list (``nodes``), pulling a node's studies (``pull``, its C-GET workers ``pull_worker``),
sending studies (``send``) and receiving what others send (``listen``) are built on them.
``errors`` (NetworkError) and ``jobs`` (a study to fetch, and its result) load no DICOM toolkit,
so a DICOMweb pull (``dicomweb``) and its workers start without pynetdicom.

Nothing here touches the network on import; every connection is made when a function is called.
Every socket gets TCP_NODELAY (with Nagle on, DCMTK peers crawl), and errors are raised as
``NetworkError`` with one plain line that names the node (and the study when there is one).
"""

import importlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.network.association import associate, echo, tcp_nodelay
    from archive.network.errors import NetworkError

# Loaded on first use (PEP 562): pynetdicom and pydicom cost a command that only reads the node
# list (``limestone nodes --help``, ``nodes list``) more than the rest of its run, and a DICOMweb
# pull and its worker processes never need pynetdicom.
_LAZY = {"NetworkError": "errors", "associate": "association", "echo": "association",
         "tcp_nodelay": "association"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def quiet_toolkit(verbose: bool = False) -> None:
    """Keep pynetdicom's own error logging off a command's output unless asked for (-v).

    Our errors already say, in one line naming the node, what went wrong; pynetdicom would add
    tracebacks and protocol details for the same event.
    """
    logging.getLogger("pynetdicom").setLevel(logging.INFO if verbose else logging.CRITICAL)


__all__ = ["NetworkError", "associate", "echo", "quiet_toolkit", "tcp_nodelay"]
