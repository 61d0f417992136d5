-- Studies by ISO weekday and hour (the workload heatmap).
SELECT weekday, hour, CAST(sum(studies) AS BIGINT) AS studies
FROM metric_workload
WHERE study_date BETWEEN $date_from AND $date_to
  AND ($sites IS NULL OR list_contains($sites, site))
  AND ($modalities IS NULL OR list_contains($modalities, modality))
GROUP BY ALL
ORDER BY weekday, hour
