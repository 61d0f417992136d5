-- Prior-use episodes (as of the last refresh) in a range, newest first, with outcome, dose and cost avoided.
SELECT CAST(first_used_at AS DATE) AS used_on, site, exam_class, class_name,
       modality_family AS modality, kinds, events, outcome,
       CAST(prior_datetime AS DATE) AS prior_date, prior_site, prior_uid AS prior_study_instance_uid,
       next_exam_uid,
       CASE WHEN outcome = 'avoided' THEN prior_ct_dlp_mgy_cm END AS ct_dlp_mgy_cm,
       CASE WHEN outcome = 'avoided' THEN prior_ct_ctdi_vol_mgy END AS ct_ctdi_vol_mgy,
       CASE WHEN outcome = 'avoided' THEN prior_xr_detector_kerma_ugy END AS xr_detector_kerma_ugy,
       CASE WHEN outcome = 'avoided' THEN fee END AS cost,
       person_key
FROM prior_use_facts
WHERE ($since IS NULL OR CAST(first_used_at AS DATE) >= $since)
  AND ($until IS NULL OR CAST(first_used_at AS DATE) <= $until)
  AND ($sites IS NULL OR list_contains($sites, site))
  AND ($classes IS NULL OR list_contains($classes, exam_class))
  AND ($modalities IS NULL OR list_contains($modalities, modality_family))
ORDER BY first_used_at DESC, prior_uid
LIMIT $limit
