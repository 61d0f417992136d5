"""DICOM networking with remote nodes: associations, C-ECHO, C-FIND, C-GET, C-MOVE and a storage SCP.

Nothing here touches the network on import; every connection is made when a function is called.
Every socket gets TCP_NODELAY (Nagle costs ~30x with DCMTK peers), and errors are raised as
``NetworkError`` with one plain line that names the node (and the study when there is one).
"""

from archive.network.association import NetworkError, associate, echo, tcp_nodelay

__all__ = ["NetworkError", "associate", "echo", "tcp_nodelay"]
