-- All studies of a patient across sites: the same MRN at its issuer, or, at other issuers, the
-- same name, birth date and sex (a demographic match, shown with its site and MRN for the reader).
WITH me AS (
    SELECT patient_key, patient_name, patient_birth_date, patient_sex
    FROM patients WHERE patient_key = $patient_key LIMIT 1
), linked AS (
    SELECT p.patient_key, p.patient_id, p.issuer_of_patient_id,
           p.patient_key = me.patient_key AS same_record
    FROM patients p, me
    WHERE p.patient_key = me.patient_key
       OR (me.patient_name IS NOT NULL AND me.patient_birth_date IS NOT NULL
           AND p.patient_name = me.patient_name AND p.patient_birth_date = me.patient_birth_date
           AND coalesce(p.patient_sex, '') = coalesce(me.patient_sex, ''))
)
SELECT s.study_instance_uid, s.study_date, s.study_time, s.study_description, s.modalities,
       s.body_part_examined, s.site, s.accession_number, s.number_of_series, s.number_of_instances,
       l.patient_id, l.issuer_of_patient_id, l.same_record
FROM studies s
JOIN linked l USING (patient_key)
ORDER BY s.study_date DESC NULLS LAST, s.study_time DESC NULLS LAST
