"""Fixtures for a region's archive on loopback: PostgreSQL (catalog, state) and an S3 server (lake, vault).

The servers start once per test session (~5 s); every test gets its own database and bucket
prefix, so tests never see each other's data. ``DistributedHome.env`` holds the settings a
``limestone`` subprocess needs (LIMESTONE_CATALOG/LAKE/VAULT/STATE and the standard AWS_* variables).

``state_url`` runs a test twice: on the embedded SQLite state (``""``) and on a fresh PostgreSQL
database of the session's server (one ``CREATE DATABASE`` a test, ~0.1 s, dropped afterwards).
Tests of the state's users take it and build their ``Home(..., state_url=state_url)``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archive import state
from archive.home import Home
from tests.support.postgres_server import PostgresServer
from tests.support.s3_server import S3Server

BUCKET = "limestone-tests"
_names = itertools.count()


@dataclass
class Servers:
    pg: PostgresServer
    s3: S3Server


@dataclass
class DistributedHome:
    """One distributed archive: a local home folder, its own catalog database and bucket prefix."""

    root: Path
    catalog_url: str
    lake_url: str
    vault_url: str
    s3_env: dict[str, str] = field(default_factory=dict)
    state_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {"LIMESTONE_CATALOG": self.catalog_url, "LIMESTONE_LAKE": self.lake_url,
                "LIMESTONE_VAULT": self.vault_url, "LIMESTONE_STATE": self.state_url, **self.s3_env}

    def home(self, root: Path | None = None) -> Home:
        """The Home as a process on another machine sees it (its own local folder, shared backends)."""
        return Home(root or self.root, catalog_url=self.catalog_url, lake_url=self.lake_url,
                    vault_url=self.vault_url, state_url=self.state_url)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (catalogs and states alike)."""
    with PostgresServer() as pg:
        yield pg


@pytest.fixture(scope="session")
def distributed_servers(postgres_server) -> Iterator[Servers]:
    with S3Server() as s3:
        s3.create_bucket(BUCKET)
        yield Servers(postgres_server, s3)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request) -> Iterator[str]:
    """The state's setting for a test run on each backend: "" (SQLite in the home) or a fresh database."""
    if request.param == "sqlite":
        yield ""
        return
    pg = request.getfixturevalue("postgres_server")
    name = f"state_{os.getpid()}_{next(_names)}"
    url = pg.create_database(name)
    try:
        yield url
    finally:
        state.release_connections()
        pg.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def distributed(distributed_servers, tmp_path, monkeypatch) -> DistributedHome:
    """A fresh distributed archive; the AWS_* settings are set for this process too."""
    name = f"lake_{os.getpid()}_{next(_names)}"
    servers = distributed_servers
    for key, value in servers.s3.env().items():
        monkeypatch.setenv(key, value)
    return DistributedHome(root=tmp_path / "node-a", catalog_url=servers.pg.create_database(name),
                           lake_url=f"s3://{BUCKET}/{name}/lake", vault_url=f"s3://{BUCKET}/{name}/vault",
                           s3_env=servers.s3.env(), state_url=servers.pg.create_database(f"state_{name}"))
