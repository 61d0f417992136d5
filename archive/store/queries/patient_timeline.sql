-- All studies of a patient across sites: the same MRN at its issuer (the record's own studies,
-- key $own), or, at other records, the same name, birth date and sex (key $person: a demographic
-- match, shown with its site and MRN for the reader). Both are point lookups in study_lookup
-- (migration 0016), which is in key order.
WITH found AS (
    SELECT * FROM study_lookup WHERE lookup_key = $own
    UNION ALL
    SELECT * FROM study_lookup WHERE lookup_key = $person AND patient_key <> $patient_key
)
SELECT study_instance_uid, study_date, study_time, study_description, modalities,
       body_part_examined, site, accession_number, number_of_series, number_of_instances,
       patient_id, issuer_of_patient_id, patient_key = $patient_key AS same_record
FROM found
ORDER BY study_date DESC NULLS LAST, study_time DESC NULLS LAST
