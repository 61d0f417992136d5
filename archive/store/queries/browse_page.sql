-- The browser's search, step 1: the keys of one page of matching studies, in order.
-- Only the columns needed to filter and sort are read (the rest is fetched for the page only).
-- {join}, {where} and {order_by} are filled in by archive.store.queries.browse from fixed
-- fragments (FILTERS, SORTS); every value is a bound parameter.
SELECT s.study_instance_uid, s.patient_key
FROM studies s
{join}
WHERE {where}
ORDER BY {order_by}
LIMIT $limit OFFSET $offset
