-- The repeat metrics per period ($grain: day, week, month or year), site, exam class and modality.
SELECT CAST(date_trunc($grain, day) AS DATE) AS period, site, exam_class,
       any_value(class_name) AS class_name, modality,
       CAST(sum(studies) AS BIGINT) AS studies, CAST(sum(repeats) AS BIGINT) AS repeats,
       CAST(sum(avoidable_repeats) AS BIGINT) AS avoidable_repeats,
       CAST(sum(prior_uses) AS BIGINT) AS prior_uses,
       CAST(sum(avoided_repeats) AS BIGINT) AS avoided_repeats,
       sum(ct_dlp_mgy_cm) AS ct_dlp_mgy_cm, sum(ct_ctdi_vol_mgy) AS ct_ctdi_vol_mgy,
       sum(xr_detector_kerma_ugy) AS xr_detector_kerma_ugy, sum(cost_avoided) AS cost_avoided
FROM repeat_metrics_daily
WHERE ($since IS NULL OR day >= $since) AND ($until IS NULL OR day <= $until)
  AND ($sites IS NULL OR list_contains($sites, site))
  AND ($classes IS NULL OR list_contains($classes, exam_class))
  AND ($modalities IS NULL OR list_contains($modalities, modality))
GROUP BY period, site, exam_class, modality
ORDER BY period, site, exam_class, modality
