-- Choices for the browser's and the metrics' filters.
SELECT 'site' AS kind, site AS value FROM (SELECT site FROM sites UNION SELECT DISTINCT site FROM studies)
WHERE site IS NOT NULL
UNION ALL
SELECT 'modality', m FROM (SELECT DISTINCT unnest(modalities) AS m FROM studies) WHERE m IS NOT NULL
UNION ALL
SELECT 'body_part', b FROM (SELECT DISTINCT body_part_examined AS b FROM studies) WHERE b IS NOT NULL
ORDER BY kind, value
