-- The browser's search, step 0: the patients matching the name and ID filters ({where} from
-- archive.store.queries.browse.FILTERS; values bound), at most $limit of them.
SELECT p.patient_key
FROM patients p
WHERE {where}
LIMIT $limit
