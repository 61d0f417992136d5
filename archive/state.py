"""The operational database: small transactional writes made by the app (SQLite, WAL).

Audit events, share links, node records and job runs live here, never in the analytic store, so
an app action never waits on an ingest. The schema is a list of numbered, append-only steps
(``SCHEMA_STEPS``); a module that needs tables adds a step at the end. ``connect(home)`` opens
the database at ``Home.state_path`` in WAL mode and applies pending steps.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from archive.errors import LimestoneError
from archive.home import Home

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
    (9, "patient_delegations", """
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
]


def _apply(con: sqlite3.Connection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_steps (number INTEGER PRIMARY KEY, name TEXT)")
    done = {row[0] for row in con.execute("SELECT number FROM schema_steps")}
    for number, name, sql in SCHEMA_STEPS:
        if number in done:
            continue
        # executescript commits on its own: wrap the step and its record in one explicit transaction.
        con.executescript(f"BEGIN IMMEDIATE;\n{sql}\n"
                          f"INSERT INTO schema_steps VALUES ({int(number)}, '{name}');\nCOMMIT;")


class StateError(LimestoneError, RuntimeError):
    """The state database cannot be used."""


def connect(home: Home) -> sqlite3.Connection:
    """A connection to the home's state database (created and migrated on first use)."""
    if home.state_url:
        # Refuse rather than quietly keep share links and audit events on this machine only.
        raise StateError("LIMESTONE_STATE (state in PostgreSQL) is not supported yet: leave it empty "
                         "to keep the state database in the home")
    home.root.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(home.state_path, timeout=10, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA busy_timeout=10000")
    try:
        _apply(con)
    except sqlite3.OperationalError:
        # Another process may be applying the same step: re-check once it has finished.
        _apply(con)
    return con


def schema_version(home: Home) -> int:
    """The highest schema step applied (0 for a fresh database)."""
    with closing(connect(home)) as con:
        return con.execute("SELECT coalesce(max(number), 0) FROM schema_steps").fetchone()[0]
