-- Storage per month of exam, site and modality, with the running total per site and modality.
SELECT month, site, modality, studies, bytes,
       CAST(sum(bytes) OVER (PARTITION BY site, modality ORDER BY month) AS BIGINT) AS cumulative_bytes
FROM (
    SELECT month, site, modality, CAST(sum(studies) AS BIGINT) AS studies, CAST(sum(bytes) AS BIGINT) AS bytes
    FROM metric_storage_monthly
    WHERE month BETWEEN CAST(date_trunc('month', CAST($date_from AS DATE)) AS DATE) AND $date_to
      AND ($sites IS NULL OR list_contains($sites, site))
      AND ($modalities IS NULL OR list_contains($modalities, modality))
    GROUP BY ALL
)
ORDER BY month, site, modality
