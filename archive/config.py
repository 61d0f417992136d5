"""Limestone's settings: one declarative table, read from ``LIMESTONE_*`` environment variables.

Every setting has a name, a default and a help text. ``Settings.load()`` resolves them from the
environment (``LIMESTONE_<NAME>`` in upper case) with explicit overrides taking precedence, so the
CLI's ``--home DIR`` simply overrides ``home``. Paths that are not absolute are resolved against the
home; the home itself, when relative, against the current directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.errors import LimestoneError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: type = str

    @property
    def env_var(self) -> str:
        return f"LIMESTONE_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("home", str(PROJECT_ROOT / "data"),
            "Folder holding the analytic store, the vault, the state database and the keys."),
    # Where the archive's parts live. Empty: inside the home (the embedded default, one machine).
    Setting("catalog", "",
            "The analytic store's catalog: a postgresql:// URL (many machines share one archive); "
            "empty: <home>/store/catalog.sqlite."),
    Setting("lake", "",
            "Where the store's Parquet data goes: a folder or s3://bucket/prefix; empty: <home>/store/lake."),
    Setting("vault", "",
            "Where the encrypted originals go: a folder or s3://bucket/prefix; empty: <home>/vault."),
    Setting("state", "",
            "The operational database (share links, audit, sessions, portal limits, nodes, transfers): "
            "a postgresql:// URL shared by every machine; empty: <home>/state.sqlite."),
    Setting("master_key", "",
            "Base64 of a 32-byte vault master key. When empty, the key is kept in <home>/keys/ "
            "(created on first use, mode 0600)."),
    Setting("master_key_id", "",
            "Key id of the master key given in LIMESTONE_MASTER_KEY (required with it)."),
    Setting("import_workers", 0,
            "Worker processes for import; 0 means one per CPU core.", int),
    Setting("batch_size", 2000,
            "Instances written to the store per commit (one Parquet file per commit).", int),
    # Limits on what one import reads (archive/ingest/sources.py): what passes them is refused and
    # named in the summary, so a zip bomb or a multi-GB file cannot exhaust memory.
    Setting("import_max_file_mb", 256,
            "Largest file (or zip/ISO member) an import reads, in MB; larger ones are refused and named. "
            "A worker holds about twice this in memory.", int),
    Setting("import_max_container_mb", 16384,
            "Most a single zip file or CD image may expand to, in MB; members past it are refused.", int),
    Setting("import_max_members", 200000,
            "Most files read from a single zip file or CD image; the rest are refused.", int),
    # The job queue of a distributed archive (archive/jobs/, limestone worker).
    Setting("worker_heartbeat_seconds", 10.0,
            "Seconds between a limestone worker's heartbeats in the job queue.", float),
    Setting("worker_stalled_seconds", 60.0,
            "A worker whose heartbeat is this many seconds old is taken for dead: its running jobs go "
            "back to the queue for the other workers.", float),
    Setting("ae_title", "LIMESTONE", "Our own DICOM Application Entity title."),
    Setting("dicom_port", 11112, "Port of our storage SCP (limestone listen).", int),
    Setting("dicom_bind", "",
            "Address our storage SCP listens on (limestone listen, C-MOVE pulls); empty: all interfaces."),
    Setting("dicom_timeout", 30.0,
            "Seconds to wait on a DICOM peer (connect, association, each response) before giving up.",
            float),
    Setting("pull_overlap_days", 1,
            "An incremental pull looks again at this many days before the last finished window "
            "(studies that reach the PACS late).", int),
    Setting("listen_flush_seconds", 2.0,
            "Longest time a received instance waits before its store row is committed.", float),
    Setting("repeat_refresh_seconds", 300.0,
            "Longest time a study received by limestone listen waits before the patient links and "
            "repeat metrics include it (0: after every committed batch).", float),
    # Image quality metrics and de-identified exports (archive/quality/, archive/deid/).
    Setting("qa_workers", 0, "Worker processes for limestone qa; 0 means one per CPU core.", int),
    Setting("deid_burned_in", "pixels",
            "Which de-identified objects are held back for burned-in text: pixels (text found in the "
            "pixel data by OCR), modality (every US and secondary capture, the older rule) or both. "
            "BurnedInAnnotation YES is always held back."),
    Setting("deid_key", "",
            "Base64 of the secret (16+ bytes) behind de-identification pseudonyms, new UIDs and date "
            "shifts. When empty, it is kept in <home>/keys/deid.key (created on first use, mode 0600)."),
    # Share links and the share portal (archive/sharing/links.py, portal/).
    Setting("portal_base_url", "http://127.0.0.1:8502",
            "Public address of the share portal, the start of every share link (https://... in production)."),
    Setting("portal_host", "127.0.0.1",
            "Address the share portal listens on (0.0.0.0 to serve the network, behind TLS)."),
    Setting("portal_port", 8502, "Port of the share portal (limestone portal).", int),
    Setting("portal_tls_cert", "",
            "PEM certificate (chain) for HTTPS on the share portal; with portal_tls_key, "
            "the portal serves HTTPS only."),
    Setting("portal_tls_key", "", "PEM private key of portal_tls_cert."),
    Setting("portal_trusted_proxies", "",
            "Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies whose X-Forwarded-For "
            "the portal believes; from any other peer the header is ignored."),
    Setting("portal_session_minutes", 60,
            "How long a recipient stays signed in to a link after entering the passcode.", int),
    Setting("portal_attempts_per_minute", 10,
            "Passcode attempts one address may make per minute on the share portal.", int),
    Setting("portal_requests_per_minute", 600,
            "Requests one address may make per minute on the share portal.", int),
    Setting("share_default_days", 30, "Days a new share link lasts unless the clerk says otherwise.", int),
    Setting("share_max_days", 90, "Longest a share link may last (and be extended to), in days.", int),
    Setting("share_lockout_attempts", 5,
            "Wrong passcodes (or birth dates) that lock a share link until a clerk unlocks it.", int),
    # Patients' own accounts in the portal (archive/patient_access/).
    Setting("smtp_url", "",
            "SMTP server patient e-mails (sign-in codes, new-images notices) go through: "
            "smtp://[user:password@]host:port (STARTTLS when offered) or smtps://... ; empty: no e-mail."),
    Setting("smtp_sender", "no-reply@limestone.invalid",
            "From address of patient e-mails. They never carry patient data: only codes and notices."),
    Setting("patient_invite_days", 14, "Days an invitation to enrol lasts.", int),
    Setting("patient_code_minutes", 10, "Minutes an e-mailed sign-in code lasts.", int),
    Setting("patient_session_minutes", 30,
            "Minutes a patient stays signed in without using the portal (idle timeout).", int),
    Setting("patient_session_max_hours", 12,
            "Longest a patient session lasts however active, in hours.", int),
    Setting("patient_lockout_attempts", 5,
            "Failed sign-ins (wrong codes, birth dates) that lock an account or invitation until a "
            "clerk unlocks it.", int),
    Setting("patient_report_delay_hours", 0,
            "Hours after a report is released before the patient sees it in their account "
            "(time for the doctor to call first); 0: at once, as in the share portal.", int),
    Setting("currency", "CAD",
            "ISO 4217 code of the currency exam costs are in (repeat-exam cost avoided); the region is "
            "in Ontario, hence Canadian dollars."),
    # Reports and sending studies to other hospitals (archive/reports/, archive/network/send.py).
    Setting("hl7_bind", "",
            "Address the HL7 MLLP listener (limestone listen --hl7-port) listens on; empty: all interfaces."),
    Setting("hl7_max_message_kb", 16384,
            "Largest HL7 message (MLLP block) the listener takes, in KB; a longer or endless block is "
            "refused and its connection closed.", int),
    Setting("send_retries", 3,
            "Times limestone send tries a study again after a failed attempt (refused, timed out, dropped).", int),
    Setting("send_backoff_seconds", 2.0,
            "Wait before the first retry of a send; it doubles with each further retry.", float),
    # DICOMweb nodes (archive/network/dicomweb/).
    Setting("dicomweb_credentials", "keys/dicomweb.json",
            "JSON file (mode 0600) of DICOMweb node credentials: {\"NODE\": {\"username\": ..., "
            "\"password\": ...}} for basic auth or {\"NODE\": {\"token\": ...}} for bearer. Never on "
            "the command line, never logged."),
    Setting("dicomweb_ca_bundle", "",
            "PEM file of the CA certificates DICOMweb nodes' TLS certificates are checked against "
            "(a hospital CA); empty: the system's CAs. Certificates are always verified."),
    Setting("dicomweb_timeout", 60.0,
            "Seconds to wait on a DICOMweb node (connect, and between bytes of an answer).", float),
    Setting("dicomweb_retries", 3,
            "Times a DICOMweb request is tried again after 429/503 (honouring Retry-After) or a "
            "dropped connection.", int),
    Setting("dicomweb_page_size", 1000,
            "Studies asked for per QIDO-RS page (limit/offset).", int),
    # Backups and key escrow (archive/backup/, archive/escrow.py).
    Setting("escrow_passphrase", "",
            "Passphrase of limestone keys escrow / keys recover (and restore --escrow) when no "
            "terminal can ask for it; never give it on the command line."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class ConfigError(LimestoneError, ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    values: dict[str, Any]

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """Resolve every setting: explicit overrides, then the environment, then the default."""
        env = os.environ if env is None else env
        unknown = set(overrides) - set(_BY_NAME)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = overrides.get(setting.name)
            if raw is None:
                raw = env.get(setting.env_var, setting.default)
            try:
                values[setting.name] = setting.kind(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"{setting.env_var} must be a {setting.kind.__name__}, got {raw!r}") from None
        return cls(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def home_path(self) -> Path:
        return Path(self.values["home"]).expanduser().resolve()


def describe() -> list[dict[str, str]]:
    """The settings table as rows (name, environment variable, default, help) for docs and CLIs."""
    return [
        {"name": s.name, "env": s.env_var, "default": str(s.default), "help": s.help}
        for s in SETTINGS
    ]
