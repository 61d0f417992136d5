"""Who is acting when a person runs a command: the audit trail's actor for ``--by`` or the login."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archive.sharing.actions import Actor


def cli_actor(by: str | None, role: str | None = "clerk") -> Actor:
    """``cli:<by>`` (default: the login name, ``unknown`` when there is none) in ``role``."""
    from archive.sharing.actions import Actor

    try:
        who = by or getpass.getuser()
    except Exception:      # no login name (a container without a passwd entry)
        who = "unknown"
    return Actor(f"cli:{who}", role, source="cli")
