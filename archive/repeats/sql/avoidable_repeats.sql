-- The avoidable repeats in a range (newest first), each with the prior that was available and where.
-- Patient columns are for roles allowed to see them; the page drops them for the others.
SELECT f.study_date, f.site, f.exam_class, f.class_name, f.modality_family AS modality,
       f.description, f.study_instance_uid,
       CAST(f.available_prior_datetime AS DATE) AS prior_date, f.available_prior_site AS prior_site,
       f.available_prior_uid AS prior_study_instance_uid,
       date_diff('day', CAST(f.available_prior_datetime AS DATE), f.study_date) AS days_after_prior,
       f.person_key, p.patient_id, p.patient_name
FROM repeat_facts f LEFT JOIN patients p USING (patient_key)
WHERE f.is_avoidable
  AND ($since IS NULL OR f.study_date >= $since) AND ($until IS NULL OR f.study_date <= $until)
  AND ($sites IS NULL OR list_contains($sites, f.site))
  AND ($classes IS NULL OR list_contains($classes, f.exam_class))
  AND ($modalities IS NULL OR list_contains($modalities, f.modality_family))
ORDER BY f.study_date DESC, f.study_instance_uid
LIMIT $limit
