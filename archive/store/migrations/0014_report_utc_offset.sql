-- HL7 report times may carry a UTC offset (OBR-22 '20261128143000+0100'): report_datetime keeps the
-- time as written (the sender's wall clock), report_utc_offset keeps the offset ('+01:00'), NULL
-- when the message gave none. The views over reports are recreated so that they carry the column.
ALTER TABLE reports ADD COLUMN report_utc_offset VARCHAR;

CREATE OR REPLACE VIEW report_versions AS
SELECT r.*,
       row_number() OVER (PARTITION BY document_key
                          ORDER BY (status = 'preliminary') ASC, report_datetime DESC NULLS LAST,
                                   received_at DESC, report_id DESC) AS version_rank,
       count(*) OVER (PARTITION BY document_key) AS versions
FROM reports r;

CREATE OR REPLACE VIEW study_reports AS
SELECT m.study_instance_uid, v.*, v.version_rank = 1 AS is_current
FROM report_versions v JOIN report_study_matches m USING (report_id);

CREATE OR REPLACE VIEW waiting_reports AS
SELECT v.* FROM report_versions v
WHERE v.version_rank = 1 AND v.report_id NOT IN (SELECT report_id FROM report_study_matches);
