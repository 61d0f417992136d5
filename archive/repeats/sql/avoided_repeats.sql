-- Prior-use episodes in a range (newest first) with their outcome, dose and cost avoided.
SELECT CAST(e.first_used_at AS DATE) AS used_on, e.site, e.exam_class, e.class_name,
       e.modality_family AS modality, e.kinds, e.events, e.outcome,
       CAST(e.prior_datetime AS DATE) AS prior_date, e.prior_site, e.prior_uid AS prior_study_instance_uid,
       e.next_exam_uid, a.ct_dlp_mgy_cm, a.ct_ctdi_vol_mgy, a.xr_detector_kerma_ugy, a.cost,
       e.person_key
FROM prior_use_episodes e
LEFT JOIN repeat_avoided a USING (person_key, exam_class, episode)
WHERE ($since IS NULL OR CAST(e.first_used_at AS DATE) >= $since)
  AND ($until IS NULL OR CAST(e.first_used_at AS DATE) <= $until)
  AND ($sites IS NULL OR list_contains($sites, e.site))
  AND ($classes IS NULL OR list_contains($classes, e.exam_class))
  AND ($modalities IS NULL OR list_contains($modalities, e.modality_family))
ORDER BY e.first_used_at DESC, e.prior_uid
LIMIT $limit
