"""The WADO-RS worker process of ``limestone pull`` for a DICOMweb node: studies one after another.

Like the C-GET workers (archive/network/pull_worker.py): each process opens the vault, parses and
encrypts what arrives (both cores busy), and sends the instance records back with the study's
result; the parent writes the store rows and the pull state. The credentials reach the process
in memory through the pool's initializer, never on a command line.
"""

from __future__ import annotations

import multiprocessing.util
import signal
from pathlib import Path

from archive.home import Home
from archive.network.dicomweb.client import DicomWebClient, WebSettings
from archive.network.dicomweb.pull import retrieve_study
from archive.network.jobs import StudyJob, StudyResult
from archive.network.nodes import Node
from archive.vault import Vault

_STATE: tuple[DicomWebClient, Node, Vault, Path] | None = None


def init(home: Home, master_key: str, master_key_id: str, node: dict, web: WebSettings) -> None:
    """Process-pool initializer: open the vault and an HTTP client for the node."""
    global _STATE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    vault = Vault(home, master_key, master_key_id)
    the_node = Node(**node)
    client = DicomWebClient(the_node, web)
    _STATE = (client, the_node, vault, home.quarantine_dir)
    multiprocessing.util.Finalize(None, client.close, exitpriority=10)


def retrieve(job: StudyJob) -> StudyResult:
    if _STATE is None:
        raise RuntimeError("DICOMweb pull worker used before init()")
    client, node, vault, quarantine_dir = _STATE
    return retrieve_study(client, node, job, vault, quarantine_dir)


def ready() -> int:
    return 0
