-- Time from exam to archive per modality and site: median, 90th percentile, count.
SELECT modality, site, count(*) AS studies,
       round(median(hours_to_archive), 2) AS median_hours,
       round(quantile_cont(hours_to_archive, 0.9), 2) AS p90_hours
FROM metric_turnaround
WHERE study_date BETWEEN $date_from AND $date_to
  AND ($sites IS NULL OR list_contains($sites, site))
  AND ($modalities IS NULL OR list_contains($modalities, modality))
GROUP BY ALL
ORDER BY modality, site
