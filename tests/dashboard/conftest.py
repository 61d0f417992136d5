"""Fixtures for AppTest page tests: one seeded archive per session, an empty home, users."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import dashboard_seed as seed


@pytest.fixture(scope="session")
def seeded(tmp_path_factory) -> seed.SeededArchive:
    return seed.build(tmp_path_factory.mktemp("seeded") / "home")


@pytest.fixture
def home(seeded, monkeypatch) -> seed.SeededArchive:
    monkeypatch.setenv("LIMESTONE_HOME", str(seeded.home))
    return seeded


@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LIMESTONE_HOME", str(tmp_path / "empty"))
    return tmp_path / "empty"
