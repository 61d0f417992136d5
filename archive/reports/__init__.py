"""Reports beside the images: DICOM SR and Encapsulated PDF found at ingest, HL7 v2 ORU^R01 results.

The text of every report is kept in the analytic store (table ``reports``, views
``study_reports`` and ``waiting_reports``); the SR/PDF instances themselves stay in the vault.

- ``reports_for_study(con, study_uid)``: a study's current reports, for any page or export;
- ``store.file_after_batch``: the store writer's hook (import, pull, listen);
- ``inbox.receive``: one HL7 message in, an ACK/NAK out (``limestone import-hl7``, the MLLP listener);
- ``search.search_reports``: full-text search (DuckDB's fts extension, loaded offline from its wheel).
"""

from archive.reports.store import Report, reports_for_study, waiting

__all__ = ["Report", "reports_for_study", "waiting"]
