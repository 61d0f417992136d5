-- The browser's search: how many studies match (same fragments as browse_page.sql).
SELECT count(*)
FROM studies s
{join}
WHERE {where}
