-- The studies of the given patient records done before the current study (excluding it), with
-- the facts the prior ranking uses. Same-day studies count when they started earlier.
WITH cur AS (
    SELECT study_instance_uid, study_date,
           coalesce(study_datetime, CAST(study_date AS TIMESTAMP)) AS moment
    FROM studies WHERE study_instance_uid = $study_instance_uid LIMIT 1
)
SELECT s.study_instance_uid, s.study_date, s.study_time,
       coalesce(s.study_datetime, CAST(s.study_date AS TIMESTAMP)) AS study_datetime,
       s.site, st.name AS site_name, s.modalities, s.body_part_examined, s.study_description,
       s.number_of_series, s.number_of_instances, s.patient_key, p.patient_id,
       p.issuer_of_patient_id
FROM studies s
CROSS JOIN cur
LEFT JOIN patients p USING (patient_key)
LEFT JOIN sites st ON st.site = s.site
WHERE s.patient_key IN (SELECT unnest($patient_keys))
  AND s.study_instance_uid <> cur.study_instance_uid
  AND s.study_date IS NOT NULL
  AND coalesce(s.study_datetime, CAST(s.study_date AS TIMESTAMP)) < cur.moment
ORDER BY study_datetime DESC, s.study_instance_uid
