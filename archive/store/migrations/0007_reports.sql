-- Reports beside the images (issue 9): DICOM SR and Encapsulated PDF documents found at ingest,
-- and HL7 v2 ORU^R01 results from the radiology information system (archive/reports/).
--
-- Append-only: every version of a report is a row, never updated. A document's versions share a
-- document_key; the current one is chosen by the report_versions view. An HL7 report that names
-- no study is matched to one by accession number (and patient ID when the message carries one)
-- in the study_reports view, so a report that arrives before its study simply waits.
CREATE TABLE reports (
    report_id VARCHAR NOT NULL,          -- unique: 'sr:<SOP UID>', 'pdf:<SOP UID>', 'hl7:<facility>:<control id>'
    document_key VARCHAR NOT NULL,       -- versions of one report share it
    source VARCHAR NOT NULL,             -- sr | pdf | hl7
    study_instance_uid VARCHAR,          -- known for SR/PDF; NULL for HL7 until matched by the view
    accession_number VARCHAR,
    patient_ids VARCHAR[],               -- HL7 PID-3 identifiers, to confirm an accession match
    status VARCHAR NOT NULL,             -- preliminary | final | amended | cancelled
    author VARCHAR,
    report_datetime TIMESTAMP,
    title VARCHAR,
    text VARCHAR,                        -- readable text (SR tree flattened, PDF text layer, OBX text)
    sop_instance_uid VARCHAR,            -- the SR/PDF instance (its bytes are in the vault)
    content_hash VARCHAR,                -- vault file of the SR/PDF instance
    text_extracted BOOLEAN,              -- false when a PDF had no extractable text
    received_at TIMESTAMP NOT NULL
);

-- Each report row with the studies it belongs to: its own study (SR/PDF), or the studies whose
-- accession number it names, restricted to the message's patient when it gives an ID.
CREATE VIEW report_study_matches AS
WITH by_accession AS (
    SELECT r.report_id, s.study_instance_uid
    FROM reports r
    JOIN studies s ON s.accession_number = r.accession_number
    LEFT JOIN patients p ON p.patient_key = s.patient_key
    WHERE r.study_instance_uid IS NULL AND r.accession_number IS NOT NULL AND r.accession_number <> ''
      AND (coalesce(len(r.patient_ids), 0) = 0 OR list_contains(r.patient_ids, p.patient_id))
)
SELECT report_id, study_instance_uid FROM reports WHERE study_instance_uid IS NOT NULL
UNION
SELECT report_id, study_instance_uid FROM by_accession;

-- Versions of each document, newest first; version_rank 1 is the current one. A final or amended
-- report always supersedes a preliminary one; among the rest the latest report time wins (then
-- the latest received), so a late resend of a preliminary never hides the final report.
CREATE VIEW report_versions AS
SELECT r.*,
       row_number() OVER (PARTITION BY document_key
                          ORDER BY (status = 'preliminary') ASC, report_datetime DESC NULLS LAST,
                                   received_at DESC, report_id DESC) AS version_rank,
       count(*) OVER (PARTITION BY document_key) AS versions
FROM reports r;

-- The reports of each study (every version, with is_current), and those still waiting for one.
CREATE VIEW study_reports AS
SELECT m.study_instance_uid, v.*, v.version_rank = 1 AS is_current
FROM report_versions v JOIN report_study_matches m USING (report_id);

CREATE VIEW waiting_reports AS
SELECT v.* FROM report_versions v
WHERE v.version_rank = 1 AND v.report_id NOT IN (SELECT report_id FROM report_study_matches);
