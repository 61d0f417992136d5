"""The error every network operation raises: one plain line naming the node (no toolkit import)."""

from __future__ import annotations

from archive.errors import LimestoneError


class NetworkError(LimestoneError, RuntimeError):
    """A node could not be reached or did not do what was asked; the message names the node.

    ``unreachable`` is true when no association could be made at all (refused connection, no
    route, timeout, rejected or aborted association), so callers can stop trying the same node.
    """

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable
