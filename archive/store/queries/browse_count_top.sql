-- The browser's search: how many studies match, and the first $rows values of the leading sort
-- column in a NULLS LAST order ({top} is max or min; NULLs are left out), in one scan: the last
-- of them bounds the page query (archive.store.queries.browse._leading_bound's value, without a
-- second scan). {column} and {where} come from the fixed fragments of the browse module.
SELECT count(*), {top}({column}, $rows)
FROM study_browse
WHERE {where}
