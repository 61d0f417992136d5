"""A throwaway PostgreSQL server on a free loopback port, for tests and benchmarks.

Debian's server refuses to run as root, so the cluster is created and run as the ``postgres``
user (``runuser``) in a temporary folder it owns; a login role with a password and a database
are created for Limestone. ``stop`` ends it at once (``-m immediate``): nothing in it is kept.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> bool:
    return (PG_BIN / "pg_ctl").exists()


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@dataclass
class PostgresServer:
    """``with PostgresServer() as pg: pg.url('limestone')``"""

    user: str = "limestone"
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    port: int = field(default_factory=free_port)
    folder: Path | None = None

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "PostgresServer":
        self.folder = Path(tempfile.mkdtemp(prefix="limestone-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        subprocess.run(_as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "--auth-local=trust",
                                    "--auth-host=scram-sha-256", "-U", "postgres", "--no-sync"),
                       check=True, capture_output=True)
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")
        subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                                    "-l", str(self.folder / "log"), "start"), check=True, capture_output=True)
        self.sql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}' CREATEDB")
        return self

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement as the superuser over the local socket."""
        result = subprocess.run(_as_postgres(str(PG_BIN.parent / "bin" / "psql"), "-h", str(self.folder),
                                             "-p", str(self.port), "-U", "postgres", "-d", database,
                                             "-v", "ON_ERROR_STOP=1", "-Atc", statement),
                                check=True, capture_output=True, text=True)
        return result.stdout

    def create_database(self, name: str) -> str:
        """A new database owned by the login role; returns its URL (with the password)."""
        self.sql(f"CREATE DATABASE {name} OWNER {self.user}")
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.folder is None:
            return
        subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                                    "stop"), capture_output=True)
        for _ in range(50):
            if not (self.folder / "data" / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
