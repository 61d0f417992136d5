-- The browser's search: one page of the matching studies, in order, from the browse table
-- (migration 0009). {where} and {order_by} are filled in by archive.store.queries.browse from
-- fixed fragments (FILTERS, SORTS); every value is a bound parameter. Only the columns the
-- browser shows and its patient banner reads: each column more is decoded for every row group
-- holding a row of the page (three more, 24 -> 30 ms for a page by patient name at 1,000,000 studies).
SELECT study_instance_uid, study_date, accession_number, study_description, modalities,
       body_part_examined, site, number_of_series, number_of_instances,
       patient_name, patient_id, issuer_of_patient_id, patient_birth_date, patient_sex
FROM study_browse
WHERE {where}
ORDER BY {order_by}
LIMIT $limit OFFSET $offset
