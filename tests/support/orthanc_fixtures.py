"""Real DICOM peers for integration tests (a pytest plugin): Orthanc as a PACS, and our own CLI.

Every server a fixture starts, the fixture stops. Ports are free loopback ports chosen at run
time. Patients in the generated data are fake (``FAKE^TEST...``); pydicom's test files are read
with ``download=False`` so nothing touches the internet.
"""

from __future__ import annotations

import pytest

from tests.support.orthanc_server import OrthancServer, available, free_port
from tests.support.peers import Limestone, real_files
from tests.support.synthetic_studies import make_studies, write_studies


def pytest_collection_modifyitems(config, items):
    if available():
        return
    skip = pytest.mark.skip(reason="Debian's orthanc is not installed (apt-get install orthanc dcmtk)")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def move_port() -> int:
    """The port our storage SCP uses for C-MOVE pulls (known to the session's Orthanc)."""
    return free_port()


@pytest.fixture(scope="session")
def storescp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """Four fake CT studies (2 series x 6 instances), dated 2024-01-01 .. 2024-01-04."""
    studies = make_studies(4, 12, seed=11, series_per_study=2)
    folder = tmp_path_factory.mktemp("generated")
    return studies, write_studies(studies, folder)


@pytest.fixture(scope="session")
def pacs(tmp_path_factory, move_port, storescp_port, generated):
    """One Orthanc for the session, loaded with generated studies and pydicom's real files."""
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"), modalities={
        "limestone": ["LIMESTONE", "127.0.0.1", move_port],
        "storescp": ["STORESCP", "127.0.0.1", storescp_port],
    })
    server.start()
    try:
        server.upload(generated[1])
        server.upload(real_files())
        yield server
    finally:
        server.stop()


@pytest.fixture
def limestone_cli(tmp_path, move_port) -> Limestone:
    """Our CLI on a fresh home, its storage SCP on the port the session's Orthanc moves to."""
    return Limestone(tmp_path / "home", env={"LIMESTONE_DICOM_PORT": str(move_port),
                                             "LIMESTONE_DICOM_TIMEOUT": "10"})


