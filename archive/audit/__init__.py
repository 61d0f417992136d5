"""Audit trail: every access to patient data, recorded in the state database and exported as DICOM audit messages.

- ``trail``: recording and searching audit events (who did what to which study, when, with what outcome);
- ``atna``: the same events as DICOM audit messages (PS3.15 Annex A.5, IHE ATNA).
"""

from archive.audit.trail import ACTIONS, AuditEvent, events, record, record_many, search

__all__ = ["ACTIONS", "AuditEvent", "events", "record", "record_many", "search"]
