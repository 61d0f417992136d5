"""The HL7 inbox: each message is kept first, then filed, then acknowledged.

``receive`` writes the raw message to the state database (``hl7_messages``) before anything
else, so nothing received is lost; then it reads it (``hl7v2.parse``) and files its reports in
the analytic store (a PDF embedded in the message goes to the vault first, where the report's
``content_hash`` names it). A good message gets an ACK (AA). A malformed one gets a NAK (AE or AR)
whose text says what is wrong, and stays in the inbox as ``rejected`` for review; a message that
could not be filed for a passing reason (store busy) is ``error`` and NAKed, so the sender
sends it again. Logs carry the inbox id and the reason, never the message.
"""

from __future__ import annotations

import json
import logging
from contextlib import closing
from dataclasses import dataclass, field

import duckdb

from archive import state
from archive.clock import now_utc
from archive.home import Home
from archive.reports import hl7v2
from archive.reports.store import insert
from archive.vault import Vault

log = logging.getLogger("limestone.hl7")


@dataclass
class Received:
    ack: str                          # the ACK/NAK message to answer with
    code: str                         # AA | AE | AR
    message_id: int | None = None     # inbox id
    reason: str | None = None
    report_ids: list[str] = field(default_factory=list)


def _keep(home: Home, raw: str, source: str) -> int:
    with closing(state.connect(home)) as con:
        cur = con.execute("INSERT INTO hl7_messages (received_at, source, outcome, raw) VALUES (?, ?, ?, ?) "
                          "RETURNING message_id",
                          [now_utc().isoformat(timespec="milliseconds"), source[:200], "received", raw])
        return int(cur.fetchone()[0])


def _settle(home: Home, message_id: int, outcome: str, *, control_id: str | None = None,
            message_type: str | None = None, reason: str | None = None,
            report_ids: list[str] | None = None) -> None:
    with closing(state.connect(home)) as con:
        con.execute("UPDATE hl7_messages SET outcome = ?, control_id = ?, message_type = ?, reason = ?, "
                    "report_ids = ? WHERE message_id = ?",
                    [outcome, control_id, message_type, reason,
                     json.dumps(report_ids) if report_ids is not None else None, message_id])


def receive(home: Home, con: duckdb.DuckDBPyConnection, raw: bytes | str, source: str,
            vault: Vault) -> Received:
    """Keep, read and file one message; return the acknowledgement to send back."""
    text = hl7v2.normalise(raw)
    try:
        message_id = _keep(home, text, source)
    except state.ERRORS as exc:
        log.error("an HL7 message could not be kept (state database: %s); answered AE", exc)
        reason = "the archive cannot keep messages right now; send it again later"
        return Received(hl7v2.acknowledgement(text, "AE", reason), "AE", None, reason)
    try:
        parsed = hl7v2.parse(text)
    except hl7v2.MessageProblem as problem:
        log.warning("HL7 message %d rejected (%s): %s", message_id, problem.code, problem.reason)
        control_id, message_type = hl7v2.identify(text)
        _settle(home, message_id, "rejected", control_id=control_id, message_type=message_type,
                reason=problem.reason)
        return Received(hl7v2.acknowledgement(text, problem.code, problem.reason, problem.error_code),
                        problem.code, message_id, problem.reason)
    ids = [r.report_id for r in parsed.reports]
    try:
        for digest, document in parsed.documents.items():
            vault.put(document, digest)
        insert(con, parsed.reports)
    except Exception as exc:  # vault or store failing: keep the message, make the sender retry
        reason = "the report could not be filed now; it is kept and may be sent again"
        log.error("HL7 message %d not filed: %s", message_id, type(exc).__name__)
        _settle(home, message_id, "error", control_id=parsed.control_id,
                message_type=parsed.message_type, reason=reason)
        return Received(hl7v2.acknowledgement(text, "AE", reason), "AE", message_id, reason)
    _settle(home, message_id, "filed", control_id=parsed.control_id, message_type=parsed.message_type,
            report_ids=ids)
    return Received(hl7v2.acknowledgement(text, "AA"), "AA", message_id, None, ids)


def review_queue(home: Home, limit: int = 500) -> list[dict]:
    """Rejected and unfiled messages waiting for someone to look at them, oldest first."""
    with closing(state.connect(home)) as con:
        rows = con.execute("SELECT message_id, received_at, source, control_id, message_type, outcome, "
                           "reason FROM hl7_messages WHERE outcome IN ('rejected', 'error') "
                           "AND reviewed_at IS NULL ORDER BY message_id LIMIT ?", [limit])
        return [dict(r) for r in rows]


def mark_reviewed(home: Home, message_id: int, reviewed_by: str) -> bool:
    """Take a message off the review list (it stays in the inbox, with who and when);
    False when it is not waiting for review."""
    with closing(state.connect(home)) as con:
        cur = con.execute("UPDATE hl7_messages SET reviewed_at = ?, reviewed_by = ? WHERE message_id = ? "
                          "AND outcome IN ('rejected', 'error') AND reviewed_at IS NULL",
                          [now_utc().isoformat(timespec="milliseconds"), reviewed_by[:200], message_id])
        changed = cur.rowcount == 1
    if changed:
        log.info("HL7 message %d marked reviewed by %s", message_id, reviewed_by)
    return changed


def message(home: Home, message_id: int) -> dict | None:
    with closing(state.connect(home)) as con:
        row = con.execute("SELECT * FROM hl7_messages WHERE message_id = ?", [message_id]).fetchone()
        return dict(row) if row else None
