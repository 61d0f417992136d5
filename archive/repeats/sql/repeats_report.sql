-- Totals of the repeat metrics, and the same by site and by exam class (GROUPING SETS).
SELECT CASE WHEN grouping(site) = 0 THEN 'site' WHEN grouping(exam_class) = 0 THEN 'class'
            ELSE 'total' END AS level,
       site, exam_class, any_value(class_name) AS class_name,
       CAST(sum(studies) AS BIGINT) AS studies, CAST(sum(repeats) AS BIGINT) AS repeats,
       CAST(sum(avoidable_repeats) AS BIGINT) AS avoidable_repeats,
       CAST(sum(prior_uses) AS BIGINT) AS prior_uses,
       CAST(sum(avoided_repeats) AS BIGINT) AS avoided_repeats,
       sum(ct_dlp_mgy_cm) AS ct_dlp_mgy_cm, sum(ct_ctdi_vol_mgy) AS ct_ctdi_vol_mgy,
       sum(xr_detector_kerma_ugy) AS xr_detector_kerma_ugy, sum(cost_avoided) AS cost_avoided
FROM repeat_metrics_daily
WHERE ($since IS NULL OR day >= $since) AND ($until IS NULL OR day <= $until)
GROUP BY GROUPING SETS ((), (site), (exam_class))
ORDER BY level, site, exam_class
