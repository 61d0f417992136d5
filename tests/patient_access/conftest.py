"""Patient-access fixtures: the world (one person at two sites, another patient), a real SMTP
server catching e-mails, the portal in-process on a free port (addressed as localhost)."""

from __future__ import annotations

import pytest

from tests.support.patient_world import PortalThread, SmtpCatcher, build


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    return build(tmp_path_factory.mktemp("patient_access"))


@pytest.fixture(scope="session")
def own_world(tmp_path_factory):
    """A second world, for tests whose accounts must not meet the shared world's (notices, addresses)."""
    return build(tmp_path_factory.mktemp("patient_access_own"))


@pytest.fixture(scope="session")
def smtp():
    catcher = SmtpCatcher().start()
    try:
        yield catcher
    finally:
        catcher.stop()


@pytest.fixture(scope="session")
def door(world, smtp):
    running = PortalThread(world, smtp.url).start()
    try:
        yield running
    finally:
        running.stop()
