-- The browse rows (migration 0009) of the studies listed in study_uids, or of every study when it
-- is NULL: the studies are found first, by UID (their files are in UID order, migration 0011),
-- then joined to their patients. A filter on a view that joins first applies only after every
-- study has been joined, which made each writer's refresh (archive/store/browse_table.py) a full
-- join; the view is now this macro over all studies, so the rows have one definition.
CREATE MACRO study_browse_rows(study_uids) AS TABLE
WITH s AS (
    SELECT * FROM studies
    WHERE study_uids IS NULL OR study_instance_uid IN (SELECT unnest(study_uids))
)
SELECT s.study_instance_uid, s.study_date, s.study_time, s.accession_number, s.study_description,
       s.modalities, s.body_part_examined, s.site, s.number_of_series, s.number_of_instances,
       s.bytes, s.patient_key, p.patient_name, p.patient_id, p.issuer_of_patient_id,
       p.patient_birth_date, p.patient_sex,
       lower(replace(p.patient_name, '^', ' ')) AS patient_name_search,
       lower(s.study_description) AS description_search
FROM s
LEFT JOIN patients p USING (patient_key);

CREATE OR REPLACE VIEW study_browse_source AS SELECT * FROM study_browse_rows(NULL);
