-- The archive browser's table: one row per study with the patient columns it searches and sorts
-- by, so one scan with filters and a top-N sort answers a page, with no join per page.
-- study_browse_source defines the rows; study_browse holds them, kept up to date in the same
-- transaction by every writer of studies or patients (archive/store/browse_table.py). Migration
-- 0010 sets its layout and fills it (DuckLake takes no table settings in the creating transaction).
-- Name and description are also kept lower-cased (and the name with '^' read as a space), so a
-- case-insensitive search is a plain LIKE on them: lower(x) LIKE lower(p) is x ILIKE p.
CREATE VIEW study_browse_source AS
SELECT s.study_instance_uid, s.study_date, s.study_time, s.accession_number, s.study_description,
       s.modalities, s.body_part_examined, s.site, s.number_of_series, s.number_of_instances,
       s.bytes, s.patient_key, p.patient_name, p.patient_id, p.issuer_of_patient_id,
       p.patient_birth_date, p.patient_sex,
       lower(replace(p.patient_name, '^', ' ')) AS patient_name_search,
       lower(s.study_description) AS description_search
FROM studies s
LEFT JOIN patients p USING (patient_key);

CREATE TABLE study_browse AS SELECT * FROM study_browse_source LIMIT 0;
