"""The C-GET worker process of ``limestone pull``: one association, studies one after another.

Kept apart from pipelines/pull.py so that a worker imports only what it needs (networking,
ingest, vault), not the store. Each received instance is checked and written to the vault in
the worker; the records travel back to the parent with the study's result, and the parent
writes the store rows.
"""

from __future__ import annotations

import multiprocessing.util
import signal

from archive.home import Home
from archive.ingest.intake import Outcome, ingest_bytes
from archive.network.nodes import Node
from archive.network.retrieve import GetSession, StudyJob, StudyResult
from archive.network.status import STORE_QUARANTINED, STORE_SUCCESS
from archive.vault import Vault

_SESSION: GetSession | None = None


def init(home: Home, master_key: str, master_key_id: str, node: dict, ae_title: str,
         timeout: float) -> None:
    """Process-pool initializer: open the vault and prepare the session."""
    global _SESSION
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    vault = Vault(home, master_key, master_key_id)

    def receive(data: bytes, calling_ae: str) -> tuple[int, Outcome]:
        outcome = ingest_bytes(data, f"from-{calling_ae}.dcm", vault, home.quarantine_dir)
        return (STORE_QUARANTINED if outcome.kind == "quarantined" else STORE_SUCCESS), outcome

    _SESSION = GetSession(Node(**node), ae_title, receive, timeout)
    multiprocessing.util.Finalize(None, _SESSION.close, exitpriority=10)


def retrieve(job: StudyJob) -> StudyResult:
    """Retrieve one study over this worker's association."""
    if _SESSION is None:
        raise RuntimeError("pull worker used before init()")
    return _SESSION.retrieve(job)


def ready() -> int:
    """A no-op that makes the pool start a worker (and import everything) ahead of the first study."""
    return 0
