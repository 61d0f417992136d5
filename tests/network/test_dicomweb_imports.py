"""A DICOMweb pull loads no DIMSE toolkit: its worker processes and its command start lighter.

Each of the pull's worker processes imports its modules afresh (spawn); pynetdicom alone costs
about half a second of CPU there, which a DICOMweb pull never uses. Checked in a fresh
interpreter, as the workers and the command start.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(*modules: str) -> set[str]:
    code = ("import json, sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('pynetdicom', 'pandas'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def test_dicomweb_worker_loads_neither_pynetdicom_nor_pandas():
    assert loaded_after("archive.network.dicomweb.worker") == set()


def test_pull_command_loads_pynetdicom_only_for_a_dimse_node():
    assert "pynetdicom" not in loaded_after("pipelines.pull", "archive.network.pull")
    # The DIMSE names are still where callers find them (loaded on first use).
    code = "from archive.network import associate, echo, tcp_nodelay, NetworkError; print(associate.__module__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "archive.network.association"


def test_jobs_and_errors_are_the_same_objects_everywhere():
    from archive.network import NetworkError
    from archive.network.association import NetworkError as FromAssociation
    from archive.network.jobs import StudyJob, StudyResult
    from archive.network.retrieve import StudyJob as RetrieveJob
    from archive.network.retrieve import StudyResult as RetrieveResult
    assert NetworkError is FromAssociation
    assert (StudyJob, StudyResult) == (RetrieveJob, RetrieveResult)
