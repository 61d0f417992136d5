-- The browser's search: the leading sort column's value at the last row a page needs
-- ($offset is that row's position). {column}, {where} and {order_by} come from the fixed
-- fragments of archive.store.queries.browse; every value is a bound parameter.
SELECT {column}
FROM study_browse
WHERE {where}
ORDER BY {order_by}
LIMIT 1 OFFSET $offset
