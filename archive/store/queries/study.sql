-- One study with its patient, for the study page and the viewer's identity banner.
-- The study is found first (one row), so its patient and site are looked up by key rather than
-- joined from every patient row.
WITH s AS (
    SELECT * FROM studies WHERE study_instance_uid = $study_instance_uid LIMIT 1
)
SELECT s.*, p.patient_name, p.patient_id, p.issuer_of_patient_id, p.patient_birth_date,
       p.patient_sex, p.site AS patient_site, st.name AS site_name
FROM s
LEFT JOIN patients p USING (patient_key)
LEFT JOIN sites st ON st.site = s.site
