"""The operational database: small transactional writes made by the app.

Audit events, share links, portal sessions and limits, node records, transfers and job runs live
here, never in the analytic store, so an app action never waits on an ingest. Two backends, one
interface: the embedded default is SQLite in WAL mode at ``Home.state_path``; with the setting
``state`` (``LIMESTONE_STATE=postgresql://...``) it is a PostgreSQL database shared by every
machine of a region's archive (portal and dashboard replicas, workers). ``connect(home)`` returns a
``StateConnection`` either way: ``execute(sql, params)`` with ``?`` placeholders, rows that are
tuples also read by column name (``row["link_id"]``, ``dict(row)``), ``transaction()`` for
several statements at once, ``close()``. Callers never branch on the backend.

The schema is a list of numbered, append-only steps (``SCHEMA_STEPS``); a module that needs tables
adds a step at the end. Steps are applied on first use, on PostgreSQL under an advisory lock so
two processes starting at once do not race. **A new step must run on both backends:**

- types: ``TEXT``, ``INTEGER`` (64-bit on both: PostgreSQL gets ``BIGINT``), ``REAL`` (``DOUBLE
  PRECISION`` there); times as ISO 8601 ``TEXT``; JSON as ``TEXT``; no BLOB (or give a variant);
- a generated key is ``INTEGER PRIMARY KEY AUTOINCREMENT`` (an identity column on PostgreSQL);
  read it back with ``INSERT ... RETURNING``, never ``cursor.lastrowid``;
- only ``CREATE TABLE``/``CREATE INDEX``/``ALTER TABLE ... ADD COLUMN`` and portable expressions
  (no ``date(x, '+1 day')``, two-argument ``max()``, ``INSERT OR REPLACE``, ``strftime``; use
  ``ON CONFLICT ... DO UPDATE``, ``CASE``, and compute dates in Python);
- when a step cannot be written that way, put its PostgreSQL text in ``POSTGRES_STEPS`` under the
  same number.

Statements of callers follow the same rules; qualify columns in ``ON CONFLICT DO UPDATE SET``
with the table's name (PostgreSQL finds a bare name ambiguous). Group statements with
``with con.transaction():`` (``BEGIN IMMEDIATE`` ... ``COMMIT`` sent as statements works on both too).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from functools import lru_cache
from typing import Any

from archive.errors import LimestoneError
from archive.layout import Home

# (number, name, SQL). Append only: never edit or reorder a step that has shipped.
SCHEMA_STEPS: list[tuple[int, str, str]] = [
    (1, "audit_events", """
        CREATE TABLE audit_events (
            event_id     INTEGER PRIMARY KEY AUTOINCREMENT,
            occurred_at  TEXT NOT NULL,          -- ISO 8601, UTC
            action       TEXT NOT NULL,          -- view, download, export, share, revoke, sign_in ...
            outcome      TEXT NOT NULL,          -- success | failure
            user_id      TEXT,                   -- the signed-in user (e-mail or subject), never a patient
            user_role    TEXT,
            source       TEXT,                   -- which face of the app: dashboard | portal | cli
            study_instance_uid TEXT,
            patient_key  TEXT,                   -- opaque key of archive.dicom.models.patient_key
            detail       TEXT                    -- short, PHI-free note
        );
        CREATE INDEX audit_events_study ON audit_events (study_instance_uid);
        CREATE INDEX audit_events_time ON audit_events (occurred_at);
    """),
    (2, "pacs_nodes", """
        -- Remote DICOM nodes (PACS of the region) and what each pull has taken from them.
        CREATE TABLE nodes (
            name             TEXT PRIMARY KEY,       -- our short name for the node, e.g. 'north-pacs'
            ae_title         TEXT NOT NULL,
            host             TEXT NOT NULL,
            port             INTEGER NOT NULL,
            site             TEXT,                   -- the site its studies belong to (archive sites)
            retrieve_method  TEXT NOT NULL DEFAULT 'get' CHECK (retrieve_method IN ('get', 'move')),
            max_associations INTEGER NOT NULL DEFAULT 2 CHECK (max_associations >= 1),
            created_at       TEXT NOT NULL,
            updated_at       TEXT NOT NULL
        );
        -- Per node and study: what the node reported and how far retrieval got.
        CREATE TABLE node_studies (
            node               TEXT NOT NULL,
            study_instance_uid TEXT NOT NULL,
            study_date         TEXT,                 -- ISO date, for windows
            remote_instances   INTEGER,              -- NumberOfStudyRelatedInstances at the node
            status             TEXT NOT NULL,        -- found | metadata | complete | partial | failed
            last_error         TEXT,                 -- one PHI-free line
            attempts           INTEGER NOT NULL DEFAULT 0,
            first_seen_at      TEXT NOT NULL,
            updated_at         TEXT NOT NULL,
            PRIMARY KEY (node, study_instance_uid)
        );
        CREATE INDEX node_studies_status ON node_studies (node, status);
        -- Instances a node failed to send, kept so a rerun retries them one by one.
        CREATE TABLE node_instance_failures (
            node               TEXT NOT NULL,
            study_instance_uid TEXT NOT NULL,
            sop_instance_uid   TEXT NOT NULL,
            reason             TEXT,
            failed_at          TEXT NOT NULL,
            PRIMARY KEY (node, sop_instance_uid)
        );
        -- The high-water mark of incremental pulls: the last window a run finished without failure.
        CREATE TABLE node_pulls (
            node          TEXT NOT NULL,
            mode          TEXT NOT NULL,             -- retrieve | metadata
            last_since    TEXT,
            last_until    TEXT,                      -- ISO date the window ended (the run's day if open)
            last_run_at   TEXT,
            last_status   TEXT,                      -- ok | failed | interrupted
            PRIMARY KEY (node, mode)
        );
    """),
    (3, "share_links", """
        -- Patient share links (archive/sharing/links.py). The token itself is never stored: only its SHA-256.
        CREATE TABLE share_links (
            link_id          TEXT PRIMARY KEY,       -- public id, 'L' + 12 hex digits
            token_hash       TEXT NOT NULL UNIQUE,   -- sha256 hex of the link token
            patient_key      TEXT NOT NULL,
            studies          TEXT NOT NULL,          -- JSON list of Study Instance UIDs (one patient)
            site             TEXT,                   -- site of the first study, for the usage report
            recipient_name   TEXT NOT NULL,
            recipient_role   TEXT NOT NULL,          -- patient | doctor | other
            recipient_email  TEXT,
            permissions      TEXT NOT NULL,          -- comma list: download, view
            verify_kind      TEXT NOT NULL,          -- passcode | birth_date
            secret_hash      TEXT NOT NULL,          -- scrypt of the passcode or birth date
            created_by       TEXT NOT NULL,
            created_at       TEXT NOT NULL,
            expires_at       TEXT NOT NULL,
            use_limit        INTEGER,
            uses             INTEGER NOT NULL DEFAULT 0,
            failed_attempts  INTEGER NOT NULL DEFAULT 0,
            locked_at        TEXT,
            revoked_at       TEXT,
            revoked_by       TEXT,
            first_opened_at  TEXT,
            last_opened_at   TEXT,
            downloads        INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX share_links_patient ON share_links (patient_key);
        CREATE INDEX share_links_created ON share_links (created_at);
        -- Who and from where, for share-portal and staff actions alike.
        ALTER TABLE audit_events ADD COLUMN link_id TEXT;
        ALTER TABLE audit_events ADD COLUMN ip TEXT;
        ALTER TABLE audit_events ADD COLUMN user_agent TEXT;
        CREATE INDEX audit_events_link ON audit_events (link_id);
    """),
    (4, "hl7_inbox_and_transfers", """
        -- Every HL7 message received (archive/reports/inbox.py), kept before it is
        -- acknowledged: filed ones for tracing, rejected ones for review (never lost).
        CREATE TABLE hl7_messages (
            message_id   INTEGER PRIMARY KEY AUTOINCREMENT,
            received_at  TEXT NOT NULL,
            source       TEXT NOT NULL,          -- 'mllp <peer address>' | 'file <name>'
            control_id   TEXT,                   -- MSH-10
            message_type TEXT,                   -- MSH-9
            outcome      TEXT NOT NULL,          -- received | filed | rejected | error | resolved
            reason       TEXT,                   -- why it was rejected (names fields, not values)
            report_ids   TEXT,                   -- JSON list of the reports filed from it
            raw          TEXT NOT NULL,          -- the message as received (holds patient data)
            reviewed_at  TEXT,
            reviewed_by  TEXT
        );
        CREATE INDEX hl7_messages_outcome ON hl7_messages (outcome);
        -- Studies sent to other hospitals (limestone send, archive/network/send.py): one row a study.
        CREATE TABLE transfers (
            transfer_id        INTEGER PRIMARY KEY AUTOINCREMENT,
            study_instance_uid TEXT NOT NULL,
            node               TEXT NOT NULL,        -- the destination's name in the node list
            destination        TEXT NOT NULL,        -- AE@host:port at the time
            user_id            TEXT,                 -- who asked
            source             TEXT,                 -- cli | dashboard
            requested_at       TEXT NOT NULL,
            finished_at        TEXT,
            status             TEXT NOT NULL,        -- running | sent | partial | failed
            instances          INTEGER NOT NULL DEFAULT 0,
            sent               INTEGER NOT NULL DEFAULT 0,
            converted          INTEGER NOT NULL DEFAULT 0,   -- sent in another syntax (original refused)
            failed             INTEGER NOT NULL DEFAULT 0,
            attempts           INTEGER NOT NULL DEFAULT 0,
            bytes              INTEGER NOT NULL DEFAULT 0,
            detail             TEXT                  -- one PHI-free line
        );
        CREATE INDEX transfers_study ON transfers (study_instance_uid);
        CREATE INDEX transfers_time ON transfers (requested_at);
    """),
    (5, "portal_sessions", """
        -- Share-portal sessions (portal/session.py): one row per correct passcode, so signing out
        -- (or a clerk's revocation) ends it on the server. Only the SHA-256 of the session secret is kept.
        CREATE TABLE portal_sessions (
            session_hash TEXT PRIMARY KEY,       -- sha256 hex of the cookie's random part
            link_id      TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            expires_at   TEXT NOT NULL,
            ended_at     TEXT                    -- signed out (NULL while it may be used)
        );
        CREATE INDEX portal_sessions_link ON portal_sessions (link_id);
        CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
    """),
    (6, "dicomweb_nodes", """
        -- A node may have a DICOMweb address (QIDO-RS/WADO-RS/STOW-RS) beside or instead of its
        -- DIMSE one; a URL-only node has ae_title '' and port 0. Credentials are never stored
        -- here: they come from the settings (dicomweb_credentials).
        ALTER TABLE nodes ADD COLUMN url TEXT;
        ALTER TABLE nodes ADD COLUMN auth TEXT NOT NULL DEFAULT 'none';
        ALTER TABLE nodes ADD COLUMN max_connections INTEGER NOT NULL DEFAULT 4;
    """),
    (7, "backups_and_key_escrows", """
        -- Backups made of this home (archive/backup/): when, where, how much.
        CREATE TABLE backup_runs (
            backup_id      TEXT PRIMARY KEY,
            target         TEXT NOT NULL,        -- the folder (or bucket) it went to
            started_at     TEXT NOT NULL,
            finished_at    TEXT NOT NULL,
            files          INTEGER NOT NULL,
            bytes          INTEGER NOT NULL,
            copied_files   INTEGER NOT NULL,
            copied_bytes   INTEGER NOT NULL
        );
        -- Escrows of the master keys (archive/escrow.py): which key ids each sealed.
        CREATE TABLE key_escrows (
            escrow_id      TEXT PRIMARY KEY,
            made_at        TEXT NOT NULL,
            key_ids        TEXT NOT NULL,        -- JSON list
            current_key_id TEXT,
            split          TEXT                  -- 'k of n' when split between custodians
        );
    """),
    (8, "patient_accounts", """
        -- Patients' own accounts in the portal (archive/patient_access/). An account is bound to one
        -- patient record (the one the clerk invited); the person's other records (every site) are
        -- found through the store's patient_identity at each request, so later imports appear.
        -- Portable SQL (SQLite and PostgreSQL): TEXT/INTEGER, explicit keys, ISO 8601 UTC as TEXT.
        CREATE TABLE patient_accounts (
            account_id       TEXT PRIMARY KEY,       -- public id, 'A' + 12 hex digits
            patient_key      TEXT NOT NULL,          -- the invited record (archive.dicom.models.patient_key)
            email            TEXT NOT NULL,          -- where codes and "new images" notices go
            status           TEXT NOT NULL,          -- invited | active | disabled
            created_by       TEXT NOT NULL,
            created_at       TEXT NOT NULL,
            enrolled_at      TEXT,
            disabled_at      TEXT,
            disabled_by      TEXT,
            last_sign_in_at  TEXT,
            failed_sign_ins  INTEGER NOT NULL DEFAULT 0,   -- since the last success
            locked_at        TEXT                    -- too many failures; a clerk unlocks
        );
        CREATE INDEX patient_accounts_patient ON patient_accounts (patient_key);
        CREATE INDEX patient_accounts_email ON patient_accounts (email);
        -- Invitations: a one-time, expiring link (only the token's SHA-256 is kept) plus the birth date.
        CREATE TABLE patient_invitations (
            invitation_id    TEXT PRIMARY KEY,       -- 'I' + 12 hex digits
            account_id       TEXT NOT NULL,
            token_hash       TEXT NOT NULL UNIQUE,
            created_by       TEXT NOT NULL,
            created_at       TEXT NOT NULL,
            expires_at       TEXT NOT NULL,
            used_at          TEXT,                   -- enrolment done: never usable again
            revoked_at       TEXT,                   -- replaced by a newer invitation or withdrawn
            birth_date_hash  TEXT NOT NULL,          -- scrypt of the birth date (the enrolment check)
            failed_attempts  INTEGER NOT NULL DEFAULT 0,   -- wrong birth dates
            locked_at        TEXT
        );
        CREATE INDEX patient_invitations_account ON patient_invitations (account_id);
        -- Passkeys (WebAuthn credentials); the public key only, never anything secret.
        CREATE TABLE patient_passkeys (
            credential_id    TEXT PRIMARY KEY,       -- base64url of the credential id
            account_id       TEXT NOT NULL,
            public_key       TEXT NOT NULL,          -- base64url of the COSE public key
            sign_count       INTEGER NOT NULL DEFAULT 0,
            transports       TEXT,                   -- comma list
            label            TEXT,
            created_at       TEXT NOT NULL,
            last_used_at     TEXT
        );
        CREATE INDEX patient_passkeys_account ON patient_passkeys (account_id);
        -- WebAuthn challenges between the options and the answer (single use, short-lived).
        CREATE TABLE patient_challenges (
            challenge_id     TEXT PRIMARY KEY,       -- random id kept in the browser
            account_id       TEXT,                   -- NULL for a discoverable-credential sign-in
            purpose          TEXT NOT NULL,          -- register | authenticate
            challenge        TEXT NOT NULL,          -- base64url
            created_at       TEXT NOT NULL,
            expires_at       TEXT NOT NULL,
            used_at          TEXT
        );
        -- One-time codes sent by e-mail (fallback sign-in, enrolment, recovery): scrypt hash only.
        CREATE TABLE patient_email_codes (
            code_id          TEXT PRIMARY KEY,       -- 'C' + 16 hex digits
            account_id       TEXT NOT NULL,
            purpose          TEXT NOT NULL,          -- sign_in | enrol | recovery
            code_hash        TEXT NOT NULL,
            created_at       TEXT NOT NULL,
            expires_at       TEXT NOT NULL,
            used_at          TEXT,
            attempts         INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX patient_email_codes_account ON patient_email_codes (account_id);
        -- Signed-in sessions: only the SHA-256 of the cookie's secret; "sign out everywhere" ends all.
        CREATE TABLE patient_sessions (
            session_hash     TEXT PRIMARY KEY,
            account_id       TEXT NOT NULL,
            method           TEXT NOT NULL,          -- passkey | email_code | enrolment
            created_at       TEXT NOT NULL,
            expires_at       TEXT NOT NULL,          -- absolute end
            last_seen_at     TEXT NOT NULL,          -- idle timeout runs from here
            ended_at         TEXT
        );
        CREATE INDEX patient_sessions_account ON patient_sessions (account_id);
        -- Shares made by a patient are marked (staff lists, the usage report).
        ALTER TABLE share_links ADD COLUMN created_by_kind TEXT NOT NULL DEFAULT 'staff';  -- staff | patient
        ALTER TABLE share_links ADD COLUMN account_id TEXT;
        CREATE INDEX share_links_account ON share_links (account_id);
        -- Patient (and delegate) actions name the account acting.
        ALTER TABLE audit_events ADD COLUMN account_id TEXT;
        CREATE INDEX audit_events_account ON audit_events (account_id);
    """),
    (9, "portal_limits", """
        -- What every share-portal replica must agree on beyond the links themselves
        -- (portal/limits.py, portal/session.py), used when the state is shared (PostgreSQL).
        -- Rate-limit windows and refusal thinning, one row per kind and key (a client address,
        -- or link id and address); old rows are pruned as they are met.
        CREATE TABLE portal_counters (
            kind          TEXT NOT NULL,        -- requests | attempts | refusals
            key           TEXT NOT NULL,
            window_start  REAL NOT NULL,        -- Unix seconds the current window began
            events        INTEGER NOT NULL,     -- counted in it (refusals: held back in it)
            held          INTEGER,              -- refusals: held back in the window before
            PRIMARY KEY (kind, key)
        );
        CREATE INDEX portal_counters_window ON portal_counters (window_start);
        -- Keys every replica signs with (the session cookie's HMAC key), made once by the first.
        CREATE TABLE portal_keys (
            name   TEXT PRIMARY KEY,
            value  TEXT NOT NULL                -- base64
        );
    """),
    (10, "patient_delegations", """
        -- Family and caregivers (archive/patient_access/delegation.py): an owner's records opened by
        -- another account until an end date. Granted by the owner in the portal or by a clerk (a child,
        -- a person under guardianship); every use is audited as the delegate's, on the owner's behalf.
        CREATE TABLE patient_delegations (
            delegation_id        TEXT PRIMARY KEY,   -- 'G' + 12 hex digits
            owner_account_id     TEXT NOT NULL,      -- whose records
            delegate_account_id  TEXT NOT NULL,      -- who may open them
            label                TEXT NOT NULL,      -- how the delegate sees the owner ("Sam (son)")
            granted_by           TEXT NOT NULL,      -- 'patient:A...' or the clerk
            granted_by_kind      TEXT NOT NULL,      -- patient | clerk
            created_at           TEXT NOT NULL,
            ends_at              TEXT NOT NULL,      -- access stops at this instant (UTC)
            revoked_at           TEXT,
            revoked_by           TEXT
        );
        CREATE INDEX patient_delegations_owner ON patient_delegations (owner_account_id);
        CREATE INDEX patient_delegations_delegate ON patient_delegations (delegate_account_id);
        -- An action done for someone else names them (a delegate acting for the owner's account).
        ALTER TABLE audit_events ADD COLUMN on_behalf_of TEXT;
    """),
    (11, "vault_objects", """
        -- Where each file of a vault in object storage is (archive/object_storage.py): vault files
        -- are packed many to an object, so an import sends one PUT per batch, not one per instance.
        -- Written after the pack's PUT has answered; the first row for a content hash wins.
        CREATE TABLE vault_objects (
            digest      TEXT PRIMARY KEY,       -- SHA-256 (hex) of the original file
            object      TEXT NOT NULL,          -- the pack's key under the vault's prefix
            first_byte  INTEGER NOT NULL,       -- where the sealed file starts in the pack
            byte_count  INTEGER NOT NULL,       -- the sealed file's length
            stored_at   TEXT NOT NULL           -- ISO 8601, UTC
        );
        CREATE INDEX vault_objects_object ON vault_objects (object);
    """),
]


# PostgreSQL text of steps the mechanical translation (``_postgres_ddl``) cannot take: none yet.
POSTGRES_STEPS: dict[int, str] = {}

_LOCK_KEY = int.from_bytes(hashlib.sha256(b"limestone state schema lock").digest()[:8], "big", signed=True)


class StateError(LimestoneError, RuntimeError):
    """The state database cannot be used (its message never holds a password)."""


# ---- rows ---------------------------------------------------------------------------------------
class Row(tuple):
    """A result row: a tuple (unpacking, equality) that is also read by column name, like
    ``sqlite3.Row`` (``row["name"]``, ``row.keys()``, ``dict(row)``)."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> "Row":
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)

    def __reduce__(self) -> tuple[Any, ...]:     # pickled by value and names (worker processes)
        return Row, (tuple(self), self._index)


@lru_cache(maxsize=256)
def _index(names: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


def _sqlite_row(cursor: sqlite3.Cursor, values: tuple) -> Row:
    return Row(values, _index(tuple(d[0] for d in cursor.description)))


def _postgres_rows(cursor: Any) -> Any:
    index = _index(tuple(c.name for c in cursor.description or ()))
    return lambda values: Row(values, index)


# ---- SQL for PostgreSQL -------------------------------------------------------------------------
# The callers' SQL is written to run on both backends (rules in the module doc), so the only
# rewrite every statement needs is the placeholder: sqlite3 takes ``?``, psycopg only ``%s``
# (and then a literal ``%`` must be doubled). A general translator (sqlglot) was weighed and
# left out: it would re-render every statement and the schema through its own model to change
# one token, and the schema's two SQLite-isms (AUTOINCREMENT, 32-bit INTEGER) are two rules below.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?|%")


@lru_cache(maxsize=1024)
def _postgres_sql(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s`` (and ``%`` doubled)."""
    def swap(match: re.Match) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        return token.replace("%", "%%")
    return _TOKENS.sub(swap, sql)


def _postgres_ddl(number: int, sql: str) -> str:
    """A schema step for PostgreSQL: its variant in ``POSTGRES_STEPS``, else the SQLite text with
    SQLite's 64-bit INTEGER as BIGINT, REAL as DOUBLE PRECISION and AUTOINCREMENT keys as identities."""
    if number in POSTGRES_STEPS:
        return POSTGRES_STEPS[number]
    sql = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b",
                 "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql, flags=re.I)
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql, flags=re.I)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql, flags=re.I)


# ---- the connection -----------------------------------------------------------------------------
class StateConnection:
    """One connection to the state database, the same shape on SQLite and PostgreSQL.

    Outside ``transaction()`` every statement commits by itself (autocommit on both backends).
    """

    def __init__(self, raw: Any, backend: str, release: Any = None):
        self.raw = raw
        self.backend = backend            # "sqlite" | "postgresql"
        self._release = release
        self._closed = False

    @property
    def postgres(self) -> bool:
        return self.backend == "postgresql"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement with ``?`` placeholders; the cursor has ``fetchone``, ``fetchall``,
        iteration and ``rowcount``."""
        if not self.postgres:
            return self.raw.execute(sql, params)
        import psycopg

        try:
            if params:
                return self.raw.execute(_postgres_sql(sql), list(params))
            if sql.strip().upper() == "BEGIN IMMEDIATE":
                # SQLite's "take the write lock now"; PostgreSQL's row locks need no such thing.
                sql = "BEGIN"
            return self.raw.execute(sql)
        except psycopg.Error as exc:
            raise StateError(f"the state database refused a statement: {type(exc).__name__}: "
                             f"{_first_line(exc)}") from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]] | Any) -> None:
        rows = [list(r) for r in rows]
        if not self.postgres:
            self.raw.executemany(sql, rows)
            return
        if not rows:
            return
        import psycopg

        try:
            with self.raw.cursor() as cur:
                cur.executemany(_postgres_sql(sql), rows)
        except psycopg.Error as exc:
            raise StateError(f"the state database refused a statement: {type(exc).__name__}: "
                             f"{_first_line(exc)}") from None

    @contextmanager
    def transaction(self) -> Iterator["StateConnection"]:
        """Several statements as one: all or none, and (SQLite) the write lock taken at once."""
        if self.postgres:
            import psycopg

            try:
                with self.raw.transaction():
                    yield self
            except psycopg.Error as exc:     # e.g. at COMMIT: the same plain error as a statement's
                raise StateError(f"the state database refused a transaction: {type(exc).__name__}: "
                                 f"{_first_line(exc)}") from None
            return
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._release is not None:
            self._release(self.raw)
        else:
            self.raw.close()

    def __enter__(self) -> "StateConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, StateError)
"""What a state operation may raise on either backend (for callers that log and carry on)."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


# ---- SQLite ------------------------------------------------------------------------------------
def _apply_sqlite(con: sqlite3.Connection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_steps (number INTEGER PRIMARY KEY, name TEXT)")
    done = {row[0] for row in con.execute("SELECT number FROM schema_steps")}
    for number, name, sql in SCHEMA_STEPS:
        if number in done:
            continue
        # executescript commits on its own: wrap the step and its record in one explicit transaction.
        con.executescript(f"BEGIN IMMEDIATE;\n{sql}\n"
                          f"INSERT INTO schema_steps VALUES ({int(number)}, '{name}');\nCOMMIT;")


def _connect_sqlite(home: Home) -> StateConnection:
    home.root.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(home.state_path, timeout=10, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA busy_timeout=10000")
    try:
        _apply_sqlite(con)
    except sqlite3.OperationalError:
        # Another process may be applying the same step: re-check once it has finished.
        _apply_sqlite(con)
    con.row_factory = _sqlite_row
    return StateConnection(con, "sqlite")


# ---- PostgreSQL ----------------------------------------------------------------------------------
# A few idle connections per process and database, reused: a portal request reads the state several
# times, and a new PostgreSQL session costs a TCP handshake and a SCRAM exchange each. Kept per
# process id, so a forked worker never uses its parent's sockets. (psycopg_pool was weighed: it
# waits out its timeout on a refused connection instead of failing at once, and runs threads a
# forked import worker would inherit; this list is all the pooling the state needs.)
_IDLE_MAX = 8
_idle: dict[tuple[int, str], list[Any]] = {}
_idle_lock = threading.Lock()
_ready: set[str] = set()          # databases whose schema this process has brought up to date


def _masked(url: str, message: str) -> str:
    from archive.store.connection import postgres_parts

    password = postgres_parts(url)["password"]
    if len(password) >= 4:
        message = message.replace(password, "***")
    return message


def _take(url: str) -> Any:
    import psycopg

    from archive.store.connection import StoreError, postgres_parts

    with _idle_lock:
        idle = _idle.get((os.getpid(), url), [])
        while idle:
            con = idle.pop()
            if not con.closed and not con.broken:
                return con
    try:
        parts = postgres_parts(url)
    except StoreError:
        raise StateError("LIMESTONE_STATE must look like postgresql://user@host:port/database") from None
    try:
        return psycopg.connect(psycopg.conninfo.make_conninfo("", **parts), autocommit=True,
                               row_factory=_postgres_rows, connect_timeout=10, application_name="limestone")
    except psycopg.Error as exc:
        raise StateError("cannot reach the PostgreSQL state database: "
                         + _masked(url, _first_line(exc))) from None


def _giver(url: str) -> Any:
    def give(con: Any) -> None:
        import psycopg

        usable = (not con.closed and not con.broken
                  and con.info.transaction_status == psycopg.pq.TransactionStatus.IDLE)
        if usable:
            with _idle_lock:
                idle = _idle.setdefault((os.getpid(), url), [])
                if len(idle) < _IDLE_MAX:
                    idle.append(con)
                    return
        con.close()
    return give


def release_connections() -> None:
    """Close this process's idle PostgreSQL connections (tests, and before a database is dropped)."""
    with _idle_lock:
        idle = [con for key, cons in _idle.items() if key[0] == os.getpid() for con in cons]
        for key in [k for k in _idle if k[0] == os.getpid()]:
            del _idle[key]
        _ready.clear()
    for con in idle:
        con.close()


def _apply_postgres(con: StateConnection) -> None:
    # One transaction under an advisory lock: a second process starting at the same moment waits,
    # then finds the steps done. PostgreSQL's DDL is transactional, so a failed step leaves nothing.
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(?)", [_LOCK_KEY])
        con.execute("CREATE TABLE IF NOT EXISTS schema_steps (number BIGINT PRIMARY KEY, name TEXT)")
        done = {row[0] for row in con.execute("SELECT number FROM schema_steps")}
        for number, name, sql in SCHEMA_STEPS:
            if number not in done:
                con.execute(_postgres_ddl(number, sql))
                con.execute("INSERT INTO schema_steps VALUES (?, ?)", [number, name])


def _connect_postgres(home: Home) -> StateConnection:
    url = home.state_url
    con = StateConnection(_take(url), "postgresql", _giver(url))
    if url not in _ready:
        try:
            _apply_postgres(con)
        except BaseException:
            con.close()
            raise
        _ready.add(url)
    return con


def connect(home: Home) -> StateConnection:
    """A connection to the home's state database (created and migrated on first use)."""
    if home.state_url:
        return _connect_postgres(home)
    return _connect_sqlite(home)


def backend(home: Home) -> str:
    """``postgresql`` or ``sqlite``: where the home's state lives (as ``limestone stats`` says)."""
    return "postgresql" if home.state_url else "sqlite"


def exists(home: Home) -> bool:
    """Whether the state was made (a PostgreSQL state is taken to exist: opening it tells)."""
    return bool(home.state_url) or home.state_path.exists()


def schema_version(home: Home) -> int:
    """The highest schema step applied (0 for a fresh database)."""
    with closing(connect(home)) as con:
        return int(con.execute("SELECT coalesce(max(number), 0) FROM schema_steps").fetchone()[0])
