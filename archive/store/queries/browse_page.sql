-- The browser's search: one page of the matching studies, in order, from the browse table
-- (migration 0009). {where} and {order_by} are filled in by archive.store.queries.browse from
-- fixed fragments (FILTERS, SORTS); every value is a bound parameter.
SELECT study_instance_uid, study_date, study_time, accession_number, study_description, modalities,
       body_part_examined, site, number_of_series, number_of_instances, bytes, patient_key,
       patient_name, patient_id, issuer_of_patient_id, patient_birth_date, patient_sex
FROM study_browse
WHERE {where}
ORDER BY {order_by}
LIMIT $limit OFFSET $offset
