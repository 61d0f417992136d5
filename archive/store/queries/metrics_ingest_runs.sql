-- The latest ingest runs, newest first.
SELECT run_id, kind, source, site, status, started_at, finished_at, seconds,
       files_seen, imported, already_present, skipped, quarantined, failed, bytes
FROM metric_ingest_runs
WHERE ($sites IS NULL OR list_contains($sites, site))
ORDER BY started_at DESC NULLS LAST
LIMIT $limit
