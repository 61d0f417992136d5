-- Part of a patient's timeline (archive.store.queries.browse.patient_timeline): the studies under
-- one key of study_lookup (migration 0016), in key order, so this reads the one row group holding
-- it. $lookup: 'k:' the record's own studies, or 'd:' the person's demographics, of which the
-- record's own studies ($patient_key) are left out (they came with 'k:').
SELECT study_instance_uid, study_date, study_time, study_description, modalities, body_part_examined,
       site, accession_number, number_of_series, number_of_instances, patient_key, patient_id,
       issuer_of_patient_id, patient_name, patient_birth_date, patient_sex
FROM study_lookup
WHERE lookup_key = $lookup AND patient_key IS DISTINCT FROM $patient_key
