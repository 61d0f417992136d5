-- The browser's search: how many studies match (same {where} as browse_page.sql).
SELECT count(*)
FROM study_browse
WHERE {where}
