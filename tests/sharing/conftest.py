"""The sharing folder's fixtures: one imported archive for the session, the portal per module."""

from __future__ import annotations

import pytest

from archive.home import Archive
from tests.support.share_world import RunningPortal, SharedArchive, build


@pytest.fixture(scope="session")
def shared(tmp_path_factory) -> SharedArchive:
    return build(tmp_path_factory.mktemp("sharing"))


@pytest.fixture(scope="module")
def portal(shared):
    # Every test request comes from 127.0.0.1: the limits get their own test (test_rate_limits).
    generous = Archive.load(home=str(shared.home), portal_attempts_per_minute=100000,
                            portal_requests_per_minute=100000)
    running = RunningPortal(generous).start()
    try:
        yield running
    finally:
        running.stop()
