"""Remote DICOM nodes (the region's PACS) and what each pull has taken from them.

Nodes and pull progress are operational state, kept in the home's state database
(archive/state.py): a node is a name with an AE title, host and port, the site its studies belong
to, how to retrieve (C-GET or C-MOVE) and how many associations it accepts at once. Per node and
study the state remembers what the node reported and whether retrieval finished, so a nightly
pull takes only what is new and a killed run, rerun, fetches only what is missing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from enum import Enum
from typing import Iterable
from urllib.parse import urlsplit

from archive import state
from archive.clock import now_utc
from archive.errors import LimestoneError
from archive.home import Home

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# AE titles: up to 16 characters of the default character repertoire, no backslash or controls.
_AE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")


class RetrieveMethodValues(str, Enum):
    GET = "get"
    MOVE = "move"


class AuthValues(str, Enum):
    """How Limestone proves itself to a DICOMweb node (the secrets come from settings)."""

    NONE = "none"
    BASIC = "basic"
    BEARER = "bearer"


class StudyStatusValues(str, Enum):
    """How far a node's study has come into the archive."""

    FOUND = "found"          # listed by C-FIND, retrieval not tried yet
    METADATA = "metadata"    # study and series rows stored, images not retrieved
    COMPLETE = "complete"    # every instance the node reported is in the archive
    PARTIAL = "partial"      # some instances arrived, others failed
    FAILED = "failed"        # nothing arrived in the last attempt
    GONE = "gone"            # no longer on the node when a later run asked for it again


class NodeError(LimestoneError, ValueError):
    """A node definition is invalid, or no node has that name."""


_COLUMNS = ("name, ae_title, host, port, site, retrieve_method, max_associations, url, auth,"
            " max_connections")


@dataclass(frozen=True)
class Node:
    """A remote node: a DIMSE address (AE title, host, port), a DICOMweb URL, or both."""

    name: str
    ae_title: str = ""
    host: str = ""
    port: int = 0
    site: str | None = None
    retrieve_method: str = RetrieveMethodValues.GET.value
    max_associations: int = 2
    url: str | None = None
    auth: str = AuthValues.NONE.value
    max_connections: int = 4

    def __post_init__(self) -> None:
        if not _NAME.match(self.name or ""):
            raise NodeError(f"node name {self.name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        self._check_web()
        if self.url and not (self.ae_title or self.host or self.port):
            object.__setattr__(self, "ae_title", "")
            object.__setattr__(self, "host", "")
            object.__setattr__(self, "port", 0)
            self._check_method()
            return
        ae = (self.ae_title or "").strip()
        if not _AE.match(ae):
            raise NodeError(f"AE title {self.ae_title!r} of node {self.name} must be 1-16 printable "
                            "characters without backslash")
        object.__setattr__(self, "ae_title", ae)
        if not self.host or any(c.isspace() for c in self.host):
            raise NodeError(f"host {self.host!r} of node {self.name} is not a host name or address")
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise NodeError(f"port {self.port!r} of node {self.name} must be 1-65535")
        self._check_method()

    def _check_method(self) -> None:
        method = RetrieveMethodValues(self.retrieve_method).value if self.retrieve_method in (
            "get", "move", RetrieveMethodValues.GET, RetrieveMethodValues.MOVE) else None
        if method is None:
            raise NodeError(f"retrieve method of node {self.name} must be 'get' or 'move', "
                            f"not {self.retrieve_method!r}")
        object.__setattr__(self, "retrieve_method", method)
        if not isinstance(self.max_associations, int) or not 1 <= self.max_associations <= 32:
            raise NodeError(f"max associations of node {self.name} must be 1-32")

    def _check_web(self) -> None:
        if self.url is not None:
            url = self.url.strip().rstrip("/")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
                    or parts.password or parts.query or parts.fragment:
                raise NodeError(f"URL of node {self.name} must be http(s)://host[:port]/path, without "
                                "credentials or query (credentials come from the settings)")
            object.__setattr__(self, "url", url)
        auth = getattr(self.auth, "value", self.auth)
        if auth not in {a.value for a in AuthValues}:
            raise NodeError(f"auth of node {self.name} must be none, basic or bearer, not {self.auth!r}")
        object.__setattr__(self, "auth", auth)
        if not isinstance(self.max_connections, int) or not 1 <= self.max_connections <= 32:
            raise NodeError(f"max connections of node {self.name} must be 1-32")

    @property
    def has_dimse(self) -> bool:
        return bool(self.ae_title and self.host and self.port)

    @property
    def dicomweb(self) -> bool:
        """True when the node has a DICOMweb address (pull and send then use it)."""
        return bool(self.url)

    @property
    def destination(self) -> str:
        """Where transfers go: the DICOMweb URL when there is one, else ``AE@host:port``."""
        return self.url if self.url else f"{self.ae_title}@{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """How the node is named in messages: ``name (AE@host:port)`` or ``name (URL)`` (no patient data)."""
        if not self.has_dimse:
            return f"{self.name} ({self.url})"
        return f"{self.name} ({self.ae_title}@{self.host}:{self.port})"

    def as_dict(self) -> dict:
        return asdict(self)


def _iso_now() -> str:
    return now_utc().isoformat(timespec="seconds")


class NodeRegistry:
    """The nodes of the home's state database, and their pull progress."""

    def __init__(self, home: Home):
        self.home = home
        self.con: state.StateConnection = state.connect(home)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "NodeRegistry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- nodes --------------------------------------------------------------------------------
    def add(self, node: Node, replace: bool = False) -> Node:
        """Store a node; an existing name is an error unless ``replace``."""
        now = _iso_now()
        if not replace and self.find(node.name) is not None:
            raise NodeError(f"node {node.name} already exists (use --replace to change it)")
        self.con.execute(
            f"INSERT INTO nodes ({_COLUMNS}, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET ae_title = excluded.ae_title, host = excluded.host,"
            " port = excluded.port, site = excluded.site, retrieve_method = excluded.retrieve_method,"
            " max_associations = excluded.max_associations, url = excluded.url, auth = excluded.auth,"
            " max_connections = excluded.max_connections, updated_at = excluded.updated_at",
            [node.name, node.ae_title, node.host, node.port, node.site, node.retrieve_method,
             node.max_associations, node.url, node.auth, node.max_connections, now, now])
        return node

    def find(self, name: str) -> Node | None:
        row = self.con.execute(f"SELECT {_COLUMNS} FROM nodes WHERE name = ?", [name]).fetchone()
        return Node(*row) if row else None

    def get(self, name: str) -> Node:
        node = self.find(name)
        if node is None:
            known = ", ".join(n.name for n in self.list()) or "none yet"
            raise NodeError(f"no node named {name!r} (known: {known}; add one with 'limestone nodes add')")
        return node

    def list(self) -> list[Node]:
        return [Node(*row) for row in self.con.execute(f"SELECT {_COLUMNS} FROM nodes ORDER BY name")]

    def remove(self, name: str) -> None:
        """Forget a node and its pull progress (the archived studies stay)."""
        self.get(name)
        with self.con.transaction():
            for table in ("node_studies", "node_instance_failures", "node_pulls"):
                self.con.execute(f"DELETE FROM {table} WHERE node = ?", [name])
            self.con.execute("DELETE FROM nodes WHERE name = ?", [name])

    # ---- pull progress --------------------------------------------------------------------------
    def record_studies(self, node: str, rows: Iterable[tuple[str, date | None, int | None, str, str | None]],
                       count_attempt: bool = False) -> None:
        """Upsert (study UID, study date, remote instances, status, error) for ``node``."""
        now = _iso_now()
        with self.con.transaction():
            self.con.executemany(
                "INSERT INTO node_studies (node, study_instance_uid, study_date, remote_instances, status,"
                " last_error, attempts, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (node, study_instance_uid) DO UPDATE SET"
                " study_date = coalesce(excluded.study_date, node_studies.study_date),"
                " remote_instances = coalesce(excluded.remote_instances, node_studies.remote_instances),"
                " status = excluded.status, last_error = excluded.last_error,"
                " attempts = node_studies.attempts + excluded.attempts, updated_at = excluded.updated_at",
                [(node, uid, day.isoformat() if day else None, remote, status, error,
                  1 if count_attempt else 0, now, now) for uid, day, remote, status, error in rows])

    def study_status(self, node: str, study_uids: Iterable[str] | None = None) -> dict[str, str]:
        """Status of the node's studies (all, or those named)."""
        rows = self.con.execute(
            "SELECT study_instance_uid, status FROM node_studies WHERE node = ?", [node]).fetchall()
        wanted = None if study_uids is None else set(study_uids)
        return {uid: status for uid, status in rows if wanted is None or uid in wanted}

    def study_states(self, node: str, study_uids: Iterable[str]) -> dict[str, tuple[str, int | None]]:
        """(status, remote instances when last seen) of the studies named."""
        wanted = set(study_uids)
        rows = self.con.execute(
            "SELECT study_instance_uid, status, remote_instances FROM node_studies WHERE node = ?",
            [node]).fetchall()
        return {uid: (status, remote) for uid, status, remote in rows if uid in wanted}

    def unfinished_studies(self, node: str) -> list[str]:
        """Studies a previous run found or started but did not complete (retried by the next run)."""
        return [row[0] for row in self.con.execute(
            "SELECT study_instance_uid FROM node_studies WHERE node = ? AND status IN (?, ?, ?)"
            " ORDER BY study_date, study_instance_uid",
            [node, StudyStatusValues.FOUND.value, StudyStatusValues.PARTIAL.value,
             StudyStatusValues.FAILED.value])]

    def record_instance_failures(self, node: str, study_uid: str,
                                 failures: Iterable[tuple[str, str]]) -> None:
        """Remember instances (SOP Instance UID, reason) the node failed to send."""
        now = _iso_now()
        with self.con.transaction():
            self.con.executemany(
                "INSERT INTO node_instance_failures VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (node, sop_instance_uid) DO UPDATE SET reason = excluded.reason,"
                " failed_at = excluded.failed_at",
                [(node, study_uid, sop, reason, now) for sop, reason in failures])

    def clear_instance_failures(self, node: str, study_uid: str) -> None:
        self.con.execute("DELETE FROM node_instance_failures WHERE node = ? AND study_instance_uid = ?",
                         [node, study_uid])

    def instance_failures(self, node: str) -> list[tuple[str, str, str]]:
        return self.con.execute(
            "SELECT study_instance_uid, sop_instance_uid, reason FROM node_instance_failures"
            " WHERE node = ? ORDER BY study_instance_uid, sop_instance_uid", [node]).fetchall()

    def last_window(self, node: str, mode: str) -> tuple[date | None, date | None]:
        """(since, until) of the last run in ``mode`` that finished without failure."""
        row = self.con.execute(
            "SELECT last_since, last_until FROM node_pulls WHERE node = ? AND mode = ? AND last_status = 'ok'",
            [node, mode]).fetchone()
        if not row:
            return None, None
        return tuple(date.fromisoformat(v) if v else None for v in row)  # type: ignore[return-value]

    def record_run(self, node: str, mode: str, since: date | None, until: date | None, status: str) -> None:
        """Remember a finished run; only an 'ok' run moves the incremental window, and only forward."""
        now = _iso_now()
        with self.con.transaction():
            if status == "ok":
                self.con.execute(
                    "INSERT INTO node_pulls VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node, mode) DO UPDATE SET"
                    " last_since = excluded.last_since,"
                    # a backfill of an older window never moves the mark back
                    " last_until = CASE WHEN node_pulls.last_until > excluded.last_until"
                    " THEN node_pulls.last_until ELSE excluded.last_until END,"
                    " last_run_at = excluded.last_run_at, last_status = excluded.last_status",
                    [node, mode, since.isoformat() if since else None,
                     until.isoformat() if until else None, now, status])
            else:
                # Keep the last good window; note the failed run's time only.
                self.con.execute(
                    "INSERT INTO node_pulls (node, mode, last_run_at, last_status) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (node, mode) DO UPDATE SET last_run_at = excluded.last_run_at",
                    [node, mode, now, status])
