-- The browser's search, step 2: the study columns the result table shows, for one page.
SELECT study_instance_uid, study_date, study_time, accession_number, study_description, modalities,
       body_part_examined, site, number_of_series, number_of_instances, bytes, patient_key
FROM studies
WHERE list_contains($uids, study_instance_uid)
