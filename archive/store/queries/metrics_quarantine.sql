-- Quarantined files by kind of reason over the period.
SELECT reason_kind, CAST(sum(files) AS BIGINT) AS files, CAST(sum(bytes) AS BIGINT) AS bytes, max(last_at) AS last_at
FROM metric_quarantine
WHERE day BETWEEN $date_from AND $date_to
GROUP BY ALL
ORDER BY files DESC, reason_kind
