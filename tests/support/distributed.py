"""Fixtures for a region's archive on loopback: PostgreSQL (catalog, state) and an S3 server (lake, vault).

The servers start once per test session (~5 s); every test gets its own database and bucket
prefix, so tests never see each other's data. ``DistributedHome.env`` holds the settings a
``limestone`` subprocess needs (LIMESTONE_CATALOG/LAKE/VAULT and the standard AWS_* variables).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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

    @property
    def env(self) -> dict[str, str]:
        return {"LIMESTONE_CATALOG": self.catalog_url, "LIMESTONE_LAKE": self.lake_url,
                "LIMESTONE_VAULT": self.vault_url, **self.s3_env}

    def home(self, root: Path | None = None) -> Home:
        """The Home as a process on another machine sees it (its own local folder, shared backends)."""
        return Home(root or self.root, catalog_url=self.catalog_url, lake_url=self.lake_url,
                    vault_url=self.vault_url)


@pytest.fixture(scope="session")
def distributed_servers() -> Iterator[Servers]:
    with PostgresServer() as pg, S3Server() as s3:
        s3.create_bucket(BUCKET)
        yield Servers(pg, s3)


@pytest.fixture
def distributed(distributed_servers, tmp_path, monkeypatch) -> DistributedHome:
    """A fresh distributed archive; the AWS_* settings are set for this process too."""
    name = f"lake_{os.getpid()}_{next(_names)}"
    servers = distributed_servers
    for key, value in servers.s3.env().items():
        monkeypatch.setenv(key, value)
    return DistributedHome(root=tmp_path / "node-a", catalog_url=servers.pg.create_database(name),
                           lake_url=f"s3://{BUCKET}/{name}/lake", vault_url=f"s3://{BUCKET}/{name}/vault",
                           s3_env=servers.s3.env())
