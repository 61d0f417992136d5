-- The avoidable repeats in a range (newest first), each with the prior that was available and where.
-- Patient columns are for roles allowed to see them; the page drops them for the others. The
-- patients are looked up for the rows returned only (not joined to the whole table).
WITH picked AS (
    SELECT f.study_date, f.site, f.class_name,
           CAST(f.available_prior_datetime AS DATE) AS prior_date, f.available_prior_site AS prior_site,
           date_diff('day', CAST(f.available_prior_datetime AS DATE), f.study_date) AS days_after_prior,
           f.modality_family AS modality, f.exam_class, f.description, f.study_instance_uid,
           f.available_prior_uid AS prior_study_instance_uid, f.person_key, f.patient_key
    FROM repeat_facts f
    WHERE f.is_avoidable
      AND ($since IS NULL OR f.study_date >= $since) AND ($until IS NULL OR f.study_date <= $until)
      AND ($sites IS NULL OR list_contains($sites, f.site))
      AND ($classes IS NULL OR list_contains($classes, f.exam_class))
      AND ($modalities IS NULL OR list_contains($modalities, f.modality_family))
    ORDER BY f.study_date DESC, f.study_instance_uid
    LIMIT $limit
), who AS (
    SELECT patient_key, any_value(patient_id) AS patient_id, any_value(patient_name) AS patient_name
    FROM patients WHERE patient_key IN (SELECT patient_key FROM picked)
    GROUP BY patient_key
)
SELECT p.* EXCLUDE (patient_key), w.patient_id, w.patient_name
FROM picked p LEFT JOIN who w USING (patient_key)
ORDER BY p.study_date DESC, p.study_instance_uid
