"""Fixtures shared by every test: a fresh archive home, sample files.

Fixtures used by several capability folders live in tests/support/ as pytest plugins, registered
here so that any order or selection of folders collects the same fixtures: real DICOM peers
(Orthanc, our CLI wired for C-MOVE) and the browser (the real app in Chromium).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from archive.home import Archive
from tests.support.samples import pydicom_test_files, write_ct_studies

pytest_plugins = ["tests.support.orthanc_fixtures", "tests.support.browser_fixtures", "tests.support.distributed"]


@pytest.fixture(autouse=True)
def keep_main_module():
    """Streamlit's AppTest leaves a page script as ``__main__``; worker processes started with the
    'spawn' method re-run ``__main__`` in the child, so put the real one back after every test."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def archive(tmp_path) -> Archive:
    """An empty archive in a temporary home."""
    return Archive.load(home=str(tmp_path / "home"))


@pytest.fixture(scope="session")
def pydicom_dir() -> Path:
    return pydicom_test_files()


@pytest.fixture(scope="session")
def ct_folder(tmp_path_factory) -> Path:
    """60 generated CT files in 3 series (fresh UIDs), shared read-only by the session."""
    folder = tmp_path_factory.mktemp("ct")
    write_ct_studies(folder, 60, per_series=20, seed=7)
    return folder
