-- Exam volumes per period ($grain: day, week or month), site and modality.
SELECT CAST(date_trunc($grain, study_date) AS DATE) AS period, site, modality,
       CAST(sum(studies) AS BIGINT) AS studies, CAST(sum(instances) AS BIGINT) AS instances
FROM metric_exam_volume_daily
WHERE study_date BETWEEN $date_from AND $date_to
  AND ($sites IS NULL OR list_contains($sites, site))
  AND ($modalities IS NULL OR list_contains($modalities, modality))
GROUP BY ALL
ORDER BY period, site, modality
