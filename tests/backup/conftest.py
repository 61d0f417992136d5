"""Fixtures of the backup tests: one demo home built per session (``limestone demo``, real
processes), copied for each test that changes it, and helpers to read homes and backups."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archive.backup.catalog import point_catalog
from tests.support.peers import Limestone

PASSPHRASE = "a long test passphrase 42"


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A small demo archive (fake patients and pydicom's test files) with one share link."""
    home = tmp_path_factory.mktemp("backup-demo") / "home"
    limestone = Limestone(home)
    result = limestone.run("demo", "--patients", "4", "--seed", "7", timeout=600)
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture
def home(demo_home, tmp_path) -> Path:
    """A private copy of the demo home (keys included: it is the same archive). DuckLake keeps the
    lake's absolute path in the catalog: the copy's catalog is pointed at the copy's lake."""
    copy = tmp_path / "home"
    shutil.copytree(demo_home, copy, symlinks=True)
    point_catalog(copy / "store" / "catalog.sqlite", copy / "store" / "lake")
    return copy


def backup_json(limestone: Limestone, target: Path, *extra: str) -> dict:
    result = limestone.run("backup", "--to", str(target), "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def vault_paths(home: Path) -> dict[str, Path]:
    return {p.name[:-4]: p for p in (home / "vault").rglob("*.lsv")}
